//! The agent's Node and Lease objects, built from its configuration and what it observes
//! (the kubelet's `initialNode` and node status setters, as pure functions).
//!
//! - Labels: `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`, and
//!   `topology.kubernetes.io/zone` / `region` when configured.
//! - Status: capacity and allocatable, `nodeInfo`, the node's address, the agent's endpoint
//!   (`daemonEndpoints.kubeletEndpoint`, where the API server fetches logs), and the conditions
//!   `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, plus Bulwark's
//!   `ResourceLimitsEnforced` that says whether cgroups hold the pods' limits.
//! - Each condition keeps its `lastTransitionTime` while its status stays the same; every post
//!   refreshes `lastHeartbeatTime`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};

/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Bulwark's condition saying whether pod limits are enforced by cgroups.
pub const LIMITS_CONDITION: &str = "ResourceLimitsEnforced";
/// The Kubernetes version the agent reports as its kubelet version.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// Who the node is and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub name: String,
    pub zone: Option<String>,
    pub region: Option<String>,
    /// Extra labels (`--node-labels`), applied after the standard ones.
    pub labels: BTreeMap<String, String>,
    /// `cpu`, `memory`, `pods`, `ephemeral-storage`, as Kubernetes quantities.
    pub capacity: BTreeMap<String, String>,
    /// The node's address (`InternalIP`), where its agent endpoint listens.
    pub address: String,
    /// The agent's HTTP port (logs).
    pub endpoint_port: u16,
    pub system: SystemFacts,
}

/// What the machine says about itself (`nodeInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemFacts {
    pub machine_id: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
    pub architecture: String,
}

/// What the agent observes about its own health.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeHealth {
    /// `None` when cgroups enforce limits; otherwise why not.
    pub limits_unenforced: Option<String>,
    pub memory_pressure: bool,
    pub disk_pressure: bool,
    pub pid_pressure: bool,
}

/// The Node object the agent registers: metadata and status (the spec is the control plane's).
pub fn registration(config: &NodeConfig, health: &NodeHealth, now: Timestamp) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            labels: Some(labels(config)),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(status(config, health, None, now)),
    }
}

/// The standard labels, then the configured ones.
pub fn labels(config: &NodeConfig) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), config.name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "kubernetes.io/arch".to_string(),
            go_arch(&config.system.architecture).to_string(),
        ),
    ]);
    if let Some(zone) = &config.zone {
        labels.insert("topology.kubernetes.io/zone".to_string(), zone.clone());
    }
    if let Some(region) = &config.region {
        labels.insert("topology.kubernetes.io/region".to_string(), region.clone());
    }
    labels.extend(config.labels.clone());
    labels
}

/// The node status to post, keeping transition times from `previous`.
pub fn status(
    config: &NodeConfig,
    health: &NodeHealth,
    previous: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let resources: BTreeMap<String, Quantity> = config
        .capacity
        .iter()
        .map(|(name, value)| (name.clone(), Quantity(value.clone())))
        .collect();
    let previous_conditions = previous
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".to_string(),
                address: config.address.clone(),
            },
            NodeAddress {
                type_: "Hostname".to_string(),
                address: config.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(config.endpoint_port),
            }),
        }),
        node_info: Some(node_info(&config.system)),
        conditions: Some(
            conditions(health)
                .into_iter()
                .map(|wanted| wanted.into_condition(previous_conditions, now))
                .collect(),
        ),
        ..NodeStatus::default()
    }
}

/// Whether two statuses differ in anything but heartbeat times: a change worth posting now
/// rather than at the next periodic report.
pub fn status_changed(before: Option<&NodeStatus>, after: &NodeStatus) -> bool {
    let Some(before) = before else {
        return true;
    };
    let strip = |status: &NodeStatus| {
        let mut status = status.clone();
        for condition in status.conditions.iter_mut().flatten() {
            condition.last_heartbeat_time = None;
        }
        status
    };
    strip(before) != strip(after)
}

