//! Filter and score plugins with kube-scheduler 1.33's semantics, reasons and weights.
//!
//! Every filter is `fn(&CycleState, &NodeInfo) -> Result<(), Rejection>` and every score is
//! `fn(&CycleState, &NodeInfo) -> i64` followed by an optional normalization over all scored
//! nodes: the per-node work reads nothing but its node and the cycle's precomputed state, so a
//! caller may fan it out across threads.

pub mod fit;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod taint_toleration;
pub mod topology_spread;

use std::borrow::Cow;

/// The highest score a plugin gives a node (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Whether evicting pods could ever make a rejected node fit (upstream's `Unschedulable`) or not
/// (`UnschedulableAndUnresolvable`): preemption only looks at the former.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// Why a filter turned a node down: upstream's reasons, one histogram entry each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub reasons: Vec<Cow<'static, str>>,
}

impl Rejection {
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }
}

pub type FilterResult = Result<(), Rejection>;

/// Upstream's `DefaultNormalizeScore`: scales to 0..=100 by the highest score, and reverses it
/// for plugins where fewer is better. All zero stays zero, or becomes 100 everywhere when reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for score in scores.iter_mut() {
        *score = MAX_NODE_SCORE * *score / max;
        if reverse {
            *score = MAX_NODE_SCORE - *score;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_scales_by_the_maximum() {
        let mut scores = [0, 5, 10];
        default_normalize(&mut scores, false);
        assert_eq!(scores, [0, 50, 100]);
    }

    #[test]
    fn default_normalize_reverses() {
        let mut scores = [0, 5, 10];
        default_normalize(&mut scores, true);
        assert_eq!(scores, [100, 50, 0]);
        let mut zeros = [0, 0];
        default_normalize(&mut zeros, true);
        assert_eq!(zeros, [100, 100]);
    }
}
