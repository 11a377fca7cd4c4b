//! Record queries.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::*;
use crate::auth::policy::subtree_upper_bound;
use crate::db::schema::{
    attachments, commitments, document_versions, documents, leader_comments, opinions, orgs,
    report_requests, report_submission_versions, report_submissions, session_subjects, sessions,
};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::queries::paged;

// ---- Documents ----

pub struct NewDocument<'a> {
    pub session_id: i64,
    pub kind: DocumentKind,
    pub person_id: Option<i64>,
    pub slot: &'a str,
    pub text: &'a DocumentText,
    pub author_id: i64,
    pub at: NaiveDateTime,
}

/// Inserts a document at version 1 (and that version); a second document for the same slot
/// is a unique violation, told apart by the caller.
pub fn insert_document(conn: &mut DbConn, new: &NewDocument<'_>) -> ApiResult<i64> {
    let t = new.text;
    let id = diesel::insert_into(documents::table)
        .values((
            documents::session_id.eq(new.session_id),
            documents::kind.eq(new.kind),
            documents::person_id.eq(new.person_id),
            documents::slot.eq(new.slot),
            documents::title.eq(&t.title),
            documents::body.eq(&t.body),
            documents::achievements.eq(&t.achievements),
            documents::shortcomings.eq(&t.shortcomings),
            documents::measures.eq(&t.measures),
            documents::version.eq(1),
            documents::author_id.eq(new.author_id),
            documents::updated_by.eq(new.author_id),
            documents::created_at.eq(new.at),
            documents::updated_at.eq(new.at),
        ))
        .returning(documents::id)
        .get_result(conn)?;
    insert_document_version(conn, id, 1, t, new.author_id, new.at)?;
    Ok(id)
}

