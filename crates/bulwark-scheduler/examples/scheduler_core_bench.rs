//! Times the pure scheduling core on scheduler_perf's "basic" workload at 5,000 nodes: 1,000
//! existing pods, then 10,000 pods scheduled one after another, each bound into the snapshot
//! before the next (as the shell does). Prints pods/s.
//!
//! `cargo run --release -p bulwark-scheduler --example scheduler_core_bench [nodes] [existing] [measured]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bulwark_scheduler::fixtures::{bound_to, node, pod};
use bulwark_scheduler::{Config, PodInfo, SchedulingState, Snapshot, schedule_pod_info};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let nodes = args.next().flatten().unwrap_or(5_000);
    let existing = args.next().flatten().unwrap_or(1_000);
    let measured = args.next().flatten().unwrap_or(10_000);

    let mut snapshot = Snapshot::new();
    for i in 0..nodes {
        let zone = format!("zone-{}", i % 3);
        // scheduler_perf's node-default template: 4 cpu, 32Gi, 110 pods.
        snapshot.upsert_node(node(
            &format!("node-{i}"),
            "4",
            "32Gi",
            &[("topology.kubernetes.io/zone", zone.as_str())],
        ));
    }
    for i in 0..existing {
        let p = pod("default", &format!("init-{i}"), "100m", "500Mi", &[]);
        snapshot.upsert_pod(bound_to(p, &format!("node-{}", i % nodes.max(1))));
    }
    let pods: Vec<_> = (0..measured)
        .map(|i| pod("default", &format!("pod-{i}"), "100m", "500Mi", &[]))
        .collect();

    let (elapsed, scheduled) = run(&mut snapshot, pods);
    let rate = scheduled as f64 / elapsed.as_secs_f64();
    println!(
        "basic: {nodes} nodes, {existing} existing pods, {scheduled}/{measured} pods scheduled in {:.3} s: {rate:.0} pods/s",
        elapsed.as_secs_f64()
    );
}

/// The benchmark harness reads the wall clock; the core it times never does.
#[allow(clippy::disallowed_methods)]
fn run(snapshot: &mut Snapshot, pods: Vec<k8s_openapi::api::core::v1::Pod>) -> (Duration, usize) {
    let config = Config::default();
    let mut state = SchedulingState::new(1);
    let mut scheduled = 0;
    let started = Instant::now();
    for pod in pods {
        let info = PodInfo::new(pod);
        if let Ok(node) = schedule_pod_info(snapshot, &info, &config, &mut state) {
            // Binding: the shell's watch brings the pod back with spec.nodeName set.
            let mut bound = (*info.pod).clone();
            bound.spec.get_or_insert_default().node_name = Some(node);
            snapshot.upsert_pod_info(Arc::new(PodInfo::new(bound)));
            scheduled += 1;
        }
    }
    (started.elapsed(), scheduled)
}
