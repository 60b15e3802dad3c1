//! get and list, served from the watch cache (lists) and the store (gets).

use std::sync::Arc;
use std::time::Duration;

use bulwark_core::ApiError;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::filter::Filter;
use crate::handlers::{print, render_object};
use crate::http::{Incoming, Reply};
use crate::negotiate;
use crate::object;
use crate::pagination::{ContinueToken, expired_token};
use crate::request::ResourcePath;

/// Reads one object from the store: the freshest state, like an etcd quorum read.
pub async fn read_current(
    server: &ApiServer,
    path: &ResourcePath,
) -> Result<(Value, i64), ApiError> {
    let name = path.name.as_deref().unwrap_or_default();
    let key = path.resource.key(path.namespace.as_deref(), name);
    let kv = server
        .store
        .get(&key)
        .await
        .map_err(object::storage_error)?
        .ok_or_else(|| ApiError::not_found(&path.resource.qualified_plural(), name))?;
    let mut value: Value = serde_json::from_slice(&kv.value).map_err(|error| {
        ApiError::internal(format!("stored object {key} is undecodable: {error}"))
    })?;
    object::set_resource_version(&mut value, kv.mod_revision);
    Ok((value, kv.mod_revision))
}

pub async fn get(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let (object, _) = read_current(server, path).await?;
    let object = crate::view::present(path.resource, &object);
    Ok(Reply::ok(render_object(server, path, incoming, &object)?))
}

/// Which snapshot a list reads, from `resourceVersion` and `resourceVersionMatch`.
async fn snapshot_for(
    server: &ApiServer,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<crate::cache::Snapshot, ApiError> {
    let requested = incoming
        .query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty());
    let exact = incoming.query.get("resourceVersionMatch") == Some("Exact");
    match requested {
        None => {
            server.cache.sync().await?;
        }
        Some("0") => {}
        Some(raw) => {
            let revision = parse_resource_version(raw)?;
            server
                .cache
                .wait_for(revision, Duration::from_secs(3))
                .await?;
            if exact && revision != server.cache.snapshot(path.resource).revision {
                return Err(crate::cache::expired(revision, server.cache.revision()));
            }
        }
    }
    Ok(server.cache.snapshot(path.resource))
}

pub fn parse_resource_version(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|rv| *rv >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: {raw:?}: must be a non-negative integer"
            ))
        })
}

pub async fn list(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let representation = negotiate::representation(incoming.header(http::header::ACCEPT))?;
    let filter = Filter::from_query(path, &incoming.query)?;
    let limit = incoming
        .query
        .integer("limit")?
        .filter(|limit| *limit > 0)
        .map(|limit| limit as usize);
    let prefix = path.resource.prefix(path.namespace.as_deref());
    let (objects, revision, after_key) =
        match incoming.query.get("continue").filter(|c| !c.is_empty()) {
            Some(raw) => {
                let token = ContinueToken::decode(raw)?;
                if token.prefix != prefix {
                    return Err(ApiError::bad_request(
                        "continue key is not valid: it belongs to another list",
                    ));
                }
                let objects = server
                    .pages
                    .find(path.resource.storage_prefix, token.revision)
                    .ok_or_else(expired_token)?;
                (objects, token.revision, Some(token.after_key))
            }
            None => {
                let snapshot = snapshot_for(server, path, incoming).await?;
                (snapshot.objects, snapshot.revision, None)
            }
        };
    let range = match &after_key {
        Some(after) => objects.range::<_, String>((
            std::ops::Bound::Excluded(after.clone()),
            std::ops::Bound::Unbounded,
        )),
        None => objects.range::<_, String>(prefix.clone()..),
    };
    let mut page: Vec<Arc<crate::entry::Entry>> = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for (key, object) in range {
        if !key.starts_with(&prefix) {
            break;
        }
        if !filter.matches(&object.index) {
            continue;
        }
        if limit.is_some_and(|limit| page.len() >= limit) {
            more = true;
            break;
        }
        page.push(Arc::clone(object));
        last_key = Some(key.clone());
    }
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if more && let Some(last_key) = last_key {
        server
            .pages
            .keep(path.resource.storage_prefix, revision, &objects);
        let token = ContinueToken {
            revision,
            after_key: last_key,
            prefix: prefix.clone(),
        };
        metadata["continue"] = json!(token.encode());
    }
    let body = print::entries_json(
        server,
        path.resource,
        representation,
        incoming,
        &page,
        metadata,
    );
    Ok(Reply::RawJson {
        status: http::StatusCode::OK,
        body: body.into(),
    })
}
