//! `bulwark image add NAME --exec PATH`: register a program as an image in the cluster's
//! catalog (`DATA/images.yaml`), which every node agent reads again at each container start.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bulwark_agent::images::{Catalog, ImageEntry};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub action: ImageAction,
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
pub enum ImageAction {
    /// Map NAME (`name:tag`, or `name` for every tag) to an executable.
    Add {
        name: String,
        /// The program to run (made absolute).
        #[arg(long)]
        exec: PathBuf,
        /// Default arguments (Docker's CMD), replaced by a container's `args`.
        #[arg(long = "arg")]
        args: Vec<String>,
    },
}

pub fn run(args: ImageArgs) -> Result<()> {
    let ImageAction::Add {
        name,
        exec,
        args: default_args,
    } = args.action;
    let exec =
        std::path::absolute(&exec).with_context(|| format!("cannot resolve {}", exec.display()))?;
    if !exec.is_file() {
        bail!(
            "{} is not a file: --exec takes the program to run",
            exec.display()
        );
    }
    let path = crate::nodes::catalog_file(&args.data_dir);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut entries = if text.trim().is_empty() {
        Vec::new()
    } else {
        Catalog::entries_from_yaml(&text)
            .with_context(|| format!("{} is not a valid image catalog", path.display()))?
    };
    let mut entry = ImageEntry::program(&name, exec.clone());
    entry.args = default_args;
    Catalog::builtin()
        .add(entry.clone())
        .with_context(|| format!("image {name:?}"))?;
    entries.retain(|existing| existing.name != name);
    entries.push(entry);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    std::fs::write(&path, render(&entries))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("image/{name} -> {} (in {})", exec.display(), path.display());
    Ok(())
}

/// The catalog file: each entry as a JSON flow mapping, which YAML reads as it is.
fn render(entries: &[ImageEntry]) -> String {
    let mut text = String::from("images:\n");
    for entry in entries {
        let mut value = serde_json::Map::new();
        value.insert("name".into(), entry.name.clone().into());
        if let Some(image) = &entry.image {
            value.insert("image".into(), image.clone().into());
        }
        if let Some(exec) = &entry.exec {
            value.insert("exec".into(), exec.display().to_string().into());
        }
        if !entry.exec_args.is_empty() {
            value.insert("execArgs".into(), entry.exec_args.clone().into());
        }
        if !entry.args.is_empty() {
            value.insert("args".into(), entry.args.clone().into());
        }
        if let Some(root) = &entry.root {
            value.insert("root".into(), root.display().to_string().into());
        }
        text.push_str(&format!("  - {}\n", serde_json::Value::Object(value)));
    }
    text
}
