//! [`ProcessRuntime`]: containers as real process groups (a shell module: it forks, signals,
//! sleeps and reads the wall clock through its [`Clock`], hence the allowance below).
//!
//! - Each instance is its own process group (so a liveness restart stops one container, not the
//!   pod), joined to its container cgroup before `exec` when cgroups are writable.
//! - stdout and stderr are named pipes under the state directory that the child holds open for
//!   reading *and* writing: if the agent dies the child's writes do not hit a closed pipe
//!   (no SIGPIPE); they wait in the pipe (enlarged to 1 MiB) until a restarted agent reads on.
//!   The agent frames what it reads into the CRI log ([`crate::logs::ContainerLog`]).
//! - When the main process exits the container is over: what is left of its process group and
//!   cgroup is SIGKILLed, as when the init of a PID namespace exits. Output still in the pipes
//!   is logged (for up to [`DRAIN_TIMEOUT`]) before the exit is reported.
//! - Live instances are persisted per pod ([`super::persist`]); a new runtime over the same state
//!   directory adopts those whose pid still has the recorded start time, and watches them by
//!   polling `/proc` since they are no longer its children.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bulwark_core::clock::Clock;
use jiff::Timestamp;
use rustix::process::{Pid, Signal};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::persist::{self, ContainerRecord};
use super::{
    ContainerInfo, ContainerKey, ContainerSpec, ContainerState, Exit, Result, Runtime,
    RuntimeError, join, procfs, signal_exit_code,
};
use crate::cgroups::{Cgroups, ContainerCgroup};
use crate::logs::{ContainerLog, RotationPolicy, Stream};
use crate::timing;

/// How long output left in a container's pipes may take to reach its log after it exits.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long SIGKILLed processes get to leave their cgroup before the agent stops waiting.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an adopted process (not our child, so no `wait`) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(100);
/// How often a memory-limited container's OOM counter is read.
const OOM_POLL: Duration = Duration::from_millis(100);
/// The pipe size asked for, so a container can write this much while no agent reads.
const PIPE_BYTES: usize = 1024 * 1024;

/// What a [`ProcessRuntime`] needs.
#[derive(Clone)]
pub struct ProcessRuntimeConfig {
    /// Where pod state files and the log pipes live (`<data dir>/runtime`).
    pub state_dir: PathBuf,
    /// `None` when cgroups are unavailable: containers then run without limits.
    pub cgroups: Option<Cgroups>,
    pub rotation: RotationPolicy,
    pub clock: Arc<dyn Clock>,
}

/// Real processes; see the module docs. Must be created inside a Tokio runtime. Dropping it
/// stops watching (as an agent that exits) but leaves the processes running.
pub struct ProcessRuntime {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
    warnings: Vec<String>,
}

struct Shared {
    config: ProcessRuntimeConfig,
    entries: Mutex<BTreeMap<ContainerKey, Entry>>,
    changes: watch::Sender<u64>,
}

struct Entry {
    info: ContainerInfo,
    /// Persisted while the instance lives.
    record: Option<ContainerRecord>,
    cgroup: Option<ContainerCgroup>,
    tasks: Vec<AbortHandle>,
}

impl ProcessRuntime {
    /// A runtime over `config.state_dir`, adopting the live containers recorded there.
    pub fn new(config: ProcessRuntimeConfig) -> Self {
        let (changes, _) = watch::channel(0);
        let runtime = Self {
            shared: Arc::new(Shared {
                config,
                entries: Mutex::new(BTreeMap::new()),
                changes,
            }),
            handle: tokio::runtime::Handle::current(),
            warnings: Vec::new(),
        };
        runtime.adopt()
    }

    /// State files that could not be read when adopting (for the agent to log).
    pub fn adoption_warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The cgroup of a container, when cgroups are in use (for CPU and memory readings).
    pub fn cgroup(&self, key: &ContainerKey) -> Option<ContainerCgroup> {
        self.shared.lock().get(key)?.cgroup.clone()
    }

