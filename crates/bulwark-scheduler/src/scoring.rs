//! The score plugins of the default profile, their normalization and upstream's default weights.

use crate::cycle::Cycle;
use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::PreferredNodeAffinity;
use crate::plugins::topology_spread::{self, WhenUnsatisfiable};
use crate::plugins::{fit, inter_pod_affinity, node_affinity, taint_toleration};
use crate::snapshot::Snapshot;

/// Plugin weights; upstream's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub taint_toleration: i64,
    pub node_affinity: i64,
    pub least_allocated: i64,
    pub balanced_allocation: i64,
    pub topology_spread: i64,
    pub inter_pod_affinity: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            taint_toleration: 3,
            node_affinity: 2,
            least_allocated: 1,
            balanced_allocation: 1,
            topology_spread: 2,
            inter_pod_affinity: 2,
        }
    }
}

/// One node's raw scores, before normalization.
#[derive(Debug, Clone, Copy, Default)]
struct Raw {
    taint_toleration: i64,
    node_affinity: i64,
    least_allocated: i64,
    balanced_allocation: i64,
    topology_spread: Option<i64>,
    inter_pod_affinity: i64,
}

/// The cycle's score state (upstream's PreScore results).
struct Scorer<'c, 'a> {
    cycle: &'c Cycle<'a>,
    preferred_node_affinity: PreferredNodeAffinity,
    tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    spread: Option<topology_spread::ScoreState>,
    affinity: inter_pod_affinity::ScoreState,
    best_effort: bool,
}

impl<'c, 'a> Scorer<'c, 'a> {
    fn new(snapshot: &Snapshot, cycle: &'c Cycle<'a>, feasible: &[&NodeInfo]) -> Self {
        let pod = cycle.pod;
        let explicit = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        // Constraints were parsed once already by the filter state; an error there ended the cycle.
        let constraints = if explicit {
            topology_spread::constraints_of(pod, WhenUnsatisfiable::ScheduleAnyway)
                .unwrap_or_default()
        } else {
            topology_spread::default_constraints(snapshot, pod)
        };
        let spread = topology_spread::ScoreState::new(
            snapshot,
            pod,
            constraints,
            explicit,
            feasible,
            &cycle.inclusion(),
        );
        Self {
            cycle,
            preferred_node_affinity: PreferredNodeAffinity::of(&pod.pod),
            tolerations: taint_toleration::scoring_tolerations(cycle.tolerations),
            spread,
            affinity: inter_pod_affinity::ScoreState::new(snapshot, pod),
            best_effort: fit::is_best_effort(&pod.requests),
        }
    }

    /// Independent per node: safe to fan out.
    fn raw(&self, node: &NodeInfo) -> Raw {
        let request = &self.cycle.pod.requests;
        Raw {
            taint_toleration: taint_toleration::score(&self.tolerations, node),
            node_affinity: if self.preferred_node_affinity.is_empty() {
                0
            } else {
                self.preferred_node_affinity.score(node)
            },
            least_allocated: fit::least_allocated_score(request, node),
            balanced_allocation: if self.best_effort {
                0
            } else {
                fit::balanced_allocation_score(request, node)
            },
            topology_spread: self.spread.as_ref().and_then(|s| s.score(node)),
            inter_pod_affinity: if self.affinity.is_empty() {
                0
            } else {
                self.affinity.score(node)
            },
        }
    }
}

/// The weighted total score of each feasible node, in the order given.
pub fn total_scores(
    snapshot: &Snapshot,
    cycle: &Cycle<'_>,
    feasible: &[&NodeInfo],
    weights: &Weights,
) -> Vec<i64> {
    let scorer = Scorer::new(snapshot, cycle, feasible);
    let raw: Vec<Raw> = feasible.iter().map(|node| scorer.raw(node)).collect();
    let column = |pick: fn(&Raw) -> i64| raw.iter().map(pick).collect::<Vec<i64>>();

    let mut taints = column(|r| r.taint_toleration);
    taint_toleration::normalize(&mut taints);
    let mut node_affinity = column(|r| r.node_affinity);
    node_affinity::normalize(&mut node_affinity);
    let mut inter_pod = column(|r| r.inter_pod_affinity);
    inter_pod_affinity::normalize(&mut inter_pod);
    let spread = match scorer.spread {
        Some(_) => {
            topology_spread::normalize(&raw.iter().map(|r| r.topology_spread).collect::<Vec<_>>())
        }
        None => vec![0; raw.len()],
    };

    (0..raw.len())
        .map(|i| {
            taints[i] * weights.taint_toleration
                + node_affinity[i] * weights.node_affinity
                + raw[i].least_allocated * weights.least_allocated
                + raw[i].balanced_allocation * weights.balanced_allocation
                + spread[i] * weights.topology_spread
                + inter_pod[i] * weights.inter_pod_affinity
        })
        .collect()
}
