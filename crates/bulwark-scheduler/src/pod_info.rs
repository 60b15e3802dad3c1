//! What the scheduler reads from a pod, parsed once: requests, host ports, priority and the
//! pod-affinity terms (upstream's `framework.PodInfo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bulwark_core::selector::LabelSelector;
use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as ApiLabelSelector, Time};

use crate::resources::{PodRequests, is_sidecar};

/// Namespace and name: how the snapshot finds a pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn of(pod: &Pod) -> Self {
        Self {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: pod.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One `podAffinityTerm`, resolved: which pods it selects and in which namespaces.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    pub selector: LabelSelector,
    pub namespaces: Vec<String>,
    /// Null (matches nothing) unless the term set `namespaceSelector`; `{}` matches every namespace.
    pub namespace_selector: LabelSelector,
    pub topology_key: String,
}

impl AffinityTerm {
    /// Upstream's `AffinityTerm.Matches`: the pod is in one of the term's namespaces (or its
    /// namespace's labels match the namespace selector) and its labels match the selector.
    pub fn matches(
        &self,
        pod: &PodInfo,
        namespace_labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        let in_namespace = self.namespaces.contains(&pod.key.namespace)
            || namespace_labels.is_some_and(|labels| self.namespace_selector.matches(labels));
        in_namespace && self.selector.matches(&pod.labels)
    }
}

/// A preferred term and its weight.
#[derive(Debug, Clone)]
pub struct WeightedAffinityTerm {
    pub weight: i64,
    pub term: AffinityTerm,
}

/// A `hostPort` a container claims on its node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Two claims clash on the same protocol and port when either listens on every address.
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == WILDCARD_IP || other.ip == WILDCARD_IP)
    }
}

const WILDCARD_IP: &str = "0.0.0.0";

/// A pod as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub key: PodKey,
    pub labels: BTreeMap<String, String>,
    pub requests: PodRequests,
    pub host_ports: Vec<HostPort>,
    /// `spec.priority` as admission resolved it; 0 when unset.
    pub priority: i32,
    pub terminating: bool,
    pub start_time: Option<Time>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// Terms that could not be parsed (invalid selectors); upstream refuses to schedule such a pod.
    pub parse_errors: Vec<String>,
}

impl PodInfo {
    pub fn new(pod: Pod) -> Self {
        Self::from_arc(Arc::new(pod))
    }

    pub fn from_arc(pod: Arc<Pod>) -> Self {
        let mut errors = Vec::new();
        let spec = pod.spec.as_ref();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti_affinity = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let key = PodKey::of(&pod);
        let required_affinity = required_terms(
            pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &key.namespace,
            &mut errors,
        );
        let required_anti_affinity = required_terms(
            anti_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &key.namespace,
            &mut errors,
        );
        let preferred_affinity = weighted_terms(
            pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &key.namespace,
            &mut errors,
        );
        let preferred_anti_affinity = weighted_terms(
            anti_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            &key.namespace,
            &mut errors,
        );
        Self {
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            requests: PodRequests::of(&pod),
            host_ports: host_ports(&pod),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            start_time: pod.status.as_ref().and_then(|s| s.start_time.clone()),
            key,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            parse_errors: errors,
            pod,
        }
    }

    pub fn node_name(&self) -> Option<&str> {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
    }

    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    /// The controller owner reference, if any (`metav1.GetControllerOf`).
    pub fn controller(&self) -> Option<(&str, &str, &str)> {
        self.pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| (o.api_version.as_str(), o.kind.as_str(), o.name.as_str()))
    }
}

/// Converts a typed `metav1.LabelSelector` with upstream's semantics (null matches nothing).
pub fn label_selector(
    selector: Option<&ApiLabelSelector>,
) -> Result<LabelSelector, bulwark_core::selector::SelectorError> {
    match selector {
        None => Ok(LabelSelector::nothing()),
        Some(selector) => {
            let json = serde_json::to_value(selector).unwrap_or(serde_json::Value::Null);
            LabelSelector::from_json(Some(&json))
        }
    }
}

fn affinity_term(term: &PodAffinityTerm, namespace: &str) -> Result<AffinityTerm, String> {
    let selector = label_selector(term.label_selector.as_ref()).map_err(|e| e.to_string())?;
    let namespace_selector =
        label_selector(term.namespace_selector.as_ref()).map_err(|e| e.to_string())?;
    let mut namespaces = term.namespaces.clone().unwrap_or_default();
    // No namespaces and no namespace selector means "the pod's own namespace".
    if namespaces.is_empty() && term.namespace_selector.is_none() {
        namespaces.push(namespace.to_string());
    }
    Ok(AffinityTerm {
        selector,
        namespaces,
        namespace_selector,
        topology_key: term.topology_key.clone(),
    })
}

fn required_terms(
    terms: Option<&Vec<PodAffinityTerm>>,
    namespace: &str,
    errors: &mut Vec<String>,
) -> Vec<AffinityTerm> {
    let mut parsed = Vec::new();
    for term in terms.into_iter().flatten() {
        match affinity_term(term, namespace) {
            Ok(term) => parsed.push(term),
            Err(error) => errors.push(error),
        }
    }
    parsed
}

fn weighted_terms(
    terms: Option<&Vec<WeightedPodAffinityTerm>>,
    namespace: &str,
    errors: &mut Vec<String>,
) -> Vec<WeightedAffinityTerm> {
    let mut parsed = Vec::new();
    for weighted in terms.into_iter().flatten() {
        match affinity_term(&weighted.pod_affinity_term, namespace) {
            Ok(term) => parsed.push(WeightedAffinityTerm {
                weight: i64::from(weighted.weight),
                term,
            }),
            Err(error) => errors.push(error),
        }
    }
    parsed
}

/// Host ports of app containers and sidecars: both keep their ports for the pod's lifetime.
fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|p| *p > 0)?;
            Some(HostPort {
                ip: port
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| WILDCARD_IP.into()),
                protocol: port.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: host_port,
            })
        })
        .collect()
}
