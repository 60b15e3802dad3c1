//! Pod volumes, decided purely: what each of a pod's volumes holds (an empty directory, files
//! projected from a ConfigMap or Secret, or a host path) and where each container mounts what.
//!
//! The shell ([`crate::agent::volumes`]) writes the plan under the pod's directory; the process
//! runtime bind-mounts it at each `mountPath` in the container's own mount namespace. Messages
//! follow the kubelet's (`MountVolume.SetUp failed for volume "config" : configmap "settings"
//! not found`), so `kubectl describe pod` reads as it would upstream.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret, Volume};

use crate::runtime::Mount;

/// ConfigMap and Secret volumes' default file mode, as upstream.
pub const DEFAULT_MODE: u32 = 0o644;

/// What one volume holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An empty directory, kept for the pod's lifetime (`emptyDir`).
    EmptyDir,
    /// Files projected from a ConfigMap or Secret, relative to the volume's directory.
    Files(Vec<ProjectedFile>),
    /// A path of the host, mounted as it is, after the `type` check.
    HostPath { path: PathBuf, kind: HostPathKind },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// `hostPath.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathKind {
    /// No check (the empty string).
    Unchecked,
    DirectoryOrCreate,
    Directory,
    FileOrCreate,
    File,
    Socket,
    CharDevice,
    BlockDevice,
}

/// A volume of the pod and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    pub name: String,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("MountVolume.SetUp failed for volume {volume:?} : {reason}")]
    SetUp { volume: String, reason: String },
    #[error("volume {volume:?}: {kind} volumes are not supported by Bulwark's node agent")]
    Unsupported { volume: String, kind: &'static str },
    #[error("container {container:?} mounts {volume:?}, which is not a volume of the pod")]
    UnknownVolume { container: String, volume: String },
    #[error("container {container:?}: volume mount {volume:?}: {reason}")]
    BadMount {
        container: String,
        volume: String,
        reason: String,
    },
}

/// Plans every volume of `pod`; `config_maps` and `secrets` hold what the pod references
/// (by name, in its namespace) that exists.
pub fn plan_volumes(
    pod: &Pod,
    config_maps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Vec<PlannedVolume>, VolumeError> {
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref());
    volumes
        .into_iter()
        .flatten()
        .map(|volume| {
            Ok(PlannedVolume {
                name: volume.name.clone(),
                content: content_of(volume, config_maps, secrets)?,
            })
        })
        .collect()
}

/// The ConfigMaps and Secrets the pod's volumes project.
pub fn volume_sources(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let mut config_maps = Vec::new();
    let mut secrets = Vec::new();
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref());
    for volume in volumes.into_iter().flatten() {
        if let Some(source) = &volume.config_map {
            config_maps.push(source.name.clone());
        }
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.push(name);
        }
    }
    (config_maps, secrets)
}

