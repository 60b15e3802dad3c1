//! Decoding a request body under `fieldValidation` (`Strict`, `Warn`, `Ignore`), as upstream's
//! apiserver does: unknown fields and duplicate fields are errors, warnings or nothing, while a
//! malformed body or a value of the wrong type is always a 400.
//!
//! `serde_json::Value` keeps only the last of duplicate keys, so bodies are first parsed into a
//! `Node` tree that keeps every entry; one walk over that tree and the kind's schema (from
//! [`crate::schema`]) then finds duplicates, unknown fields and type errors in document order,
//! and builds the `Value` (last duplicate wins, as in Go's `encoding/json`).

use std::collections::HashSet;
use std::fmt;

use bulwark_core::ApiError;
use bulwark_core::resource::ResourceInfo;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::schema::{definition_name_for, definitions, referenced_definition};

/// The wire format of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Unknown or duplicate fields fail the request with 400 BadRequest.
    Strict,
    /// Unknown or duplicate fields are reported as warnings; upstream's default since 1.23.
    #[default]
    Warn,
    /// Unknown or duplicate fields are dropped silently.
    Ignore,
}

impl FieldValidation {
    /// Parses the query parameter; absent or empty means the default, `Warn`.
    pub fn from_query(value: Option<&str>) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(Self::Warn),
            "Strict" => Ok(Self::Strict),
            "Ignore" => Ok(Self::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// Decodes a body for a served resource. Returns the object and the warnings to send.
pub fn decode(
    resource: &ResourceInfo,
    body: &[u8],
    format: Format,
    mode: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    decode_kind(
        resource.group,
        resource.version,
        resource.kind,
        body,
        format,
        mode,
    )
}

/// Decodes a body for any kind with a schema (subresource kinds such as `Scale` included).
pub fn decode_kind(
    group: &str,
    version: &str,
    kind: &str,
    body: &[u8],
    format: Format,
    mode: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let node = parse(body, format).map_err(|problem| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): {problem}"
        ))
    })?;
    let mut walk = Walk::new(definition_name_for(group, version, kind));
    let value = walk.node(&node);
    finish(walk, value, version, kind, mode)
}

/// Checks an already parsed object (the result of a patch, say) for unknown fields and type
/// errors; duplicates cannot be seen any more. Returns the warnings to send.
pub fn check_value(
    group: &str,
    version: &str,
    kind: &str,
    value: &Value,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let node = Node::from_value(value);
    let mut walk = Walk::new(definition_name_for(group, version, kind));
    let rebuilt = walk.node(&node);
    finish(walk, rebuilt, version, kind, mode).map(|(_, warnings)| warnings)
}

fn finish(
    walk: Walk,
    value: Value,
    version: &str,
    kind: &str,
    mode: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let cannot_handle = |problem: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {problem}"
        ))
    };
    if let Some(type_error) = walk.type_error {
        return Err(cannot_handle(type_error));
    }
    match mode {
        FieldValidation::Strict if !walk.problems.is_empty() => Err(cannot_handle(format!(
            "strict decoding error: {}",
            walk.problems.join(", ")
        ))),
        FieldValidation::Warn => Ok((value, walk.problems)),
        _ => Ok((value, Vec::new())),
    }
}

/// A parsed document that, unlike `serde_json::Value`, keeps duplicate keys.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    fn from_value(value: &Value) -> Self {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => Node::String(s.clone()),
            Value::Array(items) => Node::Array(items.iter().map(Node::from_value).collect()),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_value(v)))
                    .collect(),
            ),
        }
    }
}

