//! The Deployment controller end to end: a real `bulwark server` runs the controllers, pods run on
//! fake nodes (`bulwark agent --fake-nodes`) or, where an image must fail to pull, on a real
//! process node (`bulwark up`); the control plane's scheduler places them. Everything is driven
//! with the real kubectl.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    Cluster, DEADLINE, FakeNodes, apply, eventually, http_request, is_ready, name, pods_list,
    start_fake_nodes, terminating,
};
use serde_json::Value;

fn json_of(cluster: &Cluster, args: &[&str]) -> Value {
    serde_json::from_str(&cluster.ok(args)).expect("kubectl -o json output")
}

/// Ready, not terminating pods matching `selector`.
fn ready_pods(port: u16, selector: &str) -> Vec<Value> {
    pods_list(port, selector)
        .into_iter()
        .filter(|p| is_ready(p) && !terminating(p))
        .collect()
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:v1
"#;

/// A cluster (with its scheduler) and three Ready fake nodes, one per zone (the seed's
/// payment-service spreads over zones and cannot use a node without one).
fn cluster_with_fake_nodes() -> (Cluster, FakeNodes) {
    let cluster = Cluster::start();
    let nodes = start_fake_nodes(&cluster, 3, &[]);
    (cluster, nodes)
}

fn wait_ready(cluster: &Cluster, selector: &str, count: usize) -> Vec<String> {
    eventually(&format!("{count} ready pods {selector}"), || {
        let pods = ready_pods(cluster.port, selector);
        let all_live = pods_list(cluster.port, selector)
            .iter()
            .filter(|p| !terminating(p))
            .count();
        (pods.len() == count && all_live == count).then(|| pods.iter().map(name).collect())
    })
}

fn deployment(cluster: &Cluster, name: &str) -> Value {
    json_of(cluster, &["get", "deployment", name, "-o", "json"])
}

fn condition(d: &Value, kind: &str) -> (String, String) {
    let found = d["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .cloned()
        .unwrap_or(Value::Null);
    (
        found["status"].as_str().unwrap_or_default().to_string(),
        found["reason"].as_str().unwrap_or_default().to_string(),
    )
}

fn rollout_status(cluster: &Cluster, name: &str) {
    cluster.ok(&[
        "rollout",
        "status",
        &format!("deployment/{name}"),
        "--timeout=60s",
    ]);
}

#[test]
fn a_deleted_deployment_pod_is_replaced() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    let pods = wait_ready(&cluster, "app=web", 3);
    let rs = json_of(&cluster, &["get", "rs", "-l", "app=web", "-o", "json"]);
    let items = rs["items"].as_array().expect("replicasets");
    assert_eq!(items.len(), 1);
    let hash = items[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("pod-template-hash label");
    assert_eq!(items[0]["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        items[0]["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    assert_eq!(
        items[0]["metadata"]["ownerReferences"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        items[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    cluster.ok(&["delete", "pod", &pods[0], "--wait=false"]);
    let replaced = wait_ready(&cluster, "app=web", 3);
    assert!(!replaced.contains(&pods[0]), "{replaced:?}");
    eventually("the deployment's status", || {
        let d = deployment(&cluster, "web");
        let status = &d["status"];
        (status["availableReplicas"] == 3
            && status["readyReplicas"] == 3
            && status["updatedReplicas"] == 3
            && status["replicas"] == 3
            && status["observedGeneration"] == 1
            && condition(&d, "Available") == ("True".into(), "MinimumReplicasAvailable".into())
            && condition(&d, "Progressing") == ("True".into(), "NewReplicaSetAvailable".into()))
            .then_some(())
    });
}

const SLEEPER: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
spec:
  replicas: 1
  selector:
    matchLabels: {app: sleeper}
  template:
    metadata:
      labels: {app: sleeper}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "while true; do sleep 0.2; done"]
"#;

/// The one live pod of `app=sleeper` on process node-1: (name, uid, restart count) once running.
fn sleeper(cluster: &Cluster) -> Option<(String, String, i64)> {
    let pods: Vec<Value> = pods_list(cluster.port, "app=sleeper")
        .into_iter()
        .filter(|pod| !terminating(pod))
        .collect();
    let [pod] = pods.as_slice() else {
        return None;
    };
    let status = &pod["status"]["containerStatuses"][0];
    status["state"]["running"].is_object().then(|| {
        (
            name(pod),
            pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            status["restartCount"].as_i64().unwrap_or(-1),
        )
    })
}

#[test]
fn a_killed_process_is_restarted_by_the_agent_and_a_deleted_pod_replaced_by_the_replicaset() {
    let cluster = Cluster::up(1, &[]);
    apply(&cluster, SLEEPER);
    let (first, uid, _) = eventually("the sleeper running", || sleeper(&cluster));
    for kill in 1..=3 {
        let pid = eventually("its process", || {
            common::container_pid(&cluster, "node-1", &uid)
        });
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill -KILL {pid}");
        // The agent restarts the container in place: same pod, one more restart.
        eventually(&format!("restart {kill}"), || {
            sleeper(&cluster).filter(|(pod, _, restarts)| *pod == first && *restarts == kill)
        });
    }
    cluster.ok(&["delete", "pod", &first, "--wait=false"]);
    let (second, _, restarts) = eventually("a replacement pod running", || {
        sleeper(&cluster).filter(|(pod, _, _)| *pod != first)
    });
    assert!(second.starts_with("sleeper-"), "{second}");
    assert_eq!(restarts, 0);
}

#[test]
fn kubectl_scale_of_a_deployment_converges_up_and_down() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    wait_ready(&cluster, "app=web", 3);
    cluster.ok(&["scale", "deployment", "web", "--replicas=7"]);
    wait_ready(&cluster, "app=web", 7);
    cluster.ok(&["scale", "deployment", "web", "--replicas=2"]);
    wait_ready(&cluster, "app=web", 2);
    eventually("status follows the scale", || {
        let d = deployment(&cluster, "web");
        (d["status"]["availableReplicas"] == 2 && d["status"]["replicas"] == 2).then_some(())
    });
    let sets = json_of(&cluster, &["get", "rs", "-l", "app=web", "-o", "json"]);
    assert_eq!(
        sets["items"].as_array().map(Vec::len),
        Some(1),
        "a scale is no rollout"
    );
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
    ]);
    assert!(events.contains("ScalingReplicaSet"), "{events}");
    assert!(events.contains("Scaled down replica set web-"), "{events}");
}

#[test]
fn a_rolling_update_of_payment_service_with_max_unavailable_zero_keeps_every_replica_ready() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    let seed = common::seed_manifest("payment-service.yaml");
    cluster.ok(&["apply", "-f", seed.to_str().expect("path")]);
    let declared = 6;
    wait_ready(&cluster, "app=payment", declared);
    rollout_status(&cluster, "payment-service");
    cluster.ok(&[
        "patch",
        "deployment",
        "payment-service",
        "--type=merge",
        "-p",
        r#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}"#,
    ]);
    let port = cluster.port;
    let watching = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&watching);
    // Continuously, from the API, while the rollout runs: the lowest ready count and the most pods.
    let watcher = std::thread::spawn(move || {
        let (mut lowest, mut most, mut samples) = (usize::MAX, 0, 0);
        let started = Instant::now();
        while flag.load(Ordering::Relaxed) && started.elapsed() < DEADLINE * 3 {
            let pods = pods_list(port, "app=payment");
            if !pods.is_empty() {
                let ready = pods
                    .iter()
                    .filter(|p| is_ready(p) && !terminating(p))
                    .count();
                let live = pods.iter().filter(|p| !terminating(p)).count();
                lowest = lowest.min(ready);
                most = most.max(live);
                samples += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (lowest, most, samples)
    });
    cluster.ok(&[
        "set",
        "image",
        "deployment/payment-service",
        "payment=payment:v2.2",
    ]);
    rollout_status(&cluster, "payment-service");
    watching.store(false, Ordering::Relaxed);
    let (lowest, most, samples) = watcher.join().expect("watcher");
    assert!(samples > 10, "the rollout was watched: {samples} samples");
    assert!(
        lowest >= declared,
        "ready pods dropped to {lowest} < {declared}"
    );
    assert!(
        most <= declared + 1,
        "{most} live pods > replicas + maxSurge"
    );
    let pods = pods_list(port, "app=payment");
    let images: Vec<&str> = pods
        .iter()
        .filter(|p| !terminating(p))
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str())
        .collect();
    assert_eq!(images, vec!["payment:v2.2"; declared], "all pods updated");
    let sets = json_of(&cluster, &["get", "rs", "-l", "app=payment", "-o", "json"]);
    let mut revisions: Vec<(String, i64)> = sets["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rs| {
            let revision = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            (
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                revision,
            )
        })
        .collect();
    revisions.sort();
    assert_eq!(
        revisions,
        vec![
            ("payment:v2.1".to_string(), 1),
            ("payment:v2.2".to_string(), 2)
        ]
    );
}

fn template_image(cluster: &Cluster, name: &str) -> String {
    deployment(cluster, name)["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn rollout_history_undo_pause_resume_and_restart() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    rollout_status(&cluster, "web");
    cluster.ok(&["set", "image", "deployment/web", "web=web:v2"]);
    rollout_status(&cluster, "web");
    cluster.ok(&[
        "annotate",
        "deployment/web",
        "kubernetes.io/change-cause=to v3",
    ]);
    cluster.ok(&["set", "image", "deployment/web", "web=web:v3"]);
    rollout_status(&cluster, "web");
    let history = cluster.ok(&["rollout", "history", "deployment/web"]);
    for revision in ["1 ", "2 ", "3 "] {
        assert!(
            history.lines().any(|l| l.starts_with(revision)),
            "revision {revision}in {history}"
        );
    }
    assert!(history.contains("to v3"), "{history}");
    let second = cluster.ok(&["rollout", "history", "deployment/web", "--revision=2"]);
    assert!(second.contains("web:v2"), "{second}");

    cluster.ok(&["rollout", "undo", "deployment/web"]);
    rollout_status(&cluster, "web");
    assert_eq!(template_image(&cluster, "web"), "web:v2");
    let pods = ready_pods(cluster.port, "app=web");
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "web:v2")
    );
    let history = cluster.ok(&["rollout", "history", "deployment/web"]);
    assert!(
        history.lines().any(|l| l.starts_with("4 "))
            && !history.lines().any(|l| l.starts_with("2 ")),
        "the undone-to revision becomes 4: {history}"
    );
    assert_eq!(
        deployment(&cluster, "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "4"
    );

    cluster.ok(&["rollout", "pause", "deployment/web"]);
    eventually("Progressing reports the pause", || {
        (condition(&deployment(&cluster, "web"), "Progressing").1 == "DeploymentPaused")
            .then_some(())
    });
    cluster.ok(&["set", "image", "deployment/web", "web=web:v5"]);
    // Paused: the new template must not roll out. A bounded negative check; the controller
    // acts within milliseconds when it acts at all.
    for _ in 0..15 {
        let sets = json_of(&cluster, &["get", "rs", "-l", "app=web", "-o", "json"]);
        let v5 = sets["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v5");
        assert!(!v5, "a paused deployment created a new ReplicaSet");
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.ok(&["rollout", "resume", "deployment/web"]);
    rollout_status(&cluster, "web");
    let pods = wait_ready(&cluster, "app=web", 3);
    assert_eq!(pods.len(), 3);
    assert!(
        ready_pods(cluster.port, "app=web")
            .iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "web:v5")
    );

    let before: Vec<String> = ready_pods(cluster.port, "app=web")
        .iter()
        .map(name)
        .collect();
    cluster.ok(&["rollout", "restart", "deployment/web"]);
    rollout_status(&cluster, "web");
    let after = wait_ready(&cluster, "app=web", 3);
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "every pod replaced: {before:?} -> {after:?}"
    );
}

