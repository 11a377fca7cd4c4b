//! Instant evaluation's queries. The rating path (`consume_tickets`, `write_ratings`) is one
//! conditional update and one statement per table for a batch; figures read `instant_counts`, which every
//! rating keeps up to date, and aggregate cases in SQL.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Text};

use super::model::*;
use super::rules;
use crate::auth::policy::{subtree_upper_bound, Scope};
use crate::db::arrays::{
    unnest_bigint, unnest_bool, unnest_date, unnest_integer, unnest_nullable_text, unnest_text,
};
use crate::db::schema::{
    instant_case_counts, instant_cases, instant_counts, instant_rating_items, instant_ratings,
    instant_settings, orgs, service_points, service_tickets,
};
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::load_sql;
use crate::orgs::model::OrgStatus;

// Service points.

pub fn insert_point(
    conn: &mut DbConn,
    org_id: i64,
    body: &CreatePoint,
    user_id: i64,
    at: NaiveDateTime,
) -> ApiResult<i64> {
    Ok(diesel::insert_into(service_points::table)
        .values((
            service_points::org_id.eq(org_id),
            service_points::name.eq(body.name.trim()),
            service_points::location.eq(body.location.trim()),
            service_points::point_key.eq(crate::auth::random_token(16)),
            service_points::open_rating.eq(body.open_rating),
            service_points::active.eq(true),
            service_points::created_by.eq(user_id),
            service_points::created_at.eq(at),
            service_points::updated_at.eq(at),
        ))
        .returning(service_points::id)
        .get_result(conn)?)
}

pub fn find_point(conn: &mut DbConn, id: i64) -> ApiResult<PointRow> {
    Ok(service_points::table
        .find(id)
        .select(PointRow::as_select())
        .first(conn)?)
}

