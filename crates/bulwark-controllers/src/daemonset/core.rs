//! The DaemonSet decision core (upstream `pkg/controller/daemon`): which nodes should run a
//! daemon pod, which pods to create and delete (`manage`), one step of a rolling update, and the
//! status `kubectl rollout status daemonset` reads. Pure: no I/O, no clock reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bulwark_scheduler::NodeInfo;
use bulwark_scheduler::plugins::node_affinity::RequiredNodeAffinity;
use bulwark_scheduler::plugins::taint_toleration::{NO_EXECUTE, tolerated, untolerated_hard_taint};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::Error;
use crate::deployment::rollout::scaled_value;
use crate::labels::controller_owner;
use crate::pods;

/// The label pods and ControllerRevisions carry: the hash of the template they were made from.
pub const HASH_LABEL: &str = "controller-revision-hash";
/// Upstream's `BurstReplicas` for DaemonSets: at most this many creations or deletions per sync.
pub const BURST_REPLICAS: usize = 250;
/// Failed daemon pods are replaced after 1 s, doubling to 15 minutes (upstream's
/// `failedPodsBackoff`).
pub const FAILED_POD_BACKOFF_INITIAL: SignedDuration = SignedDuration::from_secs(1);
pub const FAILED_POD_BACKOFF_MAX: SignedDuration = SignedDuration::from_secs(15 * 60);

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

fn spec_of(ds: &DaemonSet) -> Result<&k8s_openapi::api::apps::v1::DaemonSetSpec, Error> {
    ds.spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("daemonset has no spec".into()))
}

fn exists_toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    }
}

/// `AddOrUpdateDaemonPodTolerations`: a daemon pod tolerates a node that is not ready,
/// unreachable, under pressure or cordoned (and, on the host network, without a pod network),
/// with no `tolerationSeconds`, so it is never evicted for those.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        exists_toleration(NOT_READY_TAINT, "NoExecute"),
        exists_toleration(UNREACHABLE_TAINT, "NoExecute"),
        exists_toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
        exists_toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
        exists_toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
        exists_toleration("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push(exists_toleration(
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
        ));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for toleration in wanted {
        // `AddOrUpdateTolerationInPod`: the same key, operator and effect is replaced.
        let same = |t: &Toleration| {
            t.key == toleration.key
                && t.operator.as_deref().unwrap_or("Equal")
                    == toleration.operator.as_deref().unwrap_or("Equal")
                && t.effect == toleration.effect
        };
        match tolerations.iter_mut().find(|t| same(t)) {
            Some(existing) => *existing = toleration,
            None => tolerations.push(toleration),
        }
    }
}

/// The pod the DaemonSet would run on a node, before it is pinned there (upstream `NewPod`):
/// the template with the daemon tolerations.
pub fn template_pod(ds: &DaemonSet) -> Result<Pod, Error> {
    let template = spec_of(ds)?.template.clone();
    let mut spec = template.spec.unwrap_or_default();
    add_daemon_tolerations(&mut spec);
    let meta = template.metadata.unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            namespace: ds.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// Whether a node should run the daemon pod, and whether one already there may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub should_run: bool,
    pub should_continue_running: bool,
}

/// `NodeShouldRunDaemonPod`: `spec.nodeName`, `nodeSelector`, required node affinity and the
/// node's taints against the daemon pod's tolerations. A pod that tolerates the node's
/// `NoExecute` taints but not its `NoSchedule` ones keeps running where it is.
pub fn placement(template: &Pod, node: &Node) -> Placement {
    let never = Placement {
        should_run: false,
        should_continue_running: false,
    };
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let spec = template.spec.as_ref();
    if let Some(pinned) = spec.and_then(|s| s.node_name.as_deref())
        && !pinned.is_empty()
        && pinned != node_name
    {
        return never;
    }
    let info = NodeInfo::new(Arc::new(node.clone()));
    if !RequiredNodeAffinity::of(template).matches(&info) {
        return never;
    }
    let tolerations = spec
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    if untolerated_hard_taint(tolerations, &info.taints).is_none() {
        return Placement {
            should_run: true,
            should_continue_running: true,
        };
    }
    let evicting = info
        .taints
        .iter()
        .any(|t| t.effect == NO_EXECUTE && !tolerated(tolerations, t));
    Placement {
        should_run: false,
        should_continue_running: !evicting,
    }
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes exactly
/// `metadata.name In [node]`, so the default scheduler places the pod on that node.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(selector);
    affinity
}

