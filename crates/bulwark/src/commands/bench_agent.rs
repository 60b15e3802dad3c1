//! `bulwark bench agent`: pod start latency and node agent memory, measured against real
//! child processes in a temporary directory.
//!
//! Phases, each bounded in count and in time:
//! 1. process nodes: `bulwark up --nodes N --profile fast`; every agent's `VmRSS` once its Node
//!    is Ready and idle; then `--pods` pods (busybox `sleep`, bound round-robin with
//!    `spec.nodeName`) created at `--rate` per second, each timed from the moment its create
//!    was sent to the first watch event showing it Running, and Ready; then `node-1` is filled
//!    up to `--rss-pods` pods and its agent's `VmRSS` read again;
//! 2. fake nodes: `bulwark server` and `bulwark agent --fake-nodes F`, then `--fake-pods` pods
//!    created at `--fake-rate` per second and timed the same way.
//!
//! The scheduler is not in the path (pods are bound at creation), so the figures are the API
//! server's write and watch path plus the agent's own start latency.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::io::BufReader;

use super::bench::{
    Figure, Goal, Latencies, Unit, check_deadline, mebibytes, print_figures, read_address,
    resident_bytes_of,
};

#[derive(Args, Debug, Clone)]
pub struct AgentBenchArgs {
    /// Process nodes `bulwark up` starts.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Pods started on the process nodes for the latency figures.
    #[arg(long, default_value_t = 100)]
    pub pods: usize,
    /// Pods created per second on the process nodes.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Pods `node-1` holds when its agent's memory is read.
    #[arg(long, default_value_t = 100)]
    pub rss_pods: usize,
    /// Simulated nodes for the fake-node phase (0 skips it).
    #[arg(long, default_value_t = 100)]
    pub fake_nodes: usize,
    /// Pods started on the simulated nodes.
    #[arg(long, default_value_t = 10_000)]
    pub fake_pods: usize,
    /// Pods created per second on the simulated nodes.
    #[arg(long, default_value_t = 200)]
    pub fake_rate: u32,
    /// Upper bound on the whole run, in seconds.
    #[arg(long, default_value_t = 900)]
    pub max_seconds: u64,
}

/// Kubernetes' pod startup SLO is 5 s at p99; Bulwark's process nodes aim at a tenth of it.
const RUNNING_P99_GOAL_MS: f64 = 500.0;
const IDLE_AGENT_RSS_GOAL_MIB: f64 = 30.0;
const BENCH_LABEL: &str = "bulwark.dev/bench";

pub async fn run(args: AgentBenchArgs) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds.max(1));
    let dir = tempfile::Builder::new()
        .prefix("bulwark-bench-agent-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let mut figures = process_nodes(dir.path(), &args, deadline).await?;
    if args.fake_nodes > 0 && args.fake_pods > 0 {
        figures.extend(fake_nodes(dir.path(), &args, deadline).await?);
    }
    println!(
        "bulwark bench agent: {} pods on {} process nodes at {}/s, node-1 filled to {}; {} pods on {} fake nodes at {}/s",
        args.pods,
        args.nodes,
        args.rate,
        args.rss_pods,
        args.fake_pods,
        args.fake_nodes,
        args.fake_rate
    );
    print_figures(&figures);
    Ok(())
}

async fn process_nodes(
    dir: &Path,
    args: &AgentBenchArgs,
    deadline: Instant,
) -> Result<Vec<Figure>> {
    let data = dir.join("up");
    let cluster = ChildProcess::spawn(
        dir,
        "up.log",
        &[
            "up",
            "--nodes",
            &args.nodes.to_string(),
            "--profile",
            "fast",
            "--port",
            "0",
            "--data-dir",
            &data.display().to_string(),
        ],
    )
    .await?;
    let client = cluster.client()?;
    let outcome = async {
        wait_for_ready_nodes(&client, args.nodes, deadline).await?;
        let names: Vec<String> = (1..=args.nodes).map(|n| format!("node-{n}")).collect();
        let idle = agent_rss(&data, &names)?;
        let plan = (0..args.pods)
            .map(|index| {
                (
                    format!("proc-{index:05}"),
                    names[index % names.len()].clone(),
                )
            })
            .collect::<Vec<_>>();
        let started = start_pods(&client, &plan, args.rate, deadline).await?;
        let mut figures = started.figures(&format!("{} pods, {} nodes", args.pods, args.nodes));
        figures[1].goal = Goal::Below(RUNNING_P99_GOAL_MS);
        figures.push(Figure::new(
            format!("agent RSS idle (max of {})", args.nodes),
            mebibytes(idle),
            Unit::MebiBytes,
            Goal::Below(IDLE_AGENT_RSS_GOAL_MIB),
        ));
        let on_first = plan.iter().filter(|(_, node)| *node == names[0]).count();
        let fill = (on_first..args.rss_pods)
            .map(|index| (format!("fill-{index:05}"), names[0].clone()))
            .collect::<Vec<_>>();
        start_pods(&client, &fill, args.rate.max(1) * 2, deadline).await?;
        figures.push(Figure::new(
            format!("agent RSS ({} pods on node-1)", on_first.max(args.rss_pods)),
            mebibytes(agent_rss(&data, &names[..1])?),
            Unit::MebiBytes,
            Goal::None,
        ));
        Ok::<_, anyhow::Error>(figures)
    }
    .await;
    cluster.stop().await;
    outcome.with_context(|| format!("see {}", dir.join("up.log").display()))
}

