//! The CronJob controller's I/O: informers for CronJobs and Jobs, the work queue (requeued for
//! the next schedule time), and the writes `core` asks for: Job deletions (background
//! propagation), the Job creation, the status, and an event for each.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use super::core;
use crate::labels::controller_ref;
use crate::runtime::backoff::FailureTracker;
use crate::runtime::events::{EventRecorder, EventType};
use crate::runtime::{
    RESYNC_PERIOD, api_message, ignore_not_found, informer, key_of, resync, stopped, to_json,
};
use crate::{Error, Shared};

const COMPONENT: &str = "cronjob-controller";

struct Context {
    shared: Shared,
    jobs: Store<Job>,
    failures: FailureTracker,
    recorder: EventRecorder,
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let jobs_api: Api<Job> = Api::all(client.clone());
    let jobs = informer(jobs_api.clone(), shared.stop.clone()).await;
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), COMPONENT, Arc::clone(&shared.clock)),
        shared: shared.clone(),
        jobs,
        failures: FailureTracker::default(),
    });
    Controller::new(Api::<CronJob>::all(client), watcher::Config::default())
        .watches(jobs_api, watcher::Config::default(), |job| {
            cron_job_of(&job)
        })
        .reconcile_all_on(resync(RESYNC_PERIOD))
        .graceful_shutdown_on(stopped(shared.stop.clone()))
        .run(reconcile, error_policy, context)
        .for_each(|_| futures::future::ready(()))
        .await;
}

fn cron_job_of(job: &Job) -> Option<ObjectRef<CronJob>> {
    let owner = controller_ref(&job.metadata).filter(|o| o.kind == "CronJob")?;
    Some(ObjectRef::new(&owner.name).within(&job.namespace().unwrap_or_default()))
}

fn owned_jobs(context: &Context, cron_job: &CronJob) -> Vec<Arc<Job>> {
    let namespace = cron_job.namespace().unwrap_or_default();
    let uid = cron_job.metadata.uid.clone().unwrap_or_default();
    context
        .jobs
        .state()
        .into_iter()
        .filter(|j| j.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|j| controller_ref(&j.metadata).is_some_and(|o| o.uid == uid))
        .collect()
}

async fn reconcile(cron_job: Arc<CronJob>, context: Arc<Context>) -> Result<Action, Error> {
    let key = key_of(cron_job.as_ref());
    let owned = owned_jobs(&context, &cron_job);
    let refs: Vec<&Job> = owned.iter().map(Arc::as_ref).collect();
    let plan = core::plan(&cron_job, &refs, context.shared.clock.now())?;
    let namespace = cron_job.namespace().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(context.shared.client.clone(), &namespace);
    for name in &plan.delete {
        ignore_not_found(jobs_api.delete(name, &DeleteParams::background()).await)?;
    }
    let mut status = plan.status.clone();
    let mut created_already = false;
    if let Some(job) = &plan.create {
        match jobs_api.create(&PostParams::default(), job).await {
            Ok(created) => add_active(&mut status, &created),
            // Created by an earlier sync whose status write did not land (or that the caches
            // have not shown yet): it is ours, and announced already.
            Err(kube::Error::Api(e)) if e.code == 409 => created_already = true,
            Err(error) => {
                let message = format!("Error creating job: {}", api_message(&error));
                context
                    .recorder
                    .record(
                        cron_job.as_ref(),
                        EventType::Warning,
                        "FailedCreate",
                        &message,
                    )
                    .await;
                return Err(error.into());
            }
        }
    }
    write_status(&context, &cron_job, &status).await?;
    let events = plan
        .events
        .iter()
        .filter(|e| !(created_already && e.reason == "SuccessfulCreate"));
    for event in events {
        context
            .recorder
            .record(cron_job.as_ref(), event.kind, event.reason, &event.message)
            .await;
    }
    context.failures.forget(&key);
    Ok(plan
        .requeue_after
        .map_or_else(Action::await_change, Action::requeue))
}

fn add_active(status: &mut k8s_openapi::api::batch::v1::CronJobStatus, job: &Job) {
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    };
    status.active.get_or_insert_with(Vec::new).push(reference);
}

async fn write_status(
    context: &Context,
    cron_job: &CronJob,
    status: &k8s_openapi::api::batch::v1::CronJobStatus,
) -> Result<(), Error> {
    if cron_job.status.clone().unwrap_or_default() == *status {
        return Ok(());
    }
    let mut body = to_json(status);
    if status.active.is_none() {
        // A merge patch keeps what it does not mention: say the list is empty now.
        body["active"] = Value::Null;
    }
    let api: Api<CronJob> = Api::namespaced(
        context.shared.client.clone(),
        &cron_job.namespace().unwrap_or_default(),
    );
    let patch = json!({"status": body});
    ignore_not_found(
        api.patch_status(
            &cron_job.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )?;
    Ok(())
}

fn error_policy(cron_job: Arc<CronJob>, error: &Error, context: Arc<Context>) -> Action {
    context.failures.retry("cronjob", cron_job.as_ref(), error)
}
