//! `bulwark/demo`: a small HTTP service whose health and behaviour can be steered, so that every
//! example and test has a realistic workload without a container image.
//!
//! Endpoints (on `POD_IP:PORT`, default `127.0.0.1:8080`):
//! - `GET /healthz/startup`, `/healthz/ready`, `/healthz/live`: 200 when healthy, 503/500 not;
//!   startup and readiness fail until `DEMO_STARTUP_DELAY_SECONDS` has passed.
//! - `GET /` and `/work`: JSON naming the pod, after `DEMO_LATENCY_MS`, failing with 500 at
//!   `DEMO_ERROR_RATE` (a seeded dice, `DEMO_SEED`).
//! - `POST /admin/ready?fail=true|false`, `/admin/live?fail=…`, `/admin/crash[?code=N]`,
//!   `/admin/latency?ms=N`, `/admin/error-rate?p=X`, `/admin/memory?mb_per_second=N`,
//!   `/admin/cpu?millicores=N`; `GET /admin/state` shows the current knobs.
//!
//! See [`DemoConfig`] for every environment variable.
//!
//! This is a shell module: it serves sockets, sleeps and reads the clock, which the crate's
//! pure modules may not (`#[allow(clippy::disallowed_methods)]` below says where).

mod burn;
mod config;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::DemoConfig;
use routes::Demo;

/// Why the demo service stopped other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{name}={value:?} is not valid: expected {expected}")]
    BadSetting {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
    /// Crashed on purpose (`/admin/crash` or `DEMO_CRASH_AFTER_SECONDS`).
    #[error("crashed on purpose ({why}); exit code {exit_code}")]
    Crashed { exit_code: i32, why: String },
}

impl DemoError {
    /// The process exit code the `bulwark demo` command should end with.
    pub fn exit_code(&self) -> i32 {
        match self {
            DemoError::Crashed { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }
}

/// Runs the demo service until SIGTERM or SIGINT (then exits cleanly after
/// `DEMO_SHUTDOWN_DELAY_SECONDS`), or until it crashes on purpose.
pub async fn run(config: DemoConfig) -> Result<(), DemoError> {
    let address = SocketAddr::new(config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| DemoError::Bind { address, source })?;
    let shutdown_delay = config.shutdown_delay;
    serve(listener, config, async move {
        termination_signal().await;
        println!("bulwark/demo: termination signal; stopping in {shutdown_delay:?}");
        sleep(shutdown_delay).await;
    })
    .await
}

/// Serves on `listener` until `shutdown` completes or the service crashes on purpose.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: DemoConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let address = listener.local_addr().map_err(DemoError::Serve)?;
    let demo = Arc::new(Demo::new(config, address));
    let _workers = burn::start(demo.clone());
    let crash_timer = demo.config().crash_after.map(|after| {
        let demo = demo.clone();
        tokio::spawn(async move {
            sleep(after).await;
            demo.crash(
                None,
                format!("DEMO_CRASH_AFTER_SECONDS={}", after.as_secs_f64()),
            );
        })
    });
    println!(
        "bulwark/demo: pod {} listening on http://{address}",
        demo.config().pod_name
    );
    let mut crashes = demo.crashes();
    let server =
        axum::serve(listener, routes::router(demo.clone())).with_graceful_shutdown(shutdown);
    let outcome = tokio::select! {
        served = server => served.map_err(DemoError::Serve),
        crash = crashes.wait_for(Option::is_some) => {
            let (exit_code, why) = crash.ok().and_then(|crash| crash.clone()).unwrap_or((1, "unknown".into()));
            println!("bulwark/demo: crashing ({why}), exit code {exit_code}");
            Err(DemoError::Crashed { exit_code, why })
        }
    };
    demo.stop();
    if let Some(timer) = crash_timer {
        timer.abort();
    }
    outcome
}

async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The demo service really waits; it is not decision code.
#[allow(clippy::disallowed_methods)]
async fn sleep(duration: std::time::Duration) {
    tokio::time::sleep(duration).await;
}
