pub mod bench;
pub mod up;
