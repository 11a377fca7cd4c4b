//! Evaluations held straight in the database, for the demo and the city-scale benchmark: a
//! campaign activated, sessions scheduled, ballots written and sessions closed through the
//! same queries the API's handlers use, so the tallies are the ones a real meeting leaves.

use chrono::{DateTime, NaiveDate, Utc};

use crate::ballots::model::{ParticipantCategory, Rating};
use crate::campaigns::queries::StepChanges;
use crate::campaigns::rules::{CampaignFields, CampaignStatus};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::orgs::model::OrgRow;
use crate::sessions::model::{SessionKind, SessionStatus};
use crate::sessions::queries::NewSession;
use crate::templates::model::{SubjectType, Template};

/// A campaign over `owner`'s subtree with the built-in template, k = 5, threshold 0.8,
/// activated (its templates frozen); its id.
pub fn active_campaign(
    conn: &mut DbConn,
    owner: &OrgRow,
    title: &str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
) -> ApiResult<i64> {
    let fields = CampaignFields {
        title: title.to_owned(),
        starts_on,
        ends_on,
        template_id: 1,
        domain_templates: Default::default(),
        min_category_ballots: 5,
        low_satisfaction_threshold: 0.8,
        commendation_share: 0.1,
    };
    let id = crate::campaigns::queries::insert(conn, owner.id, &fields)?;
    let row = crate::campaigns::queries::find(conn, id)?;
    let changes = StepChanges {
        frozen_templates: Some(crate::campaigns::freeze(conn, &row)?),
        ..Default::default()
    };
    crate::campaigns::queries::step(
        conn,
        id,
        CampaignStatus::Draft,
        CampaignStatus::Active,
        changes,
    )?;
    Ok(id)
}

/// A session of `org` in the campaign, with its subjects (the org, its secretary, each
/// active member); its id.
pub fn schedule(
    conn: &mut DbConn,
    campaign_id: i64,
    org: &OrgRow,
    kind: SessionKind,
    at: DateTime<Utc>,
) -> ApiResult<i64> {
    crate::sessions::insert_session(
        conn,
        &NewSession {
            campaign_id,
            org,
            kind,
            scheduled_at: at,
            location: None,
            observer_user_id: None,
        },
    )
}

/// Opens a scheduled session.
pub fn open(conn: &mut DbConn, session_id: i64) -> ApiResult<()> {
    step(conn, session_id, SessionStatus::Open)
}

/// Closes an open session as the API does: tallies stored, ballots rewritten.
pub fn close(conn: &mut DbConn, session_id: i64) -> ApiResult<()> {
    step(conn, session_id, SessionStatus::Closed)
}

fn step(conn: &mut DbConn, session_id: i64, to: SessionStatus) -> ApiResult<()> {
    let row = crate::sessions::queries::find(conn, session_id)?;
    if !crate::sessions::queries::move_status(conn, &row, to)? {
        return Err(ApiError::internal(format!(
            "session {session_id} did not move from {} to {to}",
            row.status
        )));
    }
    Ok(())
}

/// The ballot of one voter: a level for every criterion of each subject `level_of` rates
/// (by subject type and position on the ballot; `None` abstains).
pub fn ballot(
    template: &Template,
    subjects: &[(i64, SubjectType)],
    mut level_of: impl FnMut(usize, SubjectType, usize) -> Option<&'static str>,
) -> Vec<Rating> {
    let mut ratings = Vec::new();
    for (position, &(subject_id, subject_type)) in subjects.iter().enumerate() {
        for (c, criterion) in template.criteria.of(subject_type).iter().enumerate() {
            if let Some(level) = level_of(position, subject_type, c) {
                ratings.push(Rating {
                    subject_id,
                    criterion_id: criterion.id,
                    level: level.to_owned(),
                });
            }
        }
    }
    ratings
}

/// Writes ballots of `category` (as typed in from paper forms).
pub fn write_ballots(
    conn: &mut DbConn,
    session_id: i64,
    category: ParticipantCategory,
    ballots: &[Vec<Rating>],
) -> ApiResult<()> {
    let ballots: Vec<_> = ballots
        .iter()
        .filter(|r| !r.is_empty())
        .map(|ratings| crate::ballots::queries::NewBallot {
            session_id,
            category,
            paper: true,
            ratings,
            opinion: None,
        })
        .collect();
    crate::ballots::queries::write_ballots(conn, &ballots)?;
    Ok(())
}
