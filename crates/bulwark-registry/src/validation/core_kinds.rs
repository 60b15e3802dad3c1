//! Core-group kinds other than pods (core/validation): Services, Namespaces, Nodes, Endpoints,
//! ResourceQuotas, LimitRanges, and `coordination.k8s.io` Leases.

use std::collections::BTreeSet;
use std::net::IpAddr;

use bulwark_core::StatusCause;
use serde_json::Value;

use super::field::{self, BadValue, Path};
use super::json;
use super::meta;
use super::names;
use super::pod::{port_number, port_number_or_name};
use super::quantity;

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const IP_MESSAGE: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Session affinity timeouts are bounded by a day.
const MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS: i64 = 86400;

pub fn validate_service(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let service_type = json::string(spec, "type").unwrap_or_default();
    let cluster_ip = json::string(spec, "clusterIP").unwrap_or_default();
    let mut causes = Vec::new();
    match service_type {
        "" => causes.push(field::required(&path.child("type"), "")),
        t if SERVICE_TYPES.contains(&t) => {}
        other => causes.push(field::not_supported(
            &path.child("type"),
            other,
            SERVICE_TYPES,
        )),
    }
    if service_type == "ExternalName" {
        causes.extend(external_name(spec, &path));
    } else {
        causes.extend(cluster_ips(spec, &path));
    }
    let ports = json::array(spec, "ports");
    if ports.is_empty() && cluster_ip != "None" && service_type != "ExternalName" {
        causes.push(field::required(&path.child("ports"), ""));
    }
    causes.extend(service_ports(ports, &path.child("ports"), service_type));
    causes.extend(meta::validate_labels(
        json::object(spec, "selector"),
        &path.child("selector"),
    ));
    causes.extend(session_affinity(spec, &path));
    causes.extend(traffic_policies(spec, &path, service_type));
    causes.extend(ip_families(spec, &path));
    causes
}

fn external_name(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if json::non_empty(spec, "clusterIP").is_some() {
        causes.push(field::forbidden(
            &path.child("clusterIP"),
            "may not be set for ExternalName services",
        ));
    }
    match json::string(spec, "externalName").unwrap_or_default() {
        "" => causes.push(field::required(&path.child("externalName"), "")),
        name => {
            for message in names::dns1123_subdomain_errors(name.trim_end_matches('.')) {
                causes.push(field::invalid(&path.child("externalName"), name, &message));
            }
        }
    }
    causes
}

fn cluster_ips(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if let Some(ip) = json::non_empty(spec, "clusterIP")
        && ip != "None"
        && ip.parse::<IpAddr>().is_err()
    {
        causes.push(field::invalid(&path.child("clusterIP"), ip, IP_MESSAGE));
    }
    for (index, ip) in json::array(spec, "clusterIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or_default();
        if ip != "None" && ip.parse::<IpAddr>().is_err() {
            causes.push(field::invalid(
                &path.child("clusterIPs").index(index),
                ip,
                IP_MESSAGE,
            ));
        }
    }
    causes
}

