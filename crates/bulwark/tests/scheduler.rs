//! The scheduler end to end: a real `bulwark server` runs `default-scheduler`, simulated nodes
//! (`bulwark agent --fake-nodes`) with chosen capacities and zones run the pods, and everything
//! is driven with the real kubectl: spreading, cordons, unschedulable pods and preemption.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use common::{Cluster, FakeNodes, apply, eventually, seed_manifest, start_fake_nodes};
use serde_json::Value;

/// `count` Ready fake nodes named `fake-node-N`, zones zone-a/b/c round robin.
fn fake_nodes(cluster: &Cluster, count: usize, capacity: &str) -> FakeNodes {
    start_fake_nodes(cluster, count, &["--capacity", capacity])
}

fn pods(cluster: &Cluster, selector: &str) -> Vec<Value> {
    let output = cluster.ok(&["get", "pods", "-l", selector, "-o", "json"]);
    let list: Value = serde_json::from_str(&output).expect("kubectl -o json output");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn pod(cluster: &Cluster, name: &str) -> Value {
    serde_json::from_str(&cluster.ok(&["get", "pod", name, "-o", "json"])).expect("pod json")
}

fn node_of(pod: &Value) -> Option<String> {
    pod["spec"]["nodeName"]
        .as_str()
        .filter(|node| !node.is_empty())
        .map(str::to_string)
}

fn live(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
}

/// The nodes of the live pods matching `selector`, once all `count` are bound.
fn bound_nodes(cluster: &Cluster, selector: &str, count: usize) -> Vec<String> {
    eventually(&format!("{count} bound pods {selector}"), || {
        let nodes: Vec<String> = pods(cluster, selector)
            .iter()
            .filter(|pod| live(pod))
            .filter_map(node_of)
            .collect();
        (nodes.len() == count).then_some(nodes)
    })
}

fn zone_of(cluster: &Cluster, node: &str) -> String {
    cluster.ok(&[
        "get",
        "node",
        node,
        "-o",
        r"jsonpath={.metadata.labels.topology\.kubernetes\.io/zone}",
    ])
}

fn tally(items: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

fn condition<'a>(pod: &'a Value, kind: &str) -> Option<&'a Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
}

/// `kubectl describe` with its column padding collapsed to single spaces.
fn describe(cluster: &Cluster, what: &[&str]) -> String {
    let mut args = vec!["describe"];
    args.extend_from_slice(what);
    cluster
        .ok(&args)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn deployment(name: &str, replicas: u32, cpu: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n{extra_spec}      containers:\n      - name: main\n        image: {name}:v1\n        resources:\n          requests: {{cpu: {cpu}}}\n"
    )
}

#[test]
fn the_seed_payment_service_lands_two_per_zone_and_one_per_node() {
    let cluster = Cluster::start();
    let _nodes = fake_nodes(&cluster, 6, "cpu=4,memory=8Gi,pods=110");
    let manifest = seed_manifest("payment-service.yaml");
    cluster.ok(&["apply", "-f", manifest.to_str().expect("utf-8 path")]);
    let nodes = bound_nodes(&cluster, "app=payment", 6);
    let per_node = tally(nodes.iter().cloned());
    assert_eq!(per_node.len(), 6, "one pod per node: {per_node:?}");
    let per_zone = tally(nodes.iter().map(|node| zone_of(&cluster, node)));
    assert_eq!(
        per_zone.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "two pods per zone: {per_zone:?}"
    );
    let events = cluster.ok(&["get", "events", "--field-selector", "reason=Scheduled"]);
    assert_eq!(
        events
            .matches("Successfully assigned default/payment-")
            .count(),
        6
    );
}

