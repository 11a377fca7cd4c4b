//! Criteria templates (评议内容): the notice's template is built in; org admins add their
//! own. Campaigns freeze the templates they use when they are activated.

pub mod model;

use std::collections::HashSet;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::schema::{orgs, template_criteria, template_levels, templates};
use crate::db::{self, DbConn};
use crate::error::{validate, ApiError, ApiResult, ErrorCode, FieldError};
use crate::http::created;
use crate::state::AppState;
use crate::types::now;

pub const BUILTIN_TEMPLATE_ID: i64 = 1;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_templates)
        .service(get_template)
        .service(create_template)
        .service(update_template);
}

/// Loads a template with its criteria and scale.
pub fn load(conn: &mut DbConn, id: i64) -> ApiResult<(Template, Option<String>)> {
    let (name, owner_org_id, builtin): (String, Option<i64>, bool) = templates::table
        .find(id)
        .select((templates::name, templates::owner_org_id, templates::builtin))
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let owner_path = match owner_org_id {
        Some(org_id) => Some(orgs::table.find(org_id).select(orgs::path).first(conn)?),
        None => None,
    };
    let rows: Vec<(i64, String, String, String)> = template_criteria::table
        .filter(template_criteria::template_id.eq(id))
        .order((template_criteria::subject_type, template_criteria::position))
        .select((
            template_criteria::id,
            template_criteria::subject_type,
            template_criteria::label_zh,
            template_criteria::label_en,
        ))
        .load(conn)?;
    let mut criteria = Criteria::default();
    for (id, subject_type, label_zh, label_en) in rows {
        let list = match subject_type.parse::<SubjectType>() {
            Ok(SubjectType::Org) => &mut criteria.org,
            Ok(SubjectType::Secretary) => &mut criteria.secretary,
            Ok(SubjectType::Member) => &mut criteria.member,
            Err(_) => continue,
        };
        list.push(Criterion {
            id,
            label_zh,
            label_en,
        });
    }
    let scale = template_levels::table
        .filter(template_levels::template_id.eq(id))
        .order(template_levels::position)
        .select((
            template_levels::level,
            template_levels::label_zh,
            template_levels::label_en,
            template_levels::score,
            template_levels::satisfied,
        ))
        .load::<(String, String, String, i32, bool)>(conn)?
        .into_iter()
        .map(|(level, label_zh, label_en, score, satisfied)| Level {
            level,
            label_zh,
            label_en,
            score,
            satisfied,
        })
        .collect();
    Ok((
        Template {
            id,
            name,
            owner_org_id,
            builtin,
            criteria,
            scale,
        },
        owner_path,
    ))
}

/// Whether a campaign of the org at `org_path` may use a template owned at `owner_path`:
/// the built-in one, or one owned by the org itself or a superior.
pub fn usable_by(owner_path: Option<&str>, org_path: &str) -> bool {
    owner_path.is_none_or(|owner| org_path.starts_with(owner))
}

