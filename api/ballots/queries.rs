//! The voting area's queries. The ballot path (`consume_codes`, `cached_context`,
//! `write_ballots`) is set-based: one conditional update for a batch's codes, a cached
//! context per session, one statement for the batch's ballots (each carrying its ratings)
//! and one for their opinions (prepared once on PostgreSQL).

use std::sync::Arc;

use diesel::prelude::*;
use std::collections::HashMap;

use diesel::sql_types::{Date, Text};

use super::model::{
    Batch, BatchCodes, BatchRow, CategoryCodes, CategoryPaper, CodeRow, CodeState, FormSessionRow,
    FormSubject, ParticipantCategory, Rating,
};
use super::rules::{self, pack_ratings, BallotContext};
use super::ContextCache;
use crate::campaigns::model::{CampaignRow, FrozenTemplates};
use crate::db::arrays::{unnest_bigint, unnest_bool, unnest_text};
use crate::db::schema::{
    ballots, campaigns, opinions, orgs, session_subjects, sessions, voting_code_batches,
    voting_codes,
};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::orgs::model::Domain;
use crate::sessions::model::{SessionRow, SessionStatus};
use crate::templates::model::SubjectType;
use crate::types::now;

/// The templates a session's campaign froze when it was activated.
pub fn frozen(campaign: &CampaignRow) -> ApiResult<FrozenTemplates> {
    campaign
        .frozen()?
        .ok_or_else(|| ApiError::internal("an open session's campaign has no frozen templates"))
}

/// Builds the context a ballot of this session is checked against, taking its template
/// from `cache` when it holds it (and keeping it there).
pub fn load_context(
    conn: &mut DbConn,
    session_id: i64,
    cache: Option<&ContextCache>,
) -> ApiResult<BallotContext> {
    let (campaign_id, domain): (i64, Domain) = sessions::table
        .find(session_id)
        .select((sessions::campaign_id, sessions::domain))
        .first(conn)?;
    let template = match cache.and_then(|cache| cache.template(campaign_id, domain)) {
        Some(template) => template,
        None => {
            let campaign: CampaignRow = campaigns::table
                .find(campaign_id)
                .select(CampaignRow::as_select())
                .first(conn)?;
            let template = Arc::new(frozen(&campaign)?.for_domain(domain).clone());
            if let Some(cache) = cache {
                cache.put_template(campaign_id, domain, template.clone());
            }
            template
        }
    };
    let subjects: Vec<(i64, SubjectType)> = session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .select((session_subjects::id, session_subjects::subject_type))
        .load(conn)?;
    Ok(BallotContext::new(subjects.into_iter().collect(), template))
}

/// The context of an open session, from the cache when it is there.
pub fn cached_context(
    conn: &mut DbConn,
    cache: &ContextCache,
    session_id: i64,
) -> ApiResult<Arc<BallotContext>> {
    if let Some(ctx) = cache.get(session_id) {
        return Ok(ctx);
    }
    let ctx = Arc::new(load_context(conn, session_id, Some(cache))?);
    cache.put(session_id, ctx.clone());
    Ok(ctx)
}

/// Stores a new batch of codes (their keyed hashes) and answers its id.
pub fn insert_batch(
    conn: &mut DbConn,
    session_id: i64,
    category: ParticipantCategory,
    created_by: i64,
    hashes: &[String],
) -> ApiResult<i64> {
    let count = i32::try_from(hashes.len()).map_err(ApiError::internal)?;
    let batch_id: i64 = diesel::insert_into(voting_code_batches::table)
        .values((
            voting_code_batches::session_id.eq(session_id),
            voting_code_batches::category.eq(category),
            voting_code_batches::count.eq(count),
            voting_code_batches::created_by.eq(created_by),
            voting_code_batches::created_at.eq(now()),
        ))
        .returning(voting_code_batches::id)
        .get_result(conn)?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|hash| {
            (
                voting_codes::code_hash.eq(hash),
                voting_codes::session_id.eq(session_id),
                voting_codes::batch_id.eq(batch_id),
                voting_codes::category.eq(category),
                voting_codes::state.eq(CodeState::Unused),
            )
        })
        .collect();
    crate::insert_batch!(conn, voting_codes::table, &rows)?;
    Ok(batch_id)
}