/// The node a daemon pod is for (upstream `GetTargetNodeName`): its `nodeName` once bound, else
/// the node its pinning affinity names.
pub fn target_node(pod: &Pod) -> Option<String> {
    if let Some(node) = pods::node_name(pod) {
        return Some(node.to_string());
    }
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|term| {
        term.match_fields.iter().flatten().find_map(|field| {
            let values = field.values.as_deref().unwrap_or_default();
            match (field.key.as_str(), field.operator.as_str(), values) {
                ("metadata.name", "In", [one]) => Some(one.clone()),
                _ => None,
            }
        })
    })
}

/// A new daemon pod for `node`: `generateName: <ds>-`, the template's labels plus the revision
/// hash, a controller reference, the daemon tolerations and the pinning affinity.
pub fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Result<Pod, Error> {
    let mut pod = template_pod(ds)?;
    let name = ds.metadata.name.clone().unwrap_or_default();
    pod.metadata.generate_name = Some(format!("{name}-"));
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.into());
    pod.metadata.owner_references =
        Some(vec![controller_owner("apps/v1", "DaemonSet", &ds.metadata)]);
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    spec.affinity = Some(pin_to_node(spec.affinity.take(), node));
    Ok(pod)
}

fn hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
}

/// `IsPodUpdated`: made from the current template.
pub fn is_updated(pod: &Pod, hash: &str) -> bool {
    !hash.is_empty() && hash_of(pod) == Some(hash)
}

fn min_ready_seconds(ds: &DaemonSet) -> i32 {
    ds.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// Oldest first; among equals, running before pending (upstream `podByCreationTimestampAndPhase`).
fn sort_oldest_first(list: &mut [&Pod]) {
    list.sort_by(|a, b| {
        pods::created(a)
            .cmp(&pods::created(b))
            .then_with(|| (pods::phase(b) == "Running").cmp(&(pods::phase(a) == "Running")))
            .then_with(|| name_of(a).cmp(&name_of(b)))
    });
}

/// Backoff for replacing failed daemon pods, per DaemonSet and node (upstream's
/// `flowcontrol.Backoff` keyed by `<ds uid>/<node>`). The caller keeps it between syncs.
#[derive(Debug, Default, Clone)]
pub struct FailedPodBackoff {
    entries: HashMap<String, (SignedDuration, Timestamp)>,
}

impl FailedPodBackoff {
    /// How long `key` still has to wait, if it is backing off.
    pub fn remaining(&self, key: &str, now: Timestamp) -> Option<SignedDuration> {
        let (delay, since) = self.entries.get(key)?;
        let waited = now.duration_since(*since);
        (waited < *delay).then(|| *delay - waited)
    }

    /// Records one more failure at `now`: the delay doubles, up to the cap; an entry idle for
    /// twice the cap starts over.
    pub fn next(&mut self, key: &str, now: Timestamp) {
        let delay = match self.entries.get(key) {
            Some((delay, since)) if now.duration_since(*since) <= FAILED_POD_BACKOFF_MAX * 2 => {
                (*delay * 2).min(FAILED_POD_BACKOFF_MAX)
            }
            _ => FAILED_POD_BACKOFF_INITIAL,
        };
        self.entries.insert(key.to_string(), (delay, now));
    }

    /// Drops entries idle for longer than twice the cap (upstream's `GC`).
    pub fn forget_idle(&mut self, now: Timestamp) {
        self.entries
            .retain(|_, (_, since)| now.duration_since(*since) <= FAILED_POD_BACKOFF_MAX * 2);
    }
}

/// A failed daemon pod to delete, for the `FailedDaemonPod` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPod {
    pub pod: String,
    pub node: String,
}

