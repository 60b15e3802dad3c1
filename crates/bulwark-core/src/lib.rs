//! Vocabulary shared by every Bulwark component.
//!
//! Nothing in this crate performs I/O, reads the wall clock or draws randomness: the
//! [`clock::Clock`] seam is how time enters, so the same code runs in the simulator.

pub mod clock;
pub mod cron;
pub mod error;
pub mod names;
pub mod net;
pub mod priority;
pub mod quantity;
pub mod resource;
pub mod selector;

pub use error::{ApiError, StatusCause};
pub use resource::{ResourceInfo, Scope, Subresource};
