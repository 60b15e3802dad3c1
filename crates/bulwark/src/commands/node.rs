//! `bulwark node stop|start|crash NAME`: fail or revive one node of a cluster `bulwark up` runs.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::nodes::{self, Desired};

#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub action: NodeAction,
    /// The cluster's data directory (as given to `bulwark up`).
    #[arg(
        long,
        default_value = "bulwark-data",
        env = "BULWARK_DATA_DIR",
        global = true
    )]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum NodeAction {
    /// End the node's agent and leave its pods running (`systemctl stop kubelet`).
    Stop { name: String },
    /// Start the node's agent again; it adopts the pods still running.
    Start { name: String },
    /// Kill the node's agent and all its pods at once (a machine dying).
    Crash { name: String },
}

pub async fn run(args: NodeArgs) -> Result<()> {
    let (name, desired) = match &args.action {
        NodeAction::Stop { name } => (name, Desired::Stopped),
        NodeAction::Start { name } => (name, Desired::Running),
        NodeAction::Crash { name } => (name, Desired::Crashed),
    };
    let state = nodes::command(&args.data_dir, name, desired).await?;
    println!("node/{name} {state}");
    Ok(())
}
