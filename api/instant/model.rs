//! Instant evaluation as stored and as the API shows it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::{instant_cases, service_points};
use crate::text_enum;

text_enum! {
    /// The five levels of 好差评: 非常满意, 满意, 基本满意, 不满意, 非常不满意.
    pub enum InstantLevel {
        VerySatisfied => "very_satisfied",
        Satisfied => "satisfied",
        BasicallySatisfied => "basically_satisfied",
        Dissatisfied => "dissatisfied",
        VeryDissatisfied => "very_dissatisfied",
    }
}

text_enum! {
    /// A service ticket: unused, used by its rating, or void (its point was deactivated).
    pub enum TicketState {
        Unused => "unused",
        Used => "used",
        Void => "void",
    }
}

text_enum! {
    /// awaiting_follow_up (a contact was left) → in_handling → resolved; in_handling →
    /// appealed → upheld (the rating no longer counts) or back to in_handling (kept).
    pub enum CaseStatus {
        AwaitingFollowUp => "awaiting_follow_up",
        InHandling => "in_handling",
        Appealed => "appealed",
        Resolved => "resolved",
        Upheld => "upheld",
    }
}

text_enum! {
    /// What the follow-up call (回访核实) found: the complaint is confirmed, it is not
    /// borne out, or the rater could not be reached.
    pub enum FollowUpResult {
        Confirmed => "confirmed",
        Unfounded => "unfounded",
        Unreachable => "unreachable",
    }
}

text_enum! {
    /// A superior's decision on an appeal: upheld (the rating is removed from the figures)
    /// or kept (the case goes back to be handled).
    pub enum AppealDecision {
        Upheld => "upheld",
        Kept => "kept",
    }
}

// Service points.

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_points)]
pub struct PointRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub location: String,
    pub point_key: String,
    pub open_rating: bool,
    pub active: bool,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A service point (a counter or desk) of a window unit.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "org_id": 29, "name": "1号窗口", "location": "行政楼一楼大厅", "open_rating": false, "active": true, "rate_link": "https://pingyi.example.cn/rate#point=Xk2v9QmT4bR7nW1c", "created_at": "2026-11-30T02:00:00Z", "updated_at": "2026-11-30T02:00:00Z"}))]
pub struct ServicePoint {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub location: String,
    /// Whether anyone may rate from the poster's QR code without a ticket (unverified,
    /// counted apart).
    pub open_rating: bool,
    /// An inactive point issues no tickets; its unused tickets stopped working.
    pub active: bool,
    /// The poster's link (its QR code): the rating page for this point.
    pub rate_link: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "1号窗口", "location": "行政楼一楼大厅", "open_rating": false}))]
pub struct CreatePoint {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(max_length = 200)]
    #[serde(default)]
    pub location: String,
    /// Default false: only ticketed ratings.
    #[serde(default)]
    pub open_rating: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"open_rating": true}))]
pub struct UpdatePoint {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 200)]
    pub location: Option<String>,
    pub open_rating: Option<bool>,
    /// Deactivating voids the point's unused tickets.
    pub active: Option<bool>,
}

/// Settings of a window unit's instant evaluation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resolve_working_days": 5, "ticket_valid_days": 7}))]
pub struct InstantSettings {
    /// Working days a bad review has to be resolved in, from the day it was left.
    #[schema(minimum = 1, maximum = 30)]
    pub resolve_working_days: i32,
    /// Days a service ticket stays valid.
    #[schema(minimum = 1, maximum = 30)]
    pub ticket_valid_days: i32,
}

impl Default for InstantSettings {
    fn default() -> Self {
        InstantSettings {
            resolve_working_days: 5,
            ticket_valid_days: 7,
        }
    }
}

// Tickets.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"count": 1}))]
pub struct IssueTickets {
    /// Tickets to issue, one per service (default 1).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// `html`: printable slips with a QR code each, instead of JSON.
    #[param(inline)]
    pub format: Option<crate::ballots::model::CodesFormat>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// The one-time code, grouped for reading out (case and dashes do not matter).
    pub ticket: String,
    /// The rating page with the ticket (in the URL fragment, which is never sent to a
    /// server): the QR code's content.
    pub link: String,
}

/// Tickets just issued: the only time their codes are shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"point_id": 3, "expires_at": "2026-12-07T02:00:00Z", "tickets": [{"ticket": "7KQ2-M9XD-4TNB", "link": "https://pingyi.example.cn/rate#ticket=7KQ2-M9XD-4TNB"}]}))]
pub struct IssuedTickets {
    pub point_id: i64,
    pub expires_at: DateTime<Utc>,
    pub tickets: Vec<Ticket>,
}

// Rating (public).

