//! The node agents `bulwark up` runs as child processes, and how `bulwark node stop|start|crash`
//! acts on them through the data directory.
//!
//! Each node has `DATA/nodes/NAME/`: the agent's own data directory, its log (`agent.log`), and
//! two small files. `desired` says what the node should be doing (`running`, `stopped` or
//! `crashed`); `node` commands write it. `state` says what the supervisor last made of it
//! (`running PID`, `stopped`, `crashed`); `node` commands wait for it to match. The supervisor
//! restarts an agent that dies while it should run (as systemd restarts a kubelet), with a
//! back-off so a broken agent does not spin.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

/// How often the supervisor looks at each node.
const TICK: Duration = Duration::from_millis(100);
/// Restart back-off for an agent that keeps dying: 1 s doubling to 30 s.
const RESTART_INITIAL: Duration = Duration::from_secs(1);
const RESTART_CAP: Duration = Duration::from_secs(30);

/// What a node should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    Running,
    /// The agent stopped; its pods keep running (`systemctl stop kubelet`).
    Stopped,
    /// The agent and its pods killed at once (a machine dying).
    Crashed,
}

impl Desired {
    fn word(self) -> &'static str {
        match self {
            Desired::Running => "running",
            Desired::Stopped => "stopped",
            Desired::Crashed => "crashed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "running" => Some(Desired::Running),
            "stopped" => Some(Desired::Stopped),
            "crashed" => Some(Desired::Crashed),
            _ => None,
        }
    }
}

/// One node `bulwark up` runs.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub name: String,
    pub zone: String,
}

/// The zones nodes get round-robin.
pub const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// `node-1` … `node-N` in zones `zone-a`, `zone-b`, `zone-c`, round-robin.
pub fn plan(count: u32) -> Vec<NodePlan> {
    (0..count as usize)
        .map(|index| NodePlan {
            name: format!("node-{}", index + 1),
            zone: ZONES[index % ZONES.len()].to_string(),
        })
        .collect()
}

pub fn nodes_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("nodes")
}

pub fn node_dir(data_dir: &Path, name: &str) -> PathBuf {
    nodes_dir(data_dir).join(name)
}

/// The image catalog file `bulwark image add` writes and every agent reads.
pub fn catalog_file(data_dir: &Path) -> PathBuf {
    data_dir.join("images.yaml")
}

fn read_desired(dir: &Path) -> Desired {
    std::fs::read_to_string(dir.join("desired"))
        .ok()
        .and_then(|text| Desired::parse(&text))
        .unwrap_or(Desired::Running)
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// How the supervisor starts agents.
#[derive(Debug, Clone)]
pub struct AgentLaunch {
    pub server_url: String,
    pub profile: String,
    pub data_dir: PathBuf,
}

struct Supervised {
    plan: NodePlan,
    dir: PathBuf,
    child: Option<Child>,
    restart_delay: Duration,
    next_start: tokio::time::Instant,
    reported: String,
}

/// Runs the nodes until `shutdown` resolves, then stops every agent and its pods.
pub async fn supervise(
    launch: AgentLaunch,
    plans: Vec<NodePlan>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let mut nodes = Vec::new();
    for plan in plans {
        let dir = node_dir(&launch.data_dir, &plan.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_file(&dir.join("desired"), Desired::Running.word())?;
        nodes.push(Supervised {
            plan,
            dir,
            child: None,
            restart_delay: RESTART_INITIAL,
            next_start: tokio::time::Instant::now(),
            reported: String::new(),
        });
    }
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {
                for node in &mut nodes {
                    node.reconcile(&launch).await;
                }
            }
        }
    }
    for node in &mut nodes {
        node.stop_agent(true).await;
        let killed = bulwark_agent::runtime::kill_recorded_containers(&node.dir.join("runtime"));
        tracing::debug!(node = %node.plan.name, killed, "stopped the node's pods");
        let _ = std::fs::remove_file(node.dir.join("state"));
    }
    Ok(())
}

