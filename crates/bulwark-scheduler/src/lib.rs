//! Bulwark's scheduling core: a pure library over a [`Snapshot`] of the cluster.
//!
//! - [`Snapshot`] holds nodes and the pods bound to them, updated incrementally by the shell.
//! - [`schedule`] filters and scores nodes with kube-scheduler 1.33's default plugins, weights
//!   and messages, and returns a node name or an [`Unschedulable`] explaining why none fits.
//! - [`preempt`] finds the node where evicting lower-priority pods lets the pod fit.
//! - [`priority::PriorityClasses`] resolves `priorityClassName` to a priority.
//! - [`workloads`] builds the benchmark clusters (after `scheduler_perf`) and places them.
//!
//! No I/O, no clock, no ambient randomness: the same code runs in the server and the simulator.
//! The one exception is [`shell`], the thin I/O layer that runs the core inside the control
//! plane (watches in, bindings and status out); it reads time only through a `Clock`.

pub mod cycle;
pub mod fixtures;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod priority;
pub mod resources;
pub mod schedule;
pub mod scoring;
pub mod shell;
pub mod snapshot;
pub mod workloads;

#[cfg(test)]
mod test_support;

pub use node_info::NodeInfo;
pub use pod_info::{PodInfo, PodKey};
pub use preemption::{
    NoPreemption, PdbView, Preemption, preempt, preempt_diagnosed, preempt_pod_info,
};
pub use priority::{PriorityClasses, ResolvedPriority};
pub use schedule::{Config, SchedulingState, Unschedulable, schedule, schedule_pod_info};
pub use scoring::Weights;
pub use snapshot::{Snapshot, SpreadOwnerKind};
