//! Pure rules of a session's life: scheduled → open → closed, within the campaign's dates;
//! and who is rated on its ballots.

use chrono::{DateTime, NaiveDate, Utc};

use super::model::{SessionKind, SessionStatus};
use crate::auth::policy::covers;
use crate::auth::Grants;
use crate::campaigns::rules::CampaignStatus;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::orgs::model::OrgKind;
use crate::templates::model::SubjectType;

/// Subjects, the session and its bulk creation change only while the session is scheduled.
pub fn require_scheduled(status: SessionStatus) -> ApiResult<()> {
    if status != SessionStatus::Scheduled {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotScheduled,
            "This changes only while the session is scheduled.",
        ));
    }
    Ok(())
}

/// Sessions are scheduled while the campaign is a draft or active.
pub fn campaign_open_for_sessions(campaign: CampaignStatus) -> ApiResult<()> {
    match campaign {
        CampaignStatus::Draft | CampaignStatus::Active => Ok(()),
        _ => Err(ApiError::conflict(
            ErrorCode::CampaignClosed,
            "The campaign is closed.",
        )),
    }
}

/// A session is scheduled on a local day within the campaign's dates.
pub fn check_schedule(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let day = crate::types::local_date(at);
    if day < starts_on || day > ends_on {
        return Err(ApiError::field(
            "scheduled_at",
            format!("must fall within the campaign, {starts_on} to {ends_on}"),
        ));
    }
    Ok(())
}

/// A session's org lies in its campaign's subtree.
pub fn check_in_campaign(org_path: &str, owner_path: &str) -> ApiResult<()> {
    if !covers(owner_path, org_path) {
        return Err(ApiError::field("org_id", "not an org of this campaign"));
    }
    Ok(())
}

/// A new location (in a change: `Some(Some(_))`) is 1 to 200 characters, not blank.
pub fn check_location(location: Option<Option<&str>>) -> ApiResult<()> {
    if let Some(Some(location)) = location {
        if location.trim().is_empty() || location.chars().count() > 200 {
            return Err(ApiError::field(
                "location",
                "length must be between 1 and 200",
            ));
        }
    }
    Ok(())
}

/// The observer (上级派员) must be an enabled user (`grants` is `None` otherwise) with a
/// grant on a strict superior of the evaluated org.
pub fn check_observer(grants: Option<&Grants>, org_path: &str) -> ApiResult<()> {
    if grants.is_some_and(|g| g.is_strict_superior_of(org_path)) {
        Ok(())
    } else {
        Err(ApiError::field(
            "observer_user_id",
            "must be a user of a superior org",
        ))
    }
}

/// The person a subject of this type names: none for the org, required otherwise.
pub fn subject_person(subject_type: SubjectType, person_id: Option<i64>) -> ApiResult<Option<i64>> {
    match (subject_type, person_id) {
        (SubjectType::Org, _) => Ok(None),
        (_, None) => Err(ApiError::field(
            "person_id",
            "required for secretary and member subjects",
        )),
        (_, Some(person_id)) => Ok(Some(person_id)),
    }
}

pub fn open(
    status: SessionStatus,
    campaign: CampaignStatus,
    today: NaiveDate,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
) -> Result<SessionStatus, ApiError> {
    if status != SessionStatus::Scheduled {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!("A {status} session cannot open."),
        ));
    }
    if campaign != CampaignStatus::Active {
        return Err(ApiError::conflict(
            ErrorCode::CampaignNotActive,
            "Sessions open only while their campaign is active.",
        ));
    }
    if today < starts_on || today > ends_on {
        return Err(ApiError::conflict(
            ErrorCode::OutsideCampaignDates,
            format!("Sessions of this campaign open from {starts_on} to {ends_on}."),
        ));
    }
    Ok(SessionStatus::Open)
}

/// The subjects a session needs before it opens: the org, and a secretary subject where
/// the org has a secretary (`has_secretary`).
pub fn check_ballot_complete(
    subjects: &[SubjectType],
    has_secretary: bool,
) -> Result<(), ApiError> {
    if !subjects.contains(&SubjectType::Org) {
        return Err(ApiError::conflict(
            ErrorCode::OrgSubjectMissing,
            "The session's org is not on the ballot: add an org subject before opening.",
        ));
    }
    if has_secretary && !subjects.contains(&SubjectType::Secretary) {
        return Err(ApiError::conflict(
            ErrorCode::SecretarySubjectMissing,
            "The org has a secretary who is not on the ballot: add a secretary subject before opening.",
        ));
    }
    Ok(())
}

