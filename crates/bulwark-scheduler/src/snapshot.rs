//! The cluster as the scheduler sees it: nodes, the pods bound to them, namespace labels and the
//! selectors used for default spreading. The shell keeps it current with cheap incremental
//! updates from its watches; every scheduling decision is a pure function of it.
//!
//! Pods bound to a node the snapshot does not know (yet, or any more) are kept aside and attach
//! when the node appears, as upstream's cache keeps "ghost" node entries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bulwark_core::selector::{LabelSelector, Requirement};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, PodKey};

/// A workload kind whose selector feeds default spreading (upstream's `DefaultSelector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpreadOwnerKind {
    ReplicationController,
    ReplicaSet,
    StatefulSet,
}

impl SpreadOwnerKind {
    /// The kind a controller owner reference names, when it is one of ours to spread by.
    pub fn from_owner(api_version: &str, kind: &str) -> Option<Self> {
        match (api_version, kind) {
            ("v1", "ReplicationController") => Some(Self::ReplicationController),
            ("apps/v1", "ReplicaSet") => Some(Self::ReplicaSet),
            ("apps/v1", "StatefulSet") => Some(Self::StatefulSet),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    node_index: HashMap<String, usize>,
    pod_nodes: HashMap<PodKey, String>,
    orphans: BTreeMap<String, Vec<Arc<PodInfo>>>,
    namespaces: HashMap<String, BTreeMap<String, String>>,
    service_selectors: BTreeMap<PodKey, BTreeMap<String, String>>,
    owner_selectors: BTreeMap<(SpreadOwnerKind, PodKey), LabelSelector>,
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
    /// Pending pods that preemption nominated to a node, as if bound there: they hold its room
    /// against pods of lower priority until they bind (upstream's nominator).
    nominated: HashMap<String, Vec<Arc<PodInfo>>>,
    nominated_nodes: HashMap<PodKey, String>,
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.node_index.get(name).map(|&i| &self.nodes[i])
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.node_index.get(name).copied()
    }

    /// The node a bound pod is on, whether or not that node is in the snapshot.
    pub fn pod_node(&self, key: &PodKey) -> Option<&str> {
        self.pod_nodes.get(key).map(String::as_str)
    }

    pub fn namespace_labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.get(namespace)
    }

    /// True when some bound pod carries any pod (anti-)affinity term.
    pub fn has_pods_with_affinity(&self) -> bool {
        self.pods_with_affinity > 0
    }

    pub fn has_pods_with_required_anti_affinity(&self) -> bool {
        self.pods_with_required_anti_affinity > 0
    }

