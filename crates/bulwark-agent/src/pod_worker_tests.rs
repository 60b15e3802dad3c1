use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::runtime::{ContainerInfo, ContainerKey, ContainerState, Exit};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).expect("valid time")
}

fn pod(yaml: &str) -> Pod {
    let mut pod: Pod = serde_yaml::from_str(yaml).expect("pod yaml");
    pod.metadata.uid = Some("uid-1".to_string());
    pod.metadata.namespace = Some("default".to_string());
    pod
}

fn web_pod(policy: &str) -> Pod {
    pod(&format!(
        "metadata: {{name: web}}\nspec:\n  restartPolicy: {policy}\n  containers:\n  - name: web\n    image: bulwark/demo\n"
    ))
}

fn running(container: &str, attempt: u32, started: i64) -> ContainerInfo {
    ContainerInfo {
        key: ContainerKey::new("uid-1", container, attempt),
        pid: Some(100),
        started_at: at(started),
        state: ContainerState::Running,
        adopted: false,
    }
}

fn exited(container: &str, attempt: u32, started: i64, finished: i64, code: i32) -> ContainerInfo {
    ContainerInfo {
        state: ContainerState::Exited(Exit {
            exit_code: code,
            signal: None,
            oom_killed: false,
            finished_at: at(finished),
            code_known: true,
        }),
        ..running(container, attempt, started)
    }
}

fn sync(run: &mut PodRun, pod: &Pod, instances: &[ContainerInfo], now: i64) -> SyncOutcome {
    let ips = ["127.128.0.2".to_string()];
    let context = SyncContext {
        backoff: &BackoffPolicy::DEFAULT,
        pod_ips: &ips,
        host_ips: &ips,
        now: at(now),
    };
    run.sync(pod, instances, &context)
}

fn starts(outcome: &SyncOutcome) -> Vec<ContainerKey> {
    outcome
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Start { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn reasons(outcome: &SyncOutcome) -> Vec<&'static str> {
    outcome
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Event(event) => Some(event.reason),
            _ => None,
        })
        .collect()
}

fn waiting_reason(outcome: &SyncOutcome) -> Option<String> {
    match &outcome.observation.containers.first()?.state {
        ObservedState::Waiting { reason, .. } => Some(reason.clone()),
        _ => None,
    }
}

#[test]
fn a_new_pod_starts_its_container_once() {
    let pod = web_pod("Always");
    let mut run = PodRun::default();
    let first = sync(&mut run, &pod, &[], 0);
    assert_eq!(starts(&first), [ContainerKey::new("uid-1", "web", 0)]);
    let again = sync(&mut run, &pod, &[], 1);
    assert!(
        starts(&again).is_empty(),
        "a start not yet seen is not repeated"
    );
    let seen = sync(&mut run, &pod, &[running("web", 0, 1)], 2);
    assert!(starts(&seen).is_empty());
    assert!(matches!(
        seen.observation.containers[0].state,
        ObservedState::Running { .. }
    ));
}

#[test]
fn crashes_restart_then_back_off_with_doubling_delays() {
    let pod = web_pod("Always");
    let mut run = PodRun::default();
    sync(&mut run, &pod, &[], 0);
    let mut instances = vec![exited("web", 0, 0, 1, 1)];
    let restart = sync(&mut run, &pod, &instances, 1);
    assert_eq!(starts(&restart), [ContainerKey::new("uid-1", "web", 1)]);
    instances.push(exited("web", 1, 1, 2, 1));
    let waiting = sync(&mut run, &pod, &instances, 2);
    assert!(starts(&waiting).is_empty());
    assert_eq!(
        waiting_reason(&waiting).as_deref(),
        Some(CRASH_LOOP_BACK_OFF)
    );
    assert_eq!(reasons(&waiting), ["BackOff"]);
    assert_eq!(waiting.wake_at, Some(at(12)), "10 s after the exit");
    assert_eq!(waiting.observation.containers[0].restart_count, 1);
    assert!(waiting.observation.containers[0].last_termination.is_some());
    let later = sync(&mut run, &pod, &instances, 12);
    assert_eq!(starts(&later), [ContainerKey::new("uid-1", "web", 2)]);
    instances.push(exited("web", 2, 12, 13, 1));
    let doubled = sync(&mut run, &pod, &instances, 13);
    assert_eq!(doubled.wake_at, Some(at(33)), "20 s after the next exit");
}

