//! Voting: codes issued per participant category, the ballot form, anonymous ballots
//! (one code, one ballot, under any concurrency), paper ballots, turnout.
//!
//! Secrecy is in the data: a ballot row names no code and no voter, its id is random,
//! it carries only the day; opinions are stored apart; codes are kept as keyed hashes with
//! no time of use; receipts are derived, never stored; no log line holds a code.

pub mod codes;
pub mod model;
pub mod rules;
pub mod sheet;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::rules::{BallotContext, Rating};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::campaigns::model::CampaignRow;
use crate::db::schema::{
    ballot_opinions, ballots, campaigns, orgs, ratings, session_subjects, sessions,
    voting_code_batches, voting_codes,
};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::orgs::model::Domain;
use crate::sessions::model::{SessionKind, SessionStatus};
use crate::state::AppState;
use crate::templates::model::SubjectType;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(issue_codes)
        .service(list_batches)
        .service(void_batch)
        .service(turnout)
        .service(enter_paper_ballots)
        .service(ballot_form)
        .service(submit_ballot);
}

const UNUSED: &str = "unused";
const USED: &str = "used";
const VOID: &str = "void";

/// Ballot contexts of open sessions: an open session's subjects and frozen template never
/// change, so the hot path checks ballots without reading them again.
#[derive(Default)]
pub struct ContextCache(Mutex<HashMap<i64, Arc<BallotContext>>>);

impl ContextCache {
    const MAX_ENTRIES: usize = 4096;

    fn get(&self, session_id: i64) -> Option<Arc<BallotContext>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session_id)
            .cloned()
    }

    fn put(&self, session_id: i64, context: Arc<BallotContext>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX_ENTRIES {
            map.clear();
        }
        map.insert(session_id, context);
    }
}

fn invalid_code() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidCode,
        "This voting code does not exist or was withdrawn.",
    )
}

fn code_used() -> ApiError {
    ApiError::conflict(
        ErrorCode::CodeUsed,
        "This voting code has already been used.",
    )
}

fn session_not_open() -> ApiError {
    ApiError::conflict(
        ErrorCode::SessionNotOpen,
        "This session is not accepting ballots.",
    )
}

/// Refuses an address that keeps trying unknown codes. Only failures count: a meeting hall
/// voting from one address is never slowed. There is no global ceiling on purpose: it would
/// let a few addresses stop everyone's voting, and with 2^60 codes it protects nothing.
fn check_throttle(state: &AppState, address: &str) -> ApiResult<()> {
    state
        .code_failures_by_address
        .check(address)
        .map_err(ApiError::rate_limited)
}

fn record_failure(state: &AppState, address: &str) {
    state.code_failures_by_address.record_failure(address);
}

/// Builds the context a ballot of this session is checked against.
fn load_context(conn: &mut DbConn, session_id: i64) -> ApiResult<BallotContext> {
    let (campaign, domain): (CampaignRow, Domain) = sessions::table
        .inner_join(campaigns::table)
        .filter(sessions::id.eq(session_id))
        .select((CampaignRow::as_select(), sessions::domain))
        .first(conn)?;
    let frozen = campaign
        .frozen()?
        .ok_or_else(|| ApiError::internal("an open session's campaign has no frozen templates"))?;
    let subjects: Vec<(i64, String)> = session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .select((session_subjects::id, session_subjects::subject_type))
        .load(conn)?;
    let subjects = subjects
        .into_iter()
        .filter_map(|(id, t)| Some((id, t.parse::<SubjectType>().ok()?)))
        .collect();
    Ok(BallotContext::new(
        subjects,
        frozen.for_domain(domain).clone(),
    ))
}

fn context(
    conn: &mut DbConn,
    cache: &ContextCache,
    session_id: i64,
) -> ApiResult<Arc<BallotContext>> {
    if let Some(ctx) = cache.get(session_id) {
        return Ok(ctx);
    }
    let ctx = Arc::new(load_context(conn, session_id)?);
    cache.put(session_id, ctx.clone());
    Ok(ctx)
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_bigint(values: Array<BigInt>) -> BigInt;
}

diesel::define_sql_function! {
    #[sql_name = "unnest"]
    fn unnest_text(values: Array<Text>) -> Text;
}

