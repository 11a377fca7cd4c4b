//! Throttling of repeated failures (wrong passwords, unknown voting codes): after `limit`
//! failures for a key within `window`, further attempts answer 429 until the window ends.
//! Only failures count, so a busy but honest client — a meeting hall behind one address —
//! is never slowed down.

use std::collections::HashMap;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A password attempt (a login, or one's current password to change it), counted in the
/// login throttles before the hash is computed: of many concurrent attempts only what the
/// budgets allow go ahead, and a failure needs no second step.
pub struct PasswordAttempt<'a> {
    state: &'a AppState,
    username: String,
    user_key: String,
    address: String,
}

impl<'a> PasswordAttempt<'a> {
    /// Reserves the attempt for the username and for the client; 429 when either budget is
    /// used up (and nothing stays counted then). Familiar clients: a client that signed in
    /// as this username in the last 30 days has its own budget for it; all other clients
    /// share the username's one, so a flood from elsewhere never locks the owner out of
    /// their usual machine, and distributed guessing stays at 5 tries per 15 minutes.
    pub fn reserve(state: &'a AppState, username: &str, address: &str) -> ApiResult<Self> {
        let user_key = if state.familiar_clients.knows(username, address) {
            format!("{username}\u{0}{address}")
        } else {
            username.to_owned()
        };
        let by_user = &state.login_failures_by_user;
        by_user.reserve(&user_key).map_err(ApiError::rate_limited)?;
        if let Err(wait) = state.login_failures_by_address.reserve(address) {
            by_user.release(&user_key);
            return Err(ApiError::rate_limited(wait));
        }
        Ok(Self {
            state,
            username: username.to_owned(),
            user_key,
            address: address.to_owned(),
        })
    }

    /// The password was right: the budget it used forgets its failures, the client's
    /// reservation is given back and the client becomes familiar for this username. (A
    /// wrong one is already counted.)
    pub fn succeeded(self) {
        self.state.login_failures_by_user.reset(&self.user_key);
        self.state.login_failures_by_address.release(&self.address);
        self.state
            .familiar_clients
            .remember(&self.username, &self.address);
    }
}

/// Clients that signed in successfully as a username in the last 30 days (in memory: a
/// restart forgets them, and everyone shares the username's budget until they sign in).
#[derive(Default)]
pub struct FamiliarClients(Mutex<HashMap<(String, String), Instant>>);

const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

impl FamiliarClients {
    pub fn knows(&self, username: &str, address: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(username.to_owned(), address.to_owned()))
            .is_some_and(|at| at.elapsed() < FAMILIAR_FOR)
    }

    pub fn remember(&self, username: &str, address: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT * 10 {
            map.retain(|_, at| at.elapsed() < FAMILIAR_FOR);
        }
        map.insert((username.to_owned(), address.to_owned()), Instant::now());
    }
}

pub struct FailureThrottle {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Keys kept before expired ones are swept out.
const SWEEP_AT: usize = 10_000;

impl FailureThrottle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when the key has used up its failures.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    pub fn record_failure(&self, key: &str) {
        self.record_failure_at(key, Instant::now());
    }

    /// Counts an attempt before it is made (reserve, then confirm): `Err(seconds to wait)`
    /// when the key has used up its failures, so that of many concurrent attempts exactly
    /// `limit` go ahead. An attempt that turns out a success gives its place back with
    /// [`FailureThrottle::release`] (or [`FailureThrottle::reset`]).
    pub fn reserve(&self, key: &str) -> Result<(), u64> {
        self.reserve_at(key, Instant::now())
    }

    /// Gives back one reserved attempt that did not fail.
    pub fn release(&self, key: &str) {
        let mut entries = self.lock();
        if let Some(w) = entries.get_mut(key) {
            w.failures = w.failures.saturating_sub(1);
        }
    }

    fn reserve_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut entries = self.lock();
        if let Some(w) = entries.get(key) {
            let age = now.duration_since(w.started);
            if age < self.window && w.failures >= self.limit {
                return Err((self.window - age).as_secs().max(1));
            }
        }
        Self::count(&mut entries, self.window, key, now);
        Ok(())
    }

    /// Forgets a key's failures (after a success).
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let entries = self.lock();
        match entries.get(key) {
            Some(w) if now.duration_since(w.started) < self.window && w.failures >= self.limit => {
                let left = self.window - now.duration_since(w.started);
                Err(left.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    fn record_failure_at(&self, key: &str, now: Instant) {
        let mut entries = self.lock();
        Self::count(&mut entries, self.window, key, now);
    }

    fn count(entries: &mut HashMap<String, Window>, window: Duration, key: &str, now: Instant) {
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, w| now.duration_since(w.started) < window);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(entry.started) >= window {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let t = FailureThrottle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(t.check_at("k", start).is_ok());
            t.record_failure_at("k", start);
        }
        let wait = t
            .check_at("k", start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, 50);
        assert!(t.check_at("other", start).is_ok(), "keys are independent");
        assert!(t.check_at("k", start + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn reservations_count_before_the_attempt_and_successes_give_them_back() {
        let t = FailureThrottle::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert!(t.reserve_at("k", start).is_ok());
        assert!(t.reserve_at("k", start).is_ok());
        assert!(
            t.reserve_at("k", start).is_err(),
            "two attempts in flight use it up"
        );
        t.release("k");
        assert!(t.reserve_at("k", start).is_ok());
        assert!(t.reserve_at("k", start + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn a_success_resets() {
        let t = FailureThrottle::new(1, Duration::from_secs(60));
        t.record_failure("k");
        assert!(t.check("k").is_err());
        t.reset("k");
        assert!(t.check("k").is_ok());
    }
}
