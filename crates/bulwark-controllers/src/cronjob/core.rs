//! The CronJob decision core (upstream `cronjob_controllerv2`): which Job to start for the most
//! recent schedule time, what to do about Jobs still running (`concurrencyPolicy`), which
//! finished Jobs fall out of the history limits, and what the status says. Pure: `now` comes in.

use std::time::Duration;

use bulwark_core::cron::{self, Schedule};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::Error;
use crate::job::core::{COMPLETE, FAILED, condition};
use crate::labels::controller_owner;
use crate::runtime::events::EventType;

pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed start times than this and only the latest is started, with a warning.
pub const MAX_MISSED_START_TIMES: u64 = 100;
const DEFAULT_SUCCESSFUL_HISTORY: i32 = 3;
const DEFAULT_FAILED_HISTORY: i32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    fn normal(reason: &'static str, message: String) -> Self {
        Event {
            kind: EventType::Normal,
            reason,
            message,
        }
    }

    fn warning(reason: &'static str, message: String) -> Self {
        Event {
            kind: EventType::Warning,
            reason,
            message,
        }
    }
}

/// What one sync does: delete (Replace, history), create, then write the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub delete: Vec<String>,
    pub create: Option<Job>,
    pub status: CronJobStatus,
    pub events: Vec<Event>,
    pub requeue_after: Option<Duration>,
}

fn spec(cron_job: &CronJob) -> Result<&CronJobSpec, Error> {
    cron_job
        .spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("cronjob has no spec".into()))
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// `Complete` or `Failed`, if the Job finished.
fn finished_as(job: &Job) -> Option<&'static str> {
    let status = job.status.as_ref()?;
    if condition(status, COMPLETE).is_some() {
        Some(COMPLETE)
    } else if condition(status, FAILED).is_some() {
        Some(FAILED)
    } else {
        None
    }
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// The Job name for a schedule time: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second().div_euclid(60))
}

/// The zone the schedule is read in: `spec.timeZone`, or UTC (the controller manager's zone).
pub fn time_zone(spec: &CronJobSpec) -> Result<TimeZone, String> {
    match spec.time_zone.as_deref() {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|e| e.to_string()),
    }
}

/// One sync of `cron_job` over the Jobs it owns.
pub fn plan(cron_job: &CronJob, owned: &[&Job], now: Timestamp) -> Result<Plan, Error> {
    let spec = spec(cron_job)?;
    let mut plan = Plan {
        status: cron_job.status.clone().unwrap_or_default(),
        ..Plan::default()
    };
    track_active(&mut plan, owned);
    clean_history(&mut plan, spec, owned);
    if cron_job.metadata.deletion_timestamp.is_some() || spec.suspend == Some(true) {
        return Ok(plan);
    }
    let zone = match time_zone(spec) {
        Ok(zone) => zone,
        Err(error) => {
            let name = spec.time_zone.clone().unwrap_or_default();
            let message = format!("invalid timeZone: {name:?}: {error}");
            plan.events.push(Event::warning("UnknownTimeZone", message));
            return Ok(plan);
        }
    };
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            let message = format!("unparseable schedule: {:?} : {error}", spec.schedule);
            plan.events
                .push(Event::warning("UnparseableSchedule", message));
            return Ok(plan);
        }
    };
    plan.requeue_after = until_next(&schedule, &zone, now);
    if let Some(scheduled) = due(cron_job, spec, &schedule, &zone, &mut plan, now) {
        start(cron_job, spec, owned, &zone, scheduled, &mut plan)?;
    }
    Ok(plan)
}

/// Refreshes `status.active`: finished Jobs leave it (with `SawCompletedJob`, and
/// `lastSuccessfulTime` for a success), vanished ones too, running owned Jobs join it.
fn track_active(plan: &mut Plan, owned: &[&Job]) {
    let previous = plan.status.active.take().unwrap_or_default();
    let mut active = Vec::new();
    for reference in &previous {
        let job = owned
            .iter()
            .find(|j| j.metadata.uid == reference.uid && reference.uid.is_some());
        match job.map(|j| (j, finished_as(j))) {
            Some((job, None)) => active.push(self::reference(job)),
            Some((job, Some(how))) => {
                let name = name_of(&job.metadata);
                let message = format!("Saw completed job: {name}, condition: {how}");
                plan.events.push(Event::normal("SawCompletedJob", message));
            }
            None => {}
        }
    }
    for job in owned {
        let listed = active.iter().any(|r| r.uid == job.metadata.uid);
        if finished_as(job).is_none() && !listed && job.metadata.deletion_timestamp.is_none() {
            active.push(reference(job));
        }
    }
    let latest_success = owned
        .iter()
        .filter(|j| finished_as(j) == Some(COMPLETE))
        .filter_map(|j| j.status.as_ref()?.completion_time.as_ref())
        .map(|t| t.0)
        .max();
    if let Some(latest) = latest_success {
        let known = plan.status.last_successful_time.as_ref().map(|t| t.0);
        if known.is_none_or(|known| known < latest) {
            plan.status.last_successful_time = Some(Time(latest));
        }
    }
    plan.status.active = (!active.is_empty()).then_some(active);
}

