//! Bulk CSV imports of orgs and people, keyed by `external_id`: a second run of the same
//! file updates and creates nothing twice; a file with any bad row writes nothing.

pub mod csv_rows;
pub mod journal;
pub mod model;
pub mod rules;
pub mod target;

use std::collections::{HashMap, HashSet};

use actix_web::{post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::csv_rows::{OrgRecord, PersonRecord};
use self::journal::SliceUndo;
pub use self::model::{ImportQuery, ImportReport};
use self::rules::{Outcome, Progress, RowError, SecretaryChange, Tally};
pub use self::target::Target;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn, Pool};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::CsvBody;
use crate::orgs::model::OrgRow;
use crate::orgs::queries as org_queries;
use crate::people::model::{PersonRow, Position};
use crate::people::queries as people_queries;
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(import_orgs).service(import_people);
}

/// The same CSV file as raw bytes, for clients that send files as `application/octet-stream`.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct CsvFile(#[allow(dead_code)] Vec<u8>);

type Write = dyn FnOnce(&mut Target, &Actor, Progress, Option<Vec<PersonRow>>) -> ApiResult<ImportReport>
    + Send;

/// What a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileKind {
    Orgs,
    People,
}

/// A file whose every row was parsed and checked, ready to be written.
pub struct CheckedFile {
    pub rows: u64,
    kind: FileKind,
    write: Box<Write>,
    /// Every stored person, read while the file was parsed (see [`read_ahead`]).
    stored_people: Option<Vec<PersonRow>>,
}

impl CheckedFile {
    /// Writes the rows to `target`, telling `progress` as they go.
    pub fn write(
        self,
        target: &mut Target,
        actor: &Actor,
        progress: Progress,
    ) -> ApiResult<ImportReport> {
        (self.write)(target, actor, progress, self.stored_people)
    }

    /// The file, with the stored people [`read_ahead`] read while it was parsed.
    pub fn knowing(mut self, stored_people: Option<Vec<PersonRow>>) -> Self {
        self.stored_people = stored_people;
        self
    }

    /// Writes the file through the pool, all or nothing (nothing for a dry run, or on any
    /// row's error), then refreshes statistics after a bulk write. A job's people file on
    /// SQLite is written in journaled slices (see [`target`]) so that ballots are not held
    /// up behind it; anything else in one transaction.
    pub async fn commit(
        self,
        pool: &db::Pool,
        actor: Actor,
        dry_run: bool,
        job: Option<i64>,
        progress: impl Fn(u64) + Send + 'static,
    ) -> ApiResult<ImportReport> {
        let filled = self.filled();
        let mut report = match job {
            Some(job) if pool.has_one_writer() && self.kind == FileKind::People => {
                let pool = pool.clone();
                actix_web::web::block(move || {
                    let mut target = Target::sliced(&pool, job, dry_run);
                    let outcome = self.write(&mut target, &actor, &progress);
                    target.finish(outcome)
                })
                .await
                .map_err(ApiError::internal)??
            }
            _ => {
                let write = move |conn: &mut DbConn| {
                    self.write(&mut Target::Transaction(conn), &actor, &progress)
                };
                if dry_run {
                    db::rehearse(pool, write).await?
                } else {
                    db::write(pool, write).await?
                }
            }
        };
        report.dry_run = dry_run;
        if rules::is_bulk(&report) {
            db::analyze(pool, filled).await;
        }
        Ok(report)
    }

    /// The tables a bulk write of this file fills (their statistics are refreshed after).
    pub fn filled(&self) -> &'static [&'static str] {
        match self.kind {
            FileKind::Orgs => &["orgs", "audit_events"],
            FileKind::People => &["people", "memberships", "orgs", "audit_events"],
        }
    }
}

/// Parses and checks every row of a file, without the database: a bad row is a 422 naming
/// its line, more rows than `max_rows` a 413.
pub fn check_file(kind: FileKind, text: &str, max_rows: usize) -> ApiResult<CheckedFile> {
    let (rows, write): (usize, Box<Write>) = match kind {
        FileKind::Orgs => {
            let records = checked(csv_rows::parse_orgs(text), max_rows)?;
            let rows = records.len();
            let write = move |target: &mut Target, actor: &Actor, progress: Progress, _| {
                apply_orgs(target, actor, records, progress)
            };
            (rows, Box::new(write))
        }
        FileKind::People => {
            let records = checked(csv_rows::parse_people(text), max_rows)?;
            let rows = records.len();
            let write = move |target: &mut Target, actor: &Actor, progress: Progress, stored| {
                write_people(target, actor, records, progress, stored)
            };
            (rows, Box::new(write))
        }
    };
    Ok(CheckedFile {
        rows: rows as u64,
        kind,
        write,
        stored_people: None,
    })
}

