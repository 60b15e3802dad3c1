//! The DaemonSet controller: one pod per eligible node, rolling updates, ControllerRevisions.

pub mod core;
pub mod history;
pub mod shell;
