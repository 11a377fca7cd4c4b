//! Where an import writes: inside one transaction, or — a large job on SQLite — slice by
//! slice, each slice a short journaled transaction of its own, so that ballots take the one
//! write lock between slices instead of waiting for the whole file.
//!
//! All or nothing holds either way: the whole file is parsed and checked for form, and what
//! its rows meet in the database read, before the first slice; a slice that meets a row's
//! error rolls back and the slices after it are only rehearsed (to report their errors
//! too); then the committed slices are taken back from the journal, newest first. A restart takes back the slices of a job it
//! interrupted. What differs is isolation: while a sliced job writes, readers see the rows
//! of the slices committed so far.

use super::journal::{self, SliceUndo};
use super::model::ImportReport;
use crate::db::{self, DbConn, Pool, Settle};
use crate::error::{ApiError, ApiResult, FieldError};

pub enum Target<'a> {
    /// Inside the caller's one transaction: slices are only a way of counting.
    Transaction(&'a mut DbConn),
    /// Each slice its own transaction on the pool, in the writer's turn, journaled.
    Sliced(Slices<'a>),
}

pub struct Slices<'a> {
    pool: &'a Pool,
    job: i64,
    dry_run: bool,
    next: i32,
    /// A slice met a row's error: the rest are rehearsed only.
    failed: bool,
}

impl<'a> Target<'a> {
    pub fn sliced(pool: &'a Pool, job: i64, dry_run: bool) -> Self {
        Target::Sliced(Slices {
            pool,
            job,
            dry_run,
            next: 0,
            failed: false,
        })
    }

    /// Reads outside any write (a sliced import reads what it meets before taking the lock).
    pub fn read<T>(&mut self, f: impl FnOnce(&mut DbConn) -> ApiResult<T>) -> ApiResult<T> {
        match self {
            Target::Transaction(conn) => f(conn),
            Target::Sliced(s) => f(&mut *s.pool.get().map_err(ApiError::pool)?),
        }
    }

    /// Writes everything in one transaction whatever the target (a file small enough to
    /// write at once: orgs).
    pub fn whole<T>(&mut self, f: impl FnOnce(&mut DbConn) -> ApiResult<T>) -> ApiResult<T> {
        match self {
            Target::Transaction(conn) => f(conn),
            Target::Sliced(s) if s.dry_run => {
                db::in_writer_turn(s.pool, |conn| db::rehearse_on(conn, f))
            }
            Target::Sliced(s) => db::in_writer_turn(s.pool, |conn| db::write_transaction(conn, f)),
        }
    }

    /// Writes one slice. `f` writes it, noting what it changes in the undo record, and
    /// answers whether every row so far was clean; `orgs` and `people` name the stored rows
    /// whose secretaries the slice may change.
    pub fn slice(
        &mut self,
        orgs: &[i64],
        people: &[i64],
        f: impl FnOnce(&mut DbConn, &mut SliceUndo) -> ApiResult<bool>,
    ) -> ApiResult<()> {
        let s = match self {
            Target::Transaction(conn) => return f(conn, &mut SliceUndo::default()).map(drop),
            Target::Sliced(s) => s,
        };
        let (job, slice, keep) = (s.job, s.next, !s.dry_run && !s.failed);
        let clean = db::in_writer_turn(s.pool, |conn| {
            db::settled_transaction(conn, |conn| {
                let start = keep
                    .then(|| SliceUndo::start(conn, orgs, people))
                    .transpose()?;
                let mut undo = SliceUndo::default();
                let clean = f(conn, &mut undo)?;
                let wrote = match start {
                    Some(start) if clean => undo.record(conn, start, job, slice)?,
                    _ => false,
                };
                // Rows with errors, a rehearsal, or nothing written: nothing to keep.
                Ok(if wrote {
                    Settle::Commit(clean)
                } else {
                    Settle::RollBack(clean)
                })
            })
        })?;
        s.next += 1;
        s.failed |= !clean;
        Ok(())
    }

    /// Ends the import: a failed one takes back every slice it committed.
    pub fn finish(self, outcome: ApiResult<ImportReport>) -> ApiResult<ImportReport> {
        let (s, mut e) = match (self, outcome) {
            (Target::Sliced(s), Err(e)) => (s, e),
            (_, outcome) => return outcome,
        };
        let kept = take_back(s.pool, s.job)?;
        if !kept.is_empty() {
            if e.errors.is_empty() {
                e.errors.push(FieldError::new("file", e.detail.clone()));
            }
            e.errors.push(FieldError::new("job", kept_note(&kept)));
        }
        Err(e)
    }
}

/// Takes back every journaled slice of `job`, newest first, each in its own transaction:
/// the people that had to stay.
pub fn take_back(pool: &Pool, job: i64) -> ApiResult<Vec<i64>> {
    let mut kept = Vec::new();
    while let Some(taken) = db::in_writer_turn(pool, |conn| {
        db::write_transaction(conn, |conn| journal::take_back_newest(conn, job))
    })? {
        kept.extend(taken.kept_people);
    }
    Ok(kept)
}

/// Why some of a failed job's people are still there.
pub fn kept_note(kept: &[i64]) -> String {
    let ids: Vec<String> = kept.iter().map(i64::to_string).collect();
    format!(
        "the job's rows were taken back, except {} people that other changes came to refer to meanwhile (ids {}); archive them if they should go",
        kept.len(),
        ids.join(", ")
    )
}
