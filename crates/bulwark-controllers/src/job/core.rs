//! The Job decision core (upstream `pkg/controller/job`): which pods to count, create and delete,
//! and what the status says. Pure: no I/O, no clock reads.
//!
//! Pods are tracked with the `batch.kubernetes.io/job-tracking` finalizer, as upstream does: a
//! pod that finished (or was deleted before finishing) keeps the finalizer until its uid is
//! recorded in `status.uncountedTerminatedPods`; only then does the finalizer come off and the
//! uid move into the `succeeded`/`failed` counters. So a pod can never vanish uncounted, and a
//! pod is never counted twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobSpec, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::indexes::{self, COMPLETION_INDEX};
use crate::Error;
use crate::labels::controller_owner;
use crate::pods;
use crate::replicaset::core::sort_for_deletion;
use crate::runtime::events::EventType;

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Upstream's `DefaultJobPodFailureBackOff` and the cap on it between retries.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);
/// Upstream's `MaxPodCreateDeletePerSync`.
pub const MAX_PODS_PER_SYNC: usize = 500;
const DEFAULT_BACKOFF_LIMIT: i32 = 6;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUSPENDED: &str = "Suspended";

/// Failures since the last success, and when the latest happened: how long the next pod waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    pub failures_after_last_success: u32,
    pub last_failure: Option<Timestamp>,
}

impl Backoff {
    /// 10 s doubling per failure since the last success, capped at 6 min.
    pub fn delay(&self) -> Duration {
        if self.failures_after_last_success == 0 {
            return Duration::ZERO;
        }
        let exponent = (self.failures_after_last_success - 1).min(16);
        BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_MAX)
    }

    /// How much of the delay is still to run at `now`.
    pub fn remaining(&self, now: Timestamp) -> Duration {
        let Some(last) = self.last_failure else {
            return Duration::ZERO;
        };
        let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or_default();
        self.delay().saturating_sub(elapsed)
    }
}

/// A condition the status should gain, and the event that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// What one sync does, in the order the shell must do it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Written first when pods joined `uncountedTerminatedPods`: the record that must be durable
    /// before their finalizers come off.
    pub interim: Option<JobStatus>,
    /// Pods whose tracking finalizer comes off (counted now, or the Job is done with them).
    pub remove_finalizers: Vec<String>,
    /// Pods to delete; those in `release_before_delete` lose the finalizer first, so they are
    /// not counted as failures (scale-down and suspension are not failures).
    pub delete: Vec<String>,
    pub release_before_delete: BTreeSet<String>,
    /// One entry per pod to create: its completion index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    /// The status once everything above succeeded.
    pub status: JobStatus,
    pub backoff: Backoff,
    pub events: Vec<Event>,
    pub requeue_after: Option<Duration>,
}

fn spec(job: &Job) -> Result<&JobSpec, Error> {
    job.spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("job has no spec".into()))
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

pub fn is_indexed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
}

pub fn condition<'a>(status: &'a JobStatus, kind: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == kind && c.status == "True")
}

/// `IsJobFinished`: a `Complete` or `Failed` condition is true.
pub fn finished(job: &Job) -> Option<&JobCondition> {
    let status = job.status.as_ref()?;
    condition(status, COMPLETE).or_else(|| condition(status, FAILED))
}

/// `isPodFailed` for the default pod replacement policy: failed, or deleted before succeeding.
fn counts_as_failed(pod: &Pod) -> bool {
    let phase = pods::phase(pod);
    phase == "Failed" || (pods::is_terminating(pod) && phase != "Succeeded")
}

fn is_terminating_unfinished(pod: &Pod) -> bool {
    pods::is_terminating(pod) && !matches!(pods::phase(pod), "Succeeded" | "Failed")
}

/// When a finished pod finished: its containers' latest finish time, else its deletion time.
fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
}

/// Restarts of a running OnFailure pod count against the backoff limit.
fn past_backoff_limit_on_failure(spec: &JobSpec, pods: &[&Pod], limit: i32) -> bool {
    let restart_policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(pods::phase(p), "Running" | "Pending"))
        .map(|p| {
            let status = p.status.as_ref();
            let init: i32 = status
                .and_then(|s| s.init_container_statuses.as_ref())
                .map_or(0, |c| c.iter().map(|c| c.restart_count).sum());
            init + pods::restarts(p)
        })
        .sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

