//! Whole-object tests: the seed document's manifests (and one of every other kind) validate
//! clean after defaulting; each kind's rules reject what upstream rejects; and property tests
//! show that no JSON input makes validation or defaulting panic.

use bulwark_core::resource::{RESOURCES, ResourceInfo, find_kind};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{validate_create, validate_update};
use crate::defaults::apply_defaults;

pub(crate) fn resource(group: &str, kind: &str) -> &'static ResourceInfo {
    let version = "v1";
    find_kind(group, version, kind).unwrap_or_else(|| panic!("{group}/{kind} is served"))
}

/// The manifests of the seed document, as kubectl would send them (namespace filled in).
pub(crate) fn seed_manifests() -> Vec<(&'static ResourceInfo, Value)> {
    vec![
        (
            resource("policy", "PodDisruptionBudget"),
            json!({
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "payment-pdb", "namespace": "default"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "payment-service"}}}
            }),
        ),
        (
            resource("", "Pod"),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "payment-pod", "namespace": "default"},
                "spec": {"containers": [{"name": "payment", "image": "payment:v2.1", "resources": {
                    "requests": {"memory": "256Mi", "cpu": "250m"}, "limits": {"memory": "512Mi", "cpu": "500m"}}}]}
            }),
        ),
        (
            resource("scheduling.k8s.io", "PriorityClass"),
            json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "critical-service"},
                "value": 1000000, "globalDefault": false,
                "description": "For production-critical services that must not be evicted"
            }),
        ),
        (
            resource("apps", "Deployment"),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "payment-service", "namespace": "default"},
                "spec": {
                    "replicas": 6,
                    "selector": {"matchLabels": {"app": "payment"}},
                    "template": {
                        "metadata": {"labels": {"app": "payment"}},
                        "spec": {
                            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                                "weight": 100,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["payment"]}]},
                                    "topologyKey": "kubernetes.io/hostname"
                                }
                            }]}},
                            "topologySpreadConstraints": [{
                                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "payment"}}
                            }],
                            "containers": [{"name": "payment", "image": "payment:v2.1",
                                "resources": {"requests": {"memory": "256Mi", "cpu": "250m"}}}]
                        }
                    }
                }
            }),
        ),
        (
            resource("", "Pod"),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "recommendation-service", "namespace": "default"},
                "spec": {"containers": [{
                    "name": "recommender", "image": "recommender:v3.2",
                    "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3},
                    "livenessProbe": {"httpGet": {"path": "/healthz/live", "port": 8080}, "initialDelaySeconds": 15, "periodSeconds": 20, "failureThreshold": 5},
                    "startupProbe": {"httpGet": {"path": "/healthz/startup", "port": 8080}, "failureThreshold": 30, "periodSeconds": 10}
                }]}
            }),
        ),
        (
            resource("", "ResourceQuota"),
            json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "payments-quota", "namespace": "payments"},
                "spec": {"hard": {"requests.cpu": "20", "requests.memory": "40Gi", "limits.cpu": "40",
                    "limits.memory": "80Gi", "pods": "100", "services": "20"}}
            }),
        ),
        (
            resource("", "LimitRange"),
            json!({
                "apiVersion": "v1", "kind": "LimitRange",
                "metadata": {"name": "payments-limits", "namespace": "payments"},
                "spec": {"limits": [{
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "250m", "memory": "256Mi"},
                    "max": {"cpu": "4", "memory": "8Gi"},
                    "type": "Container"
                }]}
            }),
        ),
        (
            resource("", "Pod"),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "resilient-app", "namespace": "default"},
                "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": "my-app:v1.0", "resources": {
                    "requests": {"memory": "128Mi", "cpu": "100m"}, "limits": {"memory": "256Mi", "cpu": "200m"}}}]}
            }),
        ),
    ]
}

/// One plausible manifest of every other kind.
pub(crate) fn other_manifests() -> Vec<(&'static ResourceInfo, Value)> {
    let container =
        json!({"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "true"]});
    vec![
        (
            resource("", "Namespace"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}}),
        ),
        (
            resource("", "Service"),
            json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "payment", "namespace": "default"},
                "spec": {"selector": {"app": "payment"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
            }),
        ),
        (
            resource("", "Service"),
            json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "payment-headless", "namespace": "default"},
                "spec": {"clusterIP": "None", "selector": {"app": "payment"}}
            }),
        ),
        (
            resource("", "ConfigMap"),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
                "data": {"app.properties": "retries=3"}
            }),
        ),
        (
            resource("", "Secret"),
            json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
                "data": {"password": "c2VjcmV0"}
            }),
        ),
        (
            resource("", "ServiceAccount"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "default"}}),
        ),
        (
            resource("", "Node"),
            json!({
                "apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1"}},
                "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]},
                "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
            }),
        ),
        (
            resource("coordination.k8s.io", "Lease"),
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "worker-1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 40}
            }),
        ),
        (
            resource("apps", "ReplicaSet"),
            json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d8f", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container.clone()]}}}
            }),
        ),
        (
            resource("apps", "DaemonSet"),
            json!({
                "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [container.clone()]}}}
            }),
        ),
        (
            resource("batch", "Job"),
            json!({
                "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": "5e1f1a7c-0000-4000-8000-000000000001"},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container.clone()]}}}
            }),
        ),
        (
            resource("batch", "CronJob"),
            json!({
                "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "default"},
                "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container]}}}}}
            }),
        ),
        (
            resource("", "Endpoints"),
            json!({
                "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "payment", "namespace": "default"},
                "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 8080}]}]
            }),
        ),
        (
            resource("discovery.k8s.io", "EndpointSlice"),
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "payment-abc", "namespace": "default"},
                "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.5"]}], "ports": [{"port": 8080}]
            }),
        ),
        (
            resource("", "Event"),
            json!({
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": "payment-pod.17a", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "payment-pod", "namespace": "default"}, "reason": "Started"
            }),
        ),
    ]
}

