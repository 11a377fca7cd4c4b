use diesel::prelude::*;

use crate::auth::Role;
use crate::db::schema::{grants, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};

/// The id of a user holding the administrator grant: the demo loads as them.
pub fn an_administrator(conn: &mut DbConn) -> ApiResult<i64> {
    grants::table
        .filter(grants::role.eq(Role::Admin))
        .select(grants::user_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::internal("no administrator: start the server once first"))
}

pub fn username_taken(conn: &mut DbConn, username: &str) -> ApiResult<bool> {
    let count: i64 = users::table
        .filter(users::username.eq(username))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}
