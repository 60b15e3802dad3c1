//! Each pod's processes in their own cgroup, with the container's limits (a shell module: it
//! reads and writes `/sys/fs/cgroup`).
//!
//! Layout: a `bulwark` parent, one directory per pod (its UID), one per container below it:
//! - v1: `<controller mount>/<the agent's own cgroup>/bulwark/<pod-uid>/<container>` for each of
//!   `memory`, `cpu`, `cpuacct` and (when mounted) `pids`. Nesting under the agent's own cgroup
//!   keeps pods inside whatever limits the agent itself was given.
//! - v2 (detected by `<root>/cgroup.controllers`): `<root>/bulwark/<pod-uid>/<container>`, with
//!   `memory`, `cpu` and `pids` enabled down the tree. It sits under the root because v2 lets
//!   only leaf cgroups hold processes, and the agent's own cgroup holds the agent.
//!
//! Limits ([`ResourceLimits`]): memory → `memory.limit_in_bytes` (and `memory.memsw…` where swap
//! accounting exists) / `memory.max` (and `memory.swap.max` 0), so exceeding it is an OOM kill
//! rather than swapping, and `memory.oom.group` 1 so one OOM kill ends the container; CPU limit → CFS quota; CPU request → `cpu.shares` / `cpu.weight`; pids →
//! `pids.max`. Readings: OOM kills (`memory.oom_control` / `memory.events` `oom_kill`), CPU time
//! (`cpuacct.usage` / `cpu.stat` `usage_usec`).
//!
//! [`Cgroups::prepare`] says whether any of this is possible; when it is not (no hierarchy, not
//! writable) the node reports [`Availability::Unavailable`]'s reason in a condition and runs
//! pods without limits.

pub mod limits;
pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use limits::ResourceLimits;

/// The default place cgroup hierarchies are mounted.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";
const PARENT: &str = "bulwark";

/// Which cgroup interface the machine offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A cgroup file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct CgroupError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// Whether the agent can use cgroups, and if not why (for the Node's condition message).
#[derive(Debug, Clone)]
pub enum Availability {
    Writable(Cgroups),
    Unavailable {
        version: Option<Version>,
        reason: String,
    },
}

/// The agent's `bulwark` parent cgroup(s), created and known to be writable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    version: Version,
    /// Per controller (v1) the parent directory; for v2 one entry, keyed `""`.
    parents: BTreeMap<String, PathBuf>,
}

impl Cgroups {
    /// Detects the cgroup version under `root` (normally [`DEFAULT_ROOT`]) and creates the
    /// `bulwark` parent, which proves it writable.
    pub fn prepare(root: &Path) -> Availability {
        if root.join("cgroup.controllers").exists() {
            return Self::prepare_v2(root);
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Self::prepare_v1(&parse::v1_mounts(&mounts), &parse::own_v1_paths(&own))
    }

    fn prepare_v2(root: &Path) -> Availability {
        let parent = root.join(PARENT);
        let made = std::fs::create_dir_all(&parent)
            .map_err(|source| io_error("create", &parent, source))
            .and_then(|()| enable_v2_controllers(root))
            .and_then(|()| enable_v2_controllers(&parent));
        match made {
            Ok(()) => Availability::Writable(Cgroups {
                version: Version::V2,
                parents: BTreeMap::from([(String::new(), parent)]),
            }),
            Err(error) => unavailable(Version::V2, error.to_string()),
        }
    }

    fn prepare_v1(
        mounts: &BTreeMap<String, PathBuf>,
        own: &BTreeMap<String, PathBuf>,
    ) -> Availability {
        let mut parents = BTreeMap::new();
        for controller in parse::V1_CONTROLLERS {
            let Some(mount) = mounts.get(controller) else {
                if controller == "pids" {
                    continue; // optional: pods run without a pids limit
                }
                return unavailable(
                    Version::V1,
                    format!("the {controller} controller is not mounted"),
                );
            };
            let own_path = own.get(controller).cloned().unwrap_or_default();
            let parent = mount.join(own_path).join(PARENT);
            if let Err(source) = std::fs::create_dir_all(&parent) {
                return unavailable(Version::V1, io_error("create", &parent, source).to_string());
            }
            parents.insert(controller.to_string(), parent);
        }
        Availability::Writable(Cgroups {
            version: Version::V1,
            parents,
        })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The cgroup of one container of a pod (not created until [`ContainerCgroup::create`]).
    pub fn container(&self, pod_uid: &str, container: &str) -> ContainerCgroup {
        let dir = |controller: &str| {
            let key = match self.version {
                Version::V1 => controller,
                Version::V2 => "",
            };
            self.parents
                .get(key)
                .map(|parent| parent.join(pod_uid).join(container))
        };
        ContainerCgroup {
            version: self.version,
            memory: dir("memory"),
            cpu: dir("cpu"),
            cpuacct: dir("cpuacct"),
            pids: dir("pids"),
        }
    }

    /// The pod's directories, one per hierarchy.
    fn pod_dirs(&self, pod_uid: &str) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.parents.values().map(|p| p.join(pod_uid)).collect();
        dirs.dedup();
        dirs
    }

    /// The pod UIDs that have a cgroup (to clean up after pods deleted while the agent was away).
    pub fn pods(&self) -> Vec<String> {
        let mut uids: Vec<String> = self
            .parents
            .values()
            .filter_map(|parent| std::fs::read_dir(parent).ok())
            .flatten()
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        uids.sort();
        uids.dedup();
        uids
    }

    /// Kills whatever still runs in the pod's cgroups and removes them, containers first.
    /// Gives up after `timeout` if processes will not die (stuck in the kernel).
    pub fn remove_pod(&self, pod_uid: &str, timeout: Duration) -> Result<()> {
        for pod_dir in self.pod_dirs(pod_uid) {
            let children = match std::fs::read_dir(&pod_dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(io_error("list", &pod_dir, source)),
            };
            for child in children.filter_map(|entry| entry.ok()) {
                if child.path().is_dir() {
                    kill_and_remove(&child.path(), timeout)?;
                }
            }
            kill_and_remove(&pod_dir, timeout)?;
        }
        Ok(())
    }
}

/// One container's cgroup directories (the same directory for every controller on v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCgroup {
    version: Version,
    memory: Option<PathBuf>,
    cpu: Option<PathBuf>,
    cpuacct: Option<PathBuf>,
    pids: Option<PathBuf>,
}

