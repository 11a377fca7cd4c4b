//! The evaluation's written record as stored and as the API shows it: documents and their
//! versions, attachments, opinions, leader comments, commitments, report requests.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{
    attachments, commitments, documents, leader_comments, report_requests, report_submissions,
};
use crate::text_enum;

text_enum! {
    /// 自查报告 / 述职报告 / 党员小结.
    pub enum DocumentKind {
        /// The org's self-inspection: achievements, shortcomings, improvement measures.
        SelfInspection => "self_inspection",
        /// The secretary's duty report (述职).
        DutyReport => "duty_report",
        /// One member's summary (小结).
        MemberSummary => "member_summary",
    }
}

text_enum! {
    /// Where an opinion (意见建议) was gathered.
    pub enum OpinionSource {
        Survey => "survey",
        Visit => "visit",
        Meeting => "meeting",
        /// Written on a ballot; never tied to it.
        Ballot => "ballot",
    }
}

text_enum! {
    /// What an opinion is about.
    pub enum OpinionCategory {
        /// 作风.
        WorkStyle => "work_style",
        /// 服务.
        Service => "service",
        /// 组织建设.
        OrganizationBuilding => "organization_building",
        Other => "other",
    }
}

text_enum! {
    /// Whether a public commitment (公开承诺) was kept (践诺).
    pub enum CommitmentStatus {
        Pending => "pending",
        Fulfilled => "fulfilled",
        Partial => "partial",
        Unfulfilled => "unfulfilled",
    }
}

text_enum! {
    /// A child's answer to a report request, derived from its submission and the due date
    /// (China Standard Time).
    pub enum ReportStatus {
        /// Submitted on or before the due date.
        Submitted => "submitted",
        /// Submitted after the due date.
        Late => "late",
        /// Not submitted (yet).
        Missing => "missing",
    }
}

// ---- Documents ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: i64,
    pub session_id: i64,
    pub kind: DocumentKind,
    pub person_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub achievements: String,
    pub shortcomings: String,
    pub measures: String,
    pub version: i32,
    pub author_id: i64,
    pub updated_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The text of a document, as written in one version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentText {
    pub title: String,
    pub body: String,
    pub achievements: String,
    pub shortcomings: String,
    pub measures: String,
}

/// A self-inspection (自查报告), duty report (述职报告) or member summary (党员小结) of a
/// session. Drafts until the session closes, then frozen.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 31, "session_id": 12, "org_id": 21, "kind": "self_inspection", "person_id": null, "title": "机电工程学院教工第一党支部自查报告", "body": "支部按照通知要求开展了自查。", "achievements": "组织生活规范", "shortcomings": "联系群众不够", "measures": "每月走访一次", "version": 2, "author_id": 5, "updated_by": 5, "frozen": false, "created_at": "2012-01-03T02:00:00Z", "updated_at": "2012-01-04T02:00:00Z", "versions": [{"version": 1, "written_by": 5, "written_at": "2012-01-03T02:00:00Z"}, {"version": 2, "written_by": 5, "written_at": "2012-01-04T02:00:00Z"}], "attachments": []}))]
pub struct Document {
    pub id: i64,
    pub session_id: i64,
    pub org_id: i64,
    pub kind: DocumentKind,
    /// The member a summary is about, or the secretary giving a duty report.
    pub person_id: Option<i64>,
    pub title: String,
    pub body: String,
    /// 成绩 (self-inspections only).
    pub achievements: Option<String>,
    /// 不足 (self-inspections only).
    pub shortcomings: Option<String>,
    /// 改进措施 (self-inspections only).
    pub measures: Option<String>,
    /// The current version, from 1.
    pub version: i32,
    /// The user who created it: the only one (with the member a summary is about) who edits it.
    pub author_id: i64,
    /// The user who wrote the current version.
    pub updated_by: i64,
    /// The session has closed: the document no longer changes.
    pub frozen: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every version, oldest first: who wrote it and when (empty in lists).
    pub versions: Vec<VersionInfo>,
    /// Its files (empty in lists).
    pub attachments: Vec<Attachment>,
}

