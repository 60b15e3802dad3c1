//! The kind-specific rules the generic handlers apply, in one place: which kinds count
//! generations, what a create resets, and the bridge to `bulwark-registry`'s defaulting,
//! validation, decoding and printing.

use bulwark_core::{ApiError, ResourceInfo, StatusCause};
use serde_json::{Value, json};

/// Kinds whose spec changes bump `metadata.generation` (upstream's strategies for workloads and
/// budgets; pods, nodes, namespaces and services do not).
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.plural),
        ("apps", _) | ("batch", _) | ("policy", "poddisruptionbudgets")
    )
}

/// Kinds whose `status` is written only through the status subresource.
pub fn has_status_subresource(info: &ResourceInfo) -> bool {
    info.subresource("status").is_some()
}

/// What a create keeps of a client-supplied status: upstream resets it for kinds with a status
/// subresource, except that nodes may register with status (kubelets do) and pods start Pending.
pub fn reset_status_on_create(info: &ResourceInfo, object: &mut Value) {
    if !has_status_subresource(info) {
        return;
    }
    let Some(root) = object.as_object_mut() else {
        return;
    };
    match (info.group, info.plural) {
        ("", "nodes") => {}
        ("", "pods") => {
            root.insert("status".into(), json!({"phase": "Pending"}));
        }
        ("", "namespaces") => {
            root.insert("status".into(), json!({"phase": "Active"}));
        }
        _ => {
            root.remove("status");
        }
    }
}

/// Decodes a request body, enforcing `fieldValidation`.
pub fn decode_body(
    info: &'static ResourceInfo,
    body: &[u8],
    yaml: bool,
    field_validation: Option<&str>,
) -> Result<(Value, Vec<String>), ApiError> {
    let mode = bulwark_registry::strict::FieldValidation::from_query(field_validation)?;
    let format = if yaml {
        bulwark_registry::strict::Format::Yaml
    } else {
        bulwark_registry::strict::Format::Json
    };
    bulwark_registry::strict::decode(info, body, format, mode)
}

/// The typed round trip: well-typed, canonical JSON for the kind.
pub fn normalize(info: &'static ResourceInfo, object: Value) -> Result<Value, ApiError> {
    bulwark_registry::normalize::normalize(info, object)
}

pub fn apply_defaults(info: &'static ResourceInfo, object: &mut Value) {
    bulwark_registry::defaults::apply_defaults(info, object);
}

pub fn validate(
    info: &'static ResourceInfo,
    object: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let causes: Vec<StatusCause> = match old {
        None => bulwark_registry::validation::validate_create(info, object),
        Some(old) => bulwark_registry::validation::validate_update(info, object, old),
    };
    if causes.is_empty() {
        return Ok(());
    }
    let name = crate::object::name(object).unwrap_or_default();
    Err(ApiError::invalid(info.group, info.kind, name, causes))
}
