//! One pod's worker task: feeds the pure [`PodRun`] with the pod, the runtime's view and the
//! time, carries out its actions, and writes the status it computes.
//!
//! It wakes when the pod changes, when the runtime reports a change, when a probe attempt
//! comes back, or when the core's next timer is due; the state it reads is always the current
//! one, so a missed wake-up costs latency, never correctness.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodStatus, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::{mpsc, watch};

use super::NodeContext;
use crate::launch::{self, LaunchContext};
use crate::pod_worker::{Action, PodRun, SyncContext};
use crate::probe::{ProbeKind, ProbeResult};
use crate::restart::ContainerSlot;
use crate::runtime::{ContainerKey, ContainerSpec};

/// What the pod manager tells a worker.
#[derive(Debug, Clone)]
pub enum PodUpdate {
    /// The pod as stored now.
    Stored(Box<Pod>),
    /// The pod object is gone from the API (force-deleted): stop everything at once.
    Gone,
}

/// A probe attempt's outcome on its way back to the worker.
struct ProbeOutcome {
    key: ContainerKey,
    kind: ProbeKind,
    result: ProbeResult,
}

/// One attempt for the node's prober to run.
#[derive(Debug, Clone)]
pub struct ProbeJob {
    pub probe: k8s_openapi::api::core::v1::Probe,
    pub container: Container,
    pub pod_ip: String,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<std::path::PathBuf>,
    pub timeout: Duration,
}

