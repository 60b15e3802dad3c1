//! Strategic merge patch, the `application/strategic-merge-patch+json` patch type.
//!
//! Like a JSON merge patch, but lists merge according to the schema
//! ([`Node::patch_list_strategy`]) and the patch may carry directives:
//!
//! - `$patch: replace | delete | merge` in a map (replace it by the rest of the
//!   patch map, clear it, or merge as usual) and inside merge lists
//!   (`{"$patch": "delete", "name": "x"}` removes element `x`; an element
//!   `{"$patch": "replace"}` makes the other patch elements the whole list);
//! - `$setElementOrder/<field>`: the desired order of a merge list;
//! - `$retainKeys`: keys to keep in this map (all others are cleared);
//! - `$deleteFromPrimitiveList/<field>`: scalars to remove from a list.
//!
//! The behaviour follows upstream `apimachinery/pkg/util/strategicpatch`
//! server-side (`StrategicMergeMapPatch`), including its ordering rules: merged
//! lists follow the patch's (or `$setElementOrder`'s) order, and elements only
//! the server has keep their relative place. Deliberate differences, all on
//! inputs kubectl never sends:
//! - values inserted where the document had nothing (or a different type) are
//!   themselves patched against an empty value, so nulls and directives inside
//!   them are removed rather than stored verbatim (this is also RFC 7386's rule);
//! - `$patch: merge` is accepted (as "merge as usual") instead of refused;
//! - `$deleteFromPrimitiveList/<field>` for an absent field does nothing, and
//!   works on any list of scalars whatever its declared strategy;
//! - `$setElementOrder/<field>` on a field that is not a merge list is ignored.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::json_patch::type_name;
use crate::schema::{Node, PatchListStrategy};

/// How deeply nested a document or patch may be. serde_json refuses to parse
/// JSON nested deeper than 128 levels, so this only guards values built in code.
pub const MAX_DEPTH: usize = 256;

const DIRECTIVE_MARKER: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch was refused. Every variant names the location in
/// the patch (like `.spec.containers[name="c"]`) where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicError {
    /// The patch is not a JSON object.
    #[error("a strategic merge patch must be a JSON object, got {found}")]
    PatchNotAnObject {
        /// The JSON type that was sent.
        found: &'static str,
    },
    /// The document being patched is not a JSON object.
    #[error("the object to patch must be a JSON object, got {found}")]
    DocumentNotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// `$patch` has a value other than `replace`, `delete` or `merge`.
    #[error("{path}: unknown $patch directive {value}; use \"replace\", \"delete\" or \"merge\"")]
    UnknownPatchDirective {
        /// Where.
        path: String,
        /// The value sent, as JSON.
        value: String,
    },
    /// A `$`-prefixed key that is neither a directive nor a declared field.
    #[error(
        "{path}: unknown directive {key:?}; the directives are $patch, $retainKeys, \
         $setElementOrder/<field> and $deleteFromPrimitiveList/<field>"
    )]
    UnknownDirective {
        /// Where.
        path: String,
        /// The key sent.
        key: String,
    },
    /// A directive that must hold a list holds something else.
    #[error("{path}: {directive} must be a list, got {found}")]
    DirectiveNotAList {
        /// Where.
        path: String,
        /// The directive key.
        directive: String,
        /// The JSON type sent.
        found: &'static str,
    },
    /// `$retainKeys` lists something other than field names.
    #[error("{path}: $retainKeys must list field names (strings), got {found}")]
    RetainKeysNotNames {
        /// Where.
        path: String,
        /// The offending entry, as JSON.
        found: String,
    },
    /// The patch sets a field that its own `$retainKeys` would clear.
    #[error(
        "{path}: the patch sets {field:?} but $retainKeys does not list it; add it to $retainKeys"
    )]
    FieldNotRetained {
        /// Where.
        path: String,
        /// The field.
        field: String,
    },
    /// The patch list and its `$setElementOrder` list disagree.
    #[error(
        "{path}: the elements of {field:?} in the patch are not in the order of \
         $setElementOrder/{field}, or are missing from it"
    )]
    ElementOrderMismatch {
        /// Where.
        path: String,
        /// The list field.
        field: String,
    },
    /// A field that must hold a list holds something else.
    #[error("{path}: {field:?} must be a list to use {directive}, got {found}")]
    NotAList {
        /// Where.
        path: String,
        /// The field.
        field: String,
        /// The directive that needs a list.
        directive: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// An element of a list merged by key lacks the key (or is not an object).
    #[error("{path}: every element of this list must be an object with the merge key {key:?}")]
    MissingMergeKey {
        /// Where.
        path: String,
        /// The merge key.
        key: String,
    },
    /// A list of objects whose schema gives no merge key cannot be merged.
    #[error("{path}: this list of objects has no merge key, so its elements cannot be merged")]
    NoMergeKey {
        /// Where.
        path: String,
    },
    /// A merge list mixes element types.
    #[error("{path}: the elements of a merge list must all have the same JSON type")]
    MixedListElements {
        /// Where.
        path: String,
    },
    /// A merge list holds lists.
    #[error("{path}: lists of lists cannot be merged")]
    ListOfLists {
        /// Where.
        path: String,
    },
    /// The document or patch nests deeper than [`MAX_DEPTH`].
    #[error("{path}: nested deeper than {limit} levels")]
    TooDeep {
        /// Where.
        path: String,
        /// The bound.
        limit: usize,
    },
}

