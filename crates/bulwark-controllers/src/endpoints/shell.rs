//! The Endpoints and EndpointSlice controllers' I/O, sharing one work queue keyed by Service.
//!
//! Pods come through a reflector whose store is updated *before* its events reach the queue,
//! so a reconcile triggered by a pod change always sees that change (no polling, no waiting
//! for a resync): a readiness change reaches the Endpoints and slices within a round trip or
//! two. Current Endpoints and slices are read fresh from the API in each reconcile, so a write
//! of ours is never judged against a stale cache. Services that go away take their Endpoints
//! and slices with them (a watch on Services, and a periodic sweep for deletions a relist hid).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::core;
use crate::endpointslice::core::{self as slices, SliceAction};
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::{EventRecorder, EventType};
use crate::runtime::{
    RESYNC_PERIOD, api_message, ignore_not_found, informer, key_of, resync, stopped,
};
use crate::{Error, Shared};

const COMPONENT: &str = "endpoint-controller";

/// The pods each Service selected at its last reconcile, so that a pod that stops matching
/// (relabelled) still wakes the Service that listed it.
#[derive(Default)]
struct Membership {
    by_service: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl Membership {
    fn record(&self, service: &str, pods: BTreeSet<String>) {
        let mut map = self.by_service.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(service.to_string(), pods);
    }

    fn forget(&self, service: &str) {
        let mut map = self.by_service.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(service);
    }

    fn services_listing(&self, pod: &str) -> Vec<String> {
        let map = self.by_service.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, pods)| pods.contains(pod))
            .map(|(service, _)| service.clone())
            .collect()
    }
}

struct Context {
    shared: Shared,
    members: Arc<Membership>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    failures: FailureTracker,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let (pods, pod_writer) = reflector::store();
    let pod_events = reflector::reflector(
        pod_writer,
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let nodes = informer(Api::<Node>::all(client.clone()), shared.stop.clone()).await;
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let services = controller.store();
    let members = Arc::new(Membership::default());
    let context = Arc::new(Context {
        members: Arc::clone(&members),
        recorder: EventRecorder::new(client.clone(), COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        pods,
        nodes,
        failures: FailureTracker::default(),
    });
    let managed = watcher::Config::default().labels(&format!(
        "{}={}",
        slices::MANAGED_BY_LABEL,
        slices::CONTROLLER_NAME
    ));
    let mapper_services = services.clone();
    let cleanup = clean_up_after_services(shared.clone(), services.clone(), Arc::clone(&members));
    let reconciles = controller
        .watches_stream(pod_events, move |pod| {
            services_for_pod(&mapper_services, &members, &pod)
        })
        .watches(
            Api::<Endpoints>::all(client.clone()),
            watcher::Config::default().labels(&format!(
                "{}={}",
                core::MANAGED_BY_LABEL,
                core::CONTROLLER_NAME
            )),
            |endpoints| {
                // Endpoints are named like their Service.
                let namespace = endpoints.namespace().unwrap_or_default();
                Some(ObjectRef::new(&endpoints.name_any()).within(&namespace))
            },
        )
        .watches(Api::<EndpointSlice>::all(client), managed, |slice| {
            service_of_slice(&slice)
        })
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()));
    futures::join!(reconciles, cleanup);
}

fn service_of_slice(slice: &EndpointSlice) -> Option<ObjectRef<Service>> {
    let name = slice.labels().get(slices::SERVICE_NAME_LABEL)?;
    Some(ObjectRef::new(name).within(&slice.namespace().unwrap_or_default()))
}

/// The Services whose selector matches the pod (its last known labels, for a deleted pod), and
/// those that listed it before.
fn services_for_pod(
    services: &Store<Service>,
    members: &Membership,
    pod: &Pod,
) -> Vec<ObjectRef<Service>> {
    let namespace = pod.namespace().unwrap_or_default();
    let labels = crate::labels::labels(&pod.metadata);
    let mut keys: BTreeSet<(String, String)> = services
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|s| core::selector(s).is_some_and(|selector| selector.matches(&labels)))
        .map(|s| (namespace.clone(), s.name_any()))
        .collect();
    for service in members.services_listing(&key_of(pod)) {
        if let Some((namespace, name)) = service.split_once('/') {
            keys.insert((namespace.to_string(), name.to_string()));
        }
    }
    keys.into_iter()
        .map(|(namespace, name)| ObjectRef::new(&name).within(&namespace))
        .collect()
}

