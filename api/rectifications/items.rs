//! What the handlers do with items, inside their transaction: load what the actor may see,
//! check, write, audit, and answer with the item as the API shows it.

use chrono::{Duration, NaiveDate};

use super::model::*;
use super::{queries, rules};
use crate::auth::policy::{covers, path_ids};
use crate::auth::{Action, Actor};
use crate::campaigns::model::CampaignRow;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::sessions::model::SessionStatus;
use crate::templates::model::SubjectType;
use crate::types::{local_today, now};

/// The item as the API shows it.
pub fn shown(
    row: RectificationRow,
    notes: Vec<Note>,
    opinion_ids: Vec<String>,
    today: NaiveDate,
) -> Rectification {
    Rectification {
        id: row.id,
        campaign_id: row.campaign_id,
        org_id: row.org_id,
        session_id: row.session_id,
        subject_id: row.subject_id,
        subject_type: row.subject_type,
        person_id: row.person_id,
        problem: row.problem,
        cause: row.cause,
        measures: row.measures,
        owner_person_id: row.owner_person_id,
        due_on: row.due_on,
        status: row.status,
        overdue: rules::is_overdue(row.due_on, row.status, today),
        verified_by: row.verified_by,
        verified_at: row.verified_at.map(|t| t.and_utc()),
        created_by: row.created_by,
        opinion_ids,
        notes,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// The item with its history and opinions.
pub fn full(conn: &mut DbConn, row: RectificationRow) -> ApiResult<Rectification> {
    let notes = queries::notes(conn, row.id)?
        .into_iter()
        .map(Note::from)
        .collect();
    let opinions = queries::opinion_ids(conn, row.id)?;
    Ok(shown(row, notes, opinions, local_today()))
}

/// The item as stored now, in full.
fn reloaded(conn: &mut DbConn, id: i64) -> ApiResult<Rectification> {
    let row = queries::find(conn, id)?;
    full(conn, row)
}

/// An item the actor may see (404 otherwise), with its org.
pub fn visible(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<(RectificationRow, OrgRow)> {
    let row = queries::find(conn, id)?;
    let org = crate::orgs::queries::find(conn, row.org_id)?;
    let me = crate::sessions::queries::user_person(conn, actor.user_id)?;
    let about_self = me.is_some() && row.person_id == me;
    actor.authorize_record_read(&org.path, about_self)?;
    Ok((row, org))
}

/// A campaign the actor sees and one of its orgs (default: its owner). An org named in a
/// body (`in_body`) that is out of sight or outside the campaign is a field error; one named
/// in the query is not found.
fn campaign_and_org(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    org_id: Option<i64>,
    in_body: bool,
) -> ApiResult<(CampaignRow, OrgRow)> {
    let (campaign, owner) = crate::campaigns::authorized(conn, actor, campaign_id, Action::Read)?;
    let org = match org_id {
        Some(id) if in_body => crate::orgs::queries::find_referenced(conn, actor, id, "org_id")?,
        Some(id) => crate::orgs::authorized(conn, actor, id, Action::Read)?,
        None => owner.clone(),
    };
    if !covers(&owner.path, &org.path) {
        return Err(if in_body {
            ApiError::field("org_id", "is not in the campaign's tree")
        } else {
            ApiError::not_found()
        });
    }
    Ok((campaign, org))
}

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    body: &CreateRectification,
) -> ApiResult<Rectification> {
    let (campaign, org) = campaign_and_org(conn, actor, body.campaign_id, Some(body.org_id), true)?;
    actor.authorize(Action::Rectify, &org.path)?;
    if campaign.status == crate::campaigns::rules::CampaignStatus::Draft {
        return Err(ApiError::field(
            "campaign_id",
            "the campaign is still a draft",
        ));
    }
    let subject = match (body.session_id, body.subject_id) {
        (None, Some(_)) => return Err(ApiError::field("subject_id", "needs session_id")),
        (None, None) => None,
        (Some(session_id), subject_id) => {
            let session = crate::sessions::queries::find(conn, session_id)?;
            if session.campaign_id != campaign.id || session.org_id != org.id {
                return Err(ApiError::field(
                    "session_id",
                    "is not a session of this org in this campaign",
                ));
            }
            match subject_id {
                Some(id) => Some((
                    id,
                    queries::session_subject(conn, session_id, id)?.ok_or_else(|| {
                        ApiError::field("subject_id", "is not a subject of the session")
                    })?,
                )),
                None => None,
            }
        }
    };
    check_owner(conn, body.owner_person_id, org.id)?;
    rules::check_due(body.due_on, local_today())?;
    check_opinions(conn, body.session_id, &body.opinion_ids)?;
    let at = now();
    let id = queries::insert(
        conn,
        &NewRectification {
            campaign_id: campaign.id,
            org_id: org.id,
            session_id: body.session_id,
            subject_id: subject.as_ref().map(|(id, _)| *id),
            subject_type: subject.as_ref().map(|(_, s)| s.0),
            person_id: subject.as_ref().and_then(|(_, s)| s.1),
            problem: body.problem.trim().to_owned(),
            cause: body.cause.trim().to_owned(),
            measures: body.measures.trim().to_owned(),
            owner_person_id: body.owner_person_id,
            due_on: body.due_on,
            status: RectificationStatus::Open,
            submitted_once: false,
            created_by: Some(actor.user_id),
            created_at: at,
            updated_at: at,
        },
    )?;
    queries::set_opinions(conn, id, &body.opinion_ids)?;
    let summary = format!("opened a rectification item for {}", org.name);
    record(
        conn,
        actor,
        "rectification.create",
        ("rectification", id),
        org.id,
        summary,
    )?;
    reloaded(conn, id)
}

/// The person who answers for an item is an active person of its org.
fn check_owner(conn: &mut DbConn, owner: Option<i64>, org_id: i64) -> ApiResult<()> {
    match owner {
        Some(person) if !queries::person_of_org(conn, person, org_id)? => Err(ApiError::field(
            "owner_person_id",
            "is not an active person of the org",
        )),
        _ => Ok(()),
    }
}

/// Linked opinions are opinions of the item's session.
fn check_opinions(conn: &mut DbConn, session_id: Option<i64>, ids: &[String]) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut distinct = ids.to_vec();
    distinct.sort();
    distinct.dedup();
    let found = match session_id {
        Some(session) => queries::opinions_of_session(conn, session, &distinct)?,
        None => 0,
    };
    if found != distinct.len() as i64 {
        return Err(ApiError::field(
            "opinion_ids",
            "every opinion must be one of the item's session",
        ));
    }
    Ok(())
}

pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    body: &UpdateRectification,
) -> ApiResult<Rectification> {
    let (row, org) = visible(conn, actor, id)?;
    actor.authorize(Action::Rectify, &org.path)?;
    if body.problem.is_some() {
        actor.authorize_problem_change(&org.path, row.submitted_once)?;
    }
    rules::check_editable(row.status)?;
    if let Some(owner) = body.owner_person_id {
        check_owner(conn, owner, org.id)?;
    }
    if let Some(due_on) = body.due_on.filter(|d| *d != row.due_on) {
        rules::check_due(due_on, local_today())?;
    }
    if let Some(ids) = &body.opinion_ids {
        check_opinions(conn, row.session_id, ids)?;
        queries::set_opinions(conn, id, ids)?;
    }
    queries::update(
        conn,
        id,
        &queries::Changes {
            problem: body.problem.as_deref().map(str::trim),
            cause: body.cause.as_deref().map(str::trim),
            measures: body.measures.as_deref().map(str::trim),
            owner_person_id: body.owner_person_id,
            due_on: body.due_on,
            updated_at: now(),
        },
    )?;
    let summary = format!("changed a rectification item of {}", org.name);
    record(
        conn,
        actor,
        "rectification.update",
        ("rectification", id),
        org.id,
        summary,
    )?;
    reloaded(conn, id)
}

