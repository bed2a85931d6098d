//! The storm-control adapters against aws-smithy-mocks: the DynamoDB dedup store's conditional
//! writes, the digest queue's receive and per-entry delete failures, the digest publish.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, InternalServerError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
use aws_sdk_sqs::types::{BatchResultErrorEntry, DeleteMessageBatchResultEntry, Message};
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
use chrono::{TimeDelta, TimeZone, Utc};
use triage_aws::{
    BatchPolicy, DynamoDbDedupStore, SnsDigestPublisher, SqsDigestSource, WRITE_TOKEN_ATTRIBUTE,
    WRITE_TOKEN_PREFIX, item_from_attributes, item_to_attributes, update_for,
};
use triage_core::dedup::{
    Applied, DedupError, DedupItem, DedupOptions, Observation, Outcome, Pending, TakeOver, Write,
    decide, origin_of,
};
use triage_core::digest::{DigestBuilder, RenderOptions};
use triage_core::fakes;
use triage_core::ports::{DedupStore, DigestPublisher, DigestSource};
use triage_core::{DigestEntry, DigestKind, Finding, SafeText, Severity, TicketAction};

fn t(minutes: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .expect("time")
        + TimeDelta::minutes(minutes)
}

fn finding() -> Finding {
    Finding {
        severity: Severity::Critical,
        title: SafeText::new("SSH open to the world"),
        first_seen: t(0) + TimeDelta::nanoseconds(123_456_789),
        last_seen: t(0) + TimeDelta::nanoseconds(123_456_789),
        ..fakes::finding("restricted-ssh")
    }
}

/// A pending open item, as the first occurrence writes it.
fn pending_item() -> DedupItem {
    let f = finding();
    let obs = Observation {
        finding: &f,
        origin: origin_of(&f),
        now: t(0),
        window: TimeDelta::minutes(60),
        open_after: 1,
        options: DedupOptions::default(),
        send_ticket: true,
        page: true,
        digest: true,
    };
    match decide(None, &obs).expect("decide").write {
        Some(Write::Create(item)) => item,
        other => panic!("{other:?}"),
    }
}

/// A count of one in window generation 1.
fn count_one() -> Write {
    Write::Count {
        fingerprint: finding().fingerprint,
        generation: 1,
        add: 1,
        last_seen: t(1),
        expires_at: t(100),
        take_over: None,
    }
}

#[test]
fn an_item_round_trips_through_its_attributes_exactly() {
    let item = pending_item();
    let attrs = item_to_attributes(&item);
    assert_eq!(
        attrs["expires_at"].as_n().ok().map(String::as_str),
        Some(item.expires_at.timestamp().to_string().as_str())
    );
    assert_eq!(attrs["delivered"].as_bool().ok(), Some(&false));
    assert_eq!(item_from_attributes(&attrs), Ok(item.clone()));
    let mut delivered = item;
    delivered.pending = None;
    delivered.delivered_origin = Some("abc".into());
    let attrs = item_to_attributes(&delivered);
    assert!(!attrs.contains_key("pending_event"));
    assert_eq!(item_from_attributes(&attrs), Ok(delivered.clone()));

    // A tombstone whose resolve has its ticket event sent.
    let mut tombstone = pending_item();
    tombstone.resolved_at = Some(t(5));
    if let Some(p) = tombstone.pending.as_mut() {
        p.ticket_sent = true;
    }
    let attrs = item_to_attributes(&tombstone);
    assert_eq!(attrs["pending_ticket_sent"].as_bool().ok(), Some(&true));
    assert_eq!(item_from_attributes(&attrs), Ok(tombstone));

    // An item written before sequences existed reads as sequence 0.
    let mut attrs = item_to_attributes(&delivered);
    attrs.remove("sequence");
    assert_eq!(item_from_attributes(&attrs).map(|i| i.sequence), Ok(0));
    // …and one written before count thresholds existed (no `quiet`) as not quiet.
    assert!(!attrs.contains_key("quiet"));
    assert_eq!(item_from_attributes(&attrs).map(|i| i.quiet), Ok(false));

    // A window below its rule's count threshold.
    let mut quiet = pending_item();
    quiet.quiet = true;
    let attrs = item_to_attributes(&quiet);
    assert_eq!(attrs["quiet"].as_bool().ok(), Some(&true));
    assert_eq!(item_from_attributes(&attrs), Ok(quiet));
}

