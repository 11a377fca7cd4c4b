use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::jobs;
use crate::error::FieldError;
use crate::imports::ImportReport;
use crate::sessions::model::BulkCreated;
use crate::text_enum;

text_enum! {
    /// What a job does.
    pub enum JobKind {
        ImportOrgs => "import_orgs",
        ImportPeople => "import_people",
        /// `POST /campaigns/{id}/sessions/bulk`.
        ScheduleSessions => "schedule_sessions",
    }
}

text_enum! {
    /// queued → validating (reading every row, no lock held) → writing → done, or failed
    /// (nothing it wrote kept).
    pub enum JobState {
        Queued => "queued",
        Validating => "validating",
        Writing => "writing",
        Done => "done",
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub dry_run: bool,
    pub rows_done: i64,
    pub rows_total: Option<i64>,
    pub result: Option<String>,
    pub errors: Option<String>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

/// A background job and how far it got.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "kind": "import_people", "state": "writing", "dry_run": false, "rows_done": 120000, "rows_total": 500000, "result": null, "errors": [], "created_at": "2026-11-30T10:00:00Z", "finished_at": null}))]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub dry_run: bool,
    pub rows_done: i64,
    /// Known once the file is read.
    pub rows_total: Option<i64>,
    /// The job's answer once `done`: what the request would have answered without a job.
    pub result: Option<JobResult>,
    /// Why it `failed`: the rows' errors by line, or one error about the whole file.
    pub errors: Vec<FieldError>,
    #[serde(serialize_with = "crate::types::serialize_utc")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::types::serialize_utc_opt")]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub finished_at: Option<NaiveDateTime>,
}

/// A finished job's answer, by its `kind`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum JobResult {
    /// `import_orgs`, `import_people`.
    Import(ImportReport),
    /// `schedule_sessions` (its rows are sessions).
    Scheduled(BulkCreated),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Your own jobs (the default); `false` lists everyone's, for administrators.
    pub mine: Option<bool>,
}
