//! Pure voting rules: checking a ballot against its session (every rating names a
//! subject, a criterion for that subject's type and a level of the scale, each (subject,
//! criterion) at most once), what a code's state allows, which session states accept codes
//! and ballots, and the turnout and batch tallies.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix_web::http::StatusCode;

#[cfg(test)]
use super::model::MAX_CODES_PER_BATCH;
use super::model::{
    Batch, BatchCodes, BatchRow, CategoryCodes, CategoryPaper, CategoryTurnout, CodeRow, CodeState,
    CodesFormat, PaperBallot, ParticipantCategory, Rating, Turnout,
};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::sessions::model::SessionStatus;
use crate::templates::model::{SubjectType, Template};

/// At most this many ratings on one ballot.
pub const MAX_RATINGS: usize = 3000;
/// Longest opinion, in characters.
pub const MAX_OPINION_CHARS: usize = 2000;
/// At most this many paper ballots in one request.
pub const MAX_PAPER_BALLOTS: usize = 500;
/// At most this many field errors in one answer.
const MAX_ERRORS: usize = 50;

/// A rating as a ballot's row stores it: subject id, criterion id, level.
pub type StoredRating = (i64, i64, String);

/// A ballot's ratings as its row stores them: a JSON array of `[subject_id, criterion_id,
/// level]`, sorted by subject and criterion, so that the stored order tells nothing of the
/// order (or the client) they were sent in.
pub fn pack_ratings(ratings: &[Rating]) -> Result<String, ApiError> {
    let mut rows: Vec<(i64, i64, &str)> = ratings
        .iter()
        .map(|r| (r.subject_id, r.criterion_id, r.level.as_str()))
        .collect();
    rows.sort_unstable();
    serde_json::to_string(&rows).map_err(|_| ApiError::internal("ratings could not be packed"))
}

/// The ratings a ballot's row stores (see [`pack_ratings`]).
pub fn unpack_ratings(stored: &str) -> Result<Vec<StoredRating>, ApiError> {
    serde_json::from_str(stored)
        .map_err(|_| ApiError::internal("a stored ballot's ratings are not readable"))
}

/// What a ballot is checked against; it does not change while the session is open.
#[derive(Debug)]
pub struct BallotContext {
    pub subjects: HashMap<i64, SubjectType>,
    pub template: Arc<Template>,
    criteria: HashMap<SubjectType, HashSet<i64>>,
}

impl BallotContext {
    pub fn new(subjects: HashMap<i64, SubjectType>, template: Arc<Template>) -> Self {
        let criteria = [
            SubjectType::Org,
            SubjectType::Secretary,
            SubjectType::Member,
        ]
        .into_iter()
        .map(|t| (t, template.criteria.of(t).iter().map(|c| c.id).collect()))
        .collect();
        BallotContext {
            subjects,
            template,
            criteria,
        }
    }