/// Result alias for this module.
pub type Result<T, E = StrategicError> = std::result::Result<T, E>;

/// Applies a strategic merge patch to `document`, whose type is `node`
/// (for example `schema.root("io.k8s.api.core.v1.Pod")`; use
/// [`crate::Schema::untyped`] for a kind the schema does not know, which makes
/// this an RFC 7386 merge patch plus directives).
pub fn apply(document: &Value, patch: &Value, node: Node<'_>) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(StrategicError::PatchNotAnObject {
            found: type_name(patch),
        });
    };
    let Value::Object(original) = document else {
        return Err(StrategicError::DocumentNotAnObject {
            found: type_name(document),
        });
    };
    merge_map(original.clone(), patch, node, &Trail::ROOT).map(Value::Object)
}

/// The path from the patch root to the value being merged, for error messages.
/// It lives on the stack and is only rendered when an error is built.
struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    step: Step<'a>,
    depth: usize,
}

enum Step<'a> {
    Root,
    Field(&'a str),
    Element { key: &'a str, value: &'a Value },
    Index(usize),
}

impl<'a> Trail<'a> {
    const ROOT: Trail<'static> = Trail {
        parent: None,
        step: Step::Root,
        depth: 0,
    };

    fn child(&'a self, step: Step<'a>) -> Result<Trail<'a>> {
        if self.depth >= MAX_DEPTH {
            return Err(StrategicError::TooDeep {
                path: self.to_string(),
                limit: MAX_DEPTH,
            });
        }
        Ok(Trail {
            parent: Some(self),
            step,
            depth: self.depth + 1,
        })
    }

    fn field(&'a self, name: &'a str) -> Result<Trail<'a>> {
        self.child(Step::Field(name))
    }

    fn path(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Trail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}")?;
        }
        match self.step {
            Step::Root if self.parent.is_none() => f.write_str("."),
            Step::Root => Ok(()),
            Step::Field(name) if self.parent.is_some_and(|p| p.parent.is_none()) => {
                write!(f, "{name}")
            }
            Step::Field(name) => write!(f, ".{name}"),
            Step::Element { key, value } => write!(f, "[{key}={value}]"),
            Step::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// What `$patch` asks for in a map.
enum MapDirective {
    Merge,
    Replace,
    Delete,
}

fn map_directive(patch: &Map<String, Value>, trail: &Trail<'_>) -> Result<MapDirective> {
    match patch.get(DIRECTIVE_MARKER) {
        None => Ok(MapDirective::Merge),
        Some(Value::String(word)) if word == "merge" => Ok(MapDirective::Merge),
        Some(Value::String(word)) if word == "replace" => Ok(MapDirective::Replace),
        Some(Value::String(word)) if word == "delete" => Ok(MapDirective::Delete),
        Some(other) => Err(StrategicError::UnknownPatchDirective {
            path: trail.path(),
            value: other.to_string(),
        }),
    }
}

/// Merges a patch map into an original map (upstream's `mergeMap`).
fn merge_map(
    original: Map<String, Value>,
    patch: &Map<String, Value>,
    node: Node<'_>,
    trail: &Trail<'_>,
) -> Result<Map<String, Value>> {
    let mut original = match map_directive(patch, trail)? {
        MapDirective::Delete => return Ok(Map::new()),
        MapDirective::Replace => Map::new(),
        MapDirective::Merge => original,
    };
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        apply_retain_keys(&mut original, patch, retain, trail)?;
    }
    let mut ordered_fields = HashSet::new();
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER_PREFIX) {
            let field_trail = trail.field(field)?;
            if set_element_order(&mut original, patch, field, order, node, &field_trail)? {
                ordered_fields.insert(field);
            }
        }
    }
    for (key, deletions) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            delete_from_primitive_list(&mut original, field, deletions, trail)?;
        }
    }
    for (key, patch_value) in patch {
        if ordered_fields.contains(key.as_str()) || is_directive(key, node, trail)? {
            continue;
        }
        if patch_value.is_null() {
            original.remove(key);
            continue;
        }
        let field_trail = trail.field(key)?;
        let merged = merge_value(
            original.remove(key),
            patch_value,
            node.field(key),
            &field_trail,
        )?;
        original.insert(key.clone(), merged);
    }
    Ok(original)
}

/// Whether `key` is a directive (already handled); refuses unknown `$` keys
/// unless the schema declares them as fields (JSONSchemaProps has `$ref`).
fn is_directive(key: &str, node: Node<'_>, trail: &Trail<'_>) -> Result<bool> {
    if !key.starts_with('$') || node.has_field(key) {
        return Ok(false);
    }
    let known = key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX);
    if known {
        Ok(true)
    } else {
        Err(StrategicError::UnknownDirective {
            path: trail.path(),
            key: key.to_owned(),
        })
    }
}

