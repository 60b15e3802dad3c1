//! Services, Endpoints and EndpointSlices.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Endpoints, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

use super::columns::{AGE, Column, NAME, field_of};
use super::duration::since;
use super::fields::{integer, list, name, object, optional_integer, optional_text, text, time};
use super::format::labels;

pub(super) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Type", field_of::<ServiceSpec>("type")),
    Column::text("Cluster-IP", field_of::<ServiceSpec>("clusterIP")),
    Column::text("External-IP", field_of::<ServiceSpec>("externalIPs")),
    Column::text("Port(s)", field_of::<ServiceSpec>("ports")),
    AGE,
    Column::text("Selector", field_of::<ServiceSpec>("selector")).wide(),
];

pub(super) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Endpoints", field_of::<Endpoints>("subsets")),
    AGE,
];

pub(super) const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    Column::text("AddressType", field_of::<EndpointSlice>("addressType")),
    Column::text("Ports", field_of::<EndpointSlice>("ports")),
    Column::text("Endpoints", field_of::<EndpointSlice>("endpoints")),
    AGE,
];

/// How many items a list cell shows before `+ N more...`.
const SHOWN_ITEMS: usize = 3;

fn age(object: &Value, now: Timestamp) -> Value {
    json!(since(time(object, &["metadata", "creationTimestamp"]), now))
}

pub(super) fn service_cells(service: &Value, now: Timestamp) -> Vec<Value> {
    let ports = port_string(list(service, &["spec", "ports"]));
    vec![
        json!(name(service)),
        json!(text(service, &["spec", "type"])),
        json!(cluster_ip(service)),
        json!(external_ip(service)),
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports
        }),
        age(service, now),
        json!(labels(object(service, &["spec", "selector"]))),
    ]
}

