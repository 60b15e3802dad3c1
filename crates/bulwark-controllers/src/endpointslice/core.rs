//! The EndpointSlice controller's decisions (upstream `pkg/controller/endpointslice`): a
//! Service with a selector, its pods and the nodes -> the `discovery.k8s.io/v1` slices to
//! create, update and delete. Pure.
//!
//! Each pod becomes one endpoint with `conditions.ready/serving/terminating`, its node, the
//! node's zone and a reference to the pod; terminating pods stay listed (`terminating: true`)
//! as upstream does. Endpoints are grouped by the ports they resolve to (a pod lacking a named
//! port has a different port set), and each group fills slices of at most
//! [`MAX_ENDPOINTS_PER_SLICE`]. An endpoint stays in the slice it is already in when it can, so
//! a readiness change rewrites one slice, not all of them. A Service with no endpoints keeps one
//! empty placeholder slice.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::endpoints::core as endpoints;
use crate::labels::controller_owner;
use crate::pods;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Upstream's default `--max-endpoints-per-slice`.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub enum SliceAction {
    /// A new slice (named by the server from `generateName: <service>-`).
    Create(EndpointSlice),
    /// An existing slice with new content (its name and resourceVersion kept).
    Update(EndpointSlice),
    Delete(String),
}

/// The zone of each node, by name.
pub fn zones(nodes: &[&Node]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .filter_map(|node| {
            let zone = node.metadata.labels.as_ref()?.get(ZONE_LABEL)?;
            Some((node.metadata.name.clone()?, zone.clone()))
        })
        .collect()
}

fn endpoint(pod: &Pod, service: &Service, zones: &BTreeMap<String, String>) -> Option<Endpoint> {
    let serving = pods::is_ready(pod);
    let terminating = pods::is_terminating(pod);
    let ready = endpoints::publishes_not_ready(service) || (serving && !terminating);
    let node = pods::node_name(pod).map(str::to_string);
    Some(Endpoint {
        addresses: vec![endpoints::pod_ip(pod)?.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: endpoints::hostname(pod, service),
        zone: node.as_ref().and_then(|n| zones.get(n).cloned()),
        node_name: node,
        target_ref: Some(endpoints::pod_reference(pod)),
        ..Endpoint::default()
    })
}

/// The ports a pod serves for the Service, in the Service's order.
fn ports_of(pod: &Pod, service: &Service) -> Vec<EndpointPort> {
    endpoints::service_ports(service)
        .iter()
        .filter_map(|port| {
            Some(EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(endpoints::find_port(pod, port)?),
                protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: port.app_protocol.clone(),
            })
        })
        .collect()
}

type PortsKey = Vec<(String, i32, String)>;

fn ports_key(ports: &[EndpointPort]) -> PortsKey {
    let mut key: PortsKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// Desired endpoints grouped by port set.
fn desired_groups(
    service: &Service,
    pods: &[&Pod],
    zones: &BTreeMap<String, String>,
) -> BTreeMap<PortsKey, (Vec<EndpointPort>, Vec<Endpoint>)> {
    let mut groups: BTreeMap<PortsKey, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    for pod in endpoints::selected(service, pods) {
        if !endpoints::should_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = ports_of(pod, service);
        if ports.is_empty() && !endpoints::service_ports(service).is_empty() {
            continue;
        }
        let Some(endpoint) = endpoint(pod, service, zones) else {
            continue;
        };
        let group = groups
            .entry(ports_key(&ports))
            .or_insert_with(|| (ports, Vec::new()));
        group.1.push(endpoint);
    }
    groups
}

/// The slices this controller manages for the Service.
pub fn managed<'a>(service: &Service, slices: &[&'a EndpointSlice]) -> Vec<&'a EndpointSlice> {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    slices
        .iter()
        .copied()
        .filter(|s| s.metadata.namespace == service.metadata.namespace)
        .filter(|s| {
            let labels = s.metadata.labels.as_ref();
            let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
            label(SERVICE_NAME_LABEL) == Some(name)
                && label(MANAGED_BY_LABEL) == Some(CONTROLLER_NAME)
        })
        .collect()
}

fn endpoint_key(endpoint: &Endpoint) -> (String, String) {
    let uid = endpoint
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    (endpoint.addresses.first().cloned().unwrap_or_default(), uid)
}

fn sorted(mut list: Vec<Endpoint>) -> Vec<Endpoint> {
    list.sort_by_key(endpoint_key);
    list
}

