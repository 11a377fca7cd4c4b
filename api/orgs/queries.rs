//! Org queries. Subtrees are prefix ranges of the materialized path: no recursion.

use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::query_dsl::methods::{LimitDsl, OffsetDsl};
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Bool, Integer, Text};

use super::model::{Domain, OrgChanges, OrgKind, OrgListQuery, OrgRow, OrgStatus};
use super::rules::escape_like;
use crate::auth::policy::subtree_upper_bound;
use crate::auth::{Actor, Scope};
use crate::db::schema::orgs;
use crate::db::{load_in_chunks, DbConn, MultiBackend, ROWS_PER_STATEMENT};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;

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

/// Which of these orgs are window units.
pub fn window_units_among(conn: &mut DbConn, ids: &[i64]) -> ApiResult<Vec<i64>> {
    Ok(orgs::table
        .filter(orgs::id.eq_any(ids))
        .filter(orgs::window_unit)
        .select(orgs::id)
        .load(conn)?)
}

/// The active direct children of an org (id and name), by name.
pub fn children(conn: &mut DbConn, id: i64) -> ApiResult<Vec<(i64, String)>> {
    Ok(orgs::table
        .filter(orgs::parent_id.eq(id))
        .filter(orgs::status.eq(OrgStatus::Active))
        .order((orgs::name, orgs::id))
        .select((orgs::id, orgs::name))
        .load(conn)?)
}

