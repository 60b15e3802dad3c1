//! The DaemonSet controller's I/O: informers for DaemonSets, nodes, pods and ControllerRevisions,
//! the work queue, and the writes the cores ask for (adoption, revisions, pod creates in
//! slow-start batches, deletes, status), with `SuccessfulCreate`, `SuccessfulDelete`,
//! `FailedCreate`, `FailedDelete` and `FailedDaemonPod` events.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::core::{self, FailedPodBackoff, HASH_LABEL, Plan, World};
use super::history::{self, HistoryPlan};
use crate::labels::{Claim, claim, controller_owner, controller_ref, selector};
use crate::runtime::adoption::adopt_and_release;
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::{EventRecorder, EventType};
use crate::runtime::expectations::{Expectations, Presence};
use crate::runtime::pod_control::PodControl;
use crate::runtime::{RESYNC_PERIOD, ignore_not_found, informer, key_of, resync, stopped, to_json};
use crate::{Error, Shared};

const COMPONENT: &str = "daemonset-controller";
/// How soon to look again after writes, while they are not yet in the caches.
const AFTER_WRITE: Duration = Duration::from_millis(300);
/// A quiet sync looks again after this long: trigger watches can run ahead of the caches.
const RECHECK: Duration = Duration::from_secs(2);

struct Context {
    shared: Shared,
    nodes: Store<Node>,
    pods: Store<Pod>,
    revisions: Store<ControllerRevision>,
    expectations: Expectations,
    failures: FailureTracker,
    failed_pods: Mutex<FailedPodBackoff>,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let pods_api: Api<Pod> = Api::all(client.clone());
    let nodes_api: Api<Node> = Api::all(client.clone());
    let pods = informer(pods_api.clone(), shared.stop.clone()).await;
    let nodes = informer(nodes_api.clone(), shared.stop.clone()).await;
    let revisions = informer(Api::all(client.clone()), shared.stop.clone()).await;
    let controller = Controller::new(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client, COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        nodes,
        pods,
        revisions,
        expectations: Expectations::default(),
        failures: FailureTracker::default(),
        failed_pods: Mutex::new(FailedPodBackoff::default()),
    });
    let for_pods = sets.clone();
    controller
        .watches(pods_api, watcher::Config::default(), move |pod| {
            sets_for_pod(&for_pods, &pod)
        })
        // Any node change (added, relabelled, tainted, gone) may change where daemons run.
        .watches(nodes_api, watcher::Config::default(), move |_node| {
            sets.state()
                .iter()
                .map(|ds| ObjectRef::from_obj(ds.as_ref()))
                .collect::<Vec<_>>()
        })
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()))
        .await;
}

fn selects<K: Resource>(ds: &DaemonSet, object: &K) -> bool {
    let spec_selector = ds.spec.as_ref().map(|s| &s.selector);
    let labels = crate::labels::labels(object.meta());
    selector(spec_selector).is_ok_and(|s| s.matches(&labels))
}

/// A pod's DaemonSet, or for an orphan every DaemonSet in its namespace that selects it.
fn sets_for_pod(sets: &Store<DaemonSet>, pod: &Pod) -> Vec<ObjectRef<DaemonSet>> {
    let namespace = pod.namespace().unwrap_or_default();
    if let Some(owner) = controller_ref(&pod.metadata) {
        if owner.kind == "DaemonSet" {
            return vec![ObjectRef::new(&owner.name).within(&namespace)];
        }
        return vec![];
    }
    sets.state()
        .iter()
        .filter(|ds| ds.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|ds| selects(ds, pod))
        .map(|ds| ObjectRef::from_obj(ds.as_ref()))
        .collect()
}

fn error_policy(ds: Arc<DaemonSet>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("daemonset", ds.as_ref(), error)
}

/// Objects of the DaemonSet's namespace sorted by `ControllerRefManager`'s rules.
struct Claimed<K> {
    owned: Vec<Arc<K>>,
    adopt: Vec<Arc<K>>,
    release: Vec<Arc<K>>,
}