/// Merges one patch value into the original value of the same position.
fn merge_value(
    original: Option<Value>,
    patch: &Value,
    node: Node<'_>,
    trail: &Trail<'_>,
) -> Result<Value> {
    match (original, patch) {
        (Some(Value::Object(original)), Value::Object(patch)) if !node.patch_replaces() => {
            merge_map(original, patch, node, trail).map(Value::Object)
        }
        // New, retyped or `replace`-strategy maps: the patch applied to nothing.
        (_, Value::Object(patch)) => merge_map(Map::new(), patch, node, trail).map(Value::Object),
        (Some(Value::Array(original)), Value::Array(patch)) => {
            merge_list(original, patch, node, trail)
        }
        (_, Value::Array(patch)) => merge_list(Vec::new(), patch, node, trail),
        (_, scalar) => Ok(scalar.clone()),
    }
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: &Value,
    trail: &Trail<'_>,
) -> Result<()> {
    let Value::Array(names) = retain else {
        return Err(StrategicError::DirectiveNotAList {
            path: trail.path(),
            directive: RETAIN_KEYS.to_owned(),
            found: type_name(retain),
        });
    };
    let mut retained = HashSet::with_capacity(names.len());
    for name in names {
        let Value::String(name) = name else {
            return Err(StrategicError::RetainKeysNotNames {
                path: trail.path(),
                found: name.to_string(),
            });
        };
        retained.insert(name.as_str());
    }
    for (key, value) in patch {
        if value.is_null() || key.starts_with('$') {
            continue;
        }
        if !retained.contains(key.as_str()) {
            return Err(StrategicError::FieldNotRetained {
                path: trail.path(),
                field: key.clone(),
            });
        }
    }
    original.retain(|key, _| retained.contains(key.as_str()));
    Ok(())
}

fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    deletions: &Value,
    trail: &Trail<'_>,
) -> Result<()> {
    let directive = || format!("{DELETE_FROM_PRIMITIVE_LIST_PREFIX}{field}");
    let Value::Array(deletions) = deletions else {
        return Err(StrategicError::DirectiveNotAList {
            path: trail.path(),
            directive: directive(),
            found: type_name(deletions),
        });
    };
    match original.get_mut(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            let doomed: HashSet<String> = deletions.iter().map(Value::to_string).collect();
            items.retain(|item| !doomed.contains(&item.to_string()));
            Ok(())
        }
        Some(other) => Err(StrategicError::NotAList {
            path: trail.path(),
            field: field.to_owned(),
            directive: directive(),
            found: type_name(other),
        }),
    }
}

/// How list elements are identified: by a merge key, or (scalars) by value.
#[derive(Clone, Copy)]
enum Identity<'a> {
    MergeKey(&'a str),
    Value,
}

impl Identity<'_> {
    /// A hashable identity: the JSON text of the merge key's value or of the scalar.
    fn of(&self, element: &Value) -> Option<String> {
        match self {
            Identity::MergeKey(key) => element.as_object()?.get(*key).map(Value::to_string),
            Identity::Value => Some(element.to_string()),
        }
    }

    fn element_trail<'t>(
        &'t self,
        trail: &'t Trail<'t>,
        element: &'t Value,
        index: usize,
    ) -> Result<Trail<'t>> {
        match (self, element.as_object().and_then(|m| self.key_value(m))) {
            (Identity::MergeKey(key), Some(value)) => trail.child(Step::Element { key, value }),
            _ => trail.child(Step::Index(index)),
        }
    }

    fn key_value<'v>(&self, element: &'v Map<String, Value>) -> Option<&'v Value> {
        match self {
            Identity::MergeKey(key) => element.get(*key),
            Identity::Value => None,
        }
    }
}

/// First position of each identity in a list.
fn positions(list: &[Value], identity: Identity<'_>) -> HashMap<String, usize> {
    let mut positions = HashMap::with_capacity(list.len());
    for (index, element) in list.iter().enumerate() {
        if let Some(id) = identity.of(element) {
            positions.entry(id).or_insert(index);
        }
    }
    positions
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementType {
    Object,
    List,
    String,
    Number,
    Bool,
    Null,
}

fn element_type(value: &Value) -> ElementType {
    match value {
        Value::Object(_) => ElementType::Object,
        Value::Array(_) => ElementType::List,
        Value::String(_) => ElementType::String,
        Value::Number(_) => ElementType::Number,
        Value::Bool(_) => ElementType::Bool,
        Value::Null => ElementType::Null,
    }
}

/// The common element type of the lists, as upstream requires for merging.
fn common_element_type(lists: [&[Value]; 2], trail: &Trail<'_>) -> Result<Option<ElementType>> {
    let mut common = None;
    for element in lists.into_iter().flatten() {
        let found = element_type(element);
        if found == ElementType::List {
            return Err(StrategicError::ListOfLists { path: trail.path() });
        }
        match common {
            None => common = Some(found),
            Some(expected) if expected != found => {
                return Err(StrategicError::MixedListElements { path: trail.path() });
            }
            Some(_) => {}
        }
    }
    Ok(common)
}

/// Merges a patch list into an original list (upstream's `mergeSliceHandler`).
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    node: Node<'_>,
    trail: &Trail<'_>,
) -> Result<Value> {
    let strategy = node.patch_list_strategy();
    if strategy == PatchListStrategy::Replace {
        return Ok(Value::Array(patch.to_vec()));
    }
    match common_element_type([&original, patch], trail)? {
        None => Ok(Value::Array(original)),
        Some(ElementType::Object) => match strategy {
            PatchListStrategy::MergeByKey(key) => {
                merge_object_list(original, patch, key, node.items(), trail).map(Value::Array)
            }
            _ => Err(StrategicError::NoMergeKey { path: trail.path() }),
        },
        Some(_) => Ok(Value::Array(merge_scalar_list(original, patch))),
    }
}