/// Metadata every slice of the Service carries.
fn slice_meta(service: &Service) -> ObjectMeta {
    let mut labels = endpoints::service_labels(service);
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    ObjectMeta {
        generate_name: Some(format!(
            "{}-",
            service.metadata.name.as_deref().unwrap_or_default()
        )),
        namespace: service.metadata.namespace.clone(),
        labels: Some(labels),
        owner_references: Some(vec![controller_owner("v1", "Service", &service.metadata)]),
        ..ObjectMeta::default()
    }
}

fn new_slice(service: &Service, ports: &[EndpointPort], list: Vec<Endpoint>) -> EndpointSlice {
    EndpointSlice {
        metadata: slice_meta(service),
        address_type: "IPv4".into(),
        endpoints: sorted(list),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// An existing slice rewritten with `list` (and the Service's labels and owner), or `None`
/// when it already says exactly that.
fn rewrite(
    service: &Service,
    slice: &EndpointSlice,
    ports: &[EndpointPort],
    list: Vec<Endpoint>,
) -> Option<EndpointSlice> {
    let template = new_slice(service, ports, list);
    let mut current_endpoints = slice.endpoints.clone();
    current_endpoints.sort_by_key(endpoint_key);
    let same = current_endpoints == template.endpoints
        && slice.ports.clone().unwrap_or_default() == template.ports.clone().unwrap_or_default()
        && slice.metadata.labels == template.metadata.labels
        && slice.metadata.owner_references == template.metadata.owner_references;
    if same {
        return None;
    }
    let mut next = slice.clone();
    next.endpoints = template.endpoints;
    next.ports = template.ports;
    next.metadata.labels = template.metadata.labels;
    next.metadata.owner_references = template.metadata.owner_references;
    Some(next)
}

/// The writes that make the Service's slices list `pods`. `slices` may hold any slices; only
/// the ones this controller manages for the Service are considered.
pub fn reconcile(
    service: &Service,
    pods: &[&Pod],
    nodes: &[&Node],
    slices: &[&EndpointSlice],
) -> Vec<SliceAction> {
    let zones = zones(nodes);
    let mut groups = desired_groups(service, pods, &zones);
    let existing = managed(service, slices);
    if groups.is_empty() {
        // The placeholder: one empty slice says "no endpoints" rather than "not yet synced".
        groups.insert(Vec::new(), (Vec::new(), Vec::new()));
    }
    let mut by_ports: BTreeMap<PortsKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in &existing {
        let key = ports_key(slice.ports.as_deref().unwrap_or_default());
        by_ports.entry(key).or_default().push(slice);
    }
    let mut actions = Vec::new();
    for (key, (ports, wanted)) in groups {
        let mut current = by_ports.remove(&key).unwrap_or_default();
        current.sort_by_key(|s| s.metadata.name.clone());
        actions.extend(fill_group(service, &ports, wanted, &current));
    }
    for stale in by_ports.into_values().flatten() {
        actions.push(SliceAction::Delete(
            stale.metadata.name.clone().unwrap_or_default(),
        ));
    }
    stamp_trigger_time(&mut actions, endpoints::trigger_time(service, pods));
    actions
}

/// Slices written get the `last-change-trigger-time` annotation, as upstream's do.
fn stamp_trigger_time(actions: &mut [SliceAction], at: Option<jiff::Timestamp>) {
    let Some(at) = at else { return };
    for action in actions {
        if let SliceAction::Create(slice) | SliceAction::Update(slice) = action {
            slice
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(
                    endpoints::TRIGGER_TIME_ANNOTATION.into(),
                    endpoints::format_time(at),
                );
        }
    }
}

/// Places one port group's endpoints: each stays in the slice that already holds it, the rest
/// fill the remaining room, then new slices; slices left empty go (one is kept for an empty group).
fn fill_group(
    service: &Service,
    ports: &[EndpointPort],
    wanted: Vec<Endpoint>,
    current: &[&EndpointSlice],
) -> Vec<SliceAction> {
    let wanted_is_empty = wanted.is_empty();
    let home: BTreeMap<(String, String), usize> = current
        .iter()
        .enumerate()
        .flat_map(|(i, slice)| slice.endpoints.iter().map(move |e| (endpoint_key(e), i)))
        .collect();
    let mut placed: Vec<Vec<Endpoint>> = vec![Vec::new(); current.len()];
    let mut homeless = Vec::new();
    for endpoint in sorted(wanted) {
        match home.get(&endpoint_key(&endpoint)) {
            Some(&i) if placed[i].len() < MAX_ENDPOINTS_PER_SLICE => placed[i].push(endpoint),
            _ => homeless.push(endpoint),
        }
    }
    let mut homeless = homeless.into_iter().peekable();
    for list in placed.iter_mut() {
        while list.len() < MAX_ENDPOINTS_PER_SLICE && !list.is_empty() {
            match homeless.next() {
                Some(endpoint) => list.push(endpoint),
                None => break,
            }
        }
    }
    // Empty existing slices take what is left before any new slice is made.
    for list in placed.iter_mut().filter(|l| l.is_empty()) {
        list.extend(homeless.by_ref().take(MAX_ENDPOINTS_PER_SLICE));
    }
    let mut actions = Vec::new();
    let mut kept_one = false;
    for (slice, list) in current.iter().zip(placed) {
        if list.is_empty() && (!wanted_is_empty || kept_one) {
            actions.push(SliceAction::Delete(
                slice.metadata.name.clone().unwrap_or_default(),
            ));
            continue;
        }
        kept_one = true;
        if let Some(next) = rewrite(service, slice, ports, list) {
            actions.push(SliceAction::Update(next));
        }
    }
    let rest: Vec<Endpoint> = homeless.collect();
    for chunk in rest.chunks(MAX_ENDPOINTS_PER_SLICE) {
        actions.push(SliceAction::Create(new_slice(
            service,
            ports,
            chunk.to_vec(),
        )));
    }
    if current.is_empty() && wanted_is_empty {
        actions.push(SliceAction::Create(new_slice(service, ports, Vec::new())));
    }
    actions
}

/// Every slice of the Service after `actions` (new ones named `<service>-new<n>`); for tests
/// and the simulator.
pub fn apply(slices: &[&EndpointSlice], actions: &[SliceAction]) -> Vec<EndpointSlice> {
    let mut result: BTreeMap<String, EndpointSlice> = slices
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap_or_default(), (*s).clone()))
        .collect();
    let taken: BTreeSet<String> = result.keys().cloned().collect();
    let mut created = 0;
    for action in actions {
        match action {
            SliceAction::Create(slice) => {
                let mut slice = slice.clone();
                let base = slice.metadata.generate_name.clone().unwrap_or_default();
                // A name no slice had before, as the server's generated suffix would be.
                let name = loop {
                    created += 1;
                    let name = format!("{base}new{created}");
                    if !taken.contains(&name) {
                        break name;
                    }
                };
                slice.metadata.name = Some(name.clone());
                result.insert(name, slice);
            }
            SliceAction::Update(slice) => {
                result.insert(
                    slice.metadata.name.clone().unwrap_or_default(),
                    slice.clone(),
                );
            }
            SliceAction::Delete(name) => {
                result.remove(name);
            }
        }
    }
    result.into_values().collect()
}

