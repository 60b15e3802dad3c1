//! `bulwark bench api`: figures for the API server, measured over real HTTP against a real
//! `bulwark server` child process (SQLite with group commit, in a temporary directory, on a free
//! loopback port).
//!
//! Phases, in order, each bounded in count and in time:
//! 1. durable create throughput: `--pods` pod POSTs from `--concurrency` concurrent clients;
//! 2. get latency: one client GETs stored pods for `--seconds`;
//! 3. list latency: full lists of every stored pod, as JSON and as a `meta.k8s.io/v1` Table;
//! 4. mutating latency: merge patches at a fixed open-loop rate (`--write-rate`), each timed from
//!    the moment it was due, so a slow server cannot hide its queueing (no coordinated omission);
//! 5. watch delivery: `--watchers` watches on one namespace while pods are created into it; each
//!    event is timed from the create's acknowledgement to its arrival at each watcher;
//! 6. memory: pods are created until `--rss-pods` are stored, then the server's `VmRSS` is read.
//!
//! Every figure is printed with its target (issue 2, on a 2-core machine) and PASS or MISS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,
}

#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// Drive a `bulwark server` child process over HTTP and print figures against their targets.
    Api(ApiBenchArgs),
    /// Pod start latency on process and fake nodes, and node agent memory.
    Agent(super::bench_agent::AgentBenchArgs),
    /// Scheduling throughput on `scheduler_perf`'s workloads: the pure core, and end to end
    /// through a real API server.
    Scheduler(super::bench_scheduler::SchedulerBenchArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ApiBenchArgs {
    /// Pods stored for the create-throughput, get and list figures.
    #[arg(long, default_value_t = 10_000)]
    pub pods: usize,
    /// Pods stored when the server's resident memory is read (at least `--pods`).
    #[arg(long, default_value_t = 100_000)]
    pub rss_pods: usize,
    /// Concurrent watchers for the watch-delivery figure.
    #[arg(long, default_value_t = 100)]
    pub watchers: usize,
    /// Seconds each timed phase runs (get, list, mutating, watch).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients creating pods.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Writes per second of the open-loop mutating-latency phase.
    #[arg(long, default_value_t = 500)]
    pub write_rate: u32,
    /// Creates per second while the watchers are measured.
    #[arg(long, default_value_t = 100)]
    pub watch_write_rate: u32,
    /// Upper bound on the whole run, in seconds; a phase still running then fails the bench.
    #[arg(long, default_value_t = 900)]
    pub max_seconds: u64,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Api(args) => api(args).await,
        BenchTarget::Agent(args) => super::bench_agent::run(args).await,
        BenchTarget::Scheduler(args) => super::bench_scheduler::run(args).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

#[derive(Debug, Clone, Copy)]
pub(super) enum Goal {
    AtLeast(f64),
    Below(f64),
    None,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Unit {
    PerSecond,
    Milliseconds,
    MebiBytes,
}

pub(super) struct Figure {
    name: String,
    value: f64,
    unit: Unit,
    pub(super) goal: Goal,
}

impl Figure {
    pub(super) fn new(name: impl Into<String>, value: f64, unit: Unit, goal: Goal) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
            goal,
        }
    }

    fn latency(name: impl Into<String>, value: Duration, goal: Goal) -> Self {
        Self::new(name, value.as_secs_f64() * 1000.0, Unit::Milliseconds, goal)
    }

    fn result(&self) -> &'static str {
        match self.goal {
            Goal::AtLeast(goal) if self.value >= goal => "PASS",
            Goal::Below(goal) if self.value < goal => "PASS",
            Goal::None => "-",
            _ => "MISS",
        }
    }
}

fn format_amount(value: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSecond => format!("{value:.0}/s"),
        Unit::Milliseconds => format!("{value:.2} ms"),
        Unit::MebiBytes => format!("{value:.0} MiB"),
    }
}

fn format_goal(goal: Goal, unit: Unit) -> String {
    match goal {
        Goal::AtLeast(goal) => format!(">= {}", format_amount(goal, unit)),
        Goal::Below(goal) => format!("< {}", format_amount(goal, unit)),
        Goal::None => "-".to_string(),
    }
}

