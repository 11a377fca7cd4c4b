//! Campaigns (评议活动): owned by an org, covering its subtree, with the templates they use
//! frozen at activation.

pub mod model;
pub mod queries;
pub mod rules;

use std::collections::BTreeMap;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::queries::StepChanges;
use self::rules::{CampaignAction, CampaignFields};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn};
use crate::error::{validate, ApiError, ApiResult};
use crate::http::{created, JsonBody, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::queries as org_queries;
use crate::state::AppState;

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
    let (campaign, owner) = queries::find_with_owner(conn, id)?;
    actor.authorize_owned(action, &owner.path)?;
    Ok((campaign, owner))
}

/// A campaign named in a request body, with its owner: a missing or invisible one is a
/// field error (the same answer for both, as 404 is for paths; see
/// `orgs::queries::find_referenced`).
pub fn referenced(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    field: &str,
) -> ApiResult<(CampaignRow, OrgRow)> {
    if let Some(campaign) = queries::find_opt(conn, id)? {
        let owner = crate::orgs::queries::find(conn, campaign.owner_org_id)?;
        if actor.may_see_owned(&owner.path) {
            return Ok((campaign, owner));
        }
    }
    Err(ApiError::field(field, "no such campaign"))
}

/// Every template named must exist and be usable by the owner org.
fn check_templates(conn: &mut DbConn, owner: &OrgRow, fields: &CampaignFields) -> ApiResult<()> {
    let mut named = Vec::new();
    for (field, id) in fields.named_templates() {
        let usable = crate::templates::queries::find(conn, id)?.is_some_and(|(_, owner_path)| {
            crate::templates::usable_by(owner_path.as_deref(), &owner.path)
        });
        named.push((field, usable));
    }
    rules::check_templates(named)
}

/// An audit event about a campaign, filed under its owner org.
fn campaign_event<'a>(action: &'a str, id: i64, owner: &OrgRow, summary: String) -> Event<'a> {
    Event {
        action,
        target_type: "campaign",
        target_id: Some(id.to_string()),
        org_id: Some(owner.id),
        summary,
    }
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
    body: JsonBody<CreateCampaign>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let fields = CampaignFields::new(&body);
    rules::check_dates(fields.starts_on, fields.ends_on)?;
    let campaign = db::write(&state.pool, move |conn| {
        let owner = org_queries::find_referenced(conn, &actor, body.owner_org_id, "owner_org_id")?;
        actor.authorize(Action::ManageCampaigns, &owner.path)?;
        check_templates(conn, &owner, &fields)?;
        let id = queries::insert(conn, owner.id, &fields)?;
        let summary = format!("created campaign {}", fields.title);
        audit::record(
            conn,
            &actor,
            campaign_event("campaign.create", id, &owner, summary),
        )?;
        Campaign::try_from(queries::find(conn, id)?)
    })
    .await?;
    Ok(created(&req, campaign.id, &campaign))
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
    let (scope, covering) = (actor.scope(), actor.orgs_at_or_above_grants());
    let result = db::read(&state.pool, move |conn| {
        let (rows, total) = queries::list(conn, &scope, &covering, &filter, &page)?;
        let items = rows
            .into_iter()
            .map(Campaign::try_from)
            .collect::<ApiResult<_>>()?;
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
    let campaign = db::read(&state.pool, move |conn| {
        let (campaign, _) = authorized(conn, &actor, id, Action::Read)?;
        Campaign::try_from(campaign)
    })
    .await?;
    Ok(web::Json(campaign))
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
    body: JsonBody<UpdateCampaign>,
) -> ApiResult<web::Json<Campaign>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let campaign = db::write(&state.pool, move |conn| {
        let (campaign, owner) = authorized(conn, &actor, id, Action::ManageCampaigns)?;
        let frozen_fields = rules::touches_frozen_fields(&body);
        rules::check_editable(campaign.status, frozen_fields)?;
        let fields = CampaignFields::updated(&campaign, campaign.domain_templates()?, &body);
        rules::check_dates(fields.starts_on, fields.ends_on)?;
        if frozen_fields {
            check_templates(conn, &owner, &fields)?;
        }
        queries::update(conn, id, &fields)?;
        let summary = format!("changed campaign {}", campaign.title);
        audit::record(
            conn,
            &actor,
            campaign_event("campaign.update", id, &owner, summary),
        )?;
        Campaign::try_from(queries::find(conn, id)?)
    })
    .await?;
    Ok(web::Json(campaign))
}