/// What one sync does with pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Nodes to create a daemon pod for.
    pub create: Vec<String>,
    /// Pods to delete, in order.
    pub delete: Vec<String>,
    /// The failed pods among `delete`.
    pub failed: Vec<FailedPod>,
    /// Look again after this long (a backoff or a pod becoming available).
    pub requeue: Option<Duration>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.delete.is_empty()
    }

    fn requeue_within(&mut self, wait: SignedDuration) {
        let wait = Duration::try_from(wait.max(SignedDuration::ZERO)).unwrap_or_default();
        self.requeue = Some(self.requeue.map_or(wait, |current| current.min(wait)));
    }

    /// `syncNodes` caps both lists at the burst.
    fn capped(mut self) -> Self {
        self.create.truncate(BURST_REPLICAS);
        self.delete.truncate(BURST_REPLICAS);
        self
    }
}

/// What the sync sees: the DaemonSet, the cluster's nodes, the daemon pods it owns, the hash of
/// its current template, and the time.
pub struct World<'a> {
    pub ds: &'a DaemonSet,
    pub nodes: &'a [&'a Node],
    pub pods: &'a [&'a Pod],
    pub hash: &'a str,
    pub now: Timestamp,
}

impl World<'_> {
    /// Owned pods by the node they are for (pods naming no node are left out).
    fn by_node(&self) -> BTreeMap<String, Vec<&Pod>> {
        let mut map: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
        for &pod in self.pods {
            if let Some(node) = target_node(pod) {
                map.entry(node).or_default().push(pod);
            }
        }
        map
    }

    fn placements(&self) -> Result<Vec<(&Node, Placement)>, Error> {
        let template = template_pod(self.ds)?;
        Ok(self
            .nodes
            .iter()
            .map(|&node| (node, placement(&template, node)))
            .collect())
    }

    fn available(&self, pod: &Pod) -> bool {
        pods::is_available(pod, min_ready_seconds(self.ds), self.now)
    }

    fn backoff_key(&self, node: &str) -> String {
        format!(
            "{}/{node}",
            self.ds.metadata.uid.as_deref().unwrap_or_default()
        )
    }
}

/// `manage`: a pod for every node that should run one and has none, none on nodes that must
/// not run one, at most one per node (two of different revisions while surging), failed pods
/// replaced with backoff, and unscheduled pods for vanished nodes deleted.
pub fn manage(world: &World, backoff: &mut FailedPodBackoff) -> Result<Plan, Error> {
    let by_node = world.by_node();
    let surge = allows_surge(world.ds)?;
    let mut plan = Plan::default();
    for (node, placement) in world.placements()? {
        let name = node.metadata.name.clone().unwrap_or_default();
        let on_node = by_node.get(&name).map_or(&[][..], Vec::as_slice);
        on_node_plan(world, &name, on_node, placement, surge, backoff, &mut plan);
    }
    let known: std::collections::HashSet<&str> = world
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for (node, on_node) in &by_node {
        if known.contains(node.as_str()) {
            continue;
        }
        // Scheduled pods on vanished nodes are pod GC's; unscheduled ones would never run.
        plan.delete.extend(
            on_node
                .iter()
                .filter(|p| pods::node_name(p).is_none() && !pods::is_terminating(p))
                .map(|p| name_of(p)),
        );
    }
    Ok(plan.capped())
}

/// `podsShouldBeOnNode` for one node.
fn on_node_plan(
    world: &World,
    node: &str,
    on_node: &[&Pod],
    placement: Placement,
    surge: bool,
    backoff: &mut FailedPodBackoff,
    plan: &mut Plan,
) {
    if placement.should_run && on_node.is_empty() {
        plan.create.push(node.to_string());
        return;
    }
    if !placement.should_continue_running {
        plan.delete.extend(
            on_node
                .iter()
                .filter(|p| !pods::is_terminating(p))
                .map(|p| name_of(p)),
        );
        return;
    }
    let mut running: Vec<&Pod> = Vec::new();
    for &pod in on_node.iter().filter(|p| !pods::is_terminating(p)) {
        match pods::phase(pod) {
            "Failed" => {
                let key = world.backoff_key(node);
                if let Some(wait) = backoff.remaining(&key, world.now) {
                    plan.requeue_within(wait);
                    continue;
                }
                backoff.next(&key, world.now);
                plan.delete.push(name_of(pod));
                plan.failed.push(FailedPod {
                    pod: name_of(pod),
                    node: node.to_string(),
                });
            }
            // A daemon pod that finished is replaced at once.
            "Succeeded" => plan.delete.push(name_of(pod)),
            _ => running.push(pod),
        }
    }
    sort_oldest_first(&mut running);
    if !surge {
        plan.delete
            .extend(running.iter().skip(1).map(|p| name_of(p)));
        return;
    }
    // While surging a node may run one pod of each revision: keep the oldest of each.
    let (mut kept_new, mut kept_old) = (false, false);
    for pod in running {
        let kept = if is_updated(pod, world.hash) {
            &mut kept_new
        } else {
            &mut kept_old
        };
        if *kept {
            plan.delete.push(name_of(pod));
        } else {
            *kept = true;
        }
    }
}

