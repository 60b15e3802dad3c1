//! Request handlers, one module per verb family.

pub mod bootstrap;
pub mod commit;
pub mod delete;
pub mod list;
pub mod patch;
pub mod pod_log;
pub mod print;
pub mod priority;
pub mod subresource;
pub mod watch;
pub mod write;

use std::sync::Arc;

use bulwark_core::ApiError;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::ApiServer;
use crate::discovery;
use crate::http::{Incoming, Reply};
use crate::request::{ResourcePath, Route, not_found};

pub async fn dispatch(
    server: &Arc<ApiServer>,
    route: Route,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    match route {
        Route::Resource(path) => resource(server, path, incoming).await,
        _ if incoming.method != Method::GET && incoming.method != Method::HEAD => {
            Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({})",
                incoming.method
            )))
        }
        Route::Version => Ok(Reply::ok(discovery::version())),
        Route::Health(_) => Ok(Reply::Text {
            status: StatusCode::OK,
            body: "ok".into(),
        }),
        Route::LegacyRoot => Ok(Reply::ok(discovery::legacy_versions(
            &server.advertise_address,
        ))),
        Route::GroupsRoot => Ok(Reply::ok(discovery::group_list())),
        Route::Group(group) => discovery::group(&group)
            .map(Reply::ok)
            .ok_or_else(not_found),
        Route::GroupVersion { group, version } => discovery::resource_list(&group, &version)
            .map(Reply::ok)
            .ok_or_else(not_found),
        Route::OpenApiIndex => Ok(Reply::ok(bulwark_registry::openapi::index().clone())),
        Route::OpenApiDocument(path) => bulwark_registry::openapi::document_bytes(&path)
            .map(|body| Reply::RawJson {
                status: StatusCode::OK,
                body: axum::body::Bytes::from_static(body),
            })
            .ok_or_else(not_found),
        Route::OpenApiV2 => Err(not_found()),
    }
}

async fn resource(
    server: &Arc<ApiServer>,
    path: ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let method = &incoming.method;
    let subresource = path.subresource.as_deref();
    match (method.as_str(), path.name.is_some(), subresource) {
        ("GET", false, None) if incoming.query.flag("watch") => {
            watch::watch(server, &path, incoming).await
        }
        ("GET", false, None) => list::list(server, &path, incoming).await,
        ("GET", true, None | Some("status")) => list::get(server, &path, incoming).await,
        ("GET", true, Some("scale")) => subresource::get_scale(server, &path).await,
        ("GET", true, Some("log")) => pod_log::log(server, &path, incoming).await,
        ("POST", false, None) => write::create(server, &path, incoming).await,
        ("POST", true, Some("binding")) => subresource::bind(server, &path, incoming).await,
        ("POST", true, Some("eviction")) => subresource::evict(server, &path, incoming).await,
        ("PUT", true, None | Some("status")) => write::replace(server, &path, incoming).await,
        ("PUT", true, Some("finalize")) => write::replace(server, &path, incoming).await,
        ("PUT", true, Some("scale")) => subresource::replace_scale(server, &path, incoming).await,
        ("PATCH", true, None | Some("status")) => patch::patch(server, &path, incoming).await,
        ("PATCH", true, Some("scale")) => subresource::patch_scale(server, &path, incoming).await,
        ("DELETE", true, None) => delete::delete(server, &path, incoming).await,
        ("DELETE", false, None) => delete::delete_collection(server, &path, incoming).await,
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            incoming.path
        ))),
    }
}

/// The object a reply carries, reduced to what the client's `Accept` asked for.
pub fn render_object(
    server: &ApiServer,
    path: &ResourcePath,
    incoming: &Incoming,
    object: &Value,
) -> Result<Value, ApiError> {
    let representation = crate::negotiate::representation(incoming.header(http::header::ACCEPT))?;
    Ok(print::one(
        server,
        path.resource,
        representation,
        incoming,
        object,
    ))
}