pub fn slot_taken(conn: &mut DbConn, session_id: i64, slot: &str) -> ApiResult<bool> {
    let n: i64 = documents::table
        .filter(documents::session_id.eq(session_id))
        .filter(documents::slot.eq(slot))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

fn insert_document_version(
    conn: &mut DbConn,
    id: i64,
    version: i32,
    t: &DocumentText,
    by: i64,
    at: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(document_versions::table)
        .values((
            document_versions::document_id.eq(id),
            document_versions::version.eq(version),
            document_versions::title.eq(&t.title),
            document_versions::body.eq(&t.body),
            document_versions::achievements.eq(&t.achievements),
            document_versions::shortcomings.eq(&t.shortcomings),
            document_versions::measures.eq(&t.measures),
            document_versions::written_by.eq(by),
            document_versions::written_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the next version, if the document is still at `from_version` (false when another
/// change came first).
pub fn write_document_version(
    conn: &mut DbConn,
    id: i64,
    from_version: i32,
    t: &DocumentText,
    by: i64,
    at: NaiveDateTime,
) -> ApiResult<bool> {
    let changed = diesel::update(
        documents::table
            .find(id)
            .filter(documents::version.eq(from_version)),
    )
    .set((
        documents::title.eq(&t.title),
        documents::body.eq(&t.body),
        documents::achievements.eq(&t.achievements),
        documents::shortcomings.eq(&t.shortcomings),
        documents::measures.eq(&t.measures),
        documents::version.eq(from_version + 1),
        documents::updated_by.eq(by),
        documents::updated_at.eq(at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(false);
    }
    insert_document_version(conn, id, from_version + 1, t, by, at)?;
    Ok(true)
}

pub fn find_document(conn: &mut DbConn, id: i64) -> ApiResult<DocumentRow> {
    documents::table
        .find(id)
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A session's documents (only those about `only_person`, when given), in the order of
/// kind then creation.
pub fn documents_of(
    conn: &mut DbConn,
    session_id: i64,
    filter: &DocumentListQuery,
    only_person: Option<Option<i64>>,
    page: &PageQuery,
) -> ApiResult<(Vec<DocumentRow>, i64)> {
    let query = || {
        let mut q = documents::table
            .filter(documents::session_id.eq(session_id))
            .into_boxed();
        if let Some(kind) = filter.kind {
            q = q.filter(documents::kind.eq(kind));
        }
        if let Some(person) = filter.person_id {
            q = q.filter(documents::person_id.eq(person));
        }
        match only_person {
            Some(Some(person)) => q = q.filter(documents::person_id.eq(person)),
            Some(None) => q = q.filter(documents::id.ne(documents::id)),
            None => {}
        }
        q
    };
    paged(
        conn,
        query().select(count_star()),
        query()
            .order((documents::kind, documents::id))
            .select(DocumentRow::as_select()),
        page,
    )
}

pub fn document_versions(conn: &mut DbConn, id: i64) -> ApiResult<Vec<VersionInfo>> {
    Ok(document_versions::table
        .filter(document_versions::document_id.eq(id))
        .order(document_versions::version)
        .select((
            document_versions::version,
            document_versions::written_by,
            document_versions::written_at,
        ))
        .load::<(i32, i64, NaiveDateTime)>(conn)?
        .into_iter()
        .map(version_info)
        .collect())
}

fn version_info((version, written_by, at): (i32, i64, NaiveDateTime)) -> VersionInfo {
    VersionInfo {
        version,
        written_by,
        written_at: at.and_utc(),
    }
}

/// One version's text, its writer and time.
pub fn document_version(
    conn: &mut DbConn,
    id: i64,
    version: i32,
) -> ApiResult<(DocumentText, i64, NaiveDateTime)> {
    let row: (String, String, String, String, String, i64, NaiveDateTime) =
        document_versions::table
            .find((id, version))
            .select((
                document_versions::title,
                document_versions::body,
                document_versions::achievements,
                document_versions::shortcomings,
                document_versions::measures,
                document_versions::written_by,
                document_versions::written_at,
            ))
            .first(conn)
            .optional()?
            .ok_or_else(ApiError::not_found)?;
    let (title, body, achievements, shortcomings, measures, by, at) = row;
    let text = DocumentText {
        title,
        body,
        achievements,
        shortcomings,
        measures,
    };
    Ok((text, by, at))
}

// ---- Attachments ----

/// What a file belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Document(i64),
    Submission(i64),
}

pub struct NewAttachment<'a> {
    pub owner: Owner,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_by: i64,
    pub at: NaiveDateTime,
}

pub fn insert_attachment(conn: &mut DbConn, new: &NewAttachment<'_>) -> ApiResult<i64> {
    let (document_id, submission_id) = match new.owner {
        Owner::Document(id) => (Some(id), None),
        Owner::Submission(id) => (None, Some(id)),
    };
    Ok(diesel::insert_into(attachments::table)
        .values((
            attachments::document_id.eq(document_id),
            attachments::submission_id.eq(submission_id),
            attachments::file_name.eq(new.file_name),
            attachments::media_type.eq(new.media_type),
            attachments::size_bytes.eq(new.content.len() as i64),
            attachments::sha256.eq(new.sha256),
            attachments::content.eq(new.content),
            attachments::uploaded_by.eq(new.uploaded_by),
            attachments::created_at.eq(new.at),
        ))
        .returning(attachments::id)
        .get_result(conn)?)
}

/// The files of a document or report (without their content), oldest first.
pub fn attachments_of(conn: &mut DbConn, owner: Owner) -> ApiResult<Vec<Attachment>> {
    let q = attachments::table.into_boxed();
    let q = match owner {
        Owner::Document(id) => q.filter(attachments::document_id.eq(id)),
        Owner::Submission(id) => q.filter(attachments::submission_id.eq(id)),
    };
    Ok(q.order(attachments::id)
        .select(AttachmentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Attachment::from)
        .collect())
}

pub fn find_attachment(conn: &mut DbConn, id: i64) -> ApiResult<AttachmentRow> {
    attachments::table
        .find(id)
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

pub fn attachment_content(conn: &mut DbConn, id: i64) -> ApiResult<Vec<u8>> {
    Ok(attachments::table
        .find(id)
        .select(attachments::content)
        .first(conn)?)
}

pub fn delete_attachment(conn: &mut DbConn, id: i64) -> ApiResult<()> {
    diesel::delete(attachments::table.find(id)).execute(conn)?;
    Ok(())
}

// ---- Opinions ----

pub struct NewOpinion<'a> {
    pub id: &'a str,
    pub session_id: i64,
    pub source: OpinionSource,
    pub category: OpinionCategory,
    pub content: &'a str,
    pub day: NaiveDate,
    pub recorded_by: i64,
}

pub fn insert_opinion(conn: &mut DbConn, new: &NewOpinion<'_>) -> ApiResult<()> {
    diesel::insert_into(opinions::table)
        .values((
            opinions::id.eq(new.id),
            opinions::session_id.eq(new.session_id),
            opinions::source.eq(new.source),
            opinions::category.eq(new.category),
            opinions::content.eq(new.content),
            opinions::cast_on.eq(new.day),
            opinions::recorded_by.eq(new.recorded_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// An opinion with its session.
pub fn find_opinion(conn: &mut DbConn, id: &str) -> ApiResult<(i64, Opinion)> {
    opinions::table
        .find(id)
        .select((opinions::session_id, OPINION_COLUMNS))
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

const OPINION_COLUMNS: (
    opinions::id,
    opinions::source,
    opinions::category,
    opinions::content,
    opinions::cast_on,
    opinions::recorded_by,
) = (
    opinions::id,
    opinions::source,
    opinions::category,
    opinions::content,
    opinions::cast_on,
    opinions::recorded_by,
);

/// One page of a session's opinions, in the order of their random ids (so neither casting
/// order nor anything else about the ballots shows), and the total. Ballot opinions only
/// when `with_ballots` (after close).
pub fn opinions_of(
    conn: &mut DbConn,
    session_id: i64,
    with_ballots: bool,
    filter: &OpinionListQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<Opinion>, i64)> {
    let query = || {
        let mut q = opinions::table
            .filter(opinions::session_id.eq(session_id))
            .into_boxed();
        if !with_ballots {
            q = q.filter(opinions::source.ne(OpinionSource::Ballot));
        }
        if let Some(source) = filter.source {
            q = q.filter(opinions::source.eq(source));
        }
        if let Some(category) = filter.category {
            q = q.filter(opinions::category.eq(category));
        }
        q
    };
    paged(
        conn,
        query().select(count_star()),
        query().order(opinions::id).select(OPINION_COLUMNS),
        page,
    )
}

// ---- Leader comments ----

pub fn insert_comment(
    conn: &mut DbConn,
    session_id: i64,
    subject_id: Option<i64>,
    body: &str,
    author_id: i64,
    at: NaiveDateTime,
) -> ApiResult<CommentRow> {
    let id: i64 = diesel::insert_into(leader_comments::table)
        .values((
            leader_comments::session_id.eq(session_id),
            leader_comments::subject_id.eq(subject_id),
            leader_comments::body.eq(body),
            leader_comments::author_id.eq(author_id),
            leader_comments::created_at.eq(at),
        ))
        .returning(leader_comments::id)
        .get_result(conn)?;
    Ok(leader_comments::table
        .find(id)
        .select(CommentRow::as_select())
        .first(conn)?)
}

/// A session's leader comments, oldest first: all of them, or (`only_person`) those on the
/// subject rating that person.
pub fn comments_of(
    conn: &mut DbConn,
    session_id: i64,
    only_person: Option<Option<i64>>,
    page: &PageQuery,
) -> ApiResult<(Vec<CommentRow>, i64)> {
    let query = || {
        let mut q = leader_comments::table
            .filter(leader_comments::session_id.eq(session_id))
            .into_boxed();
        match only_person {
            Some(Some(person)) => {
                let subjects = session_subjects::table
                    .filter(session_subjects::session_id.eq(session_id))
                    .filter(session_subjects::person_id.eq(person))
                    .select(session_subjects::id.nullable());
                q = q.filter(leader_comments::subject_id.eq_any(subjects));
            }
            Some(None) => q = q.filter(leader_comments::id.ne(leader_comments::id)),
            None => {}
        }
        q
    };
    paged(
        conn,
        query().select(count_star()),
        query()
            .order(leader_comments::id)
            .select(CommentRow::as_select()),
        page,
    )
}

// ---- Commitments ----

pub struct NewCommitment<'a> {
    pub campaign_id: i64,
    pub org_id: i64,
    pub person_id: Option<i64>,
    pub content: &'a str,
    pub created_by: i64,
    pub at: NaiveDateTime,
}

pub fn insert_commitment(conn: &mut DbConn, new: &NewCommitment<'_>) -> ApiResult<i64> {
    Ok(diesel::insert_into(commitments::table)
        .values((
            commitments::campaign_id.eq(new.campaign_id),
            commitments::org_id.eq(new.org_id),
            commitments::person_id.eq(new.person_id),
            commitments::content.eq(new.content),
            commitments::status.eq(CommitmentStatus::Pending),
            commitments::evidence.eq(""),
            commitments::created_by.eq(new.created_by),
            commitments::created_at.eq(new.at),
            commitments::updated_at.eq(new.at),
        ))
        .returning(commitments::id)
        .get_result(conn)?)
}

pub fn find_commitment(conn: &mut DbConn, id: i64) -> ApiResult<CommitmentRow> {
    commitments::table
        .find(id)
        .select(CommitmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

#[derive(AsChangeset)]
#[diesel(table_name = commitments)]
pub struct CommitmentChanges<'a> {
    pub content: Option<&'a str>,
    pub status: Option<CommitmentStatus>,
    pub evidence: Option<&'a str>,
    pub checked_by: Option<Option<i64>>,
    pub checked_at: Option<Option<NaiveDateTime>>,
    pub updated_at: NaiveDateTime,
}

pub fn update_commitment(
    conn: &mut DbConn,
    id: i64,
    changes: &CommitmentChanges<'_>,
) -> ApiResult<()> {
    diesel::update(commitments::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// What the actor may list: the subtrees where they read records, and their own elsewhere.
pub struct VisibleCommitments {
    pub readable: crate::auth::Scope,
    pub seen: crate::auth::Scope,
    pub person_id: Option<i64>,
}

/// One page of the commitments the actor sees, newest first, within `within` (a subtree's
/// path) when given.
pub fn commitments_list(
    conn: &mut DbConn,
    visible: &VisibleCommitments,
    filter: &CommitmentListQuery,
    within: Option<&str>,
    page: &PageQuery,
) -> ApiResult<(Vec<CommitmentRow>, i64)> {
    use crate::orgs::queries::org_column_in_scope;
    let query = || {
        let readable = org_column_in_scope("commitments.org_id", &visible.readable);
        let mut q = commitments::table.into_boxed();
        q = match visible.person_id {
            Some(me) => q.filter(
                readable.or(commitments::person_id
                    .eq(me)
                    .and(org_column_in_scope("commitments.org_id", &visible.seen))),
            ),
            None => q.filter(readable),
        };
        if let Some(campaign) = filter.campaign_id {
            q = q.filter(commitments::campaign_id.eq(campaign));
        }
        if let Some(person) = filter.person_id {
            q = q.filter(commitments::person_id.eq(person));
        }
        if let Some(status) = filter.status {
            q = q.filter(commitments::status.eq(status));
        }
        if let Some(path) = within {
            let upper = subtree_upper_bound(path);
            let subtree = orgs::table
                .filter(orgs::path.ge(path.to_owned()))
                .filter(orgs::path.lt(upper))
                .select(orgs::id);
            q = q.filter(commitments::org_id.eq_any(subtree));
        }
        q
    };
    paged(
        conn,
        query().select(count_star()),
        query()
            .order(commitments::id.desc())
            .select(CommitmentRow::as_select()),
        page,
    )
}

/// A campaign's commitments at one org by status: the org's own (`person` none) or one
/// member's.
pub fn commitment_counts(
    conn: &mut DbConn,
    campaign_id: i64,
    org_id: i64,
    person: Option<i64>,
) -> ApiResult<Vec<(CommitmentStatus, i64)>> {
    let at_org = commitments::campaign_id
        .eq(campaign_id)
        .and(commitments::org_id.eq(org_id));
    let by_status = (commitments::status, count_star());
    Ok(match person {
        Some(p) => commitments::table
            .filter(at_org.and(commitments::person_id.eq(p)))
            .group_by(commitments::status)
            .select(by_status)
            .load(conn)?,
        None => commitments::table
            .filter(at_org.and(commitments::person_id.is_null()))
            .group_by(commitments::status)
            .select(by_status)
            .load(conn)?,
    })
}

// ---- Report requests ----

pub fn insert_request(
    conn: &mut DbConn,
    campaign_id: i64,
    body: &CreateReportRequest,
    created_by: i64,
    at: NaiveDateTime,
) -> ApiResult<i64> {
    Ok(diesel::insert_into(report_requests::table)
        .values((
            report_requests::campaign_id.eq(campaign_id),
            report_requests::from_org_id.eq(body.from_org_id),
            report_requests::title.eq(body.title.trim()),
            report_requests::body.eq(body.body.trim()),
            report_requests::due_on.eq(body.due_on),
            report_requests::created_by.eq(created_by),
            report_requests::created_at.eq(at),
        ))
        .returning(report_requests::id)
        .get_result(conn)?)
}

pub fn find_request(conn: &mut DbConn, id: i64) -> ApiResult<ReportRequestRow> {
    report_requests::table
        .find(id)
        .select(ReportRequestRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A campaign's report requests with the path of the org asking, newest first.
pub fn requests_of_campaign(
    conn: &mut DbConn,
    campaign_id: i64,
) -> ApiResult<Vec<(ReportRequestRow, String)>> {
    Ok(report_requests::table
        .inner_join(orgs::table.on(orgs::id.eq(report_requests::from_org_id)))
        .filter(report_requests::campaign_id.eq(campaign_id))
        .order(report_requests::id.desc())
        .select((ReportRequestRow::as_select(), orgs::path))
        .load(conn)?)
}

/// The submissions of a request, one per child at most.
pub fn submissions_of(conn: &mut DbConn, request_id: i64) -> ApiResult<Vec<SubmissionRow>> {
    Ok(report_submissions::table
        .filter(report_submissions::request_id.eq(request_id))
        .select(SubmissionRow::as_select())
        .load(conn)?)
}

pub fn submission_for(
    conn: &mut DbConn,
    request_id: i64,
    org_id: i64,
) -> ApiResult<Option<SubmissionRow>> {
    Ok(report_submissions::table
        .filter(report_submissions::request_id.eq(request_id))
        .filter(report_submissions::org_id.eq(org_id))
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Takes a report's row lock on PostgreSQL (SQLite's writers are serialized already).
pub fn lock_submission(conn: &mut DbConn, id: i64) -> ApiResult<()> {
    if let DbConn::Pg(pg) = conn {
        report_submissions::table
            .find(id)
            .select(report_submissions::id)
            .for_update()
            .load::<i64>(pg)?;
    }
    Ok(())
}

pub fn find_submission(conn: &mut DbConn, id: i64) -> ApiResult<SubmissionRow> {
    report_submissions::table
        .find(id)
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A child's first submission (version 1, and that version).
pub fn insert_submission(
    conn: &mut DbConn,
    request_id: i64,
    org_id: i64,
    body: &str,
    by: i64,
    at: NaiveDateTime,
) -> ApiResult<i64> {
    let id = diesel::insert_into(report_submissions::table)
        .values((
            report_submissions::request_id.eq(request_id),
            report_submissions::org_id.eq(org_id),
            report_submissions::body.eq(body),
            report_submissions::version.eq(1),
            report_submissions::submitted_by.eq(by),
            report_submissions::submitted_at.eq(at),
        ))
        .returning(report_submissions::id)
        .get_result(conn)?;
    insert_submission_version(conn, id, 1, body, by, at)?;
    Ok(id)
}

/// Replaces the text if the submission is still at `from_version` (false otherwise).
pub fn resubmit(
    conn: &mut DbConn,
    id: i64,
    from_version: i32,
    body: &str,
    by: i64,
    at: NaiveDateTime,
) -> ApiResult<bool> {
    let changed = diesel::update(
        report_submissions::table
            .find(id)
            .filter(report_submissions::version.eq(from_version)),
    )
    .set((
        report_submissions::body.eq(body),
        report_submissions::version.eq(from_version + 1),
        report_submissions::submitted_by.eq(by),
        report_submissions::submitted_at.eq(at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(false);
    }
    insert_submission_version(conn, id, from_version + 1, body, by, at)?;
    Ok(true)
}

fn insert_submission_version(
    conn: &mut DbConn,
    id: i64,
    version: i32,
    body: &str,
    by: i64,
    at: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(report_submission_versions::table)
        .values((
            report_submission_versions::submission_id.eq(id),
            report_submission_versions::version.eq(version),
            report_submission_versions::body.eq(body),
            report_submission_versions::written_by.eq(by),
            report_submission_versions::written_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn submission_versions(conn: &mut DbConn, id: i64) -> ApiResult<Vec<VersionInfo>> {
    Ok(report_submission_versions::table
        .filter(report_submission_versions::submission_id.eq(id))
        .order(report_submission_versions::version)
        .select((
            report_submission_versions::version,
            report_submission_versions::written_by,
            report_submission_versions::written_at,
        ))
        .load::<(i32, i64, NaiveDateTime)>(conn)?
        .into_iter()
        .map(version_info)
        .collect())
}

// ---- Coverage ----

/// Per session of a campaign in the subtree at `path`: session id, org id and name,
/// whether a self-inspection and a duty report exist, how many member summaries.
pub type SessionRecordRow = (i64, i64, String, bool, bool, i64);

pub fn session_records(
    conn: &mut DbConn,
    campaign_id: i64,
    path: &str,
) -> ApiResult<Vec<SessionRecordRow>> {
    let upper = subtree_upper_bound(path);
    let rows: Vec<(i64, i64, String)> = sessions::table
        .inner_join(orgs::table)
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(orgs::path.ge(path.to_owned()))
        .filter(orgs::path.lt(upper.clone()))
        .order((orgs::path, sessions::id))
        .select((sessions::id, orgs::id, orgs::name))
        .load(conn)?;
    let counts: Vec<(i64, DocumentKind, i64)> = documents::table
        .inner_join(sessions::table.inner_join(orgs::table))
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(orgs::path.ge(path.to_owned()))
        .filter(orgs::path.lt(upper))
        .group_by((documents::session_id, documents::kind))
        .select((documents::session_id, documents::kind, count_star()))
        .load(conn)?;
    let mut by_session: std::collections::HashMap<i64, (bool, bool, i64)> = Default::default();
    for (session, kind, n) in counts {
        let entry = by_session.entry(session).or_default();
        match kind {
            DocumentKind::SelfInspection => entry.0 = n > 0,
            DocumentKind::DutyReport => entry.1 = n > 0,
            DocumentKind::MemberSummary => entry.2 = n,
        }
    }
    Ok(rows
        .into_iter()
        .map(|(session, org, name)| {
            let (si, dr, ms) = by_session.get(&session).copied().unwrap_or_default();
            (session, org, name, si, dr, ms)
        })
        .collect())
}

pub fn find_comment(conn: &mut DbConn, id: i64) -> ApiResult<CommentRow> {
    leader_comments::table
        .find(id)
        .select(CommentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}
