//! The dedup state table in DynamoDB: one item per fingerprint, every change a conditional
//! write (the conditions are those of `triage_core::dedup::apply`).
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `fingerprint` | S | partition key |
//! | `version` | N | bumped by every write (optimistic concurrency for replaces) |
//! | `generation` | N | bumped when a window opens (open, update) |
//! | `rule_id` | S | for people browsing the table |
//! | `window_start`, `window_end` | N | epoch milliseconds |
//! | `first_seen`, `last_seen` | S | RFC 3339 |
//! | `total` | N | occurrences since the open |
//! | `sequence` | N | sequence of the last ticket event (absent in items of version 1: 0) |
//! | `resolved_at` | N | epoch milliseconds of the resolving event: the item is a tombstone |
//! | `delivered` | BOOL | false while a pending delivery is stored |
//! | `delivered_origin` | S | origin of the last delivered pending |
//! | `pending_origin`, `pending_action`, `pending_event`, `pending_send_ticket`, `pending_ticket_sent`, `pending_page`, `pending_digest`, `claimed_until` | S/S/S/BOOL/BOOL/BOOL/S/N | the outbox, present while `delivered` is false |
//! | `expires_at` | N | epoch seconds: the table's TTL attribute |
//! | `quiet` | BOOL | present (true) while the window is below its rule's count threshold: no ticket sent yet |
//! | `write_token` | S | the attempt token of the last write applied (see below) |
//!
//! # A write whose answer is lost
//!
//! A conditional write can apply while its answer never arrives (a dropped connection, a
//! timeout). The SDK then retries it, and the retry's condition fails against the item the first
//! attempt wrote; or all attempts fail and the call reports the table unreachable. Either way the
//! writer would be told "not applied" about its own write, and the dedup state would hold a
//! claim that looks like somebody else's until it runs out. So every call to
//! [`DynamoDbDedupStore::write`] draws a random attempt token, stores it as `write_token` with
//! the write, and asks for the item back when a condition fails
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`). Finding its own token there, or in a
//! consistent read after the call failed, the writer knows its write applied. The token is
//! random, not derived from the write: twenty deliveries of the same event at the same instant
//! write identical items, and only the token tells whose write it was.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use triage_core::dedup::{Applied, DedupError, DedupItem, Pending, Write};
use triage_core::ports::DedupStore;
use triage_core::{Fingerprint, TicketAction};

/// The table's partition key.
pub const PARTITION_KEY: &str = "fingerprint";
/// The table's TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The attempt token of the last write applied.
pub const WRITE_TOKEN_ATTRIBUTE: &str = "write_token";
/// How every attempt token starts (`wt-` and 32 hex digits), for tools that must recognise one.
pub const WRITE_TOKEN_PREFIX: &str = "wt-";

/// A fresh attempt token: 128 random bits.
fn attempt_token() -> String {
    format!("{WRITE_TOKEN_PREFIX}{:032x}", fastrand::u128(..))
}

/// Whether the item carries this attempt token: the write that made it was ours.
fn written_by(item: Option<&Attributes>, token: &str) -> bool {
    item.and_then(|a| a.get(WRITE_TOKEN_ATTRIBUTE))
        .and_then(|v| v.as_s().ok())
        .is_some_and(|t| t == token)
}

/// Dedup state in a DynamoDB table (partition key `fingerprint`, TTL on `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoDbDedupStore {
    client: Client,
    table: String,
}

impl DynamoDbDedupStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbDedupStore {
            client,
            table: table.into(),
        }
    }
}

type Attributes = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ms(t: DateTime<Utc>) -> AttributeValue {
    n(t.timestamp_millis())
}