pub fn find_opt(conn: &mut DbConn, id: i64) -> ApiResult<Option<OrgRow>> {
    Ok(orgs::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<OrgRow> {
    find_opt(conn, id)?.ok_or_else(ApiError::not_found)
}

pub fn path_opt(conn: &mut DbConn, id: i64) -> ApiResult<Option<String>> {
    Ok(orgs::table
        .find(id)
        .select(orgs::path)
        .first(conn)
        .optional()?)
}

pub fn path_of(conn: &mut DbConn, id: i64) -> ApiResult<String> {
    path_opt(conn, id)?.ok_or_else(ApiError::not_found)
}

/// The path of the org's superior; none for a root.
pub fn parent_path(conn: &mut DbConn, org: &OrgRow) -> ApiResult<Option<String>> {
    org.parent_id.map(|id| path_of(conn, id)).transpose()
}

/// Finds an org named in a request body: a missing or invisible one is a field error
/// (the same answer for both, as 404 is for paths).
pub fn find_referenced(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
    field: &str,
) -> ApiResult<OrgRow> {
    find_opt(conn, id)?
        .filter(|org| actor.can_see(&org.path))
        .ok_or_else(|| ApiError::field(field, "no such organization"))
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

/// The stored orgs with these external ids (read in batches).
pub fn find_by_external_ids(conn: &mut DbConn, external_ids: &[&str]) -> ApiResult<Vec<OrgRow>> {
    Ok(load_in_chunks(external_ids, |chunk| {
        orgs::table
            .filter(orgs::external_id.eq_any(chunk))
            .select(OrgRow::as_select())
            .load(conn)
    })?)
}

/// The paths of these orgs, as (id, path) (read in batches).
pub fn paths_of(conn: &mut DbConn, ids: &[i64]) -> ApiResult<Vec<(i64, String)>> {
    Ok(load_in_chunks(ids, |chunk| {
        orgs::table
            .filter(orgs::id.eq_any(chunk))
            .select((orgs::id, orgs::path))
            .load(conn)
    })?)
}

pub struct NewOrg<'a> {
    pub parent: Option<&'a OrgRow>,
    pub name: &'a str,
    pub kind: OrgKind,
    pub domain: Domain,
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
            orgs::status.eq(OrgStatus::Active),
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

/// An org row of a bulk insert (`None` stored as NULL, so that rows batch on SQLite); its
/// path is set once its id is known.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orgs, treat_none_as_default_value = false)]
pub struct NewOrgRow<'a> {
    pub parent_id: Option<i64>,
    pub name: &'a str,
    pub kind: OrgKind,
    pub domain: Domain,
    pub window_unit: bool,
    pub external_id: &'a str,
    pub status: OrgStatus,
    pub path: &'static str,
    pub depth: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl<'a> NewOrgRow<'a> {
    pub fn under(
        parent: Option<&OrgRow>,
        name: &'a str,
        kind: OrgKind,
        domain: Domain,
        window_unit: bool,
        external_id: &'a str,
        at: chrono::NaiveDateTime,
    ) -> Self {
        NewOrgRow {
            parent_id: parent.map(|p| p.id),
            name,
            kind,
            domain,
            window_unit,
            external_id,
            status: OrgStatus::Active,
            path: "",
            depth: parent.map_or(0, |p| p.depth + 1),
            created_at: at,
            updated_at: at,
        }
    }
}

/// Inserts orgs whose parents are all stored already, in multi-row statements, then sets
/// their paths from their parents' in one statement per chunk: the stored rows, in any order.
pub fn insert_many(conn: &mut DbConn, rows: &[NewOrgRow<'_>]) -> ApiResult<Vec<OrgRow>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<i64> =
            crate::insert_batch_returning!(conn, orgs::table, chunk, orgs::id, i64)?;
        // Ids come from the database, so they are spliced in as numbers.
        let listed = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        diesel::sql_query(format!(
            "UPDATE orgs SET path = COALESCE((SELECT p.path FROM orgs p WHERE p.id = orgs.parent_id), '/')
                 || CAST(orgs.id AS TEXT) || '/'
             WHERE orgs.id IN ({listed})"
        ))
        .execute(conn)?;
        inserted.extend(
            orgs::table
                .filter(orgs::id.eq_any(&ids))
                .select(OrgRow::as_select())
                .load(conn)?,
        );
    }
    Ok(inserted)
}

/// Applies a PATCH (or an import row's changes) to an org.
pub fn update(conn: &mut DbConn, id: i64, changes: &OrgChanges<'_>) -> ApiResult<()> {
    diesel::update(orgs::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

pub fn archive(conn: &mut DbConn, id: i64) -> ApiResult<()> {
    diesel::update(orgs::table.find(id))
        .set((
            orgs::status.eq(OrgStatus::Archived),
            orgs::updated_at.eq(crate::types::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_secretary(conn: &mut DbConn, id: i64, person_id: i64) -> ApiResult<()> {
    diesel::update(orgs::table.find(id))
        .set(orgs::secretary_id.eq(person_id))
        .execute(conn)?;
    Ok(())
}

pub fn active_children(conn: &mut DbConn, id: i64) -> ApiResult<i64> {
    Ok(orgs::table
        .filter(orgs::parent_id.eq(id))
        .filter(orgs::status.eq(OrgStatus::Active))
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
        .filter(orgs::status.eq(OrgStatus::Active).or(orgs::id.eq(root.id)))
        .into_boxed();
    if let Some(max) = max_depth {
        q = q.filter(orgs::depth.le(max));
    }
    Ok(q.order(orgs::path.asc()).load(conn)?)
}

/// One page of the orgs in `scope` that match the filter, in tree order, and the total.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    filter: &OrgListQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<OrgRow>, i64)> {
    let build = || {
        let mut q = orgs::table
            .filter(in_scope(scope))
            .filter(orgs::status.eq(filter.status.unwrap_or(OrgStatus::Active)))
            .into_boxed::<MultiBackend>();
        if let Some(parent_id) = filter.parent_id {
            q = q.filter(orgs::parent_id.eq(parent_id));
        }
        if let Some(kind) = filter.kind {
            q = q.filter(orgs::kind.eq(kind));
        }
        if let Some(domain) = filter.domain {
            q = q.filter(orgs::domain.eq(domain));
        }
        if let Some(window_unit) = filter.window_unit {
            q = q.filter(orgs::window_unit.eq(window_unit));
        }
        if let Some(pattern) = name_pattern(filter.q.as_deref()) {
            q = q.filter(orgs::name.like(pattern).escape('\\'));
        }
        q
    };
    let rows = build().select(OrgRow::as_select()).order(orgs::path.asc());
    paged(conn, build().count(), rows, page)
}

/// The LIKE pattern (escaped with `\`) for a name search, unless the text is blank.
pub fn name_pattern(text: Option<&str>) -> Option<String> {
    text.and_then(crate::types::non_blank)
        .map(|text| format!("%{}%", escape_like(&text)))
}

/// Runs a list query for one page, and its count for the total.
pub fn paged<'q, C, Q, R>(
    conn: &mut DbConn,
    count: C,
    rows: Q,
    page: &PageQuery,
) -> ApiResult<(Vec<R>, i64)>
where
    C: LoadQuery<'q, DbConn, i64>,
    Q: LimitDsl,
    Q::Output: OffsetDsl,
    <Q::Output as OffsetDsl>::Output: LoadQuery<'q, DbConn, R>,
{
    let total = count.get_result(conn)?;
    let rows = rows
        .limit(page.per_page())
        .offset(page.offset())
        .load(conn)?;
    Ok((rows, total))
}
