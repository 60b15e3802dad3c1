//! Subresources with their own shapes: `scale` (autoscaling/v1 Scale), `binding` and
//! `eviction` (`log` is [`super::pod_log`]).

use std::sync::Arc;

use bulwark_core::clock::format_time;
use bulwark_core::{ApiError, ResourceInfo, StatusCause};
use serde_json::{Value, json};

use crate::ApiServer;
use crate::handlers::commit::{Commit, MAX_ATTEMPTS, compare_and_swap, too_many_conflicts};
use crate::handlers::delete::{DeleteOptions, delete_object};
use crate::handlers::list::read_current;
use crate::handlers::write::{Target, WriteOptions, guaranteed_update};
use crate::http::{Incoming, Reply};
use crate::negotiate::{self, BodyFormat};
use crate::object;
use crate::request::ResourcePath;

/// The autoscaling/v1 Scale view of a workload.
pub fn scale_of(parent: &Value) -> Value {
    let meta = object::metadata(parent);
    let pick = |field: &str| {
        meta.and_then(|m| m.get(field))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let selector = parent
        .pointer("/spec/selector")
        .map(|selector| {
            bulwark_core::selector::LabelSelector::from_json(Some(selector))
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": parent.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": parent.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

fn main_path(path: &ResourcePath) -> ResourcePath {
    ResourcePath {
        subresource: None,
        ..path.clone()
    }
}

pub async fn get_scale(server: &Arc<ApiServer>, path: &ResourcePath) -> Result<Reply, ApiError> {
    let (parent, _) = read_current(server, &main_path(path)).await?;
    Ok(Reply::ok(scale_of(&parent)))
}

/// Reads the replica count a Scale asks for, validated as upstream.
fn desired_replicas(scale: &Value, name: &str) -> Result<i64, ApiError> {
    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
    match replicas.as_i64() {
        Some(replicas) if (0..=i64::from(i32::MAX)).contains(&replicas) => Ok(replicas),
        _ => Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![StatusCause::new(
                "FieldValueInvalid",
                "spec.replicas",
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        )),
    }
}

async fn write_scale(
    server: &ApiServer,
    path: &ResourcePath,
    incoming: &Incoming,
    mut propose: impl FnMut(&Value) -> Result<Value, ApiError>,
) -> Result<Reply, ApiError> {
    let options = WriteOptions::from_request(incoming)?;
    let name = path.name.clone().unwrap_or_default();
    let parent_path = main_path(path);
    let updated = guaranteed_update(server, &parent_path, Target::Main, &options, |current| {
        let desired = propose(&scale_of(current))?;
        if let Some(pinned) = object::resource_version(&desired)
            && Some(pinned) != object::resource_version(current)
        {
            return Err(ApiError::stale_object(
                &path.resource.qualified_plural(),
                &name,
            ));
        }
        let replicas = desired_replicas(&desired, &name)?;
        let mut next = current.clone();
        next["spec"]["replicas"] = json!(replicas);
        Ok(next)
    })
    .await?;
    Ok(Reply::ok(scale_of(&updated)))
}

pub async fn replace_scale(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let body: Value = serde_json::from_slice(&incoming.body)
        .map_err(|error| ApiError::bad_request(format!("error decoding Scale: {error}")))?;
    write_scale(server, path, incoming, |_| Ok(body.clone())).await
}

pub async fn patch_scale(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let format = negotiate::body_format(incoming.header(http::header::CONTENT_TYPE))?;
    let patch: Value = serde_json::from_slice(&incoming.body)
        .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))?;
    write_scale(server, path, incoming, |scale| match format {
        BodyFormat::JsonPatch => bulwark_patch::json_patch::apply(scale, &patch)
            .map_err(|error| ApiError::new(422, "Invalid", error.to_string())),
        // A Scale has no lists, so strategic merge is merge patch here.
        BodyFormat::MergePatch | BodyFormat::StrategicMergePatch | BodyFormat::ApplyPatch => {
            Ok(bulwark_patch::merge_patch::apply(scale, &patch))
        }
        BodyFormat::Json | BodyFormat::Yaml | BodyFormat::Protobuf => {
            Err(ApiError::unsupported_media_type("application/json"))
        }
    })
    .await
}

/// `pods/{name}/binding`: assigns a pending pod to a node, exactly once.
pub async fn bind(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let binding: Value = serde_json::from_slice(&incoming.body)
        .map_err(|error| ApiError::bad_request(format!("error decoding Binding: {error}")))?;
    let name = path.name.clone().unwrap_or_default();
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            &name,
            vec![StatusCause::new(
                "FieldValueRequired",
                "target.name",
                "Required value",
            )],
        ));
    }
    if let Some(body_name) = binding.pointer("/metadata/name").and_then(Value::as_str)
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let options = WriteOptions::from_request(incoming)?;
    let now = format_time(server.clock.now());
    let pod_path = main_path(path);
    raw_update(server, &pod_path, options.dry_run, |pod| {
        if object::is_terminating(pod) {
            return Err(ApiError::conflict("pods", &name, "pod is being deleted, cannot be assigned to a host"));
        }
        if let Some(assigned) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            return Err(ApiError::conflict("pods/binding", &name, &format!("pod {name} is already assigned to node \"{assigned}\"")));
        }
        pod["spec"]["nodeName"] = json!(node);
        set_condition(pod, json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        Ok(())
    })
    .await?;
    Ok(Reply::created(bulwark_core::error::success_status(None)))
}

/// Sets a pod condition by type, replacing one of the same type.
fn set_condition(pod: &mut Value, condition: Value) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let status = &mut pod["status"];
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let conditions = status["conditions"]
        .as_array_mut()
        .expect("made an array above");
    conditions.retain(|existing| existing.get("type") != condition.get("type"));
    conditions.push(condition);
}

/// A compare-and-swap loop that bypasses strategies: for server-internal transitions such as
/// binding, which change fields clients may not touch.
async fn raw_update(
    server: &ApiServer,
    path: &ResourcePath,
    dry_run: bool,
    mut mutate: impl FnMut(&mut Value) -> Result<(), ApiError>,
) -> Result<Value, ApiError> {
    let info: &ResourceInfo = path.resource;
    let name = path.name.as_deref().unwrap_or_default();
    let key = info.key(path.namespace.as_deref(), name);
    for _ in 0..MAX_ATTEMPTS {
        let (mut object, revision) = read_current(server, path).await?;
        mutate(&mut object)?;
        if dry_run {
            return Ok(object);
        }
        let commit = Commit::Update(object);
        if let Some(written) = compare_and_swap(server, info, &key, name, revision, commit).await? {
            return Ok(written);
        }
    }
    Err(too_many_conflicts(info, name))
}

/// `pods/{name}/eviction`: a delete that honours the Eviction's DeleteOptions.
///
/// Disruption budgets are consulted by the disruption controller's eviction rules (issue 6);
/// until then an eviction deletes like a plain delete.
pub async fn evict(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let eviction: Value = serde_json::from_slice(&incoming.body)
        .map_err(|error| ApiError::bad_request(format!("error decoding Eviction: {error}")))?;
    let name = path.name.clone().unwrap_or_default();
    if let Some(body_name) = eviction.pointer("/metadata/name").and_then(Value::as_str)
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {body_name}"
        )));
    }
    let options_body = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    let options: DeleteOptions = serde_json::from_value(options_body)
        .map_err(|error| ApiError::bad_request(format!("invalid deleteOptions: {error}")))?;
    delete_object(server, &main_path(path), &options).await?;
    Ok(Reply::created(bulwark_core::error::success_status(None)))
}
