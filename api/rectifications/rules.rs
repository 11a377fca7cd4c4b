//! The life of a rectification item and its pure checks: transitions, overdue (derived from
//! the due date in China Standard Time, never stored), what may still change.

use chrono::NaiveDate;

use super::model::{NoteKind, RectificationStatus, StatusCounts};
use crate::error::{ApiError, ApiResult, ErrorCode};

use RectificationStatus::{InProgress, Open, Returned, Submitted, Verified};

/// Days an item generated from results has, by default.
pub const DEFAULT_DAYS: i64 = 30;

/// Where a step leads from `from`, if anywhere: progress notes move an open or returned
/// item into progress (and keep it there); only an item in progress is submitted; only a
/// submitted one is verified or returned.
pub fn transition(from: RectificationStatus, step: NoteKind) -> Option<RectificationStatus> {
    match (from, step) {
        (Open | InProgress | Returned, NoteKind::Progress) => Some(InProgress),
        (InProgress, NoteKind::Submit) => Some(Submitted),
        (Submitted, NoteKind::Verify) => Some(Verified),
        (Submitted, NoteKind::Return) => Some(Returned),
        _ => None,
    }
}

/// The step's target, or 409 `invalid_transition`.
pub fn step(from: RectificationStatus, step: NoteKind) -> ApiResult<RectificationStatus> {
    transition(from, step).ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!("An item that is {from} cannot take the step {step}."),
        )
    })
}

/// Past its due date and not verified. `today` is the day in China Standard Time.
pub fn is_overdue(due_on: NaiveDate, status: RectificationStatus, today: NaiveDate) -> bool {
    status != Verified && due_on < today
}

/// A verified item no longer changes.
pub fn check_editable(status: RectificationStatus) -> ApiResult<()> {
    if status == Verified {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            "A verified item no longer changes.",
        ));
    }
    Ok(())
}

/// A new item is due today or later.
pub fn check_due(due_on: NaiveDate, today: NaiveDate) -> ApiResult<()> {
    if due_on < today {
        return Err(ApiError::field("due_on", "must be today or later"));
    }
    Ok(())
}

/// The problem text of an item generated for a flagged subject.
pub fn generated_problem(name: &str, rate: f64, threshold: f64) -> String {
    format!(
        "群众评议满意率 {:.2}% 低于 {:.0}%:{name}",
        rate * 100.0,
        threshold * 100.0
    )
}

/// Adds `n` items of `status` to the counts.
pub fn count(counts: &mut StatusCounts, status: RectificationStatus, overdue: bool, n: i64) {
    match status {
        Open => counts.open += n,
        InProgress => counts.in_progress += n,
        Submitted => counts.submitted += n,
        Returned => counts.returned += n,
        Verified => counts.verified += n,
    }
    if overdue {
        counts.overdue += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::local_date;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_workflow_moves_only_forward_or_back_for_rework() {
        assert_eq!(transition(Open, NoteKind::Progress), Some(InProgress));
        assert_eq!(transition(InProgress, NoteKind::Progress), Some(InProgress));
        assert_eq!(transition(InProgress, NoteKind::Submit), Some(Submitted));
        assert_eq!(transition(Submitted, NoteKind::Return), Some(Returned));
        assert_eq!(transition(Returned, NoteKind::Progress), Some(InProgress));
        assert_eq!(transition(Submitted, NoteKind::Verify), Some(Verified));
        for (from, step) in [
            (Open, NoteKind::Submit),
            (Open, NoteKind::Verify),
            (InProgress, NoteKind::Verify),
            (Returned, NoteKind::Submit),
            (Submitted, NoteKind::Progress),
            (Submitted, NoteKind::Submit),
            (Verified, NoteKind::Progress),
            (Verified, NoteKind::Return),
        ] {
            assert_eq!(transition(from, step), None, "{from} {step}");
            assert_eq!(
                super::step(from, step).unwrap_err().code,
                ErrorCode::InvalidTransition
            );
        }
    }

    #[test]
    fn overdue_turns_at_midnight_china_standard_time() {
        let due = NaiveDate::from_ymd_opt(2012, 1, 9).unwrap();
        // 2012-01-09 23:59:59 in Beijing is 15:59:59 UTC: still the due day.
        let last_second = Utc.with_ymd_and_hms(2012, 1, 9, 15, 59, 59).unwrap();
        let next_day = Utc.with_ymd_and_hms(2012, 1, 9, 16, 0, 0).unwrap();
        assert!(!is_overdue(due, InProgress, local_date(last_second)));
        assert!(is_overdue(due, InProgress, local_date(next_day)));
        assert!(
            !is_overdue(due, Verified, local_date(next_day)),
            "verified is never overdue"
        );
        assert!(is_overdue(due, Returned, local_date(next_day)));
    }

    #[test]
    fn verified_items_no_longer_change_and_new_ones_are_not_due_in_the_past() {
        assert!(check_editable(Verified).is_err());
        assert!(check_editable(Returned).is_ok());
        let today = NaiveDate::from_ymd_opt(2012, 1, 9).unwrap();
        assert!(check_due(today, today).is_ok());
        assert!(check_due(today.pred_opt().unwrap(), today).is_err());
    }

    #[test]
    fn counts_add_up_by_status_and_overdue() {
        let mut c = StatusCounts::default();
        count(&mut c, Open, true, 2);
        count(&mut c, Verified, false, 3);
        assert_eq!((c.open, c.verified, c.overdue), (2, 3, 2));
        assert_eq!(
            generated_problem("一支部", 0.7512, 0.8),
            "群众评议满意率 75.12% 低于 80%:一支部"
        );
    }
}
