use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PodReadinessGate, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;
use proptest::prelude::*;

use super::*;
use crate::timing::add;

fn at(seconds: u64) -> Timestamp {
    add(Timestamp::UNIX_EPOCH, Duration::from_secs(seconds))
}

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("payment:v2.1".into()),
        ..Container::default()
    }
}

fn pod(policy: &str, init: &[&str], app: &[&str]) -> Pod {
    Pod {
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: (!init.is_empty())
                .then(|| init.iter().map(|name| container(name)).collect()),
            containers: app.iter().map(|name| container(name)).collect(),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn observed(name: &str, state: ObservedState) -> ObservedContainer {
    ObservedContainer {
        name: name.into(),
        state,
        last_termination: None,
        restart_count: 0,
        started: true,
        ready: true,
        container_id: Some(format!("bulwark://{name}")),
        image_id: None,
    }
}

fn running(name: &str) -> ObservedContainer {
    observed(name, ObservedState::Running { started_at: at(1) })
}

fn exited(name: &str, exit_code: i32) -> ObservedContainer {
    observed(name, ObservedState::Terminated(ended(exit_code)))
}

fn ended(exit_code: i32) -> Termination {
    Termination {
        exit_code,
        signal: None,
        reason: termination_reason(exit_code, false).into(),
        message: None,
        started_at: Some(at(1)),
        finished_at: at(2),
        container_id: None,
    }
}

fn observation(init: Vec<ObservedContainer>, app: Vec<ObservedContainer>) -> PodObservation {
    PodObservation {
        init_containers: init,
        containers: app,
        pod_ips: vec!["127.128.0.2".into()],
        host_ips: vec!["127.128.0.1".into()],
        sandbox_ready: true,
    }
}

fn condition<'a>(status: &'a PodStatus, kind: &str) -> &'a PodCondition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == kind)
        .unwrap_or_else(|| panic!("condition {kind}"))
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

#[test]
fn fresh_pod_is_pending_with_containers_creating() {
    let status = pod_status(
        &pod("Always", &[], &["app"]),
        &observation(vec![], vec![]),
        at(0),
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let app = &status.container_statuses.as_ref().expect("statuses")[0];
    assert_eq!(waiting_reason(app), Some("ContainerCreating"));
    assert!(!app.ready);
    assert_eq!(app.image, "payment:v2.1");
    assert_eq!(condition(&status, "Initialized").status, "True");
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("ContainersNotReady"))
    );
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [app]")
    );
    assert_eq!(condition(&status, "PodScheduled").status, "True");
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(status.pod_ip.as_deref(), Some("127.128.0.2"));
    assert_eq!(status.host_ip.as_deref(), Some("127.128.0.1"));
    assert_eq!(status.start_time, Some(Time(at(0))));
    assert_eq!(status.init_container_statuses, None);
}

#[test]
fn running_ready_pod_keeps_transition_times_until_something_changes() {
    let mut pod = pod("Always", &[], &["app"]);
    let first = pod_status(&pod, &observation(vec![], vec![running("app")]), at(10));
    assert_eq!(first.phase.as_deref(), Some("Running"));
    assert_eq!(condition(&first, "Ready").status, "True");
    pod.status = Some(first.clone());

    let second = pod_status(&pod, &observation(vec![], vec![running("app")]), at(20));
    assert_eq!(
        second.conditions, first.conditions,
        "nothing changed, times kept"
    );
    assert_eq!(second.start_time, Some(Time(at(10))));

    let mut unready = running("app");
    unready.ready = false;
    pod.status = Some(second);
    let third = pod_status(&pod, &observation(vec![], vec![unready]), at(30));
    assert_eq!(
        condition(&third, "Ready").last_transition_time,
        Some(Time(at(30)))
    );
    assert_eq!(
        condition(&third, "Initialized").last_transition_time,
        Some(Time(at(10)))
    );
    let app = &third.container_statuses.as_ref().expect("statuses")[0];
    assert_eq!((app.ready, app.started), (false, Some(true)));
}