fn content_of(
    volume: &Volume,
    config_maps: &BTreeMap<String, ConfigMap>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Content, VolumeError> {
    let set_up = |reason: String| VolumeError::SetUp {
        volume: volume.name.clone(),
        reason,
    };
    if volume.empty_dir.is_some() {
        return Ok(Content::EmptyDir);
    }
    if let Some(source) = &volume.config_map {
        let optional = source.optional.unwrap_or(false);
        let Some(config_map) = config_maps.get(&source.name) else {
            return missing(optional, format!("configmap {:?} not found", source.name))
                .map_err(set_up);
        };
        let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (key, value) in config_map.data.iter().flatten() {
            data.insert(key.clone(), value.clone().into_bytes());
        }
        for (key, value) in config_map.binary_data.iter().flatten() {
            data.insert(key.clone(), value.0.clone());
        }
        let mode = mode_of(source.default_mode);
        return project(
            &data,
            source.items.as_deref(),
            mode,
            optional,
            "configmap",
            &source.name,
        )
        .map(Content::Files)
        .map_err(set_up);
    }
    if let Some(source) = &volume.secret {
        let optional = source.optional.unwrap_or(false);
        let name = source.secret_name.clone().unwrap_or_default();
        let Some(secret) = secrets.get(&name) else {
            return missing(optional, format!("secret {name:?} not found")).map_err(set_up);
        };
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        let mode = mode_of(source.default_mode);
        return project(
            &data,
            source.items.as_deref(),
            mode,
            optional,
            "secret",
            &name,
        )
        .map(Content::Files)
        .map_err(set_up);
    }
    if let Some(source) = &volume.host_path {
        let kind = host_path_kind(source.type_.as_deref().unwrap_or_default())
            .ok_or_else(|| set_up(format!("unknown hostPath type {:?}", source.type_)))?;
        return Ok(Content::HostPath {
            path: PathBuf::from(&source.path),
            kind,
        });
    }
    Err(VolumeError::Unsupported {
        volume: volume.name.clone(),
        kind: unsupported_kind(volume),
    })
}

/// A missing optional source is an empty volume; a required one stops the pod from starting.
fn missing(optional: bool, reason: String) -> Result<Content, String> {
    if optional {
        Ok(Content::Files(Vec::new()))
    } else {
        Err(reason)
    }
}

/// The files of a ConfigMap or Secret volume: every key, or just `items`, each at its path.
fn project(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: u32,
    optional: bool,
    kind: &str,
    name: &str,
) -> Result<Vec<ProjectedFile>, String> {
    let Some(items) = items else {
        return Ok(data
            .iter()
            .map(|(key, bytes)| ProjectedFile {
                path: PathBuf::from(key),
                bytes: bytes.clone(),
                mode: default_mode,
            })
            .collect());
    };
    let mut files = Vec::new();
    for item in items {
        let Some(bytes) = data.get(&item.key) else {
            if optional {
                continue;
            }
            return Err(format!(
                "configuration of {kind} {name:?}: key {:?} does not exist",
                item.key
            ));
        };
        let path =
            relative_path(&item.path).map_err(|reason| format!("item {:?}: {reason}", item.key))?;
        files.push(ProjectedFile {
            path,
            bytes: bytes.clone(),
            mode: item.mode.map_or(default_mode, |mode| mode_of(Some(mode))),
        });
    }
    Ok(files)
}

fn mode_of(mode: Option<i32>) -> u32 {
    mode.and_then(|mode| u32::try_from(mode).ok())
        .map_or(DEFAULT_MODE, |mode| mode & 0o777)
}

fn host_path_kind(text: &str) -> Option<HostPathKind> {
    Some(match text {
        "" => HostPathKind::Unchecked,
        "DirectoryOrCreate" => HostPathKind::DirectoryOrCreate,
        "Directory" => HostPathKind::Directory,
        "FileOrCreate" => HostPathKind::FileOrCreate,
        "File" => HostPathKind::File,
        "Socket" => HostPathKind::Socket,
        "CharDevice" => HostPathKind::CharDevice,
        "BlockDevice" => HostPathKind::BlockDevice,
        _ => return None,
    })
}

fn unsupported_kind(volume: &Volume) -> &'static str {
    if volume.projected.is_some() {
        "projected"
    } else if volume.downward_api.is_some() {
        "downwardAPI"
    } else if volume.persistent_volume_claim.is_some() {
        "persistentVolumeClaim"
    } else if volume.ephemeral.is_some() {
        "ephemeral"
    } else {
        "this kind of"
    }
}

/// A path inside a volume: relative, without `..` (upstream rejects both at validation too).
fn relative_path(text: &str) -> Result<PathBuf, String> {
    let path = Path::new(text);
    let clean = !text.is_empty()
        && path
            .components()
            .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    if clean {
        Ok(path.to_path_buf())
    } else {
        Err(format!("{text:?} must be a relative path without '..'"))
    }
}

/// Where a volume's content lives on the node: its directory under `pod_volumes`, or the host
/// path itself.
pub fn volume_source(pod_volumes: &Path, volume: &PlannedVolume) -> PathBuf {
    match &volume.content {
        Content::HostPath { path, .. } => path.clone(),
        Content::EmptyDir | Content::Files(_) => pod_volumes.join(&volume.name),
    }
}

/// The bind mounts of one container, in the order of its `volumeMounts`.
pub fn container_mounts(
    container: &Container,
    pod_volumes: &Path,
    volumes: &[PlannedVolume],
) -> Result<Vec<Mount>, VolumeError> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let bad = |reason: String| VolumeError::BadMount {
            container: container.name.clone(),
            volume: mount.name.clone(),
            reason,
        };
        let volume = volumes
            .iter()
            .find(|volume| volume.name == mount.name)
            .ok_or_else(|| VolumeError::UnknownVolume {
                container: container.name.clone(),
                volume: mount.name.clone(),
            })?;
        if mount
            .sub_path_expr
            .as_deref()
            .is_some_and(|expr| !expr.is_empty())
        {
            return Err(bad("subPathExpr is not supported".to_string()));
        }
        let mut source = volume_source(pod_volumes, volume);
        if let Some(sub_path) = mount.sub_path.as_deref().filter(|path| !path.is_empty()) {
            source = source.join(relative_path(sub_path).map_err(bad)?);
        }
        let target = PathBuf::from(&mount.mount_path);
        if !target.is_absolute() {
            return Err(bad(format!(
                "mountPath {:?} must be absolute",
                mount.mount_path
            )));
        }
        mounts.push(Mount {
            source,
            target,
            read_only: mount.read_only.unwrap_or(false) || projects_files(volume),
        });
    }
    Ok(mounts)
}

