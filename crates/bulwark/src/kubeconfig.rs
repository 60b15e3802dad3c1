//! The kubeconfig `bulwark up` writes for kubectl and kube clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub fn render(address: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: bulwark
  cluster:
    server: http://{address}
users:
- name: bulwark-admin
  user: {{}}
contexts:
- name: bulwark
  context:
    cluster: bulwark
    user: bulwark-admin
    namespace: default
current-context: bulwark
preferences: {{}}
"
    )
}

/// Writes `DIR/kubeconfig` and returns its absolute path.
pub fn write(data_dir: &Path, address: SocketAddr) -> Result<PathBuf> {
    let path = data_dir.join("kubeconfig");
    std::fs::write(&path, render(address))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::path::absolute(&path).unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_points_at_the_server() {
        let rendered = render("127.0.0.1:6443".parse().unwrap());
        assert!(rendered.contains("server: http://127.0.0.1:6443"));
        assert!(rendered.contains("current-context: bulwark"));
    }
}
