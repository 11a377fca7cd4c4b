//! Voting: codes issued per participant category, the ballot form, anonymous ballots
//! (one code, one ballot, under any concurrency), paper ballots, turnout.
//!
//! Secrecy is in the data: a ballot row names no code and no voter, its id is random,
//! it carries only the day; opinions are stored apart; codes are kept as keyed hashes with
//! no time of use; receipts are derived, never stored; no log line holds a code.

pub mod cast;
pub mod codes;
pub mod model;
pub mod queries;
pub mod rules;
pub mod sheet;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::rules::{BallotContext, CodeRefusal};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::http::JsonBody;
use crate::orgs::model::Domain;
use crate::state::AppState;
use crate::templates::model::Template;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(issue_codes)
        .service(list_batches)
        .service(void_batch)
        .service(turnout)
        .service(enter_paper_ballots)
        .service(ballot_form)
        .service(submit_ballot)
        .service(receipts);
}

/// Every receipt of a closed session, sorted, for voters to find theirs (public: no login,
/// nothing but the receipts). Before close the list would tell who voted when: 409
/// `session_not_closed`.
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session's receipts, sorted", body = SessionReceipts),
        (status = 409, description = "`session_not_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/sessions/{id}/receipts")]
async fn receipts(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SessionReceipts>> {
    let session_id = id.into_inner();
    let key = state.code_key.clone();
    let ids = db::read(&state.pool, move |conn| {
        let session = crate::sessions::queries::find(conn, session_id)?;
        rules::receipts_published(session.status)?;
        queries::ballot_ids(conn, session_id)
    })
    .await?;
    let mut receipts: Vec<String> = ids.iter().map(|id| key.receipt(id)).collect();
    receipts.sort_unstable();
    Ok(web::Json(SessionReceipts {
        session_id,
        receipts,
    }))
}

/// Ballot contexts of open sessions: an open session's subjects and frozen template never
/// change, so the hot path checks ballots without reading them again. The templates are
/// kept apart by campaign and domain (a campaign freezes them once, when it is activated):
/// on a meeting day thousands of sessions share a few, parsed once.
#[derive(Default)]
pub struct ContextCache {
    sessions: Mutex<HashMap<i64, Arc<BallotContext>>>,
    templates: Mutex<HashMap<(i64, Domain), Arc<Template>>>,
}

impl ContextCache {
    const MAX_ENTRIES: usize = 4096;

    fn get(&self, session_id: i64) -> Option<Arc<BallotContext>> {
        locked(&self.sessions).get(&session_id).cloned()
    }

    fn put(&self, session_id: i64, context: Arc<BallotContext>) {
        bounded_insert(&mut locked(&self.sessions), session_id, context);
    }

    fn template(&self, campaign_id: i64, domain: Domain) -> Option<Arc<Template>> {
        locked(&self.templates).get(&(campaign_id, domain)).cloned()
    }

    fn put_template(&self, campaign_id: i64, domain: Domain, template: Arc<Template>) {
        bounded_insert(
            &mut locked(&self.templates),
            (campaign_id, domain),
            template,
        );
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Inserts, emptying the map first when it is full (it refills from the database).
fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= ContextCache::MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
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

/// The stored hash of a typed code; what cannot be a code is refused as an unknown code.
fn code_hash(state: &AppState, address: &str, typed: &str) -> ApiResult<String> {
    match codes::canonical(typed) {
        Some(canonical) => Ok(state.code_key.hash(&canonical)),
        None => Err(refused(state, address, CodeRefusal::Unknown)),
    }
}

/// The group-commit key of a code: its hash's first 64 bits (any stable spread will do).
fn writer_key(hash: &str) -> u64 {
    hash.get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_default()
}

/// The error for a refused code; an unknown code counts against the address.
fn refused(state: &AppState, address: &str, refusal: CodeRefusal) -> ApiError {
    if refusal.is_guess() {
        state.code_failures_by_address.record_failure(address);
    }
    refusal.into()
}

/// An audit event about a session.
fn session_event<'a>(action: &'a str, session_id: i64, org_id: i64, summary: String) -> Event<'a> {
    Event {
        action,
        target_type: "session",
        target_id: Some(session_id.to_string()),
        org_id: Some(org_id),
        summary,
    }
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
        (status = 201, description = "Issued (`Cache-Control: no-store`): JSON, or with `?format=html` a printable sheet with a QR code per code",
            content(
                (IssuedCodes = "application/json"),
                (String = "text/html", example = "<!doctype html><html lang=\"zh-CN\">…</html>"),
            ),
            headers(("Cache-Control" = String, description = "`no-store`: the codes are shown once"))),
        (status = 409, description = "`session_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/voting-codes")]
async fn issue_codes(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<IssueQuery>,
    body: JsonBody<IssueCodes>,
) -> ApiResult<HttpResponse> {
    let (session_id, IssueCodes { category, count }) = (id.into_inner(), body.into_inner());
    let html = rules::wants_sheet(query.format);
    let key = state.code_key.clone();
    let (issued, printed) = db::write(&state.pool, move |conn| {
        let loaded =
            crate::sessions::authorized(conn, &actor, session_id, Action::ManageCampaigns)?;
        // Subject changes take the same lock: the ballot the codes are printed for is fixed.
        crate::sessions::queries::lock_session(conn, session_id)?;
        rules::may_issue_codes(loaded.session.status)?;
        let codes: Vec<String> = (0..count).map(|_| codes::generate()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| key.hash_printed(c)).collect();
        let batch_id = queries::insert_batch(conn, session_id, category, actor.user_id, &hashes)?;
        let summary = format!("issued {count} {category} codes (batch {batch_id})");
        let event = session_event("voting_codes.issue", session_id, loaded.org.id, summary);
        audit::record(conn, &actor, event)?;
        let printed = Printed {
            campaign: loaded.campaign.title.clone(),
            org: loaded.org.name.clone(),
            when: crate::types::local_time(loaded.session.scheduled_at.and_utc())
                .format("%Y年%-m月%-d日 %H:%M")
                .to_string(),
            place: loaded.session.location.clone(),
        };
        let issued = IssuedCodes {
            batch_id,
            session_id,
            category,
            count,
            codes,
        };
        Ok((issued, printed))
    })
    .await?;
    Ok(issued_response(&state, &issued, &printed, html))
}

/// What the printed cards say about the meeting.
struct Printed {
    campaign: String,
    org: String,
    when: String,
    place: Option<String>,
}

/// Issued codes, as JSON or as a printable sheet, never cached.
fn issued_response(
    state: &AppState,
    issued: &IssuedCodes,
    printed: &Printed,
    html: bool,
) -> HttpResponse {
    let location = format!(
        "/api/v1/sessions/{}/voting-codes/batches/{}",
        issued.session_id, issued.batch_id
    );
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if html {
        let public_url = state.settings.public_url();
        let sheet = sheet::Sheet {
            campaign: &printed.campaign,
            org: &printed.org,
            category: issued.category.label_zh(),
            when: &printed.when,
            place: printed.place.as_deref(),
        };
        let page = sheet::render(&sheet, &public_url, &issued.codes);
        return res.content_type("text/html; charset=utf-8").body(page);
    }
    res.json(issued)
}

/// The batches of codes issued for a session (never the codes).
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 200, description = "Batches, oldest first (`used` is null for batches of fewer than the campaign's `min_category_ballots` codes)", body = Vec<Batch>))
)]
#[get("/sessions/{id}/voting-codes/batches")]
async fn list_batches(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<Batch>>> {
    let session_id = id.into_inner();
    let batches = db::read(&state.pool, move |conn| {
        let loaded = crate::sessions::authorized(conn, &actor, session_id, Action::RunSessions)?;
        let k = loaded.campaign.min_category_ballots;
        Ok(rules::hide_small_batches(
            queries::batches(conn, session_id)?,
            k,
        ))
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
        let voided =
            queries::void_batch(conn, session_id, batch_id)?.ok_or_else(ApiError::not_found)?;
        let summary = format!("voided batch {batch_id}: {voided} unused codes");
        let event = session_event("voting_codes.void", session_id, loaded.org.id, summary);
        audit::record(conn, &actor, event)?;
        let k = loaded.campaign.min_category_ballots;
        rules::hide_small_batches(queries::batches(conn, session_id)?, k)
            .into_iter()
            .find(|b| b.id == batch_id)
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(web::Json(batch))
}

/// Turnout per category at any time: expected (应到人数, when declared), issued, cast (实到:
/// used codes and paper ballots), void, paper.
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
        let loaded = crate::sessions::authorized(conn, &actor, session_id, Action::Read)?;
        let (codes, paper) = queries::turnout_counts(conn, session_id)?;
        let mut turnout = rules::tally_turnout(&codes, &paper);
        turnout.expected = loaded.session.expected_voters.map(i64::from);
        Ok(turnout)
    })
    .await?;
    Ok(web::Json(result))
}

