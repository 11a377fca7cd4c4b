//! Rectification queries.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::model::{
    NewRectification, NoteKind, NoteRow, RectificationListQuery, RectificationRef,
    RectificationRow, RectificationStatus,
};
use crate::auth::policy::subtree_upper_bound;
use crate::auth::Scope;
use crate::db::schema::{
    opinions, orgs, people, rectification_notes, rectification_opinions, rectifications,
    session_subjects, users,
};
use crate::db::{DbConn, MultiBackend, ROWS_PER_STATEMENT};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::orgs::queries::org_column_in_scope;
use crate::types::now;

pub fn insert(conn: &mut DbConn, new: &NewRectification) -> ApiResult<i64> {
    Ok(diesel::insert_into(rectifications::table)
        .values(new)
        .returning(rectifications::id)
        .get_result(conn)?)
}

pub fn find(conn: &mut DbConn, id: i64) -> ApiResult<RectificationRow> {
    rectifications::table
        .find(id)
        .select(RectificationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

pub fn notes(conn: &mut DbConn, id: i64) -> ApiResult<Vec<NoteRow>> {
    Ok(rectification_notes::table
        .filter(rectification_notes::rectification_id.eq(id))
        .order(rectification_notes::id)
        .select(NoteRow::as_select())
        .load(conn)?)
}

pub fn opinion_ids(conn: &mut DbConn, id: i64) -> ApiResult<Vec<String>> {
    Ok(rectification_opinions::table
        .filter(rectification_opinions::rectification_id.eq(id))
        .order(rectification_opinions::opinion_id)
        .select(rectification_opinions::opinion_id)
        .load(conn)?)
}

pub fn add_note(
    conn: &mut DbConn,
    id: i64,
    kind: NoteKind,
    note: &str,
    author_id: i64,
) -> ApiResult<()> {
    diesel::insert_into(rectification_notes::table)
        .values((
            rectification_notes::rectification_id.eq(id),
            rectification_notes::kind.eq(kind),
            rectification_notes::note.eq(note),
            rectification_notes::author_id.eq(author_id),
            rectification_notes::at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces the opinions an item answers.
pub fn set_opinions(conn: &mut DbConn, id: i64, opinion_ids: &[String]) -> ApiResult<()> {
    diesel::delete(
        rectification_opinions::table.filter(rectification_opinions::rectification_id.eq(id)),
    )
    .execute(conn)?;
    // An id named twice links once (the pair is the table's key).
    let distinct: std::collections::BTreeSet<&str> =
        opinion_ids.iter().map(String::as_str).collect();
    let rows: Vec<_> = distinct
        .into_iter()
        .map(|o| {
            (
                rectification_opinions::rectification_id.eq(id),
                rectification_opinions::opinion_id.eq(o),
            )
        })
        .collect();
    if !rows.is_empty() {
        crate::insert_batch!(conn, rectification_opinions::table, rows)?;
    }
    Ok(())
}

/// How many of `ids` are opinions of the session.
pub fn opinions_of_session(conn: &mut DbConn, session_id: i64, ids: &[String]) -> ApiResult<i64> {
    Ok(opinions::table
        .filter(opinions::session_id.eq(session_id))
        .filter(opinions::id.eq_any(ids))
        .count()
        .get_result(conn)?)
}

/// The fields a user writes.
#[derive(AsChangeset)]
#[diesel(table_name = rectifications)]
pub struct Changes<'a> {
    pub problem: Option<&'a str>,
    pub cause: Option<&'a str>,
    pub measures: Option<&'a str>,
    pub owner_person_id: Option<Option<i64>>,
    pub due_on: Option<NaiveDate>,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &Changes<'_>) -> ApiResult<()> {
    diesel::update(rectifications::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(())
}

/// Moves an item from `from` to `to`, conditional on it still being `from` (of two
/// concurrent steps, one wins); a verification records who and when. Whether it moved.
pub fn move_status(
    conn: &mut DbConn,
    row: &RectificationRow,
    to: RectificationStatus,
    actor_id: i64,
) -> ApiResult<bool> {
    let at = now();
    let target = rectifications::table
        .find(row.id)
        .filter(rectifications::status.eq(row.status));
    let verified = to == RectificationStatus::Verified;
    let moved = diesel::update(target)
        .set((
            rectifications::status.eq(to),
            rectifications::submitted_once
                .eq(row.submitted_once || to == RectificationStatus::Submitted),
            rectifications::verified_by.eq(verified.then_some(actor_id)),
            rectifications::verified_at.eq(verified.then_some(at)),
            rectifications::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(moved > 0)
}

/// Who may be listed: items of the orgs where the actor reads results, and items about the
/// actor's own person in the orgs they see.
pub struct Visible {
    pub readable: Scope,
    pub seen: Scope,
    pub person_id: Option<i64>,
}

/// One page of the visible items matching the filter, newest first, and the total.
pub fn list(
    conn: &mut DbConn,
    visible: &Visible,
    filter: &RectificationListQuery,
    within: Option<&str>,
    today: NaiveDate,
    page: &PageQuery,
) -> ApiResult<(Vec<RectificationRow>, i64)> {
    let query = || {
        let me = visible.person_id.unwrap_or(-1);
        let mut q = rectifications::table
            .filter(
                org_column_in_scope("rectifications.org_id", &visible.readable)
                    .or(org_column_in_scope("rectifications.org_id", &visible.seen)
                        .and(rectifications::person_id.assume_not_null().eq(me))),
            )
            .into_boxed::<MultiBackend>();
        if let Some(path) = within {
            let subtree = Scope::Subtrees(vec![path.to_owned()]);
            q = q.filter(org_column_in_scope("rectifications.org_id", &subtree));
        }
        if let Some(campaign) = filter.campaign_id {
            q = q.filter(rectifications::campaign_id.eq(campaign));
        }
        if let Some(status) = filter.status {
            q = q.filter(rectifications::status.eq(status));
        }
        if let Some(subject_type) = filter.subject_type {
            q = q.filter(rectifications::subject_type.eq(subject_type));
        }
        match filter.overdue {
            Some(true) => {
                q = q
                    .filter(rectifications::due_on.lt(today))
                    .filter(rectifications::status.ne(RectificationStatus::Verified))
            }
            Some(false) => {
                q = q.filter(
                    rectifications::due_on
                        .ge(today)
                        .or(rectifications::status.eq(RectificationStatus::Verified)),
                )
            }
            None => {}
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(rectifications::id.desc())
        .limit(page.per_page())
        .offset(page.offset())
        .select(RectificationRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Items of one org with one status and due date: (org, its path, status, due date, count).
pub type CountRow = (i64, String, RectificationStatus, NaiveDate, i64);

/// A campaign's items in the subtree at `root_path`, counted per (org, status, due date).
pub fn counts(conn: &mut DbConn, campaign_id: i64, root_path: &str) -> ApiResult<Vec<CountRow>> {
    Ok(rectifications::table
        .inner_join(orgs::table)
        .filter(rectifications::campaign_id.eq(campaign_id))
        .filter(orgs::path.ge(root_path.to_owned()))
        .filter(orgs::path.lt(subtree_upper_bound(root_path)))
        .group_by((
            rectifications::org_id,
            orgs::path,
            rectifications::status,
            rectifications::due_on,
        ))
        .select((
            rectifications::org_id,
            orgs::path,
            rectifications::status,
            rectifications::due_on,
            count_star(),
        ))
        .load(conn)?)
}

/// The newest item of each of these subjects.
pub fn by_subject(
    conn: &mut DbConn,
    subject_ids: &[i64],
) -> ApiResult<HashMap<i64, RectificationRef>> {
    let mut out = HashMap::new();
    for chunk in subject_ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(i64, Option<i64>, RectificationStatus)> = rectifications::table
            .filter(rectifications::subject_id.eq_any(chunk))
            .order(rectifications::id)
            .select((
                rectifications::id,
                rectifications::subject_id,
                rectifications::status,
            ))
            .load(conn)?;
        for (id, subject, status) in rows {
            if let Some(subject) = subject {
                out.insert(subject, RectificationRef { id, status });
            }
        }
    }
    Ok(out)
}

/// A session subject's type, person and name, if it is a subject of `session_id`.
pub fn session_subject(
    conn: &mut DbConn,
    session_id: i64,
    subject_id: i64,
) -> ApiResult<Option<(crate::templates::model::SubjectType, Option<i64>, String)>> {
    Ok(session_subjects::table
        .find(subject_id)
        .filter(session_subjects::session_id.eq(session_id))
        .select((
            session_subjects::subject_type,
            session_subjects::person_id,
            session_subjects::name,
        ))
        .first(conn)
        .optional()?)
}

/// Whether `person_id` is an active person of the org.
pub fn person_of_org(conn: &mut DbConn, person_id: i64, org_id: i64) -> ApiResult<bool> {
    let n: i64 = people::table
        .filter(people::id.eq(person_id))
        .filter(people::org_id.eq(org_id))
        .filter(people::status.eq(crate::people::model::PersonStatus::Active))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// One row of the ledger (整改台账).
#[derive(Debug, Queryable)]
pub struct LedgerRow {
    pub id: i64,
    pub org_name: String,
    pub subject_type: Option<crate::templates::model::SubjectType>,
    pub subject_name: Option<String>,
    pub problem: String,
    pub cause: String,
    pub measures: String,
    pub owner: Option<String>,
    pub due_on: NaiveDate,
    pub status: RectificationStatus,
    pub verified_by: Option<String>,
    pub verified_at: Option<NaiveDateTime>,
}

/// Every item of a campaign in the subtree at `root_path`, in tree order, then by id.
pub fn ledger(conn: &mut DbConn, campaign_id: i64, root_path: &str) -> ApiResult<Vec<LedgerRow>> {
    let verifiers = diesel::alias!(users as verifiers);
    Ok(rectifications::table
        .inner_join(orgs::table)
        .left_join(
            session_subjects::table.on(session_subjects::id
                .nullable()
                .eq(rectifications::subject_id)),
        )
        .left_join(people::table.on(people::id.nullable().eq(rectifications::owner_person_id)))
        .left_join(
            verifiers.on(verifiers
                .field(users::id)
                .nullable()
                .eq(rectifications::verified_by)),
        )
        .filter(rectifications::campaign_id.eq(campaign_id))
        .filter(orgs::path.ge(root_path.to_owned()))
        .filter(orgs::path.lt(subtree_upper_bound(root_path)))
        .order((orgs::path, rectifications::id))
        .select((
            rectifications::id,
            orgs::name,
            rectifications::subject_type,
            session_subjects::name.nullable(),
            rectifications::problem,
            rectifications::cause,
            rectifications::measures,
            people::name.nullable(),
            rectifications::due_on,
            rectifications::status,
            verifiers.field(users::display_name).nullable(),
            rectifications::verified_at,
        ))
        .load(conn)?)
}