fn checked<R>((records, errors): (Vec<R>, Vec<FieldError>), max_rows: usize) -> ApiResult<Vec<R>> {
    if !errors.is_empty() {
        return Err(rules::rows_failed(errors));
    }
    rules::check_row_count(records.len(), max_rows)?;
    Ok(records)
}

/// Reads every stored person when a people file of `lines` lines names a good part of
/// them, meant to run while the file is parsed (a city's re-upload then costs about one
/// read of its roster); `None` for a smaller file, whose people are looked up by id. The
/// roster is read in two halves by id on two connections at once: on SQLite each half is
/// one core's work, and on PostgreSQL two backends send while the rows are decoded.
pub fn read_ahead(pool: &Pool, kind: FileKind, lines: usize) -> ApiResult<Option<Vec<PersonRow>>> {
    if kind != FileKind::People {
        return Ok(None);
    }
    let mut conn = pool.get().map_err(ApiError::pool)?;
    let Some(highest_id) = people_queries::many_wanted(&mut conn, lines)? else {
        return Ok(None);
    };
    let middle = highest_id / 2;
    // Without a second connection free at once, one reads both halves.
    let Some(mut second) = pool.try_get() else {
        return people_queries::with_external_id_between(&mut conn, i64::MIN, i64::MAX).map(Some);
    };
    std::thread::scope(|scope| {
        let upper = scope
            .spawn(move || people_queries::with_external_id_between(&mut second, middle, i64::MAX));
        let mut every = people_queries::with_external_id_between(&mut conn, i64::MIN, middle)?;
        let upper = upper
            .join()
            .map_err(|_| ApiError::internal("reading the roster's upper half panicked"))??;
        every.extend(upper);
        Ok(Some(every))
    })
}

/// Imports a whole file outside any request (the command line), in one transaction:
/// rolled back for a dry run or on any row's error. `progress` hears (rows done, rows).
pub fn import_file(
    conn: &mut DbConn,
    actor: &Actor,
    kind: FileKind,
    text: &str,
    dry_run: bool,
    max_rows: usize,
    progress: &dyn Fn(u64, u64),
) -> ApiResult<ImportReport> {
    let file = check_file(kind, text, max_rows)?;
    let (rows, filled) = (file.rows, file.filled());
    progress(0, rows);
    let write = |conn: &mut DbConn| {
        file.write(&mut Target::Transaction(conn), actor, &|done| {
            progress(done, rows)
        })
    };
    let mut report = if dry_run {
        db::rehearse_on(conn, write)?
    } else {
        db::write_transaction(conn, write)?
    };
    report.dry_run = dry_run;
    if rules::is_bulk(&report) {
        db::analyze_on(conn, filled);
    }
    Ok(report)
}

