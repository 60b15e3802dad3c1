//! The Deployment controller's I/O: informers for Deployments, ReplicaSets and pods, the work
//! queue, and the writes `core` plans (adopt/release, create, resize, delete ReplicaSets; the
//! revision annotation; status), with a `ScalingReplicaSet` event per resize.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::core::{self, Plan};
use crate::labels::{Claim, claim, controller_owner, controller_ref, selector};
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::{EventRecorder, EventType};
use crate::runtime::{RESYNC_PERIOD, ignore_not_found, informer, key_of, resync, stopped, to_json};
use crate::{Error, Shared};

const COMPONENT: &str = "deployment-controller";
/// How soon to look again after a write, in case its watch event is slow.
const AFTER_WRITE: Duration = Duration::from_millis(500);
/// How soon to look again after a quiet reconcile: the ReplicaSet and pod caches are fed by
/// other watches than the triggers, so a trigger can arrive before its change is in the cache
/// (kube's stable API has no trigger-from-this-store); a second look settles it.
const RECHECK: Duration = Duration::from_secs(2);

struct Context {
    shared: Shared,
    sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    failures: FailureTracker,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let sets_api: Api<ReplicaSet> = Api::all(client.clone());
    let pods_api: Api<Pod> = Api::all(client.clone());
    let sets = informer(sets_api.clone(), shared.stop.clone()).await;
    let pods = informer(pods_api.clone(), shared.stop.clone()).await;
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let deployments = controller.store();
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client, COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        sets: sets.clone(),
        pods,
        failures: FailureTracker::default(),
    });
    let for_sets = deployments.clone();
    controller
        .watches(sets_api, watcher::Config::default(), move |rs| {
            deployments_for_set(&for_sets, &rs)
        })
        // Recreate waits for old pods to be gone, which only the pods' own events tell.
        .watches(pods_api, watcher::Config::default(), move |pod| {
            deployment_of_pod(&sets, &pod)
        })
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// A ReplicaSet's controller, or for an orphan every Deployment whose selector matches it.
fn deployments_for_set(
    deployments: &Store<Deployment>,
    rs: &ReplicaSet,
) -> Vec<ObjectRef<Deployment>> {
    let namespace = rs.namespace().unwrap_or_default();
    if let Some(owner) = controller_ref(&rs.metadata) {
        if owner.kind == "Deployment" {
            return vec![ObjectRef::new(&owner.name).within(&namespace)];
        }
        return vec![];
    }
    let labels = crate::labels::labels(&rs.metadata);
    deployments
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|d| {
            let spec_selector = d.spec.as_ref().map(|s| &s.selector);
            selector(spec_selector).is_ok_and(|s| s.matches(&labels))
        })
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

fn deployment_of_pod(sets: &Store<ReplicaSet>, pod: &Pod) -> Option<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    let owner = controller_ref(&pod.metadata).filter(|o| o.kind == "ReplicaSet")?;
    let rs = sets.get(&ObjectRef::new(&owner.name).within(&namespace))?;
    let deployment = controller_ref(&rs.metadata).filter(|o| o.kind == "Deployment")?;
    Some(ObjectRef::new(&deployment.name).within(&namespace))
}

fn error_policy(d: Arc<Deployment>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("deployment", d.as_ref(), error)
}

async fn reconcile(d: Arc<Deployment>, context: Arc<Context>) -> Result<Action, Error> {
    let namespace = d.namespace().unwrap_or_default();
    let sets_api: Api<ReplicaSet> = Api::namespaced(context.shared.client.clone(), &namespace);
    let owned = claim_sets(&sets_api, &d, &context.sets).await?;
    let uids: Vec<String> = owned
        .iter()
        .filter_map(|rs| rs.metadata.uid.clone())
        .collect();
    let pods: Vec<Arc<Pod>> = context
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|p| controller_ref(&p.metadata).is_some_and(|o| uids.contains(&o.uid)))
        .collect();
    let set_refs: Vec<&ReplicaSet> = owned.iter().map(Arc::as_ref).collect();
    let pod_refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
    let plan = core::sync(&d, &set_refs, &pod_refs, context.shared.clock.now())?;
    let wrote = apply(&context, &sets_api, &d, plan.clone()).await?;
    context.failures.forget(&key_of(d.as_ref()));
    if wrote {
        return Ok(Action::requeue(AFTER_WRITE));
    }
    let next = plan
        .requeue
        .map_or(RECHECK, |deadline| deadline.min(RECHECK));
    Ok(Action::requeue(next))
}

