//! Pod GC's I/O: caches of pods and nodes, a sweep every few seconds, and the deletes the core
//! asks for. A pod of a missing node is deleted only after a live read confirms the node is
//! gone (the cache may lag), and is first marked `DisruptionTarget` (and `Failed` if it never
//! finished), as upstream does. Deletes are immediate (grace 0) and guarded by the pod's uid.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use serde_json::json;

use super::core::{self, Quarantine, Reason, Victim};
use crate::runtime::{ignore_not_found, informer, pause, to_json};
use crate::{Shared, pods};

/// How often pods are swept (upstream `gcCheckPeriod` is 20 s; a sweep here is a cache read).
const SWEEP_PERIOD: Duration = Duration::from_secs(2);

pub async fn run(shared: Shared) {
    let client = shared.client.clone();
    let pods_cache = informer(Api::<Pod>::all(client.clone()), shared.stop.clone()).await;
    let nodes_cache = informer(Api::<Node>::all(client.clone()), shared.stop.clone()).await;
    let threshold = shared.settings.terminated_pod_gc_threshold;
    let quarantine_for = shared.settings.orphan_pod_quarantine;
    let mut quarantine = Quarantine::default();
    let mut stop = shared.stop.clone();
    while !*stop.borrow_and_update() {
        let now = shared.clock.now();
        let all = pods_cache.state();
        let refs: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
        let nodes: BTreeSet<String> = nodes_cache
            .state()
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let mut victims = core::terminated_over_threshold(&refs, threshold);
        victims.extend(quarantine.orphaned(&refs, &nodes, quarantine_for, now));
        victims.extend(core::unscheduled_terminating(&refs));
        for victim in &victims {
            let pod = refs
                .iter()
                .find(|p| p.metadata.uid.as_deref() == Some(victim.uid.as_str()));
            if let Err(error) = collect(&client, &shared, victim, pod.copied()).await {
                tracing::debug!(%error, pod = %victim.name, "pod GC step failed; retrying");
            }
        }
        let next = quarantine
            .next_expiry(quarantine_for, now)
            .map_or(SWEEP_PERIOD, |d| d.min(SWEEP_PERIOD));
        tokio::select! {
            _ = pause(next) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn collect(
    client: &Client,
    shared: &Shared,
    victim: &Victim,
    pod: Option<&Pod>,
) -> Result<(), kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    if let Reason::Orphaned { node } = &victim.reason {
        let nodes: Api<Node> = Api::all(client.clone());
        if nodes.get_opt(node).await?.is_some() {
            return Ok(());
        }
        if let Some(pod) = pod {
            mark_disrupted(&api, shared, pod).await?;
        }
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(victim.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    ignore_not_found(api.delete(&victim.name, &params).await)?;
    tracing::info!(pod = %victim.name, namespace = %victim.namespace, reason = ?victim.reason, "pod GC deleted a pod");
    Ok(())
}

/// Adds `DisruptionTarget` (reason `DeletionByPodGC`) and, for a pod that never finished, the
/// `Failed` phase, guarded by its uid.
async fn mark_disrupted(api: &Api<Pod>, shared: &Shared, pod: &Pod) -> Result<(), kube::Error> {
    let mut conditions: Vec<serde_json::Value> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.type_ != core::DISRUPTION_TARGET)
        .map(to_json)
        .collect();
    conditions.push(to_json(&core::disruption_condition(shared.clock.now())));
    let mut status = json!({"conditions": conditions});
    if core::needs_failed_phase(pods::phase(pod)) {
        status["phase"] = json!("Failed");
    }
    let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": status});
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    ignore_not_found(
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )
}
