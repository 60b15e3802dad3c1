//! From a container of a pod to the [`ContainerSpec`] the runtime starts: the image through the
//! catalog, the environment with the kubelet's rules, `command`/`args` over the image's
//! entrypoint, and the cgroup limits (pure: the caller fetched the ConfigMaps and Secrets).
//!
//! Beyond what the pod asks for, every container gets what a container image would give it:
//! `PATH` (Docker's default, unless the pod sets one), `HOSTNAME` (the pod's name), and
//! `POD_IP`, the pod's own loopback address, since processes share the host's network and each
//! pod must listen on its own address (the demo service binds it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::cgroups::ResourceLimits;
use crate::env::{self, EnvSources};
use crate::images::{Catalog, ImageError, Launch, Program};
use crate::runtime::{ContainerKey, ContainerSpec};

/// Docker's default `PATH` for Linux images.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a container cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError {
    /// The image is not in the catalog (`ErrImagePull`); otherwise a configuration problem
    /// (`CreateContainerConfigError`).
    pub image_unknown: bool,
    pub message: String,
}

/// What the node contributes to every launch.
#[derive(Debug, Clone)]
pub struct LaunchContext<'a> {
    pub catalog: &'a Catalog,
    /// The `bulwark` binary, for images that run one of its modes (`bulwark/demo`).
    pub bulwark_exe: &'a Path,
    /// Where container logs live ([`crate::logs::container_log_path`]).
    pub log_root: &'a Path,
    pub pod_ips: &'a [String],
    pub host_ips: &'a [String],
    pub config_maps: &'a BTreeMap<String, ConfigMap>,
    pub secrets: &'a BTreeMap<String, Secret>,
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
}

/// Builds the spec of one container instance.
pub fn container_spec(
    pod: &Pod,
    container: &Container,
    key: ContainerKey,
    context: &LaunchContext<'_>,
) -> Result<ContainerSpec, LaunchError> {
    let image = container.image.as_deref().unwrap_or_default();
    let resolved = context
        .catalog
        .resolve(image)
        .map_err(|error| image_error(&error))?;
    let no_services = BTreeMap::new();
    let sources = EnvSources {
        pod,
        pod_ips: context.pod_ips,
        host_ips: context.host_ips,
        config_maps: context.config_maps,
        secrets: context.secrets,
        node_allocatable: context.node_allocatable,
        service_env: &no_services,
    };
    let environment = env::resolve_env(container, &sources).map_err(|error| LaunchError {
        image_unknown: false,
        message: error.to_string(),
    })?;
    let (command, args) = env::expand_command_and_args(container, &environment);
    let launch =
        Launch::new(image, &resolved, &command, &args).map_err(|error| image_error(&error))?;
    let mut vars = environment.vars;
    add_default(&mut vars, "PATH", DEFAULT_PATH);
    add_default(
        &mut vars,
        "HOSTNAME",
        pod.metadata.name.as_deref().unwrap_or_default(),
    );
    if let Some(ip) = context.pod_ips.first() {
        add_default(&mut vars, "POD_IP", ip);
    }
    let log_path = crate::logs::container_log_path(
        context.log_root,
        &key.pod_uid,
        &key.container,
        key.attempt,
    );
    Ok(ContainerSpec {
        program: program_path(&launch, context.bulwark_exe),
        arg0: launch.arg0.clone(),
        args: launch.args.clone(),
        env: vars,
        working_dir: working_dir(container, launch.root.as_deref()),
        log_path,
        limits: ResourceLimits::of_container(container, None),
        key,
    })
}

fn image_error(error: &ImageError) -> LaunchError {
    LaunchError {
        image_unknown: error.reason() == "ErrImagePull",
        message: error.to_string(),
    }
}

fn add_default(vars: &mut Vec<(String, String)>, name: &str, value: &str) {
    if !vars.iter().any(|(existing, _)| existing == name) {
        vars.push((name.to_string(), value.to_string()));
    }
}

/// The executable: this binary for its own modes; absolute paths under the image's root.
fn program_path(launch: &Launch, bulwark_exe: &Path) -> PathBuf {
    match &launch.program {
        Program::Bulwark => bulwark_exe.to_path_buf(),
        Program::Path(path) => under_root(path, launch.root.as_deref()),
        Program::Search(name) => PathBuf::from(name),
    }
}