/// Set union keeping the patch's order for patch elements (upstream's
/// `mergeSlice` for scalars).
fn merge_scalar_list(original: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let server_positions = positions(&original, Identity::Value);
    let patch_positions = positions(patch, Identity::Value);
    let mut seen = HashSet::with_capacity(original.len() + patch.len());
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for element in original.into_iter().chain(patch.iter().cloned()) {
        let id = element.to_string();
        if !seen.insert(id.clone()) {
            continue;
        }
        match patch_positions.get(&id) {
            Some(position) => patch_items.push((*position, element)),
            None => server_only.push(element),
        }
    }
    patch_items.sort_by_key(|(position, _)| *position);
    let patch_items = patch_items
        .into_iter()
        .map(|(_, element)| element)
        .collect();
    interleave(server_only, patch_items, &server_positions, Identity::Value)
}

/// Merges lists of objects by merge key (upstream's `mergeSlice` for maps).
fn merge_object_list(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    items: Node<'_>,
    trail: &Trail<'_>,
) -> Result<Vec<Value>> {
    let identity = Identity::MergeKey(key);
    let missing_key = || StrategicError::MissingMergeKey {
        path: trail.path(),
        key: key.to_owned(),
    };
    let (merges, deletions, replace) = split_list_directives(patch, identity, trail)?;
    if replace {
        return merges
            .into_iter()
            .enumerate()
            .map(|(index, element)| fresh_element(element, identity, items, trail, index))
            .collect();
    }
    original.retain(|element| {
        identity
            .of(element)
            .is_none_or(|id| !deletions.contains(&id))
    });
    if original
        .iter()
        .any(|element| identity.of(element).is_none())
    {
        return Err(missing_key());
    }
    let server_positions = positions(&original, identity);
    let mut current_positions = server_positions.clone();
    let mut patch_positions = HashMap::with_capacity(merges.len());
    for (index, element) in merges.iter().enumerate() {
        let id = identity.of(element).ok_or_else(missing_key)?;
        patch_positions.entry(id.clone()).or_insert(index);
        let element_trail = identity.element_trail(trail, element, index)?;
        let Value::Object(element_patch) = element else {
            return Err(missing_key());
        };
        match current_positions
            .get(&id)
            .and_then(|&position| original.get_mut(position))
        {
            Some(slot) => {
                let existing = match std::mem::take(slot) {
                    Value::Object(existing) => existing,
                    _ => Map::new(),
                };
                *slot = Value::Object(merge_map(existing, element_patch, items, &element_trail)?);
            }
            None => {
                let merged = merge_map(Map::new(), element_patch, items, &element_trail)?;
                current_positions.insert(id, original.len());
                original.push(Value::Object(merged));
            }
        }
    }
    let (mut patch_items, server_only): (Vec<_>, Vec<_>) =
        original.into_iter().partition(|element| {
            identity
                .of(element)
                .is_some_and(|id| patch_positions.contains_key(&id))
        });
    sort_by_positions(&mut patch_items, &patch_positions, identity);
    Ok(interleave(
        server_only,
        patch_items,
        &server_positions,
        identity,
    ))
}

/// Splits a patch list of objects into elements to merge, identities to delete,
/// and whether a `$patch: replace` element asks to replace the whole list.
fn split_list_directives<'p>(
    patch: &'p [Value],
    identity: Identity<'_>,
    trail: &Trail<'_>,
) -> Result<(Vec<&'p Value>, HashSet<String>, bool)> {
    let mut merges = Vec::with_capacity(patch.len());
    let mut deletions = HashSet::new();
    let mut replace = false;
    for (index, element) in patch.iter().enumerate() {
        let Value::Object(members) = element else {
            merges.push(element);
            continue;
        };
        let element_trail = identity.element_trail(trail, element, index)?;
        match map_directive(members, &element_trail)? {
            MapDirective::Merge => merges.push(element),
            MapDirective::Replace => replace = true,
            MapDirective::Delete => {
                let id = identity
                    .of(element)
                    .ok_or_else(|| StrategicError::MissingMergeKey {
                        path: element_trail.path(),
                        key: match identity {
                            Identity::MergeKey(key) => key.to_owned(),
                            Identity::Value => String::new(),
                        },
                    })?;
                deletions.insert(id);
            }
        }
    }
    Ok((merges, deletions, replace))
}

fn fresh_element(
    element: &Value,
    identity: Identity<'_>,
    items: Node<'_>,
    trail: &Trail<'_>,
    index: usize,
) -> Result<Value> {
    let element_trail = identity.element_trail(trail, element, index)?;
    merge_value(None, element, items, &element_trail)
}

