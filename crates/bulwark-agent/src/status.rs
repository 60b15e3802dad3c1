//! A Pod's `status` computed from what its containers are doing, as the kubelet reports it
//! (`generateAPIPodStatus`, `getPhase`, the condition generators and `ComputePodQOS`).
//!
//! The agent observes each container ([`ObservedContainer`]); [`pod_status`] turns that and the
//! pod's previous status into the typed `PodStatus` to write. Rules kept from upstream:
//! - phase: `Pending` until init containers are done and no app container is waiting for its
//!   first start; `Running` while any app container runs (or will be restarted);
//!   `Succeeded`/`Failed` once all have exited for good under `OnFailure`/`Never`; a failed init
//!   container under `Never` fails the pod.
//! - conditions `PodReadyToStartContainers`, `Initialized`, `ContainersReady`, `Ready` are
//!   recomputed; each keeps its `lastTransitionTime` while its status is unchanged. Conditions
//!   the kubelet does not own (`PodScheduled`, `DisruptionTarget`, readiness gates) are kept;
//!   `PodScheduled` is added as `True` when absent, since a pod on a node was scheduled.
//! - a container never seen waits with `ContainerCreating` (`PodInitializing` when the pod has
//!   init containers).
//! - `qosClass`: `Guaranteed` when every container sets equal CPU and memory requests and limits,
//!   `BestEffort` when none sets any, `Burstable` otherwise.

use std::collections::BTreeMap;

use bulwark_core::quantity::Quantity;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::restart::{RestartPolicy, is_sidecar};

/// The waiting reason of a container not created yet.
pub const CONTAINER_CREATING: &str = "ContainerCreating";
/// The waiting reason of an app container while init containers run.
pub const POD_INITIALIZING: &str = "PodInitializing";

/// How one container instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub exit_code: i32,
    pub signal: Option<i32>,
    /// `Completed`, `Error` or `OOMKilled`; see [`termination_reason`].
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    pub container_id: Option<String>,
}

/// The `reason` of a terminated container: `OOMKilled` when the memory limit killed it,
/// `Completed` on exit code 0, `Error` otherwise.
pub fn termination_reason(exit_code: i32, oom_killed: bool) -> &'static str {
    match (oom_killed, exit_code) {
        (true, _) => "OOMKilled",
        (false, 0) => "Completed",
        (false, _) => "Error",
    }
}

/// A container's current state as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedState {
    /// Not running: `ContainerCreating`, `CrashLoopBackOff`, `ErrImagePull`, `ImagePullBackOff`,
    /// `CreateContainerConfigError`, …
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(Termination),
}

/// One container as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    pub name: String,
    pub state: ObservedState,
    /// How the previous instance ended (`lastState`).
    pub last_termination: Option<Termination>,
    pub restart_count: i32,
    /// From the probes ([`crate::probe::ContainerProbes`]); only meaningful while running.
    pub started: bool,
    pub ready: bool,
    pub container_id: Option<String>,
    pub image_id: Option<String>,
}

/// Everything about a pod the agent observed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodObservation {
    pub init_containers: Vec<ObservedContainer>,
    pub containers: Vec<ObservedContainer>,
    /// Pod addresses, primary first; empty until assigned.
    pub pod_ips: Vec<String>,
    pub host_ips: Vec<String>,
    /// The pod's processes can start (its directory and address exist).
    pub sandbox_ready: bool,
}

