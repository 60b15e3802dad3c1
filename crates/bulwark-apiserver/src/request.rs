//! Turning a request path and query into what it asks for.
//!
//! Paths follow the Kubernetes layout:
//! `/api/v1/namespaces/{ns}/pods/{name}/status`, `/apis/apps/v1/deployments`, and so on.
//! Parsing is pure so it can be unit-tested and fuzzed without a server.

use std::collections::HashMap;

use bulwark_core::{ApiError, ResourceInfo, resource};

/// What a resource request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub resource: &'static ResourceInfo,
    /// The namespace from the path; `None` for cluster-scoped resources and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Every path the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    Health(&'static str),
    /// `/api`
    LegacyRoot,
    /// `/apis`
    GroupsRoot,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`
    GroupVersion {
        group: String,
        version: String,
    },
    OpenApiIndex,
    /// `/openapi/v3/{api/v1 | apis/{group}/{version}}`
    OpenApiDocument(String),
    OpenApiV2,
    Resource(ResourcePath),
}

/// Parses a request path into a route; unknown paths are 404 as upstream answers them.
pub fn route(path: &str) -> Result<Route, ApiError> {
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz"] | ["healthz", ..] => Ok(Route::Health("healthz")),
        ["livez"] | ["livez", ..] => Ok(Route::Health("livez")),
        ["readyz"] | ["readyz", ..] => Ok(Route::Health("readyz")),
        ["api"] => Ok(Route::LegacyRoot),
        ["apis"] => Ok(Route::GroupsRoot),
        ["apis", group] => Ok(Route::Group((*group).to_string())),
        ["openapi", "v3"] => Ok(Route::OpenApiIndex),
        ["openapi", "v3", rest @ ..] if !rest.is_empty() => {
            Ok(Route::OpenApiDocument(rest.join("/")))
        }
        ["openapi", "v2"] => Ok(Route::OpenApiV2),
        ["api", version] => Ok(Route::GroupVersion {
            group: String::new(),
            version: (*version).to_string(),
        }),
        ["apis", group, version] => Ok(Route::GroupVersion {
            group: (*group).to_string(),
            version: (*version).to_string(),
        }),
        ["api", version, rest @ ..] => resource_route("", version, rest),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => Err(not_found()),
    }
}

/// The 404 upstream gives for a path it does not serve.
pub fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Result<Route, ApiError> {
    let (namespace, rest) = match rest {
        // `/api/v1/namespaces/{name}/status` addresses the namespace itself, not a resource in it.
        ["namespaces", _, "status" | "finalize"] => (None, rest),
        ["namespaces", namespace, more @ ..] if !more.is_empty() => {
            (Some((*namespace).to_string()), more)
        }
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_string()), None),
        [plural, name, sub] => (*plural, Some((*name).to_string()), Some((*sub).to_string())),
        _ => return Err(not_found()),
    };
    let resource = resource::find(group, version, plural).ok_or_else(not_found)?;
    if namespace.is_some() && !resource.namespaced() {
        return Err(not_found());
    }
    if let Some(sub) = &subresource
        && resource.subresource(sub).is_none()
    {
        return Err(not_found());
    }
    for part in namespace.iter().chain(name.iter()) {
        validate_path_segment(part)?;
    }
    Ok(Route::Resource(ResourcePath {
        resource,
        namespace,
        name,
        subresource,
    }))
}

/// Upstream rejects names that cannot be path segments before looking anything up.
fn validate_path_segment(segment: &str) -> Result<(), ApiError> {
    if segment == "." || segment == ".." {
        return Err(ApiError::bad_request(format!(
            "invalid path segment {segment:?}"
        )));
    }
    Ok(())
}

/// Query parameters, decoded once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let params = raw
            .map(|raw| {
                url::form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Self { params }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A boolean parameter: present and not `false`/`0` counts as true, as upstream's decoder does.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(value) if value != "false" && value != "0")
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value {value:?} for query parameter {name:?}: not an integer"
                ))
            }),
        }
    }

    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource_path(path: &str) -> ResourcePath {
        match route(path).unwrap() {
            Route::Resource(resource) => resource,
            other => panic!("expected a resource route, got {other:?}"),
        }
    }

    #[test]
    fn namespaced_item_with_subresource() {
        let parsed = resource_path("/api/v1/namespaces/default/pods/web-1/status");
        assert_eq!(parsed.resource.plural, "pods");
        assert_eq!(parsed.namespace.as_deref(), Some("default"));
        assert_eq!(parsed.name.as_deref(), Some("web-1"));
        assert_eq!(parsed.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn the_namespaces_resource_itself() {
        let parsed = resource_path("/api/v1/namespaces/kube-system");
        assert_eq!(parsed.resource.plural, "namespaces");
        assert_eq!(parsed.name.as_deref(), Some("kube-system"));
        assert_eq!(parsed.namespace, None);
        let status = resource_path("/api/v1/namespaces/kube-system/status");
        assert_eq!(status.resource.plural, "namespaces");
        assert_eq!(status.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn all_namespaces_list_and_group_paths() {
        let parsed = resource_path("/apis/apps/v1/deployments");
        assert_eq!(parsed.resource.kind, "Deployment");
        assert_eq!(parsed.namespace, None);
        assert_eq!(
            route("/apis/apps/v1").unwrap(),
            Route::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            }
        );
    }

    #[test]
    fn unknown_resources_and_subresources_are_not_found() {
        assert_eq!(
            route("/api/v1/namespaces/default/widgets")
                .unwrap_err()
                .code,
            404
        );
        assert_eq!(
            route("/api/v1/namespaces/default/pods/p/frobnicate")
                .unwrap_err()
                .code,
            404
        );
        assert_eq!(
            route("/api/v1/namespaces/default/nodes/n1")
                .unwrap_err()
                .code,
            404
        );
    }

    #[test]
    fn query_flags_and_integers() {
        let query = Query::parse(Some(
            "watch=true&limit=500&labelSelector=app%3Dweb&dryRun=All",
        ));
        assert!(query.flag("watch"));
        assert_eq!(query.integer("limit").unwrap(), Some(500));
        assert_eq!(query.get("labelSelector"), Some("app=web"));
        assert!(query.dry_run().unwrap());
        assert_eq!(
            Query::parse(Some("limit=x"))
                .integer("limit")
                .unwrap_err()
                .code,
            400
        );
    }
}