/// A step of the workflow: progress and submission by the org (or from above), verification
/// and return from a strict superior only; a note for the step's text; audited.
pub fn step(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    kind: NoteKind,
    note: Option<String>,
) -> ApiResult<Rectification> {
    let (row, org) = visible(conn, actor, id)?;
    match kind {
        NoteKind::Progress | NoteKind::Submit => actor.authorize(Action::Rectify, &org.path)?,
        NoteKind::Verify | NoteKind::Return => actor.authorize_sign_off(&org.path)?,
    }
    let to = rules::step(row.status, kind)?;
    if !queries::move_status(conn, &row, to, actor.user_id)? {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The item changed meanwhile.",
        ));
    }
    if let Some(note) = note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        queries::add_note(conn, id, kind, note, actor.user_id)?;
    }
    let summary = format!("{} → {to}: an item of {}", row.status, org.name);
    let action = format!("rectification.{kind}");
    record(conn, actor, &action, ("rectification", id), org.id, summary)?;
    let announced = match kind {
        NoteKind::Submit => Some(crate::webhooks::EventType::RectificationSubmitted),
        NoteKind::Verify => Some(crate::webhooks::EventType::RectificationVerified),
        NoteKind::Progress | NoteKind::Return => None,
    };
    if let Some(event_type) = announced {
        let data = serde_json::json!({
            "rectification_id": id,
            "campaign_id": row.campaign_id,
            "org_id": org.id,
            "status": to,
            "due_on": row.due_on,
        });
        crate::webhooks::outbox::emit(
            conn,
            crate::webhooks::outbox::Outgoing {
                event_type,
                org_id: org.id,
                resource: format!("rectification:{id}"),
                data,
            },
        )?;
    }
    reloaded(conn, id)
}

