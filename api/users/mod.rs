//! User accounts and their grants `(org, role)`.

pub mod model;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event, Writer};
use crate::auth::{password, Action, Actor, Role, Scope};
use crate::db::schema::{grants, people, users};
use crate::db::{self, DbConn, MultiBackend};
use crate::error::{validate, ApiError, ApiResult, ErrorCode};
use crate::http::{created, created_at, Page, PageQuery};
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(me)
        .service(create_user)
        .service(list_users)
        .service(get_user)
        .service(update_user)
        .service(create_grant)
        .service(delete_grant);
}

fn grants_of(conn: &mut DbConn, user_id: i64) -> ApiResult<Vec<GrantOut>> {
    let rows: Vec<(i64, Option<i64>, String)> = grants::table
        .filter(grants::user_id.eq(user_id))
        .select((grants::id, grants::org_id, grants::role))
        .order(grants::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, org_id, role)| {
            Some(GrantOut {
                id,
                org_id,
                role: role.parse().ok()?,
            })
        })
        .collect())
}

fn user_out(conn: &mut DbConn, row: UserRow) -> ApiResult<User> {
    let grants = grants_of(conn, row.id)?;
    Ok(User::new(row, grants))
}

/// Loads a user the actor may see (404 otherwise) and checks `action` on the user's org.
/// Accounts with no org belong to administrators. Everyone may read their own account.
fn authorized_user(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    action: Action,
) -> ApiResult<UserRow> {
    let user: UserRow = users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    if action == Action::Read && user.id == actor.user_id {
        return Ok(user);
    }
    match user.org_id {
        Some(org_id) => {
            let path = org_queries::path_of(conn, org_id)?;
            if !actor.can_see(&path) && user.id == actor.user_id {
                return Err(ApiError::forbidden());
            }
            actor.authorize(action, &path)?;
        }
        None if actor.is_admin() => {}
        None if user.id == actor.user_id => return Err(ApiError::forbidden()),
        None => return Err(ApiError::not_found()),
    }
    Ok(user)
}

fn check_username(username: &str) -> ApiResult<String> {
    let username = username.trim().to_lowercase();
    let valid = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(username)
    } else {
        Err(ApiError::field(
            "username",
            "3 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

fn check_password(password: &str) -> ApiResult<()> {
    password::check_strength(password).map_err(|m| ApiError::field("password", m))
}

/// Creates a user (and its grants) outside any request: bootstrap and the command line.
pub fn insert_user(
    conn: &mut DbConn,
    username: &str,
    display_name: &str,
    password_hash: &str,
    person_id: Option<i64>,
    org_id: Option<i64>,
) -> ApiResult<i64> {
    let at = now();
    let taken: i64 = users::table
        .filter(users::username.eq(username))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(ApiError::conflict(
            ErrorCode::UsernameTaken,
            "This username is taken.",
        ));
    }
    Ok(diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::display_name.eq(display_name),
            users::password_hash.eq(password_hash),
            users::person_id.eq(person_id),
            users::org_id.eq(org_id),
            users::disabled.eq(false),
            users::created_at.eq(at),
            users::updated_at.eq(at),
        ))
        .returning(users::id)
        .get_result(conn)?)
}

pub fn insert_grant(
    conn: &mut DbConn,
    user_id: i64,
    org_id: Option<i64>,
    role: Role,
) -> ApiResult<i64> {
    Ok(diesel::insert_into(grants::table)
        .values((
            grants::user_id.eq(user_id),
            grants::org_id.eq(org_id),
            grants::role.eq(role.as_str()),
            grants::created_at.eq(now()),
        ))
        .returning(grants::id)
        .get_result(conn)?)
}

/// Creates an administrator; fails when the username is taken.
pub fn create_admin(conn: &mut DbConn, username: &str, password: &str) -> ApiResult<i64> {
    let username = check_username(username)?;
    let hash = password::hash(password)?;
    let id = insert_user(conn, &username, "Administrator", &hash, None, None)?;
    insert_grant(conn, id, None, Role::Admin)?;
    audit::record(
        conn,
        Writer::SYSTEM,
        Event {
            action: "user.create",
            target_type: "user",
            target_id: Some(id.to_string()),
            org_id: None,
            summary: format!("created administrator {username}"),
        },
    )?;
    Ok(id)
}

