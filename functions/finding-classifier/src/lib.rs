//! finding-classifier: GuardDuty findings (EventBridge "GuardDuty Finding") and Security Hub
//! findings ("Security Hub Findings - Imported" in ASFF, "Findings Imported V2" in OCSF) become
//! ticket events, digest entries and (for critical findings) alerts, through the shared router's
//! suppressions and dedup state: one ticket per provider finding. [`assemble`] builds it;
//! `main.rs` serves it.

pub mod handler;
pub mod settings;

pub use handler::Handler;
pub use settings::Settings;

use triage_core::metrics::Emitter;
use triage_core::ports::Backend;
use triage_core::router;

/// finding-classifier as it ships, on `backend`: AWS in `main.rs`, moto or memory in tests.
pub fn assemble<B: Backend>(settings: Settings, backend: &B) -> Handler<B> {
    let metrics = Emitter::new("finding-classifier", settings.router.metrics.clone());
    Handler::new(
        settings.classifier,
        router::assemble(settings.router, backend),
        metrics,
    )
}