/// Who wrote one version, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    pub version: i32,
    pub written_by: i64,
    pub written_at: DateTime<Utc>,
}

/// One version of a document, in full.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"document_id": 31, "version": 1, "title": "自查报告（初稿）", "body": "支部按照通知要求开展了自查。", "achievements": "组织生活规范", "shortcomings": "联系群众不够", "measures": "每月走访一次", "written_by": 5, "written_at": "2012-01-03T02:00:00Z"}))]
pub struct DocumentVersion {
    pub document_id: i64,
    pub version: i32,
    pub title: String,
    pub body: String,
    pub achievements: Option<String>,
    pub shortcomings: Option<String>,
    pub measures: Option<String>,
    pub written_by: i64,
    pub written_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "self_inspection", "title": "自查报告", "body": "支部按照通知要求开展了自查。", "achievements": "组织生活规范", "shortcomings": "联系群众不够", "measures": "每月走访一次"}))]
pub struct CreateDocument {
    pub kind: DocumentKind,
    /// member_summary: the member (an active person of the org), required; duty_report:
    /// the person reporting (default: the org's secretary); self_inspection: none.
    pub person_id: Option<i64>,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 20000)]
    #[serde(default)]
    pub body: String,
    /// Required (not blank) for a self-inspection; refused for the other kinds.
    #[schema(max_length = 10000)]
    pub achievements: Option<String>,
    #[schema(max_length = 10000)]
    pub shortcomings: Option<String>,
    #[schema(max_length = 10000)]
    pub measures: Option<String>,
}

/// A new version: the fields given replace the current ones.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"body": "支部按照通知要求开展了自查（修改稿）。"}))]
pub struct UpdateDocument {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 20000)]
    pub body: Option<String>,
    #[schema(max_length = 10000)]
    pub achievements: Option<String>,
    #[schema(max_length = 10000)]
    pub shortcomings: Option<String>,
    #[schema(max_length = 10000)]
    pub measures: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentListQuery {
    pub kind: Option<DocumentKind>,
    pub person_id: Option<i64>,
}

// ---- Attachments ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub id: i64,
    pub document_id: Option<i64>,
    pub submission_id: Option<i64>,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: i64,
    pub created_at: NaiveDateTime,
}

/// A file (电子文档) of a document or a report; `GET /attachments/{id}` downloads it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 8, "file_name": "自查报告.pdf", "media_type": "application/pdf", "size_bytes": 48213, "sha256": "9f2c0b1e5d4a7c3b8e6f1a2d4c5b7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9", "uploaded_by": 5, "created_at": "2012-01-04T02:00:00Z"}))]
pub struct Attachment {
    pub id: i64,
    /// The name it was uploaded with (only for showing and for the download's name).
    pub file_name: String,
    /// Found from the content itself: application/pdf, the Word and Excel (OOXML) types,
    /// image/jpeg or image/png.
    pub media_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<AttachmentRow> for Attachment {
    fn from(r: AttachmentRow) -> Self {
        Attachment {
            id: r.id,
            file_name: r.file_name,
            media_type: r.media_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at.and_utc(),
        }
    }
}

/// `multipart/form-data` with one file part named `file`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// A PDF, Word (docx), Excel (xlsx), JPEG or PNG file; the type is found from the
    /// content, not the name.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The downloaded file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct AttachmentFile(#[allow(dead_code)] Vec<u8>);

// ---- Opinions ----

/// An opinion or suggestion (意见建议) about a session's org: gathered by survey, visit or
/// at the meeting (with who recorded it), or written on a ballot (never with its ballot, a
/// recorder, or a time finer than the day).
#[derive(Debug, Serialize, ToSchema, Queryable)]
#[schema(example = json!({"id": "q3Zb8LwP1xYc7TnM", "source": "survey", "category": "service", "content": "希望多开展志愿服务", "day": "2012-01-05", "recorded_by": 5}))]
pub struct Opinion {
    pub id: String,
    pub source: OpinionSource,
    /// None for ballot opinions (nobody sorts what voters wrote).
    pub category: Option<OpinionCategory>,
    pub content: String,
    /// The day it was given (China Standard Time).
    pub day: NaiveDate,
    /// The user who recorded it (none for ballot opinions).
    pub recorded_by: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"source": "survey", "category": "service", "content": "希望多开展志愿服务"}))]
