//! `bulwark`: one binary for the whole orchestrator.

mod commands;
mod components;
mod control_plane;
mod kubeconfig;
mod node_ipam;
mod nodes;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The API server allocates many small JSON nodes per request; mimalloc handles that load with
/// far less time in the allocator than glibc (measured with `bulwark bench api`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "bulwark",
    version,
    about = "A self-healing workload orchestrator that speaks the Kubernetes API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a cluster on embedded storage in a data directory and print how to use it.
    Up(commands::up::UpArgs),
    /// Run the control plane alone.
    Server(control_plane::ServerArgs),
    /// Measure the API server (prints figures; never part of the tests).
    Bench(commands::bench::BenchArgs),
    /// Run the `bulwark/demo` HTTP service (configured by DEMO_* environment variables).
    Demo,
    /// Run a node agent (or, with --fake-nodes, many simulated nodes).
    Agent(commands::agent::AgentArgs),
    /// Act on a node of a cluster `bulwark up` runs: stop, start or crash it.
    Node(commands::node::NodeArgs),
    /// Manage the image catalog of a cluster `bulwark up` runs.
    Image(commands::image::ImageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    if let Command::Demo = cli.command {
        return runtime.block_on(commands::demo::run());
    }
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => commands::up::run(args).await,
            Command::Server(args) => control_plane::run_server(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Agent(args) => {
                commands::agent::run(args, commands::agent::real_prober()).await
            }
            Command::Node(args) => commands::node::run(args).await,
            Command::Image(args) => commands::image::run(args),
            Command::Demo => unreachable!("handled above: the demo keeps its own exit codes"),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
