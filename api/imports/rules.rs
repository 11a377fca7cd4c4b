//! Pure rules of imports: the order rows are written in, what counts as unchanged, and how
//! row outcomes add up to a report.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::csv_rows::{OrgRecord, PersonRecord};
use super::model::ImportReport;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::orgs::model::{OrgChanges, OrgRow};
use crate::people::model::{PersonChanges, PersonRow, PersonStatus, Position};
use crate::people::queries::NewPersonRow;

/// What an import row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A row's failure.
#[derive(Debug)]
pub enum RowError {
    /// The row is wrong (the column and the message): reported with its line, and the
    /// import writes nothing.
    Row(&'static str, String),
    /// The database failed: the import stops with that error.
    Failed(ApiError),
}

impl RowError {
    pub fn row(field: &'static str, message: impl Into<String>) -> Self {
        RowError::Row(field, message.into())
    }
}

impl From<ApiError> for RowError {
    fn from(e: ApiError) -> Self {
        RowError::Failed(e)
    }
}

/// Told how many rows are done after each one (a progress bar, a job's counter).
pub type Progress<'a> = &'a dyn Fn(u64);

/// The outcomes of the rows so far.
pub struct Tally<'a> {
    report: ImportReport,
    errors: Vec<FieldError>,
    progress: Progress<'a>,
    done: u64,
}

impl<'a> Tally<'a> {
    pub fn new(progress: Progress<'a>) -> Self {
        Tally {
            report: ImportReport::default(),
            errors: Vec::new(),
            progress,
            done: 0,
        }
    }

    /// Counts a row; a database failure ends the import.
    pub fn add(&mut self, line: u64, result: Result<Outcome, RowError>) -> Result<(), ApiError> {
        self.done += 1;
        (self.progress)(self.done);
        match result {
            Ok(Outcome::Created) => self.report.created += 1,
            Ok(Outcome::Updated) => self.report.updated += 1,
            Ok(Outcome::Unchanged) => self.report.unchanged += 1,
            Err(RowError::Row(field, message)) => {
                self.errors.push(FieldError::at_line(line, field, message))
            }
            Err(RowError::Failed(e)) => return Err(e),
        }
        Ok(())
    }

    /// Whether every row so far was written without an error.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// The report, or the rows' errors (and then the transaction rolls back).
    pub fn finish(self) -> Result<ImportReport, ApiError> {
        if self.errors.is_empty() {
            Ok(self.report)
        } else {
            Err(rows_failed(self.errors))
        }
    }
}

/// The answer for a file with bad rows: every error, by line.
pub fn rows_failed(mut errors: Vec<FieldError>) -> ApiError {
    errors.sort_by_key(|e| e.line);
    let mut e = ApiError::validation(errors);
    e.detail = "Some rows are invalid; nothing was written.".into();
    e
}

/// Orders org rows so that a row comes after its parent when the file defines the parent
/// (rows whose parent is stored, or named nowhere, come first, in file order). The second
/// list holds the rows whose parents form a cycle: they are never written.
pub fn parents_first(records: Vec<OrgRecord>) -> (Vec<OrgRecord>, Vec<OrgRecord>) {
    // O(n): the rows by the parent they name, then the tree level by level (each level in
    // file order, as before: rows whose parent is stored or named nowhere first).
    let in_file: HashSet<&str> = records.iter().map(|r| r.external_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut level: Vec<usize> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match r.parent_external_id.as_deref() {
            Some(p) if in_file.contains(p) => children.entry(p).or_default().push(i),
            _ => level.push(i),
        }
    }
    let mut placed_ids: HashSet<&str> = HashSet::new();
    let mut placed = vec![false; records.len()];
    let mut order: Vec<usize> = Vec::with_capacity(records.len());
    while !level.is_empty() {
        level.sort_unstable();
        let mut next = Vec::new();
        for &i in &level {
            placed[i] = true;
            order.push(i);
            let id = records[i].external_id.as_str();
            if placed_ids.insert(id) {
                if let Some(kids) = children.get(id) {
                    next.extend(kids.iter().copied().filter(|&k| !placed[k]));
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        level = next;
    }
    let mut slots: Vec<Option<OrgRecord>> = records.into_iter().map(Some).collect();
    let ordered = order.iter().filter_map(|&i| slots[i].take()).collect();
    let cyclic = slots.into_iter().flatten().collect();
    (ordered, cyclic)
}

/// An import holds at most `max` rows (413 beyond: the file is too large).
pub fn check_row_count(rows: usize, max: usize) -> ApiResult<()> {
    if rows > max {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            crate::error::ErrorCode::PayloadTooLarge,
            format!("The file has {rows} rows; an import takes at most {max}."),
        ));
    }
    Ok(())
}

/// Whether a stored org already has the row's name, kind, domain and window-unit flag.
pub fn same_org(stored: &OrgRow, record: &OrgRecord) -> bool {
    stored.name == record.name
        && stored.kind == record.kind
        && stored.domain == record.domain
        && stored.window_unit == record.window_unit
}

/// What an import row changes in a stored org.
pub fn org_changes(record: &OrgRecord, at: NaiveDateTime) -> OrgChanges<'_> {
    OrgChanges {
        name: Some(&record.name),
        kind: Some(record.kind),
        domain: Some(record.domain),
        window_unit: Some(record.window_unit),
        external_id: None,
        secretary_id: None,
        updated_at: at,
    }
}

