//! Nodes: `NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION
//! CONTAINER-RUNTIME`.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{NodeStatus, NodeSystemInfo};
use serde_json::{Value, json};

use super::columns::{AGE, Column, Description, NAME, field_of};
use super::duration::since;
use super::fields::{flag, list, name, object, text, time};

pub(super) const COLUMNS: &[Column] = &[
    NAME,
    Column::text("Status", Description::Text("The status of the node")),
    Column::text("Roles", Description::Text("The roles of the node")),
    AGE,
    Column::text("Version", field_of::<NodeSystemInfo>("kubeletVersion")),
    Column::text("Internal-IP", field_of::<NodeStatus>("addresses")).wide(),
    Column::text("External-IP", field_of::<NodeStatus>("addresses")).wide(),
    Column::text("OS-Image", field_of::<NodeSystemInfo>("osImage")).wide(),
    Column::text(
        "Kernel-Version",
        field_of::<NodeSystemInfo>("kernelVersion"),
    )
    .wide(),
    Column::text(
        "Container-Runtime",
        field_of::<NodeSystemInfo>("containerRuntimeVersion"),
    )
    .wide(),
];

const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const LEGACY_ROLE_LABEL: &str = "kubernetes.io/role";

pub(super) fn cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let info = |field: &str| or_unknown(text(node, &["status", "nodeInfo", field])).to_string();
    vec![
        json!(name(node)),
        json!(status(node)),
        json!(roles(node)),
        json!(since(time(node, &["metadata", "creationTimestamp"]), now)),
        json!(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address(node, "InternalIP")),
        json!(address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// `Ready`, `NotReady` (False or Unknown) or `Unknown` (no Ready condition), plus
/// `,SchedulingDisabled` when cordoned. The last Ready condition wins, as upstream's map does.
fn status(node: &Value) -> String {
    let ready = list(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| text(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(condition) if text(condition, &["status"]) == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if flag(node, &["spec", "unschedulable"]) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Roles from `node-role.kubernetes.io/<role>` keys and the legacy `kubernetes.io/role` value,
/// sorted and deduplicated; `<none>` without any.
fn roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in object(node, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = key.strip_prefix(ROLE_LABEL_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == LEGACY_ROLE_LABEL {
            match value.as_str() {
                Some(role) if !role.is_empty() => {
                    roles.insert(role.to_string());
                }
                _ => {}
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// The first address of that type, `<none>` without one.
fn address(node: &Value, address_type: &str) -> String {
    list(node, &["status", "addresses"])
        .iter()
        .find(|a| text(a, &["type"]) == address_type)
        .map_or_else(
            || "<none>".to_string(),
            |a| text(a, &["address"]).to_string(),
        )
}

fn or_unknown(value: &str) -> &str {
    if value.is_empty() { "<unknown>" } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    fn node(ready: &str, unschedulable: bool) -> Value {
        json!({
            "metadata": {"name": "n1", "creationTimestamp": "2025-05-30T12:00:00Z",
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "",
                           "kubernetes.io/hostname": "n1"}},
            "spec": {"unschedulable": unschedulable},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian", "kernelVersion": "6.1.0",
                             "containerRuntimeVersion": "bulwark://0.1.0"}
            }
        })
    }

    #[test]
    fn ready_node_row() {
        let row = cells(&node("True", false), now());
        assert_eq!(
            row,
            vec![
                json!("n1"),
                json!("Ready"),
                json!("control-plane,worker"),
                json!("2d"),
                json!("v1.33.0"),
                json!("10.0.0.1"),
                json!("<none>"),
                json!("Debian"),
                json!("6.1.0"),
                json!("bulwark://0.1.0")
            ]
        );
    }

    #[test]
    fn not_ready_unknown_and_cordoned() {
        assert_eq!(cells(&node("False", false), now())[1], "NotReady");
        assert_eq!(cells(&node("Unknown", false), now())[1], "NotReady");
        assert_eq!(
            cells(&node("True", true), now())[1],
            "Ready,SchedulingDisabled"
        );
        let bare = json!({"metadata": {"name": "n2"}, "spec": {"unschedulable": true}});
        let row = cells(&bare, now());
        assert_eq!(row[1], "Unknown,SchedulingDisabled");
        assert_eq!(row[2], "<none>");
        assert_eq!(row[7], "<unknown>");
    }

    #[test]
    fn legacy_role_label_counts() {
        let node = json!({"metadata": {"labels": {"kubernetes.io/role": "edge", "node-role.kubernetes.io/": ""}}});
        assert_eq!(roles(&node), "edge");
    }
}
