//! alarm-classifier: CloudWatch alarm state changes — from EventBridge, from an alarm's SNS
//! action (SNS → Lambda) or from an alarm's Lambda action — become ticket events, digest entries
//! and (for critical findings) alerts, through the shared router's suppressions and dedup
//! state; flapping alarms are reported once (their flap state lives in the dedup table).
//! [`assemble`] builds it; `main.rs` serves it.

pub mod handler;
pub mod settings;

pub use handler::Handler;
pub use settings::Settings;

use triage_core::flap::FlapControl;
use triage_core::metrics::Emitter;
use triage_core::ports::Backend;
use triage_core::router;

/// alarm-classifier as it ships, on `backend`: AWS in `main.rs`, moto or memory elsewhere.
pub fn assemble<B: Backend>(settings: Settings, backend: &B) -> Handler<B> {
    let log = backend.transition_log(&settings.router.dedup.table_name);
    let metrics = Emitter::new("alarm-classifier", settings.router.metrics.clone());
    Handler::new(
        settings.classifier,
        router::assemble(settings.router, backend),
        FlapControl::new(settings.flap, log),
        metrics,
    )
}
