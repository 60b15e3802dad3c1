//! create, replace (PUT) and patch, for main resources and the status subresource.
//!
//! Every write goes through one pipeline: decode → type meta → normalise → keep what the client
//! may not change → generation → defaults → validation → managed fields → compare-and-swap.
//! Updates run in a read-modify-write loop ("guaranteed update") that re-reads and recomputes on
//! a storage conflict unless the client pinned a resourceVersion.

use std::sync::Arc;

use bulwark_core::clock::format_time;
use bulwark_core::{ApiError, ResourceInfo, StatusCause};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::handlers::commit::{Commit, MAX_ATTEMPTS, compare_and_swap, too_many_conflicts};
use crate::handlers::list::read_current;
use crate::handlers::render_object;
use crate::http::{Incoming, Reply};
use crate::managed;
use crate::negotiate::{self, BodyFormat};
use crate::object;
use crate::request::ResourcePath;
use crate::strategy;
use crate::view;

/// Attempts at a free generated name before giving up, as upstream's RetryGenerateName.
const MAX_GENERATE_NAME_ATTEMPTS: usize = 8;
const GENERATED_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Which part of the object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Main,
    Status,
    /// Namespaces' `finalize` subresource: only `spec.finalizers`.
    Finalize,
}

impl Target {
    pub fn of(path: &ResourcePath) -> Self {
        match path.subresource.as_deref() {
            Some("status") => Self::Status,
            Some("finalize") => Self::Finalize,
            _ => Self::Main,
        }
    }

    fn subresource(self) -> Option<&'static str> {
        match self {
            Self::Main => None,
            Self::Status => Some("status"),
            Self::Finalize => Some("finalize"),
        }
    }
}

/// Per-request write options from the query string.
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: Option<String>,
    /// Server-side apply already computed `managedFields`; keep them instead of recording an Update.
    pub managed_by_apply: bool,
}

impl WriteOptions {
    pub fn from_request(incoming: &Incoming) -> Result<Self, ApiError> {
        Ok(Self {
            dry_run: incoming.query.dry_run()?,
            field_manager: field_manager(incoming)?,
            field_validation: incoming.query.get("fieldValidation").map(str::to_string),
            managed_by_apply: false,
        })
    }
}

/// `fieldManager`, or upstream's default: the user agent up to its first `/`.
fn field_manager(incoming: &Incoming) -> Result<String, ApiError> {
    if let Some(manager) = incoming.query.get("fieldManager") {
        if manager.is_empty() || manager.len() > 128 || manager.chars().any(|c| c.is_control()) {
            return Err(ApiError::bad_request(format!(
                "fieldManager: Invalid value: {manager:?}: must be between 1 and 128 printable characters"
            )));
        }
        return Ok(manager.to_string());
    }
    let agent = incoming
        .header(http::header::USER_AGENT)
        .unwrap_or("unknown");
    let manager: String = agent
        .split('/')
        .next()
        .unwrap_or("unknown")
        .chars()
        .take(128)
        .collect();
    Ok(if manager.is_empty() {
        "unknown".into()
    } else {
        manager
    })
}

/// Checks `apiVersion`/`kind` in a body against the resource addressed, filling them if absent.
pub fn check_type_meta(
    info: &ResourceInfo,
    object: &mut Value,
    expected_kind: &str,
) -> Result<(), ApiError> {
    let Some(root) = object.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let api_version = info.api_version();
    match root.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            root.insert("apiVersion".into(), json!(api_version));
        }
        Some(given) if given == api_version => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({given}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match root.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            root.insert("kind".into(), json!(expected_kind));
        }
        Some(given) if given == expected_kind => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({given}) does not match the expected kind ({expected_kind}) for {}",
                info.qualified_plural()
            )));
        }
    }
    Ok(())
}

/// Checks the body's namespace against the URL's, filling it if absent.
fn check_namespace(
    info: &ResourceInfo,
    path_namespace: Option<&str>,
    object: &mut Value,
) -> Result<(), ApiError> {
    let meta = object::metadata_mut(object);
    if !info.namespaced() {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(expected) = path_namespace else {
        return Err(ApiError::bad_request(format!(
            "{} must be created in a namespace: POST to /{}/namespaces/{{namespace}}/{}",
            info.qualified_plural(),
            info.group_version_path().trim_start_matches('/'),
            info.plural
        )));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("namespace".into(), json!(expected));
            Ok(())
        }
        Some(given) if given == expected => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
    }
}

