//! Instant evaluation's pure rules: the levels and their points, the aspects, figures with
//! their k rule, month bounds, the bad-review case's transitions and deadlines, rankings.

use chrono::{Datelike, NaiveDate};

use super::model::*;
use crate::error::{ApiError, ErrorCode};

/// Ratings a figure needs before anything but their number is shown (the design's k).
pub const MIN_RATINGS: i64 = 3;

/// Working days a bad review with a contact has for its follow-up call.
pub const FOLLOW_UP_WORKING_DAYS: u32 = 1;

impl InstantLevel {
    /// Five stars as a percentage.
    pub fn points(self) -> i64 {
        match self {
            InstantLevel::VerySatisfied => 100,
            InstantLevel::Satisfied => 80,
            InstantLevel::BasicallySatisfied => 60,
            InstantLevel::Dissatisfied => 40,
            InstantLevel::VeryDissatisfied => 20,
        }
    }

    /// Counts toward satisfaction (满意度: 非常满意 + 满意 + 基本满意).
    pub fn satisfied(self) -> bool {
        !self.is_bad()
    }

    /// A bad review (差评): it opens a case.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            InstantLevel::Dissatisfied | InstantLevel::VeryDissatisfied
        )
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            InstantLevel::VerySatisfied => "非常满意",
            InstantLevel::Satisfied => "满意",
            InstantLevel::BasicallySatisfied => "基本满意",
            InstantLevel::Dissatisfied => "不满意",
            InstantLevel::VeryDissatisfied => "非常不满意",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            InstantLevel::VerySatisfied => "Very satisfied",
            InstantLevel::Satisfied => "Satisfied",
            InstantLevel::BasicallySatisfied => "Fairly satisfied",
            InstantLevel::Dissatisfied => "Dissatisfied",
            InstantLevel::VeryDissatisfied => "Very dissatisfied",
        }
    }
}

/// The aspects a service may be rated on besides the overall level (those of the national
/// 好差评 rules): id, Chinese, English.
pub const CRITERIA: [(i32, &str, &str); 5] = [
    (1, "服务态度", "Attitude"),
    (2, "办事效率", "Efficiency"),
    (3, "业务水平", "Competence"),
    (4, "办事流程", "Procedure"),
    (5, "服务环境", "Environment"),
];

pub fn form_levels() -> Vec<LevelOption> {
    InstantLevel::ALL
        .iter()
        .map(|l| LevelOption {
            level: *l,
            label: l.label_zh().to_owned(),
            label_en: l.label_en().to_owned(),
        })
        .collect()
}

pub fn form_criteria() -> Vec<CriterionOption> {
    CRITERIA
        .iter()
        .map(|(id, zh, en)| CriterionOption {
            id: *id,
            name: (*zh).to_owned(),
            name_en: (*en).to_owned(),
        })
        .collect()
}

/// Items name known aspects, each once.
pub fn check_items(items: &[RatingItem]) -> Result<(), ApiError> {
    for (i, item) in items.iter().enumerate() {
        if !CRITERIA.iter().any(|(id, _, _)| *id == item.criterion_id) {
            return Err(ApiError::field(
                format!("items[{i}].criterion_id"),
                "is not one of the rating form's criteria",
            ));
        }
        if items[..i]
            .iter()
            .any(|other| other.criterion_id == item.criterion_id)
        {
            return Err(ApiError::field(
                format!("items[{i}].criterion_id"),
                "is rated twice",
            ));
        }
    }
    Ok(())
}

/// Which of `ticket` and `point` a rating names: exactly one.
pub enum Credential<'a> {
    Ticket(&'a str),
    Point(&'a str),
}

pub fn credential<'a>(
    ticket: Option<&'a str>,
    point: Option<&'a str>,
) -> Result<Credential<'a>, ApiError> {
    match (ticket, point) {
        (Some(t), None) => Ok(Credential::Ticket(t)),
        (None, Some(p)) => Ok(Credential::Point(p)),
        (Some(_), Some(_)) => Err(ApiError::field(
            "point",
            "give a ticket or a point, not both",
        )),
        (None, None) => Err(ApiError::field(
            "ticket",
            "give a ticket (or a point's key)",
        )),
    }
}