/// Checks the file, then writes it in one transaction (rolled back for a dry run, or on
/// any row's error).
async fn import(
    actor: Actor,
    state: web::Data<AppState>,
    req: &HttpRequest,
    query: &ImportQuery,
    file: CsvBody,
    kind: FileKind,
) -> ApiResult<HttpResponse> {
    let prefer = req.headers().get("Prefer").and_then(|v| v.to_str().ok());
    let max_rows = state.settings.import_max_rows;
    let lines = file.0.lines().count().saturating_sub(1);
    if crate::jobs::rules::IMPORTS.runs_as_job(prefer, lines, query.wait) {
        // A file of more lines than the cap is too large before any job starts (a row is
        // at least one line).
        rules::check_row_count(lines, max_rows)?;
        let preferred = crate::jobs::rules::prefers_async(prefer);
        return crate::jobs::start_import(
            state,
            actor,
            kind,
            file.0,
            lines,
            query.dry_run,
            preferred,
        )
        .await;
    }
    // Reading every row is CPU work: off the async workers.
    let text = file.0;
    let file = web::block(move || check_file(kind, &text, max_rows))
        .await
        .map_err(ApiError::internal)??;
    let report = file
        .commit(&state.pool, actor, query.dry_run, None, |_| {})
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Import orgs from CSV: `external_id,parent_external_id,name,kind,domain,window_unit`.
/// Parents are found by external id, in the file (in any order) or already stored.
#[utoipa::path(
    tag = "imports",
    params(ImportQuery, ("Prefer" = Option<String>, Header, description = "`respond-async` (RFC 7240): answer 202 with a job at once")),
    request_body(
        description = "A UTF-8 CSV file with a header row: `external_id,parent_external_id,name,kind,domain,window_unit`",
        content(
            (String = "text/csv", example = "external_id,parent_external_id,name,kind,domain,window_unit\nDL-JD,DL-XY,机电工程学院党总支,general_branch,institution,false\n"),
            (inline(CsvFile) = "application/octet-stream"),
        )
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, with dry_run, checked)", body = ImportReport),
        (status = 202, description = "Accepted as a job (more than 10,000 rows, or `Prefer: respond-async`, without `wait=true`): follow `Location` to `GET /jobs/{id}`", body = crate::jobs::Job,
            headers(("Location" = String, description = "`/api/v1/jobs/{id}`"), ("Preference-Applied" = String, description = "`respond-async` when it was asked for"))),
        (status = 413, description = "The file is larger than `PINGYI_IMPORT_LIMIT` (default 64 MiB), or has more rows than `PINGYI_IMPORT_MAX_ROWS` (default 1,000,000)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/octet-stream", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows with errors, as `{line, field, message}`; nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/orgs")]
async fn import_orgs(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    file: CsvBody,
) -> ApiResult<HttpResponse> {
    import(actor, state, &req, &query, file, FileKind::Orgs).await
}

/// Writes org rows, parents first, in one transaction (the tree is locked meanwhile).
pub fn apply_orgs(
    target: &mut Target,
    actor: &Actor,
    records: Vec<OrgRecord>,
    progress: Progress,
) -> ApiResult<ImportReport> {
    target.whole(|conn| write_orgs(conn, actor, records, progress))
}

fn write_orgs(
    conn: &mut DbConn,
    actor: &Actor,
    records: Vec<OrgRecord>,
    progress: Progress,
) -> ApiResult<ImportReport> {
    db::lock_tree(conn)?;
    let (ordered, cyclic) = rules::parents_first(records);
    let mut tally = Tally::new(progress);
    for record in cyclic {
        let cycle = RowError::row("parent_external_id", "the parents form a cycle");
        tally.add(record.line, Err(cycle))?;
    }
    // Which rows name a stored org (read at once): the others are created, together.
    let named: Vec<&str> = ordered.iter().map(|r| r.external_id.as_str()).collect();
    let stored: HashSet<String> = org_queries::find_by_external_ids(conn, &named)?
        .into_iter()
        .filter_map(|o| o.external_id)
        .collect();
    // Rows written so far, by external id; `None` for a row that failed (its children
    // would only repeat the error).
    let mut done: HashMap<String, Option<OrgRow>> = HashMap::new();
    let mut new_orgs = NewOrgs::default();
    for record in ordered {
        if !stored.contains(&record.external_id) {
            // A row under an org still waiting to be created waits for its id and path.
            if new_orgs.holds_parent_of(&record) {
                new_orgs.write(conn, actor, &mut done, &mut tally)?;
            }
            let parent = import_parent(conn, actor, &record, &done)
                .and_then(|parent| authorize_under(actor, parent.as_ref()).map(|()| parent));
            match parent {
                Ok(parent) => new_orgs.add(record, parent),
                Err(e) => {
                    done.insert(record.external_id.clone(), None);
                    tally.add(record.line, Err(e))?;
                }
            }
            continue;
        }
        // Stored orgs are changed one by one (moves rewrite subtrees): after what waits.
        new_orgs.write(conn, actor, &mut done, &mut tally)?;
        let result = import_parent(conn, actor, &record, &done).and_then(|parent| {
            match org_queries::find_by_external_id(conn, &record.external_id)? {
                Some(existing) => update_org(conn, actor, &record, existing, parent.as_ref()),
                None => Err(RowError::Failed(ApiError::internal(
                    "a stored org vanished",
                ))),
            }
        });
        let written = result.as_ref().ok().map(|(row, _)| row.clone());
        done.insert(record.external_id.clone(), written);
        tally.add(record.line, result.map(|(_, outcome)| outcome))?;
    }
    new_orgs.write(conn, actor, &mut done, &mut tally)?;
    tally.finish()
}

/// New orgs of a file waiting to be inserted together, each with its (written) parent.
#[derive(Default)]
struct NewOrgs {
    rows: Vec<(OrgRecord, Option<OrgRow>)>,
    external_ids: HashSet<String>,
}

impl NewOrgs {
    fn holds_parent_of(&self, record: &OrgRecord) -> bool {
        record
            .parent_external_id
            .as_ref()
            .is_some_and(|p| self.external_ids.contains(p))
    }

    fn add(&mut self, record: OrgRecord, parent: Option<OrgRow>) {
        self.external_ids.insert(record.external_id.clone());
        self.rows.push((record, parent));
    }

    /// Inserts what waits in multi-row statements, audits it, and counts its rows.
    fn write(
        &mut self,
        conn: &mut DbConn,
        actor: &Actor,
        done: &mut HashMap<String, Option<OrgRow>>,
        tally: &mut Tally<'_>,
    ) -> ApiResult<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let at = now();
        let new_rows: Vec<org_queries::NewOrgRow<'_>> = self
            .rows
            .iter()
            .map(|(r, parent)| {
                org_queries::NewOrgRow::under(
                    parent.as_ref(),
                    &r.name,
                    r.kind,
                    r.domain,
                    r.window_unit,
                    &r.external_id,
                    at,
                )
            })
            .collect();
        let mut inserted: HashMap<String, OrgRow> = org_queries::insert_many(conn, &new_rows)?
            .into_iter()
            .filter_map(|org| Some((org.external_id.clone()?, org)))
            .collect();
        drop(new_rows);
        let mut events = Vec::with_capacity(self.rows.len());
        for (record, _) in self.rows.drain(..) {
            let org = inserted.remove(&record.external_id).ok_or_else(|| {
                ApiError::internal("an org inserted in a batch did not come back")
            })?;
            let summary = org_summary("imported", &org);
            events.push(Event::new(
                "org.create",
                "org",
                org.id,
                Some(org.id),
                summary,
            ));
            done.insert(record.external_id, Some(org));
            tally.add(record.line, Ok(Outcome::Created))?;
        }
        self.external_ids.clear();
        audit::record_many(conn, actor, &events)
    }
}

fn visible_by_external_id(
    conn: &mut DbConn,
    actor: &Actor,
    external_id: &str,
) -> ApiResult<Option<OrgRow>> {
    let org = org_queries::find_by_external_id(conn, external_id)?;
    Ok(org.filter(|o| actor.can_see(&o.path)))
}

/// The row's parent: written by an earlier row of the file, or stored and visible.
fn import_parent(
    conn: &mut DbConn,
    actor: &Actor,
    record: &OrgRecord,
    done: &HashMap<String, Option<OrgRow>>,
) -> Result<Option<OrgRow>, RowError> {
    let Some(pe) = &record.parent_external_id else {
        return Ok(None);
    };
    match done.get(pe) {
        Some(None) => Err(RowError::row(
            "parent_external_id",
            format!("the row of {pe} failed"),
        )),
        Some(Some(p)) => Ok(Some(p.clone())),
        None => match visible_by_external_id(conn, actor, pe)? {
            Some(p) if !p.is_active() => Err(RowError::row(
                "parent_external_id",
                format!("the parent organization {pe} is archived"),
            )),
            Some(p) => Ok(Some(p)),
            None => Err(RowError::row(
                "parent_external_id",
                format!("no such organization: {pe}"),
            )),
        },
    }
}

fn authorize_under(actor: &Actor, parent: Option<&OrgRow>) -> Result<(), RowError> {
    actor
        .authorize_place_under(parent.map(|p| p.path.as_str()))
        .map_err(|_| {
            RowError::row(
                "parent_external_id",
                "you may not manage this parent organization",
            )
        })
}

fn update_org(
    conn: &mut DbConn,
    actor: &Actor,
    record: &OrgRecord,
    existing: OrgRow,
    parent: Option<&OrgRow>,
) -> Result<(OrgRow, Outcome), RowError> {
    if !actor.allows(Action::ManageOrgs, &existing.path) {
        return Err(RowError::row(
            "external_id",
            "already used by another organization",
        ));
    }
    let mut changed = false;
    if existing.parent_id != parent.map(|p| p.id) {
        move_org(conn, actor, &existing, parent)?;
        changed = true;
    }
    if !rules::same_org(&existing, record) {
        org_queries::update(conn, existing.id, &rules::org_changes(record, now()))?;
        changed = true;
    }
    let row = org_queries::find(conn, existing.id)?;
    if !changed {
        return Ok((row, Outcome::Unchanged));
    }
    audit_org(conn, actor, &row, "org.update", "updated by import")?;
    Ok((row, Outcome::Updated))
}

/// Moves a stored org under the row's parent, checked as in POST /orgs/{id}/move: the move
/// changes the old superior's tree too.
fn move_org(
    conn: &mut DbConn,
    actor: &Actor,
    existing: &OrgRow,
    parent: Option<&OrgRow>,
) -> Result<(), RowError> {
    let new_parent = parent.ok_or_else(|| {
        RowError::row(
            "parent_external_id",
            "an org cannot become a root by import",
        )
    })?;
    let old_parent_path = org_queries::parent_path(conn, existing)?;
    if !actor.may_take_from(old_parent_path.as_deref()) {
        return Err(RowError::row(
            "parent_external_id",
            "you may not move this organization away from its superior",
        ));
    }
    authorize_under(actor, Some(new_parent))?;
    if crate::orgs::rules::is_cycle(&existing.path, &new_parent.path) {
        return Err(RowError::row(
            "parent_external_id",
            "an org cannot move into its own subtree",
        ));
    }
    org_queries::move_subtree(conn, existing, new_parent)?;
    Ok(())
}

fn audit_org(
    conn: &mut DbConn,
    actor: &Actor,
    org: &OrgRow,
    action: &str,
    how: &str,
) -> ApiResult<()> {
    let summary = org_summary(how, org);
    crate::orgs::record(conn, actor, action, ("org", org.id), org.id, summary)
}

fn org_summary(how: &str, org: &OrgRow) -> String {
    let external_id = org.external_id.as_deref().unwrap_or("");
    format!("{how}: {} ({external_id})", org.name)
}

/// Import people from CSV: `external_id,org_external_id,name,member_type,position,joined_on,phone`.
/// A person whose org changes is moved, keeping the history.
#[utoipa::path(
    tag = "imports",
    params(ImportQuery, ("Prefer" = Option<String>, Header, description = "`respond-async` (RFC 7240): answer 202 with a job at once")),
    request_body(
        description = "A UTF-8 CSV file with a header row: `external_id,org_external_id,name,member_type,position,joined_on,phone`",
        content(
            (String = "text/csv", example = "external_id,org_external_id,name,member_type,position,joined_on,phone\nP-0041,DL-JD-01,李明,full,secretary,2005-07-01,13812345678\n"),
            (inline(CsvFile) = "application/octet-stream"),
        )
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, with dry_run, checked)", body = ImportReport),
        (status = 202, description = "Accepted as a job (more than 10,000 rows, or `Prefer: respond-async`, without `wait=true`): follow `Location` to `GET /jobs/{id}`", body = crate::jobs::Job,
            headers(("Location" = String, description = "`/api/v1/jobs/{id}`"), ("Preference-Applied" = String, description = "`respond-async` when it was asked for"))),
        (status = 413, description = "The file is larger than `PINGYI_IMPORT_LIMIT` (default 64 MiB), or has more rows than `PINGYI_IMPORT_MAX_ROWS` (default 1,000,000)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/octet-stream", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows with errors, as `{line, field, message}`; nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/people")]
async fn import_people(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    file: CsvBody,
) -> ApiResult<HttpResponse> {
    import(actor, state, &req, &query, file, FileKind::People).await
}

/// Rows of a people file written per slice: on SQLite a sliced job holds the write lock
/// for one slice at a time (about 10 ms for 500 new people with their memberships and
/// audit rows), which is what a ballot may wait behind.
pub const ROWS_PER_SLICE: usize = 500;

/// Writes people rows, in file order, a slice of [`ROWS_PER_SLICE`] rows at a time. What
/// the rows meet in the database is read first in a few batched queries (not one per row),
/// and each slice's new people go in one multi-row insert.
pub fn apply_people(
    target: &mut Target,
    actor: &Actor,
    records: Vec<PersonRecord>,
    progress: Progress,
) -> ApiResult<ImportReport> {
    write_people(target, actor, records, progress, None)
}

/// [`apply_people`], given every stored person when they were read ahead.
fn write_people(
    target: &mut Target,
    actor: &Actor,
    records: Vec<PersonRecord>,
    progress: Progress,
    stored_people: Option<Vec<PersonRow>>,
) -> ApiResult<ImportReport> {
    let stored = match stored_people {
        Some(every) => every,
        None => target.read(|conn| {
            let ids: Vec<&str> = records.iter().map(|r| r.external_id.as_str()).collect();
            people_queries::find_by_external_ids(conn, &ids)
        })?,
    };
    let mut roster = target.read(|conn| Roster::load(conn, &records, &stored))?;
    // Checked on two cores while nothing is written; good until a slice writes.
    let mut unchanged_ahead =
        (records.len() > 2 * ROWS_PER_SLICE).then(|| roster.unchanged_rows(actor, &records));
    let mut tally = Tally::new(progress);
    // Rows of unchanged slices, freed with the roster after the import.
    let mut spent = Vec::new();
    let mut records = records.into_iter().peekable();
    let mut first_row = 0;
    while records.peek().is_some() {
        let slice: Vec<PersonRecord> = records.by_ref().take(ROWS_PER_SLICE).collect();
        let rows = first_row..first_row + slice.len();
        first_row = rows.end;
        // A slice of rows that match what is stored needs no transaction (an unchanged
        // re-upload of a city's roster takes none).
        let unchanged = match &unchanged_ahead {
            Some(ahead) => ahead[rows].iter().all(|&same| same),
            None => slice.iter().all(|r| roster.leaves_unchanged(actor, r)),
        };
        if unchanged {
            for record in &slice {
                tally.add(record.line, Ok(Outcome::Unchanged))?;
            }
            spent.push(slice);
            continue;
        }
        // What this slice writes changes what the rows after it meet.
        unchanged_ahead = None;
        let (orgs, people) = roster.secretaries_at_stake(&slice);
        target.slice(&orgs, &people, |conn, undo| {
            let mut new_people = NewPeople::default();
            for record in slice {
                let line = record.line;
                let result = apply_person(conn, actor, record, &mut roster, &mut new_people, undo);
                tally.add(line, result)?;
            }
            new_people.write(conn, actor)?;
            Ok(tally.is_clean())
        })?;
    }
    drop(roster);
    // A city's roster is a million small allocations: freed on a thread of its own, the
    // job is answered without waiting for that.
    let _ = std::thread::Builder::new()
        .name("import-free".into())
        .spawn(move || drop((stored, spent)));
    tally.finish()
}

/// The stored orgs and people an import file names, by external id, and the paths of the
/// orgs those people are in now. People are borrowed from the rows as read, so a city's
/// roster is indexed without moving half a million rows.
struct Roster<'p> {
    // Keyed by a seeded fast hash: a city's roster is half a million lookups.
    orgs: foldhash::HashMap<String, OrgRow>,
    people: foldhash::HashMap<&'p str, &'p PersonRow>,
    paths: foldhash::HashMap<i64, String>,
}

impl<'p> Roster<'p> {
    /// Indexes `people` (the stored people the file may name) and reads the orgs the
    /// file names and those the people are in now.
    fn load(
        conn: &mut DbConn,
        records: &[PersonRecord],
        people: &'p [PersonRow],
    ) -> ApiResult<Self> {
        let mut org_ids: Vec<&str> = records.iter().map(|r| r.org_external_id.as_str()).collect();
        // A roster lists an org's people together: most repeats go before sorting.
        org_ids.dedup();
        org_ids.sort_unstable();
        org_ids.dedup();
        let orgs = org_queries::find_by_external_ids(conn, &org_ids)?;
        let mut paths: foldhash::HashMap<i64, String> =
            orgs.iter().map(|o| (o.id, o.path.clone())).collect();
        let mut elsewhere: Vec<i64> = people
            .iter()
            .map(|p| p.org_id)
            .filter(|id| !paths.contains_key(id))
            .collect();
        elsewhere.sort_unstable();
        elsewhere.dedup();
        paths.extend(org_queries::paths_of(conn, &elsewhere)?);
        Ok(Roster {
            orgs: orgs
                .into_iter()
                .map(|o| (o.external_id.clone().unwrap_or_default(), o))
                .collect(),
            people: people
                .iter()
                .filter_map(|p| Some((p.external_id.as_deref()?, p)))
                .collect(),
            paths,
        })
    }

    fn path_of(&self, org_id: i64) -> ApiResult<&str> {
        self.paths
            .get(&org_id)
            .map(String::as_str)
            .ok_or_else(ApiError::not_found)
    }

    /// The stored orgs a slice of rows names and the stored people it names: the secretaries
    /// the slice may change.
    fn secretaries_at_stake(&self, slice: &[PersonRecord]) -> (Vec<i64>, Vec<i64>) {
        let mut orgs = Vec::with_capacity(slice.len());
        let mut people = Vec::new();
        for record in slice {
            if let Some(org) = self.orgs.get(&record.org_external_id) {
                orgs.push(org.id);
            }
            if let Some(person) = self.people.get(record.external_id.as_str()) {
                people.push(person.id);
            }
        }
        orgs.sort_unstable();
        orgs.dedup();
        (orgs, people)
    }

    /// Whether a row finds its stored person exactly as it says, in an org the actor
    /// manages: what [`apply_person`] would count unchanged without writing. Anything else
    /// goes through `apply_person`.
    fn leaves_unchanged(&self, actor: &Actor, record: &PersonRecord) -> bool {
        let Some(stored) = self.people.get(record.external_id.as_str()) else {
            return false;
        };
        let Ok(org) = managed_org(actor, &record.org_external_id, self) else {
            return false;
        };
        // Staying in the org just checked as managed, the person is managed where they are.
        stored.org_id == org.id
            && rules::same_person(stored, record)
            && rules::secretary_change(record.position, stored.id, org.secretary_id)
                == SecretaryChange::Keep
    }

    /// [`Self::leaves_unchanged`] for every row, half of them on a second thread (a city's
    /// re-upload is half a million lookups in maps of half a million).
    fn unchanged_rows(&self, actor: &Actor, records: &[PersonRecord]) -> Vec<bool> {
        let (first, second) = records.split_at(records.len() / 2);
        let check = |rows: &[PersonRecord]| -> Vec<bool> {
            rows.iter()
                .map(|r| self.leaves_unchanged(actor, r))
                .collect()
        };
        std::thread::scope(|scope| {
            let later = scope.spawn(|| check(second));
            let mut flags = check(first);
            // A panic there leaves those rows to the check one by one.
            flags.extend(later.join().unwrap_or_else(|_| vec![false; second.len()]));
            flags
        })
    }

    /// Records a change of secretary for the rows that follow.
    fn set_secretary(&mut self, org_external_id: &str, secretary: Option<i64>) {
        if let Some(org) = self.orgs.get_mut(org_external_id) {
            org.secretary_id = secretary;
        }
    }
}

/// People to create, waiting for their multi-row insert, each with the org they become
/// secretary of.
#[derive(Default)]
struct NewPeople {
    rows: Vec<people_queries::NewPersonRow>,
    secretary_of: Vec<Option<i64>>,
}

impl NewPeople {
    /// Inserts the waiting people, their memberships and appointments, and audits them.
    fn write(&mut self, conn: &mut DbConn, actor: &Actor) -> ApiResult<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let ids = people_queries::insert_many(conn, &self.rows)?;
        let mut events = Vec::with_capacity(self.rows.len());
        for ((row, &id), secretary_of) in self.rows.iter().zip(&ids).zip(&self.secretary_of) {
            let imported = format!("imported {}", row.name);
            events.push(Event::new(
                "person.import",
                "person",
                id,
                Some(row.org_id),
                imported,
            ));
            if let Some(org_id) = *secretary_of {
                org_queries::set_secretary(conn, org_id, id)?;
                let summary = format!("secretary by import: {}", row.name);
                events.push(Event::new(
                    "org.update",
                    "org",
                    org_id,
                    Some(org_id),
                    summary,
                ));
            }
        }
        audit::record_many(conn, actor, &events)?;
        self.rows.clear();
        self.secretary_of.clear();
        Ok(())
    }
}

