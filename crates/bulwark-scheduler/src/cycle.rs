//! One scheduling cycle's precomputed view of the incoming pod (upstream's PreFilter results) and
//! the filter chain in the default profile's order.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;

use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::RequiredNodeAffinity;
use crate::plugins::topology_spread::{self, Inclusion, WhenUnsatisfiable};
use crate::plugins::{
    FilterResult, fit, inter_pod_affinity, node_affinity, node_name, node_ports,
    node_unschedulable, taint_toleration,
};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

/// Everything the filters need about the incoming pod, computed once per cycle. Checking one
/// node reads only that node and this state, so nodes can be filtered in any order or in parallel.
#[derive(Debug, Clone)]
pub struct Cycle<'a> {
    pub pod: &'a PodInfo,
    pub tolerations: &'a [Toleration],
    pub node_name: Option<&'a str>,
    pub node_affinity: RequiredNodeAffinity,
    pub inter_pod_affinity: Option<inter_pod_affinity::FilterState>,
    pub topology_spread: Option<topology_spread::FilterState>,
}

impl<'a> Cycle<'a> {
    /// Fails with upstream-like text when the pod itself cannot be evaluated (an invalid selector
    /// in an affinity term or spread constraint).
    pub fn new(snapshot: &Snapshot, pod: &'a PodInfo) -> Result<Self, String> {
        if let Some(error) = pod.parse_errors.first() {
            return Err(error.clone());
        }
        let spec = pod.pod.spec.as_ref();
        let tolerations = spec
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default();
        let node_affinity = RequiredNodeAffinity::of(&pod.pod);
        let constraints = topology_spread::constraints_of(pod, WhenUnsatisfiable::DoNotSchedule)?;
        let inclusion = Inclusion {
            node_affinity: &node_affinity,
            tolerations,
        };
        let topology_spread =
            topology_spread::FilterState::new(snapshot, pod, constraints, &inclusion);
        Ok(Self {
            pod,
            tolerations,
            node_name: spec.and_then(|s| s.node_name.as_deref()),
            inter_pod_affinity: inter_pod_affinity::FilterState::new(snapshot, pod),
            topology_spread,
            node_affinity,
        })
    }

    pub fn inclusion(&self) -> Inclusion<'_> {
        Inclusion {
            node_affinity: &self.node_affinity,
            tolerations: self.tolerations,
        }
    }

    /// Runs the filters in the default profile's order and stops at the first that rejects.
    pub fn filter(&self, node: &NodeInfo) -> FilterResult {
        node_unschedulable::filter(self.tolerations, node)?;
        node_name::filter(self.node_name, node)?;
        taint_toleration::filter(self.tolerations, node)?;
        node_affinity::filter(&self.node_affinity, node)?;
        node_ports::filter(&self.pod.host_ports, node)?;
        fit::filter(&self.pod.requests, node)?;
        if let Some(spread) = &self.topology_spread {
            spread.filter(self.pod, node)?;
        }
        if let Some(affinity) = &self.inter_pod_affinity {
            inter_pod_affinity::filter(affinity, self.pod, node)?;
        }
        Ok(())
    }

    /// [`Self::filter`], counting the pods nominated to the node with at least this pod's
    /// priority as if they ran there already, as upstream's `RunFilterPluginsWithNominatedPods`:
    /// the node must pass both with them and without them (a nominated pod may never arrive, and
    /// affinity to it must not be relied on).
    pub fn filter_with_nominated(&self, snapshot: &Snapshot, node: &NodeInfo) -> FilterResult {
        let mut holding = snapshot
            .nominated_on(&node.name)
            .iter()
            .filter(|other| other.key != self.pod.key && other.priority >= self.pod.priority)
            .peekable();
        if holding.peek().is_none() {
            return self.filter(node);
        }
        let mut with_nominated = node.clone();
        let mut cycle = self.clone();
        for pod in holding {
            with_nominated.add_pod(Arc::clone(pod));
            cycle.update_pod(snapshot, pod, &with_nominated, 1);
        }
        cycle.filter(&with_nominated)?;
        self.filter(node)
    }

    /// Takes one bound pod's contribution out of (delta -1) or back into (+1) the cluster-wide
    /// counts, as if it were deleted or re-added: preemption's `RemovePod`/`AddPod`.
    pub fn update_pod(
        &mut self,
        snapshot: &Snapshot,
        existing: &PodInfo,
        node: &NodeInfo,
        delta: i64,
    ) {
        let pod = self.pod;
        if let Some(affinity) = self.inter_pod_affinity.as_mut() {
            affinity.update(snapshot, pod, existing, node, delta);
        }
        let inclusion = Inclusion {
            node_affinity: &self.node_affinity,
            tolerations: self.tolerations,
        };
        if let Some(spread) = self.topology_spread.as_mut() {
            spread.update(existing, node, &inclusion, delta);
        }
    }
}
