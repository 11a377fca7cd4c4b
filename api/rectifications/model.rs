//! Rectification items (整改) as stored and as the API shows them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{rectification_notes, rectifications};
use crate::templates::model::SubjectType;
use crate::text_enum;

text_enum! {
    /// open → in_progress → submitted → verified, or submitted → returned → in_progress.
    pub enum RectificationStatus {
        Open => "open",
        InProgress => "in_progress",
        Submitted => "submitted",
        Returned => "returned",
        Verified => "verified",
    }
}

text_enum! {
    /// What a note of an item's history records.
    pub enum NoteKind {
        Progress => "progress",
        Submit => "submit",
        Verify => "verify",
        Return => "return",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rectifications)]
pub struct RectificationRow {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub session_id: Option<i64>,
    pub subject_id: Option<i64>,
    pub subject_type: Option<SubjectType>,
    pub person_id: Option<i64>,
    pub problem: String,
    pub cause: String,
    pub measures: String,
    pub owner_person_id: Option<i64>,
    pub due_on: NaiveDate,
    pub status: RectificationStatus,
    pub submitted_once: bool,
    pub created_by: Option<i64>,
    pub verified_by: Option<i64>,
    pub verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = rectifications)]
pub struct NewRectification {
    pub campaign_id: i64,
    pub org_id: i64,
    pub session_id: Option<i64>,
    pub subject_id: Option<i64>,
    pub subject_type: Option<SubjectType>,
    pub person_id: Option<i64>,
    pub problem: String,
    pub cause: String,
    pub measures: String,
    pub owner_person_id: Option<i64>,
    pub due_on: NaiveDate,
    pub status: RectificationStatus,
    pub submitted_once: bool,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rectification_notes)]
pub struct NoteRow {
    pub id: i64,
    pub rectification_id: i64,
    pub kind: NoteKind,
    pub note: String,
    pub author_id: Option<i64>,
    pub at: NaiveDateTime,
}

/// One entry of an item's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct Note {
    pub id: i64,
    pub kind: NoteKind,
    pub note: String,
    /// The user who wrote it.
    pub author_id: Option<i64>,
    pub at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(r: NoteRow) -> Self {
        Note {
            id: r.id,
            kind: r.kind,
            note: r.note,
            author_id: r.author_id,
            at: r.at.and_utc(),
        }
    }
}

/// A rectification item: a problem an evaluation brought up, its cause (原因剖析), the
/// measures (整改措施), who answers for it and by when, and where it stands.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "campaign_id": 3, "org_id": 7, "session_id": 12, "subject_id": 101, "subject_type": "org", "person_id": null, "problem": "群众对办事效率满意率低于80%", "cause": "窗口人手不足,流程繁琐", "measures": "增设窗口,推行一次办结", "owner_person_id": 41, "due_on": "2012-02-10", "status": "in_progress", "overdue": false, "verified_by": null, "verified_at": null, "created_by": 5, "opinion_ids": [], "notes": [{"id": 1, "kind": "progress", "note": "已增设两个窗口", "author_id": 5, "at": "2012-01-20T02:00:00Z"}], "created_at": "2012-01-10T02:00:00Z", "updated_at": "2012-01-20T02:00:00Z"}))]
pub struct Rectification {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub session_id: Option<i64>,
    /// The session subject the item answers for (the org, its secretary or a member).
    pub subject_id: Option<i64>,
    pub subject_type: Option<SubjectType>,
    /// The person the subject rates (secretaries and members).
    pub person_id: Option<i64>,
    pub problem: String,
    /// 原因剖析.
    pub cause: String,
    /// 整改措施.
    pub measures: String,
    /// The person of the org who answers for it.
    pub owner_person_id: Option<i64>,
    pub due_on: NaiveDate,
    pub status: RectificationStatus,
    /// Past its due date (China Standard Time) and not verified; derived, never stored.
    pub overdue: bool,
    pub verified_by: Option<i64>,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_by: Option<i64>,
    /// The ballot opinions of the session it answers.
    pub opinion_ids: Vec<String>,
    /// Progress notes and every transition's comment, oldest first (empty in lists).
    pub notes: Vec<Note>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"campaign_id": 3, "org_id": 7, "session_id": 12, "subject_id": 101, "problem": "群众对办事效率满意率低于80%", "cause": "窗口人手不足", "measures": "增设窗口", "owner_person_id": 41, "due_on": "2012-02-10"}))]
