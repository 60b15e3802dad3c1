//! Pod and pod-template defaults: `SetDefaults_PodSpec`, containers, probes, handlers, volumes
//! (for every PodSpec) and `SetDefaults_Pod` (for bare Pods only: requests from limits,
//! service links, host-network ports).

use serde_json::{Map, Value};

use super::{default_field, default_pointer, each_object, ensure_object, existing_object, unset};

/// `0644`, the default file mode of secret, config map, downward API and projected volumes.
const DEFAULT_VOLUME_MODE: i64 = 0o644;
/// Projected service account tokens live an hour by default.
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// A bare Pod: the PodSpec defaults plus the Pod-only ones.
pub fn pod(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    pod_spec(spec);
    for list in ["containers", "initContainers"] {
        each_object(spec, list).for_each(requests_from_limits);
    }
    default_pointer(spec, "enableServiceLinks", true);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for container in each_object(spec, list) {
                for port in each_object(container, "ports") {
                    if unset(port, "hostPort")
                        && let Some(container_port) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".into(), container_port);
                    }
                }
            }
        }
    }
}

/// A `PodTemplateSpec` inside a workload: only the PodSpec defaults apply.
pub fn template(template: &mut Map<String, Value>) {
    if let Some(spec) = ensure_object(template, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and everything nested in a PodSpec.
pub fn pod_spec(spec: &mut Map<String, Value>) {
    default_field(spec, "dnsPolicy", "ClusterFirst");
    default_field(spec, "restartPolicy", "Always");
    default_pointer(spec, "securityContext", Value::Object(Map::new()));
    default_pointer(spec, "terminationGracePeriodSeconds", 30);
    default_field(spec, "schedulerName", "default-scheduler");
    for list in CONTAINER_LISTS {
        each_object(spec, list).for_each(container);
    }
    each_object(spec, "volumes").for_each(volume);
}

/// `SetDefaults_Container` plus its ports, probes, lifecycle handlers and env sources.
fn container(container: &mut Map<String, Value>) {
    if unset(container, "imagePullPolicy") {
        let image = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let policy = if image_tag(image) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        container.insert("imagePullPolicy".into(), policy.into());
    }
    default_field(container, "terminationMessagePath", "/dev/termination-log");
    default_field(container, "terminationMessagePolicy", "File");
    each_object(container, "ports").for_each(|port| default_field(port, "protocol", "TCP"));
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = existing_object(container, key) {
            self::probe(probe);
        }
    }
    if let Some(lifecycle) = existing_object(container, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(handler) = existing_object(lifecycle, hook) {
                self::handler(handler);
            }
        }
    }
    for variable in each_object(container, "env") {
        if let Some(field_ref) = existing_object(variable, "valueFrom")
            .and_then(|from| existing_object(from, "fieldRef"))
        {
            default_field(field_ref, "apiVersion", "v1");
        }
    }
}

/// The tag `ParseImageName` finds: `latest` when neither tag nor digest is given, `None` for a
/// digest-only reference or an empty image.
fn image_tag(image: &str) -> Option<&str> {
    if image.is_empty() {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.split_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest.is_some() => None,
        None => Some("latest"),
    }
}

/// `SetDefaults_Probe` and its handler.
fn probe(probe: &mut Map<String, Value>) {
    default_field(probe, "timeoutSeconds", 1);
    default_field(probe, "periodSeconds", 10);
    default_field(probe, "successThreshold", 1);
    default_field(probe, "failureThreshold", 3);
    handler(probe);
}

/// `SetDefaults_HTTPGetAction` and the gRPC service name, wherever a handler sits.
fn handler(handler: &mut Map<String, Value>) {
    if let Some(http) = existing_object(handler, "httpGet") {
        default_field(http, "path", "/");
        default_field(http, "scheme", "HTTP");
    }
    if let Some(grpc) = existing_object(handler, "grpc") {
        default_pointer(grpc, "service", "");
    }
}

/// `SetDefaults_Volume` and the volume sources' modes.
fn volume(volume: &mut Map<String, Value>) {
    let has_source = volume
        .iter()
        .any(|(key, value)| key != "name" && !value.is_null());
    if !has_source {
        volume.insert("emptyDir".into(), Value::Object(Map::new()));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = existing_object(volume, source) {
            default_pointer(source, "defaultMode", DEFAULT_VOLUME_MODE);
        }
    }
    if let Some(host_path) = existing_object(volume, "hostPath") {
        default_pointer(host_path, "type", "");
    }
    if let Some(downward) = existing_object(volume, "downwardAPI") {
        each_object(downward, "items").for_each(downward_item);
    }
    if let Some(projected) = existing_object(volume, "projected") {
        for source in each_object(projected, "sources") {
            if let Some(token) = existing_object(source, "serviceAccountToken") {
                default_pointer(token, "expirationSeconds", DEFAULT_TOKEN_EXPIRATION_SECONDS);
            }
            if let Some(downward) = existing_object(source, "downwardAPI") {
                each_object(downward, "items").for_each(downward_item);
            }
        }
    }
}

fn downward_item(item: &mut Map<String, Value>) {
    if let Some(field_ref) = existing_object(item, "fieldRef") {
        default_field(field_ref, "apiVersion", "v1");
    }
}

/// Requests default to limits for every resource that has a limit and no request.
fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = existing_object(container, "resources") else {
        return;
    };
    let Some(limits) = resources
        .get("limits")
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned()
    else {
        return;
    };
    let Some(requests) = ensure_object(resources, "requests") else {
        return;
    };
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_decide_pull_policy() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:latest"), Some("latest"));
        assert_eq!(image_tag("payment:v2.1"), Some("v2.1"));
        assert_eq!(image_tag("registry:5000/team/app"), Some("latest"));
        assert_eq!(image_tag("registry:5000/team/app:1.0"), Some("1.0"));
        assert_eq!(image_tag("app@sha256:abc"), None);
        assert_eq!(image_tag(""), None);
    }
}