fn service_ports(ports: &[Value], path: &Path, service_type: &str) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut port_names = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let port_path = path.index(index);
        let name = json::string(port, "name").unwrap_or_default();
        if name.is_empty() && ports.len() > 1 {
            causes.push(field::required(&port_path.child("name"), ""));
        } else if !name.is_empty() {
            for message in names::dns1123_label_errors(name) {
                causes.push(field::invalid(&port_path.child("name"), name, &message));
            }
            if !port_names.insert(name) {
                causes.push(field::duplicate(&port_path.child("name"), name));
            }
        }
        let number = json::integer(port, "port").unwrap_or(0);
        causes.extend(port_number(number, &port_path.child("port")));
        let protocol = json::string(port, "protocol").unwrap_or_default();
        match protocol {
            "" => causes.push(field::required(&port_path.child("protocol"), "")),
            p if PROTOCOLS.contains(&p) => {}
            other => causes.push(field::not_supported(
                &port_path.child("protocol"),
                other,
                PROTOCOLS,
            )),
        }
        if !port_keys.insert((number, protocol)) {
            let rendered = format!(
                "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                field::go_quote(protocol)
            );
            causes.push(field::duplicate(&port_path, BadValue::Raw(rendered)));
        }
        if json::present(port, "targetPort") {
            causes.extend(port_number_or_name(
                json::int_or_string(port, "targetPort"),
                &port_path.child("targetPort"),
            ));
        }
        let node_port = json::integer(port, "nodePort").unwrap_or(0);
        if node_port != 0 {
            if service_type == "ClusterIP" {
                causes.push(field::forbidden(
                    &port_path.child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else {
                causes.extend(port_number(node_port, &port_path.child("nodePort")));
            }
        }
    }
    causes
}

fn session_affinity(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    match json::string(spec, "sessionAffinity").unwrap_or_default() {
        "" => causes.push(field::required(&path.child("sessionAffinity"), "")),
        "None" => {
            if json::present(spec, "sessionAffinityConfig") {
                causes.push(field::invalid(
                    &path.child("sessionAffinityConfig"),
                    field::json_value(spec.get("sessionAffinityConfig")),
                    "must not be set when session affinity is None",
                ));
            }
        }
        "ClientIP" => {
            let timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| json::integer(c, "timeoutSeconds"));
            if let Some(timeout) =
                timeout.filter(|t| *t <= 0 || *t > MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS)
            {
                causes.push(field::invalid(
                    &path
                        .child("sessionAffinityConfig")
                        .child("clientIP")
                        .child("timeoutSeconds"),
                    timeout,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
        other => causes.push(field::not_supported(
            &path.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    causes
}

fn traffic_policies(spec: &Value, path: &Path, service_type: &str) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    match json::string(spec, "internalTrafficPolicy") {
        None if ["ClusterIP", "NodePort", "LoadBalancer"].contains(&service_type) => {
            causes.push(field::required(&path.child("internalTrafficPolicy"), ""));
        }
        Some(policy) if !["Cluster", "Local"].contains(&policy) => {
            causes.push(field::not_supported(
                &path.child("internalTrafficPolicy"),
                policy,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(policy) = json::non_empty(spec, "externalTrafficPolicy") {
        if !["NodePort", "LoadBalancer"].contains(&service_type)
            && json::array(spec, "externalIPs").is_empty()
        {
            causes.push(field::invalid(
                &path.child("externalTrafficPolicy"),
                policy,
                "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
            ));
        } else if !["Cluster", "Local"].contains(&policy) {
            causes.push(field::not_supported(
                &path.child("externalTrafficPolicy"),
                policy,
                &["Cluster", "Local"],
            ));
        }
    }
    causes
}

fn ip_families(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if let Some(policy) = json::string(spec, "ipFamilyPolicy")
        && !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&policy)
    {
        causes.push(field::not_supported(
            &path.child("ipFamilyPolicy"),
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut seen = BTreeSet::new();
    for (index, family) in json::array(spec, "ipFamilies").iter().enumerate() {
        let family = family.as_str().unwrap_or_default();
        let family_path = path.child("ipFamilies").index(index);
        if !["IPv4", "IPv6"].contains(&family) {
            causes.push(field::not_supported(
                &family_path,
                family,
                &["IPv4", "IPv6"],
            ));
        } else if !seen.insert(family) {
            causes.push(field::duplicate(&family_path, family));
        }
    }
    causes
}

/// The allocated cluster IP cannot move (unless the service is or becomes ExternalName).
/// A missing clusterIP in the update means "keep it", as upstream carries it over.
pub fn validate_service_update(new: &Value, old: &Value) -> Vec<StatusCause> {
    let null = Value::Null;
    let new_spec = new.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    let external = |spec: &Value| json::string(spec, "type") == Some("ExternalName");
    if external(new_spec) || external(old_spec) {
        return Vec::new();
    }
    let path = Path::root("spec");
    let old_ip = json::non_empty(old_spec, "clusterIP");
    match (json::non_empty(new_spec, "clusterIP"), old_ip) {
        (Some(new_ip), Some(old_ip)) if new_ip != old_ip => {
            let rendered = format!("[]string{{{}}}", field::go_quote(new_ip));
            vec![field::invalid(
                &path.child("clusterIPs").index(0),
                BadValue::Raw(rendered),
                "may not change once set",
            )]
        }
        _ => Vec::new(),
    }
}

pub fn validate_namespace(object: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let path = Path::root("spec").child("finalizers");
    for finalizer in object
        .get("spec")
        .map(|s| json::array(s, "finalizers"))
        .unwrap_or_default()
    {
        let name = finalizer.as_str().unwrap_or_default();
        for message in names::qualified_name_errors(name) {
            causes.push(field::invalid(&path, name, &message));
        }
        causes.extend(meta::kube_finalizer_name(name, &path));
    }
    if let Some(phase) = object.get("status").and_then(|s| json::string(s, "phase"))
        && !["Active", "Terminating"].contains(&phase)
    {
        causes.push(field::not_supported(
            &Path::root("status").child("phase"),
            phase,
            &["Active", "Terminating"],
        ));
    }
    causes
}

pub fn validate_node(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec").child("taints");
    let mut causes = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, taint) in object
        .get("spec")
        .map(|s| json::array(s, "taints"))
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let taint_path = path.index(index);
        let key = json::string(taint, "key").unwrap_or_default();
        causes.extend(meta::validate_label_key(key, &taint_path.child("key")));
        let value = json::string(taint, "value").unwrap_or_default();
        for message in names::label_value_errors(value) {
            causes.push(field::invalid(&taint_path.child("value"), value, &message));
        }
        let effect = json::string(taint, "effect").unwrap_or_default();
        match effect {
            "" => causes.push(field::required(&taint_path.child("effect"), "")),
            "NoExecute" | "NoSchedule" | "PreferNoSchedule" => {}
            other => causes.push(field::not_supported(
                &taint_path.child("effect"),
                other,
                &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            )),
        }
        if !seen.insert((key, effect)) {
            causes.push(field::duplicate(
                &taint_path,
                BadValue::Raw(format!("{key}:{effect}")),
            ));
        }
    }
    causes
}

pub fn validate_endpoints(object: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for (index, subset) in json::array(object, "subsets").iter().enumerate() {
        let subset_path = Path::root("subsets").index(index);
        for list in ["addresses", "notReadyAddresses"] {
            for (address_index, address) in json::array(subset, list).iter().enumerate() {
                let ip = json::string(address, "ip").unwrap_or_default();
                if ip.parse::<IpAddr>().is_err() {
                    causes.push(field::invalid(
                        &subset_path.child(list).index(address_index).child("ip"),
                        ip,
                        IP_MESSAGE,
                    ));
                }
            }
        }
        let ports = json::array(subset, "ports");
        for (port_index, port) in ports.iter().enumerate() {
            let port_path = subset_path.child("ports").index(port_index);
            let name = json::string(port, "name").unwrap_or_default();
            if name.is_empty() && ports.len() > 1 {
                causes.push(field::required(&port_path.child("name"), ""));
            } else if !name.is_empty() {
                for message in names::dns1123_label_errors(name) {
                    causes.push(field::invalid(&port_path.child("name"), name, &message));
                }
            }
            causes.extend(port_number(
                json::integer(port, "port").unwrap_or(0),
                &port_path.child("port"),
            ));
            match json::string(port, "protocol").unwrap_or_default() {
                "" => causes.push(field::required(&port_path.child("protocol"), "")),
                p if PROTOCOLS.contains(&p) => {}
                other => causes.push(field::not_supported(
                    &port_path.child("protocol"),
                    other,
                    PROTOCOLS,
                )),
            }
        }
    }
    causes
}

pub fn validate_endpoint_slice(object: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    match json::string(object, "addressType").unwrap_or_default() {
        "" => causes.push(field::required(&Path::root("addressType"), "")),
        "IPv4" | "IPv6" | "FQDN" => {}
        other => causes.push(field::not_supported(
            &Path::root("addressType"),
            other,
            &["FQDN", "IPv4", "IPv6"],
        )),
    }
    for (index, endpoint) in json::array(object, "endpoints").iter().enumerate() {
        if json::array(endpoint, "addresses").is_empty() {
            causes.push(field::required(
                &Path::root("endpoints").index(index).child("addresses"),
                "must contain at least 1 address",
            ));
        }
    }
    causes
}

pub fn validate_lease(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    if let Some(duration) = json::integer(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        causes.push(field::invalid(
            &path.child("leaseDurationSeconds"),
            duration,
            "must be greater than 0",
        ));
    }
    causes.extend(meta::non_negative(
        spec,
        "leaseTransitions",
        &path.child("leaseTransitions"),
    ));
    causes
}

/// Quota names: qualified, and from the standard set when unprefixed.
fn is_standard_quota_resource(name: &str) -> bool {
    const STANDARD: &[&str] = &[
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    ];
    STANDARD.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

/// Object counts, which must be whole numbers.
fn is_integer_quota_resource(name: &str) -> bool {
    const COUNTS: &[&str] = &[
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    COUNTS.contains(&name) || name.starts_with("count/")
}

pub fn validate_resource_quota(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec").child("hard");
    let mut causes = Vec::new();
    let hard = object.get("spec").and_then(|s| json::object(s, "hard"));
    for (name, value) in hard.into_iter().flatten() {
        let entry_path = path.key(name);
        let name_causes = meta::validate_label_key(name, &entry_path);
        let is_bad_name = !name_causes.is_empty();
        causes.extend(name_causes);
        if !is_bad_name && !name.contains('/') && !is_standard_quota_resource(name) {
            causes.push(field::invalid(
                &entry_path,
                name.as_str(),
                "must be a standard resource for quota",
            ));
        }
        let shown = BadValue::Raw(quantity::display(value));
        match quantity::from_json(value) {
            None => causes.push(field::invalid(
                &entry_path,
                shown,
                &quantity::syntax_error(),
            )),
            Some(amount) if quantity::is_negative(&amount) => causes.push(field::invalid(
                &entry_path,
                shown,
                "must be greater than or equal to 0",
            )),
            Some(amount) if is_integer_quota_resource(name) && !quantity::is_integer(&amount) => {
                causes.push(field::invalid(&entry_path, shown, "must be an integer"));
            }
            Some(_) => {}
        }
    }
    const SCOPES: &[&str] = &[
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
        "VolumeAttributesClass",
    ];
    for (index, scope) in object
        .get("spec")
        .map(|s| json::array(s, "scopes"))
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let scope = scope.as_str().unwrap_or_default();
        if !SCOPES.contains(&scope) {
            causes.push(field::not_supported(
                &Path::root("spec").child("scopes").index(index),
                scope,
                SCOPES,
            ));
        }
    }
    causes
}

pub fn validate_limit_range(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec").child("limits");
    let mut causes = Vec::new();
    let mut types = BTreeSet::new();
    for (index, item) in object
        .get("spec")
        .map(|s| json::array(s, "limits"))
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let item_path = path.index(index);
        let limit_type = json::string(item, "type").unwrap_or_default();
        match limit_type {
            "" => causes.push(field::required(&item_path.child("type"), "")),
            "Container" | "Pod" | "PersistentVolumeClaim" => {}
            other => causes.push(field::not_supported(
                &item_path.child("type"),
                other,
                &["Container", "PersistentVolumeClaim", "Pod"],
            )),
        }
        if !limit_type.is_empty() && !types.insert(limit_type) {
            causes.push(field::duplicate(&item_path.child("type"), limit_type));
        }
        if limit_type == "Pod" {
            for key in ["default", "defaultRequest"] {
                if json::object(item, key).is_some_and(|m| !m.is_empty()) {
                    causes.push(field::forbidden(
                        &item_path.child(key),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
            }
        }
        causes.extend(limit_range_item_quantities(item, &item_path));
    }
    causes
}

/// The orderings a LimitRange item keeps between its sections: (lower section, higher section,
/// field the error sits on, message pattern).
const LIMIT_RANGE_ORDERINGS: [(&str, &str, &str, &str); 5] = [
    (
        "min",
        "max",
        "min",
        "min value {low} is greater than max value {high}",
    ),
    (
        "defaultRequest",
        "default",
        "defaultRequest",
        "default request value {low} is greater than default limit value {high}",
    ),
    (
        "default",
        "max",
        "default",
        "default value {low} is greater than max value {high}",
    ),
    (
        "min",
        "default",
        "default",
        "min value {low} is greater than default value {high}",
    ),
    (
        "defaultRequest",
        "max",
        "defaultRequest",
        "default request value {low} is greater than max value {high}",
    ),
];

/// Each quantity of a LimitRange item parses and is non-negative; returns the resource names seen.
fn limit_range_item_syntax<'a>(
    item: &'a Value,
    path: &Path,
) -> (BTreeSet<&'a str>, Vec<StatusCause>) {
    let mut causes = Vec::new();
    let sections = [
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    ];
    let mut resource_names = BTreeSet::new();
    for section in sections {
        for (name, value) in json::object(item, section).into_iter().flatten() {
            resource_names.insert(name.as_str());
            let shown = BadValue::Raw(quantity::display(value));
            match quantity::from_json(value) {
                None => causes.push(field::invalid(
                    &path.child(section).key(name),
                    shown,
                    &quantity::syntax_error(),
                )),
                Some(amount) if quantity::is_negative(&amount) => {
                    causes.push(field::invalid(
                        &path.child(section).key(name),
                        shown,
                        "must be greater than or equal to 0",
                    ));
                }
                Some(_) => {}
            }
        }
    }
    (resource_names, causes)
}

/// Every quantity parses and is non-negative; min ≤ defaultRequest ≤ default ≤ max; ratios ≥ 1.
fn limit_range_item_quantities(item: &Value, path: &Path) -> Vec<StatusCause> {
    let get = |section: &str, name: &str| item.get(section).and_then(|s| s.get(name));
    let (resource_names, mut causes) = limit_range_item_syntax(item, path);
    for name in resource_names {
        for (low_section, high_section, at, pattern) in LIMIT_RANGE_ORDERINGS {
            let (Some(low), Some(high)) = (get(low_section, name), get(high_section, name)) else {
                continue;
            };
            if let (Some(low_amount), Some(high_amount)) =
                (quantity::from_json(low), quantity::from_json(high))
                && low_amount > high_amount
            {
                let message = pattern
                    .replace("{low}", &quantity::display(low))
                    .replace("{high}", &quantity::display(high));
                let shown = get(at, name).map(quantity::display).unwrap_or_default();
                causes.push(field::invalid(
                    &path.child(at).key(name),
                    BadValue::Raw(shown),
                    &message,
                ));
            }
        }
        if let Some(ratio) = get("maxLimitRequestRatio", name)
            && quantity::from_json(ratio).is_some_and(|r| quantity::is_below_one(&r))
        {
            let shown = quantity::display(ratio);
            causes.push(field::invalid(
                &path.child("maxLimitRequestRatio").key(name),
                BadValue::Raw(shown.clone()),
                &format!("ratio {shown} is less than 1"),
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Value {
        json!({"spec": {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
            "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    }

    #[test]
    fn a_defaulted_service_is_valid() {
        assert_eq!(validate_service(&service()), vec![]);
    }

    #[test]
    fn service_ports_are_required_unless_headless() {
        let mut bad = service();
        bad["spec"]["ports"] = json!([]);
        assert_eq!(validate_service(&bad)[0].field, "spec.ports");
        bad["spec"]["clusterIP"] = json!("None");
        assert!(validate_service(&bad).is_empty());
    }

    #[test]
    fn multiple_service_ports_need_unique_names() {
        let mut bad = service();
        bad["spec"]["ports"] = json!([
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "http", "port": 81, "protocol": "TCP"},
            {"port": 82, "protocol": "TCP", "nodePort": 30000}
        ]);
        let fields = validate_service(&bad)
            .into_iter()
            .map(|c| c.field)
            .collect::<Vec<_>>();
        assert_eq!(
            fields,
            vec![
                "spec.ports[1].name",
                "spec.ports[2].name",
                "spec.ports[2].nodePort"
            ]
        );
    }

    #[test]
    fn cluster_ip_may_not_change() {
        let mut old = service();
        old["spec"]["clusterIP"] = json!("10.96.0.10");
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.96.0.11");
        let causes = validate_service_update(&new, &old);
        assert_eq!(causes[0].field, "spec.clusterIPs[0]");
        assert_eq!(
            causes[0].message,
            "Invalid value: []string{\"10.96.0.11\"}: may not change once set"
        );
        new["spec"].as_object_mut().map(|s| s.remove("clusterIP"));
        assert!(validate_service_update(&new, &old).is_empty());
    }

    #[test]
    fn namespace_finalizers_must_be_known_or_qualified() {
        let ok = json!({"spec": {"finalizers": ["kubernetes", "example.com/cleanup"]}});
        assert!(validate_namespace(&ok).is_empty());
        let bad = json!({"spec": {"finalizers": ["cleanup"]}});
        assert_eq!(
            validate_namespace(&bad)[0].message,
            "Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn quota_names_and_values_are_checked() {
        let ok = json!({"spec": {"hard": {"requests.cpu": "20", "requests.memory": "40Gi", "limits.cpu": "40",
            "limits.memory": "80Gi", "pods": "100", "services": "20", "count/deployments.apps": "5"}}});
        assert_eq!(validate_resource_quota(&ok), vec![]);
        let bad = json!({"spec": {"hard": {"gpus": "1", "pods": "1.5", "cpu": "-1"}}});
        let messages = validate_resource_quota(&bad)
            .into_iter()
            .map(|c| c.message)
            .collect::<Vec<_>>();
        assert_eq!(messages.len(), 3, "{messages:?}");
    }

    #[test]
    fn limit_range_orders_min_default_max() {
        let ok = json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "250m", "memory": "256Mi"}, "max": {"cpu": "4", "memory": "8Gi"}}]}});
        assert_eq!(validate_limit_range(&ok), vec![]);
        let bad = json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "8"}, "max": {"cpu": "4"}}]}});
        let causes = validate_limit_range(&bad);
        assert_eq!(causes[0].field, "spec.limits[0].default[cpu]");
        assert_eq!(
            causes[0].message,
            "Invalid value: 8: default value 8 is greater than max value 4"
        );
    }

    #[test]
    fn leases_and_nodes_are_checked() {
        assert_eq!(
            validate_lease(&json!({"spec": {"leaseDurationSeconds": 0}}))[0].message,
            "Invalid value: 0: must be greater than 0"
        );
        let node = json!({"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
        assert_eq!(validate_node(&node)[0].field, "spec.taints[0].effect");
    }
}