    fn adopt(mut self) -> Self {
        let (records, warnings) = persist::read_all(&self.shared.config.state_dir);
        self.warnings = warnings;
        let now = self.shared.config.clock.now();
        let mut pods = Vec::new();
        for record in records {
            let cgroup = self.cgroup_of(&record.key);
            let key = record.key.clone();
            pods.push(key.pod_uid.clone());
            if procfs::is_same_live_process(record.pid, record.start_ticks) {
                self.adopt_live(record, cgroup);
            } else {
                // It ended while no agent watched: an exit whose code nobody collected.
                let oom_killed = oom_kills(cgroup.as_ref()) > record.oom_kills_before;
                let info = ContainerInfo {
                    key: key.clone(),
                    pid: Some(record.pid),
                    started_at: record.started_at,
                    state: ContainerState::Exited(unknown_exit(now, oom_killed)),
                    adopted: true,
                };
                let entry = Entry {
                    info,
                    record: None,
                    cgroup,
                    tasks: Vec::new(),
                };
                self.shared.lock().insert(key, entry);
            }
        }
        pods.dedup();
        for pod in pods {
            self.shared.persist(&pod);
        }
        self
    }

    fn adopt_live(&self, record: ContainerRecord, cgroup: Option<ContainerCgroup>) {
        let _runtime = self.handle.enter();
        let key = record.key.clone();
        let mut tasks = Vec::new();
        let mut pumps = Vec::new();
        if let Ok(log) = ContainerLog::open(&record.log_path, self.shared.config.rotation) {
            let log = Arc::new(Mutex::new(log));
            for (fifo, stream) in [
                (&record.stdout_fifo, Stream::Stdout),
                (&record.stderr_fifo, Stream::Stderr),
            ] {
                if let Ok(receiver) = open_receiver(fifo) {
                    let pump = tokio::spawn(pump(receiver, log.clone(), stream, self.clock()));
                    tasks.push(pump.abort_handle());
                    pumps.push(pump);
                }
            }
        }
        let watcher = tokio::spawn(watch_adopted(
            self.shared.clone(),
            key.clone(),
            record.clone(),
            pumps,
        ));
        tasks.push(watcher.abort_handle());
        let info = ContainerInfo {
            key: key.clone(),
            pid: Some(record.pid),
            started_at: record.started_at,
            state: ContainerState::Running,
            adopted: true,
        };
        let entry = Entry {
            info,
            record: Some(record),
            cgroup,
            tasks,
        };
        self.shared.lock().insert(key, entry);
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.shared.config.clock.clone()
    }

    fn cgroup_of(&self, key: &ContainerKey) -> Option<ContainerCgroup> {
        let cgroups = self.shared.config.cgroups.as_ref()?;
        Some(cgroups.container(&key.pod_uid, &key.container))
    }

    fn fifo_paths(&self, key: &ContainerKey) -> (PathBuf, PathBuf) {
        let dir = self
            .shared
            .config
            .state_dir
            .join("pipes")
            .join(&key.pod_uid);
        let base = format!("{}.{}", key.container, key.attempt);
        (
            dir.join(format!("{base}.stdout")),
            dir.join(format!("{base}.stderr")),
        )
    }

