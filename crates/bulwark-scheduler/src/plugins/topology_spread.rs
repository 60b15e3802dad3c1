//! PodTopologySpread: `DoNotSchedule` constraints as a filter (placing the pod must not push a
//! domain more than `maxSkew` above the least loaded one), `ScheduleAnyway` constraints — or the
//! system default spreading by hostname and zone — as a score.

use std::collections::{HashMap, HashSet};

use bulwark_core::selector::{LabelSelector, Operator, Requirement};
use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::node_affinity::RequiredNodeAffinity;
use super::taint_toleration::{NO_EXECUTE, NO_SCHEDULE, tolerated};
use super::{FilterResult, MAX_NODE_SCORE, Rejection};
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, label_selector};
use crate::snapshot::Snapshot;

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const MISSING_LABEL_REASON: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ZONE: &str = "topology.kubernetes.io/zone";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

/// One constraint, its selector already extended with the pod's `matchLabelKeys` values.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub max_skew: i64,
    pub topology_key: String,
    pub selector: LabelSelector,
    pub min_domains: i64,
    /// `nodeAffinityPolicy: Honor` (the default): count only nodes the pod's node affinity allows.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor`: count only nodes whose taints the pod tolerates (default Ignore).
    pub honor_taints: bool,
}

/// What a constraint needs from the incoming pod to decide which nodes count.
pub struct Inclusion<'a> {
    pub node_affinity: &'a RequiredNodeAffinity,
    pub tolerations: &'a [Toleration],
}

impl Constraint {
    fn includes(&self, node: &NodeInfo, inclusion: &Inclusion<'_>) -> bool {
        if self.honor_node_affinity && !inclusion.node_affinity.matches(node) {
            return false;
        }
        if self.honor_taints {
            let blocking = |t: &&Taint| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE;
            if node
                .taints
                .iter()
                .filter(blocking)
                .any(|t| !tolerated(inclusion.tolerations, t))
            {
                return false;
            }
        }
        true
    }

    /// Upstream's `countPodsMatchSelector`: live pods in the incoming pod's namespace.
    fn count(&self, node: &NodeInfo, namespace: &str) -> i64 {
        node.pods()
            .iter()
            .filter(|p| self.counts_pod(p, namespace))
            .count() as i64
    }

    fn counts_pod(&self, pod: &PodInfo, namespace: &str) -> bool {
        !pod.terminating && pod.key.namespace == namespace && self.selector.matches(&pod.labels)
    }
}

