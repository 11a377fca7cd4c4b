//! Results as the API shows them, and the tallies they are computed from.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ballots::model::ParticipantCategory;
use crate::db::schema::{category_tallies, session_subjects, subject_tallies, tallies};
use crate::orgs::model::Domain;
use crate::rectifications::model::RectificationRef;
use crate::sessions::model::SessionKind;
use crate::templates::model::SubjectType;
use crate::text_enum;

// What closing a session stores.

/// Ratings of `level` for (subject, criterion).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = tallies)]
pub struct Tally {
    pub session_id: i64,
    pub subject_id: i64,
    pub criterion_id: i64,
    pub level: String,
    pub count: i64,
}

/// A subject's figures from the ballots of one participant category.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = category_tallies)]
pub struct CategoryTally {
    pub session_id: i64,
    pub subject_id: i64,
    pub category: ParticipantCategory,
    pub ballots: i64,
    pub valid: i64,
    pub satisfied: i64,
    pub points: i64,
}

/// A subject's figures over all its criteria and categories, with what roll-ups group by.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = subject_tallies)]
pub struct SubjectTally {
    pub subject_id: i64,
    pub session_id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub subject_type: SubjectType,
    pub person_id: Option<i64>,
    pub ballots: i64,
    pub valid: i64,
    pub satisfied: i64,
    pub points: i64,
}

/// Everything a session's close stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTallies {
    pub tallies: Vec<Tally>,
    pub categories: Vec<CategoryTally>,
    pub subjects: Vec<SubjectTally>,
}

// What tallies are computed from (the ratings, read once at close).

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

/// A subject of a session, in ballot order.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = session_subjects)]
pub struct SubjectInfo {
    pub id: i64,
    pub subject_type: SubjectType,
    pub person_id: Option<i64>,
    pub name: String,
}

/// The session a tally belongs to: where its subjects are filed.
#[derive(Debug, Clone, Copy)]
pub struct TalliedSession {
    pub session_id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
}

// A session's results.

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"session_id": 12, "ballots": 36, "subjects": [{"subject_id": 101, "subject_type": "org", "name": "机电工程学院第一党支部", "ballots": 36, "withheld": false, "satisfaction_rate": 0.9167, "score": 86.1111, "flagged": false, "rectification": null, "criteria": [{"criterion_id": 1, "counts": {"satisfied": 25, "basically_satisfied": 8, "dissatisfied": 3}, "valid": 36, "satisfaction_rate": 0.9167, "score": 86.1111}], "by_category": [{"category": "party_member", "ballots": 20, "satisfaction_rate": 0.95, "score": 90.0}, {"category": "mass_representative", "ballots": 10, "satisfaction_rate": 0.9, "score": 85.0}]}], "commitments": {"pending": 0, "fulfilled": 2, "partial": 1, "unfulfilled": 0}}))]
pub struct SessionResults {
    pub session_id: i64,
    /// Ballots cast (with codes and on paper).
    pub ballots: i64,
    pub subjects: Vec<SubjectResult>,
    /// The campaign's public commitments (公开承诺) by status, to show beside the criterion
    /// 切实兑现公开承诺的情况: the org's own for those who read the whole results, a member's
    /// own for a member.
    pub commitments: crate::records::model::CommitmentCounts,
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
    /// Fewer than k ballots rated the subject: only `ballots` is shown (rates, scores,
    /// criteria and categories are null or empty).
    pub withheld: bool,
    /// 0–1, pooled over the criteria; null when withheld or without ratings.
    pub satisfaction_rate: Option<f64>,
    /// 0–100, pooled over the criteria; null when withheld or without ratings.
    pub score: Option<f64>,
    /// The rate is under the campaign's `low_satisfaction_threshold` (never when withheld).
    pub flagged: bool,
    /// Per criterion; empty when withheld.
    pub criteria: Vec<CriterionResult>,
    /// Only categories with at least k ballots, and none when the smaller ones together hold
    /// 1 to k−1 ballots (they could be subtracted out); empty when withheld.
    pub by_category: Vec<CategoryResult>,
    /// The newest rectification item about the subject, if any.
    pub rectification: Option<RectificationRef>,
}