fn parse(body: &[u8], format: Format) -> Result<Node, String> {
    match format {
        Format::Json => serde_json::from_slice::<Node>(body)
            .map_err(|e| format!("couldn't get version/kind; json parse error: {e}")),
        Format::Yaml => {
            let node = serde_yaml::from_slice::<Node>(body)
                .map_err(|e| format!("error converting YAML to JSON: {e}"))?;
            // An empty YAML document is null; upstream treats it as an empty object.
            Ok(if node == Node::Null {
                Node::Object(Vec::new())
            } else {
                node
            })
        }
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom(format!("unsupported number {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            entries.push((key.0, map.next_value::<Node>()?));
        }
        Ok(Node::Object(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A mapping key. YAML allows scalar keys of any type; converting YAML to JSON turns them into
/// strings, as upstream's sigs.k8s.io/yaml does.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Node::deserialize(deserializer)? {
            Node::String(s) => Ok(Key(s)),
            Node::Bool(b) => Ok(Key(b.to_string())),
            Node::Number(n) => Ok(Key(n.to_string())),
            Node::Null => Ok(Key("null".to_string())),
            Node::Array(_) | Node::Object(_) => {
                Err(de::Error::custom("a mapping key must be a scalar"))
            }
        }
    }
}

/// One walk over a document and its schema.
struct Walk {
    root: Option<&'static str>,
    /// Unknown and duplicate fields, in document order, in upstream's words.
    problems: Vec<String>,
    /// The first value of the wrong type, in the words of Go's `encoding/json`.
    type_error: Option<String>,
    /// Field path for messages: `spec.containers[0].image`.
    path: Vec<Segment>,
}

#[derive(Clone)]
enum Segment {
    Field(String),
    Index(usize),
}

/// Where the walk is in the schema: the schema of the current value and the definition whose
/// property it is (Go's "struct field" in type errors).
#[derive(Clone, Copy)]
struct Place<'s> {
    schema: Option<&'s Value>,
    definition: Option<&'s str>,
}

impl Walk {
    fn new(root: Option<&'static str>) -> Self {
        Self {
            root,
            problems: Vec::new(),
            type_error: None,
            path: Vec::new(),
        }
    }

    fn node(&mut self, node: &Node) -> Value {
        let root = self.root.and_then(|name| definitions().get_key_value(name));
        let place = Place {
            schema: root.map(|(_, schema)| schema),
            definition: root.map(|(name, _)| name.as_str()),
        };
        self.walk(node, place)
    }

    fn field_path(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                Segment::Field(name) if out.is_empty() => out.push_str(name),
                Segment::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Segment::Index(index) => out.push_str(&format!("[{index}]")),
            }
        }
        out
    }

    /// Go's struct-field path: dotted field names without list indices.
    fn go_field_path(&self) -> String {
        let names: Vec<&str> = self
            .path
            .iter()
            .filter_map(|segment| match segment {
                Segment::Field(name) => Some(name.as_str()),
                Segment::Index(_) => None,
            })
            .collect();
        names.join(".")
    }

    fn walk(&mut self, node: &Node, place: Place<'static>) -> Value {
        let (schema, definition) = resolve(place);
        if let Some(schema) = schema {
            self.check_type(node, schema, definition, place.definition);
        }
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Array(items) => {
                let item_schema = schema.and_then(|s| s.get("items"));
                let values = items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        self.path.push(Segment::Index(index));
                        let value = self.walk(
                            item,
                            Place {
                                schema: item_schema,
                                definition: place.definition,
                            },
                        );
                        self.path.pop();
                        value
                    })
                    .collect();
                Value::Array(values)
            }
            Node::Object(entries) => self.object(entries, schema, definition.or(place.definition)),
        }
    }

    fn object(
        &mut self,
        entries: &[(String, Node)],
        schema: Option<&'static Value>,
        definition: Option<&'static str>,
    ) -> Value {
        let properties = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let additional = schema
            .and_then(|s| s.get("additionalProperties"))
            .filter(|a| a.is_object());
        // Objects with neither properties nor a value schema are free-form (RawExtension,
        // FieldsV1), as are those marked to preserve unknown fields.
        let preserves = schema.is_some_and(|s| {
            s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        });
        let checks_unknown = properties.is_some() && additional.is_none() && !preserves;
        let mut seen = HashSet::new();
        let mut map = Map::new();
        for (key, child) in entries {
            self.path.push(Segment::Field(key.clone()));
            if !seen.insert(key.as_str()) {
                self.problems
                    .push(format!("duplicate field \"{}\"", self.field_path()));
            }
            let child_schema = properties.and_then(|p| p.get(key)).or(additional);
            if child_schema.is_none() && checks_unknown {
                self.problems
                    .push(format!("unknown field \"{}\"", self.field_path()));
            }
            let value = self.walk(
                child,
                Place {
                    schema: child_schema,
                    definition,
                },
            );
            map.insert(key.clone(), value);
            self.path.pop();
        }
        Value::Object(map)
    }

    fn check_type(
        &mut self,
        node: &Node,
        schema: &Value,
        definition: Option<&str>,
        parent: Option<&str>,
    ) {
        if self.type_error.is_some() || matches!(node, Node::Null) {
            return;
        }
        // The root's schema is the kind's definition itself rather than a reference to it.
        let definition = if self.path.is_empty() {
            self.root
        } else {
            definition
        };
        let Some(go_type) = mismatch(node, schema, definition) else {
            return;
        };
        let found = match node {
            Node::Number(n) => format!("number {n}"),
            other => go_kind(other).to_string(),
        };
        self.type_error = Some(if self.path.is_empty() {
            format!("json: cannot unmarshal {found} into Go value of type {go_type}")
        } else {
            let parent = parent.map_or("Object", short_name);
            format!(
                "json: cannot unmarshal {found} into Go struct field {parent}.{} of type {go_type}",
                self.go_field_path()
            )
        });
    }
}

