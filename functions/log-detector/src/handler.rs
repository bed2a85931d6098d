//! The handler: decode the subscription payload (bounded), evaluate every CloudTrail record
//! against the detection pack (pure, in `triage-core`), route the merged findings through the
//! ports.
//!
//! The input is the CloudWatch Logs Lambda event as JSON (`{"awslogs":{"data": …}}`), not
//! `aws_lambda_events`' typed `LogsEvent`, whose deserializer inflates the gzip data with no
//! bound: here the inflated size is capped before it can exhaust the function's memory.
//!
//! - A payload that cannot be decoded at all (invalid base64, a truncated or oversized gzip
//!   stream, not a subscription payload) is an `InvalidPayload` error: the asynchronous
//!   invocation is retried and then lands, with the payload, on the on-failure destination.
//! - A `CONTROL_MESSAGE` is acknowledged: `Ok`, nothing sent.
//! - Log events that are not JSON, not CloudTrail, without a message or oversized are skipped
//!   and counted in the [`Summary`]; the good records of the payload are still routed.
//! - A finding that is not delivered fails the invocation (`DeliveryFailed`) so that Lambda
//!   retries it: the same payload gives the same ticket events, and FIFO deduplication drops
//!   the copies that did get through.
//!
//! The organization-wide intake delivers the same subscription payloads through a Logs
//! destination and a Kinesis stream: the event is a Kinesis batch (`{"Records": [{"eventSource":
//! "aws:kinesis", …}]}`), one gzipped payload per record, in the shard's order, and the answer
//! is a partial batch response (`{"batchItemFailures": […]}`; the event source mapping has
//! `ReportBatchItemFailures` on):
//! - each record is decoded, evaluated and routed on its own, in order;
//! - a record that cannot be decoded is named in `batchItemFailures` and the rest of the batch
//!   is still evaluated; after the mapping's bounded retries (bisecting at the failed record)
//!   it lands on the on-failure destination, alone;
//! - a record whose findings are not delivered is named and the records after it are left
//!   alone: Lambda checkpoints before the lowest named record and retries from there, so they
//!   are delivered by the retry, in order;
//! - an event that is not a Kinesis batch at all fails the invocation (`InvalidPayload`).

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{debug, info, instrument, warn};
use triage_core::cloudtrail::{
    CloudTrailDetector, DecodeError, Decoded, StreamEventError, StreamRecord, decode_lambda_event,
    decode_stream_record, is_kinesis_event, stream_records,
};
use triage_core::metrics::{Counts, Emitter};
use triage_core::ports::{Backend, RouterOf};
use triage_core::router::{RouteError, RouteReport};
use triage_core::text::SafeText;
use triage_lambda::{ErrorType, Function};

/// What one invocation did; returned to Lambda (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    pub message_type: Option<&'static str>,
    /// Log events in the payload.
    pub records: usize,
    /// CloudTrail records evaluated against the detection pack.
    pub cloudtrail_records: usize,
    /// Records that matched at least one detection.
    pub matched_records: usize,
    /// Distinct findings (merged by fingerprint).
    pub findings: usize,
    /// Occurrences behind them.
    pub occurrences: u64,
    pub tickets: usize,
    pub digest_entries: usize,
    pub alerts: usize,
    pub counted_only: usize,
    pub suppressed: usize,
    /// Matches reported by a covering rule instead (`details.also_matched`).
    pub covered: usize,
    pub skipped_not_json: usize,
    pub skipped_not_cloudtrail: usize,
    /// Log events without a string message.
    pub skipped_invalid: usize,
    /// Messages above `MAX_MESSAGE_BYTES`.
    pub skipped_oversized: usize,
}

impl Summary {
    fn of(d: &Decoded) -> Self {
        Summary {
            message_type: d.message_type.map(|m| m.as_str()),
            records: d.records,
            cloudtrail_records: d.cloudtrail_records,
            matched_records: d.matched_records,
            findings: d.findings.len(),
            occurrences: d.occurrences(),
            covered: d.covered,
            skipped_not_json: d.skipped_not_json,
            skipped_not_cloudtrail: d.skipped_not_cloudtrail,
            skipped_invalid: d.skipped_invalid,
            skipped_oversized: d.skipped_oversized,
            ..Summary::default()
        }
    }

