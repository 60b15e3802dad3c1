//! The ReplicaSet decision core (upstream `pkg/controller/replicaset`): which pods to adopt,
//! release, create and delete, and what the status says. Pure: no I/O, no clock reads.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::Error;
use crate::labels::{Claim, claim, controller_owner, labels, selector};
use crate::pods;

/// Upstream's `BurstReplicas`: at most this many creations or deletions per reconcile.
pub const BURST_REPLICAS: usize = 500;

/// The pods one ReplicaSet deals with, after adoption and release.
#[derive(Debug, Default)]
pub struct Claimed<'a> {
    /// Owned after this reconcile: the already-owned plus the adopted.
    pub owned: Vec<&'a Pod>,
    pub adopt: Vec<&'a Pod>,
    pub release: Vec<&'a Pod>,
}

/// Sorts the namespace's pods into ours, to-adopt and to-release.
pub fn claim_pods<'a>(rs: &ReplicaSet, pods: &[&'a Pod]) -> Result<Claimed<'a>, Error> {
    let spec = rs
        .spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("replicaset has no spec".into()))?;
    let selector = selector(Some(&spec.selector))?;
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let mut claimed = Claimed::default();
    for &pod in pods {
        match claim(&pod.metadata, uid, deleting, &selector) {
            Claim::Owned => claimed.owned.push(pod),
            Claim::Adopt => {
                claimed.owned.push(pod);
                claimed.adopt.push(pod);
            }
            Claim::Release => claimed.release.push(pod),
            Claim::Ignore => {}
        }
    }
    Ok(claimed)
}

/// What to change about the pod count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scale {
    pub create: usize,
    /// Names, in the order they should go.
    pub delete: Vec<String>,
}

pub fn desired_replicas(rs: &ReplicaSet) -> usize {
    let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    usize::try_from(replicas).unwrap_or(0)
}

/// `manageReplicas`: the difference between desired and active pods, bounded by the burst. Nothing
/// happens while earlier writes are not yet visible (`expectations_met == false`) or while the
/// ReplicaSet is being deleted.
pub fn scale(rs: &ReplicaSet, owned: &[&Pod], expectations_met: bool) -> Scale {
    if !expectations_met || rs.metadata.deletion_timestamp.is_some() {
        return Scale::default();
    }
    let mut active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| pods::is_active(p))
        .collect();
    let desired = desired_replicas(rs);
    match active.len().cmp(&desired) {
        Ordering::Less => Scale {
            create: (desired - active.len()).min(BURST_REPLICAS),
            delete: vec![],
        },
        Ordering::Equal => Scale::default(),
        Ordering::Greater => {
            let excess = (active.len() - desired).min(BURST_REPLICAS);
            sort_for_deletion(&mut active);
            let delete = active
                .iter()
                .take(excess)
                .map(|p| p.metadata.name.clone().unwrap_or_default())
                .collect();
            Scale { create: 0, delete }
        }
    }
}

fn phase_rank(pod: &Pod) -> u8 {
    match pods::phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|statuses| statuses.iter().map(|c| c.restart_count).max())
        .unwrap_or(0)
}

/// Upstream's `ActivePodsWithRanks` order: the first pods are the cheapest to lose.
/// Unscheduled before scheduled; Pending before Unknown before Running; not-ready before ready;
/// pods sharing a node with more of their siblings first; ready for less time first; more
/// restarts first; newer before older.
pub fn sort_for_deletion(pods_to_rank: &mut [&Pod]) {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in pods_to_rank.iter() {
        if let Some(node) = pods::node_name(pod) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let rank = |pod: &Pod| {
        pods::node_name(pod)
            .and_then(|n| per_node.get(n).copied())
            .unwrap_or(0)
    };
    pods_to_rank.sort_by(|a, b| {
        let scheduled = pods::node_name(a)
            .is_some()
            .cmp(&pods::node_name(b).is_some());
        scheduled
            .then(phase_rank(a).cmp(&phase_rank(b)))
            .then(pods::is_ready(a).cmp(&pods::is_ready(b)))
            .then(rank(b).cmp(&rank(a)))
            .then_with(|| match (pods::ready_since(a), pods::ready_since(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                _ => Ordering::Equal,
            })
            .then(max_restarts(b).cmp(&max_restarts(a)))
            .then_with(|| pods::created(b).cmp(&pods::created(a)))
    });
}

/// A create or delete that failed, for the `ReplicaFailure` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: &'static str,
    pub message: String,
}

/// `calculateStatus`.
pub fn status(
    rs: &ReplicaSet,
    owned: &[&Pod],
    failure: Option<&Failure>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .map(labels)
        .unwrap_or_default();
    let active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| pods::is_active(p))
        .collect();
    let count = |predicate: &dyn Fn(&Pod) -> bool| {
        i32::try_from(active.iter().filter(|p| predicate(p)).count()).unwrap_or(i32::MAX)
    };
    let fully_labeled = count(&|p| {
        let have = labels(&p.metadata);
        template_labels.iter().all(|(k, v)| have.get(k) == Some(v))
    });
    let previous = rs.status.clone().unwrap_or_default();
    ReplicaSetStatus {
        replicas: count(&|_| true),
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(count(&|p| pods::is_ready(p))),
        available_replicas: Some(count(&|p| pods::is_available(p, min_ready, now))),
        observed_generation: rs.metadata.generation,
        conditions: failure_conditions(previous.conditions.unwrap_or_default(), failure, now),
        terminating_replicas: previous.terminating_replicas,
    }
}