/// Counts per status (and overdue) for the subtree and each direct child's subtree.
pub fn summary(
    conn: &mut DbConn,
    actor: &Actor,
    query: &SummaryQuery,
) -> ApiResult<RectificationSummary> {
    let (campaign, org) = campaign_and_org(conn, actor, query.campaign_id, query.org_id, false)?;
    actor.authorize(Action::ReadResults, &org.path)?;
    let today = local_today();
    let depth = path_ids(&org.path).count();
    let children = crate::orgs::queries::children(conn, org.id)?;
    let mut total = StatusCounts::default();
    let mut per_child: std::collections::HashMap<i64, StatusCounts> = Default::default();
    for (_, path, status, due_on, n) in queries::counts(conn, campaign.id, &org.path)? {
        let overdue = rules::is_overdue(due_on, status, today);
        rules::count(&mut total, status, overdue, n);
        if let Some(child) = path_ids(&path).nth(depth) {
            rules::count(per_child.entry(child).or_default(), status, overdue, n);
        }
    }
    Ok(RectificationSummary {
        campaign_id: campaign.id,
        org_id: org.id,
        total,
        children: children
            .into_iter()
            .map(|(id, name)| ChildCounts {
                org_id: id,
                name,
                counts: per_child.remove(&id).unwrap_or_default(),
            })
            .collect(),
    })
}

/// Items for the flagged subjects of a closed session that have none yet.
pub fn generate(
    conn: &mut DbConn,
    actor: &Actor,
    session_id: i64,
    due_on: Option<NaiveDate>,
) -> ApiResult<Generated> {
    let session = crate::sessions::queries::find(conn, session_id)?;
    let org = crate::orgs::queries::find(conn, session.org_id)?;
    actor.authorize(Action::Rectify, &org.path)?;
    if session.status != SessionStatus::Closed {
        crate::results::rules::results_shown(session.status)?;
    }
    let today = local_today();
    let due_on = due_on.unwrap_or(today + Duration::days(rules::DEFAULT_DAYS));
    rules::check_due(due_on, today)?;
    // Two concurrent calls for one session: the second waits, then finds the items.
    crate::sessions::queries::lock_session(conn, session_id)?;
    let campaign = crate::campaigns::queries::find(conn, session.campaign_id)?;
    let flagged = flagged_subjects(conn, &campaign, session_id)?;
    let existing = queries::by_subject(conn, &flagged.iter().map(|f| f.0).collect::<Vec<_>>())?;
    let at = now();
    let mut ids = Vec::new();
    for (subject_id, subject_type, person_id, name, rate) in flagged {
        if existing.contains_key(&subject_id) {
            continue;
        }
        let owner = match subject_type {
            SubjectType::Org => org.secretary_id,
            _ => person_id,
        };
        let owner = match owner {
            Some(p) if queries::person_of_org(conn, p, org.id)? => Some(p),
            _ => None,
        };
        let problem = rules::generated_problem(&name, rate, campaign.low_satisfaction_threshold);
        ids.push(queries::insert(
            conn,
            &NewRectification {
                campaign_id: campaign.id,
                org_id: org.id,
                session_id: Some(session_id),
                subject_id: Some(subject_id),
                subject_type: Some(subject_type),
                person_id,
                problem,
                cause: String::new(),
                measures: String::new(),
                owner_person_id: owner,
                due_on,
                status: RectificationStatus::Open,
                submitted_once: false,
                created_by: Some(actor.user_id),
                created_at: at,
                updated_at: at,
            },
        )?);
    }
    if !ids.is_empty() {
        let summary = format!("opened {} rectification items for {}", ids.len(), org.name);
        record(
            conn,
            actor,
            "rectification.generate",
            ("session", session_id),
            org.id,
            summary,
        )?;
    }
    let items = ids
        .iter()
        .map(|id| reloaded(conn, *id))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Generated {
        created: items.len() as i64,
        items,
    })
}

/// The session's subjects flagged in its tallies (at least k ballots, under the threshold):
/// id, type, person, name and rate.
type Flagged = (i64, SubjectType, Option<i64>, String, f64);

fn flagged_subjects(
    conn: &mut DbConn,
    campaign: &CampaignRow,
    session_id: i64,
) -> ApiResult<Vec<Flagged>> {
    let subjects = crate::results::queries::subjects(conn, session_id)?;
    let stored = crate::results::queries::stored(conn, session_id)?;
    let k = i64::from(campaign.min_category_ballots);
    Ok(subjects
        .into_iter()
        .filter_map(|s| {
            let t = stored.subjects.iter().find(|t| t.subject_id == s.id)?;
            let sums = crate::results::rules::Sums {
                valid: t.valid,
                satisfied: t.satisfied,
                points: t.points,
            };
            let figures = crate::results::rules::figures(
                t.ballots,
                sums,
                k,
                campaign.low_satisfaction_threshold,
            );
            figures.flagged.then(|| {
                let rate = t.satisfied as f64 / t.valid as f64;
                (s.id, s.subject_type, s.person_id, s.name, rate)
            })
        })
        .collect())
}
