//! `bulwark up`: the embedded default — control plane on SQLite in a data directory, a
//! kubeconfig, and N node agents as child processes (so killing one is a real node failure).

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::control_plane::{self, ServerArgs};
use crate::nodes::{self, AgentLaunch};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Profile {
    /// Kubernetes' own timings.
    Default,
    /// Shrunk clocks for demos and tests (DESIGN §7).
    Fast,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Fast => "fast",
        }
    }
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Number of node agents to start (`node-1` … `node-N`, zones zone-a/b/c round-robin).
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Timing profile.
    #[arg(long, value_enum, default_value_t = Profile::Default)]
    pub profile: Profile,
}

pub async fn run(args: UpArgs) -> Result<()> {
    let control_plane = control_plane::start(&args.server).await?;
    let kubeconfig = crate::kubeconfig::write(&args.server.data_dir, control_plane.address)?;
    control_plane::announce(control_plane.address, &kubeconfig);
    let launch = AgentLaunch {
        server_url: format!("http://{}", control_plane.address),
        profile: args.profile.name().to_string(),
        data_dir: args.server.data_dir.clone(),
    };
    let plans = nodes::plan(args.nodes);
    if !plans.is_empty() {
        println!(
            "Starting {} node(s): {}",
            plans.len(),
            plans
                .iter()
                .map(|plan| plan.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let (stop_nodes, nodes_stopping) = tokio::sync::oneshot::channel::<()>();
    let supervisor = tokio::spawn(nodes::supervise(launch, plans, async {
        let _ = nodes_stopping.await;
    }));
    // The agents stop (and their pods with them) while the API server still answers them;
    // only then does the control plane drain and stop.
    let stop = async move {
        control_plane::shutdown_signal().await;
        let _ = stop_nodes.send(());
        if let Ok(Err(error)) = supervisor.await {
            tracing::warn!(%error, "stopping the nodes");
        }
    };
    control_plane.serve_until(stop).await
}
