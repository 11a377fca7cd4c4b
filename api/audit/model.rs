use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
