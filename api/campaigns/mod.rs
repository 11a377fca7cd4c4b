//! Campaigns (评议活动): owned by an org, covering its subtree, with the templates they use
//! frozen at activation.

pub mod model;
pub mod rules;

use std::collections::BTreeMap;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::rules::{transition, CampaignAction, CampaignStatus};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor, Scope};
use crate::db::schema::{campaigns, sessions};
use crate::db::{self, DbConn, MultiBackend};
use crate::error::{validate, ApiError, ApiResult, ErrorCode, FieldError};
use crate::http::{created, Page, PageQuery};
use crate::orgs::model::{Domain, OrgRow};
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_campaign)
        .service(list_campaigns)
        .service(get_campaign)
        .service(update_campaign)
        .service(activate_campaign)
        .service(close_campaign)
        .service(publish_campaign);
}

/// Loads a campaign the actor may see (404 otherwise) with its owner org, and checks
/// `action` on the owner org unless it is a plain read.
pub fn authorized(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    action: Action,
) -> ApiResult<(CampaignRow, OrgRow)> {
    let campaign: CampaignRow = campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let owner = org_queries::find(conn, campaign.owner_org_id)?;
    actor.authorize_owned(action, &owner.path)?;
    Ok((campaign, owner))
}

fn check_dates(starts_on: chrono::NaiveDate, ends_on: chrono::NaiveDate) -> ApiResult<()> {
    if ends_on < starts_on {
        return Err(ApiError::field("ends_on", "must not be before starts_on"));
    }
    Ok(())
}

/// Every template named must exist and be usable by the owner org.
fn check_templates(
    conn: &mut DbConn,
    owner: &OrgRow,
    template_id: i64,
    domain_templates: &BTreeMap<Domain, i64>,
) -> ApiResult<()> {
    let mut errors = Vec::new();
    let named = std::iter::once(("template_id".to_owned(), template_id)).chain(
        domain_templates
            .iter()
            .map(|(d, id)| (format!("domain_templates.{d}"), *id)),
    );
    for (field, id) in named {
        let usable = match crate::templates::load(conn, id) {
            Ok((_, owner_path)) => crate::templates::usable_by(owner_path.as_deref(), &owner.path),
            Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => false,
            Err(e) => return Err(e),
        };
        if !usable {
            errors.push(FieldError::new(
                field,
                "no such template usable by this org",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

fn load_row(conn: &mut DbConn, id: i64) -> ApiResult<CampaignRow> {
    Ok(campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)?)
}

/// Create a campaign (status `draft`) owned by an org the actor manages.
#[utoipa::path(
    tag = "campaigns",
    request_body = CreateCampaign,
    security(("bearer" = [])),
    responses((status = 201, description = "Created as a draft", body = Campaign))
)]
#[post("/campaigns")]
async fn create_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateCampaign>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    check_dates(body.starts_on, body.ends_on)?;
    let campaign = db::write(&state.pool, move |conn| {
        let owner = org_queries::find_referenced(conn, &actor, body.owner_org_id, "owner_org_id")?;
        actor.authorize(Action::ManageCampaigns, &owner.path)?;
        check_templates(conn, &owner, body.template_id, &body.domain_templates)?;
        let at = now();
        let id: i64 = diesel::insert_into(campaigns::table)
            .values((
                campaigns::owner_org_id.eq(owner.id),
                campaigns::title.eq(body.title.trim()),
                campaigns::starts_on.eq(body.starts_on),
                campaigns::ends_on.eq(body.ends_on),
                campaigns::template_id.eq(body.template_id),
                campaigns::domain_templates
                    .eq(serde_json::to_string(&body.domain_templates)
                        .map_err(ApiError::internal)?),
                campaigns::min_category_ballots.eq(body.min_category_ballots.unwrap_or(5)),
                campaigns::low_satisfaction_threshold
                    .eq(body.low_satisfaction_threshold.unwrap_or(0.8)),
                campaigns::status.eq(CampaignStatus::Draft.as_str()),
                campaigns::created_at.eq(at),
                campaigns::updated_at.eq(at),
            ))
            .returning(campaigns::id)
            .get_result(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "campaign.create",
                target_type: "campaign",
                target_id: Some(id.to_string()),
                org_id: Some(owner.id),
                summary: format!("created campaign {}", body.title.trim()),
            },
        )?;
        load_row(conn, id)
    })
    .await?;
    Ok(created(&req, campaign.id, &Campaign::from(campaign)))
}

