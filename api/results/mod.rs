//! Results: a closed session's figures, and a campaign's roll-up over the tree, rankings,
//! coverage and exports — all read from the tallies stored when sessions close, never while
//! ballots may still be cast, and never a figure of fewer than k ballots.

pub mod model;
pub mod queries;
pub mod rules;
pub mod spreadsheet;
mod view;

use actix_web::{get, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CampaignResults, CampaignResultsQuery, Coverage, CoverageQuery, ExportFormat, ExportQuery,
    RankingItem, RankingQuery, SessionResults,
};
use self::view::ResultsAt;
use crate::auth::{Actor, SessionResultsView};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::state::AppState;
use crate::templates::model::SubjectType;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(session_results)
        .service(campaign_results)
        .service(rankings)
        .service(coverage)
        .service(export);
}

/// A closed session's results: per subject and criterion, rates (0–1) and scores (0–100),
/// flags under the campaign's threshold, and categories with at least k ballots.
///
/// A subject rated on fewer than k ballots (the campaign's `min_category_ballots`, never
/// below 3) shows its ballot count and `withheld: true`, nothing else. A per-category
/// breakdown lists only categories with at least k ballots, and none at all when the
/// smaller categories together hold 1 to k−1 ballots (they could be subtracted out).
/// Those who read results at the session's org (its org admins, secretary, observers and
/// integrations, and those of the orgs above) see every subject; a member sees only the
/// subjects that rate themselves.
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
        let session = crate::sessions::queries::find(conn, session_id)?;
        let org = crate::orgs::queries::find(conn, session.org_id)?;
        let view = actor.session_results_view(&org.path)?;
        rules::results_shown(session.status)?;
        let campaign = crate::campaigns::queries::find(conn, session.campaign_id)?;
        let frozen = campaign.frozen()?.ok_or_else(|| {
            ApiError::internal("a closed session's campaign has no frozen templates")
        })?;
        let mut subjects = queries::subjects(conn, session_id)?;
        let mut committed_by = None;
        if view == SessionResultsView::Own {
            let me = crate::sessions::queries::user_person(conn, actor.user_id)?;
            subjects.retain(|s| s.person_id.is_some() && s.person_id == me);
            // A member without a linked person has no commitments to count.
            committed_by = Some(me.unwrap_or(0));
        }
        let stored = queries::stored(conn, session_id)?;
        let mut subjects = rules::subject_results(
            &subjects,
            &stored,
            frozen.for_domain(session.domain),
            i64::from(campaign.min_category_ballots),
            campaign.low_satisfaction_threshold,
        );
        let ids: Vec<i64> = subjects.iter().map(|s| s.subject_id).collect();
        let mut items = crate::rectifications::queries::by_subject(conn, &ids)?;
        for s in &mut subjects {
            s.rectification = items.remove(&s.subject_id);
        }
        let commitments =
            crate::records::commitments::counts(conn, campaign.id, session.org_id, committed_by)?;
        Ok(SessionResults {
            session_id,
            ballots: queries::ballots_cast(conn, session_id)?,
            subjects,
            commitments,
        })
    })
    .await?;
    Ok(web::Json(results))
}

/// A campaign's results rolled up the tree at one org: for the org and each of its direct
/// children, its own figures (the org's rating, or its secretary's) and the figures of its
/// subtree — units in scope and evaluated, ballots, flagged units, and rates and scores both
/// ballot-weighted and unit-averaged. Drill down with a child's `org_id`.
///
/// Only closed sessions count. Subtree rates pool only units rated on at least k ballots,
/// so that a withheld unit can never be recovered by subtraction. Seen by those who read
/// results at the org, and, once the campaign is published, by everyone inside the
/// publishing scope.
#[utoipa::path(
    tag = "results",
    params(("id" = i64, Path, description = "Campaign id"), CampaignResultsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The roll-up", body = CampaignResults))
)]
#[get("/campaigns/{id}/results")]
async fn campaign_results(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<CampaignResultsQuery>,
) -> ApiResult<web::Json<CampaignResults>> {
    let (campaign_id, query) = (id.into_inner(), query.into_inner());
    let results = db::read(&state.pool, move |conn| {
        let at = ResultsAt::resolve(conn, &actor, campaign_id, query.org_id)?;
        let subject_type = query.subject_type.unwrap_or(SubjectType::Org);
        let (org, children) = at.roll_up(conn, subject_type)?;
        Ok(CampaignResults {
            campaign_id,
            subject_type,
            org,
            children,
        })
    })
    .await?;
    Ok(web::Json(results))
}

