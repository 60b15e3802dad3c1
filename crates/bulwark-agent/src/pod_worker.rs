//! One pod's supervisor, as a pure state machine (the kubelet's `syncPod`, minus the I/O).
//!
//! [`PodRun`] remembers what the runtime cannot tell: each container's back-off, the probe
//! state of its current instance, and why a container is waiting (an unknown image, an
//! environment that cannot be resolved). [`PodRun::sync`] takes the pod as stored, the
//! runtime's instances of its containers and the time, and returns [`Action`]s for the shell to
//! carry out, the observation to compute the status from, and when to look again. Results come
//! back through [`PodRun::start_failed`] and [`PodRun::probe_result`].
//!
//! What it decides, as upstream does:
//! - which containers start, in order ([`crate::restart::plan`]), and when a restart is allowed
//!   ([`crate::backoff`]): a container waiting out its back-off shows `CrashLoopBackOff`;
//! - an image the catalog does not know waits with `ErrImagePull`, then `ImagePullBackOff`,
//!   retried on the same back-off schedule;
//! - a liveness (or startup) failure kills the container with `Killing` and `Unhealthy` events,
//!   and the restart policy then decides whether it comes back;
//! - a pod with a `deletionTimestamp` has every live container stopped with the pod's grace
//!   period, and once nothing runs the pod is finished ([`Action::Finish`]).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use crate::backoff::{self, BackoffPolicy, CrashBackoff, RestartGate};
use crate::probe::{ContainerProbes, ProbeKind, ProbeResult};
use crate::restart::{self, ContainerRun, ContainerSlot, InitContainerRun, RestartPolicy};
use crate::runtime::{ContainerInfo, ContainerKey, ContainerState, Exit};
use crate::status::{ObservedContainer, ObservedState, PodObservation, Termination};
use crate::timing::{add, seconds};

/// The waiting reason of a container whose image the catalog does not know, first time.
pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
/// The waiting reason while an unknown image is retried later.
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
/// The waiting reason while a crashed container waits for its restart.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";
/// The grace period of a pod that does not say (`terminationGracePeriodSeconds` default).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Something for the shell to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Resolve the container's image and environment and start this instance.
    Start {
        slot: ContainerSlot,
        key: ContainerKey,
    },
    /// Stop a live instance: run its `preStop` hook when `pre_stop`, then SIGTERM, SIGKILL after
    /// `grace`.
    Stop {
        key: ContainerKey,
        grace: Duration,
        pre_stop: bool,
    },
    /// Run one probe attempt and report it through [`PodRun::probe_result`].
    Probe { key: ContainerKey, kind: ProbeKind },
    /// Record an event against the pod.
    Event(PodEvent),
    /// The pod is being deleted and nothing of it runs: remove it from the runtime and the API.
    Finish,
}

/// An event about the pod, as the kubelet records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
    /// `spec.containers{name}` or `spec.initContainers{name}`, when about one container.
    pub field_path: Option<String>,
}

/// What one sync found.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    pub actions: Vec<Action>,
    pub observation: PodObservation,
    /// When a timer (a probe, a back-off) next needs a sync; `None` waits for a change.
    pub wake_at: Option<Timestamp>,
}

/// Why a container is waiting, as the core decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    reason: &'static str,
    message: String,
    retry_at: Option<Timestamp>,
}

/// What the core remembers about one container of the pod.
#[derive(Debug, Clone, Default)]
struct Track {
    backoff: CrashBackoff,
    /// How long the last failed image resolution waits before its retry.
    pull_delay: Option<Duration>,
    /// Probe state of the current instance, keyed by its attempt.
    probes: Option<(u32, ContainerProbes)>,
    waiting: Option<Waiting>,
    /// The exit whose `BackOff` event was already recorded.
    back_off_reported: Option<u32>,
    /// The exit whose `Killing` already said it was a probe's doing.
    killed_by_probe: Option<u32>,
    /// Stops already asked for, by attempt, so they are asked once.
    stop_requested: Option<u32>,
}

/// One pod's memory across syncs; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct PodRun {
    tracks: BTreeMap<String, Track>,
    /// Attempts started but not yet seen in the runtime, so they are not started twice.
    starting: BTreeMap<String, u32>,
    finished: bool,
}

