//! The runtime: how the agent starts, watches and stops a pod's containers.
//!
//! [`Runtime`] is the seam between the pod worker and the world. Two implementations:
//! - [`ProcessRuntime`]: real processes (a shell module). Each container is a process group,
//!   in its own cgroup when the machine allows, with stdout and stderr going to a rotated log.
//!   Its state is persisted per pod so that an agent that restarts adopts what it left running.
//! - [`SimulatedRuntime`]: containers in memory on a virtual clock, with configurable delays and
//!   outcomes, for fake nodes and the simulator.
//!
//! # The contract
//! The trait is synchronous and every call returns promptly: what takes time (a grace period,
//! a process exiting) goes on in the background and shows in [`Runtime::containers`]. A caller
//! learns that something changed by watching [`Runtime::changes`], a counter bumped on every
//! state change, and then re-reading the containers it cares about; nothing is lost if it
//! reads late, because the state, not the change, is what it reads.
//!
//! *Guarantees*: a container key names one instance (pod UID, container name, attempt) and is
//! never reused for another process; an exited container stays listed, with its [`Exit`], until
//! [`Runtime::remove_pod`]; `stop` never takes longer than the grace period plus the time to
//! deliver SIGKILL.
//! *Caveats*: the exit code of a process adopted after an agent restart cannot be known (it was
//! not our child any more); its [`Exit::code_known`] is false, as with the kubelet's
//! `ContainerStatusUnknown`.

mod join;
mod persist;
mod process;
pub mod procfs;
mod simulated;

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cgroups::ResourceLimits;

pub use process::{ProcessRuntime, ProcessRuntimeConfig};
pub use simulated::{SimulatedBehaviour, SimulatedRuntime};

/// One instance of one container of one pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerKey {
    pub pod_uid: String,
    pub container: String,
    /// 0 for the first start, one more per restart (the `restartCount` it runs under).
    pub attempt: u32,
}

impl ContainerKey {
    pub fn new(pod_uid: &str, container: &str, attempt: u32) -> Self {
        Self {
            pod_uid: pod_uid.to_string(),
            container: container.to_string(),
            attempt,
        }
    }

    /// The `containerID` shown in status, `bulwark://<pod-uid>/<container>/<attempt>`.
    pub fn container_id(&self) -> String {
        format!(
            "bulwark://{}/{}/{}",
            self.pod_uid, self.container, self.attempt
        )
    }
}

/// Whether `part` (a pod uid or container name) can become one path component under a state
/// directory: not empty, no separator or NUL, not `.`/`..` or hidden.
pub fn is_plain_file_name(part: &str) -> bool {
    !part.is_empty() && !part.contains(['/', '\0']) && !part.starts_with('.')
}

/// Everything needed to start one container instance; the pod worker resolves the image,
/// command, args and environment first ([`crate::images`], [`crate::env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub key: ContainerKey,
    /// An absolute path, or a bare name looked up on the container's `PATH`.
    pub program: PathBuf,
    /// `argv[0]` as the program sees it.
    pub arg0: String,
    pub args: Vec<String>,
    /// The complete environment; nothing is inherited from the agent.
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
    /// The live log file ([`crate::logs::container_log_path`]).
    pub log_path: PathBuf,
    pub limits: ResourceLimits,
    /// Volumes bind-mounted into the container's own mount namespace ([`crate::volumes`]).
    pub mounts: Vec<Mount>,
}

/// One bind mount of a volume (or part of one) at a container's `mountPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exit {
    /// The exit status, or 128 + the signal that killed it (137 for SIGKILL), as CRI reports.
    pub exit_code: i32,
    pub signal: Option<i32>,
    /// The kernel's OOM killer killed a process of the container's cgroup.
    pub oom_killed: bool,
    pub finished_at: Timestamp,
    /// False when the process was adopted and its status could not be collected; the exit code
    /// is then 137 by convention.
    pub code_known: bool,
}

/// What a container instance is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Accepted but not running yet (only the simulated runtime's start delay).
    Starting,
    Running,
    /// SIGTERM sent; SIGKILL follows at `kill_at` unless it exits first.
    Stopping {
        kill_at: Timestamp,
    },
    Exited(Exit),
}

/// One container instance as the runtime sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub key: ContainerKey,
    /// The process (and process group) id; none for simulated containers.
    pub pid: Option<u32>,
    pub started_at: Timestamp,
    pub state: ContainerState,
    /// Found running by a restarted agent rather than started by this one.
    pub adopted: bool,
}

impl ContainerInfo {
    pub fn exit(&self) -> Option<&Exit> {
        match &self.state {
            ContainerState::Exited(exit) => Some(exit),
            _ => None,
        }
    }

    pub fn is_alive(&self) -> bool {
        self.exit().is_none()
    }
}

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container {0} is already known to the runtime")]
    AlreadyExists(String),
    #[error("no container {0}")]
    NotFound(String),
    #[error("cannot start {program}: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A simulated start failure, with its message.
    #[error("{0}")]
    Simulated(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// The operations the pod worker needs; see the module docs for the contract.
pub trait Runtime: Send + Sync {
    /// Starts a container instance. Fails if its key is already known.
    fn start(&self, spec: ContainerSpec) -> Result<ContainerInfo>;

    /// SIGTERM to the container's process group, SIGKILL after `grace` if it still runs.
    /// Stopping an exited container does nothing.
    fn stop(&self, key: &ContainerKey, grace: Duration) -> Result<()>;

    /// Stops every live container of the pod with the same grace period.
    fn kill_pod(&self, pod_uid: &str, grace: Duration) -> Result<()> {
        for info in self.pod_containers(pod_uid) {
            if info.is_alive() {
                self.stop(&info.key, grace)?;
            }
        }
        Ok(())
    }

    /// Every container instance known, live or exited, in key order.
    fn containers(&self) -> Vec<ContainerInfo>;

    /// The pod's container instances, in key order.
    fn pod_containers(&self, pod_uid: &str) -> Vec<ContainerInfo> {
        self.containers()
            .into_iter()
            .filter(|info| info.key.pod_uid == pod_uid)
            .collect()
    }

    /// Forgets the pod: SIGKILLs anything of it still running, removes its cgroups and state.
    fn remove_pod(&self, pod_uid: &str) -> Result<()>;

    /// A counter bumped on every state change.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// SIGKILLs the process group of every live container recorded under a process runtime's
/// `state_dir` (a machine dying under its pods: `bulwark node crash`); returns how many.
/// A recorded pid now held by another process (its start time differs) is left alone.
pub fn kill_recorded_containers(state_dir: &std::path::Path) -> usize {
    let (records, _) = persist::read_all(state_dir);
    let mut killed = 0;
    for record in records {
        if !procfs::is_same_live_process(record.pid, record.start_ticks) {
            continue;
        }
        let Some(group) = i32::try_from(record.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        if rustix::process::kill_process_group(group, rustix::process::Signal::KILL).is_ok() {
            killed += 1;
        }
    }
    killed
}

/// The exit code CRI reports for a process killed by `signal`.
pub fn signal_exit_code(signal: i32) -> i32 {
    128_i32.saturating_add(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_name_the_instance() {
        let key = ContainerKey::new("uid-1", "web", 2);
        assert_eq!(key.container_id(), "bulwark://uid-1/web/2");
    }

    #[test]
    fn signals_map_to_cri_exit_codes() {
        assert_eq!(signal_exit_code(9), 137);
        assert_eq!(signal_exit_code(15), 143);
        assert_eq!(signal_exit_code(i32::MAX), i32::MAX);
    }
}
