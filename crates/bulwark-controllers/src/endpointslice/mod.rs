//! The EndpointSlice controller: `discovery.k8s.io/v1` slices of at most 100 endpoints per
//! Service and port set. Its writes run in the Endpoints controller's shell
//! ([`crate::endpoints::shell`]), which reconciles both for each Service.

pub mod core;
