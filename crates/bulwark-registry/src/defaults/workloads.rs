//! Workload defaults: `apps/v1` (Deployments, ReplicaSets, DaemonSets) and `batch/v1` (Jobs,
//! CronJobs), each also defaulting its pod template.

use serde_json::{Map, Value, json};

use super::{default_field, default_pointer, ensure_object, existing_object, pod};

/// The label upstream's Job strategy selects a Job's pods by.
pub const JOB_CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
const LEGACY_JOB_CONTROLLER_UID_LABEL: &str = "controller-uid";
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
const LEGACY_JOB_NAME_LABEL: &str = "job-name";

pub fn deployment(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    default_pointer(spec, "replicas", 1);
    if let Some(strategy) = ensure_object(spec, "strategy") {
        default_field(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = ensure_object(strategy, "rollingUpdate")
        {
            default_pointer(rolling, "maxUnavailable", "25%");
            default_pointer(rolling, "maxSurge", "25%");
        }
    }
    default_pointer(spec, "revisionHistoryLimit", 10);
    default_pointer(spec, "progressDeadlineSeconds", 600);
    template(spec);
}

pub fn replica_set(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    default_pointer(spec, "replicas", 1);
    template(spec);
}

pub fn daemon_set(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    if let Some(strategy) = ensure_object(spec, "updateStrategy") {
        default_field(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = ensure_object(strategy, "rollingUpdate")
        {
            default_pointer(rolling, "maxUnavailable", 1);
            default_pointer(rolling, "maxSurge", 0);
        }
    }
    default_pointer(spec, "revisionHistoryLimit", 10);
    template(spec);
}

/// `SetDefaults_Job`, then the strategy's selector generation (which needs `metadata.uid`).
/// Labels are copied from the template both before and after generation, because upstream
/// defaults again on every read and so ends with the generated labels on the Job too.
pub fn job(object: &mut Map<String, Value>) {
    copy_template_labels(object);
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    job_spec(spec);
    generate_job_selector(object);
    copy_template_labels(object);
}

/// A Job without labels takes its template's labels.
fn copy_template_labels(object: &mut Map<String, Value>) {
    let template_labels = object
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned();
    if let (Some(labels), Some(metadata)) = (template_labels, ensure_object(object, "metadata")) {
        let has_labels = metadata
            .get("labels")
            .and_then(Value::as_object)
            .is_some_and(|l| !l.is_empty());
        if !has_labels {
            metadata.insert("labels".into(), labels);
        }
    }
}

/// The parts of `SetDefaults_Job` that concern the spec.
fn job_spec(spec: &mut Map<String, Value>) {
    let unset = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default_pointer(spec, "parallelism", 1);
    // With per-index backoff the global limit is effectively unbounded.
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    default_pointer(spec, "backoffLimit", backoff);
    default_pointer(spec, "completionMode", "NonIndexed");
    default_pointer(spec, "suspend", false);
    let replacement = if unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default_pointer(spec, "podReplacementPolicy", replacement);
    template(spec);
}

/// Unless the user manages the selector, label the template with the Job's uid and name and
/// select on the uid, exactly as upstream's Job strategy does on create.
fn generate_job_selector(object: &mut Map<String, Value>) {
    let metadata = object.get("metadata");
    let uid = metadata
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = metadata
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(spec) = existing_object(object, "spec") else {
        return;
    };
    if uid.is_empty() || spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let labels = ensure_object(spec, "template")
        .and_then(|template| ensure_object(template, "metadata"))
        .and_then(|metadata| ensure_object(metadata, "labels"));
    if let Some(labels) = labels {
        for (key, value) in [
            (LEGACY_JOB_CONTROLLER_UID_LABEL, &uid),
            (JOB_CONTROLLER_UID_LABEL, &uid),
            (LEGACY_JOB_NAME_LABEL, &name),
            (JOB_NAME_LABEL, &name),
        ] {
            labels
                .entry(key)
                .or_insert_with(|| Value::from(value.as_str()));
        }
    }
    default_pointer(
        spec,
        "selector",
        json!({"matchLabels": {JOB_CONTROLLER_UID_LABEL: uid}}),
    );
}

pub fn cron_job(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    default_field(spec, "concurrencyPolicy", "Allow");
    default_pointer(spec, "suspend", false);
    default_pointer(spec, "successfulJobsHistoryLimit", 3);
    default_pointer(spec, "failedJobsHistoryLimit", 1);
    if let Some(job_spec) =
        ensure_object(spec, "jobTemplate").and_then(|t| ensure_object(t, "spec"))
    {
        template(job_spec);
    }
}

/// Pod-template defaults inside `spec.template`.
fn template(spec: &mut Map<String, Value>) {
    if let Some(template) = ensure_object(spec, "template") {
        pod::template(template);
    }
}
