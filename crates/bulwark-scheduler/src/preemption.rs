//! Preemption (upstream's DefaultPreemption PostFilter): when a pod fits nowhere, find the node
//! where evicting strictly lower-priority pods lets it fit, evicting as few and as unimportant
//! pods as possible and avoiding PodDisruptionBudget violations where it can.
//!
//! Per candidate node: take every lower-priority pod out; if the pod still does not fit, the node
//! is no candidate. Otherwise put pods back one by one, most important first (PDB-protected ones
//! before the others), keeping each that still lets the pod fit; the rest are the victims.
//! Among candidates, upstream's order picks: fewest PDB violations, then the lowest highest-victim
//! priority, the smallest priority sum, the fewest victims, the latest-started top victims.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use bulwark_core::selector::LabelSelector;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::cycle::Cycle;
use crate::node_info::NodeInfo;
use crate::plugins::Code;
use crate::pod_info::{PodInfo, PodKey, label_selector};
use crate::priority::NEVER;
use crate::snapshot::Snapshot;

/// The budgets preemption must respect, as their status says now.
#[derive(Debug, Clone, Default)]
pub struct PdbView {
    budgets: Vec<Budget>,
}

#[derive(Debug, Clone)]
struct Budget {
    namespace: String,
    selector: LabelSelector,
    disruptions_allowed: i64,
    /// Pods whose eviction the disruption controller already counted.
    disrupted: BTreeSet<String>,
}

impl PdbView {
    pub fn new(budgets: &[PodDisruptionBudget]) -> Self {
        let budgets = budgets
            .iter()
            .filter_map(|pdb| {
                // A PDB whose selector does not parse protects nothing, as upstream skips it.
                let selector = label_selector(pdb.spec.as_ref()?.selector.as_ref()).ok()?;
                let status = pdb.status.as_ref();
                Some(Budget {
                    namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
                    selector,
                    disruptions_allowed: status.map_or(0, |s| i64::from(s.disruptions_allowed)),
                    disrupted: status
                        .and_then(|s| s.disrupted_pods.as_ref())
                        .map(|d| d.keys().cloned().collect())
                        .unwrap_or_default(),
                })
            })
            .collect();
        Self { budgets }
    }

    /// Splits pods (in the order given) into those whose eviction would take some budget below
    /// zero and those that would not (upstream's `filterPodsWithPDBViolation`).
    fn split(&self, pods: Vec<Arc<PodInfo>>) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
        let mut allowed: Vec<i64> = self.budgets.iter().map(|b| b.disruptions_allowed).collect();
        let mut violating = Vec::new();
        let mut fine = Vec::new();
        for pod in pods {
            let mut violates = false;
            for (i, budget) in self.budgets.iter().enumerate() {
                let protects = !pod.labels.is_empty()
                    && budget.namespace == pod.key.namespace
                    && !budget.selector.is_empty()
                    && budget.selector.matches(&pod.labels)
                    && !budget.disrupted.contains(&pod.key.name);
                if protects {
                    allowed[i] -= 1;
                    violates |= allowed[i] < 0;
                }
            }
            if violates {
                violating.push(pod);
            } else {
                fine.push(pod);
            }
        }
        (violating, fine)
    }
}

/// The decision: nominate `node` for the pod and evict `victims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    pub node: String,
    pub victims: Vec<PodKey>,
    pub pdb_violations: usize,
}

#[derive(Debug, Clone)]
struct Candidate {
    node: String,
    /// Most important first.
    victims: Vec<Arc<PodInfo>>,
    pdb_violations: usize,
}

/// Upstream's `MoreImportantPod`: higher priority, then the one started earlier.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (&a.start_time, &b.start_time) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

/// Whether the pod may preempt at all: not with `preemptionPolicy: Never`, and not while pods it
/// already preempted on its nominated node are still terminating.
fn eligible(snapshot: &Snapshot, pod: &PodInfo) -> Result<(), NoPreemption> {
    let spec = pod.pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some(NEVER) {
        return Err(NoPreemption::NotEligible("preemptionPolicy=Never"));
    }
    let nominated = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .and_then(|n| snapshot.node(n));
    let waiting = nominated.is_some_and(|node| {
        node.pods()
            .iter()
            .any(|p| p.terminating && p.priority < pod.priority)
    });
    if waiting {
        return Err(NoPreemption::NotEligible(
            "a terminating pod on the nominated node",
        ));
    }
    Ok(())
}

pub fn preempt(snapshot: &Snapshot, pod: &Pod, pdbs: &PdbView) -> Option<Preemption> {
    preempt_pod_info(snapshot, &PodInfo::new(pod.clone()), pdbs)
}

pub fn preempt_pod_info(snapshot: &Snapshot, pod: &PodInfo, pdbs: &PdbView) -> Option<Preemption> {
    preempt_diagnosed(snapshot, pod, pdbs).ok()
}

/// Why preemption found no node, in upstream's words (the `preemption: …` part of a
/// `FailedScheduling` message): `preemption: 0/3 nodes are available: 3 No preemption victims
/// found for incoming pod.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPreemption {
    /// The pod may not preempt (`preemptionPolicy: Never`, or its earlier victims are still
    /// terminating).
    NotEligible(&'static str),
    /// Every node was looked at: how many each reason turned down.
    NoCandidate {
        num_all_nodes: usize,
        reasons: BTreeMap<String, usize>,
    },
}

