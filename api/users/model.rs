use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::auth::Role;
use crate::db::schema::{grants, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A stored grant; an unknown stored role fails the query.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: i64,
    pub user_id: i64,
    pub org_id: Option<i64>,
    pub role: Role,
}

impl From<GrantRow> for GrantOut {
    fn from(row: GrantRow) -> Self {
        GrantOut {
            id: row.id,
            org_id: row.org_id,
            role: row.role,
        }
    }
}

/// The columns a `PATCH /users/{id}` writes.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub display_name: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub disabled: Option<bool>,
    pub person_id: Option<Option<i64>>,
    pub updated_at: NaiveDateTime,
}

impl<'a> UserChanges<'a> {
    pub fn new(body: &'a UpdateUser, password_hash: Option<&'a str>) -> Self {
        UserChanges {
            display_name: body.display_name.as_deref().map(str::trim),
            password_hash,
            disabled: body.disabled,
            person_id: body.person_id,
            updated_at: crate::types::now(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "org_id": 3, "role": "org_admin"}))]
pub struct GrantOut {
    pub id: i64,
    /// None for the global `admin` role.
    pub org_id: Option<i64>,
    pub role: Role,
}

/// A user account (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 5, "username": "zhang.wei", "display_name": "张伟", "person_id": 41, "org_id": 3, "disabled": false, "grants": [{"id": 9, "org_id": 3, "role": "org_admin"}], "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z"}))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// The Party member this account belongs to, if any.
    pub person_id: Option<i64>,
    /// The org the account belongs to: its org admins manage it.
    pub org_id: Option<i64>,
    pub disabled: bool,
    pub grants: Vec<GrantOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn new(row: UserRow, grants: Vec<GrantOut>) -> Self {
        User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            person_id: row.person_id,
            org_id: row.org_id,
            disabled: row.disabled,
            grants,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

impl From<User> for Me {
    fn from(user: User) -> Self {
        Me {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            person_id: user.person_id,
            org_id: user.org_id,
            grants: user.grants,
        }
    }
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 5, "username": "zhang.wei", "display_name": "张伟", "person_id": 41, "org_id": 3, "grants": [{"id": 9, "org_id": 3, "role": "org_admin"}]}))]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub grants: Vec<GrantOut>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"username": "zhang.wei", "display_name": "张伟", "password": "a long passphrase", "org_id": 3}))]
pub struct CreateUser {
    /// 3–64 characters: letters, digits, `.`, `_`, `-`; stored in lower case.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Link to a Party member; the account's org defaults to theirs.
    pub person_id: Option<i64>,
    /// The org the account belongs to (required unless an administrator creates it or a
    /// person is given).
    pub org_id: Option<i64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"display_name": "张伟", "disabled": false}))]
pub struct UpdateUser {
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    /// A new password (10 to 256 characters): every refresh token of the user stops working.
    #[schema(min_length = 10, max_length = 256)]
    pub password: Option<String>,
    /// Required when users change their own password.
    pub current_password: Option<String>,
    /// Disabling signs the user out everywhere.
    pub disabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i64>)]
    pub person_id: Option<Option<i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"org_id": 3, "role": "secretary"}))]
pub struct CreateGrant {
    /// Required for every role but `admin`, which is global.
    pub org_id: Option<i64>,
    pub role: Role,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Accounts of this org (and, with `descendants=true`, its subtree).
    pub org_id: Option<i64>,
    #[serde(default)]
    pub descendants: bool,
    /// Part of the username or display name.
    #[serde(default, deserialize_with = "crate::types::search_text")]
    #[param(max_length = 200)]
    pub q: Option<String>,
}
