pub mod agent;
pub mod bench;
pub mod bench_agent;
pub mod bench_scheduler;
pub mod demo;
pub mod image;
pub mod node;
pub mod up;

/// `--data-dir` of the commands that act on a cluster `bulwark up` runs.
#[derive(clap::Args, Debug)]
pub struct ClusterDir {
    /// The cluster's data directory (as given to `bulwark up`).
    #[arg(
        long,
        default_value = "bulwark-data",
        env = "BULWARK_DATA_DIR",
        global = true
    )]
    pub data_dir: std::path::PathBuf,
}
