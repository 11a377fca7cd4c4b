//! Results as the API shows them, and the counts they are tallied from.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ballots::model::ParticipantCategory;
use crate::db::schema::session_subjects;
use crate::templates::model::SubjectType;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"session_id": 12, "ballots": 36, "subjects": [{"subject_id": 101, "subject_type": "org", "name": "机电工程学院第一党支部", "ballots": 36, "satisfaction_rate": 0.9167, "score": 86.1111, "flagged": false, "criteria": [{"criterion_id": 1, "counts": {"satisfied": 25, "basically_satisfied": 8, "dissatisfied": 3}, "valid": 36, "satisfaction_rate": 0.9167, "score": 86.1111}], "by_category": [{"category": "party_member", "ballots": 20, "satisfaction_rate": 0.95, "score": 90.0}, {"category": "mass_representative", "ballots": 10, "satisfaction_rate": 0.9, "score": 85.0}]}]}))]
pub struct SessionResults {
    pub session_id: i64,
    /// Ballots cast (with codes and on paper).
    pub ballots: i64,
    pub subjects: Vec<SubjectResult>,
}

/// `count` ratings of `level` for (subject, criterion), from ballots of `category`.
#[derive(Debug, Clone, Queryable)]
pub struct CountedRating {
    pub subject_id: i64,
    pub criterion_id: i64,
    pub level: String,
    pub category: ParticipantCategory,
    pub count: i64,
}

/// How many ballots of `category` rated `subject_id` at all.
#[derive(Debug, Clone, Queryable)]
pub struct SubjectBallots {
    pub subject_id: i64,
    pub category: ParticipantCategory,
    pub ballots: i64,
}

/// A subject of the session, in ballot order.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = session_subjects)]
pub struct SubjectInfo {
    pub id: i64,
    pub subject_type: SubjectType,
    pub name: String,
}

/// What a session's results are tallied from.
#[derive(Debug)]
pub struct SessionCounts {
    pub subjects: Vec<SubjectInfo>,
    pub ratings: Vec<CountedRating>,
    pub subject_ballots: Vec<SubjectBallots>,
    /// Ballots cast (with codes and on paper).
    pub ballots: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct CriterionResult {
    pub criterion_id: i64,
    /// Ratings per level key.
    pub counts: BTreeMap<String, i64>,
    pub valid: i64,
    /// 0–1; null without ratings.
    pub satisfaction_rate: Option<f64>,
    /// 0–100 average; null without ratings.
    pub score: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct CategoryResult {
    pub category: ParticipantCategory,
    pub ballots: i64,
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct SubjectResult {
    pub subject_id: i64,
    pub subject_type: SubjectType,
    pub name: String,
    /// Ballots that rated this subject.
    pub ballots: i64,
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
    /// Below the campaign's low-satisfaction threshold.
    pub flagged: bool,
    pub criteria: Vec<CriterionResult>,
    /// Only categories with at least k ballots for this subject.
    pub by_category: Vec<CategoryResult>,
}