fn under_root(path: &Path, root: Option<&Path>) -> PathBuf {
    match root {
        Some(root) if path.is_absolute() => root.join(path.strip_prefix("/").unwrap_or(path)),
        _ => path.to_path_buf(),
    }
}

fn working_dir(container: &Container, root: Option<&Path>) -> Option<PathBuf> {
    let dir = container
        .working_dir
        .as_deref()
        .filter(|dir| !dir.is_empty())?;
    Some(under_root(Path::new(dir), root))
}

/// The ConfigMaps and Secrets a container's environment refers to, by name.
pub fn referenced_sources(container: &Container) -> (Vec<String>, Vec<String>) {
    let mut config_maps = Vec::new();
    let mut secrets = Vec::new();
    for source in container.env_from.iter().flatten() {
        if let Some(reference) = &source.config_map_ref {
            config_maps.push(reference.name.clone());
        }
        if let Some(reference) = &source.secret_ref {
            secrets.push(reference.name.clone());
        }
    }
    for var in container.env.iter().flatten() {
        let Some(from) = &var.value_from else {
            continue;
        };
        if let Some(reference) = &from.config_map_key_ref {
            config_maps.push(reference.name.clone());
        }
        if let Some(reference) = &from.secret_key_ref {
            secrets.push(reference.name.clone());
        }
    }
    config_maps.sort();
    config_maps.dedup();
    secrets.sort();
    secrets.dedup();
    (config_maps, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("pod yaml")
    }

    fn launch(pod: &Pod, catalog: &Catalog) -> Result<ContainerSpec, LaunchError> {
        let ips = ["127.128.0.7".to_string()];
        let empty_maps = BTreeMap::new();
        let empty_secrets = BTreeMap::new();
        let allocatable = BTreeMap::new();
        let context = LaunchContext {
            catalog,
            bulwark_exe: Path::new("/opt/bulwark"),
            log_root: Path::new("/var/logs"),
            pod_ips: &ips,
            host_ips: &ips,
            config_maps: &empty_maps,
            secrets: &empty_secrets,
            node_allocatable: &allocatable,
        };
        let container = &pod.spec.as_ref().expect("spec").containers[0];
        container_spec(
            pod,
            container,
            ContainerKey::new("u", &container.name, 2),
            &context,
        )
    }

    #[test]
    fn the_demo_image_runs_this_binary_with_the_pod_address() {
        let pod = pod(
            "metadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: bulwark/demo:v1}\n",
        );
        let spec = launch(&pod, &Catalog::builtin()).expect("launches");
        assert_eq!(spec.program, PathBuf::from("/opt/bulwark"));
        assert_eq!(spec.args, ["demo"]);
        let env: BTreeMap<_, _> = spec.env.iter().cloned().collect();
        assert_eq!(env["POD_IP"], "127.128.0.7");
        assert_eq!(env["HOSTNAME"], "web");
        assert_eq!(env["PATH"], DEFAULT_PATH);
        assert_eq!(spec.log_path, PathBuf::from("/var/logs/u/web/2.log"));
    }

    #[test]
    fn the_pods_own_variables_win_over_the_defaults() {
        let pod = pod(
            "metadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: bulwark/demo\n    env:\n    - {name: POD_IP, value: 127.0.0.9}\n    - {name: PATH, value: /bin}\n",
        );
        let spec = launch(&pod, &Catalog::builtin()).expect("launches");
        let env: BTreeMap<_, _> = spec.env.iter().cloned().collect();
        assert_eq!(env["POD_IP"], "127.0.0.9");
        assert_eq!(env["PATH"], "/bin");
    }

    #[test]
    fn an_unknown_image_says_how_to_add_it() {
        let pod =
            pod("metadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: nosuch:v9}\n");
        let error = launch(&pod, &Catalog::builtin()).expect_err("unknown image");
        assert!(error.image_unknown);
        assert!(
            error.message.contains("bulwark image add"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_missing_config_map_is_a_configuration_error() {
        let pod = pod(
            "metadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: bulwark/demo\n    env:\n    - name: A\n      valueFrom: {configMapKeyRef: {name: settings, key: a}}\n",
        );
        let error = launch(&pod, &Catalog::builtin()).expect_err("missing config map");
        assert!(!error.image_unknown);
        let container = &pod.spec.as_ref().expect("spec").containers[0];
        assert_eq!(referenced_sources(container).0, ["settings"]);
    }
}
