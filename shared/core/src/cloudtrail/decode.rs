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
/// the payload. Its message is read with [`Subscription::message`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// Where the message is in the subscription's message buffer: (start, length).
    message: Option<(usize, usize)>,
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
    /// Every message, one after another. Decoding a payload unescapes the messages in place,
    /// into the front of the inflated payload's own buffer: no allocation per log event, and
    /// no second copy of the payload held next to the first.
    messages: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "M: Deserialize<'de>"))]
struct RawSubscription<M> {
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
    log_events: Option<Vec<RawLogEvent<M>>>,
}

impl Subscription {
    /// Parses the decoded JSON payload.
    pub fn from_json(json: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        Self::from_json_vec(json.to_vec(), limits)
    }

    /// Parses the decoded JSON payload, reusing its buffer for the messages.
    pub fn from_json_vec(json: Vec<u8>, limits: &Limits) -> Result<Self, DecodeError> {
        // Invalid UTF-8 inside one log event must cost only that event, not the payload: such
        // sequences become U+FFFD (valid UTF-8 keeps its buffer and is not copied).
        let text = String::from_utf8(json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        // First the envelope, with each message left where it is: the span of its JSON string.
        let (header, mut log_events) = {
            let raw: RawSubscription<&serde_json::value::RawValue> = serde_json::from_str(&text)
                .map_err(|e| {
                    if e.is_data() {
                        DecodeError::Malformed(e.to_string())
                    } else {
                        DecodeError::NotJson(e.to_string())
                    }
                })?;
            let base = text.as_ptr() as usize;
            let (header, raw_events) = Header::of(raw, limits)?;
            // For now each event's `message` holds the span of its JSON string in `text` (the
            // vector is converted where it lies).
            let events: Vec<LogEvent> = raw_events
                .into_iter()
                .map(|e| {
                    let span = e.message.and_then(|raw| {
                        let json = raw.get();
                        let start = (json.as_ptr() as usize).checked_sub(base)?;
                        (json.starts_with('"') && start + json.len() <= text.len())
                            .then_some((start, start + json.len()))
                    });
                    LogEvent {
                        message: span,
                        ..e.event
                    }
                })
                .collect();
            (header, events)
        };
        // Then each message unescaped in place: its decoded text is never longer than its JSON
        // string, and the spans come in order, so writing never overtakes reading.
        let mut buffer = text.into_bytes();
        let mut written = 0;
        for event in &mut log_events {
            // Spans come from one left-to-right parse; one that did not would be skipped.
            event.message = match event.message.take() {
                Some((start, end)) if start >= written => {
                    let len = unescape_in_place(&mut buffer, start + 1, end - 1, written);
                    written += len;
                    Some((written - len, len))
                }
                _ => None,
            };
        }
        // Not shrunk: a payload's buffer is dropped with the payload, and reallocating it would
        // only move or unmap pages the next payload maps again.
        buffer.truncate(written);
        // Valid UTF-8 unescaped is valid UTF-8; were it not, the spans would not fit a lossy
        // copy, so the payload is refused rather than misread.
        let messages = String::from_utf8(buffer).map_err(|_| {
            DecodeError::Malformed("log event messages did not decode to UTF-8".into())
        })?;
        Ok(header.with(log_events, messages))
    }

    /// Reads a decoded payload that is already a JSON value (the `.decoded.json` form).
    pub fn from_value(value: &Value, limits: &Limits) -> Result<Self, DecodeError> {
        if !value.is_object() {
            return Err(DecodeError::WrongType {
                field: "the payload",
                expected: "a JSON object",
            });
        }
        let raw = RawSubscription::<Loose>::deserialize(value)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let (header, events) = Header::of(raw, limits)?;
        let mut messages = String::new();
        let log_events = events
            .into_iter()
            .map(|e| {
                let mut event = e.event;
                if let Some(Loose::Text(text)) = e.message {
                    event.message = Some((messages.len(), text.len()));
                    messages.push_str(&text);
                }
                event
            })
            .collect();
        Ok(header.with(log_events, messages))
    }

    /// The message of one of this payload's log events (`None` if it had no string message).
    pub fn message(&self, event: &LogEvent) -> Option<&str> {
        let (start, len) = event.message?;
        self.messages.get(start..start + len)
    }

    /// Every log event with its message, in order.
    pub fn events(&self) -> impl Iterator<Item = (&LogEvent, Option<&str>)> {
        self.log_events.iter().map(|e| (e, self.message(e)))
    }
}

/// A subscription's fields other than its log events.
struct Header {
    message_type: MessageType,
    owner: String,
    log_group: String,
    log_stream: String,
    subscription_filters: Vec<String>,
    policy_level: Option<String>,
}

impl Header {
    fn of<M>(
        raw: RawSubscription<M>,
        limits: &Limits,
    ) -> Result<(Self, Vec<RawLogEvent<M>>), DecodeError> {
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
        let header = Header {
            message_type,
            owner: raw.owner.unwrap_or_default(),
            log_group: raw.log_group.unwrap_or_default(),
            log_stream: raw.log_stream.unwrap_or_default(),
            subscription_filters: raw.subscription_filters.unwrap_or_default(),
            policy_level: raw.policy_level,
        };
        Ok((header, log_events))
    }

