//! The pods bound to a set of nodes: one watch (`spec.nodeName=NAME` for a single node, every
//! pod filtered by node for many simulated ones), one worker task per pod.
//!
//! After each (re)list, pods the runtime still runs but the API no longer has are stopped at
//! once: they were deleted while the agent was away, and their replacements may already run
//! elsewhere.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;

use super::NodeContext;
use super::worker::{self, PodUpdate};

/// The nodes one watch serves, by name.
pub type Nodes = HashMap<String, Arc<NodeContext>>;

struct Running {
    node: String,
    updates: watch::Sender<PodUpdate>,
}

/// Watches pods for `nodes` and keeps a worker per pod until the process ends.
pub async fn run(client: kube::Client, nodes: Nodes) {
    let api: Api<Pod> = Api::all(client);
    let config = match single_node(&nodes) {
        Some(name) => watcher::Config::default().fields(&format!("spec.nodeName={name}")),
        None => watcher::Config::default(),
    };
    let mut workers: HashMap<String, Running> = HashMap::new();
    let mut listing: Option<BTreeSet<String>> = None;
    let mut stream = watcher::watcher(api, config)
        // Backing off between failed attempts keeps a lost API server from turning the
        // loop into a spin (which would also keep the runtime from shutting down).
        .default_backoff()
        .boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(pod)) => dispatch(&nodes, &mut workers, pod),
            Ok(Event::Delete(pod)) => {
                if let Some(uid) = pod.metadata.uid.as_deref()
                    && let Some(running) = workers.remove(uid)
                {
                    let _ = running.updates.send(PodUpdate::Gone);
                }
            }
            Ok(Event::Init) => listing = Some(BTreeSet::new()),
            Ok(Event::InitApply(pod)) => {
                if let (Some(seen), Some(uid)) = (listing.as_mut(), pod.metadata.uid.as_deref()) {
                    seen.insert(uid.to_string());
                }
                dispatch(&nodes, &mut workers, pod);
            }
            Ok(Event::InitDone) => {
                let seen = listing.take().unwrap_or_default();
                reap(&nodes, &mut workers, &seen);
            }
            Err(error) => tracing::debug!(%error, "pod watch interrupted; resuming"),
        }
    }
}

fn single_node(nodes: &Nodes) -> Option<&str> {
    (nodes.len() == 1)
        .then(|| nodes.keys().next().map(String::as_str))
        .flatten()
}

fn dispatch(nodes: &Nodes, workers: &mut HashMap<String, Running>, pod: Pod) {
    let (Some(uid), Some(node)) = (
        pod.metadata.uid.clone(),
        pod.spec.as_ref().and_then(|spec| spec.node_name.clone()),
    ) else {
        return;
    };
    let Some(context) = nodes.get(&node) else {
        return;
    };
    context.note_pod(&pod);
    if let Some(running) = workers.get(&uid) {
        if !running.updates.is_closed() {
            let _ = running.updates.send(PodUpdate::Stored(Box::new(pod)));
            return;
        }
        if pod.metadata.deletion_timestamp.is_some() {
            return; // its worker finished it; the watch has not caught up yet
        }
    }
    let (updates, receiver) = watch::channel(PodUpdate::Stored(Box::new(pod)));
    tokio::spawn(worker::run(Arc::clone(context), uid.clone(), receiver));
    workers.insert(uid, Running { node, updates });
}

/// Stops pods that the runtime runs but that the API no longer lists, and forgets workers of
/// pods that vanished while the watch was down.
fn reap(nodes: &Nodes, workers: &mut HashMap<String, Running>, listed: &BTreeSet<String>) {
    workers.retain(|uid, running| {
        let keep = listed.contains(uid);
        if !keep {
            let _ = running.updates.send(PodUpdate::Gone);
        }
        keep && nodes.contains_key(&running.node)
    });
    for context in nodes.values() {
        let orphans: BTreeSet<String> = context
            .runtime
            .containers()
            .into_iter()
            .map(|info| info.key.pod_uid)
            .filter(|uid| !listed.contains(uid))
            .collect();
        for uid in orphans {
            tracing::info!(node = %context.node_name, pod_uid = %uid, "stopping a pod deleted while the agent was away");
            if let Err(error) = context.runtime.kill_pod(&uid, std::time::Duration::ZERO) {
                tracing::warn!(%error, "cannot stop an orphaned pod");
            }
            if let Err(error) = context.runtime.remove_pod(&uid) {
                tracing::warn!(%error, "cannot remove an orphaned pod");
            }
        }
    }
}
