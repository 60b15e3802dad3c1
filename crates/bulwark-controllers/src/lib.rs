//! Bulwark's controllers: the runtime they share ([`runtime`]) and one module per controller,
//! each a pure `core` (desired + observed + now -> actions) and a thin `shell` (kube I/O).
//!
//! [`run`] is the controller manager: it waits for the `kube-system/bulwark-controller-manager`
//! Lease, runs every controller while it leads, and stops them cleanly on shutdown or when the
//! lease is lost.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod gc;
pub mod job;
pub mod labels;
pub mod namespace;
pub mod podgc;
pub mod pods;
pub mod replicaset;
pub mod runtime;

use std::future::Future;
use std::sync::Arc;

use bulwark_core::clock::Clock;
use runtime::leader::LeaderConfig;

/// Why a reconcile failed; the runtime logs it and retries the key with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Invalid(String),
}

/// What every controller gets: a client, the clock, its settings and the stop signal.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub stop: runtime::StopSignal,
}

/// The controller manager's flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--terminated-pod-gc-threshold`: finished pods kept before the oldest are deleted (0: all).
    pub terminated_pod_gc_threshold: usize,
    /// How long pod GC waits before deleting the pods of a node that no longer exists.
    pub orphan_pod_quarantine: std::time::Duration,
}

impl Default for Settings {
    /// kube-controller-manager's defaults.
    fn default() -> Self {
        Self {
            terminated_pod_gc_threshold: 12_500,
            orphan_pod_quarantine: std::time::Duration::from_secs(40),
        }
    }
}

/// Runs the controller manager until `shutdown` resolves, while it holds the leader lease.
pub async fn run(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    leader: LeaderConfig,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) {
    let lease_client = client.clone();
    let lease_clock = Arc::clone(&clock);
    runtime::leader::lead(lease_client, leader, lease_clock, shutdown, move |stop| {
        run_controllers(Shared {
            client: client.clone(),
            clock: Arc::clone(&clock),
            settings: settings.clone(),
            stop,
        })
    })
    .await;
    tracing::info!("controllers stopped");
}

async fn run_controllers(shared: Shared) {
    futures::join!(
        replicaset::shell::run(shared.clone()),
        deployment::shell::run(shared.clone()),
        job::shell::run(shared.clone()),
        job::ttl::run(shared.clone()),
        cronjob::shell::run(shared.clone()),
        endpoints::shell::run(shared.clone()),
        daemonset::shell::run(shared.clone()),
        namespace::shell::run(shared.clone()),
        podgc::shell::run(shared.clone()),
        gc::shell::run(shared),
    );
}
