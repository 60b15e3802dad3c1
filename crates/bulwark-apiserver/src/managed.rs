//! The bridge to `bulwark-patch` for the schema-aware operations: strategic merge patch,
//! server-side apply and managedFields bookkeeping. Each looks up the kind's type in the
//! annotated schema the registry builds once.

use bulwark_core::{ApiError, ResourceInfo, StatusCause};
use bulwark_patch::Node;
use bulwark_patch::apply::{ApplyError, FieldSet, WriteContext, status_subresource_reset_fields};
use serde_json::Value;

fn node_for(info: &ResourceInfo) -> Node<'static> {
    let schema = bulwark_registry::schema::patch_schema();
    schema
        .root(bulwark_registry::schema::definition_name(info))
        .unwrap_or_else(|| schema.untyped())
}

pub fn strategic_merge(
    info: &ResourceInfo,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    bulwark_patch::strategic::apply(current, patch, node_for(info)).map_err(|error| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {error}"),
        )
    })
}

/// Calls `body` with the write context of one request.
fn with_context<T>(
    info: &ResourceInfo,
    subresource: Option<&str>,
    now: &str,
    body: impl FnOnce(&WriteContext<'_>) -> T,
) -> T {
    let api_version = info.api_version();
    let reset: Option<FieldSet> = crate::strategy::has_status_subresource(info)
        .then(|| status_subresource_reset_fields(subresource));
    let context = WriteContext {
        schema: bulwark_registry::schema::patch_schema(),
        root_type: bulwark_registry::schema::definition_name(info),
        api_version: &api_version,
        subresource,
        time: now,
        reset_fields: reset.as_ref(),
    };
    body(&context)
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
    let tracked = with_context(info, subresource, now, |context| {
        bulwark_patch::apply::track_update(old, new, manager, context)
    });
    *new = tracked;
}

/// Server-side apply of `config` over `live` (absent for a create).
pub fn apply(
    info: &ResourceInfo,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    now: &str,
) -> Result<Value, ApiError> {
    with_context(info, subresource, now, |context| {
        bulwark_patch::apply::apply(live, config, manager, force, context)
    })
    .map_err(|error| match error {
        ApplyError::Conflict(conflict) => {
            let mut status = ApiError::new(409, "Conflict", conflict.to_string());
            status.causes = conflict
                .causes()
                .into_iter()
                .map(|cause| StatusCause::new(cause.reason, cause.field, cause.message))
                .collect();
            status
        }
        other => ApiError::bad_request(format!("error applying patch: {other}")),
    })
}