/// Expected voters are 1 to 100000, paper forms 0 to 100000 (null clears either).
pub fn check_counts(
    expected_voters: Option<Option<i32>>,
    paper_forms: Option<Option<i32>>,
) -> Result<(), ApiError> {
    if let Some(Some(n)) = expected_voters {
        if !(1..=100_000).contains(&n) {
            return Err(ApiError::field("expected_voters", "must be 1 to 100000"));
        }
    }
    if let Some(Some(n)) = paper_forms {
        if !(0..=100_000).contains(&n) {
            return Err(ApiError::field("paper_forms", "must be 0 to 100000"));
        }
    }
    Ok(())
}

/// The reason given for removing a subject: 1 to 200 characters, no control characters.
pub fn removal_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::field("reason", "must not be empty"));
    }
    if reason.chars().count() > 200 {
        return Err(ApiError::field("reason", "at most 200 characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err(ApiError::field(
            "reason",
            "must not contain control characters",
        ));
    }
    Ok(reason.to_owned())
}

/// Subjects change only before any code is issued: the codes are printed for one ballot.
pub fn check_subjects_changeable(codes_issued: bool) -> Result<(), ApiError> {
    if codes_issued {
        return Err(ApiError::conflict(
            ErrorCode::SubjectsFixed,
            "Codes have been issued for this session: its subjects are fixed.",
        ));
    }
    Ok(())
}

pub fn close(status: SessionStatus) -> Result<SessionStatus, ApiError> {
    match status {
        SessionStatus::Open => Ok(SessionStatus::Closed),
        other => Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!("A {other} session cannot close."),
        )),
    }
}

