//! The field manager: server-side apply and managedFields bookkeeping for other writes.
//!
//! Follows the API server's field manager (k8s.io/apimachinery managedfields) on top of
//! structured-merge-diff's updater:
//!
//! - **Apply** merges the configuration into the live object, gives the applier exactly the
//!   fields its configuration specifies, prunes fields it applied last time but no longer
//!   specifies (unless another manager owns them), and fails with conflicts when the result
//!   changes a field another manager owns, unless forced, in which case the field moves.
//! - **Update** (create, update, patch, and subresource writes) gives the writer the fields whose
//!   values changed and takes them away from everyone else.
//!
//! Never tracked: `apiVersion`, `kind`, `metadata.{name, namespace, uid, resourceVersion,
//! generation, creationTimestamp, selfLink, clusterName, managedFields}` (upstream's strip set).
//! Fields the registry resets for this endpoint (the status of a main-resource write, the spec
//! of a status write) are passed in [`WriteContext::reset_fields`]; they are then neither owned
//! nor conflicting. The caller still resets their values, as the registry strategy does.

use serde_json::{Map, Value};

use super::conflict::{ApplyConflict, ApplyError, Conflict};
use super::managed::{self, ManagedEntry, ManagerId, Operation};
use super::path::Path;
use super::set::FieldSet;
use super::typed::{self, Comparison};
use crate::schema::{Node, Schema};

/// How many Update managers an object keeps before the oldest merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;

const ANCIENT_CHANGES: &str = "ancient-changes";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// What the API server knows about a write besides the objects.
#[derive(Clone, Copy)]
pub struct WriteContext<'a> {
    /// The type graph.
    pub schema: &'a Schema,
    /// The definition name of the object's type in `schema`; unknown names are untyped.
    pub root_type: &'a str,
    /// The group/version of the request (`apps/v1`, `v1`), recorded in each entry.
    pub api_version: &'a str,
    /// The subresource written (`status`, `scale`), if any.
    pub subresource: Option<&'a str>,
    /// The request time in RFC 3339 (`2024-05-01T12:00:00Z`); nothing here reads a clock.
    pub time: &'a str,
    /// Fields this endpoint resets and therefore never assigns to a manager.
    pub reset_fields: Option<&'a FieldSet>,
}

impl<'a> WriteContext<'a> {
    fn root(&self) -> Node<'a> {
        self.schema
            .root(self.root_type)
            .unwrap_or_else(|| self.schema.untyped())
    }

    fn subresource(&self) -> &'a str {
        self.subresource.unwrap_or_default()
    }
}

/// The fields upstream's registry strategies reset, for kinds with a status subresource: a
/// main-resource write never sets `status`, a `status` write never sets `spec`. Kinds whose
/// strategies reset more (pods' status writes also keep `metadata.ownerReferences`, ...) add
/// them to this set. Use the result as [`WriteContext::reset_fields`].
pub fn status_subresource_reset_fields(subresource: Option<&str>) -> FieldSet {
    match subresource {
        None => FieldSet::from_paths([Path::fields(["status"])]),
        Some("status") => FieldSet::from_paths([Path::fields(["spec"])]),
        Some(_) => FieldSet::new(),
    }
}

/// Server-side apply of `config` by `manager` onto `live` (`None` when the apply creates the
/// object). Returns the object to store, with `metadata.managedFields` updated.
///
/// The caller has checked `kind` and `metadata.name`; this checks that `config` is an object of
/// `context.api_version` without managedFields. With `force`, conflicting fields move to
/// `manager` instead of failing.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    context: &WriteContext<'_>,
) -> Result<Value, ApplyError> {
    check_config(config, context.api_version)?;
    let root = context.root();
    let live_fields = live.map(without_managed_fields);
    let mut managers = live_managers(live, live_fields.as_ref(), context)?;
    let live = live_fields;
    let id = ManagerId::new(
        manager,
        Operation::Apply,
        context.api_version,
        context.subresource(),
    );

    let merged = typed::merge(live.as_ref(), config, root)?;
    let previous = managers.iter().position(|entry| entry.id == id);
    let last_applied = previous.map(|index| managers[index].fields.clone());
    let previous_time = previous.and_then(|index| managers[index].time.clone());
    let mut applied = typed::fields_of(config, root)?;
    if let Some(reset) = context.reset_fields {
        applied = applied.recursive_difference(reset);
    }
    managers.retain(|entry| entry.id != id);
    managers.push(ManagedEntry {
        id: id.clone(),
        api_version: context.api_version.to_string(),
        time: previous_time,
        fields: applied,
    });

    let pruned = prune(&merged, &managers, last_applied.as_ref(), root)?;
    update_owners(
        live.as_ref(),
        &pruned,
        &mut managers,
        Some(&id),
        force,
        context,
    )?;
    let changed = live.as_ref() != Some(&pruned);
    for entry in managers.iter_mut().filter(|entry| entry.id == id) {
        entry.fields = entry.fields.difference(&never_tracked());
        // Upstream stamps the applier whenever the write is stored: when the object changed or
        // the applier's ownership did (a new co-owner of unchanged values).
        if changed || last_applied.as_ref() != Some(&entry.fields) {
            entry.time = Some(context.time.to_string());
        }
    }
    Ok(with_managers(pruned, &managers))
}

