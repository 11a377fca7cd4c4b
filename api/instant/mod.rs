//! Instant evaluation of window units (窗口单位即时评议, 好差评): service points with their
//! posters, one-time service tickets (一次一评), ratings without login, bad reviews handled
//! to the end (回访核实, 限期整改, 申诉复核), monthly figures and rankings, and the roll-in of a
//! unit's ratings beside its campaign results.
//!
//! Secrecy is in the data, as for ballots: a rating has a random id and only its day; a
//! ticket is a keyed hash naming its point, never the staff member who issued it nor the
//! rating it gave; a case keeps days only.

pub mod cases;
pub mod figures;
pub mod model;
pub mod poster;
pub mod queries;
pub mod ratings;
pub mod rules;

use actix_web::http::header;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::figures::Month;
use self::model::*;
use self::ratings::Credential;
use self::rules::{Refusal, Step};
use crate::auth::{Action, Actor};
use crate::db;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::{JsonBody, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::state::AppState;
use crate::types::{local_today, now};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_point)
        .service(list_points)
        .service(get_point)
        .service(update_point)
        .service(point_poster)
        .service(issue_tickets)
        .service(get_settings)
        .service(put_settings)
        .service(point_figures)
        .service(unit_figures)
        .service(unit_rankings)
        .service(list_cases)
        .service(get_case)
        .service(follow_up)
        .service(resolve)
        .service(appeal)
        .service(decide_appeal)
        .service(open_rectification)
        .service(rating_form)
        .service(submit_rating)
        .service(read_reply);
}

/// A point as the API shows it.
fn shown_point(state: &AppState, row: PointRow) -> ServicePoint {
    ServicePoint {
        rate_link: poster::point_link(&state.settings.public_url(), &row.point_key),
        id: row.id,
        org_id: row.org_id,
        name: row.name,
        location: row.location,
        open_rating: row.open_rating,
        active: row.active,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// A point and its org, `action` checked on the org (404 when the org is hidden).
fn point_at(
    conn: &mut db::DbConn,
    actor: &Actor,
    id: i64,
    action: Action,
) -> ApiResult<(PointRow, OrgRow)> {
    let point = queries::find_point(conn, id)?;
    let org = crate::orgs::authorized(conn, actor, point.org_id, action)?;
    Ok((point, org))
}

/// Add a service point (a counter or desk) to a window unit, as an org admin of the unit or
/// above. Its poster's QR code links to the rating page for the point.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id (a window unit)")),
    request_body = CreatePoint,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ServicePoint),
        (status = 409, description = "`not_window_unit`: the org is not an active window unit", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orgs/{id}/service-points")]
async fn create_point(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CreatePoint>,
) -> ApiResult<HttpResponse> {
    let (org_id, body) = (id.into_inner(), body.into_inner());
    let shared = state.clone();
    let point = db::write(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, org_id, Action::ManageOrgs)?;
        if !org.window_unit || !org.is_active() {
            return Err(ApiError::conflict(
                ErrorCode::NotWindowUnit,
                "Service points belong to active window units (window_unit orgs) only.",
            ));
        }
        let name = crate::types::non_blank(&body.name)
            .ok_or_else(|| ApiError::field("name", "must not be blank"))?;
        let id = queries::insert_point(conn, org.id, &body, actor.user_id, now())?;
        let summary = format!("added service point {name} to {}", org.name);
        record(
            conn,
            &actor,
            "service_point.create",
            ("service_point", id),
            org.id,
            summary,
        )?;
        Ok(shown_point(&shared, queries::find_point(conn, id)?))
    })
    .await?;
    Ok(crate::http::created_at(
        format!("/api/v1/service-points/{}", point.id),
        &point,
    ))
}