/// Why a ticket or a point key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownTicket,
    Used,
    Expired,
    UnknownPoint,
    PointClosed,
}

impl Refusal {
    /// A guess: counted against the client's address.
    pub fn is_guess(self) -> bool {
        matches!(self, Refusal::UnknownTicket | Refusal::UnknownPoint)
    }

    /// Why a ticket that could not be used was refused, from its stored state.
    pub fn of_ticket(found: Option<(TicketState, bool)>) -> Refusal {
        match found {
            None => Refusal::UnknownTicket,
            Some((TicketState::Used, _)) => Refusal::Used,
            Some((TicketState::Void, _)) => Refusal::PointClosed,
            Some((TicketState::Unused, true)) => Refusal::Expired,
            // Unused and valid, yet not consumed: its point is inactive.
            Some((TicketState::Unused, false)) => Refusal::PointClosed,
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        use actix_web::http::StatusCode;
        match r {
            Refusal::UnknownTicket => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidTicket,
                "No such service ticket.",
            ),
            Refusal::Used => ApiError::conflict(
                ErrorCode::TicketUsed,
                "This service has already been rated with this ticket.",
            ),
            Refusal::Expired => {
                ApiError::conflict(ErrorCode::TicketExpired, "This service ticket has expired.")
            }
            Refusal::UnknownPoint => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidPoint,
                "No such service point.",
            ),
            Refusal::PointClosed => ApiError::conflict(
                ErrorCode::PointClosed,
                "This service point takes no ratings this way now.",
            ),
        }
    }
}

/// An open-QR rating needs an active point with the mode on.
pub fn open_point(found: Option<(i64, i64, bool, bool)>) -> Result<(i64, i64), Refusal> {
    match found {
        None => Err(Refusal::UnknownPoint),
        Some((id, org, true, true)) => Ok((id, org)),
        Some(_) => Err(Refusal::PointClosed),
    }
}

/// A contact is kept only with a bad review (the only reason to call back).
pub fn kept_contact(level: InstantLevel, contact: Option<&str>) -> Option<String> {
    if !level.is_bad() {
        return None;
    }
    contact.and_then(crate::types::non_blank)
}

// Figures.

impl LevelCounts {
    pub fn add(&mut self, level: InstantLevel, n: i64) {
        *self.slot(level) += n;
    }

    fn slot(&mut self, level: InstantLevel) -> &mut i64 {
        match level {
            InstantLevel::VerySatisfied => &mut self.very_satisfied,
            InstantLevel::Satisfied => &mut self.satisfied,
            InstantLevel::BasicallySatisfied => &mut self.basically_satisfied,
            InstantLevel::Dissatisfied => &mut self.dissatisfied,
            InstantLevel::VeryDissatisfied => &mut self.very_dissatisfied,
        }
    }

    pub fn merge(&mut self, other: &LevelCounts) {
        for level in InstantLevel::ALL {
            let n = other.get(*level);
            self.add(*level, n);
        }
    }

    pub fn get(&self, level: InstantLevel) -> i64 {
        match level {
            InstantLevel::VerySatisfied => self.very_satisfied,
            InstantLevel::Satisfied => self.satisfied,
            InstantLevel::BasicallySatisfied => self.basically_satisfied,
            InstantLevel::Dissatisfied => self.dissatisfied,
            InstantLevel::VeryDissatisfied => self.very_dissatisfied,
        }
    }