fn claim_in<K: Resource>(ds: &DaemonSet, objects: Vec<Arc<K>>) -> Result<Claimed<K>, Error> {
    let selector = selector(ds.spec.as_ref().map(|s| &s.selector))?;
    let uid = ds.metadata.uid.as_deref().unwrap_or_default();
    let deleting = ds.metadata.deletion_timestamp.is_some();
    let namespace = ds.namespace();
    let mut claimed = Claimed {
        owned: vec![],
        adopt: vec![],
        release: vec![],
    };
    for object in objects {
        if object.meta().namespace != namespace {
            continue;
        }
        match claim(object.meta(), uid, deleting, &selector) {
            Claim::Owned => claimed.owned.push(object),
            Claim::Adopt => {
                claimed.owned.push(Arc::clone(&object));
                claimed.adopt.push(object);
            }
            Claim::Release => claimed.release.push(object),
            Claim::Ignore => {}
        }
    }
    Ok(claimed)
}

async fn claim_writes<K>(api: &Api<K>, ds: &DaemonSet, claimed: &Claimed<K>) -> Result<(), Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let owner = controller_owner("apps/v1", "DaemonSet", &ds.metadata);
    let adopt: Vec<&K> = claimed.adopt.iter().map(Arc::as_ref).collect();
    let release: Vec<&K> = claimed.release.iter().map(Arc::as_ref).collect();
    adopt_and_release(api, &owner, &adopt, &release).await?;
    Ok(())
}

fn presence(pods: &Store<Pod>, namespace: &str, name: &str) -> Presence {
    match pods.get(&ObjectRef::new(name).within(namespace)) {
        None => Presence::Absent,
        Some(pod) if pod.metadata.deletion_timestamp.is_some() => Presence::Terminating,
        Some(_) => Presence::Present,
    }
}

async fn reconcile(ds: Arc<DaemonSet>, context: Arc<Context>) -> Result<Action, Error> {
    let key = key_of(ds.as_ref());
    let namespace = ds.namespace().unwrap_or_default();
    let client = context.shared.client.clone();
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let revisions_api: Api<ControllerRevision> = Api::namespaced(client, &namespace);
    let pods = claim_in(&ds, context.pods.state())?;
    claim_writes(&pods_api, &ds, &pods).await?;
    let revisions = claim_in(&ds, context.revisions.state())?;
    claim_writes(&revisions_api, &ds, &revisions).await?;
    let owned_revisions: Vec<&ControllerRevision> =
        revisions.owned.iter().map(Arc::as_ref).collect();
    let history = history::plan(&ds, &owned_revisions)?;
    if !write_history(&context, &revisions_api, &ds, &history).await? {
        return Ok(Action::requeue(AFTER_WRITE));
    }
    let nodes = context.nodes.state();
    let node_refs: Vec<&Node> = nodes.iter().map(Arc::as_ref).collect();
    let pod_refs: Vec<&Pod> = pods.owned.iter().map(Arc::as_ref).collect();
    let now = context.shared.clock.now();
    let world = World {
        ds: &ds,
        nodes: &node_refs,
        pods: &pod_refs,
        hash: &history.hash,
        now,
    };
    let met = context
        .expectations
        .satisfied(&key, now, |name| presence(&context.pods, &namespace, name));
    let mut plan = Plan::default();
    if met && ds.metadata.deletion_timestamp.is_none() {
        plan = decide(&context, &world)?;
        execute(&context, &pods_api, &ds, &history.hash, &plan).await?;
        if plan.is_empty() {
            let live: BTreeSet<String> = pod_refs
                .iter()
                .filter_map(|p| p.labels().get(HASH_LABEL).cloned())
                .collect();
            for name in history::cleanup(&ds, &owned_revisions, &history.hash, &live) {
                ignore_not_found(revisions_api.delete(&name, &DeleteParams::default()).await)?;
            }
        }
    }
    write_status(&context, &ds, &world).await?;
    context.failures.forget(&key);
    if !met || !plan.is_empty() {
        return Ok(Action::requeue(AFTER_WRITE));
    }
    let next = [plan.requeue, core::requeue_for_availability(&world)]
        .into_iter()
        .flatten()
        .fold(RECHECK, Duration::min);
    Ok(Action::requeue(next))
}

