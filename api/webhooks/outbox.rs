//! The transactional outbox: an event is written in the transaction of the change it tells
//! about (no event without its change, no change without its event), with one queued
//! message per subscription that receives it. Events the clock produces (overdue, missing)
//! are written once each, by [`produce_due_events`].

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::queries::{self, NewEvent};
use super::rules::{self, EventType};
use crate::auth::policy::subscription_receives;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::types::now;

/// An event about to be written.
pub struct Outgoing {
    pub event_type: EventType,
    /// The org the event belongs to: subscriptions of its subtree's ancestors receive it.
    pub org_id: i64,
    /// What it is about (`session:12`): one resource's events reach a subscriber in order.
    pub resource: String,
    /// Ids and figures only, within what any subscriber of the org may see.
    pub data: Value,
}

/// Writes the event and queues it for every enabled subscription covering its org, in the
/// caller's transaction. Without any such subscription nothing is written.
pub fn emit(conn: &mut DbConn, event: Outgoing) -> ApiResult<()> {
    write(conn, event, None)
}

/// As [`emit`], once per `once_key` ever (the row is kept even when nobody subscribes, so
/// that the clock's events are never produced twice). False when it was written before.
pub fn emit_once(conn: &mut DbConn, event: Outgoing, once_key: &str) -> ApiResult<bool> {
    if queries::once_key_taken(conn, once_key)? {
        return Ok(false);
    }
    write(conn, event, Some(once_key))?;
    Ok(true)
}

fn write(conn: &mut DbConn, event: Outgoing, once_key: Option<&str>) -> ApiResult<()> {
    // One read of the (few) enabled subscriptions first: without one that wants this type,
    // the change pays nothing more (no org path, no row), however many events it makes.
    let interested: Vec<(i64, String)> = queries::enabled_subscriptions(conn)?
        .into_iter()
        .filter(|(_, _, events)| rules::parse_events(events).contains(&event.event_type))
        .map(|(id, path, _)| (id, path))
        .collect();
    if interested.is_empty() && once_key.is_none() {
        return Ok(());
    }
    let org_path = crate::orgs::queries::path_of(conn, event.org_id)?;
    let receivers: Vec<i64> = interested
        .into_iter()
        .filter(|(_, subscription_path)| subscription_receives(subscription_path, &org_path))
        .map(|(id, _)| id)
        .collect();
    if receivers.is_empty() && once_key.is_none() {
        return Ok(());
    }
    let at = now();
    let id = rules::new_event_id();
    let payload = json!({
        "type": event.event_type,
        "timestamp": at.and_utc(),
        "data": event.data,
    })
    .to_string();
    queries::insert_event(
        conn,
        &NewEvent {
            id: &id,
            event_type: event.event_type.as_str(),
            org_id: event.org_id,
            resource: &event.resource,
            once_key,
            payload: &payload,
            at,
        },
    )?;
    for webhook_id in receivers {
        queries::queue(conn, webhook_id, &id, &event.resource, at)?;
    }
    Ok(())
}

/// How many of each kind one pass reads at most (the next pass reads on).
const PASS: i64 = 500;

/// Writes the events that became due by the clock: rectification items overdue, reports
/// missing at their due date, bad-review cases past a deadline. Each in a transaction of
/// its own, once ever (a concurrent server writing the same one first makes this one roll
/// back on the unique key). Returns how many were written.
pub fn produce_due_events(pool: &crate::db::Pool, today: NaiveDate) -> ApiResult<usize> {
    let mut written = 0;
    loop {
        let batch = {
            let mut conn = pool.get().map_err(crate::error::ApiError::pool)?;
            due_events(&mut conn, today)?
        };
        if batch.is_empty() {
            return Ok(written);
        }
        let mut progressed = false;
        for (event, key) in batch {
            let outcome = crate::db::in_writer_turn(pool, |conn| {
                crate::db::write_transaction(conn, |conn| emit_once(conn, event, &key))
            });
            match outcome {
                Ok(true) => {
                    written += 1;
                    progressed = true;
                }
                Ok(false) => {}
                // Another server wrote it first (unique key): it is written, once.
                Err(e) if e.code == crate::error::ErrorCode::Conflict => progressed = true,
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            return Ok(written);
        }
    }
}

/// The clock's events not written yet (at most [`PASS`] of each kind), with their keys.
fn due_events(conn: &mut DbConn, today: NaiveDate) -> ApiResult<Vec<(Outgoing, String)>> {
    let mut batch = Vec::new();
    for r in queries::overdue_rectifications(conn, today, PASS)? {
        batch.push((
            Outgoing {
                event_type: EventType::RectificationOverdue,
                org_id: r.org_id,
                resource: format!("rectification:{}", r.id),
                data: json!({"rectification_id": r.id, "campaign_id": r.campaign_id,
                             "org_id": r.org_id, "due_on": r.due_on}),
            },
            format!(
                "rectification.overdue:{}:{}",
                r.id,
                r.due_on.format("%Y-%m-%d")
            ),
        ));
    }
    for c in queries::overdue_cases(conn, today, PASS)? {
        batch.push((
            Outgoing {
                event_type: EventType::InstantCaseOverdue,
                org_id: c.org_id,
                resource: format!("instant_case:{}", c.id),
                data: json!({"case_id": c.id, "point_id": c.point_id, "org_id": c.org_id,
                             "status": c.status, "due_on": c.due_on}),
            },
            format!("instant_case.overdue:{}:{}", c.id, c.status),
        ));
    }
    for m in queries::missing_reports(conn, today, PASS)? {
        batch.push((
            Outgoing {
                event_type: EventType::ReportRequestMissing,
                org_id: m.org_id,
                resource: format!("report_request:{}", m.request_id),
                data: json!({"report_request_id": m.request_id, "campaign_id": m.campaign_id,
                             "from_org_id": m.from_org_id, "org_id": m.org_id,
                             "due_on": m.due_on}),
            },
            format!("report_request.missing:{}:{}", m.request_id, m.org_id),
        ));
    }
    Ok(batch)
}
