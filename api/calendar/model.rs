//! The working-day calendar as the API shows and takes it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A year's exceptions to the weekend rule, as published by the State Council each year:
/// the public holidays that fall on weekdays, and the weekend days that are worked (调休).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"holidays": ["2027-01-01", "2027-02-08", "2027-02-09"], "workdays": ["2027-02-06"]}))]
pub struct PutCalendar {
    /// Rest days that are not weekends (法定节假日), each in the year; a weekend day listed
    /// here is accepted and changes nothing.
    #[schema(max_items = 366)]
    pub holidays: Vec<NaiveDate>,
    /// Saturdays and Sundays that are working days (调休上班), each in the year.
    #[schema(max_items = 366)]
    pub workdays: Vec<NaiveDate>,
}

/// A year of the calendar. A year nobody has put counts weekends as rest days and every
/// other day as a working day.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"year": 2027, "defined": true, "holidays": ["2027-01-01"], "workdays": ["2027-02-06"], "working_days": 250, "updated_at": "2026-11-30T02:00:00Z"}))]
pub struct CalendarYear {
    pub year: i32,
    /// Whether an administrator has put this year (otherwise weekends only).
    pub defined: bool,
    /// Weekdays that are holidays, sorted.
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are worked, sorted.
    pub workdays: Vec<NaiveDate>,
    /// Working days in the year, as deadlines count them.
    pub working_days: i64,
    pub updated_at: Option<DateTime<Utc>>,
}
