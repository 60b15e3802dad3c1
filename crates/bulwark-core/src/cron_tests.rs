use super::*;
use proptest::prelude::*;

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn next(schedule: &str, after: &str) -> Option<String> {
    Schedule::parse(schedule)
        .unwrap()
        .next_after(utc(after), &TimeZone::UTC)
        .map(|t| t.to_string())
}

#[test]
fn every_minute_steps_and_ranges() {
    assert_eq!(
        next("*/1 * * * *", "2026-01-01T00:00:30Z").as_deref(),
        Some("2026-01-01T00:01:00Z")
    );
    assert_eq!(
        next("*/15 * * * *", "2026-01-01T00:15:00Z").as_deref(),
        Some("2026-01-01T00:30:00Z")
    );
    assert_eq!(
        next("5/20 * * * *", "2026-01-01T00:26:00Z").as_deref(),
        Some("2026-01-01T00:45:00Z")
    );
    assert_eq!(
        next("0 9-17/4 * * *", "2026-01-01T13:00:00Z").as_deref(),
        Some("2026-01-01T17:00:00Z")
    );
    assert_eq!(
        next("0,30 1 * * *", "2026-01-01T01:00:00Z").as_deref(),
        Some("2026-01-01T01:30:00Z")
    );
}

#[test]
fn names_of_months_and_days() {
    // 2026-01-01 is a Thursday.
    assert_eq!(
        next("0 0 * * mon-fri", "2026-01-02T12:00:00Z").as_deref(),
        Some("2026-01-05T00:00:00Z")
    );
    assert_eq!(
        next("0 0 1 MAR *", "2026-01-01T00:00:00Z").as_deref(),
        Some("2026-03-01T00:00:00Z")
    );
    assert_eq!(
        next("0 12 * feb,dec sun", "2026-01-01T00:00:00Z").as_deref(),
        Some("2026-02-01T12:00:00Z")
    );
}

#[test]
fn restricted_day_fields_are_ored_as_in_robfig() {
    // The 15th, or any Monday.
    assert_eq!(
        next("0 0 15 * mon", "2026-01-06T00:00:00Z").as_deref(),
        Some("2026-01-12T00:00:00Z")
    );
    assert_eq!(
        next("0 0 15 * mon", "2026-01-12T00:00:00Z").as_deref(),
        Some("2026-01-15T00:00:00Z")
    );
    // A star day of week means "only the day of month".
    assert_eq!(
        next("0 0 15 * *", "2026-01-06T00:00:00Z").as_deref(),
        Some("2026-01-15T00:00:00Z")
    );
}

