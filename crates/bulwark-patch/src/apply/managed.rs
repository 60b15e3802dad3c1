//! `metadata.managedFields`: decoding the entries of an object into per-manager field sets and
//! encoding them back, sorted as upstream sorts them.

use serde_json::{Map, Value};

use super::fields_v1::{FieldsV1Error, write_canonical};
use super::set::FieldSet;

/// `operation` of a managedFields entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write: create, update, patch.
    Update,
}

impl Operation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// Who manages a set of fields: what makes two entries the same manager. Appliers are one
/// manager across API versions; updaters are distinguished by version too, as upstream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ManagerId {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion` for updaters; empty for appliers.
    pub api_version: String,
    /// `subresource`, empty for the main resource.
    pub subresource: String,
}

impl ManagerId {
    /// The identity of a request's `manager` writing with `operation` at `api_version`; a
    /// request without a manager name is `unknown`, as upstream names it.
    pub fn new(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Self {
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        Self::stored(manager, operation, api_version, subresource)
    }

    /// The identity of a stored entry, its manager name kept as it is.
    fn stored(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Self {
        Self {
            manager: manager.to_string(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.to_string(),
            },
            subresource: subresource.to_string(),
        }
    }

    /// The JSON identifier upstream keys managers by; conflict messages are sorted by it.
    pub fn identifier(&self) -> String {
        let mut out = String::from("{");
        let mut field = |name: &str, value: &str, first: bool| {
            if !first {
                out.push(',');
            }
            out.push_str(&format!("\"{name}\":"));
            write_canonical(&Value::String(value.to_string()), &mut out);
        };
        field("manager", &self.manager, true);
        field("operation", self.operation.as_str(), false);
        if !self.api_version.is_empty() {
            field("apiVersion", &self.api_version, false);
        }
        if !self.subresource.is_empty() {
            field("subresource", &self.subresource, false);
        }
        out.push('}');
        out
    }

    /// How conflict messages name the manager: `"kubectl"`, or
    /// `"kubectl-scale" using apps/v1` for updaters, with ` with subresource "scale"` when set.
    pub fn describe(&self) -> String {
        let mut text = quote(&self.manager);
        if !self.subresource.is_empty() {
            text.push_str(&format!(" with subresource {}", quote(&self.subresource)));
        }
        if self.operation == Operation::Update {
            text.push_str(&format!(" using {}", self.api_version));
        }
        text
    }
}

/// Go's `%q` for the names we print; JSON string quoting agrees for printable text.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// One manager's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    /// Who.
    pub id: ManagerId,
    /// The API version the fields are expressed in.
    pub api_version: String,
    /// When the manager last changed the object (RFC 3339), if known.
    pub time: Option<String>,
    /// The fields.
    pub fields: FieldSet,
}

/// A managedFields list that the API server must reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedFieldsError {
    /// Not a list of objects.
    #[error("metadata.managedFields must be a list of objects")]
    NotAList,
    /// An entry's operation is neither `Apply` nor `Update`.
    #[error("metadata.managedFields[{index}]: operation must be `Apply` or `Update`")]
    BadOperation {
        /// Entry index.
        index: usize,
    },
    /// An entry has no apiVersion.
    #[error("metadata.managedFields[{index}]: apiVersion must not be empty")]
    MissingApiVersion {
        /// Entry index.
        index: usize,
    },
    /// An entry's fieldsType is missing or not `FieldsV1`.
    #[error("metadata.managedFields[{index}]: fieldsType must be \"FieldsV1\"")]
    BadFieldsType {
        /// Entry index.
        index: usize,
    },
    /// An entry's fieldsV1 does not parse.
    #[error("metadata.managedFields[{index}]: {source}")]
    BadFields {
        /// Entry index.
        index: usize,
        /// Why.
        source: FieldsV1Error,
    },
}

/// The managedFields of `object`, or `None` when the object has none.
pub fn raw_managed_fields(object: &Value) -> Option<&Value> {
    object
        .get("metadata")?
        .get("managedFields")
        .filter(|value| !value.is_null())
}

/// Decodes a managedFields list. Entries of the same manager are merged.
pub fn decode(list: &Value) -> Result<Vec<ManagedEntry>, ManagedFieldsError> {
    let Value::Array(items) = list else {
        return Err(ManagedFieldsError::NotAList);
    };
    let mut entries: Vec<ManagedEntry> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let entry = decode_entry(index, item)?;
        match entries.iter_mut().find(|existing| existing.id == entry.id) {
            Some(existing) => existing.fields = existing.fields.union(&entry.fields),
            None => entries.push(entry),
        }
    }
    Ok(entries)
}

