//! The AWS protocols as the proxy sees them: which service and operation a request calls, the
//! error answers each protocol gives, and batch answers with some entries failed.

use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};

use super::Fault;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// awsJson1_0 / 1_1 (`X-Amz-Target`).
    Json,
    /// awsQuery (form body with `Action=`), XML answers.
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Call {
    /// The SigV4 signing name (`sqs`, `sns`, `dynamodb`).
    pub(super) service: String,
    pub(super) operation: String,
    pub(super) protocol: Protocol,
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The call a request makes: the service from the SigV4 credential scope (else the target's
/// prefix), the operation from `X-Amz-Target` (JSON) or the `Action` form field (query).
pub(super) fn classify(request: &Request<Bytes>) -> Call {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let service = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .map(str::to_owned);
    match header("x-amz-target") {
        Some(target) => {
            let (prefix, operation) = target.split_once('.').unwrap_or(("", target));
            let service = service.unwrap_or_else(|| {
                if prefix.starts_with("AmazonSQS") {
                    "sqs".to_owned()
                } else if prefix.starts_with("DynamoDB") {
                    "dynamodb".to_owned()
                } else {
                    prefix.to_ascii_lowercase()
                }
            });
            Call {
                service,
                operation: operation.to_owned(),
                protocol: Protocol::Json,
            }
        }
        None => Call {
            service: service.unwrap_or_default(),
            operation: form_value(request.body(), "Action")
                .or_else(|| {
                    let query = request.uri().query()?;
                    form_value(query.as_bytes(), "Action")
                })
                .unwrap_or_default(),
            protocol: Protocol::Query,
        },
    }
}

/// An answer with these headers (a value that is not a valid header is left out).
pub(super) fn answer(
    status: StatusCode,
    headers: &[(&'static str, String)],
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::try_from(value.as_str()) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// The error answer a service gives for a throttled or failed request, in its protocol.
pub(super) fn error_response(call: &Call, fault: Fault, key: u64) -> Response<Bytes> {
    let throttle = fault == Fault::Throttle;
    let status = if throttle {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let id = format!("fa017000-0000-4000-8000-{:012x}", key & 0xffff_ffff_ffff);
    let json = || "application/x-amz-json-1.0".to_owned();
    match (call.protocol, call.service.as_str()) {
        (Protocol::Json, "sqs") => {
            let (code, kind, message) = if throttle {
                ("ThrottlingException", "Sender", "Rate exceeded")
            } else {
                (
                    "InternalError",
                    "Receiver",
                    "We encountered an internal error. Please try again.",
                )
            };
            let body = serde_json::json!({
                "__type": format!("com.amazonaws.sqs#{code}"),
                "message": message,
            });
            answer(
                status,
                &[
                    ("content-type", json()),
                    ("x-amzn-requestid", id),
                    ("x-amzn-query-error", format!("{code};{kind}")),
                ],
                body.to_string(),
            )
        }
        (Protocol::Json, service) => {
            let namespace = if service == "dynamodb" {
                "com.amazonaws.dynamodb.v20120810".to_owned()
            } else {
                format!("com.amazonaws.{service}")
            };
            let (code, message) = if throttle {
                (
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                )
            } else {
                ("InternalServerError", "Internal server error")
            };
            let body = serde_json::json!({
                "__type": format!("{namespace}#{code}"),
                "message": message,
            });
            answer(
                status,
                &[("content-type", json()), ("x-amzn-requestid", id)],
                body.to_string(),
            )
        }
        (Protocol::Query, _) => {
            let (code, kind, message) = if throttle {
                ("Throttling", "Sender", "Rate exceeded")
            } else {
                ("InternalError", "Receiver", "Internal error")
            };
            let body = format!(
                "<ErrorResponse xmlns=\"http://{}.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                call.service
            );
            answer(
                status,
                &[
                    ("content-type", "text/xml".to_owned()),
                    ("x-amzn-requestid", id),
                ],
                body,
            )
        }
    }
}

/// Moves some of the `Successful` entries of a JSON batch answer to `Failed`, as a transient
/// failure on AWS's side (`SenderFault: false`). `bits` chooses which (at least one). Returns
/// the new body and how many entries it reports failed; `None` if the answer is not a JSON
/// batch answer with successful entries.
pub(super) fn fail_some_entries(body: &[u8], bits: u64) -> Option<(Vec<u8>, u64)> {
    let mut answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = answer.as_object_mut()?;
    let successful = object.get("Successful")?.as_array()?.clone();
    if successful.is_empty() {
        return None;
    }
    let first = usize::try_from(bits % successful.len() as u64).unwrap_or(0);
    let (mut keep, mut failed) = (Vec::new(), Vec::new());
    for (i, entry) in successful.into_iter().enumerate() {
        let chosen = i == first || (bits >> (8 + (i % 48))) & 1 == 1;
        if chosen {
            let id = entry.get("Id").cloned().unwrap_or(serde_json::Value::Null);
            failed.push(serde_json::json!({
                "Id": id,
                "SenderFault": false,
                "Code": "InternalError",
                "Message": "injected by FaultProxy: the entry may or may not have been processed",
            }));
        } else {
            keep.push(entry);
        }
    }
    let count = failed.len() as u64;
    let mut all_failed = object
        .get("Failed")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    all_failed.extend(failed);
    object.insert("Successful".into(), serde_json::Value::Array(keep));
    object.insert("Failed".into(), serde_json::Value::Array(all_failed));
    Some((answer.to_string().into_bytes(), count))
}

/// The `ReceiptHandle`s of a `ReceiveMessage` answer (JSON protocol).
pub(super) fn receipt_handles_of(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("Messages").and_then(|m| m.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("ReceiptHandle").and_then(|h| h.as_str()))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    fn request(headers: &[(&str, &str)], body: &'static str) -> Request<Bytes> {
        let mut request = Request::post("/");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.body(Bytes::from(body)).unwrap()
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn calls_are_recognised_by_signing_name_and_target_or_action() {
        let sqs = request(
            &[
                ("Authorization", &AUTH.replace("{}", "sqs")),
                ("X-Amz-Target", "AmazonSQS.SendMessageBatch"),
            ],
            "{}",
        );
        let call = classify(&sqs);
        assert_eq!(
            (
                call.service.as_str(),
                call.operation.as_str(),
                call.protocol
            ),
            ("sqs", "SendMessageBatch", Protocol::Json)
        );
        let sns = request(
            &[("authorization", &AUTH.replace("{}", "sns"))],
            "Action=Publish&Version=2010-03-31&TopicArn=x",
        );
        let call = classify(&sns);
        assert_eq!(
            (
                call.service.as_str(),
                call.operation.as_str(),
                call.protocol
            ),
            ("sns", "Publish", Protocol::Query)
        );
        let ddb = request(&[("X-Amz-Target", "DynamoDB_20120810.PutItem")], "{}");
        let call = classify(&ddb);
        assert_eq!(
            (call.service.as_str(), call.operation.as_str()),
            ("dynamodb", "PutItem")
        );
        let get = Request::get("/?Action=ListTopics")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(classify(&get).operation, "ListTopics");
    }

    #[test]
    fn throttling_answers_use_each_protocols_error_shape() {
        let call = |service: &str, protocol| Call {
            service: service.into(),
            operation: "X".into(),
            protocol,
        };
        let sqs = error_response(&call("sqs", Protocol::Json), Fault::Throttle, 1);
        assert_eq!(sqs.status(), 400);
        assert_eq!(
            sqs.headers()["x-amzn-query-error"],
            "ThrottlingException;Sender"
        );
        let v: serde_json::Value = serde_json::from_slice(sqs.body()).unwrap();
        assert_eq!(v["__type"], "com.amazonaws.sqs#ThrottlingException");
        let ddb = error_response(&call("dynamodb", Protocol::Json), Fault::Throttle, 1);
        let v: serde_json::Value = serde_json::from_slice(ddb.body()).unwrap();
        assert_eq!(
            v["__type"],
            "com.amazonaws.dynamodb.v20120810#ThrottlingException"
        );
        let sns = error_response(&call("sns", Protocol::Query), Fault::Throttle, 1);
        let text = std::str::from_utf8(sns.body()).unwrap();
        assert!(text.contains("<Code>Throttling</Code>") && text.starts_with("<ErrorResponse"));
        let e500 = error_response(&call("sns", Protocol::Query), Fault::InternalError, 1);
        assert_eq!(e500.status(), 500);
    }

    #[test]
    fn a_rewritten_batch_answer_reports_some_entries_failed_on_the_service_side() {
        let body = br#"{"Successful":[{"Id":"0","MessageId":"a"},{"Id":"1","MessageId":"b"},{"Id":"2","MessageId":"c"}],"Failed":[]}"#;
        for bits in [0u64, 1, 2, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def0] {
            let (out, failed) = fail_some_entries(body, bits).expect("rewritten");
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let ok = v["Successful"].as_array().unwrap();
            let bad = v["Failed"].as_array().unwrap();
            assert!(failed >= 1);
            assert_eq!(bad.len() as u64, failed);
            assert_eq!(ok.len() + bad.len(), 3);
            assert!(
                bad.iter()
                    .all(|f| f["SenderFault"] == false && f["Code"] == "InternalError")
            );
            let mut ids: Vec<&str> = ok
                .iter()
                .chain(bad.iter())
                .map(|e| e["Id"].as_str().unwrap())
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, ["0", "1", "2"]);
        }
        assert!(fail_some_entries(br#"{"Successful":[],"Failed":[]}"#, 1).is_none());
        assert!(fail_some_entries(b"<xml/>", 1).is_none());
    }

    #[test]
    fn receipt_handles_are_read_from_a_receive_answer() {
        let body = br#"{"Messages":[{"ReceiptHandle":"h1"},{"Body":"x"},{"ReceiptHandle":"h2"}]}"#;
        assert_eq!(receipt_handles_of(body), ["h1", "h2"]);
        assert!(receipt_handles_of(b"<xml/>").is_empty());
    }
}
