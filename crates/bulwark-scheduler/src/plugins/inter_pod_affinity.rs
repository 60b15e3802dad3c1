//! InterPodAffinity: required pod affinity and anti-affinity (the incoming pod's and, against it,
//! the existing pods' anti-affinity) as a filter; preferred terms of both sides as a score.
//!
//! Counts are kept per topology pair (label key, value) over the whole cluster, once per cycle;
//! the per-node check then reads only the node's own labels.

use std::collections::{BTreeMap, HashMap};

use super::{FilterResult, MAX_NODE_SCORE, Rejection};
use crate::node_info::NodeInfo;
use crate::pod_info::{AffinityTerm, PodInfo, WeightedAffinityTerm};
use crate::snapshot::Snapshot;

pub const AFFINITY_REASON: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY_REASON: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY_REASON: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Upstream's default `hardPodAffinityWeight`: how much an existing pod's *required* affinity to
/// the incoming pod counts when scoring.
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

type TopologyCounts = HashMap<(String, String), i64>;

fn bump(counts: &mut TopologyCounts, node: &NodeInfo, topology_key: &str, delta: i64) {
    if let Some(value) = node.labels.get(topology_key) {
        *counts
            .entry((topology_key.to_string(), value.clone()))
            .or_insert(0) += delta;
    }
}

/// The cycle's precomputed counts (upstream's PreFilter state).
#[derive(Debug, Clone, Default)]
pub struct FilterState {
    namespace_labels: BTreeMap<String, String>,
    namespace_known: bool,
    /// Pairs where existing pods match every one of the incoming pod's required affinity terms.
    affinity_counts: TopologyCounts,
    /// Pairs where existing pods match one of the incoming pod's required anti-affinity terms.
    anti_affinity_counts: TopologyCounts,
    /// Pairs where an existing pod's required anti-affinity term matches the incoming pod.
    existing_anti_affinity_counts: TopologyCounts,
}

impl FilterState {
    /// `None` when there is nothing to check: the pod has no required terms and no bound pod has
    /// required anti-affinity.
    pub fn new(snapshot: &Snapshot, pod: &PodInfo) -> Option<Self> {
        let own_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !own_terms && !snapshot.has_pods_with_required_anti_affinity() {
            return None;
        }
        let namespace = snapshot.namespace_labels(&pod.key.namespace);
        let mut state = Self {
            namespace_labels: namespace.cloned().unwrap_or_default(),
            namespace_known: namespace.is_some(),
            ..Self::default()
        };
        for node in snapshot.nodes() {
            if !own_terms && !node.has_pods_with_required_anti_affinity() {
                continue;
            }
            for existing in node.pods() {
                state.update(snapshot, pod, existing, node, 1);
            }
        }
        Some(state)
    }

    /// Adds (`delta` 1) or removes (-1) one existing pod's contribution; preemption uses it to
    /// take victims out without recounting the cluster.
    pub fn update(
        &mut self,
        snapshot: &Snapshot,
        pod: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        delta: i64,
    ) {
        for term in &existing.required_anti_affinity {
            if term.matches(pod, Some(&self.namespace_labels)) {
                bump(
                    &mut self.existing_anti_affinity_counts,
                    node,
                    &term.topology_key,
                    delta,
                );
            }
        }
        let existing_namespace = snapshot.namespace_labels(&existing.key.namespace);
        if matches_all(&pod.required_affinity, existing, existing_namespace) {
            for term in &pod.required_affinity {
                bump(&mut self.affinity_counts, node, &term.topology_key, delta);
            }
        }
        for term in &pod.required_anti_affinity {
            if term.matches(existing, existing_namespace) {
                bump(
                    &mut self.anti_affinity_counts,
                    node,
                    &term.topology_key,
                    delta,
                );
            }
        }
    }

    fn own_namespace(&self) -> Option<&BTreeMap<String, String>> {
        self.namespace_known.then_some(&self.namespace_labels)
    }
}

fn matches_all(
    terms: &[AffinityTerm],
    pod: &PodInfo,
    namespace_labels: Option<&BTreeMap<String, String>>,
) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, namespace_labels))
}

fn positive(counts: &TopologyCounts, key: &str, value: &str) -> bool {
    // Allocation-free lookup would need a borrowed pair key; the maps are small and this path is
    // taken only for pods with pod affinity.
    counts
        .get(&(key.to_string(), value.to_string()))
        .is_some_and(|c| *c > 0)
}

