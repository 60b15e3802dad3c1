//! PATCH in its four forms: JSON patch, JSON merge patch, strategic merge patch and server-side
//! apply. The first three compute a proposed object from the current one and go through the
//! same update pipeline as PUT; apply also merges field ownership and may create the object.

use std::sync::Arc;

use bulwark_core::ApiError;
use serde_json::Value;

use crate::ApiServer;
use crate::handlers::list::read_current;
use crate::handlers::render_object;
use crate::handlers::write::{self, Target, WriteOptions, guaranteed_update};
use crate::http::{Incoming, Reply};
use crate::managed;
use crate::negotiate::{self, BodyFormat};
use crate::object;
use crate::request::ResourcePath;
use crate::strategy;
use crate::view;

pub async fn patch(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let format = negotiate::body_format(incoming.header(http::header::CONTENT_TYPE))?;
    let options = WriteOptions::from_request(incoming)?;
    let info = path.resource;
    // Field-validation warnings of the last attempt (`fieldValidation=Warn`), sent as headers.
    let mut warnings = Vec::new();
    let patched = match format {
        BodyFormat::ApplyPatch => server_side_apply(server, path, incoming, &options).await?,
        BodyFormat::Json | BodyFormat::Yaml | BodyFormat::Protobuf => {
            return Err(ApiError::unsupported_media_type(
                incoming.header(http::header::CONTENT_TYPE).unwrap_or(""),
            ));
        }
        _ => {
            let patch: Value = serde_json::from_slice(&incoming.body)
                .map_err(|error| ApiError::bad_request(format!("error decoding patch: {error}")))?;
            if format == BodyFormat::JsonPatch {
                check_json_patch_document(&patch)?;
            }
            let target = Target::of(path);
            guaranteed_update(server, path, target, &options, |current| {
                let presented = view::present(info, current);
                let proposed = apply_patch(info, format, &presented, &patch)?;
                check_pinned_version(path, current, &proposed)?;
                warnings = strict_recheck(info, &proposed, &options)?;
                Ok(view::to_storage(info, proposed))
            })
            .await?
        }
    };
    let presented = view::present(info, &patched);
    Ok(Reply::ok(render_object(server, path, incoming, &presented)?).with_warnings(warnings))
}

/// Upstream's cap on the operations of one JSON patch.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// A JSON patch must decode as a list of operation objects before it is applied: upstream
/// answers a document that is not one with 400 and too many operations with 413; only failing
/// operations are 422.
fn check_json_patch_document(patch: &Value) -> Result<(), ApiError> {
    let Some(operations) = patch.as_array() else {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal non-array into Go value of type jsonpatch.Patch",
        ));
    };
    if operations.iter().any(|operation| !operation.is_object()) {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal non-object into Go value of type jsonpatch.Operation",
        ));
    }
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    Ok(())
}

/// A patch that sets `metadata.resourceVersion` makes it a precondition, as upstream.
fn check_pinned_version(
    path: &ResourcePath,
    current: &Value,
    proposed: &Value,
) -> Result<(), ApiError> {
    match object::resource_version(proposed) {
        Some(pinned) if Some(pinned) != object::resource_version(current) => {
            Err(ApiError::stale_object(
                &path.resource.qualified_plural(),
                path.name.as_deref().unwrap_or_default(),
            ))
        }
        _ => Ok(()),
    }
}

/// Runs field validation over the patched object in place, so a patch cannot smuggle in unknown
/// fields; returns the warnings `fieldValidation=Warn` asks for.
fn strict_recheck(
    info: &'static bulwark_core::ResourceInfo,
    proposed: &Value,
    options: &WriteOptions,
) -> Result<Vec<String>, ApiError> {
    let mode =
        bulwark_registry::strict::FieldValidation::from_query(options.field_validation.as_deref())?;
    bulwark_registry::strict::check_value(info.group, info.version, info.kind, proposed, mode)
}

fn apply_patch(
    info: &'static bulwark_core::ResourceInfo,
    format: BodyFormat,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    match format {
        BodyFormat::JsonPatch => {
            bulwark_patch::json_patch::apply(current, patch).map_err(|error| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "the server rejected our request due to an error in our request: {error}"
                    ),
                )
            })
        }
        BodyFormat::MergePatch => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            Ok(bulwark_patch::merge_patch::apply(current, patch))
        }
        BodyFormat::StrategicMergePatch => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            managed::strategic_merge(info, current, patch)
        }
        BodyFormat::Json | BodyFormat::Yaml | BodyFormat::ApplyPatch | BodyFormat::Protobuf => {
            Err(ApiError::unsupported_media_type("application/json"))
        }
    }
}

async fn server_side_apply(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
    options: &WriteOptions,
) -> Result<Value, ApiError> {
    let info = path.resource;
    if incoming.query.get("fieldManager").is_none() {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
        ));
    }
    let force = incoming.query.flag("force");
    let (mut config, _warnings) = strategy::decode_body(
        info,
        &incoming.body,
        true,
        options.field_validation.as_deref(),
    )?;
    write::check_type_meta(info, &mut config, info.kind)?;
    let url_name = path.name.as_deref().unwrap_or_default();
    if object::name(&config).is_some_and(|name| name != url_name) {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({url_name})",
            object::name(&config).unwrap_or_default()
        )));
    }
    match read_current(server, path).await {
        Err(error) if error.code == 404 && path.subresource.is_none() => {
            let now = bulwark_core::clock::format_time(server.clock.now());
            let mut created = managed::apply(
                info,
                None,
                &config,
                &options.field_manager,
                force,
                None,
                &now,
            )?;
            object::metadata_mut(&mut created)
                .insert("name".into(), Value::String(url_name.to_string()));
            let create_options = WriteOptions {
                dry_run: options.dry_run,
                field_manager: options.field_manager.clone(),
                field_validation: Some("Ignore".into()),
                managed_by_apply: true,
            };
            return write::create_object(server, path, created, &create_options).await;
        }
        Err(error) => return Err(error),
        Ok(_) => {}
    }
    let target = Target::of(path);
    let now = bulwark_core::clock::format_time(server.clock.now());
    let apply_options = WriteOptions {
        dry_run: options.dry_run,
        field_manager: options.field_manager.clone(),
        field_validation: options.field_validation.clone(),
        managed_by_apply: true,
    };
    guaranteed_update(server, path, target, &apply_options, |current| {
        let presented = view::present(info, current);
        let merged = managed::apply(
            info,
            Some(&presented),
            &config,
            &options.field_manager,
            force,
            path.subresource.as_deref(),
            &now,
        )?;
        Ok(view::to_storage(info, merged))
    })
    .await
}
