pub mod agent;
pub mod bench;
pub mod bench_agent;
pub mod demo;
pub mod image;
pub mod node;
pub mod up;
