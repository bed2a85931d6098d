//! The sequence rule and the ticket lifecycle, for any ticket system.
//!
//! For each ticket event, in queue order:
//! 1. Its fingerprint's link is read (consistently). If the link's sequence is at least the
//!    event's, the event was applied already (a replay, a redrive, SQS's at-least-once copy) or
//!    was overtaken: nothing is done.
//! 2. The fingerprint's open ticket is the linked one unless it was closed; otherwise (a new
//!    consumer, a lost table, a closed ticket, a create whose link was never written) the ticket
//!    system is searched for an open ticket carrying the fingerprint.
//! 3. `open`: with an open ticket found by search, that ticket is adopted (it is this event's own
//!    create, whose link was lost); with a linked open ticket it is commented; with none, a
//!    ticket is created (naming the closed one, if any: the problem came back). `update`: the open
//!    ticket is commented and its count updated, or a ticket is created if there is none (the
//!    consumer started after the open). `resolve`: the open ticket is closed; with none, nothing
//!    is done.
//! 4. The link is written with the event's sequence.
//!
//! What is guaranteed: events applied in order per fingerprint, each once, and one ticket per
//! problem occurrence under replays, redrives and retries, as far as the ticket system's search
//! finds a ticket created by an attempt whose link was not written (Jira's search index lags its
//! writes by seconds). An invocation dying between a comment and the link write repeats that
//! comment when the message comes back; a close of a closed ticket changes nothing.

use std::future::Future;

use serde_json::Value;
use tracing::{info, warn};
use triage_core::text::sanitize;
use triage_core::{Fingerprint, TicketAction, TicketEvent};

use crate::batch::{BatchResponse, GroupGate, QueueMessage, SqsEvent};
use crate::deadline::Deadline;
use crate::links::{Link, LinkStore, LinkStoreError};

/// The newest ticket-event schema version a consumer reads.
pub const READABLE_TICKET_EVENT_VERSION: u32 = triage_core::ticket::TICKET_EVENT_SCHEMA_VERSION;

