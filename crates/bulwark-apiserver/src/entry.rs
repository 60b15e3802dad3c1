//! How the watch cache holds an object: its JSON bytes, serialised once when the object is
//! cached, and a small decoded index of what selectors read.
//!
//! A pod of 2 KiB of JSON costs ten times that as a `serde_json::Value`; held as bytes it costs
//! its size. Lists and watch events of objects as themselves are then byte splices, filters read
//! only the index, and the rare readers of the decoded object (Tables, events.k8s.io conversion)
//! decode on demand.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bulwark_core::ResourceInfo;
use bulwark_core::selector::field_labels;
use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::object;

/// What selectors and handlers read of a cached object without decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// `metadata.name`, empty when missing.
    pub name: Box<str>,
    /// `metadata.namespace`, `None` when missing or empty.
    pub namespace: Option<Box<str>>,
    pub resource_version: i64,
    /// String-valued `metadata.labels`, sorted by key.
    labels: Box<[(Box<str>, Box<str>)]>,
    /// Every selectable field of the kind with the value it reads, sorted by field.
    fields: Box<[(&'static str, Box<str>)]>,
}

/// Each resource's selectable fields, sorted, worked out once.
fn selectable_fields(resource: &'static ResourceInfo) -> &'static [&'static str] {
    type Fields = HashMap<(&'static str, &'static str), &'static [&'static str]>;
    static FIELDS: OnceLock<Fields> = OnceLock::new();
    let fields = FIELDS.get_or_init(|| {
        bulwark_core::resource::RESOURCES
            .iter()
            .map(|info| {
                let fields: Vec<&'static str> = field_labels::selectable_fields(info)
                    .into_iter()
                    .map(|field| &*Box::leak(field.into_boxed_str()))
                    .collect();
                (
                    (info.group, info.plural),
                    &*Box::leak(fields.into_boxed_slice()),
                )
            })
            .collect()
    });
    fields
        .get(&(resource.group, resource.plural))
        .copied()
        .unwrap_or_default()
}

impl Index {
    fn of(resource: &'static ResourceInfo, value: &Value, resource_version: i64) -> Self {
        let labels: Box<[(Box<str>, Box<str>)]> = object::labels(value)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(key, value)| Some((key.as_str().into(), value.as_str()?.into())))
                    .collect()
            })
            .unwrap_or_default();
        let fields = selectable_fields(resource)
            .iter()
            .filter_map(|&field| {
                let read = field_labels::field_value(resource, value, field)?;
                Some((field, read.into_boxed_str()))
            })
            .collect();
        Self {
            name: object::meta_str(value, "name").unwrap_or_default().into(),
            namespace: object::namespace(value).map(Into::into),
            resource_version,
            labels,
            fields,
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(candidate, _)| (**candidate).cmp(key))
            .ok()
            .map(|at| &*self.labels[at].1)
    }

    /// The value a field selector reads for `field`; fields the kind does not know read `""`.
    pub fn field(&self, field: &str) -> &str {
        self.fields
            .binary_search_by(|(candidate, _)| (*candidate).cmp(field))
            .ok()
            .map_or("", |at| &*self.fields[at].1)
    }
}

/// One cached object.
pub struct Entry {
    /// The object as JSON, `metadata.resourceVersion` filled in.
    pub json: Bytes,
    /// Where `metadata`'s value lies in `json`.
    metadata: Range<usize>,
    pub index: Arc<Index>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("index", &self.index)
            .field("bytes", &self.json.len())
            .finish()
    }
}

impl Entry {
    /// Caches `value` of `resource` (its storage resource) as of `revision`.
    pub fn new(resource: &'static ResourceInfo, mut value: Value, revision: i64) -> Self {
        object::set_resource_version(&mut value, revision);
        let index = Arc::new(Index::of(resource, &value, revision));
        let (json, metadata) = encode(&value);
        Self {
            json: Bytes::from(json),
            metadata,
            index,
        }
    }

    /// Decodes stored JSON bytes; `None` (logged) when they are not JSON.
    pub fn decode(
        resource: &'static ResourceInfo,
        key: &str,
        stored: &[u8],
        revision: i64,
    ) -> Option<Self> {
        match serde_json::from_slice::<Value>(stored) {
            Ok(value) => Some(Self::new(resource, value, revision)),
            Err(error) => {
                tracing::error!(%key, %error, "undecodable object in the store; skipping it");
                None
            }
        }
    }

