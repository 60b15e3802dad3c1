//! The namespace controller's decisions (upstream `namespace/deletion`): from what deleting a
//! terminating namespace's content achieved, the five deletion conditions and whether the
//! `kubernetes` finalizer can go. Pure: the shell does the discovery, listing and deleting.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The spec finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

/// Whether the controller has work on this namespace: it is being deleted and still carries
/// the `kubernetes` finalizer.
pub fn needs_finalizing(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_some()
        && namespace
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

/// The spec finalizers left once the controller's own is removed.
pub fn finalizers_without_ours(namespace: &Namespace) -> Vec<String> {
    namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .into_iter()
        .flatten()
        .filter(|f| f.as_str() != FINALIZER)
        .cloned()
        .collect()
}

/// What one pass over the namespace's content found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Discovery could not list some group-versions: their names.
    pub discovery_failures: Vec<String>,
    /// Deletes or lists that failed: one message each.
    pub content_failures: Vec<String>,
    /// Objects still present afterwards, per resource (`pods`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// Finalizers on the objects still present, with how many objects carry each.
    pub finalizers: BTreeMap<String, usize>,
}

impl Sweep {
    /// Nothing is left and nothing failed: the finalizer can go.
    pub fn done(&self) -> bool {
        self.discovery_failures.is_empty()
            && self.content_failures.is_empty()
            && self.remaining.values().all(|&count| count == 0)
    }
}

fn condition(
    type_: &str,
    failing: Option<String>,
    reasons: (&str, &str),
    ok_message: &str,
    now: Timestamp,
) -> NamespaceCondition {
    let (status, reason, message) = match failing {
        Some(message) => ("True", reasons.0, message),
        None => ("False", reasons.1, ok_message.to_string()),
    };
    NamespaceCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    }
}

fn counted(list: &BTreeMap<String, usize>, what: &str) -> Vec<String> {
    list.iter()
        .filter(|(_, count)| **count > 0)
        .map(|(name, count)| format!("{name}{what}{count} resource instances"))
        .collect()
}

/// Upstream's deletion conditions, worded as upstream words them.
pub fn conditions(sweep: &Sweep, now: Timestamp) -> Vec<NamespaceCondition> {
    let some = |items: Vec<String>, prefix: &str| {
        (!items.is_empty()).then(|| format!("{prefix}{}", items.join(", ")))
    };
    vec![
        condition(
            "NamespaceDeletionDiscoveryFailure",
            some(
                sweep.discovery_failures.clone(),
                "Discovery failed for some groups, ",
            ),
            ("DiscoveryFailed", "ResourcesDiscovered"),
            "All resources successfully discovered",
            now,
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            None,
            ("GroupVersionParsingFailed", "ParsedGroupVersions"),
            "All legacy kube types successfully parsed",
            now,
        ),
        condition(
            "NamespaceDeletionContentFailure",
            some(
                sweep.content_failures.clone(),
                "Failed to delete all resource types, ",
            ),
            ("ContentDeletionFailed", "ContentDeleted"),
            "All content successfully deleted, may be waiting on finalization",
            now,
        ),
        condition(
            "NamespaceContentRemaining",
            some(
                counted(&sweep.remaining, " has "),
                "Some resources are remaining: ",
            ),
            ("SomeResourcesRemain", "ContentRemoved"),
            "All content successfully removed",
            now,
        ),
        condition(
            "NamespaceFinalizersRemaining",
            some(
                counted(&sweep.finalizers, " in "),
                "Some content in the namespace has finalizers remaining: ",
            ),
            ("SomeFinalizersRemain", "ContentHasNoFinalizers"),
            "All content-preserving finalizers finished",
            now,
        ),
    ]
}

/// The namespace's conditions with `next` merged in; a condition whose status, reason and
/// message are unchanged keeps its transition time, so a quiet pass writes nothing.
pub fn merge_conditions(
    current: &[NamespaceCondition],
    next: Vec<NamespaceCondition>,
) -> Vec<NamespaceCondition> {
    let mut merged: Vec<NamespaceCondition> = current
        .iter()
        .filter(|c| !next.iter().any(|n| n.type_ == c.type_))
        .cloned()
        .collect();
    for mut condition in next {
        if let Some(old) = current.iter().find(|c| c.type_ == condition.type_)
            && old.status == condition.status
            && old.reason == condition.reason
            && old.message == condition.message
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
        merged.push(condition);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceSpec;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn find<'a>(conditions: &'a [NamespaceCondition], type_: &str) -> &'a NamespaceCondition {
        conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn remaining_content_and_finalizers_are_reported_as_upstream() {
        let sweep = Sweep {
            remaining: [("configmaps".to_string(), 1), ("pods".to_string(), 2)].into(),
            finalizers: [("example.com/hold".to_string(), 1)].into(),
            ..Sweep::default()
        };
        assert!(!sweep.done());
        let conditions = conditions(&sweep, at(0));
        let remaining = find(&conditions, "NamespaceContentRemaining");
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some(
                "Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances"
            )
        );
        let finalizers = find(&conditions, "NamespaceFinalizersRemaining");
        assert_eq!(
            finalizers.message.as_deref(),
            Some(
                "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
            )
        );
        let discovery = find(&conditions, "NamespaceDeletionDiscoveryFailure");
        assert_eq!(discovery.status, "False");
        assert_eq!(discovery.reason.as_deref(), Some("ResourcesDiscovered"));
    }

    #[test]
    fn failures_hold_the_finalizer() {
        let failed = Sweep {
            content_failures: vec!["pods: boom".into()],
            ..Sweep::default()
        };
        assert!(!failed.done());
        let conditions = conditions(&failed, at(0));
        assert_eq!(
            find(&conditions, "NamespaceDeletionContentFailure").status,
            "True"
        );
        let discovery = Sweep {
            discovery_failures: vec!["example.com/v1".into()],
            ..Sweep::default()
        };
        assert!(!discovery.done());
        assert!(Sweep::default().done());
    }

    #[test]
    fn unchanged_conditions_keep_their_time() {
        let first = conditions(&Sweep::default(), at(0));
        let again = merge_conditions(&first, conditions(&Sweep::default(), at(10)));
        assert_eq!(again, first);
    }

    #[test]
    fn only_terminating_namespaces_with_our_finalizer_are_ours() {
        let mut ns = Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(vec![FINALIZER.into(), "example.com/x".into()]),
            }),
            ..Namespace::default()
        };
        assert!(!needs_finalizing(&ns));
        ns.metadata.deletion_timestamp = Some(Time(at(0)));
        assert!(needs_finalizing(&ns));
        assert_eq!(finalizers_without_ours(&ns), vec!["example.com/x"]);
    }
}