fn failure_conditions(
    mut conditions: Vec<ReplicaSetCondition>,
    failure: Option<&Failure>,
    now: Timestamp,
) -> Option<Vec<ReplicaSetCondition>> {
    let existing = conditions.iter().position(|c| c.type_ == "ReplicaFailure");
    match (failure, existing) {
        (Some(failure), None) => conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(failure.reason.into()),
            message: Some(failure.message.clone()),
            last_transition_time: Some(Time(now)),
        }),
        (None, Some(index)) => {
            conditions.remove(index);
        }
        _ => {}
    }
    (!conditions.is_empty()).then_some(conditions)
}

/// When to look again for pods that will cross `minReadySeconds`.
pub fn requeue_after(rs: &ReplicaSet, owned: &[&Pod], now: Timestamp) -> Option<Duration> {
    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    owned
        .iter()
        .filter(|p| pods::is_active(p))
        .filter_map(|p| pods::until_available(p, min_ready, now))
        .min()
        .map(|wait| Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(100))
}

/// A new pod from the template: `generateName: <rs>-`, the template's labels and annotations, a
/// controller reference to the ReplicaSet.
pub fn new_pod(rs: &ReplicaSet) -> Result<Pod, Error> {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .ok_or_else(|| Error::Invalid("replicaset has no pod template".into()))?;
    let template_meta = template.metadata.unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![controller_owner(
                "apps/v1",
                "ReplicaSet",
                &rs.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    })
}