/// Which orgs a bulk creation of this kind covers.
pub fn bulk_covers(kind: SessionKind, org_kind: OrgKind, window_unit: bool) -> bool {
    match kind {
        SessionKind::BranchMeeting => org_kind == OrgKind::Branch,
        SessionKind::CommitteeReview => matches!(
            org_kind,
            OrgKind::Committee | OrgKind::WorkingCommittee | OrgKind::GeneralBranch
        ),
        SessionKind::WindowUnit => window_unit,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ballot_is_complete_with_the_org_and_its_secretary() {
        use crate::templates::model::SubjectType::{Member, Org, Secretary};
        assert!(check_ballot_complete(&[Org, Secretary, Member], true).is_ok());
        assert!(check_ballot_complete(&[Org, Member], false).is_ok());
        let code = |r: Result<(), ApiError>| r.unwrap_err().code;
        assert_eq!(
            code(check_ballot_complete(&[Org, Member], true)),
            ErrorCode::SecretarySubjectMissing
        );
        assert_eq!(
            code(check_ballot_complete(&[Secretary], true)),
            ErrorCode::OrgSubjectMissing
        );
        assert_eq!(
            code(check_subjects_changeable(true)),
            ErrorCode::SubjectsFixed
        );
        assert!(check_subjects_changeable(false).is_ok());
    }

    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2012, 1, day).unwrap()
    }

    #[test]
    fn opens_only_scheduled_sessions_of_active_campaigns_within_dates() {
        let ok = open(
            SessionStatus::Scheduled,
            CampaignStatus::Active,
            d(5),
            d(1),
            d(9),
        );
        assert_eq!(ok.unwrap(), SessionStatus::Open);
        assert_eq!(
            open(
                SessionStatus::Scheduled,
                CampaignStatus::Active,
                d(1),
                d(1),
                d(9)
            )
            .unwrap(),
            SessionStatus::Open
        );
        assert_eq!(
            open(
                SessionStatus::Scheduled,
                CampaignStatus::Active,
                d(9),
                d(1),
                d(9)
            )
            .unwrap(),
            SessionStatus::Open
        );
        let codes = |r: Result<SessionStatus, ApiError>| r.unwrap_err().code.to_string();
        assert_eq!(
            codes(open(
                SessionStatus::Scheduled,
                CampaignStatus::Active,
                d(10),
                d(1),
                d(9)
            )),
            "outside_campaign_dates"
        );
        assert_eq!(
            codes(open(
                SessionStatus::Scheduled,
                CampaignStatus::Draft,
                d(5),
                d(1),
                d(9)
            )),
            "campaign_not_active"
        );
        assert_eq!(
            codes(open(
                SessionStatus::Open,
                CampaignStatus::Active,
                d(5),
                d(1),
                d(9)
            )),
            "invalid_transition"
        );
        assert_eq!(
            codes(open(
                SessionStatus::Closed,
                CampaignStatus::Active,
                d(5),
                d(1),
                d(9)
            )),
            "invalid_transition"
        );
    }

    #[test]
    fn closes_only_open_sessions() {
        assert_eq!(close(SessionStatus::Open).unwrap(), SessionStatus::Closed);
        assert!(close(SessionStatus::Scheduled).is_err());
        assert!(close(SessionStatus::Closed).is_err());
    }

    #[test]
    fn scheduling_checks() {
        assert!(require_scheduled(SessionStatus::Scheduled).is_ok());
        assert!(require_scheduled(SessionStatus::Open).is_err());
        assert!(campaign_open_for_sessions(CampaignStatus::Draft).is_ok());
        assert!(campaign_open_for_sessions(CampaignStatus::Active).is_ok());
        assert!(campaign_open_for_sessions(CampaignStatus::Closed).is_err());
        assert!(campaign_open_for_sessions(CampaignStatus::Published).is_err());
        // 23:30 UTC on the 31st is already the 1st in China.
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(check_schedule(d(1), d(9), at("2011-12-31T23:30:00Z")).is_ok());
        assert!(check_schedule(d(1), d(9), at("2011-12-31T15:30:00Z")).is_err());
        assert!(check_schedule(d(1), d(9), at("2012-01-09T15:30:00Z")).is_ok());
        assert!(check_schedule(d(1), d(9), at("2012-01-09T16:30:00Z")).is_err());
        assert!(check_in_campaign("/1/7/", "/1/").is_ok());
        assert!(check_in_campaign("/1/", "/1/7/").is_err());
        assert!(check_location(None).is_ok());
        assert!(check_location(Some(None)).is_ok());
        assert!(check_location(Some(Some("礼堂"))).is_ok());
        assert!(check_location(Some(Some("  "))).is_err());
        assert!(check_location(Some(Some(&"x".repeat(201)))).is_err());
    }

    #[test]
    fn secretaries_and_members_name_a_person() {
        assert_eq!(subject_person(SubjectType::Org, Some(4)).unwrap(), None);
        assert_eq!(
            subject_person(SubjectType::Member, Some(4)).unwrap(),
            Some(4)
        );
        assert!(subject_person(SubjectType::Secretary, None).is_err());
    }

    #[test]
    fn an_observer_comes_from_above_and_is_enabled() {
        use crate::auth::policy::Grant;
        use crate::auth::Role;
        let grant = |role, path: Option<&str>| Grant {
            id: 1,
            org_id: None,
            role,
            org_path: path.map(str::to_owned),
        };
        let above = Grants(vec![grant(Role::Member, Some("/1/"))]);
        assert!(check_observer(Some(&above), "/1/7/").is_ok());
        assert!(check_observer(Some(&above), "/1/").is_err());
        assert!(check_observer(None, "/1/7/").is_err());
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(check_observer(Some(&admin), "/1/").is_ok());
    }

    #[test]
    fn bulk_kinds() {
        assert!(bulk_covers(
            SessionKind::BranchMeeting,
            OrgKind::Branch,
            false
        ));
        assert!(!bulk_covers(
            SessionKind::BranchMeeting,
            OrgKind::Committee,
            false
        ));
        assert!(bulk_covers(
            SessionKind::CommitteeReview,
            OrgKind::GeneralBranch,
            false
        ));
        assert!(!bulk_covers(
            SessionKind::CommitteeReview,
            OrgKind::Branch,
            false
        ));
        assert!(bulk_covers(SessionKind::WindowUnit, OrgKind::Branch, true));
        assert!(!bulk_covers(
            SessionKind::WindowUnit,
            OrgKind::Branch,
            false
        ));
    }
}