    /// Adds a node or replaces it, keeping the pods bound to it.
    pub fn upsert_node(&mut self, node: Node) {
        let node = Arc::new(node);
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&index) = self.node_index.get(&name) {
            self.nodes[index] = self.nodes[index].with_node(node);
            return;
        }
        let mut info = NodeInfo::new(node);
        for pod in self.orphans.remove(&name).unwrap_or_default() {
            info.add_pod(pod);
        }
        self.node_index.insert(name, self.nodes.len());
        self.nodes.push(info);
    }

    /// Removes a node; its pods wait aside until they are deleted or the node returns.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(index) = self.node_index.remove(name) else {
            return false;
        };
        let mut removed = self.nodes.swap_remove(index);
        if let Some(moved) = self.nodes.get(index) {
            self.node_index.insert(moved.name.clone(), index);
        }
        let pods = removed.take_pods();
        if !pods.is_empty() {
            self.orphans.insert(name.to_string(), pods);
        }
        true
    }

    /// Adds or replaces a pod. Only pods bound to a node and not finished count: a pending pod or
    /// one that Succeeded or Failed holds nothing, so it is removed instead.
    pub fn upsert_pod(&mut self, pod: Pod) {
        self.upsert_pod_info(Arc::new(PodInfo::new(pod)));
    }

    pub fn upsert_pod_info(&mut self, pod: Arc<PodInfo>) {
        self.remove_pod(&pod.key);
        self.clear_nomination(&pod.key);
        let finished = matches!(
            pod.pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let Some(node_name) = pod.node_name().map(str::to_string) else {
            return;
        };
        if finished {
            return;
        }
        self.count_affinity(&pod, 1);
        self.pod_nodes.insert(pod.key.clone(), node_name.clone());
        match self.node_index.get(&node_name) {
            Some(&index) => self.nodes[index].add_pod(pod),
            None => self.orphans.entry(node_name).or_default().push(pod),
        }
    }

    pub fn remove_pod(&mut self, key: &PodKey) -> Option<Arc<PodInfo>> {
        let node_name = self.pod_nodes.remove(key)?;
        let removed = match self.node_index.get(&node_name) {
            Some(&index) => self.nodes[index].remove_pod(key),
            None => {
                let pods = self.orphans.get_mut(&node_name)?;
                let position = pods.iter().position(|p| p.key == *key)?;
                let pod = pods.swap_remove(position);
                if pods.is_empty() {
                    self.orphans.remove(&node_name);
                }
                Some(pod)
            }
        };
        if let Some(pod) = &removed {
            self.count_affinity(pod, -1);
        }
        removed
    }

    /// Records that pending `pod` waits for room on `node` (replacing an earlier nomination).
    pub fn nominate(&mut self, pod: &PodInfo, node: &str) {
        self.clear_nomination(&pod.key);
        let mut placed = (*pod.pod).clone();
        placed.spec.get_or_insert_default().node_name = Some(node.to_string());
        self.nominated
            .entry(node.to_string())
            .or_default()
            .push(Arc::new(PodInfo::new(placed)));
        self.nominated_nodes
            .insert(pod.key.clone(), node.to_string());
    }

    /// The pod bound, went away or gave its nomination up.
    pub fn clear_nomination(&mut self, key: &PodKey) {
        let Some(node) = self.nominated_nodes.remove(key) else {
            return;
        };
        if let Some(pods) = self.nominated.get_mut(&node) {
            pods.retain(|pod| pod.key != *key);
            if pods.is_empty() {
                self.nominated.remove(&node);
            }
        }
    }

    /// Pods nominated to `node`, each as if bound to it.
    pub fn nominated_on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.nominated.get(node).map_or(&[], Vec::as_slice)
    }

    fn count_affinity(&mut self, pod: &PodInfo, delta: isize) {
        if pod.has_affinity() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_add_signed(delta);
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity = self
                .pods_with_required_anti_affinity
                .saturating_add_signed(delta);
        }
    }

    pub fn upsert_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        self.namespaces.insert(name.to_string(), labels);
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// Records a Service's `spec.selector` (default spreading spreads the pods it selects).
    pub fn upsert_service_selector(
        &mut self,
        namespace: &str,
        name: &str,
        selector: BTreeMap<String, String>,
    ) {
        self.service_selectors
            .insert(key(namespace, name), selector);
    }

    pub fn remove_service_selector(&mut self, namespace: &str, name: &str) {
        self.service_selectors.remove(&key(namespace, name));
    }

    /// Records a ReplicationController's, ReplicaSet's or StatefulSet's selector.
    pub fn upsert_owner_selector(
        &mut self,
        kind: SpreadOwnerKind,
        namespace: &str,
        name: &str,
        selector: LabelSelector,
    ) {
        self.owner_selectors
            .insert((kind, key(namespace, name)), selector);
    }

    pub fn remove_owner_selector(&mut self, kind: SpreadOwnerKind, namespace: &str, name: &str) {
        self.owner_selectors.remove(&(kind, key(namespace, name)));
    }

    /// Upstream's `DefaultSelector`: the selectors of the Services that select the pod, merged,
    /// and the selector of its controlling ReplicationController, ReplicaSet or StatefulSet.
    /// Empty when nothing selects the pod, and then no default spreading applies.
    pub fn default_spread_selector(&self, pod: &PodInfo) -> LabelSelector {
        let namespace = &pod.key.namespace;
        let mut merged = BTreeMap::new();
        for (service, selector) in &self.service_selectors {
            if service.namespace == *namespace
                && LabelSelector::from_set(selector).matches(&pod.labels)
            {
                merged.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut selector = LabelSelector::from_set(&merged);
        let owner = pod.controller().and_then(|(api_version, kind, name)| {
            SpreadOwnerKind::from_owner(api_version, kind).map(|k| (k, key(namespace, name)))
        });
        if let Some(owner_selector) = owner.and_then(|o| self.owner_selectors.get(&o)) {
            let requirements: Vec<Requirement> = owner_selector.requirements().to_vec();
            for requirement in requirements {
                selector = selector.with_requirement(requirement);
            }
        }
        selector
    }
}

fn key(namespace: &str, name: &str) -> PodKey {
    PodKey {
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
