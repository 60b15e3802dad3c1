//! A type graph for merging, built from JSON-schema definitions.
//!
//! The patch engines (strategic merge patch, server-side apply) need to know, at
//! every position of an object, whether it is a struct, a map, a list or a scalar,
//! and how lists and maps merge. Kubernetes publishes that as vendor extensions on
//! its OpenAPI schemas (`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
//! ...). [`Schema::from_definitions`] reads definitions in the shape `schemars`
//! (and k8s-openapi's `schemars` feature) produces and turns them into a compact
//! graph that is cheap to walk with [`Node`].
//!
//! Positions the schema does not describe (unknown kinds, unknown fields, free-form
//! `object`s) are *untyped*: maps there merge recursively and lists are atomic,
//! which is what upstream does for fields it has no metadata for.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// Recursion bound when parsing nested inline schemas; deeper nesting is treated
/// as untyped rather than risking a stack overflow on hostile input.
const MAX_INLINE_DEPTH: usize = 64;

/// Bound on following `$ref` → `$ref` chains (a definition that is only a reference).
const MAX_REF_CHAIN: usize = 32;

/// Index of the shared untyped shape in [`Schema::shapes`].
const UNTYPED: ShapeId = 0;

type ShapeId = usize;

/// The type graph. Build once with [`Schema::from_definitions`], then navigate
/// with [`Schema::root`] and the methods of [`Node`].
#[derive(Debug, Clone)]
pub struct Schema {
    shapes: Vec<Shape>,
    roots: HashMap<String, ShapeId>,
}

#[derive(Debug, Clone, Default)]
struct Shape {
    kind: ShapeKind,
    extensions: Extensions,
}

#[derive(Debug, Clone, Default)]
enum ShapeKind {
    #[default]
    Untyped,
    Scalar,
    Object {
        fields: BTreeMap<String, ShapeId>,
        /// Schema of values for keys that are not listed fields (`additionalProperties`).
        values: Option<ShapeId>,
    },
    List {
        items: ShapeId,
    },
    /// A `$ref` to another shape; it carries the extensions written next to the reference.
    Ref(ShapeId),
}

/// Kubernetes merge annotations found on one schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extensions {
    patch_strategy: Option<PatchStrategy>,
    patch_merge_key: Option<String>,
    list_type: Option<ListTypeTag>,
    list_map_keys: Vec<String>,
    map_type: Option<MapType>,
}

impl Extensions {
    fn is_empty(&self) -> bool {
        *self == Extensions::default()
    }
}

/// The parsed value of `x-kubernetes-patch-strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PatchStrategy {
    /// `merge`: lists merge by key (or as sets of primitives).
    pub merge: bool,
    /// `retainKeys`: keys absent from a patch's `$retainKeys` are cleared.
    pub retain_keys: bool,
    /// `replace`: the value is replaced wholesale.
    pub replace: bool,
}

impl PatchStrategy {
    /// Parses a comma-separated strategy list; unknown words are ignored so that a
    /// newer schema never makes an older server refuse to start.
    pub fn parse(text: &str) -> PatchStrategy {
        let mut strategy = PatchStrategy::default();
        for word in text.split(',').map(str::trim) {
            match word {
                "merge" => strategy.merge = true,
                "retainKeys" => strategy.retain_keys = true,
                "replace" => strategy.replace = true,
                _ => {}
            }
        }
        strategy
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListTypeTag {
    Atomic,
    Set,
    Map,
}

/// `x-kubernetes-map-type`: whether a map or struct is owned and replaced as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapType {
    /// Keys are merged individually (the default).
    #[default]
    Granular,
    /// The whole map is one value.
    Atomic,
}

/// What kind of value a [`Node`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Not described by the schema: maps merge recursively, lists are atomic.
    Untyped,
    /// A string, number, boolean, or int-or-string.
    Scalar,
    /// An object with named fields (it may also accept additional keys).
    Struct,
    /// An object with arbitrary keys and one value schema (`additionalProperties`).
    Map,
    /// An array.
    List,
}

