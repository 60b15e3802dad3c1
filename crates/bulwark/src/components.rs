//! The control-plane components that run beside the API server — the controller manager and the
//! scheduler — each talking to it over the server's own loopback address like any other client
//! (DESIGN §3), each under its own leader Lease, and each stopped before the server stops (their
//! watches would otherwise hold the server's graceful shutdown open).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bulwark_controllers::runtime::leader::{self, LeaderConfig};
use bulwark_core::clock::{Clock, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running component.
pub struct Component {
    name: &'static str,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// How long shutdown waits for a component to finish its work in flight and release its lease.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The controller manager (`kube-system/bulwark-controller-manager` lease).
pub fn start_controllers(
    address: SocketAddr,
    settings: bulwark_controllers::Settings,
) -> Result<Component> {
    let client = client_for(address)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let identity = identity(address);
    Ok(spawn("controllers", move |shutdown| {
        bulwark_controllers::run(
            client,
            clock,
            LeaderConfig::controller_manager(identity),
            settings,
            shutdown,
        )
    }))
}

/// `default-scheduler` (`kube-system/bulwark-scheduler` lease).
pub fn start_scheduler(
    address: SocketAddr,
    options: bulwark_scheduler::shell::Options,
) -> Result<Component> {
    let client = client_for(address)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = LeaderConfig::scheduler(identity(address));
    Ok(spawn("scheduler", move |shutdown| async move {
        let lease_client = client.clone();
        let lease_clock = Arc::clone(&clock);
        leader::lead(lease_client, config, lease_clock, shutdown, move |stop| {
            bulwark_scheduler::shell::run(
                client.clone(),
                Arc::clone(&clock),
                options.clone(),
                bulwark_controllers::runtime::stopped(stop),
            )
        })
        .await;
    }))
}

fn client_for(address: SocketAddr) -> Result<kube::Client> {
    Ok(bulwark_agent::agent::run::client_for(&format!(
        "http://{address}"
    ))?)
}

/// Unique per process and port, so two servers on one machine are two candidates.
fn identity(address: SocketAddr) -> String {
    format!("bulwark-{}-{}", std::process::id(), address.port())
}

fn spawn<Run, Running>(name: &'static str, run: Run) -> Component
where
    Run: FnOnce(futures::future::BoxFuture<'static, ()>) -> Running,
    Running: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(Box::pin(async move {
        let _ = stopped.await;
    })));
    Component { name, stop, task }
}

impl Component {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(STOP_GRACE, self.task).await.is_err() {
            tracing::warn!(component = self.name, "did not stop in time");
        }
    }
}
