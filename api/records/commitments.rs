//! Public commitments (公开承诺) of orgs and members in a campaign, and their fulfilment
//! (践诺), checked by those who keep the org's records — never by whom they are about.

use super::model::*;
use super::queries::{self, CommitmentChanges, NewCommitment, VisibleCommitments};
use super::rules;
use crate::auth::policy::{covers, CommitmentBy};
use crate::auth::{Action, Actor};
use crate::campaigns::rules::CampaignStatus;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::{Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::types::now;

/// A commitment the actor may read (404 otherwise), with its org and whether it is the
/// actor's own.
pub fn visible(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
) -> ApiResult<(CommitmentRow, OrgRow, bool)> {
    let row = queries::find_commitment(conn, id)?;
    let org = crate::orgs::queries::find(conn, row.org_id)?;
    let me = crate::sessions::queries::user_person(conn, actor.user_id)?;
    let own = me.is_some() && row.person_id == me;
    actor.authorize_record_read(&org.path, own)?;
    Ok((row, org, own))
}

pub fn create(conn: &mut DbConn, actor: &Actor, body: &CreateCommitment) -> ApiResult<Commitment> {
    let (campaign, owner) =
        crate::campaigns::referenced(conn, actor, body.campaign_id, "campaign_id")?;
    check_campaign_open(campaign.status)?;
    let org_id = match (body.org_id, body.person_id) {
        (Some(org), _) => org,
        (None, Some(person)) => visible_person_org(conn, actor, person)?,
        (None, None) => {
            return Err(ApiError::field(
                "org_id",
                "name the org, or the member making the commitment",
            ))
        }
    };
    let org = crate::orgs::queries::find_referenced(conn, actor, org_id, "org_id")?;
    if !covers(&owner.path, &org.path) {
        return Err(ApiError::field("org_id", "is not in the campaign's tree"));
    }
    let me = crate::sessions::queries::user_person(conn, actor.user_id)?;
    let own = me.is_some() && body.person_id == me;
    actor.authorize_record_write(&org.path, own)?;
    if let Some(person) = body.person_id {
        if !crate::rectifications::queries::person_of_org(conn, person, org.id)? {
            return Err(ApiError::field(
                "person_id",
                "is not an active person of the org",
            ));
        }
    }
    let content = body.content.trim();
    if content.is_empty() {
        return Err(ApiError::field("content", "must not be blank"));
    }
    let id = queries::insert_commitment(
        conn,
        &NewCommitment {
            campaign_id: body.campaign_id,
            org_id: org.id,
            person_id: body.person_id,
            content,
            created_by: actor.user_id,
            at: now(),
        },
    )?;
    let summary = format!("recorded a commitment of {}", org.name);
    record(
        conn,
        actor,
        "commitment.create",
        ("commitment", id),
        org.id,
        summary,
    )?;
    Ok(queries::find_commitment(conn, id)?.into())
}

/// The org of a person the actor sees (a person out of sight is reported as missing).
fn visible_person_org(conn: &mut DbConn, actor: &Actor, person: i64) -> ApiResult<i64> {
    let org = match crate::people::queries::find_opt(conn, person)? {
        Some(p) => crate::orgs::queries::find_opt(conn, p.org_id)?,
        None => None,
    };
    match org {
        Some(org) if actor.can_see(&org.path) => Ok(org.id),
        _ => Err(ApiError::field("person_id", "no such person")),
    }
}

/// Commitments change while their campaign runs; closed or published, it is history.
fn check_campaign_open(status: CampaignStatus) -> ApiResult<()> {
    if matches!(status, CampaignStatus::Closed | CampaignStatus::Published) {
        return Err(ApiError::conflict(
            ErrorCode::CampaignClosed,
            "The campaign is closed: its commitments no longer change.",
        ));
    }
    Ok(())
}

pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    body: &UpdateCommitment,
) -> ApiResult<Commitment> {
    let (row, org, own) = visible(conn, actor, id)?;
    check_campaign_open(crate::campaigns::queries::find(conn, row.campaign_id)?.status)?;
    let content = body.content.as_deref().map(str::trim);
    if content.is_some() {
        actor.authorize_record_write(&org.path, own)?;
        if content == Some("") {
            return Err(ApiError::field("content", "must not be blank"));
        }
    }
    let checking = body.status.is_some() || body.evidence.is_some();
    if checking {
        let made_by = match row.person_id {
            None => CommitmentBy::Org,
            Some(_) => CommitmentBy::Member {
                actor_is_member: own,
            },
        };
        actor.authorize_commitment_check(&org.path, made_by)?;
    }
    let status = body.status.unwrap_or(row.status);
    let evidence = body.evidence.as_deref().map(str::trim);
    rules::check_commitment_change(
        row.status,
        content.is_some(),
        status,
        evidence.unwrap_or(&row.evidence),
    )?;
    let at = now();
    queries::update_commitment(
        conn,
        id,
        &CommitmentChanges {
            content,
            status: body.status,
            evidence,
            checked_by: checking.then_some(Some(actor.user_id)),
            checked_at: checking.then_some(Some(at)),
            updated_at: at,
        },
    )?;
    let summary = format!("{} → {status}: a commitment of {}", row.status, org.name);
    record(
        conn,
        actor,
        "commitment.update",
        ("commitment", id),
        org.id,
        summary,
    )?;
    Ok(queries::find_commitment(conn, id)?.into())
}

pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    filter: &CommitmentListQuery,
    page: &PageQuery,
) -> ApiResult<Page<Commitment>> {
    let within = match filter.org_id {
        Some(id) => Some(crate::orgs::authorized(conn, actor, id, Action::Read)?.path),
        None => None,
    };
    let visible = VisibleCommitments {
        readable: actor.scope_for(Action::ReadResults),
        seen: actor.scope(),
        person_id: crate::sessions::queries::user_person(conn, actor.user_id)?,
    };
    let (rows, total) = queries::commitments_list(conn, &visible, filter, within.as_deref(), page)?;
    Ok(Page::new(
        rows.into_iter().map(Commitment::from).collect(),
        total,
        page,
    ))
}

/// A campaign's commitments at one org by status (the org's own, or one member's), for
/// showing beside the results.
pub fn counts(
    conn: &mut DbConn,
    campaign_id: i64,
    org_id: i64,
    person: Option<i64>,
) -> ApiResult<CommitmentCounts> {
    let mut counts = CommitmentCounts::default();
    for (status, n) in queries::commitment_counts(conn, campaign_id, org_id, person)? {
        match status {
            CommitmentStatus::Pending => counts.pending = n,
            CommitmentStatus::Fulfilled => counts.fulfilled = n,
            CommitmentStatus::Partial => counts.partial = n,
            CommitmentStatus::Unfulfilled => counts.unfulfilled = n,
        }
    }
    Ok(counts)
}