fn new_condition(kind: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: kind.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

fn set_condition(status: &mut JobStatus, next: JobCondition) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == next.type_) {
        Some(existing) if existing.status == next.status => {}
        Some(existing) => *existing = next,
        None => conditions.push(next),
    }
}

/// The pods a sync decides about, sorted by what they are.
struct Census<'a> {
    active: Vec<&'a Pod>,
    terminating: usize,
    newly_succeeded: Vec<&'a Pod>,
    newly_failed: Vec<&'a Pod>,
}

fn census<'a>(pods: &[&'a Pod], uncounted: &BTreeSet<String>) -> Census<'a> {
    let mut census = Census {
        active: vec![],
        terminating: 0,
        newly_succeeded: vec![],
        newly_failed: vec![],
    };
    for &pod in pods {
        if pods::is_active(pod) {
            census.active.push(pod);
        }
        if is_terminating_unfinished(pod) {
            census.terminating += 1;
        }
        if !has_finalizer(pod) || uncounted.contains(&uid(pod)) {
            continue;
        }
        if pods::phase(pod) == "Succeeded" {
            census.newly_succeeded.push(pod);
        } else if counts_as_failed(pod) {
            census.newly_failed.push(pod);
        }
    }
    census
}

fn uncounted_sets(status: &JobStatus) -> (Vec<String>, Vec<String>) {
    let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    (
        uncounted.succeeded.unwrap_or_default(),
        uncounted.failed.unwrap_or_default(),
    )
}

fn to_i32(count: usize) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The next backoff record: a success resets the count, every new failure adds one.
pub fn next_backoff(
    previous: Backoff,
    succeeded: &[&Pod],
    failed: &[&Pod],
    now: Timestamp,
) -> Backoff {
    let mut next = previous;
    if !succeeded.is_empty() {
        next = Backoff::default();
    }
    if !failed.is_empty() {
        next.failures_after_last_success += u32::try_from(failed.len()).unwrap_or(u32::MAX);
        let latest = failed
            .iter()
            .filter_map(|p| finish_time(p))
            .max()
            .unwrap_or(now);
        next.last_failure = Some(next.last_failure.map_or(latest, |t| t.max(latest)));
    }
    next
}

/// One sync of `job` over the pods it owns.
pub fn plan(job: &Job, owned: &[&Pod], backoff: Backoff, now: Timestamp) -> Result<Plan, Error> {
    let spec = spec(job)?;
    let previous = job.status.clone().unwrap_or_default();
    if finished(job).is_some() || job.metadata.deletion_timestamp.is_some() {
        return Ok(done_with_pods(job, owned, previous, backoff));
    }
    let (mut uncounted_succeeded, mut uncounted_failed) = uncounted_sets(&previous);
    let known: BTreeSet<String> = uncounted_succeeded
        .iter()
        .chain(&uncounted_failed)
        .cloned()
        .collect();
    let census = census(owned, &known);
    uncounted_succeeded.extend(census.newly_succeeded.iter().map(|p| uid(p)));
    uncounted_failed.extend(census.newly_failed.iter().map(|p| uid(p)));
    let completions = spec.completions;
    let mut completed = indexes::parse(
        previous.completed_indexes.as_deref(),
        completions.unwrap_or(0),
    );
    if is_indexed(job) {
        let total = completions.unwrap_or(0);
        completed.extend(
            census
                .newly_succeeded
                .iter()
                .filter_map(|p| indexes::index_of(p, total)),
        );
    }
    let mut plan = Plan {
        backoff: next_backoff(backoff, &census.newly_succeeded, &census.newly_failed, now),
        ..Plan::default()
    };
    let newly_counted = !census.newly_succeeded.is_empty() || !census.newly_failed.is_empty();
    if newly_counted {
        let mut interim = previous.clone();
        interim.uncounted_terminated_pods = Some(UncountedTerminatedPods {
            succeeded: Some(uncounted_succeeded.clone()),
            failed: Some(uncounted_failed.clone()),
        });
        if is_indexed(job) {
            interim.completed_indexes = indexes::format(&completed);
        }
        plan.interim = Some(interim);
    }
    let all_uncounted: BTreeSet<&String> = uncounted_succeeded
        .iter()
        .chain(&uncounted_failed)
        .collect();
    plan.remove_finalizers = owned
        .iter()
        .filter(|p| has_finalizer(p) && all_uncounted.contains(&uid(p)))
        .map(|p| name(p))
        .collect();

    let succeeded = if is_indexed(job) {
        to_i32(completed.len())
    } else {
        previous.succeeded.unwrap_or(0) + to_i32(uncounted_succeeded.len())
    };
    let failed = previous.failed.unwrap_or(0) + to_i32(uncounted_failed.len());
    let mut status = previous.clone();
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
    status.succeeded = Some(succeeded);
    status.failed = Some(failed);
    if is_indexed(job) {
        status.completed_indexes = Some(indexes::format(&completed).unwrap_or_default());
    }

    let suspended = spec.suspend == Some(true);
    track_suspension(&mut status, &mut plan, suspended, now);
    if status.start_time.is_none() && !suspended {
        status.start_time = Some(Time(now));
    }

    let counts = Counts { succeeded, failed };
    let target = target_condition(spec, &status, &census, owned, counts, now);
    let mut active = census.active.clone();
    if let Some(target) = target {
        set_condition(&mut status, target.clone());
        // The pods still running are stopped; they keep their finalizer and count as failed.
        plan.delete.extend(active.iter().map(|p| name(p)));
        let settled = active.is_empty() && census.terminating == 0;
        if settled {
            finish(&mut status, &mut plan, &target, now);
            plan.remove_finalizers = owned
                .iter()
                .filter(|p| has_finalizer(p))
                .map(|p| name(p))
                .collect();
        } else {
            plan.requeue_after = Some(Duration::from_secs(1));
        }
        active.clear();
    } else if suspended {
        release_and_delete(&mut plan, &active);
        active.clear();
    } else {
        manage(
            job,
            spec,
            &mut plan,
            &mut active,
            &completed,
            succeeded,
            now,
        );
        plan.requeue_after = min_duration(plan.requeue_after, deadline_in(spec, &status, now));
    }
    let deleting: BTreeSet<&String> = plan.delete.iter().collect();
    let staying: Vec<&&Pod> = active
        .iter()
        .filter(|p| !deleting.contains(&name(p)))
        .collect();
    status.active = Some(to_i32(staying.len() + plan.create.len()));
    status.ready = Some(to_i32(staying.iter().filter(|p| pods::is_ready(p)).count()));
    status.terminating = Some(to_i32(census.terminating + deleting.len()));
    plan.status = status;
    Ok(plan)
}

