//! Figures of instant ratings: per point and per window unit, by day and by month, rankings
//! of window units, and a unit's roll-in beside its campaign results. Read from the counts
//! every rating keeps; the k rule and complementary suppression from `rules`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::model::*;
use super::queries::{self, CaseCount, CountRow, Over};
use super::rules::{self, MIN_RATINGS};
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::orgs::model::OrgRow;

/// Level counts, ticketed and open-QR.
#[derive(Default, Clone)]
struct Split {
    verified: LevelCounts,
    unverified: LevelCounts,
}

impl Split {
    fn add(&mut self, level: InstantLevel, verified: bool, n: i64) {
        let counts = if verified {
            &mut self.verified
        } else {
            &mut self.unverified
        };
        counts.add(level, n);
    }

    fn figures(&self, k: i64) -> SplitFigures {
        SplitFigures {
            verified: rules::figures(&self.verified, k),
            unverified: rules::figures(&self.unverified, k),
        }
    }
}

fn total(rows: &[CountRow]) -> Split {
    let mut split = Split::default();
    for (_, _, level, verified, n) in rows {
        split.add(*level, *verified, *n);
    }
    split
}

/// Each day with ratings, withheld days taking the smallest shown day with them.
fn days(rows: &[CountRow], k: i64) -> Vec<DayFigures> {
    let mut by_day: BTreeMap<NaiveDate, Split> = BTreeMap::new();
    for (_, day, level, verified, n) in rows {
        by_day.entry(*day).or_default().add(*level, *verified, *n);
    }
    let mut days: Vec<DayFigures> = by_day
        .into_iter()
        .map(|(day, split)| {
            let f = split.figures(k);
            DayFigures {
                day,
                verified: f.verified,
                unverified: f.unverified,
            }
        })
        .collect();
    rules::suppress_parts(days.iter_mut().map(|d| &mut d.verified), k);
    rules::suppress_parts(days.iter_mut().map(|d| &mut d.unverified), k);
    days
}

/// Cases counted per status into the figures' shape.
pub fn bad_reviews(counts: &[CaseCount]) -> BadReviews {
    let mut out = BadReviews::default();
    for c in counts {
        out.opened += c.n;
        out.resolved_on_time += c.on_time;
        out.overdue += c.overdue;
        match c.status.parse::<CaseStatus>() {
            Ok(CaseStatus::AwaitingFollowUp) => out.awaiting_follow_up += c.n,
            Ok(CaseStatus::InHandling) => out.in_handling += c.n,
            Ok(CaseStatus::Appealed) => out.appealed += c.n,
            Ok(CaseStatus::Resolved) => out.resolved += c.n,
            Ok(CaseStatus::Upheld) => out.upheld += c.n,
            Err(why) => tracing::error!(status = %c.status, %why, "unknown case status"),
        }
    }
    out
}

/// A month asked about: its name and first and last day.
pub struct Month {
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

pub fn point_figures(
    conn: &mut DbConn,
    point: &PointRow,
    month: &Month,
    today: NaiveDate,
) -> ApiResult<PointFigures> {
    let rows = queries::counts(conn, Over::Point(point.id), month.first, month.last)?;
    let cases = queries::case_counts(conn, Over::Point(point.id), month.first, month.last, today)?;
    Ok(PointFigures {
        point_id: point.id,
        name: point.name.clone(),
        org_id: point.org_id,
        month: month.name.clone(),
        total: total(&rows).figures(MIN_RATINGS),
        bad_reviews: bad_reviews(&cases),
        days: days(&rows, MIN_RATINGS),
    })
}

pub fn unit_figures(
    conn: &mut DbConn,
    org: &OrgRow,
    month: &Month,
    today: NaiveDate,
) -> ApiResult<UnitFigures> {
    let rows = queries::counts(conn, Over::Org(org.id), month.first, month.last)?;
    let cases = queries::case_counts(conn, Over::Org(org.id), month.first, month.last, today)?;
    let mut by_point: BTreeMap<i64, Split> = BTreeMap::new();
    for (point, _, level, verified, n) in &rows {
        by_point
            .entry(*point)
            .or_default()
            .add(*level, *verified, *n);
    }
    let ids: Vec<i64> = by_point.keys().copied().collect();
    let mut names = queries::point_names(conn, &ids)?;
    let mut points: Vec<PointMonth> = by_point
        .into_iter()
        .map(|(point_id, split)| {
            let f = split.figures(MIN_RATINGS);
            PointMonth {
                point_id,
                name: names.remove(&point_id).unwrap_or_default(),
                verified: f.verified,
                unverified: f.unverified,
            }
        })
        .collect();
    rules::suppress_parts(points.iter_mut().map(|p| &mut p.verified), MIN_RATINGS);
    rules::suppress_parts(points.iter_mut().map(|p| &mut p.unverified), MIN_RATINGS);
    Ok(UnitFigures {
        org_id: org.id,
        name: org.name.clone(),
        month: month.name.clone(),
        total: total(&rows).figures(MIN_RATINGS),
        bad_reviews: bad_reviews(&cases),
        days: days(&rows, MIN_RATINGS),
        points,
    })
}

/// The window units of a subtree ranked over a month's ticketed ratings.
pub fn ranking(
    conn: &mut DbConn,
    root_path: &str,
    month: &Month,
    today: NaiveDate,
) -> ApiResult<Vec<InstantRankingItem>> {
    let mut counts: HashMap<i64, LevelCounts> = HashMap::new();
    for row in queries::subtree_counts(conn, root_path, month.first, month.last)? {
        let level: InstantLevel = row
            .level
            .parse()
            .map_err(crate::error::ApiError::internal)?;
        counts.entry(row.org_id).or_default().add(level, row.n);
    }
    let mut cases: HashMap<i64, (i64, i64)> = HashMap::new();
    for c in queries::case_counts(
        conn,
        Over::Subtree(root_path),
        month.first,
        month.last,
        today,
    )? {
        let entry = cases.entry(c.org_id).or_default();
        entry.0 += c.n;
        entry.1 += c.overdue;
    }
    let units = queries::window_units(conn, root_path)?
        .into_iter()
        .map(|(org_id, name)| {
            let (bad_reviews, overdue) = cases.get(&org_id).copied().unwrap_or_default();
            InstantRankingItem {
                rank: None,
                org_id,
                name,
                figures: rules::figures(&counts.remove(&org_id).unwrap_or_default(), MIN_RATINGS),
                bad_reviews,
                overdue,
            }
        })
        .collect();
    Ok(rules::rank(units))
}

/// A window unit's ratings over a campaign's dates, under the campaign's k.
pub fn roll_in(
    conn: &mut DbConn,
    org_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    k: i64,
    today: NaiveDate,
) -> ApiResult<InstantRollIn> {
    let rows = queries::counts(conn, Over::Org(org_id), from, to)?;
    let cases = queries::case_counts(conn, Over::Org(org_id), from, to, today)?;
    Ok(InstantRollIn {
        from,
        to,
        figures: total(&rows).figures(k.max(MIN_RATINGS)),
        bad_reviews: bad_reviews(&cases),
    })
}
