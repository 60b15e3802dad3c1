use super::*;
use crate::fixtures::{bound_to, node, pod, with_priority, with_spec};
use serde_json::json;

fn low(name: &str, cpu: &str, priority: i32, labels: &[(&str, &str)]) -> Pod {
    with_priority(pod("default", name, cpu, "", labels), priority)
}

fn cluster(placed: &[(&str, Pod)]) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for name in ["n1", "n2"] {
        snapshot.upsert_node(node(name, "2", "4Gi", &[]));
    }
    for (node, pod) in placed {
        snapshot.upsert_pod(bound_to(pod.clone(), node));
    }
    snapshot
}

fn incoming(priority: i32) -> Pod {
    with_priority(pod("default", "critical", "1500m", "", &[]), priority)
}

fn victims(result: &Option<Preemption>) -> Vec<String> {
    result
        .iter()
        .flat_map(|p| p.victims.iter().map(|v| v.name.clone()))
        .collect()
}

#[test]
fn evicts_the_lower_priority_pod_that_blocks() {
    let snapshot = cluster(&[
        ("n1", low("a", "1", 10, &[])),
        ("n2", low("b", "1", 100, &[])),
    ]);
    let result = preempt(&snapshot, &incoming(1000), &PdbView::default());
    assert_eq!(result.as_ref().map(|p| p.node.as_str()), Some("n1"));
    assert_eq!(victims(&result), vec!["a"]);
}

#[test]
fn never_evicts_equal_or_higher_priority() {
    let snapshot = cluster(&[
        ("n1", low("a", "1", 1000, &[])),
        ("n2", low("b", "1", 2000, &[])),
    ]);
    assert_eq!(
        preempt(&snapshot, &incoming(1000), &PdbView::default()),
        None
    );
}

#[test]
fn preemption_policy_never_preempts_nothing() {
    let snapshot = cluster(&[("n1", low("a", "1", 0, &[])), ("n2", low("b", "1", 0, &[]))]);
    let pod = with_spec(incoming(1000), json!({"preemptionPolicy": "Never"}));
    assert_eq!(preempt(&snapshot, &pod, &PdbView::default()), None);
}

#[test]
fn prefers_a_node_where_no_budget_is_violated() {
    let snapshot = cluster(&[
        ("n1", low("guarded", "1", 0, &[("app", "payment")])),
        ("n2", low("free", "1", 0, &[("app", "batch")])),
    ]);
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "payment"},
        "spec": {"selector": {"matchLabels": {"app": "payment"}}, "minAvailable": 1},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
    }))
    .expect("valid pdb");
    let result = preempt(&snapshot, &incoming(1000), &PdbView::new(&[pdb]));
    assert_eq!(victims(&result), vec!["free"]);
    assert_eq!(result.map(|p| p.pdb_violations), Some(0));
}

#[test]
fn violates_a_budget_only_when_there_is_no_other_way() {
    let snapshot = cluster(&[("n1", low("guarded", "1", 0, &[("app", "payment")]))]);
    let mut snapshot = snapshot;
    snapshot.remove_node("n2");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "payment"},
        "spec": {"selector": {"matchLabels": {"app": "payment"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
    }))
    .expect("valid pdb");
    let result = preempt(&snapshot, &incoming(1000), &PdbView::new(&[pdb]));
    assert_eq!(victims(&result), vec!["guarded"]);
    assert_eq!(result.map(|p| p.pdb_violations), Some(1));
}

#[test]
fn prefers_lower_priority_victims_then_fewer() {
    let snapshot = cluster(&[
        ("n1", low("a", "1", 10, &[])),
        ("n2", low("b", "1", 5, &[])),
    ]);
    let result = preempt(&snapshot, &incoming(1000), &PdbView::default());
    assert_eq!(victims(&result), vec!["b"]);

    let snapshot = cluster(&[
        ("n1", low("a1", "600m", 5, &[])),
        ("n1", low("a2", "600m", 5, &[])),
        ("n2", low("b", "1", 5, &[])),
    ]);
    let result = preempt(&snapshot, &incoming(1000), &PdbView::default());
    assert_eq!(victims(&result), vec!["b"]);
}

