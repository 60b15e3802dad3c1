//! The controller manager inside `bulwark server`: the ReplicaSet controller, events and the
//! leader Lease, driven with the real kubectl and kube clients. No agent or scheduler runs here,
//! so the tests play their part honestly: they bind pods to Nodes they create and post pod status
//! through the status subresource, as the agent would.

mod common;

use std::collections::BTreeSet;

use common::{Cluster, apply, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const REPLICASET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
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
        image: bulwark/demo
"#;

fn json_of(cluster: &Cluster, args: &[&str]) -> Value {
    serde_json::from_str(&cluster.ok(args)).expect("kubectl -o json output")
}

/// Names of the active (not terminating) pods labelled app=web.
fn active_pods(cluster: &Cluster) -> BTreeSet<String> {
    let list = json_of(cluster, &["get", "pods", "-l", "app=web", "-o", "json"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| {
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn wait_for_count(cluster: &Cluster, count: usize) -> BTreeSet<String> {
    eventually(&format!("{count} active web pods"), || {
        let pods = active_pods(cluster);
        (pods.len() == count).then_some(pods)
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// What the scheduler and the agent would do: bind the pod to `node` and report it Running, and
/// Ready when `ready`.
async fn run_pod(pods: &Api<Pod>, name: &str, node: &str, ready: bool) {
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    let request = http::Request::post(format!("/api/v1/namespaces/default/pods/{name}/binding"))
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&binding).unwrap())
        .unwrap();
    let _: Value = pods
        .clone()
        .into_client()
        .request(request)
        .await
        .expect("bind the pod");
    let status = if ready { "True" } else { "False" };
    let now = "2026-01-01T00:00:00Z";
    let patch = json!({"status": {"phase": "Running", "podIP": "127.128.0.10", "conditions": [
        {"type": "Ready", "status": status, "lastTransitionTime": now},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("pod status");
}

fn create_node(cluster: &Cluster, name: &str) {
    let node = format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    apply(cluster, &node);
}

#[test]
fn a_replicaset_creates_owned_pods_and_replaces_a_deleted_one() {
    let cluster = Cluster::start();
    apply(&cluster, REPLICASET);
    let pods = wait_for_count(&cluster, 3);
    let pod = json_of(
        &cluster,
        &["get", "pod", pods.iter().next().unwrap(), "-o", "json"],
    );
    assert_eq!(pod["metadata"]["generateName"], "web-");
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!(
        (
            owner["kind"].as_str(),
            owner["name"].as_str(),
            owner["controller"].as_bool()
        ),
        (Some("ReplicaSet"), Some("web"), Some(true))
    );

    let victim = pods.iter().next().unwrap().clone();
    cluster.ok(&["delete", "pod", &victim, "--wait=false"]);
    let replaced = eventually("a replacement pod", || {
        let now = active_pods(&cluster);
        (now.len() == 3 && !now.contains(&victim)).then_some(now)
    });
    assert_eq!(
        replaced.intersection(&pods).count(),
        2,
        "only the deleted pod is replaced"
    );
    let status = eventually("status.replicas 3", || {
        let rs = json_of(&cluster, &["get", "rs", "web", "-o", "json"]);
        (rs["status"]["replicas"] == 3 && rs["status"]["observedGeneration"] == 1).then_some(rs)
    });
    assert_eq!(status["status"]["fullyLabeledReplicas"], 3);
}

#[test]
fn kubectl_scale_up_and_down_converges() {
    let cluster = Cluster::start();
    apply(&cluster, REPLICASET);
    wait_for_count(&cluster, 3);
    cluster.ok(&["scale", "rs", "web", "--replicas=6"]);
    wait_for_count(&cluster, 6);
    cluster.ok(&["scale", "rs", "web", "--replicas=1"]);
    wait_for_count(&cluster, 1);
    eventually("status follows the scale", || {
        let rs = json_of(&cluster, &["get", "rs", "web", "-o", "json"]);
        (rs["status"]["replicas"] == 1 && rs["status"]["observedGeneration"] == 3).then_some(())
    });
    // Stays converged: no extra pods appear once the cache has caught up.
    cluster.ok(&["scale", "rs", "web", "--replicas=0"]);
    wait_for_count(&cluster, 0);
}

#[test]
fn status_counts_ready_pods_and_scale_down_removes_the_unready_first() {
    let cluster = Cluster::start();
    create_node(&cluster, "node-1");
    apply(&cluster, REPLICASET);
    let pods: Vec<String> = wait_for_count(&cluster, 3).into_iter().collect();
    let runtime = runtime();
    runtime.block_on(async {
        let api: Api<Pod> = Api::default_namespaced(cluster.client().await);
        run_pod(&api, &pods[0], "node-1", true).await;
        run_pod(&api, &pods[1], "node-1", true).await;
        run_pod(&api, &pods[2], "node-1", false).await;
    });
    eventually("2 ready and available", || {
        let rs = json_of(&cluster, &["get", "rs", "web", "-o", "json"]);
        (rs["status"]["readyReplicas"] == 2 && rs["status"]["availableReplicas"] == 2).then_some(())
    });
    cluster.ok(&["scale", "rs", "web", "--replicas=2"]);
    // A bound pod is only marked terminating; the agent would confirm with a zero-grace delete.
    wait_for_count(&cluster, 2);
    let remaining = active_pods(&cluster);
    assert!(
        !remaining.contains(&pods[2]),
        "the unready pod goes first: {remaining:?}"
    );
    let terminating = json_of(&cluster, &["get", "pod", &pods[2], "-o", "json"]);
    assert!(terminating["metadata"]["deletionTimestamp"].is_string());
}

#[test]
fn orphans_matching_the_selector_are_adopted_and_relabelled_pods_released() {
    let cluster = Cluster::start();
    let orphan = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stray\n  labels: {app: web}\nspec:\n  containers:\n  - name: web\n    image: bulwark/demo\n";
    apply(&cluster, orphan);
    apply(&cluster, &REPLICASET.replace("replicas: 3", "replicas: 1"));
    eventually("the orphan is adopted", || {
        let pod = json_of(&cluster, &["get", "pod", "stray", "-o", "json"]);
        (pod["metadata"]["ownerReferences"][0]["name"] == "web").then_some(())
    });
    assert_eq!(
        wait_for_count(&cluster, 1),
        BTreeSet::from(["stray".to_string()])
    );
    cluster.ok(&["label", "pod", "stray", "app=debug", "--overwrite"]);
    eventually("the relabelled pod is released and replaced", || {
        let pod = json_of(&cluster, &["get", "pod", "stray", "-o", "json"]);
        let released = pod["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|o| o.is_empty());
        (released && active_pods(&cluster).len() == 1).then_some(())
    });
}

#[test]
fn controller_actions_show_as_events_in_describe_and_get_events() {
    let cluster = Cluster::start();
    apply(&cluster, &REPLICASET.replace("replicas: 3", "replicas: 2"));
    wait_for_count(&cluster, 2);
    let events = eventually("SuccessfulCreate events", || {
        let out = cluster.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
        ]);
        (out.matches("SuccessfulCreate").count() >= 2).then_some(out)
    });
    assert!(events.contains("Created pod: web-"), "{events}");
    let described = cluster.ok(&["describe", "rs", "web"]);
    assert!(described.contains("SuccessfulCreate"), "{described}");
    assert!(described.contains("replicaset-controller"), "{described}");
}

#[test]
fn the_controller_manager_holds_the_leader_lease() {
    let cluster = Cluster::start();
    let lease = eventually("the leader lease", || {
        let out = cluster.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "bulwark-controller-manager",
            "-o",
            "json",
        ]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap())
    });
    assert!(
        lease["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .starts_with("bulwark-")
    );
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 15);
}

#[test]
fn disable_controllers_leaves_workloads_alone() {
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply(&cluster, REPLICASET);
    cluster.ok(&["get", "rs", "web"]);
    // A negative check, bounded: with controllers running, pods appear within milliseconds.
    for _ in 0..20 {
        assert!(active_pods(&cluster).is_empty());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let lease = cluster.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "bulwark-controller-manager",
    ]);
    assert!(
        !lease.status.success(),
        "no controller manager, no leader lease"
    );
}

#[test]
fn rapid_updates_never_create_a_pod_twice() {
    // Two quick replica changes in a row never overshoot: expectations hold the second reconcile
    // until the first one's pods are in the cache.
    let cluster = Cluster::start();
    apply(&cluster, &REPLICASET.replace("replicas: 3", "replicas: 4"));
    let runtime = runtime();
    runtime.block_on(async {
        let client = cluster.client().await;
        let sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::default_namespaced(client);
        for _ in 0..5 {
            let patch = json!({"metadata": {"annotations": {"touch": format!("{:?}", std::time::Instant::now())}}});
            sets.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("touch");
        }
    });
    wait_for_count(&cluster, 4);
    let events = eventually("four SuccessfulCreate events", || {
        let out = cluster.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
        ]);
        (out.matches("SuccessfulCreate").count() >= 4).then_some(out)
    });
    assert_eq!(
        events.matches("SuccessfulCreate").count(),
        4,
        "no pod created twice: {events}"
    );
    assert!(
        !events.contains("SuccessfulDelete"),
        "nothing to take back: {events}"
    );
}
