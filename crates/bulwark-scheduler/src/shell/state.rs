//! What the scheduler knows about the cluster, updated from its watches (upstream's scheduler
//! cache and informers), pure: each change returns what the queue must do about it.
//!
//! Bound pods live in the [`Snapshot`]; pending pods that are ours go to the queue. A pod the
//! scheduler just placed is "assumed": it is in the snapshot with its node already, so the next
//! pod sees it, until the watch brings the bound pod back (or binding fails and it is forgotten).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::runtime::watcher::Event;

use crate::pod_info::{PodInfo, PodKey, label_selector};
use crate::preemption::PdbView;
use crate::priority::{PriorityClasses, PriorityError};
use crate::snapshot::{Snapshot, SpreadOwnerKind};

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// One watch event, with relists made explicit.
#[derive(Debug, Clone)]
pub enum Change<K> {
    Upsert(K),
    Delete(K),
    RelistStarted,
    RelistDone,
}

impl<K> Change<K> {
    pub fn from_event(event: Event<K>) -> Self {
        match event {
            Event::Apply(object) | Event::InitApply(object) => Self::Upsert(object),
            Event::Delete(object) => Self::Delete(object),
            Event::Init => Self::RelistStarted,
            Event::InitDone => Self::RelistDone,
        }
    }
}

/// What the queue must do after a change.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Something happened that may let unschedulable pods fit.
    pub move_all: bool,
    pub upserts: Vec<Arc<PodInfo>>,
    pub removals: Vec<PodKey>,
}

impl Effects {
    fn moved() -> Self {
        Self {
            move_all: true,
            ..Self::default()
        }
    }

    fn merge(&mut self, other: Effects) {
        self.move_all |= other.move_all;
        self.upserts.extend(other.upserts);
        self.removals.extend(other.removals);
    }
}

/// Objects of one kind the state holds, so a relist can tell which ones vanished meanwhile.
#[derive(Debug, Default)]
struct Tracker {
    known: HashSet<PodKey>,
    relisting: Option<HashSet<PodKey>>,
}

impl Tracker {
    fn seen(&mut self, key: &PodKey) {
        self.known.insert(key.clone());
        if let Some(seen) = self.relisting.as_mut() {
            seen.insert(key.clone());
        }
    }

    fn forget(&mut self, key: &PodKey) {
        self.known.remove(key);
    }

    fn start(&mut self) {
        self.relisting = Some(HashSet::new());
    }

    /// Keys known before the relist that it did not list again: deleted while unwatched.
    fn finish(&mut self) -> Vec<PodKey> {
        let Some(seen) = self.relisting.take() else {
            return Vec::new();
        };
        let gone = self.known.difference(&seen).cloned().collect();
        self.known = seen;
        gone
    }
}

