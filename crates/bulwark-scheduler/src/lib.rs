//! Bulwark's scheduling core: a pure library over a [`Snapshot`] of the cluster.

pub mod fixtures;
pub mod node_info;
pub mod pod_info;
pub mod resources;
pub mod snapshot;

pub use node_info::NodeInfo;
pub use pod_info::{PodInfo, PodKey};
pub use snapshot::{Snapshot, SpreadOwnerKind};
