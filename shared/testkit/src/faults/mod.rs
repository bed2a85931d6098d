//! [`FaultProxy`]: an HTTP/1.1 proxy on a free loopback port in front of a
//! [`MotoServer`](crate::MotoServer) that injects the faults AWS services really produce (each
//! [`Fault`] says what the client sees), as a seeded [`FaultPlan`] places them: the same requests
//! get the same faults in every run. Point the real SDK at it ([`FaultProxy::sdk_config`]), read
//! what it injected ([`FaultProxy::stats`]); it stops when dropped.
//!
//! `plan` draws a request's fault, `codec` says what identifies a request, `protocol` speaks
//! each AWS protocol's errors, `stats` counts, `proxy` serves.

mod codec;
mod plan;
mod protocol;
mod proxy;
mod stats;

pub use codec::RANDOM_TOKEN_PREFIXES;
pub use plan::{Fault, FaultPlan};
pub use proxy::FaultProxy;
pub use stats::{FaultCounts, FaultStats};
