//! Pure tallies and the secrecy floor: rates and scores from counts, what a session's close
//! stores, what may be shown of it, roll-ups over the tree and rankings.
//!
//! A criterion's satisfaction rate is (ratings at a `satisfied` level) / (valid ratings);
//! its score is the average of the level scores. A subject's own figures pool its
//! criteria. A subject rated on fewer than k ballots shows only its ballot count, and a
//! per-category breakdown is shown only where it cannot single out a small group.

use std::collections::{BTreeMap, HashMap};

use super::model::{
    CategoryResult, CategoryTally, CountedRating, CriterionResult, Figures, OrgResults, OrgSums,
    RankedRow, RankingItem, Rates, ScopeOrg, SessionTallies, SubjectBallots, SubjectInfo,
    SubjectResult, SubjectTally, SubtreeFigures, TalliedSession, Tally,
};
use crate::auth::policy::path_ids;
use crate::ballots::model::ParticipantCategory;
use crate::ballots::rules::StoredRating;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::sessions::model::SessionStatus;
use crate::templates::model::{SubjectType, Template};

/// k is never below this: a figure of one or two ballots tells who voted how.
pub const MIN_K: i32 = 3;

/// Results are shown once a session is closed, never while ballots may still be cast.
pub fn results_shown(status: SessionStatus) -> ApiResult<()> {
    if status != SessionStatus::Closed {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotClosed,
            "Results are shown once the session is closed.",
        ));
    }
    Ok(())
}

/// Sums toward a rate and a score: valid ratings, those at a satisfied level, and the sum
/// of their level scores.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sums {
    pub valid: i64,
    pub satisfied: i64,
    pub points: i64,
}

impl Sums {
    fn add(&mut self, count: i64, satisfied: bool, score: i32) {
        self.valid += count;
        if satisfied {
            self.satisfied += count;
        }
        self.points += count * i64::from(score);
    }

    fn exact_rate(self) -> Option<f64> {
        (self.valid > 0).then(|| self.satisfied as f64 / self.valid as f64)
    }

    /// 0–1, four decimals; null without ratings.
    pub fn rate(self) -> Option<f64> {
        self.exact_rate().map(round4)
    }

    /// 0–100, four decimals; null without ratings.
    pub fn score(self) -> Option<f64> {
        (self.valid > 0).then(|| round4(self.points as f64 / self.valid as f64))
    }

    /// Under the threshold, compared unrounded (as the database compares it).
    pub fn flagged(self, threshold: f64) -> bool {
        self.exact_rate().is_some_and(|r| r < threshold)
    }

