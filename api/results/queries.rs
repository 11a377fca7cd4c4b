//! The results area's queries: tallies written at close (the only reader of the ballots'
//! ratings), and the reads of results, roll-ups, rankings and coverage, which read tallies
//! only.

use std::collections::HashMap;

use diesel::dsl::{count_star, exists, not};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use super::model::{
    CategoryTally, CountedRating, MissingMember, OrgRef, OrgSums, RankedRow, ScopeOrg,
    SessionTallies, SessionsByStatus, SubjectBallots, SubjectInfo, SubjectTally, TalliedSession,
    Tally,
};
use super::rules;
use crate::auth::policy::subtree_upper_bound;
use crate::ballots::model::ParticipantCategory;
use crate::ballots::rules::unpack_ratings;
use crate::campaigns::model::CampaignRow;
use crate::db::schema::{
    ballots, category_tallies, instant_counts, orgs, people, session_subjects, sessions,
    subject_tallies, tallies,
};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::orgs::model::{Domain, OrgStatus};
use crate::people::model::PersonStatus;
use crate::sessions::model::{SessionKind, SessionStatus};
use crate::templates::model::SubjectType;
use crate::{insert_batch, load_sql};

/// Rows per INSERT statement (PostgreSQL allows 65,535 parameters; a tally row has 10).
const INSERT_CHUNK: usize = 2000;

/// `orgs.path` inside the subtree at a path (usable in joins, unlike the boxed filter).
macro_rules! within {
    ($root_path:expr) => {
        orgs::path
            .ge($root_path.to_owned())
            .and(orgs::path.lt(subtree_upper_bound($root_path)))
    };
}

// Writing tallies.

/// Computes the tallies of closing sessions from their ratings and stores them, in the
/// caller's (closing) transaction.
pub fn materialize(conn: &mut DbConn, session_ids: &[i64]) -> ApiResult<()> {
    for &session_id in session_ids {
        let fresh = compute(conn, session_id)?;
        replace(conn, session_id, &fresh)?;
    }
    Ok(())
}

/// Recomputes a closed session's tallies from its ballots and stores them; whether they
/// agreed with the stored ones (`pingyi retally`).
pub fn retally(conn: &mut DbConn, session_id: i64) -> ApiResult<bool> {
    let status: SessionStatus = sessions::table
        .find(session_id)
        .select(sessions::status)
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    rules::results_shown(status)?;
    let fresh = compute(conn, session_id)?;
    let agreed = sorted(stored(conn, session_id)?) == sorted(fresh.clone());
    replace(conn, session_id, &fresh)?;
    Ok(agreed)
}

/// Tallies the closed sessions that have none (closed before tallies were stored); how
/// many. Run at startup, so an upgraded database shows the results it showed before.
pub fn tally_untallied(conn: &mut DbConn) -> ApiResult<usize> {
    let untallied: Vec<i64> = sessions::table
        .filter(sessions::status.eq(SessionStatus::Closed))
        .filter(not(exists(
            subject_tallies::table.filter(subject_tallies::session_id.eq(sessions::id)),
        )))
        .filter(exists(
            session_subjects::table.filter(session_subjects::session_id.eq(sessions::id)),
        ))
        .select(sessions::id)
        .load(conn)?;
    if !untallied.is_empty() {
        crate::db::write_transaction(conn, |conn| materialize(conn, &untallied))?;
    }
    Ok(untallied.len())
}

/// Tallies in one order, to compare two sets of them.
fn sorted(mut t: SessionTallies) -> SessionTallies {
    t.tallies.sort_by(|a, b| {
        (a.subject_id, a.criterion_id, &a.level).cmp(&(b.subject_id, b.criterion_id, &b.level))
    });
    t.categories.sort_by(|a, b| {
        (a.subject_id, a.category.as_str()).cmp(&(b.subject_id, b.category.as_str()))
    });
    t.subjects.sort_by_key(|s| s.subject_id);
    t
}

