//! The record's rules, free of the database: what a document of each kind must carry, how
//! a report stands against its due date, when a report or a commitment may still change,
//! and which files are taken.

use chrono::{NaiveDate, NaiveDateTime};

use super::model::{CommitmentStatus, DocumentKind, DocumentText, OpinionSource, ReportStatus};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError};
use crate::types::local_date;

/// The largest file taken (the request as a whole may carry a little more: the multipart
/// framing).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Files per document or report.
pub const MAX_ATTACHMENTS: i64 = 20;
/// The longest file name kept (longer ones are cut, keeping the extension).
const MAX_FILE_NAME_CHARS: usize = 120;

/// The unique slot of a document in its session: one self-inspection and one duty report
/// per session, one summary per member.
pub fn slot(kind: DocumentKind, person_id: Option<i64>) -> String {
    match (kind, person_id) {
        (DocumentKind::MemberSummary, Some(person)) => format!("member_summary:{person}"),
        _ => kind.to_string(),
    }
}

/// A new document's fields for its kind: a self-inspection carries its three parts (and no
/// person), a member summary names its member; the other kinds carry no self-inspection
/// parts.
pub fn check_new_document(
    kind: DocumentKind,
    person_id: Option<i64>,
    text: &DocumentText,
    parts_given: [bool; 3],
) -> ApiResult<()> {
    let person_error = match (kind, person_id) {
        (DocumentKind::SelfInspection, Some(_)) => Some(FieldError::new(
            "person_id",
            "a self-inspection is the org's, not a person's",
        )),
        (DocumentKind::MemberSummary, None) => Some(FieldError::new(
            "person_id",
            "a member summary names its member",
        )),
        _ => None,
    };
    answer(
        person_error
            .into_iter()
            .chain(text_errors(kind, text, parts_given))
            .collect(),
    )
}

/// A changed document's text: a self-inspection keeps its three parts, the other kinds
/// take none.
pub fn check_changed_document(
    kind: DocumentKind,
    text: &DocumentText,
    parts_given: [bool; 3],
) -> ApiResult<()> {
    answer(text_errors(kind, text, parts_given))
}

fn answer(errors: Vec<FieldError>) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The text's problems: the parts for the kind, then a blank title.
fn text_errors(kind: DocumentKind, text: &DocumentText, given: [bool; 3]) -> Vec<FieldError> {
    let mut errors = part_errors(kind, text, given);
    if text.title.trim().is_empty() {
        errors.push(FieldError::new("title", "must not be blank"));
    }
    errors
}

const PARTS: [&str; 3] = ["achievements", "shortcomings", "measures"];

fn part_errors(kind: DocumentKind, text: &DocumentText, given: [bool; 3]) -> Vec<FieldError> {
    let values = [&text.achievements, &text.shortcomings, &text.measures];
    PARTS
        .iter()
        .zip(values)
        .zip(given)
        .filter_map(|((field, value), given)| match kind {
            DocumentKind::SelfInspection if value.trim().is_empty() => Some(FieldError::new(
                *field,
                "a self-inspection states its achievements, shortcomings and measures",
            )),
            DocumentKind::SelfInspection => None,
            _ if given => Some(FieldError::new(*field, "only a self-inspection has this")),
            _ => None,
        })
        .collect()
}

/// Documents, opinions and leader comments are the record of a session: they change until
/// it closes, then never.
pub fn check_session_open_for_records(closed: bool) -> ApiResult<()> {
    if closed {
        return Err(ApiError::conflict(
            ErrorCode::SessionClosed,
            "The session is closed: its record no longer changes.",
        ));
    }
    Ok(())
}

/// Opinions typed in are gathered by survey, visit or at the meeting; ballot opinions come
/// only from ballots.
pub fn check_opinion_source(source: OpinionSource) -> ApiResult<()> {
    if source == OpinionSource::Ballot {
        return Err(ApiError::field(
            "source",
            "ballot opinions come only from ballots: use survey, visit or meeting",
        ));
    }
    Ok(())
}

/// How a child's report stands: on time when submitted on or before the due date (China
/// Standard Time), late after it, missing when there is none.
pub fn report_status(submitted_at: Option<NaiveDateTime>, due_on: NaiveDate) -> ReportStatus {
    match submitted_at {
        None => ReportStatus::Missing,
        Some(at) if local_date(at.and_utc()) <= due_on => ReportStatus::Submitted,
        Some(_) => ReportStatus::Late,
    }
}

