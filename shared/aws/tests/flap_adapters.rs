//! The DynamoDB transition log against aws-smithy-mocks: the requests it makes (a consistent
//! read; a put-if-absent or a put conditioned on the version read) and how it reads the
//! service's answers (a refused condition is a conflict, a server error is unavailable).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use triage_aws::flap::{DynamoDbTransitionLog, flap_to_attributes};
use triage_core::alarm::AlarmState;
use triage_core::dedup::{Applied, DedupError};
use triage_core::flap::{FlapSettings, FlapState, FlapStatus, key_of};
use triage_core::ports::TransitionLog;
use triage_core::{Fingerprint, Source};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .expect("time")
        + TimeDelta::minutes(minutes)
}

fn alarm() -> Fingerprint {
    Fingerprint::new(Source::Alarm, "a", "111122223333", "us-east-1", &["arn"])
}

fn stored() -> FlapState {
    FlapState {
        key: key_of(&alarm()),
        version: 3,
        transitions: vec![t(0), t(10), t(20)],
        last_state: Some(AlarmState::Alarm),
        reported_at: None,
        reported_transitions: 0,
        reported_since: None,
        resolved_at: None,
        expires_at: t(60 * 24 * 30),
    }
}

#[tokio::test]
async fn a_change_reads_consistently_and_writes_on_the_version_it_read() {
    let item = flap_to_attributes(&stored());
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| {
            r.consistent_read() == Some(true)
                && r.key()
                    .and_then(|k| k.get("fingerprint"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|k| k.starts_with("flap#"))
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("#v = :expected")
                && r.expression_attribute_values()
                    .and_then(|v| v.get(":expected"))
                    .and_then(|v| v.as_n().ok())
                    .is_some_and(|v| v == "3")
                && r.item()
                    .and_then(|i| i.get("version"))
                    .and_then(|v| v.as_n().ok())
                    .is_some_and(|v| v == "4")
                && r.item()
                    .and_then(|i| i.get("transitions"))
                    .and_then(|v| v.as_l().ok())
                    .is_some_and(|l| l.len() == 4)
        })
        .then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get, &put]);
    let log = DynamoDbTransitionLog::new(client, "dedup");
    let status = log
        .record(&FlapSettings::default(), &alarm(), t(30), AlarmState::Ok)
        .await;
    assert_eq!(status, Ok(FlapStatus::Calm));
    assert_eq!((get.num_calls(), put.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_first_change_is_a_put_if_absent_and_a_refused_condition_is_a_conflict() {
    let created = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|r| r.condition_expression() == Some("attribute_not_exists(#fp)"))
        .then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&created]);
    let log = DynamoDbTransitionLog::new(client, "dedup");
    assert_eq!(log.store(&stored(), None).await, Ok(Applied::Yes));

    let refused = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder().build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&refused]);
    let log = DynamoDbTransitionLog::new(client, "dedup");
    assert_eq!(log.store(&stored(), Some(2)).await, Ok(Applied::Conflict));
}

#[tokio::test]
async fn a_server_error_is_a_retryable_unavailable_and_a_corrupt_item_is_not_retryable() {
    let broken = mock!(aws_sdk_dynamodb::Client::get_item).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
            aws_smithy_types::body::SdkBody::from("{}"),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&broken]);
    let log = DynamoDbTransitionLog::new(client, "dedup");
    let e = log.load(&key_of(&alarm())).await.expect_err("unavailable");
    assert!(
        matches!(e, DedupError::Unavailable { .. }) && e.is_retryable(),
        "{e}"
    );

    let mut item = flap_to_attributes(&stored());
    item.remove("transitions");
    let hand_edited = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(item.clone()))
            .build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&hand_edited]);
    let log = DynamoDbTransitionLog::new(client, "dedup");
    let e = log
        .record(&FlapSettings::default(), &alarm(), t(30), AlarmState::Ok)
        .await
        .expect_err("corrupt");
    assert!(
        matches!(e, DedupError::Corrupt { .. }) && !e.is_retryable(),
        "{e}"
    );
}