/// Type in paper ballots of one category (1 to 500 per request), as an org admin of the
/// session's org or above (not the secretary, who is rated). They count like the others,
/// show as `paper` in turnout, and the entry is audited. Where the session declares
/// `paper_forms`, no more paper ballots than that are typed in.
#[utoipa::path(
    tag = "voting",
    params(("id" = i64, Path, description = "Session id")),
    request_body = PaperBallots,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Entered", body = PaperBallotsEntered),
        (status = 409, description = "`session_not_open`; `paper_forms_exceeded`: more paper ballots than the session's `paper_forms`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/paper-ballots")]
async fn enter_paper_ballots(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<PaperBallots>,
) -> ApiResult<HttpResponse> {
    let (session_id, body) = (id.into_inner(), body.into_inner());
    let entered = db::write(&state.pool, move |conn| {
        let loaded =
            crate::sessions::authorized(conn, &actor, session_id, Action::ManageCampaigns)?;
        rules::may_cast(queries::hold_status(conn, &loaded.session)?)?;
        let ctx = queries::load_context(conn, session_id, None)?;
        ctx.check_paper(&body.ballots)?;
        let entered_before = queries::paper_ballots(conn, session_id)?;
        rules::check_paper_forms(
            loaded.session.paper_forms,
            entered_before,
            body.ballots.len(),
        )?;
        let ballots: Vec<_> = body
            .ballots
            .iter()
            .map(|ballot| queries::NewBallot {
                session_id,
                category: body.category,
                paper: true,
                ratings: &ballot.ratings,
                opinion: ballot.opinion.as_deref(),
            })
            .collect();
        queries::write_ballots(conn, &ballots)?;
        let (category, created) = (body.category, body.ballots.len());
        let summary = format!("entered {created} paper ballots ({category})");
        let event = session_event("paper_ballots.enter", session_id, loaded.org.id, summary);
        audit::record(conn, &actor, event)?;
        Ok(PaperBallotsEntered { category, created })
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
    body: JsonBody<FormRequest>,
) -> ApiResult<web::Json<BallotForm>> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let hash = code_hash(&state, &address, &body.code)?;
    let found = db::read(&state.pool, move |conn| load_form(conn, &hash)).await?;
    found
        .map(web::Json)
        .map_err(|refusal| refused(&state, &address, refusal))
}

/// The form for the code with this hash, or why it gets none.
fn load_form(conn: &mut DbConn, hash: &str) -> ApiResult<Result<BallotForm, CodeRefusal>> {
    let code = match rules::usable_code(queries::find_code(conn, hash)?) {
        Ok(code) => code,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let session = queries::form_session(conn, code.session_id)?;
    let Some(frozen) = session.campaign.frozen()? else {
        return Ok(Err(CodeRefusal::SessionNotOpen));
    };
    let template = frozen.for_domain(session.domain).clone();
    Ok(Ok(BallotForm {
        session: FormSession {
            id: code.session_id,
            title: session.campaign.title,
            org_name: session.org_name,
            kind: session.kind,
            status: session.status,
        },
        category: code.category,
        subjects: queries::form_subjects(conn, code.session_id)?,
        criteria: template.criteria,
        scale: template.scale,
    }))
}

/// Cast a ballot. One transaction consumes the code with a conditional update and writes
/// the ballot, its ratings and (apart) its opinion: of concurrent uses of one code,
/// exactly one succeeds.
#[utoipa::path(
    tag = "voting",
    request_body = SubmitBallot,
    responses(
        (status = 201, description = "Cast; the receipt reveals nothing of the ballot", body = Receipt,
            headers(("Cache-Control" = String, description = "`no-store`: the receipt is shown once"))),
        (status = 404, description = "`invalid_code`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`code_used`, `session_not_open`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown codes from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: too many ballots are waiting to be written (or the database is unreachable); nothing was cast, try again after `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/ballots")]
async fn submit_ballot(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<SubmitBallot>,
) -> ApiResult<HttpResponse> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let body = body.into_inner();
    let hash = code_hash(&state, &address, &body.code)?;
    // The ballot joins the group commit, keyed by its code: it is answered once durable.
    let key = writer_key(&hash);
    let cast = db::write_set(
        &state.pool,
        key,
        cast::Cast {
            code_hash: hash,
            ratings: body.ratings,
            opinion: body.opinion,
            contexts: state.ballot_contexts.clone(),
        },
    )
    .await?;
    let ballot_id = cast.map_err(|refusal| refused(&state, &address, refusal))?;
    let receipt = Receipt {
        receipt: state.code_key.receipt(&ballot_id),
    };
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(receipt))
}
