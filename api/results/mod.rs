//! Results of a session, once it is closed (never while ballots are being cast).

pub mod tally;

use actix_web::{get, web};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use self::tally::{CountedRating, SubjectBallots, SubjectInfo, SubjectResult};
use crate::auth::{Action, Actor};
use crate::db::schema::{ballots, ratings};
use crate::db::{self};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::sessions::model::SessionStatus;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(session_results);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResults {
    pub session_id: i64,
    /// Ballots cast (with codes and on paper).
    pub ballots: i64,
    pub subjects: Vec<SubjectResult>,
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
        if loaded.session.status != SessionStatus::Closed {
            return Err(ApiError::conflict(
                ErrorCode::SessionNotClosed,
                "Results are shown once the session is closed.",
            ));
        }
        let frozen = loaded.campaign.frozen()?.ok_or_else(|| {
            ApiError::internal("a closed session's campaign has no frozen templates")
        })?;
        let template = frozen.for_domain(loaded.session.domain);
        let subjects: Vec<SubjectInfo> = crate::sessions::subjects_of(conn, session_id)?
            .into_iter()
            .map(|s| SubjectInfo {
                id: s.id,
                subject_type: s.subject_type,
                name: s.name,
            })
            .collect();
        let counted: Vec<CountedRating> = ratings::table
            .inner_join(ballots::table)
            .filter(ballots::session_id.eq(session_id))
            .group_by((
                ratings::subject_id,
                ratings::criterion_id,
                ratings::level,
                ballots::category,
            ))
            .select((
                ratings::subject_id,
                ratings::criterion_id,
                ratings::level,
                ballots::category,
                diesel::dsl::count_star(),
            ))
            .load::<(i64, i64, String, String, i64)>(conn)?
            .into_iter()
            .map(
                |(subject_id, criterion_id, level, category, count)| CountedRating {
                    subject_id,
                    criterion_id,
                    level,
                    category,
                    count,
                },
            )
            .collect();
        let subject_ballots: Vec<SubjectBallots> = ratings::table
            .inner_join(ballots::table)
            .filter(ballots::session_id.eq(session_id))
            .group_by((ratings::subject_id, ballots::category))
            .select((
                ratings::subject_id,
                ballots::category,
                diesel::dsl::count(ratings::ballot_id).aggregate_distinct(),
            ))
            .load::<(i64, String, i64)>(conn)?
            .into_iter()
            .map(|(subject_id, category, ballots)| SubjectBallots {
                subject_id,
                category,
                ballots,
            })
            .collect();
        let total: i64 = ballots::table
            .filter(ballots::session_id.eq(session_id))
            .count()
            .get_result(conn)?;
        Ok(SessionResults {
            session_id,
            ballots: total,
            subjects: tally::tally(
                &subjects,
                template,
                &counted,
                &subject_ballots,
                i64::from(loaded.campaign.min_category_ballots),
                loaded.campaign.low_satisfaction_threshold,
            ),
        })
    })
    .await?;
    Ok(web::Json(results))
}