/// Runs one pod until it is finished or gone.
pub async fn run(context: Arc<NodeContext>, uid: String, mut updates: watch::Receiver<PodUpdate>) {
    let mut worker = Worker {
        context: Arc::clone(&context),
        uid,
        run: PodRun::default(),
        launched: BTreeMap::new(),
        written: None,
    };
    let mut changes = context.runtime.changes();
    let (probe_sender, mut probe_results) = mpsc::channel::<ProbeOutcome>(64);
    loop {
        let update = updates.borrow_and_update().clone();
        let pod = match update {
            PodUpdate::Gone => {
                worker.gone();
                return;
            }
            PodUpdate::Stored(pod) => *pod,
        };
        let (wake_at, finished) = worker.sync(&pod, &probe_sender).await;
        if finished {
            return;
        }
        let sleep = wake_at.map_or(Duration::from_secs(3600), |at| {
            crate::timing::elapsed(context.clock.now(), at)
        });
        tokio::select! {
            changed = updates.changed() => if changed.is_err() { return },
            _ = changes.changed() => {}
            Some(outcome) = probe_results.recv() => {
                let now = context.clock.now();
                let actions = worker.run.probe_result(&pod, &outcome.key, outcome.kind, &outcome.result, now);
                worker.execute(&pod, actions, &probe_sender).await;
            }
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

struct Worker {
    context: Arc<NodeContext>,
    uid: String,
    run: PodRun,
    /// The spec each container's current instance started with (exec probes use its env).
    launched: BTreeMap<String, ContainerSpec>,
    /// The status last written, the base for the next one until the watch brings it back.
    written: Option<PodStatus>,
}

impl Worker {
    /// One pass; returns when to wake and whether the pod is finished.
    async fn sync(
        &mut self,
        pod: &Pod,
        probes: &mpsc::Sender<ProbeOutcome>,
    ) -> (Option<jiff::Timestamp>, bool) {
        let pod_ips = self
            .context
            .pod_address(pod)
            .into_iter()
            .collect::<Vec<_>>();
        let host_ips = [self.context.host_ip.clone()];
        let instances = self.context.runtime.pod_containers(&self.uid);
        let sync_context = SyncContext {
            backoff: &self.context.backoff,
            pod_ips: &pod_ips,
            host_ips: &host_ips,
            now: self.context.clock.now(),
        };
        let outcome = self.run.sync(pod, &instances, &sync_context);
        let finished = outcome.actions.contains(&Action::Finish);
        self.execute(pod, outcome.actions, probes).await;
        if finished {
            return (None, true);
        }
        self.write_status(pod, &outcome.observation).await;
        (outcome.wake_at, false)
    }

    async fn execute(
        &mut self,
        pod: &Pod,
        actions: Vec<Action>,
        probes: &mpsc::Sender<ProbeOutcome>,
    ) {
        for action in actions {
            match action {
                Action::Start { slot, key } => self.start(pod, slot, key).await,
                Action::Stop {
                    key,
                    grace,
                    pre_stop,
                } => self.stop(pod, key, grace, pre_stop),
                Action::Probe { key, kind } => self.probe(pod, key, kind, probes),
                Action::Event(event) => self.context.events.record(pod, event),
                Action::Finish => self.finish(pod).await,
            }
        }
    }

    /// Stops an instance; with a `preStop` hook (and a grace period to run it in) the hook
    /// runs first, in its own task so that the worker keeps serving the pod meanwhile.
    fn stop(&self, pod: &Pod, key: ContainerKey, grace: Duration, pre_stop: bool) {
        let hook = pre_stop
            .then(|| self.pre_stop_hook(pod, &key, grace))
            .flatten()
            .filter(|_| !grace.is_zero());
        let Some(hook) = hook else {
            stop_now(self.context.runtime.as_ref(), &key, grace);
            return;
        };
        let context = Arc::clone(&self.context);
        let pod = pod.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            if let Some(failure) = run_hook(&context, hook, grace).await {
                let field_path = crate::pod_worker::field_path(&key.container, false);
                context.events.record(
                    &pod,
                    crate::pod_worker::PodEvent {
                        warning: true,
                        reason: "FailedPreStopHook",
                        message: format!(
                            "PreStopHook failed for container {}: {failure}",
                            key.container
                        ),
                        field_path: Some(field_path),
                    },
                );
            }
            let remaining = grace
                .saturating_sub(started.elapsed())
                .max(MIN_GRACE_AFTER_HOOK);
            stop_now(context.runtime.as_ref(), &key, remaining);
        });
    }

    /// The container's `preStop` handler as a job for the node's prober (an exec, HTTP or TCP
    /// handler is run exactly as a probe of the same kind would be), or a sleep.
    fn pre_stop_hook(&self, pod: &Pod, key: &ContainerKey, grace: Duration) -> Option<Hook> {
        let container = find_container(pod, &key.container)?;
        let handler = container.lifecycle.as_ref()?.pre_stop.as_ref()?;
        if let Some(sleep) = &handler.sleep {
            return Some(Hook::Sleep(Duration::from_secs(
                u64::try_from(sleep.seconds).unwrap_or(0),
            )));
        }
        let probe = k8s_openapi::api::core::v1::Probe {
            exec: handler.exec.clone(),
            http_get: handler.http_get.clone(),
            tcp_socket: handler.tcp_socket.clone(),
            ..Default::default()
        };
        Some(Hook::Handler(Box::new(
            self.probe_job(pod, container, probe, grace),
        )))
    }

    /// A probe (or a hook run as one) against the container's current instance: its address,
    /// and the environment and working directory it started with, for exec handlers.
    fn probe_job(
        &self,
        pod: &Pod,
        container: &Container,
        probe: k8s_openapi::api::core::v1::Probe,
        timeout: Duration,
    ) -> ProbeJob {
        let launched = self.launched.get(&container.name);
        ProbeJob {
            probe,
            container: container.clone(),
            pod_ip: self.context.pod_address(pod).unwrap_or_default(),
            env: launched.map(|spec| spec.env.clone()).unwrap_or_default(),
            working_dir: launched.and_then(|spec| spec.working_dir.clone()),
            timeout,
        }
    }

    async fn start(&mut self, pod: &Pod, slot: ContainerSlot, key: ContainerKey) {
        let Some(container) = container_at(pod, slot) else {
            return;
        };
        let spec = match self.container_spec(pod, container, key.clone()).await {
            Ok(spec) => spec,
            Err(error) => {
                let now = self.context.clock.now();
                let events = self.run.start_failed(
                    &key,
                    error.image_unknown,
                    error.message,
                    now,
                    &self.context.backoff,
                );
                for action in events {
                    if let Action::Event(event) = action {
                        self.context.events.record(pod, event);
                    }
                }
                return;
            }
        };
        let field_path =
            crate::pod_worker::field_path(&key.container, matches!(slot, ContainerSlot::Init(_)));
        if key.attempt == 0 {
            self.context.events.record(
                pod,
                normal(
                    "Pulled",
                    format!(
                        "Container image {:?} already present on machine",
                        container.image.as_deref().unwrap_or_default()
                    ),
                    &field_path,
                ),
            );
        }
        match self.context.runtime.start(spec.clone()) {
            Ok(_) => {
                self.launched.insert(key.container.clone(), spec);
                self.context.events.record(
                    pod,
                    normal(
                        "Created",
                        format!("Created container {}", key.container),
                        &field_path,
                    ),
                );
                self.context.events.record(
                    pod,
                    normal(
                        "Started",
                        format!("Started container {}", key.container),
                        &field_path,
                    ),
                );
            }
            Err(error) => {
                let now = self.context.clock.now();
                for action in self.run.start_failed(
                    &key,
                    false,
                    error.to_string(),
                    now,
                    &self.context.backoff,
                ) {
                    if let Action::Event(event) = action {
                        self.context.events.record(pod, event);
                    }
                }
            }
        }
    }

    async fn container_spec(
        &self,
        pod: &Pod,
        container: &Container,
        key: ContainerKey,
    ) -> Result<ContainerSpec, launch::LaunchError> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let (mut config_map_names, mut secret_names) = launch::referenced_sources(container);
        let (volume_config_maps, volume_secrets) = crate::volumes::volume_sources(pod);
        config_map_names.extend(volume_config_maps);
        secret_names.extend(volume_secrets);
        let config_maps: BTreeMap<String, ConfigMap> =
            fetch_all(&self.context.client, namespace, &config_map_names).await;
        let secrets: BTreeMap<String, Secret> =
            fetch_all(&self.context.client, namespace, &secret_names).await;
        let config_error = |message: String| launch::LaunchError {
            image_unknown: false,
            message,
        };
        let volumes = crate::volumes::plan_volumes(pod, &config_maps, &secrets)
            .map_err(|error| config_error(error.to_string()))?;
        let pod_volumes = match (self.pod_volumes(), self.context.volume_root.is_some()) {
            (Some(dir), true) => {
                super::volumes::materialise(&dir, &volumes).map_err(config_error)?;
                dir
            }
            (None, true) => return Err(config_error(format!("unusable pod uid {:?}", self.uid))),
            (_, false) => std::path::PathBuf::new(),
        };
        let pod_ips: Vec<String> = self.context.pod_address(pod).into_iter().collect();
        let host_ips = [self.context.host_ip.clone()];
        let catalog = self.context.catalog.load();
        let launch_context = LaunchContext {
            catalog: &catalog,
            bulwark_exe: &self.context.bulwark_exe,
            log_root: &self.context.log_root,
            pod_ips: &pod_ips,
            host_ips: &host_ips,
            config_maps: &config_maps,
            secrets: &secrets,
            node_allocatable: &self.context.allocatable,
            volumes: &volumes,
            pod_volumes: &pod_volumes,
        };
        launch::container_spec(pod, container, key, &launch_context)
    }

    fn probe(
        &self,
        pod: &Pod,
        key: ContainerKey,
        kind: ProbeKind,
        results: &mpsc::Sender<ProbeOutcome>,
    ) {
        let Some(container) = find_container(pod, &key.container) else {
            return;
        };
        let probe = match kind {
            ProbeKind::Startup => container.startup_probe.clone(),
            ProbeKind::Readiness => container.readiness_probe.clone(),
            ProbeKind::Liveness => container.liveness_probe.clone(),
        };
        let Some(probe) = probe else {
            return;
        };
        let timeout = crate::probe::ProbeSettings::of(kind, &probe).timeout;
        let job = self.probe_job(pod, container, probe, timeout);
        let prober = Arc::clone(&self.context.prober);
        let results = results.clone();
        tokio::spawn(async move {
            let result = prober(job).await;
            let _ = results.send(ProbeOutcome { key, kind, result }).await;
        });
    }

    /// Everything has stopped: forget the pod locally, then remove its object for good.
    async fn finish(&mut self, pod: &Pod) {
        self.forget();
        let api: Api<Pod> = Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        if let Err(error) = api
            .delete(pod.metadata.name.as_deref().unwrap_or_default(), &params)
            .await
            && !is_not_found(&error)
        {
            tracing::warn!(%error, pod = ?pod.metadata.name, "cannot remove the finished pod");
        }
    }

    /// The pod object vanished: kill at once and forget.
    fn gone(&mut self) {
        if let Err(error) = self.context.runtime.kill_pod(&self.uid, Duration::ZERO) {
            tracing::warn!(%error, "cannot kill a removed pod");
        }
        self.forget();
    }

    fn forget(&mut self) {
        if let Err(error) = self.context.runtime.remove_pod(&self.uid) {
            tracing::warn!(%error, "cannot remove pod from the runtime");
        }
        if let Some(dir) = self.pod_volumes() {
            super::volumes::remove(&dir);
        }
        self.context.release_address(&self.uid);
        self.context.forget_pod(&self.uid);
    }

    /// This pod's volume directory, on nodes that keep volumes.
    fn pod_volumes(&self) -> Option<std::path::PathBuf> {
        let root = self.context.volume_root.as_ref()?;
        // A uid is the API server's (a UUID); refuse anything that could leave the root.
        let plain = !self.uid.is_empty()
            && self
                .uid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        plain.then(|| root.join(&self.uid))
    }

    async fn write_status(&mut self, pod: &Pod, observation: &crate::status::PodObservation) {
        let mut base = pod.clone();
        if let Some(written) = &self.written {
            base.status = Some(written.clone());
        }
        let status = crate::status::pod_status(&base, observation, self.context.clock.now());
        if base.status.as_ref() == Some(&status) {
            return;
        }
        let (Ok(before), Ok(after)) = (
            serde_json::to_value(pod.status.clone().unwrap_or_default()),
            serde_json::to_value(&status),
        ) else {
            return;
        };
        let patch =
            serde_json::json!({"status": bulwark_patch::merge_patch::create(&before, &after)});
        let api: Api<Pod> = Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        match api
            .patch_status(
                pod.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(stored) => self.written = stored.status,
            Err(error) => {
                self.written = None;
                if !is_not_found(&error) {
                    tracing::warn!(%error, pod = ?pod.metadata.name, "cannot write pod status");
                }
            }
        }
    }
}

