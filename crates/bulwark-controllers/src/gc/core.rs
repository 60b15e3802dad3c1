//! The garbage collector's decisions over a snapshot of objects and their owner references
//! (upstream `pkg/controller/garbagecollector`). Pure: no I/O, no clock reads.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// One object in the dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Node {
    pub fn new(kind: &str, meta: &ObjectMeta) -> Self {
        Node {
            kind: kind.into(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            owners: meta.owner_references.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        }
    }

    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// A reference to the object an action is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl From<&Node> for Target {
    fn from(node: &Node) -> Self {
        Target {
            kind: node.kind.clone(),
            namespace: node.namespace.clone(),
            name: node.name.clone(),
            uid: node.uid.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Delete the object (only once `absent_owners` are confirmed gone from the API, not just
    /// from the cache). `foreground` propagates the wait to its own dependents.
    Delete {
        target: Target,
        foreground: bool,
        absent_owners: Vec<OwnerReference>,
    },
    /// Remove these owner references (by uid), the absent ones once confirmed gone.
    RemoveOwners {
        target: Target,
        uids: Vec<String>,
        absent_owners: Vec<OwnerReference>,
    },
    RemoveFinalizer {
        target: Target,
        finalizer: &'static str,
    },
}

/// How a dependent stands towards one of its owners.
enum Owner<'a> {
    /// In the cache, not waiting for its dependents.
    Solid,
    /// Not in the cache: maybe gone.
    Absent(&'a OwnerReference),
    /// Being deleted in the foreground.
    Waiting,
}

/// Everything to do for this snapshot.
pub fn sweep(nodes: &[Node]) -> Vec<Action> {
    let by_uid: HashMap<&str, &Node> = nodes.iter().map(|n| (n.uid.as_str(), n)).collect();
    let mut dependents: HashMap<&str, Vec<&Node>> = HashMap::new();
    for node in nodes {
        for owner in &node.owners {
            dependents.entry(owner.uid.as_str()).or_default().push(node);
        }
    }
    let mut actions = Vec::new();
    let mut handled: HashSet<&str> = HashSet::new();
    for node in nodes.iter().filter(|n| n.deleting) {
        let deps = dependents
            .get(node.uid.as_str())
            .map_or(&[][..], Vec::as_slice);
        if node.has(ORPHAN) {
            orphan(node, deps, &mut actions, &mut handled);
        } else if node.has(FOREGROUND) {
            foreground(node, deps, &dependents, &mut actions, &mut handled);
        }
    }
    for node in nodes.iter().filter(|n| !n.owners.is_empty() && !n.deleting) {
        if !handled.contains(node.uid.as_str()) {
            dependent(node, &by_uid, &dependents, &mut actions);
        }
    }
    actions
}

/// Releases every dependent, then lets the owner go.
fn orphan<'a>(
    owner: &Node,
    deps: &[&'a Node],
    actions: &mut Vec<Action>,
    handled: &mut HashSet<&'a str>,
) {
    for dep in deps {
        handled.insert(dep.uid.as_str());
        actions.push(Action::RemoveOwners {
            target: Target::from(*dep),
            uids: vec![owner.uid.clone()],
            absent_owners: vec![],
        });
    }
    if deps.is_empty() {
        actions.push(Action::RemoveFinalizer {
            target: Target::from(owner),
            finalizer: ORPHAN,
        });
    }
}

/// Deletes the dependents first; the owner goes once no blocking dependent is left.
fn foreground<'a>(
    owner: &Node,
    deps: &[&'a Node],
    all: &HashMap<&str, Vec<&Node>>,
    actions: &mut Vec<Action>,
    handled: &mut HashSet<&'a str>,
) {
    for dep in deps.iter().filter(|d| !d.deleting) {
        handled.insert(dep.uid.as_str());
        let has_dependents = all.get(dep.uid.as_str()).is_some_and(|d| !d.is_empty());
        actions.push(Action::Delete {
            target: Target::from(*dep),
            foreground: has_dependents,
            absent_owners: vec![],
        });
    }
    let blocking = deps.iter().any(|dep| {
        dep.owners
            .iter()
            .any(|o| o.uid == owner.uid && o.block_owner_deletion == Some(true))
    });
    if !blocking {
        actions.push(Action::RemoveFinalizer {
            target: Target::from(owner),
            finalizer: FOREGROUND,
        });
    }
}

/// `attemptToDeleteItem`: with a live owner, drop references to the gone or foreground-deleting
/// ones; without any, delete the dependent.
fn dependent(
    node: &Node,
    by_uid: &HashMap<&str, &Node>,
    all: &HashMap<&str, Vec<&Node>>,
    actions: &mut Vec<Action>,
) {
    let states: Vec<Owner> = node
        .owners
        .iter()
        .map(|owner| match by_uid.get(owner.uid.as_str()) {
            None => Owner::Absent(owner),
            Some(o) if o.deleting && o.has(FOREGROUND) && !o.has(ORPHAN) => Owner::Waiting,
            Some(_) => Owner::Solid,
        })
        .collect();
    let absent: Vec<OwnerReference> = states
        .iter()
        .filter_map(|s| match s {
            Owner::Absent(o) => Some((*o).clone()),
            _ => None,
        })
        .collect();
    let solid = states.iter().any(|s| matches!(s, Owner::Solid));
    let waiting = states.iter().any(|s| matches!(s, Owner::Waiting));
    if solid {
        if !absent.is_empty() {
            actions.push(Action::RemoveOwners {
                target: Target::from(node),
                uids: absent.iter().map(|o| o.uid.clone()).collect(),
                absent_owners: absent,
            });
        }
        return;
    }
    if absent.is_empty() && !waiting {
        return;
    }
    let has_dependents = all.get(node.uid.as_str()).is_some_and(|d| !d.is_empty());
    actions.push(Action::Delete {
        target: Target::from(node),
        foreground: waiting && has_dependents,
        absent_owners: absent,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner_ref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("name-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn node(uid: &str, owners: &[&str]) -> Node {
        Node {
            kind: "Pod".into(),
            namespace: "default".into(),
            name: format!("name-{uid}"),
            uid: uid.into(),
            owners: owners.iter().map(|o| owner_ref(o, true)).collect(),
            deleting: false,
            finalizers: vec![],
        }
    }

    fn deleting(mut node: Node, finalizer: &str) -> Node {
        node.deleting = true;
        node.finalizers = vec![finalizer.into()];
        node
    }

    #[test]
    fn dependents_of_a_vanished_owner_are_deleted_after_confirmation() {
        let actions = sweep(&[node("pod", &["rs"])]);
        let [
            Action::Delete {
                target,
                foreground,
                absent_owners,
            },
        ] = actions.as_slice()
        else {
            panic!("{actions:?}")
        };
        assert_eq!((target.uid.as_str(), *foreground), ("pod", false));
        assert_eq!(absent_owners[0].uid, "rs");
        assert!(
            sweep(&[node("rs", &[]), node("pod", &["rs"])]).is_empty(),
            "a live owner keeps it"
        );
        assert!(
            sweep(&[node("lonely", &[])]).is_empty(),
            "no owners, nothing to collect"
        );
    }

    #[test]
    fn a_live_owner_keeps_the_dependent_and_the_gone_one_is_dropped() {
        let actions = sweep(&[node("rs", &[]), node("pod", &["rs", "gone"])]);
        let [Action::RemoveOwners { uids, .. }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!(uids, &["gone".to_string()]);
    }

    #[test]
    fn orphaning_releases_dependents_then_the_finalizer() {
        let owner = deleting(node("rs", &[]), ORPHAN);
        let actions = sweep(&[owner.clone(), node("pod", &["rs"])]);
        assert!(
            matches!(actions.as_slice(), [Action::RemoveOwners { uids, .. }] if uids == &["rs".to_string()]),
            "{actions:?}"
        );
        let actions = sweep(&[owner]);
        assert!(
            matches!(
                actions.as_slice(),
                [Action::RemoveFinalizer {
                    finalizer: ORPHAN,
                    ..
                }]
            ),
            "{actions:?}"
        );
    }

    #[test]
    fn foreground_deletes_dependents_first_and_waits_for_blocking_ones() {
        let owner = deleting(node("d", &[]), FOREGROUND);
        let actions = sweep(&[owner.clone(), node("rs", &["d"]), node("pod", &["rs"])]);
        assert!(
            matches!(actions.as_slice(), [Action::Delete { target, foreground: true, .. }] if target.uid == "rs"),
            "{actions:?}"
        );
        // The dependent is terminating: still blocking, nothing more to do.
        let going = deleting(node("rs", &["d"]), FOREGROUND);
        let actions = sweep(&[owner.clone(), going.clone(), node("pod", &["rs"])]);
        assert!(
            matches!(actions.as_slice(), [Action::Delete { target, .. }] if target.uid == "pod"),
            "{actions:?}"
        );
        let mut loose = node("rs", &[]);
        loose.owners = vec![owner_ref("d", false)];
        let actions = sweep(&[owner.clone(), loose]);
        assert!(
            actions.iter().any(|a| matches!(
                a,
                Action::RemoveFinalizer {
                    finalizer: FOREGROUND,
                    ..
                }
            )),
            "non-blocking dependents do not hold it: {actions:?}"
        );
        let actions = sweep(&[owner]);
        assert!(matches!(
            actions.as_slice(),
            [Action::RemoveFinalizer {
                finalizer: FOREGROUND,
                ..
            }]
        ));
    }
}
