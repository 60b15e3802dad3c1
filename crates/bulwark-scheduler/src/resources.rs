//! The resources the scheduler accounts for (cpu, memory, ephemeral-storage, pods) and how a pod's
//! request is computed from its containers, as upstream's `resourcehelper.PodRequests` does.

use std::collections::BTreeMap;
use std::ops::{Add, AddAssign, Sub, SubAssign};

use bulwark_core::quantity::Quantity;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// What a pod that asks for no CPU is assumed to use when spreading by score (`DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// What a pod that asks for no memory is assumed to use when scoring (`DefaultMemoryRequest`, 200 MB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of the scored and filtered resources. CPU in millicores, the others in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
}

impl Resources {
    pub const ZERO: Resources = Resources {
        milli_cpu: 0,
        memory: 0,
        ephemeral_storage: 0,
    };

    /// Reads cpu, memory and ephemeral-storage from a resource list; other names are ignored and
    /// an unparsable quantity counts as zero (the API server has validated stored objects).
    pub fn from_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> Self {
        let Some(list) = list else {
            return Self::ZERO;
        };
        Self {
            milli_cpu: list.get(CPU).map_or(0, |q| parse(q).milli_value()),
            memory: list.get(MEMORY).map_or(0, |q| parse(q).value()),
            ephemeral_storage: list.get(EPHEMERAL_STORAGE).map_or(0, |q| parse(q).value()),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }

    /// The larger amount of each resource (`maxResourceList`).
    pub fn max(self, other: Self) -> Self {
        Self {
            milli_cpu: self.milli_cpu.max(other.milli_cpu),
            memory: self.memory.max(other.memory),
            ephemeral_storage: self.ephemeral_storage.max(other.ephemeral_storage),
        }
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, other: Self) -> Self {
        Self {
            milli_cpu: self.milli_cpu.saturating_add(other.milli_cpu),
            memory: self.memory.saturating_add(other.memory),
            ephemeral_storage: self
                .ephemeral_storage
                .saturating_add(other.ephemeral_storage),
        }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl Sub for Resources {
    type Output = Resources;
    fn sub(self, other: Self) -> Self {
        Self {
            milli_cpu: self.milli_cpu.saturating_sub(other.milli_cpu),
            memory: self.memory.saturating_sub(other.memory),
            ephemeral_storage: self
                .ephemeral_storage
                .saturating_sub(other.ephemeral_storage),
        }
    }
}

impl SubAssign for Resources {
    fn sub_assign(&mut self, other: Self) {
        *self = *self - other;
    }
}

/// A node's `status.allocatable`, with the pod count apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocatable {
    pub resources: Resources,
    pub pods: i64,
}

impl Allocatable {
    pub fn from_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> Self {
        Self {
            resources: Resources::from_list(list),
            pods: list
                .and_then(|l| l.get(PODS))
                .map_or(0, |q| parse(q).value()),
        }
    }
}

/// A pod's request as the filter sees it (`requested`) and as spreading scores see it
/// (`non_zero`: a container that names no cpu or memory request counts the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodRequests {
    pub requested: Resources,
    pub non_zero: Resources,
}

impl PodRequests {
    /// Upstream's rule: app containers and sidecars (restartable init containers) run together
    /// and add up; each classic init container runs alone next to the sidecars started before it;
    /// the pod needs the larger of the two; the RuntimeClass overhead comes on top.
    pub fn of(pod: &Pod) -> Self {
        let Some(spec) = pod.spec.as_ref() else {
            return Self::default();
        };
        let mut running = PodRequests::default();
        for container in &spec.containers {
            running = running.plus(container_requests(container));
        }
        let mut sidecars = PodRequests::default();
        let mut init_peak = PodRequests::default();
        for container in spec.init_containers.iter().flatten() {
            let own = container_requests(container);
            let while_running = if is_sidecar(container) {
                running = running.plus(own);
                sidecars = sidecars.plus(own);
                sidecars
            } else {
                own.plus(sidecars)
            };
            init_peak = init_peak.max(while_running);
        }
        let mut total = running.max(init_peak);
        let overhead = Resources::from_list(spec.overhead.as_ref());
        total.requested += overhead;
        total.non_zero += overhead;
        total
    }