#[test]
fn a_hand_edited_item_is_reported_as_corrupt() {
    let mut attrs = item_to_attributes(&pending_item());
    attrs.remove("pending_event");
    assert!(matches!(
        item_from_attributes(&attrs),
        Err(DedupError::Corrupt { .. })
    ));
}

#[test]
fn a_count_is_conditioned_on_the_window_generation_and_a_take_over_on_the_claim() {
    let fp = finding().fingerprint;
    let count = Write::Count {
        fingerprint: fp.clone(),
        generation: 3,
        add: 2,
        last_seen: t(5),
        expires_at: t(60 * 24 * 30),
        take_over: None,
    };
    let u = update_for(&count, "wt-1").expect("update");
    assert_eq!(
        u.condition,
        "attribute_exists(#fp) AND #gen = :gen AND (attribute_not_exists(#wt) OR #wt <> :wt)"
    );
    assert_eq!(
        u.update,
        "SET #ls = :ls, #exp = :exp, #wt = :wt ADD #total :add, #v :one"
    );
    assert_eq!(
        u.values[":wt"].as_s().ok().map(String::as_str),
        Some("wt-1")
    );
    assert_eq!(u.values[":gen"].as_n().ok().map(String::as_str), Some("3"));
    let take = Write::Count {
        fingerprint: fp.clone(),
        generation: 3,
        add: 2,
        last_seen: t(5),
        expires_at: t(60 * 24 * 30),
        take_over: Some(TakeOver {
            origin: "o".into(),
            claimed_until_was: t(1),
            claimed_until: t(2),
        }),
    };
    let u = update_for(&take, "wt-2").expect("update");
    assert!(
        u.condition.ends_with("AND #po = :po AND #cu = :cu_was"),
        "{}",
        u.condition
    );
    assert!(u.update.contains("#cu = :cu"));
    let mark = update_for(
        &Write::MarkDelivered {
            fingerprint: fp,
            generation: 3,
            origin: "o".into(),
        },
        "wt-3",
    )
    .expect("mark");
    assert_eq!(mark.condition, "#gen = :gen AND #po = :origin");
    assert!(
        mark.update
            .contains("REMOVE #po, #pa, #pe, #pst, #pts, #pp, #pd, #cu")
    );
}

#[tokio::test]
async fn a_create_is_a_put_if_absent_and_a_lost_race_is_a_conflict_not_an_error() {
    let won = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(#fp)")
                && r.table_name() == Some("dedup")
                && r.item().is_some_and(|i| i.contains_key("pending_event"))
        })
        .then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&won]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    assert_eq!(
        store.write(&Write::Create(pending_item())).await,
        Ok(Applied::Yes)
    );

    let lost = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .message("The conditional request failed")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&lost]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    let item = pending_item();
    assert_eq!(
        store
            .write(&Write::Replace {
                expected_version: item.version,
                item
            })
            .await,
        Ok(Applied::Conflict)
    );
}

#[tokio::test]
async fn a_count_refused_by_its_condition_is_a_conflict() {
    let refused = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| r.key().is_some_and(|k| k.contains_key("fingerprint")))
        .then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&refused]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    let w = count_one();
    assert_eq!(store.write(&w).await, Ok(Applied::Conflict));
}

