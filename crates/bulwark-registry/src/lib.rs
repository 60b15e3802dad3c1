//! Per-resource strategies: everything the API server needs to know about one kind.
//!
//! The API server is generic over resources and calls into this crate for every kind-specific
//! decision, all of them pure functions over JSON values:
//!
//! * [`schema`] — JSON schemas of every served kind (from k8s-openapi), annotated with the
//!   Kubernetes list/map extensions (`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, …)
//!   that the patch engines and OpenAPI both read;
//! * [`openapi`] — the `/openapi/v3` index and per group-version documents;
//! * [`protobuf`] — decoding `application/vnd.kubernetes.protobuf` request bodies to JSON;
//! * [`strict`] — decoding a request body with `fieldValidation` (unknown and duplicate fields);
//! * [`normalize`] — the typed round trip that turns a JSON body into a well-typed object;
//! * [`defaults`] — upstream's defaulting;
//! * [`validation`] — upstream's validation, one cause per bad field;
//! * [`table`] — server-side printing (`as=Table`) with upstream's columns;
//! * [`events`] — conversion between `v1` and `events.k8s.io/v1` Events.

pub mod defaults;
pub mod events;
pub mod normalize;
pub mod openapi;
pub mod protobuf;
pub mod schema;
pub mod strict;
pub mod table;
pub mod validation;