impl Supervised {
    async fn reconcile(&mut self, launch: &AgentLaunch) {
        let exited = match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        };
        if let Some(status) = exited {
            self.child = None;
            if read_desired(&self.dir) == Desired::Running {
                tracing::warn!(node = %self.plan.name, %status, "node agent exited; restarting it");
                self.next_start = tokio::time::Instant::now() + self.restart_delay;
                self.restart_delay = (self.restart_delay * 2).min(RESTART_CAP);
            }
        }
        match read_desired(&self.dir) {
            Desired::Running => {
                if self.child.is_none() && tokio::time::Instant::now() >= self.next_start {
                    match self.spawn(launch) {
                        Ok(child) => self.child = Some(child),
                        Err(error) => {
                            tracing::warn!(%error, node = %self.plan.name, "cannot start the node agent")
                        }
                    }
                }
            }
            Desired::Stopped => self.stop_agent(false).await,
            Desired::Crashed => {
                self.stop_agent(true).await;
                bulwark_agent::runtime::kill_recorded_containers(&self.dir.join("runtime"));
            }
        }
        self.report();
    }

    fn spawn(&mut self, launch: &AgentLaunch) -> Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .context("cannot open the agent log")?;
        let exe = std::env::current_exe().context("cannot find the bulwark binary")?;
        let child = Command::new(exe)
            .arg("agent")
            .args(["--server", &launch.server_url])
            .args(["--node-name", &self.plan.name])
            .args(["--zone", &self.plan.zone])
            .args(["--region", "local"])
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--profile", &launch.profile])
            .arg("--image-catalog")
            .arg(catalog_file(&launch.data_dir))
            .arg("--exit-with-parent")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the agent log")?)
            .stderr(log)
            .spawn()
            .context("cannot spawn the node agent")?;
        if let Some(pid) = child.id() {
            let _ = write_file(&self.dir.join("agent.pid"), &pid.to_string());
        }
        Ok(child)
    }

    /// Ends the agent: SIGKILL when `kill`, else SIGTERM and a wait (then SIGKILL).
    async fn stop_agent(&mut self, kill: bool) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if !kill {
            if let Some(pid) = child
                .id()
                .and_then(|pid| i32::try_from(pid).ok())
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = child.kill().await;
    }

    fn report(&mut self) {
        let state = match (&self.child, read_desired(&self.dir)) {
            (Some(child), _) => format!("running {}", child.id().unwrap_or(0)),
            (None, Desired::Crashed) => "crashed".to_string(),
            (None, Desired::Running) => "starting".to_string(),
            (None, Desired::Stopped) => "stopped".to_string(),
        };
        if state != self.reported && write_file(&self.dir.join("state"), &state).is_ok() {
            self.reported = state;
        }
    }
}

/// `bulwark node stop|start|crash NAME`: asks the supervisor and waits until it is done.
pub async fn command(data_dir: &Path, name: &str, desired: Desired) -> Result<String> {
    let dir = node_dir(data_dir, name);
    if !dir.join("desired").exists() {
        let known = known_nodes(data_dir);
        if known.is_empty() {
            bail!(
                "no cluster with nodes in {} (start one with `bulwark up --data-dir {}`)",
                data_dir.display(),
                data_dir.display()
            );
        }
        bail!(
            "no node {name:?} in {}; nodes: {}",
            data_dir.display(),
            known.join(", ")
        );
    }
    write_file(&dir.join("desired"), desired.word())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = std::fs::read_to_string(dir.join("state")).unwrap_or_default();
        let done = match desired {
            Desired::Running => state.starts_with("running"),
            Desired::Stopped => state == "stopped",
            Desired::Crashed => state == "crashed",
        };
        if done {
            return Ok(state);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "node {name} did not become {} within 30 s (is `bulwark up` still running for {}? state: {state:?})",
                desired.word(),
                data_dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn known_nodes(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(nodes_dir(data_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("desired").exists())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_in_order_and_spread_over_three_zones() {
        let plan = plan(4);
        let names: Vec<_> = plan.iter().map(|node| node.name.as_str()).collect();
        let zones: Vec<_> = plan.iter().map(|node| node.zone.as_str()).collect();
        assert_eq!(names, ["node-1", "node-2", "node-3", "node-4"]);
        assert_eq!(zones, ["zone-a", "zone-b", "zone-c", "zone-a"]);
    }

    #[test]
    fn desired_words_round_trip() {
        for desired in [Desired::Running, Desired::Stopped, Desired::Crashed] {
            assert_eq!(Desired::parse(desired.word()), Some(desired));
        }
        assert_eq!(Desired::parse("sideways"), None);
    }
}
