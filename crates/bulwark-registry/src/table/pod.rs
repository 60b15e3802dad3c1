//! Pods: `NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES`, with the STATUS
//! and RESTARTS rules of upstream's `printPod`.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
use serde_json::{Value, json};

use super::columns::{AGE, Column, Description, NAME, field_of};
use super::duration::since;
use super::fields::{at, flag, integer, is_deleting, list, name, object, text, time};

pub(super) const COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Ready",
        Description::Text("The aggregate readiness state of this pod for accepting traffic."),
    ),
    Column::text(
        "Status",
        Description::Text("The aggregate status of the containers in this pod."),
    ),
    Column::text(
        "Restarts",
        Description::Text(
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
    ),
    AGE,
    Column::text("IP", field_of::<PodStatus>("podIP")).wide(),
    Column::text("Node", field_of::<PodSpec>("nodeName")).wide(),
    Column::text("Nominated Node", field_of::<PodStatus>("nominatedNodeName")).wide(),
    Column::text("Readiness Gates", field_of::<PodSpec>("readinessGates")).wide(),
];

/// Set by the node lifecycle controller on pods of an unreachable node.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

pub(super) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = summarize(pod);
    let restarts = match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, since(Some(last), now))
        }
        _ => summary.restarts.to_string(),
    };
    vec![
        json!(name(pod)),
        json!(format!("{}/{}", summary.ready, summary.total)),
        json!(summary.reason),
        json!(restarts),
        json!(since(time(pod, &["metadata", "creationTimestamp"]), now)),
        json!(or_none(pod_ip(pod))),
        json!(or_none(text(pod, &["spec", "nodeName"]))),
        json!(or_none(text(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ]
}

/// The row conditions upstream attaches to finished pods (kubectl can hide completed rows).
pub(super) fn row_conditions(pod: &Value) -> Vec<Value> {
    let (reason, message) = match text(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return Vec::new(),
    };
    vec![json!({"type": "Completed", "status": "True", "reason": reason, "message": message})]
}

/// What READY, STATUS and RESTARTS show.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

/// Restarts and the latest restart time of a set of container statuses.
#[derive(Debug, Clone, Copy, Default)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count = self
            .count
            .saturating_add(integer(status, &["restartCount"]));
        self.last = self
            .last
            .max(time(status, &["lastState", "terminated", "finishedAt"]));
    }
}

fn summarize(pod: &Value) -> Summary {
    let init_specs = list(pod, &["spec", "initContainers"]);
    let sidecars = init_specs
        .iter()
        .filter(|spec| is_restartable(spec))
        .count();
    let mut summary = Summary {
        ready: 0,
        total: list(pod, &["spec", "containers"])
            .len()
            .saturating_add(sidecars),
        reason: initial_reason(pod),
        restarts: 0,
        last_restart: None,
    };
    let (initializing, all_init, sidecar_restarts) =
        summarize_init_containers(pod, init_specs, &mut summary);
    if !initializing || condition_is_true(pod, "Initialized") {
        summarize_containers(pod, sidecar_restarts, &mut summary);
    } else {
        summary.restarts = all_init.count;
        summary.last_restart = all_init.last;
    }
    if is_deleting(pod) {
        if text(pod, &["status", "reason"]) == NODE_UNREACHABLE_REASON {
            summary.reason = "Unknown".to_string();
        } else if !matches!(text(pod, &["status", "phase"]), "Succeeded" | "Failed") {
            summary.reason = "Terminating".to_string();
        }
    }
    summary
}

