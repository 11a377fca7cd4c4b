//! The evaluation process on record (the notice's written steps): self-inspections, duty
//! reports and member summaries with their versions and files; opinions gathered by survey,
//! visit and at the meeting; leader comments from above; public commitments and their
//! fulfilment; report requests from a superior org to its direct children.

pub mod attachments;
pub mod comments;
pub mod commitments;
pub mod documents;
pub mod model;
pub mod opinions;
pub mod queries;
pub mod reports;
pub mod rules;

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::queries::Owner;
use crate::auth::Actor;
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::{created_at, JsonBody, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::sessions::model::SessionRow;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_document)
        .service(list_documents)
        .service(get_document)
        .service(update_document)
        .service(get_document_version)
        .service(attach_to_document)
        .service(attach_to_submission)
        .service(download_attachment)
        .service(delete_attachment)
        .service(create_opinion)
        .service(list_opinions)
        .service(get_opinion)
        .service(create_leader_comment)
        .service(list_leader_comments)
        .service(get_leader_comment)
        .service(create_commitment)
        .service(list_commitments)
        .service(get_commitment)
        .service(update_commitment)
        .service(create_report_request)
        .service(list_report_requests)
        .service(get_report_request)
        .service(submit_report)
        .service(get_submission);
}

/// A session the actor sees, with its org and the person the actor's account is linked to.
pub struct AtSession {
    pub session: SessionRow,
    pub org: OrgRow,
    pub me: Option<i64>,
}

/// The session at `id`, when the actor sees its org at all (404 otherwise).
pub fn session_at(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<AtSession> {
    let session = crate::sessions::queries::find(conn, id)?;
    let org = crate::orgs::queries::find(conn, session.org_id)?;
    if !actor.can_see(&org.path) {
        return Err(ApiError::not_found());
    }
    let me = crate::sessions::queries::user_person(conn, actor.user_id)?;
    Ok(AtSession { session, org, me })
}

/// The session at `id` for writing its record: its row lock taken first (on PostgreSQL), so
/// that the status read next cannot change before the write commits (closing takes the same
/// lock).
pub fn session_for_write(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<AtSession> {
    crate::sessions::queries::lock_session(conn, id)?;
    session_at(conn, actor, id)
}

const SESSION_CLOSED: &str =
    "`session_closed`: the session has closed and its record no longer changes";

// ---- Documents ----

/// Write a self-inspection (with its achievements, shortcomings and measures), a duty report
/// or a member summary for a session: by the org's secretary or org admin (or from above),
/// or a member their own summary; until the session closes. One self-inspection and one
/// duty report per session, one summary per member.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id")),
    request_body = CreateDocument,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = Document),
        (status = 409, description = "`document_exists`, or `session_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/documents")]
async fn create_document(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreateDocument>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let document = db::write(&state.pool, move |conn| {
        documents::create(conn, &actor, id, &body)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/documents/{}", document.id),
        &document,
    ))
}

/// A session's documents: all of them for those who read the org's records (its secretary
/// and org admins, those above, observers, integrations); a member sees their own.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id"), DocumentListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of documents (without versions and files)", body = Page<Document>))
)]
#[get("/sessions/{id}/documents")]
async fn list_documents(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    filter: web::Query<DocumentListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Document>>> {
    let (id, filter, page) = (
        id.into_inner(),
        filter.into_inner(),
        page.into_inner().checked()?,
    );
    let page = db::read(&state.pool, move |conn| {
        documents::list(conn, &actor, id, &filter, &page)
    })
    .await?;
    Ok(web::Json(page))
}

/// One document, with who wrote each version and when, and its files.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Document id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The document", body = Document))
)]
#[get("/documents/{id}")]
async fn get_document(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Document>> {
    let id = id.into_inner();
    let document = db::read(&state.pool, move |conn| {
        let (row, at) = documents::visible(conn, &actor, id)?;
        documents::shown(conn, row, &at, true)
    })
    .await?;
    Ok(web::Json(document))
}

/// Write a new version of a document: by its author, until the session closes. The fields
/// given replace the current ones; the earlier versions are kept.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Document id")),
    request_body = UpdateDocument,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The document at its new version", body = Document),
        (status = 409, description = "`session_closed`, or `conflict`: another change came first (reload and write again)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/documents/{id}")]
async fn update_document(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdateDocument>,
) -> ApiResult<web::Json<Document>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let document = db::write(&state.pool, move |conn| {
        documents::update(conn, &actor, id, &body)
    })
    .await?;
    Ok(web::Json(document))
}

