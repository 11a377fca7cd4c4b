//! Org queries. Subtrees are prefix ranges of the materialized path: no recursion.

use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::model::{OrgRow, OrgStatus};
use crate::auth::policy::subtree_upper_bound;
use crate::auth::{Actor, Scope};
use crate::db::schema::orgs;
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, ApiResult};

type OrgFilter = Box<dyn BoxableExpression<orgs::table, MultiBackend, SqlType = Bool>>;

/// `orgs.path` inside the subtree at `path`.
pub fn in_subtree(path: &str) -> OrgFilter {
    Box::new(
        orgs::path
            .ge(path.to_owned())
            .and(orgs::path.lt(subtree_upper_bound(path))),
    )
}

/// The orgs a scope covers, as a filter.
pub fn in_scope(scope: &Scope) -> OrgFilter {
    match scope {
        Scope::All => Box::new(sql::<Bool>("1 = 1")),
        Scope::Subtrees(paths) => paths
            .iter()
            .map(|p| in_subtree(p))
            .reduce(|a, b| Box::new(a.or(b)))
            .unwrap_or_else(|| Box::new(sql::<Bool>("1 = 0"))),
    }
}

/// `<column> IN (ids of the orgs the scope covers)`, for tables that refer to an org.
///
/// Written as SQL because diesel's MultiConnection cannot nest a boxed subselect. The paths
/// are embedded rather than bound; they come from the database and hold only digits and
/// slashes, which is checked here.
pub fn org_column_in_scope(column: &'static str, scope: &Scope) -> SqlLiteral<Bool> {
    let ranges: Vec<String> = match scope {
        Scope::All => return sql::<Bool>("1 = 1"),
        Scope::Subtrees(paths) => paths
            .iter()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit() || b == b'/'))
            .map(|p| format!("(path >= '{p}' AND path < '{}')", subtree_upper_bound(p)))
            .collect(),
    };
    if ranges.is_empty() {
        return sql::<Bool>("1 = 0");
    }
    sql::<Bool>(&format!(
        "{column} IN (SELECT id FROM orgs WHERE {})",
        ranges.join(" OR ")
    ))
}

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<OrgRow> {
    orgs::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

pub fn path_of(conn: &mut DbConn, id: i64) -> ApiResult<String> {
    orgs::table
        .find(id)
        .select(orgs::path)
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// Finds an org named in a request body: a missing or invisible one is a field error
/// (the same answer for both, as 404 is for paths).
pub fn find_referenced(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    field: &str,
) -> ApiResult<OrgRow> {
    match find(conn, id) {
        Ok(org) if actor.can_see(&org.path) => Ok(org),
        Ok(_) => Err(ApiError::field(field, "no such organization")),
        Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => {
            Err(ApiError::field(field, "no such organization"))
        }
        Err(e) => Err(e),
    }
}

/// As [`find_referenced`], and the org must not be archived.
pub fn find_active_referenced(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    field: &str,
) -> ApiResult<OrgRow> {
    let org = find_referenced(conn, actor, id, field)?;
    if !org.is_active() {
        return Err(ApiError::field(field, "the org is archived"));
    }
    Ok(org)
}

pub fn find_by_external_id(conn: &mut DbConn, external_id: &str) -> ApiResult<Option<OrgRow>> {
    Ok(orgs::table
        .filter(orgs::external_id.eq(external_id))
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?)
}

pub struct NewOrg<'a> {
    pub parent: Option<&'a OrgRow>,
    pub name: &'a str,
    pub kind: &'a str,
    pub domain: &'a str,
    pub window_unit: bool,
    pub external_id: Option<&'a str>,
}

/// Inserts an org, then sets its path once its id is known (same transaction).
pub fn insert(conn: &mut DbConn, new: NewOrg<'_>) -> ApiResult<OrgRow> {
    let now = crate::types::now();
    let depth = new.parent.map_or(0, |p| p.depth + 1);
    let id: i64 = diesel::insert_into(orgs::table)
        .values((
            orgs::parent_id.eq(new.parent.map(|p| p.id)),
            orgs::name.eq(new.name),
            orgs::kind.eq(new.kind),
            orgs::domain.eq(new.domain),
            orgs::window_unit.eq(new.window_unit),
            orgs::external_id.eq(new.external_id),
            orgs::status.eq(OrgStatus::Active.as_str()),
            orgs::path.eq(""),
            orgs::depth.eq(depth),
            orgs::created_at.eq(now),
            orgs::updated_at.eq(now),
        ))
        .returning(orgs::id)
        .get_result(conn)?;
    let path = format!("{}{id}/", new.parent.map_or("/", |p| p.path.as_str()));
    diesel::update(orgs::table.find(id))
        .set(orgs::path.eq(path))
        .execute(conn)?;
    find(conn, id)
}

pub fn active_children(conn: &mut DbConn, id: i64) -> ApiResult<i64> {
    Ok(orgs::table
        .filter(orgs::parent_id.eq(id))
        .filter(orgs::status.eq(OrgStatus::Active.as_str()))
        .count()
        .get_result(conn)?)
}

diesel::define_sql_function! {
    /// `substr(text, start)`, 1-based, the same in PostgreSQL and SQLite.
    fn substr(text: Text, start: Integer) -> Text;
}

/// Moves a whole subtree under a new parent: one statement rewrites every path and depth.
pub fn move_subtree(conn: &mut DbConn, org: &OrgRow, new_parent: &OrgRow) -> ApiResult<()> {
    let new_path = format!("{}{}/", new_parent.path, org.id);
    let depth_change = new_parent.depth + 1 - org.depth;
    // Keep what follows the old prefix.
    let keep_from = i32::try_from(org.path.len() + 1).map_err(ApiError::internal)?;
    diesel::update(orgs::table)
        .filter(in_subtree(&org.path))
        .set((
            orgs::path.eq(new_path
                .into_sql::<Text>()
                .concat(substr(orgs::path, keep_from))),
            orgs::depth.eq(orgs::depth + depth_change),
            orgs::updated_at.eq(crate::types::now()),
        ))
        .execute(conn)?;
    diesel::update(orgs::table.find(org.id))
        .set(orgs::parent_id.eq(new_parent.id))
        .execute(conn)?;
    Ok(())
}

/// The subtree at `root`, down to `max_depth` (absolute), active orgs only, in path order.
pub fn subtree(conn: &mut DbConn, root: &OrgRow, max_depth: Option<i32>) -> ApiResult<Vec<OrgRow>> {
    let mut q = orgs::table
        .select(OrgRow::as_select())
        .filter(in_subtree(&root.path))
        .filter(
            orgs::status
                .eq(OrgStatus::Active.as_str())
                .or(orgs::id.eq(root.id)),
        )
        .into_boxed();
    if let Some(max) = max_depth {
        q = q.filter(orgs::depth.le(max));
    }
    Ok(q.order(orgs::path.asc()).load(conn)?)
}
