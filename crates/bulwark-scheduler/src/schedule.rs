//! One scheduling decision: filter nodes (up to the adaptive number worth finding), score the
//! feasible ones, pick the best. Pure and deterministic: the rotating start node and the
//! tie-breaking draws live in [`SchedulingState`], which the caller owns and seeds.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;

use crate::cycle::Cycle;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::scoring::{Weights, total_scores};
use crate::snapshot::Snapshot;

/// Below this many nodes every node is checked (`minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (`minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `percentageOfNodesToScore`; 0 (the default) adapts to the cluster size as upstream does.
    pub percentage_of_nodes_to_score: u32,
    pub weights: Weights,
}

/// Upstream's `numFeasibleNodesToFind`: all nodes below 100; otherwise a percentage that shrinks
/// from 50% by one point per 125 nodes down to 5%, and never fewer than 100 nodes.
pub fn num_feasible_nodes_to_find(percentage_of_nodes_to_score: u32, all_nodes: usize) -> usize {
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return all_nodes;
    }
    let mut percentage = percentage_of_nodes_to_score as usize;
    if percentage == 0 {
        percentage = 50usize
            .saturating_sub(all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (all_nodes * percentage.min(100) / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// What carries over between cycles: where the next search starts (so successive pods look at
/// different nodes first, as upstream's `nextStartNodeIndex`) and the tie-breaking generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulingState {
    pub next_start_node_index: usize,
    rng: u64,
}

impl SchedulingState {
    pub fn new(seed: u64) -> Self {
        Self {
            next_start_node_index: 0,
            rng: seed,
        }
    }

    /// SplitMix64: tiny, fast and good enough to pick among equally scored nodes.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// Why no node fits, in upstream's words:
/// `0/6 nodes are available: 2 node(s) didn't match pod anti-affinity rules, 4 Insufficient memory.`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Unschedulable {
    pub num_all_nodes: usize,
    /// How many nodes each reason turned down.
    pub reasons: BTreeMap<String, usize>,
    /// Set when the pod could not be evaluated at all (upstream's PreFilter message).
    pub pre_filter_message: Option<String>,
}

impl fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        if let Some(message) = &self.pre_filter_message {
            return write!(f, " {message}.");
        }
        // Upstream sorts the "<count> <reason>" strings themselves, so "10 …" sorts before "2 …".
        let mut entries: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        entries.sort();
        if !entries.is_empty() {
            write!(f, " {}.", entries.join(", "))?;
        }
        Ok(())
    }
}

/// Schedules a pod: the name of the node it should be bound to.
pub fn schedule(
    snapshot: &Snapshot,
    pod: &Pod,
    config: &Config,
    state: &mut SchedulingState,
) -> Result<String, Unschedulable> {
    schedule_pod_info(snapshot, &PodInfo::new(pod.clone()), config, state)
}

/// [`schedule`] for a pod already parsed (the shell keeps `PodInfo`s in its queue).
pub fn schedule_pod_info(
    snapshot: &Snapshot,
    pod: &PodInfo,
    config: &Config,
    state: &mut SchedulingState,
) -> Result<String, Unschedulable> {
    let nodes = snapshot.nodes();
    let unschedulable = |reasons, pre_filter_message| Unschedulable {
        num_all_nodes: nodes.len(),
        reasons,
        pre_filter_message,
    };
    if nodes.is_empty() {
        return Err(unschedulable(BTreeMap::new(), None));
    }
    let cycle = Cycle::new(snapshot, pod).map_err(|m| unschedulable(BTreeMap::new(), Some(m)))?;
    let (feasible, reasons) = find_feasible(snapshot, &cycle, config, state);
    match feasible.as_slice() {
        [] => Err(unschedulable(reasons, None)),
        [only] => Ok(only.name.clone()),
        _ => {
            let scores = total_scores(snapshot, &cycle, &feasible, &config.weights);
            Ok(feasible[select_host(&scores, state)].name.clone())
        }
    }
}

/// Filters nodes from the rotating start until enough feasible ones are found; returns them
/// and the histogram of reasons for those turned down.
fn find_feasible<'n>(
    snapshot: &'n Snapshot,
    cycle: &Cycle<'_>,
    config: &Config,
    state: &mut SchedulingState,
) -> (Vec<&'n NodeInfo>, BTreeMap<String, usize>) {
    let nodes = snapshot.nodes();
    let wanted = num_feasible_nodes_to_find(config.percentage_of_nodes_to_score, nodes.len());
    let start = state.next_start_node_index % nodes.len();
    let mut feasible = Vec::with_capacity(wanted);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut processed = 0;
    for offset in 0..nodes.len() {
        if feasible.len() >= wanted {
            break;
        }
        let node = &nodes[(start + offset) % nodes.len()];
        processed += 1;
        match cycle.filter_with_nominated(snapshot, node) {
            Ok(()) => feasible.push(node),
            Err(rejection) => {
                for reason in rejection.reasons {
                    *reasons.entry(reason.into_owned()).or_insert(0) += 1;
                }
            }
        }
    }
    state.next_start_node_index = (start + processed) % nodes.len();
    (feasible, reasons)
}

/// The index of a highest score; ties are broken uniformly at random (reservoir sampling, as
/// upstream's `selectHost`).
fn select_host(scores: &[i64], state: &mut SchedulingState) -> usize {
    let mut best = 0;
    let mut ties = 0u64;
    for (i, &score) in scores.iter().enumerate() {
        if score > scores[best] {
            best = i;
            ties = 1;
        } else if score == scores[best] {
            ties += 1;
            if state.below(ties) == 0 {
                best = i;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_feasible_nodes_follows_upstream() {
        assert_eq!(num_feasible_nodes_to_find(0, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(0, 100), 100);
        // 1000 nodes: 50 - 8 = 42%.
        assert_eq!(num_feasible_nodes_to_find(0, 1000), 420);
        // 5000 nodes: 50 - 40 = 10%.
        assert_eq!(num_feasible_nodes_to_find(0, 5000), 500);
        // 6000+ nodes bottom out at 5%.
        assert_eq!(num_feasible_nodes_to_find(0, 10_000), 500);
        assert_eq!(num_feasible_nodes_to_find(0, 150), 100);
        assert_eq!(num_feasible_nodes_to_find(30, 1000), 300);
    }

    #[test]
    fn message_counts_and_sorts_reasons_like_upstream() {
        let error = Unschedulable {
            num_all_nodes: 6,
            reasons: BTreeMap::from([
                ("Insufficient memory".to_string(), 4),
                (
                    "node(s) didn't match pod anti-affinity rules".to_string(),
                    2,
                ),
            ]),
            pre_filter_message: None,
        };
        assert_eq!(
            error.to_string(),
            "0/6 nodes are available: 2 node(s) didn't match pod anti-affinity rules, 4 Insufficient memory."
        );
    }

    #[test]
    fn no_nodes_has_its_own_message() {
        let error = Unschedulable {
            num_all_nodes: 0,
            reasons: BTreeMap::new(),
            pre_filter_message: None,
        };
        assert_eq!(error.to_string(), "no nodes available to schedule pods");
    }

    #[test]
    fn ties_are_spread_and_reproducible() {
        let scores = [5, 7, 7, 7, 1];
        let picks = |seed| {
            let mut state = SchedulingState::new(seed);
            (0..60)
                .map(|_| select_host(&scores, &mut state))
                .collect::<Vec<_>>()
        };
        let first = picks(42);
        assert_eq!(first, picks(42));
        for winner in [1, 2, 3] {
            assert!(first.contains(&winner));
        }
        assert!(!first.contains(&0) && !first.contains(&4));
    }
}
