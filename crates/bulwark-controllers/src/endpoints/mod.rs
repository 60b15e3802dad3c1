//! The Endpoints controller: for each Service with a selector, an Endpoints object of the same
//! name listing the selected pods, ready and not ready. Its shell also runs the EndpointSlice
//! controller ([`crate::endpointslice`]) on the same queue.

pub mod core;
pub mod shell;