    /// The problems of a ballot, by field; empty when it is valid.
    pub fn check(&self, ratings: &[Rating], opinion: Option<&str>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if ratings.is_empty() {
            errors.push(FieldError::new("ratings", "rate at least one subject"));
        }
        if ratings.len() > MAX_RATINGS {
            errors.push(FieldError::new(
                "ratings",
                format!("at most {MAX_RATINGS} ratings"),
            ));
            return errors;
        }
        if opinion.is_some_and(|o| o.chars().count() > MAX_OPINION_CHARS) {
            errors.push(FieldError::new(
                "opinion",
                format!("at most {MAX_OPINION_CHARS} characters"),
            ));
        }
        let mut seen = HashSet::with_capacity(ratings.len());
        for (i, r) in ratings.iter().enumerate() {
            let Some(subject_type) = self.subjects.get(&r.subject_id) else {
                errors.push(FieldError::new(
                    format!("ratings[{i}].subject_id"),
                    "not a subject of this session",
                ));
                continue;
            };
            if !self.criteria[subject_type].contains(&r.criterion_id) {
                errors.push(FieldError::new(
                    format!("ratings[{i}].criterion_id"),
                    format!("not a criterion for a {subject_type}"),
                ));
            }
            if self.template.level(&r.level).is_none() {
                errors.push(FieldError::new(
                    format!("ratings[{i}].level"),
                    "not a level of this scale",
                ));
            }
            if !seen.insert((r.subject_id, r.criterion_id)) {
                errors.push(FieldError::new(
                    format!("ratings[{i}]"),
                    "this subject and criterion are rated twice",
                ));
            }
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
        errors
    }

    /// A ballot cast with a code, as a validation error unless it is valid.
    pub fn check_submitted(
        &self,
        ratings: &[Rating],
        opinion: Option<&str>,
    ) -> Result<(), ApiError> {
        let errors = self.check(ratings, opinion);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// Paper ballots, each checked, their problems named `ballots[i].…`.
    pub fn check_paper(&self, ballots: &[PaperBallot]) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        for (i, ballot) in ballots.iter().enumerate() {
            for mut e in self.check(&ballot.ratings, ballot.opinion.as_deref()) {
                e.field = format!("ballots[{i}].{}", e.field);
                errors.push(e);
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        errors.truncate(MAX_ERRORS);
        Err(ApiError::validation(errors))
    }
}

/// A session's receipts are published once it has closed: before, watching the list grow
/// would tell whose ballot came when.
pub fn receipts_published(status: SessionStatus) -> Result<(), ApiError> {
    if status != SessionStatus::Closed {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::SessionNotClosed,
            "Receipts are published once the session is closed.",
        ));
    }
    Ok(())
}

/// Whether issued codes are wanted as a printable sheet (`html`) rather than JSON.
pub fn wants_sheet(format: Option<CodesFormat>) -> bool {
    format == Some(CodesFormat::Html)
}

/// A code found by its hash, if it may be used (its session permitting).
pub fn usable_code(code: Option<CodeRow>) -> Result<CodeRow, CodeRefusal> {
    match CodeRefusal::of_state(code.as_ref().map(|c| c.state)) {
        Some(refusal) => Err(refusal),
        None => code.ok_or(CodeRefusal::Unknown),
    }
}

/// Why a voting code gets no form and casts no ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No such code, or it was withdrawn: the two are told apart to no one.
    Unknown,
    Used,
    SessionNotOpen,
}

impl CodeRefusal {
    /// Only unknown codes count against an address: a meeting hall voting from one address
    /// is never slowed by codes used twice or sessions not yet open.
    pub fn is_guess(self) -> bool {
        self == CodeRefusal::Unknown
    }

    /// What keeps a code in `state` (`None`: no such code) from being used now, if its
    /// session accepts ballots.
    pub fn of_state(state: Option<CodeState>) -> Option<CodeRefusal> {
        match state {
            None | Some(CodeState::Void) => Some(CodeRefusal::Unknown),
            Some(CodeState::Used) => Some(CodeRefusal::Used),
            Some(CodeState::Unused) => None,
        }
    }

    /// Why a code could not be consumed: unknown or void, already used, or else its session
    /// is not open.
    pub fn of_unconsumed(state: Option<CodeState>) -> CodeRefusal {
        CodeRefusal::of_state(state).unwrap_or(CodeRefusal::SessionNotOpen)
    }
}

impl From<CodeRefusal> for ApiError {
    fn from(refusal: CodeRefusal) -> Self {
        match refusal {
            CodeRefusal::Unknown => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidCode,
                "This voting code does not exist or was withdrawn.",
            ),
            CodeRefusal::Used => ApiError::conflict(
                ErrorCode::CodeUsed,
                "This voting code has already been used.",
            ),
            CodeRefusal::SessionNotOpen => session_not_open(),
        }
    }
}

pub fn session_not_open() -> ApiError {
    ApiError::conflict(
        ErrorCode::SessionNotOpen,
        "This session is not accepting ballots.",
    )
}