/// Whether a report (or its files) may change now: always until the due date; after it,
/// a first (late) submission and a late one's changes are taken, but an on-time report
/// stays as it was on the day.
pub fn check_report_open(
    due_on: NaiveDate,
    today: NaiveDate,
    current: ReportStatus,
) -> ApiResult<()> {
    if today > due_on && current == ReportStatus::Submitted {
        return Err(ApiError::conflict(
            ErrorCode::ReportClosed,
            "The report was submitted on time and the due date has passed: it no longer changes.",
        ));
    }
    Ok(())
}

/// A commitment's change: the content only while pending; any status but pending stands on
/// evidence.
pub fn check_commitment_change(
    current: CommitmentStatus,
    content_given: bool,
    status: CommitmentStatus,
    evidence: &str,
) -> ApiResult<()> {
    if content_given && current != CommitmentStatus::Pending {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "The content changes only while the commitment is pending.",
        ));
    }
    if status != CommitmentStatus::Pending && evidence.trim().is_empty() {
        return Err(ApiError::field(
            "evidence",
            "say what shows whether the commitment was kept",
        ));
    }
    Ok(())
}

/// The media types taken, found from the content's first bytes (never from the name or the
/// declared type), with the extension the download gets.
pub fn sniff(content: &[u8]) -> Option<(&'static str, &'static str)> {
    let kind = infer::get(content)?;
    let found = match kind.mime_type() {
        "application/pdf" => ("application/pdf", "pdf"),
        "image/jpeg" => ("image/jpeg", "jpg"),
        "image/png" => ("image/png", "png"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        _ => return None,
    };
    Some(found)
}

/// The name a file is kept under: the uploaded name without any folder, control or
/// path-like characters, cut to a reasonable length, ending in the extension of the type
/// found (so a download never claims another type than its content).
pub fn file_name(uploaded: Option<&str>, extension: &str) -> String {
    let base = uploaded
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_format(*c) && !"\\/:*?\"<>|".contains(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    let stem = match cleaned.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => cleaned,
    };
    let stem: String = stem.chars().take(MAX_FILE_NAME_CHARS).collect();
    let stem = if stem.trim().is_empty() {
        "attachment"
    } else {
        stem.trim()
    };
    format!("{stem}.{extension}")
}

/// Invisible characters that change how a name reads (bidirectional overrides such as
/// U+202E would show `exe.pdf` as `fdp.exe`), zero widths and the byte-order mark.
fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn text(parts: [&str; 3]) -> DocumentText {
        DocumentText {
            title: "自查报告".into(),
            body: String::new(),
            achievements: parts[0].into(),
            shortcomings: parts[1].into(),
            measures: parts[2].into(),
        }
    }

    fn fields(result: ApiResult<()>) -> Vec<String> {
        result
            .err()
            .map(|e| e.errors.into_iter().map(|f| f.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_self_inspection_states_all_three_parts_and_others_none() {
        let kind = DocumentKind::SelfInspection;
        assert!(check_new_document(kind, None, &text(["a", "b", "c"]), [true; 3]).is_ok());
        assert_eq!(
            fields(check_new_document(
                kind,
                None,
                &text(["a", " ", ""]),
                [true, true, false]
            )),
            ["shortcomings", "measures"]
        );
        assert_eq!(
            fields(check_new_document(
                kind,
                Some(4),
                &text(["a", "b", "c"]),
                [true; 3]
            )),
            ["person_id"]
        );
        let summary = DocumentKind::MemberSummary;
        assert_eq!(
            fields(check_new_document(
                summary,
                None,
                &text(["", "", ""]),
                [false; 3]
            )),
            ["person_id"]
        );
        assert_eq!(
            fields(check_new_document(
                summary,
                Some(4),
                &text(["x", "", ""]),
                [true, false, false]
            )),
            ["achievements"]
        );
        assert!(
            check_changed_document(DocumentKind::DutyReport, &text(["", "", ""]), [false; 3])
                .is_ok()
        );
        assert_eq!(
            fields(check_changed_document(
                kind,
                &text(["a", "b", ""]),
                [false, false, true]
            )),
            ["measures"]
        );
    }

    #[test]
    fn slots_allow_one_summary_per_member() {
        assert_eq!(slot(DocumentKind::SelfInspection, None), "self_inspection");
        assert_eq!(slot(DocumentKind::DutyReport, Some(3)), "duty_report");
        assert_eq!(
            slot(DocumentKind::MemberSummary, Some(3)),
            "member_summary:3"
        );
        assert_ne!(
            slot(DocumentKind::MemberSummary, Some(3)),
            slot(DocumentKind::MemberSummary, Some(4))
        );
    }

    fn utc(date: &str, time: &str) -> NaiveDateTime {
        NaiveDateTime::new(
            date.parse().unwrap(),
            NaiveTime::parse_from_str(time, "%H:%M:%S").unwrap(),
        )
    }

    #[test]
    fn report_status_follows_the_due_date_in_china_standard_time() {
        let due: NaiveDate = "2012-01-09".parse().unwrap();
        assert_eq!(report_status(None, due), ReportStatus::Missing);
        // 23:59:59 on the 9th in Beijing is 15:59:59 UTC: on time.
        assert_eq!(
            report_status(Some(utc("2012-01-09", "15:59:59")), due),
            ReportStatus::Submitted
        );
        // 00:00 on the 10th in Beijing is 16:00 UTC on the 9th: late.
        assert_eq!(
            report_status(Some(utc("2012-01-09", "16:00:00")), due),
            ReportStatus::Late
        );
        // 07:00 on the 9th in Beijing is still the 8th in UTC: on time.
        assert_eq!(
            report_status(Some(utc("2012-01-08", "23:00:00")), due),
            ReportStatus::Submitted
        );
    }

    #[test]
    fn an_on_time_report_is_fixed_after_the_due_date_and_a_late_one_is_not() {
        let due: NaiveDate = "2012-01-09".parse().unwrap();
        let after: NaiveDate = "2012-01-10".parse().unwrap();
        assert!(check_report_open(due, due, ReportStatus::Submitted).is_ok());
        let refused = check_report_open(due, after, ReportStatus::Submitted).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ReportClosed);
        assert!(check_report_open(due, after, ReportStatus::Missing).is_ok());
        assert!(check_report_open(due, after, ReportStatus::Late).is_ok());
    }

    #[test]
    fn commitments_change_content_while_pending_and_need_evidence_otherwise() {
        use CommitmentStatus::*;
        assert!(check_commitment_change(Pending, true, Pending, "").is_ok());
        assert_eq!(
            check_commitment_change(Fulfilled, true, Fulfilled, "记录")
                .unwrap_err()
                .code,
            ErrorCode::InvalidTransition
        );
        for status in [Fulfilled, Partial, Unfulfilled] {
            assert_eq!(
                fields(check_commitment_change(Pending, false, status, "  ")),
                ["evidence"]
            );
            assert!(check_commitment_change(Pending, false, status, "记录").is_ok());
        }
    }

    #[test]
    fn ballot_opinions_are_never_typed_in() {
        assert!(check_opinion_source(OpinionSource::Ballot).is_err());
        for source in [
            OpinionSource::Survey,
            OpinionSource::Visit,
            OpinionSource::Meeting,
        ] {
            assert!(check_opinion_source(source).is_ok());
        }
    }

    /// The smallest files of each kind the sniffer recognizes, and some it must refuse.
    #[test]
    fn files_are_recognized_by_their_content_not_their_name() {
        assert_eq!(sniff(b"%PDF-1.4\n%...").map(|f| f.1), Some("pdf"));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F']).map(|f| f.1),
            Some("jpg")
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").map(|f| f.1),
            Some("png")
        );
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None, "an executable");
        assert_eq!(sniff(b"GIF89a"), None, "a type not on the list");
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn kept_file_names_carry_no_path_and_the_found_extension() {
        assert_eq!(file_name(Some("自查报告.pdf"), "pdf"), "自查报告.pdf");
        assert_eq!(file_name(Some("../../etc/passwd"), "pdf"), "passwd.pdf");
        assert_eq!(file_name(Some("C:\\docs\\a.exe"), "png"), "a.png");
        assert_eq!(file_name(Some(".htaccess"), "pdf"), "htaccess.pdf");
        assert_eq!(file_name(Some("a\u{0}b\r\n.docx"), "docx"), "ab.docx");
        assert_eq!(
            file_name(Some("report\u{202E}fdp.exe"), "pdf"),
            "reportfdp.pdf"
        );
        assert_eq!(file_name(None, "jpg"), "attachment.jpg");
        assert_eq!(file_name(Some("   "), "jpg"), "attachment.jpg");
        let long = "长".repeat(300);
        assert_eq!(
            file_name(Some(&long), "pdf").chars().count(),
            MAX_FILE_NAME_CHARS + 4
        );
    }
}