    fn spawn(&self, spec: &ContainerSpec) -> Result<SpawnedContainer> {
        let _runtime = self.handle.enter();
        let cgroup = self.cgroup_of(&spec.key);
        if let Some(cgroup) = &cgroup {
            cgroup.create(&spec.limits)?;
        }
        let oom_kills_before = oom_kills(cgroup.as_ref());
        let log = ContainerLog::open(&spec.log_path, self.shared.config.rotation)
            .map_err(|source| io_error("open log", &spec.log_path, source))?;
        let (stdout_fifo, stderr_fifo) = self.fifo_paths(&spec.key);
        let stdout = make_fifo(&stdout_fifo)?;
        let stderr = make_fifo(&stderr_fifo)?;
        let receivers = [
            open_receiver(&stdout_fifo).map_err(|e| io_error("open", &stdout_fifo, e))?,
            open_receiver(&stderr_fifo).map_err(|e| io_error("open", &stderr_fifo, e))?,
        ];

        let mut command = std::process::Command::new(&spec.program);
        std::os::unix::process::CommandExt::arg0(&mut command, &spec.arg0);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if let Some(dir) = &spec.working_dir {
            command.current_dir(dir);
        }
        if let Some(cgroup) = &cgroup {
            join::join_cgroup_before_exec(&mut command, &cgroup.procs_files())
                .map_err(|source| io_error("open", Path::new("cgroup.procs"), source))?;
        }
        if rustix::process::geteuid().is_root() {
            join::mount_volumes_before_exec(&mut command, &spec.mounts).map_err(|source| {
                io_error("prepare", Path::new("the volume mount points"), source)
            })?;
        } else {
            link_volumes(&spec.mounts);
        }
        let start_error = |source| RuntimeError::Start {
            program: spec.program.display().to_string(),
            source,
        };
        // The command owns the parent's copies of the pipes' write ends; dropping it right
        // after the spawn leaves the child as the only writer, so the log sees EOF at exit.
        let child = tokio::process::Command::from(command)
            .spawn()
            .map_err(start_error)?;
        let pid = child
            .id()
            .ok_or_else(|| start_error(std::io::Error::other("exited before it had a pid")))?;
        let start_ticks = procfs::read_stat(pid).map_or(0, |stat| stat.start_ticks);
        Ok(SpawnedContainer {
            child,
            record: ContainerRecord {
                key: spec.key.clone(),
                pid,
                start_ticks,
                started_at: self.shared.config.clock.now(),
                log_path: spec.log_path.clone(),
                stdout_fifo,
                stderr_fifo,
                oom_kills_before,
            },
            cgroup,
            log,
            receivers,
        })
    }
}

struct SpawnedContainer {
    child: tokio::process::Child,
    record: ContainerRecord,
    cgroup: Option<ContainerCgroup>,
    log: ContainerLog,
    receivers: [tokio::net::unix::pipe::Receiver; 2],
}

impl Runtime for ProcessRuntime {
    fn start(&self, spec: ContainerSpec) -> Result<ContainerInfo> {
        check_path_safe(&spec.key)?;
        if self.shared.lock().contains_key(&spec.key) {
            return Err(RuntimeError::AlreadyExists(spec.key.container_id()));
        }
        let spawned = self.spawn(&spec)?;
        let _runtime = self.handle.enter();
        let log = Arc::new(Mutex::new(spawned.log));
        let [stdout, stderr] = spawned.receivers;
        let pumps = vec![
            tokio::spawn(pump(stdout, log.clone(), Stream::Stdout, self.clock())),
            tokio::spawn(pump(stderr, log, Stream::Stderr, self.clock())),
        ];
        let mut tasks: Vec<AbortHandle> = pumps.iter().map(|pump| pump.abort_handle()).collect();
        let info = ContainerInfo {
            key: spec.key.clone(),
            pid: Some(spawned.record.pid),
            started_at: spawned.record.started_at,
            state: ContainerState::Running,
            adopted: false,
        };
        // Holding the lock while the waiter is spawned means it cannot report an exit for an
        // entry not yet inserted.
        let mut entries = self.shared.lock();
        let waiter = tokio::spawn(wait_child(
            self.shared.clone(),
            spec.key.clone(),
            spawned.child,
            spawned.record.clone(),
            pumps,
        ));
        tasks.push(waiter.abort_handle());
        if let Some(cgroup) = spawned
            .cgroup
            .clone()
            .filter(|_| spec.limits.memory_bytes.is_some())
        {
            let watcher = tokio::spawn(kill_group_on_oom(cgroup, spawned.record.clone()));
            tasks.push(watcher.abort_handle());
        }
        let entry = Entry {
            info: info.clone(),
            record: Some(spawned.record),
            cgroup: spawned.cgroup,
            tasks,
        };
        entries.insert(spec.key.clone(), entry);
        drop(entries);
        self.shared.persist(&spec.key.pod_uid);
        self.shared.bump();
        Ok(info)
    }