/// Moves a campaign one step, after `prepare` (which may refuse or do more writes).
async fn step(
    actor: Actor,
    state: web::Data<AppState>,
    id: i64,
    action: CampaignAction,
    prepare: impl FnOnce(&mut DbConn, &CampaignRow) -> ApiResult<StepChanges> + Send + 'static,
) -> ApiResult<web::Json<Campaign>> {
    // Closing closes the open sessions: after the ballots already cast, not before them.
    let campaign = db::write_after_grouped(&state.pool, move |conn| {
        let (campaign, owner) = authorized(conn, &actor, id, Action::ManageCampaigns)?;
        let from = campaign.status;
        let to = rules::step(from, action)?;
        let changes = prepare(conn, &campaign)?;
        if !queries::step(conn, id, from, to, changes)? {
            return Err(ApiError::conflict(
                crate::error::ErrorCode::InvalidTransition,
                "The campaign changed meanwhile.",
            ));
        }
        let summary = format!("{from} → {to}: {}", campaign.title);
        audit::record(
            conn,
            &actor,
            campaign_event(rules::audit_action(action), id, &owner, summary),
        )?;
        if action == CampaignAction::Publish {
            announce_published(conn, id, owner.id)?;
        }
        Campaign::try_from(queries::find(conn, id)?)
    })
    .await?;
    Ok(web::Json(campaign))
}

/// `campaign.published` to the subscribers of the owner's subtree.
fn announce_published(conn: &mut DbConn, id: i64, owner_org_id: i64) -> ApiResult<()> {
    use crate::webhooks::{outbox, EventType};
    outbox::emit(
        conn,
        outbox::Outgoing {
            event_type: EventType::CampaignPublished,
            org_id: owner_org_id,
            resource: format!("campaign:{id}"),
            data: serde_json::json!({
                "campaign_id": id,
                "owner_org_id": owner_org_id,
                "published_at": crate::types::now().and_utc(),
            }),
        },
    )
}

/// Freezes the templates a campaign uses, as they are now.
pub fn freeze(conn: &mut DbConn, campaign: &CampaignRow) -> ApiResult<String> {
    let default = crate::templates::load(conn, campaign.template_id)?.0;
    let mut by_domain = BTreeMap::new();
    for (domain, template_id) in campaign.domain_templates()? {
        by_domain.insert(domain, crate::templates::load(conn, template_id)?.0);
    }
    to_stored_json(&FrozenTemplates { default, by_domain })
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
            // Sessions still open close with their campaign.
            crate::sessions::queries::close_all_of_campaign(conn, campaign.id)?;
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
    body: JsonBody<PublishCampaign>,
) -> ApiResult<web::Json<Campaign>> {
    let scope_org_ids = body.into_inner().scope_org_ids;
    rules::check_publish_size(&scope_org_ids)?;
    step(
        actor,
        state,
        id.into_inner(),
        CampaignAction::Publish,
        move |conn, campaign| {
            let owner_path = org_queries::path_of(conn, campaign.owner_org_id)?;
            let paths = queries::org_paths(conn, &scope_org_ids)?;
            rules::check_publish_scope(&owner_path, &scope_org_ids, &paths)?;
            let scope = to_stored_json(&scope_org_ids)?;
            Ok(StepChanges {
                publish_scope: Some(scope),
                ..Default::default()
            })
        },
    )
    .await
}