/// On a database with no user at all, creates `admin` with the given password or a random
/// one, which is returned so that it can be shown once.
pub fn bootstrap_admin(conn: &mut DbConn, password: Option<&str>) -> ApiResult<Option<String>> {
    db::write_transaction(conn, |conn| {
        let existing: i64 = users::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(None);
        }
        let generated = password.is_none().then(|| crate::auth::random_token(12));
        let chosen = password.or(generated.as_deref()).unwrap_or_default();
        check_password(chosen)?;
        create_admin(conn, "admin", chosen)?;
        Ok(generated)
    })
}

/// The signed-in user and their grants.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me))
)]
#[get("/me")]
async fn me(actor: Actor, state: web::Data<AppState>) -> ApiResult<web::Json<Me>> {
    let user_id = actor.user_id;
    let user = db::read(&state.pool, move |conn| {
        let row: UserRow = users::table
            .find(user_id)
            .select(UserRow::as_select())
            .first(conn)?;
        user_out(conn, row)
    })
    .await?;
    Ok(web::Json(Me {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        person_id: user.person_id,
        org_id: user.org_id,
        grants: user.grants,
    }))
}

/// Create a user account in an org the actor manages.
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 409, description = "`username_taken`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
async fn create_user(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let username = check_username(&body.username)?;
    check_password(&body.password)?;
    let password = body.password.clone();
    let hash = web::block(move || password::hash(&password))
        .await
        .map_err(ApiError::internal)??;
    let user = db::write(&state.pool, move |conn| {
        let person_org = match body.person_id {
            Some(person_id) => Some(person_org(conn, &actor, person_id)?),
            None => None,
        };
        let org_id = body.org_id.or(person_org);
        match org_id {
            Some(org_id) => {
                let org = org_queries::find_referenced(conn, &actor, org_id, "org_id")?;
                actor.authorize(Action::ManageUsers, &org.path)?;
            }
            None if actor.is_admin() => {}
            None => {
                return Err(ApiError::field(
                    "org_id",
                    "required: the org the account belongs to",
                ))
            }
        }
        let id = insert_user(
            conn,
            &username,
            body.display_name.trim(),
            &hash,
            body.person_id,
            org_id,
        )?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "user.create",
                target_type: "user",
                target_id: Some(id.to_string()),
                org_id,
                summary: format!("created user {username}"),
            },
        )?;
        let row = users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)?;
        user_out(conn, row)
    })
    .await?;
    Ok(created(&req, user.id, &user))
}

/// The org of a person the actor can see (a field error otherwise).
fn person_org(conn: &mut DbConn, actor: &Actor, person_id: i64) -> ApiResult<i64> {
    let org_id: Option<i64> = people::table
        .find(person_id)
        .select(people::org_id)
        .first(conn)
        .optional()?;
    let org_id = org_id.ok_or_else(|| ApiError::field("person_id", "no such person"))?;
    let path = org_queries::path_of(conn, org_id)?;
    if !actor.can_see(&path) {
        return Err(ApiError::field("person_id", "no such person"));
    }
    Ok(org_id)
}

