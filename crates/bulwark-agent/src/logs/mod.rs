//! Container logs on disk, in the kubelet's CRI log format, and the reads `kubectl logs` needs.
//!
//! Each container instance (one `attempt`, counted from 0 per restart) writes one file,
//! `<root>/<pod-uid>/<container>/<attempt>.log`, rotated by size into `<attempt>.log.1` (newest)
//! … `<attempt>.log.<files - 1>` (oldest); see [`RotationPolicy`]. Every line carries the time it
//! was read and the stream it came from:
//!
//! ```text
//! 2026-01-01T00:00:00.000000000Z stdout F a whole line
//! 2026-01-01T00:00:00.000000000Z stderr P the first 16 KiB of a longer line…
//! ```
//!
//! `F` ends a line; `P` is a piece of a line longer than [`MAX_LINE_BYTES`] (or not yet ended),
//! continued by the next record of the same stream.
//!
//! - [`format`]: one record, written and parsed (pure).
//! - [`writer`]: [`ContainerLog`] frames a stream of bytes into records and rotates the file.
//! - [`reader`]: [`read_log`] serves `tailLines`, `sinceTime`, `limitBytes` and `timestamps`;
//!   [`LogFollower`] continues from where it stopped (`follow`), across rotations. The previous
//!   instance (`previous`) is the file of an earlier attempt ([`attempts`]).

pub mod format;
pub mod reader;
pub mod writer;

use std::path::{Path, PathBuf};

pub use format::{LogRecord, MAX_LINE_BYTES, Stream};
pub use reader::{LogCursor, LogFollower, LogQuery, attempts, read_log};
pub use writer::{ContainerLog, RotationPolicy};

/// The live log file of one container instance.
pub fn container_log_path(root: &Path, pod_uid: &str, container: &str, attempt: u32) -> PathBuf {
    instance_log_path(&container_log_dir(root, pod_uid, container), attempt)
}

/// The live log file of instance `attempt` in a container's log directory.
pub fn instance_log_path(container_log_dir: &Path, attempt: u32) -> PathBuf {
    container_log_dir.join(format!("{attempt}.log"))
}

/// The directory holding every instance's log of one container.
pub fn container_log_dir(root: &Path, pod_uid: &str, container: &str) -> PathBuf {
    root.join(pod_uid).join(container)
}

/// Rotated file `index` (1 = newest) of the live file at `path`.
pub(crate) fn rotated_path(path: &Path, index: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_documented_layout() {
        let root = Path::new("/data/logs");
        assert_eq!(
            container_log_path(root, "uid-1", "web", 3),
            Path::new("/data/logs/uid-1/web/3.log")
        );
        assert_eq!(
            rotated_path(Path::new("/x/0.log"), 2),
            Path::new("/x/0.log.2")
        );
    }
}
