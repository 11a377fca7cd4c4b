//! Pure tallies: rates and scores of subjects from counted ratings, and when results are
//! shown.
//!
//! A criterion's satisfaction rate is (ratings at a `satisfied` level) / (valid ratings);
//! its score is the average of the level scores. A subject's own figures pool its
//! criteria. A per-category breakdown is shown only where the category has at least k
//! ballots, so that a small group's ratings cannot be singled out.

use std::collections::{BTreeMap, HashMap};

use super::model::{
    CategoryResult, CountedRating, CriterionResult, SessionCounts, SessionResults, SubjectBallots,
    SubjectInfo, SubjectResult,
};
use crate::ballots::model::ParticipantCategory;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::sessions::model::SessionStatus;
use crate::templates::model::Template;

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

/// A closed session's results from its counts, with categories shown from `k` ballots on
/// and subjects flagged under `threshold`.
pub fn session_results(
    session_id: i64,
    template: &Template,
    counts: &SessionCounts,
    k: i64,
    threshold: f64,
) -> ApiResult<SessionResults> {
    Ok(SessionResults {
        session_id,
        ballots: counts.ballots,
        subjects: tally(
            &counts.subjects,
            template,
            &counts.ratings,
            &counts.subject_ballots,
            k,
            threshold,
        )?,
    })
}

/// Sums toward a rate and a score.
#[derive(Default, Clone, Copy)]
struct Acc {
    valid: i64,
    satisfied: i64,
    points: i64,
}

impl Acc {
    fn add(&mut self, count: i64, satisfied: bool, score: i32) {
        self.valid += count;
        if satisfied {
            self.satisfied += count;
        }
        self.points += count * i64::from(score);
    }

    fn rate(self) -> Option<f64> {
        (self.valid > 0).then(|| round4(self.satisfied as f64 / self.valid as f64))
    }

