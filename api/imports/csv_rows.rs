//! Parsing of import files: rows into typed records, or `{line, field, message}` errors.
//! Pure: no database.

use foldhash::{HashMap, HashMapExt};
use std::str::FromStr;

use chrono::NaiveDate;

use crate::error::FieldError;
use crate::orgs::model::{Domain, OrgKind};
use crate::people::model::{MemberType, Position};

pub const ORG_COLUMNS: [&str; 6] = [
    "external_id",
    "parent_external_id",
    "name",
    "kind",
    "domain",
    "window_unit",
];
pub const PEOPLE_COLUMNS: [&str; 7] = [
    "external_id",
    "org_external_id",
    "name",
    "member_type",
    "position",
    "joined_on",
    "phone",
];

#[derive(Debug, Clone, PartialEq)]
pub struct OrgRecord {
    pub line: u64,
    pub external_id: String,
    pub parent_external_id: Option<String>,
    pub name: String,
    pub kind: OrgKind,
    pub domain: Domain,
    pub window_unit: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonRecord {
    pub line: u64,
    pub external_id: String,
    pub org_external_id: String,
    pub name: String,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    pub phone: Option<String>,
}

/// One row's wanted cells, trimmed, in the order of the columns asked for, with the
/// row's line for error messages.
struct Row<'a> {
    line: u64,
    columns: &'a [&'a str],
    cells: &'a [&'a str],
    errors: &'a mut Vec<FieldError>,
}

impl<'a> Row<'a> {
    /// The cell of `column`, `None` when empty. Cells borrow from the file: a row copies
    /// only what its record keeps.
    fn optional(&self, column: &str) -> Option<&'a str> {
        let at = self.columns.iter().position(|c| *c == column)?;
        Some(self.cells[at]).filter(|v| !v.is_empty())
    }

    fn required(&mut self, column: &str, max_len: usize) -> Option<&'a str> {
        match self.optional(column) {
            // A cell of at most `max_len` bytes has at most as many characters.
            Some(v) if v.len() <= max_len || v.chars().count() <= max_len => Some(v),
            Some(_) => {
                self.errors.push(FieldError::at_line(
                    self.line,
                    column,
                    format!("at most {max_len} characters"),
                ));
                None
            }
            None => {
                self.errors
                    .push(FieldError::at_line(self.line, column, "required"));
                None
            }
        }
    }

    fn parsed<T: FromStr<Err = String>>(&mut self, column: &str) -> Option<T> {
        let value = self.required(column, 100)?;
        value
            .parse()
            .map_err(|message| {
                self.errors
                    .push(FieldError::at_line(self.line, column, message))
            })
            .ok()
    }

    fn optional_parsed<T: FromStr<Err = String>>(&mut self, column: &str) -> Result<Option<T>, ()> {
        match self.optional(column) {
            None => Ok(None),
            Some(value) => value.parse().map(Some).map_err(|message| {
                self.errors
                    .push(FieldError::at_line(self.line, column, message))
            }),
        }
    }
}

/// Whether a cell holds a control character. PostgreSQL cannot store NUL, and no name
/// needs one. Most cells are ASCII, checked byte by byte.
fn has_control(cell: &str) -> bool {
    if cell.is_ascii() {
        cell.bytes().any(|b| b.is_ascii_control())
    } else {
        cell.chars().any(char::is_control)
    }
}

