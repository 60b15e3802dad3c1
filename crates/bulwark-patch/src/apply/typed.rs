//! Schema-aware walks over JSON values: the field set of a value, merging an applied
//! configuration into a live object, comparing two objects, and removing fields.
//!
//! Each position is treated by the schema node that describes it and by the value found there:
//! granular maps and structs recurse per key, keyed lists (`listType: map`) recurse per item
//! identified by its key fields, sets (`listType: set`) per member, and everything else —
//! scalars, atomic lists and maps, untyped lists, values whose shape disagrees with the
//! schema — is one leaf owned and replaced whole. Empty or null containers on both sides are
//! leaves too, which keeps the difference between `[]`, `{}` and absent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{Path, PathElement};
use super::set::FieldSet;
use crate::schema::{ListType, Node, NodeKind};

/// A value that does not fit the schema in a way the walks cannot handle (a keyed list item
/// without its keys, duplicate keys in an applied list, a set holding an object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct TypeError {
    /// Where, in the `.spec.containers[name="x"]` notation.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

type Result<T, E = TypeError> = std::result::Result<T, E>;

/// How one position merges.
#[derive(Clone, Copy)]
enum Shape<'a> {
    Leaf,
    Map(Node<'a>),
    List(Node<'a>, ItemIdentity<'a>),
}

/// How list items are identified.
#[derive(Clone, Copy)]
enum ItemIdentity<'a> {
    Keys(&'a [String]),
    SetMember,
}

fn shape_of<'a>(node: Node<'a>, value: &Value) -> Shape<'a> {
    match value {
        Value::Object(_) => match node.kind() {
            NodeKind::Struct | NodeKind::Map | NodeKind::Untyped if !node.is_atomic_map() => {
                Shape::Map(node)
            }
            _ => Shape::Leaf,
        },
        Value::Array(_) if node.kind() == NodeKind::List => match node.list_type() {
            ListType::Map(keys) if !keys.is_empty() => Shape::List(node, ItemIdentity::Keys(keys)),
            ListType::Set => Shape::List(node, ItemIdentity::SetMember),
            _ => Shape::Leaf,
        },
        _ => Shape::Leaf,
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The shape of a position seen on both sides; a null on one side defers to the other.
fn pair_shape<'a>(node: Node<'a>, lhs: Option<&Value>, rhs: Option<&Value>) -> Shape<'a> {
    if lhs.is_none_or(is_empty_container) && rhs.is_none_or(is_empty_container) {
        return Shape::Leaf;
    }
    let lhs = lhs.filter(|value| !value.is_null());
    let rhs = rhs.filter(|value| !value.is_null());
    match (
        lhs.map(|v| shape_of(node, v)),
        rhs.map(|v| shape_of(node, v)),
    ) {
        (Some(Shape::Map(n)), None | Some(Shape::Map(_))) | (None, Some(Shape::Map(n))) => {
            Shape::Map(n)
        }
        (Some(list @ Shape::List(..)), None | Some(Shape::List(..)))
        | (None, Some(list @ Shape::List(..))) => list,
        _ => Shape::Leaf,
    }
}