/// What a session's tallies are, computed from its ballots now.
pub fn compute(conn: &mut DbConn, session_id: i64) -> ApiResult<SessionTallies> {
    let (campaign_id, org_id, domain): (i64, i64, Domain) = sessions::table
        .find(session_id)
        .select((sessions::campaign_id, sessions::org_id, sessions::domain))
        .first(conn)?;
    // The campaign's own reader of its frozen templates, not a second parser of the column.
    let frozen = crate::campaigns::queries::find(conn, campaign_id)?
        .frozen()?
        .ok_or_else(|| {
            ApiError::internal("a tallied session's campaign has no frozen templates")
        })?;
    let subjects = subjects(conn, session_id)?;
    let (counted, subject_ballots) = counted_ratings(conn, session_id)?;
    let session = TalliedSession {
        session_id,
        campaign_id,
        org_id,
    };
    rules::materialize(
        session,
        &subjects,
        frozen.for_domain(domain),
        &counted,
        &subject_ballots,
    )
}

/// Ballots read per query while counting a session's ratings: memory stays bounded
/// however large the session.
const COUNT_PAGE: i64 = 2000;

/// The ratings of a session counted per (subject, criterion, level, category), and its
/// ballots per (subject, category): its ballots read in pages by id, each ballot's ratings
/// unpacked from its row.
fn counted_ratings(
    conn: &mut DbConn,
    session_id: i64,
) -> ApiResult<(Vec<CountedRating>, Vec<SubjectBallots>)> {
    let mut counter = rules::BallotCounter::default();
    let mut after = String::new();
    loop {
        let page: Vec<(String, ParticipantCategory, String)> = ballots::table
            .filter(ballots::session_id.eq(session_id))
            .filter(ballots::id.gt(&after))
            .order(ballots::id)
            .limit(COUNT_PAGE)
            .select((ballots::id, ballots::category, ballots::ratings))
            .load(conn)?;
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = last.clone();
        for (_, category, stored) in &page {
            counter.add(*category, unpack_ratings(stored)?);
        }
    }
    Ok(counter.finish())
}

/// Replaces a session's stored tallies with `fresh`.
pub fn replace(conn: &mut DbConn, session_id: i64, fresh: &SessionTallies) -> ApiResult<()> {
    diesel::delete(tallies::table.filter(tallies::session_id.eq(session_id))).execute(conn)?;
    diesel::delete(category_tallies::table.filter(category_tallies::session_id.eq(session_id)))
        .execute(conn)?;
    diesel::delete(subject_tallies::table.filter(subject_tallies::session_id.eq(session_id)))
        .execute(conn)?;
    for chunk in fresh.subjects.chunks(INSERT_CHUNK) {
        insert_batch!(conn, subject_tallies::table, chunk)?;
    }
    for chunk in fresh.categories.chunks(INSERT_CHUNK) {
        insert_batch!(conn, category_tallies::table, chunk)?;
    }
    for chunk in fresh.tallies.chunks(INSERT_CHUNK) {
        insert_batch!(conn, tallies::table, chunk)?;
    }
    Ok(())
}

// Reading a session's results.

/// A session's subjects, in ballot order.
pub fn subjects(conn: &mut DbConn, session_id: i64) -> ApiResult<Vec<SubjectInfo>> {
    Ok(session_subjects::table
        .filter(session_subjects::session_id.eq(session_id))
        .order((session_subjects::position, session_subjects::id))
        .select(SubjectInfo::as_select())
        .load(conn)?)
}

/// A session's stored tallies, in a stable order (so two reads compare equal).
pub fn stored(conn: &mut DbConn, session_id: i64) -> ApiResult<SessionTallies> {
    Ok(SessionTallies {
        tallies: tallies::table
            .filter(tallies::session_id.eq(session_id))
            .order((tallies::subject_id, tallies::criterion_id, tallies::level))
            .select(Tally::as_select())
            .load(conn)?,
        categories: category_tallies::table
            .filter(category_tallies::session_id.eq(session_id))
            .order((category_tallies::subject_id, category_tallies::category))
            .select(CategoryTally::as_select())
            .load(conn)?,
        subjects: subject_tallies::table
            .filter(subject_tallies::session_id.eq(session_id))
            .order(subject_tallies::subject_id)
            .select(SubjectTally::as_select())
            .load(conn)?,
    })
}

/// Ballots cast in a session (with codes and on paper).
pub fn ballots_cast(conn: &mut DbConn, session_id: i64) -> ApiResult<i64> {
    Ok(ballots::table
        .filter(ballots::session_id.eq(session_id))
        .count()
        .get_result(conn)?)
}

// Roll-ups.

