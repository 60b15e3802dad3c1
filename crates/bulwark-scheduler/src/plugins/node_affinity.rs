//! NodeAffinity: `nodeSelector` and required node affinity as a filter, preferred node affinity as
//! a score (the sum of the weights of the preferred terms a node matches).
//!
//! A term ANDs its expressions and field requirements; terms are ORed. A term with nothing in it,
//! or one upstream could not parse (an unknown operator, `Gt` without exactly one integer), matches
//! no node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod};

use super::{FilterResult, Rejection};
use crate::node_info::NodeInfo;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operator {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expression {
    key: String,
    operator: Operator,
}

impl Expression {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.operator, value) {
            (Operator::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Operator::In(_), None) => false,
            (Operator::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Operator::NotIn(_), None) => true,
            (Operator::Exists, value) => value.is_some(),
            (Operator::DoesNotExist, value) => value.is_none(),
            (Operator::GreaterThan(bound), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *bound),
            (Operator::LessThan(bound), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *bound),
            (Operator::GreaterThan(_) | Operator::LessThan(_), None) => false,
        }
    }
}

/// A parsed `nodeSelectorTerm`; `None` when the term is empty or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    labels: Vec<Expression>,
    /// Field requirements; only `metadata.name` exists on nodes.
    fields: Vec<Expression>,
}

impl Term {
    pub fn parse(term: &NodeSelectorTerm) -> Option<Self> {
        let expressions = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        if expressions.is_empty() && fields.is_empty() {
            return None;
        }
        Some(Self {
            labels: expressions
                .iter()
                .map(label_expression)
                .collect::<Option<_>>()?,
            fields: fields.iter().map(field_expression).collect::<Option<_>>()?,
        })
    }

    pub fn matches(&self, node: &NodeInfo) -> bool {
        self.labels
            .iter()
            .all(|e| e.matches(node.labels.get(&e.key).map(String::as_str)))
            && self.fields.iter().all(|e| {
                let value = (e.key == "metadata.name").then_some(node.name.as_str());
                e.matches(value)
            })
    }
}

fn label_expression(requirement: &NodeSelectorRequirement) -> Option<Expression> {
    let values = requirement.values.clone().unwrap_or_default();
    let single_integer = || match values.as_slice() {
        [one] => one.parse::<i64>().ok(),
        _ => None,
    };
    let operator = match requirement.operator.as_str() {
        "In" if !values.is_empty() => Operator::In(values.clone()),
        "NotIn" if !values.is_empty() => Operator::NotIn(values.clone()),
        "Exists" if values.is_empty() => Operator::Exists,
        "DoesNotExist" if values.is_empty() => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan(single_integer()?),
        "Lt" => Operator::LessThan(single_integer()?),
        _ => return None,
    };
    Some(Expression {
        key: requirement.key.clone(),
        operator,
    })
}

/// Field selectors on nodes allow `In` and `NotIn` with exactly one value.
fn field_expression(requirement: &NodeSelectorRequirement) -> Option<Expression> {
    let values = requirement.values.clone().unwrap_or_default();
    if values.len() != 1 {
        return None;
    }
    let operator = match requirement.operator.as_str() {
        "In" => Operator::In(values),
        "NotIn" => Operator::NotIn(values),
        _ => return None,
    };
    Some(Expression {
        key: requirement.key.clone(),
        operator,
    })
}

/// The pod's hard node constraints: `nodeSelector` and required node affinity, both must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    node_selector: BTreeMap<String, String>,
    /// `None` when the pod has no required node affinity; otherwise the valid terms (ORed).
    terms: Option<Vec<Term>>,
}

impl RequiredNodeAffinity {
    pub fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        Self {
            node_selector: spec
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default(),
            terms: required.map(|r| {
                r.node_selector_terms
                    .iter()
                    .filter_map(Term::parse)
                    .collect()
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.node_selector.is_empty() && self.terms.is_none()
    }

    pub fn matches(&self, node: &NodeInfo) -> bool {
        let selector_ok = self
            .node_selector
            .iter()
            .all(|(k, v)| node.labels.get(k) == Some(v));
        selector_ok
            && self
                .terms
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(node)))
    }
}

pub fn filter(required: &RequiredNodeAffinity, node: &NodeInfo) -> FilterResult {
    if required.matches(node) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON))
    }
}

