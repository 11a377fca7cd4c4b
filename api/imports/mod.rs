//! Bulk CSV imports of orgs and people, keyed by `external_id`: a second run of the same
//! file updates and creates nothing twice; a file with any bad row writes nothing.

pub mod csv_rows;

use std::collections::{HashMap, HashSet};

use actix_web::http::{header, StatusCode};
use actix_web::{post, web, HttpRequest};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use self::csv_rows::{OrgRecord, PersonRecord};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::schema::{orgs, people};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError};
use crate::orgs::model::OrgRow;
use crate::orgs::queries as org_queries;
use crate::people::queries as people_queries;
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(import_orgs).service(import_people);
}

#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({"created": 12, "updated": 1, "unchanged": 30, "dry_run": false, "errors": []}))]
pub struct ImportReport {
    pub created: u32,
    pub updated: u32,
    /// Rows identical to what is stored.
    pub unchanged: u32,
    /// True when nothing was written because `dry_run=true` was asked.
    pub dry_run: bool,
    /// Always empty in a 200 answer; a file with errors answers 422 with them.
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check and count, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn require_csv(req: &HttpRequest) -> ApiResult<()> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if essence == "text/csv" || essence == "application/csv" {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the file as Content-Type: text/csv (UTF-8, with a header row).",
        ))
    }
}

fn rows_failed(mut errors: Vec<FieldError>) -> ApiError {
    errors.sort_by_key(|e| e.line);
    let mut e = ApiError::validation(errors);
    e.detail = "Some rows are invalid; nothing was written.".into();
    e
}

type Parse<R> = fn(&str) -> (Vec<R>, Vec<FieldError>);
type Apply<R> = fn(&mut DbConn, &Actor, Vec<R>) -> ApiResult<ImportReport>;

/// Checks the file, then writes it in one transaction (rolled back for a dry run, or on
/// any row's error).
async fn import<R: Send + 'static>(
    actor: Actor,
    state: &AppState,
    req: &HttpRequest,
    query: &ImportQuery,
    body: &str,
    parse: Parse<R>,
    apply: Apply<R>,
) -> ApiResult<web::Json<ImportReport>> {
    require_csv(req)?;
    let (records, errors) = parse(body);
    if !errors.is_empty() {
        return Err(rows_failed(errors));
    }
    let write = move |conn: &mut DbConn| apply(conn, &actor, records);
    let mut report = if query.dry_run {
        db::rehearse(&state.pool, write).await?
    } else {
        db::write(&state.pool, write).await?
    };
    report.dry_run = query.dry_run;
    Ok(web::Json(report))
}

/// Import orgs from CSV: `external_id,parent_external_id,name,kind,domain,window_unit`.
/// Parents are found by external id, in the file (in any order) or already stored.
#[utoipa::path(
    tag = "imports",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", example = "external_id,parent_external_id,name,kind,domain,window_unit\nDL-JD,DL-XY,机电工程学院党总支,general_branch,institution,false\n"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, with dry_run, checked)", body = ImportReport),
        (status = 415, description = "Not text/csv", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows with errors, as `{line, field, message}`; nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/orgs")]
async fn import_orgs(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    body: String,
) -> ApiResult<web::Json<ImportReport>> {
    import(
        actor,
        &state,
        &req,
        &query,
        &body,
        csv_rows::parse_orgs,
        apply_orgs,
    )
    .await
}

pub fn apply_orgs(
    conn: &mut DbConn,
    actor: &Actor,
    records: Vec<OrgRecord>,
) -> ApiResult<ImportReport> {
    db::lock_tree(conn)?;
    let mut report = ImportReport::default();
    let mut errors = Vec::new();
    let in_file: HashSet<String> = records.iter().map(|r| r.external_id.clone()).collect();
    // Rows written so far, by external id; `None` for a row that failed.
    let mut done: HashMap<String, Option<OrgRow>> = HashMap::new();
    let mut pending = records;
    // A row waits until its parent (when the file defines it) has been written.
    loop {
        let (ready, waiting): (Vec<OrgRecord>, Vec<OrgRecord>) =
            pending.into_iter().partition(|r| {
                r.parent_external_id
                    .as_ref()
                    .is_none_or(|p| !in_file.contains(p) || done.contains_key(p))
            });
        if ready.is_empty() {
            for r in &waiting {
                errors.push(FieldError::at_line(
                    r.line,
                    "parent_external_id",
                    "the parents form a cycle",
                ));
            }
            break;
        }
        for record in ready {
            match apply_org(conn, actor, &record, &done) {
                Ok((row, outcome)) => {
                    outcome.count(&mut report);
                    done.insert(record.external_id.clone(), Some(row));
                }
                Err(RowError::Failed(e)) => return Err(e),
                Err(RowError::Row(field, message)) => {
                    errors.push(FieldError::at_line(record.line, field, message));
                    // Children of a failed row would only repeat the error.
                    done.insert(record.external_id.clone(), None);
                }
            }
        }
        if waiting.is_empty() {
            break;
        }
        pending = waiting;
    }
    if !errors.is_empty() {
        return Err(rows_failed(errors));
    }
    Ok(report)
}

/// What an import row did.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Outcome {
    fn count(self, report: &mut ImportReport) {
        match self {
            Outcome::Created => report.created += 1,
            Outcome::Updated => report.updated += 1,
            Outcome::Unchanged => report.unchanged += 1,
        }
    }
}