/// Whether a stored person already matches the row (and is active).
pub fn same_person(stored: &PersonRow, record: &PersonRecord) -> bool {
    stored.name == record.name
        && stored.member_type == record.member_type
        && stored.position == record.position
        && stored.joined_on == record.joined_on
        && stored.phone == record.phone
        && stored.status == PersonStatus::Active
}

/// What an import row changes in a stored person: everything but the org, and an archived
/// person becomes active again.
pub fn person_changes(record: &PersonRecord, at: NaiveDateTime) -> PersonChanges<'_> {
    PersonChanges {
        name: Some(&record.name),
        member_type: Some(record.member_type),
        position: Some(record.position),
        joined_on: Some(record.joined_on),
        external_id: None,
        phone: Some(record.phone.as_deref()),
        status: Some(PersonStatus::Active),
        updated_at: at,
    }
}

/// The stored row of a person the import creates in `org_id`.
pub fn new_person(record: PersonRecord, org_id: i64, at: NaiveDateTime) -> NewPersonRow {
    NewPersonRow {
        org_id,
        name: record.name,
        member_type: record.member_type,
        position: record.position,
        joined_on: record.joined_on,
        external_id: record.external_id,
        phone: record.phone,
        status: PersonStatus::Active,
        created_at: at,
        updated_at: at,
    }
}

/// Rows written from which an import counts as bulk, and the tables it filled get fresh
/// statistics (PostgreSQL).
pub const BULK_ROWS: u32 = 1_000;

/// Whether an import wrote enough rows to change the plans over its tables.
pub fn is_bulk(report: &ImportReport) -> bool {
    !report.dry_run && report.created + report.updated >= BULK_ROWS
}

/// What an imported person row does to its org's secretary (`secretary_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretaryChange {
    /// The row names the person secretary and the org has another one, or none.
    Appoint,
    /// The person is the org's secretary but the row gives another position.
    Remove,
    Keep,
}