#[test]
fn crash_looping_container_shows_back_off_last_state_and_restarts() {
    let mut looping = observed(
        "app",
        ObservedState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some("back-off 20s restarting failed container=app pod=p_ns(u)".into()),
        },
    );
    looping.last_termination = Some(ended(1));
    looping.restart_count = 2;
    let status = pod_status(
        &pod("Always", &[], &["app"]),
        &observation(vec![], vec![looping]),
        at(5),
    );
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let app = &status.container_statuses.as_ref().expect("statuses")[0];
    assert_eq!(waiting_reason(app), Some("CrashLoopBackOff"));
    assert_eq!(app.restart_count, 2);
    let last = app
        .last_state
        .as_ref()
        .and_then(|last| last.terminated.as_ref())
        .expect("lastState");
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(app.started, Some(false));
}

#[test]
fn exited_containers_end_the_pod_per_restart_policy() {
    let cases = [
        ("Always", 0, "Running"),
        ("Always", 1, "Running"),
        ("OnFailure", 0, "Succeeded"),
        ("OnFailure", 1, "Running"),
        ("Never", 0, "Succeeded"),
        ("Never", 1, "Failed"),
    ];
    for (policy, code, phase) in cases {
        let status = pod_status(
            &pod(policy, &[], &["app"]),
            &observation(vec![], vec![exited("app", code)]),
            at(0),
        );
        assert_eq!(status.phase.as_deref(), Some(phase), "{policy} exit {code}");
    }
    let done = pod_status(
        &pod("Never", &[], &["app"]),
        &observation(vec![], vec![exited("app", 0)]),
        at(0),
    );
    assert_eq!(
        condition(&done, "Ready").reason.as_deref(),
        Some("PodCompleted")
    );
}

#[test]
fn init_containers_hold_the_pod_pending_and_fail_it_under_never() {
    let pod_spec = pod("Never", &["migrate", "seed"], &["app"]);
    let status = pod_status(
        &pod_spec,
        &observation(vec![running("migrate")], vec![]),
        at(0),
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let initialized = condition(&status, "Initialized");
    assert_eq!(
        initialized.reason.as_deref(),
        Some("ContainersNotInitialized")
    );
    assert_eq!(
        initialized.message.as_deref(),
        Some("containers with incomplete status: [migrate seed]")
    );
    let app = &status.container_statuses.as_ref().expect("statuses")[0];
    assert_eq!(waiting_reason(app), Some("PodInitializing"));
    let init = status
        .init_container_statuses
        .as_ref()
        .expect("init statuses");
    assert_eq!(waiting_reason(&init[1]), Some("PodInitializing"));

    let failed = pod_status(
        &pod_spec,
        &observation(vec![exited("migrate", 2)], vec![]),
        at(0),
    );
    assert_eq!(failed.phase.as_deref(), Some("Failed"));

    let retried = pod("OnFailure", &["migrate"], &["app"]);
    let pending = pod_status(
        &retried,
        &observation(vec![exited("migrate", 2)], vec![]),
        at(0),
    );
    assert_eq!(pending.phase.as_deref(), Some("Pending"));

    let done = observation(
        vec![exited("migrate", 0), exited("seed", 0)],
        vec![running("app")],
    );
    let status = pod_status(&pod_spec, &done, at(0));
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(condition(&status, "Initialized").status, "True");
}

#[test]
fn readiness_gates_hold_ready_until_their_conditions_are_true() {
    let mut pod = pod("Always", &[], &["app"]);
    if let Some(spec) = pod.spec.as_mut() {
        spec.readiness_gates = Some(vec![PodReadinessGate {
            condition_type: "example.com/lb".into(),
        }]);
    }
    let status = pod_status(&pod, &observation(vec![], vec![running("app")]), at(0));
    let ready = condition(&status, "Ready");
    assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("corresponding condition of pod readiness gate \"example.com/lb\" does not exist.")
    );
    assert_eq!(condition(&status, "ContainersReady").status, "True");
    let mut with_gate = status.clone();
    with_gate
        .conditions
        .get_or_insert_with(Vec::new)
        .push(PodCondition {
            type_: "example.com/lb".into(),
            status: "True".into(),
            ..PodCondition::default()
        });
    pod.status = Some(with_gate);
    let status = pod_status(&pod, &observation(vec![], vec![running("app")]), at(1));
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(
        condition(&status, "example.com/lb").status,
        "True",
        "foreign conditions kept"
    );
}

