//! `bulwark demo`: the `bulwark/demo` image's program. A crash it was asked to simulate exits
//! with the requested code, so the node agent sees a real failing container.

use std::process::ExitCode;

use bulwark_agent::demo::{self, DemoConfig};

pub async fn run() -> ExitCode {
    let outcome = match DemoConfig::from_env() {
        Ok(config) => demo::run(config).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}
