//! The benchmark workloads, shaped after kube-scheduler's `scheduler_perf` performance configs:
//! the nodes, the pods already bound when measuring starts, and the pods whose scheduling is
//! measured. Pure data, so that the core benchmark, the end-to-end benchmark and the simulator
//! all place exactly the same cluster.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::json;

use crate::fixtures::{bound_to, node, pod, with_priority, with_spec};
use crate::pod_info::PodInfo;
use crate::preemption::{PdbView, preempt_diagnosed};
use crate::schedule::{Config, SchedulingState, schedule_pod_info};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Plain pods with requests (`SchedulingBasic`).
    Basic,
    /// Every pod refuses to share a node with another of its kind (`SchedulingPodAntiAffinity`).
    RequiredAntiAffinity,
    /// Zone spread, `maxSkew: 1`, `DoNotSchedule` (`SchedulingPodTopologySpreading`).
    HardTopologySpread,
    /// Zone spread, `ScheduleAnyway` (`SchedulingPreferredTopologySpreading`).
    PreferredTopologySpread,
    /// A required node affinity half of the nodes match (`SchedulingNodeAffinity`).
    RequiredNodeAffinity,
    /// Every node full of low-priority pods, then high-priority pods that must preempt
    /// (`PreemptionBasic`).
    Preemption,
}

pub const ALL: [Workload; 6] = [
    Workload::Basic,
    Workload::RequiredAntiAffinity,
    Workload::HardTopologySpread,
    Workload::PreferredTopologySpread,
    Workload::RequiredNodeAffinity,
    Workload::Preemption,
];

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::RequiredAntiAffinity => "required pod anti-affinity",
            Self::HardTopologySpread => "hard topology spread (zones)",
            Self::PreferredTopologySpread => "preferred topology spread",
            Self::RequiredNodeAffinity => "required node affinity",
            Self::Preemption => "preemption",
        }
    }

    /// The flag value naming the workload.
    pub fn key(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::RequiredAntiAffinity => "anti-affinity",
            Self::HardTopologySpread => "hard-spread",
            Self::PreferredTopologySpread => "preferred-spread",
            Self::RequiredNodeAffinity => "node-affinity",
            Self::Preemption => "preemption",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        ALL.into_iter().find(|workload| workload.key() == key)
    }
}

/// A cluster to schedule into.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The classes the pods name (their `spec.priority` is set to match, as admission would).
    pub priority_classes: Vec<PriorityClass>,
    pub nodes: Vec<Node>,
    /// Bound already (`spec.nodeName` set).
    pub existing: Vec<Pod>,
    /// Unbound; their scheduling is what is measured.
    pub measured: Vec<Pod>,
}

/// Zones the nodes are spread over, round robin.
pub const ZONES: usize = 10;
/// Per node: `scheduler_perf`'s node template (4 CPUs, 32 GiB, 110 pods).
const NODE_CPU: &str = "4";
const NODE_MEMORY: &str = "32Gi";
pub const NAMESPACE: &str = "default";

/// The plan for `workload` on `nodes` nodes with `existing` pods bound first and `measured`
/// pods to schedule. Anti-affinity plans are clamped to what the nodes can hold (one per node);
/// the preemption plan fills every node (four 1-CPU pods each) whatever `existing` says.
pub fn plan(workload: Workload, nodes: usize, existing: usize, measured: usize) -> Plan {
    let node_objects: Vec<Node> = (0..nodes).map(bench_node).collect();
    let names: Vec<String> = (0..nodes).map(node_name).collect();
    let (existing, measured) = match workload {
        Workload::RequiredAntiAffinity => {
            let existing = existing.min(nodes);
            (existing, measured.min(nodes - existing))
        }
        Workload::Preemption => (nodes * 4, measured.min(nodes)),
        _ => (existing, measured),
    };
    let existing_pods = (0..existing)
        .map(|i| {
            let pod = match workload {
                Workload::Preemption => prioritised(
                    pod(
                        NAMESPACE,
                        &format!("fill-{i}"),
                        "1",
                        "1Gi",
                        &[("app", "fill")],
                    ),
                    LOW,
                ),
                _ => shaped(workload, &format!("init-{i}")),
            };
            bound_to(pod, &names[i % names.len().max(1)])
        })
        .collect();
    let measured_pods = (0..measured)
        .map(|i| match workload {
            Workload::Preemption => prioritised(
                pod(
                    NAMESPACE,
                    &format!("high-{i}"),
                    "1",
                    "1Gi",
                    &[("app", "high")],
                ),
                HIGH,
            ),
            _ => shaped(workload, &format!("pod-{i}")),
        })
        .collect();
    Plan {
        priority_classes: [LOW, HIGH].into_iter().map(priority_class).collect(),
        nodes: node_objects,
        existing: existing_pods,
        measured: measured_pods,
    }
}

/// The snapshot a plan starts from: its nodes and its bound pods.
pub fn snapshot_of(plan: &Plan) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for node in &plan.nodes {
        snapshot.upsert_node(node.clone());
    }
    for pod in &plan.existing {
        snapshot.upsert_pod(pod.clone());
    }
    snapshot
}

