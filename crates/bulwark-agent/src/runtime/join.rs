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

/// Arranges for the child of `command` to get a mount namespace of its own, with each of
/// `mounts` bind-mounted there, before it executes its program: the host's mounts stay as they
/// are, and the mounts vanish with the container's last process. Mount points that do not
/// exist are created first (an empty directory, or an empty file for a file source), in the
/// parent, since the child shares the host's file systems. Needs `CAP_SYS_ADMIN` (root).
pub(super) fn mount_volumes_before_exec(
    command: &mut Command,
    mounts: &[super::Mount],
) -> std::io::Result<()> {
    let mut prepared = Vec::with_capacity(mounts.len());
    for mount in mounts {
        create_mount_point(mount)?;
        prepared.push((
            c_path(&mount.source)?,
            c_path(&mount.target)?,
            mount.read_only,
        ));
    }
    // SAFETY: as above, only system calls on data prepared before the fork: unshare(2) of the
    // mount namespace (nothing else is unshared, so no thread or descriptor table is split)
    // and mount(2) with C strings built in the parent.
    unsafe {
        command.pre_exec(move || {
            use rustix::mount::{MountFlags, MountPropagationFlags};
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)?;
            // Private, so that nothing mounted here propagates back to the host.
            rustix::mount::mount_change(
                c"/",
                MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
            )?;
            for (source, target, read_only) in &prepared {
                rustix::mount::mount_bind(source.as_c_str(), target.as_c_str())?;
                if *read_only {
                    rustix::mount::mount_remount(
                        target.as_c_str(),
                        MountFlags::BIND | MountFlags::RDONLY,
                        c"",
                    )?;
                }
            }
            Ok(())
        });
    }
    Ok(())
}

fn create_mount_point(mount: &super::Mount) -> std::io::Result<()> {
    if mount.target.exists() {
        return Ok(());
    }
    if mount.source.is_dir() {
        std::fs::create_dir_all(&mount.target)
    } else {
        if let Some(parent) = mount.target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&mount.target)
            .map(drop)
    }
}

fn c_path(path: &std::path::Path) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other(format!("{} contains a NUL byte", path.display())))
}