fn rfc3339(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// The attributes of an item, as stored.
pub fn item_to_attributes(item: &DedupItem) -> Attributes {
    let mut a: Attributes = HashMap::new();
    a.insert(PARTITION_KEY.into(), s(item.fingerprint.as_str()));
    a.insert("version".into(), n(item.version));
    a.insert("generation".into(), n(item.generation));
    a.insert("rule_id".into(), s(item.rule_id.clone()));
    a.insert("window_start".into(), ms(item.window_start));
    a.insert("window_end".into(), ms(item.window_end));
    a.insert("first_seen".into(), rfc3339(item.first_seen));
    a.insert("last_seen".into(), rfc3339(item.last_seen));
    a.insert("total".into(), n(item.total));
    a.insert("sequence".into(), n(item.sequence));
    if let Some(t) = item.resolved_at {
        a.insert("resolved_at".into(), ms(t));
    }
    a.insert(
        "delivered".into(),
        AttributeValue::Bool(item.pending.is_none()),
    );
    if let Some(o) = &item.delivered_origin {
        a.insert("delivered_origin".into(), s(o.clone()));
    }
    if item.quiet {
        a.insert("quiet".into(), AttributeValue::Bool(true));
    }
    if let Some(p) = &item.pending {
        a.insert("pending_origin".into(), s(p.origin.clone()));
        a.insert("pending_action".into(), s(p.action.as_str()));
        a.insert("pending_event".into(), s(p.event.clone()));
        a.insert(
            "pending_send_ticket".into(),
            AttributeValue::Bool(p.send_ticket),
        );
        a.insert(
            "pending_ticket_sent".into(),
            AttributeValue::Bool(p.ticket_sent),
        );
        a.insert("pending_page".into(), AttributeValue::Bool(p.page));
        if let Some(d) = &p.digest {
            a.insert("pending_digest".into(), s(d.clone()));
        }
        a.insert("claimed_until".into(), ms(p.claimed_until));
    }
    a.insert(TTL_ATTRIBUTE.into(), n(item.expires_at.timestamp()));
    a
}

/// Reads an item back; a missing or malformed attribute is [`DedupError::Corrupt`].
pub fn item_from_attributes(a: &Attributes) -> Result<DedupItem, DedupError> {
    let key = a
        .get(PARTITION_KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |what: &str| DedupError::Corrupt {
        fingerprint: key.clone(),
        reason: what.to_owned(),
    };
    let get_s = |name: &str| -> Result<String, DedupError> {
        a.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| corrupt(&format!("{name} is missing or not a string")))
    };
    let get_n = |name: &str| -> Result<i64, DedupError> {
        a.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| corrupt(&format!("{name} is missing or not an integer")))
    };
    let get_u = |name: &str| -> Result<u64, DedupError> {
        u64::try_from(get_n(name)?).map_err(|_| corrupt(&format!("{name} is negative")))
    };
    let get_b = |name: &str| -> Result<bool, DedupError> {
        a.get(name)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .ok_or_else(|| corrupt(&format!("{name} is missing or not a boolean")))
    };
    let get_ms = |name: &str| -> Result<DateTime<Utc>, DedupError> {
        DateTime::from_timestamp_millis(get_n(name)?)
            .ok_or_else(|| corrupt(&format!("{name} is out of range")))
    };
    let get_time = |name: &str| -> Result<DateTime<Utc>, DedupError> {
        DateTime::parse_from_rfc3339(&get_s(name)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| corrupt(&format!("{name} is not an RFC 3339 time")))
    };
    let delivered = get_b("delivered")?;
    let pending = if delivered {
        None
    } else {
        let action = match get_s("pending_action")?.as_str() {
            "open" => TicketAction::Open,
            "update" => TicketAction::Update,
            "resolve" => TicketAction::Resolve,
            other => return Err(corrupt(&format!("pending_action {other:?} is unknown"))),
        };
        Some(Pending {
            origin: get_s("pending_origin")?,
            action,
            event: get_s("pending_event")?,
            send_ticket: get_b("pending_send_ticket")?,
            ticket_sent: a.contains_key("pending_ticket_sent") && get_b("pending_ticket_sent")?,
            page: get_b("pending_page")?,
            digest: a.get("pending_digest").and_then(|v| v.as_s().ok()).cloned(),
            claimed_until: get_ms("claimed_until")?,
        })
    };
    Ok(DedupItem {
        fingerprint: serde_json::from_value(serde_json::Value::String(get_s(PARTITION_KEY)?))
            .map_err(|_| corrupt("fingerprint"))?,
        version: get_u("version")?,
        generation: get_u("generation")?,
        rule_id: get_s("rule_id").unwrap_or_default(),
        window_start: get_ms("window_start")?,
        window_end: get_ms("window_end")?,
        first_seen: get_time("first_seen")?,
        last_seen: get_time("last_seen")?,
        total: get_u("total")?,
        sequence: if a.contains_key("sequence") {
            get_u("sequence")?
        } else {
            0
        },
        resolved_at: if a.contains_key("resolved_at") {
            Some(get_ms("resolved_at")?)
        } else {
            None
        },
        pending,
        delivered_origin: a
            .get("delivered_origin")
            .and_then(|v| v.as_s().ok())
            .cloned(),
        expires_at: DateTime::from_timestamp(get_n(TTL_ATTRIBUTE)?, 0)
            .ok_or_else(|| corrupt("expires_at is out of range"))?,
        quiet: matches!(a.get("quiet"), Some(AttributeValue::Bool(true))),
    })
}

