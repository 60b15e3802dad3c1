//! Kubernetes patch engines over `serde_json::Value`.
//!
//! - [`json_patch`]: RFC 6902 JSON patch (`application/json-patch+json`),
//!   [`json_patch::apply`].
//! - [`merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`),
//!   [`merge_patch::apply`].
//! - [`strategic`]: strategic merge patch (`application/strategic-merge-patch+json`),
//!   [`strategic::apply`], guided by a [`Schema`] node.
//! - [`schema`]: the type graph (merge keys, list and map types) the engines consult.
//!
//! Every engine is a pure function from (document, patch) to a new document; none
//! of them panics on any input.

pub mod apply;
pub mod json_patch;
pub mod merge_patch;
pub mod schema;
pub mod strategic;

pub use json_patch::JsonPatchError;
pub use schema::{ListType, MapType, Node, NodeKind, PatchListStrategy, PatchStrategy, Schema};
pub use strategic::StrategicError;