/// A ticket system: Jira, and whatever comes beside it.
pub trait TicketSystem: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The name recorded in the links table and the logs (`jira`).
    const NAME: &'static str;

    /// The fingerprint's open ticket, searched for in the ticket system.
    fn find_open(
        &self,
        fingerprint: &Fingerprint,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// Creates a ticket for the event's finding; `previous` is the closed ticket of the same
    /// fingerprint, if any. Returns the ticket's key.
    fn create(
        &self,
        event: &TicketEvent,
        previous: Option<&str>,
        deadline: Deadline,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Comments on the ticket with the recurrence (and updates its count).
    fn comment(
        &self,
        ticket: &str,
        event: &TicketEvent,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Closes the ticket (a ticket already closed stays closed, without an error).
    fn close(
        &self,
        ticket: &str,
        event: &TicketEvent,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What one ticket event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(String),
    /// An open ticket found by search, taken as this event's own (no second ticket).
    Adopted(String),
    Commented(String),
    Closed(String),
    /// A resolve with no open ticket.
    NothingToClose,
    /// The sequence was applied already: nothing done.
    AlreadyApplied,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("not a ticket event: {0}")]
    InvalidMessage(String),
    #[error(transparent)]
    Links(#[from] LinkStoreError),
    #[error("{system}: {message}")]
    System {
        system: &'static str,
        message: String,
    },
    #[error("the invocation's deadline passed before the message was applied")]
    DeadlinePassed,
}

/// What one batch did (logged, one line per invocation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub messages: usize,
    pub created: usize,
    pub adopted: usize,
    pub commented: usize,
    pub closed: usize,
    pub nothing_to_close: usize,
    pub already_applied: usize,
    /// Failed messages (left on the queue for a retry; after `maxReceiveCount`, the DLQ).
    pub failed: usize,
    /// Messages not tried because an earlier one of their group failed in this batch.
    pub held_back: usize,
}

impl Report {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Created(_) => self.created += 1,
            Outcome::Adopted(_) => self.adopted += 1,
            Outcome::Commented(_) => self.commented += 1,
            Outcome::Closed(_) => self.closed += 1,
            Outcome::NothingToClose => self.nothing_to_close += 1,
            Outcome::AlreadyApplied => self.already_applied += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not an SQS event: {0}")]
pub struct NotAnSqsEvent(pub String);

/// Bounds text from outside (an error body, a parse error quoting input) before a log line.
fn bounded(text: &str) -> String {
    sanitize(text, 300)
}

pub struct Consumer<S, L> {
    system: S,
    links: L,
}

impl<S: TicketSystem, L: LinkStore> Consumer<S, L> {
    pub fn new(system: S, links: L) -> Self {
        Consumer { system, links }
    }

    pub fn system(&self) -> &S {
        &self.system
    }

    pub fn links(&self) -> &L {
        &self.links
    }

    /// Applies a batch; the response names the messages to leave on the queue.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Deadline,
    ) -> Result<(BatchResponse, Report), NotAnSqsEvent> {
        let event: SqsEvent =
            serde_json::from_value(event).map_err(|e| NotAnSqsEvent(bounded(&e.to_string())))?;
        let mut gate = GroupGate::default();
        let mut report = Report {
            messages: event.records.len(),
            ..Report::default()
        };
        for message in &event.records {
            if !gate.admit(message) {
                report.held_back += 1;
                continue;
            }
            match self.apply_message(message, deadline).await {
                Ok(outcome) => {
                    info!(
                        message_id = %bounded(&message.message_id),
                        system = S::NAME,
                        outcome = ?outcome,
                        "ticket event applied"
                    );
                    report.count(&outcome);
                }
                Err(e) => {
                    warn!(
                        message_id = %bounded(&message.message_id),
                        system = S::NAME,
                        error = %bounded(&e.to_string()),
                        "ticket event not applied: left on the queue with the rest of its group"
                    );
                    report.failed += 1;
                    gate.fail(message);
                }
            }
        }
        info!(report = ?report, system = S::NAME, "batch done");
        Ok((gate.finish(), report))
    }

    async fn apply_message(
        &self,
        message: &QueueMessage,
        deadline: Deadline,
    ) -> Result<Outcome, ApplyError> {
        let event = parse(&message.body)?;
        if deadline.passed() {
            return Err(ApplyError::DeadlinePassed);
        }
        self.apply(&event, deadline).await
    }

    /// Applies one ticket event (see the module documentation).
    pub async fn apply(
        &self,
        event: &TicketEvent,
        deadline: Deadline,
    ) -> Result<Outcome, ApplyError> {
        let fp = &event.fingerprint;
        let link = self.links.get(fp).await?;
        if link.as_ref().is_some_and(|l| l.sequence >= event.sequence) {
            return Ok(Outcome::AlreadyApplied);
        }
        let system = |e: S::Error| ApplyError::System {
            system: S::NAME,
            message: bounded(&e.to_string()),
        };
        // The linked ticket, unless it was closed; otherwise the ticket system is searched: a
        // create whose link was never written (the function died, or the link write failed)
        // left an open ticket there, first or after a close.
        let (open_ticket, searched) = match link.as_ref().and_then(Link::open_ticket) {
            Some(t) => (Some(t.to_owned()), false),
            None => (
                self.system.find_open(fp, deadline).await.map_err(system)?,
                true,
            ),
        };
        let previous = link
            .as_ref()
            .filter(|l| l.closed)
            .and_then(|l| l.ticket.clone());
        let outcome = match (event.action, open_ticket) {
            (TicketAction::Open, Some(t)) if searched => Outcome::Adopted(t),
            (TicketAction::Open | TicketAction::Update, Some(t)) => {
                self.system
                    .comment(&t, event, deadline)
                    .await
                    .map_err(system)?;
                Outcome::Commented(t)
            }
            (TicketAction::Open | TicketAction::Update, None) => Outcome::Created(
                self.system
                    .create(event, previous.as_deref(), deadline)
                    .await
                    .map_err(system)?,
            ),
            (TicketAction::Resolve, Some(t)) => {
                self.system
                    .close(&t, event, deadline)
                    .await
                    .map_err(system)?;
                Outcome::Closed(t)
            }
            (TicketAction::Resolve, None) => Outcome::NothingToClose,
        };
        let ticket = match &outcome {
            Outcome::Created(t)
            | Outcome::Adopted(t)
            | Outcome::Commented(t)
            | Outcome::Closed(t) => Some(t.clone()),
            _ => link.as_ref().and_then(|l| l.ticket.clone()),
        };
        let recorded = Link {
            ticket,
            sequence: event.sequence,
            closed: event.action == TicketAction::Resolve,
        };
        if !self.links.put(fp, &recorded).await? {
            // Only a second consumer of the same group could get here (FIFO serves a group to one
            // at a time): its later sequence stands.
            warn!(fingerprint = %fp, sequence = event.sequence, "a later sequence was recorded meanwhile");
        }
        Ok(outcome)
    }
}

/// A ticket event from a message body: valid JSON of a readable version, with a fingerprint of
/// the form triage writes (32 hex digits), so that it is safe in a search and a label.
pub fn parse(body: &str) -> Result<TicketEvent, ApplyError> {
    let event: TicketEvent = serde_json::from_str(body)
        .map_err(|e| ApplyError::InvalidMessage(bounded(&e.to_string())))?;
    if event.schema_version > READABLE_TICKET_EVENT_VERSION || event.schema_version < 2 {
        return Err(ApplyError::InvalidMessage(format!(
            "schema_version {} (this consumer reads 2 to {READABLE_TICKET_EVENT_VERSION})",
            event.schema_version
        )));
    }
    if !event.fingerprint.is_well_formed() {
        return Err(ApplyError::InvalidMessage(format!(
            "fingerprint {:?} is not 32 lowercase hex digits",
            bounded(event.fingerprint.as_str())
        )));
    }
    if event.finding.fingerprint != event.fingerprint {
        return Err(ApplyError::InvalidMessage(
            "the finding's fingerprint differs from the event's".into(),
        ));
    }
    Ok(event)
}

#[cfg(test)]
mod tests;