// Figures shared by roll-ups and rankings.

/// One unit's figures: a subject rated on fewer than k ballots shows only its ballot count.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Figures {
    pub ballots: i64,
    pub withheld: bool,
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
    pub flagged: bool,
    /// The newest rectification item about this unit, if any.
    pub rectification: Option<RectificationRef>,
}

/// A rate (0–1) and a score (0–100); null when nothing is shown.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Rates {
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
}

/// Figures over the units of a subtree. Rates pool only units rated on at least k ballots,
/// so that no withheld unit can be recovered by subtraction.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SubtreeFigures {
    /// Units that should be evaluated: orgs (`org`), orgs with a secretary (`secretary`),
    /// active members (`member`), below the campaign's owner.
    pub units_in_scope: i64,
    /// Units rated on at least one ballot of a closed session.
    pub units_evaluated: i64,
    /// Ballots rating the units (a ballot rating several members counts once for each).
    pub ballots: i64,
    /// Units flagged under the campaign's threshold.
    pub flagged: i64,
    /// Ballot-weighted: every rating of every shown unit counts once.
    pub weighted: Rates,
    /// Unit-averaged: the mean of the shown units' own rates and scores.
    pub unit_average: Rates,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct OrgRef {
    pub id: i64,
    pub name: String,
}

/// An org's own figures and those of its subtree.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct OrgResults {
    pub org_id: i64,
    pub name: String,
    /// The org's own rating (`org`) or its secretary's (`secretary`), when its session is
    /// closed; always null for `member` (members are units of their own).
    pub own: Option<Figures>,
    /// The org and everything below it.
    pub subtree: SubtreeFigures,
    /// A window unit's instant ratings (好差评) inside the campaign's dates, beside (never
    /// mixed into) its meeting's figures; null for other orgs and for `secretary` and
    /// `member` roll-ups.
    pub instant: Option<crate::instant::model::InstantRollIn>,
}

/// A campaign's results at one org, rolled up over the tree.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"campaign_id": 3, "subject_type": "org", "org": {"org_id": 2, "name": "市直机关工委", "own": null, "subtree": {"units_in_scope": 40, "units_evaluated": 38, "ballots": 790, "flagged": 2, "weighted": {"satisfaction_rate": 0.9412, "score": 88.1}, "unit_average": {"satisfaction_rate": 0.9377, "score": 87.6}}, "instant": null}, "children": [{"org_id": 7, "name": "机关第一党支部", "own": {"ballots": 21, "withheld": false, "satisfaction_rate": 0.9762, "score": 93.3, "flagged": false, "rectification": null}, "subtree": {"units_in_scope": 1, "units_evaluated": 1, "ballots": 21, "flagged": 0, "weighted": {"satisfaction_rate": 0.9762, "score": 93.3}, "unit_average": {"satisfaction_rate": 0.9762, "score": 93.3}}, "instant": null}]}))]
pub struct CampaignResults {
    pub campaign_id: i64,
    pub subject_type: SubjectType,
    /// The org asked about (by default the highest one the actor reads results at).
    pub org: OrgResults,
    /// Its direct children (active ones and any with figures), by name; drill down by
    /// asking again with a child's `org_id`.
    pub children: Vec<OrgResults>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignResultsQuery {
    /// The org whose children are rolled up (default: the highest the actor reads).
    pub org_id: Option<i64>,
    /// Default `org`.
    pub subject_type: Option<SubjectType>,
}

// Rankings.

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// Default `org`.
    pub subject_type: Option<SubjectType>,
    /// Only sessions held under this domain's template.
    pub domain: Option<Domain>,
    /// Only sessions of this kind.
    pub kind: Option<SessionKind>,
    /// Only subjects of sessions in this org's subtree (default: the highest the actor reads).
    pub org_id: Option<i64>,
}

