//! The control plane: storage, API server, scheduler and controllers, with a clean shutdown on
//! Ctrl-C or SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bulwark_apiserver::{ApiServer, CacheConfig};
use bulwark_core::clock::SystemClock;
use bulwark_store::Store;
use clap::Args;

/// Flags shared by `bulwark server` and `bulwark up`.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Directory holding the cluster's state (database, kubeconfig).
    #[arg(long, default_value = "bulwark-data", env = "BULWARK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Address to listen on (loopback by default: there is no authentication yet).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Storage backend: `sqlite` (in the data directory), `memory`, or `sqlite:PATH`.
    #[arg(long, default_value = "sqlite")]
    pub storage: String,
    /// Events kept per resource in the watch cache for watches resuming from a revision.
    #[arg(long, default_value_t = 20_000)]
    pub watch_cache_events: usize,
    /// How often to compact storage history (seconds).
    #[arg(long, default_value_t = 60)]
    pub compaction_interval_seconds: u64,
    /// Store revisions kept behind the newest when compacting.
    #[arg(long, default_value_t = 50_000)]
    pub compaction_retain_revisions: i64,
    /// Run the API server without the controller manager (nothing reconciles workloads).
    #[arg(long)]
    pub disable_controllers: bool,
    /// Run without `default-scheduler` (pods stay unscheduled unless something else binds them).
    #[arg(long)]
    pub disable_scheduler: bool,
    /// The pod network nodes get their `/24`s from; it must lie inside 127.128.0.0/9. Two
    /// clusters on one machine keep their pod addresses apart by using different ones.
    #[arg(long, default_value = "127.128.0.0/9")]
    pub cluster_cidr: bulwark_agent::ipam::Ipv4Cidr,
    /// The range Services' cluster IPs are allocated from (IPv4).
    #[arg(long, default_value = "127.96.0.0/12")]
    pub service_cluster_ip_range: bulwark_core::net::Ipv4Cidr,
    /// Terminated pods (Succeeded or Failed) kept before pod GC deletes the oldest; 0 keeps all.
    #[arg(long, default_value_t = 12_500)]
    pub terminated_pod_gc_threshold: usize,
    /// How long pod GC waits before deleting the pods of a node that no longer exists (seconds).
    #[arg(long, default_value_t = 40)]
    pub pod_gc_orphan_quarantine_seconds: u64,
}

/// A running control plane.
pub struct ControlPlane {
    pub address: SocketAddr,
    pub server: Arc<ApiServer>,
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    controllers_enabled: bool,
    scheduler_enabled: bool,
    controller_settings: bulwark_controllers::Settings,
}

fn store_spec(args: &ServerArgs) -> Result<String> {
    Ok(match args.storage.as_str() {
        "sqlite" => format!("sqlite:{}", args.data_dir.join("state.db").display()),
        "memory" => "memory".to_string(),
        other if other.starts_with("sqlite:") => other.to_string(),
        other => bail!("unknown storage backend {other:?}: use sqlite, sqlite:PATH or memory"),
    })
}

pub async fn start(args: &ServerArgs) -> Result<ControlPlane> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    let spec = store_spec(args)?;
    let store =
        bulwark_store::open_store(&spec).with_context(|| format!("cannot open storage {spec}"))?;
    let listener = tokio::net::TcpListener::bind((args.bind_address, args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (is another cluster running? pick another --port)",
                args.bind_address, args.port
            )
        })?;
    let address = listener.local_addr()?;
    let cache_config = CacheConfig {
        ring_events: args.watch_cache_events.max(1),
        ..CacheConfig::default()
    };
    let server = ApiServer::start_with_service_range(
        Arc::clone(&store),
        Arc::new(SystemClock),
        cache_config,
        address.to_string(),
        args.service_cluster_ip_range,
    )
    .await
    .map_err(|error| anyhow::anyhow!("cannot start the API server: {}", error.message))?;
    spawn_compaction(Arc::clone(&store), args);
    spawn_components(address, args)?;
    Ok(ControlPlane {
        address,
        server,
        listener,
        store,
        controllers_enabled: !args.disable_controllers,
        scheduler_enabled: !args.disable_scheduler,
        controller_settings: bulwark_controllers::Settings {
            terminated_pod_gc_threshold: args.terminated_pod_gc_threshold,
            orphan_pod_quarantine: Duration::from_secs(args.pod_gc_orphan_quarantine_seconds),
        },
    })
}

/// The control-plane components that talk to the API server through its own loopback address
/// (DESIGN §3: only through the Kubernetes API); their watches connect once it serves.
fn spawn_components(address: SocketAddr, args: &ServerArgs) -> Result<()> {
    let client = bulwark_agent::agent::run::client_for(&format!("http://{address}"))?;
    let pod_cidrs = bulwark_agent::ipam::PodCidrAllocator::within(args.cluster_cidr)
        .with_context(|| format!("--cluster-cidr {}", args.cluster_cidr))?;
    tokio::spawn(crate::node_ipam::run(client, pod_cidrs));
    Ok(())
}

/// Keeps storage history bounded; the watch cache, not the store, serves resuming watches.
fn spawn_compaction(store: Arc<dyn Store>, args: &ServerArgs) {
    let interval = Duration::from_secs(args.compaction_interval_seconds.max(1));
    let retain = args.compaction_retain_revisions.max(1);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match store.current_revision().await {
                Ok(current) if current > retain => {
                    if let Err(error) = store.compact(current - retain).await {
                        tracing::warn!(%error, "compaction failed");
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read the store revision for compaction")
                }
            }
        }
    });
}

impl ControlPlane {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn serve_until_signalled(self) -> Result<()> {
        self.serve_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes (whatever must end while the API is still up, such as
    /// node agents, goes inside it), then drains and stops.
    pub async fn serve_until(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let store = Arc::clone(&self.store);
        let mut components = Vec::new();
        if self.controllers_enabled {
            components.push(crate::components::start_controllers(
                self.address,
                self.controller_settings.clone(),
            )?);
        }
        if self.scheduler_enabled {
            components.push(crate::components::start_scheduler(
                self.address,
                bulwark_scheduler::shell::Options::default(),
            )?);
        }
        // The components stop first: their watches would otherwise hold the drain open.
        let shutdown = async move {
            stop.await;
            futures::future::join_all(components.into_iter().map(|c| c.stop())).await;
        };
        bulwark_apiserver::http::serve(self.listener, self.server, shutdown).await?;
        drop(store);
        tracing::info!("stopped");
        Ok(())
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C still stops the server");
                let _ = ctrl_c.await;
                return;
            }
        };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}

pub async fn run_server(args: ServerArgs) -> Result<()> {
    let control_plane = start(&args).await?;
    let kubeconfig = crate::kubeconfig::write(&args.data_dir, control_plane.address)?;
    announce(control_plane.address, &kubeconfig);
    control_plane.serve_until_signalled().await
}

pub fn announce(address: SocketAddr, kubeconfig: &Path) {
    println!("Bulwark API server listening on http://{address}");
    println!("export KUBECONFIG={}", kubeconfig.display());
}