/// The orgs of the subtree at `root` (the root, active orgs, and archived ones holding
/// tallies of this campaign), each with its units of `subject_type` in scope: nothing for
/// the campaign's owner or archived orgs; one for an active org (`org`), one for an active
/// org with a secretary (`secretary`), its active people (`member`).
pub fn scope_orgs(
    conn: &mut DbConn,
    root_path: &str,
    owner_id: i64,
    subject_type: SubjectType,
) -> ApiResult<Vec<ScopeOrg>> {
    type Row = (i64, Option<i64>, String, String, OrgStatus, Option<i64>);
    let rows: Vec<Row> = orgs::table
        .filter(within!(root_path))
        .select((
            orgs::id,
            orgs::parent_id,
            orgs::name,
            orgs::path,
            orgs::status,
            orgs::secretary_id,
        ))
        .load(conn)?;
    let members: HashMap<i64, i64> = if subject_type == SubjectType::Member {
        people::table
            .inner_join(orgs::table)
            .filter(within!(root_path))
            .filter(people::status.eq(PersonStatus::Active))
            .group_by(people::org_id)
            .select((people::org_id, count_star()))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    Ok(rows
        .into_iter()
        .map(|(id, parent_id, name, path, status, secretary)| {
            let active = status == OrgStatus::Active;
            let counted = active && id != owner_id;
            let units_in_scope = match subject_type {
                _ if !counted => 0,
                SubjectType::Org => 1,
                SubjectType::Secretary => i64::from(secretary.is_some()),
                SubjectType::Member => members.get(&id).copied().unwrap_or(0),
            };
            ScopeOrg {
                id,
                parent_id,
                name,
                path,
                active,
                units_in_scope,
            }
        })
        .collect())
}

/// The sums of [`OrgSums`] over the rows `st` of `subject_tallies` in a group: ballots of
/// every unit, rates only of units with at least k ($3) ballots (so that no withheld unit
/// can be recovered by subtraction), and units flagged under the threshold ($4).
macro_rules! unit_sums {
    () => {
        "CAST(SUM(CASE WHEN st.ballots > 0 THEN 1 ELSE 0 END) AS BIGINT) AS evaluated,
        CAST(COALESCE(SUM(st.ballots), 0) AS BIGINT) AS ballots,
        CAST(SUM(CASE WHEN st.ballots >= $3 THEN 1 ELSE 0 END) AS BIGINT) AS shown,
        CAST(SUM(CASE WHEN st.ballots >= $3 THEN st.valid ELSE 0 END) AS BIGINT) AS valid,
        CAST(SUM(CASE WHEN st.ballots >= $3 THEN st.satisfied ELSE 0 END) AS BIGINT)
            AS satisfied,
        CAST(SUM(CASE WHEN st.ballots >= $3 THEN st.points ELSE 0 END) AS BIGINT) AS points,
        CAST(SUM(CASE WHEN st.ballots >= $3
            THEN CAST(st.satisfied AS DOUBLE PRECISION) / NULLIF(st.valid, 0) ELSE 0 END)
            AS DOUBLE PRECISION) AS rate_sum,
        CAST(SUM(CASE WHEN st.ballots >= $3
            THEN CAST(st.points AS DOUBLE PRECISION) / NULLIF(st.valid, 0) ELSE 0 END)
            AS DOUBLE PRECISION) AS score_sum,
        CAST(SUM(CASE WHEN st.ballots >= $3
            AND CAST(st.satisfied AS DOUBLE PRECISION) / NULLIF(st.valid, 0) < $4
            THEN 1 ELSE 0 END) AS BIGINT) AS flagged,"
    };
}

/// The tallied units of `subject_type` of a campaign in the subtree at `root_path`, summed
/// per org in the database (see `unit_sums!`), with each org's own unit (`org`,
/// `secretary`: one per org and campaign).
pub fn org_sums(
    conn: &mut DbConn,
    campaign_id: i64,
    subject_type: SubjectType,
    root_path: &str,
    k: i64,
    threshold: f64,
) -> ApiResult<Vec<OrgSums>> {
    const SQL: &str = concat!(
        "SELECT st.org_id AS org_id, ",
        unit_sums!(),
        "
            MAX(st.ballots) AS own_ballots,
            MAX(st.valid) AS own_valid,
            MAX(st.satisfied) AS own_satisfied,
            MAX(st.points) AS own_points,
            MAX(st.subject_id) AS own_subject_id,
            CAST(0 AS BIGINT) AS units
        FROM subject_tallies st
        JOIN orgs o ON o.id = st.org_id
        WHERE st.campaign_id = $1 AND st.subject_type = $2
            AND o.path >= $5 AND o.path < $6
        GROUP BY st.org_id"
    );
    Ok(load_sql!(conn, OrgSums, SQL,
        BigInt => campaign_id,
        Text => subject_type.as_str(),
        BigInt => k,
        Double => threshold,
        Text => root_path,
        Text => subtree_upper_bound(root_path),
    )?)
}

/// The same sums for each direct child of the org `root_id`, over the child's whole
/// subtree, computed in one aggregate (the roll-up reads one row per child, however large
/// the tree); `own_*` is the child's own unit. For `org` and `secretary` (one unit per org)
/// the same pass counts the units in scope (`units`), and every child has a row; members
/// are counted by [`children_in_scope`].
pub fn child_sums(
    conn: &mut DbConn,
    campaign_id: i64,
    subject_type: SubjectType,
    root_id: i64,
    k: i64,
    threshold: f64,
) -> ApiResult<Vec<OrgSums>> {
    const PER_ORG: &str = concat!(
        "SELECT d.id AS org_id, ",
        unit_sums!(),
        "
            MAX(CASE WHEN o.id = d.id THEN st.ballots END) AS own_ballots,
            MAX(CASE WHEN o.id = d.id THEN st.valid END) AS own_valid,
            MAX(CASE WHEN o.id = d.id THEN st.satisfied END) AS own_satisfied,
            MAX(CASE WHEN o.id = d.id THEN st.points END) AS own_points,
            MAX(CASE WHEN o.id = d.id THEN st.subject_id END) AS own_subject_id,
            CAST(SUM(CASE WHEN o.status = 'active' AND ($6 = 0 OR o.secretary_id IS NOT NULL)
                THEN 1 ELSE 0 END) AS BIGINT) AS units
        FROM orgs d
        JOIN orgs o ON o.path >= d.path
            AND o.path < substr(d.path, 1, length(d.path) - 1) || '0'
        LEFT JOIN subject_tallies st ON st.org_id = o.id
            AND st.campaign_id = $1 AND st.subject_type = $2
        WHERE d.parent_id = $5
        GROUP BY d.id"
    );
    const PER_MEMBER: &str = concat!(
        "SELECT d.id AS org_id, ",
        unit_sums!(),
        "
            CAST(NULL AS BIGINT) AS own_ballots,
            CAST(NULL AS BIGINT) AS own_valid,
            CAST(NULL AS BIGINT) AS own_satisfied,
            CAST(NULL AS BIGINT) AS own_points,
            CAST(NULL AS BIGINT) AS own_subject_id,
            CAST(0 AS BIGINT) AS units
        FROM orgs d
        JOIN orgs o ON o.path >= d.path
            AND o.path < substr(d.path, 1, length(d.path) - 1) || '0'
        JOIN subject_tallies st ON st.org_id = o.id
        WHERE d.parent_id = $5 AND st.campaign_id = $1 AND st.subject_type = $2
            AND $6 = $6
        GROUP BY d.id"
    );
    let sql = if subject_type == SubjectType::Member {
        PER_MEMBER
    } else {
        PER_ORG
    };
    Ok(load_sql!(conn, OrgSums, sql,
        BigInt => campaign_id,
        Text => subject_type.as_str(),
        BigInt => k,
        Double => threshold,
        BigInt => root_id,
        BigInt => i64::from(subject_type == SubjectType::Secretary),
    )?)
}

/// The direct children of `root_id`, each with the units of `subject_type` in scope in its
/// whole subtree (see [`scope_orgs`]; the campaign's owner is never below a root): counted
/// by [`child_sums`] for orgs and secretaries (`sums`), here for members.
pub fn children_in_scope(
    conn: &mut DbConn,
    root_id: i64,
    subject_type: SubjectType,
    sums: &[OrgSums],
) -> ApiResult<Vec<ScopeOrg>> {
    #[derive(QueryableByName)]
    struct Units {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        units: i64,
    }
    const MEMBERS: &str = "
        SELECT d.id AS id, CAST(COUNT(*) AS BIGINT) AS units
        FROM orgs d
        JOIN orgs o ON o.path >= d.path
            AND o.path < substr(d.path, 1, length(d.path) - 1) || '0'
        JOIN people p ON p.org_id = o.id
        WHERE d.parent_id = $1 AND o.status = 'active' AND p.status = 'active'
        GROUP BY d.id";
    let units: HashMap<i64, i64> = match subject_type {
        SubjectType::Member => load_sql!(conn, Units, MEMBERS, BigInt => root_id)?
            .into_iter()
            .map(|u| (u.id, u.units))
            .collect(),
        _ => sums.iter().map(|s| (s.org_id, s.units)).collect(),
    };
    let children: Vec<(i64, String, String, OrgStatus)> = orgs::table
        .filter(orgs::parent_id.eq(root_id))
        .select((orgs::id, orgs::name, orgs::path, orgs::status))
        .load(conn)?;
    Ok(children
        .into_iter()
        .map(|(id, name, path, status)| ScopeOrg {
            id,
            parent_id: Some(root_id),
            name,
            path,
            active: status == OrgStatus::Active,
            units_in_scope: units.get(&id).copied().unwrap_or(0),
        })
        .collect())
}

/// The org's own units of `subject_type` in scope (as [`scope_orgs`] counts them).
pub fn own_units(
    conn: &mut DbConn,
    org: &crate::orgs::model::OrgRow,
    owner_id: i64,
    subject_type: SubjectType,
) -> ApiResult<i64> {
    if org.status != OrgStatus::Active || org.id == owner_id {
        return Ok(0);
    }
    Ok(match subject_type {
        SubjectType::Org => 1,
        SubjectType::Secretary => i64::from(org.secretary_id.is_some()),
        SubjectType::Member => people::table
            .filter(people::org_id.eq(org.id))
            .filter(people::status.eq(PersonStatus::Active))
            .count()
            .get_result(conn)?,
    })
}

/// The org's own unit's sums (`org`, `secretary`), or its members' (`member`).
pub fn own_sums(
    conn: &mut DbConn,
    campaign_id: i64,
    subject_type: SubjectType,
    org_id: i64,
    k: i64,
    threshold: f64,
) -> ApiResult<Option<OrgSums>> {
    const SQL: &str = concat!(
        "SELECT st.org_id AS org_id, ",
        unit_sums!(),
        "
            MAX(st.ballots) AS own_ballots,
            MAX(st.valid) AS own_valid,
            MAX(st.satisfied) AS own_satisfied,
            MAX(st.points) AS own_points,
            MAX(st.subject_id) AS own_subject_id,
            CAST(0 AS BIGINT) AS units
        FROM subject_tallies st
        WHERE st.campaign_id = $1 AND st.subject_type = $2 AND st.org_id = $5
        GROUP BY st.org_id"
    );
    Ok(load_sql!(conn, OrgSums, SQL,
        BigInt => campaign_id,
        Text => subject_type.as_str(),
        BigInt => k,
        Double => threshold,
        BigInt => org_id,
    )?
    .pop())
}

// Rankings.

/// The joins and conditions of a ranking, after `FROM subject_tallies st`: the campaign
/// ($1), the subject type ($2), the subtree's path range ($4, $5), the optional domain ($6)
/// and session kind ($7).
macro_rules! ranking_filter {
    () => {
        "
        JOIN sessions s ON s.id = st.session_id
        JOIN orgs o ON o.id = st.org_id
        WHERE st.campaign_id = $1 AND st.subject_type = $2
            AND o.path >= $4 AND o.path < $5
            AND ($6 IS NULL OR s.domain = $6)
            AND ($7 IS NULL OR s.kind = $7)
        "
    };
}

/// What a ranking covers.
pub struct RankingFilter<'a> {
    pub campaign_id: i64,
    pub subject_type: SubjectType,
    pub root_path: &'a str,
    pub domain: Option<Domain>,
    pub kind: Option<SessionKind>,
}

