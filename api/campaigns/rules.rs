//! The campaign's life: draft → active → closed → published, and the pure checks of its
//! fields.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::model::{CampaignRow, CreateCampaign, UpdateCampaign};
use crate::auth::policy::covers;
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError};
use crate::orgs::model::Domain;
use crate::text_enum;

text_enum! {
    pub enum CampaignStatus {
        Draft => "draft",
        Active => "active",
        Closed => "closed",
        Published => "published",
    }
}

text_enum! {
    pub enum CampaignAction {
        Activate => "activate",
        Close => "close",
        Publish => "publish",
    }
}

/// The status an action leads to, or `None` when the action is not allowed from `from`.
pub fn transition(from: CampaignStatus, action: CampaignAction) -> Option<CampaignStatus> {
    use CampaignAction::*;
    use CampaignStatus::*;
    match (from, action) {
        (Draft, Activate) => Some(Active),
        (Active, Close) => Some(Closed),
        (Closed, Publish) => Some(Published),
        _ => None,
    }
}

/// As [`transition`], a refusal being a conflict.
pub fn step(from: CampaignStatus, action: CampaignAction) -> ApiResult<CampaignStatus> {
    transition(from, action).ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!("A {from} campaign cannot {action}."),
        )
    })
}

/// The audit action of a step.
pub fn audit_action(action: CampaignAction) -> &'static str {
    match action {
        CampaignAction::Activate => "campaign.activate",
        CampaignAction::Close => "campaign.close",
        CampaignAction::Publish => "campaign.publish",
    }
}

/// The fields of a campaign a user writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFields {
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub template_id: i64,
    pub domain_templates: BTreeMap<Domain, i64>,
    pub min_category_ballots: i32,
    pub low_satisfaction_threshold: f64,
    pub commendation_share: f64,
}

impl CampaignFields {
    /// A new campaign's fields, with the defaults (k = 5, threshold 0.8, share 0.1).
    pub fn new(body: &CreateCampaign) -> Self {
        CampaignFields {
            title: body.title.trim().to_owned(),
            starts_on: body.starts_on,
            ends_on: body.ends_on,
            template_id: body.template_id,
            domain_templates: body.domain_templates.clone(),
            min_category_ballots: body.min_category_ballots.unwrap_or(5),
            low_satisfaction_threshold: body.low_satisfaction_threshold.unwrap_or(0.8),
            commendation_share: body.commendation_share.unwrap_or(0.1),
        }
    }

    /// The fields as they are, with what `body` changes.
    pub fn updated(
        row: &CampaignRow,
        domain_templates: BTreeMap<Domain, i64>,
        body: &UpdateCampaign,
    ) -> Self {
        CampaignFields {
            title: body
                .title
                .as_deref()
                .map_or(row.title.as_str(), str::trim)
                .to_owned(),
            starts_on: body.starts_on.unwrap_or(row.starts_on),
            ends_on: body.ends_on.unwrap_or(row.ends_on),
            template_id: body.template_id.unwrap_or(row.template_id),
            domain_templates: body.domain_templates.clone().unwrap_or(domain_templates),
            min_category_ballots: body
                .min_category_ballots
                .unwrap_or(row.min_category_ballots),
            low_satisfaction_threshold: body
                .low_satisfaction_threshold
                .unwrap_or(row.low_satisfaction_threshold),
            commendation_share: body.commendation_share.unwrap_or(row.commendation_share),
        }
    }

    /// Every template named, with the field naming it.
    pub fn named_templates(&self) -> Vec<(String, i64)> {
        std::iter::once(("template_id".to_owned(), self.template_id))
            .chain(
                self.domain_templates
                    .iter()
                    .map(|(d, id)| (format!("domain_templates.{d}"), *id)),
            )
            .collect()
    }
}