fn defaulted(resource: &ResourceInfo, manifest: &Value) -> Value {
    let mut object = manifest.clone();
    apply_defaults(resource, &mut object);
    object
}

fn causes_of(resource: &ResourceInfo, object: &Value) -> Vec<String> {
    validate_create(resource, object)
        .into_iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

#[test]
fn seed_manifests_validate_clean_after_defaulting() {
    for (resource, manifest) in seed_manifests() {
        let object = defaulted(resource, &manifest);
        assert_eq!(
            causes_of(resource, &object),
            Vec::<String>::new(),
            "{}",
            manifest["metadata"]["name"]
        );
    }
}

#[test]
fn every_other_kind_validates_clean_after_defaulting() {
    for (resource, manifest) in other_manifests() {
        let object = defaulted(resource, &manifest);
        assert_eq!(
            causes_of(resource, &object),
            Vec::<String>::new(),
            "{}",
            manifest["metadata"]["name"]
        );
    }
}

#[test]
fn defaulted_objects_update_to_themselves_cleanly() {
    for (resource, manifest) in seed_manifests().into_iter().chain(other_manifests()) {
        let object = defaulted(resource, &manifest);
        let causes = validate_update(resource, &object, &object);
        assert!(
            causes.is_empty(),
            "{}: {causes:?}",
            manifest["metadata"]["name"]
        );
    }
}

#[test]
fn pods_without_containers_are_rejected_like_upstream() {
    let pods = resource("", "Pod");
    let object = defaulted(
        pods,
        &json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {}}),
    );
    assert_eq!(
        causes_of(pods, &object),
        vec!["spec.containers: Required value"]
    );
}

