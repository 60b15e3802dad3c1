//! Starting a node: one process node over real processes ([`run_process_node`]) or many
//! simulated ones in this process ([`run_fake_nodes`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bulwark_core::clock::{Clock, SystemClock};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{NodeContext, Prober, node_sync, pods};
use crate::cgroups::{self, Availability, Cgroups};
use crate::images::Catalog;
use crate::ipam::PodAddressAllocator;
use crate::node::{NodeConfig, NodeHealth};
use crate::profile::Profile;
use crate::runtime::{
    ProcessRuntime, ProcessRuntimeConfig, Runtime, SimulatedBehaviour, SimulatedRuntime,
};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid API server URL {url:?}: {reason}")]
    BadServer { url: String, reason: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the control plane assigned podCIDR {0}, which is not a /24 of 127.128.0.0/9")]
    BadPodCidr(String),
}

/// Everything a process node needs.
pub struct ProcessNodeOptions {
    pub server_url: String,
    /// The node; its `endpoint_port` is filled in once the log endpoint listens.
    pub node: NodeConfig,
    pub data_dir: PathBuf,
    pub profile: Profile,
    pub catalog: super::CatalogSource,
    pub prober: Prober,
    /// The `bulwark` binary (for `bulwark/demo`).
    pub bulwark_exe: PathBuf,
}

/// A kube client for the API server at `url`.
pub fn client_for(url: &str) -> Result<kube::Client, AgentError> {
    let bad = |reason: String| AgentError::BadServer {
        url: url.to_string(),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|error: http::uri::InvalidUri| bad(error.to_string()))?;
    let mut config = kube::Config::new(uri);
    config.read_timeout = None;
    kube::Client::try_from(config).map_err(|error| bad(error.to_string()))
}

/// Runs one node over real processes until `shutdown` resolves. Pods keep running after it
/// returns: the next agent on the same data directory adopts them.
pub async fn run_process_node(
    options: ProcessNodeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let client = client_for(&options.server_url)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let runtime_dir = options.data_dir.join("runtime");
    let log_root = options.data_dir.join("logs");
    for dir in [&runtime_dir, &log_root] {
        std::fs::create_dir_all(dir).map_err(|source| AgentError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
    }
    let (cgroups, limits_unenforced) = match Cgroups::prepare(std::path::Path::new(
        cgroups::DEFAULT_ROOT,
    )) {
        Availability::Writable(cgroups) => (Some(cgroups), None),
        Availability::Unavailable { reason, .. } => {
            tracing::warn!(%reason, "cgroups are not writable: pods run without enforced limits");
            (None, Some(reason))
        }
    };
    let runtime = ProcessRuntime::new(ProcessRuntimeConfig {
        state_dir: runtime_dir,
        cgroups,
        rotation: crate::logs::RotationPolicy::default(),
        clock: Arc::clone(&clock),
    });
    for warning in runtime.adoption_warnings() {
        tracing::warn!(%warning, "while adopting running pods");
    }
    let runtime: Arc<dyn Runtime> = Arc::new(runtime);
    let listener = tokio::net::TcpListener::bind((options.node.address.as_str(), 0))
        .await
        .map_err(|source| AgentError::Io {
            action: "listen on",
            path: PathBuf::from(&options.node.address),
            source,
        })?;
    let mut node = options.node.clone();
    node.endpoint_port = listener
        .local_addr()
        .map(|address| address.port())
        .unwrap_or(0);
    let health = NodeHealth {
        limits_unenforced,
        ..NodeHealth::default()
    };
    let context = start_node(
        &client,
        &node,
        &health,
        Arc::clone(&runtime),
        &clock,
        NodeParts {
            catalog: options.catalog,
            prober: options.prober,
            bulwark_exe: options.bulwark_exe,
            log_root,
            profile: options.profile,
        },
    )
    .await?;
    let endpoint = super::endpoint::router(Arc::clone(&context));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, endpoint).await {
            tracing::warn!(%error, "the agent endpoint stopped");
        }
    });
    let nodes = pods::Nodes::from([(node.name.clone(), context)]);
    tokio::select! {
        () = pods::run(client, nodes) => {}
        () = shutdown => tracing::info!(node = %node.name, "agent stopping; pods keep running"),
    }
    Ok(())
}

/// What a node's workers share besides its client, runtime and clock.
pub struct NodeParts {
    pub catalog: super::CatalogSource,
    pub prober: Prober,
    pub bulwark_exe: PathBuf,
    pub log_root: PathBuf,
    pub profile: Profile,
}