/// The pod's own constraints of one kind. An invalid selector is an error, as upstream's.
pub fn constraints_of(pod: &PodInfo, when: WhenUnsatisfiable) -> Result<Vec<Constraint>, String> {
    let wanted = match when {
        WhenUnsatisfiable::DoNotSchedule => "DoNotSchedule",
        WhenUnsatisfiable::ScheduleAnyway => "ScheduleAnyway",
    };
    let spec = pod.pod.spec.as_ref();
    let mut constraints = Vec::new();
    for c in spec
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
    {
        if c.when_unsatisfiable != wanted {
            continue;
        }
        let mut selector = label_selector(c.label_selector.as_ref()).map_err(|e| e.to_string())?;
        for key in c.match_label_keys.iter().flatten() {
            if let Some(value) = pod.labels.get(key) {
                let requirement = Requirement::new(key, Operator::In, vec![value.clone()])
                    .map_err(|e| e.to_string())?;
                selector = selector.with_requirement(requirement);
            }
        }
        constraints.push(Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.map_or(1, i64::from),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(constraints)
}

/// The system default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) over the
/// selector of the Services and controller that own the pod; none when nothing selects it.
pub fn default_constraints(snapshot: &Snapshot, pod: &PodInfo) -> Vec<Constraint> {
    let selector = snapshot.default_spread_selector(pod);
    if selector.is_empty() {
        return Vec::new();
    }
    [(HOSTNAME, 3), (ZONE, 5)]
        .into_iter()
        .map(|(key, max_skew)| Constraint {
            max_skew,
            topology_key: key.into(),
            selector: selector.clone(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_taints: false,
        })
        .collect()
}

fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.labels.contains_key(&c.topology_key))
}

/// The cycle's per-domain counts of matching pods (upstream's PreFilter state).
#[derive(Debug, Clone)]
pub struct FilterState {
    constraints: Vec<Constraint>,
    namespace: String,
    /// Per constraint: domain value → matching pods in it.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: the global minimum the skew is measured against.
    minimum: Vec<i64>,
}

impl FilterState {
    /// `None` when the pod has no `DoNotSchedule` constraint.
    pub fn new(
        snapshot: &Snapshot,
        pod: &PodInfo,
        constraints: Vec<Constraint>,
        inclusion: &Inclusion<'_>,
    ) -> Option<Self> {
        if constraints.is_empty() {
            return None;
        }
        let mut counts = vec![HashMap::new(); constraints.len()];
        for node in snapshot.nodes() {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(node, inclusion) {
                    continue;
                }
                let value = node
                    .labels
                    .get(&c.topology_key)
                    .cloned()
                    .unwrap_or_default();
                *counts[i].entry(value).or_insert(0) += c.count(node, &pod.key.namespace);
            }
        }
        let mut state = Self {
            minimum: vec![0; constraints.len()],
            constraints,
            namespace: pod.key.namespace.clone(),
            counts,
        };
        state.recompute_minimum();
        Some(state)
    }

    fn recompute_minimum(&mut self) {
        for (i, c) in self.constraints.iter().enumerate() {
            let domains = &self.counts[i];
            self.minimum[i] = if (domains.len() as i64) < c.min_domains {
                // Too few domains: treat the missing ones as empty.
                0
            } else {
                domains.values().copied().min().unwrap_or(0)
            };
        }
    }

    /// Adds or removes one existing pod's contribution (preemption takes victims out this way).
    pub fn update(
        &mut self,
        existing: &PodInfo,
        node: &NodeInfo,
        inclusion: &Inclusion<'_>,
        delta: i64,
    ) {
        if !has_all_keys(node, &self.constraints) {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.counts_pod(existing, &self.namespace) || !c.includes(node, inclusion) {
                continue;
            }
            let value = node
                .labels
                .get(&c.topology_key)
                .cloned()
                .unwrap_or_default();
            *self.counts[i].entry(value).or_insert(0) += delta;
        }
        self.recompute_minimum();
    }

    pub fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(value) = node.labels.get(&c.topology_key) else {
                return Err(Rejection::unresolvable(MISSING_LABEL_REASON));
            };
            let self_match = i64::from(c.selector.matches(&pod.labels));
            let matching = self.counts[i].get(value).copied().unwrap_or(0);
            if matching + self_match - self.minimum[i] > c.max_skew {
                return Err(Rejection::unschedulable(REASON));
            }
        }
        Ok(())
    }
}

/// The cycle's scoring state (upstream's PreScore state).
#[derive(Debug, Clone)]
pub struct ScoreState {
    constraints: Vec<Constraint>,
    namespace: String,
    ignored: HashSet<String>,
    /// Matching pods per (topology key, value) for non-hostname keys, over candidate domains.
    pair_counts: HashMap<(String, String), i64>,
    weights: Vec<f64>,
}

