//! Helpers for the unit tests next to each plugin.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Toleration};
use serde_json::json;

use crate::fixtures;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

pub fn node(name: &str, cpu: &str, memory: &str, labels: &[(&str, &str)]) -> NodeInfo {
    NodeInfo::new(Arc::new(fixtures::node(name, cpu, memory, labels)))
}

pub fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Toleration {
        key: some(key),
        operator: some(operator),
        value: some(value),
        effect: some(effect),
        toleration_seconds: None,
    }
}

pub fn bound(pod: Pod, node: &str) -> Arc<PodInfo> {
    Arc::new(PodInfo::new(fixtures::bound_to(pod, node)))
}

pub fn pod_with_host_port(name: &str, port: i32) -> Pod {
    fixtures::with_spec(
        fixtures::pod("default", name, "", "", &[]),
        json!({"containers": [{"name": "app", "image": "app", "ports": [{"containerPort": port, "hostPort": port}]}]}),
    )
}
