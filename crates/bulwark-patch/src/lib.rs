//! Kubernetes patch engines over `serde_json::Value`.
//!
//! - [`json_patch`]: RFC 6902 JSON patch (`application/json-patch+json`),
//!   [`json_patch::apply`].
//! - [`merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`),
//!   [`merge_patch::apply`].
//! - [`strategic`]: strategic merge patch (`application/strategic-merge-patch+json`),
//!   [`strategic::apply`], guided by a [`Schema`] node.
//! - [`apply`]: server-side apply (`application/apply-patch+yaml`) and the `managedFields`
//!   bookkeeping every write goes through, [`apply::apply`] and [`apply::track_update`].
//! - [`schema`]: the type graph (merge keys, list and map types) the engines consult.
//!
//! Every engine is a pure function of its inputs (the request time is passed in, never read);
//! none of them panics on any input.

pub mod apply;
pub mod json_patch;
pub mod merge_patch;
pub mod schema;
pub mod strategic;

pub use json_patch::JsonPatchError;
pub use schema::{ListType, MapType, Node, NodeKind, PatchListStrategy, PatchStrategy, Schema};
pub use strategic::StrategicError;