/// The pod's preferred terms with their weights; zero-weight and empty terms are dropped.
#[derive(Debug, Clone, Default)]
pub struct PreferredNodeAffinity {
    terms: Vec<(i64, Term)>,
}

impl PreferredNodeAffinity {
    pub fn of(pod: &Pod) -> Self {
        let preferred = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        let terms = preferred
            .into_iter()
            .flatten()
            .filter(|p| p.weight != 0)
            .filter_map(|p| Term::parse(&p.preference).map(|t| (i64::from(p.weight), t)))
            .collect();
        Self { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn score(&self, node: &NodeInfo) -> i64 {
        self.terms
            .iter()
            .filter(|(_, t)| t.matches(node))
            .map(|(w, _)| *w)
            .sum()
    }
}

pub fn normalize(scores: &mut [i64]) {
    super::default_normalize(scores, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::test_support::node;
    use serde_json::json;

    fn pod_with(spec: serde_json::Value) -> Pod {
        fixtures::with_spec(fixtures::pod("default", "p", "", "", &[]), spec)
    }

    fn required(expressions: serde_json::Value) -> RequiredNodeAffinity {
        RequiredNodeAffinity::of(&pod_with(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": expressions}
            ]}
        }}})))
    }

    #[test]
    fn node_selector_must_match_every_label() {
        let n = node("n1", "1", "1Gi", &[("disk", "ssd"), ("zone", "a")]);
        let p = pod_with(json!({"nodeSelector": {"disk": "ssd"}}));
        assert!(filter(&RequiredNodeAffinity::of(&p), &n).is_ok());
        let p = pod_with(json!({"nodeSelector": {"disk": "ssd", "zone": "b"}}));
        assert_eq!(
            filter(&RequiredNodeAffinity::of(&p), &n),
            Err(Rejection::unresolvable(REASON))
        );
    }

    #[test]
    fn every_operator() {
        let n = node("n1", "1", "1Gi", &[("zone", "a"), ("cores", "8")]);
        let case = |op: &str, key: &str, values: serde_json::Value| {
            let mut expression = json!({"key": key, "operator": op});
            if !values.is_null() {
                expression["values"] = values;
            }
            required(json!([expression])).matches(&n)
        };
        assert!(case("In", "zone", json!(["a", "b"])));
        assert!(!case("In", "zone", json!(["b"])));
        assert!(case("NotIn", "zone", json!(["b"])));
        assert!(case("NotIn", "missing", json!(["b"])));
        assert!(case("Exists", "zone", json!(null)));
        assert!(!case("DoesNotExist", "zone", json!(null)));
        assert!(case("DoesNotExist", "missing", json!(null)));
        assert!(case("Gt", "cores", json!(["4"])));
        assert!(!case("Gt", "cores", json!(["8"])));
        assert!(case("Lt", "cores", json!(["9"])));
        assert!(!case("Lt", "zone", json!(["9"])));
        assert!(
            !case("Gt", "cores", json!(["x"])),
            "invalid term matches nothing"
        );
        assert!(!case("Bogus", "zone", json!(["a"])));
    }

    #[test]
    fn terms_are_ored_and_fields_match_the_node_name() {
        let n = node("n1", "1", "1Gi", &[("zone", "a")]);
        let p = pod_with(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
            ]}
        }}}));
        assert!(RequiredNodeAffinity::of(&p).matches(&n));
        assert!(!RequiredNodeAffinity::of(&p).matches(&node("n2", "1", "1Gi", &[])));
    }

    #[test]
    fn empty_term_matches_nothing() {
        let p = pod_with(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}
        }}}));
        assert!(!RequiredNodeAffinity::of(&p).matches(&node("n1", "1", "1Gi", &[])));
    }

    #[test]
    fn preferred_terms_sum_weights_and_normalize() {
        let p = pod_with(json!({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 30, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
            ]
        }}}));
        let preferred = PreferredNodeAffinity::of(&p);
        let a = node("a", "1", "1Gi", &[("zone", "a")]);
        let both = node("b", "1", "1Gi", &[("zone", "a"), ("disk", "ssd")]);
        let none = node("c", "1", "1Gi", &[]);
        let mut scores = [
            preferred.score(&a),
            preferred.score(&both),
            preferred.score(&none),
        ];
        assert_eq!(scores, [10, 40, 0]);
        normalize(&mut scores);
        assert_eq!(scores, [25, 100, 0]);
    }
}