/// A row's failure: the column and the message. Database failures abort the import.
enum RowError {
    /// The row is wrong: reported with its line, and the import writes nothing.
    Row(&'static str, String),
    /// The database failed: the import stops with that error.
    Failed(ApiError),
}

impl From<ApiError> for RowError {
    fn from(e: ApiError) -> Self {
        match e.status {
            StatusCode::NOT_FOUND => RowError::Row("row", "no such organization".into()),
            StatusCode::FORBIDDEN => {
                RowError::Row("row", "you may not manage this organization".into())
            }
            StatusCode::CONFLICT => RowError::Row("external_id", e.detail),
            _ => RowError::Failed(e),
        }
    }
}

fn visible_by_external_id(
    conn: &mut DbConn,
    actor: &Actor,
    external_id: &str,
) -> Result<Option<OrgRow>, RowError> {
    let org = org_queries::find_by_external_id(conn, external_id)?;
    Ok(org.filter(|o| actor.can_see(&o.path)))
}

fn apply_org(
    conn: &mut DbConn,
    actor: &Actor,
    record: &OrgRecord,
    done: &HashMap<String, Option<OrgRow>>,
) -> Result<(OrgRow, Outcome), RowError> {
    let parent = match &record.parent_external_id {
        None => None,
        Some(pe) => match done.get(pe) {
            Some(None) => {
                return Err(RowError::Row(
                    "parent_external_id",
                    format!("the row of {pe} failed"),
                ))
            }
            Some(Some(p)) => Some(p.clone()),
            None => Some(visible_by_external_id(conn, actor, pe)?.ok_or_else(|| {
                RowError::Row("parent_external_id", format!("no such organization: {pe}"))
            })?),
        },
    };
    let authorize_under = |parent: &Option<OrgRow>| -> Result<(), RowError> {
        let allowed = match parent {
            Some(p) => actor.authorize(Action::ManageOrgs, &p.path),
            None => actor.authorize_global(),
        };
        allowed.map_err(|_| {
            RowError::Row(
                "parent_external_id",
                "you may not manage this parent organization".into(),
            )
        })
    };
    let existing = org_queries::find_by_external_id(conn, &record.external_id)?;
    let Some(existing) = existing else {
        authorize_under(&parent)?;
        let row = org_queries::insert(
            conn,
            org_queries::NewOrg {
                parent: parent.as_ref(),
                name: &record.name,
                kind: record.kind.as_str(),
                domain: record.domain.as_str(),
                window_unit: record.window_unit,
                external_id: Some(&record.external_id),
            },
        )?;
        audit_org(conn, actor, &row, "org.create", "imported")?;
        return Ok((row, Outcome::Created));
    };
    if !actor.allows(Action::ManageOrgs, &existing.path) {
        return Err(RowError::Row(
            "external_id",
            "already used by another organization".into(),
        ));
    }
    let mut changed = false;
    if existing.parent_id != parent.as_ref().map(|p| p.id) {
        let new_parent = parent.as_ref().ok_or_else(|| {
            RowError::Row(
                "parent_external_id",
                "an org cannot become a root by import".into(),
            )
        })?;
        // A move changes the old superior's tree too, as in POST /orgs/{id}/move.
        let old_parent_path = match existing.parent_id {
            Some(id) => Some(org_queries::path_of(conn, id)?),
            None => None,
        };
        let may_leave = match &old_parent_path {
            Some(path) => actor.allows(Action::ManageOrgs, path),
            None => actor.is_admin(),
        };
        if !may_leave {
            return Err(RowError::Row(
                "parent_external_id",
                "you may not move this organization away from its superior".into(),
            ));
        }
        authorize_under(&parent)?;
        if crate::orgs::rules::is_cycle(&existing.path, &new_parent.path) {
            return Err(RowError::Row(
                "parent_external_id",
                "an org cannot move into its own subtree".into(),
            ));
        }
        org_queries::move_subtree(conn, &existing, new_parent)?;
        changed = true;
    }
    let same = existing.name == record.name
        && existing.kind == record.kind.as_str()
        && existing.domain == record.domain.as_str()
        && existing.window_unit == record.window_unit;
    if !same {
        diesel::update(orgs::table.find(existing.id))
            .set((
                orgs::name.eq(&record.name),
                orgs::kind.eq(record.kind.as_str()),
                orgs::domain.eq(record.domain.as_str()),
                orgs::window_unit.eq(record.window_unit),
                orgs::updated_at.eq(now()),
            ))
            .execute(conn)
            .map_err(ApiError::from)?;
        changed = true;
    }
    let row = org_queries::find(conn, existing.id)?;
    if changed {
        audit_org(conn, actor, &row, "org.update", "updated by import")?;
        Ok((row, Outcome::Updated))
    } else {
        Ok((row, Outcome::Unchanged))
    }
}

fn audit_org(
    conn: &mut DbConn,
    actor: &Actor,
    org: &OrgRow,
    action: &str,
    how: &str,
) -> ApiResult<()> {
    audit::record(
        conn,
        actor,
        Event {
            action,
            target_type: "org",
            target_id: Some(org.id.to_string()),
            org_id: Some(org.id),
            summary: format!(
                "{how}: {} ({})",
                org.name,
                org.external_id.as_deref().unwrap_or("")
            ),
        },
    )
}

/// Import people from CSV: `external_id,org_external_id,name,member_type,position,joined_on,phone`.
/// A person whose org changes is moved, keeping the history.
#[utoipa::path(
    tag = "imports",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", example = "external_id,org_external_id,name,member_type,position,joined_on,phone\nP-0041,DL-JD-01,李明,full,secretary,2005-07-01,13812345678\n"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, with dry_run, checked)", body = ImportReport),
        (status = 415, description = "Not text/csv", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows with errors, as `{line, field, message}`; nothing was written", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/imports/people")]