pub struct CreateOpinion {
    /// survey, visit or meeting (ballot opinions come only from ballots).
    pub source: OpinionSource,
    pub category: OpinionCategory,
    #[schema(min_length = 1, max_length = 2000)]
    pub content: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpinionListQuery {
    pub source: Option<OpinionSource>,
    pub category: Option<OpinionCategory>,
}

// ---- Leader comments ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = leader_comments)]
pub struct CommentRow {
    pub id: i64,
    pub session_id: i64,
    pub subject_id: Option<i64>,
    pub body: String,
    pub author_id: i64,
    pub created_at: NaiveDateTime,
}

/// A comment by the superior org's delegate (领导点评) on a session or one of its subjects.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "session_id": 12, "subject_id": null, "body": "支部自查认真，整改措施具体。", "author_id": 7, "created_at": "2012-01-05T08:00:00Z"}))]
pub struct LeaderComment {
    pub id: i64,
    pub session_id: i64,
    /// The subject commented on; none: the session as a whole.
    pub subject_id: Option<i64>,
    pub body: String,
    pub author_id: i64,
    pub created_at: DateTime<Utc>,
}

impl From<CommentRow> for LeaderComment {
    fn from(r: CommentRow) -> Self {
        LeaderComment {
            id: r.id,
            session_id: r.session_id,
            subject_id: r.subject_id,
            body: r.body,
            author_id: r.author_id,
            created_at: r.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": null, "body": "支部自查认真，整改措施具体。"}))]
pub struct CreateLeaderComment {
    /// A subject of the session; none: the session as a whole.
    pub subject_id: Option<i64>,
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
}

// ---- Commitments ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = commitments)]
pub struct CommitmentRow {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub person_id: Option<i64>,
    pub content: String,
    pub status: CommitmentStatus,
    pub evidence: String,
    pub created_by: i64,
    pub checked_by: Option<i64>,
    pub checked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A public commitment (公开承诺) of an org or of one of its members in a campaign, and
/// whether it was kept.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 9, "campaign_id": 3, "org_id": 21, "person_id": null, "content": "每月开展一次志愿服务", "status": "fulfilled", "evidence": "全年开展志愿服务12次，有活动记录", "created_by": 5, "checked_by": 6, "checked_at": "2012-12-20T02:00:00Z", "created_at": "2012-01-05T02:00:00Z", "updated_at": "2012-12-20T02:00:00Z"}))]
pub struct Commitment {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    /// The member who made it; none: the org's own.
    pub person_id: Option<i64>,
    pub content: String,
    pub status: CommitmentStatus,
    /// What shows the fulfilment (empty while pending).
    pub evidence: String,
    pub created_by: i64,
    /// Who last set the status.
    pub checked_by: Option<i64>,
    pub checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CommitmentRow> for Commitment {
    fn from(r: CommitmentRow) -> Self {
        Commitment {
            id: r.id,
            campaign_id: r.campaign_id,
            org_id: r.org_id,
            person_id: r.person_id,
            content: r.content,
            status: r.status,
            evidence: r.evidence,
            created_by: r.created_by,
            checked_by: r.checked_by,
            checked_at: r.checked_at.map(|t| t.and_utc()),
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"campaign_id": 3, "org_id": 21, "content": "每月开展一次志愿服务"}))]
pub struct CreateCommitment {
    pub campaign_id: i64,
    /// An org of the campaign's tree (default: the person's org).
    pub org_id: Option<i64>,
    /// A member's own commitment: an active person of the org.
    pub person_id: Option<i64>,
    #[schema(min_length = 1, max_length = 2000)]
    pub content: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "fulfilled", "evidence": "全年开展志愿服务12次，有活动记录"}))]
pub struct UpdateCommitment {
    /// Only while pending.
    #[schema(min_length = 1, max_length = 2000)]
    pub content: Option<String>,
    /// fulfilled, partial and unfulfilled need evidence; never set by whom it is about.
    pub status: Option<CommitmentStatus>,
    #[schema(max_length = 4000)]
    pub evidence: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommitmentListQuery {
    pub campaign_id: Option<i64>,
    /// Commitments of this org's subtree.
    pub org_id: Option<i64>,
    pub person_id: Option<i64>,
    pub status: Option<CommitmentStatus>,
}

/// A campaign's commitments of one org, by status (beside the criterion 切实兑现公开承诺的情况).
#[derive(Debug, Default, Clone, Serialize, ToSchema, PartialEq)]
pub struct CommitmentCounts {
    pub pending: i64,
    pub fulfilled: i64,
    pub partial: i64,
    pub unfulfilled: i64,
}

// ---- Report requests ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_requests)]
pub struct ReportRequestRow {
    pub id: i64,
    pub campaign_id: i64,
    pub from_org_id: i64,
    pub title: String,
    pub body: String,
    pub due_on: NaiveDate,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = report_submissions)]
pub struct SubmissionRow {
    pub id: i64,
    pub request_id: i64,
    pub org_id: i64,
    pub body: String,
    pub version: i32,
    pub submitted_by: i64,
    pub submitted_at: NaiveDateTime,
}

/// A superior org's request to each of its direct children for a written report
/// (书面材料) by a date, and where each child stands.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "campaign_id": 3, "from_org_id": 2, "title": "贯彻落实情况书面材料", "body": "请于1月9日前报学校组织部", "due_on": "2012-01-09", "created_by": 5, "created_at": "2011-12-28T02:00:00Z", "children": [{"org_id": 21, "name": "机电工程学院党总支", "status": "submitted", "submitted_at": "2012-01-08T02:00:00Z", "submission_id": 4}, {"org_id": 22, "name": "经济管理学院党总支", "status": "missing", "submitted_at": null, "submission_id": null}]}))]
pub struct ReportRequest {
    pub id: i64,
    pub campaign_id: i64,
    pub from_org_id: i64,
    pub title: String,
    pub body: String,
    /// The last day (China Standard Time) for an on-time report.
    pub due_on: NaiveDate,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    /// The active direct children of `from_org_id` whose records the reader sees, by name.
    pub children: Vec<ReportChild>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportChild {
    pub org_id: i64,
    pub name: String,
    pub status: ReportStatus,
    /// When the current text was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    pub submission_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"from_org_id": 2, "title": "贯彻落实情况书面材料", "body": "请于1月9日前报学校组织部", "due_on": "2012-01-09"}))]
pub struct CreateReportRequest {
    /// The org asking (its direct children answer); in the campaign's tree.
    pub from_org_id: i64,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(max_length = 4000)]
    #[serde(default)]
    pub body: String,
    /// Today (China Standard Time) or later.
    pub due_on: NaiveDate,
}

/// A child's report: the current text, how it stands against the due date, its history
/// and files.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "request_id": 2, "org_id": 21, "body": "我院按照通知要求……", "status": "submitted", "version": 1, "submitted_by": 11, "submitted_at": "2012-01-08T02:00:00Z", "versions": [{"version": 1, "written_by": 11, "written_at": "2012-01-08T02:00:00Z"}], "attachments": []}))]
pub struct ReportSubmission {
    pub id: i64,
    pub request_id: i64,
    pub org_id: i64,
    pub body: String,
    /// submitted (on time) or late.
    pub status: ReportStatus,
    pub version: i32,
    pub submitted_by: i64,
    pub submitted_at: DateTime<Utc>,
    /// Every text submitted, oldest first.
    pub versions: Vec<VersionInfo>,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"org_id": 21, "body": "我院按照通知要求……"}))]
pub struct SubmitReport {
    /// The child org answering: a direct child of the requesting org.
    pub org_id: i64,
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}
