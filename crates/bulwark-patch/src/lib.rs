//! Kubernetes patch engines over `serde_json::Value`.
//!
//! - [`schema`]: the type graph (merge keys, list and map types) the engines consult.
//!
//! Every engine is a pure function from (document, patch) to a new document; none
//! of them panics on any input.

pub mod apply;
pub mod schema;

pub use schema::{ListType, MapType, Node, NodeKind, PatchListStrategy, PatchStrategy, Schema};
