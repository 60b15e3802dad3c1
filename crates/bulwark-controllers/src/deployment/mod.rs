//! The Deployment controller: rolls a Deployment's pod template out through ReplicaSets
//! (RollingUpdate or Recreate), keeps their revisions and history, and reports the rollout in
//! `status`. `kubectl rollout` reads what it writes.

pub mod core;
pub mod rollout;
pub mod shell;
