//! The Deployment decision core (upstream `pkg/controller/deployment`): given a Deployment, the
//! ReplicaSets it owns and their pods, one step of the rollout — which ReplicaSet to create, which
//! to resize or delete, and what the status says. Pure: no I/O, no clock reads.
//!
//! Like upstream, one reconcile does one kind of change (scale the new set up, or the old ones
//! down) and then waits for the ReplicaSets' status to move before the next.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::Value;

use super::rollout::{SetView, fenceposts, new_set_replicas, old_set_replicas};
use crate::Error;
use crate::labels::{controller_owner, controller_ref};
use crate::pods;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const HASH_LABEL: &str = "pod-template-hash";
/// Deployment annotations that are not copied to its ReplicaSets (upstream `skipCopyAnnotation`).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// A resize or annotation change of one existing ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetUpdate {
    pub name: String,
    pub from: i32,
    pub replicas: i32,
    pub annotations: BTreeMap<String, String>,
    pub min_ready_seconds: i32,
}

/// What one reconcile of a Deployment does.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The new ReplicaSet to create (named `<deployment>-<hash>`).
    pub create: Option<ReplicaSet>,
    pub updates: Vec<SetUpdate>,
    /// Old ReplicaSets past `revisionHistoryLimit`.
    pub delete: Vec<String>,
    /// The Deployment's own `deployment.kubernetes.io/revision`, when it changes.
    pub revision: Option<String>,
    pub status: DeploymentStatus,
    /// When to look again without a change (progress deadline).
    pub requeue: Option<Duration>,
}

/// `spec.replicas`, defaulted as the API does.
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// `(maxSurge, maxUnavailable)` resolved against `spec.replicas`; Recreate has neither.
pub fn surge_and_unavailable(d: &Deployment) -> Result<(i32, i32), Error> {
    if is_recreate(d) {
        return Ok((0, 0));
    }
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let (surge, unavailable) = fenceposts(
        rolling.and_then(|r| r.max_surge.as_ref()),
        rolling.and_then(|r| r.max_unavailable.as_ref()),
        desired(d),
    )?;
    Ok((surge, unavailable.min(desired(d))))
}

fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

fn progress_deadline(d: &Deployment) -> Option<i32> {
    // The API defaults it to 600; i32::MAX means "no deadline", as upstream.
    let seconds = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    (seconds != i32::MAX).then_some(seconds)
}

fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

fn template(d: &Deployment) -> Result<PodTemplateSpec, Error> {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .ok_or_else(|| Error::Invalid("deployment has no spec".into()))
}

/// Drops nulls and empty objects and lists, recursively. Go's structs make an absent
/// `resources` and `resources: {}` the same value; here they are `None` and `Some(default)`, and
/// kubectl (rollout undo) sends the latter.
pub fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(prune_empty);
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A template as JSON without the `pod-template-hash` label and empty values: what
/// `EqualIgnoreHash` compares.
fn template_without_hash(template: Option<&PodTemplateSpec>) -> Value {
    let mut value = template.map(crate::runtime::to_json).unwrap_or(Value::Null);
    if let Some(labels) = value
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    prune_empty(&mut value);
    value
}