/// The namespace's ReplicaSets this Deployment owns after adopting matching orphans and
/// releasing those that no longer match (`ControllerRefManager`).
async fn claim_sets(
    api: &Api<ReplicaSet>,
    d: &Deployment,
    sets: &Store<ReplicaSet>,
) -> Result<Vec<Arc<ReplicaSet>>, Error> {
    let namespace = d.namespace().unwrap_or_default();
    let spec_selector = d.spec.as_ref().map(|s| &s.selector);
    let selector = selector(spec_selector)?;
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let deleting = d.metadata.deletion_timestamp.is_some();
    let owner = controller_owner("apps/v1", "Deployment", &d.metadata);
    let mut owned = Vec::new();
    for rs in sets.state() {
        if rs.namespace().as_deref() != Some(namespace.as_str()) {
            continue;
        }
        let owners = rs.metadata.owner_references.clone().unwrap_or_default();
        let patched = match claim(&rs.metadata, &uid, deleting, &selector) {
            Claim::Owned => {
                owned.push(rs);
                continue;
            }
            Claim::Ignore => continue,
            Claim::Adopt => {
                owned.push(Arc::clone(&rs));
                owners
                    .into_iter()
                    .chain([owner.clone()])
                    .collect::<Vec<_>>()
            }
            Claim::Release => owners.into_iter().filter(|o| o.uid != uid).collect(),
        };
        let patch = json!({"metadata": {"ownerReferences": patched, "uid": rs.metadata.uid}});
        ignore_not_found(
            api.patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await,
        )?;
    }
    Ok(owned)
}

/// Carries out a plan; says whether anything but the status was written.
async fn apply(
    context: &Context,
    api: &Api<ReplicaSet>,
    d: &Deployment,
    mut plan: Plan,
) -> Result<bool, Error> {
    let mut wrote = false;
    if let Some(rs) = plan.create.take() {
        wrote = true;
        if !create_set(context, api, d, &rs).await? {
            return Ok(true);
        }
    }
    for update in &plan.updates {
        wrote = true;
        let patch = json!({
            "metadata": {"annotations": update.annotations},
            "spec": {"replicas": update.replicas, "minReadySeconds": update.min_ready_seconds},
        });
        ignore_not_found(
            api.patch(&update.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )?;
        if update.from != update.replicas {
            let message = core::scaling_message(&update.name, update.from, update.replicas);
            context
                .recorder
                .record(d, EventType::Normal, "ScalingReplicaSet", &message)
                .await;
        }
    }
    for name in &plan.delete {
        wrote = true;
        ignore_not_found(api.delete(name, &DeleteParams::background()).await)?;
    }
    let deployments: Api<Deployment> = Api::namespaced(
        context.shared.client.clone(),
        &d.namespace().unwrap_or_default(),
    );
    if let Some(revision) = &plan.revision {
        let patch = json!({"metadata": {"annotations": {core::REVISION: revision}}});
        ignore_not_found(
            deployments
                .patch(
                    &d.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await,
        )?;
    }
    if core::status_changed(d, &plan.status) {
        write_status(&deployments, d, &plan.status).await?;
    }
    Ok(wrote)
}

async fn write_status(
    api: &Api<Deployment>,
    d: &Deployment,
    status: &k8s_openapi::api::apps::v1::DeploymentStatus,
) -> Result<(), Error> {
    let mut value = to_json(status);
    if status.conditions.is_none() {
        value["conditions"] = serde_json::Value::Null;
    }
    let patch = json!({"status": value});
    ignore_not_found(
        api.patch_status(
            &d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )?;
    Ok(())
}

/// Creates the new ReplicaSet. A name already taken by our own set with this template is our
/// earlier create not yet in the cache; taken by anything else, it is a hash collision: count it
/// in `status.collisionCount`, which changes the next hash. Returns whether the set exists now.
async fn create_set(
    context: &Context,
    api: &Api<ReplicaSet>,
    d: &Deployment,
    rs: &ReplicaSet,
) -> Result<bool, Error> {
    let name = rs.name_any();
    match api.create(&PostParams::default(), rs).await {
        Ok(_) => {
            let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if replicas > 0 {
                let message = core::scaling_message(&name, 0, replicas);
                context
                    .recorder
                    .record(d, EventType::Normal, "ScalingReplicaSet", &message)
                    .await;
            }
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api.get(&name).await?;
            if core::owns_with_template(d, &existing) {
                return Ok(true);
            }
            let collisions = d
                .status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0);
            let mut next = d.status.clone().unwrap_or_default();
            next.collision_count = Some(collisions + 1);
            let deployments: Api<Deployment> = Api::namespaced(
                context.shared.client.clone(),
                &d.namespace().unwrap_or_default(),
            );
            write_status(&deployments, d, &next).await?;
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
