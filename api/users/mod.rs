//! User accounts and their grants `(org, role)`.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use self::rules::{check_password, check_username, GrantPlace};
use crate::audit::{self, Event, Writer};
use crate::auth::throttle::PasswordAttempt;
use crate::auth::{password, tokens, Action, Actor, Role};
use crate::db::{self, DbConn};
use crate::error::{validate, ApiError, ApiResult, ErrorCode};
use crate::http::{created, created_at, JsonBody, Page, PageQuery};
use crate::orgs::queries as org_queries;
use crate::state::AppState;

pub use self::queries::{insert_grant, insert_user};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(me)
        .service(create_user)
        .service(list_users)
        .service(get_user)
        .service(update_user)
        .service(create_grant)
        .service(delete_grant);
}

fn user_out(conn: &mut DbConn, row: UserRow) -> ApiResult<User> {
    let grants = queries::grants_of(conn, row.id)?;
    Ok(User::new(row, grants))
}

fn load_user(conn: &mut DbConn, id: i64) -> ApiResult<User> {
    let row = queries::get(conn, id)?;
    user_out(conn, row)
}

/// Loads a user the actor may see (404 otherwise) and checks `action` on the account.
fn authorized_user(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    action: Action,
) -> ApiResult<UserRow> {
    let (user, home_path) = queries::find_with_home(conn, id)?;
    actor.authorize_account(action, user.id, home_path.as_deref())?;
    Ok(user)
}

/// Changing someone else's account needs every role it holds (see the policy).
fn authorize_takeover(conn: &mut DbConn, actor: &Actor, user_id: i64) -> ApiResult<()> {
    let held = crate::auth::grants_of(conn, user_id)?;
    actor.authorize_takeover(&held)
}

/// The org of a person the actor can see (a field error otherwise).
fn person_org(conn: &mut DbConn, actor: &Actor, person_id: i64) -> ApiResult<i64> {
    let no_such_person = || ApiError::field("person_id", "no such person");
    let org_id = queries::person_org_id(conn, person_id)?.ok_or_else(no_such_person)?;
    let path = org_queries::path_of(conn, org_id)?;
    if !actor.can_see(&path) {
        return Err(no_such_person());
    }
    Ok(org_id)
}

/// The org a new account belongs to (given, or the linked person's), where the actor must
/// manage users; only administrators create accounts with no org.
fn home_org(conn: &mut DbConn, actor: &Actor, body: &CreateUser) -> ApiResult<Option<i64>> {
    let person_org = match body.person_id {
        Some(person_id) => Some(person_org(conn, actor, person_id)?),
        None => None,
    };
    match body.org_id.or(person_org) {
        Some(org_id) => {
            let org = org_queries::find_referenced(conn, actor, org_id, "org_id")?;
            actor.authorize(Action::ManageUsers, &org.path)?;
            Ok(Some(org_id))
        }
        None if actor.is_admin() => Ok(None),
        None => Err(ApiError::field(
            "org_id",
            "required: the org the account belongs to",
        )),
    }
}

/// Where a new grant of `role` applies, if the actor may give it there.
fn authorize_grant(
    conn: &mut DbConn,
    actor: &Actor,
    role: Role,
    org_id: Option<i64>,
) -> ApiResult<Option<i64>> {
    match rules::grant_place(role, org_id)? {
        GrantPlace::Global => {
            actor.authorize_global()?;
            Ok(None)
        }
        GrantPlace::Org(org_id) => {
            let org = org_queries::find_referenced(conn, actor, org_id, "org_id")?;
            actor.authorize(Action::Grant(role), &org.path)?;
            Ok(Some(org_id))
        }
    }
}

/// Argon2 is slow by design: hash off the async workers, one computation per core.
async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    state
        .password_gate
        .run(move || password::hash(&password))
        .await?
}

/// A field error unless `current` is the stored password of the user. Guessing it is
/// throttled like logins (the same budgets: the username, and the client), counted before
/// the hash.
async fn verify_current_password(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    current: Option<String>,
) -> ApiResult<()> {
    let address = crate::http::client_address(req);
    let attempt = PasswordAttempt::reserve(state, &actor.username, &address)?;
    let user_id = actor.user_id;
    let stored = db::read(&state.pool, move |conn| {
        queries::password_hash(conn, user_id)
    })
    .await?;
    let current = current.unwrap_or_default();
    let matches = state
        .password_gate
        .run(move || password::verify(&current, &stored))
        .await?;
    if matches {
        attempt.succeeded();
        return Ok(());
    }
    Err(ApiError::field(
        "current_password",
        "required, and must be your current password",
    ))
}

/// The hash of the new password a change gives, if any: checked, and for one's own account
/// only with the current password (verified first, so a wrong guess costs one hash).
async fn new_password_hash(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    id: i64,
    body: &UpdateUser,
) -> ApiResult<Option<String>> {
    let Some(password) = body.password.clone() else {
        return Ok(None);
    };
    check_password(&password)?;
    if rules::needs_current_password(actor.user_id, id, body) {
        verify_current_password(state, req, actor, body.current_password.clone()).await?;
    }
    Ok(Some(hash_password(state, password).await?))
}

/// Creates an administrator; fails when the username is taken.
pub fn create_admin(conn: &mut DbConn, username: &str, password: &str) -> ApiResult<i64> {
    let username = check_username(username)?;
    let hash = password::hash(password)?;
    let id = insert_user(conn, &username, "Administrator", &hash, None, None)?;
    insert_grant(conn, id, None, Role::Admin)?;
    let event = Event::new(
        "user.create",
        "user",
        id,
        None,
        format!("created administrator {username}"),
    );
    audit::record(conn, Writer::SYSTEM, event)?;
    Ok(id)
}