impl fmt::Display for NoPreemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEligible(why) => write!(f, "preemption: not eligible due to {why}."),
            Self::NoCandidate {
                num_all_nodes,
                reasons,
            } => {
                let mut entries: Vec<String> = reasons
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect();
                entries.sort();
                write!(
                    f,
                    "preemption: 0/{num_all_nodes} nodes are available: {}.",
                    entries.join(", ")
                )
            }
        }
    }
}

pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// [`preempt_pod_info`], with upstream's explanation when no node can be freed.
pub fn preempt_diagnosed(
    snapshot: &Snapshot,
    pod: &PodInfo,
    pdbs: &PdbView,
) -> Result<Preemption, NoPreemption> {
    eligible(snapshot, pod)?;
    let mut cycle = Cycle::new(snapshot, pod).map_err(|_| NoPreemption::NoCandidate {
        num_all_nodes: snapshot.nodes().len(),
        reasons: BTreeMap::from([(NOT_HELPFUL.to_string(), snapshot.nodes().len())]),
    })?;
    let mut candidates = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for node in snapshot.nodes() {
        match cycle.filter_with_nominated(snapshot, node) {
            // The pod fits here already: nothing to evict.
            Ok(()) => {
                return Ok(Preemption {
                    node: node.name.clone(),
                    victims: Vec::new(),
                    pdb_violations: 0,
                });
            }
            Err(rejection) if rejection.code == Code::UnschedulableAndUnresolvable => {
                *reasons.entry(NOT_HELPFUL.to_string()).or_insert(0) += 1;
                continue;
            }
            Err(_) => {}
        }
        match select_victims(snapshot, &mut cycle, node, pdbs) {
            Ok(candidate) => candidates.push(candidate),
            Err(why) => {
                for reason in why {
                    *reasons.entry(reason).or_insert(0) += 1;
                }
            }
        }
    }
    let chosen = pick_one(candidates).ok_or_else(|| NoPreemption::NoCandidate {
        num_all_nodes: snapshot.nodes().len(),
        reasons,
    })?;
    Ok(Preemption {
        node: chosen.node,
        victims: chosen.victims.iter().map(|v| v.key.clone()).collect(),
        pdb_violations: chosen.pdb_violations,
    })
}

/// Upstream's `SelectVictimsOnNode`. Leaves `cycle` as it found it. Fails with the reasons the
/// node stays infeasible.
fn select_victims(
    snapshot: &Snapshot,
    cycle: &mut Cycle<'_>,
    node: &NodeInfo,
    pdbs: &PdbView,
) -> Result<Candidate, Vec<String>> {
    let priority = cycle.pod.priority;
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods()
        .iter()
        .filter(|p| p.priority < priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(vec![NO_VICTIMS.to_string()]);
    }
    let mut trial = node.clone();
    for victim in &potential {
        trial.remove_pod(&victim.key);
        cycle.update_pod(snapshot, victim, node, -1);
    }
    if let Err(rejection) = cycle.filter_with_nominated(snapshot, &trial) {
        // No fit even with every lower-priority pod gone: put them all back.
        for victim in &potential {
            cycle.update_pod(snapshot, victim, node, 1);
        }
        return Err(rejection
            .reasons
            .into_iter()
            .map(|r| r.into_owned())
            .collect());
    }
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, fine) = pdbs.split(potential);
    let mixed = !violating.is_empty() && !fine.is_empty();
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    let reprieve_order = violating
        .into_iter()
        .map(|p| (true, p))
        .chain(fine.into_iter().map(|p| (false, p)));
    for (protected, pod) in reprieve_order {
        trial.add_pod(pod.clone());
        cycle.update_pod(snapshot, &pod, node, 1);
        if cycle.filter_with_nominated(snapshot, &trial).is_err() {
            trial.remove_pod(&pod.key);
            cycle.update_pod(snapshot, &pod, node, -1);
            pdb_violations += usize::from(protected);
            victims.push(pod);
        }
    }
    if mixed {
        victims.sort_by(|a, b| more_important(a, b));
    }
    for victim in &victims {
        cycle.update_pod(snapshot, victim, node, 1);
    }
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// Upstream's `pickOneNodeForPreemption`: each criterion narrows the field until one is left;
/// remaining ties go to the first candidate in node order.
fn pick_one(candidates: Vec<Candidate>) -> Option<Candidate> {
    if let Some(free) = candidates.iter().find(|c| c.victims.is_empty()) {
        return Some(free.clone());
    }
    let criteria: [fn(&Candidate) -> i128; 5] = [
        |c| -(c.pdb_violations as i128),
        |c| -i128::from(c.victims.first().map_or(i32::MIN, |v| v.priority)),
        |c| {
            -c.victims
                .iter()
                .map(|v| i128::from(v.priority) + i128::from(i32::MAX) + 1)
                .sum::<i128>()
        },
        |c| -(c.victims.len() as i128),
        latest_top_victim_start,
    ];
    let mut field = candidates;
    for criterion in criteria {
        let best = field.iter().map(criterion).max()?;
        field.retain(|c| criterion(c) == best);
        if field.len() == 1 {
            break;
        }
    }
    field.into_iter().next()
}

/// The earliest start among the highest-priority victims, as nanoseconds; later is better.
fn latest_top_victim_start(candidate: &Candidate) -> i128 {
    let Some(top) = candidate.victims.first().map(|v| v.priority) else {
        return i128::MIN;
    };
    candidate
        .victims
        .iter()
        .filter(|v| v.priority == top)
        .filter_map(|v| v.start_time.as_ref())
        .map(|t| t.0.as_nanosecond())
        .min()
        .unwrap_or(i128::MIN)
}

#[cfg(test)]
#[path = "preemption_tests.rs"]
mod tests;
