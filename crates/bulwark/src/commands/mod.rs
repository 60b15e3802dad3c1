pub mod agent;
pub mod bench;
pub mod demo;
pub mod image;
pub mod node;
pub mod up;
