use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::{
    MemberType, Membership, PersonChanges, PersonListQuery, PersonRow, PersonStatus, Position,
};
use crate::auth::Scope;
use crate::db::schema::{memberships, orgs, people};
use crate::db::{load_in_chunks, DbConn, MultiBackend, ROWS_PER_STATEMENT};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::model::OrgRow;
use crate::orgs::queries::{name_pattern, org_column_in_scope, paged};
use crate::types::now;

pub fn find_opt(conn: &mut DbConn, id: i64) -> ApiResult<Option<PersonRow>> {
    Ok(people::table
        .find(id)
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<PersonRow> {
    find_opt(conn, id)?.ok_or_else(ApiError::not_found)
}

pub fn find_by_external_id(conn: &mut DbConn, external_id: &str) -> ApiResult<Option<PersonRow>> {
    Ok(people::table
        .filter(people::external_id.eq(external_id))
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?)
}

/// The stored people with these external ids: looked up in batches when they are few, read
/// in one pass over the table when they are a good part of it (a city's whole roster),
/// which is several times faster than as many index lookups.
pub fn find_by_external_ids(conn: &mut DbConn, external_ids: &[&str]) -> ApiResult<Vec<PersonRow>> {
    if let Some(every) = every_person_if_many(conn, external_ids.len())? {
        return Ok(with_external_ids(every, external_ids));
    }
    Ok(load_in_chunks(external_ids, |chunk| {
        people::table
            .filter(people::external_id.eq_any(chunk))
            .select(PersonRow::as_select())
            .load(conn)
    })?)
}

/// Every stored person with an external id, when `wanted` of them are a good part of the
/// table (see [`many_wanted`]); `None` when they are few.
pub fn every_person_if_many(conn: &mut DbConn, wanted: usize) -> ApiResult<Option<Vec<PersonRow>>> {
    if many_wanted(conn, wanted)?.is_none() {
        return Ok(None);
    }
    with_external_id_between(conn, i64::MIN, i64::MAX).map(Some)
}

/// Whether `wanted` people are a good part of the table (at least a quarter of it): one
/// pass over it then beats as many index lookups. With the highest id, for splitting the
/// pass.
pub fn many_wanted(conn: &mut DbConn, wanted: usize) -> ApiResult<Option<i64>> {
    let highest_id: Option<i64> = people::table
        .select(diesel::dsl::max(people::id))
        .first(conn)?;
    let highest_id = highest_id.unwrap_or(0);
    Ok(((wanted as i64).saturating_mul(4) >= highest_id).then_some(highest_id))
}

/// The stored people with an external id and an id in `after + 1 ..= up_to`.
pub fn with_external_id_between(
    conn: &mut DbConn,
    after: i64,
    up_to: i64,
) -> ApiResult<Vec<PersonRow>> {
    Ok(people::table
        .filter(people::id.gt(after))
        .filter(people::id.le(up_to))
        .filter(people::external_id.is_not_null())
        .select(PersonRow::as_select())
        .load(conn)?)
}

/// The people of `every` with one of these external ids.
fn with_external_ids(every: Vec<PersonRow>, external_ids: &[&str]) -> Vec<PersonRow> {
    let wanted: HashSet<&str> = external_ids.iter().copied().collect();
    every
        .into_iter()
        .filter(|p| p.external_id.as_deref().is_some_and(|e| wanted.contains(e)))
        .collect()
}

/// A person row of a bulk insert (`None` stored as NULL, so that rows batch on SQLite).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = people, treat_none_as_default_value = false)]
pub struct NewPersonRow {
    pub org_id: i64,
    pub name: String,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    pub external_id: String,
    pub phone: Option<String>,
    pub status: PersonStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = memberships, treat_none_as_default_value = false)]
struct NewMembership {
    person_id: i64,
    org_id: i64,
    started_at: NaiveDateTime,
}

/// Inserts people and opens their first memberships in multi-row statements: the new ids,
/// in the order of `rows`.
pub fn insert_many(conn: &mut DbConn, rows: &[NewPersonRow]) -> ApiResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let inserted = crate::insert_batch_returning!(
            conn,
            people::table,
            chunk,
            (people::id, people::external_id),
            (i64, Option<String>)
        )?;
        // RETURNING promises no order: match the ids to the rows by external id.
        let by_external_id: HashMap<String, i64> = inserted
            .into_iter()
            .filter_map(|(id, external_id)| Some((external_id?, id)))
            .collect();
        let chunk_ids = chunk
            .iter()
            .map(|row| by_external_id.get(&row.external_id).copied())
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| {
                ApiError::internal("a person inserted in a batch came back without its id")
            })?;
        let opened: Vec<NewMembership> = chunk
            .iter()
            .zip(&chunk_ids)
            .map(|(row, &person_id)| NewMembership {
                person_id,
                org_id: row.org_id,
                started_at: row.created_at,
            })
            .collect();
        crate::insert_batch!(conn, memberships::table, &opened)?;
        ids.extend(chunk_ids);
    }
    Ok(ids)
}

