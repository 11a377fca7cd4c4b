//! What the case handlers do inside their transaction: load what the actor may see, check
//! the step against the case's status and the actor's grants, write with a conditional
//! update, audit, and answer with the case as the actor may see it.

use super::model::*;
use super::queries::{self, CaseChanges};
use super::rules::{self, Step};
use crate::auth::{Action, Actor};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::types::{local_today, now};

/// A case the actor may see (those who read results at its org: 404 otherwise), with its org.
pub fn visible(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<(CaseRow, OrgRow)> {
    let row = queries::find_case(conn, id)?;
    let org = crate::orgs::queries::find(conn, row.org_id)?;
    actor.authorize_record_read(&org.path, false)?;
    Ok((row, org))
}

/// The case as the actor sees it: the contact in full only for those who handle it.
pub fn shown(conn: &mut DbConn, actor: &Actor, row: CaseRow, org: &OrgRow) -> ApiResult<Case> {
    let point_name = queries::find_point(conn, row.point_id)?.name;
    let handler = actor.allows(Action::Record, &org.path);
    Ok(rules::shown(row, point_name, handler, local_today()))
}

/// One step of a case, by whoever the step needs: follow-up, resolution and appeal by those
/// who keep the org's records; the decision on an appeal by an org admin of a strict
/// ancestor; an upheld appeal takes the rating out of every figure.
pub fn step(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    step: Step,
    changes: CaseChanges,
) -> ApiResult<Case> {
    let (row, org) = visible(conn, actor, id)?;
    match step {
        Step::Decide(_) => actor.authorize_appeal_decision(&org.path)?,
        _ => actor.authorize(Action::Record, &org.path)?,
    }
    let to = rules::next_status(row.status, row.appeal_decision, step)?;
    if !queries::move_case(conn, id, row.status, to, changes, now())? {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The case changed meanwhile; read it again.",
        ));
    }
    if to == CaseStatus::Upheld {
        let rating = queries::rating_of_case(conn, id)?;
        queries::uncount_rating(conn, &rating)?;
    }
    let (action, what) = match step {
        Step::FollowUp => ("instant_case.follow_up", "followed up"),
        Step::Resolve => ("instant_case.resolve", "resolved"),
        Step::Appeal => ("instant_case.appeal", "appealed"),
        Step::Decide(AppealDecision::Upheld) => ("instant_case.uphold", "upheld the appeal of"),
        Step::Decide(AppealDecision::Kept) => ("instant_case.keep", "kept (appeal rejected)"),
    };
    let summary = format!("{what} bad review case {id} of {}", org.name);
    record(conn, actor, action, ("instant_case", id), org.id, summary)?;
    let row = queries::find_case(conn, id)?;
    shown(conn, actor, row, &org)
}

/// The changes a step writes, dated today (China Standard Time).
pub fn follow_up(body: &FollowUp) -> CaseChanges {
    CaseChanges {
        follow_up_result: Some(body.result),
        follow_up_note: Some(body.note.trim().to_owned()),
        followed_up_on: Some(local_today()),
        ..Default::default()
    }
}

pub fn resolve(body: &Resolve) -> CaseChanges {
    CaseChanges {
        measures: Some(body.measures.trim().to_owned()),
        reply: Some(body.reply.trim().to_owned()),
        resolved_on: Some(local_today()),
        ..Default::default()
    }
}

pub fn appeal(body: &Appeal) -> CaseChanges {
    CaseChanges {
        appeal_reason: Some(body.reason.trim().to_owned()),
        appealed_on: Some(local_today()),
        ..Default::default()
    }
}

pub fn decide(body: &DecideAppeal) -> CaseChanges {
    CaseChanges {
        appeal_decision: Some(body.decision),
        decision_note: Some(body.note.trim().to_owned()),
        decided_on: Some(local_today()),
        ..Default::default()
    }
}

/// Opens a rectification item (整改) for the case's org in a campaign, with the review as
/// its problem, and links it to the case (one item per case).
pub fn open_rectification(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    body: &OpenRectification,
) -> ApiResult<Case> {
    let (row, org) = visible(conn, actor, id)?;
    if row.status == CaseStatus::Upheld {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The appeal was upheld: the review no longer counts.",
        ));
    }
    if row.rectification_id.is_some() {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The case has a rectification item already.",
        ));
    }
    let (_, owner) = crate::campaigns::referenced(conn, actor, body.campaign_id, "campaign_id")?;
    if !crate::auth::policy::covers(&owner.path, &org.path) {
        return Err(ApiError::field(
            "campaign_id",
            "the case's org is not in the campaign's tree",
        ));
    }
    let point = queries::find_point(conn, row.point_id)?;
    let problem = match row.comment.as_deref() {
        Some(comment) => format!(
            "{}「{}」差评（{}）：{comment}",
            org.name,
            point.name,
            row.level.label_zh()
        ),
        None => format!(
            "{}「{}」差评（{}）",
            org.name,
            point.name,
            row.level.label_zh()
        ),
    };
    let create = crate::rectifications::model::CreateRectification {
        campaign_id: body.campaign_id,
        org_id: org.id,
        session_id: None,
        subject_id: None,
        problem: problem.chars().take(2000).collect(),
        cause: String::new(),
        measures: body.measures.trim().to_owned(),
        owner_person_id: None,
        due_on: body.due_on,
        opinion_ids: Vec::new(),
    };
    let item = crate::rectifications::items::create(conn, actor, &create)?;
    if !queries::link_rectification(conn, id, item.id, now())? {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The case has a rectification item already.",
        ));
    }
    let summary = format!(
        "opened rectification item {} for bad review case {id}",
        item.id
    );
    record(
        conn,
        actor,
        "instant_case.rectify",
        ("instant_case", id),
        org.id,
        summary,
    )?;
    let row = queries::find_case(conn, id)?;
    shown(conn, actor, row, &org)
}