impl ScoreState {
    /// `explicit` is true when the pod has its own constraints; then nodes lacking any of the
    /// topology keys are not scored at all. `None` when there is nothing to score.
    pub fn new(
        snapshot: &Snapshot,
        pod: &PodInfo,
        constraints: Vec<Constraint>,
        explicit: bool,
        feasible: &[&NodeInfo],
        inclusion: &Inclusion<'_>,
    ) -> Option<Self> {
        if constraints.is_empty() || feasible.is_empty() {
            return None;
        }
        let mut ignored = HashSet::new();
        let mut pair_counts = HashMap::new();
        let mut domains = vec![0usize; constraints.len()];
        for node in feasible {
            if explicit && !has_all_keys(node, &constraints) {
                ignored.insert(node.name.clone());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == HOSTNAME {
                    continue;
                }
                let value = node
                    .labels
                    .get(&c.topology_key)
                    .cloned()
                    .unwrap_or_default();
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    pair_counts.entry((c.topology_key.clone(), value))
                {
                    slot.insert(0);
                    domains[i] += 1;
                }
            }
        }
        for node in snapshot.nodes() {
            if explicit && !has_all_keys(node, &constraints) {
                continue;
            }
            for c in &constraints {
                if c.topology_key == HOSTNAME || !c.includes(node, inclusion) {
                    continue;
                }
                let Some(value) = node.labels.get(&c.topology_key) else {
                    continue;
                };
                if let Some(count) = pair_counts.get_mut(&(c.topology_key.clone(), value.clone())) {
                    *count += c.count(node, &pod.key.namespace);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&domains)
            .map(|(c, &size)| {
                let size = if c.topology_key == HOSTNAME {
                    feasible.len() - ignored.len()
                } else {
                    size
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        Some(Self {
            constraints,
            namespace: pod.key.namespace.clone(),
            ignored,
            pair_counts,
            weights,
        })
    }

    /// More matching pods in the node's domains is a higher raw score (worse, once normalized).
    /// `None` marks a node that is not scored.
    pub fn score(&self, node: &NodeInfo) -> Option<i64> {
        if self.ignored.contains(&node.name) {
            return None;
        }
        let mut score = 0.0;
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(value) = node.labels.get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == HOSTNAME {
                c.count(node, &self.namespace)
            } else {
                self.pair_counts
                    .get(&(c.topology_key.clone(), value.clone()))
                    .copied()
                    .unwrap_or(0)
            };
            score += count as f64 * self.weights[i] + (c.max_skew - 1) as f64;
        }
        Some(score.round() as i64)
    }
}

/// Fewer matching pods is better: `100 * (max + min - score) / max`; unscored nodes get 0.
pub fn normalize(scores: &[Option<i64>]) -> Vec<i64> {
    let valid = scores.iter().flatten();
    let min = valid.clone().copied().min().unwrap_or(0);
    let max = valid.copied().max().unwrap_or(0).max(0);
    scores
        .iter()
        .map(|score| match score {
            None => 0,
            Some(_) if max == 0 => MAX_NODE_SCORE,
            Some(s) => MAX_NODE_SCORE * (max + min - s) / max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use serde_json::json;

    fn spread(when: &str, key: &str, max_skew: i32, extra: serde_json::Value) -> PodInfo {
        let mut constraint = json!({
            "maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}},
        });
        if let (Some(c), Some(extra)) = (constraint.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        PodInfo::new(fixtures::with_spec(
            fixtures::pod(
                "default",
                "web-new",
                "",
                "",
                &[("app", "web"), ("rev", "2")],
            ),
            json!({"topologySpreadConstraints": [constraint]}),
        ))
    }

    /// Zones a (n1, n2), b (n3), c (n4); `web` pods as given.
    fn cluster(placed: &[&str]) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for (name, zone) in [("n1", "a"), ("n2", "a"), ("n3", "b"), ("n4", "c")] {
            snapshot.upsert_node(fixtures::node(name, "4", "8Gi", &[(ZONE, zone)]));
        }
        for (i, node) in placed.iter().enumerate() {
            let pod = fixtures::pod(
                "default",
                &format!("web-{i}"),
                "",
                "",
                &[("app", "web"), ("rev", "1")],
            );
            snapshot.upsert_pod(fixtures::bound_to(pod, node));
        }
        snapshot
    }

    fn filter_all(snapshot: &Snapshot, pod: &PodInfo) -> Vec<bool> {
        let affinity = RequiredNodeAffinity::default();
        let inclusion = Inclusion {
            node_affinity: &affinity,
            tolerations: &[],
        };
        let constraints = constraints_of(pod, WhenUnsatisfiable::DoNotSchedule).unwrap_or_default();
        let state = FilterState::new(snapshot, pod, constraints, &inclusion);
        snapshot
            .nodes()
            .iter()
            .map(|n| state.as_ref().is_none_or(|s| s.filter(pod, n).is_ok()))
            .collect()
    }

    #[test]
    fn skew_is_measured_against_the_emptiest_zone() {
        let snapshot = cluster(&["n1", "n3"]);
        let pod = spread("DoNotSchedule", ZONE, 1, json!({}));
        // a=1, b=1, c=0: only zone c keeps the skew at 1.
        assert_eq!(filter_all(&snapshot, &pod), vec![false, false, false, true]);
    }

    #[test]
    fn min_domains_counts_missing_domains_as_empty() {
        let snapshot = cluster(&["n1", "n3", "n4"]);
        let pod = spread("DoNotSchedule", ZONE, 1, json!({"minDomains": 4}));
        // Three domains exist but four are required: the minimum is 0, every zone has 1.
        assert_eq!(filter_all(&snapshot, &pod), vec![false; 4]);
        let pod = spread("DoNotSchedule", ZONE, 1, json!({"minDomains": 3}));
        assert_eq!(filter_all(&snapshot, &pod), vec![true; 4]);
    }

    #[test]
    fn nodes_without_the_key_are_rejected_as_unresolvable() {
        let mut snapshot = cluster(&[]);
        snapshot.upsert_node(fixtures::node("bare", "4", "8Gi", &[]));
        let pod = spread("DoNotSchedule", ZONE, 1, json!({}));
        let affinity = RequiredNodeAffinity::default();
        let inclusion = Inclusion {
            node_affinity: &affinity,
            tolerations: &[],
        };
        let constraints =
            constraints_of(&pod, WhenUnsatisfiable::DoNotSchedule).unwrap_or_default();
        let state =
            FilterState::new(&snapshot, &pod, constraints, &inclusion).expect("constraints");
        let bare = snapshot.node("bare").expect("added");
        assert_eq!(
            state.filter(&pod, bare),
            Err(Rejection::unresolvable(MISSING_LABEL_REASON))
        );
    }

    #[test]
    fn match_label_keys_narrow_the_selector() {
        // Old revision pods fill zone a; with matchLabelKeys [rev] they no longer count.
        let snapshot = cluster(&["n1", "n2"]);
        let pod = spread("DoNotSchedule", ZONE, 1, json!({}));
        assert_eq!(filter_all(&snapshot, &pod), vec![false, false, true, true]);
        let pod = spread("DoNotSchedule", ZONE, 1, json!({"matchLabelKeys": ["rev"]}));
        assert_eq!(filter_all(&snapshot, &pod), vec![true; 4]);
    }

    #[test]
    fn node_affinity_policy_decides_which_zones_count() {
        // Zone c's only node is excluded by the pod's nodeSelector; with Honor it is not a domain.
        let snapshot = cluster(&["n1", "n3"]);
        let mut pod = spread("DoNotSchedule", ZONE, 1, json!({}));
        pod = PodInfo::new(fixtures::with_spec(
            (*pod.pod).clone(),
            json!({"nodeSelector": {ZONE: "a"}}),
        ));
        let affinity = RequiredNodeAffinity::of(&pod.pod);
        let inclusion = Inclusion {
            node_affinity: &affinity,
            tolerations: &[],
        };
        let constraints =
            constraints_of(&pod, WhenUnsatisfiable::DoNotSchedule).unwrap_or_default();
        let state =
            FilterState::new(&snapshot, &pod, constraints, &inclusion).expect("constraints");
        let n1 = snapshot.node("n1").expect("n1");
        // Only zone a counts (1 pod): 1 + 1 - 1 = 1 ≤ 1.
        assert!(state.filter(&pod, n1).is_ok());
    }

    #[test]
    fn schedule_anyway_scores_emptier_domains_higher() {
        let snapshot = cluster(&["n1", "n1", "n3"]);
        let pod = spread("ScheduleAnyway", ZONE, 1, json!({}));
        let affinity = RequiredNodeAffinity::default();
        let inclusion = Inclusion {
            node_affinity: &affinity,
            tolerations: &[],
        };
        let constraints =
            constraints_of(&pod, WhenUnsatisfiable::ScheduleAnyway).unwrap_or_default();
        let feasible: Vec<&NodeInfo> = snapshot.nodes().iter().collect();
        let state = ScoreState::new(&snapshot, &pod, constraints, true, &feasible, &inclusion)
            .expect("constraints");
        let raw: Vec<Option<i64>> = feasible.iter().map(|n| state.score(n)).collect();
        let normalized = normalize(&raw);
        assert!(normalized[3] > normalized[2] && normalized[2] > normalized[0]);
        assert_eq!(normalized[0], normalized[1]);
    }
}
