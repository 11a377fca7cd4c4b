//! Evaluation sessions (集中评议): one per evaluated org per campaign, with the subjects
//! rated on its ballots — the org, its secretary and each member.

pub mod model;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor, Scope};
use crate::campaigns::model::CampaignRow;
use crate::campaigns::rules::CampaignStatus;
use crate::db::schema::{campaigns, grants, orgs, people, session_subjects, sessions, users};
use crate::db::{self, DbConn, MultiBackend};
use crate::error::{validate, ApiError, ApiResult, ErrorCode};
use crate::http::{created, created_at, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::state::AppState;
use crate::templates::model::SubjectType;
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
    let session: SessionRow = sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let org = org_queries::find(conn, session.org_id)?;
    actor.authorize(action, &org.path)?;
    let campaign = campaigns::table
        .find(session.campaign_id)
        .select(CampaignRow::as_select())
        .first(conn)?;
    Ok(Loaded {
        session,
        org,
        campaign,
    })
}

fn require_scheduled(session: &SessionRow) -> ApiResult<()> {
    if session.status() != SessionStatus::Scheduled {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotScheduled,
            "This changes only while the session is scheduled.",
        ));
    }
    Ok(())
}

fn check_schedule(campaign: &CampaignRow, at: DateTime<Utc>) -> ApiResult<()> {
    let day = crate::types::local_date(at);
    if day < campaign.starts_on || day > campaign.ends_on {
        return Err(ApiError::field(
            "scheduled_at",
            format!(
                "must fall within the campaign, {} to {}",
                campaign.starts_on, campaign.ends_on
            ),
        ));
    }
    Ok(())
}

/// The observer must hold a grant on a strict superior of the evaluated org.
fn check_observer(conn: &mut DbConn, user_id: i64, org: &OrgRow) -> ApiResult<()> {
    let grant_paths: Vec<(String, Option<String>)> = grants::table
        .inner_join(users::table)
        .left_join(orgs::table)
        .filter(grants::user_id.eq(user_id))
        .filter(users::disabled.eq(false))
        .select((grants::role, orgs::path.nullable()))
        .load(conn)?;
    let superior = grant_paths.iter().any(|(role, path)| match path {
        Some(path) => org.path.starts_with(path.as_str()) && path != &org.path,
        None => role == "admin",
    });
    if superior {
        Ok(())
    } else {
        Err(ApiError::field(
            "observer_user_id",
            "must be a user of a superior org",
        ))
    }
}

fn campaign_open_for_sessions(campaign: &CampaignRow) -> ApiResult<()> {
    match campaign.status() {
        CampaignStatus::Draft | CampaignStatus::Active => Ok(()),
        _ => Err(ApiError::conflict(
            ErrorCode::CampaignClosed,
            "The campaign is closed.",
        )),
    }
}

/// Inserts a session and fills in its subjects: the org, its secretary, each member.
fn insert_session(
    conn: &mut DbConn,
    campaign_id: i64,
    org: &OrgRow,
    kind: SessionKind,
    scheduled_at: DateTime<Utc>,
    location: Option<&str>,
    observer_user_id: Option<i64>,
) -> ApiResult<i64> {
    let exists: i64 = sessions::table
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(sessions::org_id.eq(org.id))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Err(ApiError::conflict(
            ErrorCode::SessionExists,
            "This org already has a session in this campaign.",
        ));
    }
    let at = now();
    let id: i64 = diesel::insert_into(sessions::table)
        .values((
            sessions::campaign_id.eq(campaign_id),
            sessions::org_id.eq(org.id),
            sessions::domain.eq(&org.domain),
            sessions::kind.eq(kind.as_str()),
            sessions::status.eq(SessionStatus::Scheduled.as_str()),
            sessions::scheduled_at.eq(scheduled_at.naive_utc()),
            sessions::location.eq(location),
            sessions::observer_user_id.eq(observer_user_id),
            sessions::created_at.eq(at),
            sessions::updated_at.eq(at),
        ))
        .returning(sessions::id)
        .get_result(conn)?;
    fill_subjects(conn, id, org)?;
    Ok(id)
}

