//! Saturating arithmetic between `jiff` timestamps and `std` durations.
//!
//! Decision code compares times that come from outside (status written by other agents, clocks
//! that jump); saturating keeps every such comparison total instead of panicking at the edges.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// `at + by`, pinned to the end of jiff's range instead of overflowing.
pub(crate) fn add(at: Timestamp, by: Duration) -> Timestamp {
    SignedDuration::try_from(by)
        .ok()
        .and_then(|by| at.checked_add(by).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `earlier` to `later`; zero when `later` is not after `earlier`.
pub(crate) fn elapsed(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

/// `Duration::from_secs` for a Kubernetes `int32` seconds field; negatives count as zero.
pub(crate) fn seconds(value: i32) -> Duration {
    Duration::from_secs(u64::try_from(value).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_saturates_at_the_end_of_time() {
        assert_eq!(add(Timestamp::MAX, Duration::from_secs(1)), Timestamp::MAX);
        assert_eq!(add(Timestamp::UNIX_EPOCH, Duration::MAX), Timestamp::MAX);
    }

    #[test]
    fn elapsed_is_zero_when_time_runs_backwards() {
        let later = add(Timestamp::UNIX_EPOCH, Duration::from_secs(5));
        assert_eq!(elapsed(later, Timestamp::UNIX_EPOCH), Duration::ZERO);
        assert_eq!(
            elapsed(Timestamp::UNIX_EPOCH, later),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn negative_seconds_count_as_zero() {
        assert_eq!(seconds(-3), Duration::ZERO);
        assert_eq!(seconds(7), Duration::from_secs(7));
    }
}
