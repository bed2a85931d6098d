//! CloudTrail records → findings (log-detector), pure.
//!
//! # From a subscription payload to findings
//!
//! A CloudWatch Logs subscription invokes log-detector with `{"awslogs":{"data": …}}`, the data
//! being base64 of gzip of a JSON payload ([`Subscription`]). [`decode_lambda_event`] undoes the
//! three layers with bounds: the base64 text and the inflated JSON are capped
//! ([`Limits::max_decoded_bytes`], 16 MiB by default), so a gzip bomb costs 16 MiB and a typed
//! [`DecodeError::TooLarge`], never the Lambda's memory. Invalid base64, a truncated or corrupt
//! gzip stream, JSON that is not a subscription payload, a missing `messageType` / `logEvents`
//! are each a [`DecodeError`] naming what was wrong.
//!
//! A `CONTROL_MESSAGE` (CloudWatch Logs checking that the destination is reachable) is
//! acknowledged and gives nothing. Each `DATA_MESSAGE` log event's `message` is one CloudTrail
//! record: it is wrapped once in a filter-pattern [`Message`](triage_filter_pattern::Message),
//! whose JSON parse happens once and serves the whole detection pack (a
//! [`PatternSet`](triage_filter_pattern::PatternSet)) *and* the evidence read from the matched
//! record. Log events that are not JSON, not CloudTrail, have no string `message` or are
//! larger than [`Limits::max_message_bytes`] are skipped and counted ([`Decoded`]); one bad log
//! event never costs the good ones. Account-level subscription policies (`policyLevel:
//! ACCOUNT_LEVEL_POLICY`) deliver any log group's events: the same rules apply, so non-CloudTrail
//! lines are counted as such.
//!
//! # The detection pack
//!
//! `rules/detections.toml` ([`DetectionPack::shipped`]) holds every detection as data: the
//! filter pattern (the same string the template's metric filter uses), severity with its
//! rationale, title, description, remediation, the record fields that make the fingerprint, the
//! dedup window, the CIS control and metric, and samples that must and must not match — all
//! checked by `cargo test`. Rules that report the same problem as another rule name it in
//! `covered_by` (the CIS copies of the seed's detections): when both match one record only the
//! covering rule gives a finding, naming the other in `details.also_matched`.
//!
//! # Findings
//!
//! Each match is a [`Finding`](crate::Finding) with source `cloudtrail`, the rule id, the
//! record's evidence (principal ARN and type — the account's root ARN for the root user —,
//! account, region, source IP, user agent, event source and name, error code and message, MFA
//! used, event time and id, a bounded summary of `requestParameters` as `details.request.*`), the
//! resources the rule can derive, and a link to the event in CloudTrail event history. The
//! fingerprint is source + rule + account + region + the rule's `fingerprint_fields`, so 500
//! AccessDenied calls from one role in one invocation merge into one finding with count 500 and
//! first/last seen spanning them ([`Decoded::findings`] is already merged).
//!
//! # Replay
//!
//! [`CloudTrailForm`] recognises what `triage replay` may hand over: the Lambda envelope, the
//! decoded payload, a single CloudTrail record, and a CloudTrail S3 log file (`{"Records":[…]}`);
//! [`CloudTrailDetector::findings`] classifies any of them.

mod decode;
mod detector;
mod pack;
mod record;

pub use decode::{
    DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_LOG_EVENTS, DEFAULT_MAX_MESSAGE_BYTES, DecodeError,
    Limits, LogEvent, MessageType, StreamEventError, StreamRecord, Subscription, decode_data,
    decode_lambda_event, decode_stream_record, encode_data, encode_kinesis_event,
    encode_lambda_event, gunzip_bounded, is_kinesis_event, kinesis_event, stream_records,
};
pub use detector::{CloudTrailDetector, CloudTrailEventError, CloudTrailForm, Decoded, Skip};
pub use pack::{
    DETECTIONS_TOML, Detection, DetectionPack, FieldPath, MetricFilter, PackError, ResourceSpec,
    SEED_DETECTIONS, Sample,
};
pub use record::{REQUEST_PARAMETERS_MAX_KEYS, REQUEST_VALUE_MAX_CHARS, is_cloudtrail_record};
