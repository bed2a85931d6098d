//! triage's EventBridge bus: every ticket event and alert, put in calls of at most ten entries;
//! entries EventBridge refuses are put again, with backoff, and an entry still refused fails the
//! call (the router then fails the invocation, as for a refused ticket).

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use triage_core::ports::{EventPublisher, SinkError};
use triage_core::ticket::{BusEvent, EVENT_SOURCE};

const BUS: &str = "EventBridge bus";
/// Entries per `PutEvents` call (EventBridge's limit).
const MAX_ENTRIES: usize = 10;
const ATTEMPTS: u32 = 4;

/// Puts events on the bus named at cold start. Built without a client (a backend made of
/// explicit SQS, SNS and DynamoDB clients only), every put fails: nothing is reported as sent.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Option<Client>,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: Option<Client>, bus_name: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus_name: bus_name.into(),
        }
    }
}

/// The `PutEvents` entry of an event on `bus_name`.
pub fn event_entry(bus_name: &str, event: &BusEvent) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(EVENT_SOURCE)
        .detail_type(event.detail_type)
        .detail(&event.detail)
        .set_resources(Some(event.resources.clone()))
        .build()
}

impl EventPublisher for EventBridgePublisher {
    async fn put_events(&self, events: &[BusEvent]) -> Result<(), SinkError> {
        let Some(client) = &self.client else {
            return Err(SinkError::Request {
                sink: BUS,
                reason: "no EventBridge client in this backend".into(),
            });
        };
        for chunk in events.chunks(MAX_ENTRIES) {
            let mut pending: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|e| event_entry(&self.bus_name, e))
                .collect();
            let total = pending.len();
            let mut backoff = Duration::from_millis(50);
            let mut attempt = 1;
            loop {
                let answer = client
                    .put_events()
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| SinkError::Request {
                        sink: BUS,
                        reason: DisplayErrorContext(&e).to_string(),
                    })?;
                // Results are in the order of the entries; a failed one has an error code.
                let results = answer.entries();
                let mut retry = Vec::new();
                let mut reasons = Vec::new();
                for (i, entry) in pending.into_iter().enumerate() {
                    match results.get(i) {
                        Some(r) if r.error_code().is_none() && r.event_id().is_some() => {}
                        Some(r) => {
                            reasons.push(format!(
                                "{}: {}",
                                r.error_code().unwrap_or("no event id"),
                                r.error_message().unwrap_or_default()
                            ));
                            retry.push(entry);
                        }
                        None => {
                            reasons.push("missing from the answer".to_owned());
                            retry.push(entry);
                        }
                    }
                }
                if retry.is_empty() {
                    break;
                }
                if attempt >= ATTEMPTS {
                    return Err(SinkError::Rejected {
                        sink: BUS,
                        failed: retry.len(),
                        total,
                        attempts: attempt,
                        reason: reasons.join("; "),
                    });
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
                pending = retry;
            }
        }
        Ok(())
    }
}
