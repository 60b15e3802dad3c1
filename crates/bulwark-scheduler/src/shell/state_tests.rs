use super::*;
use crate::fixtures::{bound_to, node, pod};
use serde_json::json;

fn class(name: &str, value: i32) -> PriorityClass {
    serde_json::from_value(json!({"metadata": {"name": name}, "value": value})).unwrap()
}

#[test]
fn pending_pods_of_ours_are_queued_and_others_are_not() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    let effects = state.on_pod(Change::Upsert(pod("default", "web", "100m", "", &[])));
    assert_eq!(effects.upserts.len(), 1);
    let mut other = pod("default", "other", "100m", "", &[]);
    other.spec.get_or_insert_default().scheduler_name = Some("my-scheduler".into());
    let effects = state.on_pod(Change::Upsert(other));
    assert!(effects.upserts.is_empty());
    assert_eq!(effects.removals.len(), 1);
}

#[test]
fn bound_pods_enter_the_snapshot_and_their_deletion_moves_the_queue() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    state.on_node(Change::Upsert(node("n1", "4", "8Gi", &[])));
    let bound = bound_to(pod("default", "web", "1", "", &[]), "n1");
    let effects = state.on_pod(Change::Upsert(bound.clone()));
    assert!(effects.upserts.is_empty() && !effects.move_all);
    assert_eq!(state.snapshot.node("n1").unwrap().pods().len(), 1);
    let effects = state.on_pod(Change::Delete(bound));
    assert!(effects.move_all);
    assert!(state.snapshot.node("n1").unwrap().pods().is_empty());
}

#[test]
fn a_relist_forgets_pods_deleted_while_unwatched() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    state.on_node(Change::Upsert(node("n1", "4", "8Gi", &[])));
    state.on_pod(Change::Upsert(bound_to(
        pod("default", "a", "1", "", &[]),
        "n1",
    )));
    state.on_pod(Change::Upsert(bound_to(
        pod("default", "b", "1", "", &[]),
        "n1",
    )));
    state.on_pod(Change::RelistStarted);
    state.on_pod(Change::Upsert(bound_to(
        pod("default", "a", "1", "", &[]),
        "n1",
    )));
    let effects = state.on_pod(Change::RelistDone);
    assert!(effects.move_all);
    let names: Vec<_> = state
        .snapshot
        .node("n1")
        .unwrap()
        .pods()
        .iter()
        .map(|p| p.key.name.clone())
        .collect();
    assert_eq!(names, ["a"]);
}

#[test]
fn an_assumed_pod_holds_its_node_until_forgotten() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    state.on_node(Change::Upsert(node("n1", "4", "8Gi", &[])));
    let pending = pod("default", "web", "1", "", &[]);
    let info = PodInfo::new(pending.clone());
    state.assume(&info, "n1");
    assert_eq!(state.snapshot.node("n1").unwrap().pods().len(), 1);
    // A stale pending version of it does not requeue it while the binding is in flight.
    assert!(state.on_pod(Change::Upsert(pending)).upserts.is_empty());
    state.forget(&info.key);
    assert!(state.snapshot.node("n1").unwrap().pods().is_empty());
}

#[test]
fn priority_is_resolved_from_the_class_when_admission_did_not() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    state.on_priority_class(Change::Upsert(class("critical-service", 1_000_000)));
    let mut p = pod("default", "web", "1", "", &[]);
    p.spec.get_or_insert_default().priority_class_name = Some("critical-service".into());
    let effects = state.on_pod(Change::Upsert(p.clone()));
    assert_eq!(effects.upserts[0].priority, 1_000_000);
    p.spec.get_or_insert_default().priority_class_name = Some("gold".into());
    assert_eq!(
        state.with_priority(p).unwrap_err().to_string(),
        "no PriorityClass with name gold was found"
    );
}

#[test]
fn only_scheduling_relevant_node_changes_move_the_queue() {
    let mut state = ClusterState::new(DEFAULT_SCHEDULER_NAME);
    assert!(
        state
            .on_node(Change::Upsert(node("n1", "4", "8Gi", &[])))
            .move_all
    );
    let mut heartbeat = node("n1", "4", "8Gi", &[]);
    heartbeat.metadata.resource_version = Some("9".into());
    assert!(!state.on_node(Change::Upsert(heartbeat)).move_all);
    let mut cordoned = node("n1", "4", "8Gi", &[]);
    cordoned.spec.get_or_insert_default().unschedulable = Some(true);
    assert!(state.on_node(Change::Upsert(cordoned)).move_all);
    assert!(
        state
            .on_node(Change::Upsert(node("n1", "4", "8Gi", &[])))
            .move_all,
        "uncordoned"
    );
}
