use super::*;
use crate::fixtures::{bound_to, node, pod, with_spec};
use serde_json::json;

fn payment(name: &str, node_name: &str) -> Pod {
    bound_to(
        pod("default", name, "250m", "256Mi", &[("app", "payment")]),
        node_name,
    )
}

#[test]
fn bound_pods_add_up_on_their_node() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "4", "8Gi", &[]));
    snapshot.upsert_pod(payment("a", "n1"));
    snapshot.upsert_pod(payment("b", "n1"));
    let n1 = snapshot.node("n1").expect("added");
    assert_eq!(n1.pods().len(), 2);
    assert_eq!(n1.requested.milli_cpu, 500);
    assert_eq!(n1.requested.memory, 512 << 20);
}

#[test]
fn updating_a_pod_replaces_its_contribution() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "4", "8Gi", &[]));
    snapshot.upsert_node(node("n2", "4", "8Gi", &[]));
    snapshot.upsert_pod(payment("a", "n1"));
    snapshot.upsert_pod(payment("a", "n2"));
    assert_eq!(snapshot.node("n1").map(|n| n.pods().len()), Some(0));
    assert_eq!(
        snapshot.node("n2").map(|n| n.requested.milli_cpu),
        Some(250)
    );
    let key = PodKey {
        namespace: "default".into(),
        name: "a".into(),
    };
    assert_eq!(snapshot.pod_node(&key), Some("n2"));
}

#[test]
fn pending_and_finished_pods_hold_nothing() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "4", "8Gi", &[]));
    snapshot.upsert_pod(pod("default", "pending", "1", "", &[]));
    let mut done = payment("done", "n1");
    done.status = serde_json::from_value(json!({"phase": "Succeeded"})).ok();
    snapshot.upsert_pod(done);
    assert_eq!(snapshot.node("n1").map(|n| n.pods().len()), Some(0));
}

#[test]
fn pods_of_an_unknown_node_wait_for_it() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_pod(payment("a", "later"));
    snapshot.upsert_node(node("later", "4", "8Gi", &[]));
    assert_eq!(snapshot.node("later").map(|n| n.pods().len()), Some(1));
    assert!(snapshot.remove_node("later"));
    assert!(snapshot.node("later").is_none());
    snapshot.upsert_node(node("later", "4", "8Gi", &[]));
    assert_eq!(
        snapshot.node("later").map(|n| n.requested.milli_cpu),
        Some(250)
    );
}

#[test]
fn removing_a_node_keeps_the_index_consistent() {
    let mut snapshot = Snapshot::new();
    for name in ["n1", "n2", "n3"] {
        snapshot.upsert_node(node(name, "4", "8Gi", &[]));
    }
    snapshot.remove_node("n1");
    assert_eq!(snapshot.node("n3").map(|n| n.name.as_str()), Some("n3"));
    assert_eq!(snapshot.nodes().len(), 2);
}

#[test]
fn node_update_keeps_pods_and_reads_new_labels() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "4", "8Gi", &[]));
    snapshot.upsert_pod(payment("a", "n1"));
    snapshot.upsert_node(node("n1", "8", "8Gi", &[("zone", "b")]));
    let n1 = snapshot.node("n1").expect("present");
    assert_eq!(
        (n1.pods().len(), n1.allocatable.resources.milli_cpu),
        (1, 8000)
    );
    assert_eq!(n1.labels.get("zone").map(String::as_str), Some("b"));
}

#[test]
fn affinity_pods_are_tracked_for_skipping() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "4", "8Gi", &[]));
    let anti = with_spec(
        payment("a", "n1"),
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "payment"}}, "topologyKey": "kubernetes.io/hostname"}
        ]}}}),
    );
    snapshot.upsert_pod(anti);
    assert!(snapshot.has_pods_with_required_anti_affinity());
    snapshot.remove_pod(&PodKey {
        namespace: "default".into(),
        name: "a".into(),
    });
    assert!(!snapshot.has_pods_with_required_anti_affinity());
    assert!(!snapshot.has_pods_with_affinity());
}

#[test]
fn default_spread_selector_merges_services_and_the_owner() {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_service_selector(
        "default",
        "payment",
        [("app".into(), "payment".into())].into(),
    );
    snapshot.upsert_service_selector("default", "other", [("app".into(), "other".into())].into());
    let owned = with_spec(
        pod("default", "a", "", "", &[("app", "payment"), ("hash", "x")]),
        json!({}),
    );
    let mut owned = owned;
    owned.metadata.owner_references = serde_json::from_value(json!([
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payment-x", "uid": "1", "controller": true}
    ]))
    .ok();
    let rs_selector = LabelSelector::parse("hash=x").expect("valid");
    snapshot.upsert_owner_selector(
        SpreadOwnerKind::ReplicaSet,
        "default",
        "payment-x",
        rs_selector,
    );
    let selector = snapshot.default_spread_selector(&PodInfo::new(owned));
    assert_eq!(selector.to_string(), "app=payment,hash=x");
    let lonely = PodInfo::new(pod("default", "b", "", "", &[("app", "none")]));
    assert!(snapshot.default_spread_selector(&lonely).is_empty());
}