/// `spec.clusterIP` wins over `spec.clusterIPs[0]`, as in the v1 conversion; `<none>` without.
fn cluster_ip(service: &Value) -> &str {
    match text(service, &["spec", "clusterIP"]) {
        "" => list(service, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
        ip => ip,
    }
}

/// Upstream's `getServiceExternalIP` as the server prints it (wide, so never truncated).
fn external_ip(service: &Value) -> String {
    let external_ips: Vec<&str> = list(service, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(service, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let mut addresses = load_balancer_addresses(service);
            addresses.extend(external_ips.iter().map(|ip| ip.to_string()));
            if addresses.is_empty() {
                "<pending>".to_string()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => text(service, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// Ingress IPs (or hostnames when no IP), sorted and deduplicated.
fn load_balancer_addresses(service: &Value) -> Vec<String> {
    let addresses: BTreeSet<&str> = list(service, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|ingress| match text(ingress, &["ip"]) {
            "" => text(ingress, &["hostname"]),
            ip => ip,
        })
        .filter(|address| !address.is_empty())
        .collect();
    addresses.into_iter().map(str::to_string).collect()
}

/// `80/TCP,443:30443/TCP`.
fn port_string(ports: &[Value]) -> String {
    let pieces: Vec<String> = ports
        .iter()
        .map(|port| {
            let number = integer(port, &["port"]);
            let protocol = text(port, &["protocol"]);
            match integer(port, &["nodePort"]) {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect();
    pieces.join(",")
}

pub(super) fn endpoints_cells(endpoints: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(endpoints)),
        json!(format_endpoints(endpoints)),
        age(endpoints, now),
    ]
}

/// Up to three `ip:port` pairs across subsets (bare IPs for port-less subsets), then
/// `+ N more...`; `<none>` without subsets.
fn format_endpoints(endpoints: &Value) -> String {
    let subsets = list(endpoints, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown = Vec::new();
    let mut total: usize = 0;
    for subset in subsets {
        let addresses = list(subset, &["addresses"]);
        let ports = list(subset, &["ports"]);
        if ports.is_empty() {
            total = total.saturating_add(addresses.len());
            shown.extend(addresses.iter().map(|a| text(a, &["ip"]).to_string()));
            continue;
        }
        for port in ports {
            total = total.saturating_add(addresses.len());
            let number = integer(port, &["port"]);
            shown.extend(
                addresses
                    .iter()
                    .map(|a| join_host_port(text(a, &["ip"]), number)),
            );
        }
        // Only what is shown needs keeping; the total keeps counting.
        shown.truncate(SHOWN_ITEMS);
    }
    shown.truncate(SHOWN_ITEMS);
    let joined = shown.join(",");
    if total > SHOWN_ITEMS {
        format!("{joined} + {} more...", total - SHOWN_ITEMS)
    } else {
        joined
    }
}

/// Go's `net.JoinHostPort`: IPv6 hosts go in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(super) fn endpoint_slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = list(slice, &["ports"])
        .iter()
        .map(|port| {
            match (
                optional_integer(port, &["port"]),
                optional_text(port, &["name"]),
            ) {
                (Some(number), _) => number.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            }
        })
        .collect();
    let addresses: Vec<String> = list(slice, &["endpoints"])
        .iter()
        .flat_map(|endpoint| list(endpoint, &["addresses"]))
        .map(|address| address.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        json!(name(slice)),
        json!(text(slice, &["addressType"])),
        json!(list_with_more(ports)),
        json!(list_with_more(addresses)),
        age(slice, now),
    ]
}

/// Upstream's `listWithMoreString`: three items, `+ N more...`, or `<unset>` when empty.
fn list_with_more(items: Vec<String>) -> String {
    let total = items.len();
    let shown = items
        .into_iter()
        .take(SHOWN_ITEMS)
        .collect::<Vec<_>>()
        .join(",");
    if total > SHOWN_ITEMS {
        format!("{shown} + {} more...", total - SHOWN_ITEMS)
    } else if shown.is_empty() {
        "<unset>".to_string()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    fn service(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:59:00Z"}, "spec": spec, "status": status})
    }

    #[test]
    fn cluster_ip_service_row() {
        let service = service(
            json!({"type": "ClusterIP", "clusterIP": "127.96.0.10", "clusterIPs": ["127.96.0.10"],
                   "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                   "selector": {"app": "web"}}),
            json!({}),
        );
        assert_eq!(
            service_cells(&service, now()),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("127.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("60s"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn external_ips_by_service_type() {
        let node_port = service(
            json!({"type": "NodePort", "externalIPs": ["1.2.3.4"], "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
            json!({}),
        );
        let row = service_cells(&node_port, now());
        assert_eq!(
            row[2..5],
            [json!("<none>"), json!("1.2.3.4"), json!("443:30443/TCP")]
        );
        let pending = service(
            json!({"type": "LoadBalancer", "clusterIP": "None"}),
            json!({}),
        );
        assert_eq!(
            service_cells(&pending, now())[2..5],
            [json!("None"), json!("<pending>"), json!("<none>")]
        );
        let balanced = service(
            json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"ip": "5.6.7.8"}, {"ip": "5.6.7.8"}]}}),
        );
        assert_eq!(
            service_cells(&balanced, now())[3],
            "5.6.7.8,lb.example,9.9.9.9"
        );
        let external = service(
            json!({"type": "ExternalName", "externalName": "db.example"}),
            json!({}),
        );
        assert_eq!(service_cells(&external, now())[3], "db.example");
        assert_eq!(service_cells(&json!({}), now())[3], "<unknown>");
    }

    #[test]
    fn endpoints_show_three_then_more() {
        let endpoints = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "127.128.0.1"}, {"ip": "127.128.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "::1"}]}
        ]});
        assert_eq!(
            format_endpoints(&endpoints),
            "127.128.0.1:80,127.128.0.2:80,127.128.0.1:443 + 2 more..."
        );
        let few =
            json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}]});
        assert_eq!(format_endpoints(&few), "[fd00::1]:8080");
        assert_eq!(format_endpoints(&json!({})), "<none>");
    }

    #[test]
    fn endpoint_slice_row() {
        let slice = json!({
            "metadata": {"name": "web-abc", "creationTimestamp": "2025-06-01T11:00:00Z"},
            "addressType": "IPv4",
            "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["127.128.0.1"]}, {"addresses": ["127.128.0.2", "127.128.0.3", "127.128.0.4"]}]
        });
        assert_eq!(
            endpoint_slice_cells(&slice, now()),
            vec![
                json!("web-abc"),
                json!("IPv4"),
                json!("80,metrics,*"),
                json!("127.128.0.1,127.128.0.2,127.128.0.3 + 1 more..."),
                json!("60m")
            ]
        );
        assert_eq!(
            endpoint_slice_cells(&json!({}), now())[2..4],
            [json!("<unset>"), json!("<unset>")]
        );
    }
}