fn normal(reason: &'static str, message: String, field_path: &str) -> crate::pod_worker::PodEvent {
    crate::pod_worker::PodEvent {
        warning: false,
        reason,
        message,
        field_path: Some(field_path.to_string()),
    }
}

/// As the kubelet does: however long the hook took, the container still gets this long
/// between SIGTERM and SIGKILL.
const MIN_GRACE_AFTER_HOOK: Duration = Duration::from_secs(2);

/// A `preStop` handler ready to run.
enum Hook {
    Sleep(Duration),
    Handler(Box<ProbeJob>),
}

/// Runs a hook within the grace period; returns why it failed, if it did.
async fn run_hook(context: &NodeContext, hook: Hook, grace: Duration) -> Option<String> {
    match hook {
        Hook::Sleep(duration) => {
            tokio::time::sleep(duration.min(grace)).await;
            None
        }
        Hook::Handler(job) => {
            let attempt = (context.prober)(*job);
            match tokio::time::timeout(grace, attempt).await {
                Ok(ProbeResult::Success) => None,
                Ok(ProbeResult::Failure(why) | ProbeResult::Error(why)) => Some(why),
                Err(_) => Some(format!(
                    "did not complete within the {grace:?} grace period"
                )),
            }
        }
    }
}

fn stop_now(runtime: &dyn crate::runtime::Runtime, key: &ContainerKey, grace: Duration) {
    if let Err(error) = runtime.stop(key, grace) {
        tracing::warn!(%error, "cannot stop container");
    }
}

fn container_at(pod: &Pod, slot: ContainerSlot) -> Option<&Container> {
    let spec = pod.spec.as_ref()?;
    match slot {
        ContainerSlot::Init(index) => spec.init_containers.as_ref()?.get(index),
        ContainerSlot::App(index) => spec.containers.get(index),
    }
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|container| container.name == name)
}

async fn fetch_all<K>(
    client: &kube::Client,
    namespace: &str,
    names: &[String],
) -> BTreeMap<String, K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut found = BTreeMap::new();
    for name in names {
        if let Ok(Some(object)) = api.get_opt(name).await {
            found.insert(name.clone(), object);
        }
    }
    found
}

pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(response) if response.code == 404)
}
