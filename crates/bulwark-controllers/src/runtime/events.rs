//! Events as kube-controller-manager writes them: core/v1 Events with `involvedObject`,
//! `source.component`, `reportingComponent`, first/last timestamps and a count, so
//! `kubectl describe` and `kubectl get events` show them. Recording never fails a reconcile.

use std::sync::Arc;

use bulwark_core::clock::Clock;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::PostParams;
use kube::{Api, Resource, ResourceExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Clone)]
pub struct EventRecorder {
    client: kube::Client,
    component: String,
    clock: Arc<dyn Clock>,
}

/// The reference an Event points at.
pub fn reference_to<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: object.meta().name.clone(),
        namespace: object.meta().namespace.clone(),
        uid: object.meta().uid.clone(),
        resource_version: object.meta().resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// Pure: the Event object for one occurrence at `now`.
pub fn build_event(
    regarding: ObjectReference,
    kind: EventType,
    reason: &str,
    message: &str,
    component: &str,
    now: jiff::Timestamp,
) -> Event {
    let base = regarding.name.clone().unwrap_or_default();
    // Upstream names events `<object>.<hex unix nanos>`; unique enough per object.
    let name = format!("{base}.{:x}", now.as_nanosecond());
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: regarding
                .namespace
                .clone()
                .or_else(|| Some("default".into())),
            ..ObjectMeta::default()
        },
        involved_object: regarding,
        reason: Some(reason.into()),
        message: Some(message.into()),
        type_: Some(kind.as_str().into()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        reporting_component: Some(component.into()),
        reporting_instance: Some(component.into()),
        ..Event::default()
    }
}

impl EventRecorder {
    pub fn new(client: kube::Client, component: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            component: component.into(),
            clock,
        }
    }

    pub async fn record<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let event = build_event(
            reference_to(object),
            kind,
            reason,
            message,
            &self.component,
            self.clock.now(),
        );
        let namespace = object.namespace().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        if let Err(error) = api.create(&PostParams::default(), &event).await {
            tracing::debug!(%error, reason, "cannot record an event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;

    #[test]
    fn events_point_at_their_object() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web-1".into());
        rs.metadata.namespace = Some("prod".into());
        rs.metadata.uid = Some("u1".into());
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let event = build_event(
            reference_to(&rs),
            EventType::Normal,
            "SuccessfulCreate",
            "Created pod: web-1-abc",
            "replicaset-controller",
            now,
        );
        assert_eq!(event.involved_object.kind.as_deref(), Some("ReplicaSet"));
        assert_eq!(
            event.involved_object.api_version.as_deref(),
            Some("apps/v1")
        );
        assert_eq!(event.metadata.namespace.as_deref(), Some("prod"));
        assert!(event.metadata.name.unwrap().starts_with("web-1."));
        assert_eq!(
            event.source.unwrap().component.as_deref(),
            Some("replicaset-controller")
        );
    }
}
