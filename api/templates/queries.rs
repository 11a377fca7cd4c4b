//! Template queries: a template is its row, its criteria and its scale.

use diesel::prelude::*;

use super::model::{Criteria, CriterionRow, Level, NewCriteria, SubjectType, Template};
use crate::db::schema::{orgs, template_criteria, template_levels, templates};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::types::now;

/// A template with its criteria and scale, and the path of its owner org (none for the
/// built-in one); `None` when there is no such template.
pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<Option<(Template, Option<String>)>> {
    let head: Option<(String, Option<i64>, bool, Option<String>)> = templates::table
        .left_join(orgs::table.on(orgs::id.nullable().eq(templates::owner_org_id)))
        .filter(templates::id.eq(id))
        .select((
            templates::name,
            templates::owner_org_id,
            templates::builtin,
            orgs::path.nullable(),
        ))
        .first(conn)
        .optional()?;
    let Some((name, owner_org_id, builtin, owner_path)) = head else {
        return Ok(None);
    };
    let rows: Vec<CriterionRow> = template_criteria::table
        .filter(template_criteria::template_id.eq(id))
        .order((template_criteria::subject_type, template_criteria::position))
        .select(CriterionRow::as_select())
        .load(conn)?;
    let mut criteria = Criteria::default();
    for row in rows {
        criteria.push(row);
    }
    let scale = template_levels::table
        .filter(template_levels::template_id.eq(id))
        .order(template_levels::position)
        .select(Level::as_select())
        .load(conn)?;
    let template = Template {
        id,
        name,
        owner_org_id,
        builtin,
        criteria,
        scale,
    };
    Ok(Some((template, owner_path)))
}

/// Like [`find`], 404 when there is no such template.
pub fn load(conn: &mut DbConn, id: i64) -> ApiResult<(Template, Option<String>)> {
    find(conn, id)?.ok_or_else(ApiError::not_found)
}

/// Every template id with the path of its owner org, in id order.
pub fn owners(conn: &mut DbConn) -> ApiResult<Vec<(i64, Option<String>)>> {
    Ok(templates::table
        .left_join(orgs::table.on(orgs::id.nullable().eq(templates::owner_org_id)))
        .select((templates::id, orgs::path.nullable()))
        .order(templates::id)
        .load(conn)?)
}

/// Creates a template with its criteria and scale.
pub fn insert(
    conn: &mut DbConn,
    owner_org_id: i64,
    name: &str,
    criteria: &NewCriteria,
    scale: &[Level],
) -> ApiResult<i64> {
    let at = now();
    let id: i64 = diesel::insert_into(templates::table)
        .values((
            templates::owner_org_id.eq(owner_org_id),
            templates::name.eq(name),
            templates::builtin.eq(false),
            templates::created_at.eq(at),
            templates::updated_at.eq(at),
        ))
        .returning(templates::id)
        .get_result(conn)?;
    insert_parts(conn, id, criteria, scale)?;
    Ok(id)
}

/// Replaces every criterion and level of a template.
pub fn replace_parts(
    conn: &mut DbConn,
    id: i64,
    criteria: &NewCriteria,
    scale: &[Level],
) -> ApiResult<()> {
    diesel::delete(template_criteria::table.filter(template_criteria::template_id.eq(id)))
        .execute(conn)?;
    diesel::delete(template_levels::table.filter(template_levels::template_id.eq(id)))
        .execute(conn)?;
    insert_parts(conn, id, criteria, scale)
}

pub fn rename(conn: &mut DbConn, id: i64, name: &str) -> ApiResult<()> {
    diesel::update(templates::table.find(id))
        .set((templates::name.eq(name), templates::updated_at.eq(now())))
        .execute(conn)?;
    Ok(())
}

fn insert_parts(
    conn: &mut DbConn,
    template_id: i64,
    criteria: &NewCriteria,
    scale: &[Level],
) -> ApiResult<()> {
    for subject_type in [
        SubjectType::Org,
        SubjectType::Secretary,
        SubjectType::Member,
    ] {
        for (i, c) in criteria.of(subject_type).iter().enumerate() {
            diesel::insert_into(template_criteria::table)
                .values((
                    template_criteria::template_id.eq(template_id),
                    template_criteria::subject_type.eq(subject_type),
                    template_criteria::position.eq(i as i32 + 1),
                    template_criteria::label_zh.eq(c.label_zh.trim()),
                    template_criteria::label_en.eq(c.label_en.trim()),
                ))
                .execute(conn)?;
        }
    }
    for (i, level) in scale.iter().enumerate() {
        diesel::insert_into(template_levels::table)
            .values((
                template_levels::template_id.eq(template_id),
                template_levels::position.eq(i as i32 + 1),
                template_levels::level.eq(&level.level),
                template_levels::label_zh.eq(level.label_zh.trim()),
                template_levels::label_en.eq(level.label_en.trim()),
                template_levels::score.eq(level.score),
                template_levels::satisfied.eq(level.satisfied),
            ))
            .execute(conn)?;
    }
    Ok(())
}
