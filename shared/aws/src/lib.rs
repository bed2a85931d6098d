//! AWS adapters for triage's ports: [`SqsTicketSink`] (FIFO ticket queue), [`SqsDigestSink`]
//! (digest queue) and [`SnsAlertPublisher`] (alert topic). The mapping from domain types to SDK
//! requests is pure and tested on its own; the adapters are tested with aws-smithy-mocks here
//! and end to end against moto server in the functions' integration tests.

mod sns;
mod sqs;

pub use sns::{SnsAlertPublisher, alert_request};
pub use sqs::{BatchPolicy, SqsDigestSink, SqsTicketSink, digest_entries, ticket_entries};