/// One page of a ranking, ranked in the database: standard competition ranks by the exact
/// rate, then the exact score (ties by subject id, the same on both backends); subjects
/// under `k` ballots after every ranked one, by subject id (never in the order of their
/// hidden figures). With the ranking's size and how many are
/// ranked.
pub fn ranking(
    conn: &mut DbConn,
    filter: &RankingFilter<'_>,
    k: i64,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<RankedRow>, i64, i64)> {
    const SQL: &str = concat!(
        "SELECT * FROM (
            SELECT st.subject_id AS subject_id, st.subject_type AS subject_type,
                st.org_id AS org_id, o.name AS org_name, st.person_id AS person_id,
                ss.name AS name, st.ballots AS ballots, st.valid AS valid,
                st.satisfied AS satisfied, st.points AS points,
                CAST(RANK() OVER (ORDER BY
                    CASE WHEN st.ballots >= $3 THEN 0 ELSE 1 END,
                    CASE WHEN st.ballots >= $3
                        THEN CAST(st.satisfied AS DOUBLE PRECISION) / st.valid END DESC,
                    CASE WHEN st.ballots >= $3
                        THEN CAST(st.points AS DOUBLE PRECISION) / st.valid END DESC
                ) AS BIGINT) AS rank,
                CAST(COUNT(*) OVER () AS BIGINT) AS total,
                CAST(SUM(CASE WHEN st.ballots >= $3 THEN 1 ELSE 0 END) OVER () AS BIGINT)
                    AS ranked
            FROM subject_tallies st
            JOIN session_subjects ss ON ss.id = st.subject_id",
        ranking_filter!(),
        ") ranking
        ORDER BY CASE WHEN ballots >= $3 THEN rank ELSE total + 1 END, subject_id
        LIMIT $8 OFFSET $9"
    );
    let rows = load_sql!(conn, RankedRow, SQL,
        BigInt => filter.campaign_id,
        Text => filter.subject_type.as_str(),
        BigInt => k,
        Text => filter.root_path,
        Text => subtree_upper_bound(filter.root_path),
        Nullable<Text> => filter.domain.map(|d| d.as_str()),
        Nullable<Text> => filter.kind.map(|d| d.as_str()),
        BigInt => limit,
        BigInt => offset,
    )?;
    let (total, ranked) = match rows.first() {
        Some(first) => (first.total, first.ranked),
        // Past the last page (or nothing at all): count without ranking.
        None => {
            let counts = ranking_size(conn, filter, k)?;
            (counts.total, counts.ranked)
        }
    };
    Ok((rows, total, ranked))
}