fn apply_person(
    conn: &mut DbConn,
    actor: &Actor,
    record: PersonRecord,
    roster: &mut Roster<'_>,
    new_people: &mut NewPeople,
    undo: &mut SliceUndo,
) -> Result<Outcome, RowError> {
    let org = managed_org(actor, &record.org_external_id, roster)?;
    // A file names a person once: their stored row is taken, not copied.
    let Some(existing) = roster.people.remove(record.external_id.as_str()) else {
        let appointed = record.position == Some(Position::Secretary);
        if appointed {
            // Later rows see the org as it will be (no other row names a secretary for it).
            roster.set_secretary(&record.org_external_id, None);
        }
        new_people.secretary_of.push(appointed.then_some(org.id));
        new_people
            .rows
            .push(rules::new_person(record, org.id, now()));
        return Ok(Outcome::Created);
    };
    let current_path = roster.path_of(existing.org_id)?;
    let outcome = update_person(conn, actor, &record, existing, current_path, org.id, undo)?;
    let person_id = existing.id;
    let change = rules::secretary_change(record.position, person_id, org.secretary_id);
    if change == SecretaryChange::Keep {
        return Ok(outcome);
    }
    let summary = if change == SecretaryChange::Appoint {
        org_queries::set_secretary(conn, org.id, person_id)?;
        format!("secretary by import: {}", record.name)
    } else {
        people_queries::clear_secretary(conn, person_id)?;
        format!("no longer secretary by import: {}", record.name)
    };
    crate::orgs::record(conn, actor, "org.update", ("org", org.id), org.id, summary)?;
    // Later rows of the file see the org as it now is.
    let secretary = (change == SecretaryChange::Appoint).then_some(person_id);
    roster.set_secretary(&record.org_external_id, secretary);
    Ok(match outcome {
        Outcome::Unchanged => Outcome::Updated,
        changed => changed,
    })
}

