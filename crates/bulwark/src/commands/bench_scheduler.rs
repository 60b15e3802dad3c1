//! `bulwark bench scheduler`: scheduling throughput on the workloads of kube-scheduler's
//! `scheduler_perf` (see [`bulwark_scheduler::workloads`]), measured twice per workload:
//!
//! 1. the pure core: the plan's measured pods placed one after another into a snapshot of the
//!    plan's nodes and bound pods (building the snapshot is not timed);
//! 2. end to end: a real `bulwark server` child process (SQLite, no scheduler, no controllers)
//!    is given the plan's Node objects (simulated nodes, as `scheduler_perf`'s: no agent runs
//!    them), the bound pods and then the measured pods; then `default-scheduler` is started in
//!    this process against it and a watch times every binding it writes. The throughput counts
//!    from the first binding to the last; the time the scheduler took to list the cluster before
//!    its first binding is printed beside it. For preemption, a pod counts once it is
//!    nominated (with no agent, a victim never finishes terminating, as in `scheduler_perf`).
//!
//! Every phase is bounded in count and in time.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bulwark_core::clock::SystemClock;
use bulwark_scheduler::workloads::{self, ALL, NAMESPACE, Plan, Workload};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bench::{Figure, Goal, Unit, check_deadline, print_figures};
use super::bench_agent::ChildProcess;

#[derive(Args, Debug, Clone)]
pub struct SchedulerBenchArgs {
    /// Nodes in every workload's cluster.
    #[arg(long, default_value_t = 5_000)]
    pub nodes: usize,
    /// Pods bound before measuring starts.
    #[arg(long, default_value_t = 1_000)]
    pub existing_pods: usize,
    /// Pods whose scheduling is measured (anti-affinity: at most one per free node).
    #[arg(long, default_value_t = 10_000)]
    pub pods: usize,
    /// High-priority pods of the preemption workload (every node is full first).
    #[arg(long, default_value_t = 500)]
    pub preemption_pods: usize,
    /// Workloads to run, comma-separated: basic, anti-affinity, hard-spread, preferred-spread,
    /// node-affinity, preemption (default: all).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Measure the pure core only.
    #[arg(long)]
    pub core_only: bool,
    /// Concurrent API requests while the cluster is loaded.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Upper bound on the whole run, in seconds.
    #[arg(long, default_value_t = 1_800)]
    pub max_seconds: u64,
}

/// Ten times kube-scheduler's floor in `scheduler_perf`'s performance configs (issue 4).
fn goal(workload: Workload) -> Goal {
    match workload {
        Workload::Basic => Goal::AtLeast(6_800.0),
        Workload::RequiredAntiAffinity => Goal::AtLeast(600.0),
        Workload::HardTopologySpread => Goal::AtLeast(4_600.0),
        Workload::PreferredTopologySpread => Goal::AtLeast(3_400.0),
        Workload::RequiredNodeAffinity => Goal::AtLeast(2_200.0),
        Workload::Preemption => Goal::None,
    }
}

pub async fn run(args: SchedulerBenchArgs) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds.max(1));
    let chosen = chosen_workloads(&args.workloads)?;
    let dir = tempfile::Builder::new()
        .prefix("bulwark-bench-scheduler-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let mut figures = Vec::new();
    for workload in chosen {
        let plan = plan_for(workload, &args);
        figures.push(core_figure(workload, &plan));
        if !args.core_only {
            figures.extend(end_to_end(workload, &plan, dir.path(), &args, deadline).await?);
        }
        check_deadline(deadline)?;
    }
    println!(
        "bulwark bench scheduler: {} nodes, {} bound pods, {} measured pods ({} for preemption)",
        args.nodes, args.existing_pods, args.pods, args.preemption_pods
    );
    print_figures(&figures);
    Ok(())
}

fn chosen_workloads(keys: &[String]) -> Result<Vec<Workload>> {
    if keys.is_empty() {
        return Ok(ALL.to_vec());
    }
    keys.iter()
        .map(|key| {
            Workload::from_key(key).with_context(|| {
                let known: Vec<&str> = ALL.iter().map(|w| w.key()).collect();
                format!("unknown workload {key:?}: pick from {}", known.join(", "))
            })
        })
        .collect()
}

fn plan_for(workload: Workload, args: &SchedulerBenchArgs) -> Plan {
    let measured = match workload {
        Workload::Preemption => args.preemption_pods,
        _ => args.pods,
    };
    workloads::plan(workload, args.nodes, args.existing_pods, measured)
}

fn core_figure(workload: Workload, plan: &Plan) -> Figure {
    let mut snapshot = workloads::snapshot_of(plan);
    let config = bulwark_scheduler::Config::default();
    let started = Instant::now();
    let placed = workloads::place_all(&mut snapshot, &plan.measured, &config, 1);
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    if placed.unschedulable > 0 {
        eprintln!(
            "{}: {} of {} pods found no node in the core",
            workload.name(),
            placed.unschedulable,
            plan.measured.len()
        );
    }
    let rate = (placed.bound + placed.preempted) as f64 / elapsed;
    Figure::new(
        format!("core: {} ({} pods)", workload.name(), plan.measured.len()),
        rate,
        Unit::PerSecond,
        goal(workload),
    )
}