/// Decodes a create or replace body with `fieldValidation`; a protobuf body is first turned into
/// the JSON it encodes (its unknown field numbers are dropped, so strict validation cannot see them).
fn decode_write_body(
    info: &'static ResourceInfo,
    incoming: &Incoming,
    options: &WriteOptions,
) -> Result<(Value, Vec<String>), ApiError> {
    let field_validation = options.field_validation.as_deref();
    match negotiate::body_format(incoming.header(http::header::CONTENT_TYPE))? {
        BodyFormat::Protobuf => {
            let object = bulwark_registry::protobuf::decode(&incoming.body)?;
            let bytes = serde_json::to_vec(&object).expect("JSON values always serialise");
            strategy::decode_body(info, &bytes, false, field_validation)
        }
        BodyFormat::Yaml | BodyFormat::ApplyPatch => {
            strategy::decode_body(info, &incoming.body, true, field_validation)
        }
        _ => strategy::decode_body(info, &incoming.body, false, field_validation),
    }
}

pub async fn create(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let options = WriteOptions::from_request(incoming)?;
    let info = path.resource;
    let (mut body, warnings) = decode_write_body(info, incoming, &options)?;
    check_type_meta(info, &mut body, info.kind)?;
    let created = create_object(server, path, body, &options).await?;
    let presented = view::present(info, &created);
    Ok(Reply::created(render_object(server, path, incoming, &presented)?).with_warnings(warnings))
}

/// Creates an object from a decoded body (also used by server-side apply of a new object).
pub async fn create_object(
    server: &ApiServer,
    path: &ResourcePath,
    body: Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let info = view::storage_resource(path.resource);
    let mut object = view::to_storage(path.resource, body);
    check_type_meta(info, &mut object, info.kind)?;
    check_namespace(info, path.namespace.as_deref(), &mut object)?;
    let mut object = strategy::normalize(info, object)?;
    if let Some(namespace) = path.namespace.as_deref() {
        admit_namespace(server, info, namespace, &object).await?;
    }
    if info.group.is_empty() && info.plural == "pods" {
        super::priority::admit(server, &mut object)?;
    }
    prepare_create(server, info, &mut object, options)?;
    object::check_nesting(&object)?;
    let reservation =
        crate::service_ips::reserve(server, info, &mut object, options.dry_run).await?;
    if options.dry_run {
        return Ok(object);
    }
    let created = commit_create(server, info, path.namespace.as_deref(), object).await;
    if created.is_err() {
        reservation.cancel(server).await;
    }
    created
}

/// The server-managed metadata a new object gets, then defaults and validation.
fn prepare_create(
    server: &ApiServer,
    info: &'static ResourceInfo,
    object: &mut Value,
    options: &WriteOptions,
) -> Result<(), ApiError> {
    let now = format_time(server.clock.now());
    {
        let meta = object::metadata_mut(object);
        for server_owned in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(server_owned);
        }
        if !options.managed_by_apply {
            meta.remove("managedFields");
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now));
        if strategy::tracks_generation(info) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
    }
    let has_name = object::name(object).is_some();
    let generate_name = object::meta_str(object, "generateName")
        .unwrap_or_default()
        .to_string();
    if !has_name && generate_name.is_empty() {
        return Err(ApiError::invalid(
            info.group,
            info.kind,
            "",
            vec![StatusCause::new(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )],
        ));
    }
    if !has_name {
        // A placeholder that validates like the final name; commit_create picks the real suffix.
        object::metadata_mut(object).insert("name".into(), json!(format!("{generate_name}xxxxx")));
    }
    strategy::reset_status_on_create(info, object);
    strategy::apply_defaults(info, object);
    strategy::validate(info, object, None)?;
    if !options.managed_by_apply {
        managed::record_update(info, None, object, &options.field_manager, None, &now);
    }
    if !has_name {
        object::metadata_mut(object).remove("name");
    }
    Ok(())
}