/// Reads a CSV file with a header row; calls `each` for every data row whose wanted cells
/// are readable text without control characters.
fn read_rows<const COLUMNS: usize>(
    text: &str,
    columns: &[&str; COLUMNS],
    errors: &mut Vec<FieldError>,
    mut each: impl FnMut(Row<'_>),
) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_lowercase()).collect(),
        Err(e) => {
            errors.push(FieldError::at_line(1, "header", format!("unreadable: {e}")));
            return;
        }
    };
    let missing: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        errors.push(FieldError::at_line(
            1,
            "header",
            format!("missing columns: {}", missing.join(", ")),
        ));
        return;
    }
    // Where a header repeats a name, its last column counts.
    let positions: Vec<usize> = columns
        .iter()
        .filter_map(|&c| headers.iter().rposition(|h| h == c))
        .collect();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let mut cells = [""; COLUMNS];
                let before = errors.len();
                for ((&column, &at), cell) in columns.iter().zip(&positions).zip(&mut cells) {
                    let bytes = record.get(at).unwrap_or_default();
                    // The file is text, so its cells are too; a cell that is not would
                    // be a reader's fault, reported like any unreadable row.
                    *cell = match std::str::from_utf8(bytes) {
                        Ok(text) => text.trim(),
                        Err(_) => {
                            errors.push(FieldError::at_line(line, column, "unreadable text"));
                            ""
                        }
                    };
                    if has_control(cell) {
                        errors.push(FieldError::at_line(
                            line,
                            column,
                            "must not contain control characters (such as NUL)",
                        ));
                    }
                }
                if errors.len() > before {
                    continue;
                }
                let mut local = Vec::new();
                each(Row {
                    line,
                    columns,
                    cells: &cells,
                    errors: &mut local,
                });
                errors.extend(local);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(FieldError::at_line(line, "row", format!("unreadable: {e}")));
            }
        }
    }
}

/// A date written `YYYY-MM-DD`. Read by hand: chrono's format parser interprets its
/// pattern anew for every cell, a measurable part of a city's roster.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "是" => Ok(true),
        "false" | "0" | "no" | "n" | "否" | "" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

pub fn parse_orgs(text: &str) -> (Vec<OrgRecord>, Vec<FieldError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    read_rows(text, &ORG_COLUMNS, &mut errors, |mut row| {
        let external_id = row.required("external_id", 100);
        let parent_external_id = row.optional("parent_external_id");
        let name = row.required("name", 200);
        let kind = row.parsed::<OrgKind>("kind");
        let domain = row.parsed::<Domain>("domain");
        let window_unit = parse_bool(row.optional("window_unit").unwrap_or_default())
            .map_err(|m| {
                row.errors
                    .push(FieldError::at_line(row.line, "window_unit", m))
            })
            .ok();
        if let (Some(external_id), Some(name), Some(kind), Some(domain), Some(window_unit)) =
            (external_id, name, kind, domain, window_unit)
        {
            records.push(OrgRecord {
                line: row.line,
                external_id: external_id.to_owned(),
                parent_external_id: parent_external_id.map(str::to_owned),
                name: name.to_owned(),
                kind,
                domain,
                window_unit,
            });
        }
    });
    duplicate_ids(
        records.iter().map(|r| (r.line, r.external_id.as_str())),
        &mut errors,
    );
    (records, errors)
}

pub fn parse_people(text: &str) -> (Vec<PersonRecord>, Vec<FieldError>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    read_rows(text, &PEOPLE_COLUMNS, &mut errors, |mut row| {
        let external_id = row.required("external_id", 100);
        let org_external_id = row.required("org_external_id", 100);
        let name = row.required("name", 100);
        let member_type = row.parsed::<MemberType>("member_type");
        let position = row.optional_parsed::<Position>("position");
        let joined_on = match row.optional("joined_on") {
            None => Ok(None),
            Some(v) => parse_date(v).map(Some).ok_or_else(|| {
                row.errors.push(FieldError::at_line(
                    row.line,
                    "joined_on",
                    "must be a date YYYY-MM-DD",
                ))
            }),
        };
        let phone = match row.optional("phone") {
            None => Ok(None),
            Some(v) => crate::people::model::valid_phone(v)
                .map(|_| Some(v.to_owned()))
                .map_err(|_| {
                    row.errors.push(FieldError::at_line(
                        row.line,
                        "phone",
                        "must be a phone number",
                    ))
                }),
        };
        if let (
            Some(external_id),
            Some(org_external_id),
            Some(name),
            Some(member_type),
            Ok(position),
            Ok(joined_on),
            Ok(phone),
        ) = (
            external_id,
            org_external_id,
            name,
            member_type,
            position,
            joined_on,
            phone,
        ) {
            records.push(PersonRecord {
                line: row.line,
                external_id: external_id.to_owned(),
                org_external_id: org_external_id.to_owned(),
                name: name.to_owned(),
                member_type,
                position,
                joined_on,
                phone,
            });
        }
    });
    duplicate_ids(
        records.iter().map(|r| (r.line, r.external_id.as_str())),
        &mut errors,
    );
    second_secretaries(&records, &mut errors);
    (records, errors)
}