/// A ticket, or a point's key for the open-QR mode: exactly one of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ticket": "7KQ2-M9XD-4TNB"}))]
pub struct RatingFormRequest {
    #[schema(max_length = 40)]
    pub ticket: Option<String>,
    #[schema(max_length = 64)]
    pub point: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelOption {
    pub level: InstantLevel,
    pub label: String,
    pub label_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionOption {
    pub id: i32,
    pub name: String,
    pub name_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormPoint {
    pub name: String,
    pub org_name: String,
}

/// What the rating page shows for a ticket or a point.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingForm {
    pub point: FormPoint,
    /// False in the open-QR mode: the rating is counted apart, as unverified.
    pub verified: bool,
    /// Best first.
    pub levels: Vec<LevelOption>,
    /// Aspects that may be rated too (optional).
    pub criteria: Vec<CriterionOption>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingItem {
    #[schema(minimum = 1, maximum = 1000)]
    pub criterion_id: i32,
    pub level: InstantLevel,
}

/// One rating of one service.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ticket": "7KQ2-M9XD-4TNB", "level": "very_dissatisfied", "items": [{"criterion_id": 2, "level": "very_dissatisfied"}], "comment": "排队一个小时，窗口只开了一个", "contact": "13812345678"}))]
pub struct SubmitRating {
    #[schema(max_length = 40)]
    pub ticket: Option<String>,
    #[schema(max_length = 64)]
    pub point: Option<String>,
    pub level: InstantLevel,
    /// Aspects rated, each at most once.
    #[schema(max_items = 20)]
    #[serde(default)]
    pub items: Vec<RatingItem>,
    #[schema(max_length = 500)]
    pub comment: Option<String>,
    /// A phone number or other contact, kept only with a bad review: someone calls back
    /// (回访) within one working day.
    #[schema(max_length = 50)]
    pub contact: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"verified": true, "case_opened": true, "reply_available": true}))]
pub struct RatingRecorded {
    pub verified: bool,
    /// A bad review opened a case that will be followed up and answered.
    pub case_opened: bool,
    /// The reply can be read later with the ticket (a ticket, a bad review, a contact).
    pub reply_available: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ticket": "7KQ2-M9XD-4TNB"}))]
pub struct ReplyRequest {
    #[schema(min_length = 1, max_length = 40)]
    pub ticket: String,
}

/// How the bad review left with a ticket is being handled, for the person who left it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "resolved", "opened_on": "2026-11-30", "follow_up_due_on": "2026-12-01", "resolve_due_on": "2026-12-07", "followed_up": true, "measures": "增开两个窗口，推行预约办理", "reply": "感谢您的意见，我们已增开窗口。", "resolved_on": "2026-12-03"}))]
pub struct CaseReply {
    pub status: CaseStatus,
    pub opened_on: NaiveDate,
    pub follow_up_due_on: Option<NaiveDate>,
    pub resolve_due_on: NaiveDate,
    pub followed_up: bool,
    pub measures: Option<String>,
    pub reply: Option<String>,
    pub resolved_on: Option<NaiveDate>,
}

// Cases.

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = instant_cases)]
pub struct CaseRow {
    pub id: i64,
    pub point_id: i64,
    pub org_id: i64,
    pub level: InstantLevel,
    pub verified: bool,
    pub comment: Option<String>,
    pub contact: Option<String>,
    pub status: CaseStatus,
    pub opened_on: NaiveDate,
    pub follow_up_due_on: Option<NaiveDate>,
    pub resolve_due_on: NaiveDate,
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
    pub updated_at: Option<NaiveDateTime>,
}

/// A bad review (不满意 / 非常不满意) and its handling: follow-up, then rectified and answered,
/// or appealed to a superior as unfounded. Days only: a case keeps no time of the service.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "point_id": 3, "point_name": "1号窗口", "org_id": 29, "level": "very_dissatisfied", "verified": true, "comment": "排队一个小时", "contact": "138****5678", "status": "in_handling", "opened_on": "2026-11-30", "follow_up_due_on": "2026-12-01", "resolve_due_on": "2026-12-07", "overdue": false, "follow_up_result": "confirmed", "follow_up_note": "已电话回访，情况属实", "followed_up_on": "2026-12-01", "measures": null, "reply": null, "resolved_on": null, "resolved_on_time": null, "appeal_reason": null, "appealed_on": null, "appeal_decision": null, "decision_note": null, "decided_on": null, "rectification_id": null}))]
pub struct Case {
    pub id: i64,
    pub point_id: i64,
    pub point_name: String,
    pub org_id: i64,
    pub level: InstantLevel,
    /// Left with a ticket (false: the open-QR mode).
    pub verified: bool,
    pub comment: Option<String>,
    /// The contact left, in full for those who handle the case, masked for other readers.
    pub contact: Option<String>,
    pub status: CaseStatus,
    pub opened_on: NaiveDate,
    /// One working day after the day it was left, when a contact was left.
    pub follow_up_due_on: Option<NaiveDate>,
    /// The org's working days after the day it was left.
    pub resolve_due_on: NaiveDate,
    /// The pending step's due day has passed (China Standard Time); derived, never stored.
    pub overdue: bool,
    pub follow_up_result: Option<FollowUpResult>,
    pub follow_up_note: Option<String>,
    pub followed_up_on: Option<NaiveDate>,
    pub measures: Option<String>,
    pub reply: Option<String>,
    pub resolved_on: Option<NaiveDate>,
    /// For a resolved case: resolved by its due day.
    pub resolved_on_time: Option<bool>,
    pub appeal_reason: Option<String>,
    pub appealed_on: Option<NaiveDate>,
    pub appeal_decision: Option<AppealDecision>,
    pub decision_note: Option<String>,
    pub decided_on: Option<NaiveDate>,
    /// The rectification item the case opened, if any.
    pub rectification_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    /// Cases of this org's subtree (default: every org where the actor reads results).
    pub org_id: Option<i64>,
    pub point_id: Option<i64>,
    pub status: Option<CaseStatus>,
    /// Only cases whose pending step is past its due day (true), or the others (false).
    pub overdue: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"result": "confirmed", "note": "已电话回访，群众反映情况属实"}))]
