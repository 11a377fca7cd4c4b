use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::model::{DeliveryRow, WebhookRow};
use crate::auth::Scope;
use crate::db::schema::{webhook_deliveries, webhook_events, webhook_messages, webhooks};
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::load_sql;
use crate::orgs::queries::org_column_in_scope;

// Subscriptions.

pub struct NewWebhook<'a> {
    pub org_id: i64,
    pub url: &'a str,
    pub events: &'a str,
    pub secret: &'a str,
    pub created_by: i64,
    pub at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, w: &NewWebhook<'_>) -> ApiResult<i64> {
    Ok(diesel::insert_into(webhooks::table)
        .values((
            webhooks::org_id.eq(w.org_id),
            webhooks::url.eq(w.url),
            webhooks::events.eq(w.events),
            webhooks::secret.eq(w.secret),
            webhooks::enabled.eq(true),
            webhooks::created_by.eq(w.created_by),
            webhooks::created_at.eq(w.at),
            webhooks::updated_at.eq(w.at),
        ))
        .returning(webhooks::id)
        .get_result(conn)?)
}

pub fn find_opt(conn: &mut DbConn, id: i64) -> ApiResult<Option<WebhookRow>> {
    Ok(webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?)
}

/// The subscriptions of orgs in `scope`, by id.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    offset: i64,
    limit: i64,
) -> ApiResult<(Vec<WebhookRow>, i64)> {
    let total = webhooks::table
        .filter(org_column_in_scope("webhooks.org_id", scope))
        .count()
        .get_result(conn)?;
    let rows = webhooks::table
        .filter(org_column_in_scope("webhooks.org_id", scope))
        .order(webhooks::id)
        .offset(offset)
        .limit(limit)
        .select(WebhookRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<String>,
    pub enabled: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub failing_since: Option<Option<NaiveDateTime>>,
    pub secret: Option<String>,
    pub previous_secret: Option<Option<String>>,
    pub previous_secret_until: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &WebhookChanges) -> ApiResult<()> {
    diesel::update(webhooks::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// Deletes a subscription with its queue and log (the events stay for other subscribers).
pub fn delete(conn: &mut DbConn, id: i64) -> ApiResult<()> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhook_messages::table.filter(webhook_messages::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    Ok(())
}

/// Every enabled subscription: (id, its org's path, events as stored).
pub fn enabled_subscriptions(conn: &mut DbConn) -> ApiResult<Vec<(i64, String, String)>> {
    use crate::db::schema::orgs;
    Ok(webhooks::table
        .inner_join(orgs::table)
        .filter(webhooks::enabled.eq(true))
        .select((webhooks::id, orgs::path, webhooks::events))
        .load(conn)?)
}

// The outbox.

pub struct NewEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub org_id: i64,
    pub resource: &'a str,
    pub once_key: Option<&'a str>,
    pub payload: &'a str,
    pub at: NaiveDateTime,
}

pub fn insert_event(conn: &mut DbConn, e: &NewEvent<'_>) -> ApiResult<()> {
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(e.id),
            webhook_events::event_type.eq(e.event_type),
            webhook_events::org_id.eq(e.org_id),
            webhook_events::resource.eq(e.resource),
            webhook_events::once_key.eq(e.once_key),
            webhook_events::payload.eq(e.payload),
            webhook_events::created_at.eq(e.at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn once_key_taken(conn: &mut DbConn, key: &str) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        webhook_events::table.filter(webhook_events::once_key.eq(key)),
    ))
    .get_result(conn)?)
}