/// A subject's place in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
#[schema(example = json!({"rank": 1, "subject_id": 101, "subject_type": "org", "org_id": 7, "org_name": "机关第一党支部", "person_id": null, "name": "机关第一党支部", "ballots": 21, "withheld": false, "satisfaction_rate": 0.9762, "score": 93.3, "flagged": false, "candidate": true, "rectification": null}))]
pub struct RankingItem {
    /// Standard competition rank (1, 2, 2, 4) by satisfaction rate, then score; null for
    /// subjects rated on fewer than k ballots, listed last.
    pub rank: Option<i64>,
    pub subject_id: i64,
    pub subject_type: SubjectType,
    /// The org of the session (the org rated, or the secretary's or member's org).
    pub org_id: i64,
    pub org_name: String,
    /// The person rated (secretaries and members).
    pub person_id: Option<i64>,
    pub name: String,
    pub ballots: i64,
    pub withheld: bool,
    pub satisfaction_rate: Option<f64>,
    pub score: Option<f64>,
    pub flagged: bool,
    /// Commendation candidate (评先评优): ranked within the campaign's `commendation_share`
    /// of the ranked subjects (rounded up), and not flagged.
    pub candidate: bool,
    /// The newest rectification item about the subject, if any.
    pub rectification: Option<RectificationRef>,
}

/// One row of a ranking as the database computes it.
#[derive(Debug, Clone, QueryableByName)]
pub struct RankedRow {
    #[diesel(sql_type = BigInt)]
    pub subject_id: i64,
    #[diesel(sql_type = Text)]
    pub subject_type: SubjectType,
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    #[diesel(sql_type = Text)]
    pub org_name: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub person_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub ballots: i64,
    #[diesel(sql_type = BigInt)]
    pub valid: i64,
    #[diesel(sql_type = BigInt)]
    pub satisfied: i64,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    /// Rank among all the ranking's subjects, the withheld ones sorted last.
    #[diesel(sql_type = BigInt)]
    pub rank: i64,
    /// Subjects in the whole ranking, and those ranked (at least k ballots).
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub ranked: i64,
}

// Roll-up sums, per org, as the database computes them.

/// The units of one subject type at one org (the session's org), summed.
#[derive(Debug, Clone, Default, PartialEq, QueryableByName)]
pub struct OrgSums {
    #[diesel(sql_type = BigInt)]
    pub org_id: i64,
    /// Units rated on at least one ballot.
    #[diesel(sql_type = BigInt)]
    pub evaluated: i64,
    #[diesel(sql_type = BigInt)]
    pub ballots: i64,
    /// Units with at least k ballots, and their pooled sums.
    #[diesel(sql_type = BigInt)]
    pub shown: i64,
    #[diesel(sql_type = BigInt)]
    pub valid: i64,
    #[diesel(sql_type = BigInt)]
    pub satisfied: i64,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    /// Sums of the shown units' own rates and scores (for the unit average).
    #[diesel(sql_type = Double)]
    pub rate_sum: f64,
    #[diesel(sql_type = Double)]
    pub score_sum: f64,
    #[diesel(sql_type = BigInt)]
    pub flagged: i64,
    /// The org's own unit (`org`, `secretary`), when it was tallied.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub own_ballots: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub own_valid: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub own_satisfied: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub own_points: Option<i64>,
    /// The org's own subject (`org`, `secretary`: one per org and campaign).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub own_subject_id: Option<i64>,
    /// Units in scope, where the same pass counts them (see `child_sums`); else 0.
    #[diesel(sql_type = BigInt)]
    pub units: i64,
}

/// An org of the subtree being rolled up, with its units in scope.
#[derive(Debug, Clone)]
pub struct ScopeOrg {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub path: String,
    pub active: bool,
    pub units_in_scope: i64,
}

// Coverage.

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// The subtree (default: the highest org the actor reads results at).
    pub org_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct SessionsByStatus {
    pub scheduled: i64,
    pub open: i64,
    pub closed: i64,
}

#[derive(Debug, Serialize, ToSchema, PartialEq, Queryable)]
pub struct MissingMember {
    pub id: i64,
    pub name: String,
    pub org_id: i64,
}

