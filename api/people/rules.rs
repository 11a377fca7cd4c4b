//! Pure rules of people.

use super::model::{valid_phone, PersonStatus, UpdatePerson};
use crate::error::{ApiError, ApiResult};

/// The status a list asks for: `active` unless `archived` is named.
/// Lists show active people unless asked for archived ones.
pub fn list_status(asked: Option<PersonStatus>) -> PersonStatus {
    asked.unwrap_or(PersonStatus::Active)
}

/// What validator cannot check in a PATCH: the nullable phone and external id.
pub fn check_update(body: &UpdatePerson) -> ApiResult<()> {
    if let Some(Some(phone)) = &body.phone {
        valid_phone(phone).map_err(|_| ApiError::field("phone", "must be a phone number"))?;
    }
    crate::orgs::rules::check_external_id_patch(&body.external_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_active_people_unless_told() {
        assert_eq!(list_status(None), PersonStatus::Active);
        assert_eq!(
            list_status(Some(PersonStatus::Active)),
            PersonStatus::Active
        );
        assert_eq!(
            list_status(Some(PersonStatus::Archived)),
            PersonStatus::Archived
        );
    }

    #[test]
    fn patches_check_phone_and_external_id() {
        let body = |json: &str| serde_json::from_str::<UpdatePerson>(json).unwrap();
        assert!(check_update(&body("{}")).is_ok());
        assert!(check_update(&body(r#"{"phone": null, "external_id": null}"#)).is_ok());
        assert!(check_update(&body(r#"{"phone": "138 1234 5678"}"#)).is_ok());
        let bad_phone = check_update(&body(r#"{"phone": "call me"}"#)).unwrap_err();
        assert_eq!(bad_phone.errors[0].field, "phone");
        let blank_id = check_update(&body(r#"{"external_id": " "}"#)).unwrap_err();
        assert_eq!(blank_id.errors[0].field, "external_id");
    }
}
