//! Every write the scheduler makes, through the Kubernetes API: bindings, pod conditions,
//! nominations, preemption's deletes, and events (core `v1`, reported by `default-scheduler`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulwark_core::clock::{Clock, format_micro_time, format_time};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// Upstream's `PodReasonUnschedulable`.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
pub const REASON_PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// The scheduler's handle on the API: a client, its name as a reporting component, a clock
/// for timestamps.
#[derive(Clone)]
pub struct Writer {
    client: Client,
    component: String,
    clock: Arc<dyn Clock>,
    event_sequence: Arc<AtomicU64>,
}

impl Writer {
    pub fn new(client: Client, component: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            component: component.to_string(),
            clock,
            event_sequence: Arc::new(AtomicU64::new(0)),
        }
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `POST pods/{name}/binding`: the API server sets `spec.nodeName` and `PodScheduled=True`.
    pub async fn bind(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let namespace = pod.namespace().unwrap_or_else(|| "default".into());
        let name = pod.name_any();
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": pod.uid()},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.pods(&namespace)
            .create_subresource::<Value, Value>("binding", &name, &PostParams::default(), &binding)
            .await
            .map(drop)
    }

    /// `PodScheduled=False`, reason `Unschedulable`, with the scheduler's explanation — only on
    /// the version of the pod that was considered (a 409 otherwise): a pod bound or changed
    /// meanwhile must not be labelled with a stale verdict.
    pub async fn mark_unschedulable(&self, pod: &Pod, message: &str) -> Result<(), kube::Error> {
        let condition = json!({
            "type": "PodScheduled",
            "status": "False",
            "reason": REASON_UNSCHEDULABLE,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": format_time(self.clock.now()),
        });
        let patch = json!({
            "metadata": {"resourceVersion": pod.resource_version()},
            "status": {"conditions": [condition]},
        });
        self.patch_status(pod, patch).await
    }

    /// `status.nominatedNodeName`: where the pod waits for its victims to leave.
    pub async fn nominate(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        self.patch_status(pod, json!({"status": {"nominatedNodeName": node}}))
            .await
    }

    /// Preempts one victim as upstream does: a `DisruptionTarget` condition, a `Preempted`
    /// event, then a graceful delete (the victim's own grace period).
    pub async fn evict_victim(
        &self,
        victim: &Pod,
        preemptor: &Pod,
        node: &str,
    ) -> Result<(), kube::Error> {
        let condition = json!({
            "type": "DisruptionTarget",
            "status": "True",
            "reason": REASON_PREEMPTION_BY_SCHEDULER,
            "message": format!("{}: preempting to accommodate a higher priority pod", self.component),
            "lastProbeTime": null,
            "lastTransitionTime": format_time(self.clock.now()),
        });
        self.patch_status(victim, json!({"status": {"conditions": [condition]}}))
            .await?;
        let message = format!(
            "Preempted by pod {} on node {node}",
            preemptor.uid().unwrap_or_default()
        );
        self.event(
            victim,
            EventType::Normal,
            "Preempted",
            "Preempting",
            &message,
        )
        .await;
        let namespace = victim.namespace().unwrap_or_else(|| "default".into());
        let precondition = DeleteParams {
            preconditions: victim.uid().map(|uid| kube::api::Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        self.pods(&namespace)
            .delete(&victim.name_any(), &precondition)
            .await
            .map(drop)
    }

    async fn patch_status(&self, pod: &Pod, patch: Value) -> Result<(), kube::Error> {
        let namespace = pod.namespace().unwrap_or_else(|| "default".into());
        // Strategic merge: conditions merge by type, so other conditions stay as they are.
        self.pods(&namespace)
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
            .map(drop)
    }

    /// Records an event about a pod. Failures are logged, never fatal: events are advisory.
    pub async fn event(
        &self,
        pod: &Pod,
        kind: EventType,
        reason: &str,
        action: &str,
        message: &str,
    ) {
        let namespace = pod.namespace().unwrap_or_else(|| "default".into());
        let now = self.clock.now();
        let sequence = self.event_sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.{:x}{:04x}",
            pod.name_any(),
            now.as_nanosecond(),
            sequence % 0x1_0000
        );
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.name_any(),
                "namespace": namespace,
                "uid": pod.uid(),
                "resourceVersion": pod.resource_version(),
            },
            "reason": reason,
            "message": message,
            "type": kind.as_str(),
            "action": action,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.component,
            "firstTimestamp": format_time(now),
            "lastTimestamp": format_time(now),
            "eventTime": format_micro_time(now),
            "count": 1,
        });
        let event: Event = match serde_json::from_value(event) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "cannot build an event");
                return;
            }
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(error) = events.create(&PostParams::default(), &event).await {
            tracing::warn!(%error, pod = %pod.name_any(), reason, "cannot record an event");
        }
    }
}

/// Whether a binding error means the pod is gone, being deleted or already bound: retrying
/// cannot help (a write conflict, by contrast, is worth another try).
pub fn is_final(error: &kube::Error) -> bool {
    let kube::Error::Api(status) = error else {
        return false;
    };
    status.is_not_found()
        || (status.is_conflict()
            && (status.message.contains("already assigned")
                || status.message.contains("being deleted")))
}