/// One earlier (or the current) version of a document, in full.
#[utoipa::path(
    tag = "records",
    params(
        ("id" = i64, Path, description = "Document id"),
        ("version" = i32, Path, description = "Version number, from 1"),
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "The version", body = DocumentVersion))
)]
#[get("/documents/{id}/versions/{version}")]
async fn get_document_version(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i32)>,
) -> ApiResult<web::Json<DocumentVersion>> {
    let (id, version) = path.into_inner();
    let version = db::read(&state.pool, move |conn| {
        documents::version(conn, &actor, id, version)
    })
    .await?;
    Ok(web::Json(version))
}

// ---- Attachments ----

/// The one file part of an upload, read up to the size limit.
async fn read_upload(
    req: &HttpRequest,
    body: web::Payload,
) -> ApiResult<(Option<String>, Vec<u8>)> {
    // The whole body, framing and part headers included, is cut off a little above the
    // file's limit (whether its length is declared or it comes chunked): the multipart
    // parser buffers headers without a limit of its own.
    let limit = rules::MAX_ATTACHMENT_BYTES + 64 * 1024;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(attachments::too_large());
    }
    let mut received = 0usize;
    let limited = body.map(move |chunk| {
        let chunk = chunk?;
        received += chunk.len();
        if received > limit {
            return Err(actix_web::error::PayloadError::Overflow);
        }
        Ok(chunk)
    });
    let mut payload = Multipart::new(req.headers(), limited);
    // Every byte read counts toward the limit, other parts included (they are skipped).
    let mut read = 0usize;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(multipart_error)?;
        let is_file = field.name() == Some("file");
        let name = field.content_disposition().and_then(|cd| {
            cd.get_filename().map(str::to_owned).or_else(|| {
                cd.get_filename_ext()
                    .map(|ext| String::from_utf8_lossy(&ext.value).into_owned())
            })
        });
        let mut content = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            read += chunk.len();
            if read > rules::MAX_ATTACHMENT_BYTES {
                return Err(attachments::too_large());
            }
            if is_file {
                content.extend_from_slice(&chunk);
            }
        }
        if is_file {
            return Ok((name, content));
        }
    }
    Err(ApiError::field(
        "file",
        "send the file as the multipart/form-data part named `file`",
    ))
}

fn multipart_error(err: MultipartError) -> ApiError {
    match err {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the file as multipart/form-data, in a part named `file`.",
        ),
        MultipartError::Payload(actix_web::error::PayloadError::Overflow) => {
            attachments::too_large()
        }
        _ => ApiError::bad_request("The multipart/form-data body is malformed."),
    }
}

/// Reads, checks and stores an upload for `owner`.
async fn upload(
    actor: Actor,
    state: &AppState,
    req: &HttpRequest,
    body: web::Payload,
    owner: Owner,
) -> ApiResult<HttpResponse> {
    // Who may not attach here is answered before the body is read.
    let asking = actor.clone();
    db::read(&state.pool, move |conn| {
        attachments::changeable_owner(conn, &asking, owner).map(drop)
    })
    .await?;
    let (name, content) = read_upload(req, body).await?;
    let file = attachments::check(name.as_deref(), content)?;
    let attachment = db::write(&state.pool, move |conn| {
        attachments::attach(conn, &actor, owner, &file)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/attachments/{}", attachment.id),
        &attachment,
    ))
}

const UPLOAD_ERRORS: &str = "`report_closed` (a report submitted on time, after its due date), `session_closed` (a document of a closed session), or too many files (`conflict`)";

/// Attach a file (电子文档) to a document: by its author, until the session closes. At most
/// 10 MiB; PDF, Word (docx), Excel (xlsx), JPEG or PNG, recognized by the content (not the
/// name or the declared type); up to 20 files per document.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Document id")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored; `Location` downloads it", body = Attachment),
        (status = 409, description = UPLOAD_ERRORS, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than 10 MiB", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data, or the file is none of the types taken", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/documents/{id}/attachments")]
async fn attach_to_document(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    upload(
        actor,
        &state,
        &req,
        payload,
        Owner::Document(id.into_inner()),
    )
    .await
}

/// Attach a file to a report: by the child org itself, while the report may change (until
/// the due date, or at any time for a late report). Limits as for documents.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Report submission id")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored; `Location` downloads it", body = Attachment),
        (status = 409, description = UPLOAD_ERRORS, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than 10 MiB", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data, or the file is none of the types taken", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/report-submissions/{id}/attachments")]
async fn attach_to_submission(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    upload(
        actor,
        &state,
        &req,
        payload,
        Owner::Submission(id.into_inner()),
    )
    .await
}

/// Download a file, for those who read its document or report: its bytes with the media
/// type found at upload, as an attachment (never shown inline).
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Attachment id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The file",
        headers(
            ("Content-Disposition" = String, description = "`attachment` with an ASCII `filename` and an RFC 6266 `filename*` (UTF-8)"),
        ),
        content(
            (AttachmentFile = "application/pdf"),
            (AttachmentFile = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (AttachmentFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (AttachmentFile = "image/jpeg"),
            (AttachmentFile = "image/png"),
        )))
)]
#[get("/attachments/{id}")]
async fn download_attachment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (row, content) = db::read(&state.pool, move |conn| {
        attachments::download(conn, &actor, id)
    })
    .await?;
    let ascii: String = row
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = crate::http::attachment(ascii, row.file_name);
    Ok(HttpResponse::Ok()
        .content_type(row.media_type)
        .insert_header(disposition)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .body(content))
}