/// What a person row needs of its org.
#[derive(Clone, Copy)]
struct ManagedOrg {
    id: i64,
    secretary_id: Option<i64>,
}

/// The row's org: stored, visible, and managed by the actor.
fn managed_org(
    actor: &Actor,
    external_id: &str,
    roster: &Roster<'_>,
) -> Result<ManagedOrg, RowError> {
    let org = roster
        .orgs
        .get(external_id)
        .filter(|o| actor.can_see(&o.path))
        .ok_or_else(|| {
            RowError::row(
                "org_external_id",
                format!("no such organization: {external_id}"),
            )
        })?;
    if !actor.allows(Action::ManageOrgs, &org.path) {
        return Err(RowError::row(
            "org_external_id",
            "you may not manage this organization",
        ));
    }
    if !org.is_active() {
        return Err(RowError::row(
            "org_external_id",
            format!("the organization {external_id} is archived"),
        ));
    }
    Ok(ManagedOrg {
        id: org.id,
        secretary_id: org.secretary_id,
    })
}

/// Brings a stored person in line with the row: what changed.
fn update_person(
    conn: &mut DbConn,
    actor: &Actor,
    record: &PersonRecord,
    existing: &PersonRow,
    current_path: &str,
    org_id: i64,
    undo: &mut SliceUndo,
) -> Result<Outcome, RowError> {
    if !actor.allows(Action::ManageOrgs, current_path) {
        return Err(RowError::row(
            "external_id",
            "already used by another person",
        ));
    }
    let moves = existing.org_id != org_id;
    let edits = !rules::same_person(existing, record);
    if moves || edits {
        undo.changing(existing);
    }
    let mut changed = false;
    if moves {
        undo.moving(existing.id);
        people_queries::move_to(conn, existing, org_id)?;
        changed = true;
    }
    if edits {
        people_queries::update(conn, existing.id, &rules::person_changes(record, now()))?;
        changed = true;
    }
    if !changed {
        return Ok(Outcome::Unchanged);
    }
    let summary = format!("updated by import: {}", record.name);
    audit_person(conn, actor, existing.id, org_id, summary)?;
    Ok(Outcome::Updated)
}

fn audit_person(
    conn: &mut DbConn,
    actor: &Actor,
    person_id: i64,
    org_id: i64,
    summary: String,
) -> ApiResult<()> {
    let target = ("person", person_id);
    crate::orgs::record(conn, actor, "person.import", target, org_id, summary)
}
