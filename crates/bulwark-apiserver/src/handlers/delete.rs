//! delete and deletecollection, with `DeleteOptions`: grace periods, preconditions, dry run and
//! finalizers.
//!
//! An object with finalizers, or a pod bound to a node with a grace period left, is not removed:
//! it gets `deletionTimestamp` (and `deletionGracePeriodSeconds`) and stays until its finalizers
//! are gone or the node agent confirms with a zero-grace delete.

use std::sync::Arc;

use bulwark_core::clock::format_time;
use bulwark_core::{ApiError, ResourceInfo};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::filter::Filter;
use crate::handlers::commit::{Commit, MAX_ATTEMPTS, compare_and_swap, too_many_conflicts};
use crate::handlers::list::read_current;
use crate::handlers::{print, render_object};
use crate::http::{Incoming, Reply};
use crate::negotiate;
use crate::object;
use crate::request::ResourcePath;
use crate::view;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Preconditions {
    uid: Option<String>,
    resource_version: Option<String>,
}

/// `metav1.DeleteOptions`, from the body or the query string.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    grace_period_seconds: Option<i64>,
    preconditions: Option<Preconditions>,
    propagation_policy: Option<String>,
    orphan_dependents: Option<bool>,
    dry_run: Option<Vec<String>>,
}

impl DeleteOptions {
    pub fn from_request(incoming: &Incoming) -> Result<Self, ApiError> {
        let mut options: Self = if incoming.body.iter().all(u8::is_ascii_whitespace) {
            Self::default()
        } else {
            serde_json::from_slice(&incoming.body)
                .map_err(|error| ApiError::bad_request(format!("invalid DeleteOptions: {error}")))?
        };
        if options.grace_period_seconds.is_none() {
            options.grace_period_seconds = incoming.query.integer("gracePeriodSeconds")?;
        }
        if options.propagation_policy.is_none() {
            options.propagation_policy =
                incoming.query.get("propagationPolicy").map(str::to_string);
        }
        if options.dry_run.is_none() && incoming.query.dry_run()? {
            options.dry_run = Some(vec!["All".into()]);
        }
        options.validate()?;
        Ok(options)
    }

