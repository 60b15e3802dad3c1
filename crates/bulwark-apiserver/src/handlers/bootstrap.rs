//! What exists from a cluster's first start: the system namespaces.

use bulwark_core::ApiError;
use serde_json::json;

use crate::ApiServer;
use crate::handlers::write::{WriteOptions, create_object};
use crate::request::ResourcePath;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates any missing system namespace; a restart finds them and changes nothing.
pub async fn ensure_system_namespaces(server: &ApiServer) -> Result<(), ApiError> {
    let namespaces =
        bulwark_core::resource::find("", "v1", "namespaces").expect("namespaces are always served");
    let options = WriteOptions {
        dry_run: false,
        field_manager: "bulwark-apiserver".into(),
        field_validation: Some("Strict".into()),
        managed_by_apply: false,
    };
    for name in SYSTEM_NAMESPACES {
        let path = ResourcePath {
            resource: namespaces,
            namespace: None,
            name: None,
            subresource: None,
        };
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match create_object(server, &path, body, &options).await {
            Ok(_) => tracing::info!(namespace = name, "created system namespace"),
            Err(error) if error.code == 409 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