async fn end_to_end(
    workload: Workload,
    plan: &Plan,
    dir: &Path,
    args: &SchedulerBenchArgs,
    deadline: Instant,
) -> Result<Vec<Figure>> {
    let data = dir.join(workload.key());
    let log = format!("{}.log", workload.key());
    let server = ChildProcess::spawn(
        dir,
        &log,
        &[
            "server",
            "--port",
            "0",
            "--data-dir",
            &data.display().to_string(),
            "--disable-scheduler",
            "--disable-controllers",
        ],
    )
    .await?;
    let outcome = async {
        let client = server.client()?;
        load(&client, plan, args.concurrency).await?;
        check_deadline(deadline)?;
        let timings = schedule_and_time(&client, workload, plan, deadline).await?;
        Ok::<_, anyhow::Error>(timings.figures(workload, plan.measured.len()))
    }
    .await;
    server.stop().await;
    outcome.with_context(|| format!("see {}", dir.join(log).display()))
}

/// Creates the plan's priority classes, nodes, bound pods and measured pods.
async fn load(client: &kube::Client, plan: &Plan, concurrency: usize) -> Result<()> {
    let classes = Api::<PriorityClass>::all(client.clone());
    create_all(classes, &plan.priority_classes, concurrency).await?;
    create_all(Api::<Node>::all(client.clone()), &plan.nodes, concurrency).await?;
    let pods = Api::<Pod>::namespaced(client.clone(), NAMESPACE);
    create_all(pods.clone(), &plan.existing, concurrency).await?;
    create_all(pods, &plan.measured, concurrency).await
}

async fn create_all<K>(api: Api<K>, objects: &[K], concurrency: usize) -> Result<()>
where
    K: kube::Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    futures::stream::iter(objects)
        .map(|object| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), object).await }
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|_| async { Ok(()) })
        .await
        .context("cannot load the benchmark cluster")
}

struct Timings {
    sync: Duration,
    scheduling: Duration,
    done: usize,
}

impl Timings {
    fn figures(&self, workload: Workload, measured: usize) -> Vec<Figure> {
        let rate = self.done as f64 / self.scheduling.as_secs_f64().max(1e-9);
        let mut figures = vec![Figure::new(
            format!("end to end: {} ({measured} pods)", workload.name()),
            rate,
            Unit::PerSecond,
            goal(workload),
        )];
        figures.push(Figure::new(
            format!("end to end: {}: list before first binding", workload.name()),
            self.sync.as_secs_f64() * 1000.0,
            Unit::Milliseconds,
            Goal::None,
        ));
        figures
    }
}

/// Starts the scheduler and waits until every measured pod is bound (or, for preemption,
/// nominated or bound), timing it from a watch.
async fn schedule_and_time(
    client: &kube::Client,
    workload: Workload,
    plan: &Plan,
    deadline: Instant,
) -> Result<Timings> {
    let mut waiting: HashSet<String> = plan
        .measured
        .iter()
        .filter_map(|pod| pod.metadata.name.clone())
        .collect();
    let total = waiting.len();
    let api = Api::<Pod>::namespaced(client.clone(), NAMESPACE);
    let mut watch = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    wait_for_list(&mut watch, deadline).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(bulwark_scheduler::shell::run(
        client.clone(),
        Arc::new(SystemClock),
        bulwark_scheduler::shell::Options::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last = started;
    while !waiting.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, watch.next())
            .await
            .ok()
            .flatten();
        let Some(event) = event else {
            let _ = stop.send(());
            bail!(
                "{}: {} of {total} pods still waiting at the deadline",
                workload.name(),
                waiting.len()
            );
        };
        if let Ok(Event::Apply(pod) | Event::InitApply(pod)) = event
            && placed(&pod, workload)
            && waiting.remove(pod.metadata.name.as_deref().unwrap_or_default())
        {
            last = Instant::now();
            first.get_or_insert(last);
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), scheduler).await;
    let first = first.unwrap_or(started);
    Ok(Timings {
        sync: first.duration_since(started),
        scheduling: last.duration_since(first),
        done: total,
    })
}

async fn wait_for_list(
    watch: &mut futures::stream::BoxStream<'_, Result<Event<Pod>, watcher::Error>>,
    deadline: Instant,
) -> Result<()> {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, watch.next()).await {
            Ok(Some(Ok(Event::InitDone))) => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => bail!("the pod watch did not list within the deadline"),
        }
    }
}

fn placed(pod: &Pod, workload: Workload) -> bool {
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let nominated = workload == Workload::Preemption
        && pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
    bound || nominated
}
