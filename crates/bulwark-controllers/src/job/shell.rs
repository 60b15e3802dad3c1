//! The Job controller's I/O: informers for Jobs and pods, the work queue, and the writes `core`
//! asks for, in the order that keeps counting exact: the `uncountedTerminatedPods` record, then
//! the finalizer removals, then deletions and creations, then the final status. Status writes
//! are replacements guarded by the Job's resourceVersion, so a sync from a stale cache fails
//! (409) instead of counting twice; the next sync waits until the cache has caught up with this
//! controller's own writes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::core::{self, Backoff, TRACKING_FINALIZER};
use crate::labels::controller_ref;
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::EventRecorder;
use crate::runtime::expectations::{Expectations, Presence};
use crate::runtime::pod_control::PodControl;
use crate::runtime::{RESYNC_PERIOD, ignore_not_found, informer, key_of, pause, resync, stopped};
use crate::{Error, Shared};

const COMPONENT: &str = "job-controller";
/// How soon to look again while this controller's writes are not yet in the caches.
const EXPECTATIONS_POLL: Duration = Duration::from_millis(200);
/// How often pods whose Job is gone are checked for a leftover tracking finalizer.
const ORPHAN_SWEEP_PERIOD: Duration = Duration::from_secs(1);

struct Context {
    shared: Shared,
    pods: Store<Pod>,
    /// Pod creations and deletions not yet seen in the pod cache.
    expectations: Expectations,
    /// Finalizer removals not yet seen in the pod cache (keyed by pod name).
    finalizer_removals: Expectations,
    /// The resourceVersion of this controller's latest status write per Job.
    written: Mutex<HashMap<String, u64>>,
    backoff: Mutex<HashMap<String, Backoff>>,
    failures: FailureTracker,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let pods_api: Api<Pod> = Api::all(client.clone());
    let pods = informer(pods_api.clone(), shared.stop.clone()).await;
    let controller = Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default());
    let jobs = controller.store();
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client, COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        pods: pods.clone(),
        expectations: Expectations::default(),
        finalizer_removals: Expectations::default(),
        written: Mutex::default(),
        backoff: Mutex::default(),
        failures: FailureTracker::default(),
    });
    let run_jobs = controller
        .watches(pods_api, watcher::Config::default(), |pod| job_of(&pod))
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()));
    futures::join!(run_jobs, sweep_orphans(shared, jobs, pods));
}

fn job_of(pod: &Pod) -> Option<ObjectRef<Job>> {
    let owner = controller_ref(&pod.metadata).filter(|o| o.kind == "Job")?;
    Some(ObjectRef::new(&owner.name).within(&pod.namespace().unwrap_or_default()))
}

fn resource_version(job: &Job) -> u64 {
    job.metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

/// True when the cached Job already includes this controller's latest status write.
fn status_caught_up(context: &Context, key: &str, job: &Job) -> bool {
    let written = context.written.lock().unwrap_or_else(|e| e.into_inner());
    written
        .get(key)
        .is_none_or(|&rv| resource_version(job) >= rv)
}

fn presence(pods: &Store<Pod>, namespace: &str, name: &str) -> Presence {
    match pods.get(&ObjectRef::new(name).within(namespace)) {
        None => Presence::Absent,
        Some(pod) if pod.metadata.deletion_timestamp.is_some() => Presence::Terminating,
        Some(_) => Presence::Present,
    }
}

/// A pod still carrying the tracking finalizer is "present" to the removal expectations.
fn finalizer_presence(pods: &Store<Pod>, namespace: &str, name: &str) -> Presence {
    let has = pods
        .get(&ObjectRef::new(name).within(namespace))
        .is_some_and(|pod| {
            pod.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == TRACKING_FINALIZER)
        });
    if has {
        Presence::Present
    } else {
        Presence::Absent
    }
}

fn caches_caught_up(context: &Context, key: &str, job: &Job) -> bool {
    let namespace = job.namespace().unwrap_or_default();
    let now = context.shared.clock.now();
    let pods = &context.pods;
    let created = context
        .expectations
        .satisfied(key, now, |name| presence(pods, &namespace, name));
    let released = context
        .finalizer_removals
        .satisfied(key, now, |name| finalizer_presence(pods, &namespace, name));
    created && released && status_caught_up(context, key, job)
}

fn owned_pods(context: &Context, job: &Job) -> Vec<Arc<Pod>> {
    let namespace = job.namespace().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    context
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|p| controller_ref(&p.metadata).is_some_and(|o| o.uid == uid))
        .collect()
}

async fn reconcile(job: Arc<Job>, context: Arc<Context>) -> Result<Action, Error> {
    let key = key_of(job.as_ref());
    if !caches_caught_up(&context, &key, &job) {
        return Ok(Action::requeue(EXPECTATIONS_POLL));
    }
    let owned = owned_pods(&context, &job);
    let refs: Vec<&Pod> = owned.iter().map(Arc::as_ref).collect();
    let backoff = context
        .backoff
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .copied()
        .unwrap_or_default();
    let now = context.shared.clock.now();
    let plan = core::plan(&job, &refs, backoff, now)?;
    let wrote_pods = execute(&context, &job, &plan).await?;
    context
        .backoff
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.clone(), plan.backoff);
    context.failures.forget(&key);
    if wrote_pods {
        return Ok(Action::requeue(EXPECTATIONS_POLL));
    }
    Ok(core::requeue(&plan).map_or_else(Action::await_change, Action::requeue))
}