    /// Adds another payload's counts (a Kinesis batch: one payload per stream record).
    fn add(&mut self, o: &Summary) {
        self.records += o.records;
        self.cloudtrail_records += o.cloudtrail_records;
        self.matched_records += o.matched_records;
        self.findings += o.findings;
        self.occurrences += o.occurrences;
        self.tickets += o.tickets;
        self.digest_entries += o.digest_entries;
        self.alerts += o.alerts;
        self.counted_only += o.counted_only;
        self.suppressed += o.suppressed;
        self.covered += o.covered;
        self.skipped_not_json += o.skipped_not_json;
        self.skipped_not_cloudtrail += o.skipped_not_cloudtrail;
        self.skipped_invalid += o.skipped_invalid;
        self.skipped_oversized += o.skipped_oversized;
    }

    fn routed(mut self, r: RouteReport) -> Self {
        self.findings = r.findings;
        self.tickets = r.tickets;
        self.digest_entries = r.digest_entries;
        self.alerts = r.alerts;
        self.counted_only = r.counted_only;
        self.suppressed = r.suppressed;
        self
    }
}

/// One record Lambda is to retry (from it on: Lambda checkpoints before the lowest one named).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What one Kinesis batch did. Lambda gets the partial batch response, `{"batchItemFailures":
/// […]}`, and nothing else; the counts are logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
    /// The payloads evaluated, added up.
    #[serde(skip)]
    pub summary: Summary,
    /// Records in the batch.
    #[serde(skip)]
    pub stream_records: usize,
    /// Records whose data is not a subscription payload (named in `batch_item_failures`).
    #[serde(skip)]
    pub undecodable: usize,
    /// Records evaluated and routed.
    #[serde(skip)]
    pub processed: usize,
}

impl StreamResponse {
    fn fail(&mut self, record: &StreamRecord<'_>) {
        self.batch_item_failures.push(ItemFailure {
            item_identifier: record.sequence_number.to_owned(),
        });
    }
}