/// The node's heartbeat Lease, held by the node itself.
pub fn lease(name: &str, duration_seconds: i32, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(LEASE_NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(duration_seconds),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

struct WantedCondition {
    type_: &'static str,
    status: bool,
    reason: &'static str,
    message: String,
}

impl WantedCondition {
    fn into_condition(self, previous: &[NodeCondition], now: Timestamp) -> NodeCondition {
        let status = if self.status { "True" } else { "False" };
        let transition = previous
            .iter()
            .find(|condition| condition.type_ == self.type_ && condition.status == status)
            .and_then(|condition| condition.last_transition_time.clone())
            .unwrap_or(Time(now));
        NodeCondition {
            type_: self.type_.to_string(),
            status: status.to_string(),
            reason: Some(self.reason.to_string()),
            message: Some(self.message),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(transition),
        }
    }
}

fn conditions(health: &NodeHealth) -> Vec<WantedCondition> {
    let pressure =
        |type_, on, on_reason, off_reason, on_message: &str, off_message: &str| WantedCondition {
            type_,
            status: on,
            reason: if on { on_reason } else { off_reason },
            message: if on { on_message } else { off_message }.to_string(),
        };
    vec![
        pressure(
            "MemoryPressure",
            health.memory_pressure,
            "KubeletHasInsufficientMemory",
            "KubeletHasSufficientMemory",
            "kubelet has insufficient memory available",
            "kubelet has sufficient memory available",
        ),
        pressure(
            "DiskPressure",
            health.disk_pressure,
            "KubeletHasDiskPressure",
            "KubeletHasNoDiskPressure",
            "kubelet has disk pressure",
            "kubelet has no disk pressure",
        ),
        pressure(
            "PIDPressure",
            health.pid_pressure,
            "KubeletHasInsufficientPID",
            "KubeletHasSufficientPID",
            "kubelet has insufficient PID available",
            "kubelet has sufficient PID available",
        ),
        WantedCondition {
            type_: "Ready",
            status: true,
            reason: "KubeletReady",
            message: "kubelet is posting ready status".to_string(),
        },
        match &health.limits_unenforced {
            None => WantedCondition {
                type_: LIMITS_CONDITION,
                status: true,
                reason: "CgroupsWritable",
                message: "pod memory, CPU and pids limits are enforced by cgroups".to_string(),
            },
            Some(why) => WantedCondition {
                type_: LIMITS_CONDITION,
                status: false,
                reason: "CgroupsUnavailable",
                message: format!("pods run without enforced limits: {why}"),
            },
        },
    ]
}

fn node_info(system: &SystemFacts) -> NodeSystemInfo {
    NodeSystemInfo {
        machine_id: system.machine_id.clone(),
        system_uuid: system.machine_id.clone(),
        boot_id: system.boot_id.clone(),
        kernel_version: system.kernel_version.clone(),
        os_image: system.os_image.clone(),
        container_runtime_version: concat!("bulwark://", env!("CARGO_PKG_VERSION")).to_string(),
        kubelet_version: KUBELET_VERSION.to_string(),
        kube_proxy_version: KUBELET_VERSION.to_string(),
        operating_system: "linux".to_string(),
        architecture: go_arch(&system.architecture).to_string(),
        ..NodeSystemInfo::default()
    }
}

/// Go's name for a machine architecture (`uname -m` says `x86_64`, Kubernetes `amd64`).
fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" | "" => "amd64",
        "aarch64" => "arm64",
        "armv7l" => "arm",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        NodeConfig {
            name: "node-1".to_string(),
            zone: Some("zone-a".to_string()),
            region: Some("local".to_string()),
            labels: BTreeMap::from([("tier".to_string(), "gold".to_string())]),
            capacity: BTreeMap::from([
                ("cpu".to_string(), "2".to_string()),
                ("memory".to_string(), "8Gi".to_string()),
                ("pods".to_string(), "110".to_string()),
            ]),
            address: "127.0.0.1".to_string(),
            endpoint_port: 10250,
            system: SystemFacts {
                architecture: "x86_64".to_string(),
                ..SystemFacts::default()
            },
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid time")
    }

    #[test]
    fn registration_carries_topology_labels_capacity_and_endpoint() {
        let node = registration(&config(), &NodeHealth::default(), at(100));
        let labels = node.metadata.labels.expect("labels");
        assert_eq!(labels["kubernetes.io/hostname"], "node-1");
        assert_eq!(labels["topology.kubernetes.io/zone"], "zone-a");
        assert_eq!(labels["topology.kubernetes.io/region"], "local");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels["tier"], "gold");
        let status = node.status.expect("status");
        assert_eq!(status.allocatable.expect("allocatable")["memory"].0, "8Gi");
        let port = status
            .daemon_endpoints
            .and_then(|e| e.kubelet_endpoint)
            .map(|e| e.port);
        assert_eq!(port, Some(10250));
        let types: Vec<String> = status
            .conditions
            .expect("conditions")
            .into_iter()
            .map(|condition| format!("{}={}", condition.type_, condition.status))
            .collect();
        assert_eq!(
            types,
            [
                "MemoryPressure=False",
                "DiskPressure=False",
                "PIDPressure=False",
                "Ready=True",
                "ResourceLimitsEnforced=True"
            ]
        );
    }

    #[test]
    fn transition_times_stay_while_status_holds_and_heartbeats_move() {
        let first = status(&config(), &NodeHealth::default(), None, at(100));
        let second = status(&config(), &NodeHealth::default(), Some(&first), at(200));
        let ready = |status: &NodeStatus| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|condition| condition.type_ == "Ready")
                .cloned()
                .expect("Ready")
        };
        assert_eq!(ready(&second).last_transition_time, Some(Time(at(100))));
        assert_eq!(ready(&second).last_heartbeat_time, Some(Time(at(200))));
        assert!(!status_changed(Some(&first), &second));
        let pressured = NodeHealth {
            memory_pressure: true,
            ..NodeHealth::default()
        };
        let third = status(&config(), &pressured, Some(&second), at(300));
        assert!(status_changed(Some(&second), &third));
        let memory = third
            .conditions
            .iter()
            .flatten()
            .find(|condition| condition.type_ == "MemoryPressure")
            .expect("MemoryPressure");
        assert_eq!(memory.status, "True");
        assert_eq!(memory.last_transition_time, Some(Time(at(300))));
    }

    #[test]
    fn unenforced_limits_are_reported_with_the_reason() {
        let health = NodeHealth {
            limits_unenforced: Some("/sys/fs/cgroup is read-only".to_string()),
            ..NodeHealth::default()
        };
        let status = status(&config(), &health, None, at(1));
        let limits = status
            .conditions
            .iter()
            .flatten()
            .find(|condition| condition.type_ == LIMITS_CONDITION)
            .expect("limits condition");
        assert_eq!(limits.status, "False");
        assert!(
            limits
                .message
                .as_deref()
                .unwrap_or_default()
                .contains("read-only")
        );
    }

    #[test]
    fn lease_is_held_by_the_node() {
        let lease = lease("node-1", 40, at(5));
        assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
        let spec = lease.spec.expect("spec");
        assert_eq!(spec.holder_identity.as_deref(), Some("node-1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
    }
}
