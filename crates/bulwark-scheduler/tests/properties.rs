//! Properties of the core over random clusters and pod sequences (issue 4, "Done means" 1).

use std::collections::BTreeMap;

use bulwark_scheduler::fixtures::{bound_to, node, pod, with_priority, with_spec};
use bulwark_scheduler::{Config, PdbView, SchedulingState, Snapshot, preempt, schedule};
use k8s_openapi::api::core::v1::Pod;
use proptest::prelude::*;
use serde_json::json;

const ZONE: &str = "topology.kubernetes.io/zone";
const HOST: &str = "kubernetes.io/hostname";

fn cluster(zones: &[u8], cpu_millis: &[u32]) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for (i, zone) in zones.iter().enumerate() {
        let cpu = format!("{}m", cpu_millis.get(i).copied().unwrap_or(4000));
        let zone = format!("zone-{zone}");
        snapshot.upsert_node(node(
            &format!("n{i}"),
            &cpu,
            "16Gi",
            &[(ZONE, zone.as_str())],
        ));
    }
    snapshot
}

fn place(snapshot: &mut Snapshot, pod: Pod, state: &mut SchedulingState) -> Option<String> {
    let node = schedule(snapshot, &pod, &Config::default(), state).ok()?;
    snapshot.upsert_pod(bound_to(pod, &node));
    Some(node)
}

