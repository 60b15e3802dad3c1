//! Putting a child into its cgroup between `fork` and `exec`, so that nothing it starts can
//! escape the limits (writing its pid after `spawn` would race with its first `fork`).
//!
//! The one place in the agent that needs `unsafe`: `CommandExt::pre_exec`.
#![allow(unsafe_code)]

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Arranges for the child of `command` to write itself (`0` means "the writer") into each of
/// `procs_files` before it executes its program. The files are opened now, in the parent.
pub(super) fn join_cgroup_before_exec(
    command: &mut Command,
    procs_files: &[PathBuf],
) -> std::io::Result<()> {
    let descriptors = procs_files
        .iter()
        .map(|file| OpenOptions::new().write(true).open(file).map(OwnedFd::from))
        .collect::<std::io::Result<Vec<OwnedFd>>>()?;
    // SAFETY: the closure runs in the forked child of a possibly multi-threaded parent, where
    // only async-signal-safe calls are allowed. It calls write(2) on descriptors opened before
    // the fork and allocates nothing (the error conversion of a failed write only wraps the
    // errno code, without allocating).
    unsafe {
        command.pre_exec(move || {
            for descriptor in &descriptors {
                rustix::io::write(descriptor, b"0")?;
            }
            Ok(())
        });
    }
    Ok(())
}