pub struct NewPerson<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    pub external_id: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// Inserts a person and opens their first membership.
pub fn insert(conn: &mut DbConn, new: NewPerson<'_>) -> ApiResult<PersonRow> {
    let at = now();
    let id: i64 = diesel::insert_into(people::table)
        .values((
            people::org_id.eq(new.org_id),
            people::name.eq(new.name),
            people::member_type.eq(new.member_type),
            people::position.eq(new.position),
            people::joined_on.eq(new.joined_on),
            people::external_id.eq(new.external_id),
            people::phone.eq(new.phone),
            people::status.eq(PersonStatus::Active),
            people::created_at.eq(at),
            people::updated_at.eq(at),
        ))
        .returning(people::id)
        .get_result(conn)?;
    open_membership(conn, id, new.org_id, at)?;
    find(conn, id)
}

fn open_membership(
    conn: &mut DbConn,
    person_id: i64,
    org_id: i64,
    at: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::person_id.eq(person_id),
            memberships::org_id.eq(org_id),
            memberships::started_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Applies a PATCH (or an import row's changes) to a person.
pub fn update(conn: &mut DbConn, id: i64, changes: &PersonChanges<'_>) -> ApiResult<()> {
    diesel::update(people::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// Moves a person to another org: the open membership closes, a new one opens, and they
/// stop being the old org's secretary.
pub fn move_to(conn: &mut DbConn, person: &PersonRow, new_org_id: i64) -> ApiResult<()> {
    let at = now();
    close_membership(conn, person.id)?;
    open_membership(conn, person.id, new_org_id, at)?;
    diesel::update(people::table.find(person.id))
        .set((people::org_id.eq(new_org_id), people::updated_at.eq(at)))
        .execute(conn)?;
    clear_secretary(conn, person.id)
}

/// Archives a person: their membership ends and they are no longer a secretary.
pub fn archive(conn: &mut DbConn, id: i64) -> ApiResult<()> {
    diesel::update(people::table.find(id))
        .set((
            people::status.eq(PersonStatus::Archived),
            people::updated_at.eq(now()),
        ))
        .execute(conn)?;
    close_membership(conn, id)?;
    clear_secretary(conn, id)
}

pub fn close_membership(conn: &mut DbConn, person_id: i64) -> ApiResult<()> {
    diesel::update(memberships::table)
        .filter(memberships::person_id.eq(person_id))
        .filter(memberships::ended_at.is_null())
        .set(memberships::ended_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

pub fn clear_secretary(conn: &mut DbConn, person_id: i64) -> ApiResult<()> {
    diesel::update(orgs::table)
        .filter(orgs::secretary_id.eq(person_id))
        .set(orgs::secretary_id.eq(None::<i64>))
        .execute(conn)?;
    Ok(())
}

pub fn history(conn: &mut DbConn, person_id: i64) -> ApiResult<Vec<Membership>> {
    Ok(memberships::table
        .filter(memberships::person_id.eq(person_id))
        .select((
            memberships::org_id,
            memberships::started_at,
            memberships::ended_at,
        ))
        .order(memberships::id.asc())
        .load(conn)?)
}

/// One page of the people in `scope` (and in `within`, when given) that match the filter,
/// and the total.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    within: Option<&OrgRow>,
    status: PersonStatus,
    filter: &PersonListQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<PersonRow>, i64)> {
    let build = || {
        let mut q = people::table
            .filter(people::status.eq(status))
            .into_boxed::<MultiBackend>();
        if *scope != Scope::All {
            q = q.filter(org_column_in_scope("people.org_id", scope));
        }
        if let Some(org) = within {
            q = if filter.descendants {
                q.filter(org_column_in_scope(
                    "people.org_id",
                    &Scope::Subtrees(vec![org.path.clone()]),
                ))
            } else {
                q.filter(people::org_id.eq(org.id))
            };
        }
        if let Some(member_type) = filter.member_type {
            q = q.filter(people::member_type.eq(member_type));
        }
        if let Some(pattern) = name_pattern(filter.q.as_deref()) {
            q = q.filter(people::name.like(pattern).escape('\\'));
        }
        q
    };
    let rows = build()
        .select(PersonRow::as_select())
        .order((people::org_id.asc(), people::id.asc()));
    paged(conn, build().count(), rows, page)
}
