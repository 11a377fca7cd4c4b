//! People: Party members (党员) of the orgs, with their membership history.

pub mod model;
pub mod queries;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor, Scope};
use crate::db::schema::people;
use crate::db::{self, DbConn, MultiBackend};
use crate::error::{validate, ApiError, ApiResult};
use crate::http::{created, Page, PageQuery};
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::state::AppState;
use crate::types::now;

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
fn managed_org(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: i64,
) -> ApiResult<crate::orgs::model::OrgRow> {
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
    body: web::Json<CreatePerson>,
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
                member_type: body.member_type.as_str(),
                position: body.position.map(Position::as_str),
                joined_on: body.joined_on,
                external_id: body.external_id.as_deref(),
                phone: body.phone.as_deref(),
            },
        )?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "person.create",
                target_type: "person",
                target_id: Some(person.id.to_string()),
                org_id: Some(org.id),
                summary: format!("added {} to {}", person.name, org.name),
            },
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
    let status = match filter.status.as_deref() {
        None | Some("active") => "active",
        Some("archived") => "archived",
        Some(_) => return Err(ApiError::bad_request("status must be active or archived")),
    };
    let result = db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(org_id) => Some(crate::orgs::authorized(conn, &actor, org_id, Action::Read)?),
            None => None,
        };
        let scope = actor.scope();
        let build = || {
            let mut q = people::table
                .filter(people::status.eq(status))
                .into_boxed::<MultiBackend>();
            if scope != Scope::All {
                q = q.filter(org_column_in_scope("people.org_id", &scope));
            }
            if let Some(org) = &within {
                q = if filter.descendants {
                    q.filter(org_column_in_scope(
                        "people.org_id",
                        &Scope::Subtrees(vec![org.path.clone()]),
                    ))
                } else {
                    q.filter(people::org_id.eq(org.id))
                };
            }
            if let Some(member_type) = filter.member_type {
                q = q.filter(people::member_type.eq(member_type.as_str()));
            }
            if let Some(text) = filter.q.as_deref().and_then(crate::types::non_blank) {
                q = q.filter(
                    people::name
                        .like(format!("%{}%", crate::orgs::escape_like(&text)))
                        .escape('\\'),
                );
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(PersonRow::as_select())
            .order((people::org_id.asc(), people::id.asc()))
            .limit(page.per_page())
            .offset(page.offset())
            .load(conn)?
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

#[derive(AsChangeset)]
#[diesel(table_name = people)]
struct PersonChanges<'a> {
    name: Option<&'a str>,
    member_type: Option<&'a str>,
    position: Option<Option<&'a str>>,
    joined_on: Option<Option<chrono::NaiveDate>>,
    external_id: Option<Option<&'a str>>,
    phone: Option<Option<&'a str>>,
    updated_at: chrono::NaiveDateTime,
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
    body: web::Json<UpdatePerson>,
) -> ApiResult<web::Json<Person>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    if let Some(Some(phone)) = &body.phone {
        valid_phone(phone).map_err(|_| ApiError::field("phone", "must be a phone number"))?;
    }
    if let Some(Some(external_id)) = &body.external_id {
        if external_id.trim().is_empty() || external_id.len() > 100 {
            return Err(ApiError::field(
                "external_id",
                "length must be between 1 and 100",
            ));
        }
    }
    let person = db::write(&state.pool, move |conn| {
        let (person, _) = authorized(conn, &actor, id, Action::ManageOrgs)?;
        let mut summary = Vec::new();
        if let Some(new_org_id) = body.org_id.filter(|&o| o != person.org_id) {
            let org = managed_org(conn, &actor, new_org_id)?;
            queries::move_to(conn, &person, org.id)?;
            summary.push(format!("moved from {} to {}", person.org_id, org.id));
        }
        let changes = PersonChanges {
            name: body.name.as_deref().map(str::trim),
            member_type: body.member_type.map(MemberType::as_str),
            position: body.position.map(|p| p.map(Position::as_str)),
            joined_on: body.joined_on,
            external_id: body.external_id.as_ref().map(|e| e.as_deref()),
            phone: body.phone.as_ref().map(|p| p.as_deref()),
            updated_at: now(),
        };
        diesel::update(people::table.find(id))
            .set(&changes)
            .execute(conn)?;
        for (field, changed) in [
            ("name", changes.name.is_some()),
            ("member_type", changes.member_type.is_some()),
            ("position", changes.position.is_some()),
            ("joined_on", changes.joined_on.is_some()),
            ("external_id", changes.external_id.is_some()),
            ("phone", changes.phone.is_some()),
        ] {
            if changed {
                summary.push(field.to_owned());
            }
        }
        let updated = queries::find(conn, id)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "person.update",
                target_type: "person",
                target_id: Some(id.to_string()),
                org_id: Some(updated.org_id),
                summary: format!("changed {}: {}", person.name, summary.join(", ")),
            },
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
        if person.status == "archived" {
            return Ok(());
        }
        diesel::update(people::table.find(id))
            .set((people::status.eq("archived"), people::updated_at.eq(now())))
            .execute(conn)?;
        queries::close_membership(conn, id)?;
        queries::clear_secretary(conn, id)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "person.archive",
                target_type: "person",
                target_id: Some(id.to_string()),
                org_id: Some(person.org_id),
                summary: format!("archived {}", person.name),
            },
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
