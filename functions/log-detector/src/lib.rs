//! log-detector: CloudTrail records delivered by a CloudWatch Logs subscription are evaluated
//! against the detection pack (`rules/detections.toml`); matches become ticket events, digest
//! entries and (for critical findings) alerts, with the records' evidence, through the shared
//! router's suppressions and dedup state. [`assemble`] builds it; `main.rs` serves it.

pub mod handler;
pub mod settings;

pub use handler::{Handler, ItemFailure, Response, StreamResponse, Summary};
pub use settings::Settings;

use triage_core::metrics::Emitter;
use triage_core::ports::Backend;
use triage_core::router;

/// log-detector as it ships, on `backend`: AWS in `main.rs`, moto or memory elsewhere.
pub fn assemble<B: Backend>(settings: Settings, backend: &B) -> Handler<B> {
    let metrics = Emitter::new("log-detector", settings.router.metrics.clone());
    Handler::new(
        settings.detector,
        router::assemble(settings.router, backend),
        metrics,
    )
}