/// The phase, overridden by `status.reason`, overridden by a scheduling gate.
fn initial_reason(pod: &Value) -> String {
    let gated = list(pod, &["status", "conditions"])
        .iter()
        .any(|c| text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated");
    if gated {
        return "SchedulingGated".to_string();
    }
    match text(pod, &["status", "reason"]) {
        "" => text(pod, &["status", "phase"]).to_string(),
        reason => reason.to_string(),
    }
}

/// Walks init container statuses until the first one still blocking initialization, setting the
/// `Init:` reason and counting ready sidecars. Returns whether the pod is still initializing, the
/// restarts of the init containers walked, and the restarts of the sidecars among them.
fn summarize_init_containers(
    pod: &Value,
    specs: &[Value],
    summary: &mut Summary,
) -> (bool, Restarts, Restarts) {
    let mut all = Restarts::default();
    let mut sidecars = Restarts::default();
    for (index, status) in list(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        all.add(status);
        let restartable = spec_named(specs, text(status, &["name"])).is_some_and(is_restartable);
        if restartable {
            sidecars.add(status);
        }
        let terminated = object(status, &["state", "terminated"]).is_some();
        let waiting_reason = waiting_reason(status);
        if terminated && integer(status, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if restartable && flag(status, &["started"]) {
            if flag(status, &["ready"]) {
                summary.ready = summary.ready.saturating_add(1);
            }
            continue;
        }
        summary.reason = if terminated {
            format!("Init:{}", termination_reason(status))
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{index}/{}", specs.len())
        };
        return (true, all, sidecars);
    }
    (false, all, sidecars)
}

/// Main containers, last to first so the first container's state wins; a pod whose containers
/// all completed but one still runs is `Running` (or `NotReady` without the Ready condition).
fn summarize_containers(pod: &Value, sidecar_restarts: Restarts, summary: &mut Summary) {
    let mut restarts = sidecar_restarts;
    let mut has_running = false;
    for status in list(pod, &["status", "containerStatuses"]).iter().rev() {
        restarts.add(status);
        let waiting_reason = waiting_reason(status);
        if !waiting_reason.is_empty() {
            summary.reason = waiting_reason.to_string();
        } else if object(status, &["state", "terminated"]).is_some() {
            summary.reason = termination_reason(status);
        } else if flag(status, &["ready"]) && object(status, &["state", "running"]).is_some() {
            has_running = true;
            summary.ready = summary.ready.saturating_add(1);
        }
    }
    if summary.reason == "Completed" && has_running {
        let ready = list(pod, &["status", "conditions"])
            .iter()
            .any(|c| text(c, &["type"]) == "Ready" && text(c, &["status"]) == "True");
        summary.reason = if ready { "Running" } else { "NotReady" }.to_string();
    }
    summary.restarts = restarts.count;
    summary.last_restart = restarts.last;
}

/// `state.waiting.reason`, empty when not waiting.
fn waiting_reason(status: &Value) -> &str {
    text(status, &["state", "waiting", "reason"])
}

/// A terminated container's reason, else `Signal:N`, else `ExitCode:N`.
fn termination_reason(status: &Value) -> String {
    let terminated = at(status, &["state", "terminated"]).unwrap_or(&Value::Null);
    match text(terminated, &["reason"]) {
        "" => match integer(terminated, &["signal"]) {
            0 => format!("ExitCode:{}", integer(terminated, &["exitCode"])),
            signal => format!("Signal:{signal}"),
        },
        reason => reason.to_string(),
    }
}

/// The init container spec of that name; upstream indexes by name, so a later duplicate wins.
fn spec_named<'a>(specs: &'a [Value], container: &str) -> Option<&'a Value> {
    specs
        .iter()
        .rev()
        .find(|spec| text(spec, &["name"]) == container)
}

/// A sidecar: an init container with `restartPolicy: Always`.
fn is_restartable(spec: &Value) -> bool {
    text(spec, &["restartPolicy"]) == "Always"
}

/// Whether the first condition of that type is `True`, like upstream's condition helpers.
fn condition_is_true(pod: &Value, condition_type: &str) -> bool {
    list(pod, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == condition_type)
        .is_some_and(|c| text(c, &["status"]) == "True")
}

/// The primary pod IP: `status.podIP` wins over `status.podIPs[0]`, as in the v1 conversion.
fn pod_ip(pod: &Value) -> &str {
    match text(pod, &["status", "podIP"]) {
        "" => list(pod, &["status", "podIPs"])
            .first()
            .map_or("", |ip| text(ip, &["ip"])),
        ip => ip,
    }
}

/// `true/total` readiness gates, `<none>` without gates.
fn readiness_gates(pod: &Value) -> String {
    let gates = list(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let passing = gates
        .iter()
        .filter(|gate| condition_is_true(pod, text(gate, &["conditionType"])))
        .count();
    format!("{passing}/{}", gates.len())
}

fn or_none(value: &str) -> &str {
    if value.is_empty() { "<none>" } else { value }
}

#[cfg(test)]
mod tests;
