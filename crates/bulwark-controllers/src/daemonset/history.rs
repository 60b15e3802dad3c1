//! A DaemonSet's history as ControllerRevisions (upstream `daemon/update.go` and
//! `controller/history`): one revision per template, named `<ds>-<hash>`, whose `data` is the
//! strategic merge patch `kubectl rollout undo daemonset` sends back to restore it. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Value, json};

use super::core::HASH_LABEL;
use crate::Error;
use crate::deployment::core::template_hash;
use crate::labels::controller_owner;

const DEFAULT_HISTORY_LIMIT: i32 = 10;
/// Upstream truncates the prefix so that `<prefix>-<hash>` stays a valid name.
const MAX_PREFIX: usize = 223;

/// The revision data for the DaemonSet's current template: `{"spec":{"template":{…,
/// "$patch":"replace"}}}`, as upstream's `getPatch` builds it.
pub fn revision_data(ds: &DaemonSet) -> Result<Value, Error> {
    let spec = ds
        .spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("daemonset has no spec".into()))?;
    let mut template = crate::runtime::to_json(&spec.template);
    crate::deployment::core::prune_empty(&mut template);
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    Ok(json!({"spec": {"template": template}}))
}

/// The current template's hash (with the collision count, so a taken name yields a new one).
pub fn current_hash(ds: &DaemonSet) -> Result<String, Error> {
    let spec = ds
        .spec
        .as_ref()
        .ok_or_else(|| Error::Invalid("daemonset has no spec".into()))?;
    let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
    Ok(template_hash(&spec.template, collisions))
}

pub fn revision_name(ds: &DaemonSet, hash: &str) -> String {
    let name = ds.metadata.name.as_deref().unwrap_or_default();
    let prefix: String = name.chars().take(MAX_PREFIX).collect();
    format!("{prefix}-{hash}")
}

fn data_of(revision: &ControllerRevision) -> Value {
    let mut data = revision.data.as_ref().map_or(Value::Null, |d| d.0.clone());
    if let Some(template) = data.pointer_mut("/spec/template") {
        crate::deployment::core::prune_empty(template);
    }
    data
}

/// A new revision of the current template, numbered `revision`.
pub fn new_revision(
    ds: &DaemonSet,
    hash: &str,
    revision: i64,
) -> Result<ControllerRevision, Error> {
    let template_labels = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_labels;
    labels.insert(HASH_LABEL.into(), hash.into());
    Ok(ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(ds, hash)),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            // Upstream copies the parent's annotations (kubernetes.io/change-cause among them).
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![controller_owner("apps/v1", "DaemonSet", &ds.metadata)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(revision_data(ds)?)),
        revision,
    })
}

/// What to do about the history so that the current template has the newest revision.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPlan {
    /// The hash pods of the current template carry.
    pub hash: String,
    pub create: Option<ControllerRevision>,
    /// An existing revision of the current template renumbered (a rollback): (name, revision).
    pub renumber: Option<(String, i64)>,
    /// Duplicates of the current template's revision.
    pub delete: Vec<String>,
}

/// `constructHistory`: find the revisions equal to the current template; keep the newest of
/// them and make it the highest-numbered, or create one.
pub fn plan(ds: &DaemonSet, owned: &[&ControllerRevision]) -> Result<HistoryPlan, Error> {
    let data = revision_data(ds)?;
    let mut equal: Vec<&ControllerRevision> = owned
        .iter()
        .copied()
        .filter(|r| data_of(r) == data)
        .collect();
    equal.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let max_other = owned
        .iter()
        .filter(|r| data_of(r) != data)
        .map(|r| r.revision)
        .max()
        .unwrap_or(0);
    let Some((current, duplicates)) = equal.split_first() else {
        let hash = current_hash(ds)?;
        let max = owned.iter().map(|r| r.revision).max().unwrap_or(0);
        return Ok(HistoryPlan {
            create: Some(new_revision(ds, &hash, max + 1)?),
            hash,
            renumber: None,
            delete: vec![],
        });
    };
    let hash = current
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .cloned()
        .map_or_else(|| current_hash(ds), Ok)?;
    let renumber = (current.revision <= max_other).then(|| {
        (
            current.metadata.name.clone().unwrap_or_default(),
            max_other + 1,
        )
    });
    Ok(HistoryPlan {
        hash,
        create: None,
        renumber,
        delete: duplicates
            .iter()
            .filter_map(|r| r.metadata.name.clone())
            .collect(),
    })
}

