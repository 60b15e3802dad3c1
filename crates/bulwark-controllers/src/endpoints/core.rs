//! The Endpoints controller's decisions (upstream `pkg/controller/endpoint`): a Service with a
//! selector and the pods it selects -> the Endpoints object that should exist. Pure.
//!
//! Ready pods go under `addresses`, unready ones under `notReadyAddresses`
//! (`publishNotReadyAddresses` puts all under `addresses`); finished pods and pods without an IP
//! are left out, and so are terminating pods unless the Service publishes not-ready addresses.
//! Ports come from each service port's `targetPort`, a number or a container port's name; a pod
//! without the named port is left out of that port only, so it lands in a subset of its own.
//! Subsets are repacked canonically ([`repack`]), as upstream's `endpoints.RepackSubsets`.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_core::selector::LabelSelector;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pods;

/// `endpoints.kubernetes.io/managed-by`: marks the Endpoints this controller writes.
pub const MANAGED_BY_LABEL: &str = "endpoints.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpoint-controller";
/// Set on the Endpoints and slices of a headless Service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// Upstream's `maxCapacity`: an Endpoints object lists at most this many addresses.
pub const MAX_CAPACITY: usize = 1000;

/// The pods a Service selects, or `None` for a Service without a selector (its Endpoints are
/// the user's to manage).
pub fn selector(service: &Service) -> Option<LabelSelector> {
    let set = service.spec.as_ref()?.selector.as_ref()?;
    if set.is_empty() {
        return None;
    }
    Some(LabelSelector::from_set(set))
}

/// The pods of `pods` in the Service's namespace that its selector matches.
pub fn selected<'a>(service: &Service, pods: &[&'a Pod]) -> Vec<&'a Pod> {
    let Some(selector) = selector(service) else {
        return Vec::new();
    };
    let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
    pods.iter()
        .copied()
        .filter(|pod| pod.metadata.namespace.as_deref().unwrap_or_default() == namespace)
        .filter(|pod| selector.matches(&crate::labels::labels(&pod.metadata)))
        .collect()
}

pub fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
}

/// `ShouldPodBeInEndpoints`: not finished, has an IP, and not terminating unless asked.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if matches!(pods::phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    if pod_ip(pod).is_none() {
        return false;
    }
    include_terminating || !pods::is_terminating(pod)
}

pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

pub fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

pub fn service_ports(service: &Service) -> &[ServicePort] {
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default()
}

/// `podutil.FindPort`: the pod's port for a service port's `targetPort` (a number as is, a
/// name looked up among the containers' (and restartable init containers') ports of the same
/// protocol). `None` when the pod has no such named port.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let target = port
        .target_port
        .clone()
        .unwrap_or(IntOrString::Int(port.port));
    let name = match target {
        IntOrString::Int(number) => return Some(number),
        IntOrString::String(text) => match text.parse::<i32>() {
            Ok(number) => return Some(number),
            Err(_) => text,
        },
    };
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name.as_str())
                && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

/// The pod's `spec.hostname`, when it is a member of this (headless) Service's subdomain.
pub fn hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    let same_namespace = pod.metadata.namespace == service.metadata.namespace;
    let member = spec.subdomain.as_deref() == service.metadata.name.as_deref();
    (same_namespace && member).then(|| hostname.to_string())
}

pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

fn address(pod: &Pod, service: &Service) -> Option<EndpointAddress> {
    Some(EndpointAddress {
        ip: pod_ip(pod)?.to_string(),
        hostname: hostname(pod, service),
        node_name: pods::node_name(pod).map(str::to_string),
        target_ref: Some(pod_reference(pod)),
    })
}

fn endpoint_port(port: &ServicePort, number: i32) -> EndpointPort {
    EndpointPort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        port: number,
        protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
        app_protocol: port.app_protocol.clone(),
    }
}