/// Records a non-apply write by `manager`: `new` is the object about to be stored and `old` the
/// stored one (`None` on create). Returns `new` with `metadata.managedFields` updated.
///
/// The writer gets an `Update` entry (per manager, API version and subresource) for the fields
/// whose values changed, and loses nothing it had; every other manager loses the fields that
/// changed or disappeared. A request may replace managedFields by sending them (not for
/// subresources), or reset them with `[]` / `[{}]`. Like upstream, an existing object that has
/// no managedFields is not tracked, and bookkeeping that fails (a list item without its keys)
/// keeps the old entries rather than failing the write: validation reports such objects.
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    context: &WriteContext<'_>,
) -> Value {
    match try_track_update(old, new, manager, context) {
        Ok(tracked) => tracked,
        Err(_) => {
            let mut kept = without_managed_fields(new);
            managed::set_managed_fields(
                &mut kept,
                old.and_then(managed::raw_managed_fields).cloned(),
            );
            kept
        }
    }
}

/// [`track_update`] that reports why bookkeeping failed.
pub fn try_track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    context: &WriteContext<'_>,
) -> Result<Value, ApplyError> {
    let mut managers = request_managers(old, new, context);
    let old = old.map(without_managed_fields);
    let new = without_managed_fields(new);
    if managers.is_empty() && old.is_some() {
        // Upstream starts tracking an object only at its creation or its first apply.
        return Ok(new);
    }
    record_update(old.as_ref(), &new, manager, &mut managers, context)?;
    cap_update_managers(&mut managers);
    Ok(with_managers(new, &managers))
}

fn record_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    managers: &mut Vec<ManagedEntry>,
    context: &WriteContext<'_>,
) -> Result<(), ApplyError> {
    let comparison = update_owners(old, new, managers, None, true, context)?;
    let taken = comparison
        .modified
        .union(&comparison.added)
        .difference(&never_tracked());
    if taken.is_empty() {
        return Ok(());
    }
    let id = ManagerId::new(
        manager,
        Operation::Update,
        context.api_version,
        context.subresource(),
    );
    let previous = managers
        .iter()
        .position(|entry| entry.id == id)
        .map(|index| managers.remove(index).fields);
    managers.push(ManagedEntry {
        id,
        api_version: context.api_version.to_string(),
        time: Some(context.time.to_string()),
        fields: previous.unwrap_or_default().union(&taken),
    });
    Ok(())
}

/// Compares `old` with `new` and takes changed and removed fields away from every manager but
/// `owner`; without `force`, a changed field of another manager is a conflict instead.
fn update_owners(
    old: Option<&Value>,
    new: &Value,
    managers: &mut Vec<ManagedEntry>,
    owner: Option<&ManagerId>,
    force: bool,
    context: &WriteContext<'_>,
) -> Result<Comparison, ApplyError> {
    let mut comparison = typed::compare(old, new, context.root())?;
    if let Some(reset) = context.reset_fields {
        comparison = comparison.exclude(reset);
    }
    let changed = comparison.modified.union(&comparison.added);
    let others = || managers.iter().filter(|entry| Some(&entry.id) != owner);
    if !force {
        let conflicts: Vec<(ManagerId, FieldSet)> = others()
            .map(|entry| (entry.id.clone(), entry.fields.intersection(&changed)))
            .filter(|(_, fields)| !fields.is_empty())
            .collect();
        if !conflicts.is_empty() {
            return Err(conflict_error(conflicts).into());
        }
    }
    for entry in managers.iter_mut().filter(|entry| Some(&entry.id) != owner) {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    managers.retain(|entry| !entry.fields.is_empty());
    Ok(comparison)
}

fn conflict_error(mut conflicts: Vec<(ManagerId, FieldSet)>) -> ApplyConflict {
    conflicts.sort_by_cached_key(|(id, _)| id.identifier());
    ApplyConflict {
        conflicts: conflicts
            .into_iter()
            .flat_map(|(manager, fields)| {
                fields.paths().into_iter().map(move |path| Conflict {
                    manager: manager.clone(),
                    path,
                })
            })
            .collect(),
    }
}

/// Removes from `merged` what the applier applied last time and no longer applies, unless some
/// manager (the applier's new configuration included) owns it; fields the last apply did not
/// include are never removed.
fn prune(
    merged: &Value,
    managers: &[ManagedEntry],
    last_applied: Option<&FieldSet>,
    root: Node<'_>,
) -> Result<Value, ApplyError> {
    let Some(last_applied) = last_applied.filter(|set| !set.is_empty()) else {
        return Ok(merged.clone());
    };
    let named = |set: &FieldSet| typed::with_named_fields_as_members(set, root);
    let last = named(last_applied);
    let pruned = typed::remove_fields(merged, &last, root);

    let owned = managers
        .iter()
        .fold(FieldSet::new(), |all, entry| all.union(&entry.fields));
    let merged_fields = named(&typed::fields_of(merged, root)?);
    let pruned_fields = named(&typed::fields_of(&pruned, root)?);
    let orphaned = merged_fields.difference(&pruned_fields.union(&named(&owned)));
    let pruned = typed::remove_fields(merged, &orphaned, root);

    let pruned_fields = named(&typed::fields_of(&pruned, root)?);
    let removable = merged_fields.difference(&pruned_fields).intersection(&last);
    Ok(typed::remove_fields(merged, &removable, root))
}

/// The managers of the live object; an object that has none yet gets its current fields
/// assigned to `before-first-apply`, so that the first apply cannot silently take them.
fn live_managers(
    live: Option<&Value>,
    live_fields: Option<&Value>,
    context: &WriteContext<'_>,
) -> Result<Vec<ManagedEntry>, ApplyError> {
    let mut managers = match live.and_then(managed::raw_managed_fields) {
        Some(list) => managed::decode(list)?,
        None => Vec::new(),
    };
    if let (true, Some(live_fields)) = (managers.is_empty(), live_fields) {
        record_update(
            None,
            live_fields,
            BEFORE_FIRST_APPLY,
            &mut managers,
            context,
        )?;
    }
    Ok(managers)
}

fn check_config(config: &Value, api_version: &str) -> Result<(), ApplyError> {
    let Value::Object(map) = config else {
        return Err(ApplyError::BadRequest(
            "apply configuration must be a JSON object".into(),
        ));
    };
    if managed::raw_managed_fields(config).is_some() {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let patch_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if patch_version != api_version {
        return Err(ApplyError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {patch_version}, expected: {api_version}"
        )));
    }
    Ok(())
}