/// A ballot's ratings in one statement. On PostgreSQL the statement takes arrays, so it is
/// the same text for any number of ratings and stays prepared (a multi-row VALUES would be
/// parsed and planned anew for every ballot).
fn insert_ratings(conn: &mut DbConn, ballot_id: &str, ratings_in: &[Rating]) -> ApiResult<()> {
    match conn {
        DbConn::Pg(pg) => {
            let subjects: Vec<i64> = ratings_in.iter().map(|r| r.subject_id).collect();
            let criteria: Vec<i64> = ratings_in.iter().map(|r| r.criterion_id).collect();
            let levels: Vec<&str> = ratings_in.iter().map(|r| r.level.as_str()).collect();
            diesel::insert_into(ratings::table)
                .values(diesel::select((
                    ballot_id.into_sql::<Text>(),
                    unnest_bigint(subjects),
                    unnest_bigint(criteria),
                    unnest_text(levels),
                )))
                .into_columns((
                    ratings::ballot_id,
                    ratings::subject_id,
                    ratings::criterion_id,
                    ratings::level,
                ))
                .execute(pg)?;
        }
        DbConn::Sqlite(sqlite) => {
            let rows: Vec<_> = ratings_in
                .iter()
                .map(|r| {
                    (
                        ratings::ballot_id.eq(ballot_id),
                        ratings::subject_id.eq(r.subject_id),
                        ratings::criterion_id.eq(r.criterion_id),
                        ratings::level.eq(r.level.as_str()),
                    )
                })
                .collect();
            // Big paper ballots stay under SQLite's limit on bound parameters per statement.
            for chunk in rows.chunks(2000) {
                diesel::insert_into(ratings::table)
                    .values(chunk)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// Writes one ballot: its ratings and, apart, its opinion.
fn write_ballot(
    conn: &mut DbConn,
    session_id: i64,
    category: &str,
    paper: bool,
    ratings_in: &[Rating],
    opinion: Option<&str>,
) -> ApiResult<String> {
    let ballot_id = crate::auth::random_token(16);
    let today = crate::types::local_today();
    diesel::insert_into(ballots::table)
        .values((
            ballots::id.eq(&ballot_id),
            ballots::session_id.eq(session_id),
            ballots::category.eq(category),
            ballots::paper.eq(paper),
            ballots::cast_on.eq(today),
        ))
        .execute(conn)?;
    insert_ratings(conn, &ballot_id, ratings_in)?;
    if let Some(opinion) = opinion.map(str::trim).filter(|o| !o.is_empty()) {
        diesel::insert_into(ballot_opinions::table)
            .values((
                ballot_opinions::id.eq(crate::auth::random_token(16)),
                ballot_opinions::session_id.eq(session_id),
                ballot_opinions::content.eq(opinion),
                ballot_opinions::cast_on.eq(today),
            ))
            .execute(conn)?;
    }
    Ok(ballot_id)
}

/// Issue voting codes for a participant category (1 to 1000 per batch), as an org admin of
/// the session's org or above — never the secretary, who is rated on the ballot. The answer
/// is the only time the codes are shown; with `?format=html` it is a printable sheet with a QR
/// code per code (the code travels in the link's fragment, never its query).
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id"), IssueQuery),
    request_body = IssueCodes,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Issued; `Cache-Control: no-store`", body = IssuedCodes),
        (status = 409, description = "`session_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/voting-codes")]
async fn issue_codes(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<IssueQuery>,
    body: web::Json<IssueCodes>,
) -> ApiResult<HttpResponse> {
    let (session_id, body) = (id.into_inner(), body.into_inner());
    if !(1..=MAX_CODES_PER_BATCH).contains(&body.count) {
        return Err(ApiError::field(
            "count",
            format!("between 1 and {MAX_CODES_PER_BATCH}"),
        ));
    }
    let html = match query.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(_) => return Err(ApiError::bad_request("format must be json or html")),
    };
    let key = state.code_key.clone();
    let (issued, title) = db::write(&state.pool, move |conn| {
        let loaded =
            crate::sessions::authorized(conn, &actor, session_id, Action::ManageCampaigns)?;
        if loaded.session.status == SessionStatus::Closed {
            return Err(ApiError::conflict(
                ErrorCode::SessionClosed,
                "Codes are issued only before a session closes.",
            ));
        }
        let batch_id: i64 = diesel::insert_into(voting_code_batches::table)
            .values((
                voting_code_batches::session_id.eq(session_id),
                voting_code_batches::category.eq(body.category.as_str()),
                voting_code_batches::count.eq(body.count),
                voting_code_batches::created_by.eq(actor.user_id),
                voting_code_batches::created_at.eq(now()),
            ))
            .returning(voting_code_batches::id)
            .get_result(conn)?;
        let codes: Vec<String> = (0..body.count).map(|_| codes::generate()).collect();
        let rows: Vec<_> = codes
            .iter()
            .map(|code| {
                let canonical = codes::canonical(code).unwrap_or_default();
                (
                    voting_codes::code_hash.eq(key.hash(&canonical)),
                    voting_codes::session_id.eq(session_id),
                    voting_codes::batch_id.eq(batch_id),
                    voting_codes::category.eq(body.category.as_str()),
                    voting_codes::state.eq(UNUSED),
                )
            })
            .collect();
        crate::insert_batch!(conn, voting_codes::table, &rows)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "voting_codes.issue",
                target_type: "session",
                target_id: Some(session_id.to_string()),
                org_id: Some(loaded.org.id),
                summary: format!(
                    "issued {} {} codes (batch {batch_id})",
                    body.count, body.category
                ),
            },
        )?;
        let title = format!("{} · {}", loaded.campaign.title, loaded.org.name);
        Ok((
            IssuedCodes {
                batch_id,
                session_id,
                category: body.category,
                count: body.count,
                codes,
            },
            title,
        ))
    })
    .await?;
    let location = format!(
        "/api/v1/sessions/{session_id}/voting-codes/batches/{}",
        issued.batch_id
    );
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if html {
        let public_url = state.settings.public_url();
        let page = sheet::render(&title, issued.category.as_str(), &public_url, &issued.codes);
        return Ok(res.content_type("text/html; charset=utf-8").body(page));
    }
    Ok(res.json(issued))
}