#[derive(QueryableByName)]
struct RankingSize {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    ranked: i64,
}

fn ranking_size(conn: &mut DbConn, filter: &RankingFilter<'_>, k: i64) -> ApiResult<RankingSize> {
    const SQL: &str = concat!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS total,
            CAST(COALESCE(SUM(CASE WHEN st.ballots >= $3 THEN 1 ELSE 0 END), 0) AS BIGINT)
                AS ranked
        FROM subject_tallies st",
        ranking_filter!()
    );
    let mut rows = load_sql!(conn, RankingSize, SQL,
        BigInt => filter.campaign_id,
        Text => filter.subject_type.as_str(),
        BigInt => k,
        Text => filter.root_path,
        Text => subtree_upper_bound(filter.root_path),
        Nullable<Text> => filter.domain.map(|d| d.as_str()),
        Nullable<Text> => filter.kind.map(|d| d.as_str()),
    )?;
    rows.pop()
        .ok_or_else(|| ApiError::internal("a count returned no row"))
}

// Coverage.

/// What coverage counts over: the active orgs of the subtree below the campaign's owner.
macro_rules! in_scope {
    ($root_path:expr, $owner_id:expr) => {
        within!($root_path)
            .and(orgs::status.eq(OrgStatus::Active))
            .and(orgs::id.ne($owner_id))
    };
}