/// Which managedFields a non-apply write starts from: the request's own (a client may edit
/// them, or reset them with `[]` or `[{}]`) unless absent, invalid or a subresource write, in
/// which case the stored object's.
fn request_managers(
    old: Option<&Value>,
    new: &Value,
    context: &WriteContext<'_>,
) -> Vec<ManagedEntry> {
    let decode_or_empty = |object: Option<&Value>| -> Vec<ManagedEntry> {
        object
            .and_then(managed::raw_managed_fields)
            .and_then(|list| managed::decode(list).ok())
            .unwrap_or_default()
    };
    if context.subresource.is_some() {
        return decode_or_empty(old);
    }
    if let Some(requested) = managed::raw_managed_fields(new) {
        if is_reset(requested) {
            return Vec::new();
        }
        if let Ok(entries) = managed::decode(requested)
            && !entries.is_empty()
        {
            return entries;
        }
    }
    decode_or_empty(old)
}

fn is_reset(list: &Value) -> bool {
    match list.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([only]) => only.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// Merges the oldest Update entries into one `ancient-changes` entry per API version until at
/// most [`MAX_UPDATE_MANAGERS`] remain. The first old entry of a version becomes the bucket
/// only once a second one joins it, as upstream does.
fn cap_update_managers(managers: &mut Vec<ManagedEntry>) {
    let mut updaters: Vec<(String, String, ManagerId)> = managers
        .iter()
        .filter(|entry| entry.id.operation == Operation::Update)
        .map(|entry| {
            (
                entry.time.clone().unwrap_or_default(),
                entry.id.identifier(),
                entry.id.clone(),
            )
        })
        .collect();
    let mut remaining = updaters.len();
    if remaining <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort();
    let mut first_of_version: Vec<(String, ManagerId)> = Vec::new();
    for (_, _, id) in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(index) = managers.iter().position(|entry| entry.id == id) else {
            continue;
        };
        let version = managers[index].api_version.clone();
        let bucket = ManagerId::new(ANCIENT_CHANGES, Operation::Update, &version, "");
        let Some((_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, id));
            continue;
        };
        if id == bucket {
            continue;
        }
        if !managers.iter().any(|entry| entry.id == bucket)
            && let Some(first_entry) = managers.iter_mut().find(|entry| entry.id == *first)
        {
            first_entry.id = bucket.clone();
        }
        let absorbed = managers.remove(index);
        if let Some(target) = managers.iter_mut().find(|entry| entry.id == bucket) {
            target.fields = target.fields.union(&absorbed.fields);
            target.time = absorbed.time;
        }
        remaining -= 1;
    }
}

/// Paths no manager ever owns.
fn never_tracked() -> FieldSet {
    let metadata = [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ];
    FieldSet::from_paths(
        [
            Path::fields(["apiVersion"]),
            Path::fields(["kind"]),
            Path::fields(["metadata"]),
        ]
        .into_iter()
        .chain(
            metadata
                .iter()
                .map(|field| Path::fields(["metadata", field])),
        ),
    )
}

fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    managed::set_managed_fields(&mut object, None);
    object
}

fn with_managers(mut object: Value, managers: &[ManagedEntry]) -> Value {
    managed::set_managed_fields(&mut object, managed::encode(managers));
    object
}
