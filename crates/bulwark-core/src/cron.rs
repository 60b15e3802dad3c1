//! Cron schedules as CronJobs use them (robfig/cron's standard parser): five fields (minute,
//! hour, day of month, month, day of week) with `*`, `?`, ranges, lists, steps and month/day
//! names, the `@yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly` descriptors, and
//! `@every <duration>`.
//!
//! Pure: times come in as arguments. Matching happens on the wall clock of a time zone; a wall
//! time that does not exist (a spring-forward gap) does not fire, and a wall time that occurs
//! twice (fall back) fires once, at its first occurrence.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// Why a schedule does not parse; the messages are robfig/cron's, which upstream shows users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

/// How far ahead (and back) a schedule is searched, as robfig does: a schedule with no time in
/// five years ("30 2 31 2 *") never fires.
const SEARCH_YEARS: i16 = 5;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Fields(Fields),
    /// `@every D`: every D (at least a second), counted from the previous time.
    Every(SignedDuration),
}

/// The five fields as bit sets; `*` / `?` in the day fields is remembered because robfig ORs the
/// two day fields when both are restricted and ANDs them otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    day_of_month_star: bool,
    day_of_week_star: bool,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Schedule {
    pub fn parse(schedule: &str) -> Result<Schedule, CronError> {
        let schedule = schedule.trim();
        if let Some(descriptor) = schedule.strip_prefix('@') {
            return parse_descriptor(schedule, descriptor);
        }
        let fields: Vec<&str> = schedule.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError(format!(
                "expected exactly 5 fields, found {}: {schedule}",
                fields.len()
            )));
        }
        let (minutes, _) = parse_field(fields[0], &MINUTES)?;
        let (hours, _) = parse_field(fields[1], &HOURS)?;
        let (days_of_month, day_of_month_star) = parse_field(fields[2], &DAYS_OF_MONTH)?;
        let (months, _) = parse_field(fields[3], &MONTHS)?;
        let (days_of_week, day_of_week_star) = parse_field(fields[4], &DAYS_OF_WEEK)?;
        Ok(Schedule::Fields(Fields {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            day_of_month_star,
            day_of_week_star,
        }))
    }

    /// Whether the wall-clock minute `at` is one of the schedule's (always false for `@every`).
    pub fn matches(&self, at: DateTime) -> bool {
        match self {
            Schedule::Fields(fields) => fields.matches(at),
            Schedule::Every(_) => false,
        }
    }

    /// The first schedule time strictly after `after`, or None if there is none within the
    /// search horizon.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Every(every) => every_next(after, *every),
            Schedule::Fields(fields) => fields.next_after(after, zone),
        }
    }

    /// The latest schedule time at or before `at`, if any within the search horizon
    /// (for `@every`, which has no anchor, there is none).
    pub fn latest_at_or_before(&self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Every(_) => None,
            Schedule::Fields(fields) => fields.latest_at_or_before(at, zone),
        }
    }
}

/// The schedule times in `(earliest, now]`: how many there were (counting stops after `cap`)
/// and the most recent one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    pub count: u64,
    pub latest: Option<Timestamp>,
}

/// Upstream's `mostRecentScheduleTime`: the schedule times after `earliest` up to `now`.
pub fn missed_times(
    schedule: &Schedule,
    zone: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
    cap: u64,
) -> Missed {
    let mut count = 0;
    let mut latest = None;
    let mut cursor = earliest;
    while count < cap {
        match schedule.next_after(cursor, zone) {
            Some(next) if next <= now => {
                count += 1;
                latest = Some(next);
                cursor = next;
            }
            _ => return Missed { count, latest },
        }
    }
    // More than `cap`: jump straight to the most recent time instead of walking to it.
    let jumped = match schedule {
        Schedule::Fields(_) => schedule.latest_at_or_before(now, zone),
        Schedule::Every(every) => every_latest(cursor, *every, now),
    };
    let more = jumped.is_some_and(|jumped| jumped > cursor);
    Missed {
        count: if more { count + 1 } else { count },
        latest: if more { jumped } else { latest },
    }
}

