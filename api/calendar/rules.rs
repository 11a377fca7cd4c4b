//! Working days: weekends rest unless worked (调休), weekdays work unless a holiday. Deadlines
//! of bad-review cases count in them, in China Standard Time.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::error::FieldError;

/// The years a calendar may hold.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The days of a calendar that differ from the weekend rule: `true` worked, `false` rest.
pub type Exceptions = HashMap<NaiveDate, bool>;

pub fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

pub fn is_working(day: NaiveDate, exceptions: &Exceptions) -> bool {
    exceptions
        .get(&day)
        .copied()
        .unwrap_or_else(|| !is_weekend(day))
}

/// The `n`-th working day after `start` (the day a case opens never counts): one working
/// day after a Friday is the Monday, unless that is a holiday.
pub fn add_working_days(start: NaiveDate, n: u32, exceptions: &Exceptions) -> NaiveDate {
    let mut day = start;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if is_working(day, exceptions) {
            left -= 1;
        }
    }
    day
}

/// How far after a start day the exceptions must be loaded for `n` working days: a week
/// holds at least two working days even around the longest holidays (Spring Festival,
/// National Day), plus a month of margin.
pub fn lookahead_days(n: u32) -> i64 {
    i64::from(n) * 7 + 31
}

/// Checks a year's exceptions: every day in the year, worked days on weekends, no day both
/// a holiday and worked.
pub fn check_year(year: i32, holidays: &[NaiveDate], workdays: &[NaiveDate]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, day) in holidays.iter().enumerate() {
        if day.year() != year {
            errors.push(FieldError::new(
                format!("holidays[{i}]"),
                format!("is not in {year}"),
            ));
        }
    }
    for (i, day) in workdays.iter().enumerate() {
        let field = format!("workdays[{i}]");
        if day.year() != year {
            errors.push(FieldError::new(field, format!("is not in {year}")));
        } else if !is_weekend(*day) {
            errors.push(FieldError::new(
                field,
                "is a weekday (workdays lists weekend days that are worked)",
            ));
        } else if holidays.contains(day) {
            errors.push(FieldError::new(field, "is also listed as a holiday"));
        }
    }
    errors
}

/// The exceptions a year's lists make (weekend holidays and duplicates change nothing).
pub fn exceptions_of(holidays: &[NaiveDate], workdays: &[NaiveDate]) -> Vec<(NaiveDate, bool)> {
    let mut days: Vec<(NaiveDate, bool)> = holidays
        .iter()
        .filter(|d| !is_weekend(**d))
        .map(|d| (*d, false))
        .chain(workdays.iter().map(|d| (*d, true)))
        .collect();
    days.sort();
    days.dedup();
    days
}

/// Working days of a year under its exceptions.
pub fn working_days_in(year: i32, exceptions: &Exceptions) -> i64 {
    let (Some(first), Some(next)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year + 1, 1, 1),
    ) else {
        return 0;
    };
    first
        .iter_days()
        .take_while(|d| *d < next)
        .filter(|d| is_working(*d, exceptions))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// 2027's Spring Festival as a calendar would hold it: Feb 6 (Sat) worked, Feb 8–12
    /// (Mon–Fri) off.
    fn spring_festival() -> Exceptions {
        let holidays: Vec<NaiveDate> = (8..=12).map(|n| d(&format!("2027-02-{n:02}"))).collect();
        exceptions_of(&holidays, &[d("2027-02-06")])
            .into_iter()
            .collect()
    }

    #[test]
    fn weekends_rest_by_default() {
        let none = Exceptions::new();
        // Friday + 1 working day is Monday; Monday + 5 is the next Monday.
        assert_eq!(add_working_days(d("2026-11-27"), 1, &none), d("2026-11-30"));
        assert_eq!(add_working_days(d("2026-11-30"), 5, &none), d("2026-12-07"));
        // A case opened on a Sunday: Monday is its first working day.
        assert_eq!(add_working_days(d("2026-11-29"), 1, &none), d("2026-11-30"));
    }

    #[test]
    fn deadlines_skip_holidays_and_count_worked_weekends() {
        let cal = spring_festival();
        // Friday Feb 5 + 1: Saturday Feb 6 is worked.
        assert_eq!(add_working_days(d("2027-02-05"), 1, &cal), d("2027-02-06"));
        // Saturday Feb 6 + 1: the holiday week is skipped, Monday Feb 15.
        assert_eq!(add_working_days(d("2027-02-06"), 1, &cal), d("2027-02-15"));
        // Thursday Feb 4 + 5: Fri 5, Sat 6, Mon 15, Tue 16, Wed 17.
        assert_eq!(add_working_days(d("2027-02-04"), 5, &cal), d("2027-02-17"));
        assert!(lookahead_days(5) >= (d("2027-02-17") - d("2027-02-04")).num_days());
    }

    #[test]
    fn a_year_is_checked_day_by_day() {
        let errors = check_year(
            2027,
            &[d("2027-01-01"), d("2028-01-01")],
            &[d("2027-02-06"), d("2027-02-08"), d("2027-01-02")],
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        // 2028-01-01 is out of the year; Feb 8 is a Monday; Jan 2 2027 is a Saturday: fine.
        assert_eq!(fields, vec!["holidays[1]", "workdays[1]"]);
        let both = check_year(2027, &[d("2027-02-06")], &[d("2027-02-06")]);
        assert_eq!(both[0].field, "workdays[0]");
    }

    #[test]
    fn working_days_of_a_year() {
        assert_eq!(working_days_in(2026, &Exceptions::new()), 261);
        let cal = spring_festival();
        assert_eq!(working_days_in(2027, &cal), 261 - 5 + 1);
    }
}
