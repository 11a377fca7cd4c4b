//! Evaluation sessions (集中评议): one per evaluated org per campaign, with the subjects
//! rated on its ballots — the org, its secretary and each member.
//!
//! Sessions depend on campaigns (their model, rules and queries), never the other way
//! round but for `campaigns` closing a campaign's sessions through [`queries`].

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
pub use self::queries::subjects_of;
use self::queries::{NewSession, NewSubject, SessionChanges};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor, Scope};
use crate::campaigns::model::CampaignRow;
use crate::campaigns::queries as campaign_queries;
use crate::db::{self, DbConn};
use crate::error::{validate, ApiError, ApiResult, ErrorCode};
use crate::http::{created, created_at, JsonBody, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::queries as org_queries;
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_session)
        .service(bulk_create_sessions)
        .service(list_sessions)
        .service(get_session)
        .service(update_session)
        .service(list_subjects)
        .service(add_subject)
        .service(remove_subject)
        .service(open_session)
        .service(close_session);
}

/// A session with its org and campaign, loaded for a request.
pub struct Loaded {
    pub session: SessionRow,
    pub org: OrgRow,
    pub campaign: CampaignRow,
}

/// Loads a session the actor may see (404 otherwise) and checks `action` on its org.
pub fn authorized(conn: &mut DbConn, actor: &Actor, id: i64, action: Action) -> ApiResult<Loaded> {
    let session = queries::find(conn, id)?;
    let org = org_queries::find(conn, session.org_id)?;
    actor.authorize(action, &org.path)?;
    let campaign = campaign_queries::find(conn, session.campaign_id)?;
    Ok(Loaded {
        session,
        org,
        campaign,
    })
}

/// Loads a campaign the actor may see, to schedule sessions in (404 otherwise); the
/// campaign must not be closed.
fn campaign_for_sessions(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
) -> ApiResult<(CampaignRow, OrgRow)> {
    let (campaign, owner) = campaign_queries::find_with_owner(conn, campaign_id)?;
    actor.authorize_owned(Action::Read, &owner.path)?;
    rules::campaign_open_for_sessions(campaign.status)?;
    Ok((campaign, owner))
}

/// The observer must be a user the actor may see, enabled, with a grant above the org. A
/// user the actor cannot see (or that does not exist) answers exactly like an ineligible
/// one, so that the check tells nothing about accounts out of sight.
fn check_observer(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: Option<i64>,
    org: &OrgRow,
) -> ApiResult<()> {
    let Some(user_id) = user_id else {
        return Ok(());
    };
    let visible = match crate::users::queries::find_with_home(conn, user_id) {
        Ok((user, home)) => actor.may_see_account(user.id, home.as_deref()),
        Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => false,
        Err(e) => return Err(e),
    };
    let grants = if visible {
        queries::observer_grants(conn, user_id)?
    } else {
        None
    };
    rules::check_observer(grants.as_ref(), &org.path)
}

/// Inserts a session and fills in its subjects: the org, its secretary, each member.
pub fn insert_session(conn: &mut DbConn, new: &NewSession<'_>) -> ApiResult<i64> {
    if queries::exists_for(conn, new.campaign_id, new.org.id)? {
        return Err(ApiError::conflict(
            ErrorCode::SessionExists,
            "This org already has a session in this campaign.",
        ));
    }
    let id = queries::insert(conn, new)?;
    queries::insert_subjects_of(conn, &[id])?;
    Ok(id)
}

fn audit_session(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    org_id: i64,
    action: &str,
    summary: String,
) -> ApiResult<()> {
    audit::record(
        conn,
        actor,
        Event {
            action,
            target_type: "session",
            target_id: Some(id.to_string()),
            org_id: Some(org_id),
            summary,
        },
    )
}

fn check_campaign_dates(campaign: &CampaignRow, at: DateTime<Utc>) -> ApiResult<()> {
    rules::check_schedule(campaign.starts_on, campaign.ends_on, at)
}

