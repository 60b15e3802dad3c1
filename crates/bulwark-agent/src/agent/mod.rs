//! The node agent's shell: registers the Node, heartbeats through its Lease, watches the pods
//! bound to it and runs one worker task per pod over a [`Runtime`] (a shell module: it talks
//! to the API server and reads the clock through its [`Clock`]).
//!
//! - [`node_sync`]: registration, the pod CIDR, the Lease and node status.
//! - [`pods`]: the watch on this node's pods and the worker per pod; pods the runtime runs
//!   but the API no longer has (deleted while the agent was down) are stopped at once.
//! - [`worker`]: one pod's loop around the pure [`crate::pod_worker`].
//! - [`events`]: the kubelet's events.
//! - [`machine`]: what the machine offers (CPU, memory, kernel) for the Node's status.
//! - [`run`]: a process node, or many simulated nodes in one process (`--fake-nodes`).
// The shell waits between heartbeats and retries; its decisions stay in the pure modules.
#![allow(clippy::disallowed_methods)]

mod endpoint;
pub mod events;
pub mod machine;
pub mod node_sync;
pub mod pods;
pub mod run;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bulwark_core::clock::Clock;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::backoff::BackoffPolicy;
use crate::images::Catalog;
use crate::ipam::PodAddressAllocator;
use crate::probe::ProbeResult;
use crate::runtime::Runtime;

pub use worker::ProbeJob;

/// Runs one probe attempt.
pub type Prober = Arc<dyn Fn(ProbeJob) -> BoxFuture<'static, ProbeResult> + Send + Sync>;

/// A prober for simulated containers: every attempt passes.
pub fn passing_prober() -> Prober {
    Arc::new(|_job| Box::pin(async { ProbeResult::Success }))
}

/// Where a node's image catalog comes from: a base catalog plus files read again at every
/// container start, so `bulwark image add` takes effect without restarting the agent.
#[derive(Debug, Clone)]
pub struct CatalogSource {
    pub base: Catalog,
    pub files: Vec<PathBuf>,
}

impl CatalogSource {
    pub fn fixed(base: Catalog) -> Self {
        Self {
            base,
            files: Vec::new(),
        }
    }

    /// The base catalog with every readable file's entries added in order (later ones win);
    /// a file that cannot be read or parsed is skipped with a warning.
    pub fn load(&self) -> Catalog {
        let mut catalog = self.base.clone();
        for path in &self.files {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            match Catalog::entries_from_yaml(&text) {
                Ok(entries) => {
                    for entry in entries {
                        if let Err(error) = catalog.add(entry) {
                            tracing::warn!(%error, file = %path.display(), "skipping a catalog entry");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, file = %path.display(), "cannot read the image catalog")
                }
            }
        }
        catalog
    }
}

/// What every pod worker of one node shares.
pub struct NodeContext {
    pub client: kube::Client,
    pub node_name: String,
    pub runtime: Arc<dyn Runtime>,
    pub clock: Arc<dyn Clock>,
    pub catalog: CatalogSource,
    pub bulwark_exe: PathBuf,
    pub log_root: PathBuf,
    pub backoff: BackoffPolicy,
    pub host_ip: String,
    pub allocatable: BTreeMap<String, Quantity>,
    pub prober: Prober,
    pub events: events::EventSink,
    addresses: Mutex<Option<PodAddressAllocator>>,
    /// The UIDs of this node's pods by namespace and name, for the log endpoint.
    pods: Mutex<HashMap<(String, String), String>>,
}

impl NodeContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: kube::Client,
        node_name: String,
        runtime: Arc<dyn Runtime>,
        clock: Arc<dyn Clock>,
        catalog: CatalogSource,
        bulwark_exe: PathBuf,
        log_root: PathBuf,
        backoff: BackoffPolicy,
        host_ip: String,
        allocatable: BTreeMap<String, Quantity>,
        prober: Prober,
    ) -> Self {
        let events =
            events::EventSink::start(client.clone(), node_name.clone(), Arc::clone(&clock));
        Self {
            client,
            node_name,
            runtime,
            clock,
            catalog,
            bulwark_exe,
            log_root,
            backoff,
            host_ip,
            allocatable,
            prober,
            events,
            addresses: Mutex::new(None),
            pods: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the node's pod CIDR once the control plane assigned it.
    pub fn set_pod_cidr(&self, allocator: PodAddressAllocator) {
        *self.lock_addresses() = Some(allocator);
    }

    /// The pod's address: the one its status already records (an adopted pod keeps it), or a
    /// new one from the node's block. `None` until the node has a pod CIDR.
    pub fn pod_address(&self, pod: &Pod) -> Option<String> {
        let uid = pod.metadata.uid.as_deref()?;
        let mut guard = self.lock_addresses();
        let allocator = guard.as_mut()?;
        if let Some(address) = allocator.address_of(uid) {
            return Some(address.to_string());
        }
        let recorded = pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        if let Some(address) = recorded
            && allocator.restore(uid, address).is_ok()
        {
            return Some(address.to_string());
        }
        match allocator.allocate(uid) {
            Ok(address) => Some(address.to_string()),
            Err(error) => {
                tracing::warn!(%error, "no pod address left");
                None
            }
        }
    }

    /// Remembers which pod object a UID is (the watch saw it bound here).
    pub fn note_pod(&self, pod: &Pod) {
        let (Some(namespace), Some(name), Some(uid)) = (
            pod.metadata.namespace.clone(),
            pod.metadata.name.clone(),
            pod.metadata.uid.clone(),
        ) else {
            return;
        };
        lock(&self.pods).insert((namespace, name), uid);
    }

    pub fn forget_pod(&self, uid: &str) {
        lock(&self.pods).retain(|_, known| known != uid);
    }

    pub fn pod_uid(&self, namespace: &str, name: &str) -> Option<String> {
        lock(&self.pods)
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    pub fn release_address(&self, uid: &str) {
        if let Some(allocator) = self.lock_addresses().as_mut() {
            allocator.release(uid);
        }
    }

    fn lock_addresses(&self) -> std::sync::MutexGuard<'_, Option<PodAddressAllocator>> {
        lock(&self.addresses)
    }
}

/// Each update under these locks is one call, so a poisoned lock still holds a whole state.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