fn batch_out(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<Batch>> {
    type BatchRow = (
        i64,
        String,
        i32,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    );
    let rows: Vec<BatchRow> = voting_code_batches::table
        .filter(voting_code_batches::session_id.eq(session_id))
        .order(voting_code_batches::id)
        .select((
            voting_code_batches::id,
            voting_code_batches::category,
            voting_code_batches::count,
            voting_code_batches::created_at,
            voting_code_batches::voided_at,
        ))
        .load(conn)?;
    let states: Vec<(i64, String, i64)> = voting_codes::table
        .filter(voting_codes::session_id.eq(session_id))
        .group_by((voting_codes::batch_id, voting_codes::state))
        .select((
            voting_codes::batch_id,
            voting_codes::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let count = |batch: i64, state: &str| {
        states
            .iter()
            .filter(|(b, s, _)| *b == batch && s == state)
            .map(|(_, _, n)| *n)
            .sum()
    };
    Ok(rows
        .into_iter()
        .filter_map(|(id, category, n, created_at, voided_at)| {
            Some(Batch {
                id,
                category: category.parse().ok()?,
                count: n,
                used: count(id, USED),
                void: count(id, VOID),
                created_at: created_at.and_utc(),
                voided_at: voided_at.map(|t| t.and_utc()),
            })
        })
        .collect())
}

/// The batches of codes issued for a session (never the codes).
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Batches, oldest first", body = Vec<Batch>))
)]
#[get("/sessions/{id}/voting-codes/batches")]
async fn list_batches(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<Batch>>> {
    let session_id = id.into_inner();
    let batches = db::read(&state.pool, move |conn| {
        crate::sessions::authorized(conn, &actor, session_id, Action::RunSessions)?;
        batch_out(conn, session_id)
    })
    .await?;
    Ok(web::Json(batches))
}

/// Withdraw a batch: its unused codes stop working (codes already used keep their ballots).
/// Org admins of the session's org or above.
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id"), ("batch_id" = i64, Path, description = "Batch id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The voided batch", body = Batch))
)]
#[post("/sessions/{id}/voting-codes/batches/{batch_id}/void")]
async fn void_batch(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<web::Json<Batch>> {
    let (session_id, batch_id) = path.into_inner();
    let batch = db::write(&state.pool, move |conn| {
        let loaded =
            crate::sessions::authorized(conn, &actor, session_id, Action::ManageCampaigns)?;
        let updated = diesel::update(
            voting_code_batches::table
                .filter(voting_code_batches::id.eq(batch_id))
                .filter(voting_code_batches::session_id.eq(session_id)),
        )
        .set(voting_code_batches::voided_at.eq(now()))
        .execute(conn)?;
        if updated == 0 {
            return Err(ApiError::not_found());
        }
        let voided = diesel::update(
            voting_codes::table
                .filter(voting_codes::batch_id.eq(batch_id))
                .filter(voting_codes::state.eq(UNUSED)),
        )
        .set(voting_codes::state.eq(VOID))
        .execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "voting_codes.void",
                target_type: "session",
                target_id: Some(session_id.to_string()),
                org_id: Some(loaded.org.id),
                summary: format!("voided batch {batch_id}: {voided} unused codes"),
            },
        )?;
        batch_out(conn, session_id)?
            .into_iter()
            .find(|b| b.id == batch_id)
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(web::Json(batch))
}

/// Turnout per category at any time: issued, used (paper ballots included), void, paper.
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Turnout", body = Turnout))
)]
#[get("/sessions/{id}/turnout")]
async fn turnout(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Turnout>> {
    let session_id = id.into_inner();
    let result = db::read(&state.pool, move |conn| {
        crate::sessions::authorized(conn, &actor, session_id, Action::Read)?;
        let codes: Vec<(String, String, i64)> = voting_codes::table
            .filter(voting_codes::session_id.eq(session_id))
            .group_by((voting_codes::category, voting_codes::state))
            .select((
                voting_codes::category,
                voting_codes::state,
                diesel::dsl::count_star(),
            ))
            .load(conn)?;
        let paper: Vec<(String, i64)> = ballots::table
            .filter(ballots::session_id.eq(session_id))
            .filter(ballots::paper.eq(true))
            .group_by(ballots::category)
            .select((ballots::category, diesel::dsl::count_star()))
            .load(conn)?;
        Ok(tally_turnout(&codes, &paper))
    })
    .await?;
    Ok(web::Json(result))
}

/// Adds up code states and paper ballots per category (categories in their fixed order).
pub fn tally_turnout(codes: &[(String, String, i64)], paper: &[(String, i64)]) -> Turnout {
    let mut categories: Vec<CategoryTurnout> = Vec::new();
    for category in ParticipantCategory::ALL {
        let name = category.as_str();
        let mut t = CategoryTurnout {
            category: Some(*category),
            ..Default::default()
        };
        for (_, state, n) in codes.iter().filter(|(c, _, _)| c == name) {
            t.issued += n;
            match state.as_str() {
                USED => t.used += n,
                VOID => t.void += n,
                _ => {}
            }
        }
        t.paper = paper
            .iter()
            .filter(|(c, _)| c == name)
            .map(|(_, n)| n)
            .sum();
        t.used += t.paper;
        if t.issued > 0 || t.paper > 0 {
            categories.push(t);
        }
    }
    Turnout {
        issued: categories.iter().map(|c| c.issued).sum(),
        used: categories.iter().map(|c| c.used).sum(),
        void: categories.iter().map(|c| c.void).sum(),
        paper: categories.iter().map(|c| c.paper).sum(),
        categories,
    }
}

/// Type in paper ballots of one category (1 to 500 per request), as an org admin of the
/// session's org or above (not the secretary, who is rated). They count like the others,
/// show as `paper` in turnout, and the entry is audited.
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    request_body = PaperBallots,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Entered", body = PaperBallotsEntered),
        (status = 409, description = "`session_not_open`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/paper-ballots")]
