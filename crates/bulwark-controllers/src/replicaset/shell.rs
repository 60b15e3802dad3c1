//! The ReplicaSet controller's I/O: informers for ReplicaSets and pods, the work queue, and the
//! writes `core` asks for (adopt/release patches, pod creates in slow-start batches, deletes,
//! status), with events for each.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::core::{self, Failure};
use crate::labels::{controller_owner, controller_ref, selector};
use crate::runtime::adoption;
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::EventRecorder;
use crate::runtime::expectations::{Expectations, Presence};
use crate::runtime::pod_control::PodControl;
use crate::runtime::{
    RESYNC_PERIOD, api_message, ignore_not_found, informer, key_of, resync, stopped,
};
use crate::{Error, Shared};

const COMPONENT: &str = "replicaset-controller";
/// How soon to look again while writes are not yet in the cache.
const EXPECTATIONS_POLL: Duration = Duration::from_millis(200);

struct Context {
    shared: Shared,
    pods: Store<Pod>,
    expectations: Expectations,
    failures: FailureTracker,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let pods_api: Api<Pod> = Api::all(client.clone());
    let pods = informer(pods_api.clone(), shared.stop.clone()).await;
    let controller = Controller::new(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client, COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        pods,
        expectations: Expectations::default(),
        failures: FailureTracker::default(),
    });
    controller
        .watches(pods_api, watcher::Config::default(), move |pod| {
            sets_for_pod(&sets, &pod)
        })
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// The ReplicaSets a pod event concerns: its controller, or, for an orphan, every ReplicaSet in
/// its namespace whose selector matches (so it can be adopted).
fn sets_for_pod(sets: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let namespace = pod.namespace().unwrap_or_default();
    if let Some(owner) = controller_ref(&pod.metadata) {
        if owner.kind == "ReplicaSet" {
            return vec![ObjectRef::new(&owner.name).within(&namespace)];
        }
        return vec![];
    }
    let labels = crate::labels::labels(&pod.metadata);
    sets.state()
        .iter()
        .filter(|rs| rs.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|rs| {
            let spec_selector = rs.spec.as_ref().map(|s| &s.selector);
            selector(spec_selector).is_ok_and(|s| s.matches(&labels))
        })
        .map(|rs| ObjectRef::from_obj(rs.as_ref()))
        .collect()
}

fn presence(pods: &Store<Pod>, namespace: &str, name: &str) -> Presence {
    match pods.get(&ObjectRef::new(name).within(namespace)) {
        None => Presence::Absent,
        Some(pod) if pod.metadata.deletion_timestamp.is_some() => Presence::Terminating,
        Some(_) => Presence::Present,
    }
}

async fn reconcile(rs: Arc<ReplicaSet>, context: Arc<Context>) -> Result<Action, Error> {
    let key = key_of(rs.as_ref());
    let namespace = rs.namespace().unwrap_or_default();
    let now = context.shared.clock.now();
    let in_namespace: Vec<Arc<Pod>> = context
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .collect();
    let refs: Vec<&Pod> = in_namespace.iter().map(Arc::as_ref).collect();
    let met = context
        .expectations
        .satisfied(&key, now, |name| presence(&context.pods, &namespace, name));
    let claimed = core::claim_pods(&rs, &refs)?;
    let pods_api: Api<Pod> = Api::namespaced(context.shared.client.clone(), &namespace);
    adopt_and_release(&pods_api, &rs, &claimed).await?;
    let plan = core::scale(&rs, &claimed.owned, met);
    let failure = if plan.create > 0 {
        create_pods(&context, &pods_api, &rs, plan.create).await?
    } else if !plan.delete.is_empty() {
        delete_pods(&context, &pods_api, &rs, &plan.delete).await
    } else {
        None
    };
    update_status(&context, &rs, &claimed.owned, failure.as_ref()).await?;
    context.failures.forget(&key);
    if !met || plan.create > 0 || !plan.delete.is_empty() {
        return Ok(Action::requeue(EXPECTATIONS_POLL));
    }
    Ok(core::requeue_after(&rs, &claimed.owned, now)
        .map_or_else(Action::await_change, Action::requeue))
}

fn error_policy(rs: Arc<ReplicaSet>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("replicaset", rs.as_ref(), error)
}

async fn adopt_and_release(
    api: &Api<Pod>,
    rs: &ReplicaSet,
    claimed: &core::Claimed<'_>,
) -> Result<(), Error> {
    let owner = controller_owner("apps/v1", "ReplicaSet", &rs.metadata);
    adoption::adopt_and_release(api, &owner, &claimed.adopt, &claimed.release).await?;
    Ok(())
}

fn pod_control<'a>(context: &'a Context, api: &'a Api<Pod>) -> PodControl<'a> {
    PodControl::new(
        api,
        &context.expectations,
        &context.recorder,
        &context.shared,
    )
}

/// Creates `count` pods from the template; a failure becomes the `ReplicaFailure` reason.
async fn create_pods(
    context: &Context,
    api: &Api<Pod>,
    rs: &ReplicaSet,
    count: usize,
) -> Result<Option<Failure>, Error> {
    let pods = vec![core::new_pod(rs)?; count];
    let failure = pod_control(context, api).create(rs, &pods).await;
    Ok(failure.map(|error| Failure {
        reason: "FailedCreate",
        message: format!("Error creating: {}", api_message(&error)),
    }))
}

async fn delete_pods(
    context: &Context,
    api: &Api<Pod>,
    rs: &ReplicaSet,
    names: &[String],
) -> Option<Failure> {
    let failure = pod_control(context, api)
        .delete(rs, names, &DeleteParams::default())
        .await;
    failure.map(|error| Failure {
        reason: "FailedDelete",
        message: format!("Error deleting: {}", api_message(&error)),
    })
}

async fn update_status(
    context: &Context,
    rs: &ReplicaSet,
    owned: &[&Pod],
    failure: Option<&Failure>,
) -> Result<(), Error> {
    let next = core::status(rs, owned, failure, context.shared.clock.now());
    if !core::status_changed(rs, &next) {
        return Ok(());
    }
    let mut status = crate::runtime::to_json(&next);
    if next.conditions.is_none() {
        // A merge patch keeps what it does not mention: say explicitly that the conditions are gone.
        status["conditions"] = Value::Null;
    }
    let api: Api<ReplicaSet> = Api::namespaced(
        context.shared.client.clone(),
        &rs.namespace().unwrap_or_default(),
    );
    let patch = json!({"status": status});
    ignore_not_found(
        api.patch_status(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )?;
    Ok(())
}
