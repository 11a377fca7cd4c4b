//! Argon2id password hashes with the crate's defaults (OWASP's recommended parameters).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use std::sync::OnceLock;

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: usize = 10;

pub fn hash(password: &str) -> ApiResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored_hash)
        .is_ok()
}

/// Spends the same time as a real verification, so that an unknown username cannot be
/// told from a wrong password by the answer's delay.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash("dummy password for timing").unwrap_or_default());
    let _ = verify(password, hash);
}

/// The rules a new password must meet; the message is shown to the person choosing it.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("must be at least 10 characters long");
    }
    if password.len() > 256 {
        return Err("must be at most 256 bytes long");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn strength_rules() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough password").is_ok());
    }
}
