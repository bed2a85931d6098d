//! Alarms' flap states in the dedup table, beside the dedup items: one item per alarm under
//! the key `flap#<alarm fingerprint>` (the same partition key attribute, `fingerprint`), every
//! write a conditional PutItem on `version` (the conditions of
//! `triage_core::fakes::MemoryTransitionLog`).
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `fingerprint` | S | partition key: `flap#<alarm fingerprint>` |
//! | `item_kind` | S | `flap`, for people browsing the table |
//! | `version` | N | bumped by every write (optimistic concurrency) |
//! | `transitions` | L of N | the alarm's latest N+1 state-change times, epoch milliseconds, ascending |
//! | `last_state` | S | the state of the latest change |
//! | `flap_reported_at` | N | the change that last reported the alarm as flapping (absent once resolved) |
//! | `flap_reported_transitions`, `flap_reported_since` | N | that report's count and first change (kept after the resolve, which repeats them) |
//! | `flap_resolved_at` | N | the change that last resolved the flapping finding |
//! | `expires_at` | N | epoch seconds: the table's TTL attribute |

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use triage_core::alarm::AlarmState;
use triage_core::dedup::{Applied, DedupError};
use triage_core::flap::FlapState;
use triage_core::ports::TransitionLog;

use crate::{PARTITION_KEY, TTL_ATTRIBUTE};

/// The `item_kind` of flap items.
pub const ITEM_KIND: &str = "flap";
/// Most state-change times an item may hold (N+1 for the largest N, with room to spare).
const MAX_TRANSITIONS: usize = 1000;

/// Flap states in the dedup table (partition key `fingerprint`, TTL on `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoDbTransitionLog {
    client: Client,
    table: String,
}

impl DynamoDbTransitionLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbTransitionLog {
            client,
            table: table.into(),
        }
    }
}

type Attributes = HashMap<String, AttributeValue>;

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ms(t: DateTime<Utc>) -> AttributeValue {
    n(t.timestamp_millis())
}

/// The attributes of a flap state, as stored.
pub fn flap_to_attributes(state: &FlapState) -> Attributes {
    let mut a: Attributes = HashMap::new();
    a.insert(PARTITION_KEY.into(), AttributeValue::S(state.key.clone()));
    a.insert("item_kind".into(), AttributeValue::S(ITEM_KIND.into()));
    a.insert("version".into(), n(state.version));
    a.insert(
        "transitions".into(),
        AttributeValue::L(state.transitions.iter().map(|t| ms(*t)).collect()),
    );
    if let Some(s) = state.last_state {
        a.insert("last_state".into(), AttributeValue::S(s.as_str().into()));
    }
    if let Some(t) = state.reported_at {
        a.insert("flap_reported_at".into(), ms(t));
    }
    if state.reported_transitions > 0 {
        // Kept after the resolve: a retried calm change rebuilds the same resolve from it.
        a.insert(
            "flap_reported_transitions".into(),
            n(state.reported_transitions),
        );
    }
    if let Some(t) = state.reported_since {
        a.insert("flap_reported_since".into(), ms(t));
    }
    if let Some(t) = state.resolved_at {
        a.insert("flap_resolved_at".into(), ms(t));
    }
    a.insert(TTL_ATTRIBUTE.into(), n(state.expires_at.timestamp()));
    a
}

/// Reads a flap state back; a missing or malformed attribute is [`DedupError::Corrupt`].
pub fn flap_from_attributes(a: &Attributes) -> Result<FlapState, DedupError> {
    let key = a
        .get(PARTITION_KEY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |what: &str| DedupError::Corrupt {
        fingerprint: key.clone(),
        reason: what.to_owned(),
    };
    let number = |v: &AttributeValue, name: &str| -> Result<i64, DedupError> {
        v.as_n()
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| corrupt(&format!("{name} is not an integer")))
    };
    let millis = |v: &AttributeValue, name: &str| -> Result<DateTime<Utc>, DedupError> {
        DateTime::from_timestamp_millis(number(v, name)?)
            .ok_or_else(|| corrupt(&format!("{name} is out of range")))
    };
    let optional_ms = |name: &str| -> Result<Option<DateTime<Utc>>, DedupError> {
        a.get(name).map(|v| millis(v, name)).transpose()
    };
    if key.is_empty() {
        return Err(corrupt("fingerprint is missing or not a string"));
    }
    let version = a
        .get("version")
        .ok_or_else(|| corrupt("version is missing"))
        .and_then(|v| number(v, "version"))
        .and_then(|v| u64::try_from(v).map_err(|_| corrupt("version is negative")))?;
    let list = a
        .get("transitions")
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| corrupt("transitions is missing or not a list"))?;
    if list.len() > MAX_TRANSITIONS {
        return Err(corrupt("transitions holds too many times"));
    }
    let transitions = list
        .iter()
        .map(|v| millis(v, "transitions[]"))
        .collect::<Result<Vec<_>, _>>()?;
    if transitions.windows(2).any(|w| w[0] >= w[1]) {
        return Err(corrupt("transitions are not ascending"));
    }
    let last_state = match a.get("last_state") {
        None => None,
        Some(v) => Some(
            v.as_s()
                .ok()
                .and_then(|s| AlarmState::parse(s))
                .ok_or_else(|| corrupt("last_state is not an alarm state"))?,
        ),
    };
    let reported_transitions = match a.get("flap_reported_transitions") {
        None => 0,
        Some(v) => u32::try_from(number(v, "flap_reported_transitions")?)
            .map_err(|_| corrupt("flap_reported_transitions is out of range"))?,
    };
    let expires_at = a
        .get(TTL_ATTRIBUTE)
        .ok_or_else(|| corrupt("expires_at is missing"))
        .and_then(|v| number(v, TTL_ATTRIBUTE))
        .and_then(|s| {
            DateTime::from_timestamp(s, 0).ok_or_else(|| corrupt("expires_at is out of range"))
        })?;
    Ok(FlapState {
        key: key.clone(),
        version,
        transitions,
        last_state,
        reported_at: optional_ms("flap_reported_at")?,
        reported_transitions,
        reported_since: optional_ms("flap_reported_since")?,
        resolved_at: optional_ms("flap_resolved_at")?,
        expires_at,
    })
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

