//! The results area's queries: what a session's results are tallied from.

use diesel::prelude::*;

use super::model::{CountedRating, SessionCounts, SubjectBallots, SubjectInfo};
use crate::db::schema::{ballots, ratings, session_subjects};
use crate::db::DbConn;
use crate::error::ApiResult;

/// A session's subjects, its ratings counted per (subject, criterion, level, category),
/// its ballots per (subject, category) and in all.
pub fn session_counts(conn: &mut DbConn, session_id: i64) -> ApiResult<SessionCounts> {
    let subjects = session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .order((session_subjects::position, session_subjects::id))
        .select(SubjectInfo::as_select())
        .load(conn)?;
    let ratings: Vec<CountedRating> = ratings::table
        .inner_join(ballots::table)
        .filter(ballots::session_id.eq(session_id))
        .group_by((
            ratings::subject_id,
            ratings::criterion_id,
            ratings::level,
            ballots::category,
        ))
        .select((
            ratings::subject_id,
            ratings::criterion_id,
            ratings::level,
            ballots::category,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let subject_ballots: Vec<SubjectBallots> = ratings::table
        .inner_join(ballots::table)
        .filter(ballots::session_id.eq(session_id))
        .group_by((ratings::subject_id, ballots::category))
        .select((
            ratings::subject_id,
            ballots::category,
            diesel::dsl::count(ratings::ballot_id).aggregate_distinct(),
        ))
        .load(conn)?;
    let ballots: i64 = ballots::table
        .filter(ballots::session_id.eq(session_id))
        .count()
        .get_result(conn)?;
    Ok(SessionCounts {
        subjects,
        ratings,
        subject_ballots,
        ballots,
    })
}
