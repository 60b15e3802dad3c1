//! Upstream's defaulting (`pkg/apis/*/v1/defaults.go`, the generated `zz_generated.defaults.go`,
//! and the create-time parts of the registry strategies that read like defaults: namespace
//! finalizers, service IP families, generated Job selectors).
//!
//! [`apply_defaults`] fills every field the user left unset, in place, and never overwrites a
//! value the user gave. It is idempotent: defaulting a defaulted object changes nothing. Pod
//! template defaults are written once (module `pod`) and applied inside every workload's template.
//!
//! Call it after the API server has set `metadata.uid` on create: Jobs derive their generated
//! selector from it, as upstream's strategy does.

mod cluster;
mod pod;
mod workloads;

use bulwark_core::resource::ResourceInfo;
use serde_json::{Map, Value};

/// Fills upstream's defaults for `resource`'s kind into `object`.
pub fn apply_defaults(resource: &ResourceInfo, object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match (resource.group, resource.kind) {
        ("", "Pod") => pod::pod(map),
        ("", "Service") => cluster::service(map),
        ("", "Namespace") => cluster::namespace(map),
        ("", "Secret") => cluster::secret(map),
        ("", "LimitRange") => cluster::limit_range(map),
        ("", "Endpoints") => cluster::endpoints(map),
        ("", "Node") => cluster::node(map),
        ("discovery.k8s.io", "EndpointSlice") => cluster::endpoint_slice(map),
        ("scheduling.k8s.io", "PriorityClass") => cluster::priority_class(map),
        ("apps", "Deployment") => workloads::deployment(map),
        ("apps", "ReplicaSet") => workloads::replica_set(map),
        ("apps", "DaemonSet") => workloads::daemon_set(map),
        ("batch", "Job") => workloads::job(map),
        ("batch", "CronJob") => workloads::cron_job(map),
        _ => {}
    }
}

/// On update, carries over what the user cannot or need not resend, as upstream's `BeforeUpdate`
/// and strategies do before validation: metadata system fields (uid, creation and deletion
/// stamps, generation); a Service keeps its allocated cluster IPs, IP families and node ports when
/// the update leaves them out; a Namespace keeps its `spec.finalizers` (only the `finalize`
/// subresource changes them).
///
/// Call it before [`apply_defaults`] on the new object, so that carried values win over defaults.
pub fn carry_over_on_update(resource: &ResourceInfo, new: &mut Value, old: &Value) {
    let (Some(new_map), Some(old_map)) = (new.as_object_mut(), old.as_object()) else {
        return;
    };
    metadata_carry_over(new_map, old_map);
    match (resource.group, resource.kind) {
        ("", "Service") => cluster::service_carry_over(new_map, old_map),
        ("", "Namespace") => cluster::namespace_carry_over(new_map, old_map),
        _ => {}
    }
}

/// Upstream's `BeforeUpdate`: the uid when none is sent, and the creation and deletion stamps
/// and generation always, come from the stored object (the API server bumps the generation
/// afterwards when the spec changed).
fn metadata_carry_over(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let Some(old_meta) = old.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let Some(new_meta) = ensure_object(new, "metadata") else {
        return;
    };
    if let Some(uid) = old_meta.get("uid") {
        default_field(new_meta, "uid", uid.clone());
    }
    for key in [
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(key) {
            Some(value) => new_meta.insert(key.to_string(), value.clone()),
            None => new_meta.remove(key),
        };
    }
}

/// The object under `key`, created empty when absent or null; `None` when it has another type
/// (strict decoding rejects that; defaulting just leaves it alone).
fn ensure_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The object under `key`, only if it is already there.
fn existing_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// Each object in the array under `key`.
fn each_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Whether `key` is unset the way Go sees it: absent, null, or the zero value `""`/`0`.
fn unset(map: &Map<String, Value>, key: &str) -> bool {
    match map.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(Value::Number(number)) => number.as_f64() == Some(0.0),
        Some(_) => false,
    }
}

/// Sets `key` to `value` when it is unset (absent, null, `""` or `0`).
fn default_field(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    if unset(map, key) {
        map.insert(key.to_string(), value.into());
    }
}

/// Sets a pointer field: only absent or null count as unset (an explicit `0` or `false` stays).
fn default_pointer(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value.into());
    }
}

#[cfg(test)]
mod tests;
