//! The process runtime against real processes (`/bin/sh -c …`). Tests that need cgroups skip,
//! with a printed note, where they are not writable. Every wait is bounded; nothing sleeps for
//! correctness.
#![allow(clippy::disallowed_methods)] // measuring wall time and polling with deadlines

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulwark_agent::cgroups::{Availability, Cgroups, ResourceLimits};
use bulwark_agent::logs::{self, LogQuery, RotationPolicy};
use bulwark_agent::runtime::{
    ContainerInfo, ContainerKey, ContainerSpec, ContainerState, ProcessRuntime,
    ProcessRuntimeConfig, Runtime, procfs,
};
use bulwark_core::clock::SystemClock;

const WITHIN: Duration = Duration::from_secs(20);

fn cgroups() -> Option<Cgroups> {
    match Cgroups::prepare(Path::new(bulwark_agent::cgroups::DEFAULT_ROOT)) {
        Availability::Writable(cgroups) => Some(cgroups),
        Availability::Unavailable { reason, .. } => {
            println!("note: cgroups are not writable here ({reason}); running without");
            None
        }
    }
}

fn runtime_over(
    state_dir: &Path,
    cgroups: Option<Cgroups>,
    rotation: RotationPolicy,
) -> ProcessRuntime {
    ProcessRuntime::new(ProcessRuntimeConfig {
        state_dir: state_dir.to_path_buf(),
        cgroups,
        rotation,
        clock: Arc::new(SystemClock),
    })
}

/// Removes the pod's cgroups (killing what is in them) even when a test fails midway.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Availability::Writable(cgroups) =
            Cgroups::prepare(Path::new(bulwark_agent::cgroups::DEFAULT_ROOT))
        {
            let _ = cgroups.remove_pod(&self.0, Duration::from_secs(5));
        }
    }
}

fn pod_uid(test: &str) -> String {
    format!("rt-{test}-{}", std::process::id())
}

fn sh(dir: &Path, pod: &str, script: &str, limits: ResourceLimits) -> ContainerSpec {
    let key = ContainerKey::new(pod, "main", 0);
    ContainerSpec {
        log_path: logs::container_log_path(&dir.join("logs"), pod, "main", 0),
        key,
        program: PathBuf::from("/bin/sh"),
        arg0: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![(
            "PATH".into(),
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
        )],
        working_dir: Some(dir.to_path_buf()),
        limits,
        mounts: Vec::new(),
    }
}