fn zone_counts(snapshot: &Snapshot, app: &str) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for node in snapshot.nodes() {
        let zone = node.labels.get(ZONE).cloned().unwrap_or_default();
        let here = node
            .pods()
            .iter()
            .filter(|p| p.labels.get("app").map(String::as_str) == Some(app))
            .count() as i64;
        *counts.entry(zone).or_insert(0) += here;
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn do_not_schedule_spread_never_exceeds_max_skew(
        zones in prop::collection::vec(0u8..4, 2..10),
        apps in prop::collection::vec(0usize..2, 1..30),
        skews in (1i32..3, 1i32..3),
        seed in any::<u64>(),
    ) {
        let mut snapshot = cluster(&zones, &[]);
        let mut state = SchedulingState::new(seed);
        for (i, app) in apps.iter().enumerate() {
            let (name, max_skew) = if *app == 0 { ("a", skews.0) } else { ("b", skews.1) };
            let p = with_spec(
                pod("default", &format!("p{i}"), "100m", "64Mi", &[("app", name)]),
                json!({"topologySpreadConstraints": [{
                    "maxSkew": max_skew, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": name}},
                }]}),
            );
            place(&mut snapshot, p, &mut state);
            let counts = zone_counts(&snapshot, name);
            let max = counts.values().max().copied().unwrap_or(0);
            let min = counts.values().min().copied().unwrap_or(0);
            prop_assert!(max - min <= i64::from(max_skew), "{name}: {counts:?}");
        }
    }

    #[test]
    fn required_anti_affinity_never_co_locates(
        zones in prop::collection::vec(0u8..3, 1..8),
        sequence in prop::collection::vec(any::<bool>(), 1..20),
        seed in any::<u64>(),
    ) {
        let mut snapshot = cluster(&zones, &[]);
        let mut state = SchedulingState::new(seed);
        for (i, anti) in sequence.iter().enumerate() {
            let base = pod("default", &format!("p{i}"), "100m", "64Mi", &[("app", if *anti { "db" } else { "web" })]);
            let p = if *anti {
                with_spec(base, json!({"affinity": {"podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOST}
                    ]}}}))
            } else {
                base
            };
            place(&mut snapshot, p, &mut state);
        }
        for node in snapshot.nodes() {
            let dbs = node.pods().iter().filter(|p| p.labels.get("app").map(String::as_str) == Some("db")).count();
            prop_assert!(dbs <= 1, "{} holds {dbs} db pods", node.name);
        }
    }

    #[test]
    fn a_pod_never_lands_where_it_does_not_fit(
        cpus in prop::collection::vec(0u32..3000, 1..8),
        requests in prop::collection::vec((0u32..1500, 0u32..6), 1..40),
        seed in any::<u64>(),
    ) {
        let zones = vec![0u8; cpus.len()];
        let mut snapshot = cluster(&zones, &cpus);
        let mut state = SchedulingState::new(seed);
        for (i, (cpu, memory_gi)) in requests.iter().enumerate() {
            let cpu = if *cpu == 0 { String::new() } else { format!("{cpu}m") };
            let memory = if *memory_gi == 0 { String::new() } else { format!("{memory_gi}Gi") };
            let p = pod("default", &format!("p{i}"), &cpu, &memory, &[]);
            let Some(node_name) = place(&mut snapshot, p, &mut state) else { continue };
            let node = snapshot.node(&node_name).expect("placed on a known node");
            let free = node.free();
            prop_assert!(free.milli_cpu >= 0 && free.memory >= 0, "{node_name} overcommitted: {free:?}");
            prop_assert!(node.pods().len() as i64 <= node.allocatable.pods);
        }
    }

    #[test]
    fn preemption_never_picks_an_equal_or_higher_priority_victim(
        placed in prop::collection::vec((0usize..4, 200u32..1200, -5i32..5), 1..24),
        incoming_priority in -5i32..5,
        incoming_cpu in 100u32..2500,
    ) {
        let mut snapshot = cluster(&[0, 0, 1, 1], &[2000, 2000, 2000, 2000]);
        for (i, (node_index, cpu, priority)) in placed.iter().enumerate() {
            let p = with_priority(pod("default", &format!("p{i}"), &format!("{cpu}m"), "", &[]), *priority);
            snapshot.upsert_pod(bound_to(p, &format!("n{node_index}")));
        }
        let incoming = with_priority(pod("default", "incoming", &format!("{incoming_cpu}m"), "", &[]), incoming_priority);
        if let Some(preemption) = preempt(&snapshot, &incoming, &PdbView::default()) {
            let node = snapshot.node(&preemption.node).expect("known node");
            for victim in &preemption.victims {
                let info = node.pods().iter().find(|p| p.key == *victim).expect("victim is on the node");
                prop_assert!(info.priority < incoming_priority, "victim {victim} priority {} ≥ {incoming_priority}", info.priority);
            }
        }
    }

    #[test]
    fn arbitrary_constraints_never_panic(
        operator in prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Bogus", ""]),
        values in prop::collection::vec("[a-z0-9-]{0,4}", 0..3),
        key in "[a-z./-]{0,12}",
        max_skew in -2i32..3,
        min_domains in -1i32..3,
        cpu in "[0-9a-zA-Z.+-]{0,6}",
        taint_effect in prop::sample::select(vec!["NoSchedule", "NoExecute", "PreferNoSchedule", "Weird"]),
        seed in any::<u64>(),
    ) {
        let mut snapshot = cluster(&[0, 1, 2], &[]);
        let mut tainted = node("t", "4", "8Gi", &[(key.as_str(), "1")]);
        tainted.spec = serde_json::from_value(json!({"taints": [{"key": key, "effect": taint_effect}]})).ok();
        snapshot.upsert_node(tainted);
        let requirement = json!({"key": key, "operator": operator, "values": values});
        let p = with_spec(
            pod("default", "p", &cpu, "", &[("app", "x")]),
            json!({
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}},
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchExpressions": [requirement]}, "topologyKey": key}
                    ]},
                },
                "topologySpreadConstraints": [{
                    "maxSkew": max_skew, "minDomains": min_domains, "topologyKey": key,
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchExpressions": [requirement]},
                }],
                "tolerations": [{"key": key, "operator": operator}],
            }),
        );
        let mut state = SchedulingState::new(seed);
        let outcome = schedule(&snapshot, &p, &Config::default(), &mut state);
        if let Err(error) = &outcome {
            prop_assert!(error.to_string().starts_with("0/4 nodes are available:"));
        }
        let _ = preempt(&snapshot, &p, &PdbView::default());
    }
}