pub struct FollowUp {
    pub result: FollowUpResult,
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"measures": "高峰时段增开两个窗口，推行预约办理", "reply": "感谢您的意见，我们已在高峰时段增开窗口。"}))]
pub struct Resolve {
    /// 整改措施.
    #[schema(min_length = 1, max_length = 4000)]
    pub measures: String,
    /// The answer to the person who left the review (有反馈).
    #[schema(min_length = 1, max_length = 2000)]
    pub reply: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "当日该窗口未办理此项业务，监控可查"}))]
pub struct Appeal {
    #[schema(min_length = 1, max_length = 4000)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "upheld", "note": "经核查监控，当日未办理该业务，申诉成立"}))]
pub struct DecideAppeal {
    pub decision: AppealDecision,
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

/// Opens a rectification item (整改) for the case's org in a campaign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"campaign_id": 3, "due_on": "2026-12-31", "measures": "高峰时段增开窗口"}))]
pub struct OpenRectification {
    pub campaign_id: i64,
    pub due_on: NaiveDate,
    #[schema(max_length = 4000)]
    #[serde(default)]
    pub measures: String,
}

// Figures.

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// The month, `YYYY-MM` (default: this month in China Standard Time).
    #[param(pattern = r"^\d{4}-\d{2}$", example = "2026-11")]
    pub month: Option<String>,
}

/// Ratings per level.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct LevelCounts {
    pub very_satisfied: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub dissatisfied: i64,
    pub very_dissatisfied: i64,
}

/// Figures of a set of ratings. Fewer than k ratings (3) show only their number: no levels,
/// no rates; and where a list's withheld entries together hold 1 to k−1 ratings, the
/// smallest shown entry is withheld too, so no withheld figure follows by subtraction.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct LevelFigures {
    pub ratings: i64,
    pub withheld: bool,
    pub levels: Option<LevelCounts>,
    /// (非常满意 + 满意 + 基本满意) / all, 0–1.
    pub satisfaction_rate: Option<f64>,
    /// Mean of 100 / 80 / 60 / 40 / 20 points (five stars as a percentage), 0–100.
    pub score: Option<f64>,
}

/// Ticketed ratings (the figures) and open-QR ratings, counted apart.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SplitFigures {
    pub verified: LevelFigures,
    pub unverified: LevelFigures,
}

/// Bad reviews opened in the period and where they stand today.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct BadReviews {
    pub opened: i64,
    pub awaiting_follow_up: i64,
    pub in_handling: i64,
    pub appealed: i64,
    pub resolved: i64,
    /// Resolved by their due day.
    pub resolved_on_time: i64,
    /// Pending past their due day.
    pub overdue: i64,
    /// Appeals upheld: those ratings no longer count.
    pub upheld: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub verified: LevelFigures,
    pub unverified: LevelFigures,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct PointMonth {
    pub point_id: i64,
    pub name: String,
    pub verified: LevelFigures,
    pub unverified: LevelFigures,
}

/// A service point's month: the whole month and each day with ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointFigures {
    pub point_id: i64,
    pub name: String,
    pub org_id: i64,
    /// `YYYY-MM`.
    pub month: String,
    pub total: SplitFigures,
    pub bad_reviews: BadReviews,
    pub days: Vec<DayFigures>,
}

/// A window unit's month: the whole month, each day, each service point.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitFigures {
    pub org_id: i64,
    pub name: String,
    pub month: String,
    pub total: SplitFigures,
    pub bad_reviews: BadReviews,
    pub days: Vec<DayFigures>,
    pub points: Vec<PointMonth>,
}

/// A window unit's place in a month's ranking (月度排名): by satisfaction rate, then score,
/// over ticketed ratings; units with fewer than k ratings come last, unranked, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstantRankingItem {
    pub rank: Option<i64>,
    pub org_id: i64,
    pub name: String,
    pub figures: LevelFigures,
    pub bad_reviews: i64,
    pub overdue: i64,
}

/// A window unit's instant ratings inside a campaign's dates, shown beside (never mixed
/// into) its meeting's results.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct InstantRollIn {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub figures: SplitFigures,
    pub bad_reviews: BadReviews,
}
