//! What every consumer of the FIFO ticket queue shares, whatever ticket system it feeds.
//!
//! - [`batch`]: the SQS event Lambda hands the consumer, and its partial batch response with FIFO
//!   semantics: once a message of a group fails, the rest of that group in the batch is not
//!   processed and is returned as failed too, so the group's order holds; other groups go on.
//! - [`Consumer`]: the sequence rule of the ticket-event contract (an event is applied only if
//!   its `sequence` is greater than the last one applied for its fingerprint), the choice of
//!   what to do with a ticket (create, comment, close, create anew after a close), and the
//!   record of what was applied.
//! - [`links`]: that record, one link per fingerprint (the ticket's key, the last sequence
//!   applied, whether the ticket was closed), in DynamoDB or in memory.
//! - [`Deadline`]: how long the invocation may still spend on retries.
//!
//! A ticket system implements [`TicketSystem`] (find, create, comment, close) and nothing else:
//! Jira does today (`functions/jira-consumer`); ServiceNow or GitHub Issues would, beside it.

pub mod batch;
pub mod consumer;
pub mod deadline;
pub mod links;

pub use batch::{BatchResponse, QueueMessage, SqsEvent};
pub use consumer::{Consumer, Outcome, Report, TicketSystem};
pub use deadline::Deadline;
pub use links::{Link, LinkStore};
