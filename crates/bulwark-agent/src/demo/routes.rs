//! The demo service's state and HTTP routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::watch;

use super::{DemoConfig, sleep};

/// The live knobs and counters, shared by the routes and the burn workers.
pub(super) struct Demo {
    config: DemoConfig,
    address: SocketAddr,
    started: Instant,
    pub(super) fail_ready: AtomicBool,
    pub(super) fail_live: AtomicBool,
    latency_ms: AtomicU64,
    /// The error rate as `f64` bits.
    error_rate: AtomicU64,
    pub(super) memory_growth_mb_per_second: AtomicU64,
    pub(super) cpu_millicores: AtomicU64,
    pub(super) memory_held_mb: AtomicU64,
    requests: AtomicU64,
    dice: Mutex<SplitMix64>,
    crash: watch::Sender<Option<(i32, String)>>,
    pub(super) stopping: AtomicBool,
}

impl Demo {
    /// Clock reads here measure the service's own uptime, which is what it reports.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn new(config: DemoConfig, address: SocketAddr) -> Self {
        Self {
            address,
            started: Instant::now(),
            fail_ready: AtomicBool::new(config.fail_ready),
            fail_live: AtomicBool::new(config.fail_live),
            latency_ms: AtomicU64::new(
                u64::try_from(config.latency.as_millis()).unwrap_or(u64::MAX),
            ),
            error_rate: AtomicU64::new(config.error_rate.to_bits()),
            memory_growth_mb_per_second: AtomicU64::new(config.memory_growth_mb_per_second),
            cpu_millicores: AtomicU64::new(config.cpu_burn_millicores),
            memory_held_mb: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            dice: Mutex::new(SplitMix64(config.seed)),
            crash: watch::channel(None).0,
            stopping: AtomicBool::new(false),
            config,
        }
    }

    pub(super) fn config(&self) -> &DemoConfig {
        &self.config
    }

    pub(super) fn crashes(&self) -> watch::Receiver<Option<(i32, String)>> {
        self.crash.subscribe()
    }

    pub(super) fn crash(&self, exit_code: Option<i32>, why: String) {
        let exit_code = exit_code.unwrap_or(self.config.crash_exit_code);
        self.crash.send_replace(Some((exit_code, why)));
    }

    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    #[allow(clippy::disallowed_methods)]
    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn has_started(&self) -> bool {
        self.uptime() >= self.config.startup_delay
    }

    fn roll_error(&self) -> bool {
        let rate = f64::from_bits(self.error_rate.load(Ordering::Relaxed));
        let mut dice = self
            .dice
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        dice.next_unit() < rate
    }

    fn state(&self) -> serde_json::Value {
        json!({
            "pod": self.config.pod_name,
            "started": self.has_started(),
            "failReady": self.fail_ready.load(Ordering::Relaxed),
            "failLive": self.fail_live.load(Ordering::Relaxed),
            "latencyMs": self.latency_ms.load(Ordering::Relaxed),
            "errorRate": f64::from_bits(self.error_rate.load(Ordering::Relaxed)),
            "memoryGrowthMbPerSecond": self.memory_growth_mb_per_second.load(Ordering::Relaxed),
            "memoryHeldMb": self.memory_held_mb.load(Ordering::Relaxed),
            "cpuMillicores": self.cpu_millicores.load(Ordering::Relaxed),
            "requests": self.requests.load(Ordering::Relaxed),
        })
    }
}

/// A tiny seeded generator (SplitMix64): reproducible dice without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Shared = State<Arc<Demo>>;
type Params = Query<HashMap<String, String>>;

pub(super) fn router(demo: Arc<Demo>) -> Router {
    Router::new()
        .route("/", get(work))
        .route("/work", get(work))
        .route("/healthz/startup", get(startup))
        .route("/healthz/ready", get(ready))
        .route("/healthz/live", get(live))
        .route(
            "/admin/state",
            get(|State(demo): Shared| async move { Json(demo.state()) }),
        )
        .route("/admin/ready", post(admin_ready))
        .route("/admin/live", post(admin_live))
        .route("/admin/crash", post(admin_crash))
        .route("/admin/latency", post(admin_latency))
        .route("/admin/error-rate", post(admin_error_rate))
        .route("/admin/memory", post(admin_memory))
        .route("/admin/cpu", post(admin_cpu))
        .with_state(demo)
}

async fn work(State(demo): Shared) -> Response {
    let request = demo.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let latency = Duration::from_millis(demo.latency_ms.load(Ordering::Relaxed));
    if !latency.is_zero() {
        sleep(latency).await;
    }
    let body = |status: &str| {
        json!({
            "pod": demo.config.pod_name,
            "namespace": demo.config.namespace,
            "podIP": demo.address.ip().to_string(),
            "port": demo.address.port(),
            "request": request,
            "status": status,
        })
    };
    if demo.roll_error() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(body("injected error")),
        )
            .into_response();
    }
    Json(body("ok")).into_response()
}

