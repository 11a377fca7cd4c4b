//! The campaign's life: draft → active → closed → published.

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

#[cfg(test)]
mod tests {
    use super::*;

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