/// An UpdateItem: update expression, condition, names and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub update: String,
    pub condition: String,
    pub names: HashMap<String, String>,
    pub values: Attributes,
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The UpdateItem for a count (and a take-over) or a mark, stamped with the attempt `token`;
/// `None` for the writes that are PutItems.
pub fn update_for(write: &Write, token: &str) -> Option<Update> {
    match write {
        Write::Create(_) | Write::Replace { .. } => None,
        Write::Count {
            generation,
            add,
            last_seen,
            expires_at,
            take_over,
            ..
        } => {
            let mut names = names(&[
                ("#fp", PARTITION_KEY),
                ("#gen", "generation"),
                ("#total", "total"),
                ("#v", "version"),
                ("#ls", "last_seen"),
                ("#exp", TTL_ATTRIBUTE),
                ("#wt", WRITE_TOKEN_ATTRIBUTE),
            ]);
            let mut values: Attributes = HashMap::new();
            values.insert(":gen".into(), n(generation));
            values.insert(":add".into(), n(add));
            values.insert(":one".into(), n(1));
            values.insert(":ls".into(), rfc3339(*last_seen));
            values.insert(":exp".into(), n(expires_at.timestamp()));
            values.insert(":wt".into(), s(token));
            let mut set = "SET #ls = :ls, #exp = :exp, #wt = :wt".to_owned();
            // A count applies whatever its count was, so its own SDK retry would add twice;
            // refusing the token it already wrote makes the retry a refusal that shows our token.
            let mut condition =
                "attribute_exists(#fp) AND #gen = :gen AND (attribute_not_exists(#wt) OR #wt <> :wt)"
                    .to_owned();
            if let Some(t) = take_over {
                names.insert("#po".into(), "pending_origin".into());
                names.insert("#cu".into(), "claimed_until".into());
                values.insert(":po".into(), s(t.origin.clone()));
                values.insert(":cu_was".into(), ms(t.claimed_until_was));
                values.insert(":cu".into(), ms(t.claimed_until));
                set.push_str(", #cu = :cu");
                condition.push_str(" AND #po = :po AND #cu = :cu_was");
            }
            Some(Update {
                update: format!("{set} ADD #total :add, #v :one"),
                condition,
                names,
                values,
            })
        }
        Write::MarkTicketSent {
            generation, origin, ..
        }
        | Write::MarkDelivered {
            generation, origin, ..
        } => {
            // Both are conditioned on the window generation and the pending's origin.
            let delivered = matches!(write, Write::MarkDelivered { .. });
            let mut names = names(&[
                ("#gen", "generation"),
                ("#v", "version"),
                ("#po", "pending_origin"),
                ("#pts", "pending_ticket_sent"),
                ("#wt", WRITE_TOKEN_ATTRIBUTE),
            ]);
            if delivered {
                for (k, v) in [
                    ("#del", "delivered"),
                    ("#do", "delivered_origin"),
                    ("#pa", "pending_action"),
                    ("#pe", "pending_event"),
                    ("#pst", "pending_send_ticket"),
                    ("#pp", "pending_page"),
                    ("#pd", "pending_digest"),
                    ("#cu", "claimed_until"),
                ] {
                    names.insert(k.into(), v.into());
                }
            }
            let mut values: Attributes = HashMap::new();
            values.insert(":gen".into(), n(generation));
            values.insert(":origin".into(), s(origin.clone()));
            values.insert(":true".into(), AttributeValue::Bool(true));
            values.insert(":one".into(), n(1));
            values.insert(":wt".into(), s(token));
            let update = if delivered {
                "SET #del = :true, #do = :origin, #wt = :wt REMOVE #po, #pa, #pe, #pst, #pts, #pp, #pd, #cu ADD #v :one"
            } else {
                "SET #pts = :true, #wt = :wt ADD #v :one"
            };
            Some(Update {
                update: update.into(),
                condition: "#gen = :gen AND #po = :origin".into(),
                names,
                values,
            })
        }
        Write::Release {
            generation,
            origin,
            claimed_until,
            ..
        } => {
            let names = names(&[
                ("#gen", "generation"),
                ("#v", "version"),
                ("#po", "pending_origin"),
                ("#cu", "claimed_until"),
                ("#wt", WRITE_TOKEN_ATTRIBUTE),
            ]);
            let mut values: Attributes = HashMap::new();
            values.insert(":gen".into(), n(generation));
            values.insert(":origin".into(), s(origin.clone()));
            values.insert(":cu".into(), ms(*claimed_until));
            values.insert(":one".into(), n(1));
            values.insert(":wt".into(), s(token));
            Some(Update {
                update: "SET #cu = :cu, #wt = :wt ADD #v :one".into(),
                condition: "#gen = :gen AND #po = :origin".into(),
                names,
                values,
            })
        }
    }
}