impl TransitionLog for DynamoDbTransitionLog {
    async fn load(&self, key: &str) -> Result<Option<FlapState>, DedupError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.item().map(flap_from_attributes).transpose()
    }

    async fn store(
        &self,
        state: &FlapState,
        expected_version: Option<u64>,
    ) -> Result<Applied, DedupError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(flap_to_attributes(state)));
        let put = match expected_version {
            None => put
                .condition_expression("attribute_not_exists(#fp)")
                .expression_attribute_names("#fp", PARTITION_KEY),
            Some(v) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(Applied::Yes),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                tracing::debug!(key = %state.key, "conditional flap state write refused");
                Ok(Applied::Conflict)
            }
            Err(e) => Err(unavailable(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use triage_core::flap::KEY_PREFIX;

    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_718_092_812_345 + ms).unwrap_or_default()
    }

    fn state() -> FlapState {
        FlapState {
            key: format!("{KEY_PREFIX}0123456789abcdef0123456789abcdef"),
            version: 7,
            transitions: vec![t(0), t(600_000), t(1_200_000)],
            last_state: Some(AlarmState::Ok),
            reported_at: Some(t(1_200_000)),
            reported_transitions: 5,
            reported_since: Some(t(0)),
            resolved_at: Some(t(-3_600_000)),
            expires_at: DateTime::from_timestamp(t(1_200_000).timestamp(), 0).unwrap_or_default()
                + TimeDelta::days(30),
        }
    }

    #[test]
    fn a_flap_state_round_trips_through_its_attributes() {
        let s = state();
        let a = flap_to_attributes(&s);
        assert_eq!(
            a.get(PARTITION_KEY)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some(s.key.as_str())
        );
        assert_eq!(
            a.get(TTL_ATTRIBUTE).and_then(|v| v.as_n().ok()).cloned(),
            Some(s.expires_at.timestamp().to_string()),
            "the TTL attribute is set, in epoch seconds"
        );
        assert_eq!(flap_from_attributes(&a), Ok(s));
        let resolved = FlapState {
            reported_at: None,
            ..state()
        };
        let a = flap_to_attributes(&resolved);
        assert_eq!(
            flap_from_attributes(&a),
            Ok(resolved),
            "a resolve keeps the report's count"
        );
        let empty = FlapState {
            reported_at: None,
            reported_transitions: 0,
            reported_since: None,
            resolved_at: None,
            last_state: None,
            ..state()
        };
        let a = flap_to_attributes(&empty);
        assert!(!a.contains_key("flap_reported_at") && !a.contains_key("flap_resolved_at"));
        assert_eq!(flap_from_attributes(&a), Ok(empty));
    }

    #[test]
    fn a_malformed_item_is_corrupt_never_a_panic() {
        let cases: [(&str, Option<AttributeValue>); 6] = [
            ("version", None),
            ("version", Some(AttributeValue::N("-1".into()))),
            ("transitions", Some(AttributeValue::S("soon".into()))),
            ("transitions", Some(AttributeValue::L(vec![n(2), n(1)]))),
            ("last_state", Some(AttributeValue::S("PENDING".into()))),
            (TTL_ATTRIBUTE, Some(AttributeValue::N("1e99".into()))),
        ];
        for (name, value) in cases {
            let mut a = flap_to_attributes(&state());
            match value {
                Some(v) => a.insert(name.into(), v),
                None => a.remove(name),
            };
            let e = flap_from_attributes(&a);
            assert!(
                matches!(&e, Err(DedupError::Corrupt { reason, .. }) if reason.contains(name)),
                "{name}: {e:?}"
            );
            assert!(!e.as_ref().is_err_and(DedupError::is_retryable));
        }
    }
}
