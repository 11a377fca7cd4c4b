//! The working-day calendar (工作日历): each year's holidays and worked weekend days (调休),
//! kept by an administrator. Deadlines in working days (bad-review cases) count in it.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{get, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CalendarYear, PutCalendar};
use crate::audit::{self, Event};
use crate::auth::Actor;
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::http::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_year).service(put_year);
}

fn checked_year(year: i32) -> ApiResult<i32> {
    if rules::YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::field(
            "year",
            format!(
                "must be between {} and {}",
                rules::YEARS.start(),
                rules::YEARS.end()
            ),
        ))
    }
}

fn shown(conn: &mut DbConn, year: i32) -> ApiResult<CalendarYear> {
    let updated_at = queries::year_updated_at(conn, year)?;
    let exceptions = queries::year_exceptions(conn, year)?;
    let mut holidays: Vec<_> = exceptions
        .iter()
        .filter(|(_, working)| !**working)
        .map(|(d, _)| *d)
        .collect();
    let mut workdays: Vec<_> = exceptions
        .iter()
        .filter(|(_, working)| **working)
        .map(|(d, _)| *d)
        .collect();
    holidays.sort_unstable();
    workdays.sort_unstable();
    Ok(CalendarYear {
        year,
        defined: updated_at.is_some(),
        holidays,
        workdays,
        working_days: rules::working_days_in(year, &exceptions),
        updated_at: updated_at.map(|t| t.and_utc()),
    })
}

/// A year of the working-day calendar (any signed-in user): its weekday holidays and
/// worked weekend days. A year nobody has put rests on weekends only.
#[utoipa::path(
    tag = "calendar",
    params(("year" = i32, Path, minimum = 2000, maximum = 2100, description = "The year, 2000 to 2100")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The year", body = CalendarYear),
        (status = 422, description = "`validation_failed`: the year is out of range", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/calendar/{year}")]
async fn get_year(
    _actor: Actor,
    state: web::Data<AppState>,
    year: web::Path<i32>,
) -> ApiResult<web::Json<CalendarYear>> {
    let year = checked_year(year.into_inner())?;
    let shown = db::read(&state.pool, move |conn| shown(conn, year)).await?;
    Ok(web::Json(shown))
}

/// Put a year (administrators): its holidays and worked weekend days replace what the year
/// held. Deadlines already set keep their day; new ones count in the new calendar.
#[utoipa::path(
    tag = "calendar",
    params(("year" = i32, Path, minimum = 2000, maximum = 2100, description = "The year, 2000 to 2100")),
    request_body = PutCalendar,
    security(("bearer" = [])),
    responses((status = 200, description = "The year as stored", body = CalendarYear))
)]
#[put("/calendar/{year}")]
async fn put_year(
    actor: Actor,
    state: web::Data<AppState>,
    year: web::Path<i32>,
    body: JsonBody<PutCalendar>,
) -> ApiResult<web::Json<CalendarYear>> {
    let (year, body) = (checked_year(year.into_inner())?, body.into_inner());
    actor.authorize_global()?;
    let errors = rules::check_year(year, &body.holidays, &body.workdays);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let shown = db::write(&state.pool, move |conn| {
        let days = rules::exceptions_of(&body.holidays, &body.workdays);
        queries::put_year(conn, year, &days, actor.user_id, crate::types::now())?;
        let summary = format!(
            "put the calendar of {year}: {} holidays, {} worked weekend days",
            days.iter().filter(|(_, w)| !w).count(),
            days.iter().filter(|(_, w)| *w).count()
        );
        let event = Event {
            action: "calendar.put",
            target_type: "calendar",
            target_id: Some(year.to_string()),
            org_id: None,
            summary,
        };
        audit::record(conn, &actor, event)?;
        shown(conn, year)
    })
    .await?;
    Ok(web::Json(shown))
}