/// On a database with no user at all, creates `admin` with the given password or a random
/// one, which is returned so that it can be shown once.
pub fn bootstrap_admin(conn: &mut DbConn, password: Option<&str>) -> ApiResult<Option<String>> {
    db::write_transaction(conn, |conn| {
        if queries::count(conn)? > 0 {
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
    let user = db::read(&state.pool, move |conn| load_user(conn, user_id)).await?;
    Ok(web::Json(user.into()))
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
    body: JsonBody<CreateUser>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let username = check_username(&body.username)?;
    check_password(&body.password)?;
    let hash = hash_password(&state, body.password.clone()).await?;
    let user = db::write(&state.pool, move |conn| {
        let org_id = home_org(conn, &actor, &body)?;
        let display_name = body.display_name.trim();
        let id = insert_user(conn, &username, display_name, &hash, body.person_id, org_id)?;
        let event = Event::new(
            "user.create",
            "user",
            id,
            org_id,
            format!("created user {username}"),
        );
        audit::record(conn, &actor, event)?;
        load_user(conn, id)
    })
    .await?;
    Ok(created(&req, user.id, &user))
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
            Some(org_id) => Some(crate::orgs::authorized(conn, &actor, org_id, Action::Read)?),
            None => None,
        };
        let text = filter.q.as_deref().and_then(crate::types::non_blank);
        let (rows, total) = queries::list(
            conn,
            &actor.scope(),
            within.as_ref().map(|org| (org, filter.descendants)),
            text.as_deref(),
            &page,
        )?;
        let user_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut grants = queries::grants_of_users(conn, &user_ids)?;
        let items = rows
            .into_iter()
            .map(|r| {
                let held = grants.remove(&r.id).unwrap_or_default();
                User::new(r, held)
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
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 409, description = "`last_admin`: the last active administrator cannot be disabled", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords (throttled like logins); see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/users/{id}")]
async fn update_user(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: JsonBody<UpdateUser>,
) -> ApiResult<web::Json<User>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    let new_hash = new_password_hash(&state, &req, &actor, id, &body).await?;
    let user = db::write(&state.pool, move |conn| {
        let action = rules::update_action(actor.user_id, id, &body);
        let row = authorized_user(conn, &actor, id, action)?;
        if id != actor.user_id {
            authorize_takeover(conn, &actor, id)?;
        }
        if let Some(Some(person_id)) = body.person_id {
            person_org(conn, &actor, person_id)?;
        }
        let changes = UserChanges::new(&body, new_hash.as_deref());
        if changes.disabled == Some(true) {
            queries::refuse_last_admin(conn, id)?;
        }
        queries::update(conn, id, &changes)?;
        if rules::signs_out(&changes) {
            tokens::sign_out_everywhere(conn, id)?;
        }
        let summary = rules::change_summary(&changes);
        let event = Event::new(
            "user.update",
            "user",
            id,
            row.org_id,
            format!("changed user {}: {summary}", row.username),
        );
        audit::record(conn, &actor, event)?;
        load_user(conn, id)
    })
    .await?;
    Ok(web::Json(user))
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
    body: JsonBody<CreateGrant>,
) -> ApiResult<HttpResponse> {
    let (user_id, body) = (id.into_inner(), body.into_inner());
    let grant = db::write(&state.pool, move |conn| {
        authorized_user(conn, &actor, user_id, Action::Read)?;
        let org_id = authorize_grant(conn, &actor, body.role, body.org_id)?;
        if queries::holds(conn, user_id, body.role, org_id)? {
            return Err(ApiError::conflict(
                ErrorCode::GrantExists,
                "The user already holds this role there.",
            ));
        }
        let id = insert_grant(conn, user_id, org_id, body.role)?;
        let event = Event::new(
            "grant.create",
            "grant",
            id,
            org_id,
            format!("granted {} to user {user_id}", body.role),
        );
        audit::record(conn, &actor, event)?;
        let role = body.role;
        Ok(GrantOut { id, org_id, role })
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/users/{user_id}/grants/{}", grant.id),
        &grant,
    ))
}

/// Take a grant back (under the same rules as giving it). The user's access tokens stop working.
#[utoipa::path(
    tag = "users",
    params(("id" = i64, Path, description = "User id"), ("grant_id" = i64, Path, description = "Grant id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 409, description = "`last_admin`: the last active administrator keeps the admin grant", body = crate::error::Problem, content_type = "application/problem+json"),
    )
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
        let grant =
            queries::find_grant(conn, user_id, grant_id)?.ok_or_else(ApiError::not_found)?;
        match grant.org_id {
            Some(org_id) => {
                let path = org_queries::path_of(conn, org_id)?;
                actor.authorize(Action::Grant(grant.role), &path)?;
            }
            None => actor.authorize_global()?,
        }
        if grant.role == Role::Admin {
            queries::refuse_last_admin(conn, user_id)?;
        }
        queries::delete_grant(conn, grant_id)?;
        // Grants are read on every request, so the role is gone at once either way; a
        // role taken back also ends the sessions it was used in (a grant given does not).
        tokens::bump_token_version(conn, user_id)?;
        let event = Event::new(
            "grant.delete",
            "grant",
            grant_id,
            grant.org_id,
            format!("revoked {} from user {user_id}", grant.role),
        );
        audit::record(conn, &actor, event)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
