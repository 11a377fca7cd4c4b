//! Leader comments (领导点评): what the superior org's delegate says about a session or one
//! of its subjects, fixed once the session closes.

use super::model::*;
use super::queries;
use super::{rules, session_at, session_for_write};
use crate::auth::Actor;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::orgs::record;
use crate::sessions::model::SessionStatus;
use crate::types::now;

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    body: &CreateLeaderComment,
) -> ApiResult<LeaderComment> {
    let at = session_for_write(conn, actor, session_id)?;
    actor.authorize_leader_comment(&at.org.path)?;
    if let Some(subject) = body.subject_id {
        if crate::sessions::queries::find_subject(conn, session_id, subject)?.is_none() {
            return Err(ApiError::field(
                "subject_id",
                "is not a subject of the session",
            ));
        }
    }
    let text = body.body.trim();
    if text.is_empty() {
        return Err(ApiError::field("body", "must not be blank"));
    }
    rules::check_session_open_for_records(at.session.status == SessionStatus::Closed)?;
    let row = queries::insert_comment(
        conn,
        session_id,
        body.subject_id,
        text,
        actor.user_id,
        now(),
    )?;
    let summary = format!("commented on the session of {}", at.org.name);
    record(
        conn,
        actor,
        "leader_comment.create",
        ("leader_comment", row.id),
        at.org.id,
        summary,
    )?;
    Ok(row.into())
}

/// A session's comments: all for those who read the org's records; for anyone else who
/// sees the org, those on the subject rating themselves.
pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    page: &PageQuery,
) -> ApiResult<Page<LeaderComment>> {
    let at = session_at(conn, actor, session_id)?;
    let only = (!actor.may_read_record(&at.org.path, false)).then_some(at.me);
    let (rows, total) = queries::comments_of(conn, session_id, only, page)?;
    Ok(Page::new(
        rows.into_iter().map(LeaderComment::from).collect(),
        total,
        page,
    ))
}

/// One comment the actor may read.
pub fn visible(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<LeaderComment> {
    let row = queries::find_comment(conn, id)?;
    let at = session_at(conn, actor, row.session_id)?;
    let about_self = match (row.subject_id, at.me) {
        (Some(subject), Some(me)) => {
            crate::sessions::queries::find_subject(conn, row.session_id, subject)?
                .is_some_and(|s| s.person_id == Some(me))
        }
        _ => false,
    };
    actor.authorize_record_read(&at.org.path, about_self)?;
    Ok(row.into())
}