#[test]
fn cordoned_nodes_get_nothing_and_an_uncordoned_node_takes_the_waiting_pods() {
    let cluster = Cluster::start();
    let _nodes = fake_nodes(&cluster, 3, "cpu=4,memory=8Gi,pods=110");
    cluster.ok(&["cordon", "fake-node-1"]);
    apply(&cluster, &deployment("web", 6, "100m", ""));
    let nodes = bound_nodes(&cluster, "app=web", 6);
    assert!(
        !nodes.iter().any(|node| node == "fake-node-1"),
        "a cordoned node got a pod: {nodes:?}"
    );
    for node in ["fake-node-2", "fake-node-3"] {
        cluster.ok(&["cordon", node]);
    }
    apply(&cluster, &deployment("late", 2, "100m", ""));
    let waiting = eventually("the late pods to be reported unschedulable", || {
        let late = pods(&cluster, "app=late");
        let reasons: Vec<String> = late
            .iter()
            .filter_map(|pod| condition(pod, "PodScheduled"))
            .filter(|condition| condition["status"] == "False")
            .filter_map(|condition| condition["message"].as_str().map(str::to_string))
            .collect();
        (late.len() == 2 && reasons.len() == 2).then_some(reasons)
    });
    assert!(
        waiting
            .iter()
            .all(|message| message
                .starts_with("0/3 nodes are available: 3 node(s) were unschedulable.")),
        "{waiting:?}"
    );
    cluster.ok(&["uncordon", "fake-node-1"]);
    let nodes = bound_nodes(&cluster, "app=late", 2);
    assert_eq!(nodes, ["fake-node-1", "fake-node-1"]);
}

#[test]
fn a_pod_larger_than_every_node_shows_upstreams_message_until_a_big_node_joins() {
    let cluster = Cluster::start();
    let _nodes = fake_nodes(&cluster, 3, "cpu=4,memory=8Gi,pods=110");
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: giant}\nspec:\n  containers:\n  - name: main\n    image: giant:v1\n    resources:\n      requests: {memory: 64Gi}\n",
    );
    let expected = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    let described = eventually("a FailedScheduling event", || {
        let text = describe(&cluster, &["pod", "giant"]);
        text.contains("FailedScheduling").then_some(text)
    });
    assert!(
        described.contains("Warning FailedScheduling") && described.contains(expected),
        "{described}"
    );
    assert!(described.contains("PodScheduled False"), "{described}");
    let scheduled = pod(&cluster, "giant");
    let condition = condition(&scheduled, "PodScheduled").expect("a PodScheduled condition");
    assert_eq!(condition["reason"], "Unschedulable");
    assert_eq!(condition["message"], expected);
    assert_eq!(scheduled["status"]["phase"], "Pending");

    let _big = FakeNodes::spawn(
        &cluster,
        1,
        &[
            "--profile",
            "fast",
            "--name-prefix",
            "big-node",
            "--capacity",
            "cpu=16,memory=128Gi,pods=110",
        ],
    );
    let node = eventually("the giant pod to land on the node that joined", || {
        node_of(&pod(&cluster, "giant"))
    });
    assert_eq!(node, "big-node-1");
}

const PRIORITY_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: NAME\nspec:\n  priorityClassName: critical-service\n  containers:\n  - name: main\n    image: critical:v1\n    resources:\n      requests: {cpu: '1'}\n";

/// Two pods of `app` pinned to `node`, each asking for half of its one CPU.
fn pinned(app: &str, node: &str) -> String {
    deployment(
        app,
        2,
        "500m",
        &format!("      nodeSelector: {{kubernetes.io/hostname: {node}}}\n"),
    )
}