fn sort_by_positions(
    list: &mut [Value],
    positions: &HashMap<String, usize>,
    identity: Identity<'_>,
) {
    list.sort_by_cached_key(|element| {
        identity
            .of(element)
            .and_then(|id| positions.get(&id).copied())
            .unwrap_or(usize::MAX)
    });
}

/// Merges server-only elements into the ordered patch elements (upstream's
/// `mergeSortedSlice`): a server-only element goes first only when the server
/// list had it before the next patch element; elements new to the server
/// never yield to server-only ones.
fn interleave(
    server_only: Vec<Value>,
    patch_items: Vec<Value>,
    server_positions: &HashMap<String, usize>,
    identity: Identity<'_>,
) -> Vec<Value> {
    let position = |element: &Value| {
        identity
            .of(element)
            .and_then(|id| server_positions.get(&id).copied())
    };
    let mut result = Vec::with_capacity(server_only.len() + patch_items.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((position(l), position(r)), (Some(a), Some(b)) if a < b),
        };
        let next = if take_left { left.next() } else { right.next() };
        result.extend(next);
    }
    result
}

/// Handles `$setElementOrder/<field>` together with the patch's `<field>`
/// (upstream's `mergePatchIntoOriginal`). Returns whether `<field>` is done.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    field: &str,
    order: &Value,
    node: Node<'_>,
    trail: &Trail<'_>,
) -> Result<bool> {
    let directive = || format!("{SET_ELEMENT_ORDER_PREFIX}{field}");
    let Value::Array(order) = order else {
        return Err(StrategicError::DirectiveNotAList {
            path: trail.path(),
            directive: directive(),
            found: type_name(order),
        });
    };
    let field_node = node.field(field);
    let identity = match field_node.patch_list_strategy() {
        PatchListStrategy::Replace => return Ok(false),
        PatchListStrategy::MergeByKey(key) => Identity::MergeKey(key),
        PatchListStrategy::MergePrimitives => Identity::Value,
    };
    let patch_list = match patch.get(field) {
        None => None,
        Some(Value::Null) => return Ok(false),
        Some(Value::Array(list)) => Some(list.as_slice()),
        Some(other) => {
            return Err(StrategicError::NotAList {
                path: trail.path(),
                field: field.to_owned(),
                directive: directive(),
                found: type_name(other),
            });
        }
    };
    let original_list = match original.remove(field) {
        Some(Value::Array(list)) => Some(list),
        Some(Value::Null) | None => None,
        Some(other) => {
            original.insert(field.to_owned(), other);
            return Ok(false);
        }
    };
    check_order(
        patch_list.unwrap_or_default(),
        order,
        identity,
        field,
        trail,
    )?;
    let server_positions = original_list
        .as_deref()
        .map(|list| positions(list, identity))
        .unwrap_or_default();
    let merged = match (original_list, patch_list) {
        (None, None) => return Ok(true),
        (Some(list), None) => list,
        (original_list, Some(patch_list)) => {
            let merged = merge_list(
                original_list.unwrap_or_default(),
                patch_list,
                field_node,
                trail,
            )?;
            match merged {
                Value::Array(list) => list,
                other => vec![other],
            }
        }
    };
    let order_positions = positions(order, identity);
    let (mut ordered, server_only): (Vec<_>, Vec<_>) = merged.into_iter().partition(|element| {
        identity
            .of(element)
            .is_some_and(|id| order_positions.contains_key(&id))
    });
    sort_by_positions(&mut ordered, &order_positions, identity);
    let result = interleave(server_only, ordered, &server_positions, identity);
    original.insert(field.to_owned(), Value::Array(result));
    Ok(true)
}