pub(super) fn print_figures(figures: &[Figure]) {
    println!("{:<52} {:>14} {:>14}  RESULT", "FIGURE", "VALUE", "TARGET");
    for figure in figures {
        println!(
            "{:<52} {:>14} {:>14}  {}",
            figure.name,
            format_amount(figure.value, figure.unit),
            format_goal(figure.goal, figure.unit),
            figure.result()
        );
    }
}

/// Sorted latencies with nearest-rank percentiles.
pub(super) struct Latencies(Vec<Duration>);

impl Latencies {
    pub(super) fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// The p50 and p99 figures of one measurement, named `{what} p50 ({context})` and so on.
    pub(super) fn figures(
        &self,
        what: &str,
        context: &str,
        p50_goal: Goal,
        p99_goal: Goal,
    ) -> [Figure; 2] {
        [
            Figure::latency(
                format!("{what} p50 ({context})"),
                self.percentile(0.50),
                p50_goal,
            ),
            Figure::latency(
                format!("{what} p99 ({context})"),
                self.percentile(0.99),
                p99_goal,
            ),
        ]
    }

    fn percentile(&self, fraction: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = (fraction * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test

/// `bulwark server` as a child process; killed when dropped.
struct ServerProcess {
    child: tokio::process::Child,
    pid: u32,
    address: SocketAddr,
    /// Held open so the server never writes into a closed pipe.
    _stdout: BufReader<tokio::process::ChildStdout>,
}

impl ServerProcess {
    async fn spawn(dir: &Path) -> Result<Self> {
        let executable = std::env::current_exe().context("cannot find the bulwark executable")?;
        let log = std::fs::File::create(dir.join("server.log"))
            .context("cannot create the server log")?;
        let mut child = tokio::process::Command::new(executable)
            .arg("server")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--port", "0", "--storage", "sqlite"])
            .env("BULWARK_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `bulwark server`")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the server exited at once"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the server's stdout is not piped"))?;
        let mut stdout = BufReader::new(stdout);
        let address = tokio::time::timeout(Duration::from_secs(60), read_address(&mut stdout))
            .await
            .context("the server did not announce its address within 60 s")??;
        Ok(Self {
            child,
            pid,
            address,
            _stdout: stdout,
        })
    }

    /// The server's resident set size.
    fn resident_bytes(&self) -> Result<u64> {
        resident_bytes_of(self.pid)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Reads the server's announcement lines up to the kubeconfig one; returns its address.
/// A process's resident set size, from `/proc/<pid>/status`.
pub(super) fn resident_bytes_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow!("no VmRSS line in /proc/{pid}/status"))?;
    let kibibytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|amount| amount.parse().ok())
        .ok_or_else(|| anyhow!("unreadable VmRSS line {line:?}"))?;
    Ok(kibibytes * 1024)
}

pub(super) async fn read_address(
    stdout: &mut BufReader<tokio::process::ChildStdout>,
) -> Result<SocketAddr> {
    let mut address = None;
    for _ in 0..16 {
        let mut line = String::new();
        if stdout.read_line(&mut line).await? == 0 {
            bail!("the server exited before announcing its address (see server.log)");
        }
        if let Some(rest) = line
            .trim()
            .strip_prefix("Bulwark API server listening on http://")
        {
            address = Some(
                rest.parse()
                    .with_context(|| format!("unreadable address {rest:?}"))?,
            );
        }
        if line.starts_with("export KUBECONFIG=") {
            break;
        }
    }
    address.ok_or_else(|| anyhow!("the server never announced its address"))
}

// ---------------------------------------------------------------------------------------------
// HTTP

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";