    fn stop(&self, key: &ContainerKey, grace: Duration) -> Result<()> {
        let now = self.shared.config.clock.now();
        let kill_at = timing::add(now, grace);
        let (pid, cgroup) = {
            let mut entries = self.shared.lock();
            let entry = entries
                .get_mut(key)
                .ok_or_else(|| RuntimeError::NotFound(key.container_id()))?;
            match entry.info.state {
                ContainerState::Exited(_) => return Ok(()),
                ContainerState::Stopping { kill_at: earlier } if earlier <= kill_at => {
                    return Ok(());
                }
                _ => {}
            }
            entry.info.state = ContainerState::Stopping { kill_at };
            (entry.info.pid, entry.cgroup.clone())
        };
        self.shared.bump();
        let Some(pid) = pid else { return Ok(()) };
        if grace.is_zero() {
            kill_everything(pid, cgroup.as_ref());
            return Ok(());
        }
        signal_group(pid, Signal::TERM);
        let shared = self.shared.clone();
        let stopping = key.clone();
        let _runtime = self.handle.enter();
        let escalation = tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if shared.is_alive(&stopping) {
                tokio::task::spawn_blocking(move || kill_everything(pid, cgroup.as_ref()));
            }
        });
        if let Some(entry) = self.shared.lock().get_mut(key) {
            entry.tasks.push(escalation.abort_handle());
        }
        Ok(())
    }

    fn containers(&self) -> Vec<ContainerInfo> {
        self.shared
            .lock()
            .values()
            .map(|entry| entry.info.clone())
            .collect()
    }

    fn remove_pod(&self, pod_uid: &str) -> Result<()> {
        let removed: Vec<Entry> = {
            let mut entries = self.shared.lock();
            let keys: Vec<ContainerKey> = entries
                .keys()
                .filter(|key| key.pod_uid == pod_uid)
                .cloned()
                .collect();
            keys.iter().filter_map(|key| entries.remove(key)).collect()
        };
        for entry in &removed {
            if let (true, Some(pid)) = (entry.info.is_alive(), entry.info.pid) {
                signal_group(pid, Signal::KILL);
            }
            entry.tasks.iter().for_each(AbortHandle::abort);
        }
        if let Some(cgroups) = &self.shared.config.cgroups {
            cgroups.remove_pod(pod_uid, KILL_TIMEOUT)?;
        }
        let state_dir = &self.shared.config.state_dir;
        persist::write_pod(state_dir, pod_uid, &[])
            .map_err(|source| io_error("remove state of", state_dir, source))?;
        let pipes = state_dir.join("pipes").join(pod_uid);
        match std::fs::remove_dir_all(&pipes) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_error("remove", &pipes, error));
            }
            _ => {}
        }
        self.shared.bump();
        Ok(())
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }
}