/// An org has one secretary: a row naming another for an org that already has one in
/// the file is an error.
fn second_secretaries(records: &[PersonRecord], errors: &mut Vec<FieldError>) {
    let mut first_secretary: HashMap<&str, u64> = HashMap::new();
    for record in records
        .iter()
        .filter(|r| r.position == Some(Position::Secretary))
    {
        if let Some(first) = first_secretary.insert(&record.org_external_id, record.line) {
            errors.push(FieldError::at_line(
                record.line,
                "position",
                format!(
                    "{} already has a secretary on line {first}; an org has one",
                    record.org_external_id
                ),
            ));
            first_secretary.insert(&record.org_external_id, first);
        }
    }
}

fn duplicate_ids<'a>(ids: impl Iterator<Item = (u64, &'a str)>, errors: &mut Vec<FieldError>) {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for (line, id) in ids {
        if let Some(first) = seen.insert(id, line) {
            errors.push(FieldError::at_line(
                line,
                "external_id",
                format!("also on line {first}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_org_rows_and_reports_bad_ones_by_line() {
        let text = "external_id,parent_external_id,name,kind,domain,window_unit\n\
                    C1,,大连市委,committee,institution,false\n\
                    C2,C1,某学院党委,committee,institution,\n\
                    C3,C2,,branch,nowhere,maybe\n";
        let (records, errors) = parse_orgs(text);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].parent_external_id.as_deref(), Some("C1"));
        let fields: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line.unwrap(), e.field.as_str()))
            .collect();
        assert_eq!(fields, vec![(4, "name"), (4, "domain"), (4, "window_unit")]);
    }

    #[test]
    fn missing_columns_and_duplicates() {
        let (_, errors) = parse_orgs("external_id,name\nA,x\n");
        assert_eq!(errors[0].line, Some(1));
        assert!(errors[0].message.contains("parent_external_id"));
        let text = "external_id,org_external_id,name,member_type,position,joined_on,phone\n\
                    P1,C1,张三,full,,2001-07-01,13812345678\n\
                    P1,C1,李四,probationary,member,,\n\
                    P3,C1,王五,full,boss,07/01/2001,abc\n";
        let (records, errors) = parse_people(text);
        assert_eq!(records.len(), 2);
        let fields: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e.line.unwrap(), e.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (4, "position"),
                (4, "joined_on"),
                (4, "phone"),
                (3, "external_id")
            ]
        );
    }

    #[test]
    fn an_org_gets_one_secretary_per_file() {
        let text = "external_id,org_external_id,name,member_type,position,joined_on,phone\n\
                    P1,B1,张三,full,secretary,,\n\
                    P2,B2,李四,full,secretary,,\n\
                    P3,B1,王五,full,secretary,,\n\
                    P4,B1,赵六,full,deputy_secretary,,\n\
                    P5,B1,钱七,full,secretary,,\n";
        let (records, errors) = parse_people(text);
        assert_eq!(records.len(), 5);
        let found: Vec<(u64, &str, bool)> = errors
            .iter()
            .map(|e| {
                let names_first = e.message.contains("line 2");
                (e.line.unwrap(), e.field.as_str(), names_first)
            })
            .collect();
        assert_eq!(found, vec![(4, "position", true), (6, "position", true)]);
    }

    #[test]
    fn dates_are_read_as_written_year_month_day() {
        assert_eq!(
            parse_date("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            parse_date("0999-12-31"),
            NaiveDate::from_ymd_opt(999, 12, 31)
        );
        for bad in [
            "2023-02-29",
            "2001-7-01",
            "2001/07/01",
            "2001-07-1x",
            "+001-07-01",
            "2001-13-01",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn control_characters_are_found_in_any_text() {
        assert!(has_control("a\u{0}b"));
        assert!(has_control("张\u{7f}"));
        assert!(has_control("张\u{85}三"));
        assert!(!has_control("张三 P-01"));
    }
}