    pub fn total(&self) -> i64 {
        InstantLevel::ALL.iter().map(|l| self.get(*l)).sum()
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The figures of counted ratings, withheld under `k`.
pub fn figures(counts: &LevelCounts, k: i64) -> LevelFigures {
    let ratings = counts.total();
    if ratings < k.max(1) {
        return withheld(ratings);
    }
    let satisfied: i64 = InstantLevel::ALL
        .iter()
        .filter(|l| l.satisfied())
        .map(|l| counts.get(*l))
        .sum();
    let points: i64 = InstantLevel::ALL
        .iter()
        .map(|l| counts.get(*l) * l.points())
        .sum();
    LevelFigures {
        ratings,
        withheld: false,
        levels: Some(counts.clone()),
        satisfaction_rate: Some(round4(satisfied as f64 / ratings as f64)),
        score: Some(round4(points as f64 / ratings as f64)),
    }
}

fn withheld(ratings: i64) -> LevelFigures {
    LevelFigures {
        ratings,
        withheld: ratings > 0,
        levels: None,
        satisfaction_rate: None,
        score: None,
    }
}

/// Complementary suppression over the parts of one whole (the days of a month, the points
/// of a unit): while the withheld parts together hold 1 to k−1 ratings, the smallest shown
/// part is withheld too, so that the whole minus the shown parts never reveals a withheld
/// part's levels.
pub fn suppress_parts<'a>(parts: impl IntoIterator<Item = &'a mut LevelFigures>, k: i64) {
    let mut parts: Vec<&mut LevelFigures> = parts.into_iter().collect();
    loop {
        let hidden: i64 = parts.iter().filter(|p| p.withheld).map(|p| p.ratings).sum();
        if hidden == 0 || hidden >= k {
            return;
        }
        let Some(smallest) = parts
            .iter_mut()
            .filter(|p| !p.withheld && p.ratings > 0)
            .min_by_key(|p| p.ratings)
        else {
            return;
        };
        **smallest = withheld(smallest.ratings);
    }
}

/// The first and last day of a `YYYY-MM` month.
pub fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((first, next.pred_opt()?))
}

pub fn month_of(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// The month asked for (default: this month), as its name and bounds; 422 when malformed.
pub fn month(
    asked: Option<&str>,
    today: NaiveDate,
) -> Result<(String, NaiveDate, NaiveDate), ApiError> {
    let name = asked.map_or_else(|| month_of(today), str::to_owned);
    let (first, last) = month_bounds(&name)
        .filter(|(first, _)| (2000..=2100).contains(&first.year()))
        .ok_or_else(|| ApiError::field("month", "must be a month as YYYY-MM (2000–2100)"))?;
    Ok((name, first, last))
}

// Cases.

/// What a case's handler may do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    FollowUp,
    Resolve,
    Appeal,
    Decide(AppealDecision),
}

/// The status a step leads to, or 409 `invalid_transition`.
pub fn next_status(
    status: CaseStatus,
    decided_before: Option<AppealDecision>,
    step: Step,
) -> Result<CaseStatus, ApiError> {
    let next = match (status, step) {
        (CaseStatus::AwaitingFollowUp, Step::FollowUp) => Some(CaseStatus::InHandling),
        (CaseStatus::InHandling, Step::Resolve) => Some(CaseStatus::Resolved),
        // One appeal per case: a kept decision is final.
        (CaseStatus::InHandling, Step::Appeal) if decided_before.is_none() => {
            Some(CaseStatus::Appealed)
        }
        (CaseStatus::Appealed, Step::Decide(AppealDecision::Upheld)) => Some(CaseStatus::Upheld),
        (CaseStatus::Appealed, Step::Decide(AppealDecision::Kept)) => Some(CaseStatus::InHandling),
        _ => None,
    };
    next.ok_or_else(|| {
        let why = match (status, step) {
            (CaseStatus::AwaitingFollowUp, _) => "The case is waiting for its follow-up call.",
            (CaseStatus::InHandling, Step::Appeal) => "The case has been appealed once already.",
            (CaseStatus::Appealed, _) => "The case is waiting for the superior's decision.",
            (CaseStatus::Resolved | CaseStatus::Upheld, _) => "The case is closed.",
            _ => "The case is not at this step.",
        };
        ApiError::conflict(ErrorCode::InvalidTransition, why)
    })
}

