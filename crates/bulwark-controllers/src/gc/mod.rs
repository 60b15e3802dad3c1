//! The garbage collector: dependents of owners that are gone are deleted; an owner deleted with
//! `propagationPolicy: Orphan` (the `orphan` finalizer) first releases its dependents, one
//! deleted with `Foreground` (the `foregroundDeletion` finalizer) waits until its blocking
//! dependents are gone. It covers the kinds the workload controllers own: Deployments,
//! ReplicaSets and Pods.

pub mod core;
pub mod shell;