/// Everything a sync reads besides the pod and its instances.
#[derive(Debug, Clone, Copy)]
pub struct SyncContext<'a> {
    pub backoff: &'a BackoffPolicy,
    pub pod_ips: &'a [String],
    pub host_ips: &'a [String],
    pub now: Timestamp,
}

impl PodRun {
    /// Decides what the pod needs now; `instances` are the runtime's containers of this pod.
    pub fn sync(
        &mut self,
        pod: &Pod,
        instances: &[ContainerInfo],
        context: &SyncContext<'_>,
    ) -> SyncOutcome {
        let empty = PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&empty);
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let latest = latest_instances(instances);
        self.forget_seen_starts(&latest);
        let mut actions = Vec::new();
        if deleting {
            self.stop_everything(pod, &latest, &mut actions);
        } else {
            self.run_probes(spec, &latest, context.now, &mut actions);
            self.start_planned(pod, &latest, context, &mut actions);
        }
        if deleting && !self.finished && latest.values().all(|info| !info.is_alive()) {
            self.finished = true;
            actions.push(Action::Finish);
        }
        let observation = self.observe(pod, &latest, instances, context);
        SyncOutcome {
            actions,
            observation,
            wake_at: self.wake_at(),
        }
    }

    /// The shell could not start `key`: its image is unknown (`image_unknown`) or its
    /// configuration cannot be resolved; the container waits and is retried with back-off.
    pub fn start_failed(
        &mut self,
        key: &ContainerKey,
        image_unknown: bool,
        message: String,
        now: Timestamp,
        policy: &BackoffPolicy,
    ) -> Vec<Action> {
        self.starting.remove(&key.container);
        let track = self.tracks.entry(key.container.clone()).or_default();
        let retrying = track.pull_delay.is_some();
        let retry = track.pull_delay.map_or(policy.initial(), |delay| {
            delay.saturating_mul(2).min(policy.cap())
        });
        track.pull_delay = Some(retry);
        let reason = if !image_unknown {
            crate::env::CONFIG_ERROR_REASON
        } else if retrying {
            IMAGE_PULL_BACK_OFF
        } else {
            ERR_IMAGE_PULL
        };
        track.waiting = Some(Waiting {
            reason,
            message: message.clone(),
            retry_at: Some(add(now, retry)),
        });
        vec![Action::Event(PodEvent {
            warning: true,
            reason: "Failed",
            message: if image_unknown {
                format!("Failed to pull image: {message}")
            } else {
                format!("Error: {message}")
            },
            field_path: Some(field_path(&key.container, false)),
        })]
    }

    /// Takes in a probe attempt's result; may kill the container.
    pub fn probe_result(
        &mut self,
        pod: &Pod,
        key: &ContainerKey,
        kind: ProbeKind,
        result: &ProbeResult,
        at: Timestamp,
    ) -> Vec<Action> {
        let Some(track) = self.tracks.get_mut(&key.container) else {
            return Vec::new();
        };
        let Some((attempt, probes)) = track.probes.as_mut() else {
            return Vec::new();
        };
        if *attempt != key.attempt {
            return Vec::new();
        }
        let recorded = probes.record(kind, result, at);
        let path = field_path(&key.container, false);
        let mut actions: Vec<Action> = recorded
            .events
            .into_iter()
            .map(|event| {
                Action::Event(PodEvent {
                    warning: true,
                    reason: "Unhealthy",
                    message: event.message,
                    field_path: Some(path.clone()),
                })
            })
            .collect();
        if let Some(killer) = recorded.kill {
            let will_restart =
                RestartPolicy::of_pod(pod.spec.as_ref().unwrap_or(&PodSpec::default()))
                    != RestartPolicy::Never;
            actions.push(Action::Event(PodEvent {
                warning: false,
                reason: "Killing",
                message: probes.killing_message(killer, will_restart),
                field_path: Some(path),
            }));
            track.killed_by_probe = Some(key.attempt);
            track.stop_requested = Some(key.attempt);
            actions.push(Action::Stop {
                key: key.clone(),
                grace: pod_grace(pod),
                pre_stop: true,
            });
        }
        actions
    }

    fn forget_seen_starts(&mut self, latest: &BTreeMap<String, &ContainerInfo>) {
        self.starting.retain(|name, attempt| {
            latest
                .get(name)
                .is_none_or(|info| info.key.attempt < *attempt)
        });
    }

    fn stop_everything(
        &mut self,
        pod: &Pod,
        latest: &BTreeMap<String, &ContainerInfo>,
        actions: &mut Vec<Action>,
    ) {
        let grace = deletion_grace(pod);
        for info in latest.values() {
            let track = self.tracks.entry(info.key.container.clone()).or_default();
            if let Some((_, probes)) = track.probes.as_mut() {
                probes.pod_terminating();
            }
            let running = matches!(
                info.state,
                ContainerState::Running | ContainerState::Starting
            );
            if running && track.stop_requested != Some(info.key.attempt) {
                track.stop_requested = Some(info.key.attempt);
                actions.push(Action::Event(PodEvent {
                    warning: false,
                    reason: "Killing",
                    message: format!("Stopping container {}", info.key.container),
                    field_path: Some(field_path(
                        &info.key.container,
                        is_init(pod, &info.key.container),
                    )),
                }));
                actions.push(Action::Stop {
                    key: info.key.clone(),
                    grace,
                    pre_stop: true,
                });
            }
        }
    }

    /// Keeps each running instance's probes and asks for the attempts that are due.
    fn run_probes(
        &mut self,
        spec: &PodSpec,
        latest: &BTreeMap<String, &ContainerInfo>,
        now: Timestamp,
        actions: &mut Vec<Action>,
    ) {
        for container in all_containers(spec) {
            let Some(info) = latest.get(&container.name) else {
                continue;
            };
            let track = self.tracks.entry(container.name.clone()).or_default();
            if !matches!(info.state, ContainerState::Running) {
                continue;
            }
            let attempt = info.key.attempt;
            if track
                .probes
                .as_ref()
                .is_none_or(|(seen, _)| *seen != attempt)
            {
                track.probes = Some((attempt, ContainerProbes::new(container, info.started_at)));
            }
            if let Some((_, probes)) = track.probes.as_mut() {
                for kind in probes.due(now) {
                    actions.push(Action::Probe {
                        key: info.key.clone(),
                        kind,
                    });
                }
            }
        }
    }

    fn start_planned(
        &mut self,
        pod: &Pod,
        latest: &BTreeMap<String, &ContainerInfo>,
        context: &SyncContext<'_>,
        actions: &mut Vec<Action>,
    ) {
        let empty = PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&empty);
        let policy = RestartPolicy::of_pod(spec);
        let init_specs = spec.init_containers.as_deref().unwrap_or_default();
        let init: Vec<InitContainerRun> = init_specs
            .iter()
            .map(|container| InitContainerRun {
                run: self.run_of(container, latest),
                sidecar: restart::is_sidecar(container),
            })
            .collect();
        let app: Vec<ContainerRun> = spec
            .containers
            .iter()
            .map(|container| self.run_of(container, latest))
            .collect();
        let plan = restart::plan(policy, false, &init, &app);
        for slot in plan.start {
            let container = match slot {
                ContainerSlot::Init(index) => &init_specs[index],
                ContainerSlot::App(index) => &spec.containers[index],
            };
            if let Some(action) = self.start_one(pod, container, slot, latest, context) {
                actions.push(action);
            }
        }
    }

    /// The start of one planned container, unless it must wait (back-off, a failed pull).
    fn start_one(
        &mut self,
        pod: &Pod,
        container: &Container,
        slot: ContainerSlot,
        latest: &BTreeMap<String, &ContainerInfo>,
        context: &SyncContext<'_>,
    ) -> Option<Action> {
        let name = &container.name;
        if self.starting.contains_key(name) {
            return None;
        }
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let now = context.now;
        let track = self.tracks.entry(name.clone()).or_default();
        if let Some(retry_at) = track.waiting.as_ref().and_then(|waiting| waiting.retry_at)
            && now < retry_at
        {
            return None;
        }
        let attempt = match latest.get(name) {
            None => 0,
            Some(info) => {
                let exit = info.exit()?;
                match track.backoff.gate(context.backoff, exit.finished_at, now) {
                    RestartGate::Restart { next } => track.backoff = next,
                    RestartGate::Wait { delay, until } => {
                        track.waiting = Some(Waiting {
                            reason: CRASH_LOOP_BACK_OFF,
                            message: backoff::crash_loop_message(
                                delay,
                                name,
                                pod.metadata.name.as_deref().unwrap_or_default(),
                                pod.metadata.namespace.as_deref().unwrap_or_default(),
                                uid,
                            ),
                            retry_at: Some(until),
                        });
                        return self.back_off_event(pod, name, info.key.attempt);
                    }
                }
                info.key.attempt + 1
            }
        };
        let track = self.tracks.entry(name.clone()).or_default();
        track.waiting = None;
        track.stop_requested = None;
        self.starting.insert(name.clone(), attempt);
        Some(Action::Start {
            slot,
            key: ContainerKey::new(uid, name, attempt),
        })
    }

    /// The `BackOff` event, once per exit.
    fn back_off_event(&mut self, pod: &Pod, name: &str, attempt: u32) -> Option<Action> {
        let track = self.tracks.get_mut(name)?;
        if track.back_off_reported == Some(attempt) {
            return None;
        }
        track.back_off_reported = Some(attempt);
        Some(Action::Event(PodEvent {
            warning: true,
            reason: "BackOff",
            message: backoff::back_off_event_message(
                name,
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.uid.as_deref().unwrap_or_default(),
            ),
            field_path: Some(field_path(name, is_init(pod, name))),
        }))
    }

    /// The restart planner's view of one container.
    fn run_of(
        &self,
        container: &Container,
        latest: &BTreeMap<String, &ContainerInfo>,
    ) -> ContainerRun {
        if self.starting.contains_key(&container.name) {
            // Started and not seen yet: it runs as far as the planner is concerned.
            return ContainerRun::Running { started: false };
        }
        match latest.get(&container.name) {
            None => ContainerRun::NotCreated,
            Some(info) => match info.exit() {
                Some(exit) => ContainerRun::Exited {
                    exit_code: exit.exit_code,
                },
                None => ContainerRun::Running {
                    started: self.started(&container.name, info.key.attempt),
                },
            },
        }
    }

    fn started(&self, name: &str, attempt: u32) -> bool {
        self.probes_of(name, attempt)
            .is_none_or(ContainerProbes::started)
    }

    fn ready(&self, name: &str, attempt: u32) -> bool {
        self.probes_of(name, attempt)
            .is_none_or(ContainerProbes::ready)
    }

    fn probes_of(&self, name: &str, attempt: u32) -> Option<&ContainerProbes> {
        self.tracks
            .get(name)
            .and_then(|track| track.probes.as_ref())
            .filter(|(seen, _)| *seen == attempt)
            .map(|(_, probes)| probes)
    }

    fn observe(
        &self,
        pod: &Pod,
        latest: &BTreeMap<String, &ContainerInfo>,
        instances: &[ContainerInfo],
        context: &SyncContext<'_>,
    ) -> PodObservation {
        let empty = PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&empty);
        let observe_all = |containers: &[Container]| {
            containers
                .iter()
                .filter_map(|container| self.observe_one(pod, container, latest, instances))
                .collect::<Vec<_>>()
        };
        PodObservation {
            init_containers: observe_all(spec.init_containers.as_deref().unwrap_or_default()),
            containers: observe_all(&spec.containers),
            pod_ips: context.pod_ips.to_vec(),
            host_ips: context.host_ips.to_vec(),
            sandbox_ready: !context.pod_ips.is_empty(),
        }
    }

    fn observe_one(
        &self,
        pod: &Pod,
        container: &Container,
        latest: &BTreeMap<String, &ContainerInfo>,
        instances: &[ContainerInfo],
    ) -> Option<ObservedContainer> {
        let name = &container.name;
        let waiting = self
            .tracks
            .get(name)
            .and_then(|track| track.waiting.as_ref());
        let Some(info) = latest.get(name) else {
            return waiting.map(|waiting| ObservedContainer {
                name: name.clone(),
                state: ObservedState::Waiting {
                    reason: waiting.reason.to_string(),
                    message: Some(waiting.message.clone()),
                },
                last_termination: previous_termination(pod, name),
                restart_count: 0,
                started: false,
                ready: false,
                container_id: None,
                image_id: None,
            });
        };
        let attempt = info.key.attempt;
        let previous = instances
            .iter()
            .filter(|other| other.key.container == *name && other.key.attempt < attempt)
            .max_by_key(|other| other.key.attempt)
            .and_then(termination_of)
            .or_else(|| {
                (attempt > 0)
                    .then(|| previous_termination(pod, name))
                    .flatten()
            });
        let (state, last_termination) = match (&info.state, waiting) {
            (ContainerState::Exited(_), Some(waiting)) => (
                ObservedState::Waiting {
                    reason: waiting.reason.to_string(),
                    message: Some(waiting.message.clone()),
                },
                termination_of(info),
            ),
            (ContainerState::Exited(_), None) => {
                (ObservedState::Terminated(termination_of(info)?), previous)
            }
            (ContainerState::Starting, _) => (
                ObservedState::Waiting {
                    reason: crate::status::CONTAINER_CREATING.to_string(),
                    message: None,
                },
                previous,
            ),
            (ContainerState::Running | ContainerState::Stopping { .. }, _) => (
                ObservedState::Running {
                    started_at: info.started_at,
                },
                previous,
            ),
        };
        Some(ObservedContainer {
            name: name.clone(),
            state,
            last_termination,
            restart_count: i32::try_from(attempt).unwrap_or(i32::MAX),
            started: self.started(name, attempt),
            ready: self.ready(name, attempt),
            container_id: Some(info.key.container_id()),
            image_id: container.image.clone(),
        })
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.tracks
            .values()
            .flat_map(|track| {
                let retry = track.waiting.as_ref().and_then(|waiting| waiting.retry_at);
                let probe = track
                    .probes
                    .as_ref()
                    .and_then(|(_, probes)| probes.next_due());
                [retry, probe]
            })
            .flatten()
            .min()
    }

    /// The container is waiting on an image or configuration problem: its reason.
    pub fn waiting_reason(&self, container: &str) -> Option<&'static str> {
        self.tracks
            .get(container)
            .and_then(|track| track.waiting.as_ref())
            .map(|waiting| waiting.reason)
    }
}

