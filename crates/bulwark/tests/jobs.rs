//! The Job, TTL-after-finished and CronJob controllers end to end: `bulwark up` with one process
//! node (the `busybox` image runs the host's shell), driven with the real kubectl and a kube
//! client; the control plane's scheduler places the pods.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Cluster, DEADLINE, apply, eventually, eventually_within};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

fn cluster() -> Cluster {
    Cluster::up(1, &[])
}

fn job_manifest(name: &str, spec: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec}  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: busybox\n        command: [\"sh\", \"-c\", {script:?}]\n"
    )
}

fn json_of(cluster: &Cluster, args: &[&str]) -> Value {
    serde_json::from_str(&cluster.ok(args)).expect("kubectl -o json output")
}

fn job_json(cluster: &Cluster, name: &str) -> Value {
    json_of(cluster, &["get", "job", name, "-o", "json"])
}

fn condition(job: &Value, kind: &str) -> Option<Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .cloned()
}

fn wait_condition(cluster: &Cluster, name: &str, kind: &str, deadline: Duration) -> Value {
    eventually_within(
        deadline,
        Duration::from_millis(200),
        &format!("job {name} {kind}"),
        || {
            let job = job_json(cluster, name);
            condition(&job, kind).map(|_| job)
        },
    )
}

async fn job_pods(cluster: &Cluster, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::default_namespaced(cluster.client().await);
    let params = ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}"));
    pods.list(&params)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn running(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase(pod), "Succeeded" | "Failed")
}

