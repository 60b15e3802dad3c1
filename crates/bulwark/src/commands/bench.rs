//! `bulwark bench api`: figures for the API server. Filled in below.

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchArgs {}

pub async fn run(_args: BenchArgs) -> Result<()> {
    anyhow::bail!("bench is not built yet")
}
