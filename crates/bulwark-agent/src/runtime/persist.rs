//! The process runtime's state file per pod, `<state dir>/pods/<pod-uid>.json`: what a
//! restarted agent needs to find (and trust) the processes it left running.

use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ContainerKey;

/// One live container instance as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContainerRecord {
    pub key: ContainerKey,
    pub pid: u32,
    /// `/proc/<pid>/stat` start time: a pid with another start time is someone else.
    pub start_ticks: u64,
    pub started_at: Timestamp,
    pub log_path: PathBuf,
    pub stdout_fifo: PathBuf,
    pub stderr_fifo: PathBuf,
    /// The cgroup's OOM kill count when the instance started.
    pub oom_kills_before: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PodRecord {
    containers: Vec<ContainerRecord>,
}

fn pods_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("pods")
}

/// Rewrites the pod's file with `records` (atomically: write then rename), or deletes it when
/// there are none.
pub(super) fn write_pod(
    state_dir: &Path,
    pod_uid: &str,
    records: &[ContainerRecord],
) -> io::Result<()> {
    let dir = pods_dir(state_dir);
    let path = dir.join(format!("{pod_uid}.json"));
    if records.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(&dir)?;
    let record = PodRecord {
        containers: records.to_vec(),
    };
    let text = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
    let temporary = dir.join(format!(".{pod_uid}.json.tmp"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)
}

/// Every persisted container of every pod. A file that cannot be read or parsed is skipped
/// (and named in the returned warnings): one torn file must not stop adoption of the rest.
pub(super) fn read_all(state_dir: &Path) -> (Vec<ContainerRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let Ok(entries) = std::fs::read_dir(pods_dir(state_dir)) else {
        return (records, warnings);
    };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let parsed = std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                serde_json::from_slice::<PodRecord>(&bytes).map_err(|error| error.to_string())
            });
        match parsed {
            Ok(pod) => records.extend(pod.containers),
            Err(error) => warnings.push(format!("{}: {error}", path.display())),
        }
    }
    records.sort_by(|a, b| a.key.cmp(&b.key));
    (records, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pod: &str, container: &str) -> ContainerRecord {
        ContainerRecord {
            key: ContainerKey::new(pod, container, 0),
            pid: 42,
            start_ticks: 7,
            started_at: Timestamp::UNIX_EPOCH,
            log_path: PathBuf::from("/logs/0.log"),
            stdout_fifo: PathBuf::from("/fifo/out"),
            stderr_fifo: PathBuf::from("/fifo/err"),
            oom_kills_before: 0,
        }
    }

    #[test]
    fn records_round_trip_and_empty_pods_leave_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_pod(dir.path(), "a", &[record("a", "web"), record("a", "db")]).expect("write");
        write_pod(dir.path(), "b", &[record("b", "web")]).expect("write");
        std::fs::write(dir.path().join("pods/torn.json"), b"{\"contain").expect("write");
        let (records, warnings) = read_all(dir.path());
        let names: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.key.pod_uid.as_str(), r.key.container.as_str()))
            .collect();
        assert_eq!(names, vec![("a", "db"), ("a", "web"), ("b", "web")]);
        assert_eq!(warnings.len(), 1);
        write_pod(dir.path(), "a", &[]).expect("remove");
        assert!(!dir.path().join("pods/a.json").exists());
    }
}