/// A stable hash of the template and the collision count (FNV-1a over the template's JSON),
/// spelled with upstream's "safe" alphabet so it never forms words or looks like a number.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let text = template_without_hash(Some(template)).to_string();
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(text.as_bytes());
    if let Some(count) = collision_count {
        feed(&count.to_le_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
        .collect()
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

fn actual(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(rs, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn created(rs: &ReplicaSet) -> (Option<Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

/// The rollout's working copy of the Deployment's ReplicaSets.
struct World<'a> {
    d: &'a Deployment,
    desired: i32,
    surge: i32,
    unavailable: i32,
    now: Timestamp,
    /// Oldest first; the new set (if any) is among them.
    sets: Vec<ReplicaSet>,
    new: Option<usize>,
    /// The new set is not in the API yet.
    creating: bool,
    conditions: Vec<DeploymentCondition>,
}

impl World<'_> {
    fn olds(&self) -> impl Iterator<Item = (usize, &ReplicaSet)> {
        self.sets
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != self.new)
    }

    fn new_set(&self) -> Option<&ReplicaSet> {
        self.new.map(|i| &self.sets[i])
    }

    fn max_old_revision(&self) -> i64 {
        self.olds().map(|(_, rs)| revision(rs)).max().unwrap_or(0)
    }

    /// Resizes set `index`, stamping the replica annotations (`scaleReplicaSet`).
    fn scale(&mut self, index: usize, replicas: i32) {
        let desired = self.desired.to_string();
        let max = (self.desired + self.surge).to_string();
        let rs = &mut self.sets[index];
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(replicas.max(0));
        }
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.insert(DESIRED_REPLICAS.into(), desired);
        annotations.insert(MAX_REPLICAS.into(), max);
    }

    fn set_condition(&mut self, condition: DeploymentCondition) {
        set_condition(&mut self.conditions, condition);
    }

    fn condition(&self, kind: &str) -> Option<&DeploymentCondition> {
        self.conditions.iter().find(|c| c.type_ == kind)
    }
}

fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// `SetDeploymentCondition`: a condition with the same status and reason is left as it is; the
/// transition time survives a change of reason alone.
fn set_condition(conditions: &mut Vec<DeploymentCondition>, mut next: DeploymentCondition) {
    if let Some(current) = conditions.iter().find(|c| c.type_ == next.type_) {
        if current.status == next.status && current.reason == next.reason {
            return;
        }
        if current.status == next.status {
            next.last_transition_time = current.last_transition_time.clone();
        }
    }
    conditions.retain(|c| c.type_ != next.type_);
    conditions.push(next);
}

/// Decides one reconcile of `d`. `sets` are the ReplicaSets it owns, `pods` the pods those own.
pub fn sync(
    d: &Deployment,
    sets: &[&ReplicaSet],
    pods: &[&Pod],
    now: Timestamp,
) -> Result<Plan, Error> {
    let (surge, unavailable) = surge_and_unavailable(d)?;
    let mut sorted: Vec<ReplicaSet> = sets.iter().map(|rs| (*rs).clone()).collect();
    sorted.sort_by_key(created);
    let wanted = template_without_hash(Some(&template(d)?));
    let new = sorted.iter().position(|rs| {
        template_without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted
    });
    let mut world = World {
        d,
        desired: desired(d),
        surge,
        unavailable,
        now,
        sets: sorted,
        new,
        creating: false,
        conditions: d
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default(),
    };
    let mut delete = Vec::new();
    let estimate_progress = if d.metadata.deletion_timestamp.is_some() {
        false
    } else {
        paused_conditions(&mut world);
        sync_new_set_revision(&mut world);
        if paused(d) {
            proportional_scale(&mut world);
            delete = cleanup(&world);
            false
        } else if is_scaling_event(&world) {
            proportional_scale(&mut world);
            false
        } else {
            if is_recreate(d) {
                rollout_recreate(&mut world, pods)?;
            } else {
                rollout_rolling(&mut world)?;
            }
            if complete_now(&world) {
                delete = cleanup(&world);
            }
            true
        }
    };
    let status = status(&mut world, estimate_progress);
    let requeue = requeue_for_deadline(&world, &status);
    Ok(finish(world, sets, status, delete, requeue))
}

/// Progressing=Unknown `DeploymentPaused` / `DeploymentResumed` (`checkPausedConditions`).
fn paused_conditions(world: &mut World) {
    let current = world.condition("Progressing");
    if current.is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")) {
        return;
    }
    let paused_now = current.is_some_and(|c| c.reason.as_deref() == Some("DeploymentPaused"));
    let now = world.now;
    if paused(world.d) && !paused_now {
        world.set_condition(condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            now,
        ));
    } else if !paused(world.d) && paused_now {
        world.set_condition(condition(
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed".into(),
            now,
        ));
    }
}

/// The annotations a Deployment's new ReplicaSet carries (`SetNewReplicaSetAnnotations`):
/// the Deployment's own (minus the controller's), the revision, and its history after a rollback.
fn new_set_annotations(
    d: &Deployment,
    current: &BTreeMap<String, String>,
    revision: i64,
) -> BTreeMap<String, String> {
    let mut annotations = current.clone();
    for (key, value) in d.metadata.annotations.iter().flatten() {
        if !NOT_COPIED.contains(&key.as_str()) {
            annotations.insert(key.clone(), value.clone());
        }
    }
    let old: Option<i64> = current.get(REVISION).and_then(|r| r.parse().ok());
    if old.unwrap_or(0) < revision {
        annotations.insert(REVISION.into(), revision.to_string());
        if let Some(old) = old {
            let history = match current.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old.to_string(),
            };
            annotations.insert(REVISION_HISTORY.into(), history);
        }
    }
    annotations
}

/// An existing new set takes the next revision (a rollback) and follows minReadySeconds.
fn sync_new_set_revision(world: &mut World) {
    let Some(index) = world.new else { return };
    let revision = world.max_old_revision() + 1;
    let min_ready = min_ready_seconds(world.d);
    let rs = &mut world.sets[index];
    let current = rs.metadata.annotations.clone().unwrap_or_default();
    rs.metadata.annotations = Some(new_set_annotations(world.d, &current, revision));
    if let Some(spec) = rs.spec.as_mut() {
        spec.min_ready_seconds = Some(min_ready);
    }
    let name = rs.metadata.name.clone().unwrap_or_default();
    if progress_deadline(world.d).is_some() && world.condition("Progressing").is_none() {
        let now = world.now;
        world.set_condition(condition(
            "Progressing",
            "True",
            "FoundNewReplicaSet",
            format!("Found new replica set {name:?}"),
            now,
        ));
    }
}

/// `isScalingEvent`: an active set was sized for a different `spec.replicas`.
fn is_scaling_event(world: &World) -> bool {
    world
        .sets
        .iter()
        .filter(|rs| spec_replicas(rs) > 0)
        .filter_map(|rs| annotation(rs, DESIRED_REPLICAS)?.parse::<i32>().ok())
        .any(|annotated| annotated != world.desired)
}

