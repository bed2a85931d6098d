//! The CloudWatch Logs subscription payload: `{"awslogs":{"data": base64(gzip(JSON))}}`,
//! decoded with bounds.

use std::fmt;
use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text::SafeText;

/// The largest inflated payload accepted by default: far above what CloudWatch Logs sends to a
/// Lambda destination, far below a Lambda's memory.
pub const DEFAULT_MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;
/// The most log events one payload may carry by default.
pub const DEFAULT_MAX_LOG_EVENTS: usize = 50_000;
/// The largest single log event message evaluated by default (CloudTrail sends at most 256 KB;
/// CloudWatch Logs accepts events up to 1 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Bounds applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest inflated JSON payload; beyond it the payload is refused
    /// ([`DecodeError::TooLarge`]) without inflating the rest.
    pub max_decoded_bytes: usize,
    /// The most log events in one payload ([`DecodeError::TooManyLogEvents`]).
    pub max_log_events: usize,
    /// Larger log event messages are skipped and counted, not evaluated.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
            max_log_events: DEFAULT_MAX_LOG_EVENTS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Why a subscription payload as a whole cannot be decoded. Single bad log events are not
/// errors: they are skipped and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a CloudWatch Logs subscription event: {0} is missing")]
    MissingField(&'static str),
    #[error("not a CloudWatch Logs subscription event: {field} is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    // "the data": awslogs.data of a subscription event, kinesis.data of a stream record.
    #[error("the data is {len} characters of base64, more than the {limit} allowed")]
    EncodedTooLarge { len: usize, limit: usize },
    #[error("the data is not valid base64: {0}")]
    Base64(String),
    #[error("the data is not gzip: {0}")]
    NotGzip(String),
    #[error("the data is a truncated gzip stream")]
    TruncatedGzip,
    #[error("the data inflates to more than {limit} bytes (MAX_DECODED_BYTES)")]
    TooLarge { limit: usize },
    #[error("the decoded payload is not JSON: {0}")]
    NotJson(String),
    #[error("the decoded payload is not a subscription payload: {0}")]
    Malformed(String),
    #[error("unknown messageType \"{0}\" (expected DATA_MESSAGE or CONTROL_MESSAGE)")]
    UnknownMessageType(SafeText),
    #[error("{count} log events in one payload, more than the {limit} allowed (MAX_LOG_EVENTS)")]
    TooManyLogEvents { count: usize, limit: usize },
}

/// `messageType` of a subscription payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MessageType {
    /// Log events.
    #[serde(rename = "DATA_MESSAGE")]
    Data,
    /// CloudWatch Logs checking that the destination is reachable: acknowledged, ignored.
    #[serde(rename = "CONTROL_MESSAGE")]
    Control,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Data => "DATA_MESSAGE",
            MessageType::Control => "CONTROL_MESSAGE",
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log event. Read leniently: a log event that is not an object, or whose `message` is not
/// a string, becomes a `LogEvent` without a message (skipped and counted), so it cannot fail
/// the payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub message: Option<String>,
}

/// A decoded subscription payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub message_type: MessageType,
    /// The account that owns the log group (`CloudwatchLogs` for control messages).
    pub owner: String,
    pub log_group: String,
    pub log_stream: String,
    pub subscription_filters: Vec<String>,
    /// `ACCOUNT_LEVEL_POLICY` for account-level subscription policies.
    pub policy_level: Option<String>,
    pub log_events: Vec<LogEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubscription {
    #[serde(default)]
    message_type: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    log_group: Option<String>,
    #[serde(default)]
    log_stream: Option<String>,
    #[serde(default)]
    subscription_filters: Option<Vec<String>>,
    #[serde(default)]
    policy_level: Option<String>,
    #[serde(default)]
    log_events: Option<Vec<LogEvent>>,
}

