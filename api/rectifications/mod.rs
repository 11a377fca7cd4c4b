//! Rectification items (整改): what an evaluation brought up, its cause, the measures, who
//! answers for it and by when, carried out by the org and signed off from above.

pub mod items;
pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::auth::{Action, Actor};
use crate::db;
use crate::error::ApiResult;
use crate::http::{created, JsonBody, Page, PageQuery};
use crate::state::AppState;
use crate::types::local_today;

pub fn routes(cfg: &mut ServiceConfig) {
    // The summary before `{id}`, which would take "summary" for an id.
    cfg.service(rectification_summary)
        .service(create_rectification)
        .service(list_rectifications)
        .service(get_rectification)
        .service(update_rectification)
        .service(note_progress)
        .service(submit_rectification)
        .service(verify_rectification)
        .service(return_rectification)
        .service(generate_rectifications);
}

/// Open an item for an org of a campaign: by the org's own secretary or org admin, or from
/// above. A session, one of its subjects, the opinions it answers and the person who
/// answers for it must belong to the org (and its session).
#[utoipa::path(
    tag = "rectifications",
    request_body = CreateRectification,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Rectification),
        (status = 404, description = "`not_found`: no campaign `campaign_id` the actor may see", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rectifications")]
async fn create_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<CreateRectification>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let item = db::write(&state.pool, move |conn| items::create(conn, &actor, &body)).await?;
    Ok(created(&req, item.id, &item))
}

/// The items the actor may see: all those of the orgs where they read results, and those
/// about themselves elsewhere; newest first. `overdue` is derived from the due date in China
/// Standard Time.
#[utoipa::path(
    tag = "rectifications",
    params(RectificationListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible items", body = Page<Rectification>))
)]
#[get("/rectifications")]
async fn list_rectifications(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<RectificationListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Rectification>>> {
    let (filter, page) = (filter.into_inner(), page.into_inner().checked()?);
    let result = db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(id) => Some(crate::orgs::authorized(conn, &actor, id, Action::Read)?.path),
            None => None,
        };
        let visible = queries::Visible {
            readable: actor.scope_for(Action::ReadResults),
            seen: actor.scope(),
            person_id: crate::sessions::queries::user_person(conn, actor.user_id)?,
        };
        let today = local_today();
        let (rows, total) =
            queries::list(conn, &visible, &filter, within.as_deref(), today, &page)?;
        let items = rows
            .into_iter()
            .map(|row| items::shown(row, Vec::new(), Vec::new(), today))
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// A campaign's items at an org (default: the campaign's owner): counts by status and
/// overdue for the whole subtree and for each direct child's subtree. For those who read
/// results at the org.
#[utoipa::path(
    tag = "rectifications",
    params(SummaryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Counts", body = RectificationSummary))
)]
#[get("/rectifications/summary")]
async fn rectification_summary(
    actor: Actor,
    state: web::Data<AppState>,
    query: web::Query<SummaryQuery>,
) -> ApiResult<web::Json<RectificationSummary>> {
    let query = query.into_inner();
    let summary = db::read(&state.pool, move |conn| {
        items::summary(conn, &actor, &query)
    })
    .await?;
    Ok(web::Json(summary))
}

/// One item, with its history (progress notes and every transition's comment, in order).
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The item", body = Rectification))
)]
// Digits only: `/rectifications/summary` is a route of its own, for every method.
#[get("/rectifications/{id:\\d+}")]
async fn get_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Rectification>> {
    let id = id.into_inner();
    let item = db::read(&state.pool, move |conn| {
        let (row, _) = items::visible(conn, &actor, id)?;
        items::full(conn, row)
    })
    .await?;
    Ok(web::Json(item))
}

/// Change an item's problem, cause, measures, owner, due date or opinions (not once
/// verified). Once the item has been submitted, only a superior org changes the problem.
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    request_body = UpdateRectification,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = Rectification),
        (status = 409, description = "`invalid_transition`: the item is verified", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/rectifications/{id:\\d+}")]
async fn update_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdateRectification>,
) -> ApiResult<web::Json<Rectification>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let item = db::write(&state.pool, move |conn| {
        items::update(conn, &actor, id, &body)
    })
    .await?;
    Ok(web::Json(item))
}

/// Note progress: open, in-progress and returned items are (or stay) in progress. By the
/// org's secretary or org admin, or from above.
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    request_body = ProgressNote,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Noted", body = Rectification),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rectifications/{id}/progress")]
async fn note_progress(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ProgressNote>,
) -> ApiResult<web::Json<Rectification>> {
    let (id, note) = (id.into_inner(), Some(body.into_inner().note));
    let item = db::write(&state.pool, move |conn| {
        items::step(conn, &actor, id, NoteKind::Progress, note)
    })
    .await?;
    Ok(web::Json(item))
}

/// in_progress → submitted: the org reports the item done, for its superior to check.
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    request_body = SignOffComment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Submitted", body = Rectification),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rectifications/{id}/submit")]
async fn submit_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<SignOffComment>,
) -> ApiResult<web::Json<Rectification>> {
    let (id, comment) = (id.into_inner(), body.into_inner().comment);
    let item = db::write(&state.pool, move |conn| {
        items::step(conn, &actor, id, NoteKind::Submit, comment)
    })
    .await?;
    Ok(web::Json(item))
}

/// submitted → verified: signed off by an org admin or observer of a strict superior org
/// (an org never signs off its own items).
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    request_body = SignOffComment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Verified", body = Rectification),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rectifications/{id}/verify")]
async fn verify_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<SignOffComment>,
) -> ApiResult<web::Json<Rectification>> {
    let (id, comment) = (id.into_inner(), body.into_inner().comment);
    let item = db::write(&state.pool, move |conn| {
        items::step(conn, &actor, id, NoteKind::Verify, comment)
    })
    .await?;
    Ok(web::Json(item))
}

/// submitted → returned, with the reason: back to the org for more work. From a strict
/// superior org, like verification.
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Item id")),
    request_body = ReturnComment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Returned", body = Rectification),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/rectifications/{id}/return")]
async fn return_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ReturnComment>,
) -> ApiResult<web::Json<Rectification>> {
    let (id, comment) = (id.into_inner(), Some(body.into_inner().comment));
    let item = db::write(&state.pool, move |conn| {
        items::step(conn, &actor, id, NoteKind::Return, comment)
    })
    .await?;
    Ok(web::Json(item))
}

/// Open an item (due in 30 days unless `due_on` says otherwise) for every flagged subject
/// of a closed session that has none yet, in one transaction: calling it again creates
/// nothing.
#[utoipa::path(
    tag = "rectifications",
    params(("id" = i64, Path, description = "Session id")),
    request_body = GenerateRectifications,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The items created now", body = Generated),
        (status = 409, description = "`session_not_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/rectifications/generate")]
async fn generate_rectifications(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<GenerateRectifications>,
) -> ApiResult<web::Json<Generated>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let generated = db::write(&state.pool, move |conn| {
        items::generate(conn, &actor, id, body.due_on)
    })
    .await?;
    Ok(web::Json(generated))
}
