//! `bulwark up`: the embedded default — control plane on SQLite in a data directory, a
//! kubeconfig, and (once node agents exist) N nodes.

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::control_plane::{self, ServerArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Profile {
    /// Kubernetes' own timings.
    Default,
    /// Shrunk clocks for demos and tests (DESIGN §7).
    Fast,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Number of node agents to start.
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
    if args.nodes > 0 {
        eprintln!(
            "note: --nodes {} (profile {:?}) is recorded; node agents join once `bulwark agent` ships",
            args.nodes, args.profile
        );
    }
    control_plane.serve_until_signalled().await
}