fn events_of(cluster: &Cluster, kind: &str, name: &str) -> String {
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        &selector,
        "-o",
        "custom-columns=REASON:.reason,MESSAGE:.message",
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_with_five_completions_runs_two_at_a_time_and_completes() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest("five", "  completions: 5\n  parallelism: 2\n", "sleep 1"),
    );
    let started = Instant::now();
    let mut most_active = 0;
    let mut seen = BTreeSet::new();
    // Checked continuously until the Job completes: never more than two pods running.
    loop {
        let pods = job_pods(&cluster, "five").await;
        let active = pods.iter().filter(|p| running(p)).count();
        most_active = most_active.max(active);
        assert!(active <= 2, "{active} pods running at once");
        seen.extend(pods.iter().filter_map(|p| p.metadata.name.clone()));
        if condition(&job_json(&cluster, "five"), "Complete").is_some() {
            break;
        }
        assert!(started.elapsed() < DEADLINE * 2, "job five never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(most_active, 2, "parallelism 2 was used");
    let job = job_json(&cluster, "five");
    assert_eq!(job["status"]["succeeded"], 5);
    assert_eq!(job["status"]["active"].as_i64().unwrap_or(0), 0);
    assert!(condition(&job, "SuccessCriteriaMet").is_some());
    assert!(job["status"]["completionTime"].is_string());
    assert!(job["status"]["startTime"].is_string());
    assert_eq!(seen.len(), 5, "one pod per completion: {seen:?}");
    let table = cluster.ok(&["get", "jobs", "five"]);
    assert!(table.contains("5/5"), "{table}");
    assert!(table.contains("Complete"), "{table}");
    let pods = job_pods(&cluster, "five").await;
    for pod in &pods {
        assert_eq!(phase(pod), "Succeeded");
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("job-name").map(String::as_str), Some("five"));
        assert!(labels.contains_key("controller-uid"));
        assert!(labels.contains_key("batch.kubernetes.io/controller-uid"));
        // Counted, so no longer held by the tracking finalizer.
        assert!(
            pod.metadata
                .finalizers
                .clone()
                .unwrap_or_default()
                .is_empty()
        );
    }
    let events = eventually("Completed event", || {
        let events = events_of(&cluster, "Job", "five");
        events.contains("Completed").then_some(events)
    });
    assert_eq!(events.matches("SuccessfulCreate").count(), 5, "{events}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_stops_at_its_backoff_limit_after_backing_off() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest("doomed", "  backoffLimit: 1\n", "exit 1"),
    );
    let job = wait_condition(&cluster, "doomed", "Failed", DEADLINE * 2);
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        condition(&job, "FailureTarget").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(job["status"]["failed"], 2);
    let mut pods = job_pods(&cluster, "doomed").await;
    assert_eq!(pods.len(), 2, "backoffLimit 1: the first pod and one retry");
    pods.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    // The retry waited out the 10 s backoff after the first failure.
    let first_finished = pods[0]
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| {
            c[0].state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .clone()
        })
        .expect("first pod's finish time")
        .0;
    let retry_created = pods[1].metadata.creation_timestamp.clone().unwrap().0;
    let gap = retry_created.duration_since(first_finished);
    assert!(gap.as_secs() >= 9, "retry after {gap:?}");
    let events = eventually("BackoffLimitExceeded event", || {
        let events = events_of(&cluster, "Job", "doomed");
        events.contains("BackoffLimitExceeded").then_some(events)
    });
    assert!(
        events.contains("Job has reached the specified backoff limit"),
        "{events}"
    );
    let table = cluster.ok(&["get", "jobs", "doomed"]);
    assert!(table.contains("Failed"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_past_its_active_deadline_fails_and_stops_its_pods() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest(
            "slow",
            "  activeDeadlineSeconds: 3
",
            "sleep 600",
        ),
    );
    let job = wait_condition(&cluster, "slow", "Failed", DEADLINE * 2);
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );
    // Failed is only set once the pod is stopped; it counts as a failure.
    assert_eq!(job["status"]["failed"], 1);
    assert_eq!(job["status"]["active"].as_i64().unwrap_or(0), 0);
    let deadline = Instant::now() + DEADLINE;
    while job_pods(&cluster, "slow").await.iter().any(running) {
        assert!(
            Instant::now() < deadline,
            "the pod kept running past the deadline"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = eventually("DeadlineExceeded event", || {
        let events = events_of(&cluster, "Job", "slow");
        events.contains("DeadlineExceeded").then_some(events)
    });
    assert!(
        events.contains("Job was active longer than specified deadline"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspended_job_waits_and_runs_once_resumed() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest(
            "later",
            "  suspend: true
  completions: 2
",
            "exit 0",
        ),
    );
    let job = wait_condition(&cluster, "later", "Suspended", DEADLINE);
    assert_eq!(
        condition(&job, "Suspended").unwrap()["reason"],
        "JobSuspended"
    );
    assert!(job["status"]["startTime"].is_null());
    assert!(
        job_pods(&cluster, "later").await.is_empty(),
        "a suspended job runs nothing"
    );
    cluster.ok(&[
        "patch",
        "job",
        "later",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    let job = wait_condition(&cluster, "later", "Complete", DEADLINE * 2);
    assert_eq!(job["status"]["succeeded"], 2);
    assert!(job["status"]["startTime"].is_string());
    let events = events_of(&cluster, "Job", "later");
    assert!(
        events.contains("Suspended") && events.contains("Resumed"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_indexed_job_completes_every_index() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest(
            "indexed",
            "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n",
            "echo index=$JOB_COMPLETION_INDEX host=$(hostname)",
        ),
    );
    let job = wait_condition(&cluster, "indexed", "Complete", DEADLINE * 2);
    assert_eq!(job["status"]["completedIndexes"], "0-2");
    assert_eq!(job["status"]["succeeded"], 3);
    let pods = job_pods(&cluster, "indexed").await;
    let mut indexes = BTreeSet::new();
    for pod in &pods {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let index = annotations["batch.kubernetes.io/job-completion-index"].clone();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels["batch.kubernetes.io/job-completion-index"], index);
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(
            spec.hostname.as_deref(),
            Some(format!("indexed-{index}").as_str())
        );
        let name = pod.metadata.name.clone().unwrap();
        assert!(name.starts_with(&format!("indexed-{index}-")), "{name}");
        let log = cluster.ok(&["logs", &name]);
        assert!(log.contains(&format!("index={index}")), "{name}: {log}");
        indexes.insert(index);
    }
    assert_eq!(indexes, ["0", "1", "2"].map(String::from).into());
}

#[tokio::test(flavor = "multi_thread")]
async fn ttl_after_finished_deletes_the_job_and_its_pods() {
    let cluster = cluster();
    apply(
        &cluster,
        &job_manifest("brief", "  ttlSecondsAfterFinished: 2\n", "exit 0"),
    );
    wait_condition(&cluster, "brief", "Complete", DEADLINE * 2);
    let jobs: Api<Job> = Api::default_namespaced(cluster.client().await);
    let deadline = Instant::now() + DEADLINE;
    while jobs.get_opt("brief").await.expect("get job").is_some() {
        assert!(
            Instant::now() < deadline,
            "the finished job was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + DEADLINE;
    while !job_pods(&cluster, "brief").await.is_empty() {
        assert!(Instant::now() < deadline, "the job's pods outlived it");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn cron_manifest(name: &str, schedule: &str, extra: &str, script: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: {schedule:?}\n{extra}  jobTemplate:\n    spec:\n      backoffLimit: 0\n      template:\n        spec:\n          restartPolicy: Never\n          terminationGracePeriodSeconds: 1\n          containers:\n          - name: main\n            image: busybox\n            command: [\"sh\", \"-c\", {script:?}]\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_create_job_from_a_cron_job_runs_it() {
    let cluster = cluster();
    apply(
        &cluster,
        &cron_manifest("yearly", "0 0 1 1 *", "", "exit 0"),
    );
    cluster.ok(&["create", "job", "by-hand", "--from=cronjob/yearly"]);
    let job = wait_condition(&cluster, "by-hand", "Complete", DEADLINE * 2);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "yearly");
    // The CronJob counts it among its runs: a success it saw complete.
    let cron_jobs: Api<CronJob> = Api::default_namespaced(cluster.client().await);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let cron_job = cron_jobs.get("yearly").await.expect("get cronjob");
        let status = cron_job.status.unwrap_or_default();
        if status.last_successful_time.is_some() && status.active.is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cronjob never saw its job finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = eventually("SawCompletedJob", || {
        let events = events_of(&cluster, "CronJob", "yearly");
        events.contains("SawCompletedJob").then_some(events)
    });
    assert!(
        events.contains("Saw completed job: by-hand, condition: Complete"),
        "{events}"
    );
    // An unknown time zone is refused at the door, with upstream's message.
    let output = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        &cron_manifest("lost", "@hourly", "  timeZone: Mars/Olympus\n", "exit 0"),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown time zone Mars/Olympus"),
        "{stderr}"
    );
}

/// Jobs of `cron_job` by name: (name, scheduled-timestamp annotation, finished as).
async fn cron_runs(cluster: &Cluster, cron_job: &str) -> Vec<(String, String, Option<String>)> {
    let jobs: Api<Job> = Api::default_namespaced(cluster.client().await);
    let list = jobs.list(&ListParams::default()).await.expect("list jobs");
    list.items
        .into_iter()
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.name == cron_job)
        })
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .map(|j| {
            let name = j.metadata.name.clone().unwrap_or_default();
            let scheduled = j
                .metadata
                .annotations
                .clone()
                .unwrap_or_default()
                .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
                .cloned()
                .unwrap_or_default();
            let finished = j.status.and_then(|s| {
                s.conditions?
                    .into_iter()
                    .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
                    .map(|c| c.type_)
            });
            (name, scheduled, finished)
        })
        .collect()
}

/// This takes a few minutes of wall time: the schedule really is every minute.
#[tokio::test(flavor = "multi_thread")]
async fn a_cron_job_runs_every_minute_and_keeps_its_history() {
    let cluster = cluster();
    apply(
        &cluster,
        &cron_manifest(
            "tick",
            "*/1 * * * *",
            "  successfulJobsHistoryLimit: 1\n",
            "exit 0",
        ),
    );
    apply(
        &cluster,
        &cron_manifest(
            "flop",
            "*/1 * * * *",
            "  failedJobsHistoryLimit: 1\n",
            "exit 1",
        ),
    );
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut seen_failed: BTreeSet<String> = BTreeSet::new();
    // Three schedule times take at most four minutes after creation.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let runs = cron_runs(&cluster, "tick").await;
        for (name, scheduled, _) in &runs {
            // The name is the schedule time in minutes since the epoch, the annotation the time.
            let minutes: i64 = name.trim_start_matches("tick-").parse().expect("minutes");
            let at: jiff::Timestamp = scheduled.parse().expect("RFC 3339 annotation");
            assert_eq!(at.as_second(), minutes * 60, "{name} {scheduled}");
            seen.insert(name.clone());
        }
        let succeeded = runs
            .iter()
            .filter(|r| r.2.as_deref() == Some("Complete"))
            .count();
        assert!(
            succeeded <= 2,
            "history limit 1 (one more may await cleanup): {runs:?}"
        );
        let failed_runs = cron_runs(&cluster, "flop").await;
        seen_failed.extend(failed_runs.iter().map(|r| r.0.clone()));
        let failed = failed_runs
            .iter()
            .filter(|r| r.2.as_deref() == Some("Failed"))
            .count();
        assert!(failed <= 2, "failed history limit 1: {failed_runs:?}");
        if seen.len() >= 3
            && seen_failed.len() >= 3
            && succeeded <= 1
            && failed <= 1
            && runs.iter().all(|r| r.2.is_some())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runs seen: {seen:?} / {seen_failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Consecutive minutes: none skipped.
    let minutes: Vec<i64> = seen
        .iter()
        .map(|n| n.trim_start_matches("tick-").parse().unwrap())
        .collect();
    for pair in minutes.windows(2) {
        assert_eq!(pair[1] - pair[0], 1, "{minutes:?}");
    }
    let cron_job = json_of(&cluster, &["get", "cronjob", "tick", "-o", "json"]);
    let last: jiff::Timestamp = cron_job["status"]["lastScheduleTime"]
        .as_str()
        .expect("lastScheduleTime")
        .parse()
        .unwrap();
    assert!(last.as_second() / 60 >= *minutes.last().unwrap());
    assert!(cron_job["status"]["lastSuccessfulTime"].is_string());
    let events = events_of(&cluster, "CronJob", "tick");
    for reason in ["SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"] {
        assert!(events.contains(reason), "{reason} missing: {events}");
    }
}