/// Follows a reference to its definition, remembering the definition's name.
fn resolve(place: Place<'static>) -> (Option<&'static Value>, Option<&'static str>) {
    let Some(schema) = place.schema else {
        return (None, None);
    };
    match referenced_definition(schema).and_then(|name| definitions().get_key_value(name)) {
        Some((name, definition)) => (Some(definition), Some(name.as_str())),
        None => (Some(schema), None),
    }
}

fn short_name(definition: &str) -> &str {
    definition.rsplit('.').next().unwrap_or(definition)
}

fn go_kind(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Bool(_) => "bool",
        Node::Number(_) => "number",
        Node::String(_) => "string",
        Node::Array(_) => "array",
        Node::Object(_) => "object",
    }
}

/// The Go type the schema wants when the node does not fit it, or `None` when it fits.
fn mismatch(node: &Node, schema: &Value, definition: Option<&str>) -> Option<String> {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        let fits = matches!(node, Node::String(_))
            || matches!(node, Node::Number(n) if n.is_i64() || n.is_u64());
        // Quantities also accept fractional numbers.
        let quantity = definition.is_some_and(|d| d.ends_with("resource.Quantity"));
        let fits = fits || (quantity && matches!(node, Node::Number(_)));
        return (!fits).then(|| definition.map_or("intstr.IntOrString".to_string(), qualified));
    }
    let kind = schema.get("type").and_then(Value::as_str)?;
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let fits = match (kind, node) {
        ("object", Node::Object(_)) | ("array", Node::Array(_)) | ("string", Node::String(_)) => {
            true
        }
        ("boolean", Node::Bool(_)) | ("number", Node::Number(_)) => true,
        ("integer", Node::Number(n)) => match format {
            "int32" => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            _ => n.is_i64(),
        },
        _ => false,
    };
    (!fits).then(|| go_type(kind, format, schema, definition))
}

fn qualified(definition: &str) -> String {
    let mut parts = definition.rsplit('.');
    match (parts.next(), parts.next()) {
        (Some(name), Some(package)) => format!("{package}.{name}"),
        _ => definition.to_string(),
    }
}

