//! Small accessors over objects held as JSON, and the mapping of storage errors to API errors.

use bulwark_core::ApiError;
use serde_json::{Map, Value};

pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata")?.as_object()
}

/// The object's `metadata`, created if missing or not an object.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let root = object.as_object_mut().expect("made an object above");
    let entry = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("made an object above")
}

pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)?.get(field)?.as_str()
}

pub fn name(object: &Value) -> Option<&str> {
    meta_str(object, "name").filter(|name| !name.is_empty())
}

pub fn namespace(object: &Value) -> Option<&str> {
    meta_str(object, "namespace").filter(|namespace| !namespace.is_empty())
}

pub fn uid(object: &Value) -> Option<&str> {
    meta_str(object, "uid")
}

pub fn resource_version(object: &Value) -> Option<i64> {
    meta_str(object, "resourceVersion")?.parse().ok()
}

pub fn set_resource_version(object: &mut Value, revision: i64) {
    metadata_mut(object).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

pub fn labels(object: &Value) -> Option<&Map<String, Value>> {
    metadata(object)?.get("labels")?.as_object()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    metadata(object)
        .and_then(|meta| meta.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_terminating(object: &Value) -> bool {
    metadata(object).is_some_and(|meta| meta.get("deletionTimestamp").is_some_and(|t| !t.is_null()))
}

/// Everything but `metadata` and `status`: the part whose change bumps `metadata.generation`.
pub fn spec_part(object: &Value) -> Map<String, Value> {
    object
        .as_object()
        .map(|root| {
            root.iter()
                .filter(|(key, _)| {
                    !matches!(key.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Storage failures a client can act on keep their meaning; the rest are 500s.
pub fn storage_error(error: bulwark_store::Error) -> ApiError {
    match error {
        bulwark_store::Error::Compacted {
            requested,
            compacted,
        } => crate::cache::expired(requested, compacted),
        bulwark_store::Error::Unavailable(message) => {
            ApiError::service_unavailable(format!("storage is unavailable: {message}"))
        }
        other => ApiError::internal(format!("storage error: {other}")),
    }
}

/// The deepest nesting an object may have. Request parsers stop at 128 levels; patches could
/// otherwise build deeper objects that a later read could not decode.
pub const MAX_NESTING_DEPTH: usize = 100;

/// Refuses objects nested deeper than [`MAX_NESTING_DEPTH`], before they reach the store.
pub fn check_nesting(object: &Value) -> Result<(), ApiError> {
    fn depth_exceeds(value: &Value, remaining: usize) -> bool {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => return false,
        };
        if remaining == 0 {
            return true;
        }
        children
            .into_iter()
            .any(|child| depth_exceeds(child, remaining - 1))
    }
    if depth_exceeds(object, MAX_NESTING_DEPTH) {
        return Err(ApiError::bad_request(format!(
            "the object nests deeper than {MAX_NESTING_DEPTH} levels"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(Value::Null, |inner, _| serde_json::json!({ "a": inner }))
    }

    #[test]
    fn objects_within_the_nesting_bound_pass() {
        assert!(check_nesting(&nested(MAX_NESTING_DEPTH)).is_ok());
    }

    #[test]
    fn deeper_objects_are_bad_requests() {
        assert_eq!(
            check_nesting(&nested(MAX_NESTING_DEPTH + 1))
                .unwrap_err()
                .code,
            400
        );
    }
}