/// The names of the slices that would change (for logging and tests).
pub fn touched(actions: &[SliceAction]) -> BTreeSet<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            SliceAction::Update(s) => s.metadata.name.clone(),
            SliceAction::Delete(name) => Some(name.clone()),
            SliceAction::Create(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::core::fixtures::{pod, port, service};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use proptest::prelude::*;

    fn web() -> Service {
        let mut web = service(
            "web",
            "web",
            vec![port("http", 80, IntOrString::String("http".into()))],
        );
        web.metadata.uid = Some("svc-uid".into());
        web
    }

    fn node(name: &str, zone: &str) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some([(ZONE_LABEL.to_string(), zone.to_string())].into());
        node
    }

    fn pods(count: usize, ready: impl Fn(usize) -> bool) -> Vec<Pod> {
        (0..count)
            .map(|i| {
                let ip = format!("127.128.{}.{}", i / 200, i % 200 + 2);
                pod(&format!("p{i}"), "web", Some(&ip), ready(i))
            })
            .collect()
    }

    fn converge(
        service: &Service,
        pods: &[Pod],
        nodes: &[&Node],
        slices: Vec<EndpointSlice>,
    ) -> (Vec<EndpointSlice>, Vec<SliceAction>) {
        let refs: Vec<&Pod> = pods.iter().collect();
        let slice_refs: Vec<&EndpointSlice> = slices.iter().collect();
        let actions = reconcile(service, &refs, nodes, &slice_refs);
        (apply(&slice_refs, &actions), actions)
    }

    #[test]
    fn endpoints_carry_conditions_node_zone_and_their_pod() {
        let zone_a = node("node-1", "zone-a");
        let mut list = pods(2, |i| i == 0);
        list[1].metadata.deletion_timestamp = list[0].metadata.creation_timestamp.clone();
        let (slices, _) = converge(&web(), &list, &[&zone_a], vec![]);
        assert_eq!(slices.len(), 1);
        let slice = &slices[0];
        assert_eq!(slice.address_type, "IPv4");
        let annotations = slice.metadata.annotations.as_ref().unwrap();
        assert!(annotations.contains_key(endpoints::TRIGGER_TIME_ANNOTATION));
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        let labels = slice.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[SERVICE_NAME_LABEL], "web");
        assert_eq!(labels[MANAGED_BY_LABEL], CONTROLLER_NAME);
        let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Service", "svc-uid")
        );
        let ports = slice.ports.as_ref().unwrap();
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].port),
            (Some("http"), Some(8080))
        );
        let first = &slice.endpoints[0];
        let conditions = first.conditions.as_ref().unwrap();
        assert_eq!(
            (conditions.ready, conditions.serving, conditions.terminating),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(first.zone.as_deref(), Some("zone-a"));
        assert_eq!(first.node_name.as_deref(), Some("node-1"));
        assert_eq!(
            first.target_ref.as_ref().unwrap().name.as_deref(),
            Some("p0")
        );
        let second = slice.endpoints[1].conditions.as_ref().unwrap();
        assert_eq!(
            (second.ready, second.serving, second.terminating),
            (Some(false), Some(false), Some(true))
        );
    }

    #[test]
    fn slices_hold_at_most_a_hundred_and_a_change_touches_one() {
        let list = pods(250, |_| true);
        let (slices, _) = converge(&web(), &list, &[], vec![]);
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100, 100]);
        let (again, actions) = converge(&web(), &list, &[], slices.clone());
        assert!(actions.is_empty(), "{actions:?}");
        let mut changed = list.clone();
        changed[7]
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()[0]
            .status = "False".into();
        let (_, actions) = converge(&web(), &changed, &[], again);
        assert_eq!(actions.len(), 1);
        assert!(matches!(actions[0], SliceAction::Update(_)));
    }

    #[test]
    fn different_port_sets_get_different_slices_and_no_endpoints_a_placeholder() {
        let mut list = pods(3, |_| true);
        list[2].spec.as_mut().unwrap().containers[0].ports = None;
        let two_ports = {
            let mut s = web();
            s.spec.as_mut().unwrap().ports.as_mut().unwrap().push(port(
                "metrics",
                9090,
                IntOrString::Int(9090),
            ));
            s
        };
        let (slices, _) = converge(&two_ports, &list, &[], vec![]);
        assert_eq!(slices.len(), 2);
        let sizes: BTreeSet<(usize, usize)> = slices
            .iter()
            .map(|s| (s.ports.as_ref().map_or(0, Vec::len), s.endpoints.len()))
            .collect();
        assert_eq!(sizes, [(1, 1), (2, 2)].into());
        let (empty, _) = converge(&two_ports, &[], &[], slices);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].endpoints.is_empty());
        let (still, actions) = converge(&two_ports, &[], &[], empty);
        assert!(actions.is_empty());
        assert_eq!(still.len(), 1);
    }

    proptest! {
        #[test]
        fn every_selected_pod_is_in_exactly_one_slice_with_its_readiness(
            readiness in proptest::collection::vec(any::<bool>(), 0..260),
            churn in proptest::collection::vec(any::<bool>(), 0..260),
        ) {
            let first = pods(readiness.len(), |i| readiness[i]);
            let (slices, _) = converge(&web(), &first, &[], vec![]);
            let second = pods(readiness.len(), |i| readiness[i] ^ churn.get(i).copied().unwrap_or(false));
            let (slices, _) = converge(&web(), &second, &[], slices);
            prop_assert!(slices.iter().all(|s| s.endpoints.len() <= MAX_ENDPOINTS_PER_SLICE));
            for pod in &second {
                let ip = endpoints::pod_ip(pod).unwrap();
                let found: Vec<&Endpoint> = slices.iter().flat_map(|s| &s.endpoints).filter(|e| e.addresses[0] == ip).collect();
                prop_assert_eq!(found.len(), 1);
                let ready = found[0].conditions.as_ref().unwrap().ready;
                prop_assert_eq!(ready, Some(pods::is_ready(pod)));
            }
            let (_, actions) = converge(&web(), &second, &[], slices);
            prop_assert!(actions.is_empty());
        }
    }
}