/// A campaign's ranking of one subject type, best first: standard competition ranking
/// (1, 2, 2, 4) by satisfaction rate, then score, over the closed sessions of the org's
/// subtree (filtered by the session's `domain` and `kind`). Subjects rated on fewer than k
/// ballots come last, unranked and without figures. `candidate` marks the commendation
/// candidates: the campaign's `commendation_share` of the ranked subjects (rounded up),
/// unless flagged. Visible as the roll-up is.
#[utoipa::path(
    tag = "results",
    params(("id" = i64, Path, description = "Campaign id"), RankingQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of the ranking", body = Page<RankingItem>))
)]
#[get("/campaigns/{id}/rankings")]
async fn rankings(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<RankingQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<RankingItem>>> {
    let (campaign_id, query, page) = (id.into_inner(), query.into_inner(), page.checked()?);
    let ranking = db::read(&state.pool, move |conn| {
        let at = ResultsAt::resolve(conn, &actor, campaign_id, query.org_id)?;
        let filter = at.ranking_filter(&query);
        let (items, total) = at.ranking(conn, &filter, page.per_page(), page.offset())?;
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(ranking))
}

/// Coverage (确保每个基层党组织和党员都接受评议): the orgs below the campaign's owner in
/// the subtree and their active members, how many of each a closed session rated on at
/// least one ballot, the campaign's sessions by status, and one page of each list of what
/// is missing. For those who read results at the org (publication does not open it).
#[utoipa::path(
    tag = "results",
    params(("id" = i64, Path, description = "Campaign id"), CoverageQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Coverage of the subtree", body = Coverage))
)]
#[get("/campaigns/{id}/coverage")]
async fn coverage(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<CoverageQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Coverage>> {
    let (campaign_id, org_id, page) = (id.into_inner(), query.org_id, page.checked()?);
    let coverage = db::read(&state.pool, move |conn| {
        let at = ResultsAt::resolve(conn, &actor, campaign_id, org_id)?;
        at.require_full()?;
        at.coverage(conn, page.per_page(), page.offset(), &page)
    })
    .await?;
    Ok(web::Json(coverage))
}

/// A report as a file: `results` (the roll-up of every org of the subtree), `rankings`
/// (the whole ranking), `coverage` (everything not yet evaluated) or `rectifications` (the
/// ledger, 整改台账: every item with its owner, due date, status, overdue and sign-off;
/// like coverage, only for those who read results there), as an xlsx workbook
/// (one sheet, Chinese headers, frozen header row, percentages formatted) or as CSV (UTF-8
/// with a BOM). Text that a spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return) is prefixed with an apostrophe. Visible as the JSON is.
#[utoipa::path(
    tag = "results",
    params(("id" = i64, Path, description = "Campaign id"), ExportQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The file",
        headers(("Content-Disposition" = String, description = "`attachment` with an ASCII `filename` and an RFC 6266 `filename*` (UTF-8, the campaign's title)")),
        content(
            (inline(model::ExportFile) = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (inline(model::ExportFile) = "text/csv"),
        )))
)]
#[get("/campaigns/{id}/export")]
async fn export(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let (campaign_id, query) = (id.into_inner(), query.into_inner());
    let format = query.format.unwrap_or(ExportFormat::Xlsx);
    let (bytes, media_type, names) = db::read(&state.pool, move |conn| {
        let at = ResultsAt::resolve(conn, &actor, campaign_id, query.org_id)?;
        let table = at.report_table(conn, &query)?;
        let (bytes, media_type) = spreadsheet::render(&table, format)?;
        let names = spreadsheet::file_names(campaign_id, &at.campaign.title, query.report, format);
        Ok((bytes, media_type, names))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(media_type)
        .insert_header(crate::http::attachment(names.0, names.1))
        .body(bytes))
}