/// Whether the pending step is past its due day: a follow-up not made, a case not
/// resolved. A case waiting for a superior's decision, or closed, is never overdue.
pub fn is_overdue(row: &CaseRow, today: NaiveDate) -> bool {
    match row.status {
        CaseStatus::AwaitingFollowUp => row.follow_up_due_on.is_some_and(|d| today > d),
        CaseStatus::InHandling => today > row.resolve_due_on,
        CaseStatus::Appealed | CaseStatus::Resolved | CaseStatus::Upheld => false,
    }
}

/// The key of a case's counter row besides its point, day and status: the day it falls
/// due (the follow-up's while awaiting it, else the resolution's; a follow-up without a
/// day never falls due, as in [`is_overdue`]) and whether it was resolved on time. The
/// migration that first filled the counters and `queries::RECOUNT_CASES_SQL` say the same.
pub fn case_counter_key(
    status: CaseStatus,
    follow_up_due_on: Option<NaiveDate>,
    resolve_due_on: NaiveDate,
    resolved_on: Option<NaiveDate>,
) -> (NaiveDate, bool) {
    const NEVER: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
    let due_on = match status {
        CaseStatus::AwaitingFollowUp => follow_up_due_on.unwrap_or(NEVER),
        _ => resolve_due_on,
    };
    (due_on, resolved_on.is_some_and(|day| day <= resolve_due_on))
}

pub fn resolved_on_time(row: &CaseRow) -> Option<bool> {
    row.resolved_on.map(|d| d <= row.resolve_due_on)
}

/// Counts the cases of a period.
pub fn bad_reviews<'a>(
    cases: impl IntoIterator<Item = &'a CaseRow>,
    today: NaiveDate,
) -> BadReviews {
    let mut out = BadReviews::default();
    for case in cases {
        out.opened += 1;
        match case.status {
            CaseStatus::AwaitingFollowUp => out.awaiting_follow_up += 1,
            CaseStatus::InHandling => out.in_handling += 1,
            CaseStatus::Appealed => out.appealed += 1,
            CaseStatus::Resolved => out.resolved += 1,
            CaseStatus::Upheld => out.upheld += 1,
        }
        if resolved_on_time(case) == Some(true) {
            out.resolved_on_time += 1;
        }
        if is_overdue(case, today) {
            out.overdue += 1;
        }
    }
    out
}

/// The case as the API shows it; the contact in full only for `handler`s.
pub fn shown(row: CaseRow, point_name: String, handler: bool, today: NaiveDate) -> Case {
    Case {
        overdue: is_overdue(&row, today),
        resolved_on_time: resolved_on_time(&row),
        id: row.id,
        point_id: row.point_id,
        point_name,
        org_id: row.org_id,
        level: row.level,
        verified: row.verified,
        comment: row.comment,
        contact: row.contact.map(|c| {
            if handler {
                c
            } else {
                crate::types::mask_phone(&c)
            }
        }),
        status: row.status,
        opened_on: row.opened_on,
        follow_up_due_on: row.follow_up_due_on,
        resolve_due_on: row.resolve_due_on,
        follow_up_result: row.follow_up_result,
        follow_up_note: row.follow_up_note,
        followed_up_on: row.followed_up_on,
        measures: row.measures,
        reply: row.reply,
        resolved_on: row.resolved_on,
        appeal_reason: row.appeal_reason,
        appealed_on: row.appealed_on,
        appeal_decision: row.appeal_decision,
        decision_note: row.decision_note,
        decided_on: row.decided_on,
        rectification_id: row.rectification_id,
    }
}

// Rankings.

