//! Self-inspections, duty reports and member summaries: drafts their author changes until
//! the session closes, every version kept.

use super::model::*;
use super::queries::{self, NewDocument, Owner};
use super::{rules, session_at, session_for_write, AtSession};
use crate::auth::Actor;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::{Page, PageQuery};
use crate::orgs::record;
use crate::sessions::model::SessionStatus;
use crate::types::now;

/// A document the actor may read (404 otherwise), with its session and org.
pub fn visible(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<(DocumentRow, AtSession)> {
    let row = queries::find_document(conn, id)?;
    let at = session_at(conn, actor, row.session_id)?;
    let about_self = at.me.is_some() && row.person_id == at.me;
    actor.authorize_record_read(&at.org.path, about_self)?;
    Ok((row, at))
}

/// The document as the API shows it; `full` adds its versions and files.
pub fn shown(
    conn: &mut DbConn,
    row: DocumentRow,
    at: &AtSession,
    full: bool,
) -> ApiResult<Document> {
    let (versions, attachments) = if full {
        (
            queries::document_versions(conn, row.id)?,
            queries::attachments_of(conn, Owner::Document(row.id))?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let parts = row.kind == DocumentKind::SelfInspection;
    Ok(Document {
        id: row.id,
        session_id: row.session_id,
        org_id: at.org.id,
        kind: row.kind,
        person_id: row.person_id,
        title: row.title,
        body: row.body,
        achievements: parts.then_some(row.achievements),
        shortcomings: parts.then_some(row.shortcomings),
        measures: parts.then_some(row.measures),
        version: row.version,
        author_id: row.author_id,
        updated_by: row.updated_by,
        frozen: at.session.status == SessionStatus::Closed,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        versions,
        attachments,
    })
}

fn trimmed(value: Option<&String>) -> String {
    value.map(|v| v.trim().to_owned()).unwrap_or_default()
}

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    body: &CreateDocument,
) -> ApiResult<Document> {
    let at = session_for_write(conn, actor, session_id)?;
    let person_id = match body.kind {
        DocumentKind::DutyReport => body.person_id.or(at.org.secretary_id),
        _ => body.person_id,
    };
    let about_self =
        body.kind == DocumentKind::MemberSummary && at.me.is_some() && person_id == at.me;
    actor.authorize_record_write(&at.org.path, about_self)?;
    let text = DocumentText {
        title: body.title.trim().to_owned(),
        body: body.body.trim().to_owned(),
        achievements: trimmed(body.achievements.as_ref()),
        shortcomings: trimmed(body.shortcomings.as_ref()),
        measures: trimmed(body.measures.as_ref()),
    };
    let given = [
        body.achievements.is_some(),
        body.shortcomings.is_some(),
        body.measures.is_some(),
    ];
    rules::check_new_document(body.kind, person_id, &text, given)?;
    if let Some(person) = person_id {
        if !crate::rectifications::queries::person_of_org(conn, person, at.org.id)? {
            return Err(ApiError::field(
                "person_id",
                "is not an active person of the session's org",
            ));
        }
    }
    rules::check_session_open_for_records(at.session.status == SessionStatus::Closed)?;
    let slot = rules::slot(body.kind, person_id);
    if queries::slot_taken(conn, session_id, &slot)? {
        return Err(ApiError::conflict(
            ErrorCode::DocumentExists,
            "The session already has this document: change it with PATCH /documents/{id}.",
        ));
    }
    let id = queries::insert_document(
        conn,
        &NewDocument {
            session_id,
            kind: body.kind,
            person_id,
            slot: &slot,
            text: &text,
            author_id: actor.user_id,
            at: now(),
        },
    )
    .map_err(|e| {
        // A concurrent create of the same slot loses on the unique index.
        if e.code == ErrorCode::Conflict {
            ApiError::conflict(
                ErrorCode::DocumentExists,
                "The session already has this document.",
            )
        } else {
            e
        }
    })?;
    let summary = format!("wrote a {} for {}", body.kind, at.org.name);
    record(
        conn,
        actor,
        "document.create",
        ("document", id),
        at.org.id,
        summary,
    )?;
    let row = queries::find_document(conn, id)?;
    shown(conn, row, &at, true)
}

pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    filter: &DocumentListQuery,
    page: &PageQuery,
) -> ApiResult<Page<Document>> {
    let at = session_at(conn, actor, session_id)?;
    // Those who read the org's records see every document; anyone else who sees the org
    // sees those about themselves.
    let only = (!actor.may_read_record(&at.org.path, false)).then_some(at.me);
    let (rows, total) = queries::documents_of(conn, session_id, filter, only, page)?;
    let items = rows
        .into_iter()
        .map(|row| shown(conn, row, &at, false))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::new(items, total, page))
}

/// A document the actor may change: its author (who still writes the org's records, or
/// their own summary), while the session is open.
pub fn editable(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<(DocumentRow, AtSession)> {
    let session_id = queries::find_document(conn, id)?.session_id;
    crate::sessions::queries::lock_session(conn, session_id)?;
    let (row, at) = visible(conn, actor, id)?;
    let about_self = at.me.is_some() && row.person_id == at.me;
    actor.authorize_record_write(&at.org.path, about_self)?;
    actor.authorize_document_edit(row.author_id == actor.user_id)?;
    rules::check_session_open_for_records(at.session.status == SessionStatus::Closed)?;
    Ok((row, at))
}

pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    body: &UpdateDocument,
) -> ApiResult<Document> {
    let (row, at) = editable(conn, actor, id)?;
    let pick = |given: &Option<String>, current: &str| {
        given
            .as_deref()
            .map(str::trim)
            .unwrap_or(current)
            .to_owned()
    };
    let text = DocumentText {
        title: pick(&body.title, &row.title),
        body: pick(&body.body, &row.body),
        achievements: pick(&body.achievements, &row.achievements),
        shortcomings: pick(&body.shortcomings, &row.shortcomings),
        measures: pick(&body.measures, &row.measures),
    };
    let given = [
        body.achievements.is_some(),
        body.shortcomings.is_some(),
        body.measures.is_some(),
    ];
    rules::check_changed_document(row.kind, &text, given)?;
    let current = DocumentText {
        title: row.title.clone(),
        body: row.body.clone(),
        achievements: row.achievements.clone(),
        shortcomings: row.shortcomings.clone(),
        measures: row.measures.clone(),
    };
    // The same text again makes no new version.
    if text != current {
        if !queries::write_document_version(conn, id, row.version, &text, actor.user_id, now())? {
            return Err(ApiError::conflict(
                ErrorCode::Conflict,
                "The document changed meanwhile; reload it and write again.",
            ));
        }
        let summary = format!(
            "wrote version {} of a {} of {}",
            row.version + 1,
            row.kind,
            at.org.name
        );
        record(
            conn,
            actor,
            "document.update",
            ("document", id),
            at.org.id,
            summary,
        )?;
    }
    let row = queries::find_document(conn, id)?;
    shown(conn, row, &at, true)
}

/// One version of a document the actor may read.
pub fn version(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    version: i32,
) -> ApiResult<DocumentVersion> {
    let (row, _) = visible(conn, actor, id)?;
    let (text, written_by, written_at) = queries::document_version(conn, id, version)?;
    let parts = row.kind == DocumentKind::SelfInspection;
    Ok(DocumentVersion {
        document_id: id,
        version,
        title: text.title,
        body: text.body,
        achievements: parts.then_some(text.achievements),
        shortcomings: parts.then_some(text.shortcomings),
        measures: parts.then_some(text.measures),
        written_by,
        written_at: written_at.and_utc(),
    })
}