/// List the accounts of the orgs the actor can see.
#[utoipa::path(
    tag = "users",
    params(UserListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible users", body = Page<User>))
)]
#[get("/users")]
async fn list_users(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<UserListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<User>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    let result = db::read(&state.pool, move |conn| {
        let within = match filter.org_id {
            Some(org_id) => {
                let org = crate::orgs::authorized(conn, &actor, org_id, Action::Read)?;
                Some(org)
            }
            None => None,
        };
        let scope = actor.scope();
        let build = || {
            let mut q = users::table.into_boxed::<MultiBackend>();
            if scope != Scope::All {
                q = q.filter(org_column_in_scope("users.org_id", &scope));
            }
            if let Some(org) = &within {
                q = if filter.descendants {
                    q.filter(org_column_in_scope(
                        "users.org_id",
                        &Scope::Subtrees(vec![org.path.clone()]),
                    ))
                } else {
                    q.filter(users::org_id.eq(org.id))
                };
            }
            if let Some(text) = filter.q.as_deref().and_then(crate::types::non_blank) {
                let pattern = format!("%{}%", crate::orgs::escape_like(&text));
                q = q.filter(
                    users::username
                        .like(pattern.clone())
                        .escape('\\')
                        .or(users::display_name.like(pattern).escape('\\')),
                );
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let rows: Vec<UserRow> = build()
            .select(UserRow::as_select())
            .order(users::id.asc())
            .limit(page.per_page())
            .offset(page.offset())
            .load(conn)?;
        // One query for the grants of the whole page.
        let user_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut grants_by_user: std::collections::HashMap<i64, Vec<GrantOut>> = Default::default();
        let all_grants: Vec<(i64, i64, Option<i64>, String)> = grants::table
            .filter(grants::user_id.eq_any(&user_ids))
            .order(grants::id.asc())
            .select((grants::user_id, grants::id, grants::org_id, grants::role))
            .load(conn)?;
        for (user_id, id, org_id, role) in all_grants {
            if let Ok(role) = role.parse() {
                grants_by_user
                    .entry(user_id)
                    .or_default()
                    .push(GrantOut { id, org_id, role });
            }
        }
        let items = rows
            .into_iter()
            .map(|r| {
                let grants = grants_by_user.remove(&r.id).unwrap_or_default();
                User::new(r, grants)
            })
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// One user.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The user", body = User))
)]
#[get("/users/{id}")]
async fn get_user(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<User>> {
    let id = id.into_inner();
    let user = db::read(&state.pool, move |conn| {
        let row = authorized_user(conn, &actor, id, Action::Read)?;
        user_out(conn, row)
    })
    .await?;
    Ok(web::Json(user))
}

/// Change a user. Users may change their own display name and password; the rest needs
/// an org admin of the account's org. A new password or disabling signs the user out.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUser,
    security(("bearer" = [])),
    responses((status = 200, description = "The changed user", body = User))
)]
#[patch("/users/{id}")]
async fn update_user(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<UpdateUser>,
) -> ApiResult<web::Json<User>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let new_hash = match body.password.clone() {
        Some(password) => {
            check_password(&password)?;
            Some(
                web::block(move || password::hash(&password))
                    .await
                    .map_err(ApiError::internal)??,
            )
        }
        None => None,
    };
    if id == actor.user_id && body.password.is_some() {
        // A stolen access token must not be enough to take the account over.
        let current = body.current_password.clone().unwrap_or_default();
        let pool = state.pool.clone();
        let stored: String = db::read(&pool, move |conn| {
            Ok(users::table
                .find(id)
                .select(users::password_hash)
                .first(conn)?)
        })
        .await?;
        let matches = web::block(move || password::verify(&current, &stored))
            .await
            .map_err(ApiError::internal)?;
        if !matches {
            return Err(ApiError::field(
                "current_password",
                "required, and must be your current password",
            ));
        }
    }
    let user = db::write(&state.pool, move |conn| {
        let only_own_profile =
            id == actor.user_id && body.disabled.is_none() && body.person_id.is_none();
        let row = if only_own_profile {
            authorized_user(conn, &actor, id, Action::Read)?
        } else {
            authorized_user(conn, &actor, id, Action::ManageUsers)?
        };
        if id != actor.user_id {
            authorize_takeover(conn, &actor, id)?;
        }
        if let Some(Some(person_id)) = body.person_id {
            person_org(conn, &actor, person_id)?;
        }
        let changes = UserChanges {
            display_name: body.display_name.as_deref().map(str::trim),
            password_hash: new_hash.as_deref(),
            disabled: body.disabled,
            person_id: body.person_id,
            updated_at: now(),
        };
        diesel::update(users::table.find(id))
            .set(&changes)
            .execute(conn)?;
        if new_hash.is_some() || body.disabled == Some(true) {
            crate::auth::tokens::revoke_all_for_user(conn, id)?;
        }
        let mut summary = vec![];
        if changes.display_name.is_some() {
            summary.push("display_name");
        }
        if changes.password_hash.is_some() {
            summary.push("password");
        }
        if let Some(disabled) = changes.disabled {
            summary.push(if disabled { "disabled" } else { "enabled" });
        }
        if changes.person_id.is_some() {
            summary.push("person_id");
        }
        audit::record(
            conn,
            &actor,
            Event {
                action: "user.update",
                target_type: "user",
                target_id: Some(id.to_string()),
                org_id: row.org_id,
                summary: format!("changed user {}: {}", row.username, summary.join(", ")),
            },
        )?;
        let row = users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)?;
        user_out(conn, row)
    })
    .await?;
    Ok(web::Json(user))
}

