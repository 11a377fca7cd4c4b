//! Login, token refresh with rotation, logout.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::password;
use super::throttle::PasswordAttempt;
pub use super::tokens::TokenPair;
use super::tokens::{self, issue_pair};
use crate::db;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::JsonBody;
use crate::state::AppState;
use crate::users::queries as user_queries;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(logout_all);
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"username": "admin", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    /// As long as a username can be (a longer one is a 422, never a throttle key).
    #[schema(max_length = 64)]
    pub username: String,
    /// New passwords are at most 256 characters.
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "3f1c…"}))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
        "The username or password is wrong, or the account is disabled.",
    )
}

/// The id of the enabled account with these credentials. Argon2 is slow by design: verify
/// off the async workers, and as slowly for an unknown username.
async fn verify_credentials(
    state: &AppState,
    username: &str,
    password: String,
) -> ApiResult<Option<i64>> {
    let username = username.to_owned();
    let found = db::read(&state.pool, move |conn| {
        user_queries::credentials(conn, &username)
    })
    .await?;
    state
        .password_gate
        .run(move || match found {
            Some((id, hash, disabled)) => {
                (password::verify(&password, &hash) && !disabled).then_some(id)
            }
            None => {
                password::verify_dummy(&password);
                None
            }
        })
        .await
}

/// Sign in with a username and password.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "`invalid_credentials`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this username or from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: too many passwords being checked at once; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_lowercase();
    let address = crate::http::client_address(&req);
    // Counted before the hash: a burst gets exactly the budget's worth of answers.
    let attempt = PasswordAttempt::reserve(&state, &username, &address)?;
    let Some(user_id) = verify_credentials(&state, &username, password).await? else {
        tracing::info!(%username, %address, "login failed");
        return Err(invalid_credentials());
    };
    attempt.succeeded();
    let shared = state.clone();
    let pair = db::write(&state.pool, move |conn| {
        issue_pair(conn, &shared.keys, user_id, &super::random_token(16))
    })
    .await?;
    Ok(web::Json(pair))
}

/// Exchange a refresh token for a new pair. The old token stops working; presenting a
/// spent token again revokes its whole chain (it was stolen, or the client is broken).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let shared = state.clone();
    let pair = db::write(&state.pool, move |conn| {
        let Some((user_id, family)) = tokens::spend_refresh_token(conn, &body.refresh_token)?
        else {
            return Ok(None);
        };
        if user_queries::is_disabled(conn, user_id)? {
            return Ok(None);
        }
        Ok(Some(issue_pair(conn, &shared.keys, user_id, &family)?))
    })
    .await?;
    pair.map(web::Json)
        .ok_or_else(|| ApiError::unauthorized("The refresh token is invalid, expired or revoked."))
}

/// Sign out: the refresh token and its whole chain stop working.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also when the token was already invalid)"))
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let token = body.into_inner().refresh_token;
    db::write(&state.pool, move |conn| {
        tokens::revoke_family_of(conn, &token)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign out everywhere: every access token of the signed-in user stops working at once
/// and every refresh token is revoked.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out on every device"))
)]
#[post("/auth/logout-all")]
async fn logout_all(actor: super::Actor, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let user_id = actor.user_id;
    db::write(&state.pool, move |conn| {
        tokens::sign_out_everywhere(conn, user_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
