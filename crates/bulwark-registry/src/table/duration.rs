//! Ages and durations as upstream prints them (`k8s.io/apimachinery/pkg/util/duration`).

use jiff::{SignedDuration, Timestamp};

/// The largest magnitude Go's `time.Duration` (an `int64` of nanoseconds) holds. `time.Since`
/// saturates there, so a timestamp centuries away prints as about `292y`, not its true distance.
const GO_DURATION_LIMIT: SignedDuration = SignedDuration::from_nanos(i64::MAX);

/// A succinct human reading of `elapsed` with two or three significant figures, exactly as
/// upstream's `duration.HumanDuration`: `45s`, `2m3s`, `15m`, `4h5m`, `20h`, `3d4h`, `30d`,
/// `2y5d`, `10y`. A slightly negative value (under two seconds, clock skew) reads `0s`; anything
/// more negative is `<invalid>`.
pub fn human_duration(elapsed: SignedDuration) -> String {
    // Truncation toward zero, like Go's int(d.Seconds()).
    let seconds = elapsed.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `3m` when the remainder is zero, `3m20s` otherwise.
fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// `to - from`, saturated the way Go's `Time.Sub` saturates.
pub(super) fn between(from: Timestamp, to: Timestamp) -> SignedDuration {
    to.duration_since(from)
        .clamp(-GO_DURATION_LIMIT, GO_DURATION_LIMIT)
}

/// The age of a timestamp (upstream's `translateTimestampSince`): `<unknown>` for Go's zero time.
pub(super) fn since(at: Option<Timestamp>, now: Timestamp) -> String {
    match at {
        Some(at) => human_duration(between(at, now)),
        None => "<unknown>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(value: i64) -> SignedDuration {
        SignedDuration::from_secs(value)
    }

    /// The cases of upstream's `TestHumanDuration`.
    #[test]
    fn human_duration_matches_upstream_cases() {
        let minute = 60;
        let hour = 60 * minute;
        let day = 24 * hour;
        let year = 365 * day;
        let cases: &[(i64, &str)] = &[
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (minute * 70, "70m"),
            (hour * 47, "47h"),
            (hour * 49, "2d1h"),
            (day * 8 + hour * 2, "8d"),
            (day * 367, "367d"),
            (year * 2 + hour * 25, "2y1d"),
            (year * 8 + hour * 2, "8y"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (minute * 9 + 59, "9m59s"),
            (minute * 10, "10m"),
            (minute * 179, "179m"),
            (hour * 3, "3h"),
            (hour * 3 + minute, "3h1m"),
            (hour * 7 + minute * 59, "7h59m"),
            (hour * 8, "8h"),
            (hour * 48, "2d"),
            (day * 7 + hour * 23, "7d23h"),
            (day * 8, "8d"),
            (year * 2 - 1, "729d"),
            (year * 2, "2y"),
            (year * 8 - 1, "7y364d"),
            (year * 8, "8y"),
        ];
        for (elapsed, expected) in cases {
            assert_eq!(
                human_duration(seconds(*elapsed)),
                *expected,
                "{elapsed} seconds"
            );
        }
    }

    #[test]
    fn small_clock_skew_reads_zero_and_larger_skew_is_invalid() {
        assert_eq!(human_duration(SignedDuration::from_millis(-1999)), "0s");
        assert_eq!(human_duration(seconds(-1)), "0s");
        assert_eq!(human_duration(seconds(-2)), "<invalid>");
    }

    #[test]
    fn ages_of_far_away_timestamps_saturate_like_go() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("valid timestamp");
        let ancient: Timestamp = "0100-01-01T00:00:00Z".parse().expect("valid timestamp");
        assert_eq!(since(Some(ancient), now), "292y");
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some(now), ancient), "<invalid>");
    }
}
