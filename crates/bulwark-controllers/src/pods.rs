//! Pod facts the controllers decide on (upstream's `podutil` helpers).

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, PodCondition};

fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became ready, if it is ready.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// `IsPodAvailable`: ready for longer than `min_ready_seconds`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let wait = SignedDuration::from_secs(i64::from(min_ready_seconds));
    ready_since(pod)
        .and_then(|since| since.checked_add(wait).ok())
        .is_some_and(|at| at < now)
}

/// How long until a ready pod counts as available (None: it never will without a change).
pub fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<SignedDuration> {
    if !is_ready(pod) || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    let since = ready_since(pod)?;
    let at = since
        .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
        .ok()?;
    Some(at.duration_since(now).max(SignedDuration::ZERO))
}

pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// `FilterActivePods`: not terminating and not finished.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminating(pod) && !matches!(phase(pod), "Succeeded" | "Failed")
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |statuses| statuses.iter().map(|c| c.restart_count).sum())
}

pub fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

#[cfg(test)]
pub mod fixtures {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    pub fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    /// A pod created at `created`; ready since `ready` if given; on `node` if given.
    pub fn pod(
        name: &str,
        created: i64,
        node: Option<&str>,
        phase: &str,
        ready: Option<i64>,
    ) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.creation_timestamp = Some(Time(at(created)));
        pod.spec = Some(PodSpec {
            node_name: node.map(str::to_string),
            ..PodSpec::default()
        });
        pod.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready.map(|since| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(since))),
                    ..PodCondition::default()
                }]
            }),
            ..PodStatus::default()
        });
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let ready = pod("a", 0, Some("n"), "Running", Some(10));
        assert!(is_available(&ready, 0, at(10)));
        assert!(!is_available(&ready, 5, at(15)));
        assert!(is_available(&ready, 5, at(16)));
        assert_eq!(
            until_available(&ready, 5, at(12)),
            Some(SignedDuration::from_secs(3))
        );
        let pending = pod("b", 0, None, "Pending", None);
        assert!(!is_available(&pending, 0, at(10)));
        assert!(is_active(&pending));
    }
}
