//! Background jobs: large CSV imports and bulk scheduling run after the request is
//! answered 202, with their state and progress kept where `GET /jobs/{id}` reads them.

pub mod model;
pub mod queries;
pub mod rules;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use parking_lot::Mutex;
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::model::{Job, JobKind, JobListQuery, JobResult, JobRow, JobState};
use crate::auth::Actor;
use crate::db;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::{Page, PageQuery};
use crate::imports::{self, FileKind, ImportReport};
use crate::sessions::model::BulkCreateSessions;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_job).service(list_jobs);
}

/// Rows written so far by the jobs running in this process (the database has them only
/// once the job is over).
#[derive(Default)]
pub struct RunningJobs(Mutex<HashMap<i64, Arc<AtomicU64>>>);

impl RunningJobs {
    fn start(&self, id: i64) -> Arc<AtomicU64> {
        let counter = Arc::new(AtomicU64::new(0));
        self.0.lock().insert(id, counter.clone());
        counter
    }

    fn end(&self, id: i64) {
        self.0.lock().remove(&id);
    }

    fn rows_done(&self, id: i64) -> Option<i64> {
        let counter = self.0.lock().get(&id).cloned()?;
        i64::try_from(counter.load(Ordering::Relaxed)).ok()
    }
}

/// A job as its owner sees it, with the live progress of a running one.
fn job_of(row: JobRow, running: &RunningJobs) -> ApiResult<Job> {
    fn parse<T: serde::de::DeserializeOwned>(json: Option<&str>) -> ApiResult<Option<T>> {
        json.map(serde_json::from_str)
            .transpose()
            .map_err(ApiError::internal)
    }
    let stored = row.result.as_deref();
    let result = match row.kind {
        JobKind::ImportOrgs | JobKind::ImportPeople => parse(stored)?.map(JobResult::Import),
        JobKind::ScheduleSessions => parse(stored)?.map(JobResult::Scheduled),
    };
    let errors: Vec<FieldError> = parse(row.errors.as_deref())?.unwrap_or_default();
    let rows_done = match row.state {
        JobState::Writing => running.rows_done(row.id).unwrap_or(row.rows_done),
        _ => row.rows_done,
    };
    Ok(Job {
        id: row.id,
        kind: row.kind,
        state: row.state,
        dry_run: row.dry_run,
        rows_done,
        rows_total: row.rows_total,
        result,
        errors,
        created_at: row.created_at,
        finished_at: row.finished_at,
    })
}

/// What a job leaves when it is done: its answer, as stored JSON, and the rows it did.
struct Finished {
    json: String,
    rows: i64,
}

impl Finished {
    fn of<T: serde::Serialize>(answer: &T, rows: u64) -> ApiResult<Self> {
        Ok(Finished {
            json: serde_json::to_string(answer).map_err(ApiError::internal)?,
            rows: i64::try_from(rows).unwrap_or(i64::MAX),
        })
    }
}

/// Records a job and answers 202 with `Location` at once; `work` then runs, and its outcome
/// is stored where `GET /jobs/{id}` reads it.
async fn accept<W, F>(
    state: web::Data<AppState>,
    user: i64,
    kind: JobKind,
    dry_run: bool,
    preferred: bool,
    work: W,
) -> ApiResult<HttpResponse>
where
    W: FnOnce(web::Data<AppState>, i64) -> F + 'static,
    F: std::future::Future<Output = ApiResult<Finished>> + 'static,
{
    let row = db::write(&state.pool, move |conn| {
        queries::insert(conn, kind, dry_run, user)
    })
    .await?;
    let id = row.id;
    let job = job_of(row, &state.running_jobs)?;
    actix_web::rt::spawn(async move {
        let outcome = work(state.clone(), id).await;
        finish(&state, id, outcome).await;
    });
    let mut answer = HttpResponse::Accepted();
    answer.insert_header((header::LOCATION, format!("/api/v1/jobs/{id}")));
    if preferred {
        answer.insert_header(("Preference-Applied", "respond-async"));
    }
    Ok(answer.json(job))
}

/// Stores a job's outcome.
async fn finish(state: &web::Data<AppState>, id: i64, outcome: ApiResult<Finished>) {
    if let Err(e) = &outcome {
        // A job has no request to log its failure: its cause is logged here.
        tracing::warn!(job = id, error = %e, "a job failed");
    }
    let rows_done = outcome.as_ref().map_or(0, |done| done.rows);
    let outcome = outcome
        .map(|done| done.json)
        .map_err(|e| rules::errors_of(&e));
    let recorded = db::write(&state.pool, move |conn| {
        queries::finish(conn, id, &outcome, rows_done)
    })
    .await;
    // The live counter goes once the outcome is stored, so progress never drops meanwhile.
    state.running_jobs.end(id);
    if let Err(e) = recorded {
        tracing::error!(job = id, error = %e, "a job's outcome could not be recorded");
    }
}

