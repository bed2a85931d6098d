//! triage's pure domain: findings and their severity, the ticket-event contract, the severity
//! policy, classification of each event source, and the router that sends findings through the
//! ports. No AWS SDK, no Lambda runtime, no async runtime: everything here is tested without AWS.

pub mod accounts;
pub mod alarm;
pub mod chat;
pub mod clock;
pub mod cloudtrail;
pub mod config;
pub mod console;
pub mod dedup;
pub mod digest;
#[cfg(any(test, feature = "memory"))]
pub mod fakes;
pub mod finding;
pub mod flap;
pub mod glob;
pub mod hub;
pub mod inbound;
pub mod json;
pub mod metrics;
pub mod ocsf;
pub mod policy;
pub mod ports;
pub mod router;
pub mod settings;
pub mod severity;
pub mod suppress;
pub mod text;
pub mod ticket;

pub use finding::{Evidence, Finding, Fingerprint, Resource, Source, Status};
pub use severity::Severity;
pub use text::SafeText;
pub use ticket::{
    Alert, AttributeValue, DigestEntry, DigestKind, MessageAttributes, SCHEMA_VERSION,
    TICKET_EVENT_SCHEMA_VERSION, TicketAction, TicketEvent,
};