#[derive(Clone)]
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Api {
    fn new(address: SocketAddr) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Self {
            client,
            base: format!("http://{address}"),
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        accept: &str,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>> {
        Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, accept)
            .header(header::USER_AGENT, "bulwark-bench/v0")
            .body(Full::new(body))
            .context("cannot build a request")
    }

    /// Sends a request and reads the whole answer; any status but `expected` is an error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        accept: &str,
        body: Bytes,
        expected: StatusCode,
    ) -> Result<Bytes> {
        let request = self.request(method.clone(), path, content_type, accept, body)?;
        let response = self
            .client
            .request(request)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("{method} {path}: reading the body"))?
            .to_bytes();
        if status != expected {
            bail!(
                "{method} {path}: expected {expected}, got {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }

    async fn get(&self, path: &str, accept: &str) -> Result<Bytes> {
        self.call(
            Method::GET,
            path,
            JSON,
            accept,
            Bytes::new(),
            StatusCode::OK,
        )
        .await
    }

    async fn create_pod(&self, namespace: &str, name: &str) -> Result<()> {
        let path = format!("/api/v1/namespaces/{namespace}/pods");
        self.call(
            Method::POST,
            &path,
            JSON,
            JSON,
            pod_body(name),
            StatusCode::CREATED,
        )
        .await
        .map(drop)
    }

    async fn create_namespace(&self, name: &str) -> Result<()> {
        let body = serde_json::to_vec(
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )?;
        self.call(
            Method::POST,
            "/api/v1/namespaces",
            JSON,
            JSON,
            body.into(),
            StatusCode::CREATED,
        )
        .await
        .map(drop)
    }
}

/// A pod shaped like the seed's payment pod, with labels, ports, env and a probe.
fn pod_body(name: &str) -> Bytes {
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "payment", "tier": "backend", "version": "v2.1", "pod-template-hash": "7d4f9c8b6"},
            "annotations": {"bulwark.dev/bench": "api"},
        },
        "spec": {
            "containers": [{
                "name": "payment",
                "image": "payment:v2.1",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "REGION", "value": "eu-west-1"}],
                "resources": {
                    "requests": {"memory": "256Mi", "cpu": "250m"},
                    "limits": {"memory": "512Mi", "cpu": "500m"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 8080}, "periodSeconds": 5},
            }],
        },
    });
    Bytes::from(serde_json::to_vec(&pod).expect("a literal JSON value serialises"))
}

fn pod_name(index: usize) -> String {
    format!("payment-{index:06}")
}

// ---------------------------------------------------------------------------------------------
// Phases

async fn api(args: ApiBenchArgs) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds.max(1));
    let dir = tempfile::Builder::new()
        .prefix("bulwark-bench-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let server = ServerProcess::spawn(dir.path()).await?;
    eprintln!(
        "bench: server pid {} on http://{} (data in {})",
        server.pid,
        server.address,
        dir.path().display()
    );
    let api = Api::new(server.address);
    let outcome = measure(&api, &server, &args, deadline).await;
    server.stop().await;
    let figures = outcome
        .with_context(|| format!("server log: {}", dir.path().join("server.log").display()))?;
    println!(
        "bulwark bench api: {} pods, {} pods for RSS, {} watchers, {} s phases, {} create clients",
        args.pods, args.rss_pods, args.watchers, args.seconds, args.concurrency
    );
    print_figures(&figures);
    Ok(())
}

