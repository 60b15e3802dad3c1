//! The typed round trip: a JSON body becomes the k8s-openapi struct of its kind and back, which
//! drops fields the kind does not have and puts values in their canonical form (the shape
//! upstream's apiserver stores after decoding into its Go types).
//!
//! One generic function ([`crate::schema::KindEntry`]'s `round_trip`) serves every kind; the
//! dispatch table is [`crate::schema::KINDS`].

use bulwark_core::ApiError;
use bulwark_core::resource::ResourceInfo;
use serde_json::Value;

use crate::schema::kind_entry;

/// Normalizes an object of a served resource's kind.
pub fn normalize(resource: &ResourceInfo, value: Value) -> Result<Value, ApiError> {
    normalize_kind(resource.group, resource.version, resource.kind, value)
}

/// Normalizes an object of any kind with a schema (including subresource kinds such as
/// `autoscaling/v1 Scale` and `policy/v1 Eviction`).
///
/// `apiVersion` and `kind` may be absent (the URL names them) and are filled in; when present
/// they must match, as the typed structs insist on it.
pub fn normalize_kind(
    group: &str,
    version: &str,
    kind: &str,
    value: Value,
) -> Result<Value, ApiError> {
    let entry = kind_entry(group, version, kind).ok_or_else(|| {
        ApiError::internal(format!(
            "no typed form for {kind} in group {group:?} version {version}"
        ))
    })?;
    let Value::Object(mut object) = value else {
        return Err(cannot_handle(
            version,
            kind,
            &format!("expected an object, got {}", json_type(&value)),
        ));
    };
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    // Meta kinds (DeleteOptions) are served under every group-version; the typed struct does not
    // check their apiVersion, so only fill it when absent.
    object
        .entry("apiVersion")
        .or_insert_with(|| Value::String(api_version));
    object
        .entry("kind")
        .or_insert_with(|| Value::String(kind.to_string()));
    (entry.round_trip)(Value::Object(object))
        .map_err(|error| cannot_handle(version, kind, &error.to_string()))
}

/// Upstream's wording for a body that does not decode into the kind.
fn cannot_handle(version: &str, kind: &str, problem: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {problem}"
    ))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_core::resource::{RESOURCES, find};
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        find("", "v1", "pods").unwrap()
    }

    #[test]
    fn unknown_fields_are_dropped() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "nginx", "imagee": "x"}]},
        });
        let normalized = normalize(pods(), pod).unwrap();
        assert_eq!(normalized["metadata"], json!({"name": "web"}));
        assert_eq!(
            normalized["spec"]["containers"][0],
            json!({"name": "c", "image": "nginx"})
        );
    }

    #[test]
    fn api_version_and_kind_are_filled_in() {
        let deployments = find("apps", "v1", "deployments").unwrap();
        let normalized = normalize(deployments, json!({"metadata": {"name": "d"}})).unwrap();
        assert_eq!(normalized["apiVersion"], "apps/v1");
        assert_eq!(normalized["kind"], "Deployment");
    }

    #[test]
    fn a_type_error_is_a_bad_request_naming_the_kind() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "ports": [{"containerPort": "eighty"}]}]}});
        let error = normalize(pods(), pod).unwrap_err();
        assert_eq!(error.code, 400);
        assert!(
            error
                .message
                .starts_with("Pod in version \"v1\" cannot be handled as a Pod: "),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_mismatched_kind_is_a_bad_request() {
        let error = normalize(pods(), json!({"apiVersion": "v1", "kind": "Service"})).unwrap_err();
        assert_eq!(error.code, 400);
    }

    #[test]
    fn a_non_object_is_a_bad_request() {
        assert_eq!(normalize(pods(), json!([1, 2])).unwrap_err().code, 400);
    }

    #[test]
    fn subresource_kinds_normalize() {
        let scale = json!({"metadata": {"name": "d"}, "spec": {"replicas": 3}});
        let normalized = normalize_kind("autoscaling", "v1", "Scale", scale).unwrap();
        assert_eq!(normalized["spec"]["replicas"], 3);
        let eviction = normalize_kind(
            "policy",
            "v1",
            "Eviction",
            json!({"metadata": {"name": "p"}}),
        )
        .unwrap();
        assert_eq!(eviction["apiVersion"], "policy/v1");
    }

    #[test]
    fn every_served_resource_normalizes_a_minimal_object() {
        for resource in RESOURCES {
            let normalized = normalize(resource, json!({"metadata": {"name": "x"}}));
            assert!(normalized.is_ok(), "{}: {normalized:?}", resource.kind);
        }
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z0-9:.-]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            let keys = prop_oneof![
                Just("metadata".to_string()),
                Just("spec".to_string()),
                Just("containers".to_string()),
                Just("name".to_string()),
                Just("ports".to_string()),
                Just("replicas".to_string()),
                Just("template".to_string()),
                Just("selector".to_string()),
                Just("resources".to_string()),
                Just("limits".to_string()),
                Just("creationTimestamp".to_string()),
                "[a-z]{1,5}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_json_never_panics(value in arbitrary_json(), index in 0..RESOURCES.len()) {
            let _ = normalize(&RESOURCES[index], value.clone());
            let _ = normalize(&RESOURCES[index], json!({"metadata": value.clone(), "spec": value}));
        }
    }

    #[test]
    fn quantities_and_int_or_strings_survive() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{
            "name": "c",
            "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
            "readinessProbe": {"httpGet": {"port": "http", "path": "/"}},
        }]}});
        let normalized = normalize(pods(), pod).unwrap();
        let container = &normalized["spec"]["containers"][0];
        assert_eq!(container["resources"]["limits"]["cpu"], "500m");
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");
    }
}