/// `manage`, then, when it has nothing to do, a rolling-update step.
fn decide(context: &Context, world: &World) -> Result<Plan, Error> {
    let mut backoff = context
        .failed_pods
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    backoff.forget_idle(world.now);
    let plan = core::manage(world, &mut backoff)?;
    if plan.is_empty() && core::uses_rolling_update(world.ds) {
        let mut step = core::rolling_update(world)?;
        step.requeue = plan.requeue;
        return Ok(step);
    }
    Ok(plan)
}

/// Makes the history match the plan; false when the revision's name is taken by another
/// template (a hash collision: the count is bumped and the sync runs again).
async fn write_history(
    context: &Context,
    api: &Api<ControllerRevision>,
    ds: &DaemonSet,
    plan: &HistoryPlan,
) -> Result<bool, Error> {
    for name in &plan.delete {
        ignore_not_found(api.delete(name, &DeleteParams::default()).await)?;
    }
    if let Some((name, revision)) = &plan.renumber {
        let patch = json!({"revision": revision});
        ignore_not_found(
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )?;
    }
    let Some(revision) = &plan.create else {
        return Ok(true);
    };
    match api.create(&PostParams::default(), revision).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api.get(&revision.name_any()).await?;
            let ours = controller_ref(&existing.metadata)
                .is_some_and(|o| Some(&o.uid) == ds.metadata.uid.as_ref());
            if ours && existing.data == revision.data {
                return Ok(true);
            }
            let collisions = ds
                .status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0);
            let patch = json!({"status": {"collisionCount": collisions + 1}});
            patch_status(context, ds, &patch).await?;
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

async fn execute(
    context: &Context,
    api: &Api<Pod>,
    ds: &DaemonSet,
    hash: &str,
    plan: &Plan,
) -> Result<(), Error> {
    for failed in &plan.failed {
        let message = format!(
            "Found failed daemon pod {}/{} on node {}, will try to kill it",
            ds.namespace().unwrap_or_default(),
            failed.pod,
            failed.node
        );
        context
            .recorder
            .record(ds, EventType::Warning, "FailedDaemonPod", &message)
            .await;
    }
    create_pods(context, api, ds, hash, &plan.create).await?;
    delete_pods(context, api, ds, &plan.delete).await;
    Ok(())
}

/// Creates one pod per node; a failure stops the rest until the next reconcile.
async fn create_pods(
    context: &Context,
    api: &Api<Pod>,
    ds: &DaemonSet,
    hash: &str,
    nodes: &[String],
) -> Result<(), Error> {
    let pods: Vec<Pod> = nodes
        .iter()
        .map(|node| core::new_pod(ds, node, hash))
        .collect::<Result<_, _>>()?;
    pod_control(context, api).create(ds, &pods).await;
    Ok(())
}

async fn delete_pods(context: &Context, api: &Api<Pod>, ds: &DaemonSet, names: &[String]) {
    pod_control(context, api)
        .delete(ds, names, &DeleteParams::default())
        .await;
}

fn pod_control<'a>(context: &'a Context, api: &'a Api<Pod>) -> PodControl<'a> {
    PodControl::new(
        api,
        &context.expectations,
        &context.recorder,
        &context.shared,
    )
}

async fn write_status(context: &Context, ds: &DaemonSet, world: &World<'_>) -> Result<(), Error> {
    let next = core::status(world)?;
    if !core::status_changed(ds, &next) {
        return Ok(());
    }
    patch_status(context, ds, &json!({"status": to_json(&next)})).await
}

async fn patch_status(
    context: &Context,
    ds: &DaemonSet,
    patch: &serde_json::Value,
) -> Result<(), Error> {
    let api: Api<DaemonSet> = Api::namespaced(
        context.shared.client.clone(),
        &ds.namespace().unwrap_or_default(),
    );
    ignore_not_found(
        api.patch_status(
            &ds.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await,
    )?;
    Ok(())
}