pub fn filter(state: &FilterState, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if !satisfies_affinity(state, pod, node) {
        return Err(Rejection::unresolvable(AFFINITY_REASON));
    }
    let anti_hit = pod.required_anti_affinity.iter().any(|term| {
        node.labels
            .get(&term.topology_key)
            .is_some_and(|value| positive(&state.anti_affinity_counts, &term.topology_key, value))
    });
    if anti_hit {
        return Err(Rejection::unschedulable(ANTI_AFFINITY_REASON));
    }
    if !state.existing_anti_affinity_counts.is_empty() {
        let existing_hit = node
            .labels
            .iter()
            .any(|(key, value)| positive(&state.existing_anti_affinity_counts, key, value));
        if existing_hit {
            return Err(Rejection::unschedulable(EXISTING_ANTI_AFFINITY_REASON));
        }
    }
    Ok(())
}

fn satisfies_affinity(state: &FilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
    let mut pods_exist = true;
    for term in &pod.required_affinity {
        let Some(value) = node.labels.get(&term.topology_key) else {
            // The node must carry every topology key the terms name.
            return false;
        };
        if !positive(&state.affinity_counts, &term.topology_key, value) {
            pods_exist = false;
        }
    }
    // The first pod of a group with affinity to itself may go anywhere that has the topology
    // keys, or it would wait forever.
    pods_exist
        || (state.affinity_counts.is_empty()
            && matches_all(&pod.required_affinity, pod, state.own_namespace()))
}

/// The cycle's topology scores (upstream's PreScore state): per pair, the weights of the terms
/// that pull the pod towards it (positive) or push it away (negative).
#[derive(Debug, Clone, Default)]
pub struct ScoreState {
    scores: BTreeMap<String, HashMap<String, i64>>,
}

impl ScoreState {
    pub fn new(snapshot: &Snapshot, pod: &PodInfo) -> Self {
        let mut state = Self::default();
        let own_preferences =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !own_preferences && !snapshot.has_pods_with_affinity() {
            return state;
        }
        let own_namespace = snapshot.namespace_labels(&pod.key.namespace);
        let empty = BTreeMap::new();
        let own_labels = own_namespace.unwrap_or(&empty);
        for node in snapshot.nodes() {
            if node.labels.is_empty() || (!own_preferences && !node.has_pods_with_affinity()) {
                continue;
            }
            for existing in node.pods() {
                let existing_namespace = snapshot.namespace_labels(&existing.key.namespace);
                state.add_weighted(
                    &pod.preferred_affinity,
                    existing,
                    existing_namespace,
                    node,
                    1,
                );
                state.add_weighted(
                    &pod.preferred_anti_affinity,
                    existing,
                    existing_namespace,
                    node,
                    -1,
                );
                for term in &existing.required_affinity {
                    state.add(term, HARD_POD_AFFINITY_WEIGHT, pod, Some(own_labels), node);
                }
                state.add_weighted(&existing.preferred_affinity, pod, Some(own_labels), node, 1);
                state.add_weighted(
                    &existing.preferred_anti_affinity,
                    pod,
                    Some(own_labels),
                    node,
                    -1,
                );
            }
        }
        state
    }

    fn add_weighted(
        &mut self,
        terms: &[WeightedAffinityTerm],
        pod: &PodInfo,
        namespace_labels: Option<&BTreeMap<String, String>>,
        node: &NodeInfo,
        sign: i64,
    ) {
        for weighted in terms {
            self.add(
                &weighted.term,
                weighted.weight * sign,
                pod,
                namespace_labels,
                node,
            );
        }
    }