async fn startup(State(demo): Shared) -> Response {
    if demo.has_started() {
        return (StatusCode::OK, "started\n").into_response();
    }
    let left = demo.config.startup_delay.saturating_sub(demo.uptime());
    let message = format!("starting: {:.1}s left\n", left.as_secs_f64());
    (StatusCode::SERVICE_UNAVAILABLE, message).into_response()
}

async fn ready(State(demo): Shared) -> Response {
    if !demo.has_started() {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    }
    if demo.fail_ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready (admin switch)\n",
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn live(State(demo): Shared) -> Response {
    if demo.fail_live.load(Ordering::Relaxed) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "not live (admin switch)\n",
        )
            .into_response();
    }
    (StatusCode::OK, "live\n").into_response()
}

/// A query parameter parsed; the error is the message of a 400 that names it.
fn param<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<T, String> {
    let value = params
        .get(name)
        .ok_or_else(|| format!("missing query parameter {name}"))?;
    value
        .parse()
        .map_err(|_| format!("query parameter {name}={value:?} is not valid"))
}

/// Like [`param`], with `default` when the parameter is absent.
fn param_or<T: std::str::FromStr>(
    params: &HashMap<String, String>,
    name: &str,
    default: T,
) -> Result<T, String> {
    if params.contains_key(name) {
        param(params, name)
    } else {
        Ok(default)
    }
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

fn changed(demo: &Demo, what: String) -> Response {
    println!("bulwark/demo: admin: {what}");
    Json(demo.state()).into_response()
}

async fn admin_ready(State(demo): Shared, Query(params): Params) -> Response {
    match param_or(&params, "fail", true) {
        Ok(fail) => {
            demo.fail_ready.store(fail, Ordering::Relaxed);
            changed(&demo, format!("readiness failing = {fail}"))
        }
        Err(message) => bad_request(message),
    }
}

async fn admin_live(State(demo): Shared, Query(params): Params) -> Response {
    match param_or(&params, "fail", true) {
        Ok(fail) => {
            demo.fail_live.store(fail, Ordering::Relaxed);
            changed(&demo, format!("liveness failing = {fail}"))
        }
        Err(message) => bad_request(message),
    }
}

async fn admin_crash(State(demo): Shared, Query(params): Params) -> Response {
    let code = match params.contains_key("code") {
        false => None,
        true => match param::<i32>(&params, "code") {
            Ok(code) => Some(code),
            Err(message) => return bad_request(message),
        },
    };
    // Let this response reach the client before the service goes down.
    let crasher = demo.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        crasher.crash(code, "POST /admin/crash".into());
    });
    changed(&demo, "crash requested".into())
}

async fn admin_latency(State(demo): Shared, Query(params): Params) -> Response {
    match param::<u64>(&params, "ms") {
        Ok(ms) => {
            demo.latency_ms.store(ms, Ordering::Relaxed);
            changed(&demo, format!("latency = {ms} ms"))
        }
        Err(message) => bad_request(message),
    }
}

async fn admin_error_rate(State(demo): Shared, Query(params): Params) -> Response {
    match param::<f64>(&params, "p") {
        Ok(rate) if (0.0..=1.0).contains(&rate) => {
            demo.error_rate.store(rate.to_bits(), Ordering::Relaxed);
            changed(&demo, format!("error rate = {rate}"))
        }
        Ok(rate) => bad_request(format!("error rate {rate} is not between 0 and 1")),
        Err(message) => bad_request(message),
    }
}

async fn admin_memory(State(demo): Shared, Query(params): Params) -> Response {
    match param::<u64>(&params, "mb_per_second") {
        Ok(rate) => {
            demo.memory_growth_mb_per_second
                .store(rate, Ordering::Relaxed);
            changed(&demo, format!("memory growth = {rate} MB/s"))
        }
        Err(message) => bad_request(message),
    }
}

async fn admin_cpu(State(demo): Shared, Query(params): Params) -> Response {
    match param::<u64>(&params, "millicores") {
        Ok(millicores) => {
            demo.cpu_millicores.store(millicores, Ordering::Relaxed);
            changed(&demo, format!("cpu burn = {millicores} millicores"))
        }
        Err(message) => bad_request(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_are_reproducible_and_in_range() {
        let mut first = SplitMix64(42);
        let mut second = SplitMix64(42);
        for _ in 0..1000 {
            let roll = first.next_unit();
            assert!((0.0..1.0).contains(&roll));
            assert_eq!(roll.to_bits(), second.next_unit().to_bits());
        }
    }
}