/// What an invocation returns: a subscription payload's summary, or a Kinesis batch's partial
/// batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Subscription(Summary),
    Stream(StreamResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload cannot be decoded: retrying will not help; after Lambda's retries it lands
    /// on the on-failure destination for a human.
    #[error("invalid subscription payload: {0}")]
    InvalidPayload(#[from] DecodeError),
    /// A Kinesis batch none of whose records can be named (Lambda never sends one).
    #[error("invalid Kinesis event: {0}")]
    InvalidStreamEvent(#[from] StreamEventError),
    /// A finding was not delivered: fail so that Lambda retries the invocation.
    #[error("delivery failed: {0}")]
    Delivery(#[from] RouteError),
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidPayload(_) | HandlerError::InvalidStreamEvent(_) => {
                "InvalidPayload"
            }
            HandlerError::Delivery(route) => route.error_type(),
        }
    }
}

/// Built by [`crate::assemble`].
pub struct Handler<B: Backend> {
    detector: CloudTrailDetector,
    router: RouterOf<B>,
    metrics: Emitter,
}

impl<B: Backend> Handler<B> {
    pub(crate) fn new(detector: CloudTrailDetector, router: RouterOf<B>, metrics: Emitter) -> Self {
        Handler {
            detector,
            router,
            metrics,
        }
    }

    /// The same handler writing its metrics to `metrics` (`triage replay`, tests).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Emitter) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn detector(&self) -> &CloudTrailDetector {
        &self.detector
    }

    /// An invocation as Lambda makes it: a Kinesis batch ([`Self::handle_stream`]) or a
    /// subscription payload ([`Self::handle`]).
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
        if is_kinesis_event(&event.payload) {
            self.handle_stream(event).await.map(Response::Stream)
        } else {
            self.handle(event).await.map(Response::Subscription)
        }
    }

    /// A Kinesis batch of subscription payloads (see the module's documentation).
    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle_stream(
        &self,
        event: LambdaEvent<Value>,
    ) -> Result<StreamResponse, HandlerError> {
        let records = stream_records(&event.payload)?;
        let mut response = StreamResponse {
            stream_records: records.len(),
            ..StreamResponse::default()
        };
        let mut counts = Counts::default();
        for record in &records {
            let subscription = match decode_stream_record(record, self.detector.limits()) {
                Ok(subscription) => subscription,
                Err(error) => {
                    warn!(
                        sequence_number = %SafeText::bounded(record.sequence_number, 64),
                        %error,
                        "stream record is not a subscription payload: named for retry, then the on-failure destination"
                    );
                    response.undecodable += 1;
                    if response.batch_item_failures.is_empty() {
                        counts.add("Rejected", 1);
                    }
                    response.fail(record);
                    continue;
                }
            };
            let decoded = self.detector.detect_subscription(&subscription);
            drop(subscription);
            let mut summary = Summary::of(&decoded);
            // Counted once delivered, and only before the first record named for a retry:
            // Lambda delivers that one and every later one again, and the retry counts them.
            let mut payload = Counts::default();
            payload.add("Records", decoded.records);
            payload.add("Rejected", decoded.skipped());
            if !decoded.findings.is_empty() {
                match self.router.route(decoded.findings).await {
                    Ok(report) => {
                        payload.merge(&report.metrics);
                        summary = summary.routed(report);
                    }
                    Err(error) => {
                        tracing::error!(
                            sequence_number = %SafeText::bounded(record.sequence_number, 64),
                            error_type = error.error_type(),
                            %error,
                            "delivery failed: Lambda retries the batch from this record"
                        );
                        response.fail(record);
                        break;
                    }
                }
            }
            if response.batch_item_failures.is_empty() {
                counts.merge(&payload);
            }
            response.processed += 1;
            response.summary.add(&summary);
        }
        self.metrics.emit(&counts, self.router.now());
        let s = &response.summary;
        info!(
            stream_records = response.stream_records,
            processed = response.processed,
            undecodable = response.undecodable,
            retried = response.batch_item_failures.len(),
            records = s.records,
            cloudtrail_records = s.cloudtrail_records,
            matched_records = s.matched_records,
            findings = s.findings,
            tickets = s.tickets,
            alerts = s.alerts,
            not_json = s.skipped_not_json,
            not_cloudtrail = s.skipped_not_cloudtrail,
            "kinesis batch evaluated"
        );
        Ok(response)
    }

    #[instrument(skip_all, fields(request_id = %event.context.request_id))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Summary, HandlerError> {
        let subscription = decode_lambda_event(&event.payload, self.detector.limits())?;
        // The base64 text is no longer needed: free it before the records are evaluated.
        drop(event);
        let decoded = self.detector.detect_subscription(&subscription);
        drop(subscription);
        let summary = Summary::of(&decoded);
        if decoded.skipped_invalid + decoded.skipped_oversized > 0 {
            warn!(
                invalid = decoded.skipped_invalid,
                oversized = decoded.skipped_oversized,
                log_group = %decoded.log_group,
                "log events skipped: no message, or larger than MAX_MESSAGE_BYTES"
            );
        }
        info!(
            message_type = summary.message_type,
            log_group = %decoded.log_group,
            policy_level = decoded.policy_level.as_ref().map(|p| p.as_str()),
            records = decoded.records,
            cloudtrail_records = decoded.cloudtrail_records,
            matched_records = decoded.matched_records,
            findings = decoded.findings.len(),
            not_json = decoded.skipped_not_json,
            not_cloudtrail = decoded.skipped_not_cloudtrail,
            "subscription payload evaluated"
        );
        let mut counts = Counts::default();
        counts.add("Records", decoded.records);
        counts.add("Rejected", decoded.skipped());
        if decoded.findings.is_empty() {
            debug!("nothing to route");
            self.metrics.emit(&counts, self.router.now());
            return Ok(summary);
        }
        let report = self.router.route(decoded.findings).await?;
        counts.merge(&report.metrics);
        self.metrics.emit(&counts, self.router.now());
        Ok(summary.routed(report))
    }
}