#[test]
fn descriptors() {
    let cases = [
        ("@hourly", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"),
        ("@daily", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
        ("@midnight", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z"),
        ("@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"),
        ("@monthly", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
        ("@yearly", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("@annually", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        (
            "@every 90s",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01T00:01:30Z",
        ),
    ];
    for (schedule, after, expected) in cases {
        assert_eq!(
            next(schedule, after).as_deref(),
            Some(expected),
            "{schedule}"
        );
    }
}

#[test]
fn impossible_dates_never_fire() {
    assert_eq!(next("0 0 30 2 *", "2026-01-01T00:00:00Z"), None);
    assert_eq!(
        next("0 0 29 2 *", "2026-01-01T00:00:00Z").as_deref(),
        Some("2028-02-29T00:00:00Z")
    );
}

#[test]
fn bad_schedules_say_why_as_robfig_does() {
    let error = |s: &str| Schedule::parse(s).unwrap_err().to_string();
    assert_eq!(
        error("60 * * * *"),
        "end of range (60) above maximum (59): 60"
    );
    assert_eq!(
        error("* * 0 * *"),
        "beginning of range (0) below minimum (1): 0"
    );
    assert_eq!(
        error("5-1 * * * *"),
        "beginning of range (5) beyond end of range (1): 5-1"
    );
    assert_eq!(
        error("*/0 * * * *"),
        "step of range should be a positive number: */0"
    );
    assert_eq!(
        error("every minute"),
        "expected exactly 5 fields, found 2: every minute"
    );
    assert_eq!(error("@sometimes"), "unrecognized descriptor: @sometimes");
    assert_eq!(
        error("x * * * *"),
        "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
    );
    assert!(Schedule::parse("@every soon").is_err());
}

#[test]
fn time_zones_move_the_wall_clock() {
    let zone = TimeZone::get("Asia/Tokyo").unwrap();
    let schedule = Schedule::parse("0 9 * * *").unwrap();
    let at = schedule
        .next_after(utc("2026-01-01T00:30:00Z"), &zone)
        .unwrap();
    assert_eq!(at, utc("2026-01-02T00:00:00Z"));
}

#[test]
fn a_skipped_hour_does_not_fire_and_a_repeated_one_fires_once() {
    let zone = TimeZone::get("America/New_York").unwrap();
    let schedule = Schedule::parse("30 2 * * *").unwrap();
    // 2026-03-08 02:30 does not exist in New York.
    let at = schedule
        .next_after(utc("2026-03-08T06:00:00Z"), &zone)
        .unwrap();
    assert_eq!(at, utc("2026-03-09T06:30:00Z"));
    // 2026-11-01 01:30 happens twice: once, at the first (EDT) occurrence.
    let schedule = Schedule::parse("30 1 * * *").unwrap();
    let first = schedule
        .next_after(utc("2026-11-01T04:00:00Z"), &zone)
        .unwrap();
    assert_eq!(first, utc("2026-11-01T05:30:00Z"));
    let again = schedule.next_after(first, &zone).unwrap();
    assert_eq!(again, utc("2026-11-02T06:30:00Z"));
}

#[test]
fn missed_times_count_and_keep_the_latest() {
    let schedule = Schedule::parse("*/1 * * * *").unwrap();
    let missed = missed_times(
        &schedule,
        &TimeZone::UTC,
        utc("2026-01-01T00:00:00Z"),
        utc("2026-01-01T00:03:30Z"),
        100,
    );
    assert_eq!(missed.count, 3);
    assert_eq!(missed.latest, Some(utc("2026-01-01T00:03:00Z")));
    let many = missed_times(
        &schedule,
        &TimeZone::UTC,
        utc("2026-01-01T00:00:00Z"),
        utc("2026-01-02T00:00:30Z"),
        100,
    );
    assert!(many.count > 100);
    assert_eq!(many.latest, Some(utc("2026-01-02T00:00:00Z")));
    let none = missed_times(
        &schedule,
        &TimeZone::UTC,
        utc("2026-01-01T00:00:00Z"),
        utc("2026-01-01T00:00:59Z"),
        100,
    );
    assert_eq!(
        none,
        Missed {
            count: 0,
            latest: None
        }
    );
}

fn field(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = String> {
    let (min, max) = (*range.start(), *range.end());
    prop_oneof![
        Just("*".to_string()),
        (min..=max).prop_map(|n| n.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1..=max.max(1)).prop_map(|step| format!("*/{step}")),
        proptest::collection::vec(min..=max, 1..4).prop_map(|values| values
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    (
        field(0..=59),
        field(0..=23),
        field(1..=31),
        field(1..=12),
        field(0..=6),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::UTC),
        Just(TimeZone::get("America/New_York").unwrap()),
        Just(TimeZone::get("Australia/Lord_Howe").unwrap()),
    ]
}

/// A minute instant whose wall time matches and which is that wall time's fire instant.
fn fires_at(schedule: &Schedule, zone: &TimeZone, instant: Timestamp) -> bool {
    let civil = zone.to_datetime(instant);
    schedule.matches(civil) && instant_of(zone, civil) == Some(instant)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn produced_times_match_and_none_is_skipped(
        text in expression(),
        zone in zone(),
        start in 1_700_000_000i64..1_900_000_000,
    ) {
        let schedule = Schedule::parse(&text).unwrap();
        let mut previous = Timestamp::from_second(start).unwrap();
        for _ in 0..3 {
            let Some(next) = schedule.next_after(previous, &zone) else { break };
            prop_assert!(next > previous);
            prop_assert!(fires_at(&schedule, &zone, next), "{} at {}", text, next);
            // Every whole minute strictly between the two is not a fire time; checked over
            // at most a day of minutes so the test stays quick.
            let mut minute = Timestamp::from_second(previous.as_second() - previous.as_second().rem_euclid(60) + 60).unwrap();
            let mut steps = 0;
            while minute < next && steps < 1440 {
                prop_assert!(!fires_at(&schedule, &zone, minute), "{} skipped {}", text, minute);
                minute = minute.checked_add(SignedDuration::from_mins(1)).unwrap();
                steps += 1;
            }
            // Looking back from just before the next time finds the previous fire time.
            let before = next.checked_sub(SignedDuration::from_secs(1)).unwrap();
            if let Some(latest) = schedule.latest_at_or_before(before, &zone) {
                prop_assert!(latest <= previous || fires_at(&schedule, &zone, latest));
                prop_assert!(latest < next);
            }
            prop_assert_eq!(schedule.latest_at_or_before(next, &zone), Some(next));
            previous = next;
        }
    }

    #[test]
    fn parsing_never_panics(text in "[-*/,0-9a-z@ ]{0,24}") {
        let _ = Schedule::parse(&text);
    }
}