pub struct CreateRectification {
    pub campaign_id: i64,
    /// An org of the campaign's tree.
    pub org_id: i64,
    /// A closed session of the org in the campaign.
    pub session_id: Option<i64>,
    /// A subject of that session.
    pub subject_id: Option<i64>,
    #[schema(min_length = 1, max_length = 2000)]
    pub problem: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub cause: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub measures: String,
    /// An active person of the org.
    pub owner_person_id: Option<i64>,
    /// Today (China Standard Time) or later.
    pub due_on: NaiveDate,
    /// Opinions of the session the item answers.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub opinion_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"measures": "增设窗口,推行一次办结", "due_on": "2012-02-20"}))]
pub struct UpdateRectification {
    #[schema(min_length = 1, max_length = 2000)]
    pub problem: Option<String>,
    #[schema(max_length = 4000)]
    pub cause: Option<String>,
    #[schema(max_length = 4000)]
    pub measures: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i64>)]
    pub owner_person_id: Option<Option<i64>>,
    pub due_on: Option<NaiveDate>,
    #[schema(max_items = 100)]
    pub opinion_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"note": "已增设两个窗口"}))]
pub struct ProgressNote {
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"comment": "整改到位"}))]
pub struct SignOffComment {
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"comment": "措施不具体,请补充时间表"}))]
pub struct ReturnComment {
    #[schema(min_length = 1, max_length = 2000)]
    pub comment: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RectificationListQuery {
    pub campaign_id: Option<i64>,
    /// Items of this org's subtree.
    pub org_id: Option<i64>,
    pub status: Option<RectificationStatus>,
    pub subject_type: Option<SubjectType>,
    /// Only overdue items (true), or only those that are not (false).
    pub overdue: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    pub campaign_id: i64,
    /// The org whose direct children are counted (default: the campaign's owner).
    pub org_id: Option<i64>,
}

/// Items by status in a subtree.
#[derive(Debug, Default, Clone, Serialize, ToSchema, PartialEq)]
pub struct StatusCounts {
    pub open: i64,
    pub in_progress: i64,
    pub submitted: i64,
    pub returned: i64,
    pub verified: i64,
    /// Of all the above, those past their due date and not verified.
    pub overdue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildCounts {
    pub org_id: i64,
    pub name: String,
    /// The child and everything below it.
    pub counts: StatusCounts,
}

/// A campaign's items at an org: its own and each direct child's subtree.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"campaign_id": 3, "org_id": 2, "total": {"open": 1, "in_progress": 2, "submitted": 0, "returned": 0, "verified": 3, "overdue": 1}, "children": [{"org_id": 7, "name": "机关第一党支部", "counts": {"open": 1, "in_progress": 0, "submitted": 0, "returned": 0, "verified": 1, "overdue": 1}}]}))]
pub struct RectificationSummary {
    pub campaign_id: i64,
    pub org_id: i64,
    /// The whole subtree, the org itself included.
    pub total: StatusCounts,
    pub children: Vec<ChildCounts>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"due_on": "2012-02-10"}))]
pub struct GenerateRectifications {
    /// Default: 30 days from today (China Standard Time).
    pub due_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Generated {
    /// How many items were created now (0 when every flagged subject had one).
    pub created: i64,
    pub items: Vec<Rectification>,
}

/// Where a flagged subject's rectification stands (in results and rankings).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RectificationRef {
    pub id: i64,
    pub status: RectificationStatus,
}