/// A finished or deleted Job lets go of all its pods.
fn done_with_pods(job: &Job, owned: &[&Pod], status: JobStatus, backoff: Backoff) -> Plan {
    let active: Vec<String> =
        if finished(job).is_some() && job.metadata.deletion_timestamp.is_none() {
            owned
                .iter()
                .filter(|p| pods::is_active(p))
                .map(|p| name(p))
                .collect()
        } else {
            vec![]
        };
    Plan {
        remove_finalizers: owned
            .iter()
            .filter(|p| has_finalizer(p))
            .map(|p| name(p))
            .collect(),
        release_before_delete: active.iter().cloned().collect(),
        delete: active,
        status,
        backoff,
        ..Plan::default()
    }
}

fn release_and_delete(plan: &mut Plan, pods_to_go: &[&Pod]) {
    for pod in pods_to_go {
        plan.delete.push(name(pod));
        plan.release_before_delete.insert(name(pod));
    }
}

/// `Suspended` condition and startTime reset on resume, with their events.
fn track_suspension(status: &mut JobStatus, plan: &mut Plan, suspended: bool, now: Timestamp) {
    let was_suspended = condition(status, SUSPENDED).is_some();
    if suspended && !was_suspended {
        set_condition(
            status,
            new_condition(SUSPENDED, "JobSuspended", "Job suspended", now),
        );
        plan.events.push(Event {
            kind: EventType::Normal,
            reason: "Suspended",
            message: "Job suspended".into(),
        });
    } else if !suspended && was_suspended {
        let mut resumed = new_condition(SUSPENDED, "JobResumed", "Job resumed", now);
        resumed.status = "False".into();
        set_condition(status, resumed);
        // Upstream restarts the clock of activeDeadlineSeconds on resume.
        status.start_time = Some(Time(now));
        plan.events.push(Event {
            kind: EventType::Normal,
            reason: "Resumed",
            message: "Job resumed".into(),
        });
    }
}

/// Terminated pods counted so far, this sync's included.
#[derive(Debug, Clone, Copy)]
struct Counts {
    succeeded: i32,
    failed: i32,
}