impl<B: Backend + Sync> Function for Handler<B> {
    type Output = Response;
    type Error = HandlerError;

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
        Handler::invoke(self, event).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use lambda_runtime::{Context, LambdaEvent};
    use serde_json::json;
    use triage_core::clock::ManualClock;
    use triage_core::cloudtrail::{encode_data, encode_kinesis_event, encode_lambda_event};
    use triage_core::fakes::Memory;
    use triage_core::settings::env_from_pairs;
    use triage_core::{DigestKind, Severity, TicketAction};

    use super::*;
    use crate::settings::tests::ROUTING;
    use crate::{Settings, assemble};

    /// The function on the in-memory backend, with `extra` settings, and the backend's clock.
    fn handler_with(extra: &[(&str, &str)]) -> (Handler<Memory>, Memory, ManualClock) {
        let mut pairs = ROUTING.to_vec();
        pairs.extend_from_slice(extra);
        let clock = ManualClock::default();
        let memory = Memory::default().with_clock(clock.clone());
        let settings = Settings::from(&env_from_pairs(&pairs)).expect("settings");
        (assemble(settings, &memory), memory, clock)
    }

    fn handler() -> (Handler<Memory>, Memory) {
        let (h, memory, _) = handler_with(&[]);
        (h, memory)
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("sample");
        serde_json::from_str(&text).expect("json")
    }

    fn event(name: &str) -> LambdaEvent<Value> {
        LambdaEvent::new(sample(name), Context::default())
    }