/// Whether a closed session of the campaign rated the org on at least one ballot, or (a
/// window unit) a ticketed instant rating inside the campaign's dates counted for it.
macro_rules! org_evaluated {
    ($campaign:expr) => {
        exists(
            subject_tallies::table
                .filter(subject_tallies::campaign_id.eq($campaign.id))
                .filter(subject_tallies::subject_type.eq(SubjectType::Org))
                .filter(subject_tallies::org_id.eq(orgs::id))
                .filter(subject_tallies::ballots.gt(0)),
        )
        .or(orgs::window_unit.and(instant_rated!($campaign)))
    };
}

/// Whether the org has a ticketed instant rating counted inside the campaign's dates.
macro_rules! instant_rated {
    ($campaign:expr) => {
        exists(
            instant_counts::table
                .filter(instant_counts::org_id.eq(orgs::id))
                .filter(instant_counts::rated_on.between($campaign.starts_on, $campaign.ends_on))
                .filter(instant_counts::verified.eq(true))
                .filter(instant_counts::ratings.gt(0)),
        )
    };
}

/// Whether a closed session of the campaign rated the person on at least one ballot (as a
/// member, or as the secretary).
macro_rules! member_evaluated {
    ($campaign_id:expr) => {
        exists(
            subject_tallies::table
                .filter(subject_tallies::campaign_id.eq($campaign_id))
                .filter(
                    subject_tallies::subject_type
                        .eq_any([SubjectType::Member, SubjectType::Secretary]),
                )
                .filter(subject_tallies::person_id.eq(people::id.nullable()))
                .filter(subject_tallies::ballots.gt(0)),
        )
    };
}

