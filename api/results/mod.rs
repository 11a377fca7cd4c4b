//! Results of a session, once it is closed (never while ballots are being cast).

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::SessionResults;
use crate::auth::{Action, Actor};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(session_results);
}

/// A closed session's results: per subject and criterion, rates (0–1) and scores (0–100),
/// flags under the campaign's threshold, and categories with at least k ballots.
#[utoipa::path(
    tag = "results",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The results", body = SessionResults),
        (status = 409, description = "`session_not_closed`: no results while ballots may still be cast", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/sessions/{id}/results")]
async fn session_results(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SessionResults>> {
    let session_id = id.into_inner();
    let results = db::read(&state.pool, move |conn| {
        let loaded = crate::sessions::authorized(conn, &actor, session_id, Action::ReadResults)?;
        rules::results_shown(loaded.session.status)?;
        let (campaign, session) = (&loaded.campaign, &loaded.session);
        let frozen = campaign.frozen()?.ok_or_else(|| {
            ApiError::internal("a closed session's campaign has no frozen templates")
        })?;
        let counts = queries::session_counts(conn, session_id)?;
        rules::session_results(
            session_id,
            frozen.for_domain(session.domain),
            &counts,
            i64::from(campaign.min_category_ballots),
            campaign.low_satisfaction_threshold,
        )
    })
    .await?;
    Ok(web::Json(results))
}
