//! The Job controller (batch/v1): runs pods to completion with `completions`, `parallelism`,
//! NonIndexed and Indexed modes, `backoffLimit` with exponential backoff, `activeDeadlineSeconds`,
//! suspension, and finalizer-based pod tracking; and the TTL-after-finished controller.

pub mod core;
pub mod indexes;
pub mod shell;
pub mod ttl;
