use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::campaigns::model::CampaignRow;
use crate::db::schema::{session_subjects, voting_code_batches};
use crate::sessions::model::{SessionKind, SessionStatus};
use crate::templates::model::{Criteria, Level, SubjectType};
use crate::text_enum;

text_enum! {
    /// Who a code is for: 党员 party_member · 群众代表 mass_representative ·
    /// 两代表一委员 deputy · 非党出资人/负责人 non_party_investor · 服务对象 service_recipient ·
    /// 下属单位负责人 subordinate_leader · other.
    pub enum ParticipantCategory {
        PartyMember => "party_member",
        MassRepresentative => "mass_representative",
        Deputy => "deputy",
        NonPartyInvestor => "non_party_investor",
        ServiceRecipient => "service_recipient",
        SubordinateLeader => "subordinate_leader",
        Other => "other",
    }
}

impl ParticipantCategory {
    /// The name printed on code cards and shown to voters.
    pub fn label_zh(self) -> &'static str {
        match self {
            ParticipantCategory::PartyMember => "党员",
            ParticipantCategory::MassRepresentative => "群众代表",
            ParticipantCategory::Deputy => "两代表一委员",
            ParticipantCategory::NonPartyInvestor => "非党出资人/负责人",
            ParticipantCategory::ServiceRecipient => "服务对象",
            ParticipantCategory::SubordinateLeader => "下属单位负责人",
            ParticipantCategory::Other => "其他",
        }
    }
}

text_enum! {
    /// Where a voting code stands; stored as this text in `voting_codes.state`.
    pub enum CodeState {
        Unused => "unused",
        Used => "used",
        /// Withdrawn with its batch before it was used.
        Void => "void",
    }
}

pub const MAX_CODES_PER_BATCH: i32 = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"category": "mass_representative", "count": 30}))]
pub struct IssueCodes {
    pub category: ParticipantCategory,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub count: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IssueQuery {
    /// `html` answers a printable sheet (a QR code per code) instead of JSON.
    #[param(inline)]
    pub format: Option<CodesFormat>,
}

crate::text_enum! {
    /// How issued codes are answered: JSON, or a printable HTML sheet.
    pub enum CodesFormat {
        Json => "json",
        Html => "html",
    }
}

/// Issued codes: this answer is the only time they are shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"batch_id": 4, "session_id": 12, "category": "mass_representative", "count": 2, "codes": ["7KQ2-M9XD-4TNB", "H3ZP-0QWE-8RCY"]}))]
pub struct IssuedCodes {
    pub batch_id: i64,
    pub session_id: i64,
    pub category: ParticipantCategory,
    pub count: i32,
    pub codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "category": "mass_representative", "count": 30, "used": 12, "void": 0, "created_at": "2026-11-29T10:00:00Z", "voided_at": null}))]
pub struct Batch {
    pub id: i64,
    pub category: ParticipantCategory,
    pub count: i32,
    /// Codes used; null for a batch of fewer codes than the campaign's
    /// `min_category_ballots`, where it would show who voted.
    pub used: Option<i64>,
    pub void: i64,
    pub created_at: DateTime<Utc>,
    pub voided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({"category": "party_member", "issued": 30, "used": 28, "void": 0, "paper": 3}))]
pub struct CategoryTurnout {
    pub category: Option<ParticipantCategory>,
    pub issued: i64,
    /// Ballots cast with codes, plus paper ballots.
    pub used: i64,
    pub void: i64,
    /// Paper ballots typed in by an organizer (also counted in `used`).
    pub paper: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"expected": 62, "issued": 60, "cast": 55, "used": 55, "void": 0, "paper": 3, "categories": [{"category": "party_member", "issued": 30, "used": 28, "void": 0, "paper": 3}]}))]
pub struct Turnout {
    /// 应到人数: the voters the session expects (null: not declared).
    pub expected: Option<i64>,
    pub issued: i64,
    /// 实到: ballots cast (used codes and paper ballots; the same as `used`).
    pub cast: i64,
    pub used: i64,
    pub void: i64,
    pub paper: i64,
    pub categories: Vec<CategoryTurnout>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"code": "7KQ2-M9XD-4TNB"}))]
pub struct FormRequest {
    /// The voting code, as printed (case and dashes do not matter).
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormSession {
    pub id: i64,
    /// The campaign's title.
    pub title: String,
    pub org_name: String,
    pub kind: SessionKind,
    pub status: SessionStatus,
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = session_subjects)]
pub struct FormSubject {
    pub id: i64,
    pub subject_type: SubjectType,
    pub name: String,
}