impl Drop for ProcessRuntime {
    /// Stops watching; the processes keep running for the next runtime to adopt.
    fn drop(&mut self) {
        for entry in self.shared.lock().values() {
            entry.tasks.iter().for_each(AbortHandle::abort);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<ContainerKey, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (every update is a
        // single assignment), so a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    fn is_alive(&self, key: &ContainerKey) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|entry| entry.info.is_alive())
    }

    /// Rewrites the pod's state file from the live entries. A failure is logged rather than
    /// returned: the processes run either way, only adoption after a restart is at stake.
    fn persist(&self, pod_uid: &str) {
        let records: Vec<ContainerRecord> = self
            .lock()
            .values()
            .filter(|entry| entry.info.key.pod_uid == pod_uid)
            .filter_map(|entry| entry.record.clone())
            .collect();
        if let Err(error) = persist::write_pod(&self.config.state_dir, pod_uid, &records) {
            eprintln!("bulwark agent: cannot record the state of pod {pod_uid}: {error}");
        }
    }

    fn finish(&self, key: &ContainerKey, exit: Exit) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.info.state = ContainerState::Exited(exit);
            entry.record = None;
        }
        self.persist(&key.pod_uid);
        self.bump();
    }

    fn cgroup(&self, key: &ContainerKey) -> Option<ContainerCgroup> {
        self.lock().get(key)?.cgroup.clone()
    }
}

/// Waits for our own child, then cleans up after it and reports how it ended.
async fn wait_child(
    shared: Arc<Shared>,
    key: ContainerKey,
    mut child: tokio::process::Child,
    record: ContainerRecord,
    pumps: Vec<tokio::task::JoinHandle<()>>,
) {
    let status = child.wait().await;
    let finished_at = shared.config.clock.now();
    let cgroup = shared.cgroup(&key);
    let (exit_code, signal) = match status {
        Ok(status) => {
            let signal = std::os::unix::process::ExitStatusExt::signal(&status);
            (
                status.code().or(signal.map(signal_exit_code)).unwrap_or(0),
                signal,
            )
        }
        Err(_) => (signal_exit_code(9), None),
    };
    let exit = Exit {
        exit_code,
        signal,
        oom_killed: false,
        finished_at,
        code_known: status.is_ok(),
    };
    clean_up_after(shared, key, record, cgroup, pumps, exit).await;
}

/// As Kubernetes does since 1.28 (cgroup v2 `memory.oom.group`, which the kernel honours by
/// itself), one OOM kill ends the whole container, not only the process the kernel picked: a
/// shell whose child was killed would otherwise keep the container "running" without its
/// work. On cgroup v1, which has no group kill, this poll makes the same true.
async fn kill_group_on_oom(cgroup: ContainerCgroup, record: ContainerRecord) {
    while procfs::is_same_live_process(record.pid, record.start_ticks) {
        if oom_kills(Some(&cgroup)) > record.oom_kills_before {
            let pid = record.pid;
            let _ = tokio::task::spawn_blocking(move || kill_everything(pid, Some(&cgroup))).await;
            return;
        }
        tokio::time::sleep(OOM_POLL).await;
    }
}

/// Polls an adopted process until it is gone.
async fn watch_adopted(
    shared: Arc<Shared>,
    key: ContainerKey,
    record: ContainerRecord,
    pumps: Vec<tokio::task::JoinHandle<()>>,
) {
    while procfs::is_same_live_process(record.pid, record.start_ticks) {
        tokio::time::sleep(ADOPTED_POLL).await;
    }
    let cgroup = shared.cgroup(&key);
    let exit = unknown_exit(shared.config.clock.now(), false);
    clean_up_after(shared, key, record, cgroup, pumps, exit).await;
}

/// The main process is gone: kill what is left of the container, let its output reach the
/// log, and report the exit.
async fn clean_up_after(
    shared: Arc<Shared>,
    key: ContainerKey,
    record: ContainerRecord,
    cgroup: Option<ContainerCgroup>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    mut exit: Exit,
) {
    let pid = record.pid;
    let reading = cgroup.clone();
    let oom_kills_after = tokio::task::spawn_blocking(move || {
        kill_everything(pid, reading.as_ref());
        oom_kills(reading.as_ref())
    })
    .await
    .unwrap_or(0);
    exit.oom_killed = oom_kills_after > record.oom_kills_before;
    for pump in pumps {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, pump).await;
    }
    for fifo in [&record.stdout_fifo, &record.stderr_fifo] {
        let _ = std::fs::remove_file(fifo);
    }
    shared.finish(&key, exit);
}