/// Each container's newest instance, by name.
fn latest_instances(instances: &[ContainerInfo]) -> BTreeMap<String, &ContainerInfo> {
    let mut latest: BTreeMap<String, &ContainerInfo> = BTreeMap::new();
    for info in instances {
        let newer = latest
            .get(&info.key.container)
            .is_none_or(|seen| seen.key.attempt < info.key.attempt);
        if newer {
            latest.insert(info.key.container.clone(), info);
        }
    }
    latest
}

fn termination_of(info: &ContainerInfo) -> Option<Termination> {
    let exit: &Exit = info.exit()?;
    Some(Termination {
        exit_code: exit.exit_code,
        signal: exit.signal,
        reason: crate::status::termination_reason(exit.exit_code, exit.oom_killed).to_string(),
        message: None,
        started_at: Some(info.started_at),
        finished_at: exit.finished_at,
        container_id: Some(info.key.container_id()),
    })
}

/// `lastState.terminated` as the pod's stored status has it (kept across an agent restart).
fn previous_termination(pod: &Pod, name: &str) -> Option<Termination> {
    let status = pod.status.as_ref()?;
    let terminated = status
        .container_statuses
        .iter()
        .chain(status.init_container_statuses.iter())
        .flatten()
        .find(|status| status.name == name)?
        .last_state
        .as_ref()?
        .terminated
        .as_ref()?;
    Some(Termination {
        exit_code: terminated.exit_code,
        signal: terminated.signal,
        reason: terminated.reason.clone().unwrap_or_default(),
        message: terminated.message.clone(),
        started_at: terminated.started_at.as_ref().map(|time| time.0),
        finished_at: terminated.finished_at.as_ref().map(|time| time.0)?,
        container_id: terminated.container_id.clone(),
    })
}

fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
}

fn is_init(pod: &Pod, name: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.init_containers.as_ref())
        .is_some_and(|init| init.iter().any(|container| container.name == name))
}

/// `spec.containers{web}`, the way the kubelet points an event at a container.
pub fn field_path(container: &str, init: bool) -> String {
    let list = if init { "initContainers" } else { "containers" };
    format!("spec.{list}{{{container}}}")
}

/// The pod's `terminationGracePeriodSeconds`.
pub fn pod_grace(pod: &Pod) -> Duration {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.termination_grace_period_seconds)
        .map(|value| seconds(i32::try_from(value).unwrap_or(i32::MAX)))
        .unwrap_or(DEFAULT_GRACE)
}

/// The grace period of a pod being deleted: the one the delete asked for, else the pod's.
pub fn deletion_grace(pod: &Pod) -> Duration {
    pod.metadata
        .deletion_grace_period_seconds
        .map(|value| seconds(i32::try_from(value).unwrap_or(i32::MAX)))
        .unwrap_or_else(|| pod_grace(pod))
}

#[cfg(test)]
#[path = "pod_worker_tests.rs"]
mod tests;
