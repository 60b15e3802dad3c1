//! `bulwark agent`: one node agent over real processes, or `--fake-nodes N` simulated nodes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bulwark_agent::agent::run::{self, FakeNodeOptions, ProcessNodeOptions};
use bulwark_agent::agent::{CatalogSource, Prober};
use bulwark_agent::images::Catalog;
use bulwark_agent::node::NodeConfig;
use bulwark_agent::profile::Profile;
use bulwark_agent::runtime::SimulatedBehaviour;
use clap::Args;

/// The seed's image names mapped to the demo service (examples/images.yaml), built in so that
/// the seed's manifests run on a fresh machine.
pub const SEED_CATALOG: &str = include_str!("../../../../examples/images.yaml");

#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// The API server, e.g. http://127.0.0.1:6443.
    #[arg(long)]
    pub server: String,
    /// This node's name (default: the host name); ignored with --fake-nodes.
    #[arg(long)]
    pub node_name: Option<String>,
    /// `topology.kubernetes.io/zone` (with --fake-nodes: a comma-separated list, round-robin).
    #[arg(long)]
    pub zone: Option<String>,
    /// `topology.kubernetes.io/region`.
    #[arg(long)]
    pub region: Option<String>,
    /// Capacity overrides, e.g. cpu=4,memory=8Gi,pods=110 (default: this machine's).
    #[arg(long, default_value = "")]
    pub capacity: String,
    /// Where pod state and logs live.
    #[arg(long, default_value = "bulwark-agent")]
    pub data_dir: PathBuf,
    /// Timing profile: default (Kubernetes' clocks) or fast (shrunk for demos and tests).
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Image catalog files, read again at every container start (see examples/images.yaml).
    #[arg(long = "image-catalog")]
    pub image_catalogs: Vec<PathBuf>,
    /// Run this many simulated nodes instead of one process node.
    #[arg(long)]
    pub fake_nodes: Option<usize>,
    /// Simulated nodes are named PREFIX-1 … PREFIX-N.
    #[arg(long, default_value = "fake-node")]
    pub name_prefix: String,
    /// Simulated containers: milliseconds from start to running.
    #[arg(long, default_value_t = 0)]
    pub fake_start_delay_ms: u64,
    /// Simulated containers: up to this many more milliseconds, drawn per start.
    #[arg(long, default_value_t = 0)]
    pub fake_start_jitter_ms: u64,
    /// Simulated containers: the chance (0…1) that a start fails.
    #[arg(long, default_value_t = 0.0)]
    pub fake_failure_rate: f64,
    /// End (as on SIGTERM: pods keep running) when the parent process dies (`bulwark up` sets it).
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
}

/// Probes run for real: HTTP GET, TCP connect, exec.
pub fn real_prober() -> Prober {
    std::sync::Arc::new(|job: bulwark_agent::agent::ProbeJob| {
        Box::pin(async move {
            let target = bulwark_agent::probe_exec::ProbeTarget {
                container: &job.container,
                pod_ip: &job.pod_ip,
                env: &job.env,
                working_dir: job.working_dir.as_deref(),
            };
            bulwark_agent::probe_exec::run_probe(&job.probe, &target, job.timeout).await
        })
    })
}

pub async fn run(args: AgentArgs, prober: Prober) -> Result<()> {
    if args.exit_with_parent {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
            .context("cannot ask to end with the parent process")?;
    }
    let profile: Profile = args.profile.parse()?;
    let capacity = bulwark_agent::agent::machine::parse_capacity(
        &args.capacity,
        bulwark_agent::agent::machine::capacity(),
    )
    .map_err(anyhow::Error::msg)
    .context("--capacity")?;
    if let Some(count) = args.fake_nodes {
        return run_fake(&args, profile, capacity, count).await;
    }
    let name = match &args.node_name {
        Some(name) => name.clone(),
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .context("cannot read the host name; pass --node-name")?,
    };
    let base = Catalog::from_yaml(SEED_CATALOG).context("the built-in seed image catalog")?;
    let options = ProcessNodeOptions {
        server_url: args.server.clone(),
        node: NodeConfig {
            name,
            zone: args.zone.clone(),
            region: args.region.clone(),
            labels: Default::default(),
            capacity,
            address: "127.0.0.1".to_string(),
            endpoint_port: 0,
            system: bulwark_agent::agent::machine::system_facts(),
        },
        data_dir: args.data_dir.clone(),
        profile,
        catalog: CatalogSource {
            base,
            files: args.image_catalogs.clone(),
        },
        prober,
        bulwark_exe: std::env::current_exe().context("cannot find the bulwark binary")?,
    };
    run::run_process_node(options, crate::control_plane::shutdown_signal()).await?;
    Ok(())
}

async fn run_fake(
    args: &AgentArgs,
    profile: Profile,
    capacity: std::collections::BTreeMap<String, String>,
    count: usize,
) -> Result<()> {
    if !(0.0..=1.0).contains(&args.fake_failure_rate) {
        bail!("--fake-failure-rate must be between 0 and 1");
    }
    let zones = args
        .zone
        .as_deref()
        .map(|zones| zones.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let options = FakeNodeOptions {
        server_url: args.server.clone(),
        count,
        name_prefix: args.name_prefix.clone(),
        zones,
        region: args.region.clone(),
        capacity,
        behaviour: SimulatedBehaviour {
            start_delay: Duration::from_millis(args.fake_start_delay_ms),
            start_jitter: Duration::from_millis(args.fake_start_jitter_ms),
            start_failure_rate: args.fake_failure_rate,
            ..SimulatedBehaviour::default()
        },
        profile,
        seed: 1,
        registration_concurrency: 64,
    };
    run::run_fake_nodes(options, crate::control_plane::shutdown_signal()).await?;
    Ok(())
}
