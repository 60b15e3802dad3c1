use super::*;
use crate::pods::fixtures::{at, pod};
use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{Container, NodeSpec, PodTemplateSpec, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use proptest::prelude::*;

fn ds() -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            name: Some("agent".into()),
            namespace: Some("default".into()),
            uid: Some("ds-uid".into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "agent".to_string())].into()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("agent:1".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

fn with_rolling(mut ds: DaemonSet, surge: IntOrString, unavailable: IntOrString) -> DaemonSet {
    ds.spec.as_mut().unwrap().update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
        }),
    });
    ds
}

fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(key, effect)| Taint {
                        key: key.to_string(),
                        effect: effect.to_string(),
                        ..Taint::default()
                    })
                    .collect(),
            ),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

/// A daemon pod of `hash` on `node`, ready since `ready` if given.
fn daemon_pod(name: &str, node: &str, hash: &str, ready: Option<i64>) -> Pod {
    let mut p = pod(name, 0, Some(node), "Running", ready);
    p.metadata.labels = Some([(HASH_LABEL.to_string(), hash.to_string())].into());
    p.metadata.owner_references = Some(vec![OwnerReference {
        uid: "ds-uid".into(),
        controller: Some(true),
        kind: "DaemonSet".into(),
        ..OwnerReference::default()
    }]);
    p
}

fn world<'a>(ds: &'a DaemonSet, nodes: &'a [&'a Node], pods: &'a [&'a Pod]) -> World<'a> {
    World {
        ds,
        nodes,
        pods,
        hash: "new",
        now: at(100),
    }
}

#[test]
fn every_eligible_node_gets_one_pod() {
    let d = ds();
    let (a, b) = (node("a", &[], &[]), node("b", &[], &[]));
    let nodes = [&a, &b];
    let on_a = daemon_pod("p-a", "a", "new", Some(1));
    let pods = [&on_a];
    let plan = manage(&world(&d, &nodes, &pods), &mut FailedPodBackoff::default()).unwrap();
    assert_eq!(plan.create, vec!["b".to_string()]);
    assert!(plan.delete.is_empty());
}

#[test]
fn new_pods_are_pinned_by_affinity_and_tolerate_daemon_taints() {
    let p = new_pod(&ds(), "node-7", "h1").unwrap();
    assert_eq!(target_node(&p).as_deref(), Some("node-7"));
    assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
    assert_eq!(p.metadata.labels.unwrap()[HASH_LABEL], "h1");
    let spec = p.spec.unwrap();
    assert_eq!(spec.node_name, None);
    let tolerations = spec.tolerations.unwrap();
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        let t = tolerations
            .iter()
            .find(|t| t.key.as_deref() == Some(key))
            .unwrap();
        assert_eq!(t.effect.as_deref(), Some("NoExecute"));
        assert_eq!(t.toleration_seconds, None);
    }
    assert!(
        tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable"))
    );
    assert!(
        !tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some("node.kubernetes.io/network-unavailable"))
    );
}

#[test]
fn placement_follows_selector_affinity_and_taints() {
    let mut d = ds();
    d.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .node_selector = Some([("role".to_string(), "edge".to_string())].into());
    let template = template_pod(&d).unwrap();
    let edge = node("a", &[("role", "edge")], &[]);
    let core_node = node("b", &[("role", "core")], &[]);
    assert!(placement(&template, &edge).should_run);
    assert_eq!(
        placement(&template, &core_node),
        Placement {
            should_run: false,
            should_continue_running: false
        }
    );
    // Daemon tolerations cover cordoned and not-ready nodes.
    let cordoned = node(
        "c",
        &[("role", "edge")],
        &[("node.kubernetes.io/unschedulable", "NoSchedule")],
    );
    assert!(placement(&template, &cordoned).should_run);
    let no_schedule = node("d", &[("role", "edge")], &[("dedicated", "NoSchedule")]);
    assert_eq!(
        placement(&template, &no_schedule),
        Placement {
            should_run: false,
            should_continue_running: true
        }
    );
    let no_execute = node("e", &[("role", "edge")], &[("dedicated", "NoExecute")]);
    assert!(!placement(&template, &no_execute).should_continue_running);
}

#[test]
fn pods_on_nodes_that_became_ineligible_are_deleted() {
    let mut d = ds();
    d.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .node_selector = Some([("role".to_string(), "edge".to_string())].into());
    let relabelled = node("a", &[("role", "core")], &[]);
    let nodes = [&relabelled];
    let p = daemon_pod("p-a", "a", "new", Some(1));
    let pods = [&p];
    let w = world(&d, &nodes, &pods);
    let plan = manage(&w, &mut FailedPodBackoff::default()).unwrap();
    assert_eq!(plan.delete, vec!["p-a".to_string()]);
    let status = status(&w).unwrap();
    assert_eq!(status.number_misscheduled, 1);
    assert_eq!(status.desired_number_scheduled, 0);
}

