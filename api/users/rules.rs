//! Pure rules of user accounts: the shape of usernames and passwords, what a change needs.

use super::model::{UpdateUser, UserChanges};
use crate::auth::{password, Action, Role};
use crate::error::{ApiError, ApiResult};

/// The stored form of a username (trimmed, lower case), or a field error.
pub fn check_username(username: &str) -> ApiResult<String> {
    let username = username.trim().to_lowercase();
    let valid = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(username)
    } else {
        Err(ApiError::field(
            "username",
            "3 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

pub fn check_password(password: &str) -> ApiResult<()> {
    password::check_strength(password).map_err(|m| ApiError::field("password", m))
}

/// Users change their own display name and password as readers of their account; anything
/// else (another account, disabling, the linked person) is managing users.
pub fn update_action(actor_id: i64, user_id: i64, body: &UpdateUser) -> Action {
    let only_own_profile =
        actor_id == user_id && body.disabled.is_none() && body.person_id.is_none();
    if only_own_profile {
        Action::Read
    } else {
        Action::ManageUsers
    }
}

/// Users changing their own password must give the current one: a stolen access token must
/// not be enough to take the account over.
pub fn needs_current_password(actor_id: i64, user_id: i64, body: &UpdateUser) -> bool {
    actor_id == user_id && body.password.is_some()
}

/// A new password or disabling signs the user out everywhere.
pub fn signs_out(changes: &UserChanges) -> bool {
    changes.password_hash.is_some() || changes.disabled == Some(true)
}

/// What changed, for the audit log (never the values of secrets).
pub fn change_summary(changes: &UserChanges) -> String {
    let mut summary = vec![];
    if changes.display_name.is_some() {
        summary.push("display_name");
    }
    if changes.password_hash.is_some() {
        summary.push("password");
    }
    if let Some(disabled) = changes.disabled {
        summary.push(if disabled { "disabled" } else { "enabled" });
    }
    if changes.person_id.is_some() {
        summary.push("person_id");
    }
    summary.join(", ")
}

/// Where a grant applies: `admin` is global, every other role needs an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantPlace {
    Global,
    Org(i64),
}

pub fn grant_place(role: Role, org_id: Option<i64>) -> ApiResult<GrantPlace> {
    match (role, org_id) {
        (Role::Admin, _) => Ok(GrantPlace::Global),
        (_, Some(org_id)) => Ok(GrantPlace::Org(org_id)),
        (_, None) => Err(ApiError::field(
            "org_id",
            "required for every role but admin",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(body: serde_json::Value) -> UpdateUser {
        serde_json::from_value(body).unwrap()
    }

    fn changes<'a>(body: &'a UpdateUser, hash: Option<&'a str>) -> UserChanges<'a> {
        UserChanges::new(body, hash)
    }

    #[test]
    fn usernames_are_trimmed_lower_case_and_plain() {
        assert_eq!(check_username("  Zhang.Wei ").unwrap(), "zhang.wei");
        assert_eq!(check_username("a_b-c9").unwrap(), "a_b-c9");
        for bad in ["ab", "with space", "张伟", "semi;colon", &"x".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_name_and_password_changes_of_ones_own_account_are_reading() {
        let own = update(serde_json::json!({"display_name": "x", "password": "p"}));
        assert_eq!(update_action(7, 7, &own), Action::Read);
        assert_eq!(update_action(1, 7, &own), Action::ManageUsers);
        let disable = update(serde_json::json!({"disabled": true}));
        assert_eq!(update_action(7, 7, &disable), Action::ManageUsers);
        let unlink = update(serde_json::json!({"person_id": null}));
        assert_eq!(update_action(7, 7, &unlink), Action::ManageUsers);
        assert!(needs_current_password(7, 7, &own));
        assert!(!needs_current_password(1, 7, &own));
        assert!(!needs_current_password(7, 7, &disable));
    }

    #[test]
    fn a_new_password_or_disabling_signs_out_and_is_summarized() {
        let rename = update(serde_json::json!({"display_name": "x"}));
        assert!(!signs_out(&changes(&rename, None)));
        assert_eq!(change_summary(&changes(&rename, None)), "display_name");
        let enable = update(serde_json::json!({"disabled": false, "person_id": 3}));
        assert!(!signs_out(&changes(&enable, None)));
        assert_eq!(
            change_summary(&changes(&enable, None)),
            "enabled, person_id"
        );
        let disable = update(serde_json::json!({"disabled": true}));
        assert!(signs_out(&changes(&disable, None)));
        let password = update(serde_json::json!({}));
        assert!(signs_out(&changes(&password, Some("hash"))));
        assert_eq!(
            change_summary(&changes(&password, Some("hash"))),
            "password"
        );
    }

    #[test]
    fn admin_is_global_and_other_roles_need_an_org() {
        assert_eq!(grant_place(Role::Admin, None).unwrap(), GrantPlace::Global);
        assert_eq!(
            grant_place(Role::Admin, Some(3)).unwrap(),
            GrantPlace::Global
        );
        assert_eq!(
            grant_place(Role::Secretary, Some(3)).unwrap(),
            GrantPlace::Org(3)
        );
        assert!(grant_place(Role::Member, None).is_err());
    }
}