/// Registers the node, waits for its pod CIDR, and starts its Lease and status loops.
async fn start_node(
    client: &kube::Client,
    node: &NodeConfig,
    health: &NodeHealth,
    runtime: Arc<dyn Runtime>,
    clock: &Arc<dyn Clock>,
    parts: NodeParts,
) -> Result<Arc<NodeContext>, AgentError> {
    node_sync::register(client, node, health, clock.as_ref()).await;
    let cidr = node_sync::wait_for_pod_cidr(client, &node.name).await;
    let addresses =
        PodAddressAllocator::new(cidr).map_err(|_| AgentError::BadPodCidr(cidr.to_string()))?;
    let allocatable: BTreeMap<String, Quantity> = node
        .capacity
        .iter()
        .map(|(name, value)| (name.clone(), Quantity(value.clone())))
        .collect();
    let context = Arc::new(NodeContext::new(
        client.clone(),
        node.name.clone(),
        runtime,
        Arc::clone(clock),
        parts.catalog,
        parts.bulwark_exe,
        parts.log_root,
        parts.profile.backoff(),
        node.address.clone(),
        allocatable,
        parts.prober,
    ));
    context.set_pod_cidr(addresses);
    tokio::spawn(node_sync::run_lease(
        client.clone(),
        node.name.clone(),
        parts.profile.lease(),
        Arc::clone(clock),
    ));
    let reported = health.clone();
    tokio::spawn(node_sync::run_status(
        client.clone(),
        node.clone(),
        move || reported.clone(),
        parts.profile.node_status_report_interval(),
        Arc::clone(clock),
    ));
    Ok(context)
}

/// Many simulated nodes in one process.
pub struct FakeNodeOptions {
    pub server_url: String,
    pub count: usize,
    pub name_prefix: String,
    /// Zones assigned round-robin; empty for none.
    pub zones: Vec<String>,
    pub region: Option<String>,
    pub capacity: BTreeMap<String, String>,
    pub behaviour: SimulatedBehaviour,
    pub profile: Profile,
    pub seed: u64,
    /// Nodes registered at once.
    pub registration_concurrency: usize,
}

/// The name of the `index`th fake node (0-based): `PREFIX-1`, `PREFIX-2`, …
pub fn fake_node_name(prefix: &str, index: usize) -> String {
    format!("{prefix}-{}", index + 1)
}

/// Registers `count` simulated nodes and runs their pods until `shutdown` resolves.
pub async fn run_fake_nodes(
    options: FakeNodeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let client = client_for(&options.server_url)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let options = Arc::new(options);
    let started = futures::stream::iter(0..options.count)
        .map(|index| {
            let client = client.clone();
            let clock = Arc::clone(&clock);
            let options = Arc::clone(&options);
            async move { start_fake_node(&client, &clock, &options, index).await }
        })
        .buffer_unordered(options.registration_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut nodes = pods::Nodes::new();
    for context in started {
        let context = context?;
        nodes.insert(context.node_name.clone(), context);
    }
    tracing::info!(count = nodes.len(), "fake nodes registered");
    tokio::select! {
        () = pods::run(client, nodes) => {}
        () = shutdown => {}
    }
    Ok(())
}

async fn start_fake_node(
    client: &kube::Client,
    clock: &Arc<dyn Clock>,
    options: &FakeNodeOptions,
    index: usize,
) -> Result<Arc<NodeContext>, AgentError> {
    let name = fake_node_name(&options.name_prefix, index);
    let node = NodeConfig {
        name: name.clone(),
        zone: (!options.zones.is_empty())
            .then(|| options.zones[index % options.zones.len()].clone()),
        region: options.region.clone(),
        labels: BTreeMap::from([("type".to_string(), "fake".to_string())]),
        capacity: options.capacity.clone(),
        address: "127.0.0.1".to_string(),
        endpoint_port: 0,
        system: crate::node::SystemFacts {
            architecture: std::env::consts::ARCH.to_string(),
            os_image: "Bulwark simulated node".to_string(),
            ..crate::node::SystemFacts::default()
        },
    };
    let runtime = Arc::new(SimulatedRuntime::new(
        Arc::clone(clock),
        options.behaviour.clone(),
        options.seed.wrapping_add(index as u64),
    ));
    tokio::spawn(drive_simulated(Arc::clone(&runtime), Arc::clone(clock)));
    let parts = NodeParts {
        catalog: super::CatalogSource::fixed(Catalog::accepting_every_image()),
        prober: super::passing_prober(),
        bulwark_exe: PathBuf::new(),
        log_root: PathBuf::new(),
        profile: options.profile,
    };
    start_node(client, &node, &NodeHealth::default(), runtime, clock, parts).await
}

/// Applies a simulated runtime's transitions as they fall due.
async fn drive_simulated(runtime: Arc<SimulatedRuntime>, clock: Arc<dyn Clock>) {
    let mut changes = runtime.changes();
    loop {
        let sleep = runtime
            .next_transition_at()
            .map_or(Duration::from_secs(3600), |at| {
                crate::timing::elapsed(clock.now(), at) + Duration::from_millis(1)
            });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => { runtime.advance(); }
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}