async fn import_people(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    body: String,
) -> ApiResult<web::Json<ImportReport>> {
    import(
        actor,
        &state,
        &req,
        &query,
        &body,
        csv_rows::parse_people,
        apply_people,
    )
    .await
}

pub fn apply_people(
    conn: &mut DbConn,
    actor: &Actor,
    records: Vec<PersonRecord>,
) -> ApiResult<ImportReport> {
    let mut report = ImportReport::default();
    let mut errors = Vec::new();
    let mut org_cache: HashMap<String, Option<OrgRow>> = HashMap::new();
    for record in records {
        match apply_person(conn, actor, &record, &mut org_cache) {
            Ok(outcome) => outcome.count(&mut report),
            Err(RowError::Failed(e)) => return Err(e),
            Err(RowError::Row(field, message)) => {
                errors.push(FieldError::at_line(record.line, field, message))
            }
        }
    }
    if !errors.is_empty() {
        return Err(rows_failed(errors));
    }
    Ok(report)
}

fn apply_person(
    conn: &mut DbConn,
    actor: &Actor,
    record: &PersonRecord,
    org_cache: &mut HashMap<String, Option<OrgRow>>,
) -> Result<Outcome, RowError> {
    let org = match org_cache.get(&record.org_external_id) {
        Some(cached) => cached.clone(),
        None => {
            let found = visible_by_external_id(conn, actor, &record.org_external_id)?;
            org_cache.insert(record.org_external_id.clone(), found.clone());
            found
        }
    }
    .ok_or_else(|| {
        RowError::Row(
            "org_external_id",
            format!("no such organization: {}", record.org_external_id),
        )
    })?;
    if !actor.allows(Action::ManageOrgs, &org.path) {
        return Err(RowError::Row(
            "org_external_id",
            "you may not manage this organization".into(),
        ));
    }
    let position = record.position.map(|p| p.as_str());
    let Some(existing) = people_queries::find_by_external_id(conn, &record.external_id)? else {
        let person = people_queries::insert(
            conn,
            people_queries::NewPerson {
                org_id: org.id,
                name: &record.name,
                member_type: record.member_type.as_str(),
                position,
                joined_on: record.joined_on,
                external_id: Some(&record.external_id),
                phone: record.phone.as_deref(),
            },
        )?;
        audit_person(
            conn,
            actor,
            person.id,
            org.id,
            &format!("imported {}", person.name),
        )?;
        return Ok(Outcome::Created);
    };
    let current_path = org_queries::path_of(conn, existing.org_id)?;
    if !actor.allows(Action::ManageOrgs, &current_path) {
        return Err(RowError::Row(
            "external_id",
            "already used by another person".into(),
        ));
    }
    let mut changed = false;
    if existing.org_id != org.id {
        people_queries::move_to(conn, &existing, org.id)?;
        changed = true;
    }
    let same = existing.name == record.name
        && existing.member_type == record.member_type.as_str()
        && existing.position.as_deref() == position
        && existing.joined_on == record.joined_on
        && existing.phone == record.phone
        && existing.status == "active";
    if !same {
        diesel::update(people::table.find(existing.id))
            .set((
                people::name.eq(&record.name),
                people::member_type.eq(record.member_type.as_str()),
                people::position.eq(position),
                people::joined_on.eq(record.joined_on),
                people::phone.eq(record.phone.as_deref()),
                people::status.eq("active"),
                people::updated_at.eq(now()),
            ))
            .execute(conn)
            .map_err(ApiError::from)?;
        changed = true;
    }
    if changed {
        audit_person(
            conn,
            actor,
            existing.id,
            org.id,
            &format!("updated by import: {}", record.name),
        )?;
        Ok(Outcome::Updated)
    } else {
        Ok(Outcome::Unchanged)
    }
}

fn audit_person(
    conn: &mut DbConn,
    actor: &Actor,
    person_id: i64,
    org_id: i64,
    summary: &str,
) -> ApiResult<()> {
    audit::record(
        conn,
        actor,
        Event {
            action: "person.import",
            target_type: "person",
            target_id: Some(person_id.to_string()),
            org_id: Some(org_id),
            summary: summary.to_owned(),
        },
    )
}
