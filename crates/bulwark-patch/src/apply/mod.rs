//! Server-side apply and managedFields tracking over `serde_json::Value`, after
//! sigs.k8s.io/structured-merge-diff and the API server's field manager.
//!
//! # What the API server calls
//!
//! - [`apply`] for `PATCH` with `application/apply-patch+yaml` (after decoding YAML to JSON and
//!   checking kind and name). On [`ApplyError::Conflict`] answer 409 Conflict, reason
//!   `Conflict`, message [`ApplyConflict`]'s `Display`, and one cause per
//!   [`ApplyConflict::causes`] (type `FieldManagerConflict`, field `.spec.replicas`).
//!   Other errors carry their status in [`ApplyError::http_status`] and
//!   [`ApplyError::reason`].
//! - [`track_update`] for every other write (create, update, JSON/merge/strategic patch, and
//!   subresource writes), with the object about to be stored.
//! - [`WriteContext`] carries the schema and root type, request API version, subresource, the
//!   request time (no clock is read here) and the fields the endpoint resets.
//!
//! The manager name comes from `fieldManager`; deriving a default from the user agent
//! (`kubectl-client-side-apply`, `kube-controller-manager`, ...) is the caller's job.
//!
//! # Building blocks
//!
//! [`FieldSet`] (paths `f:`, `k:`, `v:`, `i:`; union, intersection, difference),
//! [`FieldSet::to_fields_v1`] / [`FieldSet::from_fields_v1`] for the wire format, and
//! [`fields_of`], the fields a value specifies under a schema node.
//!
//! # Guarantees and caveats
//!
//! - Pure: no clock, no I/O; the same inputs give the same output.
//! - Never panics. Recursion follows the value's depth, which serde_json's parser bounds
//!   (128 levels) for anything that arrives over the network.
//! - Unknown fields are not rejected here (upstream's "field not declared in schema"): the API
//!   server's strict field validation reports them before apply runs. They merge as untyped.
//! - Declared struct-typed fields are never recorded as a whole (`".": {}`), only their
//!   contents, matching what upstream records for Go value structs; upstream does record
//!   pointer structs as a whole, which a JSON schema cannot tell apart.
//!
//! # Not done
//!
//! Conversion between API versions (entries of other versions are compared as if they were
//! the request's), the `last-applied-configuration` annotation interplay of client-side apply,
//! unions, schema defaults for list-map keys other than `protocol`.

pub mod conflict;
pub mod fields_v1;
pub mod managed;
pub mod manager;
pub mod path;
pub mod set;
pub mod typed;

pub use conflict::{ApplyConflict, ApplyError, Conflict, ConflictCause};
pub use fields_v1::FieldsV1Error;
pub use managed::{ManagedEntry, ManagedFieldsError, ManagerId, Operation};
pub use manager::{
    MAX_UPDATE_MANAGERS, WriteContext, apply, status_subresource_reset_fields, track_update,
    try_track_update,
};
pub use path::{Path, PathElement};
pub use set::FieldSet;
pub use typed::{Comparison, TypeError, compare, fields_of, merge};

#[cfg(test)]
mod tests;
