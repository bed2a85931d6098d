//! digest: on a schedule (EventBridge Scheduler), drains the digest queue and publishes one
//! digest — plain text for email, JSON for machines — to the SNS digest topic, then deletes the
//! messages it summarised. [`assemble`] builds it; `main.rs` serves it.

pub mod handler;
pub mod settings;

pub use handler::Handler;
pub use settings::Settings;

use triage_core::metrics::Emitter;
use triage_core::ports::Backend;

/// digest as it ships, on `backend`: AWS in `main.rs`, moto or memory elsewhere.
pub fn assemble<B: Backend>(settings: Settings, backend: &B) -> Handler<B> {
    Handler::new(
        backend.digest_source(&settings.queue_url),
        backend.digest_publisher(&settings.topic_arn),
        settings.options,
        settings.accounts,
        backend.clock(),
        Emitter::new("digest", settings.metrics),
    )
}