fn object(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value.and_then(Value::as_object)
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn error_at(path: &[PathElement], message: impl Into<String>) -> TypeError {
    TypeError {
        path: Path(path.to_vec()).to_string(),
        message: message.into(),
    }
}

/// Key fields whose absence upstream fills from schema defaults; our schema carries no
/// defaults, so the one that matters in practice (ports) is known here.
fn key_default(key: &str) -> Option<Value> {
    (key == "protocol").then(|| Value::String("TCP".into()))
}

/// The path element naming one list item.
fn item_element(identity: ItemIdentity<'_>, item: &Value) -> Result<PathElement, String> {
    match identity {
        ItemIdentity::Keys(keys) => {
            let Value::Object(fields) = item else {
                return Err("associative list with keys may not have non-map elements".into());
            };
            let key_fields: Vec<(String, Value)> = keys
                .iter()
                .filter_map(|key| {
                    let value = fields.get(key).cloned().or_else(|| key_default(key))?;
                    Some((key.clone(), value))
                })
                .collect();
            if key_fields.is_empty() {
                return Err(format!(
                    "associative list with keys has an element that omits all key fields {keys:?}"
                ));
            }
            Ok(PathElement::key(key_fields))
        }
        ItemIdentity::SetMember => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
    }
}

fn item_elements(
    identity: ItemIdentity<'_>,
    items: &[Value],
    path: &[PathElement],
) -> Result<Vec<PathElement>> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item_element(identity, item)
                .map_err(|message| error_at(path, format!("element {index}: {message}")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Field sets

/// The set of fields `value` specifies: every leaf, every keyed-list item and set member, and
/// map keys that are not declared struct fields (label keys, for example).
pub fn fields_of(value: &Value, node: Node<'_>) -> Result<FieldSet> {
    let mut set = FieldSet::new();
    collect_fields(value, node, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn collect_fields(
    value: &Value,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    out: &mut FieldSet,
) -> Result<()> {
    match shape_of(node, value) {
        Shape::Leaf => out.insert(path),
        Shape::Map(node) => {
            for (key, child) in object(Some(value)).into_iter().flatten() {
                path.push(PathElement::Field(key.clone()));
                collect_fields(child, node.field(key), path, out)?;
                let owned_whole = child.is_null()
                    || child.as_object().is_some_and(Map::is_empty)
                    || !node.has_field(key);
                if owned_whole {
                    out.insert(path);
                }
                path.pop();
            }
        }
        Shape::List(node, identity) => {
            let items = array(Some(value));
            let elements = item_elements(identity, items, path)?;
            let mut seen = BTreeSet::new();
            let duplicates: BTreeSet<&PathElement> = elements
                .iter()
                .filter(|element| !seen.insert(*element))
                .collect();
            // A duplicated item can't be told apart from its twin: it is owned whole.
            for element in &duplicates {
                path.push((*element).clone());
                out.insert(path);
                path.pop();
            }
            for (element, item) in elements.iter().zip(items) {
                if duplicates.contains(element) {
                    continue;
                }
                path.push(element.clone());
                collect_fields(item, node.items(), path, out)?;
                out.insert(path);
                path.pop();
            }
        }
    }
    Ok(())
}

/// Adds, for every path through a declared struct field, that field itself as a member, so
/// that removing the set from an object also removes the emptied struct fields.
pub fn with_named_fields_as_members(set: &FieldSet, node: Node<'_>) -> FieldSet {
    let (members, children) = set.parts();
    let mut members = members.clone();
    let children: BTreeMap<PathElement, FieldSet> = children
        .iter()
        .map(|(element, child)| {
            let child_node = match element {
                PathElement::Field(name) => {
                    if node.has_field(name) {
                        members.insert(element.clone());
                    }
                    node.field(name)
                }
                _ => node.items(),
            };
            (
                element.clone(),
                with_named_fields_as_members(child, child_node),
            )
        })
        .collect();
    FieldSet::from_parts(members, children)
}

// ---------------------------------------------------------------------------------------------
// Merge

/// Merges `rhs` (an applied configuration) into `lhs` (the live object): `rhs` wins at every
/// leaf, maps merge per key, keyed lists and sets per item. Null map values in the result are
/// dropped, as a typed object would drop them.
pub fn merge(lhs: Option<&Value>, rhs: &Value, node: Node<'_>) -> Result<Value> {
    Ok(merge_at(lhs, Some(rhs), node, &mut Vec::new())?.unwrap_or(Value::Null))
}

fn merge_at(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
) -> Result<Option<Value>> {
    match pair_shape(node, lhs, rhs) {
        Shape::Leaf => Ok(rhs.or(lhs).cloned()),
        Shape::Map(node) => merge_maps(object(lhs), object(rhs), node, path).map(Some),
        Shape::List(node, identity) => {
            merge_lists(array(lhs), array(rhs), node, identity, path).map(Some)
        }
    }
}

fn merge_maps(
    lhs: Option<&Map<String, Value>>,
    rhs: Option<&Map<String, Value>>,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
) -> Result<Value> {
    let mut keys: Vec<&String> = lhs.into_iter().flat_map(Map::keys).collect();
    keys.extend(
        rhs.into_iter()
            .flat_map(Map::keys)
            .filter(|key| lhs.is_none_or(|l| !l.contains_key(*key))),
    );
    let mut out = Map::new();
    for key in keys {
        path.push(PathElement::Field(key.clone()));
        let merged = merge_at(
            lhs.and_then(|l| l.get(key)),
            rhs.and_then(|r| r.get(key)),
            node.field(key),
            path,
        )?;
        path.pop();
        if let Some(value) = merged.filter(|value| !value.is_null()) {
            out.insert(key.clone(), value);
        }
    }
    Ok(Value::Object(out))
}

static NULL: Value = Value::Null;

/// Merges list items by identity. Items only in `lhs` keep their place; items in `rhs` come
/// in `rhs` order, and shared items are placed where `rhs` puts them relative to each other.
fn merge_lists(
    lhs: &[Value],
    rhs: &[Value],
    node: Node<'_>,
    identity: ItemIdentity<'_>,
    path: &mut Vec<PathElement>,
) -> Result<Value> {
    let rhs_elements = item_elements(identity, rhs, path)?;
    let lhs_elements = item_elements(identity, lhs, path)?;
    let mut rhs_items: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (element, item) in rhs_elements.iter().zip(rhs) {
        if rhs_items.insert(element, item).is_some() {
            return Err(error_at(
                path,
                format!("duplicate entries for key {element}"),
            ));
        }
    }
    // Duplicated live items are not merged with the applied one: they merge as null.
    let mut lhs_items: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (element, item) in lhs_elements.iter().zip(lhs) {
        if lhs_items.insert(element, item).is_some() {
            lhs_items.insert(element, &NULL);
        }
    }
    let mut shared = rhs_elements
        .iter()
        .filter(|element| lhs_items.contains_key(element));
    let mut next_shared = shared.next();
    let mut emitted: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut left, mut right) = (0, 0);
    while left < lhs.len() || right < rhs.len() {
        if left < lhs.len() && right < rhs.len() {
            let element = &lhs_elements[left];
            if *element == rhs_elements[right] {
                emitted.insert(element);
                out.extend(merge_item(
                    lhs_items.get(element).copied(),
                    rhs_items.get(element).copied(),
                    element,
                    node,
                    path,
                )?);
                left += 1;
                right += 1;
                next_shared = shared.next();
                continue;
            }
            let wanted_later =
                rhs_items.contains_key(element) && next_shared.is_some_and(|next| next != element);
            if wanted_later {
                left += 1;
                continue;
            }
        }
        if left < lhs.len() {
            let element = &lhs_elements[left];
            if !rhs_items.contains_key(element) {
                out.extend(merge_item(Some(&lhs[left]), None, element, node, path)?);
                left += 1;
                continue;
            }
            if emitted.contains(element) {
                left += 1;
            }
        }
        if right < rhs.len() {
            let element = &rhs_elements[right];
            emitted.insert(element);
            out.extend(merge_item(
                lhs_items.get(element).copied(),
                Some(&rhs[right]),
                element,
                node,
                path,
            )?);
            right += 1;
            if next_shared == Some(element) {
                next_shared = shared.next();
            }
        }
    }
    Ok(Value::Array(out))
}

fn merge_item(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    element: &PathElement,
    node: Node<'_>,
    path: &mut Vec<PathElement>,
) -> Result<Option<Value>> {
    path.push(element.clone());
    let merged = merge_at(lhs, rhs, node.items(), path);
    path.pop();
    merged
}

// ---------------------------------------------------------------------------------------------
// Compare

/// What changed between two objects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Paths present before and gone after.
    pub removed: FieldSet,
    /// Leaves present on both sides with different values.
    pub modified: FieldSet,
    /// Paths absent before and present after.
    pub added: FieldSet,
}

impl Comparison {
    /// Drops changes at or under any path of `fields` (fields a write may not own).
    pub fn exclude(&self, fields: &FieldSet) -> Comparison {
        Comparison {
            removed: self.removed.recursive_difference(fields),
            modified: self.modified.recursive_difference(fields),
            added: self.added.recursive_difference(fields),
        }
    }

    /// True when nothing changed.
    pub fn is_same(&self) -> bool {
        self.removed.is_empty() && self.modified.is_empty() && self.added.is_empty()
    }
}

/// Compares `lhs` (before) with `rhs` (after).
pub fn compare(lhs: Option<&Value>, rhs: &Value, node: Node<'_>) -> Result<Comparison> {
    let mut comparison = Comparison::default();
    compare_at(
        lhs,
        Some(rhs),
        node,
        false,
        &mut Vec::new(),
        &mut comparison,
    )?;
    Ok(comparison)
}

/// `always_present` marks declared struct-typed fields: Go objects always carry them (as
/// zero values), so upstream never sees them appear or vanish as a whole and records only
/// their contents. Other containers that appear or vanish are recorded themselves too.
fn compare_at(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Node<'_>,
    always_present: bool,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) -> Result<()> {
    match pair_shape(node, lhs, rhs) {
        Shape::Leaf => {
            match (lhs, rhs) {
                (None, _) => out.added.insert(path),
                (_, None) => out.removed.insert(path),
                (Some(l), Some(r)) if l != r => out.modified.insert(path),
                _ => {}
            }
            return Ok(());
        }
        Shape::Map(node) => {
            let (l, r) = (object(lhs), object(rhs));
            let mut keys: BTreeSet<&String> = l.into_iter().flat_map(Map::keys).collect();
            keys.extend(r.into_iter().flat_map(Map::keys));
            for key in keys {
                path.push(PathElement::Field(key.clone()));
                let (lv, rv) = (l.and_then(|m| m.get(key)), r.and_then(|m| m.get(key)));
                let child = node.field(key);
                let always_present = node.has_field(key) && child.kind() == NodeKind::Struct;
                compare_at(lv, rv, child, always_present, path, out)?;
                path.pop();
            }
        }
        Shape::List(node, identity) => {
            compare_lists(array(lhs), array(rhs), node, identity, path, out)?;
        }
    }
    if always_present {
        return Ok(());
    }
    if lhs.is_none() {
        out.added.insert(path);
    } else if rhs.is_none() {
        out.removed.insert(path);
    }
    Ok(())
}

fn compare_lists(
    lhs: &[Value],
    rhs: &[Value],
    node: Node<'_>,
    identity: ItemIdentity<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) -> Result<()> {
    let lhs_elements = item_elements(identity, lhs, path)?;
    let rhs_elements = item_elements(identity, rhs, path)?;
    let mut order: Vec<&PathElement> = Vec::new();
    let mut groups: BTreeMap<&PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
    for (element, item) in lhs_elements.iter().zip(lhs) {
        let group = groups.entry(element).or_insert_with(|| {
            order.push(element);
            Default::default()
        });
        group.0.push(item);
    }
    for (element, item) in rhs_elements.iter().zip(rhs) {
        let group = groups.entry(element).or_insert_with(|| {
            order.push(element);
            Default::default()
        });
        group.1.push(item);
    }
    for element in order {
        let Some((before, after)) = groups.get(element) else {
            continue;
        };
        path.push(element.clone());
        let result = compare_group(before, after, node, path, out);
        path.pop();
        result?;
    }
    Ok(())
}

/// Compares the items sharing one identity; duplicated items are compared as a whole.
fn compare_group(
    before: &[&Value],
    after: &[&Value],
    node: Node<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) -> Result<()> {
    match (before.len(), after.len()) {
        (0..=1, 0..=1) => compare_at(
            before.first().copied(),
            after.first().copied(),
            node.items(),
            false,
            path,
            out,
        ),
        (2.., 2..) => {
            if before != after {
                out.modified.insert(path);
            }
            Ok(())
        }
        (2.., _) => {
            if let Some(first) = after.first() {
                compare_at(None, Some(first), node.items(), false, path, out)?;
            }
            out.removed.insert(path);
            Ok(())
        }
        (_, _) => {
            if let Some(first) = before.first() {
                compare_at(Some(first), None, node.items(), false, path, out)?;
            }
            out.added.insert(path);
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Remove

/// `value` without the fields in `set`. Containers emptied by the removal disappear; the root
/// becomes `{}` if everything went.
pub fn remove_fields(value: &Value, set: &FieldSet, node: Node<'_>) -> Value {
    remove_at(value, set, node).unwrap_or_else(|| Value::Object(Map::new()))
}

fn remove_at(value: &Value, set: &FieldSet, node: Node<'_>) -> Option<Value> {
    if is_empty_container(value) {
        return Some(value.clone());
    }
    match shape_of(node, value) {
        Shape::Leaf => Some(value.clone()),
        Shape::Map(node) => {
            let mut out = Map::new();
            for (key, child) in object(Some(value)).into_iter().flatten() {
                let element = PathElement::Field(key.clone());
                if set.has_member(&element) {
                    continue;
                }
                let kept = match set.child(&element) {
                    Some(subset) => remove_at(child, subset, node.field(key)),
                    None => Some(child.clone()),
                };
                if let Some(kept) = kept {
                    out.insert(key.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Shape::List(node, identity) => {
            let mut out = Vec::new();
            for item in array(Some(value)) {
                let Ok(element) = item_element(identity, item) else {
                    out.push(item.clone());
                    continue;
                };
                if set.has_member(&element) {
                    continue;
                }
                let kept = match set.child(&element) {
                    Some(subset) => remove_at(item, subset, node.items()),
                    None => Some(item.clone()),
                };
                out.extend(kept);
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use serde_json::json;

    fn schema() -> Schema {
        let definitions = json!({
            "Object": {
                "type": "object",
                "properties": {
                    "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}},
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"]
                    },
                    "args": {"type": "array", "items": {"type": "string"}},
                    "inner": {"type": "object", "properties": {"a": {"type": "integer"}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            }
        });
        let Value::Object(definitions) = definitions else {
            unreachable!("literal is an object")
        };
        Schema::from_definitions(&definitions)
    }

    fn printed(set: &FieldSet) -> Vec<String> {
        set.paths().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn fields_of_owns_set_members_keyed_items_and_map_keys() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let value = json!({
            "finalizers": ["a"],
            "items": [{"name": "x", "v": 1}],
            "args": ["p"],
            "inner": {"a": 1},
            "labels": {"k": "v"},
            "extra": {"b": 2}
        });
        let set = fields_of(&value, root).expect("valid");
        assert_eq!(
            printed(&set),
            [
                ".args",
                ".extra",
                ".extra.b",
                r#".finalizers[="a"]"#,
                ".inner.a",
                r#".items[name="x"]"#,
                r#".items[name="x"].name"#,
                r#".items[name="x"].v"#,
                ".labels.k",
            ]
        );
    }

    #[test]
    fn duplicated_items_are_owned_whole() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let value = json!({"items": [{"name": "x", "v": 1}, {"name": "x", "v": 2}]});
        let set = fields_of(&value, root).expect("valid");
        assert_eq!(printed(&set), [r#".items[name="x"]"#]);
    }

    #[test]
    fn items_without_keys_are_type_errors() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let error = fields_of(&json!({"items": [{"v": 1}]}), root).expect_err("no key");
        assert_eq!(error.path, ".items");
        assert!(fields_of(&json!({"finalizers": [{"a": 1}]}), root).is_err());
    }

    #[test]
    fn merge_keeps_live_only_items_in_place_and_follows_config_order() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let live =
            json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "finalizers": ["x"]});
        let config = json!({"items": [{"name": "c", "v": 1}, {"name": "a"}, {"name": "d"}], "finalizers": ["y"]});
        let merged = merge(Some(&live), &config, root).expect("valid");
        let names: Vec<&Value> = merged["items"]
            .as_array()
            .map(|items| items.iter().map(|item| &item["name"]).collect())
            .unwrap_or_default();
        assert_eq!(names, ["b", "c", "a", "d"]);
        assert_eq!(merged["items"][1]["v"], 1);
        assert_eq!(merged["finalizers"], json!(["x", "y"]));
    }

    #[test]
    fn merge_replaces_atomic_lists_and_drops_null_leaves() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let live = json!({"args": ["a", "b"], "inner": {"a": 1}, "labels": {"k": "v", "j": "w"}});
        // A null struct merges as an empty one (upstream keeps the live fields); a null leaf
        // is dropped, as decoding into a typed object would.
        let config = json!({"args": ["c"], "inner": null, "labels": {"k": null}});
        assert_eq!(
            merge(Some(&live), &config, root).expect("valid"),
            json!({"args": ["c"], "inner": {"a": 1}, "labels": {"j": "w"}})
        );
    }

    #[test]
    fn compare_reports_leaf_changes_and_appearing_containers() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let before = json!({"inner": {"a": 1}, "labels": {"k": "v"}, "args": ["a"]});
        let after = json!({"inner": {"a": 2}, "items": [{"name": "x"}], "args": ["a"]});
        let comparison = compare(Some(&before), &after, root).expect("valid");
        assert_eq!(printed(&comparison.modified), [".inner.a"]);
        assert_eq!(
            printed(&comparison.added),
            [".items", r#".items[name="x"]"#, r#".items[name="x"].name"#]
        );
        assert_eq!(printed(&comparison.removed), [".labels", ".labels.k"]);
    }

    #[test]
    fn remove_fields_drops_emptied_containers_only() {
        let schema = schema();
        let root = schema.root("Object").expect("defined");
        let value =
            json!({"inner": {"a": 1}, "labels": {}, "items": [{"name": "x"}, {"name": "y"}]});
        let set = FieldSet::from_paths([
            Path::fields(["inner", "a"]),
            Path(vec![
                PathElement::Field("items".into()),
                PathElement::key(vec![("name".into(), json!("x"))]),
            ]),
        ]);
        assert_eq!(
            remove_fields(&value, &set, root),
            json!({"labels": {}, "items": [{"name": "y"}]})
        );
    }

    #[test]
    fn missing_protocol_key_defaults_to_tcp() {
        let keys = ["containerPort".to_string(), "protocol".to_string()];
        let element = item_element(ItemIdentity::Keys(&keys), &json!({"containerPort": 80}));
        assert_eq!(
            element,
            Ok(PathElement::key(vec![
                ("containerPort".into(), json!(80)),
                ("protocol".into(), json!("TCP")),
            ]))
        );
    }
}