/// `scale`: one active set takes all replicas; a saturated new set retires the old ones;
/// otherwise, mid-rollout, replicas are added or removed in proportion to each set's size.
fn proportional_scale(world: &mut World) {
    let active: Vec<usize> = (0..world.sets.len())
        .filter(|&i| spec_replicas(&world.sets[i]) > 0)
        .collect();
    let sole = match active.as_slice() {
        [only] => Some(*only),
        [] => world.new.or_else(|| world.sets.len().checked_sub(1)),
        _ => None,
    };
    if let Some(index) = sole {
        // Also when the size is right: the replica annotations must follow, or every later
        // reconcile would see a scaling event again.
        world.scale(index, world.desired);
        return;
    }
    if let Some(new) = world.new_set()
        && spec_replicas(new) == world.desired
        && annotation(new, DESIRED_REPLICAS) == Some(world.desired.to_string().as_str())
        && available(new) == world.desired
    {
        let olds: Vec<usize> = world.olds().map(|(i, _)| i).collect();
        for index in olds {
            if spec_replicas(&world.sets[index]) != 0 {
                world.scale(index, 0);
            }
        }
        return;
    }
    if is_recreate(world.d) {
        return;
    }
    spread(world, &active);
}

/// Adds or removes `desired + surge - current` replicas across the active sets, in proportion to
/// the size each had when it was last scaled (`max-replicas`); the rounding leftover goes to the
/// largest (newest on the way up, oldest on the way down).
fn spread(world: &mut World, active: &[usize]) {
    let total: i32 = active.iter().map(|&i| spec_replicas(&world.sets[i])).sum();
    let allowed = if world.desired > 0 {
        world.desired + world.surge
    } else {
        0
    };
    let to_add = allowed - total;
    let mut order = active.to_vec();
    order.sort_by(|&a, &b| {
        let (x, y) = (&world.sets[a], &world.sets[b]);
        let by_size = spec_replicas(y).cmp(&spec_replicas(x));
        let by_age = if to_add > 0 {
            created(y).cmp(&created(x))
        } else {
            created(x).cmp(&created(y))
        };
        by_size.then(by_age)
    });
    let previous_total = world
        .d
        .status
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(0);
    let mut added = 0;
    let mut sizes: Vec<(usize, i32)> = Vec::new();
    for &index in &order {
        let rs = &world.sets[index];
        let proportion = proportion(rs, allowed, previous_total, to_add, added);
        sizes.push((index, spec_replicas(rs) + proportion));
        added += proportion;
    }
    if let Some(first) = sizes.first_mut().filter(|_| to_add != 0) {
        first.1 = (first.1 + to_add - added).max(0);
    }
    // Every active set is rescaled, unchanged sizes too, so its annotations follow the new size.
    for (index, size) in sizes {
        world.scale(index, size);
    }
}

/// `GetProportion`: the set's share of the change, never more than is left to hand out.
fn proportion(rs: &ReplicaSet, allowed: i32, previous_total: i32, to_add: i32, added: i32) -> i32 {
    let replicas = spec_replicas(rs);
    if replicas == 0 || to_add == added {
        return 0;
    }
    let annotated = annotation(rs, MAX_REPLICAS)
        .and_then(|m| m.parse::<i32>().ok())
        .unwrap_or(previous_total);
    let fraction = if allowed == 0 || annotated == 0 {
        -replicas
    } else {
        let scaled = f64::from(replicas) * f64::from(allowed) / f64::from(annotated);
        // Bounded by i32 arithmetic above, so the cast cannot truncate meaningfully.
        #[allow(clippy::cast_possible_truncation)]
        let rounded = scaled.round() as i32;
        rounded - replicas
    };
    let left = to_add - added;
    if to_add > 0 {
        fraction.min(left)
    } else {
        fraction.max(left)
    }
}

/// Builds the new set `<name>-<hash>` for the current template, at `replicas`.
fn new_set(world: &World, replicas: i32) -> Result<ReplicaSet, Error> {
    let d = world.d;
    let spec = d
        .spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("deployment has no spec".into()))?;
    let collisions = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&spec.template, collisions);
    let mut template = spec.template.clone();
    let template_meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    let mut labels = template_meta.labels.clone().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    template_meta.labels = Some(labels.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    let mut annotations = new_set_annotations(d, &BTreeMap::new(), world.max_old_revision() + 1);
    annotations.insert(DESIRED_REPLICAS.into(), world.desired.to_string());
    annotations.insert(
        MAX_REPLICAS.into(),
        (world.desired + world.surge).to_string(),
    );
    let name = d.metadata.name.clone().unwrap_or_default();
    Ok(ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{name}-{hash}")),
            namespace: d.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![controller_owner("apps/v1", "Deployment", &d.metadata)]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: Some(min_ready_seconds(d)),
            selector,
            template: Some(template),
        }),
        status: None,
    })
}

/// Adds the new set to the world, to be created (`getNewReplicaSet` with create).
fn create_new_set(world: &mut World, replicas: i32) -> Result<(), Error> {
    let rs = new_set(world, replicas)?;
    let name = rs.metadata.name.clone().unwrap_or_default();
    world.sets.push(rs);
    world.new = Some(world.sets.len() - 1);
    world.creating = true;
    if progress_deadline(world.d).is_some() {
        let now = world.now;
        world.set_condition(condition(
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set {name:?}"),
            now,
        ));
    }
    Ok(())
}

fn views(world: &World) -> (SetView, Vec<SetView>, Vec<usize>) {
    let view = |rs: &ReplicaSet| SetView {
        name: rs.metadata.name.clone().unwrap_or_default(),
        replicas: spec_replicas(rs),
        available: available(rs),
    };
    let new = world.new_set().map_or_else(
        || SetView {
            name: String::new(),
            replicas: 0,
            available: 0,
        },
        view,
    );
    let (indexes, olds): (Vec<usize>, Vec<SetView>) =
        world.olds().map(|(i, rs)| (i, view(rs))).unzip();
    (new, olds, indexes)
}