/// Remove a file: by whoever may add one to its document or report now.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Attachment id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "`report_closed` (a report submitted on time, after its due date) or `session_closed` (a document of a closed session)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/attachments/{id}")]
async fn delete_attachment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        attachments::remove(conn, &actor, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- Opinions ----

/// Record an opinion or suggestion gathered by survey, visit or at the meeting, with its
/// category: by the org's secretary or org admin (or from above), until the session closes.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id")),
    request_body = CreateOpinion,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded; `Location` names it", body = Opinion),
        (status = 409, description = SESSION_CLOSED, body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/opinions")]
async fn create_opinion(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreateOpinion>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let opinion = db::write(&state.pool, move |conn| {
        opinions::create(conn, &actor, id, &body)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/opinions/{}", opinion.id),
        &opinion,
    ))
}

/// A session's opinions, for its org admins and those above (org admins of superior orgs,
/// observers from above): those typed in at any time, and once the session has closed the
/// ballots' own (never with a ballot id, a category, a recorder or a time finer than the
/// day). In the order of their random ids.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id"), OpinionListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of opinions", body = Page<Opinion>))
)]
#[get("/sessions/{id}/opinions")]
async fn list_opinions(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    filter: web::Query<OpinionListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Opinion>>> {
    let (id, filter, page) = (
        id.into_inner(),
        filter.into_inner(),
        page.into_inner().checked()?,
    );
    let page = db::read(&state.pool, move |conn| {
        opinions::list(conn, &actor, id, &filter, &page)
    })
    .await?;
    Ok(web::Json(page))
}

/// One opinion, for those who list its session's opinions (a ballot's only after close).
#[utoipa::path(
    tag = "records",
    params(("id" = String, Path, description = "Opinion id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The opinion", body = Opinion))
)]
#[get("/opinions/{id}")]
async fn get_opinion(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<Opinion>> {
    let id = id.into_inner();
    let opinion = db::read(&state.pool, move |conn| {
        opinions::visible(conn, &actor, &id)
    })
    .await?;
    Ok(web::Json(opinion))
}

// ---- Leader comments ----

/// Comment (领导点评) on a session or one of its subjects: by an org admin or observer of a
/// strict superior org (the superior's delegate), until the session closes; a comment is
/// never changed.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id")),
    request_body = CreateLeaderComment,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = LeaderComment),
        (status = 409, description = SESSION_CLOSED, body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sessions/{id}/leader-comments")]
async fn create_leader_comment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreateLeaderComment>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let comment = db::write(&state.pool, move |conn| {
        comments::create(conn, &actor, id, &body)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/leader-comments/{}", comment.id),
        &comment,
    ))
}

/// A session's leader comments, oldest first: all for those who read the org's records;
/// a member sees those on the subject rating themselves.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Session id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of comments", body = Page<LeaderComment>))
)]
#[get("/sessions/{id}/leader-comments")]
async fn list_leader_comments(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<LeaderComment>>> {
    let (id, page) = (id.into_inner(), page.into_inner().checked()?);
    let page = db::read(&state.pool, move |conn| {
        comments::list(conn, &actor, id, &page)
    })
    .await?;
    Ok(web::Json(page))
}

/// One leader comment, for those who list its session's comments.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Comment id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The comment", body = LeaderComment))
)]
#[get("/leader-comments/{id}")]
async fn get_leader_comment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<LeaderComment>> {
    let id = id.into_inner();
    let comment = db::read(&state.pool, move |conn| comments::visible(conn, &actor, id)).await?;
    Ok(web::Json(comment))
}

// ---- Commitments ----

/// Record a public commitment (公开承诺) of an org, or of a member, in a campaign: by the
/// org's secretary or org admin (or from above), or a member their own; while the campaign
/// runs.
#[utoipa::path(
    tag = "records",
    request_body = CreateCommitment,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = Commitment),
        (status = 409, description = "`campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/commitments")]
async fn create_commitment(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<CreateCommitment>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let commitment = db::write(&state.pool, move |conn| {
        commitments::create(conn, &actor, &body)
    })
    .await?;
    Ok(crate::http::created(&req, commitment.id, &commitment))
}