/// A refusal whose returned item (`ReturnValuesOnConditionCheckFailure = ALL_OLD`) carries
/// this write's own token is the SDK's retry meeting the first attempt, whose answer was lost:
/// applied. The same refusal with another writer's token is a conflict.
#[tokio::test]
async fn a_refusal_that_returns_the_writes_own_token_is_applied_and_another_token_a_conflict() {
    let echo = |mine: bool| {
        mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                r.return_values_on_condition_check_failure()
                    == Some(&ReturnValuesOnConditionCheckFailure::AllOld)
            })
            .then_compute_response(move |r| {
                let mut item = r.item().cloned().unwrap_or_default();
                if !mine {
                    item.insert(
                        WRITE_TOKEN_ATTRIBUTE.into(),
                        AttributeValue::S(format!("{WRITE_TOKEN_PREFIX}{:032x}", 7)),
                    );
                }
                MockResponse::Error(PutItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .set_item(Some(item))
                        .build(),
                ))
            })
    };
    for (mine, expected) in [(true, Applied::Yes), (false, Applied::Conflict)] {
        let rule = echo(mine);
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let store = DynamoDbDedupStore::new(client, "dedup");
        assert_eq!(
            store.write(&Write::Create(pending_item())).await,
            Ok(expected),
            "returned item written by this write: {mine}"
        );
        assert_eq!(rule.num_calls(), 1);
    }
}

/// When no answer comes back at all the store reads the item: its own token there means the
/// write applied; anything else keeps the failure (Lambda retries the invocation).
#[tokio::test]
async fn a_failed_write_is_applied_if_a_consistent_read_finds_its_token_and_unavailable_if_not() {
    for mine in [true, false] {
        let sent = Arc::new(Mutex::new(String::new()));
        let stash = Arc::clone(&sent);
        let update = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|r| r.key().is_some())
            .then_compute_response(move |r| {
                let token = r
                    .expression_attribute_values()
                    .and_then(|v| v.get(":wt"))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                *stash.lock().unwrap() = token;
                MockResponse::Error(UpdateItemError::InternalServerError(
                    InternalServerError::builder().message("no answer").build(),
                ))
            });
        let read = Arc::clone(&sent);
        let get = mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|r| r.consistent_read() == Some(true))
            .then_compute_output(move |_| {
                let mut attrs = item_to_attributes(&pending_item());
                let token = if mine {
                    read.lock().unwrap().clone()
                } else {
                    format!("{WRITE_TOKEN_PREFIX}{:032x}", 9)
                };
                attrs.insert(WRITE_TOKEN_ATTRIBUTE.into(), AttributeValue::S(token));
                GetItemOutput::builder().set_item(Some(attrs)).build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&update, &get]);
        let store = DynamoDbDedupStore::new(client, "dedup");
        let w = count_one();
        let got = store.write(&w).await;
        assert!(
            sent.lock().unwrap().starts_with(WRITE_TOKEN_PREFIX),
            "the update carried a token"
        );
        assert_eq!(get.num_calls(), 1, "one read after the failure");
        if mine {
            assert_eq!(got, Ok(Applied::Yes));
        } else {
            assert!(
                matches!(got, Err(DedupError::Unavailable { .. })),
                "{got:?}"
            );
        }
    }
}

/// Two writes never share a token: concurrent deliveries of one event write identical items.
#[tokio::test]
async fn every_write_draws_a_fresh_token() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stash = Arc::clone(&seen);
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_compute_output(move |r| {
        let token = r
            .item()
            .and_then(|i| i.get(WRITE_TOKEN_ATTRIBUTE))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        stash.lock().unwrap().push(token);
        PutItemOutput::builder().build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    for _ in 0..50 {
        assert_eq!(
            store.write(&Write::Create(pending_item())).await,
            Ok(Applied::Yes)
        );
    }
    let mut tokens = seen.lock().unwrap().clone();
    assert_eq!(tokens.len(), 50);
    assert!(
        tokens
            .iter()
            .all(|t| t.len() == WRITE_TOKEN_PREFIX.len() + 32 && t.starts_with(WRITE_TOKEN_PREFIX))
    );
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 50, "all distinct");
}