fn key_of(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> PodKey {
    PodKey {
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: metadata.name.clone().unwrap_or_default(),
    }
}

#[derive(Debug, Default)]
pub struct ClusterState {
    pub snapshot: Snapshot,
    pub classes: PriorityClasses,
    pdbs: BTreeMap<PodKey, PodDisruptionBudget>,
    pdb_view: PdbView,
    pdbs_changed: bool,
    assumed: HashSet<PodKey>,
    scheduler_name: String,
    pods: Tracker,
    nodes: Tracker,
    class_names: Tracker,
    budgets: Tracker,
    namespaces: Tracker,
    services: Tracker,
    owners: BTreeMap<SpreadOwnerKind, Tracker>,
}

impl ClusterState {
    pub fn new(scheduler_name: &str) -> Self {
        Self {
            scheduler_name: scheduler_name.to_string(),
            ..Self::default()
        }
    }

    /// Whether this scheduler is responsible for the pod (`schedulerName` ours or unset).
    pub fn is_ours(&self, pod: &Pod) -> bool {
        let name = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref());
        name.is_none_or(|n| n.is_empty() || n == self.scheduler_name)
    }

    /// Rebuilds the PDBs as preemption reads them, if a budget changed since the last time.
    pub fn refresh_pdbs(&mut self) {
        if std::mem::take(&mut self.pdbs_changed) {
            self.pdb_view = PdbView::new(&self.pdbs.values().cloned().collect::<Vec<_>>());
        }
    }

    pub fn pdbs(&self) -> &PdbView {
        &self.pdb_view
    }

    /// The pod with `spec.priority` (and `preemptionPolicy`) resolved from its PriorityClass
    /// when admission did not set them.
    pub fn with_priority(&self, mut pod: Pod) -> Result<Pod, PriorityError> {
        let Some(spec) = pod.spec.as_mut() else {
            return Ok(pod);
        };
        if spec.priority.is_some() {
            return Ok(pod);
        }
        let resolved = self.classes.resolve(spec.priority_class_name.as_deref())?;
        spec.priority = Some(resolved.value);
        spec.preemption_policy
            .get_or_insert(resolved.preemption_policy);
        Ok(pod)
    }

    /// Puts a pod the scheduler chose a node for into the snapshot ahead of the binding.
    pub fn assume(&mut self, pod: &PodInfo, node: &str) -> Arc<PodInfo> {
        let mut bound = (*pod.pod).clone();
        bound.spec.get_or_insert_default().node_name = Some(node.to_string());
        let info = Arc::new(PodInfo::new(bound));
        self.snapshot.upsert_pod_info(info.clone());
        self.assumed.insert(pod.key.clone());
        info
    }

    /// Binding failed: the pod holds nothing on that node after all.
    pub fn forget(&mut self, key: &PodKey) {
        if self.assumed.remove(key) {
            self.snapshot.remove_pod(key);
        }
    }

    pub fn is_assumed(&self, key: &PodKey) -> bool {
        self.assumed.contains(key)
    }

    pub fn on_pod(&mut self, change: Change<Pod>) -> Effects {
        match change {
            Change::Upsert(pod) => self.upsert_pod(pod),
            Change::Delete(pod) => {
                let key = PodKey::of(&pod);
                self.delete_pod(&key)
            }
            Change::RelistStarted => {
                self.pods.start();
                Effects::default()
            }
            Change::RelistDone => {
                let mut effects = Effects::default();
                for key in self.pods.finish() {
                    effects.merge(self.delete_pod(&key));
                }
                effects
            }
        }
    }

    fn upsert_pod(&mut self, pod: Pod) -> Effects {
        let key = PodKey::of(&pod);
        self.pods.seen(&key);
        let pod = self.with_priority(pod.clone()).unwrap_or(pod);
        let info = Arc::new(PodInfo::new(pod));
        if info.node_name().is_some() {
            self.assumed.remove(&key);
            let was_holding = self.snapshot.pod_node(&key).is_some();
            self.snapshot.upsert_pod_info(info);
            let holds = self.snapshot.pod_node(&key).is_some();
            // A pod that finished frees its node's resources.
            return Effects {
                move_all: was_holding && !holds,
                upserts: Vec::new(),
                removals: vec![key],
            };
        }
        if self.assumed.contains(&key) {
            // An older version of a pod being bound: the binding decides its fate.
            return Effects::default();
        }
        let terminating = info.terminating;
        let ours = self.is_ours(&info.pod);
        let finished = matches!(
            info.pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if terminating || !ours || finished {
            self.snapshot.clear_nomination(&key);
            return Effects {
                removals: vec![key],
                ..Effects::default()
            };
        }
        match nominated_node(&info.pod) {
            Some(node) => self.snapshot.nominate(&info, node),
            None => self.snapshot.clear_nomination(&key),
        }
        Effects {
            upserts: vec![info],
            ..Effects::default()
        }
    }

    fn delete_pod(&mut self, key: &PodKey) -> Effects {
        self.pods.forget(key);
        self.snapshot.clear_nomination(key);
        self.assumed.remove(key);
        let freed = self.snapshot.remove_pod(key).is_some();
        Effects {
            move_all: freed,
            upserts: Vec::new(),
            removals: vec![key.clone()],
        }
    }

    pub fn on_node(&mut self, change: Change<Node>) -> Effects {
        match change {
            Change::Upsert(node) => {
                let key = key_of(&node.metadata);
                self.nodes.seen(&key);
                let relevant = self
                    .snapshot
                    .node(&key.name)
                    .is_none_or(|old| node_change_matters(&old.node, &node));
                self.snapshot.upsert_node(node);
                Effects {
                    move_all: relevant,
                    ..Effects::default()
                }
            }
            Change::Delete(node) => {
                let key = key_of(&node.metadata);
                self.nodes.forget(&key);
                self.snapshot.remove_node(&key.name);
                Effects::default()
            }
            Change::RelistStarted => {
                self.nodes.start();
                Effects::default()
            }
            Change::RelistDone => {
                for key in self.nodes.finish() {
                    self.snapshot.remove_node(&key.name);
                }
                Effects::default()
            }
        }
    }

    pub fn on_priority_class(&mut self, change: Change<PriorityClass>) -> Effects {
        match change {
            Change::Upsert(class) => {
                self.class_names.seen(&key_of(&class.metadata));
                crate::priority::upsert(&mut self.classes, &class);
            }
            Change::Delete(class) => {
                let key = key_of(&class.metadata);
                self.class_names.forget(&key);
                self.classes.remove(&key.name);
            }
            Change::RelistStarted => self.class_names.start(),
            Change::RelistDone => {
                for key in self.class_names.finish() {
                    self.classes.remove(&key.name);
                }
            }
        }
        Effects::moved()
    }

    pub fn on_pdb(&mut self, change: Change<PodDisruptionBudget>) -> Effects {
        match change {
            Change::Upsert(pdb) => {
                let key = key_of(&pdb.metadata);
                self.budgets.seen(&key);
                self.pdbs.insert(key, pdb);
            }
            Change::Delete(pdb) => {
                let key = key_of(&pdb.metadata);
                self.budgets.forget(&key);
                self.pdbs.remove(&key);
            }
            Change::RelistStarted => self.budgets.start(),
            Change::RelistDone => {
                for key in self.budgets.finish() {
                    self.pdbs.remove(&key);
                }
            }
        }
        self.pdbs_changed = true;
        Effects::moved()
    }

    pub fn on_namespace(&mut self, change: Change<Namespace>) -> Effects {
        match change {
            Change::Upsert(namespace) => {
                let key = key_of(&namespace.metadata);
                self.namespaces.seen(&key);
                let labels = namespace.metadata.labels.clone().unwrap_or_default();
                self.snapshot.upsert_namespace(&key.name, labels);
            }
            Change::Delete(namespace) => {
                let key = key_of(&namespace.metadata);
                self.namespaces.forget(&key);
                self.snapshot.remove_namespace(&key.name);
            }
            Change::RelistStarted => self.namespaces.start(),
            Change::RelistDone => {
                for key in self.namespaces.finish() {
                    self.snapshot.remove_namespace(&key.name);
                }
            }
        }
        // Namespace labels feed namespaceSelector terms.
        Effects::moved()
    }

    pub fn on_service(&mut self, change: Change<Service>) -> Effects {
        match change {
            Change::Upsert(service) => {
                let key = key_of(&service.metadata);
                self.services.seen(&key);
                let selector = service.spec.and_then(|s| s.selector).unwrap_or_default();
                self.snapshot
                    .upsert_service_selector(&key.namespace, &key.name, selector);
            }
            Change::Delete(service) => {
                let key = key_of(&service.metadata);
                self.services.forget(&key);
                self.snapshot
                    .remove_service_selector(&key.namespace, &key.name);
            }
            Change::RelistStarted => self.services.start(),
            Change::RelistDone => {
                for key in self.services.finish() {
                    self.snapshot
                        .remove_service_selector(&key.namespace, &key.name);
                }
            }
        }
        Effects::default()
    }

    /// ReplicaSets, StatefulSets and ReplicationControllers: their selectors feed default
    /// spreading.
    pub fn on_owner(&mut self, kind: SpreadOwnerKind, change: Change<OwnerSelector>) -> Effects {
        let tracker = self.owners.entry(kind).or_default();
        match change {
            Change::Upsert(owner) => {
                tracker.seen(&owner.key);
                match owner.selector {
                    Some(selector) => self.snapshot.upsert_owner_selector(
                        kind,
                        &owner.key.namespace,
                        &owner.key.name,
                        selector,
                    ),
                    None => self.snapshot.remove_owner_selector(
                        kind,
                        &owner.key.namespace,
                        &owner.key.name,
                    ),
                }
            }
            Change::Delete(owner) => {
                tracker.forget(&owner.key);
                self.snapshot
                    .remove_owner_selector(kind, &owner.key.namespace, &owner.key.name);
            }
            Change::RelistStarted => tracker.start(),
            Change::RelistDone => {
                for key in tracker.finish() {
                    self.snapshot
                        .remove_owner_selector(kind, &key.namespace, &key.name);
                }
            }
        }
        Effects::default()
    }
}

/// A workload's key and parsed selector (none when it does not parse: no default spreading).
#[derive(Debug, Clone)]
pub struct OwnerSelector {
    pub key: PodKey,
    pub selector: Option<bulwark_core::selector::LabelSelector>,
}

impl OwnerSelector {
    pub fn of_replica_set(rs: &ReplicaSet) -> Self {
        Self {
            key: key_of(&rs.metadata),
            selector: rs
                .spec
                .as_ref()
                .and_then(|s| label_selector(Some(&s.selector)).ok()),
        }
    }

    pub fn of_stateful_set(set: &StatefulSet) -> Self {
        Self {
            key: key_of(&set.metadata),
            selector: set
                .spec
                .as_ref()
                .and_then(|s| label_selector(Some(&s.selector)).ok()),
        }
    }

    pub fn of_replication_controller(rc: &ReplicationController) -> Self {
        let selector = rc
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(bulwark_core::selector::LabelSelector::from_set);
        Self {
            key: key_of(&rc.metadata),
            selector,
        }
    }
}

/// Whether a node update may let pending pods fit: it became schedulable, or its labels, taints
/// or allocatable resources changed (heartbeats and condition updates do not count).
fn nominated_node(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|status| status.nominated_node_name.as_deref())
        .filter(|node| !node.is_empty())
}

fn node_change_matters(old: &Node, new: &Node) -> bool {
    let spec = |n: &Node| {
        n.spec
            .as_ref()
            .map(|s| (s.unschedulable.unwrap_or(false), s.taints.clone()))
    };
    let allocatable = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    spec(old) != spec(new)
        || old.metadata.labels != new.metadata.labels
        || allocatable(old) != allocatable(new)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