    fn plus(self, other: Self) -> Self {
        Self {
            requested: self.requested + other.requested,
            non_zero: self.non_zero + other.non_zero,
        }
    }

    fn max(self, other: Self) -> Self {
        Self {
            requested: self.requested.max(other.requested),
            non_zero: self.non_zero.max(other.non_zero),
        }
    }
}

/// A restartable init container (`restartPolicy: Always`) is a sidecar that keeps running.
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

fn container_requests(container: &Container) -> PodRequests {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let requested = Resources::from_list(requests);
    let names = |name: &str| requests.is_some_and(|r| r.contains_key(name));
    let mut non_zero = requested;
    // Only a request that is absent takes the default; an explicit zero stays zero.
    if !names(CPU) {
        non_zero.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
    }
    if !names(MEMORY) {
        non_zero.memory = DEFAULT_MEMORY_REQUEST;
    }
    PodRequests {
        requested,
        non_zero,
    }
}

fn parse(quantity: &ApiQuantity) -> Quantity {
    Quantity::parse(&quantity.0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec}))
            .expect("test pod is valid")
    }

    fn requests(cpu: &str, memory: &str) -> serde_json::Value {
        json!({"resources": {"requests": {"cpu": cpu, "memory": memory}}})
    }

    fn container(name: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"name": name, "image": "x"});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        c
    }

    #[test]
    fn app_containers_add_up() {
        let p = pod(json!({"containers": [
            container("a", requests("250m", "64Mi")),
            container("b", requests("750m", "64Mi")),
        ]}));
        let r = PodRequests::of(&p);
        assert_eq!(r.requested.milli_cpu, 1000);
        assert_eq!(r.requested.memory, 128 << 20);
    }

    #[test]
    fn the_largest_init_container_wins_over_a_smaller_sum() {
        let p = pod(json!({
            "initContainers": [container("init", requests("2", "1Gi"))],
            "containers": [container("a", requests("500m", "2Gi"))],
        }));
        let r = PodRequests::of(&p);
        assert_eq!(r.requested.milli_cpu, 2000);
        assert_eq!(r.requested.memory, 2 << 30);
    }

    #[test]
    fn sidecars_add_to_app_containers_and_to_later_init_containers() {
        let mut sidecar = requests("1", "1Gi");
        sidecar["restartPolicy"] = json!("Always");
        let p = pod(json!({
            "initContainers": [
                container("sidecar", sidecar),
                container("init", requests("1500m", "100Mi")),
            ],
            "containers": [container("a", requests("100m", "100Mi"))],
        }));
        let r = PodRequests::of(&p);
        // init runs next to the sidecar: 2.5 cpu; app + sidecar: 1.1 cpu.
        assert_eq!(r.requested.milli_cpu, 2500);
        assert_eq!(r.requested.memory, (1 << 30) + (100 << 20));
    }

    #[test]
    fn overhead_is_added() {
        let mut p = pod(json!({"containers": [container("a", requests("100m", "10Mi"))]}));
        if let Some(spec) = p.spec.as_mut() {
            spec.overhead = Some(BTreeMap::from([(
                CPU.to_string(),
                ApiQuantity("250m".into()),
            )]));
        }
        assert_eq!(PodRequests::of(&p).requested.milli_cpu, 350);
    }

    #[test]
    fn missing_requests_count_as_defaults_only_for_scoring() {
        let p = pod(json!({"containers": [container("a", json!({}))]}));
        let r = PodRequests::of(&p);
        assert!(r.requested.is_zero());
        assert_eq!(r.non_zero.milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(r.non_zero.memory, DEFAULT_MEMORY_REQUEST);
    }
}