pub fn points_of(
    conn: &mut DbConn,
    org_id: i64,
    page: &PageQuery,
) -> ApiResult<(Vec<PointRow>, i64)> {
    let total = service_points::table
        .filter(service_points::org_id.eq(org_id))
        .count()
        .get_result(conn)?;
    let rows = service_points::table
        .filter(service_points::org_id.eq(org_id))
        .order(service_points::id)
        .limit(page.per_page())
        .offset(page.offset())
        .select(PointRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn update_point(
    conn: &mut DbConn,
    id: i64,
    body: &UpdatePoint,
    at: NaiveDateTime,
) -> ApiResult<()> {
    #[derive(AsChangeset)]
    #[diesel(table_name = service_points)]
    struct Changes<'a> {
        name: Option<&'a str>,
        location: Option<&'a str>,
        open_rating: Option<bool>,
        active: Option<bool>,
        updated_at: NaiveDateTime,
    }
    diesel::update(service_points::table.find(id))
        .set(Changes {
            name: body.name.as_deref().map(str::trim),
            location: body.location.as_deref().map(str::trim),
            open_rating: body.open_rating,
            active: body.active,
            updated_at: at,
        })
        .execute(conn)?;
    Ok(())
}

/// Voids a point's unused tickets; answers how many.
pub fn void_tickets(conn: &mut DbConn, point_id: i64) -> ApiResult<usize> {
    Ok(diesel::update(
        service_tickets::table
            .filter(service_tickets::point_id.eq(point_id))
            .filter(service_tickets::state.eq(TicketState::Unused)),
    )
    .set(service_tickets::state.eq(TicketState::Void))
    .execute(conn)?)
}

/// A point by its poster key: (id, org, active, open rating).
pub fn point_by_key(conn: &mut DbConn, key: &str) -> ApiResult<Option<(i64, i64, bool, bool)>> {
    Ok(service_points::table
        .filter(service_points::point_key.eq(key))
        .select((
            service_points::id,
            service_points::org_id,
            service_points::active,
            service_points::open_rating,
        ))
        .first(conn)
        .optional()?)
}

/// The names a rating form shows: the point's and its org's.
pub fn form_point(conn: &mut DbConn, point_id: i64) -> ApiResult<FormPoint> {
    let (name, org_name) = service_points::table
        .inner_join(orgs::table)
        .filter(service_points::id.eq(point_id))
        .select((service_points::name, orgs::name))
        .first::<(String, String)>(conn)?;
    Ok(FormPoint { name, org_name })
}

pub fn point_names(
    conn: &mut DbConn,
    ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, String>> {
    Ok(service_points::table
        .filter(service_points::id.eq_any(ids))
        .select((service_points::id, service_points::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

// Settings.

pub fn settings(conn: &mut DbConn, org_id: i64) -> ApiResult<InstantSettings> {
    Ok(instant_settings::table
        .find(org_id)
        .select((
            instant_settings::resolve_working_days,
            instant_settings::ticket_valid_days,
        ))
        .first::<(i32, i32)>(conn)
        .optional()?
        .map_or_else(InstantSettings::default, |(resolve, valid)| {
            InstantSettings {
                resolve_working_days: resolve,
                ticket_valid_days: valid,
            }
        }))
}

pub fn put_settings(
    conn: &mut DbConn,
    org_id: i64,
    s: &InstantSettings,
    user_id: i64,
    at: NaiveDateTime,
) -> ApiResult<()> {
    diesel::delete(instant_settings::table.find(org_id)).execute(conn)?;
    diesel::insert_into(instant_settings::table)
        .values((
            instant_settings::org_id.eq(org_id),
            instant_settings::resolve_working_days.eq(s.resolve_working_days),
            instant_settings::ticket_valid_days.eq(s.ticket_valid_days),
            instant_settings::updated_by.eq(user_id),
            instant_settings::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

// Tickets.

pub fn insert_tickets(
    conn: &mut DbConn,
    point: &PointRow,
    hashes: &[String],
    expires_at: NaiveDateTime,
) -> ApiResult<()> {
    let rows: Vec<_> = hashes
        .iter()
        .map(|hash| {
            (
                service_tickets::ticket_hash.eq(hash),
                service_tickets::point_id.eq(point.id),
                service_tickets::org_id.eq(point.org_id),
                service_tickets::state.eq(TicketState::Unused),
                service_tickets::expires_at.eq(expires_at),
            )
        })
        .collect();
    crate::insert_batch!(conn, service_tickets::table, &rows)?;
    Ok(())
}

/// Marks tickets used (distinct hashes) if unused and unexpired, in one conditional update,
/// and answers those consumed, each with its point and the point's org: of concurrent uses
/// of one ticket exactly one gets it.
pub fn consume_tickets(
    conn: &mut DbConn,
    hashes: &[&str],
    now: NaiveDateTime,
) -> ApiResult<HashMap<String, (i64, i64)>> {
    let consume = diesel::update(service_tickets::table)
        .filter(service_tickets::ticket_hash.eq_any(hashes))
        .filter(service_tickets::state.eq(TicketState::Unused))
        .filter(service_tickets::expires_at.gt(now))
        .set(service_tickets::state.eq(TicketState::Used))
        .returning((
            service_tickets::ticket_hash,
            service_tickets::point_id,
            service_tickets::org_id,
        ));
    let consumed: Vec<(String, i64, i64)> = match conn {
        // The hashes are one array (`= ANY($1)`): the text never varies, kept prepared (see
        // `db::prepared`).
        DbConn::Pg(pg) => crate::db::prepared(consume).load(pg)?,
        // An `IN` list, parsed per batch.
        DbConn::Sqlite(sqlite) => consume.load(sqlite)?,
    };
    Ok(consumed
        .into_iter()
        .map(|(hash, point, org)| (hash, (point, org)))
        .collect())
}

/// The states of the tickets with these hashes (those that exist) and whether each has
/// expired: read after `consume_tickets` left them unconsumed.
pub fn ticket_states(
    conn: &mut DbConn,
    hashes: &[&str],
    now: NaiveDateTime,
) -> ApiResult<HashMap<String, (TicketState, bool)>> {
    Ok(service_tickets::table
        .filter(service_tickets::ticket_hash.eq_any(hashes))
        .select((
            service_tickets::ticket_hash,
            service_tickets::state,
            service_tickets::expires_at,
        ))
        .load::<(String, TicketState, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(hash, state, expires_at)| (hash, (state, expires_at <= now)))
        .collect())
}

/// A ticket's state and whether it has expired, with its point.
pub fn ticket(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<(TicketState, bool, i64)>> {
    Ok(service_tickets::table
        .filter(service_tickets::ticket_hash.eq(hash))
        .select((
            service_tickets::state,
            service_tickets::expires_at,
            service_tickets::point_id,
        ))
        .first::<(TicketState, NaiveDateTime, i64)>(conn)
        .optional()?
        .map(|(state, expires_at, point)| (state, expires_at <= now, point)))
}

// Ratings.

/// What one rating writes.
pub struct NewRating<'a> {
    pub point_id: i64,
    pub org_id: i64,
    pub day: NaiveDate,
    pub level: InstantLevel,
    pub verified: bool,
    pub comment: Option<&'a str>,
    pub items: &'a [RatingItem],
}

/// Writes a rating (see [`write_ratings`]) and answers its id.
pub fn write_rating(conn: &mut DbConn, r: &NewRating<'_>) -> ApiResult<String> {
    write_ratings(conn, std::slice::from_ref(r))?
        .pop()
        .ok_or_else(|| ApiError::internal("a rating was written without an id"))
}

/// Writes ratings (random ids, the day only) and their items, counts them, and answers
/// their ids in order. On PostgreSQL one statement per table for all of them, taking
/// arrays (see `db::arrays`); on SQLite, in process, rating by rating. The counters are
/// added to once per row, in key order (see [`count_ratings`]).
pub fn write_ratings(conn: &mut DbConn, new: &[NewRating<'_>]) -> ApiResult<Vec<String>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = new.iter().map(|_| crate::auth::random_token(16)).collect();
    match conn {
        DbConn::Pg(pg) => {
            diesel::insert_into(instant_ratings::table)
                .values(diesel::select((
                    unnest_text(&ids),
                    unnest_bigint(new.iter().map(|r| r.point_id).collect::<Vec<_>>()),
                    unnest_bigint(new.iter().map(|r| r.org_id).collect::<Vec<_>>()),
                    unnest_date(new.iter().map(|r| r.day).collect::<Vec<_>>()),
                    unnest_text(new.iter().map(|r| r.level.as_str()).collect::<Vec<_>>()),
                    unnest_bool(new.iter().map(|r| r.verified).collect::<Vec<_>>()),
                    unnest_nullable_text(new.iter().map(|r| r.comment).collect::<Vec<_>>()),
                    false.into_sql::<Bool>(),
                )))
                .into_columns((
                    instant_ratings::id,
                    instant_ratings::point_id,
                    instant_ratings::org_id,
                    instant_ratings::rated_on,
                    instant_ratings::level,
                    instant_ratings::verified,
                    instant_ratings::comment,
                    instant_ratings::excluded,
                ))
                .execute(pg)?;
            let items = || {
                new.iter()
                    .zip(&ids)
                    .flat_map(|(r, id)| r.items.iter().map(move |item| (id, item)))
            };
            if items().next().is_some() {
                diesel::insert_into(instant_rating_items::table)
                    .values(diesel::select((
                        unnest_text(items().map(|(id, _)| id.as_str()).collect::<Vec<_>>()),
                        unnest_integer(items().map(|(_, i)| i.criterion_id).collect::<Vec<_>>()),
                        unnest_text(items().map(|(_, i)| i.level.as_str()).collect::<Vec<_>>()),
                    )))
                    .into_columns((
                        instant_rating_items::rating_id,
                        instant_rating_items::criterion_id,
                        instant_rating_items::level,
                    ))
                    .execute(pg)?;
            }
        }
        DbConn::Sqlite(sqlite) => {
            for (r, id) in new.iter().zip(&ids) {
                diesel::insert_into(instant_ratings::table)
                    .values((
                        instant_ratings::id.eq(id),
                        instant_ratings::point_id.eq(r.point_id),
                        instant_ratings::org_id.eq(r.org_id),
                        instant_ratings::rated_on.eq(r.day),
                        instant_ratings::level.eq(r.level),
                        instant_ratings::verified.eq(r.verified),
                        instant_ratings::comment.eq(r.comment),
                        instant_ratings::excluded.eq(false),
                    ))
                    .execute(sqlite)?;
                let items: Vec<_> = r
                    .items
                    .iter()
                    .map(|item| {
                        (
                            instant_rating_items::rating_id.eq(id),
                            instant_rating_items::criterion_id.eq(item.criterion_id),
                            instant_rating_items::level.eq(item.level),
                        )
                    })
                    .collect();
                if !items.is_empty() {
                    diesel::insert_into(instant_rating_items::table)
                        .values(&items)
                        .execute(sqlite)?;
                }
            }
        }
    }
    count_ratings(conn, new)?;
    Ok(ids)
}

/// Adds ratings to their counter rows (each created at its first rating): a row's ratings
/// summed first (one statement may not change a row twice) and the rows taken in key order,
/// so that two transactions adding to the same rows lock them in the same order. On
/// PostgreSQL one upsert for all rows, taking arrays; on SQLite one upsert per row. Both
/// run often and their text never varies: kept prepared (see `db::prepared`).
fn count_ratings(conn: &mut DbConn, new: &[NewRating<'_>]) -> ApiResult<()> {
    let mut counts: std::collections::BTreeMap<(i64, NaiveDate, &str, bool), (i64, i64)> =
        std::collections::BTreeMap::new();
    for r in new {
        let key = (r.point_id, r.day, r.level.as_str(), r.verified);
        counts.entry(key).or_insert((r.org_id, 0)).1 += 1;
    }
    match conn {
        DbConn::Pg(pg) => {
            let keys = || counts.keys();
            crate::db::prepared(
                diesel::sql_query(
                    "INSERT INTO instant_counts (point_id, rated_on, level, verified, org_id, ratings) \
                     SELECT * FROM unnest($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (point_id, rated_on, level, verified) \
                     DO UPDATE SET ratings = instant_counts.ratings + EXCLUDED.ratings",
                )
                .bind::<Array<BigInt>, _>(keys().map(|k| k.0).collect::<Vec<_>>())
                .bind::<Array<Date>, _>(keys().map(|k| k.1).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(keys().map(|k| k.2).collect::<Vec<_>>())
                .bind::<Array<Bool>, _>(keys().map(|k| k.3).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(counts.values().map(|v| v.0).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(counts.values().map(|v| v.1).collect::<Vec<_>>()),
            )
            .execute(pg)?;
        }
        DbConn::Sqlite(sqlite) => {
            for ((point_id, day, level, verified), (org_id, ratings)) in &counts {
                crate::db::prepared(
                    diesel::insert_into(instant_counts::table)
                        .values((
                            instant_counts::point_id.eq(point_id),
                            instant_counts::rated_on.eq(day),
                            instant_counts::level.eq(level),
                            instant_counts::verified.eq(verified),
                            instant_counts::org_id.eq(org_id),
                            instant_counts::ratings.eq(ratings),
                        ))
                        .on_conflict((
                            instant_counts::point_id,
                            instant_counts::rated_on,
                            instant_counts::level,
                            instant_counts::verified,
                        ))
                        .do_update()
                        .set(instant_counts::ratings.eq(instant_counts::ratings + ratings)),
                )
                .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// Takes an excluded rating out of its counter row.
pub fn uncount_rating(conn: &mut DbConn, rating_id: &str) -> ApiResult<()> {
    let (point, day, level, verified): (i64, NaiveDate, InstantLevel, bool) =
        instant_ratings::table
            .find(rating_id)
            .select((
                instant_ratings::point_id,
                instant_ratings::rated_on,
                instant_ratings::level,
                instant_ratings::verified,
            ))
            .first(conn)?;
    diesel::update(instant_ratings::table.find(rating_id))
        .set(instant_ratings::excluded.eq(true))
        .execute(conn)?;
    diesel::update(
        instant_counts::table
            .filter(instant_counts::point_id.eq(point))
            .filter(instant_counts::rated_on.eq(day))
            .filter(instant_counts::level.eq(level))
            .filter(instant_counts::verified.eq(verified))
            .filter(instant_counts::ratings.gt(0)),
    )
    .set(instant_counts::ratings.eq(instant_counts::ratings - 1))
    .execute(conn)?;
    Ok(())
}

// Cases.

pub struct NewCase<'a> {
    pub rating_id: &'a str,
    pub rating: &'a NewRating<'a>,
    pub contact: Option<String>,
    pub reply_key: Option<String>,
    pub follow_up_due_on: Option<NaiveDate>,
    pub resolve_due_on: NaiveDate,
}

pub fn insert_case(conn: &mut DbConn, c: &NewCase<'_>) -> ApiResult<i64> {
    let status = if c.contact.is_some() {
        CaseStatus::AwaitingFollowUp
    } else {
        CaseStatus::InHandling
    };
    let id = diesel::insert_into(instant_cases::table)
        .values((
            instant_cases::rating_id.eq(c.rating_id),
            instant_cases::point_id.eq(c.rating.point_id),
            instant_cases::org_id.eq(c.rating.org_id),
            instant_cases::level.eq(c.rating.level),
            instant_cases::verified.eq(c.rating.verified),
            instant_cases::comment.eq(c.rating.comment),
            instant_cases::contact.eq(&c.contact),
            instant_cases::reply_key.eq(&c.reply_key),
            instant_cases::status.eq(status),
            instant_cases::opened_on.eq(c.rating.day),
            instant_cases::follow_up_due_on.eq(c.follow_up_due_on),
            instant_cases::resolve_due_on.eq(c.resolve_due_on),
        ))
        .returning(instant_cases::id)
        .get_result(conn)?;
    // Counted from what was just written, not read back.
    let case = CaseCounted {
        point_id: c.rating.point_id,
        org_id: c.rating.org_id,
        opened_on: c.rating.day,
        status,
        follow_up_due_on: c.follow_up_due_on,
        resolve_due_on: c.resolve_due_on,
        resolved_on: None,
    };
    count_case(conn, &case, 1)?;
    Ok(id)
}

/// Adds `delta` to the counter row of a case as it is stored now: +1 when it opens, and
/// around each step −1 before and +1 after (a step may change its status, due day and
/// whether it was resolved on time).
/// What a case's counter row depends on.
#[derive(Queryable, Selectable, Clone, Copy)]
#[diesel(table_name = instant_cases)]
struct CaseCounted {
    point_id: i64,
    org_id: i64,
    opened_on: NaiveDate,
    status: CaseStatus,
    follow_up_due_on: Option<NaiveDate>,
    resolve_due_on: NaiveDate,
    resolved_on: Option<NaiveDate>,
}

/// The counted fields of a case as stored now.
fn counted(conn: &mut DbConn, id: i64) -> ApiResult<CaseCounted> {
    Ok(instant_cases::table
        .find(id)
        .select(CaseCounted::as_select())
        .first(conn)?)
}

fn count_case(conn: &mut DbConn, case: &CaseCounted, delta: i64) -> ApiResult<()> {
    let CaseCounted {
        point_id,
        org_id,
        opened_on,
        status,
        ..
    } = *case;
    let (due_on, on_time) = rules::case_counter_key(
        status,
        case.follow_up_due_on,
        case.resolve_due_on,
        case.resolved_on,
    );
    macro_rules! upsert {
        ($c:expr) => {
            diesel::insert_into(instant_case_counts::table)
                .values((
                    instant_case_counts::point_id.eq(point_id),
                    instant_case_counts::opened_on.eq(opened_on),
                    instant_case_counts::status.eq(status.as_str()),
                    instant_case_counts::due_on.eq(due_on),
                    instant_case_counts::on_time.eq(on_time),
                    instant_case_counts::org_id.eq(org_id),
                    instant_case_counts::cases.eq(delta),
                ))
                .on_conflict((
                    instant_case_counts::point_id,
                    instant_case_counts::opened_on,
                    instant_case_counts::status,
                    instant_case_counts::due_on,
                    instant_case_counts::on_time,
                ))
                .do_update()
                .set(instant_case_counts::cases.eq(instant_case_counts::cases + delta))
                .execute($c)
        };
    }
    match conn {
        DbConn::Pg(c) => upsert!(c)?,
        DbConn::Sqlite(c) => upsert!(c)?,
    };
    Ok(())
}

/// Rebuilds every case counter from the cases themselves (what the migration did first),
/// for data written around the queries (bulk loads, tests that move a due day by hand).
pub const RECOUNT_CASES_SQL: &str = "DELETE FROM instant_case_counts;
    INSERT INTO instant_case_counts (point_id, opened_on, status, due_on, on_time, org_id, cases)
    SELECT point_id, opened_on, status,
           CASE WHEN status = 'awaiting_follow_up' THEN COALESCE(follow_up_due_on, '9999-12-31')
                ELSE resolve_due_on END,
           (resolved_on IS NOT NULL AND resolved_on <= resolve_due_on),
           org_id, COUNT(*)
    FROM instant_cases
    GROUP BY point_id, opened_on, status,
           CASE WHEN status = 'awaiting_follow_up' THEN COALESCE(follow_up_due_on, '9999-12-31')
                ELSE resolve_due_on END,
           (resolved_on IS NOT NULL AND resolved_on <= resolve_due_on),
           org_id;";

pub fn find_case(conn: &mut DbConn, id: i64) -> ApiResult<CaseRow> {
    Ok(instant_cases::table
        .find(id)
        .select(CaseRow::as_select())
        .first(conn)?)
}

/// The case with this reply key, if any.
pub fn case_by_reply_key(conn: &mut DbConn, key: &str) -> ApiResult<Option<CaseRow>> {
    Ok(instant_cases::table
        .filter(instant_cases::reply_key.eq(key))
        .select(CaseRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn rating_of_case(conn: &mut DbConn, id: i64) -> ApiResult<String> {
    Ok(instant_cases::table
        .find(id)
        .select(instant_cases::rating_id)
        .first(conn)?)
}

/// What a step writes besides the status.
#[derive(AsChangeset, Default)]
#[diesel(table_name = instant_cases)]
pub struct CaseChanges {
    pub follow_up_result: Option<FollowUpResult>,
    pub follow_up_note: Option<String>,
    pub followed_up_on: Option<NaiveDate>,
    pub measures: Option<String>,
    pub reply: Option<String>,
    pub resolved_on: Option<NaiveDate>,
    pub appeal_reason: Option<String>,
    pub appealed_on: Option<NaiveDate>,
    pub appeal_decision: Option<AppealDecision>,
    pub decision_note: Option<String>,
    pub decided_on: Option<NaiveDate>,
    pub rectification_id: Option<i64>,
}

/// Moves a case from `from` to `to` with its changes, if it is still at `from`: of two
/// concurrent steps one wins. Answers whether it moved.
pub fn move_case(
    conn: &mut DbConn,
    id: i64,
    from: CaseStatus,
    to: CaseStatus,
    changes: CaseChanges,
    at: NaiveDateTime,
) -> ApiResult<bool> {
    // Out of the counter row it is in now, into the one it is in after (the same one
    // when the step did not happen).
    let before = counted(conn, id)?;
    count_case(conn, &before, -1)?;
    let moved = diesel::update(
        instant_cases::table
            .filter(instant_cases::id.eq(id))
            .filter(instant_cases::status.eq(from)),
    )
    .set((
        instant_cases::status.eq(to),
        instant_cases::updated_at.eq(at),
        changes,
    ))
    .execute(conn)?;
    let after = counted(conn, id)?;
    count_case(conn, &after, 1)?;
    Ok(moved == 1)
}

/// Links a rectification item to a case that has none yet; answers whether it did.
pub fn link_rectification(
    conn: &mut DbConn,
    id: i64,
    item: i64,
    at: NaiveDateTime,
) -> ApiResult<bool> {
    let linked = diesel::update(
        instant_cases::table
            .filter(instant_cases::id.eq(id))
            .filter(instant_cases::rectification_id.is_null()),
    )
    .set((
        instant_cases::rectification_id.eq(item),
        instant_cases::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(linked == 1)
}

/// One page of cases in the scope matching the filter, newest first, and the total.
pub fn list_cases(
    conn: &mut DbConn,
    scope: &Scope,
    within: Option<&str>,
    filter: &CaseListQuery,
    today: NaiveDate,
    page: &PageQuery,
) -> ApiResult<(Vec<CaseRow>, i64)> {
    use crate::orgs::queries::org_column_in_scope;
    let query = || {
        let mut q = instant_cases::table
            .filter(org_column_in_scope("instant_cases.org_id", scope))
            .into_boxed::<MultiBackend>();
        if let Some(path) = within {
            let subtree = Scope::Subtrees(vec![path.to_owned()]);
            q = q.filter(org_column_in_scope("instant_cases.org_id", &subtree));
        }
        if let Some(point) = filter.point_id {
            q = q.filter(instant_cases::point_id.eq(point));
        }
        if let Some(status) = filter.status {
            q = q.filter(instant_cases::status.eq(status));
        }
        let overdue = instant_cases::status
            .eq(CaseStatus::AwaitingFollowUp)
            .and(instant_cases::follow_up_due_on.assume_not_null().lt(today))
            .or(instant_cases::status
                .eq(CaseStatus::InHandling)
                .and(instant_cases::resolve_due_on.lt(today)));
        match filter.overdue {
            Some(true) => q = q.filter(overdue),
            Some(false) => q = q.filter(diesel::dsl::not(overdue)),
            None => {}
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let rows = query()
        .order(instant_cases::id.desc())
        .limit(page.per_page())
        .offset(page.offset())
        .select(CaseRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

// Figures.

/// Counted ratings of one unit or point in a period: (point, day, level, verified, n).
pub type CountRow = (i64, NaiveDate, InstantLevel, bool, i64);

/// Where counts and cases are read: one point, one org, or the window units of a subtree.
#[derive(Clone, Copy)]
pub enum Over<'a> {
    Point(i64),
    Org(i64),
    Subtree(&'a str),
}

pub fn counts(
    conn: &mut DbConn,
    over: Over<'_>,
    first: NaiveDate,
    last: NaiveDate,
) -> ApiResult<Vec<CountRow>> {
    let mut q = instant_counts::table
        .filter(instant_counts::rated_on.between(first, last))
        .filter(instant_counts::ratings.gt(0))
        .into_boxed::<MultiBackend>();
    q = match over {
        Over::Point(id) => q.filter(instant_counts::point_id.eq(id)),
        Over::Org(id) => q.filter(instant_counts::org_id.eq(id)),
        Over::Subtree(path) => q.filter(crate::orgs::queries::org_column_in_scope(
            "instant_counts.org_id",
            &Scope::Subtrees(vec![path.to_owned()]),
        )),
    };
    Ok(q.select((
        instant_counts::point_id,
        instant_counts::rated_on,
        instant_counts::level,
        instant_counts::verified,
        instant_counts::ratings,
    ))
    .load(conn)?)
}

#[derive(QueryableByName)]
pub struct UnitLevelCount {
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = Text)]
    pub level: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Ticketed ratings of every window unit of a subtree in a period, per unit and level.
pub fn subtree_counts(
    conn: &mut DbConn,
    root_path: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> ApiResult<Vec<UnitLevelCount>> {
    const SQL: &str =
        "SELECT c.org_id AS org_id, c.level AS level, CAST(SUM(c.ratings) AS BIGINT) AS n
        FROM instant_counts c JOIN orgs o ON o.id = c.org_id
        WHERE o.path >= $1 AND o.path < $2 AND c.rated_on >= $3 AND c.rated_on <= $4
          AND c.verified = $5
        GROUP BY c.org_id, c.level";
    Ok(load_sql!(conn, UnitLevelCount, SQL,
        Text => root_path,
        Text => subtree_upper_bound(root_path),
        Date => first,
        Date => last,
        Bool => true,
    )?)
}

/// The active window units of a subtree: (id, name).
pub fn window_units(conn: &mut DbConn, root_path: &str) -> ApiResult<Vec<(i64, String)>> {
    Ok(orgs::table
        .filter(orgs::path.ge(root_path.to_owned()))
        .filter(orgs::path.lt(subtree_upper_bound(root_path)))
        .filter(orgs::window_unit.eq(true))
        .filter(orgs::status.eq(OrgStatus::Active))
        .order(orgs::id)
        .select((orgs::id, orgs::name))
        .load(conn)?)
}

#[derive(QueryableByName)]
pub struct CaseCount {
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub on_time: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
}

/// Cases opened in a period, per org and status, with those resolved on time and those
/// overdue today (the same rule as `rules::is_overdue`).
pub fn case_counts(
    conn: &mut DbConn,
    over: Over<'_>,
    first: NaiveDate,
    last: NaiveDate,
    today: NaiveDate,
) -> ApiResult<Vec<CaseCount>> {
    // Read from the counter rows: a few per point and day, not every case of the period.
    const COLUMNS: &str =
        "SELECT k.org_id AS org_id, k.status AS status, CAST(SUM(k.cases) AS BIGINT) AS n,
            CAST(SUM(CASE WHEN k.on_time THEN k.cases ELSE 0 END) AS BIGINT) AS on_time,
            CAST(SUM(CASE WHEN k.status IN ('awaiting_follow_up', 'in_handling') AND k.due_on < $3
                          THEN k.cases ELSE 0 END) AS BIGINT) AS overdue
        FROM instant_case_counts k";
    let period = "k.opened_on >= $1 AND k.opened_on <= $2";
    Ok(match over {
        Over::Point(id) | Over::Org(id) => {
            let column = if matches!(over, Over::Point(_)) {
                "point_id"
            } else {
                "org_id"
            };
            let sql =
                format!("{COLUMNS} WHERE {period} AND k.{column} = $4 GROUP BY k.org_id, k.status HAVING SUM(k.cases) > 0");
            load_sql!(conn, CaseCount, &sql, Date => first, Date => last, Date => today, BigInt => id)?
        }
        Over::Subtree(path) => {
            let sql = format!(
                "{COLUMNS} JOIN orgs o ON o.id = k.org_id WHERE {period} AND o.path >= $4 AND o.path < $5 GROUP BY k.org_id, k.status HAVING SUM(k.cases) > 0"
            );
            load_sql!(conn, CaseCount, &sql,
                Date => first, Date => last, Date => today,
                Text => path, Text => subtree_upper_bound(path))?
        }
    })
}
