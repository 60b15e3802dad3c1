//! Events the agent records against pods, as the kubelet writes them (`source.component:
//! kubelet`), through a bounded queue so a slow API server never stalls a pod worker.
//!
//! Repeats of the same event (same pod, reason and message) within ten minutes bump the
//! first one's `count` and `lastTimestamp` instead of creating another, as upstream's
//! aggregation does, so a crash loop does not flood the namespace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bulwark_core::clock::Clock;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

use crate::pod_worker::PodEvent;

/// Events waiting to be written; past this they are dropped with a warning.
const QUEUE: usize = 4096;
/// How long a repeat folds into an earlier event.
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
/// How many distinct events are remembered for folding.
const REMEMBERED: usize = 4096;

/// Where pod workers send events.
#[derive(Clone)]
pub struct EventSink {
    sender: mpsc::Sender<(ObjectReference, PodEvent)>,
}

impl EventSink {
    /// Starts the writer task for `component` events from `host`.
    pub fn start(client: kube::Client, host: String, clock: Arc<dyn Clock>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, host, clock, receiver));
        Self { sender }
    }

    /// Queues an event about `pod`.
    pub fn record(&self, pod: &Pod, event: PodEvent) {
        let reference = ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Pod".to_string()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: event.field_path.clone(),
        };
        if self.sender.try_send((reference, event)).is_err() {
            tracing::warn!("event queue full: an event was dropped");
        }
    }
}

struct Written {
    name: String,
    count: i32,
    at: Timestamp,
}

async fn write_events(
    client: kube::Client,
    host: String,
    clock: Arc<dyn Clock>,
    mut receiver: mpsc::Receiver<(ObjectReference, PodEvent)>,
) {
    let mut written: HashMap<(String, &'static str, String), Written> = HashMap::new();
    let mut sequence: u64 = 0;
    while let Some((reference, event)) = receiver.recv().await {
        let namespace = reference.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        let now = clock.now();
        let key = (
            reference.uid.clone().unwrap_or_default(),
            event.reason,
            event.message.clone(),
        );
        if let Some(seen) = written.get_mut(&key)
            && crate::timing::elapsed(seen.at, now) < AGGREGATE_WINDOW
        {
            seen.count += 1;
            seen.at = now;
            let patch = serde_json::json!({"count": seen.count, "lastTimestamp": Time(now)});
            if api
                .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                continue;
            }
        }
        if written.len() >= REMEMBERED {
            written.clear();
        }
        sequence += 1;
        let name = format!(
            "{}.{:x}{:04x}",
            reference.name.as_deref().unwrap_or("pod"),
            now.as_nanosecond(),
            sequence & 0xffff
        );
        let object = event_object(&name, &host, reference, &event, now);
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => {
                written.insert(
                    key,
                    Written {
                        name,
                        count: 1,
                        at: now,
                    },
                );
            }
            Err(error) => tracing::debug!(%error, "cannot record event"),
        }
    }
}

fn event_object(
    name: &str,
    host: &str,
    reference: ObjectReference,
    event: &PodEvent,
    now: Timestamp,
) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: reference.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: reference,
        reason: Some(event.reason.to_string()),
        message: Some(event.message.clone()),
        type_: Some(if event.warning { "Warning" } else { "Normal" }.to_string()),
        source: Some(EventSource {
            component: Some("kubelet".to_string()),
            host: Some(host.to_string()),
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some("kubelet".to_string()),
        reporting_instance: Some(host.to_string()),
        ..Event::default()
    }
}