/// `rolloutRolling`: grow the new set within the surge; else shrink the old ones within the
/// unavailability budget.
fn rollout_rolling(world: &mut World) -> Result<(), Error> {
    if world.new.is_none() {
        let (new, olds, _) = views(world);
        let replicas = new_set_replicas(world.desired, world.surge, &new, &olds);
        return create_new_set(world, replicas);
    }
    let (new, olds, indexes) = views(world);
    let new_index = world.new.unwrap_or_default();
    let target = if new.replicas > world.desired {
        world.desired
    } else {
        new_set_replicas(world.desired, world.surge, &new, &olds)
    };
    if target != new.replicas {
        world.scale(new_index, target);
        return Ok(());
    }
    let sizes = old_set_replicas(world.desired, world.unavailable, &new, &olds);
    for (index, (_, size)) in indexes.into_iter().zip(sizes) {
        if size != spec_replicas(&world.sets[index]) {
            world.scale(index, size);
        }
    }
    Ok(())
}

/// `oldPodsRunning`: any pod of an old set that has not finished, terminating ones included.
fn old_pods_running(world: &World, pods: &[&Pod]) -> bool {
    if world.olds().any(|(_, rs)| actual(rs) > 0) {
        return true;
    }
    let new_uid = world.new_set().and_then(|rs| rs.metadata.uid.clone());
    let old_uids: Vec<String> = world
        .olds()
        .filter_map(|(_, rs)| rs.metadata.uid.clone())
        .collect();
    pods.iter().any(|pod| {
        let owner = controller_ref(&pod.metadata).map(|o| o.uid.clone());
        owner.is_some_and(|uid| old_uids.contains(&uid) && Some(&uid) != new_uid.as_ref())
            && !matches!(pods::phase(pod), "Succeeded" | "Failed")
    })
}

/// `rolloutRecreate`: every old pod gone before the new set starts.
fn rollout_recreate(world: &mut World, pods: &[&Pod]) -> Result<(), Error> {
    let active_olds: Vec<usize> = world
        .olds()
        .filter(|(_, rs)| spec_replicas(rs) > 0)
        .map(|(i, _)| i)
        .collect();
    if !active_olds.is_empty() {
        for index in active_olds {
            world.scale(index, 0);
        }
        return Ok(());
    }
    if old_pods_running(world, pods) {
        return Ok(());
    }
    match world.new {
        None => create_new_set(world, world.desired),
        Some(index) if spec_replicas(&world.sets[index]) != world.desired => {
            world.scale(index, world.desired);
            Ok(())
        }
        Some(_) => Ok(()),
    }
}

/// `DeploymentComplete` on the world as it stands (before this step's writes take effect).
fn complete_now(world: &World) -> bool {
    let Some(new) = world.new_set() else {
        return false;
    };
    let total: i32 = world.sets.iter().map(actual).sum();
    actual(new) == world.desired
        && total == world.desired
        && available(new) == world.desired
        && spec_replicas(new) == world.desired
}

/// `cleanupDeployment`: old sets beyond `revisionHistoryLimit`, oldest revision first, and only
/// those already empty and settled.
fn cleanup(world: &World) -> Vec<String> {
    let limit = world
        .d
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(DEFAULT_HISTORY_LIMIT)
        .max(0);
    let mut cleanable: Vec<&ReplicaSet> = world
        .olds()
        .map(|(_, rs)| rs)
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = cleanable
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    cleanable.sort_by_key(|rs| (revision(rs), created(rs)));
    cleanable
        .into_iter()
        .take(excess)
        .filter(|rs| {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            actual(rs) == 0
                && spec_replicas(rs) == 0
                && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .filter_map(|rs| rs.metadata.name.clone())
        .collect()
}

/// `calculateStatus` plus, during a rollout, `syncRolloutStatus`'s progress estimate.
fn status(world: &mut World, estimate_progress: bool) -> DeploymentStatus {
    let d = world.d;
    let sum = |f: fn(&ReplicaSet) -> i32| world.sets.iter().map(f).sum::<i32>();
    let available_total = sum(available);
    let spec_total = sum(spec_replicas);
    let previous = d.status.clone().unwrap_or_default();
    let mut next = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(actual)),
        updated_replicas: Some(world.new_set().map_or(0, actual)),
        ready_replicas: Some(sum(ready)),
        available_replicas: Some(available_total),
        unavailable_replicas: Some((spec_total - available_total).max(0)),
        collision_count: previous.collision_count,
        terminating_replicas: previous.terminating_replicas,
        conditions: None,
    };
    let now = world.now;
    let minimum = if is_recreate(d) || world.desired == 0 {
        0
    } else {
        world.unavailable
    };
    if available_total >= world.desired - minimum {
        world.set_condition(condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            now,
        ));
    } else {
        world.set_condition(condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            now,
        ));
    }
    if estimate_progress {
        progress(world, &previous, &next);
    }
    if progress_deadline(d).is_none() {
        world.conditions.retain(|c| c.type_ != "Progressing");
    }
    replica_failure(world);
    next.conditions = (!world.conditions.is_empty()).then(|| world.conditions.clone());
    next
}