#[tokio::test]
async fn a_load_is_a_consistent_read_and_a_server_error_is_unavailable() {
    let item = pending_item();
    let attrs = item_to_attributes(&item);
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.consistent_read() == Some(true))
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(attrs.clone()))
                .build()
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&get]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    assert_eq!(store.load(&item.fingerprint).await, Ok(Some(item.clone())));

    let broken = mock!(aws_sdk_dynamodb::Client::get_item).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
            aws_smithy_types::body::SdkBody::from("{}"),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&broken]);
    let store = DynamoDbDedupStore::new(client, "dedup");
    let err = store
        .load(&item.fingerprint)
        .await
        .expect_err("unavailable");
    assert!(
        matches!(err, DedupError::Unavailable { .. }) && err.is_retryable(),
        "{err}"
    );
}

#[test]
fn the_stored_pending_is_what_the_router_would_send() {
    let item = pending_item();
    let p: &Pending = item.pending.as_ref().expect("pending");
    let event = p.ticket_event().expect("event");
    assert_eq!(event.action, TicketAction::Open);
    assert_eq!(
        event.body().expect("body"),
        p.event,
        "byte-identical after the round trip"
    );
    let f = finding();
    let next = decide(
        Some(&item),
        &Observation {
            finding: &f,
            origin: origin_of(&f),
            now: t(2),
            window: TimeDelta::minutes(60),
            open_after: 1,
            options: DedupOptions::default(),
            send_ticket: true,
            page: true,
            digest: true,
        },
    )
    .expect("decide");
    assert!(
        matches!(next.outcome, Outcome::Deliver { .. }),
        "the retry after the claim redelivers"
    );
}

fn message(i: usize) -> Message {
    Message::builder()
        .message_id(format!("m{i}"))
        .receipt_handle(format!("rh{i}"))
        .body(format!("body {i}"))
        .build()
}

#[tokio::test]
async fn a_receive_asks_for_ten_with_the_visibility_and_wait_given() {
    let receive = mock!(aws_sdk_sqs::Client::receive_message)
        .match_requests(|r| {
            r.max_number_of_messages() == Some(10)
                && r.visibility_timeout() == Some(960)
                && r.wait_time_seconds() == Some(1)
                && r.queue_url() == Some("https://sqs/digest")
        })
        .then_output(|| {
            ReceiveMessageOutput::builder()
                .messages(message(1))
                .messages(message(2))
                .build()
        });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&receive]);
    let source = SqsDigestSource::new(client, "https://sqs/digest");
    let got = source
        .receive(10, Duration::from_secs(960), Duration::from_secs(1))
        .await
        .expect("received");
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].receipt_handle.as_str(), got[0].body.as_str()),
        ("rh1", "body 1")
    );
}

fn fast() -> BatchPolicy {
    BatchPolicy {
        attempts: 3,
        backoff: Duration::from_millis(1),
    }
}

fn ok(ids: &[&str]) -> Vec<DeleteMessageBatchResultEntry> {
    ids.iter()
        .map(|id| {
            DeleteMessageBatchResultEntry::builder()
                .id(*id)
                .build()
                .expect("entry")
        })
        .collect()
}

fn failed(id: &str, code: &str, sender_fault: bool) -> BatchResultErrorEntry {
    BatchResultErrorEntry::builder()
        .id(id)
        .code(code)
        .sender_fault(sender_fault)
        .build()
        .expect("entry")
}

