//! Starts the controller manager beside the API server, talking to it over the server's own
//! loopback address like any other client, and stops it before the server stops (its watches
//! would otherwise hold the server's graceful shutdown open).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bulwark_controllers::runtime::leader::LeaderConfig;
use bulwark_core::clock::SystemClock;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running controller manager.
pub struct Controllers {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// How long shutdown waits for controllers to finish their reconciles and release the lease.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub fn start(address: SocketAddr, settings: bulwark_controllers::Settings) -> Result<Controllers> {
    let url = format!("http://{address}");
    let config = kube::Config::new(
        url.parse()
            .with_context(|| format!("bad API server URL {url}"))?,
    );
    let client =
        kube::Client::try_from(config).context("cannot build the controllers' API client")?;
    let identity = format!("bulwark-{}-{}", std::process::id(), address.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bulwark_controllers::run(
        client,
        Arc::new(SystemClock),
        LeaderConfig::controller_manager(identity),
        settings,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Controllers { stop, task })
}

impl Controllers {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(STOP_GRACE, self.task).await.is_err() {
            tracing::warn!("controllers did not stop in time");
        }
    }
}