    fn rates(self) -> Rates {
        Rates {
            satisfaction_rate: self.rate(),
            score: self.score(),
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A unit's figures under the secrecy floor: fewer than `k` ballots show only the count.
pub fn figures(ballots: i64, sums: Sums, k: i64, threshold: f64) -> Figures {
    let withheld = ballots < k;
    Figures {
        ballots,
        withheld,
        satisfaction_rate: if withheld { None } else { sums.rate() },
        score: if withheld { None } else { sums.score() },
        flagged: !withheld && sums.flagged(threshold),
        rectification: None,
    }
}

// Counting a session's ballots.

/// A session's ratings counted as the tallies need them, one ballot at a time: per
/// (subject, criterion, level, category), and the ballots per (subject, category) that
/// rated the subject at all. Ordered maps, so that the counts come out sorted and two counts
/// of the same ballots compare equal.
#[derive(Debug, Default)]
pub struct BallotCounter {
    levels: BTreeMap<(i64, i64, String, ParticipantCategory), i64>,
    ballots: BTreeMap<(i64, ParticipantCategory), i64>,
}

impl BallotCounter {
    /// Counts one ballot of `category` with these ratings.
    pub fn add(&mut self, category: ParticipantCategory, ratings: Vec<StoredRating>) {
        let mut subjects: Vec<i64> = ratings.iter().map(|r| r.0).collect();
        subjects.sort_unstable();
        subjects.dedup();
        for subject_id in subjects {
            *self.ballots.entry((subject_id, category)).or_default() += 1;
        }
        for (subject_id, criterion_id, level) in ratings {
            *self
                .levels
                .entry((subject_id, criterion_id, level, category))
                .or_default() += 1;
        }
    }

    /// The counts, sorted by their keys.
    pub fn finish(self) -> (Vec<CountedRating>, Vec<SubjectBallots>) {
        let counted = self
            .levels
            .into_iter()
            .map(
                |((subject_id, criterion_id, level, category), count)| CountedRating {
                    subject_id,
                    criterion_id,
                    level,
                    category,
                    count,
                },
            )
            .collect();
        let ballots = self
            .ballots
            .into_iter()
            .map(|((subject_id, category), ballots)| SubjectBallots {
                subject_id,
                category,
                ballots,
            })
            .collect();
        (counted, ballots)
    }
}

// What a session's close stores.

/// The tallies of a closing session from its counted ratings: per subject × criterion ×
/// level, per subject × category, and per subject (every subject, unrated ones with 0
/// ballots). A stored level the scale does not know is an error, never skipped.
pub fn materialize(
    session: TalliedSession,
    subjects: &[SubjectInfo],
    template: &Template,
    counted: &[CountedRating],
    subject_ballots: &[SubjectBallots],
) -> ApiResult<SessionTallies> {
    let mut out = SessionTallies::default();
    let mut per_subject: HashMap<i64, Sums> = HashMap::new();
    let mut per_category: BTreeMap<(i64, &str), (ParticipantCategory, Sums)> = BTreeMap::new();
    let mut per_level: BTreeMap<(i64, i64, &str), i64> = BTreeMap::new();
    for row in counted {
        let level = template.level(&row.level).ok_or_else(|| {
            ApiError::internal(format!(
                "a stored rating has level {:?}, not in the scale",
                row.level
            ))
        })?;
        per_subject
            .entry(row.subject_id)
            .or_default()
            .add(row.count, level.satisfied, level.score);
        per_category
            .entry((row.subject_id, row.category.as_str()))
            .or_insert((row.category, Sums::default()))
            .1
            .add(row.count, level.satisfied, level.score);
        *per_level
            .entry((row.subject_id, row.criterion_id, row.level.as_str()))
            .or_default() += row.count;
    }
    let ballots_of = |subject_id: i64, category: Option<ParticipantCategory>| -> i64 {
        subject_ballots
            .iter()
            .filter(|b| b.subject_id == subject_id && category.is_none_or(|c| c == b.category))
            .map(|b| b.ballots)
            .sum()
    };
    out.tallies = per_level
        .into_iter()
        .map(|((subject_id, criterion_id, level), count)| Tally {
            session_id: session.session_id,
            subject_id,
            criterion_id,
            level: level.to_owned(),
            count,
        })
        .collect();
    out.categories = per_category
        .into_iter()
        .map(|((subject_id, _), (category, sums))| CategoryTally {
            session_id: session.session_id,
            subject_id,
            category,
            ballots: ballots_of(subject_id, Some(category)),
            valid: sums.valid,
            satisfied: sums.satisfied,
            points: sums.points,
        })
        .collect();
    out.subjects = subjects
        .iter()
        .map(|subject| {
            let sums = per_subject.get(&subject.id).copied().unwrap_or_default();
            SubjectTally {
                subject_id: subject.id,
                session_id: session.session_id,
                campaign_id: session.campaign_id,
                org_id: session.org_id,
                subject_type: subject.subject_type,
                person_id: subject.person_id,
                ballots: ballots_of(subject.id, None),
                valid: sums.valid,
                satisfied: sums.satisfied,
                points: sums.points,
            }
        })
        .collect();
    Ok(out)
}

// A session's results.

/// A closed session's results from its stored tallies, in the order of `subjects`, under
/// the secrecy floor `k`, with subjects flagged under `threshold`.
pub fn subject_results(
    subjects: &[SubjectInfo],
    stored: &SessionTallies,
    template: &Template,
    k: i64,
    threshold: f64,
) -> Vec<SubjectResult> {
    subjects
        .iter()
        .map(|subject| {
            let tally = stored.subjects.iter().find(|t| t.subject_id == subject.id);
            let ballots = tally.map_or(0, |t| t.ballots);
            let sums = tally.map_or_else(Sums::default, |t| Sums {
                valid: t.valid,
                satisfied: t.satisfied,
                points: t.points,
            });
            let shown = figures(ballots, sums, k, threshold);
            let (criteria, by_category) = if shown.withheld {
                (Vec::new(), Vec::new())
            } else {
                (
                    criteria_of(subject, &stored.tallies, template),
                    k_anonymous(
                        stored
                            .categories
                            .iter()
                            .filter(|c| c.subject_id == subject.id)
                            .collect(),
                        k,
                    ),
                )
            };
            SubjectResult {
                subject_id: subject.id,
                subject_type: subject.subject_type,
                name: subject.name.clone(),
                ballots,
                withheld: shown.withheld,
                satisfaction_rate: shown.satisfaction_rate,
                score: shown.score,
                flagged: shown.flagged,
                criteria,
                by_category,
                rectification: None,
            }
        })
        .collect()
}

/// Per criterion of the subject's type, in template order: counts per level (every level
/// of the scale, zeros too), the rate and the score.
fn criteria_of(
    subject: &SubjectInfo,
    tallies: &[Tally],
    template: &Template,
) -> Vec<CriterionResult> {
    template
        .criteria
        .of(subject.subject_type)
        .iter()
        .map(|criterion| {
            let mut sums = Sums::default();
            let mut counts: BTreeMap<String, i64> = template
                .scale
                .iter()
                .map(|l| (l.level.clone(), 0))
                .collect();
            for t in tallies
                .iter()
                .filter(|t| t.subject_id == subject.id && t.criterion_id == criterion.id)
            {
                if let Some(level) = template.level(&t.level) {
                    sums.add(t.count, level.satisfied, level.score);
                }
                *counts.entry(t.level.clone()).or_default() += t.count;
            }
            CriterionResult {
                criterion_id: criterion.id,
                counts,
                valid: sums.valid,
                satisfaction_rate: sums.rate(),
                score: sums.score(),
            }
        })
        .collect()
}

/// The categories that may be shown: those with at least k ballots — and none at all when
/// the hidden ones hold between 1 and k−1 ballots together, because their figures would
/// then be the subject's totals minus the shown categories. Ordered by the category's text.
fn k_anonymous(mut categories: Vec<&CategoryTally>, k: i64) -> Vec<CategoryResult> {
    let hidden: i64 = categories
        .iter()
        .filter(|c| c.ballots < k)
        .map(|c| c.ballots)
        .sum();
    if hidden > 0 && hidden < k {
        return Vec::new();
    }
    categories.sort_by_key(|c| c.category.as_str());
    categories
        .into_iter()
        .filter(|c| c.ballots >= k)
        .map(|c| {
            let sums = Sums {
                valid: c.valid,
                satisfied: c.satisfied,
                points: c.points,
            };
            CategoryResult {
                category: c.category,
                ballots: c.ballots,
                satisfaction_rate: sums.rate(),
                score: sums.score(),
            }
        })
        .collect()
}

// Roll-ups over the tree.

/// Sums over the units of a subtree.
#[derive(Debug, Default, Clone, Copy)]
struct SubtreeAcc {
    units_in_scope: i64,
    evaluated: i64,
    ballots: i64,
    flagged: i64,
    shown: i64,
    sums: Sums,
    rate_sum: f64,
    score_sum: f64,
}

impl SubtreeAcc {
    fn add(&mut self, s: &OrgSums) {
        self.evaluated += s.evaluated;
        self.ballots += s.ballots;
        self.flagged += s.flagged;
        self.shown += s.shown;
        self.sums.valid += s.valid;
        self.sums.satisfied += s.satisfied;
        self.sums.points += s.points;
        self.rate_sum += s.rate_sum;
        self.score_sum += s.score_sum;
    }

    fn figures(self) -> SubtreeFigures {
        let average = |sum: f64, scale: f64| {
            (self.shown > 0).then(|| round4(sum / self.shown as f64 * scale))
        };
        SubtreeFigures {
            units_in_scope: self.units_in_scope,
            units_evaluated: self.evaluated,
            ballots: self.ballots,
            flagged: self.flagged,
            weighted: self.sums.rates(),
            unit_average: Rates {
                satisfaction_rate: average(self.rate_sum, 1.0),
                score: average(self.score_sum, 1.0),
            },
        }
    }
}

/// An org's own unit (its rating, or its secretary's), when its session was tallied.
fn own_figures(s: &OrgSums, subject_type: SubjectType, k: i64, threshold: f64) -> Option<Figures> {
    if subject_type == SubjectType::Member {
        return None;
    }
    let ballots = s.own_ballots?;
    let sums = Sums {
        valid: s.own_valid.unwrap_or(0),
        satisfied: s.own_satisfied.unwrap_or(0),
        points: s.own_points.unwrap_or(0),
    };
    Some(figures(ballots, sums, k, threshold))
}

/// Rolls the per-org sums of a subtree up the tree: for every org of `orgs` (the subtree
/// at `root`, root included) its own unit and the figures of its subtree, in the order of
/// `orgs`. Each org's sums reach every ancestor up to the root: O(orgs × depth).
pub fn roll_up_all(
    root: &ScopeOrg,
    orgs: &[ScopeOrg],
    sums: &[OrgSums],
    subject_type: SubjectType,
    k: i64,
    threshold: f64,
) -> Vec<OrgResults> {
    let root_depth = path_ids(&root.path).count().saturating_sub(1);
    let mut acc: HashMap<i64, SubtreeAcc> = HashMap::with_capacity(orgs.len());
    let by_org: HashMap<i64, &OrgSums> = sums.iter().map(|s| (s.org_id, s)).collect();
    for org in orgs {
        let own = by_org.get(&org.id);
        // The org itself and its ancestors below (and including) the root.
        for ancestor in path_ids(&org.path).skip(root_depth) {
            let a = acc.entry(ancestor).or_default();
            a.units_in_scope += org.units_in_scope;
            if let Some(s) = own {
                a.add(s);
            }
        }
    }
    orgs.iter()
        .map(|org| OrgResults {
            org_id: org.id,
            name: org.name.clone(),
            own: by_org
                .get(&org.id)
                .and_then(|s| own_figures(s, subject_type, k, threshold)),
            subtree: acc.get(&org.id).copied().unwrap_or_default().figures(),
            instant: None,
        })
        .collect()
}

/// The roll-up at `root`: its own figures and subtree, and those of its direct children
/// (active ones, and archived ones that were evaluated), by name.
pub fn roll_up(
    root: &ScopeOrg,
    orgs: &[ScopeOrg],
    sums: &[OrgSums],
    subject_type: SubjectType,
    k: i64,
    threshold: f64,
) -> (OrgResults, Vec<OrgResults>) {
    let all = roll_up_all(root, orgs, sums, subject_type, k, threshold);
    let mut root_results = None;
    let mut children = Vec::new();
    for (org, results) in orgs.iter().zip(all) {
        if org.id == root.id {
            root_results = Some(results);
        } else if org.parent_id == Some(root.id)
            && (org.active || results.subtree.units_evaluated > 0)
        {
            children.push(results);
        }
    }
    children.sort_by(|a, b| a.name.cmp(&b.name).then(a.org_id.cmp(&b.org_id)));
    let root_results = root_results.unwrap_or_else(|| OrgResults {
        org_id: root.id,
        name: root.name.clone(),
        own: None,
        subtree: SubtreeAcc::default().figures(),
        instant: None,
    });
    (root_results, children)
}

// Rankings.

/// The ranking's items from the rows the database ranked: subjects under k ballots lose
/// their rank and figures; candidates are the ranked top `share` (rounded up), unflagged.
pub fn ranking_items(rows: Vec<RankedRow>, k: i64, threshold: f64, share: f64) -> Vec<RankingItem> {
    rows.into_iter()
        .map(|row| {
            let sums = Sums {
                valid: row.valid,
                satisfied: row.satisfied,
                points: row.points,
            };
            let shown = figures(row.ballots, sums, k, threshold);
            let rank = (!shown.withheld).then_some(row.rank);
            RankingItem {
                rank,
                subject_id: row.subject_id,
                subject_type: row.subject_type,
                org_id: row.org_id,
                org_name: row.org_name,
                person_id: row.person_id,
                name: row.name,
                ballots: row.ballots,
                withheld: shown.withheld,
                satisfaction_rate: shown.satisfaction_rate,
                score: shown.score,
                flagged: shown.flagged,
                candidate: rank.is_some_and(|r| r <= candidate_cutoff(row.ranked, share))
                    && !shown.flagged,
                rectification: None,
            }
        })
        .collect()
}

/// The lowest rank that is still a candidate: the top `share` of `ranked` subjects,
/// rounded up (at least one once anything is ranked). The small epsilon keeps 0.1 × 30
/// from rounding up to 4.
pub fn candidate_cutoff(ranked: i64, share: f64) -> i64 {
    ((share * ranked as f64) - 1e-9).ceil().max(0.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ballots::rules::test_template;
    use ParticipantCategory::{Deputy, MassRepresentative, PartyMember};

    fn template() -> Template {
        test_template(
            [&[1, 2], &[], &[8]],
            &[
                ("satisfied", 100, true),
                ("basically_satisfied", 60, true),
                ("dissatisfied", 0, false),
            ],
        )
    }

    const SESSION: TalliedSession = TalliedSession {
        session_id: 1,
        campaign_id: 2,
        org_id: 3,
    };

    fn subject(id: i64, subject_type: SubjectType, name: &str) -> SubjectInfo {
        SubjectInfo {
            id,
            subject_type,
            person_id: None,
            name: name.into(),
        }
    }

    fn row(
        subject_id: i64,
        criterion_id: i64,
        level: &str,
        category: ParticipantCategory,
        count: i64,
    ) -> CountedRating {
        CountedRating {
            subject_id,
            criterion_id,
            level: level.into(),
            category,
            count,
        }
    }

    fn ballots(subject_id: i64, category: ParticipantCategory, ballots: i64) -> SubjectBallots {
        SubjectBallots {
            subject_id,
            category,
            ballots,
        }
    }

    fn results(
        subjects: &[SubjectInfo],
        counted: &[CountedRating],
        ballots: &[SubjectBallots],
        k: i64,
    ) -> Vec<SubjectResult> {
        let stored = materialize(SESSION, subjects, &template(), counted, ballots).unwrap();
        subject_results(subjects, &stored, &template(), k, 0.8)
    }

    #[test]
    fn rates_scores_flags_and_k_anonymous_categories() {
        let subjects = vec![
            subject(10, SubjectType::Org, "支部"),
            subject(12, SubjectType::Member, "王一"),
        ];
        let counted = vec![
            // criterion 1: 6 satisfied, 2 basically, 2 dissatisfied → rate 0.8, score 72
            row(10, 1, "satisfied", PartyMember, 6),
            row(10, 1, "basically_satisfied", PartyMember, 1),
            row(10, 1, "basically_satisfied", MassRepresentative, 1),
            row(10, 1, "dissatisfied", MassRepresentative, 2),
            // criterion 2: 10 satisfied → rate 1, score 100
            row(10, 2, "satisfied", PartyMember, 7),
            row(10, 2, "satisfied", MassRepresentative, 3),
            // the member: 3 satisfied, 3 dissatisfied → rate 0.5
            row(12, 8, "satisfied", PartyMember, 3),
            row(12, 8, "dissatisfied", PartyMember, 3),
        ];
        let ballots = vec![
            ballots(10, PartyMember, 7),
            ballots(10, MassRepresentative, 3),
            ballots(12, PartyMember, 6),
        ];
        let results = results(&subjects, &counted, &ballots, 5);
        let org = &results[0];
        assert_eq!(org.ballots, 10);
        assert_eq!(org.criteria[0].valid, 10);
        assert_eq!(org.criteria[0].satisfaction_rate, Some(0.8));
        assert_eq!(org.criteria[0].score, Some(72.0));
        assert_eq!(org.criteria[0].counts["dissatisfied"], 2);
        assert_eq!(org.criteria[1].satisfaction_rate, Some(1.0));
        // Pooled: 18 of 20 satisfied, (720 + 1000) / 20 = 86.
        assert_eq!(org.satisfaction_rate, Some(0.9));
        assert_eq!(org.score, Some(86.0));
        assert!(!org.flagged);
        // Only party members reach k = 5; the three mass representatives would be the
        // totals minus the party members, so nothing is broken down.
        assert!(org.by_category.is_empty());
        let member = &results[1];
        assert_eq!(member.satisfaction_rate, Some(0.5));
        assert!(member.flagged);
        assert_eq!(
            member.by_category.len(),
            1,
            "6 party members ≥ k, nothing hidden"
        );
    }

    #[test]
    fn a_subject_under_k_ballots_shows_only_its_ballot_count() {
        let subjects = vec![subject(10, SubjectType::Org, "支部")];
        let counted = vec![row(10, 1, "dissatisfied", PartyMember, 4)];
        let r = &results(&subjects, &counted, &[ballots(10, PartyMember, 4)], 5)[0];
        assert_eq!(r.ballots, 4);
        assert!(r.withheld);
        assert_eq!((r.satisfaction_rate, r.score), (None, None));
        assert!(
            !r.flagged,
            "a withheld subject is not flagged: that would tell its rate"
        );
        assert!(r.criteria.is_empty() && r.by_category.is_empty());
    }

    #[test]
    fn hidden_categories_are_shown_only_when_they_cannot_be_subtracted_out() {
        let tally = |category, ballots| CategoryTally {
            session_id: 1,
            subject_id: 10,
            category,
            ballots,
            valid: 10,
            satisfied: 8,
            points: 800,
        };
        let shown = |cats: Vec<CategoryTally>| {
            k_anonymous(cats.iter().collect(), 5)
                .into_iter()
                .map(|c| c.category)
                .collect::<Vec<_>>()
        };
        let (a, b, c) = (PartyMember, MassRepresentative, Deputy);
        assert_eq!(shown(vec![tally(a, 7), tally(b, 6)]), vec![b, a]);
        assert_eq!(
            shown(vec![tally(a, 7), tally(b, 3)]),
            vec![],
            "b = total − a"
        );
        // Two small categories of 3 hide 6 ≥ k ballots together: only their sum is derivable.
        assert_eq!(shown(vec![tally(a, 7), tally(b, 3), tally(c, 3)]), vec![a]);
    }

    #[test]
    fn a_stored_level_outside_the_scale_is_an_error_not_skipped() {
        let subjects = vec![subject(10, SubjectType::Org, "x")];
        let counted = vec![row(10, 1, "great", PartyMember, 1)];
        let e = materialize(SESSION, &subjects, &template(), &counted, &[]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal);
    }

    #[test]
    fn every_subject_is_tallied_even_without_ratings() {
        let subjects = vec![subject(10, SubjectType::Org, "x")];
        let stored = materialize(SESSION, &subjects, &template(), &[], &[]).unwrap();
        assert_eq!(stored.subjects.len(), 1);
        assert_eq!(stored.subjects[0].ballots, 0);
        let r = &subject_results(&subjects, &stored, &template(), 3, 0.8)[0];
        assert!(r.withheld);
    }

    #[test]
    fn flags_compare_the_unrounded_rate() {
        // 79,999 of 100,000 rounds to 0.8 but is under it.
        let sums = Sums {
            valid: 100_000,
            satisfied: 79_999,
            points: 0,
        };
        assert_eq!(sums.rate(), Some(0.8));
        assert!(sums.flagged(0.8));
    }

    fn scope_org(id: i64, parent: Option<i64>, path: &str, units: i64) -> ScopeOrg {
        ScopeOrg {
            id,
            parent_id: parent,
            name: format!("org{id}"),
            path: path.into(),
            active: true,
            units_in_scope: units,
        }
    }

    fn org_sums(org_id: i64, ballots: i64, satisfied: i64, valid: i64, k: i64) -> OrgSums {
        let shown = ballots >= k;
        let rate = satisfied as f64 / valid as f64;
        OrgSums {
            org_id,
            evaluated: 1,
            ballots,
            shown: i64::from(shown),
            valid: if shown { valid } else { 0 },
            satisfied: if shown { satisfied } else { 0 },
            points: if shown { satisfied * 100 } else { 0 },
            rate_sum: if shown { rate } else { 0.0 },
            score_sum: if shown { rate * 100.0 } else { 0.0 },
            flagged: i64::from(shown && rate < 0.8),
            own_ballots: Some(ballots),
            own_valid: Some(valid),
            own_satisfied: Some(satisfied),
            own_points: Some(satisfied * 100),
            own_subject_id: Some(org_id * 10),
            units: 0,
        }
    }

    #[test]
    fn roll_up_weights_by_ratings_and_averages_by_unit_and_leaves_out_withheld_units() {
        // 1 ─┬─ 2 ─┬─ 4 (10 ballots, 40 valid, 36 satisfied)
        //    │     └─ 5 (30 ballots, 120 valid, 84 satisfied: flagged at 0.7)
        //    └─ 3 ─── 6 (2 ballots < k: withheld)
        let orgs = vec![
            scope_org(1, None, "/1/", 0),
            scope_org(2, Some(1), "/1/2/", 1),
            scope_org(3, Some(1), "/1/3/", 1),
            scope_org(4, Some(2), "/1/2/4/", 1),
            scope_org(5, Some(2), "/1/2/5/", 1),
            scope_org(6, Some(3), "/1/3/6/", 1),
        ];
        let sums = vec![
            org_sums(4, 10, 36, 40, 5),
            org_sums(5, 30, 84, 120, 5),
            org_sums(6, 2, 8, 8, 5),
        ];
        let (root, children) = roll_up(&orgs[0], &orgs, &sums, SubjectType::Org, 5, 0.8);
        assert_eq!(root.subtree.units_in_scope, 5);
        assert_eq!(root.subtree.units_evaluated, 3);
        assert_eq!(root.subtree.ballots, 42);
        assert_eq!(root.subtree.flagged, 1);
        // Weighted: (36 + 84) / (40 + 120) = 0.75; averaged: (0.9 + 0.7) / 2 = 0.8.
        assert_eq!(root.subtree.weighted.satisfaction_rate, Some(0.75));
        assert_eq!(root.subtree.unit_average.satisfaction_rate, Some(0.8));
        assert_eq!(root.own, None, "the root has no session");
        let names: Vec<_> = children.iter().map(|c| c.org_id).collect();
        assert_eq!(names, vec![2, 3]);
        assert_eq!(children[0].subtree.units_evaluated, 2);
        assert_eq!(children[0].subtree.weighted.satisfaction_rate, Some(0.75));
        // Org 3's subtree holds only the withheld unit: its ballots, no rates.
        assert_eq!(children[1].subtree.ballots, 2);
        assert_eq!(children[1].subtree.weighted.satisfaction_rate, None);
        assert_eq!(children[1].subtree.unit_average.satisfaction_rate, None);
        // Drilling down to org 2: its children carry their own figures.
        let (two, below) = roll_up(
            &orgs[1],
            &orgs[1..2]
                .iter()
                .chain(&orgs[3..5])
                .cloned()
                .collect::<Vec<_>>(),
            &sums[..2],
            SubjectType::Org,
            5,
            0.8,
        );
        assert_eq!(two.subtree.units_evaluated, 2);
        assert_eq!(below[1].own.as_ref().unwrap().satisfaction_rate, Some(0.7));
        assert!(below[1].own.as_ref().unwrap().flagged);
    }

    fn ranked(subject_id: i64, ballots: i64, satisfied: i64, rank: i64, ranked: i64) -> RankedRow {
        RankedRow {
            subject_id,
            subject_type: SubjectType::Org,
            org_id: subject_id,
            org_name: "o".into(),
            person_id: None,
            name: "n".into(),
            ballots,
            valid: 10,
            satisfied,
            points: satisfied * 100,
            rank,
            total: 5,
            ranked,
        }
    }

    #[test]
    fn rankings_withhold_small_subjects_and_pick_unflagged_candidates() {
        let rows = vec![
            ranked(1, 10, 10, 1, 4),
            ranked(2, 10, 9, 2, 4),
            ranked(3, 10, 9, 2, 4),
            ranked(4, 10, 5, 4, 4),
            ranked(5, 2, 10, 5, 4),
        ];
        let items = ranking_items(rows, 5, 0.8, 0.5);
        let ranks: Vec<_> = items.iter().map(|i| i.rank).collect();
        assert_eq!(ranks, vec![Some(1), Some(2), Some(2), Some(4), None]);
        // Half of 4 ranked → ranks 1 and 2 (both tied at 2) are candidates.
        let candidates: Vec<_> = items.iter().map(|i| i.candidate).collect();
        assert_eq!(candidates, vec![true, true, true, false, false]);
        assert!(items[3].flagged);
        assert!(items[4].withheld && items[4].satisfaction_rate.is_none());
    }

    #[test]
    fn the_candidate_cutoff_rounds_up_without_float_noise() {
        assert_eq!(candidate_cutoff(30, 0.1), 3);
        assert_eq!(candidate_cutoff(31, 0.1), 4);
        assert_eq!(candidate_cutoff(1, 0.1), 1);
        assert_eq!(candidate_cutoff(0, 0.1), 0);
        assert_eq!(candidate_cutoff(7, 1.0), 7);
    }

    #[test]
    fn ballots_are_counted_per_level_and_per_rated_subject() {
        use ParticipantCategory::{Other, PartyMember};
        let rating = |s: i64, c: i64, l: &str| (s, c, l.to_string());
        let mut counter = BallotCounter::default();
        counter.add(
            PartyMember,
            vec![
                rating(1, 1, "satisfied"),
                rating(1, 2, "dissatisfied"),
                rating(2, 9, "satisfied"),
            ],
        );
        counter.add(PartyMember, vec![rating(1, 1, "satisfied")]);
        counter.add(Other, vec![rating(1, 1, "dissatisfied")]);
        let (counted, ballots) = counter.finish();
        let counted: Vec<_> = counted
            .iter()
            .map(|c| {
                (
                    c.subject_id,
                    c.criterion_id,
                    c.level.as_str(),
                    c.category,
                    c.count,
                )
            })
            .collect();
        assert_eq!(
            counted,
            vec![
                (1, 1, "dissatisfied", Other, 1),
                (1, 1, "satisfied", PartyMember, 2),
                (1, 2, "dissatisfied", PartyMember, 1),
                (2, 9, "satisfied", PartyMember, 1),
            ]
        );
        // A ballot rating a subject on two criteria counts once for that subject.
        let ballots: Vec<_> = ballots
            .iter()
            .map(|b| (b.subject_id, b.category, b.ballots))
            .collect();
        assert_eq!(
            ballots,
            vec![(1, PartyMember, 2), (1, Other, 1), (2, PartyMember, 1)]
        );
    }
}
