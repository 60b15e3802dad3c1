//! The node IPAM controller: gives every Node without one a `spec.podCIDR`, a `/24` out of
//! the cluster CIDR (`127.128.0.0/9` unless `--cluster-cidr` says otherwise), as kube-controller-manager's range allocator does. One instance runs in
//! the control plane and assigns sequentially, so two nodes never get the same block; after a
//! restart the blocks already assigned are read back from the nodes first.

use std::time::Duration;

use bulwark_agent::ipam::{Ipv4Cidr, PodCidrAllocator};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

/// Runs until the process ends.
pub async fn run(client: kube::Client, mut allocator: PodCidrAllocator) {
    let api: Api<Node> = Api::all(client);
    let mut pending: Vec<Node> = Vec::new();
    let mut listing = false;
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default())
        // Backing off between failed attempts keeps a lost API server from turning the
        // loop into a spin (which would also keep the runtime from shutting down).
        .default_backoff()
        .boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => {
                listing = true;
                pending.clear();
            }
            Ok(Event::InitApply(node)) => {
                occupy(&mut allocator, &node);
                pending.push(node);
            }
            Ok(Event::InitDone) => {
                listing = false;
                for node in std::mem::take(&mut pending) {
                    assign(&api, &mut allocator, &node).await;
                }
            }
            Ok(Event::Apply(node)) if !listing => {
                occupy(&mut allocator, &node);
                assign(&api, &mut allocator, &node).await;
            }
            Ok(Event::Delete(node)) => {
                if let Some(cidr) = pod_cidr(&node) {
                    let _ = allocator.release(cidr);
                }
            }
            Ok(Event::Apply(_)) => {}
            Err(error) => tracing::debug!(%error, "node watch interrupted; resuming"),
        }
    }
}

fn pod_cidr(node: &Node) -> Option<Ipv4Cidr> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

fn occupy(allocator: &mut PodCidrAllocator, node: &Node) {
    if let Some(cidr) = pod_cidr(node) {
        let _ = allocator.occupy(cidr);
    }
}

async fn assign(api: &Api<Node>, allocator: &mut PodCidrAllocator, node: &Node) {
    let has_one = node
        .spec
        .as_ref()
        .and_then(|spec| spec.pod_cidr.as_deref())
        .is_some_and(|cidr| !cidr.is_empty());
    let Some(name) = node.metadata.name.as_deref() else {
        return;
    };
    if has_one || node.metadata.deletion_timestamp.is_some() {
        return;
    }
    let cidr = match allocator.allocate() {
        Ok(cidr) => cidr,
        Err(error) => {
            tracing::warn!(%error, node = name, "no pod CIDR left for the node");
            return;
        }
    };
    let patch =
        serde_json::json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
    for attempt in 0..5u32 {
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return,
            Err(kube::Error::Api(response)) if response.code == 404 => break,
            Err(error) => {
                tracing::debug!(%error, node = name, "cannot assign the pod CIDR; retrying");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
    let _ = allocator.release(cidr);
}
