//! The signed-in user, extracted from `Authorization: Bearer <access token>`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use super::policy::{Action, Grant, Grants, Role, Scope};
use crate::db::schema::{grants, orgs, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::http::RequestId;
use crate::AppState;

/// Who is asking, with every grant they hold (and the path of each grant's org).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub grants: Grants,
    pub request_id: String,
}

pub type ActorGrant = Grant;

impl Actor {
    pub fn authorize(&self, action: Action, org_path: &str) -> ApiResult<()> {
        self.grants.authorize(action, org_path)
    }

    pub fn can_see(&self, org_path: &str) -> bool {
        self.grants.can_see(org_path)
    }

    pub fn scope(&self) -> Scope {
        self.grants.scope()
    }

    pub fn is_admin(&self) -> bool {
        self.grants.is_admin()
    }
}

/// The request id the middleware assigned.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let request_id = request_id(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState is not registered"))?;
            let token = token
                .ok_or_else(|| ApiError::unauthorized("A bearer access token is required."))?;
            let user_id = state.keys.verify(&token)?;
            let mut actor = crate::db::read(&state.pool, move |conn| load(conn, user_id)).await?;
            actor.request_id = request_id;
            Ok(actor)
        })
    }
}

/// Loads an enabled user's grants; a disabled or deleted user is a 401.
pub fn load(conn: &mut DbConn, user_id: i64) -> ApiResult<Actor> {
    let (username, disabled): (String, bool) = users::table
        .find(user_id)
        .select((users::username, users::disabled))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::unauthorized("The account no longer exists."))?;
    if disabled {
        return Err(ApiError::unauthorized("The account is disabled."));
    }
    let rows: Vec<(i64, Option<i64>, String, Option<String>)> = grants::table
        .left_join(orgs::table)
        .filter(grants::user_id.eq(user_id))
        .select((
            grants::id,
            grants::org_id,
            grants::role,
            orgs::path.nullable(),
        ))
        .load(conn)?;
    let grants = rows
        .into_iter()
        .filter_map(|(id, org_id, role, org_path)| {
            let role: Role = role.parse().ok()?;
            Some(Grant {
                id,
                org_id,
                role,
                org_path,
            })
        })
        .collect();
    Ok(Actor {
        user_id,
        username,
        grants: Grants(grants),
        request_id: String::new(),
    })
}