/// Whether the status differs in anything but timestamps already recorded.
pub fn status_changed(rs: &ReplicaSet, next: &ReplicaSetStatus) -> bool {
    rs.status.as_ref() != Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::fixtures::{at, pod};
    use crate::runtime::pod_control::slow_start_batches;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
    use proptest::prelude::*;

    fn rs(replicas: i32) -> ReplicaSet {
        let app = std::collections::BTreeMap::from([("app".to_string(), "web".to_string())]);
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(3),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(app.clone()),
                    ..LabelSelector::default()
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(app),
                        ..ObjectMeta::default()
                    }),
                    spec: None,
                }),
                min_ready_seconds: None,
            }),
            status: None,
        }
    }

    fn owned(mut pod: Pod) -> Pod {
        pod.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        pod.metadata.owner_references = Some(vec![OwnerReference {
            uid: "rs-uid".into(),
            controller: Some(true),
            ..OwnerReference::default()
        }]);
        pod
    }

    #[test]
    fn creates_the_missing_and_waits_for_expectations() {
        let a = owned(pod("a", 0, None, "Pending", None));
        let owned_pods = vec![&a];
        assert_eq!(scale(&rs(3), &owned_pods, true).create, 2);
        assert_eq!(scale(&rs(3), &owned_pods, false), Scale::default());
    }

    #[test]
    fn terminating_and_finished_pods_do_not_count() {
        let mut gone = owned(pod("a", 0, Some("n"), "Running", Some(1)));
        gone.metadata.deletion_timestamp = Some(Time(at(5)));
        let done = owned(pod("b", 0, Some("n"), "Succeeded", None));
        assert_eq!(scale(&rs(2), &[&gone, &done], true).create, 2);
    }

    #[test]
    fn deletes_in_upstream_order() {
        let ready_old = owned(pod("ready-old", 0, Some("n1"), "Running", Some(1)));
        let ready_new = owned(pod("ready-new", 5, Some("n2"), "Running", Some(6)));
        let running_unready = owned(pod("unready", 0, Some("n3"), "Running", None));
        let pending = owned(pod("pending", 0, Some("n4"), "Pending", None));
        let unscheduled = owned(pod("unscheduled", 0, None, "Pending", None));
        let all = [
            &ready_old,
            &ready_new,
            &running_unready,
            &pending,
            &unscheduled,
        ];
        let plan = scale(&rs(0), &all, true);
        assert_eq!(
            plan.delete,
            [
                "unscheduled",
                "pending",
                "unready",
                "ready-new",
                "ready-old"
            ]
        );
        assert_eq!(scale(&rs(4), &all, true).delete, ["unscheduled"]);
    }

    #[test]
    fn pods_doubled_up_on_a_node_go_first() {
        let a = owned(pod("alone", 9, Some("n1"), "Running", Some(9)));
        let b = owned(pod("shared-1", 0, Some("n2"), "Running", Some(1)));
        let c = owned(pod("shared-2", 0, Some("n2"), "Running", Some(1)));
        assert_eq!(scale(&rs(2), &[&a, &b, &c], true).delete.len(), 1);
        assert_ne!(scale(&rs(2), &[&a, &b, &c], true).delete, ["alone"]);
    }

    #[test]
    fn adopts_matching_orphans_and_releases_mismatches() {
        let mut orphan = pod("orphan", 0, None, "Pending", None);
        orphan.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let mut relabeled = owned(pod("relabeled", 0, None, "Pending", None));
        relabeled.metadata.labels = Some([("app".to_string(), "debug".to_string())].into());
        let claimed = claim_pods(&rs(1), &[&orphan, &relabeled]).unwrap();
        assert_eq!(claimed.adopt.len(), 1);
        assert_eq!(claimed.release.len(), 1);
        assert_eq!(claimed.owned.len(), 1);
    }

    #[test]
    fn status_counts_ready_and_available_and_reports_failures() {
        let mut set = rs(3);
        set.spec.as_mut().unwrap().min_ready_seconds = Some(10);
        let a = owned(pod("a", 0, Some("n"), "Running", Some(0)));
        let b = owned(pod("b", 0, Some("n"), "Running", Some(15)));
        let c = owned(pod("c", 0, None, "Pending", None));
        let failure = Failure {
            reason: "FailedCreate",
            message: "quota".into(),
        };
        let status = status(&set, &[&a, &b, &c], Some(&failure), at(20));
        assert_eq!(status.replicas, 3);
        assert_eq!(status.fully_labeled_replicas, Some(3));
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        assert_eq!(status.observed_generation, Some(3));
        let condition = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (condition.type_.as_str(), condition.reason.as_deref()),
            ("ReplicaFailure", Some("FailedCreate"))
        );
        set.status = Some(status);
        assert!(
            super::status(&set, &[&a], None, at(20))
                .conditions
                .is_none()
        );
        assert_eq!(
            requeue_after(&set, &[&b], at(20)),
            Some(Duration::from_millis(5100))
        );
    }

    #[test]
    fn new_pods_are_owned_and_generated() {
        let pod = new_pod(&rs(1)).unwrap();
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        let owner = &pod.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("ReplicaSet", "rs-uid", Some(true))
        );
    }

    proptest! {
        /// After applying a plan, the active count equals replicas (within the burst).
        #[test]
        fn scale_converges(replicas in 0i32..30, existing in 0usize..40, terminating in 0usize..5) {
            let mut all: Vec<Pod> = (0..existing).map(|i| owned(pod(&format!("p{i}"), i as i64, Some("n"), "Running", Some(1)))).collect();
            for i in 0..terminating {
                let mut p = owned(pod(&format!("t{i}"), 0, Some("n"), "Running", Some(1)));
                p.metadata.deletion_timestamp = Some(Time(at(1)));
                all.push(p);
            }
            let refs: Vec<&Pod> = all.iter().collect();
            let plan = scale(&rs(replicas), &refs, true);
            let after = existing + plan.create - plan.delete.len();
            prop_assert_eq!(after, replicas as usize);
            prop_assert!(plan.delete.iter().all(|name| name.starts_with('p')));
            prop_assert_eq!(slow_start_batches(plan.create).iter().sum::<usize>(), plan.create);
        }
    }
}
