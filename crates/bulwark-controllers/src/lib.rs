//! Bulwark's controllers: the runtime they share ([`runtime`]) and one module per controller,
//! each a pure `core` (desired + observed + now -> actions) and a thin `shell` (kube I/O).
//!
//! [`run`] is the controller manager: it waits for the `kube-system/bulwark-controller-manager`
//! Lease, runs every controller while it leads, and stops them cleanly on shutdown or when the
//! lease is lost.

pub mod cronjob;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod gc;
pub mod job;
pub mod labels;
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

/// What every controller gets: a client, the clock, and the stop signal.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub clock: Arc<dyn Clock>,
    pub stop: runtime::StopSignal,
}

/// Runs the controller manager until `shutdown` resolves, while it holds the leader lease.
pub async fn run(
    client: kube::Client,
    clock: Arc<dyn Clock>,
    leader: LeaderConfig,
    shutdown: impl Future<Output = ()>,
) {
    let lease_client = client.clone();
    let lease_clock = Arc::clone(&clock);
    runtime::leader::lead(lease_client, leader, lease_clock, shutdown, move |stop| {
        run_controllers(Shared {
            client: client.clone(),
            clock: Arc::clone(&clock),
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
        gc::shell::run(shared),
    );
}