fn fill_subjects(conn: &mut DbConn, session_id: i64, org: &OrgRow) -> ApiResult<()> {
    let members: Vec<(i64, String)> = people::table
        .filter(people::org_id.eq(org.id))
        .filter(people::status.eq("active"))
        .order(people::id)
        .select((people::id, people::name))
        .load(conn)?;
    let mut subjects = vec![(SubjectType::Org, Some(org.id), None, org.name.clone())];
    if let Some((id, name)) = members.iter().find(|(id, _)| Some(*id) == org.secretary_id) {
        subjects.push((
            SubjectType::Secretary,
            Some(org.id),
            Some(*id),
            name.clone(),
        ));
    }
    for (id, name) in members
        .iter()
        .filter(|(id, _)| Some(*id) != org.secretary_id)
    {
        subjects.push((SubjectType::Member, Some(org.id), Some(*id), name.clone()));
    }
    let rows: Vec<_> = subjects
        .into_iter()
        .enumerate()
        .map(|(i, (subject_type, org_id, person_id, name))| {
            (
                session_subjects::session_id.eq(session_id),
                session_subjects::subject_type.eq(subject_type.as_str()),
                session_subjects::org_id.eq(org_id),
                session_subjects::person_id.eq(person_id),
                session_subjects::name.eq(name),
                session_subjects::position.eq(i as i32 + 1),
            )
        })
        .collect();
    crate::insert_batch!(conn, session_subjects::table, &rows)?;
    Ok(())
}

fn load_out(conn: &mut DbConn, id: i64) -> ApiResult<Session> {
    let (row, org_name): (SessionRow, String) = sessions::table
        .inner_join(orgs::table)
        .filter(sessions::id.eq(id))
        .select((SessionRow::as_select(), orgs::name))
        .first(conn)?;
    Ok(Session::new(row, org_name))
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
    body: web::Json<CreateSession>,
) -> ApiResult<HttpResponse> {
    let (campaign_id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let session = db::write(&state.pool, move |conn| {
        let (campaign, owner) =
            crate::campaigns::authorized(conn, &actor, campaign_id, Action::Read)?;
        campaign_open_for_sessions(&campaign)?;
        let org = org_queries::find_active_referenced(conn, &actor, body.org_id, "org_id")?;
        if !org.path.starts_with(&owner.path) {
            return Err(ApiError::field("org_id", "not an org of this campaign"));
        }
        actor.authorize(Action::RunSessions, &org.path)?;
        check_schedule(&campaign, body.scheduled_at)?;
        if let Some(observer) = body.observer_user_id {
            check_observer(conn, observer, &org)?;
        }
        let id = insert_session(
            conn,
            campaign_id,
            &org,
            body.kind,
            body.scheduled_at,
            body.location.as_deref(),
            body.observer_user_id,
        )?;
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "session.create",
            format!("scheduled {} for {}", body.kind, org.name),
        )?;
        load_out(conn, id)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/sessions/{}", session.id),
        &session,
    ))
}

/// Schedule a session for every org of that kind of unit in the campaign's subtree that has
/// none yet (where the actor may run sessions).
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = BulkCreateSessions,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The sessions created (possibly none)", body = BulkCreated),
        (status = 409, description = "`campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/sessions/bulk")]
