//! The cgroup shell against the machine's real hierarchy; skipped (with a note) where cgroups
//! are not writable.

use std::path::Path;
use std::time::Duration;

use bulwark_agent::cgroups::{Availability, Cgroups, ResourceLimits, Version};

fn writable() -> Option<Cgroups> {
    match Cgroups::prepare(Path::new(bulwark_agent::cgroups::DEFAULT_ROOT)) {
        Availability::Writable(cgroups) => Some(cgroups),
        Availability::Unavailable { reason, .. } => {
            println!("skipped: cgroups are not writable here ({reason})");
            None
        }
    }
}

#[test]
fn limits_are_written_and_removal_kills_members() {
    let Some(cgroups) = writable() else { return };
    let pod_uid = format!("test-cgroups-{}", std::process::id());
    let cgroup = cgroups.container(&pod_uid, "app");
    let limits = ResourceLimits {
        memory_bytes: Some(32 * 1024 * 1024),
        cpu_limit_millis: Some(250),
        cpu_request_millis: Some(100),
        pids: Some(50),
    };
    cgroup.create(&limits).expect("create");
    let dirs = cgroup.dirs();
    let read = |name: &str| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|file| file.exists())
            .and_then(|file| std::fs::read_to_string(file).ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    match cgroups.version() {
        Version::V1 => {
            assert_eq!(read("memory.limit_in_bytes"), "33554432");
            assert_eq!(read("cpu.cfs_quota_us"), "25000");
            assert_eq!(read("cpu.shares"), "102");
        }
        Version::V2 => {
            assert_eq!(read("memory.max"), "33554432");
            assert_eq!(read("cpu.max"), "25000 100000");
        }
    }

    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    for file in cgroup.procs_files() {
        std::fs::write(file, pid.to_string()).expect("join");
    }
    assert_eq!(cgroup.member_pids(), vec![pid]);
    assert_eq!(cgroup.oom_kills().expect("oom count"), 0);

    cgroups
        .remove_pod(&pod_uid, Duration::from_secs(10))
        .expect("remove");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "sleep was killed");
    assert!(dirs.iter().all(|dir| !dir.exists()), "directories removed");
    assert!(!cgroups.pods().contains(&pod_uid));
}