/// Changing someone else's account (a new password, disabling it) amounts to holding its
/// grants: only an actor who could grant every role the account holds may, so that nobody
/// gains a role they do not hold by resetting a stronger account's password.
fn authorize_takeover(conn: &mut DbConn, actor: &Actor, user_id: i64) -> ApiResult<()> {
    let held: Vec<(Option<i64>, String)> = grants::table
        .filter(grants::user_id.eq(user_id))
        .select((grants::org_id, grants::role))
        .load(conn)?;
    for (org_id, role) in held {
        let Ok(role) = role.parse::<Role>() else {
            continue; // an unknown role grants nothing
        };
        let allowed = match org_id {
            Some(org_id) => {
                let path = org_queries::path_of(conn, org_id)?;
                actor.allows(Action::Grant(role), &path)
            }
            None => actor.is_admin(),
        };
        if !allowed {
            return Err(ApiError::forbidden_because(
                "The account holds roles you do not hold; an administrator must change it.",
            ));
        }
    }
    Ok(())
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct UserChanges<'a> {
    display_name: Option<&'a str>,
    password_hash: Option<&'a str>,
    disabled: Option<bool>,
    person_id: Option<Option<i64>>,
    updated_at: chrono::NaiveDateTime,
}

/// Grant a role on an org. Nobody grants a role they do not hold there, nor outside their
/// own subtree; only administrators grant `admin`.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = CreateGrant,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Granted", body = GrantOut),
        (status = 409, description = "`grant_exists`: the user already holds this role there", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users/{id}/grants")]
async fn create_grant(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<CreateGrant>,
) -> ApiResult<HttpResponse> {
    let (user_id, body) = (id.into_inner(), body.into_inner());
    let grant = db::write(&state.pool, move |conn| {
        authorized_user(conn, &actor, user_id, Action::Read)?;
        let org_id = match (body.role, body.org_id) {
            (Role::Admin, _) => {
                actor.authorize_global()?;
                None
            }
            (role, Some(org_id)) => {
                let org = org_queries::find_referenced(conn, &actor, org_id, "org_id")?;
                actor.authorize(Action::Grant(role), &org.path)?;
                Some(org_id)
            }
            (_, None) => {
                return Err(ApiError::field(
                    "org_id",
                    "required for every role but admin",
                ))
            }
        };
        let existing: i64 = grants::table
            .filter(grants::user_id.eq(user_id))
            .filter(grants::role.eq(body.role.as_str()))
            .filter(match org_id {
                Some(org_id) => Box::new(grants::org_id.eq(org_id))
                    as Box<
                        dyn BoxableExpression<
                            grants::table,
                            MultiBackend,
                            SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
                        >,
                    >,
                None => Box::new(grants::org_id.is_null().nullable()),
            })
            .count()
            .get_result(conn)?;
        if existing > 0 {
            return Err(ApiError::conflict(
                ErrorCode::GrantExists,
                "The user already holds this role there.",
            ));
        }
        let id = insert_grant(conn, user_id, org_id, body.role)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "grant.create",
                target_type: "grant",
                target_id: Some(id.to_string()),
                org_id,
                summary: format!("granted {} to user {user_id}", body.role),
            },
        )?;
        Ok(GrantOut {
            id,
            org_id,
            role: body.role,
        })
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/users/{user_id}/grants/{}", grant.id),
        &grant,
    ))
}

/// Take a grant back (under the same rules as giving it).
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id"), ("grant_id" = i64, Path, description = "Grant id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"))
)]
#[delete("/users/{id}/grants/{grant_id}")]
async fn delete_grant(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (user_id, grant_id) = path.into_inner();
    db::write(&state.pool, move |conn| {
        authorized_user(conn, &actor, user_id, Action::Read)?;
        let (org_id, role): (Option<i64>, String) = grants::table
            .find(grant_id)
            .filter(grants::user_id.eq(user_id))
            .select((grants::org_id, grants::role))
            .first(conn)
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        let role: Role = role
            .parse()
            .map_err(|_| ApiError::internal("unknown role stored"))?;
        match org_id {
            Some(org_id) => {
                let path = org_queries::path_of(conn, org_id)?;
                actor.authorize(Action::Grant(role), &path)?;
            }
            None => actor.authorize_global()?,
        }
        diesel::delete(grants::table.find(grant_id)).execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "grant.delete",
                target_type: "grant",
                target_id: Some(grant_id.to_string()),
                org_id,
                summary: format!("revoked {role} from user {user_id}"),
            },
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