/// The org's secretary follows the roster: a row with `position=secretary` makes the person
/// the secretary; the secretary listed with any other position stops being one.
pub fn secretary_change(
    position: Option<Position>,
    person_id: i64,
    org_secretary: Option<i64>,
) -> SecretaryChange {
    let is_secretary = org_secretary == Some(person_id);
    match (position == Some(Position::Secretary), is_secretary) {
        (true, false) => SecretaryChange::Appoint,
        (false, true) => SecretaryChange::Remove,
        _ => SecretaryChange::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs::model::{Domain, OrgKind, OrgStatus};
    use crate::people::model::{MemberType, Position};

    fn org(line: u64, id: &str, parent: Option<&str>) -> OrgRecord {
        OrgRecord {
            line,
            external_id: id.into(),
            parent_external_id: parent.map(str::to_owned),
            name: format!("org {id}"),
            kind: OrgKind::Branch,
            domain: Domain::Institution,
            window_unit: false,
        }
    }

    fn ids(records: &[OrgRecord]) -> Vec<&str> {
        records.iter().map(|r| r.external_id.as_str()).collect()
    }

    #[test]
    fn parents_come_first_and_cycles_are_set_apart() {
        let (ordered, cyclic) = parents_first(vec![
            org(2, "B1", Some("S1")),
            org(3, "C1", None),
            org(4, "S1", Some("C1")),
            org(5, "X1", Some("STORED")),
            org(6, "L1", Some("L2")),
            org(7, "L2", Some("L1")),
            org(8, "ME", Some("ME")),
        ]);
        assert_eq!(ids(&ordered), vec!["C1", "X1", "S1", "B1"]);
        assert_eq!(ids(&cyclic), vec!["L1", "L2", "ME"]);
        let (ordered, cyclic) = parents_first(vec![]);
        assert!(ordered.is_empty() && cyclic.is_empty());
    }

    #[test]
    fn the_tally_tells_its_progress_row_by_row() {
        let seen = std::cell::RefCell::new(Vec::new());
        let progress = |done| seen.borrow_mut().push(done);
        let mut tally = Tally::new(&progress);
        tally.add(2, Ok(Outcome::Created)).unwrap();
        tally
            .add(3, Err(RowError::row("name", "is empty")))
            .unwrap();
        tally.add(4, Ok(Outcome::Unchanged)).unwrap();
        assert_eq!(*seen.borrow(), vec![1, 2, 3]);
    }

    #[test]
    fn tally_counts_rows_and_reports_errors_by_line() {
        let mut tally = Tally::new(&|_| {});
        tally.add(2, Ok(Outcome::Created)).unwrap();
        tally.add(3, Ok(Outcome::Unchanged)).unwrap();
        tally.add(4, Ok(Outcome::Updated)).unwrap();
        let report = tally.finish().unwrap();
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (1, 1, 1)
        );

        let mut tally = Tally::new(&|_| {});
        tally.add(5, Err(RowError::row("name", "bad"))).unwrap();
        tally.add(3, Err(RowError::row("kind", "worse"))).unwrap();
        let failed = tally.finish().unwrap_err();
        let lines: Vec<Option<u64>> = failed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(3), Some(5)]);
        assert_eq!(failed.detail, "Some rows are invalid; nothing was written.");

        let mut tally = Tally::new(&|_| {});
        let stop = tally.add(2, Err(RowError::Failed(ApiError::internal("down"))));
        assert!(stop.is_err());
    }

    #[test]
    fn unchanged_rows_are_recognized() {
        let now = chrono::Utc::now().naive_utc();
        let record = org(2, "C1", None);
        let mut stored = OrgRow {
            id: 1,
            parent_id: None,
            name: record.name.clone(),
            kind: record.kind,
            domain: record.domain,
            window_unit: false,
            external_id: Some("C1".into()),
            secretary_id: None,
            status: OrgStatus::Active,
            path: "/1/".into(),
            depth: 0,
            created_at: now,
            updated_at: now,
        };
        assert!(same_org(&stored, &record));
        stored.domain = Domain::Rural;
        assert!(!same_org(&stored, &record));

        let person = PersonRecord {
            line: 2,
            external_id: "P1".into(),
            org_external_id: "C1".into(),
            name: "张三".into(),
            member_type: MemberType::Full,
            position: Some(Position::Secretary),
            joined_on: None,
            phone: None,
        };
        let mut stored = PersonRow {
            id: 9,
            org_id: 1,
            name: "张三".into(),
            member_type: MemberType::Full,
            position: Some(Position::Secretary),
            joined_on: None,
            external_id: Some("P1".into()),
            phone: None,
            status: PersonStatus::Active,
            created_at: now,
            updated_at: now,
        };
        assert!(same_person(&stored, &person));
        stored.status = PersonStatus::Archived;
        assert!(
            !same_person(&stored, &person),
            "an archived person comes back"
        );
        let changes = person_changes(&person, now);
        assert_eq!(changes.status, Some(PersonStatus::Active));
        assert_eq!(changes.external_id, None);
    }

    #[test]
    fn the_orgs_secretary_follows_the_roster() {
        use SecretaryChange::*;
        let secretary = Some(Position::Secretary);
        assert_eq!(secretary_change(secretary, 7, None), Appoint);
        assert_eq!(secretary_change(secretary, 7, Some(8)), Appoint);
        assert_eq!(secretary_change(secretary, 7, Some(7)), Keep);
        assert_eq!(secretary_change(Some(Position::Member), 7, Some(7)), Remove);
        assert_eq!(secretary_change(None, 7, Some(7)), Remove);
        assert_eq!(
            secretary_change(Some(Position::DeputySecretary), 7, Some(8)),
            Keep
        );
        assert_eq!(secretary_change(None, 7, None), Keep);
    }

    #[test]
    fn only_imports_that_wrote_many_rows_are_bulk() {
        let report = |created, updated, dry_run| ImportReport {
            created,
            updated,
            dry_run,
            ..Default::default()
        };
        assert!(is_bulk(&report(BULK_ROWS, 0, false)));
        assert!(is_bulk(&report(400, 600, false)));
        assert!(!is_bulk(&report(BULK_ROWS - 1, 0, false)));
        assert!(!is_bulk(&report(5_000, 0, true)));
    }
}