/// Orgs in scope, those evaluated, and the window units rated by instant ratings.
pub fn org_coverage(
    conn: &mut DbConn,
    campaign: &CampaignRow,
    root_path: &str,
    owner_id: i64,
) -> ApiResult<(i64, i64, i64)> {
    let in_scope_count = orgs::table
        .filter(in_scope!(root_path, owner_id))
        .count()
        .get_result(conn)?;
    let evaluated = orgs::table
        .filter(in_scope!(root_path, owner_id))
        .filter(org_evaluated!(campaign))
        .count()
        .get_result(conn)?;
    let instant = orgs::table
        .filter(in_scope!(root_path, owner_id))
        .filter(orgs::window_unit)
        .filter(instant_rated!(campaign))
        .count()
        .get_result(conn)?;
    Ok((in_scope_count, evaluated, instant))
}

/// Active members of the orgs in scope, and those evaluated.
pub fn member_coverage(
    conn: &mut DbConn,
    campaign_id: i64,
    root_path: &str,
    owner_id: i64,
) -> ApiResult<(i64, i64)> {
    let members = || {
        people::table
            .inner_join(orgs::table)
            .filter(in_scope!(root_path, owner_id))
            .filter(people::status.eq(PersonStatus::Active))
    };
    let in_scope_count = members().count().get_result(conn)?;
    let evaluated = members()
        .filter(member_evaluated!(campaign_id))
        .count()
        .get_result(conn)?;
    Ok((in_scope_count, evaluated))
}

/// One page of the orgs in scope not evaluated, by id.
pub fn missing_orgs(
    conn: &mut DbConn,
    campaign: &CampaignRow,
    root_path: &str,
    owner_id: i64,
    limit: i64,
    offset: i64,
) -> ApiResult<Vec<OrgRef>> {
    Ok(orgs::table
        .filter(in_scope!(root_path, owner_id))
        .filter(not(org_evaluated!(campaign)))
        .order(orgs::id)
        .limit(limit)
        .offset(offset)
        .select((orgs::id, orgs::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| OrgRef { id, name })
        .collect())
}

/// One page of the members in scope not evaluated, by id.
pub fn missing_members(
    conn: &mut DbConn,
    campaign_id: i64,
    root_path: &str,
    owner_id: i64,
    limit: i64,
    offset: i64,
) -> ApiResult<Vec<MissingMember>> {
    Ok(people::table
        .inner_join(orgs::table)
        .filter(in_scope!(root_path, owner_id))
        .filter(people::status.eq(PersonStatus::Active))
        .filter(not(member_evaluated!(campaign_id)))
        .order(people::id)
        .limit(limit)
        .offset(offset)
        .select((people::id, people::name, people::org_id))
        .load(conn)?)
}

/// The campaign's sessions in the subtree, by status.
pub fn sessions_by_status(
    conn: &mut DbConn,
    campaign_id: i64,
    root_path: &str,
) -> ApiResult<SessionsByStatus> {
    let counts: Vec<(SessionStatus, i64)> = sessions::table
        .inner_join(orgs::table)
        .filter(sessions::campaign_id.eq(campaign_id))
        .filter(within!(root_path))
        .group_by(sessions::status)
        .select((sessions::status, count_star()))
        .load(conn)?;
    let of = |status| {
        counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    Ok(SessionsByStatus {
        scheduled: of(SessionStatus::Scheduled),
        open: of(SessionStatus::Open),
        closed: of(SessionStatus::Closed),
    })
}