/// Queues an event for a subscription, due at once.
pub fn queue(
    conn: &mut DbConn,
    webhook_id: i64,
    event_id: &str,
    resource: &str,
    at: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(webhook_messages::table)
        .values((
            webhook_messages::webhook_id.eq(webhook_id),
            webhook_messages::event_id.eq(event_id),
            webhook_messages::resource.eq(resource),
            webhook_messages::state.eq(MessageState::PENDING),
            webhook_messages::attempts.eq(0),
            webhook_messages::next_attempt_at.eq(at),
            webhook_messages::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The states of a queued message.
pub struct MessageState;

impl MessageState {
    pub const PENDING: &'static str = "pending";
    pub const DELIVERED: &'static str = "delivered";
    pub const FAILED: &'static str = "failed";
}

// The dispatcher's queue.

#[derive(QueryableByName)]
struct DueId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Messages due now, oldest first, each the oldest pending one of its subscription and
/// resource (so a resource's events arrive in order), of enabled subscriptions only.
pub fn due_messages(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> ApiResult<Vec<i64>> {
    const SQL: &str = "SELECT m.id AS id FROM webhook_messages m
        JOIN webhooks w ON w.id = m.webhook_id
        WHERE m.state = 'pending' AND m.next_attempt_at <= $1 AND w.enabled = $2
          AND NOT EXISTS (SELECT 1 FROM webhook_messages e
                          WHERE e.webhook_id = m.webhook_id AND e.resource = m.resource
                            AND e.state = 'pending' AND e.id < m.id)
        ORDER BY m.id
        LIMIT $3";
    let rows = load_sql!(conn, DueId, SQL,
        Timestamp => now,
        diesel::sql_types::Bool => true,
        BigInt => limit,
    )?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Takes a due message for one attempt: its due time moves to the end of the lease, so no
/// other dispatcher (another server on the same database) sends it meanwhile, and a server
/// killed while sending leaves it due again once the lease ends.
pub fn claim(
    conn: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
    lease_end: NaiveDateTime,
) -> ApiResult<bool> {
    let taken = diesel::update(
        webhook_messages::table
            .find(id)
            .filter(webhook_messages::state.eq(MessageState::PENDING))
            .filter(webhook_messages::next_attempt_at.le(now)),
    )
    .set(webhook_messages::next_attempt_at.eq(lease_end))
    .execute(conn)?;
    Ok(taken == 1)
}

/// A claimed message with what sending it needs.
pub struct Claimed {
    pub message_id: i64,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub webhook: WebhookRow,
}

pub fn claimed(conn: &mut DbConn, message_id: i64) -> ApiResult<Claimed> {
    let (message_id, attempts, created_at, event_id, event_type, payload, webhook) =
        webhook_messages::table
            .inner_join(webhook_events::table)
            .inner_join(webhooks::table)
            .filter(webhook_messages::id.eq(message_id))
            .select((
                webhook_messages::id,
                webhook_messages::attempts,
                webhook_messages::created_at,
                webhook_events::id,
                webhook_events::event_type,
                webhook_events::payload,
                WebhookRow::as_select(),
            ))
            .first::<(i64, i32, NaiveDateTime, String, String, String, WebhookRow)>(conn)?;
    Ok(Claimed {
        message_id,
        attempts,
        created_at,
        event_id,
        event_type,
        payload,
        webhook,
    })
}

/// One attempt's outcome, logged.
pub struct Attempt<'a> {
    pub claimed: &'a Claimed,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub at: NaiveDateTime,
}

pub fn log_attempt(conn: &mut DbConn, a: &Attempt<'_>) -> ApiResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::webhook_id.eq(a.claimed.webhook.id),
            webhook_deliveries::message_id.eq(a.claimed.message_id),
            webhook_deliveries::event_id.eq(&a.claimed.event_id),
            webhook_deliveries::event_type.eq(&a.claimed.event_type),
            webhook_deliveries::attempt.eq(a.claimed.attempts + 1),
            webhook_deliveries::status_code.eq(a.status_code),
            webhook_deliveries::error.eq(a.error),
            webhook_deliveries::at.eq(a.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves a message on after an attempt: delivered, failed for good, or due again at `next`.
pub fn settle_message(
    conn: &mut DbConn,
    id: i64,
    attempts: i32,
    state: &str,
    next: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
) -> ApiResult<()> {
    diesel::update(webhook_messages::table.find(id))
        .set((
            webhook_messages::attempts.eq(attempts),
            webhook_messages::state.eq(state),
            webhook_messages::next_attempt_at.eq(next),
            webhook_messages::finished_at.eq(finished_at),
        ))
        .execute(conn)?;
    Ok(())
}

// The log.

pub fn deliveries(
    conn: &mut DbConn,
    webhook_id: i64,
    offset: i64,
    limit: i64,
) -> ApiResult<(Vec<DeliveryRow>, i64)> {
    let total = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .count()
        .get_result(conn)?;
    let rows = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .offset(offset)
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// The event and resource of one of a subscription's deliveries.
pub fn delivery_event(
    conn: &mut DbConn,
    webhook_id: i64,
    delivery_id: i64,
) -> ApiResult<Option<(String, String)>> {
    Ok(webhook_deliveries::table
        .inner_join(webhook_messages::table)
        .filter(webhook_deliveries::id.eq(delivery_id))
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select((webhook_deliveries::event_id, webhook_messages::resource))
        .first(conn)
        .optional()?)
}

/// Whether the event already waits for this subscription (a redelivery is queued once).
pub fn is_queued(conn: &mut DbConn, webhook_id: i64, event_id: &str) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        webhook_messages::table
            .filter(webhook_messages::webhook_id.eq(webhook_id))
            .filter(webhook_messages::event_id.eq(event_id))
            .filter(webhook_messages::state.eq(MessageState::PENDING)),
    ))
    .get_result(conn)?)
}

// Events the clock produces: items past a date with no event of theirs yet.

#[derive(QueryableByName)]
pub struct OverdueRectification {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub campaign_id: i64,
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub due_on: chrono::NaiveDate,
}

/// Unverified items past their due date, without their `rectification.overdue` event.
pub fn overdue_rectifications(
    conn: &mut DbConn,
    today: chrono::NaiveDate,
    limit: i64,
) -> ApiResult<Vec<OverdueRectification>> {
    const SQL: &str = "SELECT r.id AS id, r.campaign_id AS campaign_id, r.org_id AS org_id,
            r.due_on AS due_on
        FROM rectifications r
        WHERE r.due_on < $1 AND r.status <> 'verified'
          AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.once_key =
                'rectification.overdue:' || CAST(r.id AS TEXT) || ':' || CAST(r.due_on AS TEXT))
        ORDER BY r.id
        LIMIT $2";
    Ok(load_sql!(conn, OverdueRectification, SQL,
        diesel::sql_types::Date => today,
        BigInt => limit,
    )?)
}

#[derive(QueryableByName)]
pub struct OverdueCase {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub point_id: i64,
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub due_on: chrono::NaiveDate,
}

/// Bad-review cases past the deadline of the step they wait for (follow-up, then
/// resolution), without their `instant_case.overdue` event for that step.
pub fn overdue_cases(
    conn: &mut DbConn,
    today: chrono::NaiveDate,
    limit: i64,
) -> ApiResult<Vec<OverdueCase>> {
    const SQL: &str = "SELECT c.id AS id, c.point_id AS point_id, c.org_id AS org_id,
            c.status AS status,
            CASE WHEN c.status = 'awaiting_follow_up' THEN c.follow_up_due_on
                 ELSE c.resolve_due_on END AS due_on
        FROM instant_cases c
        WHERE ((c.status = 'awaiting_follow_up' AND c.follow_up_due_on < $1)
            OR (c.status = 'in_handling' AND c.resolve_due_on < $1))
          AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.once_key =
                'instant_case.overdue:' || CAST(c.id AS TEXT) || ':' || c.status)
        ORDER BY c.id
        LIMIT $2";
    Ok(load_sql!(conn, OverdueCase, SQL,
        diesel::sql_types::Date => today,
        BigInt => limit,
    )?)
}

#[derive(QueryableByName)]
pub struct MissingReport {
    #[diesel(sql_type = BigInt)]
    pub request_id: i64,
    #[diesel(sql_type = BigInt)]
    pub campaign_id: i64,
    #[diesel(sql_type = BigInt)]
    pub from_org_id: i64,
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub due_on: chrono::NaiveDate,
}

/// Active children asked for a report that had sent none by its due date, without their
/// `report_request.missing` event.
pub fn missing_reports(
    conn: &mut DbConn,
    today: chrono::NaiveDate,
    limit: i64,
) -> ApiResult<Vec<MissingReport>> {
    const SQL: &str = "SELECT r.id AS request_id, r.campaign_id AS campaign_id,
            r.from_org_id AS from_org_id, o.id AS org_id, r.due_on AS due_on
        FROM report_requests r JOIN orgs o ON o.parent_id = r.from_org_id
        WHERE r.due_on < $1 AND o.status = 'active'
          AND NOT EXISTS (SELECT 1 FROM report_submissions s
                          WHERE s.request_id = r.id AND s.org_id = o.id)
          AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.once_key =
                'report_request.missing:' || CAST(r.id AS TEXT) || ':' || CAST(o.id AS TEXT))
        ORDER BY r.id, o.id
        LIMIT $2";
    Ok(load_sql!(conn, MissingReport, SQL,
        diesel::sql_types::Date => today,
        BigInt => limit,
    )?)
}

/// The number of pending messages (for the metrics and the tests).
pub fn pending_count(conn: &mut DbConn) -> ApiResult<i64> {
    Ok(webhook_messages::table
        .filter(webhook_messages::state.eq(MessageState::PENDING))
        .count()
        .get_result(conn)?)
}