/// Codes are issued until a session closes.
pub fn may_issue_codes(status: SessionStatus) -> Result<(), ApiError> {
    if status == SessionStatus::Closed {
        return Err(ApiError::conflict(
            ErrorCode::SessionClosed,
            "Codes are issued only before a session closes.",
        ));
    }
    Ok(())
}

/// Ballots are accepted only while a session is open.
pub fn may_cast(status: SessionStatus) -> Result<(), ApiError> {
    if status == SessionStatus::Open {
        Ok(())
    } else {
        Err(session_not_open())
    }
}

/// A batch with its used and void codes counted.
pub fn batch(row: BatchRow, codes: &[BatchCodes]) -> Batch {
    let count = |state: CodeState| {
        codes
            .iter()
            .filter(|c| c.batch_id == row.id && c.state == state)
            .map(|c| c.n)
            .sum()
    };
    Batch {
        id: row.id,
        category: row.category,
        count: row.count,
        used: Some(count(CodeState::Used)),
        void: count(CodeState::Void),
        created_at: row.created_at.and_utc(),
        voided_at: row.voided_at.map(|t| t.and_utc()),
    }
}

/// Adds up code states and paper ballots per category (categories in their fixed order).
/// Paper ballots are typed in up to the number of forms handed out (when declared).
pub fn check_paper_forms(
    paper_forms: Option<i32>,
    entered: i64,
    adding: usize,
) -> Result<(), ApiError> {
    let Some(forms) = paper_forms else {
        return Ok(());
    };
    let total = entered.saturating_add(i64::try_from(adding).unwrap_or(i64::MAX));
    if total > i64::from(forms) {
        return Err(ApiError::conflict(
            ErrorCode::PaperFormsExceeded,
            format!(
                "{forms} paper forms were handed out and {entered} paper ballots are entered: \
                 {adding} more is too many."
            ),
        ));
    }
    Ok(())
}

/// A batch's used count shows who voted when only a few codes are in it: it is shown only
/// for batches of at least `k` codes.
pub fn hide_small_batches(batches: Vec<Batch>, k: i32) -> Vec<Batch> {
    batches
        .into_iter()
        .map(|mut b| {
            if b.count < k {
                b.used = None;
            }
            b
        })
        .collect()
}

pub fn tally_turnout(codes: &[CategoryCodes], paper: &[CategoryPaper]) -> Turnout {
    let mut categories: Vec<CategoryTurnout> = Vec::new();
    for &category in ParticipantCategory::ALL {
        let mut t = CategoryTurnout {
            category: Some(category),
            ..Default::default()
        };
        for c in codes.iter().filter(|c| c.category == category) {
            t.issued += c.n;
            match c.state {
                CodeState::Used => t.used += c.n,
                CodeState::Void => t.void += c.n,
                CodeState::Unused => {}
            }
        }
        t.paper = paper
            .iter()
            .filter(|p| p.category == category)
            .map(|p| p.n)
            .sum();
        t.used += t.paper;
        if t.issued > 0 || t.paper > 0 {
            categories.push(t);
        }
    }
    let used = categories.iter().map(|c| c.used).sum();
    Turnout {
        expected: None,
        cast: used,
        issued: categories.iter().map(|c| c.issued).sum(),
        used: categories.iter().map(|c| c.used).sum(),
        void: categories.iter().map(|c| c.void).sum(),
        paper: categories.iter().map(|c| c.paper).sum(),
        categories,
    }
}