#[test]
fn reprieves_pods_that_can_stay() {
    let mut snapshot = cluster(&[
        ("n1", low("important", "500m", 50, &[])),
        ("n1", low("cheap", "1", 1, &[])),
    ]);
    snapshot.remove_node("n2");
    let result = preempt(&snapshot, &incoming(1000), &PdbView::default());
    assert_eq!(victims(&result), vec!["cheap"]);
}

#[test]
fn unresolvable_nodes_are_not_candidates() {
    let mut snapshot = cluster(&[("n1", low("a", "1", 0, &[])), ("n2", low("b", "1", 0, &[]))]);
    let mut cordoned = node("n1", "2", "4Gi", &[]);
    if let Some(spec) = cordoned.spec.as_mut() {
        spec.unschedulable = Some(true);
    } else {
        cordoned.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        });
    }
    snapshot.upsert_node(cordoned);
    let result = preempt(&snapshot, &incoming(1000), &PdbView::default());
    assert_eq!(result.map(|p| p.node), Some("n2".to_string()));
}

#[test]
fn removing_an_anti_affine_victim_frees_the_node() {
    // The only node holds a low-priority pod whose anti-affinity repels the incoming pod.
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "8", "8Gi", &[]));
    let repeller = with_spec(
        low("repeller", "100m", 1, &[("app", "loner")]),
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}
        ]}}}),
    );
    snapshot.upsert_pod(bound_to(repeller, "n1"));
    let pod = with_priority(pod("default", "web", "100m", "", &[("app", "web")]), 100);
    let result = preempt(&snapshot, &pod, &PdbView::default());
    assert_eq!(victims(&result), vec!["repeller"]);
}

/// One 2-CPU node whose room a 1500m pod of priority 1000 was nominated for.
fn nominated_cluster() -> Snapshot {
    let mut snapshot = Snapshot::new();
    snapshot.upsert_node(node("n1", "2", "4Gi", &[]));
    snapshot.nominate(&PodInfo::new(incoming(1000)), "n1");
    snapshot
}

#[test]
fn room_nominated_for_a_higher_priority_pod_is_not_taken_by_a_lower_one() {
    let snapshot = nominated_cluster();
    let mut state = crate::schedule::SchedulingState::new(1);
    let config = crate::schedule::Config::default();
    let replacement = low("replacement", "1", 0, &[]);
    let error = crate::schedule::schedule(&snapshot, &replacement, &config, &mut state)
        .expect_err("the nominated pod holds the room");
    assert_eq!(
        error.to_string(),
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    // A lower-priority pod cannot preempt its way past a nomination either.
    assert!(preempt(&snapshot, &replacement, &PdbView::default()).is_none());
    // A pod of higher priority than the nominated one is not held back by it.
    let urgent = with_priority(pod("default", "urgent", "1", "", &[]), 2000);
    assert_eq!(
        crate::schedule::schedule(&snapshot, &urgent, &config, &mut state).as_deref(),
        Ok("n1")
    );
    // Nor is the nominated pod by its own nomination.
    assert_eq!(
        crate::schedule::schedule(&snapshot, &incoming(1000), &config, &mut state).as_deref(),
        Ok("n1")
    );
}

#[test]
fn a_nomination_ends_when_the_pod_binds_or_gives_it_up() {
    let mut snapshot = nominated_cluster();
    snapshot.upsert_pod(bound_to(incoming(1000), "n1"));
    assert!(snapshot.nominated_on("n1").is_empty());
    let mut snapshot = nominated_cluster();
    snapshot.clear_nomination(&PodInfo::new(incoming(1000)).key);
    let mut state = crate::schedule::SchedulingState::new(1);
    let replacement = low("replacement", "1", 0, &[]);
    let config = crate::schedule::Config::default();
    assert!(crate::schedule::schedule(&snapshot, &replacement, &config, &mut state).is_ok());
}
