//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep away every pod that does not
//! tolerate them; `PreferNoSchedule` taints only lower the node's score.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::{FilterResult, Rejection};
use crate::node_info::NodeInfo;

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// Upstream's `Toleration.ToleratesTaint`: the effect and key must match unless the toleration
/// leaves them empty; `Exists` ignores the value, `Equal` (the default) compares it.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first `NoSchedule`/`NoExecute` taint the pod does not tolerate, if any.
pub fn untolerated_hard_taint<'n>(
    tolerations: &[Toleration],
    taints: &'n [Taint],
) -> Option<&'n Taint> {
    taints
        .iter()
        .filter(|t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE)
        .find(|t| !tolerated(tolerations, t))
}

pub fn filter(tolerations: &[Toleration], node: &NodeInfo) -> FilterResult {
    match untolerated_hard_taint(tolerations, &node.taints) {
        None => Ok(()),
        Some(taint) => Err(Rejection::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or("")
        ))),
    }
}

/// The tolerations that matter for scoring: those with an empty or `PreferNoSchedule` effect, as
/// upstream's PreScore picks them once per cycle.
pub fn scoring_tolerations(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some(PREFER_NO_SCHEDULE)
            )
        })
        .cloned()
        .collect()
}

/// The raw score: how many `PreferNoSchedule` taints the pod does not tolerate, given the
/// [`scoring_tolerations`].
pub fn score(scoring_tolerations: &[Toleration], node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == PREFER_NO_SCHEDULE)
        .filter(|t| !tolerated(scoring_tolerations, t))
        .count() as i64
}

/// Fewer intolerable taints is better: normalized and reversed.
pub fn normalize(scores: &mut [i64]) {
    super::default_normalize(scores, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{node, toleration};

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: Some(value.into()).filter(|v: &String| !v.is_empty()),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn exists_without_key_tolerates_everything() {
        let t = toleration("", "Exists", "", "");
        assert!(tolerates(&t, &taint("a", "b", NO_EXECUTE)));
    }

    #[test]
    fn equal_compares_values_and_effects() {
        let t = toleration("dedicated", "Equal", "gpu", NO_SCHEDULE);
        assert!(tolerates(&t, &taint("dedicated", "gpu", NO_SCHEDULE)));
        assert!(!tolerates(&t, &taint("dedicated", "cpu", NO_SCHEDULE)));
        assert!(!tolerates(&t, &taint("dedicated", "gpu", NO_EXECUTE)));
    }

    #[test]
    fn untolerated_taint_is_named_in_the_reason() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.taints = vec![taint(
            "node-role.kubernetes.io/control-plane",
            "",
            NO_SCHEDULE,
        )];
        let rejection = filter(&[], &n).expect_err("taint not tolerated");
        assert_eq!(
            rejection.reasons,
            vec!["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
        );
    }

    #[test]
    fn not_ready_taint_blocks_until_tolerated() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.taints = vec![taint("node.kubernetes.io/not-ready", "", NO_EXECUTE)];
        assert!(filter(&[], &n).is_err());
        let t = toleration("node.kubernetes.io/not-ready", "Exists", "", NO_EXECUTE);
        assert!(filter(&[t], &n).is_ok());
    }

    #[test]
    fn prefer_no_schedule_only_scores() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.taints = vec![
            taint("a", "", PREFER_NO_SCHEDULE),
            taint("b", "", PREFER_NO_SCHEDULE),
        ];
        assert!(filter(&[], &n).is_ok());
        assert_eq!(score(&[], &n), 2);
        let t = toleration("a", "Exists", "", "");
        assert_eq!(score(&scoring_tolerations(&[t]), &n), 1);
        let hard = toleration("a", "Exists", "", NO_SCHEDULE);
        assert_eq!(score(&scoring_tolerations(&[hard]), &n), 2);
        let mut scores = [2, 1, 0];
        normalize(&mut scores);
        assert_eq!(scores, [0, 50, 100]);
    }
}