#[tokio::test]
async fn a_delete_batch_retries_server_faults_alone_and_reports_sender_faults() {
    let first = mock!(aws_sdk_sqs::Client::delete_message_batch)
        .match_requests(|r| r.entries().len() == 3)
        .then_output(|| {
            DeleteMessageBatchOutput::builder()
                .set_successful(Some(ok(&["0"])))
                .failed(failed("1", "InternalError", false))
                .failed(failed("2", "ReceiptHandleIsInvalid", true))
                .build()
                .expect("output")
        });
    let retry = mock!(aws_sdk_sqs::Client::delete_message_batch)
        .match_requests(|r| r.entries().len() == 1 && r.entries()[0].receipt_handle() == "rh1")
        .then_output(|| {
            DeleteMessageBatchOutput::builder()
                .set_successful(Some(ok(&["1"])))
                .set_failed(Some(vec![]))
                .build()
                .expect("output")
        });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&first, &retry]);
    let source = SqsDigestSource::new(client, "https://sqs/digest").with_policy(fast());
    let handles: Vec<String> = (0..3).map(|i| format!("rh{i}")).collect();
    let outcome = source.delete(&handles).await.expect("delete");
    assert_eq!(outcome.deleted, 2);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].0, "rh2");
    assert!(outcome.failed[0].1.contains("ReceiptHandleIsInvalid"));
    assert_eq!((first.num_calls(), retry.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_delete_that_keeps_failing_or_is_left_unanswered_is_reported_not_assumed() {
    let flaky = mock!(aws_sdk_sqs::Client::delete_message_batch).then_output(|| {
        DeleteMessageBatchOutput::builder()
            .set_successful(Some(vec![]))
            .failed(failed("0", "ServiceUnavailable", false))
            .build()
            .expect("output")
    });
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&flaky]);
    let source = SqsDigestSource::new(client, "https://sqs/digest").with_policy(fast());
    let outcome = source
        .delete(&["rh0".to_owned(), "rh1".to_owned()])
        .await
        .expect("delete");
    assert_eq!(outcome.deleted, 0);
    let reasons: Vec<&str> = outcome.failed.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("ServiceUnavailable")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("missing from the DeleteMessageBatch answer")),
        "{reasons:?}"
    );
    assert_eq!(flaky.num_calls(), 3, "retried up to the policy's attempts");
    let too_many: Vec<String> = (0..11).map(|i| format!("rh{i}")).collect();
    assert!(
        source.delete(&too_many).await.is_err(),
        "never more than ten per call"
    );
}

#[tokio::test]
async fn a_digest_is_published_with_message_structure_json_and_its_subject() {
    let mut b = DigestBuilder::new();
    b.add(DigestEntry::new(DigestKind::New, &finding()));
    let message = b
        .finish(t(60))
        .render(&RenderOptions::default())
        .expect("render")
        .remove(0);
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.message_structure() == Some("json")
                && r.topic_arn() == Some("arn:aws:sns:us-east-1:1:digest")
                && r.subject()
                    == Some("[CRITICAL] triage digest: 1 new, 0 repeats, 0 suppressed, 0 resolved")
                && r.message().is_some_and(|m| {
                    serde_json::from_str::<serde_json::Value>(m).is_ok_and(|v| {
                        v["email"]
                            .as_str()
                            .is_some_and(|e| e.contains("SSH open to the world"))
                            && v["default"]
                                .as_str()
                                .is_some_and(|d| d.contains("\"kind\":\"digest\""))
                    })
                })
                // What a team's filter policy routes on: lists as String.Array (JSON arrays).
                && r.message_attributes().is_some_and(|a| {
                    a.get("kind")
                        .is_some_and(|v| v.data_type() == "String" && v.string_value() == Some("digest"))
                        && a.get("severity").is_some_and(|v| {
                            v.data_type() == "String.Array"
                                && v.string_value() == Some("[\"critical\"]")
                        })
                        && a.get("account").is_some_and(|v| {
                            v.data_type() == "String.Array"
                                && v.string_value().is_some_and(|s| {
                                    serde_json::from_str::<Vec<String>>(s).is_ok_and(|l| l.len() == 1)
                                })
                        })
                })
        })
        .then_output(|| PublishOutput::builder().message_id("1").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]);
    SnsDigestPublisher::new(client, "arn:aws:sns:us-east-1:1:digest")
        .publish(&message)
        .await
        .expect("published");
    assert_eq!(publish.num_calls(), 1);
}