async fn enter_paper_ballots(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<PaperBallots>,
) -> ApiResult<HttpResponse> {
    let (session_id, body) = (id.into_inner(), body.into_inner());
    if body.ballots.is_empty() || body.ballots.len() > 500 {
        return Err(ApiError::field("ballots", "between 1 and 500 ballots"));
    }
    let entered = db::write(&state.pool, move |conn| {
        let loaded =
            crate::sessions::authorized(conn, &actor, session_id, Action::ManageCampaigns)?;
        hold_open(conn, &loaded.session)?;
        let ctx = load_context(conn, session_id)?;
        let mut errors = Vec::new();
        for (i, ballot) in body.ballots.iter().enumerate() {
            for mut e in ctx.check(&ballot.ratings, ballot.opinion.as_deref()) {
                e.field = format!("ballots[{i}].{}", e.field);
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            errors.truncate(50);
            return Err(ApiError::validation(errors));
        }
        for ballot in &body.ballots {
            write_ballot(
                conn,
                session_id,
                body.category.as_str(),
                true,
                &ballot.ratings,
                ballot.opinion.as_deref(),
            )?;
        }
        audit::record(
            conn,
            &actor,
            Event {
                action: "paper_ballots.enter",
                target_type: "session",
                target_id: Some(session_id.to_string()),
                org_id: Some(loaded.org.id),
                summary: format!(
                    "entered {} paper ballots ({})",
                    body.ballots.len(),
                    body.category
                ),
            },
        )?;
        Ok(PaperBallotsEntered {
            category: body.category,
            created: body.ballots.len(),
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(entered))
}

/// The ballot form for a code; the code stays unused.
#[utoipa::path(
    tag = "voting",
    request_body = FormRequest,
    responses(
        (status = 200, description = "The form", body = BallotForm),
        (status = 404, description = "`invalid_code`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`code_used`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown codes from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/ballot-forms")]
async fn ballot_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<FormRequest>,
) -> ApiResult<web::Json<BallotForm>> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let Some(canonical) = codes::canonical(&body.code) else {
        record_failure(&state, &address);
        return Err(invalid_code());
    };
    let hash = state.code_key.hash(&canonical);
    let found = db::read(&state.pool, move |conn| {
        let code: Option<(i64, String, String)> = voting_codes::table
            .filter(voting_codes::code_hash.eq(&hash))
            .select((
                voting_codes::session_id,
                voting_codes::category,
                voting_codes::state,
            ))
            .first(conn)
            .optional()?;
        let Some((session_id, category, code_state)) = code.filter(|(_, _, s)| s != VOID) else {
            return Ok(None);
        };
        if code_state == USED {
            return Err(code_used());
        }
        let (status, kind, org_name, domain, campaign): (
            String,
            String,
            String,
            Domain,
            CampaignRow,
        ) = sessions::table
            .inner_join(campaigns::table)
            .inner_join(orgs::table)
            .filter(sessions::id.eq(session_id))
            .select((
                sessions::status,
                sessions::kind,
                orgs::name,
                sessions::domain,
                CampaignRow::as_select(),
            ))
            .first(conn)?;
        let title = campaign.title.clone();
        let frozen = campaign.frozen()?;
        let Some(frozen) = frozen else {
            return Err(session_not_open());
        };
        let template = frozen.for_domain(domain).clone();
        let subjects = crate::sessions::subjects_of(conn, session_id)?
            .into_iter()
            .map(|s| FormSubject {
                id: s.id,
                subject_type: s.subject_type,
                name: s.name,
            })
            .collect();
        Ok(Some(BallotForm {
            session: FormSession {
                id: session_id,
                title,
                org_name,
                kind: kind.parse().unwrap_or(SessionKind::BranchMeeting),
                status: status.parse().unwrap_or(SessionStatus::Closed),
            },
            category: category.parse().map_err(ApiError::internal)?,
            subjects,
            criteria: template.criteria,
            scale: template.scale,
        }))
    })
    .await?;
    match found {
        Some(form) => Ok(web::Json(form)),
        None => {
            record_failure(&state, &address);
            Err(invalid_code())
        }
    }
}

/// Cast a ballot. One transaction consumes the code with a conditional update and writes
/// the ballot, its ratings and (apart) its opinion: of concurrent uses of one code,
/// exactly one succeeds.
#[utoipa::path(
    tag = "voting",
    request_body = SubmitBallot,
    responses(
        (status = 201, description = "Cast; the receipt reveals nothing of the ballot", body = Receipt),
        (status = 404, description = "`invalid_code`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`code_used`, `session_not_open`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown codes from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/ballots")]
async fn submit_ballot(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SubmitBallot>,
) -> ApiResult<HttpResponse> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let body = body.into_inner();
    if body.ratings.len() > rules::MAX_RATINGS {
        return Err(ApiError::field(
            "ratings",
            format!("at most {} ratings", rules::MAX_RATINGS),
        ));
    }
    let Some(canonical) = codes::canonical(&body.code) else {
        record_failure(&state, &address);
        return Err(invalid_code());
    };
    let hash = state.code_key.hash(&canonical);
    let shared = state.clone();
    let outcome = db::write(&state.pool, move |conn| {
        let consumed = consume_code(conn, &hash)?;
        let Some((session_id, category)) = consumed else {
            return Err(why_not_consumed(conn, &hash)?);
        };
        let ctx = context(conn, &shared.ballot_contexts, session_id)?;
        let errors = ctx.check(&body.ratings, body.opinion.as_deref());
        if !errors.is_empty() {
            // Rolled back: the code stays unused.
            return Err(ApiError::validation(errors));
        }
        write_ballot(
            conn,
            session_id,
            &category,
            false,
            &body.ratings,
            body.opinion.as_deref(),
        )
    })
    .await;
    match outcome {
        Ok(ballot_id) => {
            let receipt = Receipt {
                receipt: state.code_key.receipt(&ballot_id),
            };
            Ok(HttpResponse::Created()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(receipt))
        }
        Err(e) => {
            if e.code == ErrorCode::InvalidCode {
                record_failure(&state, &address);
            }
            Err(e)
        }
    }
}

/// Checks that the session is open and, on PostgreSQL, keeps it so until this transaction
/// ends (a key-share lock that closing the session must wait for).
fn hold_open(conn: &mut DbConn, session: &crate::sessions::model::SessionRow) -> ApiResult<()> {
    let status = match conn {
        DbConn::Pg(pg) => sessions::table
            .find(session.id)
            .select(sessions::status)
            .for_key_share()
            .first::<SessionStatus>(pg)?,
        DbConn::Sqlite(_) => session.status,
    };
    if status == SessionStatus::Open {
        Ok(())
    } else {
        Err(session_not_open())
    }
}

/// Marks a code used if it is unused and its session open, in one conditional update:
/// of concurrent uses of one code, exactly one gets its session back. On PostgreSQL the
/// open session row is also key-share-locked (the lock the ballot's foreign key takes
/// anyway), and closing a session locks it for update, so a close waits for the ballots in
/// flight and no ballot commits after it.
fn consume_code(conn: &mut DbConn, hash: &str) -> ApiResult<Option<(i64, String)>> {
    macro_rules! consume {
        ($conn:expr, $open_sessions:expr) => {
            diesel::update(voting_codes::table)
                .filter(voting_codes::code_hash.eq(hash))
                .filter(voting_codes::state.eq(UNUSED))
                .filter(voting_codes::session_id.eq_any($open_sessions))
                .set(voting_codes::state.eq(USED))
                .returning((voting_codes::session_id, voting_codes::category))
                .get_result::<(i64, String)>($conn)
                .optional()
        };
    }
    let open_sessions = sessions::table
        .filter(sessions::status.eq("open"))
        .select(sessions::id);
    Ok(match conn {
        DbConn::Pg(pg) => consume!(pg, open_sessions.for_key_share())?,
        // SQLite's writers are serialized whole: a close cannot interleave.
        DbConn::Sqlite(sqlite) => consume!(sqlite, open_sessions)?,
    })
}

/// Why a code could not be consumed: unknown or void, already used, or its session is
/// not open.
fn why_not_consumed(conn: &mut DbConn, hash: &str) -> ApiResult<ApiError> {
    let found: Option<(String, String)> = voting_codes::table
        .inner_join(sessions::table)
        .filter(voting_codes::code_hash.eq(hash))
        .select((voting_codes::state, sessions::status))
        .first(conn)
        .optional()?;
    Ok(match found {
        None => invalid_code(),
        Some((state, _)) if state == VOID => invalid_code(),
        Some((state, _)) if state == USED => code_used(),
        Some(_) => session_not_open(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turnout_counts_paper_ballots_as_used() {
        let codes = vec![
            ("party_member".to_string(), "used".to_string(), 28),
            ("party_member".to_string(), "unused".to_string(), 2),
            ("mass_representative".to_string(), "void".to_string(), 5),
            ("mass_representative".to_string(), "unused".to_string(), 5),
        ];
        let paper = vec![("party_member".to_string(), 3)];
        let t = tally_turnout(&codes, &paper);
        assert_eq!((t.issued, t.used, t.void, t.paper), (40, 31, 5, 3));
        assert_eq!(
            t.categories[0].category,
            Some(ParticipantCategory::PartyMember)
        );
        assert_eq!((t.categories[0].issued, t.categories[0].used), (30, 31));
        assert_eq!(t.categories[1].void, 5);
    }
}