async fn measure(
    api: &Api,
    server: &ServerProcess,
    args: &ApiBenchArgs,
    deadline: Instant,
) -> Result<Vec<Figure>> {
    let pods = args.pods.max(1);
    let phase = Duration::from_secs(args.seconds.max(1));
    api.create_namespace("bench").await?;
    api.create_namespace("bench-watch").await?;
    let mut figures = Vec::new();

    eprintln!(
        "bench: creating {pods} pods with {} clients",
        args.concurrency
    );
    let rate = create_pods(api, 0..pods, args.concurrency, deadline).await?;
    figures.push(Figure::new(
        format!("create throughput ({} clients)", args.concurrency.max(1)),
        rate,
        Unit::PerSecond,
        Goal::AtLeast(5_000.0),
    ));

    eprintln!("bench: get latency");
    let gets = get_latencies(api, pods, phase, deadline).await?;
    eprintln!("bench: {} gets", gets.len());
    figures.extend(gets.figures(
        "get latency",
        &format!("{pods} pods stored"),
        Goal::None,
        Goal::None,
    ));

    eprintln!("bench: list latency");
    let json = list_latencies(api, JSON, pods, phase, deadline).await?;
    figures.extend(json.figures(
        "list latency",
        &format!("JSON, {pods} pods"),
        Goal::None,
        Goal::None,
    ));
    let table = list_latencies(api, TABLE_ACCEPT, pods, phase, deadline).await?;
    eprintln!(
        "bench: {} JSON lists, {} Table lists",
        json.len(),
        table.len()
    );
    figures.extend(table.figures(
        "list latency",
        &format!("Table, {pods} pods"),
        Goal::Below(150.0),
        Goal::Below(150.0),
    ));

    eprintln!("bench: mutating latency at {}/s", args.write_rate);
    let writes = mutating_latencies(api, pods, args.write_rate, phase, deadline).await?;
    eprintln!("bench: {} writes", writes.len());
    let rate = args.write_rate.max(1);
    figures.extend(writes.figures(
        "mutating latency",
        &format!("patch at {rate}/s"),
        Goal::None,
        Goal::Below(10.0),
    ));

    eprintln!("bench: watch delivery to {} watchers", args.watchers);
    let delivery = watch_latencies(
        api,
        args.watchers.max(1),
        args.watch_write_rate,
        phase,
        deadline,
    )
    .await?;
    let watchers = args.watchers.max(1);
    eprintln!("bench: {} deliveries", delivery.len());
    figures.extend(delivery.figures(
        "watch delivery",
        &format!("{watchers} watchers"),
        Goal::None,
        Goal::Below(20.0),
    ));

    let rss_pods = args.rss_pods.max(pods);
    figures.push(Figure::new(
        format!("server RSS ({pods} pods stored)"),
        mebibytes(server.resident_bytes()?),
        Unit::MebiBytes,
        Goal::None,
    ));
    if rss_pods > pods {
        eprintln!("bench: filling up to {rss_pods} pods");
        create_pods(api, pods..rss_pods, args.concurrency, deadline).await?;
    }
    figures.push(Figure::new(
        format!("server RSS ({rss_pods} pods stored)"),
        mebibytes(server.resident_bytes()?),
        Unit::MebiBytes,
        Goal::Below(1024.0),
    ));
    Ok(figures)
}

pub(super) fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub(super) fn check_deadline(deadline: Instant) -> Result<()> {
    if Instant::now() >= deadline {
        bail!("the bench ran past --max-seconds");
    }
    Ok(())
}

