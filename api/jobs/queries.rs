//! Job rows: created when the work is accepted, moved through their states, finished once.

use diesel::prelude::*;

use super::model::{JobKind, JobRow, JobState};
use crate::db::schema::jobs;
use crate::db::{self, DbConn};
use crate::error::{ApiResult, FieldError};
use crate::http::PageQuery;
use crate::imports::journal;
use crate::types::now;

pub fn insert(
    conn: &mut DbConn,
    kind: JobKind,
    dry_run: bool,
    created_by: i64,
) -> ApiResult<JobRow> {
    let id: i64 = diesel::insert_into(jobs::table)
        .values((
            jobs::kind.eq(kind),
            jobs::state.eq(JobState::Queued),
            jobs::dry_run.eq(dry_run),
            jobs::created_by.eq(created_by),
            jobs::created_at.eq(now()),
        ))
        .returning(jobs::id)
        .get_result(conn)?;
    get(conn, id)?.ok_or_else(|| crate::error::ApiError::internal("a new job vanished"))
}

pub fn get(conn: &mut DbConn, id: i64) -> ApiResult<Option<JobRow>> {
    Ok(jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

/// A page of jobs, newest first (of one user, or of everyone), and their total.
pub fn list(
    conn: &mut DbConn,
    created_by: Option<i64>,
    page: &PageQuery,
) -> ApiResult<(Vec<JobRow>, i64)> {
    let build = || {
        let mut q = jobs::table.into_boxed::<crate::db::MultiBackend>();
        if let Some(user) = created_by {
            q = q.filter(jobs::created_by.eq(user));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let items = build()
        .order(jobs::id.desc())
        .limit(page.per_page())
        .offset(page.offset())
        .select(JobRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

pub fn advance(
    conn: &mut DbConn,
    id: i64,
    state: JobState,
    rows_total: Option<i64>,
) -> ApiResult<()> {
    diesel::update(jobs::table.find(id))
        .set((jobs::state.eq(state), jobs::rows_total.eq(rows_total)))
        .execute(conn)?;
    Ok(())
}

/// Records the outcome: `done` with its answer (JSON), or `failed` with the errors. A job done
/// forgets its undo journal here, in the same transaction: from now on its rows stay.
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    outcome: &Result<String, Vec<FieldError>>,
    rows_done: i64,
) -> ApiResult<()> {
    let (state, result, errors) = match outcome {
        Ok(answer) => (JobState::Done, Some(answer.clone()), None),
        Err(errors) => (JobState::Failed, None, Some(to_json(errors)?)),
    };
    crate::imports::journal::forget(conn, id)?;
    diesel::update(jobs::table.find(id))
        .set((
            jobs::state.eq(state),
            jobs::rows_done.eq(rows_done),
            jobs::result.eq(result),
            jobs::errors.eq(errors),
            jobs::finished_at.eq(Some(now())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks every job left unfinished by a previous run failed, after taking back what the
/// slices it committed wrote (a job in one transaction never committed anything). The
/// number of jobs so marked. Each slice is taken back in its own transaction; the caller
/// runs this before serving.
pub fn fail_interrupted(conn: &mut DbConn) -> ApiResult<usize> {
    let mut kept_by_job = Vec::new();
    for job in journal::journaled_jobs(conn)? {
        let mut kept = Vec::new();
        while let Some(taken) =
            db::write_transaction(conn, |conn| journal::take_back_newest(conn, job))?
        {
            kept.extend(taken.kept_people);
        }
        if !kept.is_empty() {
            kept_by_job.push((job, kept));
        }
    }
    let errors = to_json(&[super::rules::interrupted()])?;
    let marked =
        diesel::update(jobs::table.filter(jobs::state.ne_all([JobState::Done, JobState::Failed])))
            .set((
                jobs::state.eq(JobState::Failed),
                jobs::errors.eq(Some(errors)),
                jobs::finished_at.eq(Some(now())),
            ))
            .execute(conn)?;
    for (job, kept) in kept_by_job {
        let note = FieldError::new("job", crate::imports::target::kept_note(&kept));
        let errors = to_json(&[super::rules::interrupted(), note])?;
        diesel::update(jobs::table.find(job))
            .set(jobs::errors.eq(Some(errors)))
            .execute(conn)?;
    }
    Ok(marked)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(crate::error::ApiError::internal)
}