/// The Progressing condition: complete, progressing, or past its deadline.
fn progress(world: &mut World, previous: &DeploymentStatus, next: &DeploymentStatus) {
    let Some(deadline) = progress_deadline(world.d) else {
        return;
    };
    let name = world
        .new_set()
        .and_then(|rs| rs.metadata.name.clone())
        .unwrap_or_default();
    let current = world.condition("Progressing").cloned();
    let already_complete = next.replicas == next.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"));
    if already_complete {
        return;
    }
    let now = world.now;
    let desired = Some(world.desired);
    let complete = next.updated_replicas == desired
        && next.replicas == desired
        && next.available_replicas == desired
        && next.observed_generation >= world.d.metadata.generation;
    let old_before = previous.replicas.unwrap_or(0) - previous.updated_replicas.unwrap_or(0);
    let old_now = next.replicas.unwrap_or(0) - next.updated_replicas.unwrap_or(0);
    let count = |value: Option<i32>| value.unwrap_or(0);
    let progressing = count(next.updated_replicas) > count(previous.updated_replicas)
        || old_now < old_before
        || count(next.ready_replicas) > count(previous.ready_replicas)
        || count(next.available_replicas) > count(previous.available_replicas);
    if complete {
        world.set_condition(condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet {name:?} has successfully progressed."),
            now,
        ));
    } else if progressing {
        let mut next = condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet {name:?} is progressing."),
            now,
        );
        if let Some(current) = current.filter(|c| c.status == "True") {
            next.last_transition_time = current.last_transition_time;
        }
        world.conditions.retain(|c| c.type_ != "Progressing");
        world.conditions.push(next);
    } else if timed_out(current.as_ref(), deadline, now) {
        world.set_condition(condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            format!("ReplicaSet {name:?} has timed out progressing."),
            now,
        ));
    }
}

fn deadline_of(condition: &DeploymentCondition, deadline: i32) -> Option<Timestamp> {
    let from = condition.last_update_time.as_ref()?.0;
    from.checked_add(SignedDuration::from_secs(i64::from(deadline)))
        .ok()
}

/// `DeploymentTimedOut`: no progress recorded for `progressDeadlineSeconds`.
fn timed_out(current: Option<&DeploymentCondition>, deadline: i32, now: Timestamp) -> bool {
    let Some(current) = current else { return false };
    match current.reason.as_deref() {
        Some("NewReplicaSetAvailable") => false,
        Some("ProgressDeadlineExceeded") => true,
        _ => deadline_of(current, deadline).is_some_and(|at| at < now),
    }
}

/// A ReplicaFailure on any set shows on the Deployment; it goes when none has one.
fn replica_failure(world: &mut World) {
    let failure = world.sets.iter().find_map(|rs| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
            .cloned()
    });
    match failure {
        Some(failure) => {
            let now = world.now;
            let reason = failure.reason.unwrap_or_default();
            world.set_condition(condition(
                "ReplicaFailure",
                "True",
                &reason,
                failure.message.unwrap_or_default(),
                now,
            ));
        }
        None => world.conditions.retain(|c| c.type_ != "ReplicaFailure"),
    }
}

/// How long until a rollout that is still progressing would pass its deadline.
fn requeue_for_deadline(world: &World, status: &DeploymentStatus) -> Option<Duration> {
    let deadline = progress_deadline(world.d)?;
    if paused(world.d) {
        return None;
    }
    let current = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing" && c.status == "True")?;
    if current.reason.as_deref() == Some("NewReplicaSetAvailable") {
        return None;
    }
    let at = deadline_of(current, deadline)?;
    let wait = at.duration_since(world.now).max(SignedDuration::ZERO);
    Some(Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(500))
}

/// Turns the world into writes: the set to create, the resizes and annotation changes.
fn finish(
    world: World,
    before: &[&ReplicaSet],
    status: DeploymentStatus,
    delete: Vec<String>,
    requeue: Option<Duration>,
) -> Plan {
    let mut plan = Plan {
        status,
        delete,
        requeue,
        ..Plan::default()
    };
    let new_revision = world
        .new_set()
        .and_then(|rs| annotation(rs, REVISION))
        .map(str::to_string);
    let current_revision = world
        .d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .cloned();
    if new_revision.is_some() && new_revision != current_revision {
        plan.revision = new_revision;
    }
    for (index, rs) in world.sets.into_iter().enumerate() {
        if world.creating && Some(index) == world.new {
            plan.create = Some(rs);
            continue;
        }
        let Some(original) = before
            .iter()
            .find(|o| o.metadata.uid == rs.metadata.uid && o.metadata.name == rs.metadata.name)
        else {
            continue;
        };
        let min_ready = rs
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let unchanged = spec_replicas(original) == spec_replicas(&rs)
            && original.metadata.annotations.clone().unwrap_or_default()
                == rs.metadata.annotations.clone().unwrap_or_default()
            && original
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
                == min_ready;
        if unchanged {
            continue;
        }
        plan.updates.push(SetUpdate {
            name: rs.metadata.name.clone().unwrap_or_default(),
            from: spec_replicas(original),
            replicas: spec_replicas(&rs),
            annotations: rs.metadata.annotations.unwrap_or_default(),
            min_ready_seconds: min_ready,
        });
    }
    plan
}

