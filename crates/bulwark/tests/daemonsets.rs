//! The DaemonSet controller and pod GC end to end: a real `bulwark server` runs the controllers,
//! pods run on fake nodes (`bulwark agent --fake-nodes`), and the scheduler binds each daemon pod
//! to the node its `matchFields metadata.name` affinity pins it to. Driven with the real kubectl.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Cluster, DEADLINE, FakeNodes, all_pods, apply, eventually, start_fake_nodes};
use serde_json::Value;

const AGENT: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: agent:v1
"#;

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn live(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
}

/// The live pods labelled `app=<app>`, by the node they are bound to (unbound ones under "").
fn pods_by_node(port: u16, app: &str) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for pod in all_pods(port) {
        if pod["metadata"]["labels"]["app"] != app || !live(&pod) {
            continue;
        }
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        map.entry(node.to_string()).or_default().push(pod);
    }
    map
}

/// Waits until exactly `nodes` each run one ready `app` pod and no other node runs any.
fn wait_for_cover(cluster: &Cluster, app: &str, nodes: &[&str]) {
    let wanted: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    eventually(&format!("one ready {app} pod on each of {nodes:?}"), || {
        let by_node = pods_by_node(cluster.port, app);
        let covered: Vec<String> = by_node.keys().cloned().collect();
        let one_ready_each = by_node
            .values()
            .all(|pods| pods.len() == 1 && is_ready(&pods[0]));
        (covered == wanted && one_ready_each).then_some(())
    });
}

fn jsonpath(cluster: &Cluster, args: &[&str], path: &str) -> String {
    let mut all: Vec<&str> = vec!["get"];
    all.extend_from_slice(args);
    let expression = format!("jsonpath={path}");
    all.extend_from_slice(&["-o", &expression]);
    cluster.ok(&all)
}

#[test]
fn a_daemonset_covers_every_node_and_a_node_added_later_gets_its_pod() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 3, &[]);
    apply(&cluster, AGENT);
    wait_for_cover(
        &cluster,
        "agent",
        &["fake-node-1", "fake-node-2", "fake-node-3"],
    );
    let rollout = cluster.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    assert!(
        rollout.contains("daemon set \"agent\" successfully rolled out"),
        "{rollout}"
    );
    let pod = &pods_by_node(cluster.port, "agent")["fake-node-1"][0];
    assert_eq!(
        common::pinned_node(pod).as_deref(),
        Some("fake-node-1"),
        "daemon pods are pinned by node affinity: {pod}"
    );
    let tolerations = pod["spec"]["tolerations"].to_string();
    assert!(
        tolerations.contains("node.kubernetes.io/unreachable"),
        "{tolerations}"
    );
    assert!(
        tolerations.contains("node.kubernetes.io/unschedulable"),
        "{tolerations}"
    );

    let _late = FakeNodes::spawn_named(&cluster, 1, "late", &["--profile", "fast"]);
    cluster.wait_for_ready_nodes(4);
    wait_for_cover(
        &cluster,
        "agent",
        &["fake-node-1", "fake-node-2", "fake-node-3", "late-1"],
    );
    eventually("the status counts four nodes", || {
        let counts = jsonpath(
            &cluster,
            &["ds", "agent"],
            "{.status.desiredNumberScheduled} {.status.currentNumberScheduled} {.status.numberReady} {.status.numberAvailable}",
        );
        (counts == "4 4 4 4").then_some(())
    });
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=DaemonSet",
    ]);
    assert!(events.contains("SuccessfulCreate"), "{events}");
    assert!(events.contains("Created pod: agent-"), "{events}");
}

#[test]
fn pod_gc_removes_the_pods_of_a_deleted_node() {
    let cluster = Cluster::start_with(&["--pod-gc-orphan-quarantine-seconds", "2"]);
    let _nodes = start_fake_nodes(&cluster, 2, &[]);
    let late = FakeNodes::spawn_named(&cluster, 1, "doomed", &["--profile", "fast"]);
    cluster.wait_for_ready_nodes(3);
    apply(&cluster, AGENT);
    wait_for_cover(
        &cluster,
        "agent",
        &["doomed-1", "fake-node-1", "fake-node-2"],
    );
    // The node's agent dies and the Node is deleted: nothing will ever finish its pods.
    drop(late);
    cluster.ok(&["delete", "node", "doomed-1"]);
    eventually("pod GC deletes the pods bound to the deleted node", || {
        let on_doomed = all_pods(cluster.port)
            .into_iter()
            .any(|p| p["spec"]["nodeName"] == "doomed-1");
        (!on_doomed).then_some(())
    });
    wait_for_cover(&cluster, "agent", &["fake-node-1", "fake-node-2"]);
    let log = cluster.server_log();
    assert!(log.contains("pod GC deleted a pod"), "{log}");
}