fn decode_entry(index: usize, item: &Value) -> Result<ManagedEntry, ManagedFieldsError> {
    let Value::Object(map) = item else {
        return Err(ManagedFieldsError::NotAList);
    };
    let text = |name: &str| map.get(name).and_then(Value::as_str).unwrap_or_default();
    let operation = match text("operation") {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return Err(ManagedFieldsError::BadOperation { index }),
    };
    let api_version = text("apiVersion");
    if api_version.is_empty() {
        return Err(ManagedFieldsError::MissingApiVersion { index });
    }
    if text("fieldsType") != "FieldsV1" {
        return Err(ManagedFieldsError::BadFieldsType { index });
    }
    let fields = match map.get("fieldsV1") {
        None | Some(Value::Null) => FieldSet::new(),
        Some(document) => FieldSet::from_fields_v1(document)
            .map_err(|source| ManagedFieldsError::BadFields { index, source })?,
    };
    Ok(ManagedEntry {
        id: ManagerId::stored(text("manager"), operation, api_version, text("subresource")),
        api_version: api_version.to_string(),
        time: map.get("time").and_then(Value::as_str).map(str::to_string),
        fields,
    })
}

/// Encodes entries as a managedFields list, dropping empty ones and sorting by operation,
/// time, manager, apiVersion and subresource as upstream does. `None` when nothing is left.
pub fn encode(entries: &[ManagedEntry]) -> Option<Value> {
    let mut kept: Vec<&ManagedEntry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    if kept.is_empty() {
        return None;
    }
    kept.sort_by(|a, b| {
        a.id.operation
            .cmp(&b.id.operation)
            .then_with(|| {
                a.time
                    .as_deref()
                    .unwrap_or("")
                    .cmp(b.time.as_deref().unwrap_or(""))
            })
            .then_with(|| a.id.manager.cmp(&b.id.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.id.subresource.cmp(&b.id.subresource))
    });
    Some(Value::Array(kept.into_iter().map(encode_entry).collect()))
}

fn encode_entry(entry: &ManagedEntry) -> Value {
    let mut map = Map::new();
    map.insert("manager".into(), Value::String(entry.id.manager.clone()));
    map.insert(
        "operation".into(),
        Value::String(entry.id.operation.as_str().into()),
    );
    map.insert(
        "apiVersion".into(),
        Value::String(entry.api_version.clone()),
    );
    if let Some(time) = &entry.time {
        map.insert("time".into(), Value::String(time.clone()));
    }
    map.insert("fieldsType".into(), Value::String("FieldsV1".into()));
    map.insert("fieldsV1".into(), entry.fields.to_fields_v1());
    if !entry.id.subresource.is_empty() {
        map.insert(
            "subresource".into(),
            Value::String(entry.id.subresource.clone()),
        );
    }
    Value::Object(map)
}

/// Replaces (or removes, for `None`) `metadata.managedFields` of `object`.
pub fn set_managed_fields(object: &mut Value, list: Option<Value>) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    match list {
        Some(list) => {
            let metadata = root
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if !metadata.is_object() {
                *metadata = Value::Object(Map::new());
            }
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.insert("managedFields".into(), list);
            }
        }
        None => {
            if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_managers_like_upstream() {
        let scale = ManagerId::new("kubectl-scale", Operation::Update, "apps/v1", "");
        assert_eq!(scale.describe(), r#""kubectl-scale" using apps/v1"#);
        let applier = ManagerId::new("kubectl", Operation::Apply, "apps/v1", "");
        assert_eq!(applier.describe(), r#""kubectl""#);
        let status = ManagerId::new("kubelet", Operation::Update, "v1", "status");
        assert_eq!(
            status.describe(),
            r#""kubelet" with subresource "status" using v1"#
        );
        assert_eq!(
            scale.identifier(),
            r#"{"manager":"kubectl-scale","operation":"Update","apiVersion":"apps/v1"}"#
        );
    }

    #[test]
    fn decode_encode_roundtrips_and_sorts() {
        let list = json!([
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:x": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:y": {}}}},
        ]);
        let entries = decode(&list).expect("valid");
        let encoded = encode(&entries).expect("non-empty");
        assert_eq!(encoded[0]["manager"], "a");
        assert_eq!(encoded[1]["manager"], "b");
        assert_eq!(decode(&encoded).expect("valid").len(), 2);
    }

    #[test]
    fn invalid_entries_are_rejected() {
        assert!(decode(&json!({})).is_err());
        assert!(
            decode(&json!([{"operation": "Delete", "apiVersion": "v1", "fieldsType": "FieldsV1"}]))
                .is_err()
        );
        assert!(decode(&json!([{"operation": "Apply", "fieldsType": "FieldsV1"}])).is_err());
        assert!(decode(&json!([{"operation": "Apply", "apiVersion": "v1"}])).is_err());
        assert!(decode(&json!([{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": 3}])).is_err());
    }
}
