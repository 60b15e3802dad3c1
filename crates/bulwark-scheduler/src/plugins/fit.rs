//! NodeResourcesFit (the filter and the `LeastAllocated` score) and
//! NodeResourcesBalancedAllocation, over cpu and memory with weight 1 each, as upstream's defaults.

use super::{Code, FilterResult, MAX_NODE_SCORE, Rejection};
use crate::node_info::NodeInfo;
use crate::resources::{PodRequests, Resources};

pub const TOO_MANY_PODS: &str = "Too many pods";
pub const INSUFFICIENT_CPU: &str = "Insufficient cpu";
pub const INSUFFICIENT_MEMORY: &str = "Insufficient memory";
pub const INSUFFICIENT_EPHEMERAL_STORAGE: &str = "Insufficient ephemeral-storage";

/// Every resource the pod asks for more of than the node has left, each its own reason, in
/// upstream's order (pods, cpu, memory, ephemeral-storage).
pub fn filter(request: &PodRequests, node: &NodeInfo) -> FilterResult {
    let mut reasons = Vec::new();
    if node.pods().len() as i64 + 1 > node.allocatable.pods {
        reasons.push(TOO_MANY_PODS.into());
    }
    let wanted = request.requested;
    let free = node.free();
    if wanted.milli_cpu > 0 && wanted.milli_cpu > free.milli_cpu {
        reasons.push(INSUFFICIENT_CPU.into());
    }
    if wanted.memory > 0 && wanted.memory > free.memory {
        reasons.push(INSUFFICIENT_MEMORY.into());
    }
    if wanted.ephemeral_storage > 0 && wanted.ephemeral_storage > free.ephemeral_storage {
        reasons.push(INSUFFICIENT_EPHEMERAL_STORAGE.into());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            code: Code::Unschedulable,
            reasons,
        })
    }
}

/// `LeastAllocated`: the share of cpu and memory left free once the pod is placed, 0..=100,
/// averaged. Requests here count the cpu/memory defaults for containers that request nothing.
pub fn least_allocated_score(request: &PodRequests, node: &NodeInfo) -> i64 {
    let requested = node.non_zero_requested + request.non_zero;
    let allocatable = node.allocatable.resources;
    let mut sum = 0;
    let mut weights = 0;
    for (requested, allocatable) in [
        (requested.milli_cpu, allocatable.milli_cpu),
        (requested.memory, allocatable.memory),
    ] {
        if allocatable == 0 {
            continue;
        }
        sum += least_requested(requested, allocatable);
        weights += 1;
    }
    if weights == 0 { 0 } else { sum / weights }
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    // i128: bytes times 100 overflows i64 for nodes past ~92 PB; cheap insurance.
    ((i128::from(capacity - requested) * i128::from(MAX_NODE_SCORE)) / i128::from(capacity)) as i64
}

/// True when the pod requests no cpu or memory at all: upstream skips balanced allocation then,
/// or every best-effort pod would pile onto the same node.
pub fn is_best_effort(request: &PodRequests) -> bool {
    request.requested.milli_cpu == 0 && request.requested.memory == 0
}

/// `BalancedAllocation`: 100 when cpu and memory would be equally used (as a fraction of
/// allocatable) once the pod is placed, less as they diverge. Uses the actual requests.
pub fn balanced_allocation_score(request: &PodRequests, node: &NodeInfo) -> i64 {
    let requested = node.requested + request.requested;
    balanced(requested, node.allocatable.resources)
}

fn balanced(requested: Resources, allocatable: Resources) -> i64 {
    let fraction = |r: i64, a: i64| (a != 0).then(|| (r as f64 / a as f64).min(1.0));
    let cpu = fraction(requested.milli_cpu, allocatable.milli_cpu);
    let memory = fraction(requested.memory, allocatable.memory);
    // With two resources the standard deviation is half their difference; with one, zero.
    let deviation = match (cpu, memory) {
        (Some(a), Some(b)) => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::pod_info::PodInfo;
    use crate::test_support::{bound, node};

    fn request(cpu: &str, memory: &str) -> PodRequests {
        PodInfo::new(fixtures::pod("default", "p", cpu, memory, &[])).requests
    }

    #[test]
    fn fits_until_the_node_is_full() {
        let mut n = node("n1", "1", "1Gi", &[]);
        assert!(filter(&request("600m", "512Mi"), &n).is_ok());
        n.add_pod(bound(
            fixtures::pod("default", "a", "600m", "512Mi", &[]),
            "n1",
        ));
        let rejection = filter(&request("600m", "600Mi"), &n).expect_err("full");
        assert_eq!(
            rejection.reasons,
            vec![INSUFFICIENT_CPU, INSUFFICIENT_MEMORY]
        );
        assert_eq!(rejection.code, Code::Unschedulable);
        assert!(filter(&request("400m", "512Mi"), &n).is_ok());
    }

    #[test]
    fn pod_count_is_a_resource() {
        let mut n = node("n1", "100", "100Gi", &[]);
        n.allocatable.pods = 1;
        n.add_pod(bound(fixtures::pod("default", "a", "", "", &[]), "n1"));
        let rejection = filter(&request("", ""), &n).expect_err("one pod allowed");
        assert_eq!(rejection.reasons, vec![TOO_MANY_PODS]);
    }

    #[test]
    fn zero_requests_always_fit_resources() {
        let mut n = node("n1", "1", "1Gi", &[]);
        n.add_pod(bound(fixtures::pod("default", "a", "1", "1Gi", &[]), "n1"));
        assert!(filter(&request("", ""), &n).is_ok());
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        // Upstream's example: cpu (4000-3000)/4000 = 25, memory (10000-5000)/10000 = 50 → 37.
        let mut n = node("n1", "4", "10000", &[]);
        n.add_pod(bound(fixtures::pod("default", "a", "2", "2500", &[]), "n1"));
        assert_eq!(least_allocated_score(&request("1", "2500"), &n), 37);
        let over = node("n2", "1", "10000", &[]);
        assert_eq!(least_allocated_score(&request("2", "5000"), &over), 25);
    }

    #[test]
    fn balanced_allocation_rewards_equal_fractions() {
        let n = node("n1", "4", "8Gi", &[]);
        assert_eq!(balanced_allocation_score(&request("2", "4Gi"), &n), 100);
        // cpu 1.0, memory 0.25 → deviation 0.375 → 62.
        assert_eq!(balanced_allocation_score(&request("4", "2Gi"), &n), 62);
        assert!(is_best_effort(&request("", "")));
        assert!(!is_best_effort(&request("1m", "")));
    }
}