impl Subscription {
    /// Parses the decoded JSON payload.
    pub fn from_json(json: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        // Invalid UTF-8 inside one log event must cost only that event, not the payload: such
        // sequences become U+FFFD (valid UTF-8 is borrowed as it is and not validated twice).
        let text = String::from_utf8_lossy(json);
        let raw: RawSubscription = serde_json::from_str(&text).map_err(|e| {
            if e.is_data() {
                DecodeError::Malformed(e.to_string())
            } else {
                DecodeError::NotJson(e.to_string())
            }
        })?;
        Self::from_raw(raw, limits)
    }

    /// Reads a decoded payload that is already a JSON value (the `.decoded.json` form).
    pub fn from_value(value: &Value, limits: &Limits) -> Result<Self, DecodeError> {
        if !value.is_object() {
            return Err(DecodeError::WrongType {
                field: "the payload",
                expected: "a JSON object",
            });
        }
        let raw = RawSubscription::deserialize(value)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        Self::from_raw(raw, limits)
    }

    fn from_raw(raw: RawSubscription, limits: &Limits) -> Result<Self, DecodeError> {
        let message_type = match raw.message_type.as_deref() {
            Some("DATA_MESSAGE") => MessageType::Data,
            Some("CONTROL_MESSAGE") => MessageType::Control,
            Some(other) => {
                return Err(DecodeError::UnknownMessageType(SafeText::bounded(
                    other, 64,
                )));
            }
            None => return Err(DecodeError::MissingField("messageType")),
        };
        let log_events = raw
            .log_events
            .ok_or(DecodeError::MissingField("logEvents"))?;
        if log_events.len() > limits.max_log_events {
            return Err(DecodeError::TooManyLogEvents {
                count: log_events.len(),
                limit: limits.max_log_events,
            });
        }
        Ok(Subscription {
            message_type,
            owner: raw.owner.unwrap_or_default(),
            log_group: raw.log_group.unwrap_or_default(),
            log_stream: raw.log_stream.unwrap_or_default(),
            subscription_filters: raw.subscription_filters.unwrap_or_default(),
            policy_level: raw.policy_level,
            log_events,
        })
    }
}

/// Decodes the Lambda event a subscription sends: `awslogs.data` → base64 → gzip (bounded) →
/// JSON.
pub fn decode_lambda_event(event: &Value, limits: &Limits) -> Result<Subscription, DecodeError> {
    let awslogs = event
        .get("awslogs")
        .ok_or(DecodeError::MissingField("awslogs"))?;
    let data = awslogs
        .get("data")
        .ok_or(DecodeError::MissingField("awslogs.data"))?
        .as_str()
        .ok_or(DecodeError::WrongType {
            field: "awslogs.data",
            expected: "a string",
        })?;
    let json = decode_data(data, limits)?;
    Subscription::from_json(&json, limits)
}

/// `awslogs.data` → the inflated JSON bytes, at most `limits.max_decoded_bytes`.
pub fn decode_data(data: &str, limits: &Limits) -> Result<Vec<u8>, DecodeError> {
    // gzip never makes a payload much larger than its input, so base64 text far longer than
    // the inflated limit cannot be a payload we accept.
    let limit = limits.max_decoded_bytes.saturating_mul(4) / 3 + 4096;
    if data.len() > limit {
        return Err(DecodeError::EncodedTooLarge {
            len: data.len(),
            limit,
        });
    }
    let gz = STANDARD
        .decode(data.trim())
        .map_err(|e| DecodeError::Base64(e.to_string()))?;
    gunzip_bounded(&gz, limits.max_decoded_bytes)
}

/// Inflates a gzip stream, refusing to produce more than `max` bytes.
pub fn gunzip_bounded(gz: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    if gz.len() < 2 || gz[..2] != [0x1f, 0x8b] {
        return Err(DecodeError::NotGzip("no gzip header (1f 8b)".into()));
    }
    let mut out = Vec::with_capacity(gz.len().saturating_mul(8).min(max));
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    GzDecoder::new(gz)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => DecodeError::TruncatedGzip,
            _ => DecodeError::NotGzip(e.to_string()),
        })?;
    if out.len() > max {
        return Err(DecodeError::TooLarge { limit: max });
    }
    Ok(out)
}