/// A window unit's service points, by id.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The points", body = Page<ServicePoint>))
)]
#[get("/orgs/{id}/service-points")]
async fn list_points(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ServicePoint>>> {
    let (org_id, page) = (id.into_inner(), page.into_inner().checked()?);
    let shared = state.clone();
    let result = db::read(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, org_id, Action::Read)?;
        let (rows, total) = queries::points_of(conn, org.id, &page)?;
        let items = rows.into_iter().map(|r| shown_point(&shared, r)).collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One service point.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Service point id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The point", body = ServicePoint))
)]
#[get("/service-points/{id}")]
async fn get_point(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ServicePoint>> {
    let id = id.into_inner();
    let shared = state.clone();
    let point = db::read(&state.pool, move |conn| {
        let (point, _) = point_at(conn, &actor, id, Action::Read)?;
        Ok(shown_point(&shared, point))
    })
    .await?;
    Ok(web::Json(point))
}

/// Change a service point (org admins of its unit or above). Deactivating it voids its
/// unused tickets; turning `open_rating` on lets anyone rate from its poster, unverified.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Service point id")),
    request_body = UpdatePoint,
    security(("bearer" = [])),
    responses((status = 200, description = "The point as changed", body = ServicePoint))
)]
#[patch("/service-points/{id}")]
async fn update_point(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdatePoint>,
) -> ApiResult<web::Json<ServicePoint>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let shared = state.clone();
    let point = db::write(&state.pool, move |conn| {
        let (point, org) = point_at(conn, &actor, id, Action::ManageOrgs)?;
        if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(ApiError::field("name", "must not be blank"));
        }
        queries::update_point(conn, id, &body, now())?;
        let voided = if body.active == Some(false) {
            queries::void_tickets(conn, id)?
        } else {
            0
        };
        let summary = format!(
            "changed service point {} of {} ({voided} unused tickets voided)",
            point.name, org.name
        );
        record(
            conn,
            &actor,
            "service_point.update",
            ("service_point", id),
            org.id,
            summary,
        )?;
        Ok(shown_point(&shared, queries::find_point(conn, id)?))
    })
    .await?;
    Ok(web::Json(point))
}

/// The point's printable poster (A4): its name and unit and a large QR code to the rating
/// page for the point.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Service point id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The poster", content_type = "text/html", body = String, example = "<!doctype html><html lang=\"zh-CN\">…</html>"))
)]
#[get("/service-points/{id}/poster")]
async fn point_poster(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let public_url = state.settings.public_url();
    let page = db::read(&state.pool, move |conn| {
        let (point, org) = point_at(conn, &actor, id, Action::Read)?;
        let label = poster::PointLabel {
            point: &point.name,
            org: &org.name,
            location: &point.location,
        };
        let link = poster::point_link(&public_url, &point.point_key);
        Ok(poster::render_poster(&label, &link, point.open_rating))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// Issue one-time service tickets at a point (1 to 100), one per service: the staff at the
/// counter (members of the unit), those who run it, or an integrated counter screen. The
/// answer is the only time the codes are shown; with `?format=html` they are printable slips
/// with a QR code each. Tickets expire after the unit's `ticket_valid_days` (default 7) and
/// name the point only, never who issued them.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Service point id"), TicketQuery),
    request_body = IssueTickets,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Issued (`Cache-Control: no-store`): JSON, or with `?format=html` printable slips",
            content(
                (IssuedTickets = "application/json"),
                (String = "text/html", example = "<!doctype html><html lang=\"zh-CN\">…</html>"),
            ),
            headers(("Cache-Control" = String, description = "`no-store`: the tickets are shown once"))),
        (status = 409, description = "`point_closed`: the point is inactive", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/service-points/{id}/tickets")]
async fn issue_tickets(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<TicketQuery>,
    body: JsonBody<IssueTickets>,
) -> ApiResult<HttpResponse> {
    let (id, count) = (id.into_inner(), body.into_inner().count);
    let html = crate::ballots::rules::wants_sheet(query.format);
    let key = state.code_key.clone();
    let (point, org_name, tickets, expires_at) = db::write(&state.pool, move |conn| {
        let (point, org) = point_at(conn, &actor, id, Action::ServeWindow)?;
        if !point.active {
            return Err(Refusal::PointClosed.into());
        }
        let settings = queries::settings(conn, org.id)?;
        let expires_at = now() + chrono::Duration::days(i64::from(settings.ticket_valid_days));
        let tickets: Vec<String> = (0..count)
            .map(|_| crate::ballots::codes::generate())
            .collect();
        let hashes: Vec<String> = tickets
            .iter()
            .map(|t| key.ticket_hash(&crate::ballots::codes::canonical(t).unwrap_or_default()))
            .collect();
        queries::insert_tickets(conn, &point, &hashes, expires_at)?;
        Ok((point, org.name, tickets, expires_at))
    })
    .await?;
    let public_url = state.settings.public_url();
    let mut res = HttpResponse::Created();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if html {
        let label = poster::PointLabel {
            point: &point.name,
            org: &org_name,
            location: &point.location,
        };
        let expires = crate::types::local_time(expires_at.and_utc())
            .format("%Y年%-m月%-d日 %H:%M")
            .to_string();
        let page = poster::render_slips(&label, &public_url, &tickets, &expires);
        return Ok(res.content_type("text/html; charset=utf-8").body(page));
    }
    let tickets = tickets
        .into_iter()
        .map(|ticket| Ticket {
            link: poster::ticket_link(&public_url, &ticket),
            ticket,
        })
        .collect();
    Ok(res.json(IssuedTickets {
        point_id: point.id,
        expires_at: expires_at.and_utc(),
        tickets,
    }))
}

/// A window unit's instant-evaluation settings (the defaults until changed).
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The settings", body = InstantSettings))
)]
#[get("/orgs/{id}/instant-settings")]
async fn get_settings(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<InstantSettings>> {
    let id = id.into_inner();
    let settings = db::read(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, id, Action::Read)?;
        queries::settings(conn, org.id)
    })
    .await?;
    Ok(web::Json(settings))
}

