//! Rate-limited requeue: a key that keeps failing waits exponentially longer, as client-go's
//! `ItemExponentialFailureRateLimiter` (5 ms doubling to 1000 s) does; success forgets it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub const BASE_DELAY: Duration = Duration::from_millis(5);
pub const MAX_DELAY: Duration = Duration::from_secs(1000);

/// The delay before retry number `failures` (1 for the first failure).
pub fn failure_delay(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    BASE_DELAY
        .checked_mul(1u32 << exponent)
        .map_or(MAX_DELAY, |delay| delay.min(MAX_DELAY))
}

/// Per-key failure counts.
#[derive(Debug, Default)]
pub struct FailureTracker {
    failures: Mutex<HashMap<String, u32>>,
}

impl FailureTracker {
    /// Counts one more failure of `key` and says how long to wait before retrying it.
    pub fn record_failure(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        failure_delay(*count)
    }

    /// A successful reconcile resets the key's backoff.
    pub fn forget(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }

    /// The error policy every controller shares: counts the failure of `object`'s key, logs it
    /// (a write conflict, which the retry resolves, only at debug level) and requeues the key
    /// after its backoff.
    pub fn retry<K: kube::Resource>(
        &self,
        controller: &'static str,
        object: &K,
        error: &crate::Error,
    ) -> kube::runtime::controller::Action {
        let key = super::key_of(object);
        let delay = self.record_failure(&key);
        let conflict =
            matches!(error, crate::Error::Api(kube::Error::Api(status)) if status.code == 409);
        if conflict {
            tracing::debug!(controller, %key, %error, ?delay, "write conflict; retrying");
        } else {
            tracing::warn!(controller, %key, %error, ?delay, "reconcile failed; retrying");
        }
        kube::runtime::controller::Action::requeue(delay)
    }

    pub fn failures(&self, key: &str) -> u32 {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_from_five_milliseconds() {
        assert_eq!(failure_delay(1), Duration::from_millis(5));
        assert_eq!(failure_delay(2), Duration::from_millis(10));
        assert_eq!(failure_delay(4), Duration::from_millis(40));
    }

    #[test]
    fn success_resets_the_backoff() {
        let tracker = FailureTracker::default();
        tracker.record_failure("a");
        assert_eq!(tracker.record_failure("a"), Duration::from_millis(10));
        tracker.forget("a");
        assert_eq!(tracker.record_failure("a"), Duration::from_millis(5));
        assert_eq!(tracker.failures("b"), 0);
    }

    proptest! {
        #[test]
        fn delay_is_monotonic_and_capped(failures in 0u32..200) {
            let now = failure_delay(failures);
            prop_assert!(now <= MAX_DELAY);
            prop_assert!(failure_delay(failures + 1) >= now);
        }
    }
}
