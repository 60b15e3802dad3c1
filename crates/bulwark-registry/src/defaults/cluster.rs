//! Defaults of the non-workload kinds: Services, Namespaces, Secrets, LimitRanges, Endpoints,
//! EndpointSlices, Nodes and PriorityClasses.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::{default_field, default_pointer, each_object, ensure_object, existing_object};

/// Client-IP session affinity lasts three hours unless configured.
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i64 = 10800;

/// `SetDefaults_Service` plus the IP-family choice upstream's allocator makes on create (on a
/// single-stack IPv4 cluster unless the given cluster IP says otherwise).
pub fn service(object: &mut Map<String, Value>) {
    let Some(spec) = ensure_object(object, "spec") else {
        return;
    };
    default_field(spec, "sessionAffinity", "None");
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let configured = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !configured {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    default_field(spec, "type", "ClusterIP");
    for port in each_object(spec, "ports") {
        default_field(port, "protocol", "TCP");
        if super::unset(port, "targetPort")
            && let Some(number) = port.get("port").cloned()
        {
            port.insert("targetPort".into(), number);
        }
    }
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible = matches!(service_type.as_str(), "NodePort" | "LoadBalancer")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_field(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(
        service_type.as_str(),
        "ClusterIP" | "NodePort" | "LoadBalancer"
    ) {
        default_pointer(spec, "internalTrafficPolicy", "Cluster");
    }
    if service_type == "LoadBalancer" {
        default_pointer(spec, "allocateLoadBalancerNodePorts", true);
    }
    if service_type != "ExternalName" {
        ip_families(spec);
    }
}

/// Headless services without selectors may serve both families; everything else is single-stack.
fn ip_families(spec: &mut Map<String, Value>) {
    let cluster_ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let has_selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty());
    let headless_without_selector = cluster_ip == "None" && !has_selector;
    let policy = if headless_without_selector {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    default_pointer(spec, "ipFamilyPolicy", policy);
    let has_families = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if has_families {
        return;
    }
    let primary = match cluster_ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => "IPv6",
        _ => "IPv4",
    };
    let dual = spec.get("ipFamilyPolicy").and_then(Value::as_str) != Some("SingleStack");
    let families = match (headless_without_selector && dual, primary) {
        (true, "IPv6") => json!(["IPv6", "IPv4"]),
        (true, _) => json!(["IPv4", "IPv6"]),
        (false, family) => json!([family]),
    };
    spec.insert("ipFamilies".into(), families);
}

/// Allocated values the update left out stay as they were.
pub fn service_carry_over(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let Some(old_spec) = old.get("spec").and_then(Value::as_object) else {
        return;
    };
    let Some(new_spec) = ensure_object(new, "spec") else {
        return;
    };
    let external_name = |spec: &Map<String, Value>| {
        spec.get("type").and_then(Value::as_str) == Some("ExternalName")
    };
    if external_name(new_spec) || external_name(old_spec) {
        return;
    }
    if super::unset(new_spec, "clusterIP") {
        for key in ["clusterIP", "clusterIPs"] {
            if let Some(value) = old_spec.get(key) {
                new_spec.insert(key.into(), value.clone());
            }
        }
    }
    for key in ["ipFamilyPolicy", "ipFamilies", "healthCheckNodePort"] {
        if let Some(value) = old_spec.get(key).filter(|v| !v.is_null()) {
            default_pointer(new_spec, key, value.clone());
        }
    }
    let old_ports = old_spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for port in each_object(new_spec, "ports") {
        if !super::unset(port, "nodePort") {
            continue;
        }
        let protocol = |p: &Map<String, Value>| {
            p.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_string()
        };
        let same = old_ports
            .iter()
            .filter_map(Value::as_object)
            .find(|old_port| {
                old_port.get("port") == port.get("port") && protocol(old_port) == protocol(port)
            });
        if let Some(node_port) = same
            .and_then(|old_port| old_port.get("nodePort"))
            .filter(|n| !n.is_null())
        {
            port.insert("nodePort".into(), node_port.clone());
        }
    }
}

/// Namespace finalizers change only through the `finalize` subresource.
pub fn namespace_carry_over(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let finalizers = old.get("spec").and_then(|s| s.get("finalizers")).cloned();
    if let Some(spec) = ensure_object(new, "spec") {
        match finalizers {
            Some(finalizers) => spec.insert("finalizers".into(), finalizers),
            None => spec.remove("finalizers"),
        };
    }
}

/// The name label, the `kubernetes` finalizer and the Active phase every namespace starts with.
pub fn namespace(object: &mut Map<String, Value>) {
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !name.is_empty()
        && let Some(labels) =
            ensure_object(object, "metadata").and_then(|m| ensure_object(m, "labels"))
    {
        labels.insert("kubernetes.io/metadata.name".into(), Value::from(name));
    }
    if let Some(spec) = ensure_object(object, "spec") {
        let finalizers = spec.entry("finalizers").or_insert_with(|| json!([]));
        if finalizers.is_null() {
            *finalizers = json!([]);
        }
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f == "kubernetes")
        {
            list.push(json!("kubernetes"));
        }
    }
    if let Some(status) = ensure_object(object, "status") {
        default_field(status, "phase", "Active");
    }
}

pub fn secret(object: &mut Map<String, Value>) {
    default_field(object, "type", "Opaque");
}

/// For container limits: default limit from max, default request from the default limit, then
/// from min.
pub fn limit_range(object: &mut Map<String, Value>) {
    let Some(spec) = existing_object(object, "spec") else {
        return;
    };
    for item in each_object(spec, "limits") {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let max = item
            .get("max")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let min = item
            .get("min")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // Empty maps are not created: upstream's are omitted when serialized.
        if !max.is_empty()
            && let Some(default) = ensure_object(item, "default")
        {
            for (name, quantity) in max {
                default.entry(name).or_insert(quantity);
            }
        }
        let default = item
            .get("default")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if !(default.is_empty() && min.is_empty())
            && let Some(default_request) = ensure_object(item, "defaultRequest")
        {
            for (name, quantity) in default.into_iter().chain(min) {
                default_request.entry(name).or_insert(quantity);
            }
        }
    }
}

pub fn endpoints(object: &mut Map<String, Value>) {
    for subset in each_object(object, "subsets") {
        each_object(subset, "ports").for_each(|port| default_field(port, "protocol", "TCP"));
    }
}

pub fn endpoint_slice(object: &mut Map<String, Value>) {
    for port in each_object(object, "ports") {
        default_pointer(port, "name", "");
        default_pointer(port, "protocol", "TCP");
    }
}

/// A node reporting capacity but no allocatable can allocate all of it.
pub fn node(object: &mut Map<String, Value>) {
    let Some(status) = existing_object(object, "status") else {
        return;
    };
    let capacity = status.get("capacity").filter(|c| c.is_object()).cloned();
    if let Some(capacity) = capacity {
        default_pointer(status, "allocatable", capacity);
    }
}

pub fn priority_class(object: &mut Map<String, Value>) {
    default_pointer(object, "preemptionPolicy", "PreemptLowerPriority");
}