    fn invoke(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, Context::default())
    }

    #[tokio::test]
    async fn the_three_seed_detections_among_benign_records_are_three_tickets_two_pages() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("cwlogs-mixed-batch.json"))
            .await
            .expect("handled");
        assert_eq!(
            summary,
            Summary {
                message_type: Some("DATA_MESSAGE"),
                records: 12,
                cloudtrail_records: 12,
                matched_records: 3,
                findings: 3,
                occurrences: 3,
                tickets: 3,
                digest_entries: 3,
                alerts: 2,
                // CloudWatch.1, CloudWatch.2 and CIS 4.1, CloudWatch.3: the seed reports them
                covered: 4,
                ..Summary::default()
            }
        );
        let tickets = memory.tickets.sent();
        let opened: Vec<(TicketAction, &str, Severity)> = tickets
            .iter()
            .map(|t| (t.action, t.finding.rule_id.as_str(), t.finding.severity))
            .collect();
        assert_eq!(
            opened,
            [
                (TicketAction::Open, "root-account-usage", Severity::Critical),
                (TicketAction::Open, "unauthorized-api-calls", Severity::High),
                (
                    TicketAction::Open,
                    "console-signin-without-mfa",
                    Severity::Critical
                ),
            ]
        );
        let pages: Vec<String> = memory
            .alerts
            .sent()
            .iter()
            .map(|a| a.subject.clone())
            .collect();
        assert!(pages[0].starts_with("[CRITICAL] Root account used: EnableMFADevice"));
        assert!(pages[1].starts_with("[CRITICAL] Console sign-in without MFA: ConsoleLogin"));
        assert!(
            memory
                .digest
                .sent()
                .iter()
                .all(|d| d.kind == DigestKind::New)
        );
    }

    #[tokio::test]
    async fn a_control_message_is_acknowledged_and_sends_nothing() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("cwlogs-control-message.json"))
            .await
            .expect("handled");
        assert_eq!(
            summary,
            Summary {
                message_type: Some("CONTROL_MESSAGE"),
                records: 1,
                ..Summary::default()
            }
        );
        assert!(memory.tickets.sent().is_empty());
    }

    #[tokio::test]
    async fn non_json_and_non_cloudtrail_lines_are_counted_and_the_good_record_routed() {
        let (h, memory) = handler();
        let summary = h
            .handle(event("cwlogs-non-json-line.json"))
            .await
            .expect("handled");
        assert_eq!(
            (
                summary.records,
                summary.skipped_not_json,
                summary.skipped_not_cloudtrail,
                summary.tickets
            ),
            (4, 2, 1, 1)
        );
        assert_eq!(
            memory.tickets.sent()[0].finding.rule_id.as_str(),
            "cis-cloudtrail-config-changes"
        );
    }

    #[tokio::test]
    async fn an_account_level_policy_payload_of_truncated_records_is_counted_not_an_error() {
        let (h, _) = handler();
        let summary = h
            .handle(event("cwlogs-account-level-policy.json"))
            .await
            .expect("handled");
        assert_eq!((summary.records, summary.skipped_not_json), (3, 3));
        assert_eq!(summary.tickets, 0);
    }

    #[tokio::test]
    async fn every_subscription_sample_is_handled() {
        for name in [
            "cwlogs-root-account-usage.json",
            "cwlogs-unauthorized-api-calls.json",
            "cwlogs-console-signin-without-mfa.json",
        ] {
            let (h, _) = handler();
            let summary = h.handle(event(name)).await.expect(name);
            assert!(summary.tickets >= 1, "{name}: {summary:?}");
            assert_eq!(summary.skipped_not_json + summary.skipped_invalid, 0);
        }
    }

    #[tokio::test]
    async fn five_hundred_access_denied_from_one_role_are_one_ticket_counted_500() {
        let record = sample("cloudtrail-access-denied-iam-user.json");
        let events: Vec<Value> = (0..500)
            .map(|i| json!({"id": i.to_string(), "timestamp": 1_722_375_072_000_i64 + i, "message": record.to_string()}))
            .collect();
        let payload = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "g",
            "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": [], "logEvents": events});
        let (h, memory) = handler();
        let summary = h
            .handle(invoke(
                encode_lambda_event(payload.to_string().as_bytes()).expect("encode"),
            ))
            .await
            .expect("handled");
        assert_eq!(
            (summary.findings, summary.occurrences, summary.tickets),
            (1, 500, 1)
        );
        let ticket = &memory.tickets.sent()[0];
        assert_eq!(ticket.finding.count, 500);
        assert_eq!(memory.digest.sent()[0].count, 500);
        assert!(memory.alerts.sent().is_empty(), "high does not page");
    }

    #[tokio::test]
    async fn an_undecodable_payload_is_an_invalid_payload_error_naming_the_problem() {
        let good =
            encode_data(b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}").expect("encode");
        let truncated = &good[..good.len() - 12];
        let bomb = encode_data(&vec![b' '; 2 * 1024 * 1024]).expect("encode");
        let not_json = encode_data(b"this is not json").expect("encode");
        let cases = [
            (json!({"Records": []}), "awslogs is missing"),
            (json!({"awslogs": {"data": "%%%"}}), "not valid base64"),
            (json!({"awslogs": {"data": truncated}}), "truncated gzip"),
            (
                json!({"awslogs": {"data": bomb}}),
                "inflates to more than 1048576 bytes",
            ),
            (json!({"awslogs": {"data": not_json}}), "not JSON"),
            (
                json!({"awslogs": {"data": encode_data(b"{\"logEvents\":[]}").expect("encode")}}),
                "messageType is missing",
            ),
        ];
        let (h, memory, _) = handler_with(&[("MAX_DECODED_BYTES", "1048576")]);
        for (payload, want) in cases {
            let err = h.handle(invoke(payload)).await.expect_err(want);
            let diagnostic = triage_lambda::diagnostic(&err);
            assert_eq!(diagnostic.error_type, "InvalidPayload");
            assert!(
                diagnostic.error_message.contains(want),
                "{want}: {}",
                diagnostic.error_message
            );
        }
        assert!(memory.tickets.sent().is_empty());
    }

    #[tokio::test]
    async fn an_undelivered_ticket_fails_the_invocation_so_lambda_retries() {
        let (h, memory, clock) = handler_with(&[("DEDUP_CLAIM_SECONDS", "120")]);
        memory.tickets.fail_next(1);
        let err = h
            .handle(event("cwlogs-root-account-usage.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DeliveryFailed");
        assert!(memory.digest.sent().is_empty());
        assert!(memory.alerts.sent().is_empty(), "no page before its ticket");
        // Lambda's retry, after the failed attempt's claim ran out, delivers exactly what the
        // first attempt would have.
        clock.advance(TimeDelta::seconds(121));
        let summary = h
            .handle(event("cwlogs-root-account-usage.json"))
            .await
            .expect("retry");
        assert_eq!((summary.tickets, summary.alerts), (1, 1));
    }

    #[tokio::test]
    async fn an_unreachable_dedup_table_fails_the_invocation_with_its_own_error_type() {
        let (h, memory) = handler();
        memory.dedup.fail_next(1);
        let err = h
            .handle(event("cwlogs-root-account-usage.json"))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "DedupStateUnavailable");
        assert!(
            memory.tickets.sent().is_empty(),
            "nothing sent without dedup state"
        );
        assert!(memory.alerts.sent().is_empty());
        // Lambda's retry finds the table again and delivers once.
        let summary = h
            .handle(event("cwlogs-root-account-usage.json"))
            .await
            .expect("retry");
        assert_eq!((summary.tickets, summary.alerts), (1, 1));
    }

    // ------------------------------------------------------------ the Kinesis intake

    const STREAM: &str = "arn:aws:kinesis:us-east-1:111122223333:stream/triage-trail-records";

    fn decoded(name: &str) -> Vec<u8> {
        sample(name).to_string().into_bytes()
    }

    fn kinesis(payloads: &[&[u8]]) -> LambdaEvent<Value> {
        invoke(encode_kinesis_event(payloads, 1, STREAM).expect("encode"))
    }

    fn sequence(i: u128) -> String {
        format!("{i:056}")
    }

    #[tokio::test]
    async fn a_kinesis_batch_routes_every_payload_like_its_subscription_event() {
        let root = decoded("cwlogs-root-account-usage.decoded.json");
        let mixed = decoded("cwlogs-mixed-batch.decoded.json");
        let control = decoded("cwlogs-control-message.decoded.json");
        let (h, memory) = handler();
        let response = h
            .invoke(kinesis(&[&root, &control, &mixed]))
            .await
            .expect("handled");
        let Response::Stream(stream) = response else {
            panic!("a Kinesis batch gets a partial batch response")
        };
        assert!(stream.batch_item_failures.is_empty(), "{stream:?}");
        assert_eq!((stream.stream_records, stream.processed), (3, 3));
        // The root usage of the first payload is the mixed batch's root usage again: a repeat.
        let (direct, direct_memory) = handler();
        direct
            .handle(event("cwlogs-root-account-usage.json"))
            .await
            .expect("direct");
        direct
            .handle(event("cwlogs-mixed-batch.json"))
            .await
            .expect("direct");
        assert_eq!(memory.tickets.sent(), direct_memory.tickets.sent());
        assert_eq!(memory.alerts.sent(), direct_memory.alerts.sent());
        assert_eq!(stream.summary.records, 1 + 1 + 12);
        assert_eq!(
            serde_json::to_value(Response::Stream(stream)).expect("json"),
            json!({"batchItemFailures": []}),
            "Lambda gets the partial batch response and nothing else"
        );
    }

    #[tokio::test]
    async fn an_organization_trail_batch_gives_one_ticket_per_account_region_and_problem() {
        let (h, memory) = handler();
        let Response::Stream(stream) = h
            .invoke(event("kinesis-org-trail-three-accounts.json"))
            .await
            .expect("handled")
        else {
            panic!("stream")
        };
        assert!(stream.batch_item_failures.is_empty());
        let tickets: Vec<(String, String, String)> = memory
            .tickets
            .sent()
            .iter()
            .map(|t| {
                (
                    t.finding.account.as_str().to_owned(),
                    t.finding.region.as_str().to_owned(),
                    t.finding.rule_id.as_str().to_owned(),
                )
            })
            .collect();
        let want = [
            ("111122223333", "us-east-1", "root-account-usage"),
            ("111122223333", "us-east-1", "console-signin-without-mfa"),
            ("444455556666", "eu-west-1", "unauthorized-api-calls"),
            ("777788889999", "us-east-1", "console-signin-without-mfa"),
            ("777788889999", "eu-west-1", "unauthorized-api-calls"),
        ]
        .map(|(a, r, x)| (a.to_owned(), r.to_owned(), x.to_owned()));
        assert_eq!(tickets, want);
        let digest_accounts: Vec<String> = memory
            .digest
            .sent()
            .iter()
            .map(|d| d.account.as_str().to_owned())
            .collect();
        assert_eq!(digest_accounts.len(), 5);
        assert!(digest_accounts.iter().any(|a| a == "444455556666"));
    }

    #[tokio::test]
    async fn an_undecodable_record_fails_only_itself() {
        let root = decoded("cwlogs-root-account-usage.decoded.json");
        let mfa = decoded("cwlogs-console-signin-without-mfa.decoded.json");
        let mut event = encode_kinesis_event(&[&root, b"-", &mfa], 7, STREAM).expect("encode");
        // The second record: not gzip; a fourth: base64 that is no base64 at all.
        event["Records"][1]["kinesis"]["data"] = json!("bm90IGd6aXA=");
        let mut bad = event["Records"][2].clone();
        bad["kinesis"]["data"] = json!("%%%");
        bad["kinesis"]["sequenceNumber"] = json!(sequence(10));
        event["Records"].as_array_mut().expect("records").push(bad);
        let (h, memory) = handler();
        let Response::Stream(stream) = h.invoke(invoke(event)).await.expect("handled") else {
            panic!("stream")
        };
        assert_eq!(
            serde_json::to_value(&stream).expect("json"),
            json!({"batchItemFailures": [{"itemIdentifier": sequence(8)}, {"itemIdentifier": sequence(10)}]})
        );
        assert_eq!((stream.processed, stream.undecodable), (2, 2));
        let rules: Vec<String> = memory
            .tickets
            .sent()
            .iter()
            .map(|t| t.finding.rule_id.as_str().to_owned())
            .collect();
        assert_eq!(rules, ["root-account-usage", "console-signin-without-mfa"]);
    }

    #[tokio::test]
    async fn an_undelivered_record_is_named_and_lambda_retries_from_it_in_order() {
        let control = decoded("cwlogs-control-message.decoded.json");
        let root = decoded("cwlogs-root-account-usage.decoded.json");
        let mfa = decoded("cwlogs-console-signin-without-mfa.decoded.json");
        let (h, memory) = handler();
        let batch = [control.as_slice(), root.as_slice(), mfa.as_slice()];
        // The first record is done with; the second's ticket is not delivered.
        memory.tickets.fail_next(1);
        let Response::Stream(first) = h.invoke(kinesis(&batch)).await.expect("handled") else {
            panic!("stream")
        };
        assert_eq!(
            first.batch_item_failures,
            [ItemFailure {
                item_identifier: sequence(2)
            }]
        );
        assert_eq!(
            first.processed, 1,
            "the records after the failed one wait for the retry"
        );
        assert!(memory.tickets.sent().is_empty());
        assert!(memory.alerts.sent().is_empty(), "no page before its ticket");
        // Lambda retries from the named record within seconds: the failed attempt released
        // its claims, so the retry delivers at once (the clock has not moved).
        let mut retry = encode_kinesis_event(&batch, 1, STREAM).expect("encode");
        retry["Records"].as_array_mut().expect("records").remove(0);
        let Response::Stream(second) = h.invoke(invoke(retry)).await.expect("retry") else {
            panic!("stream")
        };
        assert!(second.batch_item_failures.is_empty());
        let rules: Vec<String> = memory
            .tickets
            .sent()
            .iter()
            .map(|t| t.finding.rule_id.as_str().to_owned())
            .collect();
        assert_eq!(rules, ["root-account-usage", "console-signin-without-mfa"]);
        assert_eq!(memory.alerts.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_kinesis_event_with_a_record_that_cannot_be_named_fails_the_invocation() {
        let root = decoded("cwlogs-root-account-usage.decoded.json");
        let mut event = encode_kinesis_event(&[&root, &root], 1, STREAM).expect("encode");
        event["Records"][1]["kinesis"]
            .as_object_mut()
            .expect("kinesis")
            .remove("sequenceNumber");
        let (h, memory) = handler();
        let err = h.invoke(invoke(event)).await.expect_err("invalid");
        assert_eq!(err.error_type(), "InvalidPayload");
        assert!(err.to_string().contains("Records[1]"), "{err}");
        assert!(
            memory.tickets.sent().is_empty(),
            "nothing routed from a batch it cannot answer for"
        );
    }
}
