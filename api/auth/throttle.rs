//! Throttling of repeated failures (wrong passwords, unknown voting codes): after `limit`
//! failures for a key within `window`, further attempts answer 429 until the window ends.
//! Only failures count, so a busy but honest client — a meeting hall behind one address —
//! is never slowed down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        if entries.len() >= SWEEP_AT {
            let window = self.window;
            entries.retain(|_, w| now.duration_since(w.started) < window);
        }
        let entry = entries.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(entry.started) >= self.window {
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
    fn a_success_resets() {
        let t = FailureThrottle::new(1, Duration::from_secs(60));
        t.record_failure("k");
        assert!(t.check("k").is_err());
        t.reset("k");
        assert!(t.check("k").is_ok());
    }
}