/// `successfulJobsHistoryLimit` / `failedJobsHistoryLimit`: the oldest finished Jobs beyond
/// them are deleted.
fn clean_history(plan: &mut Plan, spec: &CronJobSpec, owned: &[&Job]) {
    let limits = [
        (
            COMPLETE,
            spec.successful_jobs_history_limit
                .unwrap_or(DEFAULT_SUCCESSFUL_HISTORY),
        ),
        (
            FAILED,
            spec.failed_jobs_history_limit
                .unwrap_or(DEFAULT_FAILED_HISTORY),
        ),
    ];
    for (how, limit) in limits {
        let mut finished: Vec<&Job> = owned
            .iter()
            .copied()
            .filter(|j| finished_as(j) == Some(how) && j.metadata.deletion_timestamp.is_none())
            .collect();
        let keep = usize::try_from(limit).unwrap_or(0);
        if finished.len() <= keep {
            continue;
        }
        finished.sort_by_key(|j| started(j));
        for job in &finished[..finished.len() - keep] {
            let name = name_of(&job.metadata);
            plan.events.push(Event::normal(
                "SuccessfulDelete",
                format!("Deleted job {name}"),
            ));
            plan.delete.push(name);
        }
    }
}

fn started(job: &Job) -> (Option<Timestamp>, String) {
    let start = job
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .or(job.metadata.creation_timestamp.as_ref())
        .map(|t| t.0);
    (start, name_of(&job.metadata))
}

fn until_next(schedule: &Schedule, zone: &TimeZone, now: Timestamp) -> Option<Duration> {
    let next = schedule.next_after(now, zone)?;
    let wait = Duration::try_from(next.duration_since(now)).unwrap_or_default();
    Some(wait + Duration::from_millis(100))
}

/// The schedule time to start a Job for now, if any (`mostRecentScheduleTime` with
/// `startingDeadlineSeconds`, the too-many-missed rule and the too-late rule).
fn due(
    cron_job: &CronJob,
    spec: &CronJobSpec,
    schedule: &Schedule,
    zone: &TimeZone,
    plan: &mut Plan,
    now: Timestamp,
) -> Option<Timestamp> {
    let last = plan
        .status
        .last_schedule_time
        .as_ref()
        .or(cron_job.metadata.creation_timestamp.as_ref())
        .map_or(now, |t| t.0);
    let deadline = spec
        .starting_deadline_seconds
        .map(SignedDuration::from_secs);
    let earliest = match deadline.and_then(|d| now.checked_sub(d).ok()) {
        Some(window_start) => last.max(window_start),
        None => last,
    };
    let missed = cron::missed_times(schedule, zone, earliest, now, MAX_MISSED_START_TIMES);
    if missed.count > MAX_MISSED_START_TIMES {
        let message = format!(
            "too many missed start times: > {MAX_MISSED_START_TIMES}. Set or decrease \
             .spec.startingDeadlineSeconds or check clock skew"
        );
        plan.events
            .push(Event::warning("TooManyMissedTimes", message));
    }
    let scheduled = missed.latest?;
    let too_late = deadline
        .and_then(|d| scheduled.checked_add(d).ok())
        .is_some_and(|end| end < now);
    if too_late {
        let message = format!(
            "Missed scheduled time to start a job: {}",
            rfc3339(scheduled, zone)
        );
        plan.events.push(Event::warning("MissSchedule", message));
        return None;
    }
    Some(scheduled)
}

/// Starts the Job for `scheduled`, as `concurrencyPolicy` allows.
fn start(
    cron_job: &CronJob,
    spec: &CronJobSpec,
    owned: &[&Job],
    zone: &TimeZone,
    scheduled: Timestamp,
    plan: &mut Plan,
) -> Result<(), Error> {
    let name = job_name(&name_of(&cron_job.metadata), scheduled);
    let already = owned.iter().any(|j| name_of(&j.metadata) == name)
        || plan.status.last_schedule_time.as_ref().map(|t| t.0) == Some(scheduled);
    if already {
        return Ok(());
    }
    let active = plan.status.active.clone().unwrap_or_default();
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            let message = "Not starting job because prior execution is running and concurrency \
                           policy is Forbid";
            plan.events
                .push(Event::normal("JobAlreadyActive", message.into()));
            return Ok(());
        }
        Some("Replace") => {
            for reference in &active {
                let job = reference.name.clone().unwrap_or_default();
                plan.events.push(Event::normal(
                    "SuccessfulDelete",
                    format!("Deleted job {job}"),
                ));
                plan.delete.push(job);
            }
            plan.status.active = None;
        }
        _ => {}
    }
    let job = new_job(cron_job, spec, zone, scheduled)?;
    plan.events.push(Event::normal(
        "SuccessfulCreate",
        format!("Created job {name}"),
    ));
    plan.status.last_schedule_time = Some(Time(scheduled));
    plan.create = Some(job);
    Ok(())
}

/// Go's `time.RFC3339` in `zone`: `Z` for UTC, the numeric offset otherwise.
pub fn rfc3339(at: Timestamp, zone: &TimeZone) -> String {
    let offset = zone.to_offset(at);
    if offset.seconds() == 0 {
        at.to_string()
    } else {
        at.display_with_offset(offset).to_string()
    }
}

/// `getJobFromTemplate2`: the template's labels and annotations, the scheduled-time
/// annotation (RFC 3339 in the CronJob's zone), a controller reference to the CronJob.
pub fn new_job(
    cron_job: &CronJob,
    spec: &CronJobSpec,
    zone: &TimeZone,
    scheduled: Timestamp,
) -> Result<Job, Error> {
    let template = &spec.job_template;
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled, zone));
    let job_spec = template
        .spec
        .clone()
        .ok_or_else(|| Error::Invalid("cronjob has no job template spec".into()))?;
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(&name_of(&cron_job.metadata), scheduled)),
            namespace: cron_job.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_owner(
                "batch/v1",
                "CronJob",
                &cron_job.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec: Some(job_spec),
        status: None,
    })
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