/// Checks that the patch list's elements appear in `$setElementOrder` in the
/// same relative order (upstream's `validatePatchWithSetOrderList`).
fn check_order(
    patch_list: &[Value],
    order: &[Value],
    identity: Identity<'_>,
    field: &str,
    trail: &Trail<'_>,
) -> Result<()> {
    if let Identity::MergeKey(key) = identity {
        let keyed = |element: &Value| identity.of(element).is_some();
        if !order.iter().all(keyed) {
            return Err(StrategicError::MissingMergeKey {
                path: trail.path(),
                key: key.to_owned(),
            });
        }
    }
    let mut remaining = order.iter().filter_map(|element| identity.of(element));
    for element in patch_list {
        let is_directive = element
            .as_object()
            .is_some_and(|members| members.contains_key(DIRECTIVE_MARKER));
        if is_directive {
            continue;
        }
        let Some(id) = identity.of(element) else {
            return Err(StrategicError::MissingMergeKey {
                path: trail.path(),
                key: match identity {
                    Identity::MergeKey(key) => key.to_owned(),
                    Identity::Value => String::new(),
                },
            });
        };
        if !remaining.by_ref().any(|candidate| candidate == id) {
            return Err(StrategicError::ElementOrderMismatch {
                path: trail.path(),
                field: field.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use serde_json::json;

    /// A Pod-like schema plus upstream's `MergeItem` test type.
    fn schema() -> Schema {
        let definitions = json!({
            "Pod": {"type": "object", "properties": {
                "metadata": {"$ref": "#/$defs/ObjectMeta"},
                "spec": {"$ref": "#/$defs/PodSpec"}
            }},
            "ObjectMeta": {"type": "object", "properties": {
                "name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"}
            }},
            "PodSpec": {"type": "object", "properties": {
                "unschedulable": {"type": "boolean"},
                "containers": {"type": "array", "items": {"$ref": "#/$defs/Container"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
                "tolerations": {"type": "array", "items": {"type": "object"},
                    "x-kubernetes-list-type": "atomic"},
                "strategy": {"type": "object", "x-kubernetes-patch-strategy": "retainKeys",
                    "properties": {"type": {"type": "string"}, "rollingUpdate": {"type": "object"}}},
                "selector": {"type": "object", "x-kubernetes-patch-strategy": "replace",
                    "properties": {"app": {"type": "string"}}}
            }},
            "Container": {"type": "object", "properties": {
                "name": {"type": "string"},
                "image": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}},
                "ports": {"type": "array", "items": {"type": "object"},
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "containerPort"}
            }},
            "MergeItem": {"type": "object", "properties": {
                "name": {"type": "string"},
                "value": {"type": "string"},
                "mergingList": {"type": "array", "items": {"$ref": "#/$defs/MergeItem"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
                "mergingIntList": {"type": "array", "items": {"type": "integer"},
                    "x-kubernetes-patch-strategy": "merge"},
                "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
                "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
                "retainKeysMergingList": {"type": "array", "items": {"$ref": "#/$defs/MergeItem"},
                    "x-kubernetes-patch-strategy": "merge,retainKeys",
                    "x-kubernetes-patch-merge-key": "name"}
            }}
        });
        let Value::Object(definitions) = definitions else {
            unreachable!("literal is an object")
        };
        Schema::from_definitions(&definitions)
    }

    fn patch_as(kind: &str, document: Value, patch: Value) -> Result<Value> {
        let schema = schema();
        let node = schema.root(kind).expect("test kind defined");
        apply(&document, &patch, node)
    }

    fn item(document: Value, patch: Value) -> Value {
        patch_as("MergeItem", document, patch).expect("patch applies")
    }

    #[test]
    fn kubectl_apply_patch_updates_container_by_name() {
        let live = json!({
            "metadata": {"name": "p", "annotations": {"other": "x"}},
            "spec": {"containers": [
                {"name": "c", "image": "x:1", "args": ["a"]},
                {"name": "sidecar", "image": "s:1"}
            ]}
        });
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "sidecar"}],
                "containers": [{"image": "x:2", "name": "c"}]
            }
        });
        let patched = patch_as("Pod", live, patch).expect("patch applies");
        assert_eq!(
            patched,
            json!({
                "metadata": {"name": "p", "annotations": {
                    "other": "x",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}"
                }},
                "spec": {"containers": [
                    {"name": "c", "image": "x:2", "args": ["a"]},
                    {"name": "sidecar", "image": "s:1"}
                ]}
            })
        );
    }

    #[test]
    fn cordon_and_uncordon_null_removes_the_field() {
        let node = json!({"spec": {"unschedulable": true, "podCIDR": "x"}});
        let patched =
            patch_as("Pod", node, json!({"spec": {"unschedulable": null}})).expect("applies");
        assert_eq!(patched, json!({"spec": {"podCIDR": "x"}}));
    }

    #[test]
    fn merge_list_appends_new_elements_and_keeps_server_only_fields() {
        let patched = item(
            json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "b"}]}),
            json!({"mergingList": [{"name": "2", "value": "c"}, {"name": "3"}]}),
        );
        assert_eq!(
            patched,
            json!({"mergingList": [
                {"name": "1", "other": "a"},
                {"name": "2", "value": "c"},
                {"name": "3"}
            ]})
        );
    }

    #[test]
    fn merge_list_follows_patch_order() {
        // Upstream: "preserve the order from the patch in a merging list 2".
        let patched = item(
            json!({"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}),
            json!({"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}),
        );
        assert_eq!(
            patched,
            json!({"mergingList": [
                {"name": "2", "value": "b"},
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"}
            ]})
        );
    }

    #[test]
    fn delete_directive_removes_every_matching_element() {
        let patched = item(
            json!({"mergingList": [
                {"name": "1"}, {"name": "1"}, {"name": "2", "value": "a"}, {"name": "3"}
            ]}),
            json!({"mergingList": [
                {"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}
            ]}),
        );
        assert_eq!(
            patched,
            json!({"mergingList": [{"name": "2", "value": "a"}]})
        );
    }

    #[test]
    fn replace_directive_in_a_list_replaces_the_whole_list() {
        let emptied = item(
            json!({"mergingList": [{"name": "1"}, {"name": "2"}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
        );
        assert_eq!(emptied, json!({"mergingList": []}));
        let replaced = item(
            json!({"mergingList": [{"name": "1", "value": "x"}, {"name": "2"}]}),
            json!({"mergingList": [{"name": "1"}, {"$patch": "replace"}]}),
        );
        assert_eq!(replaced, json!({"mergingList": [{"name": "1"}]}));
    }

    #[test]
    fn map_directives_replace_delete_and_merge() {
        let original = json!({"name": "1", "value": "1", "simpleMap": {"a": "1", "b": "2"}});
        assert_eq!(
            item(original.clone(), json!({"other": "a", "$patch": "replace"})),
            json!({"other": "a"})
        );
        assert_eq!(
            item(original.clone(), json!({"simpleMap": {"$patch": "delete"}})),
            json!({"name": "1", "value": "1", "simpleMap": {}})
        );
        assert_eq!(
            item(
                original,
                json!({"simpleMap": {"$patch": "merge", "c": "3"}})
            ),
            json!({"name": "1", "value": "1", "simpleMap": {"a": "1", "b": "2", "c": "3"}})
        );
    }

    #[test]
    fn primitive_merge_lists_are_sets_in_patch_order() {
        assert_eq!(
            item(
                json!({"mergingIntList": [1, 2]}),
                json!({"mergingIntList": [2, 3]})
            ),
            json!({"mergingIntList": [1, 2, 3]})
        );
        assert_eq!(
            item(
                json!({"mergingIntList": [1, 2, 3]}),
                json!({"mergingIntList": [3, 1]})
            ),
            json!({"mergingIntList": [2, 3, 1]})
        );
    }

    #[test]
    fn lists_without_strategy_are_replaced() {
        assert_eq!(
            item(
                json!({"nonMergingIntList": [1, 2]}),
                json!({"nonMergingIntList": [2, 3]})
            ),
            json!({"nonMergingIntList": [2, 3]})
        );
        let tolerations = patch_as(
            "Pod",
            json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
            json!({"spec": {"tolerations": [{"key": "c"}]}}),
        );
        assert_eq!(
            tolerations,
            Ok(json!({"spec": {"tolerations": [{"key": "c"}]}}))
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let patched = patch_as(
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {
                "finalizers": ["c", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"]
            }}),
        );
        assert_eq!(patched, Ok(json!({"metadata": {"finalizers": ["c", "a"]}})));
    }

    #[test]
    fn delete_from_primitive_list_never_adds() {
        for original in [json!({"mergingIntList": [1, 2]}), json!({"foo": ["bar"]})] {
            let patched = item(
                original.clone(),
                json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            );
            assert_eq!(patched, original);
        }
        assert_eq!(
            item(
                json!({"nonMergingIntList": [1, 2, 3]}),
                json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]})
            ),
            json!({"nonMergingIntList": [1, 3]})
        );
    }

    #[test]
    fn set_element_order_with_deletions_from_primitive_list() {
        // Upstream: "delete items in lists of scalars" (three-way result).
        let patched = item(
            json!({"mergingIntList": [1, 2, 3, 4]}),
            json!({
                "$setElementOrder/mergingIntList": [1, 2],
                "$deleteFromPrimitiveList/mergingIntList": [3]
            }),
        );
        assert_eq!(patched, json!({"mergingIntList": [1, 2, 4]}));
    }

    #[test]
    fn set_element_order_places_new_elements() {
        // Upstream: "merge lists of maps" (three-way result).
        let patched = item(
            json!({"mergingList": [
                {"name": "1", "other": "a"}, {"name": "2", "value": "2", "other": "b"}
            ]}),
            json!({
                "$setElementOrder/mergingList": [
                    {"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}
                ],
                "mergingList": [{"name": "4", "value": "4"}, {"name": "3", "value": "3"}]
            }),
        );
        assert_eq!(
            patched,
            json!({"mergingList": [
                {"name": "4", "value": "4"},
                {"name": "1", "other": "a"},
                {"name": "2", "value": "2", "other": "b"},
                {"name": "3", "value": "3"}
            ]})
        );
    }

    #[test]
    fn set_element_order_reorders_and_tolerates_unknown_entries() {
        assert_eq!(
            item(
                json!({"mergingIntList": [1, 3]}),
                json!({"$setElementOrder/mergingIntList": [3, 2, 1]})
            ),
            json!({"mergingIntList": [3, 1]})
        );
        assert_eq!(
            item(
                json!({"mergingList": [{"name": "1"}, {"name": "3"}]}),
                json!({
                    "$setElementOrder/mergingList": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
                    "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
                })
            ),
            json!({"mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]})
        );
    }

    #[test]
    fn set_element_order_keeps_server_only_elements_after_deleted_ones() {
        // Upstream: "nested patch merge with empty list" (three-way result).
        let patched = item(
            json!({"name": "hi", "mergingList": [{"name": "hello2"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}],
                "mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]
            }),
        );
        assert_eq!(
            patched,
            json!({"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]})
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let error = patch_as(
            "MergeItem",
            json!({"mergingList": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
            }),
        );
        assert_eq!(
            error,
            Err(StrategicError::ElementOrderMismatch {
                path: ".mergingList".to_owned(),
                field: "mergingList".to_owned()
            })
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        let patched = patch_as(
            "Pod",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(
            patched,
            Ok(json!({"spec": {"strategy": {"type": "Recreate"}}}))
        );
    }

    #[test]
    fn retain_keys_inside_merge_list_elements() {
        let patched = item(
            json!({"retainKeysMergingList": [{"name": "foo", "value": "a", "other": "x"}]}),
            json!({"retainKeysMergingList": [
                {"name": "foo", "$retainKeys": ["name", "other"], "other": "y"}
            ]}),
        );
        assert_eq!(
            patched,
            json!({"retainKeysMergingList": [{"name": "foo", "other": "y"}]})
        );
    }

    #[test]
    fn retain_keys_must_list_every_patched_field() {
        let error = patch_as(
            "Pod",
            json!({"spec": {"strategy": {}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        );
        assert_eq!(
            error,
            Err(StrategicError::FieldNotRetained {
                path: ".spec.strategy".to_owned(),
                field: "rollingUpdate".to_owned()
            })
        );
    }

    #[test]
    fn replace_strategy_maps_are_replaced() {
        let patched = patch_as(
            "Pod",
            json!({"spec": {"selector": {"app": "a", "tier": "b"}}}),
            json!({"spec": {"selector": {"app": "c"}}}),
        );
        assert_eq!(patched, Ok(json!({"spec": {"selector": {"app": "c"}}})));
    }

    #[test]
    fn nested_lists_merge_by_their_own_keys() {
        let patched = patch_as(
            "Pod",
            json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443}
            ]}]}}),
            json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "name": "web"}, {"containerPort": 443, "$patch": "delete"}
            ]}]}}),
        );
        assert_eq!(
            patched,
            Ok(json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "name": "web"}
            ]}]}}))
        );
    }

    #[test]
    fn untyped_positions_merge_maps_and_replace_lists() {
        let patched = patch_as(
            "Pod",
            json!({"status": {"a": {"b": 1}, "list": [1, 2]}}),
            json!({"status": {"a": {"c": 2}, "list": [3]}}),
        );
        assert_eq!(
            patched,
            Ok(json!({"status": {"a": {"b": 1, "c": 2}, "list": [3]}}))
        );
    }

    #[test]
    fn new_values_are_patched_against_nothing() {
        let patched = item(
            json!({}),
            json!({"simpleMap": {"a": "1", "b": null}, "mergingList": [
                {"name": "x", "value": null}, {"name": "y", "$patch": "delete"}
            ]}),
        );
        assert_eq!(
            patched,
            json!({"simpleMap": {"a": "1"}, "mergingList": [{"name": "x"}]})
        );
    }

    #[test]
    fn missing_merge_key_is_an_error() {
        let error = patch_as(
            "MergeItem",
            json!({"mergingList": [{"name": "1", "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]}),
        );
        assert_eq!(
            error,
            Err(StrategicError::MissingMergeKey {
                path: ".mergingList".to_owned(),
                key: "name".to_owned()
            })
        );
    }

    #[test]
    fn unknown_directives_are_errors() {
        let error = patch_as("Pod", json!({}), json!({"spec": {"$frobnicate": 1}}));
        assert_eq!(
            error,
            Err(StrategicError::UnknownDirective {
                path: ".spec".to_owned(),
                key: "$frobnicate".to_owned()
            })
        );
        let error = patch_as(
            "Pod",
            json!({"spec": {"containers": [{"name": "c"}]}}),
            json!({"spec": {"containers": [{"name": "c", "$patch": "explode"}]}}),
        )
        .expect_err("unknown $patch value");
        assert_eq!(
            error.to_string(),
            ".spec.containers[name=\"c\"]: unknown $patch directive \"explode\"; \
             use \"replace\", \"delete\" or \"merge\""
        );
    }

    #[test]
    fn malformed_lists_are_errors() {
        assert_eq!(
            patch_as(
                "MergeItem",
                json!({"mergingIntList": [1]}),
                json!({"mergingIntList": ["a"]})
            ),
            Err(StrategicError::MixedListElements {
                path: ".mergingIntList".to_owned()
            })
        );
        assert_eq!(
            patch_as("MergeItem", json!({}), json!({"mergingIntList": [[1]]})),
            Err(StrategicError::ListOfLists {
                path: ".mergingIntList".to_owned()
            })
        );
        assert_eq!(
            patch_as(
                "MergeItem",
                json!({"mergingIntList": [1]}),
                json!({"mergingIntList": [{}]})
            ),
            Err(StrategicError::MixedListElements {
                path: ".mergingIntList".to_owned()
            })
        );
    }

    #[test]
    fn documents_and_patches_must_be_objects() {
        let schema = Schema::empty();
        assert_eq!(
            apply(&json!({}), &json!([1]), schema.untyped()),
            Err(StrategicError::PatchNotAnObject { found: "an array" })
        );
        assert_eq!(
            apply(&json!(1), &json!({}), schema.untyped()),
            Err(StrategicError::DocumentNotAnObject { found: "a number" })
        );
    }

    #[test]
    fn excessive_nesting_is_refused() {
        let mut patch = json!({"leaf": 1});
        for _ in 0..(MAX_DEPTH + 5) {
            patch = json!({ "a": patch });
        }
        let schema = Schema::empty();
        let error = apply(&json!({}), &patch, schema.untyped()).expect_err("too deep");
        assert!(matches!(error, StrategicError::TooDeep { .. }));
    }
}