impl ContainerCgroup {
    pub fn version(&self) -> Version {
        self.version
    }

    /// Every distinct directory of this cgroup.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = [&self.memory, &self.cpu, &self.cpuacct, &self.pids]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// The `cgroup.procs` files a process writes itself into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .iter()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// Creates the directories (enabling v2 controllers on the pod level) and writes `limits`.
    pub fn create(&self, limits: &ResourceLimits) -> Result<()> {
        for dir in self.dirs() {
            std::fs::create_dir_all(&dir).map_err(|source| io_error("create", &dir, source))?;
        }
        if self.version == Version::V2
            && let Some(pod_dir) = self.memory.as_deref().and_then(Path::parent)
        {
            enable_v2_controllers(pod_dir)?;
        }
        self.apply(limits)
    }

    fn apply(&self, limits: &ResourceLimits) -> Result<()> {
        let (memory, cpu, pids) = (&self.memory, &self.cpu, &self.pids);
        match self.version {
            Version::V1 => {
                if let (Some(dir), Some(bytes)) = (memory, limits.memory_bytes) {
                    write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
                    write_if_present(&dir.join("memory.memsw.limit_in_bytes"), &bytes.to_string())?;
                }
                if let Some(dir) = cpu {
                    write(&dir.join("cpu.shares"), &limits.cpu_shares().to_string())?;
                    let quota = limits.cfs_quota_us().map_or(-1, |q| q as i64);
                    let period = limits::CFS_PERIOD_US.to_string();
                    write(&dir.join("cpu.cfs_period_us"), &period)?;
                    write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
            }
            Version::V2 => {
                if let (Some(dir), Some(bytes)) = (memory, limits.memory_bytes) {
                    write(&dir.join("memory.max"), &bytes.to_string())?;
                    write_if_present(&dir.join("memory.swap.max"), "0")?;
                    write_if_present(&dir.join("memory.oom.group"), "1")?;
                }
                if let Some(dir) = cpu {
                    write(&dir.join("cpu.weight"), &limits.cpu_weight().to_string())?;
                    write(&dir.join("cpu.max"), &limits.cpu_max())?;
                }
            }
        }
        if let (Some(dir), Some(max)) = (pids, limits.pids) {
            write(&dir.join("pids.max"), &max.to_string())?;
        }
        Ok(())
    }

    /// How many times the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_kills(&self) -> Result<u64> {
        let Some(dir) = &self.memory else {
            return Ok(0);
        };
        let file = match self.version {
            Version::V1 => dir.join("memory.oom_control"),
            Version::V2 => dir.join("memory.events"),
        };
        Ok(parse::keyed_value(&read(&file)?, "oom_kill").unwrap_or(0))
    }