/// Set a window unit's deadlines (org admins of the unit or above): the working days a bad
/// review has to be resolved in, and how long a ticket stays valid. Cases already open keep
/// their due days.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id")),
    request_body = InstantSettings,
    security(("bearer" = [])),
    responses((status = 200, description = "The settings as stored", body = InstantSettings))
)]
#[put("/orgs/{id}/instant-settings")]
async fn put_settings(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<InstantSettings>,
) -> ApiResult<web::Json<InstantSettings>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let settings = db::write(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, id, Action::ManageOrgs)?;
        queries::put_settings(conn, org.id, &body, actor.user_id, now())?;
        let summary = format!(
            "set instant evaluation of {}: resolve in {} working days, tickets valid {} days",
            org.name, body.resolve_working_days, body.ticket_valid_days
        );
        record(
            conn,
            &actor,
            "instant_settings.put",
            ("org", org.id),
            org.id,
            summary,
        )?;
        queries::settings(conn, org.id)
    })
    .await?;
    Ok(web::Json(settings))
}

fn month(query: &MonthQuery) -> ApiResult<Month> {
    let (name, first, last) = rules::month(query.month.as_deref(), local_today())?;
    Ok(Month { name, first, last })
}

/// A service point's month (those who read results at its unit): ticketed ratings and, apart,
/// open-QR ones, for the month and each day, with bad reviews and their handling. A figure of
/// fewer than 3 ratings shows only its count.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Service point id"), MonthQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = PointFigures),
        (status = 422, description = "`validation_failed`: `month` is not a month as YYYY-MM", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/service-points/{id}/figures")]
async fn point_figures(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<MonthQuery>,
) -> ApiResult<web::Json<PointFigures>> {
    let (id, month) = (id.into_inner(), month(&query)?);
    let result = db::read(&state.pool, move |conn| {
        let (point, _) = point_at(conn, &actor, id, Action::ReadResults)?;
        figures::point_figures(conn, &point, &month, local_today())
    })
    .await?;
    Ok(web::Json(result))
}

/// A window unit's month (those who read results there): ratings, rates by level,
/// satisfaction and score for the month, each day and each service point; bad reviews and
/// their handling (on time, overdue, appealed, upheld).
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id (a window unit)"), MonthQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = UnitFigures),
        (status = 422, description = "`validation_failed`: `month` is not a month as YYYY-MM", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs/{id}/instant-figures")]
async fn unit_figures(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<MonthQuery>,
) -> ApiResult<web::Json<UnitFigures>> {
    let (id, month) = (id.into_inner(), month(&query)?);
    let result = db::read(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, id, Action::ReadResults)?;
        figures::unit_figures(conn, &org, &month, local_today())
    })
    .await?;
    Ok(web::Json(result))
}

