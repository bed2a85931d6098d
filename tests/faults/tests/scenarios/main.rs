//! One test binary, so that cargo runs every fault scenario in parallel with the others (each
//! test starts its own moto server and proxy).
//!
//! `cargo test -p fault-tests -- --nocapture` prints one report line per scenario.

mod digest;
mod pipeline;
mod sdk_retry;
