//! The detector: records through the detection pack, findings merged by fingerprint.

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;
use tracing::debug;
use triage_filter_pattern::Message;

use super::decode::{
    DecodeError, Limits, MessageType, StreamEventError, Subscription, decode_lambda_event,
    decode_stream_record, is_kinesis_event, stream_records,
};
use super::pack::{DetectionPack, PackError};
use super::record::{Context, RecordView, is_cloudtrail_record};
use crate::finding::{Finding, Fingerprint};
use crate::json::str_at;
use crate::text::SafeText;

/// Why a log event or record gave no evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The message is not a JSON object.
    NotJson,
    /// JSON, but not a CloudTrail record (no `eventVersion`, `eventTime`, `eventSource`…).
    NotCloudTrail,
    /// The log event has no string `message`.
    Invalid,
    /// The message is larger than [`Limits::max_message_bytes`].
    Oversized,
}

/// What one payload (or batch of records) gave: the findings, merged by fingerprint, and a count
/// of everything that was looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// `None` for records that did not come in a subscription payload.
    pub message_type: Option<MessageType>,
    pub owner: SafeText,
    pub log_group: SafeText,
    /// `ACCOUNT_LEVEL_POLICY` for account-level subscription policies.
    pub policy_level: Option<SafeText>,
    /// Log events (or records) in the input.
    pub records: usize,
    /// CloudTrail records evaluated against the pack.
    pub cloudtrail_records: usize,
    /// Records that matched at least one rule.
    pub matched_records: usize,
    /// Distinct findings, merged by fingerprint (count, first and last seen), in order of first
    /// appearance.
    pub findings: Vec<Finding>,
    /// Matches that gave no finding because a covering rule reported the same record.
    pub covered: usize,
    pub skipped_not_json: usize,
    pub skipped_not_cloudtrail: usize,
    /// Log events without a string `message`.
    pub skipped_invalid: usize,
    pub skipped_oversized: usize,
}

impl Decoded {
    /// Everything skipped, whatever the reason.
    pub fn skipped(&self) -> usize {
        self.skipped_not_json
            + self.skipped_not_cloudtrail
            + self.skipped_invalid
            + self.skipped_oversized
    }

    /// Occurrences behind the findings (a finding merged from 500 records counts 500).
    pub fn occurrences(&self) -> u64 {
        self.findings.iter().map(|f| f.count).sum()
    }
}

/// The shapes of CloudTrail input `triage replay` may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudTrailForm {
    /// `{"awslogs":{"data": …}}`: what the subscription sends to Lambda.
    LambdaSubscription,
    /// `{"Records": [{"eventSource": "aws:kinesis", …}]}`: subscription payloads through a Logs
    /// destination and a Kinesis stream (the organization-wide intake), one per stream record.
    Kinesis,
    /// The decoded subscription payload (`messageType`, `logEvents`).
    DecodedSubscription,
    /// One CloudTrail record.
    Record,
    /// A CloudTrail S3 log file: `{"Records": [record, …]}`.
    LogFile,
}

impl CloudTrailForm {
    pub fn of(event: &Value) -> Option<CloudTrailForm> {
        if event.get("awslogs").is_some_and(Value::is_object) {
            return Some(CloudTrailForm::LambdaSubscription);
        }
        if is_kinesis_event(event) {
            return Some(CloudTrailForm::Kinesis);
        }
        if matches!(
            str_at(event, &["messageType"]),
            Some("DATA_MESSAGE" | "CONTROL_MESSAGE")
        ) && event.get("logEvents").is_some()
        {
            return Some(CloudTrailForm::DecodedSubscription);
        }
        if let Some(records) = event.get("Records").and_then(Value::as_array) {
            return records
                .first()
                .is_some_and(is_cloudtrail_value)
                .then_some(CloudTrailForm::LogFile);
        }
        is_cloudtrail_value(event).then_some(CloudTrailForm::Record)
    }
}

/// [`is_cloudtrail_record`] for a `serde_json::Value`.
fn is_cloudtrail_value(v: &Value) -> bool {
    let is_str = |k: &str| v.get(k).is_some_and(Value::is_string);
    is_str("eventVersion") && is_str("eventTime") && (is_str("eventSource") || is_str("eventType"))
}

