//! People: Party members (党员) of the orgs, with their membership history.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn};
use crate::error::{validate, ApiResult};
use crate::http::{created, JsonBody, Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::queries as org_queries;
use crate::orgs::record;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_person)
        .service(list_people)
        .service(get_person)
        .service(update_person)
        .service(archive_person);
}

/// Loads a person the actor may see (404 otherwise), checks `action` on their org, and
/// tells whether the actor may manage them (and so see their whole phone number).
fn authorized(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    action: Action,
) -> ApiResult<(PersonRow, bool)> {
    let person = queries::find(conn, id)?;
    let path = org_queries::path_of(conn, person.org_id)?;
    actor.authorize(action, &path)?;
    let manages = actor.allows(Action::ManageOrgs, &path);
    Ok((person, manages))
}

/// An active org the actor manages, named in a body field.
fn managed_org(conn: &mut DbConn, actor: &Actor, org_id: i64) -> ApiResult<OrgRow> {
    let org = org_queries::find_active_referenced(conn, actor, org_id, "org_id")?;
    actor.authorize(Action::ManageOrgs, &org.path)?;
    Ok(org)
}

/// Add a Party member to an org the actor manages.
#[utoipa::path(
    tag = "people",
    request_body = CreatePerson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Person),
        (status = 409, description = "`external_id` already used", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/people")]
async fn create_person(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<CreatePerson>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let person = db::write(&state.pool, move |conn| {
        let org = managed_org(conn, &actor, body.org_id)?;
        let person = queries::insert(
            conn,
            queries::NewPerson {
                org_id: org.id,
                name: body.name.trim(),
                member_type: body.member_type,
                position: body.position,
                joined_on: body.joined_on,
                external_id: body.external_id.as_deref(),
                phone: body.phone.as_deref(),
            },
        )?;
        let summary = format!("added {} to {}", person.name, org.name);
        record(
            conn,
            &actor,
            "person.create",
            ("person", person.id),
            org.id,
            summary,
        )?;
        Ok(person)
    })
    .await?;
    Ok(created(&req, person.id, &Person::new(person, true)))
}

/// List the people the actor can see; phone numbers are masked.
#[utoipa::path(
    tag = "people",
    params(PersonListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible people", body = Page<Person>))
)]
#[get("/people")]
async fn list_people(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<PersonListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Person>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    let status = rules::list_status(filter.status);
    let result = db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(org_id) => Some(crate::orgs::authorized(conn, &actor, org_id, Action::Read)?),
            None => None,
        };
        let (rows, total) = queries::list(
            conn,
            &actor.scope(),
            within.as_ref(),
            status,
            &filter,
            &page,
        )?;
        let items = rows
            .into_iter()
            .map(|row| Person::new(row, false))
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One person, with their membership history.
#[utoipa::path(
    tag = "people",
    params(("id" = i64, Path, description = "Person id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The person; the phone is shown whole to those who manage them", body = Person))
)]
#[get("/people/{id}")]
async fn get_person(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Person>> {
    let id = id.into_inner();
    let person = db::read(&state.pool, move |conn| {
        let (row, manages) = authorized(conn, &actor, id, Action::Read)?;
        let mut person = Person::new(row, manages);
        person.memberships = Some(queries::history(conn, id)?);
        Ok(person)
    })
    .await?;
    Ok(web::Json(person))
}

/// Change a person; a new `org_id` moves them and keeps the old membership in history.
#[utoipa::path(
    tag = "people",
    params(("id" = i64, Path, description = "Person id")),
    request_body = UpdatePerson,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed person", body = Person),
        (status = 409, description = "`external_id` already used", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/people/{id}")]
async fn update_person(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdatePerson>,
) -> ApiResult<web::Json<Person>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    rules::check_update(&body)?;
    let person = db::write(&state.pool, move |conn| {
        let (person, _) = authorized(conn, &actor, id, Action::ManageOrgs)?;
        let mut summary = Vec::new();
        if let Some(new_org_id) = body.org_id.filter(|&o| o != person.org_id) {
            let org = managed_org(conn, &actor, new_org_id)?;
            queries::move_to(conn, &person, org.id)?;
            summary.push(format!("moved from {} to {}", person.org_id, org.id));
        }
        let changes = PersonChanges::from_update(&body);
        queries::update(conn, id, &changes)?;
        summary.extend(changes.changed_fields().map(str::to_owned));
        let updated = queries::find(conn, id)?;
        let summary = format!("changed {}: {}", person.name, summary.join(", "));
        record(
            conn,
            &actor,
            "person.update",
            ("person", id),
            updated.org_id,
            summary,
        )?;
        let mut out = Person::new(updated, true);
        out.memberships = Some(queries::history(conn, id)?);
        Ok(out)
    })
    .await?;
    Ok(web::Json(person))
}

/// Archive a person: their membership ends and they are no longer a secretary.
#[utoipa::path(
    tag = "people",
    params(("id" = i64, Path, description = "Person id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Archived"))
)]
#[delete("/people/{id}")]
async fn archive_person(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        let (person, _) = authorized(conn, &actor, id, Action::ManageOrgs)?;
        if person.status == PersonStatus::Archived {
            return Ok(());
        }
        queries::archive(conn, id)?;
        let summary = format!("archived {}", person.name);
        record(
            conn,
            &actor,
            "person.archive",
            ("person", id),
            person.org_id,
            summary,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
