//! The calendar's queries.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::rules::{self, Exceptions};
use crate::db::schema::{calendar_days, calendar_years};
use crate::db::DbConn;
use crate::error::ApiResult;

/// The exceptions between two days, both included.
pub fn exceptions(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> ApiResult<Exceptions> {
    Ok(calendar_days::table
        .filter(calendar_days::day.between(from, to))
        .select((calendar_days::day, calendar_days::working))
        .load::<(NaiveDate, bool)>(conn)?
        .into_iter()
        .collect())
}

/// The `n`-th working day after `start`, by the calendar as it stands.
pub fn deadline(conn: &mut DbConn, start: NaiveDate, n: u32) -> ApiResult<NaiveDate> {
    let until = start + Duration::days(rules::lookahead_days(n));
    let exceptions = exceptions(conn, start, until)?;
    Ok(rules::add_working_days(start, n, &exceptions))
}

fn year_bounds(year: i32) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
    (first, last)
}

/// When the year was last put, if ever.
pub fn year_updated_at(conn: &mut DbConn, year: i32) -> ApiResult<Option<NaiveDateTime>> {
    Ok(calendar_years::table
        .find(year)
        .select(calendar_years::updated_at)
        .first(conn)
        .optional()?)
}

pub fn year_exceptions(conn: &mut DbConn, year: i32) -> ApiResult<Exceptions> {
    let (first, last) = year_bounds(year);
    exceptions(conn, first, last)
}

/// Replaces a year's exceptions (in the caller's transaction).
pub fn put_year(
    conn: &mut DbConn,
    year: i32,
    days: &[(NaiveDate, bool)],
    user_id: i64,
    at: NaiveDateTime,
) -> ApiResult<()> {
    let (first, last) = year_bounds(year);
    diesel::delete(calendar_days::table.filter(calendar_days::day.between(first, last)))
        .execute(conn)?;
    let rows: Vec<_> = days
        .iter()
        .map(|(day, working)| {
            (
                calendar_days::day.eq(*day),
                calendar_days::working.eq(*working),
            )
        })
        .collect();
    if !rows.is_empty() {
        crate::insert_batch!(conn, calendar_days::table, &rows)?;
    }
    diesel::delete(calendar_years::table.find(year)).execute(conn)?;
    diesel::insert_into(calendar_years::table)
        .values((
            calendar_years::year.eq(year),
            calendar_years::updated_by.eq(user_id),
            calendar_years::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}