/// gzip (level 6, mtime 0) then base64: what CloudWatch Logs puts in `awslogs.data`. For tests,
/// samples and tools.
pub fn encode_data(json: &[u8]) -> std::io::Result<String> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    encoder.write_all(json)?;
    Ok(STANDARD.encode(encoder.finish()?))
}

/// The Lambda event for a decoded payload: `{"awslogs":{"data": …}}`.
pub fn encode_lambda_event(json: &[u8]) -> std::io::Result<Value> {
    Ok(serde_json::json!({ "awslogs": { "data": encode_data(json)? } }))
}

// ------------------------------------------------------------------------------------------
// Kinesis Data Streams: the organization-wide intake

/// One record of the Lambda event a Kinesis event source mapping sends: a CloudWatch Logs
/// destination writes each subscription payload, gzipped, as one stream record, and Lambda
/// base64-encodes it in `kinesis.data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRecord<'e> {
    /// `kinesis.sequenceNumber`: what a partial batch response names.
    pub sequence_number: &'e str,
    /// `kinesis.data`: base64 of the gzipped subscription payload.
    pub data: &'e str,
}

/// Why a Kinesis Lambda event cannot be read at all (no record of it can be named, so the
/// whole batch fails). A record whose data cannot be decoded fails only itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamEventError {
    #[error("not a Kinesis event: Records is missing or not an array")]
    NotRecords,
    #[error("Records[{index}] is not a Kinesis record: {problem}")]
    Record { index: usize, problem: &'static str },
}

/// `{"Records": [{"eventSource": "aws:kinesis", …}]}`: a Kinesis event source mapping's event.
pub fn is_kinesis_event(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:kinesis")
}

/// The records of a Kinesis Lambda event, in the order Lambda gives them (the shard's order).
pub fn stream_records(event: &Value) -> Result<Vec<StreamRecord<'_>>, StreamEventError> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(StreamEventError::NotRecords)?;
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let bad = |problem| StreamEventError::Record { index, problem };
            if record.get("eventSource").and_then(Value::as_str) != Some("aws:kinesis") {
                return Err(bad("eventSource is not aws:kinesis"));
            }
            let kinesis = record.get("kinesis").ok_or(bad("kinesis is missing"))?;
            let sequence_number = kinesis
                .get("sequenceNumber")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or(bad("kinesis.sequenceNumber is not a non-empty string"))?;
            let data = kinesis
                .get("data")
                .and_then(Value::as_str)
                .ok_or(bad("kinesis.data is not a string"))?;
            Ok(StreamRecord {
                sequence_number,
                data,
            })
        })
        .collect()
}

/// A stream record's subscription payload: base64 → gzip (bounded) → JSON.
pub fn decode_stream_record(
    record: &StreamRecord<'_>,
    limits: &Limits,
) -> Result<Subscription, DecodeError> {
    let json = decode_data(record.data, limits)?;
    Subscription::from_json(&json, limits)
}

/// The Lambda event a Kinesis event source mapping would send for these subscription payloads
/// (decoded JSON), one stream record each, sequence numbers counting from `first_sequence`.
/// For tests, samples and `triage replay`.
pub fn encode_kinesis_event(
    payloads: &[&[u8]],
    first_sequence: u128,
    stream_arn: &str,
) -> std::io::Result<Value> {
    let encoded = payloads
        .iter()
        .enumerate()
        .map(|(i, json)| {
            Ok((
                format!("{:056}", first_sequence + i as u128),
                encode_data(json)?,
            ))
        })
        .collect::<std::io::Result<Vec<(String, String)>>>()?;
    Ok(kinesis_event(
        encoded.iter().map(|(sequence_number, data)| StreamRecord {
            sequence_number,
            data,
        }),
        stream_arn,
    ))
}

