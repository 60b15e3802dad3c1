//! The garbage collector's I/O: caches of Deployments, ReplicaSets, DaemonSets,
//! ControllerRevisions, CronJobs, Jobs and Pods, a sweep over them
//! a few times a second, and the writes `core` asks for. Before anything is deleted or released
//! because its owner is missing from the cache, the owner's absence is confirmed with a live read
//! (the cache may simply not have seen a new owner yet).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource};
use serde_json::json;

use super::core::{Action, Node, Target, sweep};
use crate::Shared;
use crate::runtime::{ignore_not_found, informer, pause};

/// How often the graph is swept.
const SWEEP_PERIOD: Duration = Duration::from_millis(300);

struct Caches {
    deployments: Store<Deployment>,
    sets: Store<ReplicaSet>,
    cron_jobs: Store<CronJob>,
    jobs: Store<Job>,
    daemon_sets: Store<DaemonSet>,
    revisions: Store<ControllerRevision>,
    pods: Store<Pod>,
}

impl Caches {
    fn nodes(&self) -> Vec<Node> {
        let deployments = self.deployments.state();
        let sets = self.sets.state();
        let cron_jobs = self.cron_jobs.state();
        let jobs = self.jobs.state();
        let daemon_sets = self.daemon_sets.state();
        let revisions = self.revisions.state();
        let pods = self.pods.state();
        let mut nodes = Vec::with_capacity(
            deployments.len()
                + sets.len()
                + cron_jobs.len()
                + jobs.len()
                + daemon_sets.len()
                + revisions.len()
                + pods.len(),
        );
        nodes.extend(
            deployments
                .iter()
                .map(|d| Node::new("Deployment", &d.metadata)),
        );
        nodes.extend(sets.iter().map(|rs| Node::new("ReplicaSet", &rs.metadata)));
        nodes.extend(cron_jobs.iter().map(|c| Node::new("CronJob", &c.metadata)));
        nodes.extend(jobs.iter().map(|j| Node::new("Job", &j.metadata)));
        nodes.extend(
            daemon_sets
                .iter()
                .map(|ds| Node::new("DaemonSet", &ds.metadata)),
        );
        nodes.extend(
            revisions
                .iter()
                .map(|r| Node::new("ControllerRevision", &r.metadata)),
        );
        nodes.extend(pods.iter().map(|p| Node::new("Pod", &p.metadata)));
        nodes
    }
}

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let caches = Caches {
        deployments: informer(Api::all(client.clone()), shared.stop.clone()).await,
        sets: informer(Api::all(client.clone()), shared.stop.clone()).await,
        cron_jobs: informer(Api::all(client.clone()), shared.stop.clone()).await,
        jobs: informer(Api::all(client.clone()), shared.stop.clone()).await,
        daemon_sets: informer(Api::all(client.clone()), shared.stop.clone()).await,
        revisions: informer(Api::all(client.clone()), shared.stop.clone()).await,
        pods: informer(Api::all(client.clone()), shared.stop.clone()).await,
    };
    let mut stop = shared.stop.clone();
    while !*stop.borrow_and_update() {
        for action in sweep(&caches.nodes()) {
            if let Err(error) = execute(&client, &action).await {
                tracing::debug!(%error, ?action, "garbage collection step failed; retrying");
            }
        }
        tokio::select! {
            _ = pause(SWEEP_PERIOD) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn execute(client: &Client, action: &Action) -> Result<(), kube::Error> {
    match action {
        Action::Delete {
            target,
            foreground,
            absent_owners,
        } => {
            if !all_gone(client, target, absent_owners).await? {
                return Ok(());
            }
            let mut params = DeleteParams {
                propagation_policy: Some(if *foreground {
                    PropagationPolicy::Foreground
                } else {
                    PropagationPolicy::Background
                }),
                ..DeleteParams::default()
            };
            params.preconditions = Some(kube::api::Preconditions {
                uid: Some(target.uid.clone()),
                resource_version: None,
            });
            with_kind(client, target, Op::Delete(&params)).await
        }
        Action::RemoveOwners {
            target,
            uids,
            absent_owners,
        } => {
            if !all_gone(client, target, absent_owners).await? {
                return Ok(());
            }
            with_kind(client, target, Op::RemoveOwners(uids)).await
        }
        Action::RemoveFinalizer { target, finalizer } => {
            with_kind(client, target, Op::RemoveFinalizer(finalizer)).await
        }
    }
}

/// Whether every one of `owners` is really gone (absent, or present with another uid).
/// Owners of kinds the collector does not know are assumed present.
async fn all_gone(
    client: &Client,
    target: &Target,
    owners: &[OwnerReference],
) -> Result<bool, kube::Error> {
    for owner in owners {
        let uid = match owner.kind.as_str() {
            "Deployment" => live_uid::<Deployment>(client, target, &owner.name).await?,
            "ReplicaSet" => live_uid::<ReplicaSet>(client, target, &owner.name).await?,
            "CronJob" => live_uid::<CronJob>(client, target, &owner.name).await?,
            "Job" => live_uid::<Job>(client, target, &owner.name).await?,
            "DaemonSet" => live_uid::<DaemonSet>(client, target, &owner.name).await?,
            "Pod" => live_uid::<Pod>(client, target, &owner.name).await?,
            _ => return Ok(false),
        };
        if uid.as_deref() == Some(owner.uid.as_str()) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn live_uid<K>(
    client: &Client,
    target: &Target,
    name: &str,
) -> Result<Option<String>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &target.namespace);
    Ok(api.get_opt(name).await?.and_then(|o| o.meta().uid.clone()))
}

enum Op<'a> {
    Delete(&'a DeleteParams),
    RemoveOwners(&'a [String]),
    RemoveFinalizer(&'a str),
}

/// Reads the object, computes the metadata fields to write from what it holds, and patches
/// them guarded by its uid and resourceVersion, so that a concurrent change fails (409) rather
/// than being lost. A vanished object is nothing to do.
async fn guarded_metadata_patch<K>(
    api: &Api<K>,
    target: &Target,
    fields: impl FnOnce(&kube::api::ObjectMeta) -> serde_json::Value,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(current) = api.get_opt(&target.name).await? else {
        return Ok(());
    };
    let meta = current.meta();
    let mut metadata = fields(meta);
    metadata["uid"] = json!(target.uid);
    metadata["resourceVersion"] = json!(meta.resource_version);
    let patch = json!({ "metadata": metadata });
    ignore_not_found(
        api.patch(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )
}

async fn with_kind(client: &Client, target: &Target, op: Op<'_>) -> Result<(), kube::Error> {
    match target.kind.as_str() {
        "Deployment" => apply::<Deployment>(client, target, op).await,
        "ReplicaSet" => apply::<ReplicaSet>(client, target, op).await,
        "CronJob" => apply::<CronJob>(client, target, op).await,
        "Job" => apply::<Job>(client, target, op).await,
        "DaemonSet" => apply::<DaemonSet>(client, target, op).await,
        "ControllerRevision" => apply::<ControllerRevision>(client, target, op).await,
        "Pod" => apply::<Pod>(client, target, op).await,
        _ => Ok(()),
    }
}

async fn apply<K>(client: &Client, target: &Target, op: Op<'_>) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &target.namespace);
    match op {
        Op::Delete(params) => ignore_not_found(api.delete(&target.name, params).await),
        Op::RemoveOwners(uids) => {
            guarded_metadata_patch(&api, target, |meta| {
                let owners: Vec<&OwnerReference> = meta
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|o| !uids.contains(&o.uid))
                    .collect();
                json!({"ownerReferences": owners})
            })
            .await
        }
        Op::RemoveFinalizer(finalizer) => {
            guarded_metadata_patch(&api, target, |meta| {
                let finalizers: Vec<&String> = meta
                    .finalizers
                    .iter()
                    .flatten()
                    .filter(|f| f.as_str() != finalizer)
                    .collect();
                json!({"finalizers": finalizers})
            })
            .await
        }
    }
}