/// Computes the pod's status; `pod.status` is the previous one.
pub fn pod_status(pod: &Pod, observed: &PodObservation, now: Timestamp) -> PodStatus {
    let empty = Default::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let previous = pod.status.as_ref();
    let has_init = spec
        .init_containers
        .as_ref()
        .is_some_and(|init| !init.is_empty());
    let init_statuses = container_statuses(
        spec.init_containers.as_deref().unwrap_or_default(),
        &observed.init_containers,
        has_init,
    );
    let app_statuses = container_statuses(&spec.containers, &observed.containers, has_init);
    let policy = RestartPolicy::of_pod(spec);
    let phase = phase(spec, policy, &init_statuses, &app_statuses);
    let conditions = conditions(pod, observed, &init_statuses, &app_statuses, phase, now);
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions),
        start_time: previous
            .and_then(|status| status.start_time.clone())
            .or(Some(Time(now))),
        pod_ip: observed.pod_ips.first().cloned(),
        pod_ips: non_empty(
            observed
                .pod_ips
                .iter()
                .map(|ip| PodIP { ip: ip.clone() })
                .collect(),
        ),
        host_ip: observed.host_ips.first().cloned(),
        host_ips: non_empty(
            observed
                .host_ips
                .iter()
                .map(|ip| HostIP { ip: ip.clone() })
                .collect(),
        ),
        init_container_statuses: has_init.then_some(init_statuses),
        container_statuses: Some(app_statuses),
        qos_class: Some(
            qos_class(
                spec.containers
                    .iter()
                    .chain(spec.init_containers.iter().flatten()),
            )
            .to_string(),
        ),
        ..PodStatus::default()
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn container_statuses(
    specs: &[Container],
    observed: &[ObservedContainer],
    has_init: bool,
) -> Vec<ContainerStatus> {
    specs
        .iter()
        .map(|spec| {
            match observed
                .iter()
                .find(|container| container.name == spec.name)
            {
                Some(container) => container_status(spec, container),
                None => ContainerStatus {
                    name: spec.name.clone(),
                    image: spec.image.clone().unwrap_or_default(),
                    state: Some(waiting(
                        if has_init {
                            POD_INITIALIZING
                        } else {
                            CONTAINER_CREATING
                        },
                        None,
                    )),
                    started: Some(false),
                    ..ContainerStatus::default()
                },
            }
        })
        .collect()
}

fn container_status(spec: &Container, observed: &ObservedContainer) -> ContainerStatus {
    let running = matches!(observed.state, ObservedState::Running { .. });
    let state = match &observed.state {
        ObservedState::Waiting { reason, message } => waiting(reason, message.clone()),
        ObservedState::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(*started_at)),
            }),
            ..ContainerState::default()
        },
        ObservedState::Terminated(termination) => terminated(termination),
    };
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: observed.image_id.clone().unwrap_or_default(),
        container_id: observed.container_id.clone(),
        state: Some(state),
        last_state: Some(
            observed
                .last_termination
                .as_ref()
                .map(terminated)
                .unwrap_or_default(),
        ),
        restart_count: observed.restart_count,
        started: Some(running && observed.started),
        ready: running && observed.started && observed.ready,
        ..ContainerStatus::default()
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..ContainerState::default()
    }
}

fn terminated(termination: &Termination) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: termination.exit_code,
            signal: termination.signal,
            reason: Some(termination.reason.clone()),
            message: termination.message.clone(),
            started_at: termination.started_at.map(Time),
            finished_at: Some(Time(termination.finished_at)),
            container_id: termination.container_id.clone(),
        }),
        ..ContainerState::default()
    }
}

fn state_of(status: &ContainerStatus) -> (bool, Option<i32>, bool) {
    let state = status.state.as_ref();
    let running = state.is_some_and(|state| state.running.is_some());
    let exit_code = state
        .and_then(|state| state.terminated.as_ref())
        .map(|t| t.exit_code);
    let restarted_before = status
        .last_state
        .as_ref()
        .is_some_and(|last| last.terminated.is_some());
    (running, exit_code, restarted_before)
}

