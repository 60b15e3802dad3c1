//! The `FieldsV1` wire format of `metadata.managedFields[].fieldsV1`.
//!
//! Each path element becomes an object key (`f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`); a
//! key whose object is empty, or holds `"."`, is a member; keys inside are deeper paths. For
//! example `{"f:metadata":{"f:labels":{"f:app":{}}}}` holds `.metadata.labels.app`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::PathElement;
use super::set::FieldSet;

/// A `fieldsV1` document that is not a valid field set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsV1Error {
    /// The document, or a node inside it, is not a JSON object.
    #[error("fieldsV1 {at}: expected an object")]
    NotAnObject {
        /// Where, as the serialized keys leading to it.
        at: String,
    },
    /// A key is not a valid path element.
    #[error("fieldsV1 key {key:?}: {reason}")]
    BadKey {
        /// The offending key.
        key: String,
        /// Why it does not parse.
        reason: String,
    },
}

/// Encodes a path element as a `fieldsV1` key.
pub fn element_to_key(element: &PathElement) -> String {
    match element {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Key(fields) => {
            let mut out = String::from("k:{");
            for (position, (name, value)) in fields.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(name.clone()), &mut out);
                out.push(':');
                write_canonical(value, &mut out);
            }
            out.push('}');
            out
        }
        PathElement::Value(value) => {
            let mut out = String::from("v:");
            write_canonical(value, &mut out);
            out
        }
        PathElement::Index(index) => format!("i:{index}"),
    }
}

/// Decodes a `fieldsV1` key. `Ok(None)` for element kinds this version does not know, which
/// upstream drops rather than rejects.
pub fn element_from_key(key: &str) -> Result<Option<PathElement>, FieldsV1Error> {
    let bad = |reason: &str| FieldsV1Error::BadKey {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let Some((kind, body)) = key.split_at_checked(2) else {
        return Err(bad("must be at least 2 characters long"));
    };
    let Some(kind) = kind.strip_suffix(':') else {
        return Err(bad("missing colon"));
    };
    match kind {
        "f" => Ok(Some(PathElement::Field(body.to_string()))),
        "v" => {
            let value = serde_json::from_str(body).map_err(|e| bad(&e.to_string()))?;
            Ok(Some(PathElement::Value(value)))
        }
        "k" => {
            let value: Value = serde_json::from_str(body).map_err(|e| bad(&e.to_string()))?;
            let Value::Object(fields) = value else {
                return Err(bad("key element must be a JSON object"));
            };
            Ok(Some(PathElement::key(fields.into_iter().collect())))
        }
        "i" => {
            let index = body.parse().map_err(|_| bad("index must be an integer"))?;
            Ok(Some(PathElement::Index(index)))
        }
        _ => Ok(None),
    }
}

impl FieldSet {
    /// The set as a `fieldsV1` JSON value. Keys are inserted in upstream's order, so the
    /// document matches the API server's byte for byte when serde_json preserves order.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(level_to_map(self, false))
    }

    /// The set as `fieldsV1` JSON text in upstream's exact key order.
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::new();
        write_level(self, false, &mut out);
        out
    }

    /// Parses a `fieldsV1` document.
    pub fn from_fields_v1(document: &Value) -> Result<FieldSet, FieldsV1Error> {
        let Value::Object(map) = document else {
            return Err(FieldsV1Error::NotAnObject { at: "root".into() });
        };
        Ok(parse_level(map)?.0)
    }
}

/// One level's entries in upstream order: members and children merged by element order, a
/// member that also has children written once with `"."` inside.
fn ordered_entries(set: &FieldSet) -> Vec<(&PathElement, Option<&FieldSet>, bool)> {
    let (members, children) = set.parts();
    let mut elements: BTreeSet<&PathElement> = members.iter().collect();
    elements.extend(children.keys());
    elements
        .into_iter()
        .map(|element| (element, children.get(element), members.contains(element)))
        .collect()
}

fn level_to_map(set: &FieldSet, include_self: bool) -> Map<String, Value> {
    let mut map = Map::new();
    if include_self {
        map.insert(".".into(), Value::Object(Map::new()));
    }
    for (element, child, is_member) in ordered_entries(set) {
        let inner = match child {
            Some(child) => level_to_map(child, is_member),
            None => Map::new(),
        };
        map.insert(element_to_key(element), Value::Object(inner));
    }
    map
}