/// How a strategic merge patch treats a list (from `x-kubernetes-patch-strategy`
/// and `x-kubernetes-patch-merge-key`, exactly as upstream SMP does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchListStrategy<'a> {
    /// No `merge` strategy: the patch's list replaces the whole list.
    Replace,
    /// `merge` with a merge key: elements are objects matched by this field.
    MergeByKey(&'a str),
    /// `merge` without a merge key: a list of primitives merged as a set.
    MergePrimitives,
}

/// How server-side apply treats a list (from `x-kubernetes-list-type` and
/// `x-kubernetes-list-map-keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType<'a> {
    /// The list is one value, owned and replaced as a whole.
    Atomic,
    /// A set of scalars; each element is owned separately.
    Set,
    /// A list of objects identified by the values of these keys.
    Map(&'a [String]),
}

/// A position in the type graph: a type reached through some field path.
///
/// `Node` is `Copy` and borrows the [`Schema`]; navigation never fails, it falls
/// back to the untyped node.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    schema: &'a Schema,
    /// The resolved (non-`Ref`) shape.
    shape: ShapeId,
    /// The shape through which this node was reached (a `Ref` carrying field-level
    /// extensions), or the same as `shape`.
    via: ShapeId,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("kind", &self.kind())
            .field("shape", &self.shape)
            .finish()
    }
}

impl Schema {
    /// Builds the graph from named definitions (for example the `$defs` of a
    /// `schemars` root schema, or `components.schemas` of an OpenAPI v3 document).
    ///
    /// A `$ref` resolves by the last `/`-separated segment of its target, so
    /// `#/$defs/N`, `#/definitions/N` and `#/components/schemas/N` all find `N`.
    /// References to unknown names become untyped.
    pub fn from_definitions(definitions: &Map<String, Value>) -> Schema {
        let mut builder = Builder {
            shapes: vec![Shape::default()],
            roots: HashMap::new(),
        };
        // Reserve one shape per definition first so references can point forward.
        let mut reserved = Vec::with_capacity(definitions.len());
        for (name, definition) in definitions {
            let id = builder.reserve();
            builder.roots.insert(name.clone(), id);
            reserved.push((id, definition));
        }
        for (id, definition) in reserved {
            builder.shapes[id] = builder.parse_shape(definition, 0);
        }
        Schema {
            shapes: builder.shapes,
            roots: builder.roots,
        }
    }

    /// An empty schema: everything navigates to the untyped node.
    pub fn empty() -> Schema {
        Schema::from_definitions(&Map::new())
    }

    /// The node for a definition name (as given to [`Schema::from_definitions`]).
    pub fn root(&self, type_name: &str) -> Option<Node<'_>> {
        let id = *self.roots.get(type_name)?;
        Some(self.node(id))
    }

    /// The untyped node of this schema.
    pub fn untyped(&self) -> Node<'_> {
        self.node(UNTYPED)
    }

    /// Whether a definition of this name exists.
    pub fn contains(&self, type_name: &str) -> bool {
        self.roots.contains_key(type_name)
    }

    fn node(&self, via: ShapeId) -> Node<'_> {
        Node {
            schema: self,
            shape: self.resolve(via),
            via,
        }
    }

    fn resolve(&self, mut id: ShapeId) -> ShapeId {
        for _ in 0..MAX_REF_CHAIN {
            match self.shapes.get(id).map(|shape| &shape.kind) {
                Some(ShapeKind::Ref(target)) => id = *target,
                Some(_) => return id,
                None => return UNTYPED,
            }
        }
        UNTYPED
    }

    fn shape(&self, id: ShapeId) -> &Shape {
        // Ids are only minted by the builder, so they are always in range; the
        // fallback keeps this total anyway.
        self.shapes.get(id).unwrap_or(&self.shapes[UNTYPED])
    }
}

struct Builder {
    shapes: Vec<Shape>,
    roots: HashMap<String, ShapeId>,
}

impl Builder {
    fn reserve(&mut self) -> ShapeId {
        self.shapes.push(Shape::default());
        self.shapes.len() - 1
    }