#[test]
fn a_node_selector_daemonset_covers_only_matching_nodes_and_follows_label_changes() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 3, &[]);
    for node in ["fake-node-1", "fake-node-2"] {
        cluster.ok(&["label", "node", node, "role=edge"]);
    }
    let edge = AGENT
        .replace("name: agent\n", "name: edge\n")
        .replace("app: agent", "app: edge")
        .replace(
            "    spec:\n      containers:",
            "    spec:\n      nodeSelector: {role: edge}\n      containers:",
        );
    apply(&cluster, &edge);
    wait_for_cover(&cluster, "edge", &["fake-node-1", "fake-node-2"]);
    cluster.ok(&["label", "node", "fake-node-3", "role=edge"]);
    wait_for_cover(
        &cluster,
        "edge",
        &["fake-node-1", "fake-node-2", "fake-node-3"],
    );
    cluster.ok(&["label", "node", "fake-node-1", "role-"]);
    wait_for_cover(&cluster, "edge", &["fake-node-2", "fake-node-3"]);
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=edge",
    ]);
    assert!(events.contains("SuccessfulDelete"), "{events}");
    let desired = jsonpath(
        &cluster,
        &["ds", "edge"],
        "{.status.desiredNumberScheduled}",
    );
    assert_eq!(desired, "2");
}

/// Runs `kubectl rollout status` while watching the pods: returns the fewest nodes that had a
/// ready, live `agent` pod at any sample, and kubectl's output.
fn rollout_watching_ready_nodes(cluster: &Cluster) -> (usize, String) {
    let mut child = cluster
        .kubectl_command()
        .args(["rollout", "status", "daemonset/agent", "--timeout=120s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl rollout status");
    let started = Instant::now();
    let mut fewest = usize::MAX;
    while child.try_wait().expect("rollout status").is_none() {
        assert!(
            started.elapsed() < DEADLINE * 3,
            "rollout status never returned"
        );
        let ready_nodes = pods_by_node(cluster.port, "agent")
            .values()
            .filter(|pods| pods.iter().any(is_ready))
            .count();
        fewest = fewest.min(ready_nodes);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("rollout status output");
    assert!(
        output.status.success(),
        "rollout status failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (fewest, String::from_utf8_lossy(&output.stdout).into_owned())
}

fn images(cluster: &Cluster) -> Vec<String> {
    pods_by_node(cluster.port, "agent")
        .values()
        .flatten()
        .map(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_surging_rolling_update_keeps_every_node_served_and_undo_restores_the_template() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 3, &[]);
    apply(&cluster, AGENT);
    wait_for_cover(
        &cluster,
        "agent",
        &["fake-node-1", "fake-node-2", "fake-node-3"],
    );
    cluster.ok(&["set", "image", "daemonset/agent", "agent=agent:v2"]);
    let (fewest, output) = rollout_watching_ready_nodes(&cluster);
    assert!(output.contains("successfully rolled out"), "{output}");
    assert_eq!(fewest, 3, "maxUnavailable 0: every node kept a ready pod");
    wait_for_cover(
        &cluster,
        "agent",
        &["fake-node-1", "fake-node-2", "fake-node-3"],
    );
    assert_eq!(images(&cluster), vec!["agent:v2"; 3]);

    let history = cluster.ok(&["rollout", "history", "daemonset/agent"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    let revision_list = cluster.ok(&["get", "controllerrevisions", "--no-headers"]);
    assert!(
        revision_list.contains("daemonset.apps/agent"),
        "{revision_list}"
    );

    let undo = cluster.ok(&["rollout", "undo", "daemonset/agent"]);
    assert!(undo.contains("rolled back"), "{undo}");
    let (fewest, _) = rollout_watching_ready_nodes(&cluster);
    assert_eq!(fewest, 3);
    wait_for_cover(
        &cluster,
        "agent",
        &["fake-node-1", "fake-node-2", "fake-node-3"],
    );
    assert_eq!(images(&cluster), vec!["agent:v1"; 3]);
    eventually("the restored template is the newest revision", || {
        let history = cluster.ok(&["rollout", "history", "daemonset/agent"]);
        let revisions: Vec<String> = history
            .lines()
            .skip(2)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect();
        (revisions == ["2", "3"]).then_some(())
    });
    let v1 = cluster.ok(&["rollout", "history", "daemonset/agent", "--revision=3"]);
    assert!(v1.contains("agent:v1"), "{v1}");
}

#[test]
fn an_on_delete_daemonset_updates_a_pod_only_once_it_is_deleted() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 2, &[]);
    let on_delete = AGENT.replace(
        "    type: RollingUpdate\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n",
        "    type: OnDelete\n",
    );
    apply(&cluster, &on_delete);
    wait_for_cover(&cluster, "agent", &["fake-node-1", "fake-node-2"]);
    cluster.ok(&["set", "image", "daemonset/agent", "agent=agent:v2"]);
    eventually("the status sees the new template", || {
        let seen = jsonpath(
            &cluster,
            &["ds", "agent"],
            "{.metadata.generation} {.status.observedGeneration} {.status.updatedNumberScheduled}",
        );
        (seen == "2 2 0").then_some(())
    });
    assert_eq!(
        images(&cluster),
        vec!["agent:v1"; 2],
        "OnDelete leaves running pods alone"
    );
    let first = pods_by_node(cluster.port, "agent")["fake-node-1"][0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    cluster.ok(&["delete", "pod", &first, "--wait=false"]);
    eventually("the deleted pod comes back with the new template", || {
        let by_node = pods_by_node(cluster.port, "agent");
        let replaced = by_node.get("fake-node-1").is_some_and(|pods| {
            pods.len() == 1
                && is_ready(&pods[0])
                && pods[0]["spec"]["containers"][0]["image"] == "agent:v2"
        });
        let untouched = by_node.get("fake-node-2").is_some_and(|pods| {
            pods.len() == 1 && pods[0]["spec"]["containers"][0]["image"] == "agent:v1"
        });
        (replaced && untouched).then_some(())
    });
}
