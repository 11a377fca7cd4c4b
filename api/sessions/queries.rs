//! Session queries. Every change of `sessions.status` is written here, the campaign's close
//! included ([`close_all_of_campaign`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::{Session, SessionKind, SessionListQuery, SessionRow, SessionStatus, Subject};
use crate::auth::{grants_of, Grants, Scope};
use crate::db::schema::{orgs, people, session_subjects, sessions, users, voting_code_batches};
use crate::db::{DbConn, MultiBackend, ROWS_PER_STATEMENT};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::model::{Domain, OrgRow, OrgStatus};
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::people::model::PersonStatus;
use crate::templates::model::SubjectType;
use crate::types::now;

/// A session by id; 404 when there is none.
pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<SessionRow> {
    sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A session as the API shows it, with its org's name.
pub fn load_out(conn: &mut DbConn, id: i64) -> ApiResult<Session> {
    let (row, org_name): (SessionRow, String) = sessions::table
        .inner_join(orgs::table)
        .filter(sessions::id.eq(id))
        .select((SessionRow::as_select(), orgs::name))
        .first(conn)?;
    Ok(Session::new(row, org_name))
}

/// A page of the sessions of orgs in `scope`, and how many there are.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &SessionListQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<Session>, i64)> {
    let build = || {
        let mut q = sessions::table
            .inner_join(orgs::table)
            .filter(org_column_in_scope("sessions.org_id", scope))
            .into_boxed::<MultiBackend>();
        if let Some(v) = filter.campaign_id {
            q = q.filter(sessions::campaign_id.eq(v));
        }
        if let Some(v) = filter.org_id {
            q = q.filter(sessions::org_id.eq(v));
        }
        if let Some(v) = filter.status {
            q = q.filter(sessions::status.eq(v));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let items = build()
        .select((SessionRow::as_select(), orgs::name))
        .order(sessions::id)
        .limit(page.per_page())
        .offset(page.offset())
        .load::<(SessionRow, String)>(conn)?
        .into_iter()
        .map(|(row, org_name)| Session::new(row, org_name))
        .collect();
    Ok((items, total))
}

/// Whether the org has a session in the campaign.
pub fn exists_for(conn: &mut DbConn, campaign_id: i64, org_id: i64) -> ApiResult<bool> {
    let count: i64 = sessions::table
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(sessions::org_id.eq(org_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// A session to schedule.
pub struct NewSession<'a> {
    pub campaign_id: i64,
    pub org: &'a OrgRow,
    pub kind: SessionKind,
    pub scheduled_at: DateTime<Utc>,
    pub location: Option<&'a str>,
    pub observer_user_id: Option<i64>,
}

/// Inserts a scheduled session; its id.
pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> ApiResult<i64> {
    Ok(diesel::insert_into(sessions::table)
        .values(&NewSessionRow::of(new, now()))
        .returning(sessions::id)
        .get_result(conn)?)
}

/// A scheduled session as inserted (`None` stored as NULL, so that rows batch on SQLite).
#[derive(Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
pub struct NewSessionRow {
    campaign_id: i64,
    org_id: i64,
    domain: Domain,
    kind: SessionKind,
    status: SessionStatus,
    scheduled_at: NaiveDateTime,
    location: Option<String>,
    observer_user_id: Option<i64>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl NewSessionRow {
    pub fn of(new: &NewSession<'_>, at: NaiveDateTime) -> Self {
        NewSessionRow {
            campaign_id: new.campaign_id,
            org_id: new.org.id,
            domain: new.org.domain,
            kind: new.kind,
            status: SessionStatus::Scheduled,
            scheduled_at: new.scheduled_at.naive_utc(),
            location: new.location.map(str::to_owned),
            observer_user_id: new.observer_user_id,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Inserts scheduled sessions in multi-row statements: their ids.
pub fn insert_many(conn: &mut DbConn, rows: &[NewSessionRow]) -> ApiResult<Vec<i64>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        inserted.extend(crate::insert_batch_returning!(
            conn,
            sessions::table,
            chunk,
            sessions::id,
            i64
        )?);
    }
    Ok(inserted)
}

/// What a change of a scheduled session writes.
#[derive(AsChangeset)]
#[diesel(table_name = sessions)]
pub struct SessionChanges<'a> {
    pub kind: Option<SessionKind>,
    pub scheduled_at: Option<NaiveDateTime>,
    pub location: Option<Option<&'a str>>,
    pub observer_user_id: Option<Option<i64>>,
    pub expected_voters: Option<Option<i32>>,
    pub paper_forms: Option<Option<i32>>,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &SessionChanges<'_>) -> ApiResult<()> {
    diesel::update(sessions::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// The orgs of the campaign's subtree (at `owner_path`), inside `runnable`, active, without a
/// session in the campaign yet, by path.
pub fn orgs_without_session(
    conn: &mut DbConn,
    campaign_id: i64,
    owner_path: &str,
    runnable: &Scope,
) -> ApiResult<Vec<OrgRow>> {
    Ok(orgs::table
        .filter(org_queries::in_subtree(owner_path))
        .filter(org_queries::in_scope(runnable))
        .filter(orgs::status.eq(OrgStatus::Active))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            sessions::table
                .filter(sessions::campaign_id.eq(campaign_id))
                .filter(sessions::org_id.eq(orgs::id)),
        )))
        .order(orgs::path)
        .select(OrgRow::as_select())
        .load(conn)?)
}

/// The grants of a user who may observe a session: none when the user does not exist or
/// is disabled (not eligible).
pub fn observer_grants(conn: &mut DbConn, user_id: i64) -> ApiResult<Option<Grants>> {
    let enabled: i64 = users::table
        .filter(users::id.eq(user_id))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)?;
    if enabled == 0 {
        return Ok(None);
    }
    grants_of(conn, user_id).map(Some)
}

// Subjects.

/// A subject to put on a session's ballots.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = session_subjects, treat_none_as_default_value = false)]
pub struct NewSubject {
    pub session_id: i64,
    pub subject_type: SubjectType,
    pub org_id: Option<i64>,
    pub person_id: Option<i64>,
    pub name: String,
    pub position: i32,
}

pub fn subjects_of(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<Subject>> {
    Ok(session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .order((session_subjects::position, session_subjects::id))
        .select(Subject::as_select())
        .load(conn)?)
}

/// A person named as a subject, with the path of their org.
pub struct SubjectPerson {
    pub org_id: i64,
    pub name: String,
    pub active: bool,
    pub org_path: String,
}

pub fn subject_person(conn: &mut DbConn, person_id: i64) -> ApiResult<Option<SubjectPerson>> {
    Ok(people::table
        .inner_join(orgs::table)
        .filter(people::id.eq(person_id))
        .select((people::org_id, people::name, people::status, orgs::path))
        .first::<(i64, String, PersonStatus, String)>(conn)
        .optional()?
        .map(|(org_id, name, status, org_path)| SubjectPerson {
            org_id,
            name,
            active: status == PersonStatus::Active,
            org_path,
        }))
}

/// Fills in the subjects of new sessions in ballot order: the org, its secretary when an
/// active member of it, then every other active member by id. Two set-based statements
/// over the sessions' orgs and people: a city's 500,000 subjects are written inside the
/// database without passing through the service. Each inserts in session and ballot
/// order, so that subject ids (rankings break ties by them) follow it.
pub fn insert_subjects_of(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    let org_subjects = (ORG_SUBJECTS, vec![SubjectType::Org.as_str()]);
    let people_subjects = (
        PEOPLE_SUBJECTS,
        vec![
            SubjectType::Secretary.as_str(),
            SubjectType::Member.as_str(),
            PersonStatus::Active.as_str(),
        ],
    );
    for chunk in session_ids.chunks(ROWS_PER_STATEMENT) {
        for (sql, texts) in [&org_subjects, &people_subjects] {
            insert_for_sessions(conn, sql, chunk, texts)?;
        }
    }
    Ok(())
}

/// The org subject of each session: `$1` the sessions, `$2` the subject type.
const ORG_SUBJECTS: &str = "\
    INSERT INTO session_subjects (session_id, subject_type, org_id, person_id, name, position) \
    SELECT s.id, $2, o.id, NULL, o.name, 1 \
    FROM sessions s JOIN orgs o ON o.id = s.org_id \
    WHERE {sessions} \
    ORDER BY s.id";

/// The people subjects of each session, the secretary first: `$1` the sessions, `$2` and
/// `$3` the secretary and member subject types, `$4` the active status.
const PEOPLE_SUBJECTS: &str = "\
    INSERT INTO session_subjects (session_id, subject_type, org_id, person_id, name, position) \
    SELECT s.id, CASE WHEN p.id = o.secretary_id THEN $2 ELSE $3 END, o.id, p.id, p.name, \
        1 + ROW_NUMBER() OVER (PARTITION BY s.id \
            ORDER BY CASE WHEN p.id = o.secretary_id THEN 0 ELSE 1 END, p.id) \
    FROM sessions s JOIN orgs o ON o.id = s.org_id \
    JOIN people p ON p.org_id = o.id AND p.status = $4 \
    WHERE {sessions} \
    ORDER BY s.id, CASE WHEN p.id = o.secretary_id THEN 0 ELSE 1 END, p.id";

/// Runs one of the statements above for these sessions, `{sessions}` becoming the backend's
/// test of `s.id` against the list in `$1` (an array on PostgreSQL, a JSON array on SQLite),
/// with `texts` bound from `$2` on. Every value is bound, never spliced in.
fn insert_for_sessions(
    conn: &mut DbConn,
    sql: &str,
    session_ids: &[i64],
    texts: &[&str],
) -> ApiResult<()> {
    use diesel::sql_types::{Array, BigInt, Text};
    match conn {
        DbConn::Pg(c) => {
            let sql = sql.replace("{sessions}", "s.id = ANY($1)");
            let mut query = diesel::sql_query(sql)
                .into_boxed()
                .bind::<Array<BigInt>, _>(session_ids.to_vec());
            for text in texts {
                query = query.bind::<Text, _>(*text);
            }
            query.execute(c)?;
        }
        DbConn::Sqlite(c) => {
            let sql = sql
                .replace("{sessions}", "s.id IN (SELECT value FROM json_each($1))")
                .replace('$', "?");
            let ids = serde_json::to_string(session_ids).map_err(ApiError::internal)?;
            let mut query = diesel::sql_query(sql).into_boxed().bind::<Text, _>(ids);
            for text in texts {
                query = query.bind::<Text, _>(*text);
            }
            query.execute(c)?;
        }
    }
    Ok(())
}

/// Whether the session has a subject of this type for this person (or, with no person,
/// for the org).
pub fn subject_exists(
    conn: &mut DbConn,
    session_id: i64,
    subject_type: SubjectType,
    person_id: Option<i64>,
) -> ApiResult<bool> {
    let q = session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .filter(session_subjects::subject_type.eq(subject_type))
        .into_boxed::<MultiBackend>();
    let q = match person_id {
        Some(p) => q.filter(session_subjects::person_id.eq(p)),
        None => q.filter(session_subjects::person_id.is_null()),
    };
    let count: i64 = q.count().get_result(conn)?;
    Ok(count > 0)
}

/// The position after the session's last subject.
pub fn next_position(conn: &mut DbConn, session_id: i64) -> ApiResult<i32> {
    let last: Option<i32> = session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .select(diesel::dsl::max(session_subjects::position))
        .first(conn)?;
    Ok(last.unwrap_or(0) + 1)
}

/// Inserts one subject and returns it.
pub fn insert_subject(conn: &mut DbConn, subject: &NewSubject) -> ApiResult<Subject> {
    let id: i64 = diesel::insert_into(session_subjects::table)
        .values(subject)
        .returning(session_subjects::id)
        .get_result(conn)?;
    Ok(session_subjects::table
        .find(id)
        .select(Subject::as_select())
        .first(conn)?)
}

/// Deletes a subject of the session; whether there was one.
pub fn delete_subject(conn: &mut DbConn, session_id: i64, subject_id: i64) -> ApiResult<bool> {
    let removed = diesel::delete(
        session_subjects::table
            .filter(session_subjects::id.eq(subject_id))
            .filter(session_subjects::session_id.eq(session_id)),
    )
    .execute(conn)?;
    Ok(removed > 0)
}

/// One subject of the session (`None` when there is no such subject in it).
pub fn find_subject(
    conn: &mut DbConn,
    session_id: i64,
    subject_id: i64,
) -> ApiResult<Option<Subject>> {
    Ok(session_subjects::table
        .filter(session_subjects::id.eq(subject_id))
        .filter(session_subjects::session_id.eq(session_id))
        .select(Subject::as_select())
        .first(conn)
        .optional()?)
}

/// The person an account is linked to, if any.
pub fn user_person(conn: &mut DbConn, user_id: i64) -> ApiResult<Option<i64>> {
    Ok(users::table
        .find(user_id)
        .select(users::person_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// Whether codes have been issued for the session (voided batches included: the ballot
/// they were printed for stays the ballot).
pub fn codes_issued(conn: &mut DbConn, session_id: i64) -> ApiResult<bool> {
    let count: i64 = voting_code_batches::table
        .filter(voting_code_batches::session_id.eq(session_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Takes the session's row lock on PostgreSQL, so that a subject change and a code issue
/// (which takes it too) do not pass each other. SQLite's writers are serialized already.
pub fn lock_session(conn: &mut DbConn, session_id: i64) -> ApiResult<()> {
    lock_for_status_change(conn, &[session_id])
}

// Status changes.

/// Waits, on PostgreSQL, for the ballots in flight on these sessions (they hold key-share
/// locks on the rows) before their status changes. SQLite's writers are serialized already.
fn lock_for_status_change(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    if let DbConn::Pg(pg) = conn {
        sessions::table
            .filter(sessions::id.eq_any(session_ids))
            .select(sessions::id)
            .for_update()
            .load::<i64>(pg)?;
    }
    Ok(())
}

/// Moves a session to `to` (open or closed), conditional on the status read before: of two
/// concurrent changes, one wins. Whether it moved.
pub fn move_status(conn: &mut DbConn, session: &SessionRow, to: SessionStatus) -> ApiResult<bool> {
    lock_for_status_change(conn, &[session.id])?;
    let at = now();
    let target = sessions::table
        .find(session.id)
        .filter(sessions::status.eq(session.status));
    let moved = match to {
        SessionStatus::Open => diesel::update(target)
            .set((
                sessions::status.eq(to),
                sessions::opened_at.eq(at),
                sessions::updated_at.eq(at),
            ))
            .execute(conn)?,
        SessionStatus::Closed => diesel::update(target)
            .set((
                sessions::status.eq(to),
                sessions::closed_at.eq(at),
                sessions::updated_at.eq(at),
            ))
            .execute(conn)?,
        SessionStatus::Scheduled => 0,
    };
    if moved > 0 && to == SessionStatus::Closed {
        closed(conn, &[session.id])?;
    }
    Ok(moved > 0)
}

/// Closes every open session of a campaign (when the campaign closes).
pub fn close_all_of_campaign(conn: &mut DbConn, campaign_id: i64) -> ApiResult<()> {
    let open: Vec<i64> = sessions::table
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(sessions::status.eq(SessionStatus::Open))
        .select(sessions::id)
        .load(conn)?;
    lock_for_status_change(conn, &open)?;
    let at = now();
    diesel::update(sessions::table)
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(sessions::status.eq(SessionStatus::Open))
        .set((
            sessions::status.eq(SessionStatus::Closed),
            sessions::closed_at.eq(at),
            sessions::updated_at.eq(at),
        ))
        .execute(conn)?;
    closed(conn, &open)?;
    Ok(())
}

/// What closing does besides the status, in the closing transaction: the results are
/// tallied once (and read from the tallies from now on), and the ballots are rewritten so
/// that nothing stored links them to their codes.
fn closed(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    crate::results::queries::materialize(conn, session_ids)?;
    rewrite_in_random_order(conn, session_ids)?;
    announce_closed(conn, session_ids)
}

/// `session.closed` to the subscribers of each session's org (ids and the time only: the
/// figures are read through the results API, under its k rules).
fn announce_closed(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    use crate::webhooks::{outbox, EventType};
    let closed: Vec<(i64, i64, i64, Option<chrono::NaiveDateTime>)> = sessions::table
        .filter(sessions::id.eq_any(session_ids))
        .select((
            sessions::id,
            sessions::campaign_id,
            sessions::org_id,
            sessions::closed_at,
        ))
        .load(conn)?;
    for (id, campaign_id, org_id, closed_at) in closed {
        let data = serde_json::json!({
            "session_id": id,
            "campaign_id": campaign_id,
            "org_id": org_id,
            "closed_at": closed_at.map(|t| t.and_utc()),
        });
        outbox::emit(
            conn,
            outbox::Outgoing {
                event_type: EventType::SessionClosed,
                org_id,
                resource: format!("session:{id}"),
                data,
            },
        )?;
    }
    Ok(())
}

// Secrecy in storage.

type BallotTuple = (String, i64, String, bool, NaiveDate, String);
type OpinionTuple = (String, i64, String, NaiveDate);
type CodeTuple = (String, i64, i64, String, String);

/// On PostgreSQL, rewrites the closing sessions' ballots (each with its ratings), opinions
/// and used codes as new rows in random order, in the closing transaction, and deletes the
/// old ones: a ballot was written in the same transaction as its code's use, so until now
/// they shared an `xmin` and followed casting order in the heap. Afterwards every rewritten
/// row carries the closing transaction's id (which links nothing) and, once `VACUUM` has
/// removed the old versions, no system column or heap order ties a code to a ballot or an
/// opinion.
/// What remains is outside the tables: WAL and backups taken while the session was open.
/// SQLite needs nothing: its ballot tables are keyed by random ids and have no system
/// columns of this kind.
fn rewrite_in_random_order(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    use crate::db::schema::{ballots, opinions, voting_codes};
    use crate::records::model::OpinionSource;
    let DbConn::Pg(pg) = conn else {
        return Ok(());
    };
    for &sid in session_ids {
        let mut ballot_rows: Vec<BallotTuple> = ballots::table
            .filter(ballots::session_id.eq(sid))
            .select((
                ballots::id,
                ballots::session_id,
                ballots::category,
                ballots::paper,
                ballots::cast_on,
                ballots::ratings,
            ))
            .load(pg)?;
        // Only the ballots' opinions: those recorded from surveys and visits name their
        // recorder and tie to no ballot.
        let from_ballots = opinions::session_id
            .eq(sid)
            .and(opinions::source.eq(OpinionSource::Ballot));
        let mut opinion_rows: Vec<OpinionTuple> = opinions::table
            .filter(from_ballots)
            .select((
                opinions::id,
                opinions::session_id,
                opinions::content,
                opinions::cast_on,
            ))
            .load(pg)?;
        let used = voting_codes::table
            .filter(voting_codes::session_id.eq(sid))
            .filter(voting_codes::state.eq(crate::ballots::model::CodeState::Used));
        let mut code_rows: Vec<CodeTuple> = used
            .select((
                voting_codes::code_hash,
                voting_codes::session_id,
                voting_codes::batch_id,
                voting_codes::category,
                voting_codes::state,
            ))
            .load(pg)?;

        diesel::delete(ballots::table.filter(ballots::session_id.eq(sid))).execute(pg)?;
        diesel::delete(opinions::table.filter(from_ballots)).execute(pg)?;
        diesel::delete(used).execute(pg)?;

        shuffle(&mut ballot_rows);
        shuffle(&mut opinion_rows);
        shuffle(&mut code_rows);
        for chunk in ballot_rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, session_id, category, paper, cast_on, ratings)| {
                    (
                        ballots::id.eq(id),
                        ballots::session_id.eq(session_id),
                        ballots::category.eq(category),
                        ballots::paper.eq(paper),
                        ballots::cast_on.eq(cast_on),
                        ballots::ratings.eq(ratings),
                    )
                })
                .collect();
            diesel::insert_into(ballots::table)
                .values(values)
                .execute(pg)?;
        }
        for chunk in opinion_rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, session_id, content, cast_on)| {
                    (
                        opinions::id.eq(id),
                        opinions::session_id.eq(session_id),
                        opinions::content.eq(content),
                        opinions::cast_on.eq(cast_on),
                    )
                })
                .collect();
            diesel::insert_into(opinions::table)
                .values(values)
                .execute(pg)?;
        }
        for chunk in code_rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(hash, session_id, batch_id, category, state)| {
                    (
                        voting_codes::code_hash.eq(hash),
                        voting_codes::session_id.eq(session_id),
                        voting_codes::batch_id.eq(batch_id),
                        voting_codes::category.eq(category),
                        voting_codes::state.eq(state),
                    )
                })
                .collect();
            diesel::insert_into(voting_codes::table)
                .values(values)
                .execute(pg)?;
        }
    }
    Ok(())
}

/// Puts `rows` in a uniformly random order (each row sorted by a random 64-bit key).
fn shuffle<T>(rows: &mut Vec<T>) {
    let mut keys = vec![0u8; rows.len() * 8];
    rand::fill(&mut keys[..]);
    let mut keyed: Vec<(u64, T)> = rows
        .drain(..)
        .enumerate()
        .map(|(i, row)| {
            let mut k = [0u8; 8];
            k.copy_from_slice(&keys[i * 8..i * 8 + 8]);
            (u64::from_le_bytes(k), row)
        })
        .collect();
    keyed.sort_unstable_by_key(|(k, _)| *k);
    rows.extend(keyed.into_iter().map(|(_, row)| row));
}
