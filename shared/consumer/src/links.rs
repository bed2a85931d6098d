//! The link from a fingerprint to its ticket: the ticket's key in the ticket system, the last
//! sequence applied, and whether the ticket was closed. What makes a consumer idempotent: a
//! replay or a redrive finds the sequence already applied, and the ticket by a consistent read
//! rather than the ticket system's search index.
//!
//! In DynamoDB ([`DynamoDbLinks`], the template's `TicketLinksTable`):
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `fingerprint` | S | partition key |
//! | `ticket` | S | the ticket's key (`SEC-42`); absent while the fingerprint has none (a resolve of a problem never ticketed) |
//! | `sequence` | N | the last ticket-event sequence applied |
//! | `closed` | BOOL | the last event applied closed the ticket |
//! | `system` | S | the ticket system (`jira`), for people browsing the table |
//!
//! Every write is conditional on the stored sequence being lower: two writers can never move a
//! link backwards.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use triage_core::Fingerprint;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub ticket: Option<String>,
    pub sequence: u64,
    pub closed: bool,
}

impl Link {
    /// The ticket to update or close: the linked one, unless it was closed.
    pub fn open_ticket(&self) -> Option<&str> {
        if self.closed {
            None
        } else {
            self.ticket.as_deref()
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("ticket links table: {0}")]
pub struct LinkStoreError(pub String);

pub trait LinkStore: Send + Sync {
    fn get(
        &self,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<Option<Link>, LinkStoreError>> + Send;

    /// Records `link` unless the stored one has a sequence at least as high: `Ok(false)` then.
    fn put(
        &self,
        fingerprint: &Fingerprint,
        link: &Link,
    ) -> impl Future<Output = Result<bool, LinkStoreError>> + Send;
}

/// Links in memory: for unit tests.
#[derive(Debug, Default)]
pub struct MemoryLinks {
    links: Mutex<HashMap<Fingerprint, Link>>,
}

impl MemoryLinks {
    pub fn snapshot(&self) -> HashMap<Fingerprint, Link> {
        self.links.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut l) = self.links.lock() {
            l.clear();
        }
    }
}

impl LinkStore for MemoryLinks {
    async fn get(&self, fingerprint: &Fingerprint) -> Result<Option<Link>, LinkStoreError> {
        let links = self
            .links
            .lock()
            .map_err(|_| LinkStoreError("poisoned".into()))?;
        Ok(links.get(fingerprint).cloned())
    }

    async fn put(&self, fingerprint: &Fingerprint, link: &Link) -> Result<bool, LinkStoreError> {
        let mut links = self
            .links
            .lock()
            .map_err(|_| LinkStoreError("poisoned".into()))?;
        if links
            .get(fingerprint)
            .is_some_and(|old| old.sequence >= link.sequence)
        {
            return Ok(false);
        }
        links.insert(fingerprint.clone(), link.clone());
        Ok(true)
    }
}

/// Links in a DynamoDB table keyed by `fingerprint`.
#[derive(Debug, Clone)]
pub struct DynamoDbLinks {
    client: Client,
    table: String,
    system: &'static str,
}

impl DynamoDbLinks {
    pub fn new(client: Client, table: impl Into<String>, system: &'static str) -> Self {
        DynamoDbLinks {
            client,
            table: table.into(),
            system,
        }
    }
}

fn sdk_error<E, R>(e: SdkError<E, R>) -> LinkStoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    LinkStoreError(DisplayErrorContext(&e).to_string())
}

impl LinkStore for DynamoDbLinks {
    async fn get(&self, fingerprint: &Fingerprint) -> Result<Option<Link>, LinkStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(
                "fingerprint",
                AttributeValue::S(fingerprint.as_str().to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let sequence = item
            .get("sequence")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| LinkStoreError(format!("{fingerprint}: no readable sequence")))?;
        Ok(Some(Link {
            ticket: item.get("ticket").and_then(|v| v.as_s().ok()).cloned(),
            sequence,
            closed: item
                .get("closed")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        }))
    }

    async fn put(&self, fingerprint: &Fingerprint, link: &Link) -> Result<bool, LinkStoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(
                "fingerprint",
                AttributeValue::S(fingerprint.as_str().to_owned()),
            )
            .item("sequence", AttributeValue::N(link.sequence.to_string()))
            .item("closed", AttributeValue::Bool(link.closed))
            .item("system", AttributeValue::S(self.system.to_owned()))
            .condition_expression("attribute_not_exists(fingerprint) OR #s < :s")
            .expression_attribute_names("#s", "sequence")
            .expression_attribute_values(":s", AttributeValue::N(link.sequence.to_string()));
        if let Some(ticket) = &link.ticket {
            put = put.item("ticket", AttributeValue::S(ticket.clone()));
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
