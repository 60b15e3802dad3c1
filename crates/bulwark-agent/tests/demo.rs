//! The `bulwark/demo` service on a free loopback port: every endpoint and knob.
// The demo service runs in real time, so its test measures latency and waits for memory growth
// on the real clock (lower bounds and bounded polls only, never a sleep for correctness).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bulwark_agent::demo::{DemoConfig, DemoError, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DemoError>>,
}

async fn start(vars: &[(&str, &str)]) -> Running {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = DemoConfig::from_lookup(|name| vars.get(name).cloned()).expect("valid settings");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("free port");
    let address = listener.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, config, async move {
        let _ = stopped.await;
    }));
    Running {
        address,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.address).await.expect("connects");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: demo\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("sends");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("reads");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("status line");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path).await
    }

    async fn post(&self, path: &str) -> (u16, String) {
        self.request("POST", path).await
    }

    async fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/admin/state").await.1).expect("state is JSON")
    }

    async fn shutdown(mut self) -> Result<(), DemoError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("serve task")
    }

    async fn outcome(self) -> Result<(), DemoError> {
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("ends in time")
            .expect("serve task")
    }
}

#[tokio::test]
async fn healthy_service_passes_every_probe_and_names_its_pod() {
    let demo = start(&[("POD_NAME", "web-1"), ("POD_NAMESPACE", "shop")]).await;
    for path in ["/healthz/startup", "/healthz/ready", "/healthz/live"] {
        assert_eq!(demo.get(path).await.0, 200, "{path}");
    }
    for path in ["/", "/work"] {
        let (status, body) = demo.get(path).await;
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["pod"], "web-1");
        assert_eq!(body["namespace"], "shop");
        assert_eq!(body["podIP"], "127.0.0.1");
    }
    assert_eq!(demo.state().await["requests"], 2);
    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn startup_delay_fails_startup_and_readiness_but_not_liveness() {
    let demo = start(&[("DEMO_STARTUP_DELAY_SECONDS", "3600")]).await;
    assert_eq!(demo.get("/healthz/startup").await.0, 503);
    assert_eq!(demo.get("/healthz/ready").await.0, 503);
    assert_eq!(demo.get("/healthz/live").await.0, 200);
    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn admin_switches_fail_readiness_and_liveness_on_demand() {
    let demo = start(&[]).await;
    assert_eq!(demo.post("/admin/ready?fail=true").await.0, 200);
    assert_eq!(demo.get("/healthz/ready").await.0, 503);
    assert_eq!(demo.get("/healthz/live").await.0, 200);
    assert_eq!(demo.post("/admin/ready?fail=false").await.0, 200);
    assert_eq!(demo.get("/healthz/ready").await.0, 200);

    assert_eq!(demo.post("/admin/live?fail=true").await.0, 200);
    assert_eq!(demo.get("/healthz/live").await.0, 500);
    assert_eq!(demo.post("/admin/live?fail=false").await.0, 200);
    assert_eq!(demo.get("/healthz/live").await.0, 200);

    let demo_failing = start(&[("DEMO_FAIL_READY", "true"), ("DEMO_FAIL_LIVE", "true")]).await;
    assert_eq!(demo_failing.get("/healthz/ready").await.0, 503);
    assert_eq!(demo_failing.get("/healthz/live").await.0, 500);
    demo.shutdown().await.expect("clean shutdown");
    demo_failing.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn latency_knob_delays_work_requests() {
    let demo = start(&[("DEMO_LATENCY_MS", "40")]).await;
    let began = Instant::now();
    assert_eq!(demo.get("/work").await.0, 200);
    assert!(began.elapsed() >= Duration::from_millis(40));
    assert_eq!(demo.post("/admin/latency?ms=80").await.0, 200);
    assert_eq!(demo.state().await["latencyMs"], 80);
    let began = Instant::now();
    assert_eq!(demo.get("/").await.0, 200);
    assert!(began.elapsed() >= Duration::from_millis(80));
    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn error_rate_fails_that_share_of_work_with_seeded_dice() {
    let demo = start(&[("DEMO_ERROR_RATE", "1")]).await;
    for _ in 0..5 {
        let (status, body) = demo.get("/work").await;
        assert_eq!(status, 500);
        assert!(body.contains("injected error"));
    }
    assert_eq!(demo.post("/admin/error-rate?p=0").await.0, 200);
    assert_eq!(demo.get("/work").await.0, 200);
    assert_eq!(demo.post("/admin/error-rate?p=1.5").await.0, 400);
    demo.shutdown().await.expect("clean shutdown");

    let mut sequences = Vec::new();
    for _ in 0..2 {
        let demo = start(&[("DEMO_ERROR_RATE", "0.5"), ("DEMO_SEED", "1234")]).await;
        let mut statuses = Vec::new();
        for _ in 0..32 {
            statuses.push(demo.get("/work").await.0);
        }
        demo.shutdown().await.expect("clean shutdown");
        sequences.push(statuses);
    }
    assert_eq!(
        sequences[0], sequences[1],
        "the same seed rolls the same dice"
    );
    assert!(sequences[0].contains(&500) && sequences[0].contains(&200));
}

#[tokio::test]
async fn admin_crash_ends_the_service_with_the_requested_exit_code() {
    let demo = start(&[]).await;
    assert_eq!(demo.post("/admin/crash?code=3").await.0, 200);
    match demo.outcome().await {
        Err(DemoError::Crashed { exit_code: 3, .. }) => {}
        other => panic!("expected a crash with code 3, got {other:?}"),
    }
}

#[tokio::test]
async fn crash_after_ends_the_service_with_the_configured_code() {
    let demo = start(&[
        ("DEMO_CRASH_AFTER_SECONDS", "0.05"),
        ("DEMO_CRASH_EXIT_CODE", "7"),
    ])
    .await;
    let error = demo.outcome().await.unwrap_err();
    assert_eq!(error.exit_code(), 7);
}

#[tokio::test]
async fn cpu_and_memory_knobs_take_effect() {
    let demo = start(&[("DEMO_MEMORY_MAX_MB", "4")]).await;
    assert_eq!(demo.post("/admin/cpu?millicores=50").await.0, 200);
    assert_eq!(demo.state().await["cpuMillicores"], 50);
    assert_eq!(demo.post("/admin/memory?mb_per_second=40").await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = demo.state().await["memoryHeldMb"].as_u64().unwrap_or(0);
        if held == 4 {
            break;
        }
        assert!(held <= 4, "growth stops at DEMO_MEMORY_MAX_MB");
        assert!(Instant::now() < deadline, "memory never grew");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(demo.post("/admin/cpu?millicores=0").await.0, 200);
    demo.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bad_admin_requests_are_400_and_name_the_parameter() {
    let demo = start(&[]).await;
    for path in [
        "/admin/latency",
        "/admin/latency?ms=soon",
        "/admin/ready?fail=maybe",
        "/admin/cpu?millicores=-1",
        "/admin/crash?code=x",
    ] {
        let (status, body) = demo.post(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.contains("parameter"), "{path}: {body}");
    }
    assert_eq!(demo.get("/nope").await.0, 404);
    demo.shutdown().await.expect("clean shutdown");
}