fn go_type(kind: &str, format: &str, schema: &Value, definition: Option<&str>) -> String {
    match (kind, format) {
        ("integer", "int32") => "int32".into(),
        ("integer", _) => "int64".into(),
        ("number", _) => "float64".into(),
        ("boolean", _) => "bool".into(),
        ("string", _) => "string".into(),
        ("array", _) => {
            let items = schema.get("items");
            let item = items.and_then(referenced_definition).map(qualified);
            let item = item.or_else(|| {
                let items = items?;
                let kind = items.get("type").and_then(Value::as_str)?;
                Some(go_type(
                    kind,
                    items.get("format").and_then(Value::as_str).unwrap_or(""),
                    items,
                    None,
                ))
            });
            format!("[]{}", item.unwrap_or_else(|| "interface {}".into()))
        }
        _ => definition.map_or_else(|| "map[string]interface {}".to_string(), qualified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_core::resource::{RESOURCES, find};
    use proptest::prelude::*;
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        find("", "v1", "pods").unwrap()
    }

    fn decode_pod(body: &str, mode: FieldValidation) -> Result<(Value, Vec<String>), ApiError> {
        decode(pods(), body.as_bytes(), Format::Json, mode)
    }

    const TYPO: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b","labels":{"x.y/z":"1"}},
        "spec":{"containers":[{"name":"c","imagee":"nginx","ports":[{"containerPort":80}]}]}}"#;

    #[test]
    fn strict_names_unknown_and_duplicate_fields_in_document_order() {
        let error = decode_pod(TYPO, FieldValidation::Strict).unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            error.message,
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: \
             duplicate field \"metadata.name\", unknown field \"spec.containers[0].imagee\""
        );
    }

    #[test]
    fn warn_returns_the_object_with_warnings() {
        let (value, warnings) = decode_pod(TYPO, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            vec![
                "duplicate field \"metadata.name\"",
                "unknown field \"spec.containers[0].imagee\""
            ]
        );
        assert_eq!(
            value["metadata"]["name"], "b",
            "the last duplicate wins, as in Go"
        );
    }

    #[test]
    fn ignore_is_silent() {
        let (_, warnings) = decode_pod(TYPO, FieldValidation::Ignore).unwrap();
        assert!(warnings.is_empty());
    }

    #[test]
    fn free_form_maps_and_special_strings_are_not_flagged() {
        let body = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "labels": {"anything": "goes"}, "annotations": {"a/b": "c"},
                "managedFields": [{"manager": "m", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": "500m", "memory": 1024}, "requests": {"cpu": 0.5}},
                "livenessProbe": {"httpGet": {"port": "http"}}, "readinessProbe": {"tcpSocket": {"port": 8080}}}],
                "nodeSelector": {"disk": "ssd"}},
        });
        let (_, warnings) = decode_pod(&body.to_string(), FieldValidation::Strict).unwrap();
        assert!(warnings.is_empty());
        let config_map = find("", "v1", "configmaps").unwrap();
        let body = br#"{"metadata":{"name":"c"},"data":{"any.key":"v"},"binaryData":{"b":"AAAA"}}"#;
        assert!(decode(config_map, body, Format::Json, FieldValidation::Strict).is_ok());
    }

    #[test]
    fn a_string_where_an_integer_belongs_is_a_type_error() {
        let body = r#"{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":"80"}]}]}}"#;
        for mode in [
            FieldValidation::Strict,
            FieldValidation::Warn,
            FieldValidation::Ignore,
        ] {
            let error = decode_pod(body, mode).unwrap_err();
            assert_eq!(error.code, 400);
            assert_eq!(
                error.message,
                "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field \
                 ContainerPort.spec.containers.ports.containerPort of type int32"
            );
        }
    }

    #[test]
    fn out_of_range_and_fractional_integers_are_type_errors() {
        let body =
            r#"{"spec":{"containers":[{"name":"c","ports":[{"containerPort":3000000000}]}]}}"#;
        assert!(
            decode_pod(body, FieldValidation::Ignore)
                .unwrap_err()
                .message
                .contains("number 3000000000")
        );
        let body = r#"{"spec":{"terminationGracePeriodSeconds":1.5}}"#;
        let message = decode_pod(body, FieldValidation::Ignore)
            .unwrap_err()
            .message
            .clone();
        assert!(
            message.ends_with("PodSpec.spec.terminationGracePeriodSeconds of type int64"),
            "{message}"
        );
    }

    #[test]
    fn a_non_object_body_is_a_type_error() {
        let message = decode_pod("[1]", FieldValidation::Strict)
            .unwrap_err()
            .message
            .clone();
        assert!(
            message.ends_with("json: cannot unmarshal array into Go value of type v1.Pod"),
            "{message}"
        );
    }

    #[test]
    fn malformed_json_and_yaml_are_bad_requests() {
        let error = decode_pod("{\"metadata\":", FieldValidation::Strict).unwrap_err();
        assert_eq!(error.code, 400);
        assert!(
            error.message.contains("json parse error"),
            "{}",
            error.message
        );
        let error = decode(
            pods(),
            b"metadata: [unclosed",
            Format::Yaml,
            FieldValidation::Strict,
        )
        .unwrap_err();
        assert_eq!(error.code, 400);
        assert!(
            error.message.contains("error converting YAML to JSON"),
            "{}",
            error.message
        );
    }

    #[test]
    fn yaml_bodies_are_checked_like_json() {
        let body = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\nspec:\n  containers:\n  - name: c\n    imagee: x\n    ports:\n    - containerPort: 80\n";
        let (value, warnings) = decode(pods(), body, Format::Yaml, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            vec![
                "duplicate field \"metadata.name\"",
                "unknown field \"spec.containers[0].imagee\""
            ]
        );
        assert_eq!(
            value["spec"]["containers"][0]["ports"][0]["containerPort"],
            80
        );
    }

    #[test]
    fn subresource_kinds_are_checked() {
        let body = br#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"d"},"spec":{"replicas":2,"replica":1}}"#;
        let error = decode_kind(
            "autoscaling",
            "v1",
            "Scale",
            body,
            Format::Json,
            FieldValidation::Strict,
        )
        .unwrap_err();
        assert!(
            error.message.ends_with("unknown field \"spec.replica\""),
            "{}",
            error.message
        );
    }

    #[test]
    fn check_value_finds_unknown_fields_of_a_patched_object() {
        let value = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1, "replicaz": 2}});
        let warnings =
            check_value("apps", "v1", "Deployment", &value, FieldValidation::Warn).unwrap();
        assert_eq!(warnings, vec!["unknown field \"spec.replicaz\""]);
    }

    #[test]
    fn field_validation_parses_upstream_values() {
        assert_eq!(
            FieldValidation::from_query(None).unwrap(),
            FieldValidation::Warn
        );
        assert_eq!(
            FieldValidation::from_query(Some("Strict")).unwrap(),
            FieldValidation::Strict
        );
        assert_eq!(
            FieldValidation::from_query(Some("strict"))
                .unwrap_err()
                .code,
            400
        );
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1000i32..1000).prop_map(|n| json!(f64::from(n) / 4.0)),
            prop_oneof![
                Just("metadata"),
                Just("spec"),
                Just("containers"),
                Just("name"),
                Just("x")
            ]
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            let keys = prop_oneof![
                Just("metadata".to_string()),
                Just("spec".to_string()),
                Just("status".to_string()),
                Just("containers".to_string()),
                Just("name".to_string()),
                Just("ports".to_string()),
                Just("template".to_string()),
                Just("labels".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), yaml in any::<bool>()) {
            let format = if yaml { Format::Yaml } else { Format::Json };
            for resource in RESOURCES.iter().take(4) {
                let _ = decode(resource, &bytes, format, FieldValidation::Strict);
            }
        }

        #[test]
        fn arbitrary_json_never_panics(value in arbitrary_json(), index in 0..RESOURCES.len()) {
            let resource = &RESOURCES[index];
            let body = serde_json::to_vec(&value).unwrap();
            let decoded = decode(resource, &body, Format::Json, FieldValidation::Warn);
            if let Ok((decoded, _)) = decoded {
                prop_assert_eq!(decoded, value);
            }
        }

        #[test]
        fn arbitrary_pods_never_panic(value in arbitrary_json()) {
            let body = serde_json::to_vec(&json!({"spec": {"containers": [value.clone()]}, "metadata": value})).unwrap();
            let _ = decode(pods(), &body, Format::Json, FieldValidation::Strict);
        }
    }
}