fn write_level(set: &FieldSet, include_self: bool, out: &mut String) {
    out.push('{');
    let mut first = true;
    if include_self {
        out.push_str("\".\":{}");
        first = false;
    }
    for (element, child, is_member) in ordered_entries(set) {
        if !first {
            out.push(',');
        }
        first = false;
        write_canonical(&Value::String(element_to_key(element)), out);
        out.push(':');
        match child {
            Some(child) => write_level(child, is_member, out),
            None => out.push_str("{}"),
        }
    }
    out.push('}');
}

/// Parses one level; the flag says whether the level marks its parent element a member.
fn parse_level(map: &Map<String, Value>) -> Result<(FieldSet, bool), FieldsV1Error> {
    let mut members = BTreeSet::new();
    let mut children = BTreeMap::new();
    let mut is_member = false;
    for (key, value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(element) = element_from_key(key)? else {
            continue;
        };
        let Value::Object(inner) = value else {
            return Err(FieldsV1Error::NotAnObject { at: key.clone() });
        };
        let (child, child_is_member) = parse_level(inner)?;
        if child_is_member {
            members.insert(element.clone());
        }
        if !child.is_empty() {
            children.insert(element, child);
        }
    }
    let set = FieldSet::from_parts(members, children);
    // An empty object (or one whose keys were all unknown) is a leaf, as upstream reads it.
    Ok((set.clone(), is_member || set.is_empty()))
}

/// Compact JSON with object keys sorted and `<`, `>`, `&` escaped, as Go's encoder writes
/// values inside keys; this keeps `k:` and `v:` keys identical to the API server's.
pub(crate) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            let encoded = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
            for character in encoded.chars() {
                match character {
                    '<' => out.push_str("\\u003c"),
                    '>' => out.push_str("\\u003e"),
                    '&' => out.push_str("\\u0026"),
                    '\u{2028}' => out.push_str("\\u2028"),
                    '\u{2029}' => out.push_str("\\u2029"),
                    other => out.push(other),
                }
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (position, (key, item)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(key.clone()), out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::path::Path;
    use crate::apply::set::tests::{arb_set, path_of};
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn serializes_the_upstream_shape() {
        let container = PathElement::key(vec![("name".into(), json!("nginx"))]);
        let set = FieldSet::from_paths([
            path_of(&["metadata", "labels", "app"]),
            path_of(&["spec", "replicas"]),
            Path(vec![
                PathElement::Field("spec".into()),
                PathElement::Field("containers".into()),
                container.clone(),
            ]),
            Path(vec![
                PathElement::Field("spec".into()),
                PathElement::Field("containers".into()),
                container,
                PathElement::Field("image".into()),
            ]),
        ]);
        assert_eq!(
            set.to_fields_v1_string(),
            r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{}}},"f:replicas":{}}}"#
        );
        let parsed: Value = serde_json::from_str(&set.to_fields_v1_string()).unwrap_or_default();
        assert_eq!(parsed, set.to_fields_v1());
    }

    #[test]
    fn parses_upstream_documents() {
        let document = json!({
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
        });
        let set = FieldSet::from_fields_v1(&document).expect("valid document");
        let printed: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            [
                ".metadata.finalizers",
                r#".metadata.finalizers[="a"]"#,
                r#".spec.ports[port=80,protocol="TCP"]"#,
                r#".spec.ports[port=80,protocol="TCP"].port"#,
            ]
        );
    }

    #[test]
    fn unknown_element_kinds_are_dropped_and_bad_keys_rejected() {
        let set = FieldSet::from_fields_v1(&json!({"x:future": {}, "f:a": {}})).expect("valid");
        assert_eq!(set, FieldSet::from_paths([path_of(&["a"])]));
        assert!(FieldSet::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"fx": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }

    #[test]
    fn html_characters_are_escaped_like_go() {
        let element = PathElement::Value(json!("a<b"));
        assert_eq!(element_to_key(&element), r#"v:"a\u003cb""#);
        assert_eq!(element_from_key(r#"v:"a\u003cb""#), Ok(Some(element)));
    }

    proptest! {
        #[test]
        fn fields_v1_roundtrips(set in arb_set()) {
            let text = set.to_fields_v1_string();
            let value: Value = serde_json::from_str(&text).expect("valid JSON");
            prop_assert_eq!(FieldSet::from_fields_v1(&value).expect("parses"), set.clone());
            prop_assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).expect("parses"), set);
        }

        #[test]
        fn parsing_arbitrary_json_never_panics(text in "[{}\\[\\]\":.,a-z0-9 ]{0,64}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = FieldSet::from_fields_v1(&value);
            }
        }
    }
}