fn parse_descriptor(schedule: &str, descriptor: &str) -> Result<Schedule, CronError> {
    let fields = match descriptor {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        other => {
            if let Some(duration) = other.strip_prefix("every ") {
                return parse_every(duration.trim());
            }
            return Err(CronError(format!("unrecognized descriptor: {schedule}")));
        }
    };
    Schedule::parse(fields)
}

/// `@every`'s Go duration (`1h30m`, `90s`, `2m`); robfig rounds it to whole seconds, at least one.
fn parse_every(text: &str) -> Result<Schedule, CronError> {
    let failed = || CronError(format!("failed to parse duration @every {text}"));
    let mut total = SignedDuration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(failed());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(failed)?;
        let amount: i64 = rest[..digits].parse().map_err(|_| failed())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "h" => SignedDuration::from_hours(amount),
            "m" => SignedDuration::from_mins(amount),
            "s" => SignedDuration::from_secs(amount),
            "ms" => SignedDuration::from_millis(amount),
            _ => return Err(failed()),
        };
        total = total.checked_add(unit).ok_or_else(failed)?;
        rest = &rest[unit_len..];
    }
    let seconds = total.as_secs().max(1);
    Ok(Schedule::Every(SignedDuration::from_secs(seconds)))
}

fn every_next(after: Timestamp, every: SignedDuration) -> Option<Timestamp> {
    let whole_second = Timestamp::from_second(after.as_second()).ok()?;
    whole_second.checked_add(every).ok()
}

fn every_latest(from: Timestamp, every: SignedDuration, now: Timestamp) -> Option<Timestamp> {
    let steps = now.duration_since(from).as_secs() / every.as_secs().max(1);
    let offset = SignedDuration::from_secs(steps.checked_mul(every.as_secs())?);
    let whole_second = Timestamp::from_second(from.as_second()).ok()?;
    whole_second.checked_add(offset).ok()
}

/// One field: a comma-separated list of ranges. Returns its bits and whether it was `*`/`?`.
fn parse_field(text: &str, bounds: &Bounds) -> Result<(u64, bool), CronError> {
    let mut bits = 0u64;
    let mut star = false;
    for range in text.split(',') {
        let (range_bits, range_star) = parse_range(range, bounds)?;
        bits |= range_bits;
        star |= range_star;
    }
    Ok((bits, star))
}

fn parse_range(expression: &str, bounds: &Bounds) -> Result<(u64, bool), CronError> {
    let (range, step) = match expression.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (expression, None),
    };
    let mut star = false;
    let (start, mut end) = if range == "*" || range == "?" {
        star = true;
        (bounds.min, bounds.max)
    } else {
        match range.split_once('-') {
            Some((start, end)) => (parse_number(start, bounds)?, parse_number(end, bounds)?),
            None => {
                let single = parse_number(range, bounds)?;
                (single, single)
            }
        }
    };
    let step = match step {
        None => 1,
        Some(step) => {
            let step = parse_number(
                step,
                &Bounds {
                    names: &[],
                    ..*bounds
                },
            )?;
            if step == 0 {
                return Err(CronError(format!(
                    "step of range should be a positive number: {expression}"
                )));
            }
            // "N/step" means "N-max/step".
            if !star && !range.contains('-') {
                end = bounds.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };
    check_range(expression, start, end, bounds)?;
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |bits, value| bits | (1 << value));
    Ok((bits, star))
}

fn check_range(expression: &str, start: u32, end: u32, bounds: &Bounds) -> Result<(), CronError> {
    if start < bounds.min {
        return Err(CronError(format!(
            "beginning of range ({start}) below minimum ({}): {expression}",
            bounds.min
        )));
    }
    if end > bounds.max {
        return Err(CronError(format!(
            "end of range ({end}) above maximum ({}): {expression}",
            bounds.max
        )));
    }
    if start > end {
        return Err(CronError(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expression}"
        )));
    }
    Ok(())
}

