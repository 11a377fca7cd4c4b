use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rules::{self, EventType};
use crate::db::schema::{webhook_deliveries, webhooks};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl WebhookRow {
    /// The secrets that sign a message sent at `now`: the current one, and the previous one
    /// for 24 hours after a rotation.
    pub fn signing_secrets(&self, now: NaiveDateTime) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

/// A subscription: where events of an org's subtree are sent. Its secret is shown only when
/// it is created and when it is rotated.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "org_id": 2, "url": "https://hooks.example.gov.cn/pingyi", "events": ["session.closed", "campaign.published"], "enabled": true, "disabled_reason": null, "failing_since": null, "previous_secret_until": null, "created_by": 5, "created_at": "2026-12-01T02:00:00Z", "updated_at": "2026-12-01T02:00:00Z"}))]
pub struct Webhook {
    pub id: i64,
    /// The org whose subtree's events are sent.
    pub org_id: i64,
    pub url: String,
    pub events: Vec<EventType>,
    /// Disabled by hand, or by the server after 3 days of failed deliveries.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed (null once one succeeds).
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation: until when the previous secret also signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&WebhookRow> for Webhook {
    fn from(r: &WebhookRow) -> Self {
        Webhook {
            id: r.id,
            org_id: r.org_id,
            url: r.url.clone(),
            events: rules::parse_events(&r.events),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason.clone(),
            failing_since: r.failing_since.map(|t| t.and_utc()),
            previous_secret_until: r.previous_secret_until.map(|t| t.and_utc()),
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

/// A subscription with its signing secret: the answer to creating one and to rotating its
/// secret, and the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "org_id": 2, "url": "https://hooks.example.gov.cn/pingyi", "events": ["session.closed"], "enabled": true, "disabled_reason": null, "failing_since": null, "previous_secret_until": null, "created_by": 5, "created_at": "2026-12-01T02:00:00Z", "updated_at": "2026-12-01T02:00:00Z", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))]
pub struct WebhookWithSecret {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub events: Vec<EventType>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `whsec_` and the base64 key: verify `webhook-signature` with it.
    pub secret: String,
}

impl From<&WebhookRow> for WebhookWithSecret {
    fn from(r: &WebhookRow) -> Self {
        let w = Webhook::from(r);
        WebhookWithSecret {
            id: w.id,
            org_id: w.org_id,
            url: w.url,
            events: w.events,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            failing_since: w.failing_since,
            previous_secret_until: w.previous_secret_until,
            created_by: w.created_by,
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret: r.secret.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"url": "https://hooks.example.gov.cn/pingyi", "events": ["session.closed", "rectification.overdue"], "org_id": 2}))]
pub struct CreateWebhook {
    /// http(s), with a host in the server's `PINGYI_WEBHOOK_ALLOWED_HOSTS`.
    #[schema(min_length = 1, max_length = 2000)]
    pub url: String,
    #[schema(min_items = 1, max_items = 8)]
    pub events: Vec<EventType>,
    /// The org whose subtree's events are sent: the caller is an org admin (or an
    /// integration account) there.
    pub org_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"events": ["session.closed"], "enabled": true}))]
pub struct UpdateWebhook {
    #[schema(min_length = 1, max_length = 2000)]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 8)]
    pub events: Option<Vec<EventType>>,
    /// Re-enabling clears the failure record and sends what waited.
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub message_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 9, "event_id": "msg_2f1c0d9e8b7a6f5e4d3c2b1a09f8e7d6", "type": "session.closed", "attempt": 2, "status_code": 500, "error": null, "at": "2026-12-01T02:00:05Z"}))]
pub struct Delivery {
    pub id: i64,
    /// The `webhook-id` the receiver saw (the same on every attempt).
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// 1 for the first attempt of a message; a redelivery starts again at 1.
    pub attempt: i32,
    /// The receiver's answer, when it answered.
    pub status_code: Option<i32>,
    /// Why the attempt failed without an answer (timeout, connection refused, a host not
    /// allowed).
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = crate::error::ApiError;

    fn try_from(r: DeliveryRow) -> Result<Self, Self::Error> {
        Ok(Delivery {
            id: r.id,
            event_id: r.event_id,
            event_type: r
                .event_type
                .parse()
                .map_err(crate::error::ApiError::internal)?,
            attempt: r.attempt,
            status_code: r.status_code,
            error: r.error,
            at: r.at.and_utc(),
        })
    }
}

/// A redelivery queued.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"event_id": "msg_2f1c0d9e8b7a6f5e4d3c2b1a09f8e7d6", "queued": true}))]
pub struct Redelivery {
    pub event_id: String,
    pub queued: bool,
}
