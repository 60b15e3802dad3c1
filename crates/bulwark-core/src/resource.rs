//! The resource registry: every kind Bulwark serves, with the names, scope, short names,
//! categories and subresources that discovery advertises and the router resolves.
//!
//! This table is the single source of truth: discovery, OpenAPI, routing, storage keys and
//! `kubectl api-resources` all read it.

/// Whether objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The kind the subresource speaks, with its own group/version when it differs from the parent
    /// (`deployments/scale` speaks `autoscaling/v1 Scale`).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the legacy core group served under `/api/v1`.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub scope: Scope,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// Where objects are stored. Two resources can share storage (v1 events and
    /// events.k8s.io/v1 events are the same objects), so this is not derived from the group.
    pub storage_prefix: &'static str,
}

pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
pub const CLUSTER_VERBS: &[&str] = ALL_VERBS;

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group,
        version,
        kind,
        verbs: STATUS_VERBS,
    }
}

const fn scale() -> Subresource {
    Subresource {
        name: "scale",
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: STATUS_VERBS,
    }
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `pods` for the core group: the form used in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// The URL path prefix of this resource's group-version (`/api/v1`, `/apis/apps/v1`).
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(namespace) if self.namespaced() => {
                format!("{}{}/{}", self.storage_prefix, namespace, name)
            }
            _ => format!("{}{}", self.storage_prefix, name),
        }
    }

    /// The store prefix covering a namespace, or every object when `namespace` is `None`.
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(namespace) if self.namespaced() => {
                format!("{}{}/", self.storage_prefix, namespace)
            }
            _ => self.storage_prefix.to_string(),
        }
    }
}

macro_rules! resource {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $scope:expr,
     short: [$($short:expr),*], categories: [$($cat:expr),*], subresources: [$($sub:expr),*], storage: $storage:expr) => {
        ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            scope: $scope,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            subresources: &[$($sub),*],
            storage_prefix: $storage,
        }
    };
}

use Scope::{Cluster, Namespaced};

/// Every resource Bulwark serves.
pub static RESOURCES: &[ResourceInfo] = &[
    resource!("", "v1", "Namespace", "namespaces", "namespace", Cluster,
        short: ["ns"], categories: [], subresources: [status("", "v1", "Namespace"),
            Subresource { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] }],
        storage: "/registry/namespaces/"),
    resource!("", "v1", "Node", "nodes", "node", Cluster,
        short: ["no"], categories: [], subresources: [status("", "v1", "Node")],
        storage: "/registry/minions/"),
    resource!("", "v1", "Pod", "pods", "pod", Namespaced,
        short: ["po"], categories: ["all"], subresources: [
            status("", "v1", "Pod"),
            Subresource { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"] },
            Subresource { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: &["create"] },
            Subresource { name: "log", group: "", version: "v1", kind: "Pod", verbs: &["get"] }],
        storage: "/registry/pods/"),
    resource!("", "v1", "Service", "services", "service", Namespaced,
        short: ["svc"], categories: ["all"], subresources: [status("", "v1", "Service")],
        storage: "/registry/services/specs/"),
    resource!("", "v1", "Endpoints", "endpoints", "endpoints", Namespaced,
        short: ["ep"], categories: [], subresources: [],
        storage: "/registry/services/endpoints/"),
    resource!("", "v1", "Event", "events", "event", Namespaced,
        short: ["ev"], categories: [], subresources: [],
        storage: "/registry/events/"),
    resource!("", "v1", "ConfigMap", "configmaps", "configmap", Namespaced,
        short: ["cm"], categories: [], subresources: [],
        storage: "/registry/configmaps/"),
    resource!("", "v1", "Secret", "secrets", "secret", Namespaced,
        short: [], categories: [], subresources: [],
        storage: "/registry/secrets/"),
    resource!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", Namespaced,
        short: ["sa"], categories: [], subresources: [],
        storage: "/registry/serviceaccounts/"),
    resource!("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", Namespaced,
        short: ["quota"], categories: [], subresources: [status("", "v1", "ResourceQuota")],
        storage: "/registry/resourcequotas/"),
    resource!("", "v1", "LimitRange", "limitranges", "limitrange", Namespaced,
        short: ["limits"], categories: [], subresources: [],
        storage: "/registry/limitranges/"),
    resource!("coordination.k8s.io", "v1", "Lease", "leases", "lease", Namespaced,
        short: [], categories: [], subresources: [],
        storage: "/registry/leases/"),
    resource!("apps", "v1", "Deployment", "deployments", "deployment", Namespaced,
        short: ["deploy"], categories: ["all"], subresources: [status("apps", "v1", "Deployment"), scale()],
        storage: "/registry/deployments/"),
    resource!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", Namespaced,
        short: ["rs"], categories: ["all"], subresources: [status("apps", "v1", "ReplicaSet"), scale()],
        storage: "/registry/replicasets/"),
    resource!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", Namespaced,
        short: ["ds"], categories: ["all"], subresources: [status("apps", "v1", "DaemonSet")],
        storage: "/registry/daemonsets/"),
    resource!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", Namespaced,
        short: [], categories: [], subresources: [],
        storage: "/registry/controllerrevisions/"),
    resource!("batch", "v1", "Job", "jobs", "job", Namespaced,
        short: [], categories: ["all"], subresources: [status("batch", "v1", "Job")],
        storage: "/registry/jobs/"),
    resource!("batch", "v1", "CronJob", "cronjobs", "cronjob", Namespaced,
        short: ["cj"], categories: ["all"], subresources: [status("batch", "v1", "CronJob")],
        storage: "/registry/cronjobs/"),
    resource!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", Namespaced,
        short: ["pdb"], categories: [], subresources: [status("policy", "v1", "PodDisruptionBudget")],
        storage: "/registry/poddisruptionbudgets/"),
    resource!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", Cluster,
        short: ["pc"], categories: [], subresources: [],
        storage: "/registry/priorityclasses/"),
    resource!("events.k8s.io", "v1", "Event", "events", "event", Namespaced,
        short: ["ev"], categories: [], subresources: [],
        storage: "/registry/events/"),
    resource!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", Namespaced,
        short: [], categories: [], subresources: [],
        storage: "/registry/endpointslices/"),
];

/// Looks a resource up by group, version and plural (as routed from a URL).
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by group, version and kind (as named in a request body).
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Every distinct group-version served, in discovery order (core first).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&'static str, &'static str)> = Vec::new();
    for resource in RESOURCES {
        if !seen.contains(&(resource.group, resource.version)) {
            seen.push((resource.group, resource.version));
        }
    }
    seen
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_unique_per_group_version() {
        for (index, a) in RESOURCES.iter().enumerate() {
            for b in &RESOURCES[index + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "{} twice",
                    a.plural
                );
            }
        }
    }

    #[test]
    fn keys_follow_the_registry_layout() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key(Some("default"), "web"),
            "/registry/pods/default/web"
        );
        assert_eq!(pods.prefix(None), "/registry/pods/");
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key(None, "n1"), "/registry/minions/n1");
    }

    #[test]
    fn both_event_apis_share_storage() {
        let core = find("", "v1", "events").unwrap();
        let new = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(core.storage_prefix, new.storage_prefix);
    }

    #[test]
    fn scale_subresource_speaks_autoscaling() {
        let deployments = find("apps", "v1", "deployments").unwrap();
        let scale = deployments.subresource("scale").unwrap();
        assert_eq!(
            (scale.group, scale.version, scale.kind),
            ("autoscaling", "v1", "Scale")
        );
        assert_eq!(deployments.qualified_plural(), "deployments.apps");
    }
}