/// The campaigns the actor can see: owned inside their subtrees, or covering them.
#[utoipa::path(
    tag = "campaigns",
    params(CampaignListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible campaigns, newest first", body = Page<Campaign>))
)]
#[get("/campaigns")]
async fn list_campaigns(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<CampaignListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Campaign>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    let scope = actor.scope();
    let covering: Vec<i64> = actor.orgs_at_or_above_grants();
    let result = db::read(&state.pool, move |conn| {
        let build = || {
            let mut q = campaigns::table.into_boxed::<MultiBackend>();
            if scope != Scope::All {
                let covering_sql = if covering.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    let ids: Vec<String> = covering.iter().map(i64::to_string).collect();
                    format!("campaigns.owner_org_id IN ({})", ids.join(", "))
                };
                q = q.filter(
                    org_column_in_scope("campaigns.owner_org_id", &scope)
                        .or(sql::<Bool>(&covering_sql)),
                );
            }
            if let Some(owner) = filter.owner_org_id {
                q = q.filter(campaigns::owner_org_id.eq(owner));
            }
            if let Some(status) = filter.status {
                q = q.filter(campaigns::status.eq(status.as_str()));
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(CampaignRow::as_select())
            .order(campaigns::id.desc())
            .limit(page.per_page())
            .offset(page.offset())
            .load(conn)?
            .into_iter()
            .map(Campaign::from)
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One campaign.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The campaign", body = Campaign))
)]
#[get("/campaigns/{id}")]
async fn get_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Campaign>> {
    let id = id.into_inner();
    let (campaign, _) = db::read(&state.pool, move |conn| {
        authorized(conn, &actor, id, Action::Read)
    })
    .await?;
    Ok(web::Json(campaign.into()))
}

/// Change a campaign. Templates and k change only in `draft`; nothing changes once closed.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = UpdateCampaign,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed campaign", body = Campaign),
        (status = 409, description = "`campaign_not_draft` for templates or k after activation; `campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/campaigns/{id}")]
async fn update_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<UpdateCampaign>,
) -> ApiResult<web::Json<Campaign>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let campaign = db::write(&state.pool, move |conn| {
        let (campaign, owner) = authorized(conn, &actor, id, Action::ManageCampaigns)?;
        let status = campaign.status();
        if matches!(status, CampaignStatus::Closed | CampaignStatus::Published) {
            return Err(ApiError::conflict(
                ErrorCode::CampaignClosed,
                "A closed campaign no longer changes.",
            ));
        }
        let frozen_fields = body.template_id.is_some()
            || body.domain_templates.is_some()
            || body.min_category_ballots.is_some();
        if frozen_fields && status != CampaignStatus::Draft {
            return Err(ApiError::conflict(
                ErrorCode::CampaignNotDraft,
                "Templates and k are fixed once the campaign is active.",
            ));
        }
        check_dates(
            body.starts_on.unwrap_or(campaign.starts_on),
            body.ends_on.unwrap_or(campaign.ends_on),
        )?;
        let template_id = body.template_id.unwrap_or(campaign.template_id);
        let domain_templates = body
            .domain_templates
            .clone()
            .unwrap_or_else(|| campaign.domain_templates());
        if frozen_fields {
            check_templates(conn, &owner, template_id, &domain_templates)?;
        }
        diesel::update(campaigns::table.find(id))
            .set((
                campaigns::title.eq(body
                    .title
                    .as_deref()
                    .map_or(campaign.title.as_str(), str::trim)),
                campaigns::starts_on.eq(body.starts_on.unwrap_or(campaign.starts_on)),
                campaigns::ends_on.eq(body.ends_on.unwrap_or(campaign.ends_on)),
                campaigns::template_id.eq(template_id),
                campaigns::domain_templates
                    .eq(serde_json::to_string(&domain_templates).map_err(ApiError::internal)?),
                campaigns::min_category_ballots.eq(body
                    .min_category_ballots
                    .unwrap_or(campaign.min_category_ballots)),
                campaigns::low_satisfaction_threshold.eq(body
                    .low_satisfaction_threshold
                    .unwrap_or(campaign.low_satisfaction_threshold)),
                campaigns::updated_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "campaign.update",
                target_type: "campaign",
                target_id: Some(id.to_string()),
                org_id: Some(owner.id),
                summary: format!("changed campaign {}", campaign.title),
            },
        )?;
        load_row(conn, id)
    })
    .await?;
    Ok(web::Json(campaign.into()))
}

/// What a step writes besides the new status.
#[derive(Default, AsChangeset)]
#[diesel(table_name = campaigns)]
struct StepChanges {
    status: Option<&'static str>,
    frozen_templates: Option<String>,
    publish_scope: Option<String>,
    updated_at: Option<chrono::NaiveDateTime>,
}