fn parse_number(text: &str, bounds: &Bounds) -> Result<u32, CronError> {
    let lower = text.to_ascii_lowercase();
    // Names are 0-based for weekdays and 1-based for months, hence the offset from `min`.
    if let Some(index) = bounds.names.iter().position(|name| *name == lower) {
        return Ok(index as u32 + bounds.min);
    }
    text.parse::<u32>().map_err(|_| {
        CronError(format!(
            "failed to parse int from {text}: strconv.Atoi: parsing {text:?}: invalid syntax"
        ))
    })
}

fn has(bits: u64, value: i8) -> bool {
    value >= 0 && bits & (1 << value) != 0
}

impl Fields {
    fn day_matches(&self, date: Date) -> bool {
        let day_of_month = has(self.days_of_month, date.day());
        let day_of_week = has(self.days_of_week, date.weekday().to_sunday_zero_offset());
        if self.day_of_month_star || self.day_of_week_star {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        }
    }

    fn matches(&self, at: DateTime) -> bool {
        has(self.months, at.month())
            && self.day_matches(at.date())
            && has(self.hours, at.hour())
            && has(self.minutes, at.minute())
    }

    /// The first matching wall-clock minute strictly after `after`.
    fn next_civil(&self, after: DateTime) -> Option<DateTime> {
        let mut at = minute_floor(after).checked_add(1.minute()).ok()?;
        let limit = after.year().checked_add(SEARCH_YEARS)?;
        while at.year() <= limit {
            at = if !has(self.months, at.month()) {
                at.first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .start_of_day()
            } else if !self.day_matches(at.date()) {
                at.date()
                    .tomorrow()
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight())
            } else if !has(self.hours, at.hour()) {
                hour_floor(at).checked_add(1.hour()).ok()?
            } else if !has(self.minutes, at.minute()) {
                at.checked_add(1.minute()).ok()?
            } else {
                return Some(at);
            };
        }
        None
    }

    /// The last matching wall-clock minute at or before `at`.
    fn latest_civil(&self, at: DateTime) -> Option<DateTime> {
        let mut at = minute_floor(at);
        let limit = at.year().checked_sub(SEARCH_YEARS)?;
        while at.year() >= limit {
            at = if !has(self.months, at.month()) {
                at.first_of_month().checked_sub(1.minute()).ok()?
            } else if !self.day_matches(at.date()) {
                at.start_of_day().checked_sub(1.minute()).ok()?
            } else if !has(self.hours, at.hour()) {
                hour_floor(at).checked_sub(1.minute()).ok()?
            } else if !has(self.minutes, at.minute()) {
                at.checked_sub(1.minute()).ok()?
            } else {
                return Some(at);
            };
        }
        None
    }

    fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let mut civil = zone.to_datetime(after);
        // Bounded: each round moves to a later wall-clock minute; only a gap or a repeated
        // hour makes a matching wall time unusable.
        for _ in 0..=2 * 24 * 60 {
            civil = self.next_civil(civil)?;
            match instant_of(zone, civil) {
                Some(instant) if instant > after => return Some(instant),
                _ => {}
            }
        }
        None
    }

    fn latest_at_or_before(&self, at: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let mut civil = zone.to_datetime(at);
        for _ in 0..=2 * 24 * 60 {
            civil = self.latest_civil(civil)?;
            match instant_of(zone, civil) {
                Some(instant) if instant <= at => return Some(instant),
                _ => civil = civil.checked_sub(1.minute()).ok()?,
            }
        }
        None
    }
}

/// The instant a wall time fires at: none inside a gap, the first occurrence inside a fold.
/// Over the wall times that exist this is strictly increasing, so searching forward (or back)
/// from the wall time of an instant finds the next (or latest) fire time.
pub fn instant_of(zone: &TimeZone, civil: DateTime) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_timestamp(civil);
    if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        return None;
    }
    ambiguous.earlier().ok()
}

fn minute_floor(at: DateTime) -> DateTime {
    at.date().at(at.hour(), at.minute(), 0, 0)
}

fn hour_floor(at: DateTime) -> DateTime {
    at.date().at(at.hour(), 0, 0, 0)
}

#[cfg(test)]
#[path = "cron_tests.rs"]
mod tests;