async fn reconcile(service: Arc<Service>, context: Arc<Context>) -> Result<Action, Error> {
    if core::selector(&service).is_none() {
        // No selector: the user manages this Service's Endpoints.
        return Ok(Action::await_change());
    }
    let _ = context.pods.wait_until_ready().await;
    let namespace = service.namespace().unwrap_or_default();
    let in_namespace: Vec<Arc<Pod>> = context
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .collect();
    let pods: Vec<&Pod> = in_namespace.iter().map(Arc::as_ref).collect();
    let selected = core::selected(&service, &pods)
        .into_iter()
        .map(key_of)
        .collect();
    context.members.record(&key_of(service.as_ref()), selected);
    let endpoints = sync_endpoints(&context, &service, &pods).await;
    let slices = sync_slices(&context, &service, &pods).await;
    endpoints.and(slices)?;
    context.failures.forget(&key_of(service.as_ref()));
    Ok(Action::await_change())
}

async fn sync_endpoints(context: &Context, service: &Service, pods: &[&Pod]) -> Result<(), Error> {
    let api: Api<Endpoints> = Api::namespaced(
        context.shared.client.clone(),
        &service.namespace().unwrap_or_default(),
    );
    let name = service.name_any();
    let current = api.get_opt(&name).await?;
    let desired = core::desired(service, pods, current.as_ref());
    let written = match current {
        None => api.create(&PostParams::default(), &desired).await.map(drop),
        Some(current) if core::needs_update(&current, &desired) => {
            let mut next = current.clone();
            next.metadata.labels = desired.metadata.labels;
            next.metadata.annotations = desired.metadata.annotations;
            next.subsets = desired.subsets;
            api.replace(&name, &PostParams::default(), &next)
                .await
                .map(drop)
        }
        Some(_) => Ok(()),
    };
    if let Err(error) = &written {
        let message = format!(
            "Failed to update endpoint {namespace}/{name}: {}",
            api_message(error),
            namespace = service.namespace().unwrap_or_default()
        );
        context
            .recorder
            .record(
                service,
                EventType::Warning,
                "FailedToUpdateEndpoint",
                &message,
            )
            .await;
    }
    Ok(written?)
}

async fn sync_slices(context: &Context, service: &Service, pods: &[&Pod]) -> Result<(), Error> {
    let api: Api<EndpointSlice> = Api::namespaced(
        context.shared.client.clone(),
        &service.namespace().unwrap_or_default(),
    );
    let selector = format!("{}={}", slices::SERVICE_NAME_LABEL, service.name_any());
    let existing = api.list(&ListParams::default().labels(&selector)).await?;
    let existing: Vec<&EndpointSlice> = existing.items.iter().collect();
    let nodes = context.nodes.state();
    let nodes: Vec<&Node> = nodes.iter().map(Arc::as_ref).collect();
    let actions = slices::reconcile(service, pods, &nodes, &existing);
    let mut failure = None;
    for action in actions {
        let result = match &action {
            SliceAction::Create(slice) => api.create(&PostParams::default(), slice).await.map(drop),
            SliceAction::Update(slice) => {
                let name = slice.name_any();
                api.replace(&name, &PostParams::default(), slice)
                    .await
                    .map(drop)
            }
            SliceAction::Delete(name) => {
                ignore_not_found(api.delete(name, &DeleteParams::default()).await)
            }
        };
        if let Err(error) = result {
            failure.get_or_insert(error);
        }
    }
    let Some(error) = failure else {
        return Ok(());
    };
    let message = format!(
        "Error updating Endpoint Slices for Service {}/{}: {}",
        service.namespace().unwrap_or_default(),
        service.name_any(),
        api_message(&error)
    );
    context
        .recorder
        .record(
            service,
            EventType::Warning,
            "FailedToUpdateEndpointSlices",
            &message,
        )
        .await;
    Err(error.into())
}

