//! Pod specs (core/validation `ValidatePodSpec` and friends): containers, ports, probes,
//! resources, volumes, scheduling constraints; and the pod update rule that only images,
//! `activeDeadlineSeconds`, tolerations and scheduling gates may change.

use std::collections::BTreeSet;

use bulwark_core::StatusCause;
use serde_json::{Map, Value};

use super::field::{self, BadValue, Path};
use super::json::{self, IntOrString};
use super::meta;
use super::names;
use super::quantity;

const RESTART_POLICIES: &[&str] = &["Always", "Never", "OnFailure"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["FallbackToLogsOnError", "File"];
const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];
const MAX_INT32: i64 = i32::MAX as i64;

/// The fields a pod update may change, as upstream lists them in its refusal.
const UPDATABLE_POD_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// A new Pod's spec.
pub fn validate_pod_create(pod: &Value) -> Vec<StatusCause> {
    let spec_path = Path::root("spec");
    let null = Value::Null;
    let spec = pod.get("spec").unwrap_or(&null);
    let mut causes = validate_pod_spec(spec, &spec_path);
    if !json::array(spec, "ephemeralContainers").is_empty() {
        causes.push(field::forbidden(
            &spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    causes
}

/// A `PodTemplateSpec` inside a workload: its labels, annotations and spec.
pub fn validate_pod_template(template: Option<&Value>, path: &Path) -> Vec<StatusCause> {
    let Some(template) = template.filter(|t| t.is_object()) else {
        return vec![field::required(path, "")];
    };
    let null = Value::Null;
    let metadata = template.get("metadata").unwrap_or(&null);
    let metadata_path = path.child("metadata");
    let mut causes = meta::validate_labels(
        json::object(metadata, "labels"),
        &metadata_path.child("labels"),
    );
    causes.extend(meta::validate_annotations(
        json::object(metadata, "annotations"),
        &metadata_path.child("annotations"),
    ));
    causes.extend(validate_pod_spec(
        template.get("spec").unwrap_or(&null),
        &path.child("spec"),
    ));
    causes
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let (volume_names, mut causes) =
        validate_volumes(json::array(spec, "volumes"), &path.child("volumes"));
    let containers = json::array(spec, "containers");
    let init_containers = json::array(spec, "initContainers");
    let host_network = json::boolean(spec, "hostNetwork") == Some(true);
    if containers.is_empty() {
        causes.push(field::required(&path.child("containers"), ""));
    }
    let mut seen_names = BTreeSet::new();
    for (index, container) in init_containers.iter().enumerate() {
        let container_path = path.child("initContainers").index(index);
        causes.extend(validate_container(
            container,
            &container_path,
            &volume_names,
            &mut seen_names,
            host_network,
        ));
        causes.extend(validate_init_container_rules(container, &container_path));
    }
    for (index, container) in containers.iter().enumerate() {
        let container_path = path.child("containers").index(index);
        causes.extend(validate_container(
            container,
            &container_path,
            &volume_names,
            &mut seen_names,
            host_network,
        ));
        if json::present(container, "restartPolicy") {
            causes.push(field::forbidden(
                &container_path.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    causes.extend(enum_field(
        spec,
        "restartPolicy",
        RESTART_POLICIES,
        &path.child("restartPolicy"),
    ));
    causes.extend(enum_field(
        spec,
        "dnsPolicy",
        DNS_POLICIES,
        &path.child("dnsPolicy"),
    ));
    causes.extend(meta::validate_labels(
        json::object(spec, "nodeSelector"),
        &path.child("nodeSelector"),
    ));
    causes.extend(validate_scalars(spec, path));
    causes.extend(validate_tolerations(
        json::array(spec, "tolerations"),
        &path.child("tolerations"),
    ));
    if let Some(affinity) = spec.get("affinity").filter(|a| a.is_object()) {
        causes.extend(validate_affinity(affinity, &path.child("affinity")));
    }
    causes.extend(validate_topology_spread(
        json::array(spec, "topologySpreadConstraints"),
        &path.child("topologySpreadConstraints"),
    ));
    causes
}

/// Names and ranges of the pod-level scalar fields.
fn validate_scalars(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for key in ["serviceAccountName", "priorityClassName", "schedulerName"] {
        if let Some(value) = json::non_empty(spec, key) {
            for message in names::dns1123_subdomain_errors(value) {
                causes.push(field::invalid(&path.child(key), value, &message));
            }
        }
    }
    for key in ["hostname", "subdomain"] {
        if let Some(value) = json::non_empty(spec, key) {
            for message in names::dns1123_label_errors(value) {
                causes.push(field::invalid(&path.child(key), value, &message));
            }
        }
    }
    if let Some(deadline) = json::integer(spec, "activeDeadlineSeconds")
        && !(1..=MAX_INT32).contains(&deadline)
    {
        causes.push(field::invalid(
            &path.child("activeDeadlineSeconds"),
            deadline,
            &format!("must be between 1 and {MAX_INT32}, inclusive"),
        ));
    }
    causes
}

/// An enumerated string field: required, and one of `supported`.
fn enum_field(object: &Value, key: &str, supported: &[&str], path: &Path) -> Vec<StatusCause> {
    match json::string(object, key).unwrap_or_default() {
        "" => vec![field::required(path, "")],
        value if supported.contains(&value) => Vec::new(),
        value => vec![field::not_supported(path, value, supported)],
    }
}

/// An optional enumerated string field.
fn optional_enum(object: &Value, key: &str, supported: &[&str], path: &Path) -> Vec<StatusCause> {
    match json::string(object, key) {
        Some(value) if !supported.contains(&value) => {
            vec![field::not_supported(path, value, supported)]
        }
        _ => Vec::new(),
    }
}

fn validate_volumes(volumes: &[Value], path: &Path) -> (BTreeSet<String>, Vec<StatusCause>) {
    let mut names = BTreeSet::new();
    let mut causes = Vec::new();
    for (index, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(index);
        let name = json::string(volume, "name").unwrap_or_default();
        if name.is_empty() {
            causes.push(field::required(&volume_path.child("name"), ""));
        } else {
            for message in names::dns1123_label_errors(name) {
                causes.push(field::invalid(&volume_path.child("name"), name, &message));
            }
            if !names.insert(name.to_string()) {
                causes.push(field::duplicate(&volume_path.child("name"), name));
            }
        }
        let sources = volume
            .as_object()
            .map(|map| {
                map.iter()
                    .filter(|(key, value)| *key != "name" && !value.is_null())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_else(Vec::new);
        match sources.as_slice() {
            [] => causes.push(field::required(&volume_path, "must specify a volume type")),
            [_] => {}
            [_, extra, ..] => {
                causes.push(field::forbidden(
                    &volume_path.child(extra),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    (names, causes)
}

fn validate_container(
    container: &Value,
    path: &Path,
    volumes: &BTreeSet<String>,
    seen_names: &mut BTreeSet<String>,
    host_network: bool,
) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let name = json::string(container, "name").unwrap_or_default();
    if name.is_empty() {
        causes.push(field::required(&path.child("name"), ""));
    } else {
        for message in names::dns1123_label_errors(name) {
            causes.push(field::invalid(&path.child("name"), name, &message));
        }
        if !seen_names.insert(name.to_string()) {
            causes.push(field::duplicate(&path.child("name"), name));
        }
    }
    let image = json::string(container, "image").unwrap_or_default();
    if image.is_empty() {
        causes.push(field::required(&path.child("image"), ""));
    } else if image.trim() != image {
        causes.push(field::invalid(
            &path.child("image"),
            image,
            "must not have leading or trailing whitespace",
        ));
    }
    causes.extend(enum_field(
        container,
        "imagePullPolicy",
        PULL_POLICIES,
        &path.child("imagePullPolicy"),
    ));
    causes.extend(enum_field(
        container,
        "terminationMessagePolicy",
        TERMINATION_MESSAGE_POLICIES,
        &path.child("terminationMessagePolicy"),
    ));
    causes.extend(validate_container_ports(
        json::array(container, "ports"),
        &path.child("ports"),
        host_network,
    ));
    causes.extend(validate_env(
        json::array(container, "env"),
        &path.child("env"),
    ));
    causes.extend(validate_volume_mounts(
        json::array(container, "volumeMounts"),
        &path.child("volumeMounts"),
        volumes,
    ));
    if let Some(resources) = container.get("resources").filter(|r| r.is_object()) {
        causes.extend(validate_resources(resources, &path.child("resources")));
    }
    for (key, liveness_like) in [
        ("livenessProbe", true),
        ("readinessProbe", false),
        ("startupProbe", true),
    ] {
        if let Some(probe) = container.get(key).filter(|p| p.is_object()) {
            causes.extend(validate_probe(
                probe,
                &path.child(key),
                liveness_like,
                key == "readinessProbe",
            ));
        }
    }
    causes
}

/// Init containers run to completion: only sidecars (`restartPolicy: Always`) may carry probes.
fn validate_init_container_rules(container: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    match json::string(container, "restartPolicy") {
        Some("Always") => return causes,
        Some(other) => causes.push(field::not_supported(
            &path.child("restartPolicy"),
            other,
            &["Always"],
        )),
        None => {}
    }
    for key in [
        "lifecycle",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
    ] {
        if json::present(container, key) {
            causes.push(field::forbidden(
                &path.child(key),
                "may not be set for init containers without restartPolicy=Always",
            ));
        }
    }
    causes
}

fn validate_container_ports(ports: &[Value], path: &Path, host_network: bool) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = path.index(index);
        if let Some(name) = json::non_empty(port, "name") {
            for message in names::port_name_errors(name) {
                causes.push(field::invalid(&port_path.child("name"), name, &message));
            }
            if !names_seen.insert(name) {
                causes.push(field::duplicate(&port_path.child("name"), name));
            }
        }
        let container_port = json::integer(port, "containerPort").unwrap_or(0);
        if container_port == 0 {
            causes.push(field::required(&port_path.child("containerPort"), ""));
        } else {
            causes.extend(port_number(
                container_port,
                &port_path.child("containerPort"),
            ));
        }
        let host_port = json::integer(port, "hostPort").unwrap_or(0);
        if host_port != 0 {
            causes.extend(port_number(host_port, &port_path.child("hostPort")));
        }
        if host_network && host_port != 0 && host_port != container_port {
            causes.push(field::invalid(
                &port_path.child("hostPort"),
                host_port,
                "must match `containerPort` when `hostNetwork` is true",
            ));
        }
        causes.extend(enum_field(
            port,
            "protocol",
            PROTOCOLS,
            &port_path.child("protocol"),
        ));
    }
    causes
}

/// 1–65535, as `IsValidPortNum` requires.
pub fn port_number(port: i64, path: &Path) -> Vec<StatusCause> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![field::invalid(
            path,
            port,
            "must be between 1 and 65535, inclusive",
        )]
    }
}

/// A port given by number or by IANA name (probes, service target ports).
pub fn port_number_or_name(port: Option<IntOrString<'_>>, path: &Path) -> Vec<StatusCause> {
    match port {
        None => vec![field::required(path, "")],
        Some(IntOrString::Int(number)) => port_number(number, path),
        Some(IntOrString::Str(name)) => {
            if let Ok(number) = name.parse::<i64>() {
                return port_number(number, path);
            }
            names::port_name_errors(name)
                .iter()
                .map(|message| field::invalid(path, name, message))
                .collect()
        }
    }
}

fn validate_env(env: &[Value], path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for (index, variable) in env.iter().enumerate() {
        let variable_path = path.index(index);
        let name = json::string(variable, "name").unwrap_or_default();
        if name.is_empty() {
            causes.push(field::required(&variable_path.child("name"), ""));
        } else if name
            .chars()
            .any(|c| !c.is_ascii() || c.is_ascii_control() || c == '=')
        {
            causes.push(field::invalid(
                &variable_path.child("name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        if let Some(source) = variable.get("valueFrom").and_then(Value::as_object) {
            let kinds = source.iter().filter(|(_, v)| !v.is_null()).count();
            if kinds == 0 {
                causes.push(field::invalid(&variable_path.child("valueFrom"), "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
            } else if kinds > 1 {
                causes.push(field::invalid(
                    &variable_path.child("valueFrom"),
                    "",
                    "may not have more than one field specified at a time",
                ));
            }
            if json::non_empty(variable, "value").is_some() {
                causes.push(field::invalid(
                    &variable_path.child("valueFrom"),
                    "",
                    "may not be specified when `value` is not empty",
                ));
            }
        }
    }
    causes
}

fn validate_volume_mounts(
    mounts: &[Value],
    path: &Path,
    volumes: &BTreeSet<String>,
) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut mount_paths = BTreeSet::new();
    for (index, mount) in mounts.iter().enumerate() {
        let mount_path_field = path.index(index);
        let name = json::string(mount, "name").unwrap_or_default();
        if name.is_empty() {
            causes.push(field::required(&mount_path_field.child("name"), ""));
        } else if !volumes.contains(name) {
            causes.push(field::not_found(&mount_path_field.child("name"), name));
        }
        let mount_path = json::string(mount, "mountPath").unwrap_or_default();
        if mount_path.is_empty() {
            causes.push(field::required(&mount_path_field.child("mountPath"), ""));
        } else if !mount_paths.insert(mount_path) {
            causes.push(field::invalid(
                &mount_path_field.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
    }
    causes
}

/// Whether requests may differ from limits for `name` (extended resources and hugepages may not).
fn overcommit_allowed(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage")
        || (name.starts_with("requests.") || name.starts_with("limits."))
            && overcommit_allowed(
                name.split_once('.')
                    .map(|(_, rest)| rest)
                    .unwrap_or_default(),
            )
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Container `resources`: names, non-negative quantities, and requests within limits.
pub fn validate_resources(resources: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let limits = json::object(resources, "limits");
    for (section, map) in [
        ("limits", limits),
        ("requests", json::object(resources, "requests")),
    ] {
        let section_path = path.child(section);
        for (name, value) in map.into_iter().flatten() {
            let entry_path = section_path.key(name);
            causes.extend(validate_container_resource_name(name, &entry_path));
            let Some(amount) = quantity::from_json(value) else {
                causes.push(field::invalid(
                    &entry_path,
                    BadValue::Raw(quantity::display(value)),
                    &quantity::syntax_error(),
                ));
                continue;
            };
            if quantity::is_negative(&amount) {
                causes.push(field::invalid(
                    &entry_path,
                    BadValue::Raw(quantity::display(value)),
                    "must be greater than or equal to 0",
                ));
            }
            let limit = limits.and_then(|l| l.get(name));
            if section == "requests"
                && let Some(limit_amount) = limit.and_then(quantity::from_json)
            {
                let shown = BadValue::Raw(quantity::display(value));
                let limit_shown = limit.map(quantity::display).unwrap_or_default();
                if amount != limit_amount && !overcommit_allowed(name) {
                    causes.push(field::invalid(
                        &entry_path,
                        shown,
                        &format!("must be equal to {name} limit of {limit_shown}"),
                    ));
                } else if amount > limit_amount {
                    causes.push(field::invalid(
                        &entry_path,
                        shown,
                        &format!("must be less than or equal to {name} limit of {limit_shown}"),
                    ));
                }
            }
        }
    }
    causes
}

fn validate_container_resource_name(name: &str, path: &Path) -> Vec<StatusCause> {
    let mut causes = meta::validate_label_key(name, path);
    if !causes.is_empty() {
        return causes;
    }
    // Prefixed names are extended resources; unprefixed ones must be Kubernetes' own.
    if !name.contains('/') && !is_standard_container_resource(name) {
        causes.push(field::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
    causes
}

/// Probe handlers and thresholds.
fn validate_probe(
    probe: &Value,
    path: &Path,
    liveness_like: bool,
    readiness: bool,
) -> Vec<StatusCause> {
    let mut causes = validate_handler(probe, path, &["exec", "httpGet", "tcpSocket", "grpc"]);
    for key in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        causes.extend(meta::non_negative(probe, key, &path.child(key)));
    }
    if liveness_like
        && let Some(threshold) = json::integer(probe, "successThreshold").filter(|t| *t != 1)
    {
        causes.push(field::invalid(
            &path.child("successThreshold"),
            threshold,
            "must be 1",
        ));
    }
    match json::integer(probe, "terminationGracePeriodSeconds") {
        Some(seconds) if readiness => {
            causes.push(field::invalid(
                &path.child("terminationGracePeriodSeconds"),
                seconds,
                "must not be set for readinessProbes",
            ));
        }
        Some(seconds) if seconds <= 0 => {
            causes.push(field::invalid(
                &path.child("terminationGracePeriodSeconds"),
                seconds,
                "must be greater than 0",
            ));
        }
        _ => {}
    }
    causes
}

/// Exactly one handler of `kinds`, each well formed.
fn validate_handler(handler: &Value, path: &Path, kinds: &[&str]) -> Vec<StatusCause> {
    let present = kinds
        .iter()
        .filter(|kind| json::present(handler, kind))
        .collect::<Vec<_>>();
    let mut causes = Vec::new();
    match present.as_slice() {
        [] => causes.push(field::required(path, "must specify a handler type")),
        [_] => {}
        [_, extra, ..] => causes.push(field::forbidden(
            &path.child(extra),
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(http) = handler.get("httpGet").filter(|h| h.is_object()) {
        let http_path = path.child("httpGet");
        if json::string(http, "path").unwrap_or_default().is_empty() {
            causes.push(field::required(&http_path.child("path"), ""));
        }
        causes.extend(port_number_or_name(
            json::int_or_string(http, "port"),
            &http_path.child("port"),
        ));
        causes.extend(optional_enum(
            http,
            "scheme",
            &["HTTP", "HTTPS"],
            &http_path.child("scheme"),
        ));
    }
    if let Some(tcp) = handler.get("tcpSocket").filter(|h| h.is_object()) {
        causes.extend(port_number_or_name(
            json::int_or_string(tcp, "port"),
            &path.child("tcpSocket").child("port"),
        ));
    }
    if let Some(grpc) = handler.get("grpc").filter(|h| h.is_object()) {
        causes.extend(port_number(
            json::integer(grpc, "port").unwrap_or(0),
            &path.child("grpc").child("port"),
        ));
    }
    if let Some(exec) = handler.get("exec").filter(|h| h.is_object())
        && json::array(exec, "command").is_empty()
    {
        causes.push(field::required(&path.child("exec").child("command"), ""));
    }
    causes
}

fn validate_tolerations(tolerations: &[Value], path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for (index, toleration) in tolerations.iter().enumerate() {
        let toleration_path = path.index(index);
        let key = json::string(toleration, "key").unwrap_or_default();
        if !key.is_empty() {
            causes.extend(meta::validate_label_key(key, &toleration_path.child("key")));
        }
        let operator = json::string(toleration, "operator").unwrap_or_default();
        if key.is_empty() && operator != "Exists" {
            causes.push(field::invalid(
                &toleration_path.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        match operator {
            "" | "Equal" => {
                let value = json::string(toleration, "value").unwrap_or_default();
                for message in names::label_value_errors(value) {
                    causes.push(field::invalid(
                        &toleration_path.child("value"),
                        value,
                        &message,
                    ));
                }
            }
            "Exists" => {
                if json::non_empty(toleration, "value").is_some() {
                    let value = json::string(toleration, "value").unwrap_or_default();
                    causes.push(field::invalid(
                        &toleration_path.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => causes.push(field::not_supported(
                &toleration_path.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        let effect = json::string(toleration, "effect").unwrap_or_default();
        if json::present(toleration, "tolerationSeconds") && effect != "NoExecute" {
            causes.push(field::invalid(
                &toleration_path.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            causes.push(field::not_supported(
                &toleration_path.child("effect"),
                effect,
                TAINT_EFFECTS,
            ));
        }
    }
    causes
}

fn validate_affinity(affinity: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if let Some(node) = affinity.get("nodeAffinity").filter(|n| n.is_object()) {
        let node_path = path.child("nodeAffinity");
        if let Some(required) = node
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .filter(|r| r.is_object())
        {
            let required_path = node_path.child("requiredDuringSchedulingIgnoredDuringExecution");
            let terms = json::array(required, "nodeSelectorTerms");
            if terms.is_empty() {
                causes.push(field::required(
                    &required_path.child("nodeSelectorTerms"),
                    "must have at least one node selector term",
                ));
            }
            for (index, term) in terms.iter().enumerate() {
                causes.extend(validate_node_selector_term(
                    term,
                    &required_path.child("nodeSelectorTerms").index(index),
                ));
            }
        }
        for (index, preferred) in
            json::array(node, "preferredDuringSchedulingIgnoredDuringExecution")
                .iter()
                .enumerate()
        {
            let preferred_path = node_path
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(index);
            causes.extend(weight(preferred, &preferred_path));
            let null = Value::Null;
            causes.extend(validate_node_selector_term(
                preferred.get("preference").unwrap_or(&null),
                &preferred_path.child("preference"),
            ));
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pod_affinity) = affinity.get(kind).filter(|p| p.is_object()) else {
            continue;
        };
        let kind_path = path.child(kind);
        for (index, term) in json::array(
            pod_affinity,
            "requiredDuringSchedulingIgnoredDuringExecution",
        )
        .iter()
        .enumerate()
        {
            causes.extend(validate_pod_affinity_term(
                term,
                &kind_path
                    .child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(index),
            ));
        }
        for (index, weighted) in json::array(
            pod_affinity,
            "preferredDuringSchedulingIgnoredDuringExecution",
        )
        .iter()
        .enumerate()
        {
            let weighted_path = kind_path
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(index);
            causes.extend(weight(weighted, &weighted_path));
            let null = Value::Null;
            causes.extend(validate_pod_affinity_term(
                weighted.get("podAffinityTerm").unwrap_or(&null),
                &weighted_path.child("podAffinityTerm"),
            ));
        }
    }
    causes
}

fn weight(weighted: &Value, path: &Path) -> Vec<StatusCause> {
    let value = json::integer(weighted, "weight").unwrap_or(0);
    if (1..=100).contains(&value) {
        Vec::new()
    } else {
        vec![field::invalid(
            &path.child("weight"),
            value,
            "must be in the range 1-100",
        )]
    }
}

fn validate_node_selector_term(term: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for (index, requirement) in json::array(term, "matchExpressions").iter().enumerate() {
        let requirement_path = path.child("matchExpressions").index(index);
        let values = json::array(requirement, "values");
        match json::string(requirement, "operator").unwrap_or_default() {
            "In" | "NotIn" if values.is_empty() => {
                causes.push(field::required(
                    &requirement_path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                causes.push(field::forbidden(
                    &requirement_path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
            "Gt" | "Lt" if values.len() != 1 => {
                causes.push(field::required(
                    &requirement_path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            other => causes.push(field::invalid(
                &requirement_path.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        causes.extend(meta::validate_label_key(
            json::string(requirement, "key").unwrap_or_default(),
            &requirement_path.child("key"),
        ));
    }
    causes
}

fn validate_pod_affinity_term(term: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if let Some(selector) = term.get("labelSelector").filter(|s| s.is_object()) {
        causes.extend(meta::validate_label_selector(
            selector,
            &path.child("labelSelector"),
        ));
    }
    if json::string(term, "topologyKey")
        .unwrap_or_default()
        .is_empty()
    {
        causes.push(field::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    } else {
        causes.extend(meta::validate_label_key(
            json::string(term, "topologyKey").unwrap_or_default(),
            &path.child("topologyKey"),
        ));
    }
    causes
}

fn validate_topology_spread(constraints: &[Value], path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut pairs = BTreeSet::new();
    for (index, constraint) in constraints.iter().enumerate() {
        let constraint_path = path.index(index);
        let max_skew = json::integer(constraint, "maxSkew").unwrap_or(0);
        if max_skew <= 0 {
            causes.push(field::invalid(
                &constraint_path.child("maxSkew"),
                max_skew,
                "must be greater than zero",
            ));
        }
        let key = json::string(constraint, "topologyKey").unwrap_or_default();
        if key.is_empty() {
            causes.push(field::required(
                &constraint_path.child("topologyKey"),
                "can not be empty",
            ));
        } else {
            causes.extend(meta::validate_label_key(
                key,
                &constraint_path.child("topologyKey"),
            ));
        }
        let when = json::string(constraint, "whenUnsatisfiable").unwrap_or_default();
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&when) {
            causes.push(field::not_supported(
                &constraint_path.child("whenUnsatisfiable"),
                when,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if !pairs.insert((key, when)) {
            causes.push(field::duplicate(
                &constraint_path,
                BadValue::Raw(format!("{{{key}, {when}}}")),
            ));
        }
        if let Some(min_domains) = json::integer(constraint, "minDomains") {
            if min_domains <= 0 {
                causes.push(field::invalid(
                    &constraint_path.child("minDomains"),
                    min_domains,
                    "must be greater than 0",
                ));
            } else if when != "DoNotSchedule" {
                causes.push(field::invalid(
                    &constraint_path.child("minDomains"),
                    min_domains,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
                ));
            }
        }
        if let Some(selector) = constraint.get("labelSelector").filter(|s| s.is_object()) {
            causes.extend(meta::validate_label_selector(
                selector,
                &constraint_path.child("labelSelector"),
            ));
        }
    }
    causes
}

/// A pod update: everything in `spec` is fixed except images, a shrinking
/// `activeDeadlineSeconds`, added tolerations, removed scheduling gates and a negative grace
/// period becoming 1.
pub fn validate_pod_update(new: &Value, old: &Value) -> Vec<StatusCause> {
    let spec_path = Path::root("spec");
    let null = Value::Null;
    let new_spec = new.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    let mut causes = validate_pod_spec(new_spec, &spec_path);
    if let Some(cause) = active_deadline_update(new_spec, old_spec, &spec_path) {
        causes.push(cause);
        return causes;
    }
    let mut munged_new = new_spec.clone();
    let mut munged_old = old_spec.clone();
    for spec in [&mut munged_new, &mut munged_old] {
        for list in ["containers", "initContainers"] {
            if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
                containers
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|c| {
                        c.remove("image");
                    });
            }
        }
        if let Some(map) = spec.as_object_mut() {
            map.remove("activeDeadlineSeconds");
            map.remove("tolerations");
            map.remove("schedulingGates");
        }
    }
    if json::integer(old_spec, "terminationGracePeriodSeconds").is_some_and(|s| s < 0)
        && json::integer(new_spec, "terminationGracePeriodSeconds") == Some(1)
        && let Some(map) = munged_old.as_object_mut()
    {
        map.insert("terminationGracePeriodSeconds".into(), Value::from(1));
    }
    if munged_new != munged_old {
        let changed = changed_paths(&munged_old, &munged_new, "spec");
        causes.push(field::forbidden(
            &spec_path,
            &format!(
                "pod updates may not change fields other than {}\n{}",
                UPDATABLE_POD_FIELDS.join(","),
                changed.join("\n")
            ),
        ));
    }
    causes.extend(tolerations_only_added(
        new_spec,
        old_spec,
        &spec_path.child("tolerations"),
    ));
    causes.extend(gates_only_removed(
        new_spec,
        old_spec,
        &spec_path.child("schedulingGates"),
    ));
    causes
}

fn active_deadline_update(new_spec: &Value, old_spec: &Value, path: &Path) -> Option<StatusCause> {
    let deadline_path = path.child("activeDeadlineSeconds");
    match (
        json::integer(new_spec, "activeDeadlineSeconds"),
        json::integer(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(new), _) if !(0..=MAX_INT32).contains(&new) => Some(field::invalid(
            &deadline_path,
            new,
            &format!("must be between 0 and {MAX_INT32}, inclusive"),
        )),
        (Some(new), Some(old)) if old < new => Some(field::invalid(
            &deadline_path,
            new,
            "must be less than or equal to previous value",
        )),
        (None, Some(_)) => Some(field::invalid(
            &deadline_path,
            BadValue::Raw("null".into()),
            "must not update from a positive integer to nil value",
        )),
        _ => None,
    }
}

fn tolerations_only_added(new_spec: &Value, old_spec: &Value, path: &Path) -> Vec<StatusCause> {
    let new = json::array(new_spec, "tolerations");
    let missing = json::array(old_spec, "tolerations").iter().any(|old| {
        !new.iter().any(|candidate| {
            // An existing NoExecute toleration may shorten its tolerationSeconds.
            let mut relaxed = candidate.clone();
            if let (Some(map), Some(old_seconds)) =
                (relaxed.as_object_mut(), old.get("tolerationSeconds"))
                && json::integer(candidate, "tolerationSeconds")
                    .zip(old_seconds.as_i64())
                    .is_some_and(|(n, o)| n <= o)
            {
                map.insert("tolerationSeconds".into(), old_seconds.clone());
            }
            &relaxed == old
        })
    });
    if missing {
        vec![field::forbidden(
            path,
            "existing toleration can not be modified except its tolerationSeconds",
        )]
    } else {
        Vec::new()
    }
}

fn gates_only_removed(new_spec: &Value, old_spec: &Value, path: &Path) -> Vec<StatusCause> {
    let old = json::array(old_spec, "schedulingGates");
    if json::array(new_spec, "schedulingGates")
        .iter()
        .all(|gate| old.contains(gate))
    {
        Vec::new()
    } else {
        vec![field::forbidden(
            path,
            "only deletion is allowed, but found new scheduling gate",
        )]
    }
}

/// The leaf paths where two JSON values differ: upstream shows a diff; we show where.
pub fn changed_paths(old: &Value, new: &Value, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    collect_changes(old, new, prefix, &mut out);
    out.truncate(20);
    out
}

fn collect_changes(old: &Value, new: &Value, prefix: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let keys = old_map
                .keys()
                .chain(new_map.keys())
                .collect::<BTreeSet<_>>();
            for key in keys {
                let null = Value::Null;
                let (a, b) = (
                    old_map.get(key).unwrap_or(&null),
                    new_map.get(key).unwrap_or(&null),
                );
                if a != b {
                    collect_changes(a, b, &format!("{prefix}.{key}"), out);
                }
            }
        }
        (Value::Array(old_items), Value::Array(new_items))
            if old_items.len() == new_items.len() =>
        {
            for (index, (a, b)) in old_items.iter().zip(new_items).enumerate() {
                if a != b {
                    collect_changes(a, b, &format!("{prefix}[{index}]"), out);
                }
            }
        }
        _ => out.push(format!("  {prefix}: {old} -> {new}")),
    }
}

/// Labels of a template, for selector matching.
pub fn template_labels(template: Option<&Value>) -> Option<&Map<String, Value>> {
    template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| json::object(m, "labels"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(name: &str) -> Value {
        json!({"name": name, "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"})
    }

    fn spec(containers: Vec<Value>) -> Value {
        json!({"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"})
    }

    fn fields(causes: &[StatusCause]) -> Vec<&str> {
        causes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn containers_are_required() {
        let causes = validate_pod_spec(&spec(vec![]), &Path::root("spec"));
        assert_eq!(fields(&causes), vec!["spec.containers"]);
        assert_eq!(causes[0].message, "Required value");
    }

    #[test]
    fn container_names_are_unique_labels() {
        let causes = validate_pod_spec(
            &spec(vec![container("a"), container("a"), container("B")]),
            &Path::root("spec"),
        );
        assert_eq!(
            fields(&causes),
            vec!["spec.containers[1].name", "spec.containers[2].name"]
        );
        assert_eq!(causes[0].message, "Duplicate value: \"a\"");
    }

    #[test]
    fn image_is_required() {
        let mut bad = container("a");
        bad["image"] = json!("");
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        assert_eq!(fields(&causes), vec!["spec.containers[0].image"]);
    }

    #[test]
    fn restart_policy_lists_supported_values() {
        let mut bad = spec(vec![container("a")]);
        bad["restartPolicy"] = json!("Sometimes");
        let causes = validate_pod_spec(&bad, &Path::root("spec"));
        assert_eq!(
            causes[0].message,
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""
        );
    }

    #[test]
    fn ports_are_ranged_and_named() {
        let mut bad = container("a");
        bad["ports"] = json!([{"containerPort": 70000, "protocol": "TCP"}, {"containerPort": 80, "protocol": "ICMP", "name": "8080"}]);
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        assert_eq!(
            fields(&causes),
            vec![
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[0].ports[1].name",
                "spec.containers[0].ports[1].protocol"
            ]
        );
        assert_eq!(
            causes[0].message,
            "Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn requests_must_not_exceed_limits() {
        let mut bad = container("a");
        bad["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}});
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        assert_eq!(
            fields(&causes),
            vec!["spec.containers[0].resources.requests[cpu]"]
        );
        assert_eq!(
            causes[0].message,
            "Invalid value: 2: must be less than or equal to cpu limit of 500m"
        );
    }

    #[test]
    fn resource_names_and_quantities_are_checked() {
        let mut bad = container("a");
        bad["resources"] = json!({"limits": {"gpu": "1", "memory": "lots", "cpu": "-1"}});
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        let messages = causes
            .iter()
            .map(|c| c.message.as_str())
            .collect::<Vec<_>>();
        assert_eq!(causes.len(), 3, "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("must be a standard resource for containers"))
        );
        assert!(messages.iter().any(|m| m.contains("quantities must match")));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("must be greater than or equal to 0"))
        );
    }

    #[test]
    fn probes_need_one_handler_and_sane_thresholds() {
        let mut bad = container("a");
        bad["livenessProbe"] = json!({"successThreshold": 2, "periodSeconds": -1});
        bad["readinessProbe"] =
            json!({"httpGet": {"path": "/", "port": 0}, "tcpSocket": {"port": 80}});
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        assert_eq!(
            fields(&causes),
            vec![
                "spec.containers[0].livenessProbe",
                "spec.containers[0].livenessProbe.periodSeconds",
                "spec.containers[0].livenessProbe.successThreshold",
                "spec.containers[0].readinessProbe.tcpSocket",
                "spec.containers[0].readinessProbe.httpGet.port",
            ]
        );
        assert_eq!(
            causes[0].message,
            "Required value: must specify a handler type"
        );
    }

    #[test]
    fn volume_mounts_must_name_volumes() {
        let mut bad = container("a");
        bad["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        let causes = validate_pod_spec(&spec(vec![bad]), &Path::root("spec"));
        assert_eq!(causes[0].message, "Not found: \"data\"");
        let mut good = spec(vec![container("a")]);
        good["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        good["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        assert!(validate_pod_spec(&good, &Path::root("spec")).is_empty());
    }

    #[test]
    fn tolerations_and_spread_constraints_are_checked() {
        let mut bad = spec(vec![container("a")]);
        bad["tolerations"] = json!([{"operator": "Equal", "value": "x"}, {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]);
        bad["topologySpreadConstraints"] =
            json!([{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]);
        let causes = validate_pod_spec(&bad, &Path::root("spec"));
        assert_eq!(
            fields(&causes),
            vec![
                "spec.tolerations[0].operator",
                "spec.tolerations[1].effect",
                "spec.topologySpreadConstraints[0].maxSkew",
                "spec.topologySpreadConstraints[0].whenUnsatisfiable",
            ]
        );
    }

    #[test]
    fn pod_update_allows_image_changes_only() {
        let old = json!({"spec": spec(vec![container("a")])});
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        assert!(validate_pod_update(&new, &old).is_empty());
        new["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
        let causes = validate_pod_update(&new, &old);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec");
        assert!(causes[0].message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        ));
        assert!(causes[0].message.contains("spec.containers[0].ports"));
    }

    #[test]
    fn pod_update_allows_added_tolerations_and_shorter_deadlines() {
        let mut old = json!({"spec": spec(vec![container("a")])});
        old["spec"]["activeDeadlineSeconds"] = json!(100);
        let mut new = old.clone();
        new["spec"]["activeDeadlineSeconds"] = json!(50);
        new["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        assert!(validate_pod_update(&new, &old).is_empty());
        new["spec"]["activeDeadlineSeconds"] = json!(200);
        let causes = validate_pod_update(&new, &old);
        assert_eq!(
            causes[0].message,
            "Invalid value: 200: must be less than or equal to previous value"
        );
        let removed = old.clone();
        let mut with_toleration = old.clone();
        with_toleration["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        let causes = validate_pod_update(&removed, &with_toleration);
        assert_eq!(causes[0].field, "spec.tolerations");
    }
}
