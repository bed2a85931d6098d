//! log-detector's handler and settings, as a library so the integration tests, the benchmark
//! and the binary share them. `main.rs` only wires them to AWS.

pub mod handler;
pub mod settings;