/// A CloudTrail input that cannot be classified at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudTrailEventError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Stream(#[from] StreamEventError),
    #[error("Kinesis record {sequence_number}: {error}")]
    StreamRecord {
        sequence_number: SafeText,
        error: DecodeError,
    },
    #[error("not a CloudTrail record, log file or CloudWatch Logs subscription payload")]
    NotCloudTrail,
}

/// Evaluates CloudTrail records against a detection pack.
#[derive(Debug, Clone)]
pub struct CloudTrailDetector {
    pack: DetectionPack,
    limits: Limits,
}

impl CloudTrailDetector {
    pub fn new(pack: DetectionPack, limits: Limits) -> Self {
        CloudTrailDetector { pack, limits }
    }

    /// The shipped pack with the default limits.
    pub fn shipped() -> Result<Self, PackError> {
        Ok(Self::new(DetectionPack::shipped()?, Limits::default()))
    }

    pub fn pack(&self) -> &DetectionPack {
        &self.pack
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The Lambda event of a subscription: decoded with bounds, every log event evaluated.
    pub fn detect_lambda_event(&self, event: &Value) -> Result<Decoded, DecodeError> {
        let subscription = decode_lambda_event(event, &self.limits)?;
        Ok(self.detect_subscription(&subscription))
    }

    /// A decoded subscription payload. A control message gives nothing.
    pub fn detect_subscription(&self, payload: &Subscription) -> Decoded {
        let mut run = Run::new(self);
        run.report.message_type = Some(payload.message_type);
        run.report.owner = SafeText::bounded(&payload.owner, 64);
        run.report.log_group = SafeText::bounded(&payload.log_group, 512);
        run.report.policy_level = payload
            .policy_level
            .as_deref()
            .map(|p| SafeText::bounded(p, 64));
        if payload.message_type == MessageType::Control {
            run.report.records = payload.log_events.len();
            debug!("control message acknowledged");
            return run.report;
        }
        let account = stream_account(&payload.log_stream).or_else(|| {
            let owner = payload.owner.as_str();
            is_account_id(owner).then_some(owner)
        });
        for (event, message) in payload.events() {
            let ctx = Context {
                account,
                timestamp_ms: event.timestamp,
            };
            match message {
                Some(message) => run.payload_message(message, &ctx),
                None => run.skip(Skip::Invalid),
            }
        }
        run.finish()
    }

    /// Records that arrive without a subscription (a CloudTrail S3 log file, a single record).
    pub fn detect_records<'v>(&self, records: impl IntoIterator<Item = &'v Value>) -> Decoded {
        let mut run = Run::new(self);
        for record in records {
            // Evaluated as CloudWatch Logs would deliver it: one compact JSON line.
            match serde_json::to_string(record) {
                Ok(line) => run.message(&line, &Context::default()),
                Err(_) => run.skip(Skip::Invalid),
            }
        }
        run.finish()
    }

    /// One message (a log event's text) on its own.
    pub fn detect_message(&self, message: &str) -> Decoded {
        let mut run = Run::new(self);
        run.message(message, &Context::default());
        run.finish()
    }

    /// Any CloudTrail form `triage replay` may see ([`CloudTrailForm`]) → merged findings.
    pub fn findings(&self, event: &Value) -> Result<Vec<Finding>, CloudTrailEventError> {
        let decoded = match CloudTrailForm::of(event) {
            Some(CloudTrailForm::LambdaSubscription) => self.detect_lambda_event(event)?,
            Some(CloudTrailForm::Kinesis) => {
                let mut findings = Vec::new();
                for record in stream_records(event)? {
                    let payload = decode_stream_record(&record, &self.limits).map_err(|error| {
                        CloudTrailEventError::StreamRecord {
                            sequence_number: SafeText::bounded(record.sequence_number, 64),
                            error,
                        }
                    })?;
                    findings.extend(self.detect_subscription(&payload).findings);
                }
                return Ok(findings);
            }
            Some(CloudTrailForm::DecodedSubscription) => {
                self.detect_subscription(&Subscription::from_value(event, &self.limits)?)
            }
            Some(CloudTrailForm::Record) => self.detect_records(std::iter::once(event)),
            Some(CloudTrailForm::LogFile) => self.detect_records(
                event
                    .get("Records")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            ),
            None => return Err(CloudTrailEventError::NotCloudTrail),
        };
        debug!(
            records = decoded.records,
            skipped = decoded.skipped(),
            findings = decoded.findings.len(),
            "cloudtrail input classified"
        );
        Ok(decoded.findings)
    }
}