/// Writes a prepared object, choosing a generated name when it has none.
async fn commit_create(
    server: &ApiServer,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
    mut object: Value,
) -> Result<Value, ApiError> {
    let generated = object::name(&object).is_none();
    let attempts = if generated {
        MAX_GENERATE_NAME_ATTEMPTS
    } else {
        1
    };
    for _ in 0..attempts {
        if generated {
            let base = object::meta_str(&object, "generateName")
                .unwrap_or_default()
                .to_string();
            object::metadata_mut(&mut object).insert("name".into(), json!(generate_name(&base)));
        }
        let name = object::name(&object).unwrap_or_default().to_string();
        let key = info.key(namespace, &name);
        match server.store.create(&key, encode(&object)).await {
            Ok(revision) => {
                object::set_resource_version(&mut object, revision);
                return Ok(object);
            }
            Err(bulwark_store::Error::AlreadyExists(_)) if generated => continue,
            Err(bulwark_store::Error::AlreadyExists(_)) => {
                return Err(ApiError::already_exists(&info.qualified_plural(), &name));
            }
            Err(other) => return Err(object::storage_error(other)),
        }
    }
    Err(ApiError::already_exists(
        &info.qualified_plural(),
        object::name(&object).unwrap_or_default(),
    ))
}

fn generate_name(base: &str) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| {
            GENERATED_SUFFIX_ALPHABET[rng.random_range(0..GENERATED_SUFFIX_ALPHABET.len())] as char
        })
        .collect();
    // Upstream trims the base so the whole name stays within 63 characters.
    let base: String = base.chars().take(58).collect();
    format!("{base}{suffix}")
}

/// The stored form: everything but the resourceVersion, which is the store's revision.
pub fn encode(object: &Value) -> Bytes {
    let bytes = serde_json::to_vec(&WithoutResourceVersion {
        value: object,
        depth: 0,
    })
    .expect("JSON values always serialise");
    Bytes::from(bytes)
}

