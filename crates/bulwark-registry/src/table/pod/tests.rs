use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
}

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "metadata": {"name": "web-0", "creationTimestamp": "2025-06-01T11:55:00Z"},
        "spec": spec,
        "status": status,
    })
}

fn one_container() -> Value {
    json!({"containers": [{"name": "app", "image": "bulwark/demo"}]})
}

fn status_cell(pod: &Value) -> String {
    cells(pod, now())[2]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn status_follows_upstream_rules() {
    let running = json!({"running": {"startedAt": "2025-06-01T11:56:00Z"}});
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "pending phase",
            one_container(),
            json!({"phase": "Pending"}),
            "Pending",
        ),
        (
            "status reason wins over phase",
            one_container(),
            json!({"phase": "Failed", "reason": "Evicted"}),
            "Evicted",
        ),
        (
            "running and ready",
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "state": running}]}),
            "Running",
        ),
        (
            "container creating",
            one_container(),
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
            "ContainerCreating",
        ),
        (
            "crash loop",
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            "CrashLoopBackOff",
        ),
        (
            "image pull error",
            one_container(),
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
            "ErrImagePull",
        ),
        (
            "image pull backoff",
            one_container(),
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
            "ImagePullBackOff",
        ),
        (
            "completed",
            one_container(),
            json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
            "Completed",
        ),
        (
            "error",
            one_container(),
            json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
            "Error",
        ),
        (
            "oom killed",
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
            "OOMKilled",
        ),
        (
            "signal without reason",
            one_container(),
            json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"signal": 9, "exitCode": 137}}}]}),
            "Signal:9",
        ),
        (
            "exit code without reason",
            one_container(),
            json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 2}}}]}),
            "ExitCode:2",
        ),
        (
            "scheduling gated",
            one_container(),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            "SchedulingGated",
        ),
    ];
    for (case, spec, status, expected) in cases {
        assert_eq!(status_cell(&pod(spec, status)), expected, "{case}");
    }
}

#[test]
fn completed_container_beside_a_running_one_reads_running_or_not_ready() {
    let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let statuses = json!([
        {"name": "a", "ready": false, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
        {"name": "b", "ready": true, "state": {"running": {}}}
    ]);
    let ready = json!({"phase": "Running", "containerStatuses": statuses, "conditions": [{"type": "Ready", "status": "True"}]});
    assert_eq!(status_cell(&pod(spec.clone(), ready)), "Running");
    let not_ready = json!({"phase": "Running", "containerStatuses": statuses, "conditions": [{"type": "Ready", "status": "False"}]});
    assert_eq!(status_cell(&pod(spec, not_ready)), "NotReady");
}

#[test]
fn init_container_states() {
    let spec = json!({"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]});
    let init = |state: Value| json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": state}]});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "not started",
            init(json!({"waiting": {"reason": "PodInitializing"}})),
            "Init:0/1",
        ),
        ("running", init(json!({"running": {}})), "Init:0/1"),
        (
            "failed with reason",
            init(json!({"terminated": {"reason": "Error", "exitCode": 1}})),
            "Init:Error",
        ),
        (
            "failed by signal",
            init(json!({"terminated": {"signal": 15, "exitCode": 143}})),
            "Init:Signal:15",
        ),
        (
            "failed by exit code",
            init(json!({"terminated": {"exitCode": 3}})),
            "Init:ExitCode:3",
        ),
        (
            "crash looping",
            init(json!({"waiting": {"reason": "CrashLoopBackOff"}})),
            "Init:CrashLoopBackOff",
        ),
    ];
    for (case, status, expected) in cases {
        assert_eq!(status_cell(&pod(spec.clone(), status)), expected, "{case}");
    }
    let done = json!({
        "phase": "Pending",
        "initContainerStatuses": [{"name": "init", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
        "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}]
    });
    assert_eq!(status_cell(&pod(spec, done)), "PodInitializing");
}

#[test]
fn second_of_two_init_containers_reads_one_of_two() {
    let spec =
        json!({"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]});
    let status = json!({"phase": "Pending", "initContainerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "b", "state": {"running": {}}}
    ]});
    assert_eq!(status_cell(&pod(spec, status)), "Init:1/2");
}

#[test]
fn started_sidecars_count_as_containers_and_do_not_block_initialization() {
    let spec = json!({
        "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}]
    });
    let status = json!({
        "phase": "Running",
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 2,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:58:00Z"}}}],
        "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]
    });
    let row = cells(&pod(spec, status), now());
    assert_eq!(row[1], "2/2");
    assert_eq!(row[2], "Running");
    assert_eq!(row[3], "2 (2m ago)");
}

#[test]
fn restarts_show_the_latest_termination() {
    let status = json!({"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": true, "restartCount": 3, "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:58:00Z"}}
    }]});
    let row = cells(&pod(one_container(), status), now());
    assert_eq!(row[1], "1/1");
    assert_eq!(row[3], "3 (2m ago)");
    let without_time =
        json!({"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 3}]});
    assert_eq!(cells(&pod(one_container(), without_time), now())[3], "3");
}

#[test]
fn deletion_reads_terminating_or_unknown_for_lost_nodes() {
    let mut deleting = pod(one_container(), json!({"phase": "Running"}));
    deleting["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
    assert_eq!(status_cell(&deleting), "Terminating");
    deleting["status"]["reason"] = json!("NodeLost");
    assert_eq!(status_cell(&deleting), "Unknown");
    let mut finished = pod(one_container(), json!({"phase": "Succeeded"}));
    finished["metadata"]["deletionTimestamp"] = json!("2025-06-01T11:59:00Z");
    assert_eq!(status_cell(&finished), "Succeeded");
}

#[test]
fn wide_cells_and_placeholders() {
    let spec = json!({"containers": [{"name": "app"}], "nodeName": "n1",
        "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]});
    let status = json!({"phase": "Running", "podIPs": [{"ip": "127.128.0.5"}],
        "conditions": [{"type": "example.com/lb", "status": "True"}]});
    let row = cells(&pod(spec, status), now());
    assert_eq!(row[4], "5m");
    assert_eq!(
        &row[5..],
        &[
            json!("127.128.0.5"),
            json!("n1"),
            json!("<none>"),
            json!("1/2")
        ]
    );
    let bare = cells(&json!({}), now());
    assert_eq!(
        bare,
        vec![
            json!(""),
            json!("0/0"),
            json!(""),
            json!("0"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn finished_pods_carry_a_completed_row_condition() {
    let succeeded = pod(one_container(), json!({"phase": "Succeeded"}));
    assert_eq!(row_conditions(&succeeded)[0]["reason"], "Succeeded");
    assert!(row_conditions(&pod(one_container(), json!({"phase": "Running"}))).is_empty());
}