/// Who in a subtree is evaluated (每个基层党组织和党员都接受评议) and who is not yet.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"campaign_id": 3, "org": {"id": 2, "name": "市直机关工委"}, "orgs_in_scope": 40, "orgs_evaluated": 38, "window_units_rated": 3, "members_in_scope": 612, "members_evaluated": 590, "sessions": {"scheduled": 1, "open": 0, "closed": 38}, "missing_orgs": [{"id": 31, "name": "档案馆党支部"}], "missing_members": [{"id": 1207, "name": "李四", "org_id": 31}], "sessions_with_self_inspection": 37, "sessions_with_duty_report": 36, "member_summaries": 580, "session_records": [{"session_id": 12, "org_id": 21, "name": "机关第一党支部", "self_inspection": true, "duty_report": false, "member_summaries": 14}], "report_requests": [{"id": 2, "from_org_id": 2, "title": "贯彻落实情况书面材料", "due_on": "2012-01-09", "missing": [{"id": 31, "name": "档案馆党支部"}]}], "page": 1, "per_page": 50}))]
pub struct Coverage {
    pub campaign_id: i64,
    pub org: OrgRef,
    /// Active orgs of the subtree below the campaign's owner.
    pub orgs_in_scope: i64,
    /// Of those, orgs rated on at least one ballot of a closed session, or (window units) on
    /// a ticketed instant rating inside the campaign's dates.
    pub orgs_evaluated: i64,
    /// Window units in scope rated on instant ratings (好差评) inside the campaign's dates;
    /// they count in `orgs_evaluated` without a meeting.
    pub window_units_rated: i64,
    /// Active members of those orgs.
    pub members_in_scope: i64,
    /// Of those, members rated on at least one ballot of a closed session.
    pub members_evaluated: i64,
    /// The campaign's sessions in the subtree.
    pub sessions: SessionsByStatus,
    /// One page of the orgs not evaluated (orgs_in_scope − orgs_evaluated in all), by id.
    pub missing_orgs: Vec<OrgRef>,
    /// One page of the members not evaluated (members_in_scope − members_evaluated in all),
    /// by id.
    pub missing_members: Vec<MissingMember>,
    /// The campaign's sessions in the subtree with a self-inspection (自查报告).
    pub sessions_with_self_inspection: i64,
    /// … with a duty report (述职报告).
    pub sessions_with_duty_report: i64,
    /// Member summaries (党员小结) of those sessions, in all.
    pub member_summaries: i64,
    /// One page of the sessions in the subtree (in tree order) with the written records
    /// each has.
    pub session_records: Vec<SessionRecords>,
    /// The campaign's report requests sent from within the subtree, each with the
    /// children that have not submitted.
    pub report_requests: Vec<RequestCoverage>,
    pub page: i64,
    pub per_page: i64,
}

/// Which of the written records a session has.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct SessionRecords {
    pub session_id: i64,
    pub org_id: i64,
    pub name: String,
    pub self_inspection: bool,
    pub duty_report: bool,
    pub member_summaries: i64,
}

/// A report request and the children that have not answered it.
#[derive(Debug, Serialize, ToSchema, PartialEq)]
pub struct RequestCoverage {
    pub id: i64,
    pub from_org_id: i64,
    pub title: String,
    pub due_on: chrono::NaiveDate,
    pub missing: Vec<OrgRef>,
}

// Exports.

text_enum! {
    /// Which report an export holds.
    pub enum ExportReport {
        Results => "results",
        Rankings => "rankings",
        Coverage => "coverage",
        /// 整改台账: the campaign's rectification items.
        Rectifications => "rectifications",
    }
}

text_enum! {
    pub enum ExportFormat {
        Xlsx => "xlsx",
        Csv => "csv",
    }
}

/// An exported file, as bytes: an xlsx workbook, or CSV in UTF-8 with a BOM.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ExportFile(pub Vec<u8>);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub report: ExportReport,
    /// Default `xlsx`.
    pub format: Option<ExportFormat>,
    /// The subtree (default: the highest org the actor reads results at).
    pub org_id: Option<i64>,
    /// For `results` and `rankings`; default `org`.
    pub subject_type: Option<SubjectType>,
}
