//! Jobs and CronJobs.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJobSpec, CronJobStatus, JobSpec, JobStatus};
use serde_json::{Value, json};

use super::columns::{AGE, CONTAINERS, CellType, Column, Description, IMAGES, NAME, field_of};
use super::duration::{between, human_duration, since};
use super::fields::{
    at, integer, is_deleting, list, name, optional_flag, optional_integer, optional_text, text,
    time,
};
use super::format::{containers, label_selector, optional_bool};

pub(super) const JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Status", Description::Text("Status of the job.")),
    Column::text("Completions", field_of::<JobStatus>("succeeded")),
    Column::text(
        "Duration",
        Description::Text("Time required to complete the job."),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::text("Selector", field_of::<JobSpec>("selector")).wide(),
];

pub(super) const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Schedule", field_of::<CronJobSpec>("schedule")),
    Column::text("Timezone", field_of::<CronJobSpec>("timeZone")),
    Column::new(
        "Suspend",
        CellType::Boolean,
        field_of::<CronJobSpec>("suspend"),
    ),
    Column::new(
        "Active",
        CellType::Integer,
        field_of::<CronJobStatus>("active"),
    ),
    Column::text(
        "Last Schedule",
        field_of::<CronJobStatus>("lastScheduleTime"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::text("Selector", field_of::<JobSpec>("selector")).wide(),
];

pub(super) fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) =
        containers(at(job, &["spec", "template", "spec"]).unwrap_or(&Value::Null));
    vec![
        json!(name(job)),
        json!(job_status(job)),
        json!(completions(job)),
        json!(job_duration(job, now)),
        json!(since(time(job, &["metadata", "creationTimestamp"]), now)),
        json!(names),
        json!(images),
        json!(label_selector(at(job, &["spec", "selector"]))),
    ]
}

/// `succeeded/completions`, or for work queues `succeeded/1` (`… of N` when parallel).
fn completions(job: &Value) -> String {
    let succeeded = integer(job, &["status", "succeeded"]);
    if let Some(completions) = optional_integer(job, &["spec", "completions"]) {
        return format!("{succeeded}/{completions}");
    }
    match optional_integer(job, &["spec", "parallelism"]).unwrap_or(0) {
        parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        _ => format!("{succeeded}/1"),
    }
}

/// Empty before the job starts; running time so far; start to completion once complete.
fn job_duration(job: &Value, now: Timestamp) -> String {
    let Some(start) = time(job, &["status", "startTime"]) else {
        return String::new();
    };
    let end = time(job, &["status", "completionTime"]).unwrap_or(now);
    human_duration(between(start, end))
}

/// Terminal conditions first, then deletion, then the transient conditions.
fn job_status(job: &Value) -> &'static str {
    let condition = |condition_type: &str| {
        list(job, &["status", "conditions"])
            .iter()
            .find(|c| text(c, &["type"]) == condition_type)
            .is_some_and(|c| text(c, &["status"]) == "True")
    };
    if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if is_deleting(job) {
        "Terminating"
    } else if condition("Suspended") {
        "Suspended"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

pub(super) fn cron_job_cells(cron_job: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match time(cron_job, &["status", "lastScheduleTime"]) {
        Some(at) => since(Some(at), now),
        // A set but unreadable time still counts as set upstream (a non-nil pointer to zero).
        None if at(cron_job, &["status", "lastScheduleTime"]).is_some() => since(None, now),
        None => "<none>".to_string(),
    };
    let job_template = at(cron_job, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let (names, images) =
        containers(at(job_template, &["template", "spec"]).unwrap_or(&Value::Null));
    vec![
        json!(name(cron_job)),
        json!(text(cron_job, &["spec", "schedule"])),
        json!(optional_text(cron_job, &["spec", "timeZone"]).unwrap_or("<none>")),
        json!(optional_bool(optional_flag(cron_job, &["spec", "suspend"]))),
        json!(list(cron_job, &["status", "active"]).len()),
        json!(last_schedule),
        json!(since(
            time(cron_job, &["metadata", "creationTimestamp"]),
            now
        )),
        json!(names),
        json!(images),
        json!(label_selector(at(job_template, &["selector"]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    fn job(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "pi", "creationTimestamp": "2025-06-01T11:50:00Z"}, "spec": spec, "status": status})
    }

    #[test]
    fn completed_job_row() {
        let job = job(
            json!({"completions": 3, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                   "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}),
            json!({"succeeded": 3, "startTime": "2025-06-01T11:50:00Z", "completionTime": "2025-06-01T11:52:05Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(
            job_cells(&job, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("3/3"),
                json!("2m5s"),
                json!("10m"),
                json!("pi"),
                json!("perl"),
                json!("batch.kubernetes.io/controller-uid=u1")
            ]
        );
    }

    #[test]
    fn job_statuses_and_completions() {
        let running = job(
            json!({"parallelism": 2}),
            json!({"succeeded": 1, "startTime": "2025-06-01T11:59:30Z"}),
        );
        let row = job_cells(&running, now());
        assert_eq!(
            row[1..4],
            [json!("Running"), json!("1/1 of 2"), json!("30s")]
        );
        let failed = job(
            json!({}),
            json!({"conditions": [{"type": "Failed", "status": "True"}]}),
        );
        assert_eq!(
            job_cells(&failed, now())[1..4],
            [json!("Failed"), json!("0/1"), json!("")]
        );
        let suspended = job(
            json!({}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(job_cells(&suspended, now())[1], "Suspended");
        let mut deleting = job(
            json!({}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        deleting["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
        assert_eq!(job_cells(&deleting, now())[1], "Terminating");
        let failing = job(
            json!({}),
            json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
        );
        assert_eq!(job_cells(&failing, now())[1], "FailureTarget");
    }

    #[test]
    fn cron_job_row() {
        let cron_job = json!({
            "metadata": {"name": "nightly", "creationTimestamp": "2025-05-01T12:00:00Z"},
            "spec": {"schedule": "0 3 * * *", "timeZone": "Etc/UTC", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "tool"}]}}}}},
            "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": "2025-06-01T03:00:00Z"}
        });
        assert_eq!(
            cron_job_cells(&cron_job, now()),
            vec![
                json!("nightly"),
                json!("0 3 * * *"),
                json!("Etc/UTC"),
                json!("False"),
                json!(1),
                json!("9h"),
                json!("31d"),
                json!("backup"),
                json!("tool"),
                json!("<none>")
            ]
        );
        let bare = cron_job_cells(&json!({}), now());
        assert_eq!(
            bare[2..6],
            [json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]
        );
    }
}