/// Serialises an object leaving out `metadata.resourceVersion`, without copying the object.
struct WithoutResourceVersion<'a> {
    value: &'a Value,
    /// 0 for the object itself, 1 for its `metadata`.
    depth: u8,
}

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(fields) = self.value else {
            return self.value.serialize(serializer);
        };
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in fields {
            match (self.depth, key.as_str()) {
                (0, "metadata") => {
                    map.serialize_entry(key, &WithoutResourceVersion { value, depth: 1 })?;
                }
                (1, "resourceVersion") => {}
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

/// Namespace lifecycle admission: the namespace must exist and not be terminating.
async fn admit_namespace(
    server: &ApiServer,
    info: &ResourceInfo,
    namespace: &str,
    object: &Value,
) -> Result<(), ApiError> {
    let namespaces =
        bulwark_core::resource::find("", "v1", "namespaces").expect("namespaces are always served");
    let key = namespaces.key(None, namespace);
    // The cache answers almost always; a namespace created a moment ago may only be in the store.
    let terminating = match server.cache.get(namespaces, &key) {
        Some(cached) => cached.index.field("status.phase") == "Terminating",
        None => {
            let Some(kv) = server
                .store
                .get(&key)
                .await
                .map_err(object::storage_error)?
            else {
                return Err(ApiError::not_found("namespaces", namespace));
            };
            let stored: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
            object::is_terminating(&stored)
        }
    };
    if terminating {
        let name = object::name(object).unwrap_or_default();
        let mut error = ApiError::forbidden(format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
            info.qualified_plural()
        ));
        error.causes.push(StatusCause::new(
            "NamespaceTerminating",
            "metadata.namespace",
            format!("namespace {namespace} is being terminated"),
        ));
        error.kind = Some(info.plural.to_string());
        error.name = Some(name.to_string());
        return Err(error);
    }
    Ok(())
}

pub async fn replace(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let options = WriteOptions::from_request(incoming)?;
    let info = path.resource;
    let (mut body, warnings) = decode_write_body(info, incoming, &options)?;
    check_type_meta(info, &mut body, info.kind)?;
    let body = view::to_storage(info, body);
    let pinned = object::resource_version(&body);
    let target = Target::of(path);
    let updated = guaranteed_update(server, path, target, &options, |current| {
        if let Some(pinned) = pinned
            && Some(pinned) != object::resource_version(current)
        {
            return Err(ApiError::stale_object(
                &info.qualified_plural(),
                path.name.as_deref().unwrap_or_default(),
            ));
        }
        Ok(body.clone())
    })
    .await?;
    let presented = view::present(info, &updated);
    Ok(Reply::ok(render_object(server, path, incoming, &presented)?).with_warnings(warnings))
}

/// Read, compute the client's proposal from the current object, prepare, compare-and-swap;
/// again on a conflict. `propose` sees the current object (resourceVersion filled in).
pub async fn guaranteed_update(
    server: &ApiServer,
    path: &ResourcePath,
    target: Target,
    options: &WriteOptions,
    mut propose: impl FnMut(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let info = view::storage_resource(path.resource);
    let name = path.name.as_deref().unwrap_or_default();
    let key = info.key(path.namespace.as_deref(), name);
    for _ in 0..MAX_ATTEMPTS {
        let (current, revision) = read_current(server, path).await?;
        let proposed = propose(&current)?;
        let mut next = prepare_update(server, info, path, target, &current, proposed, options)?;
        if same_object(&next, &current) {
            return Ok(current);
        }
        object::check_nesting(&next)?;
        // A Service turning from ExternalName into one with a cluster IP gets its address now.
        let reservation = crate::service_ips::reserve_on_update(
            server,
            info,
            &current,
            &mut next,
            options.dry_run,
        )
        .await?;
        if options.dry_run {
            return Ok(next);
        }
        let commit = if finalized(info, &next) {
            Commit::Remove(next)
        } else {
            Commit::Update(next)
        };
        match compare_and_swap(server, info, &key, name, revision, commit).await {
            Ok(Some(written)) => {
                crate::service_ips::release_replaced(server, info, &current, &written).await;
                return Ok(written);
            }
            Ok(None) => reservation.cancel(server).await,
            Err(error) => {
                reservation.cancel(server).await;
                return Err(error);
            }
        }
    }
    Err(too_many_conflicts(info, name))
}

/// An object being deleted whose last finalizer is gone, with no grace period left, is removed.
/// A namespace is also held by its `spec.finalizers` (the `kubernetes` one goes once the
/// namespace controller has emptied it), so a status write while it empties keeps it.
fn finalized(info: &ResourceInfo, object: &Value) -> bool {
    let spec_finalizers = info.group.is_empty()
        && info.plural == "namespaces"
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    object::is_terminating(object)
        && object::finalizers(object).is_empty()
        && !spec_finalizers
        && object::metadata(object)
            .and_then(|meta| meta.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
}

/// Equal apart from bookkeeping that a no-op write would only churn: the resourceVersion and
/// managedFields timestamps (as upstream's IgnoreManagedFieldsTimestampsTransformer). A change of
/// ownership alone — a second applier co-owning fields at the same values — is a real write.
fn same_object(next: &Value, current: &Value) -> bool {
    let (Some(next), Some(current)) = (next.as_object(), current.as_object()) else {
        return next == current;
    };
    let empty = serde_json::Map::new();
    same_entries(next, current, &["metadata"])
        && same_entries(
            next.get("metadata")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
            current
                .get("metadata")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
            &["resourceVersion", "managedFields"],
        )
        && comparable_managed_fields(next) == comparable_managed_fields(current)
}

/// Whether two maps hold the same entries apart from the `ignored` keys, whatever their order.
fn same_entries(
    a: &serde_json::Map<String, Value>,
    b: &serde_json::Map<String, Value>,
    ignored: &[&str],
) -> bool {
    let counted = |map: &serde_json::Map<String, Value>| {
        map.keys()
            .filter(|key| !ignored.contains(&key.as_str()))
            .count()
    };
    counted(a) == counted(b)
        && a.iter()
            .filter(|(key, _)| !ignored.contains(&key.as_str()))
            .all(|(key, value)| b.get(key) == Some(value))
}

/// managedFields without timestamps, in a stable order: entries sort by time, so a fresh
/// timestamp alone may reorder them. Only this list is copied, not the whole object.
fn comparable_managed_fields(root: &serde_json::Map<String, Value>) -> Vec<Value> {
    let mut entries = root
        .get("metadata")
        .and_then(|meta| meta.get("managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
        entry.remove("time");
    }
    entries.sort_by_cached_key(Value::to_string);
    entries
}

/// Turns the client's proposal into the object to store.
fn prepare_update(
    server: &ApiServer,
    info: &'static ResourceInfo,
    path: &ResourcePath,
    target: Target,
    current: &Value,
    proposed: Value,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let mut proposed = proposed;
    check_type_meta(info, &mut proposed, info.kind)?;
    check_namespace(info, path.namespace.as_deref(), &mut proposed)?;
    let url_name = path.name.as_deref().unwrap_or_default();
    match object::name(&proposed) {
        None => {
            object::metadata_mut(&mut proposed).insert("name".into(), json!(url_name));
        }
        Some(name) if name == url_name => {}
        Some(name) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    let proposed = strategy::normalize(info, proposed)?;
    let mut next = match target {
        Target::Main => {
            let mut next = proposed;
            if strategy::has_status_subresource(info) {
                copy_field(current, &mut next, "status");
            }
            next
        }
        Target::Status => {
            let mut next = current.clone();
            copy_field(&proposed, &mut next, "status");
            next
        }
        Target::Finalize => {
            let mut next = current.clone();
            let finalizers = proposed
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            next["spec"]["finalizers"] = finalizers;
            next
        }
    };
    keep_server_metadata(current, &mut next);
    if target == Target::Main {
        // Fields a client need not resend (a Service's clusterIP, a Namespace's finalizers, …).
        // Before the generation bump: the carry-over restores the stored generation.
        bulwark_registry::defaults::carry_over_on_update(info, &mut next, current);
        strategy::apply_defaults(info, &mut next);
    }
    if strategy::tracks_generation(info) && object::spec_part(&next) != object::spec_part(current) {
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        object::metadata_mut(&mut next).insert("generation".into(), json!(generation));
    }
    strategy::validate(info, &next, Some(current))?;
    if !options.managed_by_apply {
        let now = format_time(server.clock.now());
        managed::record_update(
            info,
            Some(current),
            &mut next,
            &options.field_manager,
            target.subresource(),
            &now,
        );
    }
    Ok(next)
}

fn copy_field(from: &Value, to: &mut Value, field: &str) {
    let Some(to) = to.as_object_mut() else { return };
    match from.get(field) {
        Some(value) => {
            to.insert(field.to_string(), value.clone());
        }
        None => {
            to.remove(field);
        }
    }
}

/// Metadata only the server sets survives every client write.
fn keep_server_metadata(current: &Value, next: &mut Value) {
    let Some(current_meta) = object::metadata(current) else {
        return;
    };
    let meta = object::metadata_mut(next);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current_meta.get(field) {
            Some(value) => {
                meta.insert(field.to_string(), value.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    if let Some(rv) = current_meta.get("resourceVersion") {
        meta.insert("resourceVersion".into(), rv.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_changes_only_bookkeeping_is_a_no_op() {
        let current = json!({
            "metadata": {"name": "c", "resourceVersion": "7", "managedFields": [
                {"manager": "a", "time": "2026-01-01T00:00:00Z"},
                {"manager": "b", "time": "2026-01-01T00:00:01Z"},
            ]},
            "data": {"k": "v"},
        });
        let mut restamped = current.clone();
        restamped["metadata"]["resourceVersion"] = json!("8");
        restamped["metadata"]["managedFields"] = json!([
            {"manager": "b", "time": "2026-01-02T00:00:00Z"},
            {"manager": "a", "time": "2026-01-02T00:00:01Z"},
        ]);
        assert!(same_object(&restamped, &current));
    }

    #[test]
    fn a_change_of_data_labels_or_ownership_is_a_write() {
        let current = json!({"metadata": {"name": "c", "managedFields": [{"manager": "a"}]}, "data": {"k": "v"}});
        let mut data = current.clone();
        data["data"]["k"] = json!("w");
        let mut labels = current.clone();
        labels["metadata"]["labels"] = json!({"x": "y"});
        let mut owners = current.clone();
        owners["metadata"]["managedFields"] = json!([{"manager": "a"}, {"manager": "b"}]);
        let mut extra = current.clone();
        extra["binaryData"] = json!({});
        for changed in [data, labels, owners, extra] {
            assert!(!same_object(&changed, &current), "{changed}");
            assert!(!same_object(&current, &changed), "{changed}");
        }
    }

    #[test]
    fn the_stored_form_leaves_out_only_the_resource_version() {
        let object = json!({
            "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": "7", "labels": {"resourceVersion": "kept"}},
            "data": {"resourceVersion": "kept too"},
        });
        let stored: Value = serde_json::from_slice(&encode(&object)).unwrap();
        let mut expected = object.clone();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        assert_eq!(stored, expected);
    }
}