/// A template for unit tests: criteria ids per subject type, and levels as
/// (key, score, satisfied).
#[cfg(test)]
pub(crate) fn test_template(
    [org, secretary, member]: [&[i64]; 3],
    scale: &[(&str, i32, bool)],
) -> Template {
    use crate::templates::model::{Criteria, Criterion, Level};
    let criteria = |ids: &[i64]| -> Vec<Criterion> {
        ids.iter()
            .map(|&id| Criterion {
                id,
                label_zh: "x".into(),
                label_en: "x".into(),
            })
            .collect()
    };
    Template {
        id: 1,
        name: "t".into(),
        owner_org_id: None,
        builtin: true,
        criteria: Criteria {
            org: criteria(org),
            secretary: criteria(secretary),
            member: criteria(member),
        },
        scale: scale
            .iter()
            .map(|&(key, score, satisfied)| Level {
                level: key.into(),
                label_zh: key.into(),
                label_en: key.into(),
                score,
                satisfied,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> BallotContext {
        let template = test_template(
            [&[1, 2], &[5], &[8]],
            &[("satisfied", 100, true), ("dissatisfied", 0, false)],
        );
        let subjects = HashMap::from([
            (10, SubjectType::Org),
            (11, SubjectType::Secretary),
            (12, SubjectType::Member),
        ]);
        BallotContext::new(subjects, Arc::new(template))
    }

    fn r(subject_id: i64, criterion_id: i64, level: &str) -> Rating {
        Rating {
            subject_id,
            criterion_id,
            level: level.into(),
        }
    }

    #[test]
    fn a_ballot_may_skip_subjects_but_not_rate_nothing() {
        let ctx = context();
        assert!(ctx.check(&[r(10, 1, "satisfied")], None).is_empty());
        assert!(ctx
            .check(
                &[r(10, 1, "satisfied"), r(12, 8, "dissatisfied")],
                Some("好")
            )
            .is_empty());
        assert_eq!(ctx.check(&[], None)[0].field, "ratings");
    }

    #[test]
    fn every_rating_must_belong_to_the_session() {
        let ctx = context();
        let fields = |ratings: &[Rating]| {
            ctx.check(ratings, None)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(&[r(99, 1, "satisfied")]),
            vec!["ratings[0].subject_id"]
        );
        assert_eq!(
            fields(&[r(11, 1, "satisfied")]),
            vec!["ratings[0].criterion_id"],
            "an org criterion for the secretary"
        );
        assert_eq!(fields(&[r(10, 1, "great")]), vec!["ratings[0].level"]);
        assert_eq!(
            fields(&[r(10, 1, "satisfied"), r(10, 1, "dissatisfied")]),
            vec!["ratings[1]"]
        );
        let long = "意".repeat(MAX_OPINION_CHARS + 1);
        assert_eq!(
            ctx.check(&[r(10, 1, "satisfied")], Some(&long))[0].field,
            "opinion"
        );
    }

    #[test]
    fn turnout_counts_paper_ballots_as_used() {
        use CodeState::*;
        use ParticipantCategory::*;
        let c = |category, state, n| CategoryCodes { category, state, n };
        let codes = vec![
            c(PartyMember, Used, 28),
            c(PartyMember, Unused, 2),
            c(MassRepresentative, Void, 5),
            c(MassRepresentative, Unused, 5),
        ];
        let paper = vec![CategoryPaper {
            category: PartyMember,
            n: 3,
        }];
        let t = tally_turnout(&codes, &paper);
        assert_eq!((t.issued, t.used, t.void, t.paper), (40, 31, 5, 3));
        assert_eq!(t.categories[0].category, Some(PartyMember));
        assert_eq!((t.categories[0].issued, t.categories[0].used), (30, 31));
        assert_eq!(t.categories[1].void, 5);
        assert_eq!(
            t.categories.len(),
            2,
            "categories without codes are left out"
        );
    }

    #[test]
    fn a_batch_counts_only_its_own_used_and_void_codes() {
        let row = BatchRow {
            id: 4,
            category: ParticipantCategory::Deputy,
            count: 10,
            created_at: chrono::NaiveDateTime::default(),
            voided_at: None,
        };
        let codes = [
            BatchCodes {
                batch_id: 4,
                state: CodeState::Used,
                n: 3,
            },
            BatchCodes {
                batch_id: 4,
                state: CodeState::Void,
                n: 2,
            },
            BatchCodes {
                batch_id: 4,
                state: CodeState::Unused,
                n: 5,
            },
            BatchCodes {
                batch_id: 5,
                state: CodeState::Used,
                n: 7,
            },
        ];
        let b = batch(row, &codes);
        assert_eq!((b.id, b.count, b.used, b.void), (4, 10, Some(3), 2));
        assert_eq!(b.category, ParticipantCategory::Deputy);
    }

    #[test]
    fn unknown_and_void_codes_are_refused_alike_and_only_they_are_guesses() {
        use CodeRefusal::*;
        assert_eq!(CodeRefusal::of_state(None), Some(Unknown));
        assert_eq!(CodeRefusal::of_state(Some(CodeState::Void)), Some(Unknown));
        assert_eq!(CodeRefusal::of_state(Some(CodeState::Used)), Some(Used));
        assert_eq!(CodeRefusal::of_state(Some(CodeState::Unused)), None);
        assert_eq!(
            CodeRefusal::of_unconsumed(Some(CodeState::Unused)),
            SessionNotOpen,
            "an unused code not consumed: its session is not open"
        );
        assert_eq!(CodeRefusal::of_unconsumed(Some(CodeState::Void)), Unknown);
        let code = |state| CodeRow {
            session_id: 1,
            category: ParticipantCategory::Other,
            state,
        };
        assert!(usable_code(Some(code(CodeState::Unused))).is_ok());
        assert_eq!(usable_code(Some(code(CodeState::Used))).unwrap_err(), Used);
        assert_eq!(
            usable_code(Some(code(CodeState::Void))).unwrap_err(),
            Unknown
        );
        assert_eq!(usable_code(None).unwrap_err(), Unknown);
        assert!(Unknown.is_guess());
        assert!(!Used.is_guess() && !SessionNotOpen.is_guess());
        assert_eq!(ApiError::from(Unknown).code, ErrorCode::InvalidCode);
        assert_eq!(ApiError::from(Used).code, ErrorCode::CodeUsed);
        assert_eq!(
            ApiError::from(SessionNotOpen).code,
            ErrorCode::SessionNotOpen
        );
    }

    #[test]
    fn codes_are_issued_until_close_and_ballots_cast_only_while_open() {
        use SessionStatus::*;
        assert!(may_issue_codes(Scheduled).is_ok() && may_issue_codes(Open).is_ok());
        assert_eq!(
            may_issue_codes(Closed).unwrap_err().code,
            ErrorCode::SessionClosed
        );
        assert!(may_cast(Open).is_ok());
        for status in [Scheduled, Closed] {
            assert_eq!(
                may_cast(status).unwrap_err().code,
                ErrorCode::SessionNotOpen
            );
        }
    }

    /// The sizes are bounded by the bodies' schemas, which `JsonBody` enforces.
    #[test]
    fn request_sizes_and_formats_are_bounded() {
        use super::super::model::{IssueCodes, PaperBallots, SubmitBallot};
        use crate::http::parse_body;
        let codes = |count: i32| format!(r#"{{"category": "party_member", "count": {count}}}"#);
        let ok = |body: String| parse_body::<IssueCodes>(body.as_bytes()).is_ok();
        assert!(ok(codes(1)) && ok(codes(MAX_CODES_PER_BATCH)));
        assert!(!ok(codes(0)) && !ok(codes(MAX_CODES_PER_BATCH + 1)));
        assert!(!wants_sheet(None));
        assert!(!wants_sheet(Some(CodesFormat::Json)));
        assert!(wants_sheet(Some(CodesFormat::Html)));
        let rating = r#"{"subject_id": 1, "criterion_id": 1, "level": "satisfied"}"#;
        let ratings = |n: usize| vec![rating; n].join(",");
        let ballot = |n: usize| format!(r#"{{"code": "X", "ratings": [{}]}}"#, ratings(n));
        let ballot_ok = |n: usize| parse_body::<SubmitBallot>(ballot(n).as_bytes()).is_ok();
        assert!(ballot_ok(MAX_RATINGS) && !ballot_ok(MAX_RATINGS + 1));
        let paper = |n: usize| {
            let one = format!(r#"{{"ratings": [{rating}]}}"#);
            format!(
                r#"{{"category": "deputy", "ballots": [{}]}}"#,
                vec![one; n].join(",")
            )
        };
        let paper_ok = |n: usize| parse_body::<PaperBallots>(paper(n).as_bytes()).is_ok();
        assert!(!paper_ok(0) && !paper_ok(MAX_PAPER_BALLOTS + 1));
        assert!(paper_ok(1) && paper_ok(MAX_PAPER_BALLOTS));
    }

    #[test]
    fn paper_ballot_problems_name_their_ballot() {
        let ctx = context();
        let paper = |ratings| PaperBallot {
            ratings,
            opinion: None,
        };
        assert!(ctx
            .check_paper(&[paper(vec![r(10, 1, "satisfied")])])
            .is_ok());
        let e = ctx
            .check_paper(&[
                paper(vec![r(10, 1, "satisfied")]),
                paper(vec![r(99, 1, "satisfied")]),
            ])
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed);
        assert_eq!(e.errors[0].field, "ballots[1].ratings[0].subject_id");
        assert!(ctx.check_submitted(&[r(10, 1, "satisfied")], None).is_ok());
        assert!(ctx.check_submitted(&[], None).is_err());
    }

    #[test]
    fn packed_ratings_are_sorted_and_read_back() {
        let sent = [
            r(12, 2, "dissatisfied"),
            r(3, 7, "满意"),
            r(12, 1, "say \"hi\""),
        ];
        let packed = pack_ratings(&sent).unwrap();
        assert_eq!(
            packed,
            r#"[[3,7,"满意"],[12,1,"say \"hi\""],[12,2,"dissatisfied"]]"#
        );
        // The order sent leaves no trace.
        let reversed: Vec<Rating> = sent.iter().rev().cloned().collect();
        assert_eq!(pack_ratings(&reversed).unwrap(), packed);
        assert_eq!(
            unpack_ratings(&packed).unwrap(),
            vec![
                (3, 7, "满意".to_string()),
                (12, 1, "say \"hi\"".to_string()),
                (12, 2, "dissatisfied".to_string()),
            ]
        );
    }

    #[test]
    fn unreadable_stored_ratings_are_an_internal_error_not_a_panic() {
        for stored in ["", "{}", "[[1,2]]", "[[1,\"x\",\"y\"]]", "[1,2,3]"] {
            let err = unpack_ratings(stored).unwrap_err();
            assert_eq!(
                actix_web::ResponseError::status_code(&err),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{stored}"
            );
        }
        assert_eq!(unpack_ratings("[]").unwrap(), vec![]);
    }
}

#[cfg(test)]
mod document_limits {
    use super::*;

    /// The limits the rules use are the ones the document states (utoipa takes only
    /// literals in `#[schema(...)]`, so the two are checked against each other here).
    #[test]
    fn the_document_states_the_limits_the_rules_enforce() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let limit = |schema: &str, field: &str, key: &str| {
            schemas[schema]["properties"][field][key].as_u64()
        };
        assert_eq!(
            limit("IssueCodes", "count", "maximum"),
            Some(MAX_CODES_PER_BATCH as u64)
        );
        assert_eq!(
            limit("SubmitBallot", "ratings", "maxItems"),
            Some(MAX_RATINGS as u64)
        );
        assert_eq!(
            limit("PaperBallot", "ratings", "maxItems"),
            Some(MAX_RATINGS as u64)
        );
        assert_eq!(
            limit("SubmitBallot", "opinion", "maxLength"),
            Some(MAX_OPINION_CHARS as u64)
        );
        assert_eq!(
            limit("PaperBallot", "opinion", "maxLength"),
            Some(MAX_OPINION_CHARS as u64)
        );
        assert_eq!(
            limit("PaperBallots", "ballots", "maxItems"),
            Some(MAX_PAPER_BALLOTS as u64)
        );
    }
}