    fn add(&mut self, shape: Shape) -> ShapeId {
        if matches!(shape.kind, ShapeKind::Untyped) && shape.extensions.is_empty() {
            return UNTYPED;
        }
        self.shapes.push(shape);
        self.shapes.len() - 1
    }

    fn parse_child(&mut self, schema: &Value, depth: usize) -> ShapeId {
        let shape = self.parse_shape(schema, depth + 1);
        self.add(shape)
    }

    fn parse_shape(&mut self, schema: &Value, depth: usize) -> Shape {
        let Some(object) = schema.as_object() else {
            return Shape::default();
        };
        let extensions = parse_extensions(object);
        if depth > MAX_INLINE_DEPTH {
            return Shape {
                kind: ShapeKind::Untyped,
                extensions,
            };
        }
        let kind = self.parse_kind(object, depth);
        Shape { kind, extensions }
    }

    fn parse_kind(&mut self, object: &Map<String, Value>, depth: usize) -> ShapeKind {
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            return self.reference(reference);
        }
        if let Some(inner) = single_all_of(object) {
            let id = self.parse_child(inner, depth);
            return ShapeKind::Ref(id);
        }
        if object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return ShapeKind::Scalar;
        }
        match primary_type(object) {
            Some("object") | None if object.contains_key("properties") => {
                self.parse_object(object, depth)
            }
            Some("object") => match object.get("additionalProperties") {
                Some(Value::Object(_)) => self.parse_object(object, depth),
                _ => ShapeKind::Untyped,
            },
            Some("array") => self.parse_list(object, depth),
            None if object.contains_key("items") => self.parse_list(object, depth),
            Some("string" | "integer" | "number" | "boolean") => ShapeKind::Scalar,
            _ => ShapeKind::Untyped,
        }
    }

    fn reference(&self, reference: &str) -> ShapeKind {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        match self.roots.get(name) {
            Some(id) => ShapeKind::Ref(*id),
            None => ShapeKind::Untyped,
        }
    }

    fn parse_object(&mut self, object: &Map<String, Value>, depth: usize) -> ShapeKind {
        let mut fields = BTreeMap::new();
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, property) in properties {
                let id = self.parse_child(property, depth);
                fields.insert(name.clone(), id);
            }
        }
        let values = match object.get("additionalProperties") {
            Some(value @ Value::Object(_)) => Some(self.parse_child(value, depth)),
            _ => None,
        };
        ShapeKind::Object { fields, values }
    }

    fn parse_list(&mut self, object: &Map<String, Value>, depth: usize) -> ShapeKind {
        let items = match object.get("items") {
            Some(items @ Value::Object(_)) => self.parse_child(items, depth),
            _ => UNTYPED,
        };
        ShapeKind::List { items }
    }
}

