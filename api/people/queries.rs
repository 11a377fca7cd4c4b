use chrono::NaiveDate;
use diesel::prelude::*;

use super::model::{Membership, PersonRow};
use crate::db::schema::{memberships, orgs, people};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::types::now;

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<PersonRow> {
    people::table
        .find(id)
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

pub fn find_by_external_id(conn: &mut DbConn, external_id: &str) -> ApiResult<Option<PersonRow>> {
    Ok(people::table
        .filter(people::external_id.eq(external_id))
        .select(PersonRow::as_select())
        .first(conn)
        .optional()?)
}

pub struct NewPerson<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub member_type: &'a str,
    pub position: Option<&'a str>,
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
            people::status.eq("active"),
            people::created_at.eq(at),
            people::updated_at.eq(at),
        ))
        .returning(people::id)
        .get_result(conn)?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::person_id.eq(id),
            memberships::org_id.eq(new.org_id),
            memberships::started_at.eq(at),
        ))
        .execute(conn)?;
    find(conn, id)
}

/// Moves a person to another org: the open membership closes, a new one opens, and they
/// stop being the old org's secretary.
pub fn move_to(conn: &mut DbConn, person: &PersonRow, new_org_id: i64) -> ApiResult<()> {
    let at = now();
    close_membership(conn, person.id)?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::person_id.eq(person.id),
            memberships::org_id.eq(new_org_id),
            memberships::started_at.eq(at),
        ))
        .execute(conn)?;
    diesel::update(people::table.find(person.id))
        .set((people::org_id.eq(new_org_id), people::updated_at.eq(at)))
        .execute(conn)?;
    clear_secretary(conn, person.id)
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