/// One subset per (pod, port) before repacking, as upstream builds them.
fn unpacked_subsets(service: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let publish = publishes_not_ready(service);
    let ports = service_ports(service);
    let mut subsets = Vec::new();
    for pod in selected(service, pods) {
        if !should_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(address) = address(pod, service) else {
            continue;
        };
        let ready = publish || pods::is_ready(pod);
        let subset = |ports: Option<Vec<EndpointPort>>| EndpointSubset {
            addresses: ready.then(|| vec![address.clone()]),
            not_ready_addresses: (!ready).then(|| vec![address.clone()]),
            ports,
        };
        if ports.is_empty() {
            // Headless Services without ports still list their pods.
            if is_headless(service) {
                subsets.push(subset(None));
            }
            continue;
        }
        for port in ports {
            if let Some(number) = find_port(pod, port) {
                subsets.push(subset(Some(vec![endpoint_port(port, number)])));
            }
        }
    }
    subsets
}

/// How repacking tells addresses apart: IP and target pod.
fn address_key(address: &EndpointAddress) -> (String, String) {
    let uid = address
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    (address.ip.clone(), uid)
}

fn port_key(port: &EndpointPort) -> (String, i32, String, String) {
    (
        port.name.clone().unwrap_or_default(),
        port.port,
        port.protocol.clone().unwrap_or_default(),
        port.app_protocol.clone().unwrap_or_default(),
    )
}

/// `RepackSubsets`: every distinct set of (address, ready) gets one subset with all the ports
/// that exactly that set offers; addresses, ports and subsets in a canonical order. Subsets
/// without ports keep their addresses (upstream's `Port: -1` sentinel).
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    type Key = (String, String);
    type PortId = (String, i32, String, String);
    let mut addresses: BTreeMap<Key, EndpointAddress> = BTreeMap::new();
    // Port (None: the no-ports sentinel) -> address -> ready.
    let mut by_port: BTreeMap<Option<PortId>, BTreeMap<Key, bool>> = BTreeMap::new();
    let mut ports: BTreeMap<PortId, EndpointPort> = BTreeMap::new();
    for subset in subsets {
        let subset_ports: Vec<Option<&EndpointPort>> = match subset.ports.as_deref() {
            None | Some([]) => vec![None],
            Some(list) => list.iter().map(Some).collect(),
        };
        for port in subset_ports {
            let port_id = port.map(port_key);
            if let Some(port) = port {
                ports.insert(port_key(port), port.clone());
            }
            let holders = by_port.entry(port_id).or_default();
            let listed = [
                (&subset.addresses, true),
                (&subset.not_ready_addresses, false),
            ];
            for (list, ready) in listed {
                for address in list.iter().flatten() {
                    let key = address_key(address);
                    addresses
                        .entry(key.clone())
                        .or_insert_with(|| address.clone());
                    holders.insert(key, ready);
                }
            }
        }
    }
    // Address sets -> the ports they offer.
    let mut groups: BTreeMap<Vec<(Key, bool)>, BTreeSet<PortId>> = BTreeMap::new();
    for (port, holders) in by_port {
        let set: Vec<(Key, bool)> = holders.into_iter().collect();
        let entry = groups.entry(set).or_default();
        if let Some(port) = port {
            entry.insert(port);
        }
    }
    groups
        .into_iter()
        .filter(|(set, _)| !set.is_empty())
        .map(|(set, port_ids)| {
            let pick = |ready: bool| {
                let list: Vec<EndpointAddress> = set
                    .iter()
                    .filter(|(_, r)| *r == ready)
                    .filter_map(|(key, _)| addresses.get(key).cloned())
                    .collect();
                (!list.is_empty()).then_some(list)
            };
            let port_list: Vec<EndpointPort> = port_ids
                .iter()
                .filter_map(|id| ports.get(id).cloned())
                .collect();
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: (!port_list.is_empty()).then_some(port_list),
            }
        })
        .collect()
}

/// The latest moment among what the Endpoints reflect: the Service's creation and its pods'
/// readiness transitions (and creation, for pods never ready yet).
pub fn trigger_time(service: &Service, pods: &[&Pod]) -> Option<Timestamp> {
    let pod_times = selected(service, pods).into_iter().filter_map(|pod| {
        let status = pod.status.as_ref();
        let ready_change = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0));
        ready_change.or_else(|| pods::created(pod))
    });
    let created = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
    pod_times.chain(created).max()
}