/// `allOf: [X]` is how OpenAPI v3 attaches a description or default to a `$ref`;
/// `anyOf`/`oneOf: [X, {"type": "null"}]` is how schemars writes an optional `X`.
fn single_all_of(object: &Map<String, Value>) -> Option<&Value> {
    if let Some(Value::Array(items)) = object.get("allOf") {
        return match items.as_slice() {
            [only] => Some(only),
            _ => None,
        };
    }
    let branches = match (object.get("anyOf"), object.get("oneOf")) {
        (Some(Value::Array(branches)), _) | (None, Some(Value::Array(branches))) => branches,
        _ => return None,
    };
    let mut non_null = branches
        .iter()
        .filter(|branch| branch.get("type").and_then(Value::as_str) != Some("null"));
    match (non_null.next(), non_null.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The first non-null entry of `type` (schemars writes `["string", "null"]` for options).
fn primary_type(object: &Map<String, Value>) -> Option<&str> {
    match object.get("type")? {
        Value::String(name) => Some(name.as_str()),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|name| *name != "null"),
        _ => None,
    }
}

fn parse_extensions(object: &Map<String, Value>) -> Extensions {
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    Extensions {
        patch_strategy: text("x-kubernetes-patch-strategy").map(PatchStrategy::parse),
        patch_merge_key: text("x-kubernetes-patch-merge-key").map(str::to_owned),
        list_type: match text("x-kubernetes-list-type") {
            Some("atomic") => Some(ListTypeTag::Atomic),
            Some("set") => Some(ListTypeTag::Set),
            Some("map") => Some(ListTypeTag::Map),
            _ => None,
        },
        list_map_keys: match object.get("x-kubernetes-list-map-keys") {
            Some(Value::Array(keys)) => keys
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        },
        map_type: match text("x-kubernetes-map-type") {
            Some("atomic") => Some(MapType::Atomic),
            Some("granular") => Some(MapType::Granular),
            _ => None,
        },
    }
}

impl<'a> Node<'a> {
    /// The schema this node belongs to.
    pub fn schema(&self) -> &'a Schema {
        self.schema
    }

    /// What kind of value this position holds.
    pub fn kind(&self) -> NodeKind {
        match &self.schema.shape(self.shape).kind {
            ShapeKind::Untyped | ShapeKind::Ref(_) => NodeKind::Untyped,
            ShapeKind::Scalar => NodeKind::Scalar,
            ShapeKind::List { .. } => NodeKind::List,
            ShapeKind::Object { fields, values } => {
                if fields.is_empty() && values.is_some() {
                    NodeKind::Map
                } else {
                    NodeKind::Struct
                }
            }
        }
    }

    /// Whether the schema does not describe this position.
    pub fn is_untyped(&self) -> bool {
        self.kind() == NodeKind::Untyped
    }

    /// The node of a field (or of a map value when `name` is not a declared field
    /// and the object accepts additional keys). Unknown fields are untyped.
    pub fn field(&self, name: &str) -> Node<'a> {
        match &self.schema.shape(self.shape).kind {
            ShapeKind::Object { fields, values } => match fields.get(name).copied().or(*values) {
                Some(id) => self.schema.node(id),
                None => self.schema.untyped(),
            },
            _ => self.schema.untyped(),
        }
    }

    /// Whether `name` is a declared field of this struct.
    pub fn has_field(&self, name: &str) -> bool {
        matches!(&self.schema.shape(self.shape).kind,
            ShapeKind::Object { fields, .. } if fields.contains_key(name))
    }

    /// The declared field names of a struct, sorted.
    pub fn field_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        let fields = match &self.schema.shape(self.shape).kind {
            ShapeKind::Object { fields, .. } => Some(fields),
            _ => None,
        };
        fields
            .into_iter()
            .flat_map(|fields| fields.keys().map(String::as_str))
    }

    /// The node of list elements; untyped when this is not a typed list.
    pub fn items(&self) -> Node<'a> {
        match &self.schema.shape(self.shape).kind {
            ShapeKind::List { items } => self.schema.node(*items),
            _ => self.schema.untyped(),
        }
    }

    /// The node of map values (`additionalProperties`); untyped otherwise.
    pub fn values(&self) -> Node<'a> {
        match &self.schema.shape(self.shape).kind {
            ShapeKind::Object {
                values: Some(values),
                ..
            } => self.schema.node(*values),
            _ => self.schema.untyped(),
        }
    }

    /// Looks up an extension, preferring the one written at the field (next to
    /// the `$ref`) over the one on the referenced definition.
    fn extension<T>(&self, pick: impl Fn(&'a Extensions) -> Option<T>) -> Option<T> {
        pick(&self.schema.shape(self.via).extensions)
            .or_else(|| pick(&self.schema.shape(self.shape).extensions))
    }

    /// The parsed `x-kubernetes-patch-strategy`, empty when absent.
    pub fn patch_strategy(&self) -> PatchStrategy {
        self.extension(|e| e.patch_strategy).unwrap_or_default()
    }

    /// `x-kubernetes-patch-merge-key`, if any.
    pub fn patch_merge_key(&self) -> Option<&'a str> {
        self.extension(|e| e.patch_merge_key.as_deref())
    }

    /// How a strategic merge patch merges this list. Untyped and non-`merge`
    /// lists are replaced, as upstream does.
    pub fn patch_list_strategy(&self) -> PatchListStrategy<'a> {
        if !self.patch_strategy().merge {
            return PatchListStrategy::Replace;
        }
        match self.patch_merge_key() {
            Some(key) => PatchListStrategy::MergeByKey(key),
            None => PatchListStrategy::MergePrimitives,
        }
    }

    /// Whether a strategic merge patch replaces this value wholesale
    /// (`x-kubernetes-patch-strategy: replace`).
    pub fn patch_replaces(&self) -> bool {
        self.patch_strategy().replace
    }

    /// Whether this field has the `retainKeys` patch strategy (on a list, it
    /// applies to each element).
    pub fn retain_keys(&self) -> bool {
        self.patch_strategy().retain_keys
    }

    /// How server-side apply treats this list. Without `x-kubernetes-list-type`,
    /// a `merge` patch strategy implies a map keyed by the merge key (or a set
    /// for primitives), as kube-openapi's schema conversion does; anything else
    /// is atomic.
    pub fn list_type(&self) -> ListType<'a> {
        match self.extension(|e| e.list_type) {
            Some(ListTypeTag::Atomic) => ListType::Atomic,
            Some(ListTypeTag::Set) => ListType::Set,
            Some(ListTypeTag::Map) => ListType::Map(self.list_map_keys()),
            None => self.list_type_from_patch_strategy(),
        }
    }

    fn list_type_from_patch_strategy(&self) -> ListType<'a> {
        if !self.patch_strategy().merge {
            return ListType::Atomic;
        }
        let via = &self.schema.shape(self.via).extensions;
        let own = &self.schema.shape(self.shape).extensions;
        let key_holder = if via.patch_merge_key.is_some() {
            via
        } else {
            own
        };
        match &key_holder.patch_merge_key {
            Some(key) => ListType::Map(std::slice::from_ref(key)),
            None => ListType::Set,
        }
    }

    /// `x-kubernetes-list-map-keys` (empty when absent).
    pub fn list_map_keys(&self) -> &'a [String] {
        let via = &self.schema.shape(self.via).extensions;
        if !via.list_map_keys.is_empty() {
            return &via.list_map_keys;
        }
        &self.schema.shape(self.shape).extensions.list_map_keys
    }

    /// `x-kubernetes-map-type`, granular when absent.
    pub fn map_type(&self) -> MapType {
        self.extension(|e| e.map_type).unwrap_or_default()
    }

    /// Whether this map or struct is atomic (`x-kubernetes-map-type: atomic`).
    pub fn is_atomic_map(&self) -> bool {
        self.map_type() == MapType::Atomic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_like() -> Schema {
        let definitions = json!({
            "Pod": {
                "type": "object",
                "properties": {
                    "metadata": {"$ref": "#/$defs/ObjectMeta"},
                    "spec": {"allOf": [{"$ref": "#/definitions/PodSpec"}], "description": "spec"}
                }
            },
            "ObjectMeta": {
                "type": "object",
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "finalizers": {
                        "type": "array", "items": {"type": "string"},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-list-type": "set"
                    }
                }
            },
            "PodSpec": {
                "type": "object",
                "properties": {
                    "containers": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Container"},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"]
                    },
                    "tolerations": {
                        "type": "array", "items": {"type": "object"},
                        "x-kubernetes-list-type": "atomic"
                    },
                    "selector": {"$ref": "#/$defs/LabelSelector"},
                    "volumes": {
                        "type": ["array", "null"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                        "x-kubernetes-patch-strategy": "merge,retainKeys",
                        "x-kubernetes-patch-merge-key": "name"
                    }
                }
            },
            "Container": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "ports": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"containerPort": {"type": "integer"}}},
                        "x-kubernetes-patch-strategy": "merge",
                        "x-kubernetes-patch-merge-key": "containerPort",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"]
                    }
                }
            },
            "LabelSelector": {
                "type": "object",
                "x-kubernetes-map-type": "atomic",
                "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}
            }
        });
        let Value::Object(definitions) = definitions else {
            unreachable!("literal is an object")
        };
        Schema::from_definitions(&definitions)
    }

    #[test]
    fn navigates_refs_all_of_and_items() {
        let schema = pod_like();
        let pod = schema.root("Pod").expect("Pod defined");
        assert_eq!(pod.kind(), NodeKind::Struct);
        let containers = pod.field("spec").field("containers");
        assert_eq!(containers.kind(), NodeKind::List);
        assert_eq!(
            containers.patch_list_strategy(),
            PatchListStrategy::MergeByKey("name")
        );
        let ports = containers.items().field("ports");
        assert_eq!(
            ports.patch_list_strategy(),
            PatchListStrategy::MergeByKey("containerPort")
        );
        assert_eq!(
            ports.list_type(),
            ListType::Map(&["containerPort".to_owned(), "protocol".to_owned()])
        );
    }

    #[test]
    fn primitive_merge_lists_are_sets() {
        let schema = pod_like();
        let finalizers = schema
            .root("Pod")
            .expect("Pod defined")
            .field("metadata")
            .field("finalizers");
        assert_eq!(
            finalizers.patch_list_strategy(),
            PatchListStrategy::MergePrimitives
        );
        assert_eq!(finalizers.list_type(), ListType::Set);
    }

    #[test]
    fn lists_without_strategy_replace() {
        let schema = pod_like();
        let tolerations = schema
            .root("PodSpec")
            .expect("PodSpec defined")
            .field("tolerations");
        assert_eq!(
            tolerations.patch_list_strategy(),
            PatchListStrategy::Replace
        );
        assert_eq!(tolerations.list_type(), ListType::Atomic);
    }

    #[test]
    fn retain_keys_and_list_type_fallback() {
        let schema = pod_like();
        let volumes = schema
            .root("PodSpec")
            .expect("PodSpec defined")
            .field("volumes");
        assert!(volumes.retain_keys());
        assert_eq!(volumes.list_type(), ListType::Map(&["name".to_owned()]));
    }

    #[test]
    fn atomic_map_type_comes_from_the_definition() {
        let schema = pod_like();
        let spec = schema.root("PodSpec").expect("PodSpec defined");
        assert!(spec.field("selector").is_atomic_map());
        assert!(!spec.is_atomic_map());
    }

    #[test]
    fn maps_and_unknowns() {
        let schema = pod_like();
        let meta = schema.root("ObjectMeta").expect("ObjectMeta defined");
        let labels = meta.field("labels");
        assert_eq!(labels.kind(), NodeKind::Map);
        assert_eq!(labels.field("app").kind(), NodeKind::Scalar);
        assert_eq!(labels.values().kind(), NodeKind::Scalar);
        assert!(meta.field("nope").is_untyped());
        assert!(meta.field("nope").field("deeper").items().is_untyped());
        assert_eq!(
            meta.field("nope").patch_list_strategy(),
            PatchListStrategy::Replace
        );
        assert!(schema.root("Missing").is_none());
    }

    #[test]
    fn optional_any_of_wrappers_resolve_to_the_referenced_type() {
        let definitions = json!({
            "Outer": {"type": "object", "properties": {
                "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
            }},
            "Inner": {"type": "object", "properties": {"x": {"type": "string"}}}
        });
        let Value::Object(definitions) = definitions else {
            unreachable!("literal is an object")
        };
        let schema = Schema::from_definitions(&definitions);
        let outer = schema.root("Outer").expect("Outer defined");
        assert_eq!(outer.field("inner").field("x").kind(), NodeKind::Scalar);
        assert!(outer.field("either").is_untyped());
    }

    #[test]
    fn self_referencing_definitions_terminate() {
        let definitions = json!({
            "A": {"$ref": "#/$defs/B"},
            "B": {"$ref": "#/$defs/A"},
            "Tree": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}}
        });
        let Value::Object(definitions) = definitions else {
            unreachable!("literal is an object")
        };
        let schema = Schema::from_definitions(&definitions);
        assert!(schema.root("A").expect("A defined").is_untyped());
        let tree = schema.root("Tree").expect("Tree defined");
        let grandchild = tree.field("children").items().field("children").items();
        assert_eq!(grandchild.kind(), NodeKind::Struct);
    }
}