fn last_exit_code(status: &ContainerStatus) -> Option<i32> {
    status
        .last_state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// Upstream's `getPhase`.
fn phase(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    policy: RestartPolicy,
    init: &[ContainerStatus],
    app: &[ContainerStatus],
) -> &'static str {
    let mut pending_init = 0;
    let mut failed_init = 0;
    for (container, status) in spec.init_containers.iter().flatten().zip(init) {
        let (running, exit_code, _) = state_of(status);
        if is_sidecar(container) {
            if !(running && status.started == Some(true)) {
                pending_init += 1;
            }
            continue;
        }
        match (running, exit_code) {
            (true, _) => pending_init += 1,
            (false, Some(0)) => {}
            (false, Some(_)) => failed_init += 1,
            (false, None) => match last_exit_code(status) {
                Some(code) if code != 0 => failed_init += 1,
                _ => pending_init += 1,
            },
        }
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in app {
        match state_of(status) {
            (true, _, _) => running += 1,
            (false, Some(code), _) => {
                stopped += 1;
                if code == 0 {
                    succeeded += 1;
                }
            }
            (false, None, true) => stopped += 1,
            (false, None, false) => waiting += 1,
        }
    }
    let app_has_started = app
        .iter()
        .any(|status| status.started == Some(true) || state_of(status).2);
    if failed_init > 0 && policy == RestartPolicy::Never {
        return "Failed";
    }
    // Init containers still at work (or failed and retrying) hold the pod back, unless app
    // containers already ran, which proves initialisation happened.
    let initializing = (pending_init > 0 || failed_init > 0) && !app_has_started;
    if initializing || waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match policy {
            RestartPolicy::Always => "Running",
            _ if stopped == succeeded => "Succeeded",
            RestartPolicy::Never => "Failed",
            RestartPolicy::OnFailure => "Running",
        };
    }
    "Pending"
}

/// The conditions the kubelet owns.
const KUBELET_CONDITIONS: [&str; 4] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
];

fn conditions(
    pod: &Pod,
    observed: &PodObservation,
    init: &[ContainerStatus],
    app: &[ContainerStatus],
    phase: &str,
    now: Timestamp,
) -> Vec<PodCondition> {
    let empty = Default::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let previous: Vec<PodCondition> = pod
        .status
        .as_ref()
        .and_then(|status| status.conditions.clone())
        .unwrap_or_default();
    let sandbox = condition_value(observed.sandbox_ready, None, None);
    let initialized = initialized(spec, init, app, phase);
    let containers_ready = containers_ready(spec, init, app, phase);
    let ready = pod_ready(spec, &containers_ready, &previous);
    let mut conditions: Vec<PodCondition> = [sandbox, initialized, ready, containers_ready]
        .into_iter()
        .zip(KUBELET_CONDITIONS)
        .map(|((status, reason, message), kind)| {
            let since = previous
                .iter()
                .find(|old| old.type_ == kind && old.status == status)
                .and_then(|old| old.last_transition_time.clone())
                .unwrap_or(Time(now));
            PodCondition {
                type_: kind.to_string(),
                status: status.to_string(),
                reason,
                message,
                last_transition_time: Some(since),
                ..PodCondition::default()
            }
        })
        .collect();
    conditions.extend(
        previous
            .iter()
            .filter(|old| !KUBELET_CONDITIONS.contains(&old.type_.as_str()))
            .cloned(),
    );
    if !conditions
        .iter()
        .any(|condition| condition.type_ == "PodScheduled")
    {
        conditions.push(PodCondition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            last_transition_time: Some(Time(now)),
            ..PodCondition::default()
        });
    }
    conditions
}