async fn fake_nodes(dir: &Path, args: &AgentBenchArgs, deadline: Instant) -> Result<Vec<Figure>> {
    let data = dir.join("fake");
    let server = ChildProcess::spawn(
        dir,
        "server.log",
        &[
            "server",
            "--port",
            "0",
            "--data-dir",
            &data.display().to_string(),
        ],
    )
    .await?;
    let url = format!("http://{}", server.address);
    let outcome = async {
        let agents = ChildProcess::spawn_plain(
            dir,
            "fake-agent.log",
            &[
                "agent",
                "--server",
                &url,
                "--fake-nodes",
                &args.fake_nodes.to_string(),
                "--name-prefix",
                "sim",
                "--zone",
                "zone-a,zone-b,zone-c",
                "--data-dir",
                &dir.join("fake-agent").display().to_string(),
            ],
        )?;
        let client = server.client()?;
        let measured = async {
            wait_for_ready_nodes(&client, args.fake_nodes, deadline).await?;
            let plan = (0..args.fake_pods)
                .map(|index| {
                    let node = format!("sim-{}", index % args.fake_nodes + 1);
                    (format!("fake-{index:06}"), node)
                })
                .collect::<Vec<_>>();
            let started = start_pods(&client, &plan, args.fake_rate, deadline).await?;
            Ok::<_, anyhow::Error>(started.figures(&format!(
                "{} pods, {} fake nodes",
                args.fake_pods, args.fake_nodes
            )))
        }
        .await;
        agents.stop().await;
        measured
    }
    .await;
    server.stop().await;
    outcome.with_context(|| format!("see the logs in {}", dir.display()))
}

// ---------------------------------------------------------------------------------------------
// Pod starts

/// When each pod was sent, and when the watch first showed it Running and Ready.
#[derive(Default)]
struct Starts {
    sent: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

impl Starts {
    fn observe(&mut self, pod: &Pod) {
        let Some(name) = pod.metadata.name.clone() else {
            return;
        };
        let status = pod.status.as_ref();
        let now = Instant::now();
        if status.and_then(|s| s.phase.as_deref()) == Some("Running") {
            self.running.entry(name.clone()).or_insert(now);
        }
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
        if ready {
            self.ready.entry(name).or_insert(now);
        }
    }

    fn latencies(&self, observed: &HashMap<String, Instant>) -> Latencies {
        Latencies::new(
            self.sent
                .iter()
                .filter_map(|(name, sent)| {
                    Some(observed.get(name)?.saturating_duration_since(*sent))
                })
                .collect(),
        )
    }

    fn figures(&self, context: &str) -> Vec<Figure> {
        let mut figures = Vec::new();
        figures.extend(self.latencies(&self.running).figures(
            "create -> Running",
            context,
            Goal::None,
            Goal::None,
        ));
        figures.extend(self.latencies(&self.ready).figures(
            "create -> Ready",
            context,
            Goal::None,
            Goal::None,
        ));
        figures
    }
}

/// Creates `plan`'s pods (name, node) at `rate` per second and waits until every one is Ready.
async fn start_pods(
    client: &kube::Client,
    plan: &[(String, String)],
    rate: u32,
    deadline: Instant,
) -> Result<Starts> {
    let starts = Arc::new(Mutex::new(Starts::default()));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (listed, on_listed) = tokio::sync::oneshot::channel();
    let watch = tokio::spawn(follow(pods.clone(), Arc::clone(&starts), listed));
    // The first create waits for the watch's initial list, so no event can be missed.
    tokio::time::timeout(Duration::from_secs(60), on_listed)
        .await
        .context("the pod watch did not list within 60 s")?
        .context("the pod watch ended")?;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let begin = tokio::time::Instant::now();
    let mut creates = tokio::task::JoinSet::new();
    for (index, (name, node)) in plan.iter().enumerate() {
        check_deadline(deadline)?;
        tokio::time::sleep_until(begin + interval * index as u32).await;
        lock(&starts).sent.insert(name.clone(), Instant::now());
        let (pods, pod) = (pods.clone(), bench_pod(name, node));
        creates.spawn(async move { pods.create(&PostParams::default(), &pod).await });
        while creates.len() >= 64 {
            created(creates.join_next().await)?;
        }
    }
    while let Some(outcome) = creates.join_next().await {
        created(Some(outcome))?;
    }
    let outcome = wait_all_ready(&starts, plan.len(), deadline).await;
    watch.abort();
    let _ = watch.await; // the aborted task has let go of its handle on the measurements
    outcome?;
    Arc::try_unwrap(starts)
        .map_err(|_| anyhow!("the watch still holds the measurements"))
        .map(|starts| {
            starts
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        })
}

fn created(
    outcome: Option<Result<Result<Pod, kube::Error>, tokio::task::JoinError>>,
) -> Result<()> {
    match outcome {
        Some(outcome) => {
            outcome
                .context("a create task failed")?
                .context("creating a pod")?;
            Ok(())
        }
        None => Ok(()),
    }
}

async fn follow(
    pods: Api<Pod>,
    starts: Arc<Mutex<Starts>>,
    listed: tokio::sync::oneshot::Sender<()>,
) {
    let config = watcher::Config::default().labels(BENCH_LABEL);
    let mut stream = watcher::watcher(pods, config).default_backoff().boxed();
    let mut listed = Some(listed);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => lock(&starts).observe(&pod),
            Ok(Event::InitDone) => {
                if let Some(listed) = listed.take() {
                    let _ = listed.send(());
                }
            }
            _ => {}
        }
    }
}