/// Copies one stream from its pipe into the log until every writer has closed it.
async fn pump(
    mut receiver: tokio::net::unix::pipe::Receiver,
    log: Arc<Mutex<ContainerLog>>,
    stream: Stream,
    clock: Arc<dyn Clock>,
) {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = match receiver.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = log.write(stream, clock.now(), &buffer[..read]) {
            eprintln!(
                "bulwark agent: cannot write {}: {error}",
                log.path().display()
            );
        }
    }
    let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = log.flush_partial(stream, clock.now());
}

fn unknown_exit(now: Timestamp, oom_killed: bool) -> Exit {
    Exit {
        exit_code: signal_exit_code(9),
        signal: None,
        oom_killed,
        finished_at: now,
        code_known: false,
    }
}

fn oom_kills(cgroup: Option<&ContainerCgroup>) -> u64 {
    cgroup
        .and_then(|cgroup| cgroup.oom_kills().ok())
        .unwrap_or(0)
}

/// SIGKILLs the process group and anything left in the cgroup (a process that left the
/// group with `setsid` included). Blocks briefly while the cgroup empties.
fn kill_everything(pid: u32, cgroup: Option<&ContainerCgroup>) {
    signal_group(pid, Signal::KILL);
    if let Some(cgroup) = cgroup {
        cgroup.kill_all(KILL_TIMEOUT);
    }
}

/// Without the privilege to mount, a volume is made available by a symbolic link at its
/// `mountPath` where nothing is there yet (README: volumes without root). A path that
/// exists is left alone: the container then does not see that volume there.
fn link_volumes(mounts: &[super::Mount]) {
    for mount in mounts {
        if std::fs::symlink_metadata(&mount.target).is_ok() {
            continue;
        }
        let linked = mount
            .target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::os::unix::fs::symlink(&mount.source, &mount.target));
        if let Err(error) = linked {
            tracing::warn!(%error, target = %mount.target.display(), "cannot link a volume without root");
        }
    }
}

/// Signals the process group led by `pid`; a group already gone is not an error.
fn signal_group(pid: u32, signal: Signal) {
    if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process_group(group, signal);
    }
}

/// Creates a fresh named pipe and opens it for reading and writing: the end the child gets, so
/// the pipe always has a reader and the child never sees SIGPIPE.
fn make_fifo(path: &Path) -> Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| io_error("create", parent, source))?;
    }
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_error("remove", path, error));
        }
        _ => {}
    }
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .map_err(|errno| io_error("create pipe", path, errno.into()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| io_error("open", path, source))?;
    // Best effort: a smaller pipe only means less buffering while no agent reads.
    let _ = rustix::pipe::fcntl_setpipe_size(&file, PIPE_BYTES);
    Ok(file)
}

fn open_receiver(path: &Path) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    tokio::net::unix::pipe::OpenOptions::new().open_receiver(path)
}

/// Pod UIDs and container names become file names: refuse anything that is not one plain name.
fn check_path_safe(key: &ContainerKey) -> Result<()> {
    for part in [&key.pod_uid, &key.container] {
        if !super::is_plain_file_name(part) {
            return Err(RuntimeError::Start {
                program: key.container_id(),
                source: std::io::Error::other(format!("{part:?} cannot name a file")),
            });
        }
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_may_become_file_names() {
        for (pod, container) in [("uid-1", "web"), ("a.b", "c_d")] {
            assert!(check_path_safe(&ContainerKey::new(pod, container, 0)).is_ok());
        }
        for (pod, container) in [
            ("", "web"),
            ("..", "web"),
            ("a/b", "web"),
            ("uid", ".hidden"),
        ] {
            assert!(
                check_path_safe(&ContainerKey::new(pod, container, 0)).is_err(),
                "{pod:?}/{container:?}"
            );
        }
    }
}