#[test]
fn extra_pods_on_a_node_go_oldest_kept() {
    let d = ds();
    let a = node("a", &[], &[]);
    let nodes = [&a];
    let old = daemon_pod("old", "a", "new", Some(1));
    let mut young = daemon_pod("young", "a", "new", Some(1));
    young.metadata.creation_timestamp = Some(Time(at(50)));
    let pods = [&young, &old];
    let plan = manage(&world(&d, &nodes, &pods), &mut FailedPodBackoff::default()).unwrap();
    assert_eq!(plan.delete, vec!["young".to_string()]);
}

#[test]
fn failed_pods_are_replaced_with_backoff() {
    let d = ds();
    let a = node("a", &[], &[]);
    let nodes = [&a];
    let mut failed = daemon_pod("f", "a", "new", None);
    failed.status.as_mut().unwrap().phase = Some("Failed".into());
    let pods = [&failed];
    let mut backoff = FailedPodBackoff::default();
    let mut w = world(&d, &nodes, &pods);
    let first = manage(&w, &mut backoff).unwrap();
    assert_eq!(first.delete, vec!["f".to_string()]);
    assert_eq!(first.failed[0].node, "a");
    // The replacement failed again at once: wait out the backoff (1 s, then 2 s).
    w.now = at(100) + SignedDuration::from_millis(500);
    let waiting = manage(&w, &mut backoff).unwrap();
    assert!(waiting.delete.is_empty());
    assert_eq!(waiting.requeue, Some(Duration::from_millis(500)));
    w.now = at(102);
    assert_eq!(manage(&w, &mut backoff).unwrap().delete.len(), 1);
    w.now = at(103);
    assert!(manage(&w, &mut backoff).unwrap().delete.is_empty());
}

#[test]
fn unscheduled_pods_for_vanished_nodes_are_deleted() {
    let d = ds();
    let mut pending = new_pod(&d, "gone", "new").unwrap();
    pending.metadata.name = Some("pending".into());
    let pods = [&pending];
    let plan = manage(&world(&d, &[], &pods), &mut FailedPodBackoff::default()).unwrap();
    assert_eq!(plan.delete, vec!["pending".to_string()]);
}

#[test]
fn status_counts_what_rollout_status_reads() {
    let d = ds();
    let (a, b, c) = (
        node("a", &[], &[]),
        node("b", &[], &[]),
        node("c", &[], &[]),
    );
    let nodes = [&a, &b, &c];
    let ready_new = daemon_pod("p-a", "a", "new", Some(1));
    let unready_old = daemon_pod("p-b", "b", "old", None);
    let pods = [&ready_new, &unready_old];
    let s = status(&world(&d, &nodes, &pods)).unwrap();
    assert_eq!(s.desired_number_scheduled, 3);
    assert_eq!(s.current_number_scheduled, 2);
    assert_eq!(s.number_ready, 1);
    assert_eq!(s.number_available, Some(1));
    assert_eq!(s.number_unavailable, Some(2));
    assert_eq!(s.updated_number_scheduled, Some(1));
    assert_eq!(s.observed_generation, Some(1));
}

#[test]
fn percentages_scale_over_desired_nodes_rounding_up() {
    let d = with_rolling(ds(), IntOrString::Int(0), IntOrString::String("30%".into()));
    assert_eq!(surge_and_unavailable(&d, 10).unwrap(), (0, 3));
    assert_eq!(surge_and_unavailable(&d, 5).unwrap(), (0, 2));
    let both_zero = with_rolling(ds(), IntOrString::Int(0), IntOrString::Int(0));
    assert_eq!(surge_and_unavailable(&both_zero, 5).unwrap(), (0, 1));
    let bad = with_rolling(ds(), IntOrString::Int(0), IntOrString::String("x".into()));
    assert!(surge_and_unavailable(&bad, 5).is_err());
}

#[test]
fn surge_creates_beside_old_pods_and_deletes_them_once_replaced() {
    let d = with_rolling(ds(), IntOrString::Int(1), IntOrString::Int(0));
    let (a, b) = (node("a", &[], &[]), node("b", &[], &[]));
    let nodes = [&a, &b];
    let old_a = daemon_pod("old-a", "a", "old", Some(1));
    let old_b = daemon_pod("old-b", "b", "old", Some(1));
    let pods = [&old_a, &old_b];
    let step = rolling_update(&world(&d, &nodes, &pods)).unwrap();
    assert_eq!(step.create, vec!["a".to_string()]);
    assert!(step.delete.is_empty());
    let starting = daemon_pod("new-a", "a", "new", None);
    let pods = [&old_a, &old_b, &starting];
    let step = rolling_update(&world(&d, &nodes, &pods)).unwrap();
    assert!(
        step.is_empty(),
        "one surge at a time, old pods kept: {step:?}"
    );
    let new_a = daemon_pod("new-a", "a", "new", Some(50));
    let pods = [&old_a, &old_b, &new_a];
    let step = rolling_update(&world(&d, &nodes, &pods)).unwrap();
    assert_eq!(step.delete, vec!["old-a".to_string()]);
    assert_eq!(step.create, vec!["b".to_string()]);
}