async fn wait_all_ready(starts: &Mutex<Starts>, count: usize, deadline: Instant) -> Result<()> {
    loop {
        let ready = lock(starts).ready.len();
        if ready >= count {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("only {ready} of {count} pods became Ready before --max-seconds");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bench_pod(name: &str, node: &str) -> Pod {
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {BENCH_LABEL: "agent"}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
            }],
        },
    });
    serde_json::from_value(pod).expect("a literal pod deserialises")
}

fn lock(starts: &Mutex<Starts>) -> std::sync::MutexGuard<'_, Starts> {
    starts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Nodes and processes

async fn wait_for_ready_nodes(
    client: &kube::Client,
    count: usize,
    deadline: Instant,
) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let ready = nodes
            .list(&ListParams::default())
            .await
            .map(|list| list.items.iter().filter(|node| node_ready(node)).count())
            .unwrap_or(0);
        if ready >= count {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("only {ready} of {count} nodes became Ready before --max-seconds");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// The largest resident set of the named nodes' agents (pids from `DATA/nodes/NAME/agent.pid`).
fn agent_rss(data: &Path, names: &[String]) -> Result<u64> {
    let mut largest = 0;
    for name in names {
        let file = data.join("nodes").join(name).join("agent.pid");
        let pid = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let pid: u32 = pid
            .trim()
            .parse()
            .with_context(|| format!("{} holds no pid", file.display()))?;
        largest = largest.max(resident_bytes_of(pid)?);
    }
    Ok(largest)
}

/// A `bulwark` child process, stopped with SIGTERM (then killed) at the end.
pub(super) struct ChildProcess {
    child: tokio::process::Child,
    address: std::net::SocketAddr,
    _stdout: Option<BufReader<tokio::process::ChildStdout>>,
}

impl ChildProcess {
    /// Starts a control plane (`up` or `server`) and reads the address it announces.
    pub(super) async fn spawn(dir: &Path, log: &str, args: &[&str]) -> Result<Self> {
        let mut child = command(dir, log, args)?
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start `bulwark {}`", args[0]))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("stdout is not piped"))?;
        let mut stdout = BufReader::new(stdout);
        let address = tokio::time::timeout(Duration::from_secs(60), read_address(&mut stdout))
            .await
            .context("the control plane did not announce its address within 60 s")??;
        Ok(Self {
            child,
            address,
            _stdout: Some(stdout),
        })
    }

    /// Starts a process that announces nothing (a fake-node agent).
    fn spawn_plain(dir: &Path, log: &str, args: &[&str]) -> Result<Self> {
        let child = command(dir, log, args)?
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start `bulwark {}`", args[0]))?;
        Ok(Self {
            child,
            address: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            _stdout: None,
        })
    }

    pub(super) fn client(&self) -> Result<kube::Client> {
        bulwark_agent::agent::run::client_for(&format!("http://{}", self.address))
            .map_err(|error| anyhow!("{error}"))
    }

    /// SIGTERM (so `up` stops its agents and their pods), SIGKILL after 60 s.
    pub(super) async fn stop(mut self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn command(dir: &Path, log: &str, args: &[&str]) -> Result<tokio::process::Command> {
    let executable = std::env::current_exe().context("cannot find the bulwark executable")?;
    let log = std::fs::File::create(dir.join(log)).context("cannot create a log file")?;
    let mut command = tokio::process::Command::new(executable);
    command
        .args(args)
        .env("BULWARK_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    Ok(command)
}
