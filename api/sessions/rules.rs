//! Pure rules of a session's life: scheduled → open → closed, within the campaign's dates.

use chrono::NaiveDate;

use super::model::{SessionKind, SessionStatus};
use crate::campaigns::rules::CampaignStatus;
use crate::error::{ApiError, ErrorCode};

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
pub fn bulk_covers(kind: SessionKind, org_kind: &str, window_unit: bool) -> bool {
    match kind {
        SessionKind::BranchMeeting => org_kind == "branch",
        SessionKind::CommitteeReview => matches!(
            org_kind,
            "committee" | "working_committee" | "general_branch"
        ),
        SessionKind::WindowUnit => window_unit,
    }
}

#[cfg(test)]
mod tests {
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
    fn bulk_kinds() {
        assert!(bulk_covers(SessionKind::BranchMeeting, "branch", false));
        assert!(!bulk_covers(SessionKind::BranchMeeting, "committee", false));
        assert!(bulk_covers(
            SessionKind::CommitteeReview,
            "general_branch",
            false
        ));
        assert!(bulk_covers(SessionKind::WindowUnit, "branch", true));
        assert!(!bulk_covers(SessionKind::WindowUnit, "branch", false));
    }
}