#[test]
fn bad_names_use_the_kind_s_format() {
    let services = resource("", "Service");
    let object = defaulted(
        services,
        &json!({"metadata": {"name": "1web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}}),
    );
    let causes = causes_of(services, &object);
    assert_eq!(causes.len(), 1);
    assert!(
        causes[0].starts_with(
            "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of"
        )
    );
    let namespaces = resource("", "Namespace");
    let object = defaulted(namespaces, &json!({"metadata": {"name": "team.payments"}}));
    assert_eq!(
        causes_of(namespaces, &object),
        vec!["metadata.name: Invalid value: \"team.payments\": must not contain dots"]
    );
    let pods = resource("", "Pod");
    let object = defaulted(
        pods,
        &json!({"metadata": {"name": "web.v2", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    );
    assert!(causes_of(pods, &object).is_empty());
}

#[test]
fn jobs_without_restart_policy_are_rejected_after_defaulting() {
    let jobs = resource("batch", "Job");
    let manifest = json!({
        "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}
    });
    let causes = causes_of(jobs, &defaulted(jobs, &manifest));
    assert_eq!(
        causes,
        vec![
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        ]
    );
}

#[test]
fn deployment_selector_changes_are_refused() {
    let deployments = resource("apps", "Deployment");
    let (_, manifest) = seed_manifests()
        .into_iter()
        .find(|(r, _)| r.kind == "Deployment")
        .expect("seed has a deployment");
    let old = defaulted(deployments, &manifest);
    let mut new = old.clone();
    new["spec"]["selector"]["matchLabels"]["app"] = json!("payment-v2");
    new["spec"]["template"]["metadata"]["labels"]["app"] = json!("payment-v2");
    let causes = validate_update(deployments, &new, &old);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.selector");
    assert!(causes[0].message.ends_with("field is immutable"));
}

#[test]
fn pod_updates_beyond_images_are_refused() {
    let pods = resource("", "Pod");
    let (_, manifest) = seed_manifests()
        .into_iter()
        .find(|(_, m)| m["metadata"]["name"] == "payment-pod")
        .expect("seed pod");
    let old = defaulted(pods, &manifest);
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("payment:v2.2");
    assert!(validate_update(pods, &new, &old).is_empty());
    new["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("1");
    let causes = validate_update(pods, &new, &old);
    assert_eq!(causes.len(), 1);
    assert!(
        causes[0]
            .message
            .starts_with("Forbidden: pod updates may not change fields other than")
    );
}

#[test]
fn namespace_and_identity_are_immutable() {
    let config_maps = resource("", "ConfigMap");
    let old = json!({"metadata": {"name": "a", "namespace": "default", "uid": "1"}, "data": {}});
    let mut new = old.clone();
    new["metadata"]["name"] = json!("b");
    let causes = validate_update(config_maps, &new, &old);
    assert_eq!(causes[0].field, "metadata.name");
    assert_eq!(
        causes[0].message,
        "Invalid value: \"b\": field is immutable"
    );
}

#[test]
fn requests_above_limits_name_the_limit() {
    let pods = resource("", "Pod");
    let manifest = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "i",
        "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "500m"}}}]}});
    assert_eq!(
        causes_of(pods, &defaulted(pods, &manifest)),
        vec![
            "spec.containers[0].resources.requests[cpu]: Invalid value: 1: must be less than or equal to cpu limit of 500m"
        ]
    );
}

/// Field names that steer arbitrary JSON into the validators' and defaulters' deep paths.
const VOCABULARY: &[&str] = &[
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "finalizers",
    "ownerReferences",
    "spec",
    "status",
    "template",
    "containers",
    "initContainers",
    "image",
    "ports",
    "containerPort",
    "protocol",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "livenessProbe",
    "readinessProbe",
    "httpGet",
    "port",
    "path",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "replicas",
    "strategy",
    "type",
    "rollingUpdate",
    "maxUnavailable",
    "maxSurge",
    "minAvailable",
    "jobTemplate",
    "schedule",
    "restartPolicy",
    "volumes",
    "volumeMounts",
    "emptyDir",
    "secret",
    "projected",
    "sources",
    "tolerations",
    "affinity",
    "hard",
    "data",
    "immutable",
    "clusterIP",
    "targetPort",
    "sessionAffinity",
    "value",
    "hostNetwork",
    "env",
    "valueFrom",
    "fieldRef",
    "updateStrategy",
    "suspend",
    "manualSelector",
    "completionMode",
    "topologySpreadConstraints",
    "maxSkew",
    "default",
    "defaultRequest",
    "max",
    "min",
    "subsets",
    "addresses",
    "taints",
    "effect",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-3i64..70000).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9./:%@_-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "Always",
            "Never",
            "None",
            "RollingUpdate",
            "TCP",
            "25%",
            "500m",
            "1Gi",
            "In",
            "Exists",
            "None"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(VOCABULARY.to_vec()).prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn any_resource() -> impl Strategy<Value = &'static ResourceInfo> {
    prop::sample::select(RESOURCES.iter().collect::<Vec<_>>())
}

/// Removes the object keys whose visiting order lands on a `true` in `mask`, and replaces the
/// leaves landing on a `Some` in `replacements`: a realistic manifest with holes and odd values.
fn damaged(
    value: &Value,
    mask: &[bool],
    replacements: &[Option<Value>],
    counter: &mut usize,
) -> Value {
    *counter += 1;
    let position = *counter;
    let is_leaf = !value.is_object() && !value.is_array();
    if is_leaf
        && position.is_multiple_of(7)
        && let Some(Some(replacement)) = replacements.get(position % replacements.len().max(1))
    {
        return replacement.clone();
    }
    match value {
        Value::Object(map) => {
            let mut kept = serde_json::Map::new();
            for (key, child) in map {
                *counter += 1;
                if !mask
                    .get(*counter % mask.len().max(1))
                    .copied()
                    .unwrap_or(false)
                {
                    kept.insert(key.clone(), damaged(child, mask, replacements, counter));
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| damaged(item, mask, replacements, counter))
                .collect(),
        ),
        leaf => leaf.clone(),
    }
}

fn sample_manifest() -> impl Strategy<Value = (&'static ResourceInfo, Value)> {
    let samples = seed_manifests()
        .into_iter()
        .chain(other_manifests())
        .collect::<Vec<_>>();
    prop::sample::select(samples)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn damaged_manifests_default_idempotently_and_validate_without_panics(
        (resource, manifest) in sample_manifest(),
        mask in prop::collection::vec(prop::bool::weighted(0.15), 1..64),
        replacements in prop::collection::vec(prop::option::of(arbitrary_json()), 1..8),
    ) {
        let object = damaged(&manifest, &mask, &replacements, &mut 0);
        let mut once = object.clone();
        apply_defaults(resource, &mut once);
        let mut twice = once.clone();
        apply_defaults(resource, &mut twice);
        prop_assert_eq!(&once, &twice);
        let _ = validate_create(resource, &once);
        let _ = validate_update(resource, &once, &object);
    }

    #[test]
    fn validation_never_panics(resource in any_resource(), new in arbitrary_json(), old in arbitrary_json()) {
        let _ = validate_create(resource, &new);
        let _ = validate_update(resource, &new, &old);
    }

    #[test]
    fn defaulting_never_panics_and_is_idempotent(resource in any_resource(), object in arbitrary_json()) {
        let mut once = object;
        apply_defaults(resource, &mut once);
        let mut twice = once.clone();
        apply_defaults(resource, &mut twice);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn defaulted_then_validated_never_panics(resource in any_resource(), object in arbitrary_json()) {
        let mut object = object;
        apply_defaults(resource, &mut object);
        let _ = validate_create(resource, &object);
    }
}