pub fn check_dates(starts_on: NaiveDate, ends_on: NaiveDate) -> ApiResult<()> {
    if ends_on < starts_on {
        return Err(ApiError::field("ends_on", "must not be before starts_on"));
    }
    Ok(())
}

/// Whether `body` changes the fields that are fixed once the campaign is active.
pub fn touches_frozen_fields(body: &UpdateCampaign) -> bool {
    body.template_id.is_some()
        || body.domain_templates.is_some()
        || body.min_category_ballots.is_some()
}

/// A closed campaign no longer changes; templates and k change only in a draft.
pub fn check_editable(status: CampaignStatus, frozen_fields: bool) -> ApiResult<()> {
    if matches!(status, CampaignStatus::Closed | CampaignStatus::Published) {
        return Err(ApiError::conflict(
            ErrorCode::CampaignClosed,
            "A closed campaign no longer changes.",
        ));
    }
    if frozen_fields && status != CampaignStatus::Draft {
        return Err(ApiError::conflict(
            ErrorCode::CampaignNotDraft,
            "Templates and k are fixed once the campaign is active.",
        ));
    }
    Ok(())
}

/// A field error for each named template that is not usable (`usable` says which are).
pub fn check_templates(named: Vec<(String, bool)>) -> ApiResult<()> {
    let errors: Vec<FieldError> = named
        .into_iter()
        .filter(|(_, usable)| !usable)
        .map(|(field, _)| FieldError::new(field, "no such template usable by this org"))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Between 1 and 1000 orgs may see the rankings.
pub fn check_publish_size(scope_org_ids: &[i64]) -> ApiResult<()> {
    if scope_org_ids.is_empty() || scope_org_ids.len() > 1000 {
        return Err(ApiError::field(
            "scope_org_ids",
            "between 1 and 1000 org ids",
        ));
    }
    Ok(())
}

/// Every org of the publishing scope exists (has a path in `paths`) and is in the
/// campaign's subtree; the first one that is not is a field error.
pub fn check_publish_scope(
    owner_path: &str,
    scope_org_ids: &[i64],
    paths: &HashMap<i64, String>,
) -> ApiResult<()> {
    for (i, org_id) in scope_org_ids.iter().enumerate() {
        let inside = paths.get(org_id).is_some_and(|p| covers(owner_path, p));
        if !inside {
            return Err(ApiError::field(
                format!("scope_org_ids[{i}]"),
                "not an org of this campaign",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2012, 1, day).unwrap()
    }

    fn update() -> UpdateCampaign {
        UpdateCampaign {
            title: None,
            starts_on: None,
            ends_on: None,
            template_id: None,
            domain_templates: None,
            min_category_ballots: None,
            low_satisfaction_threshold: None,
            commendation_share: None,
        }
    }

    fn row() -> CampaignRow {
        CampaignRow {
            id: 1,
            owner_org_id: 2,
            title: "old".into(),
            starts_on: d(1),
            ends_on: d(9),
            template_id: 3,
            domain_templates: "{}".into(),
            min_category_ballots: 5,
            low_satisfaction_threshold: 0.8,
            status: CampaignStatus::Draft,
            frozen_templates: None,
            publish_scope: None,
            created_at: chrono::NaiveDateTime::default(),
            updated_at: chrono::NaiveDateTime::default(),
            commendation_share: 0.1,
        }
    }

    #[test]
    fn dates_may_be_equal_but_not_reversed() {
        assert!(check_dates(d(1), d(1)).is_ok());
        assert!(check_dates(d(1), d(9)).is_ok());
        assert_eq!(
            check_dates(d(9), d(1)).unwrap_err().errors[0].field,
            "ends_on"
        );
    }

    #[test]
    fn closed_campaigns_never_change_and_active_ones_keep_templates_and_k() {
        use CampaignStatus::*;
        assert!(check_editable(Draft, true).is_ok());
        assert!(check_editable(Active, false).is_ok());
        assert_eq!(
            check_editable(Active, true).unwrap_err().code,
            ErrorCode::CampaignNotDraft
        );
        for status in [Closed, Published] {
            assert_eq!(
                check_editable(status, false).unwrap_err().code,
                ErrorCode::CampaignClosed
            );
        }
    }

    #[test]
    fn frozen_fields_are_templates_and_k() {
        assert!(!touches_frozen_fields(&update()));
        let mut body = update();
        body.low_satisfaction_threshold = Some(0.5);
        body.title = Some("x".into());
        assert!(!touches_frozen_fields(&body));
        body.min_category_ballots = Some(3);
        assert!(touches_frozen_fields(&body));
        let mut body = update();
        body.domain_templates = Some(BTreeMap::new());
        assert!(touches_frozen_fields(&body));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let mut body = update();
        body.title = Some("  new  ".into());
        body.ends_on = Some(d(20));
        let fields = CampaignFields::updated(&row(), BTreeMap::from([(Domain::Rural, 4)]), &body);
        assert_eq!(fields.title, "new");
        assert_eq!((fields.starts_on, fields.ends_on), (d(1), d(20)));
        assert_eq!(fields.template_id, 3);
        assert_eq!(
            fields.domain_templates,
            BTreeMap::from([(Domain::Rural, 4)])
        );
        assert_eq!(fields.min_category_ballots, 5);
        assert_eq!(
            fields.named_templates(),
            vec![
                ("template_id".to_owned(), 3),
                ("domain_templates.rural".to_owned(), 4)
            ]
        );
    }

    #[test]
    fn unusable_templates_are_field_errors() {
        assert!(check_templates(vec![("template_id".into(), true)]).is_ok());
        let err = check_templates(vec![
            ("template_id".into(), false),
            ("domain_templates.rural".into(), true),
            ("domain_templates.community".into(), false),
        ])
        .unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["template_id", "domain_templates.community"]);
    }

    #[test]
    fn the_publishing_scope_lies_in_the_campaign() {
        let paths = HashMap::from([
            (1, "/1/".to_owned()),
            (7, "/1/7/".to_owned()),
            (9, "/9/".to_owned()),
        ]);
        assert!(check_publish_scope("/1/", &[1, 7], &paths).is_ok());
        let field = |ids: &[i64]| {
            check_publish_scope("/1/7/", ids, &paths)
                .unwrap_err()
                .errors[0]
                .field
                .clone()
        };
        assert_eq!(field(&[7, 1]), "scope_org_ids[1]");
        assert_eq!(field(&[7, 8]), "scope_org_ids[1]");
        assert_eq!(field(&[9]), "scope_org_ids[0]");
        assert!(check_publish_size(&[]).is_err());
        assert!(check_publish_size(&[1; 1000]).is_ok());
        assert!(check_publish_size(&[1; 1001]).is_err());
    }

    #[test]
    fn a_refused_step_is_a_conflict() {
        assert_eq!(
            step(CampaignStatus::Draft, CampaignAction::Activate).unwrap(),
            CampaignStatus::Active
        );
        assert_eq!(
            step(CampaignStatus::Draft, CampaignAction::Close)
                .unwrap_err()
                .code,
            ErrorCode::InvalidTransition
        );
    }

    #[test]
    fn only_the_forward_steps_are_allowed() {
        use CampaignAction::*;
        use CampaignStatus::*;
        assert_eq!(transition(Draft, Activate), Some(Active));
        assert_eq!(transition(Active, Close), Some(Closed));
        assert_eq!(transition(Closed, Publish), Some(Published));
        for (from, action) in [
            (Draft, Close),
            (Draft, Publish),
            (Active, Activate),
            (Active, Publish),
            (Closed, Activate),
            (Closed, Close),
            (Published, Activate),
            (Published, Close),
            (Published, Publish),
        ] {
            assert_eq!(transition(from, action), None, "{from} {action}");
        }
    }
}
