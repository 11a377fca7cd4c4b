use diesel::prelude::*;

use crate::db::schema::{campaigns, orgs, people, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};

/// The id of a user holding the administrator grant: the demo loads as them.
pub fn username_taken(conn: &mut DbConn, username: &str) -> ApiResult<bool> {
    let count: i64 = users::table
        .filter(users::username.eq(username))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Whether the database holds an org tree or people already (a real deployment, or the
/// demo loaded before): the demo's published passwords have no place there.
pub fn holds_data(conn: &mut DbConn) -> ApiResult<bool> {
    let orgs: i64 = orgs::table.count().get_result(conn)?;
    let people: i64 = people::table.count().get_result(conn)?;
    Ok(orgs + people > 0)
}

/// Whether the owner has a campaign of this title (the demo's, loaded before).
pub fn campaign_titled(conn: &mut DbConn, owner_id: i64, title: &str) -> ApiResult<bool> {
    let count: i64 = campaigns::table
        .filter(campaigns::owner_org_id.eq(owner_id))
        .filter(campaigns::title.eq(title))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// A user's id by username.
pub fn user_id(conn: &mut DbConn, username: &str) -> ApiResult<i64> {
    users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::internal(format!("the demo user {username} is missing")))
}