/// `SuccessCriteriaMet` or `FailureTarget`: already set, or reached now.
fn target_condition(
    spec: &JobSpec,
    status: &JobStatus,
    census: &Census,
    owned: &[&Pod],
    Counts { succeeded, failed }: Counts,
    now: Timestamp,
) -> Option<JobCondition> {
    if let Some(existing) =
        condition(status, FAILURE_TARGET).or_else(|| condition(status, SUCCESS_CRITERIA_MET))
    {
        return Some(existing.clone());
    }
    let limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    if failed > limit || past_backoff_limit_on_failure(spec, owned, limit) {
        return Some(new_condition(
            FAILURE_TARGET,
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
            now,
        ));
    }
    if deadline_in(spec, status, now) == Some(Duration::ZERO) {
        return Some(new_condition(
            FAILURE_TARGET,
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
            now,
        ));
    }
    let complete = match spec.completions {
        Some(completions) => succeeded >= completions,
        None => succeeded > 0 && census.active.is_empty(),
    };
    complete.then(|| {
        new_condition(
            SUCCESS_CRITERIA_MET,
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        )
    })
}

/// How long until `activeDeadlineSeconds` runs out (zero once it has); None without one or
/// while suspended.
fn deadline_in(spec: &JobSpec, status: &JobStatus, now: Timestamp) -> Option<Duration> {
    let seconds = spec.active_deadline_seconds?;
    if spec.suspend == Some(true) {
        return None;
    }
    let start = status.start_time.as_ref()?.0;
    let end = start.checked_add(SignedDuration::from_secs(seconds)).ok()?;
    Some(Duration::try_from(end.duration_since(now)).unwrap_or(Duration::ZERO))
}

/// The terminal condition, once no pod runs any more, with its completion time and event.
fn finish(status: &mut JobStatus, plan: &mut Plan, target: &JobCondition, now: Timestamp) {
    let reason = target.reason.clone().unwrap_or_default();
    let message = target.message.clone().unwrap_or_default();
    if target.type_ == SUCCESS_CRITERIA_MET {
        set_condition(status, new_condition(COMPLETE, &reason, &message, now));
        status.completion_time = Some(Time(now));
        plan.events.push(Event {
            kind: EventType::Normal,
            reason: "Completed",
            message: "Job completed".into(),
        });
    } else {
        set_condition(status, new_condition(FAILED, &reason, &message, now));
        plan.events.push(Event {
            kind: EventType::Warning,
            reason: if reason == "DeadlineExceeded" {
                "DeadlineExceeded"
            } else {
                "BackoffLimitExceeded"
            },
            message,
        });
    }
}

