//! Writes a pod's planned volumes ([`crate::volumes`]) under its directory, checks host paths
//! against their `type`, and removes it all with the pod (`emptyDir` data dies with the pod, as
//! upstream). ConfigMap and Secret files are rewritten at every container start, each through
//! a rename, so a running container never reads half a file.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use crate::volumes::{Content, HostPathKind, PlannedVolume, ProjectedFile};

/// Materialises `volumes` in `pod_volumes`; the error reads like the kubelet's set-up failure.
pub fn materialise(pod_volumes: &Path, volumes: &[PlannedVolume]) -> Result<(), String> {
    for volume in volumes {
        let set_up = |reason: String| {
            format!(
                "MountVolume.SetUp failed for volume {:?} : {reason}",
                volume.name
            )
        };
        let dir = pod_volumes.join(&volume.name);
        match &volume.content {
            Content::EmptyDir => create_dir(&dir).map_err(set_up)?,
            Content::Files(files) => {
                create_dir(&dir).map_err(set_up)?;
                for file in files {
                    write_projected(&dir, file).map_err(set_up)?;
                }
            }
            Content::HostPath { path, kind } => check_host_path(path, *kind).map_err(set_up)?,
        }
    }
    Ok(())
}

/// Removes everything the pod's volumes hold on the node (host paths are not under it).
pub fn remove(pod_volumes: &Path) {
    if let Err(error) = std::fs::remove_dir_all(pod_volumes)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, dir = %pod_volumes.display(), "cannot remove a pod's volumes");
    }
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

fn write_projected(dir: &Path, file: &ProjectedFile) -> Result<(), String> {
    let path = dir.join(&file.path);
    let failed = |error: std::io::Error| format!("cannot write {}: {error}", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let staging = path.with_extension("bulwark-tmp");
    let mut out = std::fs::File::create(&staging).map_err(failed)?;
    out.write_all(&file.bytes).map_err(failed)?;
    out.set_permissions(std::fs::Permissions::from_mode(file.mode))
        .map_err(failed)?;
    std::fs::rename(&staging, &path).map_err(failed)
}

fn check_host_path(path: &Path, kind: HostPathKind) -> Result<(), String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path);
    let fails = |what: &str| Err(format!("hostPath type check failed: {shown} is not {what}"));
    match kind {
        HostPathKind::Unchecked => Ok(()),
        HostPathKind::DirectoryOrCreate => {
            std::fs::create_dir_all(path).map_err(|error| format!("cannot create {shown}: {error}"))
        }
        HostPathKind::FileOrCreate => {
            if metadata.is_ok() {
                return Ok(());
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
            }
            std::fs::File::create(path)
                .map(drop)
                .map_err(|error| format!("cannot create {shown}: {error}"))
        }
        HostPathKind::Directory => match metadata {
            Ok(m) if m.is_dir() => Ok(()),
            _ => fails("a directory"),
        },
        HostPathKind::File => match metadata {
            Ok(m) if m.is_file() => Ok(()),
            _ => fails("a file"),
        },
        HostPathKind::Socket => match metadata {
            Ok(m) if m.file_type().is_socket() => Ok(()),
            _ => fails("a socket file"),
        },
        HostPathKind::CharDevice => match metadata {
            Ok(m) if m.file_type().is_char_device() => Ok(()),
            _ => fails("a character device"),
        },
        HostPathKind::BlockDevice => match metadata {
            Ok(m) if m.file_type().is_block_device() => Ok(()),
            _ => fails("a block device"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn files_are_written_with_their_modes_and_host_paths_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let volumes = [
            PlannedVolume {
                name: "scratch".into(),
                content: Content::EmptyDir,
            },
            PlannedVolume {
                name: "config".into(),
                content: Content::Files(vec![ProjectedFile {
                    path: PathBuf::from("nested/app.conf"),
                    bytes: b"mode=fast\n".to_vec(),
                    mode: 0o400,
                }]),
            },
        ];
        materialise(dir.path(), &volumes).expect("materialise");
        assert!(dir.path().join("scratch").is_dir());
        let file = dir.path().join("config/nested/app.conf");
        assert_eq!(std::fs::read(&file).expect("file"), b"mode=fast\n");
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        let missing = [PlannedVolume {
            name: "host".into(),
            content: Content::HostPath {
                path: dir.path().join("absent"),
                kind: HostPathKind::Directory,
            },
        }];
        let error = materialise(dir.path(), &missing).expect_err("type check");
        assert!(error.contains("is not a directory"), "{error}");
        remove(dir.path());
        assert!(!dir.path().exists());
    }
}