    /// The same object stamped with another revision (a deletion's).
    pub fn restamped(&self, resource: &'static ResourceInfo, revision: i64) -> Self {
        Self::new(resource, self.value(), revision)
    }

    /// The object decoded.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or_else(|error| {
            tracing::error!(%error, "a cached object does not decode");
            Value::Null
        })
    }

    /// The object decoded without `metadata.managedFields`: about half the work of [`value`]
    /// for objects written by server-side apply, for readers such as Table rows.
    ///
    /// [`value`]: Entry::value
    pub fn value_without_managed_fields(&self) -> Value {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.json);
        ObjectSeed { depth: 0 }
            .deserialize(&mut deserializer)
            .unwrap_or_else(|error| {
                tracing::error!(%error, "a cached object does not decode");
                Value::Null
            })
    }

    /// `metadata`'s JSON, `{}` when the object has none.
    pub fn metadata_json(&self) -> &[u8] {
        if self.metadata.is_empty() {
            b"{}"
        } else {
            &self.json[self.metadata.clone()]
        }
    }
}

/// Serialises an object exactly as `serde_json::to_vec` does, noting where `metadata` lies.
fn encode(value: &Value) -> (Vec<u8>, Range<usize>) {
    let mut metadata = 0..0;
    let Some(map) = value.as_object() else {
        return (
            serde_json::to_vec(value).expect("JSON values always serialise"),
            metadata,
        );
    };
    let mut out = Vec::with_capacity(1024);
    out.push(b'{');
    for (at, (key, field)) in map.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key).expect("strings always serialise");
        out.push(b':');
        let start = out.len();
        serde_json::to_writer(&mut out, field).expect("JSON values always serialise");
        if key == "metadata" && field.is_object() {
            metadata = start..out.len();
        }
    }
    out.push(b'}');
    (out, metadata)
}

/// Decodes a `Value`, skipping `metadata.managedFields` (depth 0: the object, 1: its metadata).
struct ObjectSeed {
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match (self.depth, key.as_str()) {
                (0, "metadata") => {
                    let metadata = access.next_value_seed(ObjectSeed { depth: 1 })?;
                    map.insert(key, metadata);
                }
                (1, "managedFields") => {
                    access.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.insert(key, access.next_value::<Value>()?);
                }
            }
        }
        Ok(Value::Object(map))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        bulwark_core::resource::find("", "v1", "pods").expect("pods are served")
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"app": "web", "tier": "front"},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running"},
        })
    }

    #[test]
    fn bytes_are_the_object_serialised_with_its_resource_version() {
        let entry = Entry::new(pods(), pod(), 42);
        let mut expected = pod();
        object::set_resource_version(&mut expected, 42);
        assert_eq!(entry.json, serde_json::to_vec(&expected).unwrap());
        assert_eq!(entry.value(), expected);
        assert_eq!(
            serde_json::from_slice::<Value>(entry.metadata_json()).unwrap(),
            expected["metadata"]
        );
    }

    #[test]
    fn the_index_holds_names_labels_and_selectable_fields() {
        let entry = Entry::new(pods(), pod(), 7);
        assert_eq!(&*entry.index.name, "web");
        assert_eq!(entry.index.namespace.as_deref(), Some("default"));
        assert_eq!(entry.index.resource_version, 7);
        assert_eq!(entry.index.label("tier"), Some("front"));
        assert_eq!(entry.index.label("absent"), None);
        assert_eq!(entry.index.field("spec.nodeName"), "n1");
        assert_eq!(entry.index.field("status.phase"), "Running");
        assert_eq!(entry.index.field("spec.hostNetwork"), "false");
        assert_eq!(entry.index.field("metadata.name"), "web");
    }

    #[test]
    fn decoding_for_tables_skips_only_managed_fields() {
        let entry = Entry::new(pods(), pod(), 7);
        let mut expected = entry.value();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(entry.value_without_managed_fields(), expected);
    }

    #[test]
    fn objects_without_metadata_have_empty_metadata() {
        let entry = Entry::new(pods(), json!({"kind": "Pod"}), 3);
        assert_eq!(&*entry.index.name, "");
        assert!(entry.value()["metadata"]["resourceVersion"] == "3");
    }
}
