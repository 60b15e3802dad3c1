//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use super::{FilterResult, Rejection};
use crate::node_info::NodeInfo;

pub const REASON: &str = "node(s) didn't match the requested node name";

pub fn filter(requested: Option<&str>, node: &NodeInfo) -> FilterResult {
    match requested {
        Some(name) if !name.is_empty() && name != node.name => Err(Rejection::unresolvable(REASON)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::node;

    #[test]
    fn only_the_named_node_fits() {
        let n = node("n1", "1", "1Gi", &[]);
        assert_eq!(filter(Some("n1"), &n), Ok(()));
        assert_eq!(filter(None, &n), Ok(()));
        assert_eq!(filter(Some("n2"), &n), Err(Rejection::unresolvable(REASON)));
    }
}