/// The labels the Endpoints and slices of a Service carry: the Service's, plus the headless mark.
pub fn service_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = crate::labels::labels(&service.metadata);
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

/// Keeps the first [`MAX_CAPACITY`] addresses (ready ones first), as upstream truncates.
fn truncate(subsets: Vec<EndpointSubset>) -> (Vec<EndpointSubset>, bool) {
    let total: usize = subsets.iter().map(address_count).sum();
    if total <= MAX_CAPACITY {
        return (subsets, false);
    }
    let mut room = MAX_CAPACITY;
    let mut keep = |list: Option<Vec<EndpointAddress>>| {
        let mut list = list.unwrap_or_default();
        list.truncate(room);
        room -= list.len();
        (!list.is_empty()).then_some(list)
    };
    let mut subsets = subsets;
    for subset in &mut subsets {
        subset.addresses = keep(subset.addresses.take());
    }
    for subset in &mut subsets {
        subset.not_ready_addresses = keep(subset.not_ready_addresses.take());
    }
    subsets.retain(|s| address_count(s) > 0);
    (subsets, true)
}

pub fn address_count(subset: &EndpointSubset) -> usize {
    subset.addresses.as_ref().map_or(0, Vec::len)
        + subset.not_ready_addresses.as_ref().map_or(0, Vec::len)
}

/// What the Service's Endpoints should hold, given the pods (of any namespace) and `current`.
/// The trigger-time annotation keeps its value while nothing else changes.
pub fn desired(service: &Service, pods: &[&Pod], current: Option<&Endpoints>) -> Endpoints {
    let (subsets, truncated) = truncate(repack(&unpacked_subsets(service, pods)));
    let mut labels = service_labels(service);
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    let mut annotations = current
        .and_then(|e| e.metadata.annotations.clone())
        .unwrap_or_default();
    annotations.remove(OVER_CAPACITY_ANNOTATION);
    if truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
    }
    let unchanged = current.is_some_and(|e| same_subsets(e.subsets.as_deref(), &subsets));
    if !unchanged || !annotations.contains_key(TRIGGER_TIME_ANNOTATION) {
        match trigger_time(service, pods) {
            Some(at) => annotations.insert(TRIGGER_TIME_ANNOTATION.into(), format_time(at)),
            None => annotations.remove(TRIGGER_TIME_ANNOTATION),
        };
    }
    Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    }
}

/// RFC 3339 with second precision, as upstream formats the annotation.
pub fn format_time(at: Timestamp) -> String {
    let seconds = Timestamp::from_second(at.as_second()).unwrap_or(at);
    seconds.to_string()
}

fn same_subsets(current: Option<&[EndpointSubset]>, desired: &[EndpointSubset]) -> bool {
    current.unwrap_or_default() == desired
}

/// Whether writing `desired` over `current` would change anything the controller owns.
pub fn needs_update(current: &Endpoints, desired: &Endpoints) -> bool {
    current.subsets.as_deref().unwrap_or_default() != desired.subsets.as_deref().unwrap_or_default()
        || current.metadata.labels.clone().unwrap_or_default()
            != desired.metadata.labels.clone().unwrap_or_default()
        || current.metadata.annotations.clone().unwrap_or_default()
            != desired.metadata.annotations.clone().unwrap_or_default()
}

