//! Builders for nodes and pods in tests, benchmarks and the simulator: plain Kubernetes objects,
//! built from their JSON shape so they read like manifests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

/// A ready node with the given allocatable cpu and memory, 110 pods and labels (the hostname
/// label is added).
pub fn node(name: &str, cpu: &str, memory: &str, labels: &[(&str, &str)]) -> Node {
    let mut all: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.insert("kubernetes.io/hostname".into(), name.into());
    let resources =
        json!({"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"});
    from_json(json!({
        "metadata": {"name": name, "labels": all},
        "status": {"allocatable": resources, "capacity": resources},
    }))
}

/// A pod in `namespace` with one container requesting `cpu` and `memory` (empty strings leave
/// the request out) and the given labels.
pub fn pod(namespace: &str, name: &str, cpu: &str, memory: &str, labels: &[(&str, &str)]) -> Pod {
    let mut requests = serde_json::Map::new();
    if !cpu.is_empty() {
        requests.insert("cpu".into(), json!(cpu));
    }
    if !memory.is_empty() {
        requests.insert("memory".into(), json!(memory));
    }
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    from_json(json!({
        "metadata": {"namespace": namespace, "name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "app", "resources": {"requests": requests}}]},
    }))
}

/// The pod with `spec` fields merged in from JSON (e.g. `{"affinity": …}`).
pub fn with_spec(pod: Pod, spec: Value) -> Pod {
    let mut value = serde_json::to_value(&pod).unwrap_or(Value::Null);
    if let (Some(target), Some(extra)) = (
        value.get_mut("spec").and_then(Value::as_object_mut),
        spec.as_object(),
    ) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    from_json(value)
}

/// The pod bound to `node` (`spec.nodeName` set), as the snapshot holds bound pods.
pub fn bound_to(pod: Pod, node: &str) -> Pod {
    with_spec(pod, json!({"nodeName": node}))
}

/// The pod with `spec.priority` set, as admission would resolve it.
pub fn with_priority(pod: Pod, priority: i32) -> Pod {
    with_spec(pod, json!({"priority": priority}))
}

fn from_json<T: serde::de::DeserializeOwned + Default>(value: Value) -> T {
    // The builders above only produce valid shapes; an invalid one is a bug in a test.
    serde_json::from_value(value).unwrap_or_default()
}