    fn validate(&self) -> Result<(), ApiError> {
        if let Some(policy) = &self.propagation_policy
            && !matches!(policy.as_str(), "Background" | "Foreground" | "Orphan")
        {
            return Err(invalid_options(format!(
                "propagationPolicy: Unsupported value: {policy:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        if self.propagation_policy.is_some() && self.orphan_dependents.is_some() {
            return Err(invalid_options("orphanDependents: Invalid value: the OrphanDependents field is deprecated and cannot be combined with PropagationPolicy".into()));
        }
        if let Some(dry_run) = &self.dry_run
            && dry_run.iter().any(|d| d != "All")
        {
            return Err(invalid_options(
                "dryRun: Unsupported value: supported values: \"All\"".into(),
            ));
        }
        if self.grace_period_seconds.is_some_and(|g| g < 0) {
            return Err(invalid_options(
                "gracePeriodSeconds: Invalid value: must be >= 0".into(),
            ));
        }
        Ok(())
    }

    /// The finalizer that holds the object for the garbage collector: `orphan` (its dependents
    /// are released first) or `foregroundDeletion` (its dependents are deleted first).
    fn propagation_finalizer(&self) -> Option<&'static str> {
        match (self.propagation_policy.as_deref(), self.orphan_dependents) {
            (Some("Orphan"), _) | (None, Some(true)) => Some("orphan"),
            (Some("Foreground"), _) => Some("foregroundDeletion"),
            _ => None,
        }
    }

    fn dry_run(&self) -> bool {
        self.dry_run.as_ref().is_some_and(|d| !d.is_empty())
    }
}

fn invalid_options(message: String) -> ApiError {
    ApiError::invalid(
        "",
        "DeleteOptions",
        "",
        vec![bulwark_core::StatusCause::new(
            "FieldValueInvalid",
            "",
            message,
        )],
    )
}

/// What a delete does to an object, decided from the object and the options.
#[derive(Debug, PartialEq)]
enum Deletion {
    /// Remove it from the store now.
    Remove,
    /// Mark it terminating with this grace period and keep it.
    MarkTerminating { grace_seconds: i64 },
    /// It is already terminating at least as soon as asked: leave it.
    Unchanged,
}

/// The pure decision of what a delete does.
fn decide(info: &ResourceInfo, current: &Value, requested_grace: Option<i64>) -> Deletion {
    let is_pod = info.group.is_empty() && info.plural == "pods";
    let default_grace = if is_pod {
        current
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    } else {
        0
    };
    let mut grace = requested_grace.unwrap_or(default_grace).max(0);
    if is_pod {
        let bound = current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            current.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        if !bound || finished {
            grace = 0;
        }
    } else {
        grace = 0;
    }
    let has_finalizers =
        !object::finalizers(current).is_empty() || namespace_finalizers(info, current);
    let terminating = object::is_terminating(current);
    let current_grace = current
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    match (terminating, has_finalizers, grace) {
        (_, false, 0) => Deletion::Remove,
        (true, _, grace) if current_grace.is_some_and(|current| grace >= current) => {
            Deletion::Unchanged
        }
        (true, true, 0) if current_grace.is_none_or(|current| current == 0) => Deletion::Unchanged,
        (_, _, grace) => Deletion::MarkTerminating {
            grace_seconds: grace,
        },
    }
}

/// Namespaces are held by `spec.finalizers` until their contents are gone.
fn namespace_finalizers(info: &ResourceInfo, current: &Value) -> bool {
    info.group.is_empty()
        && info.plural == "namespaces"
        && current
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

fn check_preconditions(
    info: &ResourceInfo,
    current: &Value,
    options: &DeleteOptions,
) -> Result<(), ApiError> {
    let Some(preconditions) = &options.preconditions else {
        return Ok(());
    };
    let name = object::name(current).unwrap_or_default();
    if let Some(uid) = &preconditions.uid
        && Some(uid.as_str()) != object::uid(current)
    {
        return Err(ApiError::conflict(
            &info.qualified_plural(),
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object::uid(current).unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = &preconditions.resource_version
        && Some(rv.as_str()) != object::meta_str(current, "resourceVersion")
    {
        return Err(ApiError::conflict(
            &info.qualified_plural(),
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                object::meta_str(current, "resourceVersion").unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

/// Deletes (or starts deleting) one object; returns its last or terminating state.
pub async fn delete_object(
    server: &ApiServer,
    path: &ResourcePath,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let info = view::storage_resource(path.resource);
    let name = path.name.as_deref().unwrap_or_default();
    let key = info.key(path.namespace.as_deref(), name);
    for _ in 0..MAX_ATTEMPTS {
        let (mut current, revision) = read_current(server, path).await?;
        check_preconditions(info, &current, options)?;
        let added = options
            .propagation_finalizer()
            .is_some_and(|finalizer| add_finalizer(&mut current, finalizer));
        let decision = match decide(info, &current, options.grace_period_seconds) {
            // Already terminating, but now also held for its dependents: record the finalizer.
            Deletion::Unchanged if added => Deletion::MarkTerminating { grace_seconds: 0 },
            decision => decision,
        };
        let commit = match decision {
            Deletion::Unchanged => return Ok(current),
            Deletion::Remove => Commit::Remove(current),
            Deletion::MarkTerminating { grace_seconds } => {
                Commit::Update(mark_terminating(server, info, current, grace_seconds))
            }
        };
        if options.dry_run() {
            let (Commit::Update(object) | Commit::Remove(object)) = commit;
            return Ok(object);
        }
        if let Some(written) = compare_and_swap(server, info, &key, name, revision, commit).await? {
            await_namespace_in_cache(server, info, &written).await;
            return Ok(written);
        }
    }
    Err(too_many_conflicts(info, name))
}

/// Namespace admission reads the cache: once a client is told its namespace is terminating, a
/// create it sends next must see that (upstream keeps a live-lookup list of recently deleted
/// namespaces for the same reason). Waiting is bounded; a slow cache only delays the answer.
async fn await_namespace_in_cache(server: &ApiServer, info: &ResourceInfo, written: &Value) {
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    if let (true, Some(revision)) = (is_namespace, object::resource_version(written)) {
        let _ = server
            .cache
            .wait_for(revision, std::time::Duration::from_secs(5))
            .await;
    }
}

/// Adds `finalizer` unless present; says whether it did.
fn add_finalizer(object: &mut Value, finalizer: &str) -> bool {
    if object::finalizers(object).iter().any(|f| f == finalizer) {
        return false;
    }
    let meta = object::metadata_mut(object);
    let list = meta.entry("finalizers").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut() {
        items.push(json!(finalizer));
    }
    true
}

fn mark_terminating(
    server: &ApiServer,
    info: &ResourceInfo,
    mut current: Value,
    grace_seconds: i64,
) -> Value {
    let now = server.clock.now();
    let deadline = now
        .checked_add(jiff::SignedDuration::from_secs(grace_seconds))
        .unwrap_or(now);
    let keep_existing = object::is_terminating(&current)
        && current
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .is_some_and(|g| g <= grace_seconds);
    {
        let meta = object::metadata_mut(&mut current);
        if !keep_existing {
            meta.insert("deletionTimestamp".into(), json!(format_time(deadline)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace_seconds));
        }
    }
    if info.group.is_empty() && info.plural == "namespaces" {
        current["status"] = json!({"phase": "Terminating"});
    }
    current
}

pub async fn delete(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let options = DeleteOptions::from_request(incoming)?;
    let object = delete_object(server, path, &options).await?;
    let presented = view::present(path.resource, &object);
    Ok(Reply::ok(render_object(
        server, path, incoming, &presented,
    )?))
}

pub async fn delete_collection(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let options = DeleteOptions::from_request(incoming)?;
    let filter = Filter::from_query(path, &incoming.query)?;
    server.cache.sync().await?;
    let snapshot = server.cache.snapshot(path.resource);
    let prefix = path.resource.prefix(path.namespace.as_deref());
    let targets: Vec<ResourcePath> = snapshot
        .objects
        .range::<_, String>(prefix.clone()..)
        .take_while(|(key, _)| key.starts_with(&prefix))
        .filter(|(_, object)| filter.matches(&object.index))
        .map(|(_, object)| ResourcePath {
            resource: path.resource,
            namespace: object.index.namespace.as_deref().map(str::to_string),
            name: Some(object.index.name.to_string()).filter(|name| !name.is_empty()),
            subresource: None,
        })
        .collect();
    let mut deleted = Vec::with_capacity(targets.len());
    for target in &targets {
        match delete_object(server, target, &options).await {
            Ok(object) => deleted.push(view::present(path.resource, &object).into_owned()),
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let representation = negotiate::representation(incoming.header(http::header::ACCEPT))?;
    let refs: Vec<&Value> = deleted.iter().collect();
    let metadata = json!({"resourceVersion": server.cache.revision().to_string()});
    Ok(Reply::ok(print::many(
        server,
        path.resource,
        representation,
        incoming,
        &refs,
        metadata,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphan_and_foreground_hold_the_object_with_a_finalizer() {
        let options = |json: &str| serde_json::from_str::<DeleteOptions>(json).unwrap();
        assert_eq!(
            options(r#"{"propagationPolicy":"Orphan"}"#).propagation_finalizer(),
            Some("orphan")
        );
        assert_eq!(
            options(r#"{"orphanDependents":true}"#).propagation_finalizer(),
            Some("orphan")
        );
        assert_eq!(
            options(r#"{"propagationPolicy":"Foreground"}"#).propagation_finalizer(),
            Some("foregroundDeletion")
        );
        assert_eq!(
            options(r#"{"propagationPolicy":"Background"}"#).propagation_finalizer(),
            None
        );
        assert_eq!(options("{}").propagation_finalizer(), None);
        let mut object = json!({"metadata": {"name": "web", "finalizers": ["keep"]}});
        assert!(add_finalizer(&mut object, "orphan"));
        assert!(!add_finalizer(&mut object, "orphan"));
        assert_eq!(object["metadata"]["finalizers"], json!(["keep", "orphan"]));
    }

    fn pods() -> &'static ResourceInfo {
        bulwark_core::resource::find("", "v1", "pods").unwrap()
    }

    #[test]
    fn unbound_pods_go_at_once() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(decide(pods(), &pod, None), Deletion::Remove);
    }

    #[test]
    fn bound_pods_get_their_grace_period() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 45}});
        assert_eq!(
            decide(pods(), &pod, None),
            Deletion::MarkTerminating { grace_seconds: 45 }
        );
        assert_eq!(decide(pods(), &pod, Some(0)), Deletion::Remove);
    }

    #[test]
    fn finalizers_hold_any_object() {
        let configmaps = bulwark_core::resource::find("", "v1", "configmaps").unwrap();
        let held = json!({"metadata": {"name": "c", "finalizers": ["example.com/hold"]}});
        assert_eq!(
            decide(configmaps, &held, None),
            Deletion::MarkTerminating { grace_seconds: 0 }
        );
        let terminating = json!({"metadata": {"name": "c", "finalizers": ["x"], "deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
        assert_eq!(decide(configmaps, &terminating, None), Deletion::Unchanged);
    }

    #[test]
    fn a_shorter_grace_period_shortens_a_terminating_pod() {
        let pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:30Z", "deletionGracePeriodSeconds": 30}, "spec": {"nodeName": "n1"}});
        assert_eq!(
            decide(pods(), &pod, Some(5)),
            Deletion::MarkTerminating { grace_seconds: 5 }
        );
        assert_eq!(decide(pods(), &pod, Some(60)), Deletion::Unchanged);
        assert_eq!(decide(pods(), &pod, Some(0)), Deletion::Remove);
    }

    #[test]
    fn namespaces_wait_for_their_finalizer() {
        let namespaces = bulwark_core::resource::find("", "v1", "namespaces").unwrap();
        let namespace =
            json!({"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}});
        assert_eq!(
            decide(namespaces, &namespace, None),
            Deletion::MarkTerminating { grace_seconds: 0 }
        );
    }
}