#[cfg(test)]
pub mod fixtures {
    use super::*;
    use crate::pods::fixtures::at;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodSpec, PodStatus, ServiceSpec,
    };
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    pub fn service(name: &str, app: &str, ports: Vec<ServicePort>) -> Service {
        let mut service = Service::default();
        service.metadata.name = Some(name.into());
        service.metadata.namespace = Some("default".into());
        service.metadata.creation_timestamp = Some(Time(at(0)));
        service.spec = Some(ServiceSpec {
            selector: Some([("app".to_string(), app.to_string())].into()),
            ports: Some(ports),
            cluster_ip: Some("127.96.1.1".into()),
            ..ServiceSpec::default()
        });
        service
    }

    pub fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
        ServicePort {
            name: (!name.is_empty()).then(|| name.to_string()),
            port,
            target_port: Some(target),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        }
    }

    /// A pod of `app` with `ip`, ready or not, whose container names port 8080 `http`.
    pub fn pod(name: &str, app: &str, ip: Option<&str>, ready: bool) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some(format!("uid-{name}"));
        pod.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        pod.metadata.creation_timestamp = Some(Time(at(1)));
        pod.spec = Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "app".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        });
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: ip.map(str::to_string),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(at(5))),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use proptest::prelude::*;

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    fn web() -> Service {
        service("web", "web", vec![port("", 80, IntOrString::Int(8080))])
    }

    #[test]
    fn ready_pods_are_addresses_and_unready_ones_not_ready_addresses() {
        let a = pod("a", "web", Some("127.128.0.2"), true);
        let b = pod("b", "web", Some("127.128.0.3"), false);
        let c = pod("c", "web", None, true);
        let other = pod("d", "db", Some("127.128.0.5"), true);
        let endpoints = desired(&web(), &[&a, &b, &c, &other], None);
        let subsets = endpoints.subsets.unwrap();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["127.128.0.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["127.128.0.3"]);
        let port = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!((port.port, port.protocol.as_deref()), (8080, Some("TCP")));
        let address = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(address.node_name.as_deref(), Some("node-1"));
        let target = address.target_ref.as_ref().unwrap();
        assert_eq!(target.name.as_deref(), Some("a"));
        assert_eq!(target.uid.as_deref(), Some("uid-a"));
        let labels = endpoints.metadata.labels.unwrap();
        assert_eq!(labels[MANAGED_BY_LABEL], CONTROLLER_NAME);
        let annotations = endpoints.metadata.annotations.unwrap();
        assert!(annotations[TRIGGER_TIME_ANNOTATION].ends_with('Z'));
    }

    #[test]
    fn publish_not_ready_lists_everything_as_ready_and_terminating_pods_go() {
        let a = pod("a", "web", Some("127.128.0.2"), false);
        let mut b = pod("b", "web", Some("127.128.0.3"), true);
        b.metadata.deletion_timestamp = Some(Time(crate::pods::fixtures::at(9)));
        let endpoints = desired(&web(), &[&a, &b], None);
        let subsets = endpoints.subsets.unwrap();
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["127.128.0.2"]);
        assert!(subsets[0].addresses.is_none());
        let mut publishing = web();
        publishing
            .spec
            .as_mut()
            .unwrap()
            .publish_not_ready_addresses = Some(true);
        let subsets = desired(&publishing, &[&a, &b], None).subsets.unwrap();
        assert_eq!(ips(&subsets[0].addresses), ["127.128.0.2", "127.128.0.3"]);
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn named_ports_resolve_and_pods_without_them_get_their_own_subset() {
        let service = service(
            "web",
            "web",
            vec![
                port("http", 80, IntOrString::String("http".into())),
                port("metrics", 9090, IntOrString::Int(9090)),
            ],
        );
        let a = pod("a", "web", Some("127.128.0.2"), true);
        let mut b = pod("b", "web", Some("127.128.0.3"), true);
        b.spec.as_mut().unwrap().containers[0].ports = None;
        let subsets = desired(&service, &[&a, &b], None).subsets.unwrap();
        // As upstream repacks: each distinct address set gets the ports exactly it offers.
        assert_eq!(subsets.len(), 2, "{subsets:?}");
        let offering = |name: &str| {
            subsets
                .iter()
                .find(|s| {
                    s.ports
                        .iter()
                        .flatten()
                        .any(|p| p.name.as_deref() == Some(name))
                })
                .unwrap()
        };
        let http = offering("http");
        assert_eq!(ips(&http.addresses), ["127.128.0.2"]);
        assert_eq!(http.ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(
            ips(&offering("metrics").addresses),
            ["127.128.0.2", "127.128.0.3"]
        );
    }

    #[test]
    fn services_without_selectors_select_nothing_and_headless_ones_list_hosts() {
        let mut manual = web();
        manual.spec.as_mut().unwrap().selector = None;
        assert!(selector(&manual).is_none());
        let mut headless = service("db", "db", vec![]);
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let mut a = pod("a", "db", Some("127.128.0.2"), true);
        a.spec.as_mut().unwrap().hostname = Some("db-0".into());
        a.spec.as_mut().unwrap().subdomain = Some("db".into());
        let endpoints = desired(&headless, &[&a], None);
        let subsets = endpoints.subsets.unwrap();
        assert!(subsets[0].ports.is_none());
        let address = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(address.hostname.as_deref(), Some("db-0"));
        assert!(
            endpoints
                .metadata
                .labels
                .unwrap()
                .contains_key(HEADLESS_LABEL)
        );
    }

    #[test]
    fn the_trigger_time_stays_while_nothing_changes() {
        let a = pod("a", "web", Some("127.128.0.2"), true);
        let mut first = desired(&web(), &[&a], None);
        first
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(TRIGGER_TIME_ANNOTATION.into(), "kept".into());
        let again = desired(&web(), &[&a], Some(&first));
        assert!(!needs_update(&first, &again));
        let b = pod("b", "web", Some("127.128.0.3"), true);
        let changed = desired(&web(), &[&a, &b], Some(&first));
        assert!(needs_update(&first, &changed));
        assert_ne!(
            changed.metadata.annotations.unwrap()[TRIGGER_TIME_ANNOTATION],
            "kept"
        );
    }

    #[test]
    fn more_than_a_thousand_addresses_are_truncated() {
        let pods: Vec<Pod> = (0..1001)
            .map(|i| {
                let ip = format!("127.128.{}.{}", i / 250, i % 250 + 2);
                pod(&format!("p{i}"), "web", Some(&ip), i % 2 == 0)
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let endpoints = desired(&web(), &refs, None);
        let total: usize = endpoints.subsets.iter().flatten().map(address_count).sum();
        assert_eq!(total, MAX_CAPACITY);
        assert_eq!(
            endpoints.metadata.annotations.unwrap()[OVER_CAPACITY_ANNOTATION],
            "truncated"
        );
    }

    proptest! {
        #[test]
        fn every_selected_pod_with_an_ip_appears_once_in_the_right_list(
            specs in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()), 0..30),
            publish in any::<bool>(),
        ) {
            let pods: Vec<Pod> = specs.iter().enumerate().map(|(i, (ready, has_ip, named, mine))| {
                let ip = format!("127.128.0.{}", i + 2);
                let mut pod = pod(&format!("p{i}"), if *mine { "web" } else { "db" }, has_ip.then_some(ip.as_str()), *ready);
                if !named {
                    pod.spec.as_mut().unwrap().containers[0].ports = None;
                }
                pod
            }).collect();
            let refs: Vec<&Pod> = pods.iter().collect();
            let mut service = service("web", "web", vec![port("http", 80, IntOrString::String("http".into()))]);
            service.spec.as_mut().unwrap().publish_not_ready_addresses = Some(publish);
            let subsets = desired(&service, &refs, None).subsets.unwrap_or_default();
            for (i, (ready, has_ip, named, mine)) in specs.iter().enumerate() {
                let ip = format!("127.128.0.{}", i + 2);
                let count = |ready_list: bool| subsets.iter()
                    .flat_map(|s| if ready_list { s.addresses.iter().flatten() } else { s.not_ready_addresses.iter().flatten() })
                    .filter(|a| a.ip == ip)
                    .count();
                let listed = *has_ip && *named && *mine;
                let as_ready = listed && (*ready || publish);
                prop_assert_eq!(count(true), usize::from(as_ready));
                prop_assert_eq!(count(false), usize::from(listed && !as_ready));
            }
            // Repacking is canonical: packing again changes nothing.
            prop_assert_eq!(repack(&subsets), subsets);
        }
    }
}
