//! One node and the pods bound to it, with the sums the filters and scores read on every cycle
//! kept current as pods come and go (upstream's `framework.NodeInfo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::pod_info::{HostPort, PodInfo, PodKey};
use crate::resources::{Allocatable, Resources};

#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub allocatable: Allocatable,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pods: Vec<Arc<PodInfo>>,
    /// Sum of the pods' requests, as the fit filter compares them with allocatable.
    pub requested: Resources,
    /// Sum with cpu/memory defaults for containers that request nothing, for spreading scores.
    pub non_zero_requested: Resources,
    used_ports: Vec<HostPort>,
    pods_with_affinity: usize,
    pods_with_required_anti_affinity: usize,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> Self {
        let spec = node.spec.as_ref();
        Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            allocatable: Allocatable::from_list(
                node.status.as_ref().and_then(|s| s.allocatable.as_ref()),
            ),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            node,
            pods: Vec::new(),
            requested: Resources::ZERO,
            non_zero_requested: Resources::ZERO,
            used_ports: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
        }
    }

    /// The same pods on an updated node object.
    pub fn with_node(&self, node: Arc<Node>) -> Self {
        let mut updated = Self::new(node);
        for pod in &self.pods {
            updated.add_pod(pod.clone());
        }
        updated
    }

    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.pods
    }

    pub fn take_pods(&mut self) -> Vec<Arc<PodInfo>> {
        let pods = std::mem::take(&mut self.pods);
        *self = Self::new(self.node.clone());
        pods
    }

    pub fn has_pods_with_affinity(&self) -> bool {
        self.pods_with_affinity > 0
    }

    pub fn has_pods_with_required_anti_affinity(&self) -> bool {
        self.pods_with_required_anti_affinity > 0
    }

    pub fn used_ports(&self) -> &[HostPort] {
        &self.used_ports
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested += pod.requests.requested;
        self.non_zero_requested += pod.requests.non_zero;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    pub fn remove_pod(&mut self, key: &PodKey) -> Option<Arc<PodInfo>> {
        let index = self.pods.iter().position(|p| p.key == *key)?;
        let pod = self.pods.swap_remove(index);
        self.requested -= pod.requests.requested;
        self.non_zero_requested -= pod.requests.non_zero;
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        if pod.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        Some(pod)
    }

    /// What is left for new pods: allocatable minus the requests of the pods already here.
    pub fn free(&self) -> Resources {
        self.allocatable.resources - self.requested
    }
}