/// What placing a plan's measured pods came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placed {
    /// Pods that found a node without preempting.
    pub bound: usize,
    /// Pods placed by preempting; `victims` pods were evicted for them.
    pub preempted: usize,
    pub victims: usize,
    /// Pods that found no node even with preemption.
    pub unschedulable: usize,
}

/// Schedules `pods` one after another into `snapshot`, as the scheduling loop does: each bound
/// pod is added before the next is considered; a pod that fits nowhere preempts, its victims
/// leave at once and it takes their place (an idealised cluster in which evictions are instant).
pub fn place_all(snapshot: &mut Snapshot, pods: &[Pod], config: &Config, seed: u64) -> Placed {
    let mut state = SchedulingState::new(seed);
    let mut placed = Placed::default();
    let pdbs = PdbView::default();
    for pod in pods {
        let info = PodInfo::new(pod.clone());
        if let Ok(node) = schedule_pod_info(snapshot, &info, config, &mut state) {
            snapshot.upsert_pod(bound_to(pod.clone(), &node));
            placed.bound += 1;
            continue;
        }
        match preempt_diagnosed(snapshot, &info, &pdbs) {
            Ok(preemption) if !preemption.victims.is_empty() => {
                for victim in &preemption.victims {
                    snapshot.remove_pod(victim);
                }
                placed.victims += preemption.victims.len();
                snapshot.upsert_pod(bound_to(pod.clone(), &preemption.node));
                placed.preempted += 1;
            }
            _ => placed.unschedulable += 1,
        }
    }
    placed
}

/// The preemption workload's classes: (name, value).
const LOW: (&str, i32) = ("bench-low", 0);
const HIGH: (&str, i32) = ("bench-high", 1000);

fn priority_class((name, value): (&str, i32)) -> PriorityClass {
    PriorityClass {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        value,
        ..Default::default()
    }
}

fn prioritised(pod: Pod, (class, value): (&str, i32)) -> Pod {
    with_priority(with_spec(pod, json!({"priorityClassName": class})), value)
}

pub fn node_name(index: usize) -> String {
    format!("node-{index}")
}

fn bench_node(index: usize) -> Node {
    let zone = format!("zone-{}", index % ZONES);
    let group = if index.is_multiple_of(2) { "a" } else { "b" };
    node(
        &node_name(index),
        NODE_CPU,
        NODE_MEMORY,
        &[
            ("topology.kubernetes.io/zone", &zone),
            ("bench.bulwark.dev/group", group),
        ],
    )
}

/// A pod of the workload's shape (`scheduler_perf`'s default pod asks for 100m and 500Mi).
fn shaped(workload: Workload, name: &str) -> Pod {
    let base = |labels: &[(&str, &str)]| pod(NAMESPACE, name, "100m", "500Mi", labels);
    let spread = |when: &str| {
        with_spec(
            base(&[("app", "spread")]),
            json!({"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "spread"}},
            }]}),
        )
    };
    match workload {
        Workload::Basic | Workload::Preemption => base(&[("app", "basic")]),
        Workload::RequiredAntiAffinity => with_spec(
            base(&[("color", "green")]),
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"color": "green"}},
                "topologyKey": "kubernetes.io/hostname",
            }]}}}),
        ),
        Workload::HardTopologySpread => spread("DoNotSchedule"),
        Workload::PreferredTopologySpread => spread("ScheduleAnyway"),
        Workload::RequiredNodeAffinity => with_spec(
            base(&[("app", "affine")]),
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "bench.bulwark.dev/group", "operator": "In", "values": ["a"],
                }]}],
            }}}}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_have_the_sizes_asked_for_within_what_fits() {
        let basic = plan(Workload::Basic, 50, 20, 100);
        assert_eq!(
            (
                basic.nodes.len(),
                basic.existing.len(),
                basic.measured.len()
            ),
            (50, 20, 100)
        );
        let anti = plan(Workload::RequiredAntiAffinity, 50, 20, 100);
        assert_eq!((anti.existing.len(), anti.measured.len()), (20, 30));
        let preemption = plan(Workload::Preemption, 50, 0, 100);
        assert_eq!(
            (preemption.existing.len(), preemption.measured.len()),
            (200, 50)
        );
    }

    #[test]
    fn every_small_plan_places_every_pod() {
        for workload in ALL {
            let plan = plan(workload, 60, 20, 40);
            let mut snapshot = snapshot_of(&plan);
            let placed = place_all(&mut snapshot, &plan.measured, &Config::default(), 1);
            assert_eq!(placed.unschedulable, 0, "{}", workload.name());
            assert_eq!(placed.bound + placed.preempted, plan.measured.len());
            if workload == Workload::Preemption {
                assert_eq!(placed.preempted, plan.measured.len());
                assert_eq!(placed.victims, plan.measured.len(), "one 1-CPU victim each");
            }
        }
    }

    #[test]
    fn every_workload_key_round_trips() {
        for workload in ALL {
            assert_eq!(Workload::from_key(workload.key()), Some(workload));
        }
    }
}
