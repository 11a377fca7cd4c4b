//! The undo journal of a sliced import. On SQLite a large import job writes in short
//! transactions (slices) so that ballots get the one write lock between them; each slice
//! records, in its own transaction, what it inserted (id ranges: nobody else writes while
//! the slice holds the lock) and the rows it changed as they were. A job that fails, or
//! that a restart interrupted, takes its slices back newest first; a job that finishes
//! deletes its journal in the transaction that records it done.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{audit_events, job_journal, memberships, orgs, people};
use crate::db::{load_in_chunks, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::people::model::{MemberType, PersonRow, PersonStatus, Position};

/// What one committed slice did, enough to take it back.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SliceUndo {
    /// Ids inserted by the slice, first and last, per table.
    people: Option<(i64, i64)>,
    memberships: Option<(i64, i64)>,
    audit_events: Option<(i64, i64)>,
    /// Stored people the slice changed, as they were.
    people_before: Vec<PersonBefore>,
    /// People the slice moved: their membership it closed is opened again.
    moved: Vec<i64>,
    /// Orgs whose secretary the slice changed: (org, secretary before).
    secretaries: Vec<(i64, Option<i64>)>,
}

/// The columns of a person an import may change.
#[derive(Debug, Serialize, Deserialize, AsChangeset)]
#[diesel(table_name = people, treat_none_as_null = true)]
struct PersonBefore {
    #[diesel(skip_update)]
    id: i64,
    org_id: i64,
    name: String,
    member_type: MemberType,
    position: Option<Position>,
    joined_on: Option<NaiveDate>,
    phone: Option<String>,
    status: PersonStatus,
    updated_at: NaiveDateTime,
}

/// Ids before a slice writes, and the secretaries of the orgs it may change.
pub struct SliceStart {
    people: i64,
    memberships: i64,
    audit_events: i64,
    secretaries: HashMap<i64, Option<i64>>,
}

impl SliceUndo {
    /// Remembers a stored person before the slice changes them.
    pub fn changing(&mut self, person: &PersonRow) {
        self.people_before.push(PersonBefore {
            id: person.id,
            org_id: person.org_id,
            name: person.name.clone(),
            member_type: person.member_type,
            position: person.position,
            joined_on: person.joined_on,
            phone: person.phone.clone(),
            status: person.status,
            updated_at: person.updated_at,
        });
    }

    /// Remembers that the slice moves a stored person to another org.
    pub fn moving(&mut self, person_id: i64) {
        self.moved.push(person_id);
    }

    /// Reads what the slice starts from (inside its transaction): the highest ids, and the
    /// secretaries of `orgs` and of any org whose secretary is one of `people`.
    pub fn start(conn: &mut DbConn, org_ids: &[i64], person_ids: &[i64]) -> ApiResult<SliceStart> {
        let mut secretaries: HashMap<i64, Option<i64>> =
            secretaries_of(conn, org_ids)?.into_iter().collect();
        let theirs: Vec<(i64, Option<i64>)> = load_in_chunks(person_ids, |ids| {
            orgs::table
                .filter(orgs::secretary_id.eq_any(ids))
                .select((orgs::id, orgs::secretary_id))
                .load(conn)
        })?;
        secretaries.extend(theirs);
        Ok(SliceStart {
            people: highest(conn, Table::People)?,
            memberships: highest(conn, Table::Memberships)?,
            audit_events: highest(conn, Table::AuditEvents)?,
            secretaries,
        })
    }

    /// Completes the record at the end of the slice (inside its transaction) and stores it
    /// as slice `slice` of job `job`: whether the slice wrote anything (a slice of
    /// unchanged rows stores nothing, and its transaction need not commit).
    pub fn record(
        mut self,
        conn: &mut DbConn,
        start: SliceStart,
        job: i64,
        slice: i32,
    ) -> ApiResult<bool> {
        let range = |before: i64, after: i64| (after > before).then_some((before + 1, after));
        self.people = range(start.people, highest(conn, Table::People)?);
        self.memberships = range(start.memberships, highest(conn, Table::Memberships)?);
        self.audit_events = range(start.audit_events, highest(conn, Table::AuditEvents)?);
        let watched: Vec<i64> = start.secretaries.keys().copied().collect();
        for (org, secretary) in secretaries_of(conn, &watched)? {
            let before = start.secretaries.get(&org).copied().flatten();
            if secretary != before {
                self.secretaries.push((org, before));
            }
        }
        let wrote_nothing = self.people.is_none()
            && self.memberships.is_none()
            && self.audit_events.is_none()
            && self.people_before.is_empty()
            && self.moved.is_empty()
            && self.secretaries.is_empty();
        if wrote_nothing {
            return Ok(false);
        }
        let undo = serde_json::to_string(&self).map_err(ApiError::internal)?;
        diesel::insert_into(job_journal::table)
            .values((
                job_journal::job_id.eq(job),
                job_journal::slice.eq(slice),
                job_journal::undo.eq(undo),
            ))
            .execute(conn)?;
        Ok(true)
    }
}

/// (org, its secretary) of these orgs.
fn secretaries_of(conn: &mut DbConn, org_ids: &[i64]) -> ApiResult<Vec<(i64, Option<i64>)>> {
    Ok(load_in_chunks(org_ids, |ids| {
        orgs::table
            .filter(orgs::id.eq_any(ids))
            .select((orgs::id, orgs::secretary_id))
            .load(conn)
    })?)
}

