//! What every handler can reach through `web::Data<AppState>`.

use crate::auth::throttle::FailureThrottle;
use crate::auth::tokens::TokenKeys;
use crate::ballots::codes::CodeKey;
use crate::config::Settings;
use crate::db::Pool;

/// What every handler can reach.
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub keys: TokenKeys,
    /// Failed logins per username, and per client address.
    pub login_failures_by_user: FailureThrottle,
    pub login_failures_by_address: FailureThrottle,
    /// Clients that signed in as a username lately keep their own budget for it.
    pub familiar_clients: crate::auth::throttle::FamiliarClients,
    /// At most one Argon2 computation per core.
    pub password_gate: crate::auth::password::PasswordGate,
    /// Hashes voting codes and derives receipts.
    pub code_key: CodeKey,
    pub ballot_contexts: std::sync::Arc<crate::ballots::ContextCache>,
    /// Unknown voting codes per client address.
    pub code_failures_by_address: FailureThrottle,
    /// Unknown service tickets and point keys per client address.
    pub ticket_failures_by_address: FailureThrottle,
    /// Open-QR ratings (no ticket) per client address and point: every one counts.
    pub open_ratings_by_client: FailureThrottle,
    /// Progress of the background jobs running in this process.
    pub running_jobs: crate::jobs::RunningJobs,
}