    fn add(
        &mut self,
        term: &AffinityTerm,
        weight: i64,
        pod: &PodInfo,
        namespace_labels: Option<&BTreeMap<String, String>>,
        node: &NodeInfo,
    ) {
        if !term.matches(pod, namespace_labels) {
            return;
        }
        if let Some(value) = node.labels.get(&term.topology_key) {
            *self
                .scores
                .entry(term.topology_key.clone())
                .or_default()
                .entry(value.clone())
                .or_insert(0) += weight;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.scores
            .iter()
            .filter_map(|(key, values)| values.get(node.labels.get(key)?))
            .sum()
    }
}

/// Min-max scaling to 0..=100; all equal scores become 0.
pub fn normalize(scores: &mut [i64]) {
    let (Some(min), Some(max)) = (scores.iter().min().copied(), scores.iter().max().copied())
    else {
        return;
    };
    let spread = max - min;
    for score in scores.iter_mut() {
        *score = if spread > 0 {
            (MAX_NODE_SCORE as f64 * ((*score - min) as f64 / spread as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use serde_json::json;

    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";

    fn cluster(pods: &[(&str, k8s_openapi::api::core::v1::Pod)]) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for (name, zone) in [("n1", "a"), ("n2", "a"), ("n3", "b")] {
            snapshot.upsert_node(fixtures::node(name, "4", "8Gi", &[(ZONE, zone)]));
        }
        for (node, pod) in pods {
            snapshot.upsert_pod(fixtures::bound_to(pod.clone(), node));
        }
        snapshot
    }

    fn term(kind: &str, required: bool, key: &str, app: &str) -> serde_json::Value {
        let term = json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key});
        let field = if required {
            "requiredDuringSchedulingIgnoredDuringExecution"
        } else {
            "preferredDuringSchedulingIgnoredDuringExecution"
        };
        let terms = if required {
            json!([term])
        } else {
            json!([{"weight": 10, "podAffinityTerm": term}])
        };
        json!({"affinity": {kind: {field: terms}}})
    }

    fn labelled(name: &str, app: &str, spec: serde_json::Value) -> PodInfo {
        PodInfo::new(fixtures::with_spec(
            fixtures::pod("default", name, "", "", &[("app", app)]),
            spec,
        ))
    }

    fn run(snapshot: &Snapshot, pod: &PodInfo) -> Vec<Result<(), Rejection>> {
        let state = FilterState::new(snapshot, pod).unwrap_or_default();
        snapshot
            .nodes()
            .iter()
            .map(|n| filter(&state, pod, n))
            .collect()
    }

    #[test]
    fn required_anti_affinity_keeps_pods_apart_per_hostname() {
        let db = fixtures::pod("default", "db-0", "", "", &[("app", "db")]);
        let snapshot = cluster(&[("n1", db)]);
        let pod = labelled("db-1", "db", term("podAntiAffinity", true, HOST, "db"));
        let results = run(&snapshot, &pod);
        assert_eq!(
            results[0],
            Err(Rejection::unschedulable(ANTI_AFFINITY_REASON))
        );
        assert!(results[1].is_ok() && results[2].is_ok());
    }

    #[test]
    fn required_anti_affinity_per_zone_blocks_the_whole_zone() {
        let db = fixtures::pod("default", "db-0", "", "", &[("app", "db")]);
        let snapshot = cluster(&[("n1", db)]);
        let pod = labelled("db-1", "db", term("podAntiAffinity", true, ZONE, "db"));
        let results = run(&snapshot, &pod);
        assert!(results[0].is_err() && results[1].is_err() && results[2].is_ok());
    }

    #[test]
    fn existing_pods_anti_affinity_repels_the_incoming_pod() {
        let lonely = fixtures::with_spec(
            fixtures::pod("default", "lonely", "", "", &[("app", "lonely")]),
            term("podAntiAffinity", true, HOST, "web"),
        );
        let snapshot = cluster(&[("n2", lonely)]);
        let pod = labelled("web-1", "web", json!({}));
        let results = run(&snapshot, &pod);
        assert_eq!(
            results[1],
            Err(Rejection::unschedulable(EXISTING_ANTI_AFFINITY_REASON))
        );
        assert!(results[0].is_ok() && results[2].is_ok());
    }

    #[test]
    fn required_affinity_follows_matching_pods_and_lets_the_first_one_in() {
        let cache = fixtures::pod("default", "cache", "", "", &[("app", "cache")]);
        let snapshot = cluster(&[("n3", cache)]);
        let pod = labelled("web", "web", term("podAffinity", true, ZONE, "cache"));
        let results = run(&snapshot, &pod);
        assert_eq!(results[0], Err(Rejection::unresolvable(AFFINITY_REASON)));
        assert!(results[2].is_ok());
        // A pod with affinity to its own kind goes anywhere when none exists yet.
        let first = labelled("first", "group", term("podAffinity", true, ZONE, "group"));
        assert!(run(&cluster(&[]), &first).iter().all(Result::is_ok));
    }

    #[test]
    fn namespaces_limit_which_pods_count() {
        let other_ns = fixtures::pod("other", "db-0", "", "", &[("app", "db")]);
        let snapshot = cluster(&[("n1", other_ns)]);
        let pod = labelled("db-1", "db", term("podAntiAffinity", true, HOST, "db"));
        assert!(run(&snapshot, &pod).iter().all(Result::is_ok));
        let mut spec = term("podAntiAffinity", true, HOST, "db");
        spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
            ["namespaceSelector"] = json!({"matchLabels": {"team": "data"}});
        let pod = labelled("db-1", "db", spec);
        let mut snapshot = snapshot;
        snapshot.upsert_namespace("other", [("team".to_string(), "data".to_string())].into());
        assert!(run(&snapshot, &pod)[0].is_err());
    }

    #[test]
    fn preferred_terms_score_and_normalize() {
        let web = fixtures::pod("default", "web-0", "", "", &[("app", "web")]);
        let snapshot = cluster(&[("n1", web)]);
        let pod = labelled("web-1", "web", term("podAntiAffinity", false, HOST, "web"));
        let state = ScoreState::new(&snapshot, &pod);
        let mut scores: Vec<i64> = snapshot.nodes().iter().map(|n| state.score(n)).collect();
        assert_eq!(scores, vec![-10, 0, 0]);
        normalize(&mut scores);
        assert_eq!(scores, vec![0, 100, 100]);
    }
}