/// Whether the status needs writing.
pub fn status_changed(d: &Deployment, next: &DeploymentStatus) -> bool {
    d.status.as_ref() != Some(next)
}

/// The event for a resize (`ScalingReplicaSet`).
pub fn scaling_message(name: &str, from: i32, to: i32) -> String {
    let direction = if to > from { "up" } else { "down" };
    format!("Scaled {direction} replica set {name} from {from} to {to}")
}

/// Whether `rs` is this Deployment's and runs its current template.
pub fn owns_with_template(d: &Deployment, rs: &ReplicaSet) -> bool {
    let ours = controller_ref(&rs.metadata)
        .is_some_and(|owner| Some(&owner.uid) == d.metadata.uid.as_ref());
    ours && template(d).is_ok_and(|t| {
        template_without_hash(Some(&t))
            == template_without_hash(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition_of(status: &DeploymentStatus, kind: &str) -> DeploymentCondition {
        let conditions = status.conditions.clone().unwrap_or_default();
        conditions
            .into_iter()
            .find(|c| c.type_ == kind)
            .unwrap_or_else(|| panic!("no {kind} condition"))
    }
    use crate::pods::fixtures::at;
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment,
    };
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use kube::ResourceExt;
    use proptest::prelude::*;

    fn deployment(replicas: i32, image: &str) -> Deployment {
        let app = BTreeMap::from([("app".to_string(), "web".to_string())]);
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("d-uid".into()),
                generation: Some(1),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(app.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(app),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "web".into(),
                            image: Some(image.into()),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..DeploymentSpec::default()
            }),
            status: None,
        }
    }

    fn rolling(mut d: Deployment, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        });
        d
    }

    /// A plan's new set as the API would store it, at `created` seconds, fully available.
    fn stored(mut rs: ReplicaSet, uid: &str, created: i64, available: i32) -> ReplicaSet {
        rs.metadata.uid = Some(uid.into());
        rs.metadata.creation_timestamp = Some(Time(at(created)));
        rs.metadata.generation = Some(1);
        let replicas = spec_replicas(&rs);
        rs.status = Some(ReplicaSetStatus {
            replicas,
            ready_replicas: Some(available),
            available_replicas: Some(available),
            observed_generation: Some(1),
            ..ReplicaSetStatus::default()
        });
        rs
    }

    /// A set running `image` at `replicas`, all available, at revision `revision`.
    fn running(d: &Deployment, image: &str, replicas: i32, revision: i64) -> ReplicaSet {
        let other = deployment(replicas, image);
        let world_d = Deployment {
            metadata: d.metadata.clone(),
            ..other
        };
        let plan = sync(&world_d, &[], &[], at(0)).unwrap();
        let mut rs = plan.create.unwrap();
        rs.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(REVISION.into(), revision.to_string());
        rs.spec.as_mut().unwrap().replicas = Some(replicas);
        stored(rs, &format!("rs-{image}"), revision, replicas)
    }

    fn apply_updates(sets: &mut [ReplicaSet], plan: &Plan) {
        for update in &plan.updates {
            let rs = sets
                .iter_mut()
                .find(|rs| rs.metadata.name.as_deref() == Some(&update.name))
                .unwrap();
            rs.spec.as_mut().unwrap().replicas = Some(update.replicas);
            rs.metadata.annotations = Some(update.annotations.clone());
        }
    }

    #[test]
    fn a_new_deployment_gets_a_hashed_set_at_revision_one() {
        let d = deployment(3, "web:v1");
        let plan = sync(&d, &[], &[], at(0)).unwrap();
        let rs = plan.create.expect("a new set");
        let hash = template_hash(&d.spec.as_ref().unwrap().template, None);
        assert_eq!(
            rs.metadata.name.as_deref(),
            Some(format!("web-{hash}").as_str())
        );
        let labels = rs
            .spec
            .as_ref()
            .unwrap()
            .template
            .as_ref()
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .clone()
            .unwrap();
        assert_eq!(labels.get(HASH_LABEL), Some(&hash));
        let selector = rs
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .clone()
            .unwrap();
        assert_eq!(selector.get(HASH_LABEL), Some(&hash));
        let annotations = rs.metadata.annotations.clone().unwrap();
        assert_eq!(annotations.get(REVISION).map(String::as_str), Some("1"));
        assert_eq!(
            annotations.get(DESIRED_REPLICAS).map(String::as_str),
            Some("3")
        );
        // Default 25% surge of 3 rounds up to 1: max 4; the first step creates at 3 (no olds).
        assert_eq!(annotations.get(MAX_REPLICAS).map(String::as_str), Some("4"));
        assert_eq!(spec_replicas(&rs), 3);
        let progressing = condition_of(&plan.status, "Progressing");
        assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetCreated"));
    }

    #[test]
    fn the_hash_is_stable_ignores_its_own_label_and_changes_with_collisions() {
        let template = deployment(1, "web:v1").spec.unwrap().template;
        let mut labelled = template.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(HASH_LABEL.into(), "x".into());
        assert_eq!(
            template_hash(&template, None),
            template_hash(&labelled, None)
        );
        assert_ne!(
            template_hash(&template, None),
            template_hash(&template, Some(1))
        );
        let other = deployment(1, "web:v2").spec.unwrap().template;
        assert_ne!(template_hash(&template, None), template_hash(&other, None));
        assert!(
            template_hash(&template, None)
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
    }

    #[test]
    fn max_unavailable_zero_surges_first_and_scales_down_only_available_capacity() {
        let d = rolling(
            deployment(3, "web:v2"),
            IntOrString::Int(1),
            IntOrString::Int(0),
        );
        let old = running(&d, "web:v1", 3, 1);
        let plan = sync(&d, &[&old], &[], at(10)).unwrap();
        let new = plan.create.expect("new set");
        assert_eq!(spec_replicas(&new), 1, "surge of one");
        assert!(
            plan.updates.is_empty(),
            "nothing old goes before the new pod is available"
        );
        assert_eq!(
            new.metadata
                .annotations
                .as_ref()
                .unwrap()
                .get(REVISION)
                .map(String::as_str),
            Some("2")
        );
        // The new pod exists but is not available: still nothing old may go.
        let new = stored(new, "rs-new", 10, 0);
        let plan = sync(&d, &[&old, &new], &[], at(11)).unwrap();
        assert!(plan.updates.is_empty(), "{:?}", plan.updates);
        let new = stored(new, "rs-new", 10, 1);
        let plan = sync(&d, &[&old, &new], &[], at(12)).unwrap();
        assert_eq!(plan.updates.len(), 1);
        assert_eq!((plan.updates[0].from, plan.updates[0].replicas), (3, 2));
        assert_eq!(
            scaling_message(&plan.updates[0].name, 3, 2),
            format!(
                "Scaled down replica set {} from 3 to 2",
                plan.updates[0].name
            )
        );
    }

    #[test]
    fn recreate_removes_every_old_pod_before_creating() {
        let mut d = deployment(2, "web:v2");
        d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
        let mut old = running(&d, "web:v1", 2, 1);
        let plan = sync(&d, &[&old], &[], at(5)).unwrap();
        assert!(plan.create.is_none());
        assert_eq!(plan.updates[0].replicas, 0);
        // Scaled to zero, but a pod still runs (terminating): wait.
        old.spec.as_mut().unwrap().replicas = Some(0);
        old.status = Some(ReplicaSetStatus {
            replicas: 0,
            ..ReplicaSetStatus::default()
        });
        let mut pod = crate::pods::fixtures::pod("old-1", 0, Some("n"), "Running", Some(1));
        pod.metadata.owner_references = Some(vec![controller_owner(
            "apps/v1",
            "ReplicaSet",
            &old.metadata,
        )]);
        assert!(sync(&d, &[&old], &[&pod], at(6)).unwrap().create.is_none());
        let plan = sync(&d, &[&old], &[], at(7)).unwrap();
        assert_eq!(plan.create.map(|rs| spec_replicas(&rs)), Some(2));
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        let mut d = rolling(
            deployment(20, "web:v2"),
            IntOrString::Int(3),
            IntOrString::Int(2),
        );
        d.status = Some(DeploymentStatus {
            replicas: Some(13),
            ..DeploymentStatus::default()
        });
        let mut old = running(&d, "web:v1", 8, 1);
        let mut new = running(&d, "web:v2", 5, 2);
        for rs in [&mut old, &mut new] {
            let annotations = rs.metadata.annotations.as_mut().unwrap();
            annotations.insert(DESIRED_REPLICAS.into(), "10".into());
            annotations.insert(MAX_REPLICAS.into(), "13".into());
        }
        let plan = sync(&d, &[&old, &new], &[], at(30)).unwrap();
        let size = |name: &str| {
            plan.updates
                .iter()
                .find(|u| u.name == name)
                .map(|u| u.replicas)
        };
        // 23 allowed: 8·23/13 ≈ 14 and 5·23/13 ≈ 9.
        assert_eq!(size(old.metadata.name.as_deref().unwrap()), Some(14));
        assert_eq!(size(new.metadata.name.as_deref().unwrap()), Some(9));
        assert!(
            plan.updates
                .iter()
                .all(|u| u.annotations.get(DESIRED_REPLICAS).map(String::as_str) == Some("20"))
        );
    }

    #[test]
    fn no_progress_past_the_deadline_is_progress_deadline_exceeded() {
        let mut d = rolling(
            deployment(2, "web:v2"),
            IntOrString::Int(1),
            IntOrString::Int(0),
        );
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(10);
        let old = running(&d, "web:v1", 2, 1);
        let created = sync(&d, &[&old], &[], at(100)).unwrap();
        let new = stored(created.create.unwrap(), "rs-new", 100, 0);
        d.status = Some(created.status);
        let plan = sync(&d, &[&old, &new], &[], at(105)).unwrap();
        // The new pod counts as progress: the deadline runs from now.
        assert_eq!(plan.requeue, Some(Duration::from_millis(10_500)));
        d.status = Some(plan.status);
        let plan = sync(&d, &[&old, &new], &[], at(114)).unwrap();
        assert_eq!(plan.requeue, Some(Duration::from_millis(1500)));
        let plan = sync(&d, &[&old, &new], &[], at(116)).unwrap();
        let progressing = plan
            .status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Progressing")
            .unwrap();
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_deref()),
            ("False", Some("ProgressDeadlineExceeded"))
        );
        assert!(plan.updates.is_empty(), "old pods stay");
        let available = plan
            .status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Available")
            .unwrap();
        assert_eq!(available.status, "True");
    }

    #[test]
    fn a_paused_deployment_rolls_nothing_out() {
        let mut d = deployment(2, "web:v2");
        d.spec.as_mut().unwrap().paused = Some(true);
        let old = running(&d, "web:v1", 2, 1);
        let plan = sync(&d, &[&old], &[], at(5)).unwrap();
        assert!(plan.create.is_none() && plan.updates.iter().all(|u| u.replicas == 2));
        let progressing = condition_of(&plan.status, "Progressing");
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_deref()),
            ("Unknown", Some("DeploymentPaused"))
        );
    }

    #[test]
    fn a_rollback_takes_the_next_revision_and_keeps_the_old_one_in_history() {
        let d = deployment(2, "web:v1");
        let mut back = running(&d, "web:v1", 0, 1);
        back.status.as_mut().unwrap().available_replicas = Some(0);
        let current = running(&d, "web:v2", 2, 2);
        let plan = sync(&d, &[&back, &current], &[], at(50)).unwrap();
        assert!(plan.create.is_none());
        let update = plan
            .updates
            .iter()
            .find(|u| u.name == back.name_any())
            .unwrap();
        assert_eq!(
            update.annotations.get(REVISION).map(String::as_str),
            Some("3")
        );
        assert_eq!(
            update.annotations.get(REVISION_HISTORY).map(String::as_str),
            Some("1")
        );
        assert_eq!(plan.revision.as_deref(), Some("3"));
    }

    #[test]
    fn history_beyond_the_limit_is_deleted_oldest_first_once_empty() {
        let mut d = deployment(1, "web:v4");
        d.spec.as_mut().unwrap().revision_history_limit = Some(1);
        let mut olds: Vec<ReplicaSet> = (1..=3)
            .map(|r| running(&d, &format!("web:v{r}"), 0, r))
            .collect();
        olds[0].status.as_mut().unwrap().available_replicas = Some(0);
        let current = running(&d, "web:v4", 1, 4);
        let mut refs: Vec<&ReplicaSet> = olds.iter().collect();
        refs.push(&current);
        let plan = sync(&d, &refs, &[], at(60)).unwrap();
        assert_eq!(plan.delete, vec![olds[0].name_any(), olds[1].name_any()]);
        // Its last resize not yet observed by the ReplicaSet controller: keep it for now.
        olds[0].metadata.generation = Some(2);
        let refs: Vec<&ReplicaSet> = olds.iter().chain([&current]).collect();
        assert_eq!(
            sync(&d, &refs, &[], at(60)).unwrap().delete,
            vec![olds[1].name_any()],
            "an unsettled set is kept"
        );
    }

    proptest! {
        /// The whole core driven through a rollout: after each step the ReplicaSets' pods follow
        /// their sizes (old ones lose unavailable pods first, new ones become available at a
        /// random pace). Never more than replicas + maxSurge pods, never fewer than
        /// replicas - maxUnavailable available, and the rollout completes.
        #[test]
        fn a_rolling_update_keeps_within_its_bounds_and_completes(
            replicas in 1i32..15,
            surge in 0i32..5,
            unavailable in 0i32..5,
            pace in proptest::collection::vec(0i32..3, 120),
        ) {
            let d = rolling(deployment(replicas, "web:v2"), IntOrString::Int(surge), IntOrString::Int(unavailable));
            let (max_surge, max_unavailable) = surge_and_unavailable(&d).unwrap();
            let mut sets = vec![running(&d, "web:v1", replicas, 1)];
            let mut d = d;
            for (step, ready) in pace.into_iter().enumerate() {
                let refs: Vec<&ReplicaSet> = sets.iter().collect();
                let now = at(10 + step as i64);
                let plan = sync(&d, &refs, &[], now).unwrap();
                if let Some(rs) = &plan.create {
                    sets.push(stored(rs.clone(), "rs-new", 10, 0));
                }
                apply_updates(&mut sets, &plan);
                let new_index = sets.len() - 1;
                for (index, rs) in sets.iter_mut().enumerate() {
                    let size = spec_replicas(rs);
                    let status = rs.status.as_mut().unwrap();
                    status.replicas = size;
                    let grown = if index == new_index && sets_len_is_two(new_index) { available_after(status.available_replicas, ready) } else { status.available_replicas.unwrap_or(0) };
                    status.available_replicas = Some(grown.min(size));
                }
                d.status = Some(plan.status);
                let total: i32 = sets.iter().map(spec_replicas).sum();
                let available_total: i32 = sets.iter().map(available).sum();
                prop_assert!(total <= replicas + max_surge, "{total} pods > {replicas} + {max_surge}");
                prop_assert!(available_total >= replicas - max_unavailable, "{available_total} available < {replicas} - {max_unavailable}");
            }
            prop_assert_eq!(sets.len(), 2);
            prop_assert_eq!(spec_replicas(&sets[1]), replicas);
            prop_assert_eq!(spec_replicas(&sets[0]), 0);
            let progressing = d.status.as_ref().unwrap().conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Progressing").cloned().unwrap();
            prop_assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetAvailable"));
        }
    }

    fn sets_len_is_two(new_index: usize) -> bool {
        new_index == 1
    }

    /// At least one more pod becomes available every few steps, so the rollout can finish.
    fn available_after(current: Option<i32>, ready: i32) -> i32 {
        current.unwrap_or(0) + ready.max(1)
    }
}
