//! Time as a seam: production code reads a [`SystemClock`], tests and the simulator a
//! [`ManualClock`] they advance themselves.

use std::sync::Mutex;

use jiff::Timestamp;

/// The one way decision code learns the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock. The only place outside the binary allowed to read it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned wall-clock read
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().expect("clock mutex poisoned");
        let span = jiff::SignedDuration::try_from(by).expect("advance fits a signed duration");
        *now = now
            .checked_add(span)
            .expect("clock stays within jiff's range");
    }

    pub fn set(&self, to: Timestamp) {
        *self.now.lock().expect("clock mutex poisoned") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock mutex poisoned")
    }
}

/// Formats a timestamp the way Kubernetes serialises `metav1.Time`: RFC 3339, second precision, UTC.
pub fn format_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats a timestamp as `metav1.MicroTime`: RFC 3339 with microseconds, UTC.
pub fn format_micro_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(format_time(clock.now()), "2026-01-01T00:01:30Z");
    }

    #[test]
    fn micro_time_keeps_microseconds() {
        let at: Timestamp = "2026-01-01T00:00:00.123456789Z".parse().unwrap();
        assert_eq!(format_micro_time(at), "2026-01-01T00:00:00.123456Z");
    }
}