type ConditionValue = (&'static str, Option<String>, Option<String>);

fn condition_value(ok: bool, reason: Option<&str>, message: Option<String>) -> ConditionValue {
    (
        if ok { "True" } else { "False" },
        reason.map(String::from),
        message,
    )
}

fn initialized(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    init: &[ContainerStatus],
    app: &[ContainerStatus],
    phase: &str,
) -> ConditionValue {
    let containers = spec.init_containers.as_deref().unwrap_or_default();
    if containers.is_empty() {
        return condition_value(true, None, None);
    }
    if phase == "Succeeded" {
        return condition_value(true, Some("PodCompleted"), None);
    }
    let app_has_started = app
        .iter()
        .any(|status| status.started == Some(true) || state_of(status).2);
    if app_has_started {
        return condition_value(true, None, None);
    }
    let incomplete: Vec<String> = containers
        .iter()
        .zip(init)
        .filter(|(container, status)| {
            let (running, exit_code, _) = state_of(status);
            if is_sidecar(container) {
                !(running && status.started == Some(true))
            } else {
                exit_code != Some(0)
            }
        })
        .map(|(container, _)| container.name.clone())
        .collect();
    if incomplete.is_empty() {
        return condition_value(true, None, None);
    }
    let message = format!(
        "containers with incomplete status: [{}]",
        incomplete.join(" ")
    );
    condition_value(false, Some("ContainersNotInitialized"), Some(message))
}

fn containers_ready(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    init: &[ContainerStatus],
    app: &[ContainerStatus],
    phase: &str,
) -> ConditionValue {
    match phase {
        "Succeeded" => return condition_value(false, Some("PodCompleted"), None),
        "Failed" => return condition_value(false, Some("PodFailed"), None),
        _ => {}
    }
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .zip(init)
        .filter(|(container, _)| is_sidecar(container));
    let unready: Vec<String> = sidecars
        .chain(spec.containers.iter().zip(app))
        .filter(|(_, status)| !status.ready)
        .map(|(container, _)| container.name.clone())
        .collect();
    if unready.is_empty() {
        return condition_value(true, None, None);
    }
    let message = format!("containers with unready status: [{}]", unready.join(" "));
    condition_value(false, Some("ContainersNotReady"), Some(message))
}

fn pod_ready(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    containers_ready: &ConditionValue,
    previous: &[PodCondition],
) -> ConditionValue {
    if containers_ready.0 != "True" {
        return containers_ready.clone();
    }
    let unready: Vec<String> = spec
        .readiness_gates
        .iter()
        .flatten()
        .filter_map(|gate| {
            let kind = &gate.condition_type;
            match previous.iter().find(|condition| condition.type_ == *kind) {
                None => Some(format!(
                    "corresponding condition of pod readiness gate \"{kind}\" does not exist."
                )),
                Some(condition) if condition.status != "True" => Some(format!(
                    "the status of pod readiness gate \"{kind}\" is not \"True\", but {}",
                    condition.status
                )),
                Some(_) => None,
            }
        })
        .collect();
    if unready.is_empty() {
        return condition_value(true, None, None);
    }
    condition_value(
        false,
        Some("ReadinessGatesNotReady"),
        Some(unready.join(", ")),
    )
}

/// Upstream's `ComputePodQOS` over app and init containers (CPU and memory only).
pub fn qos_class<'a>(containers: impl IntoIterator<Item = &'a Container>) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    for container in containers {
        let resources = container.resources.as_ref();
        let positive = |list: Option<
            &'a BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >| {
            list.into_iter().flatten().filter_map(|(name, quantity)| {
                let name = name.as_str();
                let amount = Quantity::parse(&quantity.0).ok()?;
                (matches!(name, "cpu" | "memory") && amount.signum() > 0).then_some((name, amount))
            })
        };
        for (name, amount) in positive(resources.and_then(|r| r.requests.as_ref())) {
            add(&mut requests, name, amount);
        }
        let mut limited = Vec::new();
        for (name, amount) in positive(resources.and_then(|r| r.limits.as_ref())) {
            limited.push(name);
            add(&mut limits, name, amount);
        }
        if !(limited.contains(&"cpu") && limited.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests.len() == limits.len()
        && requests
            .iter()
            .all(|(name, request)| limits.get(name) == Some(request));
    if guaranteed && equal {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn add<'a>(totals: &mut BTreeMap<&'a str, Quantity>, name: &'a str, amount: Quantity) {
    let total = totals.entry(name).or_insert_with(Quantity::zero);
    *total = total.checked_add(&amount).unwrap_or(*total);
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
