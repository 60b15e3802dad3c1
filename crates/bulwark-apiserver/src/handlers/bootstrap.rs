//! What exists from a cluster's first start: the system namespaces and the two system
//! PriorityClasses.

use bulwark_core::ApiError;
use bulwark_core::priority::{
    SYSTEM_CLUSTER_CRITICAL, SYSTEM_CLUSTER_CRITICAL_VALUE, SYSTEM_NODE_CRITICAL,
    SYSTEM_NODE_CRITICAL_VALUE,
};
use serde_json::json;

use crate::ApiServer;
use crate::handlers::write::{WriteOptions, create_object};
use crate::request::ResourcePath;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates any missing system namespace and system PriorityClass; a restart finds them and
/// changes nothing.
pub async fn ensure_system_namespaces(server: &ApiServer) -> Result<(), ApiError> {
    for name in SYSTEM_NAMESPACES {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        if ensure(server, "", "namespaces", body).await? {
            tracing::info!(namespace = name, "created system namespace");
        }
    }
    for (name, value, description) in [
        (
            SYSTEM_CLUSTER_CRITICAL,
            SYSTEM_CLUSTER_CRITICAL_VALUE,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            SYSTEM_NODE_CRITICAL,
            SYSTEM_NODE_CRITICAL_VALUE,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ] {
        let body = json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description,
            "preemptionPolicy": "PreemptLowerPriority",
        });
        ensure(server, "scheduling.k8s.io", "priorityclasses", body).await?;
    }
    Ok(())
}

/// Creates a cluster-scoped object unless it exists; true when it was created.
async fn ensure(
    server: &ApiServer,
    group: &str,
    plural: &str,
    body: serde_json::Value,
) -> Result<bool, ApiError> {
    let resource = bulwark_core::resource::find(group, "v1", plural).expect("a served resource");
    let options = WriteOptions {
        dry_run: false,
        field_manager: "bulwark-apiserver".into(),
        field_validation: Some("Strict".into()),
        managed_by_apply: false,
    };
    let path = ResourcePath {
        resource,
        namespace: None,
        name: None,
        subresource: None,
    };
    match create_object(server, &path, body, &options).await {
        Ok(_) => Ok(true),
        Err(error) if error.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
