//! The SQS and SNS adapters against aws-smithy-mocks: full batches, per-entry failures retried
//! or surfaced, never a success for a message that was not sent.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::time::Duration;

use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use triage_aws::{
    ALERT_ID_ATTRIBUTE, BatchPolicy, SnsAlertPublisher, SqsPackedDigestSink, SqsTicketSink,
    ticket_entries,
};
use triage_core::ports::{AlertPublisher, DigestSink, SinkError, TicketSink};
use triage_core::{Alert, DigestEntry, DigestKind, Finding, TicketAction, TicketEvent};

use triage_core::fakes::finding_about;

fn finding(n: usize) -> Finding {
    finding_about("restricted-ssh", &format!("sg-{n:04}"))
}

fn tickets(n: usize) -> Vec<TicketEvent> {
    (0..n)
        .map(|i| TicketEvent::new(TicketAction::Open, finding(i), i as u64 + 1))
        .collect()
}

fn ok_for(ids: &[String]) -> SendMessageBatchOutput {
    SendMessageBatchOutput::builder()
        .set_successful(Some(
            ids.iter()
                .map(|id| {
                    SendMessageBatchResultEntry::builder()
                        .id(id)
                        .message_id(format!("m-{id}"))
                        .md5_of_message_body("x")
                        .build()
                        .expect("entry")
                })
                .collect(),
        ))
        .set_failed(Some(vec![]))
        .build()
        .expect("output")
}

fn fast() -> BatchPolicy {
    BatchPolicy {
        attempts: 3,
        backoff: Duration::from_millis(1),
    }
}

#[test]
fn ticket_entries_carry_the_fingerprint_as_group_and_a_body_hash_as_dedup_id() {
    let events = tickets(2);
    let entries = ticket_entries(&events).expect("entries");
    for (event, entry) in events.iter().zip(&entries) {
        assert_eq!(entry.message_group_id(), Some(event.fingerprint.as_str()));
        let body = event.body().expect("body");
        assert_eq!(entry.message_body(), body);
        assert_eq!(entry.message_deduplication_id().map(str::len), Some(64));
        assert_eq!(
            entry.message_deduplication_id(),
            Some(event.deduplication_id(&body).as_str())
        );
    }
    assert_ne!(
        entries[0].message_deduplication_id(),
        entries[1].message_deduplication_id()
    );
}

#[tokio::test]
async fn twenty_five_tickets_go_in_three_full_batches() {
    let rule = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() <= 10)
        .then_compute_output(|r| {
            ok_for(
                &r.entries()
                    .iter()
                    .map(|e| e.id().to_owned())
                    .collect::<Vec<_>>(),
            )
        });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule]);
    let sink = SqsTicketSink::new(client, "https://sqs/q.fifo").with_policy(fast());
    sink.send_tickets(&tickets(25)).await.expect("sent");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn an_entry_refused_by_a_server_fault_is_retried_alone_and_then_succeeds() {
    let first = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() == 3)
        .then_output(|| {
            let mut answer = ok_for(&["0".to_owned(), "2".to_owned()]);
            answer.failed = vec![
                BatchResultErrorEntry::builder()
                    .id("1")
                    .code("InternalError")
                    .sender_fault(false)
                    .build()
                    .expect("error entry"),
            ];
            answer
        });
    let retry = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() == 1 && r.entries()[0].id() == "1")
        .then_output(|| ok_for(&["1".to_owned()]));
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&first, &retry]);
    let sink = SqsTicketSink::new(client, "https://sqs/q.fifo").with_policy(fast());
    sink.send_tickets(&tickets(3))
        .await
        .expect("sent after a retry");
    assert_eq!((first.num_calls(), retry.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_entry_that_keeps_failing_fails_the_call_after_the_attempts() {
    let failing = mock!(aws_sdk_sqs::Client::send_message_batch).then_output(|| {
        SendMessageBatchOutput::builder()
            .set_successful(Some(vec![]))
            .failed(
                BatchResultErrorEntry::builder()
                    .id("0")
                    .code("ServiceUnavailable")
                    .sender_fault(false)
                    .build()
                    .expect("error entry"),
            )
            .build()
            .expect("output")
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&failing]);
    let sink = SqsPackedDigestSink::new(client, "https://sqs/digest").with_policy(fast());
    let entry = DigestEntry::new(DigestKind::New, &finding(0));
    let err = sink.send_entries(&[entry]).await.expect_err("must fail");
    assert!(
        matches!(
            err,
            SinkError::Rejected {
                failed: 1,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(failing.num_calls(), 3);
}

#[tokio::test]
async fn a_sender_fault_is_not_retried() {
    let failing = mock!(aws_sdk_sqs::Client::send_message_batch).then_output(|| {
        SendMessageBatchOutput::builder()
            .set_successful(Some(vec![]))
            .failed(
                BatchResultErrorEntry::builder()
                    .id("0")
                    .code("InvalidParameterValue")
                    .sender_fault(true)
                    .build()
                    .expect("error entry"),
            )
            .build()
            .expect("output")
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&failing]);
    let sink = SqsTicketSink::new(client, "https://sqs/q.fifo").with_policy(fast());
    let err = sink.send_tickets(&tickets(1)).await.expect_err("must fail");
    assert!(err.to_string().contains("InvalidParameterValue"), "{err}");
    assert_eq!(failing.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_request_is_an_error_not_a_success() {
    let broken = mock!(aws_sdk_sqs::Client::send_message_batch).then_http_response(http_500);
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&broken]);
    let sink = SqsTicketSink::new(client, "https://sqs/q.fifo").with_policy(fast());
    let err = sink.send_tickets(&tickets(1)).await.expect_err("must fail");
    assert!(matches!(err, SinkError::Request { .. }), "{err}");
}

fn http_500() -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
        aws_smithy_types::body::SdkBody::from("{}"),
    )
}

#[tokio::test]
async fn an_alert_is_published_as_message_structure_json_with_its_subject() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.message_structure() == Some("json")
                && r.topic_arn() == Some("arn:aws:sns:us-east-1:111122223333:alerts")
                && r.subject()
                    .is_some_and(|s| s.starts_with("[HIGH] restricted-ssh is not compliant"))
                && r.message().is_some_and(|m| {
                    serde_json::from_str::<serde_json::Value>(m)
                        .is_ok_and(|v| v["default"].is_string() && v["email"].is_string())
                })
        })
        .then_output(|| PublishOutput::builder().message_id("1").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]);
    let publisher = SnsAlertPublisher::new(client, "arn:aws:sns:us-east-1:111122223333:alerts");
    let alert = Alert::for_finding(&finding(7)).expect("alert");
    publisher.publish(&alert).await.expect("published");
    assert_eq!(publish.num_calls(), 1);

    // The alert id travels as a String message attribute.
    let id = alert.id.clone();
    let with_id = mock!(aws_sdk_sns::Client::publish)
        .match_requests(move |r| {
            r.message_attributes()
                .and_then(|a| a.get(ALERT_ID_ATTRIBUTE))
                .is_some_and(|v| v.data_type() == "String" && v.string_value() == Some(id.as_str()))
        })
        .then_output(|| PublishOutput::builder().message_id("2").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&with_id]);
    SnsAlertPublisher::new(client, "arn:aws:sns:us-east-1:111122223333:alerts")
        .publish(&alert)
        .await
        .expect("published");
    assert_eq!(with_id.num_calls(), 1);

    // And what subscription filter policies route on, each a String.
    let routed = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.message_attributes().is_some_and(|a| {
                [
                    ("kind", "alert"),
                    ("severity", "high"),
                    ("source", "config"),
                    ("rule", "restricted-ssh"),
                    ("action", "update"),
                ]
                .iter()
                .all(|(k, want)| {
                    a.get(*k).is_some_and(|v| {
                        v.data_type() == "String" && v.string_value() == Some(*want)
                    })
                }) && a.len() == 7
            })
        })
        .then_output(|| PublishOutput::builder().message_id("3").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&routed]);
    SnsAlertPublisher::new(client, "arn:aws:sns:us-east-1:111122223333:alerts")
        .publish(&alert.clone().with_action(TicketAction::Update))
        .await
        .expect("published");
    assert_eq!(routed.num_calls(), 1);
}