fn unavailable<E, R>(e: &SdkError<E, R>) -> DedupError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DedupError::Unavailable {
        reason: format!("DynamoDB: {}", DisplayErrorContext(e)),
    }
}

/// What a conditional write's call came back with.
enum Sent {
    Applied,
    /// The condition failed; the item it was checked against, when DynamoDB returned it.
    Refused(Option<Attributes>),
    /// No answer worth believing: the write may or may not have applied.
    Failed(DedupError),
}

impl DynamoDbDedupStore {
    /// The stored attributes, read consistently.
    async fn read(&self, fingerprint: &Fingerprint) -> Result<Option<Attributes>, DedupError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(fingerprint.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(out.item().cloned())
    }

    /// Sends one conditional write stamped with `token`.
    async fn send(&self, write: &Write, token: &str) -> Sent {
        match write {
            Write::Create(item) | Write::Replace { item, .. } => {
                let mut attributes = item_to_attributes(item);
                attributes.insert(WRITE_TOKEN_ATTRIBUTE.into(), s(token));
                let request = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(attributes))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    );
                let request = match write {
                    Write::Replace {
                        expected_version, ..
                    } => request
                        .condition_expression("#v = :expected")
                        .expression_attribute_names("#v", "version")
                        .expression_attribute_values(":expected", n(expected_version)),
                    _ => request
                        .condition_expression("attribute_not_exists(#fp)")
                        .expression_attribute_names("#fp", PARTITION_KEY),
                };
                match request.send().await {
                    Ok(_) => Sent::Applied,
                    Err(e) => match e.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(c)) => {
                            Sent::Refused(c.item().cloned())
                        }
                        _ => Sent::Failed(unavailable(&e)),
                    },
                }
            }
            Write::Count { .. }
            | Write::MarkTicketSent { .. }
            | Write::MarkDelivered { .. }
            | Write::Release { .. } => {
                let Some(u) = update_for(write, token) else {
                    return Sent::Refused(None);
                };
                let r = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(PARTITION_KEY, s(write.fingerprint().as_str()))
                    .update_expression(u.update)
                    .condition_expression(u.condition)
                    .set_expression_attribute_names(Some(u.names))
                    .set_expression_attribute_values(Some(u.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match r {
                    Ok(_) => Sent::Applied,
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                            Sent::Refused(c.item().cloned())
                        }
                        _ => Sent::Failed(unavailable(&e)),
                    },
                }
            }
        }
    }
}

impl DedupStore for DynamoDbDedupStore {
    async fn load(&self, fingerprint: &Fingerprint) -> Result<Option<DedupItem>, DedupError> {
        self.read(fingerprint)
            .await?
            .as_ref()
            .map(item_from_attributes)
            .transpose()
    }

    async fn write(&self, write: &Write) -> Result<Applied, DedupError> {
        let fingerprint = write.fingerprint();
        let token = attempt_token();
        match self.send(write, &token).await {
            Sent::Applied => Ok(Applied::Yes),
            // The SDK's retry of a write whose first answer was lost meets our own item.
            Sent::Refused(item) if written_by(item.as_ref(), &token) => {
                tracing::info!(%fingerprint, "conditional write applied; its answer was lost and the retry found it");
                Ok(Applied::Yes)
            }
            Sent::Refused(_) => {
                tracing::debug!(%fingerprint, "conditional write refused");
                Ok(Applied::Conflict)
            }
            Sent::Failed(error) => match self.read(fingerprint).await {
                Ok(item) if written_by(item.as_ref(), &token) => {
                    tracing::info!(%fingerprint, "conditional write applied; every answer to it was lost");
                    Ok(Applied::Yes)
                }
                // Not ours (or unreadable): the write may still have applied and been
                // overwritten since; failing lets Lambda retry the whole observation.
                _ => Err(error),
            },
        }
    }
}
