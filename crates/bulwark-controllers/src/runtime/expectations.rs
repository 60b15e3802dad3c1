//! Expectations: a controller that has just created or deleted objects does not act on the same
//! owner again until its informer cache has caught up with those writes, so it never creates twice
//! what it has not yet seen (client-go's `ControllerExpectations`, keyed by object names).
//!
//! Pure: the caller says what the cache holds and what time it is.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// Upstream's `ExpectationsTimeout`: a write whose effect never shows up stops blocking after this.
pub const EXPECTATIONS_TIMEOUT: SignedDuration = SignedDuration::from_secs(300);

/// What the cache says about one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Absent,
    Present,
    Terminating,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    creations: BTreeSet<String>,
    deletions: BTreeSet<String>,
    since: Option<Timestamp>,
}

#[derive(Debug, Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    pub fn expect_creations(
        &self,
        owner: &str,
        names: impl IntoIterator<Item = String>,
        now: Timestamp,
    ) {
        self.update(owner, now, |pending| pending.creations.extend(names));
    }

    pub fn expect_deletions(
        &self,
        owner: &str,
        names: impl IntoIterator<Item = String>,
        now: Timestamp,
    ) {
        self.update(owner, now, |pending| pending.deletions.extend(names));
    }

    fn update(&self, owner: &str, now: Timestamp, change: impl FnOnce(&mut Pending)) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending.entry(owner.to_string()).or_default();
        change(entry);
        entry.since = Some(now);
    }

    /// True when every write recorded for `owner` is visible in the cache (or has timed out);
    /// observed names are dropped so the next check is cheaper.
    pub fn satisfied(
        &self,
        owner: &str,
        now: Timestamp,
        presence: impl Fn(&str) -> Presence,
    ) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = pending.get_mut(owner) else {
            return true;
        };
        entry
            .creations
            .retain(|name| presence(name) == Presence::Absent);
        entry
            .deletions
            .retain(|name| presence(name) == Presence::Present);
        let expired = entry
            .since
            .is_some_and(|since| now.duration_since(since) >= EXPECTATIONS_TIMEOUT);
        if expired || (entry.creations.is_empty() && entry.deletions.is_empty()) {
            pending.remove(owner);
            return true;
        }
        false
    }

    /// The owner is gone: nothing to wait for any more.
    pub fn forget(&self, owner: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn creations_block_until_seen() {
        let expectations = Expectations::default();
        assert!(expectations.satisfied("rs", at(0), |_| Presence::Absent));
        expectations.expect_creations("rs", ["a".to_string(), "b".to_string()], at(0));
        assert!(!expectations.satisfied("rs", at(1), |_| Presence::Absent));
        assert!(!expectations.satisfied("rs", at(1), |n| if n == "a" {
            Presence::Present
        } else {
            Presence::Absent
        }));
        // "a" was observed once: it no longer blocks even if it disappears again.
        assert!(expectations.satisfied("rs", at(1), |n| if n == "b" {
            Presence::Present
        } else {
            Presence::Absent
        }));
    }

    #[test]
    fn deletions_block_until_gone_or_terminating() {
        let expectations = Expectations::default();
        expectations.expect_deletions("rs", ["a".to_string()], at(0));
        assert!(!expectations.satisfied("rs", at(1), |_| Presence::Present));
        assert!(expectations.satisfied("rs", at(1), |_| Presence::Terminating));
    }

    #[test]
    fn unseen_writes_time_out() {
        let expectations = Expectations::default();
        expectations.expect_creations("rs", ["a".to_string()], at(0));
        assert!(!expectations.satisfied("rs", at(299), |_| Presence::Absent));
        assert!(expectations.satisfied("rs", at(300), |_| Presence::Absent));
    }

    proptest! {
        #[test]
        fn satisfied_once_everything_is_visible(names in proptest::collection::btree_set("[a-z]{1,4}", 0..10)) {
            let expectations = Expectations::default();
            expectations.expect_creations("rs", names.iter().cloned(), at(0));
            prop_assert_eq!(expectations.satisfied("rs", at(1), |_| Presence::Absent), names.is_empty());
            prop_assert!(expectations.satisfied("rs", at(1), |_| Presence::Present));
        }
    }
}
