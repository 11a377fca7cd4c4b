//! Argon2id password hashes with the crate's defaults (OWASP's recommended parameters).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;

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

/// Bounds the password work in flight: at most one Argon2 computation per core (each
/// holds a 19 MiB buffer and a core for a while). Others wait briefly for a turn, then get
/// 503 with `Retry-After`, so a burst of logins cannot exhaust memory.
pub struct PasswordGate {
    permits: Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

impl PasswordGate {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// One computation per core, waiting up to two seconds for a turn.
    pub fn sized_to_cores() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, Duration::from_secs(2))
    }

    /// Runs `work` (hashing or verifying) off the async workers once a turn is free. The
    /// turn is held until the work ends, even when the client has gone away meanwhile.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let busy = || {
            ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                crate::error::ErrorCode::Unavailable,
                "The server is busy checking passwords; try again shortly.",
            )
            .with_retry_after(1)
        };
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(ApiError::internal)?;
        actix_web::web::block(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// The rules a new password must meet; the message is shown to the person choosing it.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("must be at least 10 characters long");
    }
    if password.chars().count() > MAX_PASSWORD_LEN {
        return Err("must be at most 256 characters long");
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

    #[actix_web::test]
    async fn the_gate_bounds_work_in_flight() {
        let gate = Arc::new(PasswordGate::new(1, Duration::from_millis(50)));
        let slow = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move {
                gate.run(|| std::thread::sleep(Duration::from_millis(500)))
                    .await
            })
        };
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let refused = gate.run(|| ()).await.unwrap_err();
        assert_eq!(
            actix_web::ResponseError::status_code(&refused).as_u16(),
            503
        );
        assert!(slow.await.unwrap().is_ok());
        assert!(gate.run(|| ()).await.is_ok());
    }

    #[test]
    fn strength_rules() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough password").is_ok());
    }
}
