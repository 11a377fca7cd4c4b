//! Login, token refresh with rotation, logout.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Duration;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{password, tokens};
use crate::db::schema::{refresh_tokens, users};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(login).service(refresh).service(logout);
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"username": "admin", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer", "expires_in": 900, "refresh_token": "3f1c…"}))]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer …`, valid for `expires_in` seconds.
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// Opaque; exchange it at `/api/v1/auth/refresh` for a new pair. Works once.
    pub refresh_token: String,
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

/// Issues a new refresh token in `family` and an access token.
fn issue_pair(
    conn: &mut DbConn,
    state: &AppState,
    user_id: i64,
    family: &str,
) -> ApiResult<TokenPair> {
    let (refresh_token, hash) = tokens::new_refresh_token();
    let created = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::family.eq(family),
            refresh_tokens::expires_at.eq(created + Duration::days(tokens::REFRESH_TOKEN_DAYS)),
            refresh_tokens::created_at.eq(created),
        ))
        .execute(conn)?;
    let (access_token, expires_in) = state.keys.issue(user_id)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
    })
}

/// Sign in with a username and password.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "`invalid_credentials`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this username or from this address; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_lowercase();
    let address = crate::http::client_address(&req);
    for (throttle, key) in [
        (&state.login_failures_by_user, &username),
        (&state.login_failures_by_address, &address),
    ] {
        throttle.check(key).map_err(ApiError::rate_limited)?;
    }
    let lookup_name = username.clone();
    let found: Option<(i64, String, bool)> = db::read(&state.pool, move |conn| {
        Ok(users::table
            .filter(users::username.eq(lookup_name))
            .select((users::id, users::password_hash, users::disabled))
            .first(conn)
            .optional()?)
    })
    .await?;
    // Argon2 is slow by design: verify off the async workers.
    let verified = web::block(move || match found {
        Some((id, hash, disabled)) => {
            (password::verify(&password, &hash) && !disabled).then_some(id)
        }
        None => {
            password::verify_dummy(&password);
            None
        }
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(user_id) = verified else {
        state.login_failures_by_user.record_failure(&username);
        state.login_failures_by_address.record_failure(&address);
        tracing::info!(%username, %address, "login failed");
        return Err(invalid_credentials());
    };
    state.login_failures_by_user.reset(&username);
    let shared = state.clone();
    let pair = db::write(&state.pool, move |conn| {
        issue_pair(conn, &shared, user_id, &super::random_token(16))
    })
    .await?;
    Ok(web::Json(pair))
}

enum Rotation {
    Rotated(TokenPair),
    Refused,
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
    body: web::Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let hash = super::sha256_hex(body.refresh_token.trim());
    let shared = state.clone();
    let outcome = db::write(&state.pool, move |conn| {
        let row: Option<(
            i64,
            i64,
            String,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        )> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .filter(refresh_tokens::revoked_at.is_null())
            .select((
                refresh_tokens::id,
                refresh_tokens::user_id,
                refresh_tokens::family,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
            ))
            .first(conn)
            .optional()?;
        let Some((id, user_id, family, expires_at, used_at)) = row else {
            return Ok(Rotation::Refused);
        };
        // Spend the token with a conditional update: of two concurrent uses, one wins.
        let spent = diesel::update(refresh_tokens::table.find(id))
            .filter(refresh_tokens::used_at.is_null())
            .set(refresh_tokens::used_at.eq(now()))
            .execute(conn)?;
        if used_at.is_some() || spent == 0 {
            tokens::revoke_family(conn, &family)?;
            tracing::warn!(user_id, "refresh token reused: chain revoked");
            return Ok(Rotation::Refused);
        }
        if expires_at < now() {
            return Ok(Rotation::Refused);
        }
        let disabled: bool = users::table
            .find(user_id)
            .select(users::disabled)
            .first(conn)?;
        if disabled {
            return Ok(Rotation::Refused);
        }
        Ok(Rotation::Rotated(issue_pair(
            conn, &shared, user_id, &family,
        )?))
    })
    .await?;
    match outcome {
        Rotation::Rotated(pair) => Ok(web::Json(pair)),
        Rotation::Refused => Err(ApiError::unauthorized(
            "The refresh token is invalid, expired or revoked.",
        )),
    }
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
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = super::sha256_hex(body.refresh_token.trim());
    db::write(&state.pool, move |conn| {
        let family: Option<String> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(refresh_tokens::family)
            .first(conn)
            .optional()?;
        match family {
            Some(family) => tokens::revoke_family(conn, &family),
            None => Ok(()),
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
