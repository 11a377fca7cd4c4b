//! User and grant queries.

use std::collections::HashMap;

use diesel::prelude::*;

use super::model::{GrantOut, GrantRow, UserChanges, UserRow};
use crate::auth::{Role, Scope};
use crate::db::schema::{grants, people, users};
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::PageQuery;
use crate::orgs::model::OrgRow;
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::types::now;

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<Option<UserRow>> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// A user that must exist (it was just written, or it is the signed-in one).
pub fn get(conn: &mut DbConn, id: i64) -> ApiResult<UserRow> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)?)
}

/// A user and the path of its home org (none: an administrator's account); 404 when missing.
pub fn find_with_home(conn: &mut DbConn, id: i64) -> ApiResult<(UserRow, Option<String>)> {
    let user = find(conn, id)?.ok_or_else(ApiError::not_found)?;
    let home = match user.org_id {
        Some(org_id) => Some(org_queries::path_of(conn, org_id)?),
        None => None,
    };
    Ok((user, home))
}

pub fn count(conn: &mut DbConn) -> ApiResult<i64> {
    Ok(users::table.count().get_result(conn)?)
}

/// The id, password hash and disabled flag of the account with this username.
pub fn credentials(conn: &mut DbConn, username: &str) -> ApiResult<Option<(i64, String, bool)>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select((users::id, users::password_hash, users::disabled))
        .first(conn)
        .optional()?)
}

pub fn password_hash(conn: &mut DbConn, id: i64) -> ApiResult<String> {
    Ok(users::table
        .find(id)
        .select(users::password_hash)
        .first(conn)?)
}

pub fn is_disabled(conn: &mut DbConn, id: i64) -> ApiResult<bool> {
    Ok(users::table.find(id).select(users::disabled).first(conn)?)
}

/// The org of a person, if the person exists.
pub fn person_org_id(conn: &mut DbConn, person_id: i64) -> ApiResult<Option<i64>> {
    Ok(people::table
        .find(person_id)
        .select(people::org_id)
        .first(conn)
        .optional()?)
}

/// Creates a user (no grants); 409 `username_taken` when the name is used.
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

pub fn update(conn: &mut DbConn, id: i64, changes: &UserChanges) -> ApiResult<()> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// The users of a page: those in `scope`, inside `within` (the org alone, or its subtree
/// with `descendants`), whose username or display name contains `text`; and their total.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    within: Option<(&OrgRow, bool)>,
    text: Option<&str>,
    page: &PageQuery,
) -> ApiResult<(Vec<UserRow>, i64)> {
    let build = || {
        let mut q = users::table.into_boxed::<MultiBackend>();
        if *scope != Scope::All {
            q = q.filter(org_column_in_scope("users.org_id", scope));
        }
        match within {
            Some((org, true)) => {
                let subtree = Scope::Subtrees(vec![org.path.clone()]);
                q = q.filter(org_column_in_scope("users.org_id", &subtree));
            }
            Some((org, false)) => q = q.filter(users::org_id.eq(org.id)),
            None => {}
        }
        if let Some(text) = text {
            let pattern = format!("%{}%", crate::orgs::escape_like(text));
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
    let rows = build()
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(page.per_page())
        .offset(page.offset())
        .load(conn)?;
    Ok((rows, total))
}

/// The grants of a user, oldest first.
pub fn grants_of(conn: &mut DbConn, user_id: i64) -> ApiResult<Vec<GrantOut>> {
    Ok(grants_of_users(conn, &[user_id])?
        .remove(&user_id)
        .unwrap_or_default())
}

/// The grants of several users in one query, by user, oldest first.
pub fn grants_of_users(
    conn: &mut DbConn,
    user_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<GrantOut>>> {
    let rows: Vec<GrantRow> = grants::table
        .filter(grants::user_id.eq_any(user_ids))
        .order(grants::id.asc())
        .select(GrantRow::as_select())
        .load(conn)?;
    let mut by_user: HashMap<i64, Vec<GrantOut>> = HashMap::new();
    for row in rows {
        by_user.entry(row.user_id).or_default().push(row.into());
    }
    Ok(by_user)
}

pub fn find_grant(conn: &mut DbConn, user_id: i64, grant_id: i64) -> ApiResult<Option<GrantRow>> {
    Ok(grants::table
        .find(grant_id)
        .filter(grants::user_id.eq(user_id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Whether the user already holds `role` on `org_id` (none: globally).
pub fn holds(conn: &mut DbConn, user_id: i64, role: Role, org_id: Option<i64>) -> ApiResult<bool> {
    let orgs: Vec<Option<i64>> = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::role.eq(role))
        .select(grants::org_id)
        .load(conn)?;
    Ok(orgs.contains(&org_id))
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
            grants::role.eq(role),
            grants::created_at.eq(now()),
        ))
        .returning(grants::id)
        .get_result(conn)?)
}

pub fn delete_grant(conn: &mut DbConn, grant_id: i64) -> ApiResult<()> {
    diesel::delete(grants::table.find(grant_id)).execute(conn)?;
    Ok(())
}

/// The enabled administrators (city-wide admin grant), by id.
fn active_admins(conn: &mut DbConn) -> ApiResult<Vec<i64>> {
    Ok(grants::table
        .inner_join(users::table)
        .filter(grants::role.eq(Role::Admin))
        .filter(grants::org_id.is_null())
        .filter(users::disabled.eq(false))
        .select(grants::user_id)
        .distinct()
        .order(grants::user_id)
        .load(conn)?)
}

/// Whether `user_id` is an enabled administrator and no other enabled account holds the
/// admin grant: disabling them or taking their admin grant back would lock everyone out.
pub fn is_last_active_admin(conn: &mut DbConn, user_id: i64) -> ApiResult<bool> {
    Ok(active_admins(conn)? == [user_id])
}

/// 409 `last_admin` when `user_id` is the last enabled administrator.
pub fn refuse_last_admin(conn: &mut DbConn, user_id: i64) -> ApiResult<()> {
    if is_last_active_admin(conn, user_id)? {
        return Err(ApiError::conflict(
            ErrorCode::LastAdmin,
            "This is the last active administrator: it cannot be disabled or lose the admin role. Make another administrator first (`pingyi create-admin`).",
        ));
    }
    Ok(())
}

/// An enabled administrator (the lowest id), for work done outside any request.
pub fn an_administrator(conn: &mut DbConn) -> ApiResult<Option<i64>> {
    Ok(active_admins(conn)?.first().copied())
}