/// Moves a campaign one step, after `prepare` (which may refuse or do more writes).
async fn step(
    actor: Actor,
    state: web::Data<AppState>,
    id: i64,
    action: CampaignAction,
    prepare: impl FnOnce(&mut DbConn, &CampaignRow) -> ApiResult<StepChanges> + Send + 'static,
) -> ApiResult<web::Json<Campaign>> {
    let campaign = db::write(&state.pool, move |conn| {
        let (campaign, owner) = authorized(conn, &actor, id, Action::ManageCampaigns)?;
        let from = campaign.status();
        let to = transition(from, action).ok_or_else(|| {
            ApiError::conflict(
                ErrorCode::InvalidTransition,
                format!("A {from} campaign cannot {action}."),
            )
        })?;
        let mut changes = prepare(conn, &campaign)?;
        changes.status = Some(to.as_str());
        changes.updated_at = Some(now());
        // Conditional on the status read above: of two concurrent steps, one wins.
        let moved = diesel::update(campaigns::table.find(id))
            .filter(campaigns::status.eq(from.as_str()))
            .set(&changes)
            .execute(conn)?;
        if moved == 0 {
            return Err(ApiError::conflict(
                ErrorCode::InvalidTransition,
                "The campaign changed meanwhile.",
            ));
        }
        audit::record(
            conn,
            &actor,
            Event {
                action: match action {
                    CampaignAction::Activate => "campaign.activate",
                    CampaignAction::Close => "campaign.close",
                    CampaignAction::Publish => "campaign.publish",
                },
                target_type: "campaign",
                target_id: Some(id.to_string()),
                org_id: Some(owner.id),
                summary: format!("{from} → {to}: {}", campaign.title),
            },
        )?;
        load_row(conn, id)
    })
    .await?;
    Ok(web::Json(campaign.into()))
}

/// Freezes the templates a campaign uses, as they are now.
fn freeze(conn: &mut DbConn, campaign: &CampaignRow) -> ApiResult<String> {
    let default = crate::templates::load(conn, campaign.template_id)?.0;
    let mut by_domain = BTreeMap::new();
    for (domain, template_id) in campaign.domain_templates() {
        by_domain.insert(domain, crate::templates::load(conn, template_id)?.0);
    }
    serde_json::to_string(&FrozenTemplates { default, by_domain }).map_err(ApiError::internal)
}

/// draft → active. The templates in use are frozen: later edits never reach this campaign.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active", body = Campaign),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/activate")]
async fn activate_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Campaign>> {
    step(
        actor,
        state,
        id.into_inner(),
        CampaignAction::Activate,
        |conn, campaign| {
            Ok(StepChanges {
                frozen_templates: Some(freeze(conn, campaign)?),
                ..Default::default()
            })
        },
    )
    .await
}

/// active → closed. Sessions still open are closed with it.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Closed", body = Campaign),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/close")]
async fn close_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Campaign>> {
    step(
        actor,
        state,
        id.into_inner(),
        CampaignAction::Close,
        |conn, campaign| {
            if campaign.status() == CampaignStatus::Active {
                let open: Vec<i64> = sessions::table
                    .filter(sessions::campaign_id.eq(campaign.id))
                    .filter(sessions::status.eq("open"))
                    .select(sessions::id)
                    .load(conn)?;
                crate::sessions::lock_for_status_change(conn, &open)?;
                let at = now();
                diesel::update(sessions::table)
                    .filter(sessions::campaign_id.eq(campaign.id))
                    .filter(sessions::status.eq("open"))
                    .set((
                        sessions::status.eq("closed"),
                        sessions::closed_at.eq(at),
                        sessions::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            Ok(StepChanges::default())
        },
    )
    .await
}

/// closed → published, with the orgs whose people may see the rankings.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = PublishCampaign,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Published", body = Campaign),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/publish")]
async fn publish_campaign(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<PublishCampaign>,
) -> ApiResult<web::Json<Campaign>> {
    let scope_org_ids = body.into_inner().scope_org_ids;
    if scope_org_ids.is_empty() || scope_org_ids.len() > 1000 {
        return Err(ApiError::field(
            "scope_org_ids",
            "between 1 and 1000 org ids",
        ));
    }
    step(
        actor,
        state,
        id.into_inner(),
        CampaignAction::Publish,
        move |conn, campaign| {
            let owner_path = org_queries::path_of(conn, campaign.owner_org_id)?;
            for (i, org_id) in scope_org_ids.iter().enumerate() {
                let inside =
                    org_queries::path_of(conn, *org_id).is_ok_and(|p| p.starts_with(&owner_path));
                if !inside {
                    return Err(ApiError::field(
                        format!("scope_org_ids[{i}]"),
                        "not an org of this campaign",
                    ));
                }
            }
            let scope = serde_json::to_string(&scope_org_ids).map_err(ApiError::internal)?;
            Ok(StepChanges {
                publish_scope: Some(scope),
                ..Default::default()
            })
        },
    )
    .await
}
