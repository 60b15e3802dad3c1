//! The namespace controller: a namespace being deleted is emptied, then finalized.

pub mod core;
pub mod shell;
