//! Campaign queries. Sessions are changed through `sessions::queries` only.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::model::{to_stored_json, CampaignListQuery, CampaignRow};
use super::rules::{CampaignFields, CampaignStatus};
use crate::auth::Scope;
use crate::db::schema::{campaigns, orgs};
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::model::OrgRow;
use crate::orgs::queries::{self as org_queries, org_column_in_scope};
use crate::types::now;

type CampaignFilter = Box<dyn BoxableExpression<campaigns::table, MultiBackend, SqlType = Bool>>;

/// A campaign by id; 404 when there is none.
pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<CampaignRow> {
    find_opt(conn, id)?.ok_or_else(ApiError::not_found)
}

pub fn find_opt(conn: &mut DbConn, id: i64) -> ApiResult<Option<CampaignRow>> {
    Ok(campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()?)
}

/// A campaign with its owner org; 404 when there is none.
pub fn find_with_owner(conn: &mut DbConn, id: i64) -> ApiResult<(CampaignRow, OrgRow)> {
    let campaign = find(conn, id)?;
    let owner = org_queries::find(conn, campaign.owner_org_id)?;
    Ok((campaign, owner))
}

/// The campaigns visible with this scope: owned inside it, or owned by one of the orgs
/// at or above the actor's grants (`covering`), whose campaigns reach the actor from above.
pub fn visible_to(scope: &Scope, covering: &[i64]) -> CampaignFilter {
    match scope {
        Scope::All => Box::new(sql::<Bool>("1 = 1")),
        Scope::Subtrees(_) => Box::new(
            org_column_in_scope("campaigns.owner_org_id", scope)
                .or(campaigns::owner_org_id.eq_any(covering.to_vec())),
        ),
    }
}

/// A page of the campaigns [`visible_to`] the scope and the covering orgs, newest first,
/// and how many there are.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    covering: &[i64],
    filter: &CampaignListQuery,
    page: &PageQuery,
) -> ApiResult<(Vec<CampaignRow>, i64)> {
    let build = || {
        let mut q = campaigns::table
            .filter(visible_to(scope, covering))
            .into_boxed::<MultiBackend>();
        if let Some(owner) = filter.owner_org_id {
            q = q.filter(campaigns::owner_org_id.eq(owner));
        }
        if let Some(status) = filter.status {
            q = q.filter(campaigns::status.eq(status));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let items = build()
        .select(CampaignRow::as_select())
        .order(campaigns::id.desc())
        .limit(page.per_page())
        .offset(page.offset())
        .load(conn)?;
    Ok((items, total))
}

/// Inserts a draft campaign; its id.
pub fn insert(conn: &mut DbConn, owner_org_id: i64, fields: &CampaignFields) -> ApiResult<i64> {
    let at = now();
    Ok(diesel::insert_into(campaigns::table)
        .values((
            campaigns::owner_org_id.eq(owner_org_id),
            stored(fields, at)?,
            campaigns::status.eq(CampaignStatus::Draft),
            campaigns::created_at.eq(at),
        ))
        .returning(campaigns::id)
        .get_result(conn)?)
}

pub fn update(conn: &mut DbConn, id: i64, fields: &CampaignFields) -> ApiResult<()> {
    diesel::update(campaigns::table.find(id))
        .set(stored(fields, now())?)
        .execute(conn)?;
    Ok(())
}

/// The editable fields as stored.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = campaigns)]
struct StoredFields<'a> {
    title: &'a str,
    starts_on: chrono::NaiveDate,
    ends_on: chrono::NaiveDate,
    template_id: i64,
    domain_templates: String,
    min_category_ballots: i32,
    low_satisfaction_threshold: f64,
    commendation_share: f64,
    updated_at: chrono::NaiveDateTime,
}

fn stored(fields: &CampaignFields, at: chrono::NaiveDateTime) -> ApiResult<StoredFields<'_>> {
    Ok(StoredFields {
        title: &fields.title,
        starts_on: fields.starts_on,
        ends_on: fields.ends_on,
        template_id: fields.template_id,
        domain_templates: to_stored_json(&fields.domain_templates)?,
        min_category_ballots: fields.min_category_ballots,
        low_satisfaction_threshold: fields.low_satisfaction_threshold,
        commendation_share: fields.commendation_share,
        updated_at: at,
    })
}

/// What a step writes besides the new status.
#[derive(Default)]
pub struct StepChanges {
    pub frozen_templates: Option<String>,
    pub publish_scope: Option<String>,
}

#[derive(AsChangeset)]
#[diesel(table_name = campaigns)]
struct StepRow {
    status: CampaignStatus,
    frozen_templates: Option<String>,
    publish_scope: Option<String>,
    updated_at: chrono::NaiveDateTime,
}

/// Moves the campaign from `from` to `to`, conditional on it still being `from`: of two
/// concurrent steps, one wins. Whether it moved.
pub fn step(
    conn: &mut DbConn,
    id: i64,
    from: CampaignStatus,
    to: CampaignStatus,
    changes: StepChanges,
) -> ApiResult<bool> {
    let moved = diesel::update(campaigns::table.find(id))
        .filter(campaigns::status.eq(from))
        .set(StepRow {
            status: to,
            frozen_templates: changes.frozen_templates,
            publish_scope: changes.publish_scope,
            updated_at: now(),
        })
        .execute(conn)?;
    Ok(moved > 0)
}

/// The paths of the orgs among `ids` that exist.
pub fn org_paths(conn: &mut DbConn, ids: &[i64]) -> ApiResult<HashMap<i64, String>> {
    Ok(orgs::table
        .filter(orgs::id.eq_any(ids.to_vec()))
        .select((orgs::id, orgs::path))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}
