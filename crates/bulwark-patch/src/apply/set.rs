//! Field sets: the sets of paths that managedFields records per manager.
//!
//! A set is a trie. At each level, `members` are the path elements that end a path here (the
//! fields a manager owns at this level) and `children` lead to deeper paths. A node can be both
//! a member and have children: a keyed list item is owned as a whole *and* field by field.
//! Invariant: no child set is empty, so structural equality is set equality.

use std::collections::{BTreeMap, BTreeSet};

use super::path::{Path, PathElement};

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding the given paths.
    pub fn from_paths(paths: impl IntoIterator<Item = Path>) -> Self {
        let mut set = Self::new();
        for path in paths {
            set.insert(&path.0);
        }
        set
    }

    /// True when the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path. The empty path names the whole object and is not representable, as upstream.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// True when the set holds exactly this path (not merely a path under it).
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|child| child.has(rest)),
        }
    }

    /// The paths under `element`, with `element` stripped; empty if there are none.
    pub fn with_prefix(&self, element: &PathElement) -> FieldSet {
        self.children.get(element).cloned().unwrap_or_default()
    }

    /// Borrowing form of [`FieldSet::with_prefix`].
    pub(crate) fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// True when `element` is a member at this level.
    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.union(&other.members).cloned().collect();
        let mut children = self.children.clone();
        for (element, theirs) in &other.children {
            let merged = match children.get(element) {
                Some(ours) => ours.union(theirs),
                None => theirs.clone(),
            };
            children.insert(element.clone(), merged);
        }
        FieldSet { members, children }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(element, ours)| {
                let theirs = other.children.get(element)?;
                non_empty(ours.intersection(theirs)).map(|set| (element.clone(), set))
            })
            .collect();
        FieldSet { members, children }
    }

    /// Paths in `self` but not in `other`. Removing a path does not remove paths under it.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(element, ours)| match other.children.get(element) {
                Some(theirs) => {
                    non_empty(ours.difference(theirs)).map(|set| (element.clone(), set))
                }
                None => Some((element.clone(), ours.clone())),
            })
            .collect();
        FieldSet { members, children }
    }

    /// Paths in `self` that are neither in `other` nor under a path that is in `other`.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(element, ours)| {
                if other.members.contains(element) {
                    return None;
                }
                match other.children.get(element) {
                    Some(theirs) => non_empty(ours.recursive_difference(theirs))
                        .map(|set| (element.clone(), set)),
                    None => Some((element.clone(), ours.clone())),
                }
            })
            .collect();
        FieldSet { members, children }
    }

    /// Every path in the set, in upstream's iteration order: a level's members first, then
    /// the paths under each child in element order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(Path(path));
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Number of paths in the set.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Members and children, for serialization.
    pub(crate) fn parts(&self) -> (&BTreeSet<PathElement>, &BTreeMap<PathElement, FieldSet>) {
        (&self.members, &self.children)
    }

    /// Builds a level from parts, dropping empty children to keep the invariant.
    pub(crate) fn from_parts(
        members: BTreeSet<PathElement>,
        children: BTreeMap<PathElement, FieldSet>,
    ) -> Self {
        let children = children
            .into_iter()
            .filter(|(_, child)| !child.is_empty())
            .collect();
        FieldSet { members, children }
    }
}

fn non_empty(set: FieldSet) -> Option<FieldSet> {
    (!set.is_empty()).then_some(set)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    pub(crate) fn path_of(names: &[&str]) -> Path {
        Path::fields(names.iter().copied())
    }

    #[test]
    fn insert_and_has_distinguish_members_from_prefixes() {
        let set = FieldSet::from_paths([path_of(&["spec", "replicas"])]);
        assert!(set.has(&path_of(&["spec", "replicas"]).0));
        assert!(!set.has(&path_of(&["spec"]).0));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn difference_keeps_children_of_removed_member() {
        let set = FieldSet::from_paths([path_of(&["metadata"]), path_of(&["metadata", "name"])]);
        let strip = FieldSet::from_paths([path_of(&["metadata"])]);
        assert_eq!(
            set.difference(&strip),
            FieldSet::from_paths([path_of(&["metadata", "name"])])
        );
        assert!(set.recursive_difference(&strip).is_empty());
    }

    #[test]
    fn paths_iterate_members_before_children() {
        let set = FieldSet::from_paths([
            path_of(&["spec", "template", "x"]),
            path_of(&["spec", "replicas"]),
        ]);
        let printed: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
        assert_eq!(printed, [".spec.replicas", ".spec.template.x"]);
    }

    fn arb_element() -> impl Strategy<Value = PathElement> {
        prop_oneof![
            "[a-c]{1,2}".prop_map(PathElement::Field),
            "[a-b]".prop_map(|v| PathElement::key(vec![("name".into(), json!(v))])),
            (0i64..3).prop_map(|v| PathElement::Value(json!(v))),
            (0i64..2).prop_map(PathElement::Index),
        ]
    }

    pub(crate) fn arb_set() -> impl Strategy<Value = FieldSet> {
        prop::collection::vec(prop::collection::vec(arb_element(), 1..4), 0..8)
            .prop_map(|paths| FieldSet::from_paths(paths.into_iter().map(Path)))
    }

    proptest! {
        #[test]
        fn union_is_commutative_and_idempotent(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(a.union(&b), b.union(&a));
            prop_assert_eq!(a.union(&a), a.clone());
        }

        #[test]
        fn intersection_is_commutative_and_within_both(a in arb_set(), b in arb_set()) {
            let both = a.intersection(&b);
            prop_assert_eq!(&both, &b.intersection(&a));
            for path in both.paths() {
                prop_assert!(a.has(&path.0) && b.has(&path.0));
            }
        }

        #[test]
        fn difference_and_intersection_partition(a in arb_set(), b in arb_set()) {
            let only_a = a.difference(&b);
            prop_assert!(only_a.intersection(&b).is_empty());
            prop_assert_eq!(only_a.union(&a.intersection(&b)), a.clone());
            prop_assert_eq!(a.len(), only_a.len() + a.intersection(&b).len());
        }

        #[test]
        fn union_holds_exactly_the_paths_of_either(a in arb_set(), b in arb_set()) {
            let either = a.union(&b);
            for path in either.paths() {
                prop_assert!(a.has(&path.0) || b.has(&path.0));
            }
            for path in a.paths().into_iter().chain(b.paths()) {
                prop_assert!(either.has(&path.0));
            }
        }

        #[test]
        fn recursive_difference_is_within_difference(a in arb_set(), b in arb_set()) {
            let recursive = a.recursive_difference(&b);
            prop_assert!(recursive.difference(&a.difference(&b)).is_empty());
        }

        #[test]
        fn from_paths_of_paths_roundtrips(a in arb_set()) {
            prop_assert_eq!(FieldSet::from_paths(a.paths()), a);
        }
    }
}