/// ConfigMap and Secret volumes are read-only in every container, as upstream.
fn projects_files(volume: &PlannedVolume) -> bool {
    matches!(volume.content, Content::Files(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("pod yaml")
    }

    fn config_map(name: &str, data: &[(&str, &str)]) -> BTreeMap<String, ConfigMap> {
        let mut map = ConfigMap::default();
        map.metadata.name = Some(name.to_string());
        map.data = Some(
            data.iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        );
        BTreeMap::from([(name.to_string(), map)])
    }

    const POD: &str = "metadata: {name: web}\nspec:\n  volumes:\n  - {name: scratch, emptyDir: {}}\n  - name: config\n    configMap: {name: settings}\n  - name: picked\n    configMap:\n      name: settings\n      items: [{key: a, path: conf/a.txt, mode: 256}]\n  - name: host\n    hostPath: {path: /var/tmp, type: Directory}\n  containers:\n  - name: web\n    image: busybox\n    volumeMounts:\n    - {name: scratch, mountPath: /scratch}\n    - {name: config, mountPath: /etc/config, readOnly: false}\n    - {name: host, mountPath: /host, subPath: sub}\n";

    #[test]
    fn every_kind_is_planned_and_mounted_where_the_container_asks() {
        let pod = pod(POD);
        let maps = config_map("settings", &[("a", "1"), ("b", "2")]);
        let volumes = plan_volumes(&pod, &maps, &BTreeMap::new()).expect("plan");
        assert_eq!(volumes[0].content, Content::EmptyDir);
        let Content::Files(files) = &volumes[1].content else {
            panic!("config map files");
        };
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].mode, DEFAULT_MODE);
        assert_eq!(
            volumes[2].content,
            Content::Files(vec![ProjectedFile {
                path: PathBuf::from("conf/a.txt"),
                bytes: b"1".to_vec(),
                mode: 0o400,
            }])
        );
        let container = &pod.spec.as_ref().expect("spec").containers[0];
        let mounts = container_mounts(container, Path::new("/pods/uid"), &volumes).expect("mounts");
        assert_eq!(mounts[0].source, PathBuf::from("/pods/uid/scratch"));
        assert!(!mounts[0].read_only);
        assert!(mounts[1].read_only, "config map volumes are read-only");
        assert_eq!(mounts[2].source, PathBuf::from("/var/tmp/sub"));
        assert_eq!(mounts[2].target, PathBuf::from("/host"));
    }

    #[test]
    fn a_missing_config_map_fails_set_up_unless_optional() {
        let required = pod(POD);
        let error =
            plan_volumes(&required, &BTreeMap::new(), &BTreeMap::new()).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "MountVolume.SetUp failed for volume \"config\" : configmap \"settings\" not found"
        );
        let optional = pod(&POD
            .replace(
                "configMap: {name: settings}",
                "configMap: {name: settings, optional: true}",
            )
            .replace(
                "items: [{key: a, path: conf/a.txt, mode: 256}]",
                "optional: true",
            ));
        let volumes =
            plan_volumes(&optional, &BTreeMap::new(), &BTreeMap::new()).expect("optional");
        assert_eq!(volumes[1].content, Content::Files(Vec::new()));
    }

    #[test]
    fn paths_escaping_the_volume_are_refused() {
        let escaping = POD.replace("path: conf/a.txt", "path: ../../etc/passwd");
        let maps = config_map("settings", &[("a", "1")]);
        let error = plan_volumes(&pod(&escaping), &maps, &BTreeMap::new()).expect_err("escape");
        assert!(error.to_string().contains("without '..'"), "{error}");
        let sub = pod(&POD.replace("subPath: sub", "subPath: ../x"));
        let volumes = plan_volumes(&sub, &maps, &BTreeMap::new()).expect("plan");
        let container = &sub.spec.as_ref().expect("spec").containers[0];
        assert!(container_mounts(container, Path::new("/p"), &volumes).is_err());
    }

    #[test]
    fn unsupported_kinds_and_unknown_mounts_are_named() {
        let projected = pod(
            "metadata: {name: web}\nspec:\n  volumes:\n  - name: token\n    projected: {sources: []}\n  containers:\n  - {name: web, image: busybox}\n",
        );
        let error = plan_volumes(&projected, &BTreeMap::new(), &BTreeMap::new()).expect_err("kind");
        assert!(error.to_string().contains("projected"), "{error}");
        let stray = pod(
            "metadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: busybox\n    volumeMounts: [{name: nope, mountPath: /x}]\n",
        );
        let container = &stray.spec.as_ref().expect("spec").containers[0];
        let error = container_mounts(container, Path::new("/p"), &[]).expect_err("unknown");
        assert!(matches!(error, VolumeError::UnknownVolume { .. }));
    }
}
