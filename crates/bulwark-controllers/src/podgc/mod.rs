//! Pod garbage collection: finished pods past a threshold, pods of vanished nodes, and
//! unscheduled pods being deleted.

pub mod core;
pub mod shell;
