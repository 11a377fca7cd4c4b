//! Opinions and suggestions (意见建议) about a session's org: typed in from surveys, visits
//! and the meeting, and (after close) those written on ballots.

use super::model::*;
use super::queries::{self, NewOpinion};
use super::{rules, session_at, session_for_write};
use crate::auth::Actor;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::http::{Page, PageQuery};
use crate::orgs::record;
use crate::sessions::model::SessionStatus;
use crate::types::local_today;

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    body: &CreateOpinion,
) -> ApiResult<Opinion> {
    let at = session_for_write(conn, actor, session_id)?;
    actor.authorize_record_write(&at.org.path, false)?;
    rules::check_opinion_source(body.source)?;
    let content = body.content.trim();
    if content.is_empty() {
        return Err(crate::error::ApiError::field(
            "content",
            "must not be blank",
        ));
    }
    rules::check_session_open_for_records(at.session.status == SessionStatus::Closed)?;
    let id = crate::auth::random_token(16);
    queries::insert_opinion(
        conn,
        &NewOpinion {
            id: &id,
            session_id,
            source: body.source,
            category: body.category,
            content,
            day: local_today(),
            recorded_by: actor.user_id,
        },
    )?;
    let summary = format!("recorded a {} opinion about {}", body.source, at.org.name);
    record(
        conn,
        actor,
        "opinion.create",
        ("session", session_id),
        at.org.id,
        summary,
    )?;
    Ok(queries::find_opinion(conn, &id)?.1)
}

/// The opinions of a session, for its org admins and those above: those typed in at any
/// time, the ballots' own once the session has closed.
pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    filter: &OpinionListQuery,
    page: &PageQuery,
) -> ApiResult<Page<Opinion>> {
    let at = session_at(conn, actor, session_id)?;
    actor.authorize_opinions(&at.org.path)?;
    let closed = at.session.status == SessionStatus::Closed;
    let (items, total) = queries::opinions_of(conn, session_id, closed, filter, page)?;
    Ok(Page::new(items, total, page))
}

/// One opinion, for those who list its session's opinions (a ballot's only after close).
pub fn visible(conn: &mut DbConn, actor: &Actor, id: &str) -> ApiResult<Opinion> {
    let (session_id, opinion) = queries::find_opinion(conn, id)?;
    let at = session_at(conn, actor, session_id)?;
    actor.authorize_opinion_read(&at.org.path)?;
    if opinion.source == OpinionSource::Ballot && at.session.status != SessionStatus::Closed {
        return Err(crate::error::ApiError::not_found());
    }
    Ok(opinion)
}
