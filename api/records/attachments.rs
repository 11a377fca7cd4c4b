//! Files (电子文档) of documents and reports: taken only when their content is a PDF, a
//! Word or Excel file, a JPEG or a PNG; kept in the database with their SHA-256.

use sha2::{Digest, Sha256};

use super::model::{Attachment, AttachmentRow};
use super::queries::{self, NewAttachment, Owner};
use super::{documents, reports, rules};
use crate::auth::Actor;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::orgs::record;
use crate::types::now;

/// A checked upload: its kept name, media type, digest and bytes.
pub struct CheckedFile {
    pub file_name: String,
    pub media_type: &'static str,
    pub sha256: String,
    pub content: Vec<u8>,
}

/// Checks an uploaded file (outside any transaction: hashing is CPU work): its size, and its
/// type by content.
pub fn check(uploaded_name: Option<&str>, content: Vec<u8>) -> ApiResult<CheckedFile> {
    if content.is_empty() {
        return Err(ApiError::field("file", "is empty"));
    }
    if content.len() > rules::MAX_ATTACHMENT_BYTES {
        return Err(too_large());
    }
    let (media_type, extension) = rules::sniff(&content).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Files are taken as PDF, Word (docx), Excel (xlsx), JPEG or PNG, recognized by their content.",
        )
    })?;
    let sha256 = hex(&Sha256::digest(&content));
    Ok(CheckedFile {
        file_name: rules::file_name(uploaded_name, extension),
        media_type,
        sha256,
        content,
    })
}

pub fn too_large() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "A file may hold at most {} MiB.",
            rules::MAX_ATTACHMENT_BYTES >> 20
        ),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The org a file's owner belongs to, once the actor may change the owner: a document by
/// its author while the session is open, a report by the child itself while it is open.
pub fn changeable_owner(
    conn: &mut DbConn,
    actor: &Actor,
    owner: Owner,
) -> ApiResult<(i64, String)> {
    match owner {
        Owner::Document(id) => {
            let (_, at) = documents::editable(conn, actor, id)?;
            Ok((at.org.id, at.org.name))
        }
        Owner::Submission(id) => {
            let (_, _, org) = reports::changeable_submission(conn, actor, id)?;
            Ok((org.id, org.name))
        }
    }
}

pub fn attach(
    conn: &mut DbConn,
    actor: &Actor,
    owner: Owner,
    file: &CheckedFile,
) -> ApiResult<Attachment> {
    let (org_id, org_name) = changeable_owner(conn, actor, owner)?;
    if queries::attachments_of(conn, owner)?.len() as i64 >= rules::MAX_ATTACHMENTS {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            format!(
                "At most {} files per document or report; remove one first.",
                rules::MAX_ATTACHMENTS
            ),
        ));
    }
    let id = queries::insert_attachment(
        conn,
        &NewAttachment {
            owner,
            file_name: &file.file_name,
            media_type: file.media_type,
            sha256: &file.sha256,
            content: &file.content,
            uploaded_by: actor.user_id,
            at: now(),
        },
    )?;
    let summary = format!("attached {} for {org_name}", file.file_name);
    record(
        conn,
        actor,
        "attachment.create",
        ("attachment", id),
        org_id,
        summary,
    )?;
    Ok(queries::find_attachment(conn, id)?.into())
}

fn owner_of(row: &AttachmentRow) -> ApiResult<Owner> {
    match (row.document_id, row.submission_id) {
        (Some(id), None) => Ok(Owner::Document(id)),
        (None, Some(id)) => Ok(Owner::Submission(id)),
        _ => Err(ApiError::internal(
            "an attachment without exactly one owner",
        )),
    }
}

/// A file the actor may read (those who read its document or report), with its bytes.
pub fn download(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<(AttachmentRow, Vec<u8>)> {
    let row = queries::find_attachment(conn, id)?;
    match owner_of(&row)? {
        Owner::Document(document) => {
            documents::visible(conn, actor, document)?;
        }
        Owner::Submission(submission) => {
            reports::visible_submission(conn, actor, submission)?;
        }
    }
    let content = queries::attachment_content(conn, id)?;
    Ok((row, content))
}

/// Removes a file, by whoever may change its owner now.
pub fn remove(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<()> {
    let row = queries::find_attachment(conn, id)?;
    let owner = owner_of(&row)?;
    // Those who cannot read the owner learn nothing: 404 as for a missing file.
    match owner {
        Owner::Document(document) => documents::visible(conn, actor, document).map(drop)?,
        Owner::Submission(submission) => {
            reports::visible_submission(conn, actor, submission).map(drop)?
        }
    }
    let (org_id, org_name) = changeable_owner(conn, actor, owner)?;
    queries::delete_attachment(conn, id)?;
    let summary = format!("removed {} of {org_name}", row.file_name);
    record(
        conn,
        actor,
        "attachment.delete",
        ("attachment", id),
        org_id,
        summary,
    )?;
    Ok(())
}