fn error_policy(job: Arc<Job>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("job", job.as_ref(), error)
}

/// Carries out a plan; says whether any pod was written (so the caches must catch up).
async fn execute(context: &Context, job: &Job, plan: &core::Plan) -> Result<bool, Error> {
    let key = key_of(job);
    let namespace = job.namespace().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(context.shared.client.clone(), &namespace);
    let mut current = job.clone();
    if let Some(interim) = &plan.interim {
        current = write_status(context, &current, interim).await?;
    }
    let releases: Vec<String> = plan
        .remove_finalizers
        .iter()
        .chain(&plan.release_before_delete)
        .cloned()
        .collect();
    for name in &releases {
        remove_finalizer(&context.pods, &pods_api, &namespace, name).await?;
    }
    context.finalizer_removals.expect_deletions(
        &key,
        releases.iter().cloned(),
        context.shared.clock.now(),
    );
    delete_pods(context, &pods_api, job, &plan.delete).await?;
    create_pods(context, &pods_api, job, &plan.create).await?;
    if core::status_changed(&current, &plan.status) {
        write_status(context, &current, &plan.status).await?;
    }
    for event in &plan.events {
        context
            .recorder
            .record(job, event.kind, event.reason, &event.message)
            .await;
    }
    Ok(!releases.is_empty() || !plan.delete.is_empty() || !plan.create.is_empty())
}

/// Replaces the status, guarded by the resourceVersion `job` was read at.
async fn write_status(context: &Context, job: &Job, status: &JobStatus) -> Result<Job, Error> {
    let api: Api<Job> = Api::namespaced(
        context.shared.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    let mut next = job.clone();
    next.status = Some(status.clone());
    let written = api
        .replace_status(&job.name_any(), &PostParams::default(), &next)
        .await?;
    context
        .written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key_of(job), resource_version(&written));
    Ok(written)
}

/// Removes the tracking finalizer, guarded by the cached pod's resourceVersion (a concurrent
/// change of its finalizers fails with 409 and is retried with a fresh cache).
async fn remove_finalizer(
    pods: &Store<Pod>,
    api: &Api<Pod>,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    let Some(pod) = pods.get(&ObjectRef::new(name).within(namespace)) else {
        return Ok(());
    };
    let finalizers: Vec<&String> = pod
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != TRACKING_FINALIZER)
        .collect();
    if finalizers.len() == pod.metadata.finalizers.as_ref().map_or(0, Vec::len) {
        return Ok(());
    }
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": pod.metadata.resource_version,
        "uid": pod.metadata.uid,
    }});
    ignore_not_found(
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )?;
    Ok(())
}

async fn delete_pods(
    context: &Context,
    api: &Api<Pod>,
    job: &Job,
    names: &[String],
) -> Result<(), Error> {
    let failure = pod_control(context, api)
        .delete(job, names, &DeleteParams::background())
        .await;
    failure.map_or(Ok(()), |error| Err(error.into()))
}

/// Creates one pod per index (None: NonIndexed); a failure stops the rest and is returned.
async fn create_pods(
    context: &Context,
    api: &Api<Pod>,
    job: &Job,
    indexes: &[Option<i32>],
) -> Result<(), Error> {
    let pods = indexes
        .iter()
        .map(|index| core::new_pod(job, *index))
        .collect::<Result<Vec<_>, _>>()?;
    let failure = pod_control(context, api).create(job, &pods).await;
    failure.map_or(Ok(()), |error| Err(error.into()))
}

fn pod_control<'a>(context: &'a Context, api: &'a Api<Pod>) -> PodControl<'a> {
    PodControl::new(
        api,
        &context.expectations,
        &context.recorder,
        &context.shared,
    )
}

/// Pods that keep the tracking finalizer after their Job is gone (deleted, or orphaned by
/// `--cascade=orphan`) would never go away: remove it once the Job's absence is confirmed.
async fn sweep_orphans(shared: Shared, jobs: Store<Job>, pods: Store<Pod>) {
    let _ = jobs.wait_until_ready().await;
    let mut stop = shared.stop.clone();
    while !*stop.borrow_and_update() {
        let uids: HashSet<String> = jobs
            .state()
            .iter()
            .filter_map(|j| j.metadata.uid.clone())
            .collect();
        for pod in pods.state() {
            if core::is_orphaned(&pod, |uid| uids.contains(uid))
                && let Err(error) = release_orphan(&shared.client, &pods, &pod).await
            {
                tracing::debug!(%error, pod = %pod.name_any(), "cannot release an orphaned job pod");
            }
        }
        tokio::select! {
            _ = pause(ORPHAN_SWEEP_PERIOD) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn release_orphan(client: &kube::Client, pods: &Store<Pod>, pod: &Pod) -> Result<(), Error> {
    let namespace = pod.namespace().unwrap_or_default();
    if let Some(owner) = controller_ref(&pod.metadata).filter(|o| o.kind == "Job") {
        // The cache may not have seen a new Job yet: confirm with a live read.
        let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
        let live = jobs.get_opt(&owner.name).await?;
        if live.is_some_and(|j| j.metadata.uid.as_deref() == Some(owner.uid.as_str())) {
            return Ok(());
        }
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    remove_finalizer(pods, &api, &namespace, &pod.name_any()).await
}