fn min_duration(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `manageJob`: as many pods as parallelism and the remaining completions allow, after the
/// failure backoff.
fn manage(
    job: &Job,
    spec: &JobSpec,
    plan: &mut Plan,
    active: &mut Vec<&Pod>,
    completed: &BTreeSet<i32>,
    succeeded: i32,
    now: Timestamp,
) {
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
    if is_indexed(job) {
        manage_indexed(spec, plan, active, completed, parallelism, now);
        return;
    }
    let want = match spec.completions {
        None if succeeded > 0 => active.len(),
        None => parallelism,
        Some(completions) => {
            let remaining = usize::try_from(completions - succeeded).unwrap_or(0);
            remaining.min(parallelism)
        }
    };
    if active.len() > want {
        sort_for_deletion(active);
        let excess = (active.len() - want).min(MAX_PODS_PER_SYNC);
        let going: Vec<&Pod> = active.drain(..excess).collect();
        release_and_delete(plan, &going);
    } else if active.len() < want {
        create_after_backoff(plan, vec![None; want - active.len()], now);
    }
}

fn create_after_backoff(plan: &mut Plan, mut create: Vec<Option<i32>>, now: Timestamp) {
    let wait = plan.backoff.remaining(now);
    if !wait.is_zero() {
        plan.requeue_after = min_duration(plan.requeue_after, Some(wait));
        return;
    }
    create.truncate(MAX_PODS_PER_SYNC);
    plan.create = create;
}

/// Indexed: one active pod per index still to complete, lowest indexes first; pods with a bad,
/// duplicate or already completed index go.
fn manage_indexed(
    spec: &JobSpec,
    plan: &mut Plan,
    active: &mut Vec<&Pod>,
    completed: &BTreeSet<i32>,
    parallelism: usize,
    now: Timestamp,
) {
    let completions = spec.completions.unwrap_or(0);
    let mut by_index: BTreeMap<i32, &Pod> = BTreeMap::new();
    let mut going: Vec<&Pod> = Vec::new();
    // Ready and older pods first, so the one kept for an index is the furthest along.
    active.sort_by(|a, b| {
        pods::is_ready(b)
            .cmp(&pods::is_ready(a))
            .then_with(|| pods::created(a).cmp(&pods::created(b)))
    });
    for &pod in active.iter() {
        match indexes::index_of(pod, completions) {
            Some(index) if !completed.contains(&index) && !by_index.contains_key(&index) => {
                by_index.insert(index, pod);
            }
            _ => going.push(pod),
        }
    }
    let remaining = usize::try_from(completions)
        .unwrap_or(0)
        .saturating_sub(completed.len());
    let want = remaining.min(parallelism);
    while by_index.len() > want {
        if let Some((_, pod)) = by_index.pop_last() {
            going.push(pod);
        }
    }
    release_and_delete(plan, &going);
    *active = by_index.values().copied().collect();
    let missing: Vec<Option<i32>> = (0..completions)
        .filter(|i| !completed.contains(i) && !by_index.contains_key(i))
        .take(want - by_index.len())
        .map(Some)
        .collect();
    if !missing.is_empty() {
        create_after_backoff(plan, missing, now);
    }
}

/// A new pod from the template: `generateName: <job>-` (Indexed: `<job>-<index>-`), the
/// template's labels, the tracking finalizer, a controller reference; Indexed pods also get
/// their index as annotation, label, `JOB_COMPLETION_INDEX` and hostname `<job>-<index>`.
pub fn new_pod(job: &Job, index: Option<i32>) -> Result<Pod, Error> {
    let spec = spec(job)?;
    let template = spec.template.clone();
    let template_meta = template.metadata.unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut pod_spec = template
        .spec
        .ok_or_else(|| Error::Invalid("job has no pod template spec".into()))?;
    let mut labels = template_meta.labels.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    let generate_name = match index {
        None => format!("{name}-"),
        Some(index) => {
            labels.insert(COMPLETION_INDEX.into(), index.to_string());
            annotations.insert(COMPLETION_INDEX.into(), index.to_string());
            if pod_spec.hostname.is_none() {
                pod_spec.hostname = Some(format!("{name}-{index}"));
            }
            add_index_env(&mut pod_spec);
            format!("{name}-{index}-")
        }
    };
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(vec![TRACKING_FINALIZER.into()]),
            owner_references: Some(vec![controller_owner("batch/v1", "Job", &job.metadata)]),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        status: None,
    })
}

/// `JOB_COMPLETION_INDEX` from the downward API, in every container and init container.
fn add_index_env(spec: &mut k8s_openapi::api::core::v1::PodSpec) {
    let variable = EnvVar {
        name: "JOB_COMPLETION_INDEX".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
            }),
            ..EnvVarSource::default()
        }),
    };
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for container in containers {
        let env = container.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.name == variable.name) {
            env.push(variable.clone());
        }
    }
}

/// A pod with the tracking finalizer whose Job is gone, or that no Job controls any more: nothing
/// will ever count it, so the finalizer must come off.
pub fn is_orphaned(pod: &Pod, job_exists: impl Fn(&str) -> bool) -> bool {
    if !has_finalizer(pod) {
        return false;
    }
    match crate::labels::controller_ref(&pod.metadata) {
        Some(owner) if owner.kind == "Job" => !job_exists(&owner.uid),
        _ => true,
    }
}

/// Whether the status differs from the Job's (so a write is needed).
pub fn status_changed(job: &Job, next: &JobStatus) -> bool {
    let mut current = job.status.clone().unwrap_or_default();
    let mut next = next.clone();
    // Probe times move on every sync; they alone are no reason to write.
    for status in [&mut current, &mut next] {
        if status.uncounted_terminated_pods.as_ref().is_some_and(|u| {
            u.succeeded.as_ref().is_none_or(Vec::is_empty)
                && u.failed.as_ref().is_none_or(Vec::is_empty)
        }) {
            status.uncounted_terminated_pods = None;
        }
        for key in [
            &mut status.active,
            &mut status.ready,
            &mut status.terminating,
            &mut status.succeeded,
            &mut status.failed,
        ] {
            if *key == Some(0) {
                *key = None;
            }
        }
        if status.completed_indexes.as_deref() == Some("") {
            status.completed_indexes = None;
        }
    }
    current != next
}

/// When to look at the Job again for time-based transitions.
pub fn requeue(plan: &Plan) -> Option<Duration> {
    plan.requeue_after
        .map(|wait| wait + Duration::from_millis(100))
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