/// Accepts an import as a job: it reads the file, then writes it all or nothing (nothing on
/// any row's error or for a dry run), counting its rows as it goes.
pub async fn start_import(
    state: web::Data<AppState>,
    actor: Actor,
    kind: FileKind,
    text: String,
    lines: usize,
    dry_run: bool,
    preferred: bool,
) -> ApiResult<HttpResponse> {
    let job_kind = match kind {
        FileKind::Orgs => JobKind::ImportOrgs,
        FileKind::People => JobKind::ImportPeople,
    };
    let user = actor.user_id;
    let work = move |state: web::Data<AppState>, id: i64| async move {
        let report = import_steps(&state, &actor, id, kind, text, lines, dry_run).await?;
        let rows = u64::from(report.created + report.updated + report.unchanged);
        Finished::of(&report, rows)
    };
    accept(state, user, job_kind, dry_run, preferred, work).await
}

async fn import_steps(
    state: &web::Data<AppState>,
    actor: &Actor,
    id: i64,
    kind: FileKind,
    text: String,
    lines: usize,
    dry_run: bool,
) -> ApiResult<ImportReport> {
    advance(state, id, JobState::Validating, None).await?;
    let max_rows = state.settings.import_max_rows;
    // Reading every row is CPU work and holds no lock; a roster's stored people are read
    // meanwhile, on the other core.
    let pool = state.pool.clone();
    let ahead = web::block(move || {
        let started = Instant::now();
        imports::read_ahead(&pool, kind, lines).map(|people| (people, started.elapsed()))
    });
    let file = web::block(move || {
        let started = Instant::now();
        imports::check_file(kind, &text, max_rows).map(|file| (file, started.elapsed()))
    });
    let (file, ahead) = futures_util::future::join(file, ahead).await;
    let (file, checked_in) = file.map_err(ApiError::internal)??;
    let (stored, read_in) = ahead.map_err(ApiError::internal)??;
    let file = file.knowing(stored);
    let rows = i64::try_from(file.rows).unwrap_or(i64::MAX);
    advance(state, id, JobState::Writing, Some(rows)).await?;
    let counter = state.running_jobs.start(id);
    let progress = move |done| counter.store(done, Ordering::Relaxed);
    let started = Instant::now();
    let report = file
        .commit(&state.pool, actor.clone(), dry_run, Some(id), progress)
        .await;
    tracing::info!(
        job = id,
        rows,
        checked_ms = checked_in.as_millis() as u64,
        read_ahead_ms = read_in.as_millis() as u64,
        written_ms = started.elapsed().as_millis() as u64,
        "import job's phases"
    );
    report
}

/// Accepts a campaign's bulk scheduling as a job: `planned` sessions (as counted when it
/// was accepted) written in one transaction, counted as they go.
pub async fn start_scheduling(
    state: web::Data<AppState>,
    actor: Actor,
    campaign_id: i64,
    body: BulkCreateSessions,
    planned: usize,
    preferred: bool,
) -> ApiResult<HttpResponse> {
    let user = actor.user_id;
    let work = move |state: web::Data<AppState>, id: i64| async move {
        let planned = i64::try_from(planned).unwrap_or(i64::MAX);
        advance(&state, id, JobState::Writing, Some(planned)).await?;
        let counter = state.running_jobs.start(id);
        let scheduled = db::write(&state.pool, move |conn| {
            let progress = |done| counter.store(done, Ordering::Relaxed);
            crate::sessions::schedule_campaign(conn, &actor, campaign_id, &body, &progress)
        })
        .await?;
        Finished::of(&scheduled, scheduled.created as u64)
    };
    accept(
        state,
        user,
        JobKind::ScheduleSessions,
        false,
        preferred,
        work,
    )
    .await
}

async fn advance(
    state: &web::Data<AppState>,
    id: i64,
    to: JobState,
    rows_total: Option<i64>,
) -> ApiResult<()> {
    db::write(&state.pool, move |conn| {
        queries::advance(conn, id, to, rows_total)
    })
    .await
}

/// A job you started: its state, rows done of rows in all, and once over its result or
/// its errors. Jobs survive a restart; one a restart interrupted is `failed` and wrote
/// nothing.
#[utoipa::path(
    tag = "jobs",
    params(("id" = i64, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job of yours", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/jobs/{id}")]
async fn get_job(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<web::Json<Job>> {
    let id = path.into_inner();
    let row = db::read(&state.pool, move |conn| queries::get(conn, id))
        .await?
        .filter(|row| actor.may_see_job(row.created_by))
        .ok_or_else(ApiError::not_found)?;
    Ok(web::Json(job_of(row, &state.running_jobs)?))
}

/// Your jobs, newest first (`mine=false`: everyone's, for administrators).
#[utoipa::path(
    tag = "jobs",
    params(JobListQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Jobs, newest first", body = Page<Job>),
        (status = 403, description = "`mine=false` without being an administrator", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/jobs")]
async fn list_jobs(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<JobListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Job>>> {
    let page = page.into_inner().checked()?;
    let created_by = if filter.mine.unwrap_or(true) {
        Some(actor.user_id)
    } else {
        actor.authorize_global()?;
        None
    };
    let (rows, total) = db::read(&state.pool, move |conn| {
        queries::list(conn, created_by, &page)
    })
    .await?;
    let items = rows
        .into_iter()
        .map(|row| job_of(row, &state.running_jobs))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Page::new(items, total, &page)))
}