    fn score(self) -> Option<f64> {
        (self.valid > 0).then(|| round4(self.points as f64 / self.valid as f64))
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The categories that may be shown: those with at least k ballots — and none at all when
/// the hidden ones hold between 1 and k−1 ballots together, because their figures would
/// then be the subject's totals minus the shown categories.
fn k_anonymous(categories: Vec<(ParticipantCategory, i64, Acc)>, k: i64) -> Vec<CategoryResult> {
    let hidden: i64 = categories
        .iter()
        .filter(|(_, n, _)| *n < k)
        .map(|(_, n, _)| n)
        .sum();
    if hidden > 0 && hidden < k {
        return Vec::new();
    }
    categories
        .into_iter()
        .filter(|(_, ballots, _)| *ballots >= k)
        .map(|(category, ballots, acc)| CategoryResult {
            category,
            ballots,
            satisfaction_rate: acc.rate(),
            score: acc.score(),
        })
        .collect()
}

/// Per subject: figures per criterion, pooled, and per category where k-anonymous. A
/// stored level the scale does not know is an error, never skipped.
pub fn tally(
    subjects: &[SubjectInfo],
    template: &Template,
    counted: &[CountedRating],
    subject_ballots: &[SubjectBallots],
    min_category_ballots: i64,
    threshold: f64,
) -> ApiResult<Vec<SubjectResult>> {
    let mut by_subject: HashMap<i64, Vec<&CountedRating>> = HashMap::new();
    for c in counted {
        by_subject.entry(c.subject_id).or_default().push(c);
    }
    subjects
        .iter()
        .map(|subject| {
            let rows = by_subject
                .get(&subject.id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut overall = Acc::default();
            // By the category's text: the order the breakdown has always had.
            let mut per_category: BTreeMap<&str, (ParticipantCategory, Acc)> = BTreeMap::new();
            let criteria = template
                .criteria
                .of(subject.subject_type)
                .iter()
                .map(|criterion| {
                    let mut acc = Acc::default();
                    let mut counts: BTreeMap<String, i64> = template
                        .scale
                        .iter()
                        .map(|l| (l.level.clone(), 0))
                        .collect();
                    for row in rows.iter().filter(|r| r.criterion_id == criterion.id) {
                        let level = template.level(&row.level).ok_or_else(|| {
                            ApiError::internal(format!(
                                "a stored rating has level {:?}, not in the scale",
                                row.level
                            ))
                        })?;
                        acc.add(row.count, level.satisfied, level.score);
                        overall.add(row.count, level.satisfied, level.score);
                        per_category
                            .entry(row.category.as_str())
                            .or_insert((row.category, Acc::default()))
                            .1
                            .add(row.count, level.satisfied, level.score);
                        *counts.entry(row.level.clone()).or_default() += row.count;
                    }
                    Ok(CriterionResult {
                        criterion_id: criterion.id,
                        counts,
                        valid: acc.valid,
                        satisfaction_rate: acc.rate(),
                        score: acc.score(),
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            let ballots_of = |category: Option<ParticipantCategory>| -> i64 {
                subject_ballots
                    .iter()
                    .filter(|b| {
                        b.subject_id == subject.id && category.is_none_or(|c| c == b.category)
                    })
                    .map(|b| b.ballots)
                    .sum()
            };
            let by_category = k_anonymous(
                per_category
                    .into_values()
                    .map(|(category, acc)| (category, ballots_of(Some(category)), acc))
                    .collect(),
                min_category_ballots,
            );
            let rate = overall.rate();
            Ok(SubjectResult {
                subject_id: subject.id,
                subject_type: subject.subject_type,
                name: subject.name.clone(),
                ballots: ballots_of(None),
                satisfaction_rate: rate,
                score: overall.score(),
                flagged: rate.is_some_and(|r| r < threshold),
                criteria,
                by_category,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ballots::rules::test_template;
    use crate::templates::model::SubjectType;
    use ParticipantCategory::{MassRepresentative, PartyMember};

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

    fn org_subject() -> Vec<SubjectInfo> {
        vec![SubjectInfo {
            id: 10,
            subject_type: SubjectType::Org,
            name: "x".into(),
        }]
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

    #[test]
    fn rates_scores_flags_and_k_anonymous_categories() {
        let subjects = vec![
            SubjectInfo {
                id: 10,
                subject_type: SubjectType::Org,
                name: "支部".into(),
            },
            SubjectInfo {
                id: 12,
                subject_type: SubjectType::Member,
                name: "王一".into(),
            },
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
            // the member: 1 satisfied, 3 dissatisfied → rate 0.25
            row(12, 8, "satisfied", PartyMember, 1),
            row(12, 8, "dissatisfied", PartyMember, 3),
        ];
        let ballots = vec![
            SubjectBallots {
                subject_id: 10,
                category: PartyMember,
                ballots: 7,
            },
            SubjectBallots {
                subject_id: 10,
                category: MassRepresentative,
                ballots: 3,
            },
            SubjectBallots {
                subject_id: 12,
                category: PartyMember,
                ballots: 4,
            },
        ];
        let results = tally(&subjects, &template(), &counted, &ballots, 5, 0.8).unwrap();
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
        assert_eq!(member.satisfaction_rate, Some(0.25));
        assert!(member.flagged);
        assert!(member.by_category.is_empty(), "4 ballots < k");
    }

    #[test]
    fn hidden_categories_are_shown_only_when_they_cannot_be_subtracted_out() {
        let acc = Acc {
            valid: 10,
            satisfied: 8,
            points: 800,
        };
        let shown = |cats: Vec<(ParticipantCategory, i64, Acc)>| {
            k_anonymous(cats, 5)
                .into_iter()
                .map(|c| c.category)
                .collect::<Vec<_>>()
        };
        let (a, b, c) = (PartyMember, MassRepresentative, ParticipantCategory::Deputy);
        assert_eq!(shown(vec![(a, 7, acc), (b, 6, acc)]), vec![a, b]);
        assert_eq!(
            shown(vec![(a, 7, acc), (b, 3, acc)]),
            vec![],
            "b = total − a"
        );
        // Two small categories of 3 hide 6 ≥ k ballots together: only their sum is derivable.
        assert_eq!(shown(vec![(a, 7, acc), (b, 3, acc), (c, 3, acc)]), vec![a]);
    }

    #[test]
    fn categories_are_broken_down_in_the_order_of_their_names() {
        let subjects = org_subject();
        let counted = vec![
            row(10, 1, "satisfied", PartyMember, 5),
            row(10, 1, "satisfied", MassRepresentative, 5),
        ];
        let ballots = [PartyMember, MassRepresentative].map(|category| SubjectBallots {
            subject_id: 10,
            category,
            ballots: 5,
        });
        let results = tally(&subjects, &template(), &counted, &ballots, 5, 0.8).unwrap();
        let shown: Vec<_> = results[0].by_category.iter().map(|c| c.category).collect();
        assert_eq!(shown, vec![MassRepresentative, PartyMember]);
    }

    #[test]
    fn a_stored_level_outside_the_scale_is_an_error_not_skipped() {
        let subjects = org_subject();
        let counted = vec![row(10, 1, "great", PartyMember, 1)];
        let e = tally(&subjects, &template(), &counted, &[], 5, 0.8).unwrap_err();
        assert_eq!(e.code, ErrorCode::Internal);
    }

    #[test]
    fn subjects_without_ratings_have_no_rate() {
        let subjects = org_subject();
        let results = tally(&subjects, &template(), &[], &[], 5, 0.8).unwrap();
        assert_eq!(results[0].satisfaction_rate, None);
        assert_eq!(results[0].score, None);
        assert!(!results[0].flagged);
        assert_eq!(results[0].criteria[0].counts.len(), 3);
    }
}