async fn bulk_create_sessions(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BulkCreateSessions>,
) -> ApiResult<HttpResponse> {
    let (campaign_id, body) = (id.into_inner(), body.into_inner());
    let result = db::write(&state.pool, move |conn| {
        let (campaign, owner) =
            crate::campaigns::authorized(conn, &actor, campaign_id, Action::Read)?;
        campaign_open_for_sessions(&campaign)?;
        check_schedule(&campaign, body.scheduled_at)?;
        let runnable = actor.scope_for(Action::RunSessions);
        if runnable == Scope::Subtrees(vec![]) {
            return Err(ApiError::forbidden_because(
                "You may not run sessions anywhere.",
            ));
        }
        let candidates: Vec<OrgRow> = orgs::table
            .filter(org_queries::in_subtree(&owner.path))
            .filter(org_queries::in_scope(&runnable))
            .filter(orgs::status.eq("active"))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                sessions::table
                    .filter(sessions::campaign_id.eq(campaign_id))
                    .filter(sessions::org_id.eq(orgs::id)),
            )))
            .order(orgs::path)
            .select(OrgRow::as_select())
            .load(conn)?;
        let mut items = Vec::new();
        for org in candidates
            .iter()
            .filter(|o| rules::bulk_covers(body.kind, o.kind.as_str(), o.window_unit))
        {
            let id = insert_session(
                conn,
                campaign_id,
                org,
                body.kind,
                body.scheduled_at,
                None,
                None,
            )?;
            items.push(load_out(conn, id)?);
        }
        audit::record(
            conn,
            &actor,
            Event {
                action: "session.bulk_create",
                target_type: "campaign",
                target_id: Some(campaign_id.to_string()),
                org_id: Some(owner.id),
                summary: format!("scheduled {} {} sessions", items.len(), body.kind),
            },
        )?;
        Ok(BulkCreated {
            created: items.len(),
            items,
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(result))
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
        let build = || {
            let mut q = sessions::table
                .inner_join(orgs::table)
                .into_boxed::<MultiBackend>();
            if scope != Scope::All {
                q = q.filter(org_column_in_scope("sessions.org_id", &scope));
            }
            if let Some(v) = filter.campaign_id {
                q = q.filter(sessions::campaign_id.eq(v));
            }
            if let Some(v) = filter.org_id {
                q = q.filter(sessions::org_id.eq(v));
            }
            if let Some(v) = filter.status {
                q = q.filter(sessions::status.eq(v.as_str()));
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select((SessionRow::as_select(), orgs::name))
            .order(sessions::id)
            .limit(page.per_page())
            .offset(page.offset())
            .load::<(SessionRow, String)>(conn)?
            .into_iter()
            .map(|(row, org_name)| Session::new(row, org_name))
            .collect();
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
        load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// Change a scheduled session's kind, time, place or observer.
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
    body: web::Json<UpdateSession>,
) -> ApiResult<web::Json<Session>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    if let Some(Some(location)) = &body.location {
        if location.trim().is_empty() || location.len() > 200 {
            return Err(ApiError::field(
                "location",
                "length must be between 1 and 200",
            ));
        }
    }
    let session = db::write(&state.pool, move |conn| {
        let Loaded {
            session,
            org,
            campaign,
        } = authorized(conn, &actor, id, Action::RunSessions)?;
        require_scheduled(&session)?;
        if let Some(at) = body.scheduled_at {
            check_schedule(&campaign, at)?;
        }
        if let Some(Some(observer)) = body.observer_user_id {
            check_observer(conn, observer, &org)?;
        }
        let changes = SessionChanges {
            kind: body.kind.map(SessionKind::as_str),
            scheduled_at: body.scheduled_at.map(|t| t.naive_utc()),
            location: body.location.as_ref().map(|l| l.as_deref()),
            observer_user_id: body.observer_user_id,
            updated_at: now(),
        };
        diesel::update(sessions::table.find(id))
            .set(&changes)
            .execute(conn)?;
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "session.update",
            format!("changed the session of {}", org.name),
        )?;
        load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

#[derive(AsChangeset)]
#[diesel(table_name = sessions)]
struct SessionChanges<'a> {
    kind: Option<&'a str>,
    scheduled_at: Option<chrono::NaiveDateTime>,
    location: Option<Option<&'a str>>,
    observer_user_id: Option<Option<i64>>,
    updated_at: chrono::NaiveDateTime,
}

pub fn subjects_of(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<Subject>> {
    Ok(session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .order((session_subjects::position, session_subjects::id))
        .select(Subject::as_select())
        .load(conn)?)
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
        (status = 409, description = "`session_not_scheduled`; `subject_exists`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/subjects")]
async fn add_subject(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<CreateSubject>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let subject = db::write(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        require_scheduled(&session)?;
        let (person_id, subject_org_id, default_name) = match (body.subject_type, body.person_id) {
            (SubjectType::Org, _) => (None, org.id, org.name.clone()),
            (_, None) => {
                return Err(ApiError::field(
                    "person_id",
                    "required for secretary and member subjects",
                ))
            }
            (_, Some(person_id)) => {
                let person = crate::people::queries::find(conn, person_id)
                    .map_err(|_| ApiError::field("person_id", "no such person"))?;
                let path = org_queries::path_of(conn, person.org_id)?;
                if !actor.can_see(&path)
                    || person.status != crate::people::model::PersonStatus::Active
                {
                    return Err(ApiError::field("person_id", "no such person"));
                }
                // A person keeps their own org, as when subjects are filled in.
                (Some(person_id), person.org_id, person.name)
            }
        };
        let duplicate: i64 = session_subjects::table
            .filter(session_subjects::session_id.eq(id))
            .filter(session_subjects::subject_type.eq(body.subject_type.as_str()))
            .filter(match person_id {
                Some(p) => Box::new(session_subjects::person_id.eq(p).assume_not_null())
                    as Box<
                        dyn BoxableExpression<
                            session_subjects::table,
                            MultiBackend,
                            SqlType = diesel::sql_types::Bool,
                        >,
                    >,
                None => Box::new(session_subjects::person_id.is_null()),
            })
            .count()
            .get_result(conn)?;
        if duplicate > 0 {
            return Err(ApiError::conflict(
                ErrorCode::SubjectExists,
                "This subject is already on the ballot.",
            ));
        }
        let position: Option<i32> = session_subjects::table
            .filter(session_subjects::session_id.eq(id))
            .select(diesel::dsl::max(session_subjects::position))
            .first(conn)?;
        let subject_id: i64 = diesel::insert_into(session_subjects::table)
            .values((
                session_subjects::session_id.eq(id),
                session_subjects::subject_type.eq(body.subject_type.as_str()),
                session_subjects::org_id.eq(subject_org_id),
                session_subjects::person_id.eq(person_id),
                session_subjects::name.eq(body
                    .name
                    .as_deref()
                    .map_or(default_name.as_str(), str::trim)),
                session_subjects::position.eq(position.unwrap_or(0) + 1),
            ))
            .returning(session_subjects::id)
            .get_result(conn)?;
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "subject.create",
            format!("added a {} subject", body.subject_type),
        )?;
        Ok(session_subjects::table
            .find(subject_id)
            .select(Subject::as_select())
            .first(conn)?)
    })
    .await?;
    Ok(created(&req, subject.id, &subject))
}

/// Remove a subject while the session is scheduled.
#[utoipa::path(
    tag = "sessions",
    params(("id" = i64, Path, description = "Session id"), ("subject_id" = i64, Path, description = "Subject id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "`session_not_scheduled`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/sessions/{id}/subjects/{subject_id}")]
async fn remove_subject(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (id, subject_id) = path.into_inner();
    db::write(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        require_scheduled(&session)?;
        let removed = diesel::delete(
            session_subjects::table
                .filter(session_subjects::id.eq(subject_id))
                .filter(session_subjects::session_id.eq(id)),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(ApiError::not_found());
        }
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "subject.delete",
            format!("removed subject {subject_id}"),
        )
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
        (status = 409, description = "`invalid_transition`, `campaign_not_active`, `outside_campaign_dates`", body = crate::error::Problem, content_type = "application/problem+json"),
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
            session.status(),
            campaign.status(),
            today,
            campaign.starts_on,
            campaign.ends_on,
        )?;
        move_status(conn, &session, to)?;
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "session.open",
            format!("opened the session of {}", org.name),
        )?;
        load_out(conn, id)
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
    let session = db::write(&state.pool, move |conn| {
        let Loaded { session, org, .. } = authorized(conn, &actor, id, Action::RunSessions)?;
        let to = rules::close(session.status())?;
        move_status(conn, &session, to)?;
        audit_session(
            conn,
            &actor,
            id,
            org.id,
            "session.close",
            format!("closed the session of {}", org.name),
        )?;
        load_out(conn, id)
    })
    .await?;
    Ok(web::Json(session))
}

/// Waits, on PostgreSQL, for the ballots in flight on these sessions (they hold key-share
/// locks on the rows) before their status changes. SQLite's writers are serialized already.
pub fn lock_for_status_change(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    if let DbConn::Pg(pg) = conn {
        sessions::table
            .filter(sessions::id.eq_any(session_ids))
            .select(sessions::id)
            .for_update()
            .load::<i64>(pg)?;
    }
    Ok(())
}

/// Conditional on the status read before: of two concurrent changes, one wins.
fn move_status(conn: &mut DbConn, session: &SessionRow, to: SessionStatus) -> ApiResult<()> {
    lock_for_status_change(conn, &[session.id])?;
    let at = now();
    let target = sessions::table
        .find(session.id)
        .filter(sessions::status.eq(&session.status));
    let moved = match to {
        SessionStatus::Open => diesel::update(target)
            .set((
                sessions::status.eq(to.as_str()),
                sessions::opened_at.eq(at),
                sessions::updated_at.eq(at),
            ))
            .execute(conn)?,
        SessionStatus::Closed => diesel::update(target)
            .set((
                sessions::status.eq(to.as_str()),
                sessions::closed_at.eq(at),
                sessions::updated_at.eq(at),
            ))
            .execute(conn)?,
        SessionStatus::Scheduled => 0,
    };
    if moved == 0 {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The session changed meanwhile.",
        ));
    }
    Ok(())
}
