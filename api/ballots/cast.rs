//! Casting ballots in sets: the writer that commits a batch of ballots consumes all their
//! codes in one statement and writes all their ballots, ratings and opinions in one
//! statement per table (see `db::SetWrite`), instead of a few statements per ballot.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::Rating;
use super::queries::{self, NewBallot};
use super::rules::CodeRefusal;
use super::ContextCache;
use crate::db::{claim_once, Claims, DbConn, SetWrite};
use crate::error::ApiError;

/// One voter's ballot, waiting for its batch: the keyed hash of its code and what it says.
pub struct Cast {
    pub code_hash: String,
    pub ratings: Vec<Rating>,
    pub opinion: Option<String>,
    pub contexts: Arc<ContextCache>,
}

/// A cast ballot's id, or why its code cast nothing.
pub type CastOutcome = Result<String, CodeRefusal>;

impl SetWrite for Cast {
    type Output = CastOutcome;

    /// Consumes the codes (each once: a code cast twice in one batch goes to its first
    /// ballot, the second is `code_used`), checks each ballot against its session's form,
    /// and writes them. A ballot that does not fit its form fails the set, so that the
    /// writer runs each alone and that one is refused alone with the code left unused.
    fn run_set(conn: &mut DbConn, casts: &[&Self]) -> Result<Vec<CastOutcome>, ApiError> {
        let keys: Vec<Option<&str>> = casts
            .iter()
            .map(|cast| Some(cast.code_hash.as_str()))
            .collect();
        let Claims {
            claims,
            consumed: cast_codes,
            unconsumed,
        } = claim_once(&keys, |hashes| queries::consume_codes(conn, hashes))?;
        let states = match unconsumed.is_empty() {
            true => HashMap::new(),
            false => queries::code_states(conn, &unconsumed)?,
        };
        let mut ballots = Vec::with_capacity(cast_codes.len());
        for (cast, claim) in casts.iter().zip(&claims) {
            let Some((session_id, category)) = *claim else {
                continue;
            };
            let context = queries::cached_context(conn, &cast.contexts, session_id)?;
            context.check_submitted(&cast.ratings, cast.opinion.as_deref())?;
            ballots.push(NewBallot {
                session_id,
                category,
                paper: false,
                ratings: &cast.ratings,
                opinion: cast.opinion.as_deref(),
            });
        }
        let mut ids = queries::write_ballots(conn, &ballots)?.into_iter();
        let mut outcomes = Vec::with_capacity(casts.len());
        for (cast, claim) in casts.iter().zip(&claims) {
            outcomes.push(match claim {
                Some(_) => Ok(ids
                    .next()
                    .ok_or_else(|| ApiError::internal("a cast ballot got no id"))?),
                None if cast_codes.contains(cast.code_hash.as_str()) => Err(CodeRefusal::Used),
                None => Err(CodeRefusal::of_unconsumed(
                    states.get(&cast.code_hash).copied(),
                )),
            });
        }
        Ok(outcomes)
    }
}