/// What a voter needs to fill the ballot.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"session": {"id": 12, "title": "2011年度创先争优群众评议", "org_name": "机电工程学院教工第一党支部", "kind": "branch_meeting", "status": "open"}, "category": "party_member", "subjects": [{"id": 101, "subject_type": "org", "name": "机电工程学院教工第一党支部"}], "criteria": {"org": [{"id": 1, "label_zh": "深入开展创先争优活动,切实兑现公开承诺的情况", "label_en": "Carrying out the excellence campaign and keeping public commitments"}], "secretary": [], "member": []}, "scale": [{"level": "satisfied", "label_zh": "满意", "label_en": "Satisfied", "score": 100, "satisfied": true}]}))]
pub struct BallotForm {
    pub session: FormSession,
    pub category: ParticipantCategory,
    pub subjects: Vec<FormSubject>,
    pub criteria: Criteria,
    pub scale: Vec<Level>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": 101, "criterion_id": 5, "level": "satisfied"}))]
pub struct Rating {
    pub subject_id: i64,
    pub criterion_id: i64,
    pub level: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"code": "7KQ2-M9XD-4TNB", "ratings": [{"subject_id": 101, "criterion_id": 1, "level": "satisfied"}], "opinion": "希望多开展志愿服务"}))]
pub struct SubmitBallot {
    pub code: String,
    /// At least one; each (subject, criterion) at most once.
    #[schema(min_items = 1, max_items = 3000)]
    pub ratings: Vec<Rating>,
    /// Stored apart from the ballot: nothing ties it to this ballot.
    #[schema(max_length = 2000)]
    pub opinion: Option<String>,
}

/// Every receipt of a closed session, sorted: a voter finds theirs to see that their ballot
/// was counted, and learns nothing else (nor can prove how they voted).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"session_id": 12, "receipts": ["0B7T-KQ2M-9XD4-TNBH", "Q4M2-8ZKD-1TXH-7PRN"]}))]
pub struct SessionReceipts {
    pub session_id: i64,
    pub receipts: Vec<String>,
}

/// Proof of voting that reveals nothing of the ballot.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"receipt": "Q4M2-8ZKD-1TXH-7PRN"}))]
pub struct Receipt {
    pub receipt: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"ratings": [{"subject_id": 101, "criterion_id": 1, "level": "satisfied"}], "opinion": null}))]
pub struct PaperBallot {
    #[schema(min_items = 1, max_items = 3000)]
    pub ratings: Vec<Rating>,
    #[schema(max_length = 2000)]
    pub opinion: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"category": "mass_representative", "ballots": [{"ratings": [{"subject_id": 101, "criterion_id": 1, "level": "satisfied"}]}]}))]
pub struct PaperBallots {
    pub category: ParticipantCategory,
    /// 1 to 500 ballots.
    #[schema(min_items = 1, max_items = 500)]
    pub ballots: Vec<PaperBallot>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"category": "mass_representative", "created": 12}))]
pub struct PaperBallotsEntered {
    pub category: ParticipantCategory,
    pub created: usize,
}

/// A batch as stored.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = voting_code_batches)]
pub struct BatchRow {
    pub id: i64,
    pub category: ParticipantCategory,
    pub count: i32,
    pub created_at: NaiveDateTime,
    pub voided_at: Option<NaiveDateTime>,
}

/// `n` codes of a batch in one state.
#[derive(Debug, Queryable)]
pub struct BatchCodes {
    pub batch_id: i64,
    pub state: CodeState,
    pub n: i64,
}

/// `n` codes of a category in one state.
#[derive(Debug, Queryable)]
pub struct CategoryCodes {
    pub category: ParticipantCategory,
    pub state: CodeState,
    pub n: i64,
}

/// `n` paper ballots of a category.
#[derive(Debug, Queryable)]
pub struct CategoryPaper {
    pub category: ParticipantCategory,
    pub n: i64,
}

/// A code found by its hash.
#[derive(Debug, Queryable)]
pub struct CodeRow {
    pub session_id: i64,
    pub category: ParticipantCategory,
    pub state: CodeState,
}

/// What a ballot form shows of its session, as stored.
#[derive(Debug, Queryable)]
pub struct FormSessionRow {
    pub status: SessionStatus,
    pub kind: SessionKind,
    pub org_name: String,
    pub domain: crate::orgs::model::Domain,
    pub campaign: CampaignRow,
}