/// Creates pods `range` in namespace `bench` from concurrent clients; returns creates per second.
async fn create_pods(
    api: &Api,
    range: std::ops::Range<usize>,
    concurrency: usize,
    deadline: Instant,
) -> Result<f64> {
    let total = range.len();
    let next = Arc::new(AtomicUsize::new(range.start));
    let started = Instant::now();
    let mut workers: tokio::task::JoinSet<Result<()>> = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1).min(total.max(1)) {
        let (api, next, end) = (api.clone(), Arc::clone(&next), range.end);
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end {
                    return Ok(());
                }
                check_deadline(deadline)?;
                api.create_pod("bench", &pod_name(index)).await?;
            }
        });
    }
    while let Some(outcome) = workers.join_next().await {
        outcome.context("a create worker panicked")??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// One client GETs stored pods one after another for `phase`.
async fn get_latencies(
    api: &Api,
    pods: usize,
    phase: Duration,
    deadline: Instant,
) -> Result<Latencies> {
    const MAX_REQUESTS: usize = 1_000_000;
    let started = Instant::now();
    let mut samples = Vec::new();
    for request in 0..MAX_REQUESTS {
        if started.elapsed() >= phase && !samples.is_empty() {
            break;
        }
        check_deadline(deadline)?;
        // A stride coprime with most sizes visits pods in a scattered order.
        let index = request.wrapping_mul(7_919) % pods;
        let path = format!("/api/v1/namespaces/bench/pods/{}", pod_name(index));
        let sent = Instant::now();
        api.get(&path, JSON).await?;
        samples.push(sent.elapsed());
    }
    Ok(Latencies::new(samples))
}

#[derive(Deserialize)]
struct ListShape {
    #[serde(default)]
    items: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    rows: Vec<serde::de::IgnoredAny>,
}

/// Full lists of namespace `bench` for `phase` (at least 3, at most 1,000), checking the first.
async fn list_latencies(
    api: &Api,
    accept: &str,
    pods: usize,
    phase: Duration,
    deadline: Instant,
) -> Result<Latencies> {
    const MIN_LISTS: usize = 3;
    const MAX_LISTS: usize = 1_000;
    let path = "/api/v1/namespaces/bench/pods";
    let started = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < MAX_LISTS && (samples.len() < MIN_LISTS || started.elapsed() < phase) {
        check_deadline(deadline)?;
        let sent = Instant::now();
        let body = api.get(path, accept).await?;
        samples.push(sent.elapsed());
        if samples.len() == 1 {
            let shape: ListShape = serde_json::from_slice(&body).context("unreadable list")?;
            let count = shape.items.len().max(shape.rows.len());
            if count != pods {
                bail!("a full list ({accept}) returned {count} pods, expected {pods}");
            }
        }
    }
    Ok(Latencies::new(samples))
}

/// Merge patches at a fixed rate, each timed from when it was due.
async fn mutating_latencies(
    api: &Api,
    pods: usize,
    rate: u32,
    phase: Duration,
    deadline: Instant,
) -> Result<Latencies> {
    let rate = rate.max(1);
    let count = (u64::from(rate) * phase.as_secs()).max(1) as usize;
    let interval = Duration::from_secs(1) / rate;
    let started = tokio::time::Instant::now();
    let mut writes: tokio::task::JoinSet<Result<Duration>> = tokio::task::JoinSet::new();
    for write in 0..count {
        check_deadline(deadline)?;
        let due = started + interval * write as u32;
        tokio::time::sleep_until(due).await;
        let api = api.clone();
        writes.spawn(async move {
            let path = format!("/api/v1/namespaces/bench/pods/{}", pod_name(write % pods));
            let patch =
                serde_json::json!({"metadata": {"labels": {"bench-write": write.to_string()}}});
            let body = Bytes::from(serde_json::to_vec(&patch)?);
            api.call(
                Method::PATCH,
                &path,
                MERGE_PATCH,
                JSON,
                body,
                StatusCode::OK,
            )
            .await?;
            Ok(due.elapsed())
        });
    }
    let mut samples = Vec::with_capacity(count);
    while let Some(outcome) = writes.join_next().await {
        samples.push(outcome.context("a write task panicked")??);
    }
    Ok(Latencies::new(samples))
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    event_type: String,
    object: WatchObject,
}

#[derive(Deserialize)]
struct WatchObject {
    #[serde(default)]
    metadata: Option<WatchMetadata>,
}

#[derive(Deserialize)]
struct WatchMetadata {
    #[serde(default)]
    name: Option<String>,
}

/// Arrival times of `watch-N` pods at one watcher, indexed by N.
type Arrivals = Vec<Option<Instant>>;

/// `watchers` watches on namespace `bench-watch` while pods are created into it at `rate`;
/// each delivery is timed from the create's acknowledgement.
async fn watch_latencies(
    api: &Api,
    watchers: usize,
    rate: u32,
    phase: Duration,
    deadline: Instant,
) -> Result<Latencies> {
    let rate = rate.max(1);
    let count = (u64::from(rate) * phase.as_secs()).max(1) as usize;
    let list = api
        .get("/api/v1/namespaces/bench-watch/pods?limit=1", JSON)
        .await?;
    let revision = serde_json::from_slice::<serde_json::Value>(&list)?
        .pointer("/metadata/resourceVersion")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the list has no resourceVersion"))?;
    let path = format!("/api/v1/namespaces/bench-watch/pods?watch=true&resourceVersion={revision}");
    let mut streams: tokio::task::JoinSet<Result<Arrivals>> = tokio::task::JoinSet::new();
    for _ in 0..watchers {
        let request = api.request(Method::GET, &path, JSON, JSON, Bytes::new())?;
        let response = api
            .client
            .request(request)
            .await
            .context("cannot start a watch")?;
        if response.status() != StatusCode::OK {
            bail!("a watch was refused with {}", response.status());
        }
        // The server subscribes before it answers, so every later write reaches this watcher.
        streams.spawn(follow_watch(response.into_body(), count, deadline));
    }

    let acknowledged = Arc::new(Mutex::new(vec![None; count]));
    let interval = Duration::from_secs(1) / rate;
    let started = tokio::time::Instant::now();
    let mut writes: tokio::task::JoinSet<Result<()>> = tokio::task::JoinSet::new();
    for index in 0..count {
        check_deadline(deadline)?;
        tokio::time::sleep_until(started + interval * index as u32).await;
        let (api, acknowledged) = (api.clone(), Arc::clone(&acknowledged));
        writes.spawn(async move {
            api.create_pod("bench-watch", &format!("watch-{index}"))
                .await?;
            acknowledged.lock().await[index] = Some(Instant::now());
            Ok(())
        });
    }
    while let Some(outcome) = writes.join_next().await {
        outcome.context("a write task panicked")??;
    }
    let acknowledged = acknowledged.lock().await.clone();
    let mut samples = Vec::with_capacity(count * watchers);
    while let Some(outcome) = streams.join_next().await {
        let arrivals = outcome.context("a watcher panicked")??;
        for (arrival, ack) in arrivals.iter().zip(&acknowledged) {
            let (Some(arrival), Some(ack)) = (arrival, ack) else {
                bail!("a watcher did not receive every event before the deadline");
            };
            // An event may overtake its own acknowledgement: that is zero delay.
            samples.push(arrival.saturating_duration_since(*ack));
        }
    }
    Ok(Latencies::new(samples))
}

/// Reads one watch stream until `count` pods arrived (or the deadline); returns arrival times.
async fn follow_watch(
    mut body: hyper::body::Incoming,
    count: usize,
    deadline: Instant,
) -> Result<Arrivals> {
    let mut arrivals: Arrivals = vec![None; count];
    let mut received = 0;
    let mut pending: Vec<u8> = Vec::new();
    while received < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(remaining, body.frame()).await {
            Ok(Some(frame)) => frame.context("the watch stream broke")?,
            Ok(None) => bail!("the server ended a watch early"),
            Err(_) => bail!("the bench ran past --max-seconds while watching"),
        };
        let arrived = Instant::now();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let event: WatchLine =
                serde_json::from_slice(&line).context("unreadable watch event")?;
            if event.event_type == "ERROR" {
                bail!("the watch failed: {}", String::from_utf8_lossy(&line));
            }
            let index = event
                .object
                .metadata
                .and_then(|metadata| metadata.name)
                .and_then(|name| {
                    name.strip_prefix("watch-")
                        .and_then(|n| n.parse::<usize>().ok())
                });
            if let Some(slot) = index.and_then(|index| arrivals.get_mut(index))
                && slot.is_none()
            {
                *slot = Some(arrived);
                received += 1;
            }
        }
    }
    Ok(arrivals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.percentile(0.50), Duration::from_millis(50));
        assert_eq!(latencies.percentile(0.99), Duration::from_millis(99));
        assert_eq!(latencies.percentile(1.0), Duration::from_millis(100));
        assert_eq!(latencies.len(), 100);
    }

    #[test]
    fn figures_pass_or_miss_against_their_goal() {
        assert_eq!(
            Figure::new("x", 5_000.0, Unit::PerSecond, Goal::AtLeast(5_000.0)).result(),
            "PASS"
        );
        assert_eq!(
            Figure::new("x", 4_999.0, Unit::PerSecond, Goal::AtLeast(5_000.0)).result(),
            "MISS"
        );
        assert_eq!(
            Figure::new("x", 10.0, Unit::Milliseconds, Goal::Below(10.0)).result(),
            "MISS"
        );
        assert_eq!(
            Figure::new("x", 1.0, Unit::MebiBytes, Goal::None).result(),
            "-"
        );
    }
}