/// Most repeated findings whose newest record is kept parsed until the end of a payload (see
/// [`Run::finish`]); beyond it evidence is built at once. Bounds the memory of a payload in
/// which every record is a repeat of a different finding.
const MAX_PENDING_EVIDENCE: usize = 4096;

/// The newest occurrence of a merged finding, kept parsed so that its evidence is built once,
/// at the end, from that same parse.
struct Pending<'p> {
    /// Shared when two findings' newest occurrence is the same record.
    message: Rc<Message<'p>>,
    account: Option<&'p str>,
    timestamp_ms: Option<i64>,
    rule: usize,
    also: Vec<usize>,
}

/// One evaluation pass: the report being built, the fingerprint index for merging, and a
/// reused buffer of pattern hits. `'p` is the lifetime of the messages: for a subscription
/// payload they outlive the pass, so a merged finding's newest record stays parsed and its
/// evidence is built once at the end instead of once per occurrence.
struct Run<'d, 'p> {
    detector: &'d CloudTrailDetector,
    report: Decoded,
    index: HashMap<Fingerprint, usize>,
    hits: Vec<usize>,
    /// Per finding: the newest occurrence whose evidence is still to be built.
    pending: Vec<Option<Pending<'p>>>,
    pending_count: usize,
}

impl<'d, 'p> Run<'d, 'p> {
    fn new(detector: &'d CloudTrailDetector) -> Self {
        Run {
            detector,
            report: Decoded::default(),
            index: HashMap::new(),
            hits: Vec::new(),
            pending: Vec::new(),
            pending_count: 0,
        }
    }

    fn skip(&mut self, why: Skip) {
        self.report.records += 1;
        match why {
            Skip::NotJson => self.report.skipped_not_json += 1,
            Skip::NotCloudTrail => self.report.skipped_not_cloudtrail += 1,
            Skip::Invalid => self.report.skipped_invalid += 1,
            Skip::Oversized => self.report.skipped_oversized += 1,
        }
    }

    /// A message that lives only for this call (evidence of merges built at once).
    fn message(&mut self, text: &str, ctx: &Context<'_>) {
        let message = Message::new(text);
        self.evaluate(&message, ctx, false);
    }

    /// A message of the payload, which outlives the pass.
    fn payload_message(&mut self, text: &'p str, ctx: &Context<'p>) {
        let message = Rc::new(Message::new(text));
        let keep = self.evaluate(&message, ctx, true);
        for (finding, rule, also) in keep {
            if let Some(slot) = self.pending.get_mut(finding) {
                if slot.is_none() {
                    self.pending_count += 1;
                }
                // The parse is kept, not redone: the same `Message` (and its document).
                *slot = Some(Pending {
                    message: Rc::clone(&message),
                    account: ctx.account,
                    timestamp_ms: ctx.timestamp_ms,
                    rule,
                    also,
                });
            }
        }
    }