fn is_rolling_update(ds: &DaemonSet) -> bool {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

fn rolling_parameters(ds: &DaemonSet) -> (Option<IntOrString>, Option<IntOrString>) {
    let rolling = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref());
    (
        rolling.and_then(|r| r.max_surge.clone()),
        rolling.and_then(|r| r.max_unavailable.clone()),
    )
}

/// `AllowsSurge`: a rolling update with a non-zero `maxSurge`.
fn allows_surge(ds: &DaemonSet) -> Result<bool, Error> {
    if !is_rolling_update(ds) {
        return Ok(false);
    }
    let (surge, _) = rolling_parameters(ds);
    Ok(match surge {
        None => false,
        Some(value) => scaled_value(&value, 100, true)? != 0,
    })
}

/// `SurgeCount` and `UnavailableCount` over the desired number of nodes, both rounded up;
/// both zero would deadlock, so unavailability becomes one.
pub fn surge_and_unavailable(ds: &DaemonSet, desired: i32) -> Result<(i32, i32), Error> {
    let (surge, unavailable) = rolling_parameters(ds);
    let surge = match surge {
        Some(value) => scaled_value(&value, desired, true)?,
        None => 0,
    };
    let unavailable = match unavailable {
        Some(value) => scaled_value(&value, desired, true)?,
        None => 1,
    };
    Ok(if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    })
}