/// Waits, on the runtime's change counter, until the container satisfies `done`.
async fn wait_for(
    runtime: &dyn Runtime,
    key: &ContainerKey,
    done: impl Fn(&ContainerInfo) -> bool,
) -> ContainerInfo {
    let mut changes = runtime.changes();
    let found = tokio::time::timeout(WITHIN, async {
        loop {
            let info = runtime.containers().into_iter().find(|i| &i.key == key);
            if let Some(info) = info.filter(|info| done(info)) {
                return info;
            }
            if changes.changed().await.is_err() {
                panic!("the runtime went away");
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{key:?} did not get there within {WITHIN:?}"))
}

async fn wait_exit(runtime: &dyn Runtime, key: &ContainerKey) -> bulwark_agent::runtime::Exit {
    let info = wait_for(runtime, key, |info| !info.is_alive()).await;
    info.exit().cloned().expect("exited")
}

fn read_all_log(path: &Path) -> String {
    let mut out = Vec::new();
    logs::read_log(path, &LogQuery::default(), &mut out).expect("read log");
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls the log until it contains `text`.
async fn wait_for_log(path: &Path, text: &str) {
    let deadline = Instant::now() + WITHIN;
    while !read_all_log(path).contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} never reached {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Live (non-zombie) processes in process group `group`.
fn live_members(group: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            procfs::read_stat(*pid)
                .is_some_and(|stat| stat.process_group == group as i32 && !stat.is_zombie())
        })
        .collect()
}

async fn wait_group_empty(group: u32) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let left = live_members(group);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_and_output_are_observed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), cgroups(), RotationPolicy::default());
    let pod = pod_uid("exit");
    let _cleanup = Cleanup(pod.clone());
    let spec = sh(
        dir.path(),
        &pod,
        "echo hello; echo oops >&2; exit 3",
        ResourceLimits::default(),
    );
    let log_path = spec.log_path.clone();
    let info = runtime.start(spec).expect("start");
    assert!(info.pid.is_some());
    let exit = wait_exit(&runtime, &info.key).await;
    assert_eq!(
        (exit.exit_code, exit.signal, exit.oom_killed),
        (3, None, false)
    );
    assert!(exit.code_known);
    assert!(exit.finished_at >= info.started_at);
    let text = read_all_log(&log_path);
    assert!(
        text.contains("hello\n") && text.contains("oops\n"),
        "{text:?}"
    );
    runtime.remove_pod(&pod).expect("remove");
    assert!(runtime.pod_containers(&pod).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_trapping_process_exits_within_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), cgroups(), RotationPolicy::default());
    let pod = pod_uid("graceful");
    let _cleanup = Cleanup(pod.clone());
    let script = "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done";
    let spec = sh(dir.path(), &pod, script, ResourceLimits::default());
    let log_path = spec.log_path.clone();
    let key = runtime.start(spec).expect("start").key;
    wait_for_log(&log_path, "ready").await;
    let grace = Duration::from_secs(60);
    runtime.stop(&key, grace).expect("stop");
    let stopping = runtime.pod_containers(&pod).pop().expect("listed");
    assert!(matches!(
        stopping.state,
        ContainerState::Stopping { .. } | ContainerState::Exited(_)
    ));
    let exit = wait_exit(&runtime, &key).await;
    assert_eq!(
        (exit.exit_code, exit.signal),
        (0, None),
        "exited by its trap"
    );
    assert!(read_all_log(&log_path).contains("bye"));
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), cgroups(), RotationPolicy::default());
    let pod = pod_uid("stubborn");
    let _cleanup = Cleanup(pod.clone());
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let spec = sh(dir.path(), &pod, script, ResourceLimits::default());
    let log_path = spec.log_path.clone();
    let key = runtime.start(spec).expect("start").key;
    wait_for_log(&log_path, "ready").await;
    let grace = Duration::from_millis(500);
    let stopped_at = jiff::Timestamp::now();
    runtime.stop(&key, grace).expect("stop");
    let exit = wait_exit(&runtime, &key).await;
    assert_eq!((exit.exit_code, exit.signal), (137, Some(9)));
    let waited = exit.finished_at.duration_since(stopped_at);
    assert!(
        waited >= jiff::SignedDuration::from_millis(500),
        "killed after {waited:?}"
    );
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_leaves_no_process_of_the_group_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), cgroups(), RotationPolicy::default());
    let pod = pod_uid("group");
    let _cleanup = Cleanup(pod.clone());
    // A child shell with a grandchild sleep, and a sleep of our own, all in the background.
    let script = "sh -c 'sleep 300; echo never' & sleep 300 & echo ready; wait";
    let spec = sh(dir.path(), &pod, script, ResourceLimits::default());
    let log_path = spec.log_path.clone();
    let info = runtime.start(spec).expect("start");
    let group = info.pid.expect("pid");
    wait_for_log(&log_path, "ready").await;
    let deadline = Instant::now() + WITHIN;
    while live_members(group).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the group never had all four processes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runtime
        .kill_pod(&pod, Duration::from_secs(5))
        .expect("kill pod");
    let exit = wait_exit(&runtime, &info.key).await;
    assert_eq!(
        exit.signal,
        Some(15),
        "sh dies of the SIGTERM it does not trap"
    );
    wait_group_empty(group).await;
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_memory_limit_is_an_oom_kill() {
    let Some(cgroups) = cgroups() else {
        println!("skipped: needs writable cgroups");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), Some(cgroups), RotationPolicy::default());
    let pod = pod_uid("oom");
    let _cleanup = Cleanup(pod.clone());
    let limits = ResourceLimits {
        memory_bytes: Some(16 * 1024 * 1024),
        ..ResourceLimits::default()
    };
    // `tail` keeps the whole newline-free input in memory.
    let spec = sh(
        dir.path(),
        &pod,
        "head -c 64M /dev/zero | tail; exit 0",
        limits,
    );
    let key = runtime.start(spec).expect("start").key;
    let exit = wait_exit(&runtime, &key).await;
    assert!(exit.oom_killed, "{exit:?}");
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200m_cpu_limit_holds_usage_near_a_fifth_of_a_core() {
    let Some(cgroups) = cgroups() else {
        println!("skipped: needs writable cgroups");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_over(dir.path(), Some(cgroups), RotationPolicy::default());
    let pod = pod_uid("cpu");
    let _cleanup = Cleanup(pod.clone());
    let limits = ResourceLimits {
        cpu_limit_millis: Some(200),
        cpu_request_millis: Some(200),
        ..ResourceLimits::default()
    };
    let spec = sh(dir.path(), &pod, "while :; do :; done", limits);
    let key = runtime.start(spec).expect("start").key;
    let cgroup = runtime.cgroup(&key).expect("in a cgroup");
    // Let the loop reach steady state, then measure over a window of whole CFS periods.
    let warm_up = Instant::now() + Duration::from_millis(300);
    while cgroup.cpu_usage().expect("usage").is_zero() || Instant::now() < warm_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (used_before, wall_before) = (cgroup.cpu_usage().expect("usage"), Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await; // the measuring window, not a sync
    let used = cgroup.cpu_usage().expect("usage") - used_before;
    let wall = wall_before.elapsed();
    let share = used.as_secs_f64() / wall.as_secs_f64();
    println!("cpu share under a 200m limit: {share:.3} ({used:?} over {wall:?})");
    assert!((0.10..=0.35).contains(&share), "share {share:.3}");
    runtime.kill_pod(&pod, Duration::ZERO).expect("kill");
    wait_exit(&runtime, &key).await;
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_rotate_and_tail_reads_the_latest_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rotation = RotationPolicy {
        max_file_bytes: 4 * 1024,
        max_files: 3,
    };
    let runtime = runtime_over(dir.path(), cgroups(), rotation);
    let pod = pod_uid("logs");
    let _cleanup = Cleanup(pod.clone());
    let script = "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done";
    let spec = sh(dir.path(), &pod, script, ResourceLimits::default());
    let log_path = spec.log_path.clone();
    let key = runtime.start(spec).expect("start").key;
    assert_eq!(wait_exit(&runtime, &key).await.exit_code, 0);
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", log_path.display()));
    assert!(
        rotated(2).exists(),
        "rotated twice; the log holds {:?}",
        std::fs::read_to_string(&log_path).map(|text| text.len())
    );
    assert!(!rotated(3).exists(), "at most three files");
    let mut out = Vec::new();
    let query = LogQuery {
        tail_lines: Some(3),
        ..LogQuery::default()
    };
    logs::read_log(&log_path, &query, &mut out).expect("read");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "line 1997\nline 1998\nline 1999\n"
    );
    runtime.remove_pod(&pod).expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_runtime_adopts_running_containers_and_can_stop_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    let pod = pod_uid("adopt");
    let _cleanup = Cleanup(pod.clone());
    let mark = dir.path().join("go-on");
    let script = format!(
        "echo before; while [ ! -e {mark} ]; do sleep 0.02; done; echo after; \
         while :; do sleep 0.05; done",
        mark = mark.display()
    );
    let spec = sh(dir.path(), &pod, &script, ResourceLimits::default());
    let log_path = spec.log_path.clone();
    let first = runtime_over(&state_dir, cgroups(), RotationPolicy::default());
    let started = first.start(spec).expect("start");
    wait_for_log(&log_path, "before").await;
    drop(first); // the agent goes away; its processes stay

    let second = runtime_over(&state_dir, cgroups(), RotationPolicy::default());
    assert!(second.adoption_warnings().is_empty());
    let adopted = second.pod_containers(&pod);
    assert_eq!(adopted.len(), 1, "exactly the one container, no duplicate");
    assert!(adopted[0].adopted);
    assert_eq!(adopted[0].pid, started.pid);
    assert_eq!(adopted[0].state, ContainerState::Running);
    // Output written after the restart still reaches the log.
    std::fs::write(&mark, b"").expect("mark");
    wait_for_log(&log_path, "after").await;

    second
        .stop(&started.key, Duration::from_secs(5))
        .expect("stop");
    let exit = wait_exit(&second, &started.key).await;
    assert!(
        !exit.code_known,
        "an adopted process's status cannot be collected"
    );
    wait_group_empty(started.pid.expect("pid")).await;
    second.remove_pod(&pod).expect("remove");
    drop(second);
    let third = runtime_over(&state_dir, cgroups(), RotationPolicy::default());
    assert!(
        third.pod_containers(&pod).is_empty(),
        "removed pods are not adopted again"
    );
}
