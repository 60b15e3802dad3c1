//! Pod GC's decisions (upstream `pkg/controller/podgc`): which finished pods exceed the
//! threshold, which pods are bound to nodes gone for longer than the quarantine, and which
//! unscheduled pods are stuck terminating. Pure: the caller passes the time and keeps the
//! record of when each missing node was first noticed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::pods;

pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
pub const DELETION_BY_POD_GC: &str = "DeletionByPodGC";
pub const ORPHAN_MESSAGE: &str = "PodGC: node no longer exists";

/// A pod to delete, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// One of the oldest finished pods beyond the threshold.
    Terminated,
    /// Bound to a node that has been missing for longer than the quarantine.
    Orphaned { node: String },
    /// Being deleted, never scheduled: no kubelet will ever finish it.
    UnscheduledTerminating,
}

fn victim(pod: &Pod, reason: Reason) -> Victim {
    Victim {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        reason,
    }
}

fn is_terminated(pod: &Pod) -> bool {
    matches!(pods::phase(pod), "Succeeded" | "Failed")
}

fn evicted(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

/// `gcTerminated`: beyond `threshold` finished pods (0 disables), the excess goes, evicted
/// ones first, then oldest first.
pub fn terminated_over_threshold(all: &[&Pod], threshold: usize) -> Vec<Victim> {
    if threshold == 0 {
        return vec![];
    }
    let mut finished: Vec<&Pod> = all
        .iter()
        .copied()
        .filter(|p| is_terminated(p) && !pods::is_terminating(p))
        .collect();
    if finished.len() <= threshold {
        return vec![];
    }
    finished.sort_by(|a, b| {
        evicted(b)
            .cmp(&evicted(a))
            .then_with(|| pods::created(a).cmp(&pods::created(b)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    let excess = finished.len() - threshold;
    finished
        .into_iter()
        .take(excess)
        .map(|p| victim(p, Reason::Terminated))
        .collect()
}

/// When each missing node was first noticed; kept by the caller between sweeps.
#[derive(Debug, Clone, Default)]
pub struct Quarantine {
    missing_since: BTreeMap<String, Timestamp>,
}

impl Quarantine {
    /// `gcOrphaned`: pods bound to nodes that are not in `nodes` and have been missing for at
    /// least `quarantine`. Nodes that came back are forgotten.
    pub fn orphaned(
        &mut self,
        all: &[&Pod],
        nodes: &BTreeSet<String>,
        quarantine: Duration,
        now: Timestamp,
    ) -> Vec<Victim> {
        let missing: BTreeSet<&str> = all
            .iter()
            .filter_map(|p| pods::node_name(p))
            .filter(|n| !nodes.contains(*n))
            .collect();
        self.missing_since
            .retain(|node, _| missing.contains(node.as_str()));
        for node in &missing {
            self.missing_since.entry(node.to_string()).or_insert(now);
        }
        let wait = SignedDuration::try_from(quarantine).unwrap_or(SignedDuration::MAX);
        all.iter()
            .filter(|p| !pods::is_terminating(p))
            .filter_map(|p| {
                let node = pods::node_name(p)?;
                let since = self.missing_since.get(node)?;
                (now.duration_since(*since) >= wait).then(|| {
                    victim(
                        p,
                        Reason::Orphaned {
                            node: node.to_string(),
                        },
                    )
                })
            })
            .collect()
    }

    /// How long until the next quarantine ends, to sweep again then.
    pub fn next_expiry(&self, quarantine: Duration, now: Timestamp) -> Option<Duration> {
        let wait = SignedDuration::try_from(quarantine).ok()?;
        self.missing_since
            .values()
            .map(|since| (*since + wait).duration_since(now))
            .filter(|left| left.is_positive())
            .min()
            .and_then(|left| Duration::try_from(left).ok())
    }
}

/// `gcUnscheduledTerminating`.
pub fn unscheduled_terminating(all: &[&Pod]) -> Vec<Victim> {
    all.iter()
        .filter(|p| pods::is_terminating(p) && pods::node_name(p).is_none())
        .map(|p| victim(p, Reason::UnscheduledTerminating))
        .collect()
}

/// The condition upstream adds before deleting an orphaned pod.
pub fn disruption_condition(now: Timestamp) -> PodCondition {
    PodCondition {
        type_: DISRUPTION_TARGET.into(),
        status: "True".into(),
        reason: Some(DELETION_BY_POD_GC.into()),
        message: Some(ORPHAN_MESSAGE.into()),
        last_transition_time: Some(Time(now)),
        ..PodCondition::default()
    }
}

/// Whether the pod's phase must become Failed before it is deleted (it never finished).
pub fn needs_failed_phase(pod_phase: &str) -> bool {
    !matches!(pod_phase, "Succeeded" | "Failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::fixtures::{at, pod};
    use proptest::prelude::*;

    #[test]
    fn the_oldest_finished_pods_beyond_the_threshold_go() {
        let old = pod("old", 0, Some("n"), "Succeeded", None);
        let mid = pod("mid", 10, Some("n"), "Failed", None);
        let new = pod("new", 20, Some("n"), "Succeeded", None);
        let running = pod("run", 0, Some("n"), "Running", None);
        let all = [&new, &running, &mid, &old];
        let names = |v: Vec<Victim>| v.into_iter().map(|v| v.name).collect::<Vec<_>>();
        assert_eq!(names(terminated_over_threshold(&all, 1)), ["old", "mid"]);
        assert!(terminated_over_threshold(&all, 3).is_empty());
        assert!(terminated_over_threshold(&all, 0).is_empty(), "0 disables");
        let mut evicted = pod("evicted", 30, Some("n"), "Failed", None);
        evicted.status.as_mut().unwrap().reason = Some("Evicted".into());
        let all = [&old, &evicted];
        assert_eq!(names(terminated_over_threshold(&all, 1)), ["evicted"]);
    }

    #[test]
    fn pods_of_a_vanished_node_go_after_the_quarantine() {
        let mut quarantine = Quarantine::default();
        let on_gone = pod("a", 0, Some("gone"), "Running", Some(0));
        let on_live = pod("b", 0, Some("live"), "Running", Some(0));
        let unbound = pod("c", 0, None, "Pending", None);
        let all = [&on_gone, &on_live, &unbound];
        let nodes: BTreeSet<String> = ["live".to_string()].into();
        let wait = Duration::from_secs(40);
        assert!(quarantine.orphaned(&all, &nodes, wait, at(0)).is_empty());
        assert_eq!(
            quarantine.next_expiry(wait, at(10)),
            Some(Duration::from_secs(30))
        );
        assert!(quarantine.orphaned(&all, &nodes, wait, at(39)).is_empty());
        let victims = quarantine.orphaned(&all, &nodes, wait, at(40));
        assert_eq!(victims.len(), 1);
        assert_eq!(
            victims[0].reason,
            Reason::Orphaned {
                node: "gone".into()
            }
        );
        // The node came back: its quarantine starts over if it goes again.
        let back: BTreeSet<String> = ["live".to_string(), "gone".to_string()].into();
        assert!(quarantine.orphaned(&all, &back, wait, at(41)).is_empty());
        assert!(quarantine.orphaned(&all, &nodes, wait, at(42)).is_empty());
    }

    #[test]
    fn unscheduled_terminating_pods_go() {
        let mut stuck = pod("stuck", 0, None, "Pending", None);
        stuck.metadata.deletion_timestamp = Some(Time(at(1)));
        let mut bound = pod("bound", 0, Some("n"), "Running", None);
        bound.metadata.deletion_timestamp = Some(Time(at(1)));
        let victims = unscheduled_terminating(&[&stuck, &bound]);
        assert_eq!(victims.len(), 1);
        assert_eq!(victims[0].name, "stuck");
        assert_eq!(
            disruption_condition(at(0)).reason.as_deref(),
            Some(DELETION_BY_POD_GC)
        );
    }

    proptest! {
        #[test]
        fn exactly_the_excess_goes_and_it_is_the_oldest(
            ages in proptest::collection::vec(0i64..1000, 0..40),
            threshold in 1usize..20,
        ) {
            let finished: Vec<Pod> = ages.iter().enumerate()
                .map(|(i, age)| pod(&format!("p{i}"), *age, Some("n"), "Succeeded", None))
                .collect();
            let refs: Vec<&Pod> = finished.iter().collect();
            let victims = terminated_over_threshold(&refs, threshold);
            prop_assert_eq!(victims.len(), ages.len().saturating_sub(threshold));
            let newest_victim = victims.iter()
                .map(|v| ages[v.name[1..].parse::<usize>().unwrap()])
                .max();
            let oldest_kept = finished.iter()
                .filter(|p| !victims.iter().any(|v| Some(&v.name) == p.metadata.name.as_ref()))
                .filter_map(pods::created)
                .min();
            if let (Some(victim), Some(kept)) = (newest_victim, oldest_kept) {
                prop_assert!(at(victim) <= kept);
            }
        }
    }
}