/// `findUpdatedPodsOnNode`: the node's live new and old pod; `None` when there are several of
/// either (the manage loop cleans that up first).
fn new_and_old<'a>(
    pods_on_node: &[&'a Pod],
    hash: &str,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for &pod in pods_on_node.iter().filter(|p| !pods::is_terminating(p)) {
        let slot = if is_updated(pod, hash) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// One step of a rolling update (upstream `rollingUpdate`). Without surge, old pods are
/// deleted while no more than `maxUnavailable` nodes are unavailable, and `manage` creates their
/// replacements; with surge, new pods are created beside old ones (at most `maxSurge` at once)
/// and an old pod goes once its replacement is available.
pub fn rolling_update(world: &World) -> Result<Plan, Error> {
    let placements = world.placements()?;
    let desired = placements.iter().filter(|(_, p)| p.should_run).count();
    let desired = i32::try_from(desired).unwrap_or(i32::MAX);
    let (max_surge, max_unavailable) = surge_and_unavailable(world.ds, desired)?;
    let by_node = world.by_node();
    let plan = if max_surge == 0 {
        rolling_without_surge(world, &by_node, max_unavailable)
    } else {
        let should_run: HashMap<&str, bool> = placements
            .iter()
            .map(|(n, p)| (n.metadata.name.as_deref().unwrap_or_default(), p.should_run))
            .collect();
        rolling_with_surge(world, &by_node, &should_run, max_surge, desired)
    };
    Ok(plan.capped())
}

fn rolling_without_surge(
    world: &World,
    by_node: &BTreeMap<String, Vec<&Pod>>,
    max_unavailable: i32,
) -> Plan {
    let mut unavailable = 0i32;
    let mut replace_now = Vec::new();
    let mut candidates = Vec::new();
    for on_node in by_node.values() {
        let Some((new, old)) = new_and_old(on_node, world.hash) else {
            unavailable += 1;
            continue;
        };
        match (new, old) {
            (None, None) | (Some(_), Some(_)) => unavailable += 1,
            (Some(new), None) => {
                if !world.available(new) {
                    unavailable += 1;
                }
            }
            (None, Some(old)) => {
                if !world.available(old) {
                    replace_now.push(name_of(old));
                } else if unavailable < max_unavailable {
                    candidates.push(name_of(old));
                }
            }
        }
    }
    let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0);
    replace_now.extend(candidates.into_iter().take(room));
    Plan {
        delete: replace_now,
        ..Plan::default()
    }
}

fn rolling_with_surge(
    world: &World,
    by_node: &BTreeMap<String, Vec<&Pod>>,
    should_run: &HashMap<&str, bool>,
    max_surge: i32,
    desired: i32,
) -> Plan {
    let mut plan = Plan::default();
    let mut not_wanted_here = Vec::new();
    let mut candidate_nodes = Vec::new();
    let mut allowed_nodes = Vec::new();
    let (mut surging, mut available) = (0i32, 0i32);
    for (node, on_node) in by_node {
        let Some((new, old)) = new_and_old(on_node, world.hash) else {
            surging += 1;
            continue;
        };
        if old.or(new).is_some_and(|p| world.available(p)) {
            available += 1;
        }
        let runs_here = should_run.get(node.as_str()).copied().unwrap_or(false);
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !world.available(old) => {
                if runs_here {
                    allowed_nodes.push(node.clone());
                } else {
                    plan.delete.push(name_of(old));
                }
            }
            (None, Some(old)) => {
                if !runs_here {
                    not_wanted_here.push(name_of(old));
                } else if surging < max_surge {
                    candidate_nodes.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if world.available(new) {
                    plan.delete.push(name_of(old));
                } else {
                    surging += 1;
                }
            }
        }
    }
    // Pods on nodes that no longer want them go only while enough others are available.
    let deletable = usize::try_from((available - desired).max(0)).unwrap_or(0);
    plan.delete
        .extend(not_wanted_here.into_iter().take(deletable));
    let room = usize::try_from((max_surge - surging).max(0)).unwrap_or(0);
    plan.create = allowed_nodes;
    plan.create.extend(candidate_nodes.into_iter().take(room));
    plan
}

/// `updateDaemonSetStatus`'s counts, from the oldest live pod on each node.
pub fn status(world: &World) -> Result<DaemonSetStatus, Error> {
    let by_node = world.by_node();
    let mut next = world.ds.status.clone().unwrap_or_default();
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for (node, placement) in world.placements()? {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let mut live: Vec<&Pod> = by_node
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(|p| pods::is_active(p))
            .collect();
        if !placement.should_run {
            if !live.is_empty() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        sort_oldest_first(&mut live);
        let Some(pod) = live.first() else {
            continue;
        };
        current += 1;
        if pods::is_ready(pod) {
            ready += 1;
            if world.available(pod) {
                available += 1;
            }
        }
        if is_updated(pod, world.hash) {
            updated += 1;
        }
    }
    next.desired_number_scheduled = desired;
    next.current_number_scheduled = current;
    next.number_misscheduled = misscheduled;
    next.number_ready = ready;
    next.number_available = Some(available);
    next.number_unavailable = Some(desired - available);
    next.updated_number_scheduled = Some(updated);
    next.observed_generation = world.ds.metadata.generation;
    Ok(next)
}

/// When a ready pod will count as available (minReadySeconds), to look again then.
pub fn requeue_for_availability(world: &World) -> Option<Duration> {
    let min_ready = min_ready_seconds(world.ds);
    world
        .pods
        .iter()
        .filter_map(|p| pods::until_available(p, min_ready, world.now))
        .min()
        .and_then(|wait| Duration::try_from(wait).ok())
        .map(|wait| wait + Duration::from_millis(100))
}

pub fn uses_rolling_update(ds: &DaemonSet) -> bool {
    is_rolling_update(ds)
}

pub fn status_changed(ds: &DaemonSet, next: &DaemonSetStatus) -> bool {
    ds.status.as_ref() != Some(next)
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