/// The month's ranking of the window units in an org's subtree (月度排名通报), for those who
/// read results there: by satisfaction rate, then score, over ticketed ratings (standard
/// competition ranking); units with fewer than 3 ratings come last, unranked, by id.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Org id (the subtree's root)"), MonthQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the ranking", body = Page<InstantRankingItem>),
        (status = 422, description = "`validation_failed`: `month` is not a month as YYYY-MM", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orgs/{id}/instant-rankings")]
async fn unit_rankings(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<MonthQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<InstantRankingItem>>> {
    let (id, month, page) = (
        id.into_inner(),
        month(&query)?,
        page.into_inner().checked()?,
    );
    let result = db::read(&state.pool, move |conn| {
        let org = crate::orgs::authorized(conn, &actor, id, Action::ReadResults)?;
        let all = figures::ranking(conn, &org.path, &month, local_today())?;
        let total = all.len() as i64;
        let items = all
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.per_page()).unwrap_or(0))
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// Bad-review cases the actor may see (those of the orgs where they read results), newest
/// first. `overdue` is derived from the due days in China Standard Time.
#[utoipa::path(
    tag = "instant",
    params(CaseListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible cases", body = Page<Case>))
)]
#[get("/instant-cases")]
async fn list_cases(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<CaseListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Case>>> {
    let (filter, page) = (filter.into_inner(), page.into_inner().checked()?);
    let result = db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(id) => Some(crate::orgs::authorized(conn, &actor, id, Action::Read)?.path),
            None => None,
        };
        let scope = actor.scope_for(Action::ReadResults);
        let today = local_today();
        let (rows, total) =
            queries::list_cases(conn, &scope, within.as_deref(), &filter, today, &page)?;
        let points: Vec<i64> = rows.iter().map(|r| r.point_id).collect();
        let names = queries::point_names(conn, &points)?;
        let orgs: Vec<i64> = rows.iter().map(|r| r.org_id).collect();
        let paths = crate::campaigns::queries::org_paths(conn, &orgs)?;
        let items = rows
            .into_iter()
            .map(|row| {
                // Those who keep the org's records call back: they see the whole contact.
                let handler = paths
                    .get(&row.org_id)
                    .is_some_and(|path| actor.allows(Action::Record, path));
                let name = names.get(&row.point_id).cloned().unwrap_or_default();
                rules::shown(row, name, handler, today)
            })
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One bad-review case.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The case", body = Case))
)]
#[get("/instant-cases/{id}")]
async fn get_case(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Case>> {
    let id = id.into_inner();
    let case = db::read(&state.pool, move |conn| {
        let (row, org) = cases::visible(conn, &actor, id)?;
        cases::shown(conn, &actor, row, &org)
    })
    .await?;
    Ok(web::Json(case))
}

/// Runs one step of a case in a transaction.
async fn case_step(
    state: &AppState,
    actor: Actor,
    id: i64,
    step: Step,
    changes: queries::CaseChanges,
) -> ApiResult<web::Json<Case>> {
    let case = db::write(&state.pool, move |conn| {
        cases::step(conn, &actor, id, step, changes)
    })
    .await?;
    Ok(web::Json(case))
}

/// Record the follow-up call (回访核实) of a bad review left with a contact, by those who keep
/// the unit's records; the case moves on to be handled.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    request_body = FollowUp,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 409, description = "`invalid_transition`: the case is not waiting for its follow-up", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-cases/{id}/follow-up")]
async fn follow_up(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<FollowUp>,
) -> ApiResult<web::Json<Case>> {
    let changes = cases::follow_up(&body);
    case_step(&state, actor, id.into_inner(), Step::FollowUp, changes).await
}

/// Resolve a case: the measures taken (整改) and the reply to the person who left the review
/// (有反馈), which they can read with their ticket. On time when by its due day.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    request_body = Resolve,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 409, description = "`invalid_transition`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-cases/{id}/resolve")]
async fn resolve(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<Resolve>,
) -> ApiResult<web::Json<Case>> {
    let changes = cases::resolve(&body);
    case_step(&state, actor, id.into_inner(), Step::Resolve, changes).await
}

/// Appeal a bad review as unfounded (申诉), once, by those who keep the unit's records; an
/// org admin of a superior org decides.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    request_body = Appeal,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 409, description = "`invalid_transition`: not in handling, or appealed once already", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-cases/{id}/appeal")]
async fn appeal(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<Appeal>,
) -> ApiResult<web::Json<Case>> {
    let changes = cases::appeal(&body);
    case_step(&state, actor, id.into_inner(), Step::Appeal, changes).await
}

/// Decide an appeal (复核), as an org admin of a strict ancestor of the unit: `upheld` takes
/// the rating out of every figure and closes the case; `kept` sends it back to be handled
/// by its original due day.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    request_body = DecideAppeal,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case", body = Case),
        (status = 409, description = "`invalid_transition`: no appeal is waiting", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-cases/{id}/appeal-decision")]
async fn decide_appeal(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<DecideAppeal>,
) -> ApiResult<web::Json<Case>> {
    let step = Step::Decide(body.decision);
    let changes = cases::decide(&body);
    case_step(&state, actor, id.into_inner(), step, changes).await
}

/// Open a rectification item (整改) for the case's unit in a campaign, with the review as its
/// problem (one per case), by those who may open items for the unit.
#[utoipa::path(
    tag = "instant",
    params(("id" = i64, Path, description = "Case id")),
    request_body = OpenRectification,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case, linked to its item", body = Case),
        (status = 409, description = "`invalid_transition`: the case has an item, or its appeal was upheld", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-cases/{id}/rectification")]
async fn open_rectification(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<OpenRectification>,
) -> ApiResult<web::Json<Case>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let case = db::write(&state.pool, move |conn| {
        cases::open_rectification(conn, &actor, id, &body)
    })
    .await?;
    Ok(web::Json(case))
}

// The public side.

/// Refuses an address that keeps trying unknown tickets or point keys.
fn check_throttle(state: &AppState, address: &str) -> ApiResult<()> {
    state
        .ticket_failures_by_address
        .check(address)
        .map_err(ApiError::rate_limited)
}

/// The error for a refusal; a guess counts against the address.
fn refused(state: &AppState, address: &str, refusal: Refusal) -> ApiError {
    if refusal.is_guess() {
        state.ticket_failures_by_address.record_failure(address);
    }
    refusal.into()
}

/// A credential from a body: a ticket (hashed) or a point key. What cannot be a ticket is
/// refused as an unknown one.
fn credential(
    state: &AppState,
    address: &str,
    ticket: Option<&str>,
    point: Option<&str>,
) -> ApiResult<Credential> {
    match rules::credential(ticket, point)? {
        rules::Credential::Ticket(typed) => match crate::ballots::codes::canonical(typed) {
            Some(canonical) => Ok(Credential::Ticket {
                hash: state.code_key.ticket_hash(&canonical),
                reply_key: state.code_key.reply_key(&canonical),
            }),
            None => Err(refused(state, address, Refusal::UnknownTicket)),
        },
        rules::Credential::Point(key) => Ok(Credential::Point(key.trim().to_owned())),
    }
}

/// The rating form for a ticket or (open-QR mode) a point's key; the ticket stays unused.
#[utoipa::path(
    tag = "instant",
    request_body = model::RatingFormRequest,
    responses(
        (status = 200, description = "The form", body = RatingForm),
        (status = 404, description = "`invalid_ticket`, `invalid_point`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_used`, `ticket_expired`, `point_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tickets from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-rating-forms")]
async fn rating_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<model::RatingFormRequest>,
) -> ApiResult<web::Json<RatingForm>> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let credential = credential(
        &state,
        &address,
        body.ticket.as_deref(),
        body.point.as_deref(),
    )?;
    let found = db::read(&state.pool, move |conn| ratings::form(conn, &credential)).await?;
    found
        .map(web::Json)
        .map_err(|refusal| refused(&state, &address, refusal))
}

/// The group-commit key of every rating.
const RATINGS_WRITER: u64 = 0;

/// Rate a service (no login): with a ticket, exactly once under any concurrency (a second
/// use is 409 `ticket_used`); or, where the point allows it, from its poster without a
/// ticket (unverified, counted apart; 10 an hour per client and point). The rating keeps
/// its day only. 不满意 and 非常不满意 open a case; a contact left with one is called back
/// within one working day, and with a ticket the reply can then be read at
/// `POST /instant-replies`.
#[utoipa::path(
    tag = "instant",
    request_body = SubmitRating,
    responses(
        (status = 201, description = "Recorded", body = RatingRecorded,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 404, description = "`invalid_ticket`, `invalid_point`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_used` (already rated), `ticket_expired`, `point_closed`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tickets, or open ratings, from this client; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: too many writes are waiting (or the database is unreachable); nothing was recorded and the ticket stays unused, try again after `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-ratings")]
async fn submit_rating(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<SubmitRating>,
) -> ApiResult<HttpResponse> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let body = body.into_inner();
    rules::check_items(&body.items)?;
    let credential = credential(
        &state,
        &address,
        body.ticket.as_deref(),
        body.point.as_deref(),
    )?;
    let budget = match &credential {
        Credential::Point(key) => {
            let budget = format!("{address}\u{0}{key}");
            state
                .open_ratings_by_client
                .reserve(&budget)
                .map_err(ApiError::rate_limited)?;
            Some(budget)
        }
        Credential::Ticket { .. } => None,
    };
    // Every rating goes to one writer: ratings add to counter rows other ratings add to,
    // and in one writer's batch they never wait on another writer's.
    let recorded = db::write_set(
        &state.pool,
        RATINGS_WRITER,
        ratings::Rate { credential, body },
    )
    .await;
    let recorded = match recorded {
        Ok(Ok(recorded)) => recorded,
        other => {
            // Nothing was recorded: the open-QR budget gets its place back.
            if let Some(budget) = &budget {
                state.open_ratings_by_client.release(budget);
            }
            other?.map_err(|refusal| refused(&state, &address, refusal))?
        }
    };
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(recorded))
}

/// How the bad review left with this ticket is being handled (no login): for raters who
/// left a contact with 不满意 or 非常不满意. Any other ticket is `invalid_ticket`.
#[utoipa::path(
    tag = "instant",
    request_body = ReplyRequest,
    responses(
        (status = 200, description = "The case as the rater sees it", body = CaseReply,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 404, description = "`invalid_ticket`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tickets from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/instant-replies")]
async fn read_reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<ReplyRequest>,
) -> ApiResult<HttpResponse> {
    let address = crate::http::client_address(&req);
    check_throttle(&state, &address)?;
    let Some(canonical) = crate::ballots::codes::canonical(&body.ticket) else {
        return Err(refused(&state, &address, Refusal::UnknownTicket));
    };
    let key = state.code_key.reply_key(&canonical);
    let reply = db::read(&state.pool, move |conn| ratings::reply(conn, &key)).await?;
    let reply = reply.ok_or_else(|| refused(&state, &address, Refusal::UnknownTicket))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(reply))
}