/// A session's batches, oldest first, with their used and void codes counted.
pub fn batches(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<Batch>> {
    let rows: Vec<BatchRow> = voting_code_batches::table
        .filter(voting_code_batches::session_id.eq(session_id))
        .order(voting_code_batches::id)
        .select(BatchRow::as_select())
        .load(conn)?;
    let codes: Vec<BatchCodes> = voting_codes::table
        .filter(voting_codes::session_id.eq(session_id))
        .group_by((voting_codes::batch_id, voting_codes::state))
        .select((
            voting_codes::batch_id,
            voting_codes::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| rules::batch(row, &codes))
        .collect())
}

/// Marks a batch voided and its unused codes void; `None` when the session has no such
/// batch, else the number of codes voided.
pub fn void_batch(conn: &mut DbConn, session_id: i64, batch_id: i64) -> ApiResult<Option<usize>> {
    let updated = diesel::update(
        voting_code_batches::table
            .filter(voting_code_batches::id.eq(batch_id))
            .filter(voting_code_batches::session_id.eq(session_id)),
    )
    .set(voting_code_batches::voided_at.eq(now()))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    let voided = diesel::update(
        voting_codes::table
            .filter(voting_codes::batch_id.eq(batch_id))
            .filter(voting_codes::state.eq(CodeState::Unused)),
    )
    .set(voting_codes::state.eq(CodeState::Void))
    .execute(conn)?;
    Ok(Some(voided))
}

/// A session's codes per category and state, and its paper ballots per category.
pub fn turnout_counts(
    conn: &mut DbConn,
    session_id: i64,
) -> ApiResult<(Vec<CategoryCodes>, Vec<CategoryPaper>)> {
    let codes = voting_codes::table
        .filter(voting_codes::session_id.eq(session_id))
        .group_by((voting_codes::category, voting_codes::state))
        .select((
            voting_codes::category,
            voting_codes::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let paper = ballots::table
        .filter(ballots::session_id.eq(session_id))
        .filter(ballots::paper.eq(true))
        .group_by(ballots::category)
        .select((ballots::category, diesel::dsl::count_star()))
        .load(conn)?;
    Ok((codes, paper))
}

/// How many paper ballots the session holds.
/// The ids of a session's ballots (receipts are derived from them).
pub fn ballot_ids(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<String>> {
    Ok(ballots::table
        .filter(ballots::session_id.eq(session_id))
        .select(ballots::id)
        .load(conn)?)
}

pub fn paper_ballots(conn: &mut DbConn, session_id: i64) -> ApiResult<i64> {
    Ok(ballots::table
        .filter(ballots::session_id.eq(session_id))
        .filter(ballots::paper.eq(true))
        .count()
        .get_result(conn)?)
}

/// The code with this hash, if there is one.
pub fn find_code(conn: &mut DbConn, hash: &str) -> ApiResult<Option<CodeRow>> {
    Ok(voting_codes::table
        .filter(voting_codes::code_hash.eq(hash))
        .select((
            voting_codes::session_id,
            voting_codes::category,
            voting_codes::state,
        ))
        .first(conn)
        .optional()?)
}

/// What a ballot form shows of a session.
pub fn form_session(conn: &mut DbConn, session_id: i64) -> ApiResult<FormSessionRow> {
    Ok(sessions::table
        .inner_join(campaigns::table)
        .inner_join(orgs::table)
        .filter(sessions::id.eq(session_id))
        .select((
            sessions::status,
            sessions::kind,
            orgs::name,
            sessions::domain,
            CampaignRow::as_select(),
        ))
        .first(conn)?)
}

/// A session's subjects, in ballot order.
pub fn form_subjects(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<FormSubject>> {
    Ok(session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .order((session_subjects::position, session_subjects::id))
        .select(FormSubject::as_select())
        .load(conn)?)
}

/// A session's status, on PostgreSQL read with a key-share lock that closing the session
/// must wait for, so that it stays as read until this transaction ends.
pub fn hold_status(conn: &mut DbConn, session: &SessionRow) -> ApiResult<SessionStatus> {
    Ok(match conn {
        DbConn::Pg(pg) => sessions::table
            .find(session.id)
            .select(sessions::status)
            .for_key_share()
            .first::<SessionStatus>(pg)?,
        // SQLite's writers are serialized whole: a close cannot interleave.
        DbConn::Sqlite(_) => session.status,
    })
}

/// Marks codes used (distinct hashes) if unused and their session open, in one
/// conditional update, and answers those consumed, each with its session and category: of
/// concurrent uses of one code, exactly one gets it. Only the codes' own sessions are read
/// (found through the codes, then by their keys), so the cost does not grow with the number
/// of sessions open at once. On PostgreSQL those session rows are also key-share-locked (the
/// lock the ballots' foreign key takes anyway), and closing a session locks it for update,
/// so a close waits for the ballots in flight and no ballot commits after it.
pub fn consume_codes(
    conn: &mut DbConn,
    hashes: &[&str],
) -> ApiResult<HashMap<String, (i64, ParticipantCategory)>> {
    macro_rules! consume {
        ($open_sessions:expr) => {
            diesel::update(voting_codes::table)
                .filter(voting_codes::code_hash.eq_any(hashes))
                .filter(voting_codes::state.eq(CodeState::Unused))
                .filter(voting_codes::session_id.eq_any($open_sessions))
                .set(voting_codes::state.eq(CodeState::Used))
                .returning((
                    voting_codes::code_hash,
                    voting_codes::session_id,
                    voting_codes::category,
                ))
        };
    }
    // The inner read of the codes is aliased: diesel would otherwise take it for the outer
    // UPDATE's own table.
    let code = diesel::alias!(voting_codes as code);
    let codes_sessions = code
        .filter(code.field(voting_codes::code_hash).eq_any(hashes))
        .select(code.field(voting_codes::session_id));
    let open_sessions = sessions::table
        .filter(sessions::id.eq_any(codes_sessions))
        .filter(sessions::status.eq(SessionStatus::Open))
        .select(sessions::id);
    let consumed: Vec<(String, i64, ParticipantCategory)> = match conn {
        // The hashes are one array (`= ANY($1)`): the text never varies, kept prepared (see
        // `db::prepared`).
        DbConn::Pg(pg) => crate::db::prepared(consume!(open_sessions.for_key_share())).load(pg)?,
        // An `IN` list, parsed per batch. SQLite's writers are serialized whole: a close
        // cannot interleave.
        DbConn::Sqlite(sqlite) => consume!(open_sessions).load(sqlite)?,
    };
    Ok(consumed
        .into_iter()
        .map(|(hash, session, category)| (hash, (session, category)))
        .collect())
}

/// The states of the codes with these hashes, those that exist (read after
/// `consume_codes` left them unconsumed).
pub fn code_states(conn: &mut DbConn, hashes: &[&str]) -> ApiResult<HashMap<String, CodeState>> {
    Ok(voting_codes::table
        .inner_join(sessions::table)
        .filter(voting_codes::code_hash.eq_any(hashes))
        .select((voting_codes::code_hash, voting_codes::state))
        .load::<(String, CodeState)>(conn)?
        .into_iter()
        .collect())
}

/// A ballot to write: what it rates and, apart, its opinion.
pub struct NewBallot<'a> {
    pub session_id: i64,
    pub category: ParticipantCategory,
    pub paper: bool,
    pub ratings: &'a [Rating],
    pub opinion: Option<&'a str>,
}

/// Writes one ballot (see [`write_ballots`]) and answers its id.
pub fn write_ballot(conn: &mut DbConn, ballot: &NewBallot<'_>) -> ApiResult<String> {
    let mut ids = write_ballots(conn, std::slice::from_ref(ballot))?;
    ids.pop()
        .ok_or_else(|| ApiError::internal("a ballot was written without an id"))
}

/// Writes ballots, each with its ratings in its own row, and, apart, their opinions, and
/// answers their ids in order. A ballot names no code and no voter, its id is random and it
/// carries only the day; an opinion is a row of its own that names only the session.
///
/// On PostgreSQL every table gets one statement for all the ballots, taking arrays, so its
/// text is the same for any number of ballots and it stays prepared (a multi-row `VALUES`
/// would be parsed and planned anew every time). On SQLite, in process, a statement costs
/// no round trip: the rows go in ballot by ballot.
pub fn write_ballots(conn: &mut DbConn, new: &[NewBallot<'_>]) -> ApiResult<Vec<String>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let today = crate::types::local_today();
    let ids: Vec<String> = new.iter().map(|_| crate::auth::random_token(16)).collect();
    let packed = new
        .iter()
        .map(|b| pack_ratings(b.ratings))
        .collect::<ApiResult<Vec<String>>>()?;
    let mut opinions_in: Vec<(i64, &str)> = new
        .iter()
        .filter_map(|b| {
            let opinion = b.opinion.map(str::trim).filter(|o| !o.is_empty())?;
            Some((b.session_id, opinion))
        })
        .collect();
    // Opinions of one batch are stored in no particular order, not in their ballots' order.
    rand::seq::SliceRandom::shuffle(&mut opinions_in[..], &mut rand::rng());
    match conn {
        DbConn::Pg(pg) => {
            let sessions: Vec<i64> = new.iter().map(|b| b.session_id).collect();
            let categories: Vec<&str> = new.iter().map(|b| b.category.as_str()).collect();
            diesel::insert_into(ballots::table)
                .values(diesel::select((
                    unnest_text(&ids),
                    unnest_bigint(sessions),
                    unnest_text(categories),
                    unnest_bool(new.iter().map(|b| b.paper).collect::<Vec<_>>()),
                    today.into_sql::<Date>(),
                    unnest_text(&packed),
                )))
                .into_columns((
                    ballots::id,
                    ballots::session_id,
                    ballots::category,
                    ballots::paper,
                    ballots::cast_on,
                    ballots::ratings,
                ))
                .execute(pg)?;
            if !opinions_in.is_empty() {
                let opinion_ids: Vec<String> = opinions_in
                    .iter()
                    .map(|_| crate::auth::random_token(16))
                    .collect();
                diesel::insert_into(opinions::table)
                    .values(diesel::select((
                        unnest_text(opinion_ids),
                        unnest_bigint(opinions_in.iter().map(|o| o.0).collect::<Vec<_>>()),
                        unnest_text(opinions_in.iter().map(|o| o.1).collect::<Vec<_>>()),
                        today.into_sql::<Date>(),
                        crate::records::model::OpinionSource::Ballot
                            .as_str()
                            .into_sql::<Text>(),
                    )))
                    .into_columns((
                        opinions::id,
                        opinions::session_id,
                        opinions::content,
                        opinions::cast_on,
                        opinions::source,
                    ))
                    .execute(pg)?;
            }
        }
        DbConn::Sqlite(sqlite) => {
            for ((ballot, id), ratings) in new.iter().zip(&ids).zip(&packed) {
                diesel::insert_into(ballots::table)
                    .values((
                        ballots::id.eq(id),
                        ballots::session_id.eq(ballot.session_id),
                        ballots::category.eq(ballot.category),
                        ballots::paper.eq(ballot.paper),
                        ballots::cast_on.eq(today),
                        ballots::ratings.eq(ratings),
                    ))
                    .execute(sqlite)?;
            }
            for (session_id, content) in opinions_in {
                diesel::insert_into(opinions::table)
                    .values((
                        opinions::id.eq(crate::auth::random_token(16)),
                        opinions::session_id.eq(session_id),
                        opinions::content.eq(content),
                        opinions::cast_on.eq(today),
                        opinions::source.eq(crate::records::model::OpinionSource::Ballot),
                    ))
                    .execute(sqlite)?;
            }
        }
    }
    Ok(ids)
}