    fn with(self, log_events: Vec<LogEvent>, messages: String) -> Subscription {
        Subscription {
            message_type: self.message_type,
            owner: self.owner,
            log_group: self.log_group,
            log_stream: self.log_stream,
            subscription_filters: self.subscription_filters,
            policy_level: self.policy_level,
            log_events,
            messages,
        }
    }
}

/// Decodes the JSON string body `buffer[start..end]` (between its quotes, already validated by
/// the JSON parser) to `buffer[to..]`, `to <= start`; returns the decoded length. A lone
/// surrogate escape, which no text can hold, becomes U+FFFD.
fn unescape_in_place(buffer: &mut [u8], start: usize, end: usize, to: usize) -> usize {
    let (mut read, mut write) = (start, to);
    while read < end {
        let (next, moved) = copy_run(buffer, read, end, write);
        read = next;
        write += moved;
        if read >= end {
            break;
        }
        let escape = buffer.get(read + 1).copied().unwrap_or(b'\\');
        read += 2;
        let simple = match escape {
            b'b' => Some(b'\x08'),
            b'f' => Some(b'\x0c'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            other => Some(other),
        };
        let c = match simple {
            Some(byte) => {
                if let Some(slot) = buffer.get_mut(write) {
                    *slot = byte;
                }
                write += 1;
                continue;
            }
            None => {
                let first = hex4(buffer, read);
                read += 4;
                match first {
                    Some(high @ 0xD800..=0xDBFF) => {
                        let low = (buffer.get(read..read + 2) == Some(b"\\u"))
                            .then(|| hex4(buffer, read + 2))
                            .flatten()
                            .filter(|low| (0xDC00..=0xDFFF).contains(low));
                        match low {
                            Some(low) => {
                                read += 6;
                                char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                            }
                            None => None,
                        }
                    }
                    Some(code) => char::from_u32(code),
                    None => None,
                }
            }
        };
        let mut utf8 = [0; 4];
        let encoded = c
            .unwrap_or(char::REPLACEMENT_CHARACTER)
            .encode_utf8(&mut utf8);
        let n = encoded.len();
        if let Some(slot) = buffer.get_mut(write..write + n) {
            slot.copy_from_slice(encoded.as_bytes());
        }
        write += n;
    }
    write - to
}

/// Moves the bytes of `buffer[from..end]` up to the first `\\` (or `end`) to `to` (`to <=
/// from`), eight at a time: the runs between escapes in a JSON-in-JSON message are short, too
/// short for a call to a vectorised search and a `memmove` each. Returns where the run ended
/// and how many bytes moved.
fn copy_run(buffer: &mut [u8], from: usize, end: usize, to: usize) -> (usize, usize) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let (mut read, mut write) = (from, to);
    while read + 8 <= end {
        let Some(chunk) = buffer
            .get(read..read + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        else {
            break;
        };
        let x = u64::from_le_bytes(chunk) ^ (ONES * u64::from(b'\\'));
        // A high bit for each zero byte of `x` (a backslash); exact for the first one.
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        // Writing the whole word is safe even when it overlaps the bytes just read (they are
        // in `chunk`); when it holds a backslash only the bytes before it are kept, and the
        // rest are read again from where they were.
        let keep = if zero == 0 {
            8
        } else {
            (zero.trailing_zeros() / 8) as usize
        };
        if let Some(slot) = buffer.get_mut(write..write + keep) {
            slot.copy_from_slice(chunk.get(..keep).unwrap_or_default());
        }
        read += keep;
        write += keep;
        if keep < 8 {
            return (read, write - to);
        }
    }
    while read < end {
        match buffer.get(read).copied() {
            Some(b'\\') | None => break,
            Some(byte) => {
                if let Some(slot) = buffer.get_mut(write) {
                    *slot = byte;
                }
            }
        }
        read += 1;
        write += 1;
    }
    (read, write - to)
}

fn hex4(buffer: &[u8], at: usize) -> Option<u32> {
    let digits = buffer.get(at..at + 4)?;
    digits.iter().try_fold(0u32, |value, &d| {
        Some(value * 16 + char::from(d).to_digit(16)?)
    })
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
    Subscription::from_json_vec(json, limits)
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
    // The gzip trailer's ISIZE states the inflated size (mod 2^32): the buffer is sized once
    // instead of doubling (and holding old and new copies) as it fills. Only a hint: a claim
    // beyond what deflate can produce from this many bytes (at most about 1032:1) is a lie
    // and is not believed, so a forged trailer cannot reserve `max` bytes.
    let stated = gz
        .last_chunk::<4>()
        .map_or(0, |n| u32::from_le_bytes(*n) as usize);
    let hint = if stated > 0 {
        stated.min(gz.len().saturating_mul(1032))
    } else {
        gz.len().saturating_mul(8)
    };
    let mut out = Vec::with_capacity(hint.min(max).saturating_add(1));
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
    Subscription::from_json_vec(json, limits)
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

/// A log event as read: its id and timestamp, and its message as `M` (any JSON value; only a
/// string is a message).
struct RawLogEvent<M> {
    event: LogEvent,
    message: Option<M>,
}

impl<M> Default for RawLogEvent<M> {
    fn default() -> Self {
        RawLogEvent {
            event: LogEvent::default(),
            message: None,
        }
    }
}

impl<'de, M: Deserialize<'de>> Deserialize<'de> for RawLogEvent<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LogEventVisitor(std::marker::PhantomData))
    }
}

struct LogEventVisitor<M>(std::marker::PhantomData<M>);

impl<'de, M: Deserialize<'de>> Visitor<'de> for LogEventVisitor<M> {
    type Value = RawLogEvent<M>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a log event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLogEvent<M>, A::Error> {
        let mut raw = RawLogEvent::default();
        let event = &mut raw.event;
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
                EventField::Message => raw.message = Some(map.next_value::<M>()?),
                EventField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLogEvent<M>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawLogEvent::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawLogEvent<M>, E> {
        Ok(RawLogEvent::default())
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
        let events: Vec<(&str, Option<i64>, Option<&str>)> = sub
            .events()
            .map(|(e, m)| (e.id.as_str(), e.timestamp, m))
            .collect();
        assert_eq!(events, [("1", Some(5), Some("hello"))]);
    }

    /// The in-place decoding of `from_json` against serde's own reading of the same payload.
    fn decoded_like_serde(json: &[u8]) {
        let sub = Subscription::from_json(json, &Limits::default()).expect("payload");
        let value: Value = serde_json::from_slice(json).expect("JSON");
        let want: Vec<Option<&str>> = value["logEvents"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e.get("message").and_then(Value::as_str))
            .collect();
        let got: Vec<Option<&str>> = sub.events().map(|(_, m)| m).collect();
        assert_eq!(got, want);
        assert_eq!(
            Subscription::from_value(&value, &Limits::default()).expect("value"),
            sub,
            "from_value agrees"
        );
    }

    #[test]
    fn messages_are_unescaped_in_place_exactly_as_a_json_parser_reads_them() {
        let tricky = [
            "",
            "plain",
            r#"{"eventName":"ConsoleLogin","a":"x\"y"}"#,
            "tab\there\nline\r\u{8}\u{c}/\\",
            "é ü 漢字 😀 \u{1}\u{1f}\u{7f}",
            "\u{2028}\u{2029}",
        ];
        let events: Vec<Value> = tricky
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": i, "message": m}))
            .collect();
        decoded_like_serde(&payload(Value::Array(events)));
        // Escapes serde_json does not write: \/, \uXXXX for plain and astral characters.
        let hand = br#"{"messageType":"DATA_MESSAGE","logEvents":[
            {"message":"a\/b \u0041\u00e9\u6f22 \ud83d\ude00 end"},
            {"message":"\u005c\u0022 quote"},
            {"message": "dup", "message": "last \"wins\""},
            {"message": 5},
            {"message":"x"}]}"#;
        decoded_like_serde(hand);
    }

    proptest::proptest! {
        #[test]
        fn any_messages_decode_as_a_json_parser_reads_them(
            messages in proptest::collection::vec(proptest::prelude::any::<String>(), 0..8),
        ) {
            let events: Vec<Value> = messages.iter().map(|m| json!({"message": m})).collect();
            decoded_like_serde(&payload(Value::Array(events)));
        }
    }

    #[test]
    fn a_lone_surrogate_escape_becomes_a_replacement_character() {
        let json = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"message":"a\ud800b\udc00c"},{"message":"ok"}]}"#;
        let sub = Subscription::from_json(json, &Limits::default()).expect("payload");
        let messages: Vec<Option<&str>> = sub.events().map(|(_, m)| m).collect();
        assert_eq!(messages, [Some("a\u{fffd}b\u{fffd}c"), Some("ok")]);
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
        let messages: Vec<Option<&str>> = sub.events().map(|(_, m)| m).collect();
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
