//! Criteria templates (评议内容): the notice's template is built in; org admins add their
//! own. Campaigns freeze the templates they use when they are activated.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db;
use crate::error::{validate, ApiResult};
use crate::http::{created, JsonBody};
use crate::state::AppState;

pub use self::queries::{find, load};
pub use self::rules::usable_by;

pub const BUILTIN_TEMPLATE_ID: i64 = 1;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_templates)
        .service(get_template)
        .service(create_template)
        .service(update_template);
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
        queries::owners(conn)?
            .into_iter()
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
        actor.authorize_template(Action::Read, owner_path.as_deref())?;
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
    body: JsonBody<CreateTemplate>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    rules::check_new(&body.criteria, &body.scale)?;
    let template = db::write(&state.pool, move |conn| {
        let owner =
            crate::orgs::queries::find_referenced(conn, &actor, body.owner_org_id, "owner_org_id")?;
        actor.authorize(Action::ManageCampaigns, &owner.path)?;
        let name = body.name.trim();
        let id = queries::insert(conn, owner.id, name, &body.criteria, &body.scale)?;
        let event = Event::new(
            "template.create",
            "template",
            id,
            Some(owner.id),
            format!("created template {name}"),
        );
        audit::record(conn, &actor, event)?;
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
    body: JsonBody<UpdateTemplate>,
) -> ApiResult<web::Json<Template>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let template = db::write(&state.pool, move |conn| {
        let (current, owner_path) = load(conn, id)?;
        actor.authorize_template(Action::Read, owner_path.as_deref())?;
        let owner_path = rules::changeable(owner_path)?;
        actor.authorize_owned(Action::ManageCampaigns, &owner_path)?;
        if let Some((criteria, scale)) = rules::changed_parts(&current, body.criteria, body.scale)?
        {
            queries::replace_parts(conn, id, &criteria, &scale)?;
        }
        let name = body
            .name
            .as_deref()
            .map_or(current.name.as_str(), str::trim);
        queries::rename(conn, id, name)?;
        let event = Event::new(
            "template.update",
            "template",
            id,
            current.owner_org_id,
            format!("changed template {}", current.name),
        );
        audit::record(conn, &actor, event)?;
        Ok(load(conn, id)?.0)
    })
    .await?;
    Ok(web::Json(template))
}
