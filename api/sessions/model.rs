use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::{session_subjects, sessions};
use crate::orgs::model::Domain;
use crate::templates::model::SubjectType;
use crate::text_enum;

text_enum! {
    /// 支部党员大会 branch_meeting · 党委(党工委)评议 committee_review · 窗口单位 window_unit.
    pub enum SessionKind {
        BranchMeeting => "branch_meeting",
        CommitteeReview => "committee_review",
        WindowUnit => "window_unit",
    }
}

text_enum! {
    pub enum SessionStatus {
        Scheduled => "scheduled",
        Open => "open",
        Closed => "closed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub domain: Domain,
    pub kind: SessionKind,
    pub status: SessionStatus,
    pub scheduled_at: NaiveDateTime,
    pub location: Option<String>,
    pub observer_user_id: Option<i64>,
    pub opened_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expected_voters: Option<i32>,
    pub paper_forms: Option<i32>,
}

/// An evaluation session (评议会/测评): one per evaluated org per campaign.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "campaign_id": 3, "org_id": 21, "org_name": "机电工程学院教工第一党支部", "kind": "branch_meeting", "status": "scheduled", "scheduled_at": "2012-01-05T06:30:00Z", "location": "实训楼 301", "observer_user_id": 7, "opened_at": null, "closed_at": null, "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z", "expected_voters": 40, "paper_forms": 5}))]
pub struct Session {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub kind: SessionKind,
    pub status: SessionStatus,
    pub scheduled_at: DateTime<Utc>,
    pub location: Option<String>,
    /// 上级派员: a user of a superior org who attends.
    pub observer_user_id: Option<i64>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 应到人数: how many voters are expected (null: not declared).
    pub expected_voters: Option<i32>,
    /// How many paper forms are handed out: at most that many paper ballots are typed in
    /// (null: not declared, no limit).
    pub paper_forms: Option<i32>,
}

impl Session {
    pub fn new(r: SessionRow, org_name: String) -> Self {
        Session {
            id: r.id,
            campaign_id: r.campaign_id,
            org_id: r.org_id,
            org_name,
            kind: r.kind,
            status: r.status,
            scheduled_at: r.scheduled_at.and_utc(),
            location: r.location,
            observer_user_id: r.observer_user_id,
            opened_at: r.opened_at.map(|t| t.and_utc()),
            closed_at: r.closed_at.map(|t| t.and_utc()),
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
            expected_voters: r.expected_voters,
            paper_forms: r.paper_forms,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = session_subjects)]
#[schema(example = json!({"id": 101, "subject_type": "secretary", "org_id": 21, "person_id": 41, "name": "李明"}))]
pub struct Subject {
    pub id: i64,
    pub subject_type: SubjectType,
    pub org_id: Option<i64>,
    pub person_id: Option<i64>,
    pub name: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"org_id": 21, "kind": "branch_meeting", "scheduled_at": "2012-01-05T06:30:00Z", "location": "实训楼 301", "observer_user_id": 7}))]
pub struct CreateSession {
    pub org_id: i64,
    pub kind: SessionKind,
    /// Within the campaign's dates.
    pub scheduled_at: DateTime<Utc>,
    #[schema(min_length = 1, max_length = 200)]
    pub location: Option<String>,
    /// A user holding a grant on a superior org of the evaluated one.
    pub observer_user_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkQuery {
    /// Answer when every session is scheduled, however many (otherwise more than 1,000
    /// sessions, or `Prefer: respond-async`, answer 202 with a job).
    #[serde(default)]
    pub wait: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "branch_meeting", "scheduled_at": "2012-01-05T06:30:00Z"}))]
pub struct BulkCreateSessions {
    /// branch_meeting: every branch; committee_review: every committee, working committee
    /// and general branch; window_unit: every window unit — in the campaign's subtree,
    /// where the actor may run sessions, that has no session yet.
    pub kind: SessionKind,
    pub scheduled_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"created": 9899, "sessions": "/api/v1/sessions?campaign_id=3"}))]
pub struct BulkCreated {
    /// Sessions scheduled (possibly none).
    pub created: usize,
    /// Where they are listed (as the `Location` header).
    pub sessions: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"scheduled_at": "2012-01-06T06:30:00Z", "location": "图书馆报告厅"}))]
pub struct UpdateSession {
    pub kind: Option<SessionKind>,
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i64>)]
    pub observer_user_id: Option<Option<i64>>,
    /// 应到人数 (1 to 100000; null clears it).
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 100000)]
    pub expected_voters: Option<Option<i32>>,
    /// How many paper forms are handed out (0 to 100000; null: no limit). Set before opening.
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 100000)]
    pub paper_forms: Option<Option<i32>>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"subject_type": "member", "person_id": 57}))]
pub struct CreateSubject {
    pub subject_type: SubjectType,
    /// Required for secretary and member subjects.
    pub person_id: Option<i64>,
    /// Defaults to the person's (or the org's) name.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    pub campaign_id: Option<i64>,
    pub org_id: Option<i64>,
    pub status: Option<SessionStatus>,
}

/// Why a subject is removed: required, kept in the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveSubjectQuery {
    /// Why the subject is removed (1 to 200 characters), kept in the audit log.
    #[param(min_length = 1, max_length = 200)]
    pub reason: String,
}