/// Ranks units by satisfaction rate, then score (standard competition ranking: 1, 2, 2, 4);
/// units with withheld figures come last, unranked, by id.
pub fn rank(mut units: Vec<InstantRankingItem>) -> Vec<InstantRankingItem> {
    let key = |u: &InstantRankingItem| (u.figures.satisfaction_rate, u.figures.score);
    units.sort_by(|a, b| {
        match (
            a.figures.withheld || a.figures.ratings == 0,
            b.figures.withheld || b.figures.ratings == 0,
        ) {
            (false, false) => key(b)
                .partial_cmp(&key(a))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.org_id.cmp(&b.org_id)),
            (false, true) => std::cmp::Ordering::Less,
            (true, false) => std::cmp::Ordering::Greater,
            (true, true) => a.org_id.cmp(&b.org_id),
        }
    });
    let mut previous: Option<(Option<f64>, Option<f64>)> = None;
    let mut previous_rank = 0;
    for (i, unit) in units.iter_mut().enumerate() {
        if unit.figures.withheld || unit.figures.ratings == 0 {
            unit.rank = None;
            continue;
        }
        let k = key(unit);
        let rank = if previous == Some(k) {
            previous_rank
        } else {
            i as i64 + 1
        };
        unit.rank = Some(rank);
        previous = Some(k);
        previous_rank = rank;
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(levels: [i64; 5]) -> LevelCounts {
        LevelCounts {
            very_satisfied: levels[0],
            satisfied: levels[1],
            basically_satisfied: levels[2],
            dissatisfied: levels[3],
            very_dissatisfied: levels[4],
        }
    }

    #[test]
    fn a_case_is_counted_under_the_day_it_falls_due_and_whether_it_was_on_time() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        let never = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        use CaseStatus::*;
        assert_eq!(
            case_counter_key(AwaitingFollowUp, Some(day(2)), day(8), None),
            (day(2), false)
        );
        assert_eq!(
            case_counter_key(AwaitingFollowUp, None, day(8), None),
            (never, false)
        );
        assert_eq!(
            case_counter_key(InHandling, Some(day(2)), day(8), None),
            (day(8), false)
        );
        assert_eq!(
            case_counter_key(Resolved, Some(day(2)), day(8), Some(day(8))),
            (day(8), true)
        );
        assert_eq!(
            case_counter_key(Resolved, None, day(8), Some(day(9))),
            (day(8), false)
        );
    }

    #[test]
    fn satisfaction_counts_the_three_good_levels_and_score_is_five_stars() {
        let f = figures(&counts([2, 1, 1, 0, 1]), 3);
        assert_eq!(f.ratings, 5);
        assert_eq!(f.satisfaction_rate, Some(0.8));
        // (2·100 + 80 + 60 + 20) / 5 = 72.
        assert_eq!(f.score, Some(72.0));
        assert!(!f.withheld);
    }

    #[test]
    fn fewer_than_k_ratings_show_only_their_number() {
        let f = figures(&counts([0, 0, 0, 0, 2]), 3);
        assert_eq!((f.ratings, f.withheld), (2, true));
        assert!(f.levels.is_none() && f.satisfaction_rate.is_none() && f.score.is_none());
        let none = figures(&LevelCounts::default(), 3);
        assert_eq!((none.ratings, none.withheld), (0, false));
    }

    #[test]
    fn a_lone_withheld_part_takes_the_smallest_shown_one_with_it() {
        let mut days = [
            figures(&counts([5, 0, 0, 0, 0]), 3),
            figures(&counts([0, 0, 0, 0, 1]), 3),
            figures(&counts([3, 0, 0, 0, 0]), 3),
            figures(&LevelCounts::default(), 3),
        ];
        suppress_parts(days.iter_mut(), 3);
        let withheld: Vec<bool> = days.iter().map(|d| d.withheld).collect();
        assert_eq!(withheld, vec![false, true, true, false]);
        // Enough withheld already: nothing more goes.
        let mut parts = [
            figures(&counts([1, 1, 1, 0, 0]), 3),
            figures(&counts([0, 0, 0, 1, 1]), 3),
            figures(&counts([0, 0, 0, 0, 1]), 3),
        ];
        suppress_parts(parts.iter_mut(), 3);
        assert_eq!(
            parts.iter().map(|d| d.withheld).collect::<Vec<_>>(),
            vec![false, true, true]
        );
    }

    #[test]
    fn months_have_bounds() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            month_bounds("2027-02"),
            Some((d("2027-02-01"), d("2027-02-28")))
        );
        assert_eq!(
            month_bounds("2026-12"),
            Some((d("2026-12-01"), d("2026-12-31")))
        );
        assert_eq!(month_bounds("2026-13"), None);
        assert_eq!(month_bounds("2026-1"), None);
        assert!(month(Some("1999-12"), d("2026-11-30")).is_err());
        assert_eq!(month(None, d("2026-11-30")).unwrap().0, "2026-11");
    }

    #[test]
    fn the_case_state_machine() {
        use CaseStatus::*;
        assert_eq!(
            next_status(AwaitingFollowUp, None, Step::FollowUp).unwrap(),
            InHandling
        );
        assert!(next_status(AwaitingFollowUp, None, Step::Resolve).is_err());
        assert!(next_status(AwaitingFollowUp, None, Step::Appeal).is_err());
        assert_eq!(
            next_status(InHandling, None, Step::Resolve).unwrap(),
            Resolved
        );
        assert_eq!(
            next_status(InHandling, None, Step::Appeal).unwrap(),
            Appealed
        );
        assert_eq!(
            next_status(Appealed, None, Step::Decide(AppealDecision::Upheld)).unwrap(),
            Upheld
        );
        assert_eq!(
            next_status(Appealed, None, Step::Decide(AppealDecision::Kept)).unwrap(),
            InHandling
        );
        // Kept once: no second appeal.
        assert!(next_status(InHandling, Some(AppealDecision::Kept), Step::Appeal).is_err());
        for closed in [Resolved, Upheld] {
            for step in [Step::FollowUp, Step::Resolve, Step::Appeal] {
                assert!(next_status(closed, None, step).is_err());
            }
        }
    }

    #[test]
    fn bad_levels_keep_contacts_good_ones_do_not() {
        assert!(InstantLevel::Dissatisfied.is_bad() && InstantLevel::VeryDissatisfied.is_bad());
        assert!(!InstantLevel::BasicallySatisfied.is_bad());
        assert_eq!(
            kept_contact(InstantLevel::Dissatisfied, Some(" 138 ")).as_deref(),
            Some("138")
        );
        assert_eq!(kept_contact(InstantLevel::Satisfied, Some("138")), None);
        assert_eq!(kept_contact(InstantLevel::Dissatisfied, Some("  ")), None);
    }

    #[test]
    fn refusals_follow_the_stored_ticket() {
        assert_eq!(Refusal::of_ticket(None), Refusal::UnknownTicket);
        assert_eq!(
            Refusal::of_ticket(Some((TicketState::Used, false))),
            Refusal::Used
        );
        assert_eq!(
            Refusal::of_ticket(Some((TicketState::Unused, true))),
            Refusal::Expired
        );
        assert_eq!(
            Refusal::of_ticket(Some((TicketState::Void, false))),
            Refusal::PointClosed
        );
        assert!(Refusal::UnknownTicket.is_guess() && !Refusal::Used.is_guess());
    }

    #[test]
    fn items_name_known_criteria_once() {
        let item = |id| RatingItem {
            criterion_id: id,
            level: InstantLevel::Satisfied,
        };
        assert!(check_items(&[item(1), item(5)]).is_ok());
        assert!(check_items(&[item(6)]).is_err());
        assert!(check_items(&[item(2), item(2)]).is_err());
    }

    #[test]
    fn rankings_tie_and_put_withheld_units_last() {
        let unit = |id, levels| InstantRankingItem {
            rank: None,
            org_id: id,
            name: String::new(),
            figures: figures(&counts(levels), 3),
            bad_reviews: 0,
            overdue: 0,
        };
        let ranked = rank(vec![
            unit(1, [0, 0, 0, 0, 2]),
            unit(2, [3, 0, 0, 0, 1]),
            unit(3, [4, 0, 0, 0, 0]),
            unit(4, [3, 0, 0, 0, 1]),
            unit(5, [0, 0, 0, 0, 0]),
        ]);
        let order: Vec<(i64, Option<i64>)> = ranked.iter().map(|u| (u.org_id, u.rank)).collect();
        assert_eq!(
            order,
            vec![
                (3, Some(1)),
                (2, Some(2)),
                (4, Some(2)),
                (1, None),
                (5, None)
            ]
        );
    }
}