/// `kubectl get pods -l SELECTOR --watch -o json` in the background: every version of the
/// matching pods, including the last ones before they go away.
struct PodWatch {
    child: std::process::Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl PodWatch {
    fn start(cluster: &Cluster, selector: &str) -> Self {
        let mut child = cluster
            .kubectl_command()
            .args(["get", "pods", "-l", selector, "--watch", "-o", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kubectl get --watch");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        // Ends when kubectl does (killed on drop).
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(read @ 1..) = stdout.read(&mut chunk) {
                sink.lock()
                    .expect("watch buffer")
                    .extend_from_slice(&chunk[..read]);
            }
        });
        PodWatch { child, seen }
    }

    /// Every pod version printed so far.
    fn versions(&self) -> Vec<Value> {
        let seen = self.seen.lock().expect("watch buffer");
        serde_json::Deserializer::from_slice(&seen)
            .into_iter::<Value>()
            .map_while(Result::ok)
            .collect()
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// The pods (by name) that a watch saw marked as preempted by the scheduler.
fn preempted(versions: &[Value]) -> Vec<String> {
    let mut marked: Vec<String> = versions
        .iter()
        .filter(|pod| {
            condition(pod, "DisruptionTarget").is_some_and(|condition| {
                condition["status"] == "True" && condition["reason"] == "PreemptionByScheduler"
            })
        })
        .filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    marked.sort();
    marked.dedup();
    marked
}

fn preempted_events(cluster: &Cluster) -> String {
    cluster.ok(&["get", "events", "--field-selector", "reason=Preempted"])
}

#[test]
fn a_critical_service_pod_preempts_lower_priority_pods_sparing_a_budget_where_it_can() {
    let cluster = Cluster::start();
    let _nodes = fake_nodes(&cluster, 2, "cpu=1,memory=8Gi,pods=110");
    apply(&cluster, &pinned("guarded", "fake-node-1"));
    apply(&cluster, &pinned("spare", "fake-node-2"));
    apply(
        &cluster,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: guarded}\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels: {app: guarded}\n",
    );
    bound_nodes(&cluster, "app=guarded", 2);
    bound_nodes(&cluster, "app=spare", 2);
    let mut guarded = names(&pods(&cluster, "app=guarded"));
    let mut spare = names(&pods(&cluster, "app=spare"));
    guarded.sort();
    spare.sort();
    let critical = seed_manifest("critical-service.yaml");
    cluster.ok(&["apply", "-f", critical.to_str().expect("utf-8 path")]);

    let watch = PodWatch::start(&cluster, "app in (guarded,spare)");
    apply(&cluster, &PRIORITY_POD.replace("NAME", "critical-1"));
    let placed = eventually("critical-1 to be bound", || {
        node_of(&pod(&cluster, "critical-1"))
    });
    assert_eq!(
        placed, "fake-node-2",
        "the node whose victims have no budget"
    );
    assert_eq!(pod(&cluster, "critical-1")["spec"]["priority"], 1_000_000);
    let events = preempted_events(&cluster);
    for victim in &spare {
        assert!(
            events.contains(victim.as_str()),
            "{victim} preempted:\n{events}"
        );
    }
    assert!(events.contains("Preempted by pod"), "{events}");
    let mut still_guarded = names(&pods(&cluster, "app=guarded"));
    still_guarded.sort();
    assert_eq!(still_guarded, guarded, "the budgeted pods were spared");

    // Only the budgeted pods are left to evict: the budget yields, as upstream's does.
    apply(&cluster, &PRIORITY_POD.replace("NAME", "critical-2"));
    let placed = eventually("critical-2 to be bound", || {
        node_of(&pod(&cluster, "critical-2"))
    });
    assert_eq!(placed, "fake-node-1");
    let events = preempted_events(&cluster);
    for victim in &guarded {
        assert!(
            events.contains(victim.as_str()),
            "{victim} preempted:\n{events}"
        );
    }
    let mut victims = [spare, guarded].concat();
    victims.sort();
    eventually(
        "every victim marked DisruptionTarget/PreemptionByScheduler",
        || (preempted(&watch.versions()) == victims).then_some(()),
    );
}

#[test]
fn priority_classes_resolve_at_admission_and_unknown_ones_are_refused() {
    let cluster = Cluster::start();
    let critical = seed_manifest("critical-service.yaml");
    cluster.ok(&["apply", "-f", critical.to_str().expect("utf-8 path")]);
    apply(&cluster, &PRIORITY_POD.replace("NAME", "admitted"));
    let described = describe(&cluster, &["pod", "admitted"]);
    assert!(described.contains("Priority: 1000000"), "{described}");
    assert!(
        described.contains("Priority Class Name: critical-service"),
        "{described}"
    );
    let builtin = cluster.ok(&[
        "get",
        "priorityclass",
        "system-node-critical",
        "-o",
        "jsonpath={.value}",
    ]);
    assert_eq!(builtin, "2000001000");
    let refused = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        &PRIORITY_POD
            .replace("NAME", "gilded")
            .replace("critical-service", "gold"),
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("pods \"gilded\" is forbidden: no PriorityClass with name gold was found"),
        "{stderr}"
    );
}
