//! The audit log: every write records who did what to which object, in which org, when,
//! under which request id — with a short summary, never a password or a token.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Action, Actor, Scope};
use crate::db::schema::audit_events;
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiResult;
use crate::http::{Page, PageQuery};
use crate::orgs::queries::org_column_in_scope;
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

/// Records an event inside the caller's transaction.
pub fn record<'a>(
    conn: &mut DbConn,
    writer: impl Into<Writer<'a>>,
    event: Event<'_>,
) -> ApiResult<()> {
    let writer = writer.into();
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::actor_id.eq(writer.actor_id),
            audit_events::action.eq(event.action),
            audit_events::target_type.eq(event.target_type),
            audit_events::target_id.eq(event.target_id),
            audit_events::org_id.eq(event.org_id),
            audit_events::at.eq(crate::types::now()),
            audit_events::request_id.eq(writer.request_id.filter(|r| !r.is_empty())),
            audit_events::summary.eq(event.summary),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema, Queryable)]
#[schema(example = json!({"id": 12, "actor_id": 1, "action": "org.create", "target_type": "org", "target_id": "7", "org_id": 7, "at": "2026-11-29T10:00:00Z", "request_id": "5f0c…", "summary": "created 第一党支部 (branch) under 3"}))]
pub struct AuditEvent {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub org_id: Option<i64>,
    #[serde(serialize_with = "crate::types::serialize_utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub at: chrono::NaiveDateTime,
    pub request_id: Option<String>,
    pub summary: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events of this org and its subtree.
    pub org_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// e.g. `org.create`, `grant.create`.
    pub action: Option<String>,
    /// e.g. `org`, `person`, `user`, `grant`.
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
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
    let scope = actor.scope_for(Action::ReadAudit);
    if scope == Scope::Subtrees(vec![]) {
        // Someone with no org-admin grant anywhere may not read the log at all.
        return Err(crate::error::ApiError::forbidden());
    }
    let result = crate::db::read(&state.pool, move |conn| {
        let subtree = match filter.org_id {
            Some(org_id) => {
                let path = crate::orgs::queries::path_of(conn, org_id)?;
                actor.authorize(Action::ReadAudit, &path)?;
                Some(path)
            }
            None => None,
        };
        let build = || {
            let mut q = audit_events::table.into_boxed::<MultiBackend>();
            let within = match &subtree {
                Some(path) => Scope::Subtrees(vec![path.clone()]),
                None => scope.clone(),
            };
            if within != Scope::All {
                q = q.filter(org_column_in_scope("audit_events.org_id", &within));
            }
            if let Some(v) = filter.actor_id {
                q = q.filter(audit_events::actor_id.eq(v));
            }
            if let Some(v) = filter.action.clone() {
                q = q.filter(audit_events::action.eq(v));
            }
            if let Some(v) = filter.target_type.clone() {
                q = q.filter(audit_events::target_type.eq(v));
            }
            if let Some(v) = filter.target_id.clone() {
                q = q.filter(audit_events::target_id.eq(v));
            }
            if let Some(v) = filter.since {
                q = q.filter(audit_events::at.ge(v.naive_utc()));
            }
            q
        };
        let total: i64 = build().count().get_result(conn)?;
        let items = build()
            .order(audit_events::id.desc())
            .limit(page.per_page())
            .offset(page.offset())
            .load::<AuditEvent>(conn)?;
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}
