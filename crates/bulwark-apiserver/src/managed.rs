//! The bridge to `bulwark-patch` for the schema-aware operations: strategic merge patch,
//! server-side apply and managedFields bookkeeping. Each looks up the kind's type in the
//! annotated schema the registry builds once.

use bulwark_core::{ApiError, ResourceInfo, StatusCause};
use bulwark_patch::Node;
use serde_json::Value;

fn node_for(info: &ResourceInfo) -> Node<'static> {
    let schema = bulwark_registry::schema::patch_schema();
    let name = bulwark_registry::schema::definition_name(info);
    schema.root(name).unwrap_or_else(|| schema.untyped())
}

pub fn strategic_merge(info: &ResourceInfo, current: &Value, patch: &Value) -> Result<Value, ApiError> {
    bulwark_patch::strategic::apply(current, patch, node_for(info))
        .map_err(|error| ApiError::new(422, "Invalid", format!("the server rejected our request due to an error in our request: {error}")))
}

/// Records a non-apply write in `metadata.managedFields` as an `Update` by `manager`.
pub fn record_update(
    info: &ResourceInfo,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    bulwark_patch::apply::track_update(old, new, manager, subresource, &info.api_version(), now, node_for(info));
}

/// Server-side apply of `config` over `live` (absent for a create).
pub fn apply(
    info: &ResourceInfo,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApiError> {
    bulwark_patch::apply::apply(live, config, manager, force, &info.api_version(), now, node_for(info)).map_err(|error| {
        match error {
            bulwark_patch::apply::ApplyError::Conflict(conflict) => {
                let mut status = ApiError::new(409, "Conflict", conflict.to_string());
                status.causes = conflict
                    .causes()
                    .into_iter()
                    .map(|cause| StatusCause::new("FieldManagerConflict", cause.field, cause.message))
                    .collect();
                status
            }
            other => ApiError::bad_request(format!("error applying patch: {other}")),
        }
    })
}