#[test]
fn never_leaves_an_exited_container_terminated() {
    let pod = web_pod("Never");
    let mut run = PodRun::default();
    sync(&mut run, &pod, &[], 0);
    let done = sync(&mut run, &pod, &[exited("web", 0, 0, 5, 3)], 5);
    assert!(starts(&done).is_empty());
    match &done.observation.containers[0].state {
        ObservedState::Terminated(termination) => {
            assert_eq!(termination.exit_code, 3);
            assert_eq!(termination.reason, "Error");
        }
        other => panic!("expected terminated, got {other:?}"),
    }
}

#[test]
fn deletion_stops_live_containers_with_the_grace_period_then_finishes() {
    let mut pod = web_pod("Always");
    pod.metadata.deletion_timestamp = Some(Time(at(10)));
    pod.metadata.deletion_grace_period_seconds = Some(7);
    let mut run = PodRun::default();
    let stopping = sync(&mut run, &pod, &[running("web", 0, 0)], 10);
    assert!(stopping.actions.contains(&Action::Stop {
        key: ContainerKey::new("uid-1", "web", 0),
        grace: Duration::from_secs(7),
        pre_stop: true,
    }));
    assert!(!stopping.actions.contains(&Action::Finish));
    let again = sync(&mut run, &pod, &[running("web", 0, 0)], 11);
    assert!(again.actions.is_empty(), "the stop is asked for once");
    let gone = sync(&mut run, &pod, &[exited("web", 0, 0, 12, 143)], 12);
    assert_eq!(gone.actions, [Action::Finish]);
    assert!(starts(&gone).is_empty(), "nothing restarts while deleting");
}

#[test]
fn an_unknown_image_waits_with_err_image_pull_then_image_pull_back_off() {
    let pod = web_pod("Always");
    let mut run = PodRun::default();
    let first = sync(&mut run, &pod, &[], 0);
    let key = starts(&first).remove(0);
    let policy = BackoffPolicy::DEFAULT;
    let events = run.start_failed(&key, true, "no image".to_string(), at(0), &policy);
    assert_eq!(events.len(), 1);
    let failed = sync(&mut run, &pod, &[], 1);
    assert_eq!(waiting_reason(&failed).as_deref(), Some(ERR_IMAGE_PULL));
    assert!(starts(&failed).is_empty());
    assert_eq!(failed.wake_at, Some(at(10)));
    let retry = sync(&mut run, &pod, &[], 10);
    let key = starts(&retry).remove(0);
    run.start_failed(&key, true, "no image".to_string(), at(10), &policy);
    let backing_off = sync(&mut run, &pod, &[], 11);
    assert_eq!(
        waiting_reason(&backing_off).as_deref(),
        Some(IMAGE_PULL_BACK_OFF)
    );
    assert_eq!(backing_off.wake_at, Some(at(30)), "the pull delay doubles");
}

#[test]
fn a_failed_liveness_probe_kills_the_container_with_events() {
    let pod = pod(
        "metadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: bulwark/demo\n    livenessProbe:\n      httpGet: {path: /healthz/live, port: 8080}\n      periodSeconds: 1\n      failureThreshold: 1\n",
    );
    let mut run = PodRun::default();
    let instance = running("web", 0, 0);
    let outcome = sync(&mut run, &pod, std::slice::from_ref(&instance), 0);
    let probe = outcome
        .actions
        .iter()
        .find_map(|action| match action {
            Action::Probe { key, kind } => Some((key.clone(), *kind)),
            _ => None,
        })
        .expect("a liveness attempt is due at once");
    assert_eq!(probe.1, ProbeKind::Liveness);
    let failure = ProbeResult::Failure("HTTP probe failed with statuscode: 500".to_string());
    let actions = run.probe_result(&pod, &probe.0, probe.1, &failure, at(0));
    let events: Vec<_> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Event(event) => Some(event.reason),
            _ => None,
        })
        .collect();
    assert_eq!(events, ["Unhealthy", "Killing"]);
    assert!(
        actions
            .iter()
            .any(|action| matches!(action, Action::Stop { .. }))
    );
}

#[test]
fn init_containers_complete_before_app_containers_start() {
    let pod = pod(
        "metadata: {name: web}\nspec:\n  initContainers:\n  - {name: setup, image: busybox}\n  containers:\n  - {name: web, image: bulwark/demo}\n",
    );
    let mut run = PodRun::default();
    let first = sync(&mut run, &pod, &[], 0);
    assert_eq!(starts(&first), [ContainerKey::new("uid-1", "setup", 0)]);
    let running_init = sync(&mut run, &pod, &[running("setup", 0, 0)], 1);
    assert!(starts(&running_init).is_empty());
    let done = sync(&mut run, &pod, &[exited("setup", 0, 0, 2, 0)], 2);
    assert_eq!(starts(&done), [ContainerKey::new("uid-1", "web", 0)]);
}