fn entries(n: usize) -> Vec<DigestEntry> {
    (0..n)
        .map(|i| {
            let mut f = finding();
            f.last_seen = t(i64::try_from(i).unwrap());
            DigestEntry::new(DigestKind::Repeat, &f)
        })
        .collect()
}

#[test]
fn entries_are_packed_into_bounded_messages_and_a_single_entry_travels_as_itself() {
    let one = entries(1);
    let packed =
        triage_aws::pack_digest_entries(&one, triage_aws::MAX_PACKED_MESSAGE_BYTES).expect("pack");
    assert_eq!(
        packed,
        [one[0].body().expect("body")],
        "a lone entry is the plain entry"
    );

    let many = entries(500);
    let packed =
        triage_aws::pack_digest_entries(&many, triage_aws::MAX_PACKED_MESSAGE_BYTES).expect("pack");
    assert!(
        packed.len() > 1 && packed.len() < 50,
        "{} messages",
        packed.len()
    );
    let mut back = Vec::new();
    for body in &packed {
        assert!(
            body.len() <= triage_aws::MAX_PACKED_MESSAGE_BYTES,
            "{} bytes",
            body.len()
        );
        back.extend(triage_core::digest::parse_message(body).expect("readable by the digest"));
    }
    assert_eq!(back, many, "every entry, in order");
}

#[tokio::test]
async fn the_packed_sink_sends_full_batches_and_retries_what_sqs_refused() {
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
    use aws_sdk_sqs::types::SendMessageBatchResultEntry;
    // SQS answers every entry, as done or as refused: here entry "3" is refused once.
    fn answer(r: &SendMessageBatchInput, refuse: &str) -> SendMessageBatchOutput {
        let done = r.entries().iter().filter(|e| e.id() != refuse).map(|e| {
            SendMessageBatchResultEntry::builder()
                .id(e.id())
                .message_id("m")
                .md5_of_message_body("x")
                .build()
                .expect("entry")
        });
        let refused = r.entries().iter().filter(|e| e.id() == refuse);
        SendMessageBatchOutput::builder()
            .set_successful(Some(done.collect()))
            .set_failed(Some(
                refused
                    .map(|e| failed(e.id(), "InternalError", false))
                    .collect(),
            ))
            .build()
            .expect("output")
    }
    let first = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() == 10)
        .then_compute_output(|r| answer(r, "3"));
    let retry = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() == 1 && r.entries()[0].id() == "3")
        .then_compute_output(|r| answer(r, ""));
    let rest = mock!(aws_sdk_sqs::Client::send_message_batch)
        .match_requests(|r| r.entries().len() < 10)
        .then_compute_output(|r| answer(r, ""));
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&first, &retry, &rest]);
    let sink =
        triage_aws::SqsPackedDigestSink::new(client, "https://sqs/digest").with_policy(fast());
    // ~1 KB entries, 24 KB messages: 2 000 entries need more than ten messages.
    use triage_core::ports::DigestSink;
    sink.send_entries(&entries(2_000)).await.expect("sent");
    assert!(first.num_calls() >= 1);
    assert!(retry.num_calls() >= 1);
}

#[test]
fn a_release_ends_the_owners_claim_only_if_the_pending_is_still_its_own() {
    let u = update_for(
        &Write::Release {
            fingerprint: finding().fingerprint,
            generation: 3,
            origin: "o".into(),
            claimed_until: t(1),
        },
        "wt-4",
    )
    .expect("release");
    assert_eq!(u.condition, "#gen = :gen AND #po = :origin");
    assert_eq!(u.update, "SET #cu = :cu, #wt = :wt ADD #v :one");
    assert_eq!(
        u.values[":cu"].as_n().ok().map(String::as_str),
        Some(t(1).timestamp_millis().to_string().as_str())
    );
}