    /// CPU time used by this cgroup's processes since it was created.
    pub fn cpu_usage(&self) -> Result<Duration> {
        match (self.version, &self.cpuacct, &self.cpu) {
            (Version::V1, Some(dir), _) => {
                let nanos = parse::single_value(&read(&dir.join("cpuacct.usage"))?);
                Ok(Duration::from_nanos(nanos.unwrap_or(0)))
            }
            (Version::V2, _, Some(dir)) => {
                let micros = parse::keyed_value(&read(&dir.join("cpu.stat"))?, "usage_usec");
                Ok(Duration::from_micros(micros.unwrap_or(0)))
            }
            _ => Ok(Duration::ZERO),
        }
    }

    /// The processes now in this cgroup.
    pub fn member_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .procs_files()
            .iter()
            .filter_map(|file| std::fs::read_to_string(file).ok())
            .flat_map(|text| parse::pids(&text))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// SIGKILLs every process still in the cgroup (one that left its process group included)
    /// and waits, up to `timeout`, until none is left.
    pub fn kill_all(&self, timeout: Duration) -> bool {
        kill_members(&self.dirs(), timeout)
    }

    /// Kills what is left and removes the directories.
    pub fn remove(&self, timeout: Duration) -> Result<()> {
        for dir in self.dirs() {
            kill_and_remove(&dir, timeout)?;
        }
        Ok(())
    }
}

fn kill_and_remove(dir: &Path, timeout: Duration) -> Result<()> {
    kill_members(&[dir.to_path_buf()], timeout);
    match std::fs::remove_dir(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io_error("remove", dir, error))
        }
        _ => Ok(()),
    }
}

/// Polls until the cgroups are empty, SIGKILLing each member found; `false` on timeout.
fn kill_members(dirs: &[PathBuf], timeout: Duration) -> bool {
    #[allow(clippy::disallowed_methods)] // a shell deadline, not a decision
    let deadline = Instant::now() + timeout;
    loop {
        let members: Vec<i32> = dirs
            .iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
            .flat_map(|text| parse::pids(&text))
            .collect();
        if members.is_empty() {
            return true;
        }
        for pid in members {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                // Already gone is fine: the next read shows whether anything is left.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        #[allow(clippy::disallowed_methods)]
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Enables `memory`, `cpu` and `pids` for the children of a v2 cgroup, each on its own so a
/// controller the kernel lacks does not block the others.
fn enable_v2_controllers(dir: &Path) -> Result<()> {
    let available = read(&dir.join("cgroup.controllers"))?;
    let control = dir.join("cgroup.subtree_control");
    for controller in ["memory", "cpu", "pids"] {
        if available.split_whitespace().any(|name| name == controller) {
            write(&control, &format!("+{controller}"))?;
        }
    }
    Ok(())
}

fn unavailable(version: Version, reason: String) -> Availability {
    Availability::Unavailable {
        version: Some(version),
        reason,
    }
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> CgroupError {
    CgroupError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| io_error("read", path, source))
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|source| io_error("write", path, source))
}

fn write_if_present(path: &Path, value: &str) -> Result<()> {
    if path.exists() {
        write(path, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_cgroups() -> Cgroups {
        Cgroups {
            version: Version::V1,
            parents: ["memory", "cpu", "cpuacct"]
                .into_iter()
                .map(|c| {
                    (
                        c.to_string(),
                        PathBuf::from(format!("/cg/{c}/agent/bulwark")),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn v1_container_paths_are_per_controller_under_the_pod() {
        let cgroup = v1_cgroups().container("uid-1", "web");
        assert_eq!(
            cgroup.procs_files(),
            vec![
                PathBuf::from("/cg/cpu/agent/bulwark/uid-1/web/cgroup.procs"),
                PathBuf::from("/cg/cpuacct/agent/bulwark/uid-1/web/cgroup.procs"),
                PathBuf::from("/cg/memory/agent/bulwark/uid-1/web/cgroup.procs"),
            ]
        );
        assert_eq!(v1_cgroups().pod_dirs("uid-1").len(), 3);
    }

    #[test]
    fn v2_container_is_one_directory() {
        let cgroups = Cgroups {
            version: Version::V2,
            parents: BTreeMap::from([(String::new(), PathBuf::from("/cg/bulwark"))]),
        };
        let cgroup = cgroups.container("uid-1", "web");
        assert_eq!(cgroup.dirs(), vec![PathBuf::from("/cg/bulwark/uid-1/web")]);
    }

    #[test]
    fn missing_memory_controller_is_reported_not_fatal() {
        let availability = Cgroups::prepare_v1(&BTreeMap::new(), &BTreeMap::new());
        match availability {
            Availability::Unavailable { version, reason } => {
                assert_eq!(version, Some(Version::V1));
                assert!(reason.contains("memory"), "{reason}");
            }
            Availability::Writable(_) => panic!("no mounts cannot be writable"),
        }
    }
}