/// A toy cluster: each node runs at most one old and one new daemon pod (ready or not).
#[derive(Debug, Clone)]
struct NodeState {
    old: Option<bool>,
    new: Option<bool>,
}

fn pods_of(states: &[NodeState]) -> Vec<Pod> {
    let mut pods = Vec::new();
    for (i, state) in states.iter().enumerate() {
        let node = format!("n{i}");
        if let Some(ready) = state.old {
            pods.push(daemon_pod(
                &format!("old-{i}"),
                &node,
                "old",
                ready.then_some(1),
            ));
        }
        if let Some(ready) = state.new {
            pods.push(daemon_pod(
                &format!("new-{i}"),
                &node,
                "new",
                ready.then_some(1),
            ));
        }
    }
    pods
}

fn node_state() -> impl Strategy<Value = NodeState> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        // A node without pods gets one from `manage` before a rolling update step runs.
        .prop_map(|(old, new)| match (old, new) {
            (None, None) => NodeState {
                old: Some(true),
                new: None,
            },
            (old, new) => NodeState { old, new },
        })
}

proptest! {
    /// Without surge, one rolling-update step never takes the unavailable nodes past
    /// `maxUnavailable`, counting those it makes unavailable by deleting available old pods.
    #[test]
    fn rolling_update_never_exceeds_max_unavailable(
        states in proptest::collection::vec(node_state(), 1..12),
        max_unavailable in 1i32..5,
    ) {
        let d = with_rolling(ds(), IntOrString::Int(0), IntOrString::Int(max_unavailable));
        let nodes: Vec<Node> = (0..states.len()).map(|i| node(&format!("n{i}"), &[], &[])).collect();
        let node_refs: Vec<&Node> = nodes.iter().collect();
        let pods = pods_of(&states);
        let pod_refs: Vec<&Pod> = pods.iter().collect();
        let w = world(&d, &node_refs, &pod_refs);
        let plan = rolling_update(&w).unwrap();
        let unavailable_before = states.iter().filter(|s| match (s.old, s.new) {
            (None, Some(ready)) => !ready,
            (Some(_), None) => false,
            _ => true,
        }).count();
        let unavailable_old_deleted = states.iter().enumerate().filter(|(i, s)| {
            s.new.is_none() && s.old == Some(false) && plan.delete.contains(&format!("old-{i}"))
        }).count();
        let newly_unavailable = plan.delete.len() - unavailable_old_deleted;
        let limit = usize::try_from(max_unavailable).unwrap();
        prop_assert!(newly_unavailable == 0 || unavailable_before + newly_unavailable <= limit,
            "{unavailable_before} unavailable + {newly_unavailable} deleted > {limit}: {:?}", plan.delete);
        prop_assert!(plan.create.is_empty());
    }

    /// Converged, a DaemonSet has exactly one pod on each eligible node and none elsewhere:
    /// applying manage's plans until they are empty never leaves two pods on one node.
    #[test]
    fn manage_converges_to_one_pod_per_eligible_node(
        eligible in proptest::collection::vec(any::<bool>(), 1..10),
        initial in proptest::collection::vec(0usize..3, 1..10),
    ) {
        let mut d = ds();
        d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().node_selector =
            Some([("run".to_string(), "yes".to_string())].into());
        let nodes: Vec<Node> = eligible.iter().enumerate().map(|(i, yes)| {
            node(&format!("n{i}"), &[("run", if *yes { "yes" } else { "no" })], &[])
        }).collect();
        let node_refs: Vec<&Node> = nodes.iter().collect();
        let mut pods: Vec<Pod> = Vec::new();
        for (i, count) in initial.iter().enumerate().take(nodes.len()) {
            for k in 0..*count {
                let mut p = daemon_pod(&format!("p{i}-{k}"), &format!("n{i}"), "new", Some(1));
                p.metadata.creation_timestamp = Some(Time(at(i64::try_from(k).unwrap())));
                pods.push(p);
            }
        }
        let mut backoff = FailedPodBackoff::default();
        let mut made = 0;
        for _round in 0..5 {
            let pod_refs: Vec<&Pod> = pods.iter().collect();
            let plan = manage(&world(&d, &node_refs, &pod_refs), &mut backoff).unwrap();
            if plan.is_empty() {
                break;
            }
            pods.retain(|p| !plan.delete.contains(p.metadata.name.as_ref().unwrap()));
            for node in &plan.create {
                made += 1;
                let mut p = new_pod(&d, node, "new").unwrap();
                p.metadata.name = Some(format!("made-{made}"));
                pods.push(p);
            }
        }
        for (i, yes) in eligible.iter().enumerate() {
            let here = pods.iter().filter(|p| target_node(p).as_deref() == Some(format!("n{i}").as_str())).count();
            prop_assert_eq!(here, usize::from(*yes), "node n{}", i);
        }
    }
}