fn error_policy(service: Arc<Service>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("endpoints", service.as_ref(), error)
}

/// Deletes the Endpoints and slices of Services that are gone: at once on a delete event, and
/// in a periodic sweep for deletions a relist folded away.
async fn clean_up_after_services(
    shared: Shared,
    services: Store<Service>,
    members: Arc<Membership>,
) {
    let client = shared.client.clone();
    let deletions = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .filter_map(|event| async move {
        match event {
            Ok(watcher::Event::Delete(service)) => Some(Some(service)),
            _ => None,
        }
    });
    // A sweep at start (leftovers of Services deleted while no controller ran), then periodically.
    let sweeps = futures::stream::once(async {})
        .chain(resync(RESYNC_PERIOD))
        .map(|()| None);
    let triggers =
        futures::stream::select(deletions, sweeps).take_until(stopped(shared.stop.clone()));
    futures::pin_mut!(triggers);
    while let Some(trigger) = triggers.next().await {
        match trigger {
            Some(service) => {
                let namespace = service.namespace().unwrap_or_default();
                members.forget(&key_of(&service));
                delete_leftovers(&client, &namespace, &service.name_any()).await;
            }
            None => sweep(&client, &services).await,
        }
    }
}

async fn delete_leftovers(client: &kube::Client, namespace: &str, name: &str) {
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    if let Ok(Some(current)) = endpoints.get_opt(name).await
        && current
            .labels()
            .get(core::MANAGED_BY_LABEL)
            .map(String::as_str)
            == Some(core::CONTROLLER_NAME)
        && let Err(error) = ignore_not_found(endpoints.delete(name, &DeleteParams::default()).await)
    {
        tracing::debug!(%error, namespace, name, "cannot delete the Endpoints of a deleted Service");
    }
    let slices_api: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let selector = format!(
        "{}={},{}={}",
        slices::SERVICE_NAME_LABEL,
        name,
        slices::MANAGED_BY_LABEL,
        slices::CONTROLLER_NAME
    );
    if let Err(error) = slices_api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(&selector),
        )
        .await
    {
        tracing::debug!(%error, namespace, name, "cannot delete the slices of a deleted Service");
    }
}

/// Managed Endpoints and slices whose Service is not in the (synced) cache.
async fn sweep(client: &kube::Client, services: &Store<Service>) {
    if services.wait_until_ready().await.is_err() {
        return;
    }
    let live: BTreeSet<(String, String)> = services
        .state()
        .iter()
        .map(|s| (s.namespace().unwrap_or_default(), s.name_any()))
        .collect();
    let mut orphans = BTreeSet::new();
    let endpoints: Api<Endpoints> = Api::all(client.clone());
    let selector = format!("{}={}", core::MANAGED_BY_LABEL, core::CONTROLLER_NAME);
    if let Ok(list) = endpoints
        .list(&ListParams::default().labels(&selector))
        .await
    {
        orphans.extend(
            list.items
                .iter()
                .map(|e| (e.namespace().unwrap_or_default(), e.name_any())),
        );
    }
    let slices_api: Api<EndpointSlice> = Api::all(client.clone());
    let selector = format!("{}={}", slices::MANAGED_BY_LABEL, slices::CONTROLLER_NAME);
    if let Ok(list) = slices_api
        .list(&ListParams::default().labels(&selector))
        .await
    {
        orphans.extend(list.items.iter().filter_map(|s| {
            let service = s.labels().get(slices::SERVICE_NAME_LABEL)?.clone();
            Some((s.namespace().unwrap_or_default(), service))
        }));
    }
    for (namespace, name) in orphans.difference(&live) {
        // The cache may lag a Service created a moment ago: ask the API before deleting.
        let api: Api<Service> = Api::namespaced(client.clone(), namespace);
        if let Ok(None) = api.get_opt(name).await {
            delete_leftovers(client, namespace, name).await;
        }
    }
}
