//! Parsers for the kernel's cgroup text files (pure; every input is tolerated).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The v1 controllers Bulwark uses.
pub const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// Where each v1 controller's hierarchy is mounted, from `/proc/self/mounts`; a co-mounted
/// hierarchy (`cpu,cpuacct`) maps each of its controllers to the same directory.
pub fn v1_mounts(mounts: &str) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, mount_point, "cgroup", options, ..] = fields[..] else {
            continue;
        };
        for option in options.split(',') {
            if V1_CONTROLLERS.contains(&option) {
                found.insert(option.to_string(), PathBuf::from(unescape(mount_point)));
            }
        }
    }
    found
}

/// The process's own cgroup per v1 controller, from `/proc/self/cgroup`
/// (`4:memory:/a/b`, `3:cpu,cpuacct:/`). Paths are relative (no leading `/`).
pub fn own_v1_paths(proc_cgroup: &str) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        for controller in controllers.split(',') {
            if V1_CONTROLLERS.contains(&controller) {
                let relative = path.trim_start_matches('/');
                found.insert(controller.to_string(), PathBuf::from(relative));
            }
        }
    }
    found
}

/// The value of `key` in a flat keyed file (`memory.events`, `memory.oom_control`, `cpu.stat`).
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(char::is_whitespace)?;
        (name == key).then(|| value.trim().parse().ok())?
    })
}

/// A file holding one number (`cpuacct.usage`, `memory.failcnt`).
pub fn single_value(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The pids listed one per line in `cgroup.procs`.
pub fn pids(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// `/proc/mounts` escapes spaces and the like as `\040` octal sequences.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).and_then(|digits| {
            let text = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[index], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                index += 4;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v1_mounts_map_each_controller_including_comounts() {
        let mounts = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n\
            cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
            cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n\
            cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n\
            cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        let found = v1_mounts(mounts);
        assert_eq!(found["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(found["cpu"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            found["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(!found.contains_key("pids"));
    }

    #[test]
    fn own_paths_are_relative_per_controller() {
        let found = own_v1_paths("9:name=systemd:/\n4:memory:/api/abc\n2:cpu,cpuacct:/\n0::/\n");
        assert_eq!(found["memory"], PathBuf::from("api/abc"));
        assert_eq!(found["cpu"], PathBuf::from(""));
        assert_eq!(found["cpuacct"], PathBuf::from(""));
    }

    #[test]
    fn keyed_files_are_read_by_key() {
        let events = "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(1));
        assert_eq!(keyed_value(events, "oom"), Some(2));
        assert_eq!(keyed_value(events, "absent"), None);
        assert_eq!(
            keyed_value("usage_usec 123\nuser_usec 100", "usage_usec"),
            Some(123)
        );
        assert_eq!(single_value("98765\n"), Some(98_765));
        assert_eq!(pids("12\n13\n\nx\n"), vec![12, 13]);
    }

    #[test]
    fn escaped_mount_points_are_unescaped() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/trailing\04"), r"/trailing\04");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,300}") {
            let _ = v1_mounts(&text);
            let _ = own_v1_paths(&text);
            let _ = keyed_value(&text, "oom_kill");
            let _ = pids(&text);
        }
    }
}