/// Schedule a session for an org of the campaign's subtree. Its subjects are filled in:
/// the org, its secretary and each member.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = CreateSession,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Scheduled", body = Session),
        (status = 409, description = "`session_exists`: the org already has one in this campaign; `campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/sessions")]
async fn create_session(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreateSession>,
) -> ApiResult<HttpResponse> {
    let (campaign_id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let session = db::write(&state.pool, move |conn| {
        let (campaign, owner) = campaign_for_sessions(conn, &actor, campaign_id)?;
        let org = org_queries::find_active_referenced(conn, &actor, body.org_id, "org_id")?;
        rules::check_in_campaign(&org.path, &owner.path)?;
        actor.authorize(Action::RunSessions, &org.path)?;
        check_campaign_dates(&campaign, body.scheduled_at)?;
        check_observer(conn, &actor, body.observer_user_id, &org)?;
        let id = insert_session(
            conn,
            &NewSession {
                campaign_id,
                org: &org,
                kind: body.kind,
                scheduled_at: body.scheduled_at,
                location: body.location.as_deref(),
                observer_user_id: body.observer_user_id,
            },
        )?;
        let summary = format!("scheduled {} for {}", body.kind, org.name);
        audit_session(conn, &actor, id, org.id, "session.create", summary)?;
        queries::load_out(conn, id)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/sessions/{}", session.id),
        &session,
    ))
}

/// Schedule a session for every org of that kind of unit in the campaign's subtree that has
/// none yet (where the actor may run sessions). More than 1,000 sessions (or `Prefer:
/// respond-async`) are scheduled by a job, answered 202, unless `wait=true`.
#[utoipa::path(
    tag = "sessions",
    params(
        ("id" = i64, Path, description = "Campaign id"),
        BulkQuery,
        ("Prefer" = Option<String>, Header, description = "`respond-async` (RFC 7240): answer 202 with a job at once"),
    ),
    request_body = BulkCreateSessions,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "How many sessions were scheduled (possibly none) and where they are listed (also in `Location`)", body = BulkCreated,
            headers(("Location" = String, description = "`/api/v1/sessions?campaign_id={id}`"))),
        (status = 202, description = "Accepted as a job (more than 1,000 sessions, or `Prefer: respond-async`, without `wait=true`): follow `Location` to `GET /jobs/{id}`, whose `result` is this answer once done", body = crate::jobs::Job,
            headers(("Location" = String, description = "`/api/v1/jobs/{id}`"), ("Preference-Applied" = String, description = "`respond-async` when it was asked for"))),
        (status = 403, description = "The actor may not run sessions anywhere, or not in this campaign", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such campaign visible to the actor", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`scheduled_at` outside the campaign's dates", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/sessions/bulk")]
async fn bulk_create_sessions(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    query: web::Query<BulkQuery>,
    body: JsonBody<BulkCreateSessions>,
) -> ApiResult<HttpResponse> {
    let (campaign_id, body) = (id.into_inner(), body.into_inner());
    if query.wait {
        return schedule_now(&state, actor, campaign_id, body).await;
    }
    let prefer = req.headers().get("Prefer").and_then(|v| v.to_str().ok());
    // Checked and counted before anything is accepted: a refusal is answered at once.
    let planned = {
        let (actor, scheduled_at) = (actor.clone(), body.scheduled_at);
        db::read(&state.pool, move |conn| {
            let (_, candidates) = bulk_candidates(conn, &actor, campaign_id, scheduled_at)?;
            Ok(candidates
                .iter()
                .filter(|o| rules::bulk_covers(body.kind, o.kind, o.window_unit))
                .count())
        })
        .await?
    };
    if crate::jobs::rules::SESSIONS.runs_as_job(prefer, planned, false) {
        let preferred = crate::jobs::rules::prefers_async(prefer);
        return crate::jobs::start_scheduling(state, actor, campaign_id, body, planned, preferred)
            .await;
    }
    schedule_now(&state, actor, campaign_id, body).await
}

/// Schedules the sessions within the request: 201 with the summary.
async fn schedule_now(
    state: &AppState,
    actor: Actor,
    campaign_id: i64,
    body: BulkCreateSessions,
) -> ApiResult<HttpResponse> {
    let scheduled = db::write(&state.pool, move |conn| {
        schedule_campaign(conn, &actor, campaign_id, &body, &|_| {})
    })
    .await?;
    Ok(crate::http::created_at(
        scheduled.sessions.clone(),
        &scheduled,
    ))
}

/// The campaign's owner org and the orgs of its subtree, where the actor may run sessions,
/// that have no session yet — after checking that sessions may be scheduled at `at`.
fn bulk_candidates(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    at: DateTime<Utc>,
) -> ApiResult<(OrgRow, Vec<OrgRow>)> {
    let (campaign, owner) = campaign_for_sessions(conn, actor, campaign_id)?;
    check_campaign_dates(&campaign, at)?;
    let runnable = actor.scope_for(Action::RunSessions);
    if runnable == Scope::Subtrees(vec![]) {
        return Err(ApiError::forbidden_because(
            "You may not run sessions anywhere.",
        ));
    }
    let candidates = queries::orgs_without_session(conn, campaign_id, &owner.path, &runnable)?;
    Ok((owner, candidates))
}

/// Schedules the campaign's sessions of one kind (inside the caller's transaction), telling
/// `progress` how many are written as they go: how many, and where they are listed (a
/// city's thousands of sessions are not repeated in the answer).
pub fn schedule_campaign(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    body: &BulkCreateSessions,
    progress: &dyn Fn(u64),
) -> ApiResult<BulkCreated> {
    let (owner, candidates) = bulk_candidates(conn, actor, campaign_id, body.scheduled_at)?;
    let scheduled = schedule_all(conn, campaign_id, &candidates, body, progress)?;
    audit::record(
        conn,
        actor,
        Event {
            action: "session.bulk_create",
            target_type: "campaign",
            target_id: Some(campaign_id.to_string()),
            org_id: Some(owner.id),
            summary: format!("scheduled {scheduled} {} sessions", body.kind),
        },
    )?;
    Ok(BulkCreated {
        created: scheduled,
        sessions: format!("/api/v1/sessions?campaign_id={campaign_id}"),
    })
}

/// Schedules a session, with its subjects, for each of `orgs` that the kind of session
/// covers, in multi-row statements: how many.
fn schedule_all(
    conn: &mut DbConn,
    campaign_id: i64,
    orgs: &[OrgRow],
    body: &BulkCreateSessions,
    progress: &dyn Fn(u64),
) -> ApiResult<usize> {
    let covered: Vec<&OrgRow> = orgs
        .iter()
        .filter(|o| rules::bulk_covers(body.kind, o.kind, o.window_unit))
        .collect();
    let at = now();
    let mut written = 0;
    for chunk in covered.chunks(db::ROWS_PER_STATEMENT) {
        let rows: Vec<queries::NewSessionRow> = chunk
            .iter()
            .map(|org| {
                let new = NewSession {
                    campaign_id,
                    org,
                    kind: body.kind,
                    scheduled_at: body.scheduled_at,
                    location: None,
                    observer_user_id: None,
                };
                queries::NewSessionRow::of(&new, at)
            })
            .collect();
        let session_ids = queries::insert_many(conn, &rows)?;
        queries::insert_subjects_of(conn, &session_ids)?;
        written += chunk.len() as u64;
        progress(written);
    }
    Ok(covered.len())
}

/// The sessions the actor can see.
#[utoipa::path(
    tag = "sessions",
    params(SessionListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible sessions", body = Page<Session>))
)]
#[get("/sessions")]
async fn list_sessions(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<SessionListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Session>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    let scope = actor.scope();
    let result = db::read(&state.pool, move |conn| {
        let (items, total) = queries::list(conn, &scope, &filter, &page)?;
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One session.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The session", body = Session))
)]
#[get("/sessions/{id}")]
async fn get_session(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Session>> {
    let id = id.into_inner();
    let session = db::read(&state.pool, move |conn| {
        authorized(conn, &actor, id, Action::Read)?;
        queries::load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// Change a scheduled session's kind, time, place, observer, expected voters (应到人数) or
/// the number of paper forms handed out.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    request_body = UpdateSession,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed session", body = Session),
        (status = 409, description = "`session_not_scheduled`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/sessions/{id}")]
async fn update_session(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdateSession>,
) -> ApiResult<web::Json<Session>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    rules::check_location(body.location.as_ref().map(Option::as_deref))?;
    rules::check_counts(body.expected_voters, body.paper_forms)?;
    let session = db::write(&state.pool, move |conn| {
        let Loaded {
            session,
            org,
            campaign,
        } = authorized(conn, &actor, id, Action::RunSessions)?;
        rules::require_scheduled(session.status)?;
        if let Some(at) = body.scheduled_at {
            check_campaign_dates(&campaign, at)?;
        }
        check_observer(conn, &actor, body.observer_user_id.flatten(), &org)?;
        let changes = SessionChanges {
            kind: body.kind,
            scheduled_at: body.scheduled_at.map(|t| t.naive_utc()),
            location: body.location.as_ref().map(|l| l.as_deref()),
            observer_user_id: body.observer_user_id,
            expected_voters: body.expected_voters,
            paper_forms: body.paper_forms,
            updated_at: now(),
        };
        queries::update(conn, id, &changes)?;
        let summary = format!("changed the session of {}", org.name);
        audit_session(conn, &actor, id, org.id, "session.update", summary)?;
        queries::load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// Who is rated on this session's ballots.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The subjects, in ballot order", body = Vec<Subject>))
)]
#[get("/sessions/{id}/subjects")]
async fn list_subjects(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<Subject>>> {
    let id = id.into_inner();
    let subjects = db::read(&state.pool, move |conn| {
        authorized(conn, &actor, id, Action::Read)?;
        subjects_of(conn, id)
    })
    .await?;
    Ok(web::Json(subjects))
}

/// Add a subject while the session is scheduled.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    request_body = CreateSubject,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Subject),
        (status = 409, description = "`session_not_scheduled`; `subject_exists`; `subjects_fixed`: codes have been issued", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/subjects")]
async fn add_subject(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: JsonBody<CreateSubject>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let subject = db::write(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        rules::require_scheduled(session.status)?;
        queries::lock_session(conn, id)?;
        rules::check_subjects_changeable(queries::codes_issued(conn, id)?)?;
        let new = new_subject(conn, &actor, &org, id, &body)?;
        if queries::subject_exists(conn, id, new.subject_type, new.person_id)? {
            return Err(ApiError::conflict(
                ErrorCode::SubjectExists,
                "This subject is already on the ballot.",
            ));
        }
        let subject = queries::insert_subject(conn, &new)?;
        let summary = format!("added a {} subject", body.subject_type);
        audit_session(conn, &actor, id, org.id, "subject.create", summary)?;
        Ok(subject)
    })
    .await?;
    Ok(created(&req, subject.id, &subject))
}

/// The subject a request adds, after the session's last one: the org, or a person the
/// actor sees, who keeps their own org (as when subjects are filled in).
fn new_subject(
    conn: &mut DbConn,
    actor: &Actor,
    org: &OrgRow,
    session_id: i64,
    body: &CreateSubject,
) -> ApiResult<NewSubject> {
    let person_id = rules::subject_person(body.subject_type, body.person_id)?;
    let (org_id, default_name) = match person_id {
        None => (org.id, org.name.clone()),
        Some(person_id) => {
            let person = queries::subject_person(conn, person_id)?
                .filter(|p| p.active && actor.can_see(&p.org_path))
                .ok_or_else(|| ApiError::field("person_id", "no such person"))?;
            (person.org_id, person.name)
        }
    };
    Ok(NewSubject {
        session_id,
        subject_type: body.subject_type,
        org_id: Some(org_id),
        person_id,
        name: body
            .name
            .as_deref()
            .map_or(default_name, |n| n.trim().to_owned()),
        position: queries::next_position(conn, session_id)?,
    })
}

/// Remove a subject while the session is scheduled and before any code is issued, giving a
/// `reason` (kept in the audit log). Nobody removes the subject that rates themselves (a
/// rated secretary cannot take themselves off the ballot: 403).
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id"), ("subject_id" = i64, Path, description = "Subject id"), RemoveSubjectQuery),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed (audited with the reason)"),
        (status = 422, description = "`validation_failed`: the `reason` is blank, too long or holds control characters", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`session_not_scheduled`; `subjects_fixed`: codes have been issued", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/sessions/{id}/subjects/{subject_id}")]
async fn remove_subject(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    query: web::Query<RemoveSubjectQuery>,
) -> ApiResult<HttpResponse> {
    let (id, subject_id) = path.into_inner();
    let reason = rules::removal_reason(&query.reason)?;
    db::write(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        rules::require_scheduled(session.status)?;
        queries::lock_session(conn, id)?;
        let subject =
            queries::find_subject(conn, id, subject_id)?.ok_or_else(ApiError::not_found)?;
        let actor_person = queries::user_person(conn, actor.user_id)?;
        actor.authorize_subject_change(actor_person, subject.person_id)?;
        rules::check_subjects_changeable(queries::codes_issued(conn, id)?)?;
        if !queries::delete_subject(conn, id, subject_id)? {
            return Err(ApiError::not_found());
        }
        let summary = format!(
            "removed {} subject {subject_id} ({}): {reason}",
            subject.subject_type, subject.name
        );
        audit_session(conn, &actor, id, org.id, "subject.delete", summary)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// scheduled → open: ballots are accepted. Only while the campaign is active and within
/// its dates.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Open", body = Session),
        (status = 409, description = "`invalid_transition`, `campaign_not_active`, `outside_campaign_dates`; `org_subject_missing`: the org is not on the ballot; `secretary_subject_missing`: the org has a secretary and no secretary subject is on the ballot", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/open")]
async fn open_session(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Session>> {
    let id = id.into_inner();
    let session = db::write(&state.pool, move |conn| {
        let Loaded {
            session,
            org,
            campaign,
        } = authorized(conn, &actor, id, Action::RunSessions)?;
        let today = crate::types::local_today();
        let to = rules::open(
            session.status,
            campaign.status,
            today,
            campaign.starts_on,
            campaign.ends_on,
        )?;
        let types: Vec<_> = subjects_of(conn, id)?
            .iter()
            .map(|s| s.subject_type)
            .collect();
        rules::check_ballot_complete(&types, org.secretary_id.is_some())?;
        move_status(conn, &session, to)?;
        let summary = format!("opened the session of {}", org.name);
        audit_session(conn, &actor, id, org.id, "session.open", summary)?;
        queries::load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// open → closed: no more ballots; results become available.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Closed", body = Session),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/close")]
async fn close_session(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Session>> {
    let id = id.into_inner();
    // After the ballots already cast (queued for the writer), not before them.
    let session = db::write_after_grouped(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        let to = rules::close(session.status)?;
        move_status(conn, &session, to)?;
        let summary = format!("closed the session of {}", org.name);
        audit_session(conn, &actor, id, org.id, "session.close", summary)?;
        queries::load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// Conditional on the status read before: of two concurrent changes, one wins.
fn move_status(conn: &mut DbConn, session: &SessionRow, to: SessionStatus) -> ApiResult<()> {
    if !queries::move_status(conn, session, to)? {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The session changed meanwhile.",
        ));
    }
    Ok(())
}