/// The Lambda event a Kinesis event source mapping sends for `records` (their sequence numbers
/// and base64 data, as read from the stream `stream_arn`), in order.
pub fn kinesis_event<'r>(
    records: impl IntoIterator<Item = StreamRecord<'r>>,
    stream_arn: &str,
) -> Value {
    let account = stream_arn.split(':').nth(4).unwrap_or("111122223333");
    let region = stream_arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<Value> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("{i}"),
                    "sequenceNumber": r.sequence_number,
                    "data": r.data,
                    "approximateArrivalTimestamp": 1_733_000_000.0 + i as f64,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", r.sequence_number),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": format!("arn:aws:iam::{account}:role/triage-log-detector"),
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

// ------------------------------------------------------------------------------------------
// Lenient log events
// ------------------------------------------------------------------------------------------

/// Any JSON value, keeping only what a log event field can use.
enum Loose {
    Text(String),
    Int(i64),
    Float(f64),
    Other,
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Text(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(i64::try_from(v).map_or(Loose::Other, Loose::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose, E> {
        Ok(Loose::Float(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

enum EventField {
    Id,
    Timestamp,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for EventField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = EventField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EventField, E> {
                Ok(match v {
                    "id" => EventField::Id,
                    "timestamp" => EventField::Timestamp,
                    "message" => EventField::Message,
                    _ => EventField::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for LogEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LogEventVisitor)
    }
}

struct LogEventVisitor;

impl<'de> Visitor<'de> for LogEventVisitor {
    type Value = LogEvent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a log event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogEvent, A::Error> {
        let mut event = LogEvent::default();
        while let Some(field) = map.next_key::<EventField>()? {
            match field {
                EventField::Id => {
                    event.id = match map.next_value::<Loose>()? {
                        Loose::Text(s) => s,
                        Loose::Int(n) => n.to_string(),
                        Loose::Float(_) | Loose::Other => String::new(),
                    }
                }
                EventField::Timestamp => {
                    event.timestamp = match map.next_value::<Loose>()? {
                        Loose::Int(n) => Some(n),
                        // Whole milliseconds written as a float; truncation is the intent.
                        #[allow(clippy::cast_possible_truncation)]
                        Loose::Float(f) if f.is_finite() => Some(f as i64),
                        _ => None,
                    }
                }
                EventField::Message => {
                    event.message = match map.next_value::<Loose>()? {
                        Loose::Text(s) => Some(s),
                        _ => None,
                    }
                }
                EventField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(event)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LogEvent, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(LogEvent::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<LogEvent, E> {
        Ok(LogEvent::default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(events: Value) -> Vec<u8> {
        json!({
            "messageType": "DATA_MESSAGE",
            "owner": "111122223333",
            "logGroup": "g",
            "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["f"],
            "logEvents": events,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_payload_round_trips_through_base64_and_gzip() {
        let json = payload(json!([{"id": "1", "timestamp": 5, "message": "hello"}]));
        let event = encode_lambda_event(&json).expect("encode");
        let sub = decode_lambda_event(&event, &Limits::default()).expect("decode");
        assert_eq!(sub.message_type, MessageType::Data);
        assert_eq!(sub.owner, "111122223333");
        assert_eq!(
            sub.log_events,
            [LogEvent {
                id: "1".into(),
                timestamp: Some(5),
                message: Some("hello".into())
            }]
        );
    }

    #[test]
    fn odd_log_events_become_events_without_a_message_not_errors() {
        let json = payload(json!([
            42,
            "text",
            [1, 2],
            null,
            {"id": 7, "timestamp": 1.5e3, "message": {"not": "a string"}, "extra": [1]},
            {"message": "ok"}
        ]));
        let sub = Subscription::from_json(&json, &Limits::default()).expect("lenient");
        let messages: Vec<Option<&str>> = sub
            .log_events
            .iter()
            .map(|e| e.message.as_deref())
            .collect();
        assert_eq!(messages, [None, None, None, None, None, Some("ok")]);
        assert_eq!(sub.log_events[4].id, "7");
        assert_eq!(sub.log_events[4].timestamp, Some(1500));
    }

    #[test]
    fn whole_payload_problems_are_typed_errors_naming_what_was_wrong() {
        let limits = Limits::default();
        let cases: Vec<(Value, DecodeError)> = vec![
            (json!({"Records": []}), DecodeError::MissingField("awslogs")),
            (
                json!({"awslogs": {}}),
                DecodeError::MissingField("awslogs.data"),
            ),
            (
                json!({"awslogs": {"data": 5}}),
                DecodeError::WrongType {
                    field: "awslogs.data",
                    expected: "a string",
                },
            ),
            (
                json!({"awslogs": {"data": "H4sI%%%"}}),
                DecodeError::Base64("Invalid symbol 37, offset 4.".into()),
            ),
            (
                json!({"awslogs": {"data": STANDARD.encode(b"{\"plain\": true}")}}),
                DecodeError::NotGzip("no gzip header (1f 8b)".into()),
            ),
        ];
        for (event, want) in cases {
            assert_eq!(decode_lambda_event(&event, &limits), Err(want));
        }
    }

    #[test]
    fn a_truncated_gzip_stream_is_reported_as_truncated() {
        let data = encode_data(&payload(json!([{"message": "x"}]))).expect("encode");
        let gz = STANDARD.decode(&data).expect("base64");
        for cut in [gz.len() - 1, gz.len() - 8, gz.len() / 2, 12] {
            let truncated = STANDARD.encode(&gz[..cut]);
            assert_eq!(
                decode_data(&truncated, &Limits::default()),
                Err(DecodeError::TruncatedGzip),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compress to ~64 KiB.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let data = encode_data(&zeros).expect("encode");
        assert!(data.len() < 200 * 1024, "{} bytes of base64", data.len());
        let limits = Limits {
            max_decoded_bytes: 1024 * 1024,
            ..Limits::default()
        };
        assert_eq!(
            decode_data(&data, &limits),
            Err(DecodeError::TooLarge { limit: 1024 * 1024 })
        );
    }

    #[test]
    fn base64_longer_than_any_acceptable_payload_is_refused_before_decoding() {
        let limits = Limits {
            max_decoded_bytes: 1000,
            ..Limits::default()
        };
        let data = "A".repeat(10_000);
        assert!(matches!(
            decode_data(&data, &limits),
            Err(DecodeError::EncodedTooLarge { len: 10_000, .. })
        ));
    }

    #[test]
    fn decoded_json_problems_are_typed() {
        let limits = Limits::default();
        let cases: Vec<(&[u8], &str)> = vec![
            (b"not json at all", "not JSON"),
            (b"{\"messageType\": \"DATA_MESSAGE\"", "not JSON"),
            (b"[1, 2]", "not a subscription payload"),
            (b"{\"logEvents\": []}", "messageType is missing"),
            (
                b"{\"messageType\": \"DATA_MESSAGE\"}",
                "logEvents is missing",
            ),
            (
                b"{\"messageType\": \"DATA_MESSAGE\", \"logEvents\": {}}",
                "not a subscription payload",
            ),
            (
                b"{\"messageType\": \"SURPRISE\\u001b[31m\", \"logEvents\": []}",
                "unknown messageType \"SURPRISE [31m\"",
            ),
        ];
        for (json, want) in cases {
            let got = Subscription::from_json(json, &limits)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                got.contains(want),
                "{}: {got}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn too_many_log_events_is_an_error() {
        let limits = Limits {
            max_log_events: 2,
            ..Limits::default()
        };
        let json = payload(json!([{"message": "a"}, {"message": "b"}, {"message": "c"}]));
        assert_eq!(
            Subscription::from_json(&json, &limits),
            Err(DecodeError::TooManyLogEvents { count: 3, limit: 2 })
        );
    }
}
