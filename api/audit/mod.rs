//! The audit log: every write records who did what to which object, in which org, when,
//! under which request id — with a short summary, never a password or a token.

pub mod model;
pub mod queries;

use actix_web::{get, web};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::model::{AuditEvent, AuditQuery};
use crate::auth::{Action, Actor, Scope};
use crate::db::schema::audit_events;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::http::{Page, PageQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_events);
}

/// One write to record.
pub struct Event<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub org_id: Option<i64>,
    pub summary: String,
}

impl<'a> Event<'a> {
    pub fn new(
        action: &'a str,
        target_type: &'a str,
        target_id: impl ToString,
        org_id: Option<i64>,
        summary: String,
    ) -> Self {
        Event {
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            org_id,
            summary,
        }
    }
}

/// Who wrote: an actor with a request id, or the system (bootstrap, command line).
pub struct Writer<'a> {
    pub actor_id: Option<i64>,
    pub request_id: Option<&'a str>,
}

impl<'a> From<&'a Actor> for Writer<'a> {
    fn from(actor: &'a Actor) -> Self {
        Writer {
            actor_id: Some(actor.user_id),
            request_id: Some(&actor.request_id),
        }
    }
}

impl Writer<'static> {
    pub const SYSTEM: Writer<'static> = Writer {
        actor_id: None,
        request_id: None,
    };
}

/// An audit row as it is inserted (`None` stored as NULL, so that rows batch on SQLite).
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
struct NewEvent<'a> {
    actor_id: Option<i64>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    org_id: Option<i64>,
    at: chrono::NaiveDateTime,
    request_id: Option<&'a str>,
    summary: &'a str,
}

impl<'a> NewEvent<'a> {
    fn of(writer: &Writer<'a>, event: &'a Event<'a>, at: chrono::NaiveDateTime) -> Self {
        NewEvent {
            actor_id: writer.actor_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id.as_deref(),
            org_id: event.org_id,
            at,
            request_id: writer.request_id.filter(|r| !r.is_empty()),
            summary: &event.summary,
        }
    }
}

/// Records an event inside the caller's transaction.
pub fn record<'a>(
    conn: &mut DbConn,
    writer: impl Into<Writer<'a>>,
    event: Event<'_>,
) -> ApiResult<()> {
    let row = NewEvent::of(&writer.into(), &event, crate::types::now());
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// Records many events by one writer inside the caller's transaction, in multi-row
/// statements (a bulk import writes one per row).
pub fn record_many<'a>(
    conn: &mut DbConn,
    writer: impl Into<Writer<'a>>,
    events: &[Event<'_>],
) -> ApiResult<()> {
    let writer = writer.into();
    let at = crate::types::now();
    for chunk in events.chunks(crate::db::ROWS_PER_STATEMENT) {
        let rows: Vec<NewEvent<'_>> = chunk.iter().map(|e| NewEvent::of(&writer, e, at)).collect();
        crate::insert_batch!(conn, audit_events::table, &rows)?;
    }
    Ok(())
}

/// The audit log, newest first, limited to the subtrees where the actor is an org admin.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Audit events, newest first", body = Page<AuditEvent>))
)]
#[get("/audit-events")]
async fn list_audit_events(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<AuditQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<AuditEvent>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    actor.authorize_audit_log()?;
    let result = crate::db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(org_id) => {
                let path = crate::orgs::queries::path_of(conn, org_id)?;
                actor.authorize(Action::ReadAudit, &path)?;
                Scope::Subtrees(vec![path])
            }
            None => actor.scope_for(Action::ReadAudit),
        };
        let (items, total) = queries::list(conn, &within, &filter, &page)?;
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}