#[tokio::test]
async fn an_entry_the_answer_does_not_mention_is_not_reported_as_sent() {
    let silent = mock!(aws_sdk_sqs::Client::send_message_batch).then_output(|| ok_for(&[]));
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&silent]);
    let sink = SqsTicketSink::new(client, "https://sqs/q.fifo").with_policy(fast());
    let err = sink.send_tickets(&tickets(2)).await.expect_err("must fail");
    assert!(
        matches!(err, SinkError::Rejected { failed: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("missing from the SendMessageBatch answer"),
        "{err}"
    );
}

/// triage's bus: entries EventBridge refuses are put again; one still refused fails the call,
/// and ten entries go per call.
#[tokio::test]
async fn events_are_put_ten_at_a_time_and_a_refused_entry_is_retried_then_reported() {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use triage_aws::EventBridgePublisher;
    use triage_core::ports::EventPublisher;
    use triage_core::ticket::BusEvent;

    let events: Vec<BusEvent> = tickets(12)
        .iter()
        .map(|t| t.bus_event(&t.body().expect("body")))
        .collect();
    let ok = |n: usize| {
        PutEventsOutput::builder()
            .set_entries(Some(
                (0..n)
                    .map(|i| {
                        PutEventsResultEntry::builder()
                            .event_id(format!("e{i}"))
                            .build()
                    })
                    .collect(),
            ))
            .failed_entry_count(0)
            .build()
    };
    let refused_first = PutEventsOutput::builder()
        .entries(PutEventsResultEntry::builder().event_id("e0").build())
        .entries(
            PutEventsResultEntry::builder()
                .error_code("InternalFailure")
                .error_message("try again")
                .build(),
        )
        .failed_entry_count(1)
        .build();
    let ten = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            r.entries().len() == 10
                && r.entries().iter().all(|e| {
                    e.source() == Some("triage")
                        && e.detail_type() == Some("Ticket Opened")
                        && e.event_bus_name() == Some("triage-events")
                })
        })
        .then_output(move || ok(10));
    let two = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| r.entries().len() == 2)
        .then_output(move || refused_first.clone());
    let retry = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| r.entries().len() == 1)
        .then_output(move || ok(1));
    let client = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&ten, &two, &retry]
    );
    EventBridgePublisher::new(Some(client), "triage-events")
        .put_events(&events)
        .await
        .expect("put");
    assert_eq!(
        (ten.num_calls(), two.num_calls(), retry.num_calls()),
        (1, 1, 1)
    );

    let always = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .entries(
                PutEventsResultEntry::builder()
                    .error_code("AccessDeniedException")
                    .build(),
            )
            .failed_entry_count(1)
            .build()
    });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&always]);
    let err = EventBridgePublisher::new(Some(client), "triage-events")
        .put_events(&events[..1])
        .await
        .expect_err("refused");
    assert!(
        matches!(err, SinkError::Rejected { failed: 1, .. }),
        "{err}"
    );
    // No client: nothing is reported as sent.
    assert!(
        EventBridgePublisher::new(None, "triage-events")
            .put_events(&events[..1])
            .await
            .is_err()
    );
}
