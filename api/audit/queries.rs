//! Audit log queries (the one writer is [`super::record`]).

use diesel::prelude::*;

use super::model::{AuditEvent, AuditQuery};
use crate::auth::Scope;
use crate::db::schema::audit_events;
use crate::db::{DbConn, MultiBackend};
use crate::error::ApiResult;
use crate::http::PageQuery;
use crate::orgs::queries::org_column_in_scope;

/// A page of the events of the orgs in `within` that match `filter`, newest first, and
/// their total.
pub fn list(
    conn: &mut DbConn,
    within: &Scope,
    filter: &AuditQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<AuditEvent>, i64)> {
    let build = || {
        let mut q = audit_events::table.into_boxed::<MultiBackend>();
        if *within != Scope::All {
            q = q.filter(org_column_in_scope("audit_events.org_id", within));
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
    Ok((items, total))
}