#[derive(Clone, Copy)]
enum Table {
    People,
    Memberships,
    AuditEvents,
}

fn highest(conn: &mut DbConn, table: Table) -> ApiResult<i64> {
    use diesel::dsl::max;
    let id: Option<i64> = match table {
        Table::People => people::table.select(max(people::id)).first(conn)?,
        Table::Memberships => memberships::table
            .select(max(memberships::id))
            .first(conn)?,
        Table::AuditEvents => audit_events::table
            .select(max(audit_events::id))
            .first(conn)?,
    };
    Ok(id.unwrap_or(0))
}

/// What taking back one slice could not undo.
#[derive(Debug, Default, PartialEq)]
pub struct TakenBack {
    /// People the job created that another change came to refer to meanwhile (a session's
    /// subject, an account): they stay, and the job's errors name them.
    pub kept_people: Vec<i64>,
}

/// Takes back the newest slice job `job` still has journaled, inside the caller's
/// transaction; `None` when none is left.
pub fn take_back_newest(conn: &mut DbConn, job: i64) -> ApiResult<Option<TakenBack>> {
    let newest: Option<(i32, String)> = job_journal::table
        .filter(job_journal::job_id.eq(job))
        .order(job_journal::slice.desc())
        .select((job_journal::slice, job_journal::undo))
        .first(conn)
        .optional()?;
    let Some((slice, undo)) = newest else {
        return Ok(None);
    };
    let undo: SliceUndo = serde_json::from_str(&undo).map_err(ApiError::internal)?;
    let taken = undo.apply(conn)?;
    diesel::delete(job_journal::table.find((job, slice))).execute(conn)?;
    Ok(Some(taken))
}

/// Forgets a job's journal: the job is done and its rows stay.
pub fn forget(conn: &mut DbConn, job: i64) -> ApiResult<()> {
    diesel::delete(job_journal::table.filter(job_journal::job_id.eq(job))).execute(conn)?;
    Ok(())
}

/// The jobs that have journaled slices.
pub fn journaled_jobs(conn: &mut DbConn) -> ApiResult<Vec<i64>> {
    Ok(job_journal::table
        .select(job_journal::job_id)
        .distinct()
        .load(conn)?)
}

impl SliceUndo {
    /// Undoes the slice, in the reverse order of its writes.
    fn apply(self, conn: &mut DbConn) -> ApiResult<TakenBack> {
        for (org, secretary) in &self.secretaries {
            diesel::update(orgs::table.find(org))
                .set(orgs::secretary_id.eq(secretary))
                .execute(conn)?;
        }
        for person in &self.people_before {
            diesel::update(people::table.find(person.id))
                .set(person)
                .execute(conn)?;
        }
        // Memberships of the people the slice created go with them (below).
        let (first_new, last_new) = self.people.unwrap_or((1, 0));
        if let Some((first, last)) = self.memberships {
            diesel::delete(
                memberships::table
                    .filter(memberships::id.between(first, last))
                    .filter(memberships::person_id.not_between(first_new, last_new)),
            )
            .execute(conn)?;
        }
        // The membership a move closed is now the person's latest one again.
        for person in &self.moved {
            let latest: Option<i64> = memberships::table
                .filter(memberships::person_id.eq(person))
                .select(diesel::dsl::max(memberships::id))
                .first(conn)?;
            if let Some(latest) = latest {
                diesel::update(memberships::table.find(latest))
                    .set(memberships::ended_at.eq(None::<NaiveDateTime>))
                    .execute(conn)?;
            }
        }
        let mut taken = TakenBack::default();
        if let Some((first, last)) = self.people {
            taken.kept_people = delete_people(conn, first, last)?;
        }
        if let Some((first, last)) = self.audit_events {
            diesel::delete(audit_events::table.filter(audit_events::id.between(first, last)))
                .execute(conn)?;
        }
        Ok(taken)
    }
}

/// Deletes the people of an id range with their memberships; if one of them is referred to
/// by now, deletes them one by one (each under its own savepoint) and keeps the referred
/// ones with their memberships.
fn delete_people(conn: &mut DbConn, first: i64, last: i64) -> ApiResult<Vec<i64>> {
    let in_range = people::id.between(first, last);
    let at_once = conn.transaction(|conn| {
        diesel::delete(memberships::table.filter(memberships::person_id.between(first, last)))
            .execute(conn)?;
        diesel::delete(people::table.filter(in_range)).execute(conn)
    });
    match at_once {
        Ok(_) => return Ok(Vec::new()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => {}
        Err(e) => return Err(e.into()),
    }
    let ids: Vec<i64> = people::table
        .filter(in_range)
        .select(people::id)
        .load(conn)?;
    let mut kept = Vec::new();
    for id in ids {
        let deleted = conn.transaction(|conn| {
            diesel::delete(memberships::table.filter(memberships::person_id.eq(id)))
                .execute(conn)?;
            diesel::delete(people::table.find(id)).execute(conn)
        });
        match deleted {
            Ok(_) => {}
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => kept.push(id),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(kept)
}