/// `cleanupHistory`: old revisions beyond `revisionHistoryLimit` that no live pod still runs,
/// oldest first.
pub fn cleanup(
    ds: &DaemonSet,
    owned: &[&ControllerRevision],
    current_hash: &str,
    live_hashes: &BTreeSet<String>,
) -> Vec<String> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(DEFAULT_HISTORY_LIMIT)
        .max(0);
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut old: Vec<&ControllerRevision> = owned
        .iter()
        .copied()
        .filter(|r| {
            let hash = r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL));
            hash.is_none_or(|h| h != current_hash && !live_hashes.contains(h))
        })
        .collect();
    if old.len() <= limit {
        return vec![];
    }
    old.sort_by_key(|r| r.revision);
    let excess = old.len() - limit;
    old.iter()
        .take(excess)
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DaemonSetSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

    fn ds(image: &str) -> DaemonSet {
        DaemonSet {
            metadata: ObjectMeta {
                name: Some("agent".into()),
                namespace: Some("default".into()),
                uid: Some("ds-uid".into()),
                ..ObjectMeta::default()
            },
            spec: Some(DaemonSetSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "agent".to_string())].into()),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: Some(image.into()),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..DaemonSetSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn a_new_template_gets_the_next_revision() {
        let v1 = ds("a:1");
        let first = plan(&v1, &[]).unwrap();
        let r1 = first.create.expect("a first revision");
        assert_eq!(r1.revision, 1);
        assert_eq!(r1.metadata.name, Some(format!("agent-{}", first.hash)));
        assert_eq!(
            r1.data.as_ref().unwrap().0["spec"]["template"]["$patch"],
            "replace"
        );
        let again = plan(&v1, &[&r1]).unwrap();
        assert_eq!((again.create, again.renumber), (None, None));
        assert_eq!(again.hash, first.hash);
        let v2 = ds("a:2");
        let second = plan(&v2, &[&r1]).unwrap();
        assert_eq!(second.create.unwrap().revision, 2);
        assert_ne!(second.hash, first.hash);
    }

    #[test]
    fn a_rollback_renumbers_the_old_revision() {
        let r1 = new_revision(&ds("a:1"), "h1", 1).unwrap();
        let r2 = new_revision(&ds("a:2"), "h2", 2).unwrap();
        let back = plan(&ds("a:1"), &[&r1, &r2]).unwrap();
        assert_eq!(back.create, None);
        assert_eq!(back.hash, "h1");
        assert_eq!(back.renumber, Some(("agent-h1".into(), 3)));
    }

    #[test]
    fn cleanup_keeps_the_limit_and_live_revisions() {
        let mut d = ds("a:1");
        d.spec.as_mut().unwrap().revision_history_limit = Some(1);
        let revisions: Vec<ControllerRevision> = (1..=4)
            .map(|i| new_revision(&ds(&format!("a:{i}")), &format!("h{i}"), i).unwrap())
            .collect();
        let refs: Vec<&ControllerRevision> = revisions.iter().collect();
        let live: BTreeSet<String> = ["h2".to_string()].into();
        // h4 is current, h2 still runs: of h1 and h3 one is kept (the newer).
        assert_eq!(
            cleanup(&d, &refs, "h4", &live),
            vec!["agent-h1".to_string()]
        );
    }
}
