//! What a container's `resources` become in cgroup files (pure), with the kubelet's
//! conversions (`MilliCPUToShares`, `MilliCPUToQuota`) and runc's shares → weight mapping.

use std::collections::BTreeMap;

use bulwark_core::quantity::Quantity;
use k8s_openapi::api::core::v1::Container;

/// The CFS period the kubelet uses: 100 ms.
pub const CFS_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts (1 ms).
pub const MIN_CFS_QUOTA_US: u64 = 1_000;
/// `cpu.shares` bounds and the shares of one whole CPU.
pub const MIN_SHARES: u64 = 2;
pub const MAX_SHARES: u64 = 262_144;
pub const SHARES_PER_CPU: u64 = 1_024;

/// The limits one container's cgroup enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceLimits {
    /// `limits.memory` in bytes.
    pub memory_bytes: Option<u64>,
    /// `limits.cpu` in millicores → CFS quota.
    pub cpu_limit_millis: Option<u64>,
    /// `requests.cpu` in millicores → shares (v1) or weight (v2).
    pub cpu_request_millis: Option<u64>,
    /// The most processes (and threads) the container may hold.
    pub pids: Option<u64>,
}

impl ResourceLimits {
    /// A container's limits. As on a real API server, a CPU or memory limit without a request
    /// implies an equal request. Unparseable or negative quantities count as absent (the API
    /// server's validation rejects them before they reach a node).
    pub fn of_container(container: &Container, pids: Option<u64>) -> Self {
        let resources = container.resources.as_ref();
        let limits = resources.and_then(|r| r.limits.as_ref());
        let requests = resources.and_then(|r| r.requests.as_ref());
        let cpu_limit_millis = amount(limits, "cpu").map(|q| positive(q.milli_value()));
        let cpu_request_millis = amount(requests, "cpu")
            .map(|q| positive(q.milli_value()))
            .or(cpu_limit_millis);
        Self {
            memory_bytes: amount(limits, "memory").map(|q| positive(q.value())),
            cpu_limit_millis,
            cpu_request_millis,
            pids,
        }
    }

    /// `cpu.cfs_quota_us` for the CPU limit (none: unlimited).
    pub fn cfs_quota_us(&self) -> Option<u64> {
        self.cpu_limit_millis.map(cfs_quota_us)
    }

    /// `cpu.shares` for the CPU request; no request gets the minimum, as for BestEffort pods.
    pub fn cpu_shares(&self) -> u64 {
        cpu_shares(self.cpu_request_millis.unwrap_or(0))
    }

    /// `cpu.weight` (v2) for the CPU request.
    pub fn cpu_weight(&self) -> u64 {
        shares_to_weight(self.cpu_shares())
    }

    /// The v2 `cpu.max` line: `"<quota> <period>"` or `"max <period>"`.
    pub fn cpu_max(&self) -> String {
        match self.cfs_quota_us() {
            Some(quota) => format!("{quota} {CFS_PERIOD_US}"),
            None => format!("max {CFS_PERIOD_US}"),
        }
    }
}

type ResourceMap = BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;

fn amount(map: Option<&ResourceMap>, name: &str) -> Option<Quantity> {
    let quantity = Quantity::parse(&map?.get(name)?.0).ok()?;
    (quantity.signum() > 0).then_some(quantity)
}

fn positive(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Millicores to CFS quota over [`CFS_PERIOD_US`], at least [`MIN_CFS_QUOTA_US`].
pub fn cfs_quota_us(millis: u64) -> u64 {
    let quota = millis.saturating_mul(CFS_PERIOD_US) / 1_000;
    quota.max(MIN_CFS_QUOTA_US)
}

/// Millicores to `cpu.shares`, clamped to the kernel's range.
pub fn cpu_shares(millis: u64) -> u64 {
    let shares = millis.saturating_mul(SHARES_PER_CPU) / 1_000;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// `cpu.shares` (2…262144) to `cpu.weight` (1…10000), as runc maps them.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(MIN_SHARES, MAX_SHARES);
    1 + ((shares - MIN_SHARES) * 9_999) / (MAX_SHARES - MIN_SHARES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
    use proptest::prelude::*;

    fn container(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Container {
        let map = |pairs: &[(&str, &str)]| {
            let map: ResourceMap = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string())))
                .collect();
            (!map.is_empty()).then_some(map)
        };
        Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                limits: map(limits),
                requests: map(requests),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    #[test]
    fn a_200m_limit_is_a_20ms_quota_per_100ms_period() {
        let limits = ResourceLimits::of_container(&container(&[("cpu", "200m")], &[]), None);
        assert_eq!(limits.cfs_quota_us(), Some(20_000));
        assert_eq!(limits.cpu_max(), "20000 100000");
        // The request defaults to the limit.
        assert_eq!(limits.cpu_shares(), 204);
    }

    #[test]
    fn memory_limit_is_in_bytes_and_requests_set_shares() {
        let limits = ResourceLimits::of_container(
            &container(&[("memory", "16Mi")], &[("cpu", "1500m")]),
            Some(64),
        );
        assert_eq!(limits.memory_bytes, Some(16 * 1024 * 1024));
        assert_eq!(limits.cpu_shares(), 1_536);
        assert_eq!(limits.cfs_quota_us(), None);
        assert_eq!(limits.cpu_max(), "max 100000");
        assert_eq!(limits.pids, Some(64));
    }

    #[test]
    fn no_resources_is_best_effort() {
        let limits = ResourceLimits::of_container(&Container::default(), None);
        assert_eq!(limits, ResourceLimits::default());
        assert_eq!(limits.cpu_shares(), MIN_SHARES);
        assert_eq!(limits.cpu_weight(), 1);
    }

    #[test]
    fn bad_quantities_count_as_absent() {
        let limits = ResourceLimits::of_container(
            &container(&[("cpu", "lots"), ("memory", "-1")], &[]),
            None,
        );
        assert_eq!(limits, ResourceLimits::default());
    }

    #[test]
    fn tiny_limits_get_the_minimum_quota_and_shares() {
        assert_eq!(cfs_quota_us(1), MIN_CFS_QUOTA_US);
        assert_eq!(cpu_shares(1), MIN_SHARES);
        assert_eq!(shares_to_weight(MAX_SHARES), 10_000);
        assert_eq!(shares_to_weight(1_024), 39);
    }

    proptest! {
        #[test]
        fn conversions_stay_in_the_kernel_ranges(millis: u64) {
            prop_assert!(cfs_quota_us(millis) >= MIN_CFS_QUOTA_US);
            let shares = cpu_shares(millis);
            prop_assert!((MIN_SHARES..=MAX_SHARES).contains(&shares));
            prop_assert!((1..=10_000).contains(&shares_to_weight(shares)));
        }
    }
}
