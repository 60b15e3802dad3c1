//! The ReplicaSet controller: keeps `spec.replicas` pods matching the selector, owned through a
//! controller reference, and reports their state in `status`.

pub mod core;
pub mod shell;