/// The commitments the actor sees (those of the subtrees where they read records, and their
/// own), newest first; `org_id` narrows to that org's subtree.
#[utoipa::path(
    tag = "records",
    params(CommitmentListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of commitments", body = Page<Commitment>))
)]
#[get("/commitments")]
async fn list_commitments(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<CommitmentListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Commitment>>> {
    let (filter, page) = (filter.into_inner(), page.into_inner().checked()?);
    let page = db::read(&state.pool, move |conn| {
        commitments::list(conn, &actor, &filter, &page)
    })
    .await?;
    Ok(web::Json(page))
}

/// One commitment, for those who read the org's records and for whom it is about.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Commitment id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The commitment", body = Commitment))
)]
#[get("/commitments/{id}")]
async fn get_commitment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Commitment>> {
    let id = id.into_inner();
    let commitment = db::read(&state.pool, move |conn| {
        commitments::visible(conn, &actor, id).map(|(row, _, _)| Commitment::from(row))
    })
    .await?;
    Ok(web::Json(commitment))
}

/// Change a pending commitment's content (those who may record it), or mark whether it was
/// kept, with the evidence: a member's by those who keep the org's records (never that
/// member), an org's own from above (an org admin or observer of a superior org). Not once
/// the campaign is closed.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Commitment id")),
    request_body = UpdateCommitment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = Commitment),
        (status = 409, description = "`invalid_transition` (the content of a commitment no longer pending), or `campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/commitments/{id}")]
async fn update_commitment(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdateCommitment>,
) -> ApiResult<web::Json<Commitment>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let commitment = db::write(&state.pool, move |conn| {
        commitments::update(conn, &actor, id, &body)
    })
    .await?;
    Ok(web::Json(commitment))
}

// ---- Report requests ----

/// Ask every active direct child of an org for a written report (书面材料) by a date: by
/// an org admin of the asking org (or above).
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = CreateReportRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = ReportRequest),
        (status = 409, description = "`campaign_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/campaigns/{id}/report-requests")]
async fn create_report_request(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreateReportRequest>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let request = db::write(&state.pool, move |conn| {
        reports::create(conn, &actor, id, &body)
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/report-requests/{}", request.id),
        &request,
    ))
}

/// A campaign's report requests the actor sees, newest first: whole for those who read the
/// asking org's records; a child's own entry for those who read only the child's.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Campaign id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of requests", body = Page<ReportRequest>))
)]
#[get("/campaigns/{id}/report-requests")]
async fn list_report_requests(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ReportRequest>>> {
    let (id, page) = (id.into_inner(), page.into_inner().checked()?);
    let page = db::read(&state.pool, move |conn| {
        reports::list(conn, &actor, id, &page)
    })
    .await?;
    Ok(web::Json(page))
}

/// One request, with each child's status: submitted (on or before the due date, China
/// Standard Time), late, or missing.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Report request id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The request", body = ReportRequest))
)]
#[get("/report-requests/{id}")]
async fn get_report_request(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ReportRequest>> {
    let id = id.into_inner();
    let request = db::read(&state.pool, move |conn| reports::visible(conn, &actor, id)).await?;
    Ok(web::Json(request))
}

/// Submit a child's report: by the child's own org admin or secretary. Before the due date
/// a new submission replaces the text (the earlier ones are kept); after it, a child that
/// has not submitted may still (it shows as late), but an on-time report no longer changes.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Report request id")),
    request_body = SubmitReport,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The child's first submission; `Location` names it", body = ReportSubmission),
        (status = 200, description = "The report, replaced", body = ReportSubmission),
        (status = 409, description = "`report_closed`, or `conflict`: another submission came first (reload and submit again)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/report-requests/{id}/submissions")]
async fn submit_report(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<SubmitReport>,
) -> ApiResult<HttpResponse> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let (submission, first) = db::write(&state.pool, move |conn| {
        reports::submit(conn, &actor, id, &body)
    })
    .await?;
    if first {
        let location = format!("/api/v1/report-submissions/{}", submission.id);
        Ok(created_at(location, &submission))
    } else {
        Ok(HttpResponse::Ok().json(submission))
    }
}

/// A child's report, with every text submitted and its files: for the child and those
/// above it.
#[utoipa::path(
    tag = "records",
    params(("id" = i64, Path, description = "Report submission id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The report", body = ReportSubmission))
)]
#[get("/report-submissions/{id}")]
async fn get_submission(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ReportSubmission>> {
    let id = id.into_inner();
    let submission = db::read(&state.pool, move |conn| {
        reports::submission(conn, &actor, id)
    })
    .await?;
    Ok(web::Json(submission))
}
