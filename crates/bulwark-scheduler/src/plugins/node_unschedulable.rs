//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::{FilterResult, Rejection, taint_toleration};
use crate::node_info::NodeInfo;

pub const REASON: &str = "node(s) were unschedulable";
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

pub fn filter(tolerations: &[Toleration], node: &NodeInfo) -> FilterResult {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT.into(),
        effect: taint_toleration::NO_SCHEDULE.into(),
        value: None,
        time_added: None,
    };
    if taint_toleration::tolerated(tolerations, &taint) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{node, toleration};

    #[test]
    fn cordoned_node_rejects_pods() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.unschedulable = true;
        assert_eq!(filter(&[], &n), Err(Rejection::unresolvable(REASON)));
    }

    #[test]
    fn toleration_of_the_unschedulable_taint_passes() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.unschedulable = true;
        let t = toleration(UNSCHEDULABLE_TAINT, "Exists", "", "NoSchedule");
        assert_eq!(filter(&[t], &n), Ok(()));
    }

    #[test]
    fn uncordoned_node_passes() {
        assert_eq!(filter(&[], &node("n1", "1", "1Gi", &[])), Ok(()));
    }
}
