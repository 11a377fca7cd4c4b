//! Checking a ballot against its session: every rating names a subject, a criterion for
//! that subject's type and a level of the scale, each (subject, criterion) at most once.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::templates::model::{SubjectType, Template};

/// At most this many ratings on one ballot.
pub const MAX_RATINGS: usize = 3000;
/// Longest opinion, in characters.
pub const MAX_OPINION_CHARS: usize = 2000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": 101, "criterion_id": 5, "level": "satisfied"}))]
pub struct Rating {
    pub subject_id: i64,
    pub criterion_id: i64,
    pub level: String,
}

/// What a ballot is checked against; it does not change while the session is open.
#[derive(Debug)]
pub struct BallotContext {
    pub subjects: HashMap<i64, SubjectType>,
    pub template: Template,
    criteria: HashMap<SubjectType, HashSet<i64>>,
}

impl BallotContext {
    pub fn new(subjects: HashMap<i64, SubjectType>, template: Template) -> Self {
        let criteria = [
            SubjectType::Org,
            SubjectType::Secretary,
            SubjectType::Member,
        ]
        .into_iter()
        .map(|t| (t, template.criteria.of(t).iter().map(|c| c.id).collect()))
        .collect();
        BallotContext {
            subjects,
            template,
            criteria,
        }
    }

    /// The problems of a ballot, by field; empty when it is valid.
    pub fn check(&self, ratings: &[Rating], opinion: Option<&str>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if ratings.is_empty() {
            errors.push(FieldError::new("ratings", "rate at least one subject"));
        }
        if ratings.len() > MAX_RATINGS {
            errors.push(FieldError::new(
                "ratings",
                format!("at most {MAX_RATINGS} ratings"),
            ));
            return errors;
        }
        if opinion.is_some_and(|o| o.chars().count() > MAX_OPINION_CHARS) {
            errors.push(FieldError::new(
                "opinion",
                format!("at most {MAX_OPINION_CHARS} characters"),
            ));
        }
        let mut seen = HashSet::with_capacity(ratings.len());
        for (i, r) in ratings.iter().enumerate() {
            let Some(subject_type) = self.subjects.get(&r.subject_id) else {
                errors.push(FieldError::new(
                    format!("ratings[{i}].subject_id"),
                    "not a subject of this session",
                ));
                continue;
            };
            if !self.criteria[subject_type].contains(&r.criterion_id) {
                errors.push(FieldError::new(
                    format!("ratings[{i}].criterion_id"),
                    format!("not a criterion for a {subject_type}"),
                ));
            }
            if self.template.level(&r.level).is_none() {
                errors.push(FieldError::new(
                    format!("ratings[{i}].level"),
                    "not a level of this scale",
                ));
            }
            if !seen.insert((r.subject_id, r.criterion_id)) {
                errors.push(FieldError::new(
                    format!("ratings[{i}]"),
                    "this subject and criterion are rated twice",
                ));
            }
            if errors.len() >= 50 {
                break;
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::model::{Criteria, Criterion, Level};

    fn context() -> BallotContext {
        let c = |id| Criterion {
            id,
            label_zh: "x".into(),
            label_en: "x".into(),
        };
        let level = |k: &str, score, satisfied| Level {
            level: k.into(),
            label_zh: k.into(),
            label_en: k.into(),
            score,
            satisfied,
        };
        let template = Template {
            id: 1,
            name: "t".into(),
            owner_org_id: None,
            builtin: true,
            criteria: Criteria {
                org: vec![c(1), c(2)],
                secretary: vec![c(5)],
                member: vec![c(8)],
            },
            scale: vec![
                level("satisfied", 100, true),
                level("dissatisfied", 0, false),
            ],
        };
        let subjects = HashMap::from([
            (10, SubjectType::Org),
            (11, SubjectType::Secretary),
            (12, SubjectType::Member),
        ]);
        BallotContext::new(subjects, template)
    }

    fn r(subject_id: i64, criterion_id: i64, level: &str) -> Rating {
        Rating {
            subject_id,
            criterion_id,
            level: level.into(),
        }
    }

    #[test]
    fn a_ballot_may_skip_subjects_but_not_rate_nothing() {
        let ctx = context();
        assert!(ctx.check(&[r(10, 1, "satisfied")], None).is_empty());
        assert!(ctx
            .check(
                &[r(10, 1, "satisfied"), r(12, 8, "dissatisfied")],
                Some("好")
            )
            .is_empty());
        assert_eq!(ctx.check(&[], None)[0].field, "ratings");
    }

    #[test]
    fn every_rating_must_belong_to_the_session() {
        let ctx = context();
        let fields = |ratings: &[Rating]| {
            ctx.check(ratings, None)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(&[r(99, 1, "satisfied")]),
            vec!["ratings[0].subject_id"]
        );
        assert_eq!(
            fields(&[r(11, 1, "satisfied")]),
            vec!["ratings[0].criterion_id"],
            "an org criterion for the secretary"
        );
        assert_eq!(fields(&[r(10, 1, "great")]), vec!["ratings[0].level"]);
        assert_eq!(
            fields(&[r(10, 1, "satisfied"), r(10, 1, "dissatisfied")]),
            vec!["ratings[1]"]
        );
        let long = "意".repeat(MAX_OPINION_CHARS + 1);
        assert_eq!(
            ctx.check(&[r(10, 1, "satisfied")], Some(&long))[0].field,
            "opinion"
        );
    }
}