    /// Evaluates one message. With `defer`, returns the (finding, rule, covered rules) whose
    /// evidence the caller keeps for [`Run::finish`]; otherwise builds it at once.
    fn evaluate(
        &mut self,
        message: &Message<'_>,
        ctx: &Context<'_>,
        defer: bool,
    ) -> Vec<(usize, usize, Vec<usize>)> {
        let mut deferred = Vec::new();
        if message.text().len() > self.detector.limits.max_message_bytes {
            self.skip(Skip::Oversized);
            return deferred;
        }
        // The one JSON parse of this record: the pattern set and the evidence both read it.
        let Some(root) = message.json() else {
            self.skip(Skip::NotJson);
            return deferred;
        };
        if !is_cloudtrail_record(root) {
            self.skip(Skip::NotCloudTrail);
            return deferred;
        }
        self.report.records += 1;
        self.report.cloudtrail_records += 1;
        let pack = &self.detector.pack;
        pack.set().matches_into(message, &mut self.hits);
        if self.hits.is_empty() {
            return deferred;
        }
        self.report.matched_records += 1;
        let view = RecordView::new(root, ctx);
        let rules = pack.rules();
        for &i in &self.hits {
            let Some(rule) = rules.get(i) else { continue };
            if rule.covered_by_index.iter().any(|c| self.hits.contains(c)) {
                self.report.covered += 1;
                continue;
            }
            let also_index: Vec<usize> = self
                .hits
                .iter()
                .copied()
                .filter(|&j| {
                    rules
                        .get(j)
                        .is_some_and(|o| o.covered_by_index.contains(&i))
                })
                .collect();
            let also: Vec<&_> = also_index.iter().filter_map(|&j| rules.get(j)).collect();
            debug!(rule = %rule.id, actor = ?view.actor_arn(), "detection matched");
            let fingerprint = view.fingerprint(rule);
            match self.index.get(&fingerprint) {
                Some(&at) => {
                    let Some(existing) = self.report.findings.get_mut(at) else {
                        continue;
                    };
                    let newer = view.merge_counts(existing);
                    if !newer {
                        continue;
                    }
                    let room = self.pending_count < MAX_PENDING_EVIDENCE
                        || self.pending.get(at).is_some_and(Option::is_some);
                    if defer && room {
                        deferred.push((at, i, also_index));
                    } else {
                        view.replace_evidence(existing, rule, &also);
                        if let Some(slot) = self.pending.get_mut(at)
                            && slot.take().is_some()
                        {
                            self.pending_count -= 1;
                        }
                    }
                }
                None => {
                    self.index
                        .insert(fingerprint.clone(), self.report.findings.len());
                    self.report
                        .findings
                        .push(view.finding(rule, &also, fingerprint));
                    self.pending.push(None);
                }
            }
        }
        deferred
    }

    /// Builds the evidence of every merged finding from its newest record, kept parsed.
    fn finish(mut self) -> Decoded {
        let rules = self.detector.pack.rules();
        for (finding, pending) in self.report.findings.iter_mut().zip(self.pending) {
            let Some(p) = pending else { continue };
            let (Some(root), Some(rule)) = (p.message.json(), rules.get(p.rule)) else {
                continue;
            };
            let ctx = Context {
                account: p.account,
                timestamp_ms: p.timestamp_ms,
            };
            let also: Vec<&_> = p.also.iter().filter_map(|&j| rules.get(j)).collect();
            RecordView::new(root, &ctx).replace_evidence(finding, rule, &also);
        }
        self.report
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account in a CloudTrail log stream name: `<account>_CloudTrail_<region>` or, for an
/// organization trail, `<org id>_<account>_CloudTrail_<region>`.
fn stream_account(stream: &str) -> Option<&str> {
    let (head, _) = stream.split_once("_CloudTrail_")?;
    let account = head.rsplit('_').next()?;
    is_account_id(account).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_log_stream_name() {
        assert_eq!(
            stream_account("111122223333_CloudTrail_us-east-1"),
            Some("111122223333")
        );
        assert_eq!(
            stream_account("o-exampleorgid_444455556666_CloudTrail_eu-west-1"),
            Some("444455556666")
        );
        assert_eq!(stream_account("logStream1"), None);
        assert_eq!(stream_account("abc_CloudTrail_us-east-1"), None);
    }

    #[test]
    fn forms_are_recognised_by_shape() {
        let record = serde_json::json!({"eventVersion": "1.08", "eventTime": "2024-01-01T00:00:00Z", "eventSource": "iam.amazonaws.com"});
        assert_eq!(CloudTrailForm::of(&record), Some(CloudTrailForm::Record));
        assert_eq!(
            CloudTrailForm::of(&serde_json::json!({"Records": [record]})),
            Some(CloudTrailForm::LogFile)
        );
        assert_eq!(
            CloudTrailForm::of(&serde_json::json!({"awslogs": {"data": "x"}})),
            Some(CloudTrailForm::LambdaSubscription)
        );
        assert_eq!(
            CloudTrailForm::of(
                &serde_json::json!({"messageType": "CONTROL_MESSAGE", "logEvents": []})
            ),
            Some(CloudTrailForm::DecodedSubscription)
        );
        for other in [
            serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]}),
            serde_json::json!({"Records": []}),
            serde_json::json!({"messageType": "ComplianceChangeNotification"}),
            serde_json::json!({"eventVersion": "1.0"}),
            serde_json::json!("text"),
        ] {
            assert_eq!(CloudTrailForm::of(&other), None, "{other}");
        }
    }
}