#[test]
fn termination_reasons_name_oom_completion_and_errors() {
    assert_eq!(termination_reason(137, true), "OOMKilled");
    assert_eq!(termination_reason(0, false), "Completed");
    assert_eq!(termination_reason(143, false), "Error");
}

fn with_resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Container {
    let list = |items: &[(&str, &str)]| -> Option<BTreeMap<String, KubeQuantity>> {
        (!items.is_empty()).then(|| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), KubeQuantity(v.to_string())))
                .collect()
        })
    };
    Container {
        resources: Some(ResourceRequirements {
            limits: list(limits),
            requests: list(requests),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

#[test]
fn qos_classes_follow_upstream() {
    let both = [("cpu", "500m"), ("memory", "256Mi")];
    let guaranteed = with_resources(&both, &[("cpu", "0.5"), ("memory", "268435456")]);
    assert_eq!(qos_class([&guaranteed]), "Guaranteed");
    assert_eq!(qos_class([&guaranteed, &guaranteed]), "Guaranteed");
    assert_eq!(
        qos_class([&with_resources(
            &both,
            &[("cpu", "250m"), ("memory", "256Mi")]
        )]),
        "Burstable"
    );
    assert_eq!(
        qos_class([&with_resources(&[], &[("cpu", "100m")])]),
        "Burstable"
    );
    assert_eq!(qos_class([&guaranteed, &Container::default()]), "Burstable");
    assert_eq!(
        qos_class([&with_resources(&[("cpu", "0")], &[("storage", "1Gi")])]),
        "BestEffort"
    );
    assert_eq!(qos_class([&Container::default()]), "BestEffort");
}

fn states() -> impl Strategy<Value = ObservedState> {
    prop_oneof![
        Just(ObservedState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: None
        }),
        (0u64..100).prop_map(|s| ObservedState::Running { started_at: at(s) }),
        (-2i32..3).prop_map(|code| ObservedState::Terminated(ended(code))),
    ]
}

proptest! {
    #[test]
    fn any_observation_gives_a_consistent_status(
        policy in prop_oneof![Just("Always"), Just("OnFailure"), Just("Never"), Just("Bogus")],
        init in proptest::collection::vec((states(), any::<bool>(), any::<bool>()), 0..3),
        app in proptest::collection::vec((states(), any::<bool>(), any::<bool>(), any::<bool>()), 1..3),
    ) {
        let init_names: Vec<String> = (0..init.len()).map(|i| format!("init-{i}")).collect();
        let app_names: Vec<String> = (0..app.len()).map(|i| format!("app-{i}")).collect();
        let init_refs: Vec<&str> = init_names.iter().map(String::as_str).collect();
        let app_refs: Vec<&str> = app_names.iter().map(String::as_str).collect();
        let pod = pod(policy, &init_refs, &app_refs);
        let to_observed = |name: &String, state: ObservedState, started: bool, ready: bool| ObservedContainer {
            started,
            ready,
            ..observed(name, state)
        };
        let init_observed = init.into_iter().zip(&init_names).map(|((state, started, ready), name)| to_observed(name, state, started, ready)).collect();
        let app_observed = app
            .into_iter()
            .zip(&app_names)
            .filter(|((_, _, _, present), _)| *present)
            .map(|((state, started, ready, _), name)| to_observed(name, state, started, ready))
            .collect();
        let status = pod_status(&pod, &observation(init_observed, app_observed), at(50));
        let phase = status.phase.clone().unwrap_or_default();
        prop_assert!(["Pending", "Running", "Succeeded", "Failed"].contains(&phase.as_str()));
        for container in status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten()) {
            let running = container.state.as_ref().is_some_and(|state| state.running.is_some());
            prop_assert!(!container.ready || running, "only running containers are ready");
        }
        if condition(&status, "Ready").status == "True" {
            prop_assert_eq!(condition(&status, "ContainersReady").status.as_str(), "True");
            prop_assert_eq!(phase.as_str(), "Running");
        }
    }
}