#[test]
fn revision_history_limit_keeps_only_that_many_old_replicasets() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(
        &cluster,
        &WEB.replace("replicas: 3", "replicas: 1\n  revisionHistoryLimit: 1"),
    );
    rollout_status(&cluster, "web");
    for version in ["v2", "v3", "v4"] {
        cluster.ok(&[
            "set",
            "image",
            "deployment/web",
            &format!("web=web:{version}"),
        ]);
        rollout_status(&cluster, "web");
    }
    let images = eventually("old ReplicaSets cleaned up", || {
        let sets = json_of(&cluster, &["get", "rs", "-l", "app=web", "-o", "json"]);
        let mut images: Vec<String> = sets["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|rs| {
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        images.sort();
        (images.len() == 2).then_some(images)
    });
    assert_eq!(images, ["web:v3", "web:v4"]);
}

#[test]
fn a_rollout_whose_pods_never_get_ready_stops_at_its_progress_deadline_while_old_pods_serve() {
    // A real process node: an unknown image waits in ImagePullBackOff and is never ready.
    let cluster = Cluster::up(1, &[]);
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment
spec:
  replicas: 2
  progressDeadlineSeconds: 5
  selector:
    matchLabels: {app: payment}
  template:
    metadata:
      labels: {app: payment}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: payment
        image: payment:v2.1
"#;
    apply(&cluster, manifest);
    rollout_status(&cluster, "payment");
    let old = wait_ready(&cluster, "app=payment", 2);
    cluster.ok(&[
        "set",
        "image",
        "deployment/payment",
        "payment=no-such-image:v9",
    ]);
    let output = cluster.kubectl(&["rollout", "status", "deployment/payment", "--timeout=60s"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "rollout status must fail");
    assert!(said.contains("exceeded its progress deadline"), "{said}");
    let d = deployment(&cluster, "payment");
    assert_eq!(
        condition(&d, "Progressing"),
        ("False".into(), "ProgressDeadlineExceeded".into())
    );
    assert_eq!(condition(&d, "Available").0, "True");
    // The old pods keep serving: the same ones, still ready.
    let still: Vec<String> = ready_pods(cluster.port, "app=payment")
        .iter()
        .filter(|p| p["spec"]["containers"][0]["image"] == "payment:v2.1")
        .map(name)
        .collect();
    let mut old_sorted = old.clone();
    old_sorted.sort();
    let mut still_sorted = still.clone();
    still_sorted.sort();
    assert_eq!(
        still_sorted, old_sorted,
        "maxUnavailable rounds down to 0: no old pod goes"
    );
    let unavailable = d["status"]["unavailableReplicas"].as_i64().unwrap_or(0);
    assert!(unavailable >= 1, "the new pod is unavailable: {d}");
}

fn count(cluster: &Cluster, kind: &str, selector: &str) -> usize {
    json_of(cluster, &["get", kind, "-l", selector, "-o", "json"])["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn deleting_a_deployment_deletes_its_replicasets_and_pods() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    wait_ready(&cluster, "app=web", 3);
    cluster.ok(&["delete", "deployment", "web"]);
    eventually("the ReplicaSet and pods collected", || {
        (count(&cluster, "rs", "app=web") == 0 && count(&cluster, "pods", "app=web") == 0)
            .then_some(())
    });
}

#[test]
fn cascade_orphan_keeps_replicasets_and_pods_without_the_owner_reference() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    let pods = wait_ready(&cluster, "app=web", 3);
    cluster.ok(&["delete", "deployment", "web", "--cascade=orphan"]);
    eventually("the deployment gone", || {
        (!cluster
            .kubectl(&["get", "deployment", "web"])
            .status
            .success())
        .then_some(())
    });
    let sets = eventually("the ReplicaSet released", || {
        let sets = json_of(&cluster, &["get", "rs", "-l", "app=web", "-o", "json"]);
        let released = sets["items"].as_array().is_some_and(|items| {
            items.len() == 1
                && items[0]["metadata"]["ownerReferences"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
        });
        released.then_some(sets)
    });
    assert!(sets["items"][0]["metadata"]["deletionTimestamp"].is_null());
    // The ReplicaSet still owns and keeps its pods: the same three, still ready.
    let mut still = wait_ready(&cluster, "app=web", 3);
    let mut before = pods.clone();
    still.sort();
    before.sort();
    assert_eq!(still, before);
}

#[test]
fn foreground_deletion_holds_the_deployment_until_its_dependents_are_gone() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    wait_ready(&cluster, "app=web", 3);
    let (code, body) = http_request(
        cluster.port,
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/web",
        &[("Content-Type", "application/json")],
        r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}"#,
    )
    .expect("delete request");
    assert!(code == 200 || code == 202, "{code} {body}");
    let held: Value = serde_json::from_str(&body).expect("the deployment, terminating");
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    assert_eq!(
        held["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    eventually("dependents and then the deployment gone", || {
        let gone = !cluster
            .kubectl(&["get", "deployment", "web"])
            .status
            .success();
        if !gone {
            return None;
        }
        assert_eq!(
            count(&cluster, "rs", "app=web"),
            0,
            "the owner went before its ReplicaSet"
        );
        assert_eq!(
            count(&cluster, "pods", "app=web"),
            0,
            "the owner went before its pods"
        );
        Some(())
    });
}

#[test]
fn kubectl_delete_cascade_foreground_removes_everything() {
    let (cluster, _nodes) = cluster_with_fake_nodes();
    apply(&cluster, WEB);
    wait_ready(&cluster, "app=web", 3);
    cluster.ok(&[
        "delete",
        "deployment",
        "web",
        "--cascade=foreground",
        "--timeout=60s",
    ]);
    eventually("all gone", || {
        (count(&cluster, "rs", "app=web") == 0 && count(&cluster, "pods", "app=web") == 0)
            .then_some(())
    });
}