fn check_new(criteria: &NewCriteria, scale: &[Level]) -> ApiResult<()> {
    let mut errors = Vec::new();
    if criteria.org.len() + criteria.secretary.len() + criteria.member.len() == 0 {
        errors.push(FieldError::new("criteria", "at least one criterion"));
    }
    let mut keys = HashSet::new();
    for (i, level) in scale.iter().enumerate() {
        let key_ok = level
            .level
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            errors.push(FieldError::new(
                format!("scale[{i}].level"),
                "lower-case letters, digits and '_'",
            ));
        }
        if !keys.insert(level.level.as_str()) {
            errors.push(FieldError::new(format!("scale[{i}].level"), "used twice"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

fn insert_parts(
    conn: &mut DbConn,
    template_id: i64,
    criteria: &NewCriteria,
    scale: &[Level],
) -> ApiResult<()> {
    for (subject_type, list) in [
        (SubjectType::Org, &criteria.org),
        (SubjectType::Secretary, &criteria.secretary),
        (SubjectType::Member, &criteria.member),
    ] {
        for (i, c) in list.iter().enumerate() {
            diesel::insert_into(template_criteria::table)
                .values((
                    template_criteria::template_id.eq(template_id),
                    template_criteria::subject_type.eq(subject_type.as_str()),
                    template_criteria::position.eq(i as i32 + 1),
                    template_criteria::label_zh.eq(c.label_zh.trim()),
                    template_criteria::label_en.eq(c.label_en.trim()),
                ))
                .execute(conn)?;
        }
    }
    for (i, level) in scale.iter().enumerate() {
        diesel::insert_into(template_levels::table)
            .values((
                template_levels::template_id.eq(template_id),
                template_levels::position.eq(i as i32 + 1),
                template_levels::level.eq(&level.level),
                template_levels::label_zh.eq(level.label_zh.trim()),
                template_levels::label_en.eq(level.label_en.trim()),
                template_levels::score.eq(level.score),
                template_levels::satisfied.eq(level.satisfied),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The templates the actor may see or use.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = [])),
    responses((status = 200, description = "Templates, the built-in one first", body = Vec<Template>))
)]
#[get("/templates")]
async fn list_templates(
    actor: Actor,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Template>>> {
    let list = db::read(&state.pool, move |conn| {
        let ids: Vec<(i64, Option<String>)> = templates::table
            .left_join(orgs::table.on(orgs::id.nullable().eq(templates::owner_org_id)))
            .select((templates::id, orgs::path.nullable()))
            .order(templates::id)
            .load(conn)?;
        ids.into_iter()
            .filter(|(_, owner_path)| actor.may_see_template(owner_path.as_deref()))
            .map(|(id, _)| load(conn, id).map(|(t, _)| t))
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(web::Json(list))
}

/// One template.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Template id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The template", body = Template))
)]
#[get("/templates/{id}")]
async fn get_template(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Template>> {
    let id = id.into_inner();
    let template = db::read(&state.pool, move |conn| {
        let (template, owner_path) = load(conn, id)?;
        if !actor.may_see_template(owner_path.as_deref()) {
            return Err(ApiError::not_found());
        }
        Ok(template)
    })
    .await?;
    Ok(web::Json(template))
}

/// Create a template owned by an org the actor manages (any number of criteria per subject
/// type; a scale of 2 to 5 levels).
#[utoipa::path(
    tag = "campaigns",
    request_body = CreateTemplate,
    security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Template))
)]
#[post("/templates")]
async fn create_template(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateTemplate>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    check_new(&body.criteria, &body.scale)?;
    let template = db::write(&state.pool, move |conn| {
        let owner =
            crate::orgs::queries::find_referenced(conn, &actor, body.owner_org_id, "owner_org_id")?;
        actor.authorize(Action::ManageCampaigns, &owner.path)?;
        let at = now();
        let id: i64 = diesel::insert_into(templates::table)
            .values((
                templates::owner_org_id.eq(owner.id),
                templates::name.eq(body.name.trim()),
                templates::builtin.eq(false),
                templates::created_at.eq(at),
                templates::updated_at.eq(at),
            ))
            .returning(templates::id)
            .get_result(conn)?;
        insert_parts(conn, id, &body.criteria, &body.scale)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "template.create",
                target_type: "template",
                target_id: Some(id.to_string()),
                org_id: Some(owner.id),
                summary: format!("created template {}", body.name.trim()),
            },
        )?;
        Ok(load(conn, id)?.0)
    })
    .await?;
    Ok(created(&req, template.id, &template))
}

/// Change a template. Campaigns already activated keep the version they froze.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Template id")),
    request_body = UpdateTemplate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed template", body = Template),
        (status = 409, description = "`builtin_template`: the built-in template never changes", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/templates/{id}")]
async fn update_template(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<UpdateTemplate>,
) -> ApiResult<web::Json<Template>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let template = db::write(&state.pool, move |conn| {
        let (current, owner_path) = load(conn, id)?;
        if !actor.may_see_template(owner_path.as_deref()) {
            return Err(ApiError::not_found());
        }
        let Some(owner_path) = owner_path else {
            return Err(ApiError::conflict(
                ErrorCode::BuiltinTemplate,
                "The built-in template never changes.",
            ));
        };
        actor.authorize_owned(Action::ManageCampaigns, &owner_path)?;
        if body.criteria.is_some() || body.scale.is_some() {
            let criteria = body.criteria.unwrap_or_else(|| to_new(&current.criteria));
            let scale = body.scale.unwrap_or(current.scale);
            check_new(&criteria, &scale)?;
            diesel::delete(template_criteria::table.filter(template_criteria::template_id.eq(id)))
                .execute(conn)?;
            diesel::delete(template_levels::table.filter(template_levels::template_id.eq(id)))
                .execute(conn)?;
            insert_parts(conn, id, &criteria, &scale)?;
        }
        diesel::update(templates::table.find(id))
            .set((
                templates::name.eq(body
                    .name
                    .as_deref()
                    .map_or(current.name.as_str(), str::trim)),
                templates::updated_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "template.update",
                target_type: "template",
                target_id: Some(id.to_string()),
                org_id: current.owner_org_id,
                summary: format!("changed template {}", current.name),
            },
        )?;
        Ok(load(conn, id)?.0)
    })
    .await?;
    Ok(web::Json(template))
}

fn to_new(criteria: &Criteria) -> NewCriteria {
    let copy = |list: &[Criterion]| {
        list.iter()
            .map(|c| NewCriterion {
                label_zh: c.label_zh.clone(),
                label_en: c.label_en.clone(),
            })
            .collect()
    };
    NewCriteria {
        org: copy(&criteria.org),
        secretary: copy(&criteria.secretary),
        member: copy(&criteria.member),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superiors_templates_are_usable_below() {
        assert!(usable_by(None, "/1/2/"));
        assert!(usable_by(Some("/1/"), "/1/2/"));
        assert!(usable_by(Some("/1/2/"), "/1/2/"));
        assert!(!usable_by(Some("/1/2/5/"), "/1/2/"));
        assert!(!usable_by(Some("/1/3/"), "/1/2/"));
    }
}
