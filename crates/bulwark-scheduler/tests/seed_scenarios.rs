//! The seed's scenarios on the pure core: zone-redundant payment-service placement, cordoned
//! nodes, an impossible memory request, and a critical-service pod preempting on a full cluster.

use std::collections::BTreeMap;

use bulwark_scheduler::fixtures::{bound_to, node, pod, with_priority, with_spec};
use bulwark_scheduler::{
    Config, PdbView, PriorityClasses, SchedulingState, Snapshot, preempt, schedule,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::json;

const ZONE: &str = "topology.kubernetes.io/zone";

fn seed<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = format!("{}/../../examples/seed/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("seed manifest present");
    serde_yaml::from_str(&text).expect("seed manifest parses")
}

/// Six nodes, two per zone.
fn six_nodes() -> Snapshot {
    let mut snapshot = Snapshot::new();
    for (i, zone) in ["a", "a", "b", "b", "c", "c"].iter().enumerate() {
        let labels = [(ZONE, *zone)];
        snapshot.upsert_node(node(&format!("node-{i}"), "4", "8Gi", &labels));
    }
    snapshot
}

fn replicas(deployment: &Deployment, count: usize) -> Vec<Pod> {
    let template = deployment
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    (0..count)
        .map(|i| Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("payment-service-{i}")),
                namespace: Some("default".into()),
                ..template.metadata.clone().unwrap_or_default()
            },
            spec: template.spec.clone(),
            status: None,
        })
        .collect()
}

/// Schedules each pod in turn and binds it into the snapshot, as the shell would.
fn place_all(snapshot: &mut Snapshot, pods: Vec<Pod>, seed: u64) -> Vec<String> {
    let mut state = SchedulingState::new(seed);
    let mut placed = Vec::new();
    for pod in pods {
        let node = schedule(snapshot, &pod, &Config::default(), &mut state).expect("fits");
        snapshot.upsert_pod(bound_to(pod, &node));
        placed.push(node);
    }
    placed
}

#[test]
fn payment_service_lands_two_per_zone_and_one_per_node() {
    let deployment: Deployment = seed("payment-service.yaml");
    for seed in 0..25 {
        let mut snapshot = six_nodes();
        let placed = place_all(&mut snapshot, replicas(&deployment, 6), seed);
        let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
        let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
        for name in &placed {
            *per_node.entry(name).or_default() += 1;
            let zone = snapshot
                .node(name)
                .and_then(|n| n.labels.get(ZONE).cloned());
            *per_zone.entry(zone.unwrap_or_default()).or_default() += 1;
        }
        assert_eq!(
            per_node.len(),
            6,
            "seed {seed}: one per node, got {per_node:?}"
        );
        assert!(
            per_zone.values().all(|&c| c == 2),
            "seed {seed}: {per_zone:?}"
        );
    }
}

#[test]
fn cordoned_nodes_get_nothing() {
    let deployment: Deployment = seed("payment-service.yaml");
    let mut snapshot = six_nodes();
    let mut cordoned = node("node-0", "4", "8Gi", &[(ZONE, "a")]);
    cordoned.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
        unschedulable: Some(true),
        ..Default::default()
    });
    snapshot.upsert_node(cordoned);
    let placed = place_all(&mut snapshot, replicas(&deployment, 5), 7);
    assert!(!placed.iter().any(|n| n == "node-0"), "{placed:?}");
}

#[test]
fn an_impossible_memory_request_explains_itself() {
    let snapshot = six_nodes();
    let greedy = pod("default", "greedy", "100m", "64Gi", &[]);
    let error = schedule(
        &snapshot,
        &greedy,
        &Config::default(),
        &mut SchedulingState::new(1),
    )
    .expect_err("no node has 64Gi");
    assert_eq!(
        error.to_string(),
        "0/6 nodes are available: 6 Insufficient memory."
    );
}

#[test]
fn mixed_reasons_are_counted_and_sorted() {
    let mut snapshot = six_nodes();
    // Two nodes are cordoned, the other four are too small.
    for (i, zone) in [(0, "a"), (1, "a")] {
        let mut cordoned = node(&format!("node-{i}"), "4", "8Gi", &[(ZONE, zone)]);
        cordoned.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        });
        snapshot.upsert_node(cordoned);
    }
    let big = pod("default", "big", "100m", "16Gi", &[]);
    let error = schedule(
        &snapshot,
        &big,
        &Config::default(),
        &mut SchedulingState::new(1),
    )
    .expect_err("nothing fits");
    assert_eq!(
        error.to_string(),
        "0/6 nodes are available: 2 node(s) were unschedulable, 4 Insufficient memory."
    );
}

#[test]
fn critical_service_preempts_on_a_full_cluster_and_respects_the_pdb() {
    let class: PriorityClass = seed("critical-service.yaml");
    let mut classes = PriorityClasses::default();
    bulwark_scheduler::priority::upsert(&mut classes, &class);
    let critical = classes
        .resolve(Some("critical-service"))
        .expect("seed class");
    let pdb: PodDisruptionBudget = seed("payment-pdb.yaml");
    let mut pdb = pdb;
    pdb.metadata.namespace = Some("default".into());
    pdb.status = serde_json::from_value(json!({
        "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2
    }))
    .ok();

    // Two full nodes: node-0 runs two PDB-protected payment pods, node-1 two batch pods.
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("node-0", "2", "4Gi", &[(ZONE, "a")]));
    snapshot.upsert_node(node("node-1", "2", "4Gi", &[(ZONE, "b")]));
    for (name, node_name, app) in [
        ("payment-0", "node-0", "payment-service"),
        ("payment-1", "node-0", "payment-service"),
        ("batch-0", "node-1", "batch"),
        ("batch-1", "node-1", "batch"),
    ] {
        let p = pod("default", name, "1", "1Gi", &[("app", app)]);
        snapshot.upsert_pod(bound_to(p, node_name));
    }
    let incoming = with_spec(
        with_priority(pod("default", "critical", "1", "1Gi", &[]), critical.value),
        json!({"priorityClassName": "critical-service"}),
    );
    let error = schedule(
        &snapshot,
        &incoming,
        &Config::default(),
        &mut SchedulingState::new(3),
    )
    .expect_err("cluster is full");
    assert_eq!(
        error.to_string(),
        "0/2 nodes are available: 2 Insufficient cpu."
    );

    let preemption = preempt(&snapshot, &incoming, &PdbView::new(&[pdb])).expect("can preempt");
    assert_eq!(preemption.node, "node-1");
    assert_eq!(preemption.victims.len(), 1);
    assert_eq!(preemption.pdb_violations, 0);
}
