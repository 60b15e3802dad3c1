//! Deployments, ReplicaSets and DaemonSets.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSetSpec, DaemonSetStatus, DeploymentSpec, DeploymentStatus,
    ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{Value, json};

use super::columns::{AGE, CONTAINERS, CellType, Column, Description, IMAGES, NAME, field_of};
use super::duration::since;
use super::fields::{at, integer, name, object, optional_integer, time};
use super::format::{containers, label_selector, labels, selector_string};

pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Ready",
        Description::Text("Number of the pod with ready state"),
    ),
    Column::text(
        "Up-to-date",
        field_of::<DeploymentStatus>("updatedReplicas"),
    ),
    Column::text(
        "Available",
        field_of::<DeploymentStatus>("availableReplicas"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::text("Selector", field_of::<DeploymentSpec>("selector")).wide(),
];

pub(super) const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Desired",
        CellType::Integer,
        field_of::<ReplicaSetSpec>("replicas"),
    ),
    Column::new(
        "Current",
        CellType::Integer,
        field_of::<ReplicaSetStatus>("replicas"),
    ),
    Column::new(
        "Ready",
        CellType::Integer,
        field_of::<ReplicaSetStatus>("readyReplicas"),
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::text("Selector", field_of::<ReplicaSetSpec>("selector")).wide(),
];

pub(super) const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Desired",
        CellType::Integer,
        field_of::<DaemonSetStatus>("desiredNumberScheduled"),
    ),
    Column::new(
        "Current",
        CellType::Integer,
        field_of::<DaemonSetStatus>("currentNumberScheduled"),
    ),
    Column::new(
        "Ready",
        CellType::Integer,
        field_of::<DaemonSetStatus>("numberReady"),
    ),
    Column::new(
        "Up-to-date",
        CellType::Integer,
        field_of::<DaemonSetStatus>("updatedNumberScheduled"),
    ),
    Column::new(
        "Available",
        CellType::Integer,
        field_of::<DaemonSetStatus>("numberAvailable"),
    ),
    Column::text("Node Selector", field_of::<PodSpec>("nodeSelector")),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::text("Selector", field_of::<DaemonSetSpec>("selector")).wide(),
];

pub(super) const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Controller", Description::Text("Controller of the object")),
    Column::new(
        "Revision",
        CellType::Integer,
        field_of::<ControllerRevision>("revision"),
    ),
    AGE,
];

/// Upstream's `printControllerRevision`: the controller as `kind.group/name`, or `<none>`.
pub(super) fn controller_revision_cells(revision: &Value, now: Timestamp) -> Vec<Value> {
    let owners = at(revision, &["metadata", "ownerReferences"]).and_then(Value::as_array);
    let controller = owners
        .into_iter()
        .flatten()
        .find(|owner| owner["controller"] == json!(true))
        .map_or_else(
            || "<none>".to_string(),
            |owner| {
                let kind = owner["kind"].as_str().unwrap_or_default().to_lowercase();
                let api_version = owner["apiVersion"].as_str().unwrap_or_default();
                let name = owner["name"].as_str().unwrap_or_default();
                match api_version.split_once('/') {
                    Some((group, _)) => format!("{kind}.{group}/{name}"),
                    None => format!("{kind}/{name}"),
                }
            },
        );
    vec![
        json!(name(revision)),
        json!(controller),
        json!(integer(revision, &["revision"])),
        age(revision, now),
    ]
}

/// `spec.replicas`, defaulted to 1 as the v1 defaulting would have.
fn desired_replicas(object: &Value) -> i64 {
    optional_integer(object, &["spec", "replicas"]).unwrap_or(1)
}

fn template_spec(object: &Value) -> &Value {
    at(object, &["spec", "template", "spec"]).unwrap_or(&Value::Null)
}

fn age(object: &Value, now: Timestamp) -> Value {
    json!(since(time(object, &["metadata", "creationTimestamp"]), now))
}

pub(super) fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let ready = integer(deployment, &["status", "readyReplicas"]);
    let (names, images) = containers(template_spec(deployment));
    // A deployment's selector prints bare: empty stays empty, and an invalid one reads <invalid>.
    let selector = selector_string(at(deployment, &["spec", "selector"]))
        .unwrap_or_else(|_| "<invalid>".to_string());
    vec![
        json!(name(deployment)),
        json!(format!("{ready}/{}", desired_replicas(deployment))),
        json!(integer(deployment, &["status", "updatedReplicas"])),
        json!(integer(deployment, &["status", "availableReplicas"])),
        age(deployment, now),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

pub(super) fn replica_set_cells(replica_set: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(template_spec(replica_set));
    vec![
        json!(name(replica_set)),
        json!(desired_replicas(replica_set)),
        json!(integer(replica_set, &["status", "replicas"])),
        json!(integer(replica_set, &["status", "readyReplicas"])),
        age(replica_set, now),
        json!(names),
        json!(images),
        json!(label_selector(at(replica_set, &["spec", "selector"]))),
    ]
}

pub(super) fn daemon_set_cells(daemon_set: &Value, now: Timestamp) -> Vec<Value> {
    let status = |field: &str| json!(integer(daemon_set, &["status", field]));
    let (names, images) = containers(template_spec(daemon_set));
    vec![
        json!(name(daemon_set)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        json!(labels(object(template_spec(daemon_set), &["nodeSelector"]))),
        age(daemon_set, now),
        json!(names),
        json!(images),
        json!(label_selector(at(daemon_set, &["spec", "selector"]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    fn workload(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["template"] = json!({"spec": {"containers": [
            {"name": "web", "image": "bulwark/demo"}, {"name": "sidecar", "image": "bulwark/proxy"}
        ], "nodeSelector": {"disk": "ssd"}}});
        json!({"metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:00:00Z"}, "spec": spec, "status": status})
    }

    #[test]
    fn deployment_row() {
        let deployment = workload(
            json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}),
            json!({"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}),
        );
        assert_eq!(
            deployment_cells(&deployment, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("60m"),
                json!("web,sidecar"),
                json!("bulwark/demo,bulwark/proxy"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn deployment_without_status_or_with_bad_selector() {
        let deployment = workload(
            json!({"selector": {"matchLabels": {"app": "bad value!"}}}),
            json!(null),
        );
        let row = deployment_cells(&deployment, now());
        assert_eq!(row[1], "0/1");
        assert_eq!(row[7], "<invalid>");
    }

    #[test]
    fn replica_set_row() {
        let replica_set = workload(
            json!({"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}}}),
            json!({"replicas": 2, "readyReplicas": 1}),
        );
        assert_eq!(
            replica_set_cells(&replica_set, now())[1..4],
            [json!(2), json!(2), json!(1)]
        );
        assert_eq!(
            replica_set_cells(&replica_set, now())[7],
            "app=web,pod-template-hash=abc"
        );
    }

    #[test]
    fn daemon_set_row() {
        let daemon_set = workload(
            json!({"selector": {"matchLabels": {"app": "agent"}}}),
            json!({"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}),
        );
        let row = daemon_set_cells(&daemon_set, now());
        assert_eq!(
            row[1..7],
            [
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("disk=ssd")
            ]
        );
        assert_eq!(row[10], "app=agent");
    }
}
