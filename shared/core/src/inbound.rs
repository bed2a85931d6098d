//! Unwrapping the envelopes events travel in: an SQS message body, an SNS notification (`Sns.Message`
//! in a Lambda SNS event, or the SNS JSON in an SQS body) may hold the event as a JSON string.
//! [`unwrap_envelopes`] turns one payload into the events inside it, each with where it came from,
//! so one bad record costs only itself.

use serde_json::Value;

use crate::json::str_at;

const MAX_DEPTH: usize = 4;

/// One event found inside a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Inner {
    /// Where in the payload it was, e.g. `Records[1].body → Message`.
    pub origin: String,
    pub event: Result<Value, InboundError>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("{origin}: not JSON: {reason}")]
    NotJson { origin: String, reason: String },
    #[error("{origin}: envelopes nested deeper than {MAX_DEPTH}")]
    TooDeep { origin: String },
    #[error("{origin}: record has no {field}")]
    MissingField { origin: String, field: &'static str },
}

/// Unwraps SQS events, SNS Lambda events and SNS notifications (as SNS delivers them to SQS)
/// recursively. Anything else is returned as it is.
pub fn unwrap_envelopes(payload: Value) -> Vec<Inner> {
    let mut out = Vec::new();
    unwrap_into(payload, String::new(), 0, &mut out);
    out
}

fn join(origin: &str, step: &str) -> String {
    if origin.is_empty() {
        step.to_owned()
    } else {
        format!("{origin} → {step}")
    }
}

fn unwrap_into(payload: Value, origin: String, depth: usize, out: &mut Vec<Inner>) {
    if depth > MAX_DEPTH {
        out.push(Inner {
            event: Err(InboundError::TooDeep {
                origin: origin.clone(),
            }),
            origin,
        });
        return;
    }
    if let Some(records) = lambda_records(&payload) {
        for (i, record) in records.iter().enumerate() {
            let here = join(&origin, &format!("Records[{i}]"));
            let (field, inner) = if let Some(body) = str_at(record, &["body"]) {
                ("body", Some(body))
            } else if record.get("Sns").is_some() {
                ("Sns.Message", str_at(record, &["Sns", "Message"]))
            } else {
                ("body", None)
            };
            match inner {
                Some(text) => descend(text, join(&here, field), depth, out),
                None => out.push(Inner {
                    event: Err(InboundError::MissingField {
                        origin: here.clone(),
                        field,
                    }),
                    origin: here,
                }),
            }
        }
        return;
    }
    if str_at(&payload, &["Type"]) == Some("Notification") {
        match payload.get("Message") {
            Some(Value::String(text)) => {
                let text = text.clone();
                descend(&text, join(&origin, "Message"), depth, out);
            }
            // Config's documentation prints the SNS Message as an object; accept that too.
            Some(inner @ Value::Object(_)) => {
                unwrap_into(inner.clone(), join(&origin, "Message"), depth + 1, out);
            }
            _ => out.push(Inner {
                event: Err(InboundError::MissingField {
                    origin: origin.clone(),
                    field: "Message",
                }),
                origin,
            }),
        }
        return;
    }
    out.push(Inner {
        origin,
        event: Ok(payload),
    });
}

fn descend(text: &str, origin: String, depth: usize, out: &mut Vec<Inner>) {
    match serde_json::from_str::<Value>(text) {
        Ok(inner) => unwrap_into(inner, origin, depth + 1, out),
        Err(e) => out.push(Inner {
            event: Err(InboundError::NotJson {
                origin: origin.clone(),
                reason: e.to_string(),
            }),
            origin,
        }),
    }
}

/// The `Records` of an SQS or SNS Lambda event. Any record naming SQS or SNS makes it one, so
/// a malformed first record costs only itself, not the batch behind it.
fn lambda_records(payload: &Value) -> Option<&Vec<Value>> {
    let records = payload.get("Records")?.as_array()?;
    let from_sqs_or_sns = |record: &Value| {
        let source = str_at(record, &["eventSource"]).or_else(|| str_at(record, &["EventSource"]));
        matches!(source, Some("aws:sqs") | Some("aws:sns"))
    };
    records.iter().any(from_sqs_or_sns).then_some(records)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_sqs_body_holding_an_sns_notification_holding_an_alarm_is_unwrapped_twice() {
        let alarm = json!({"AlarmName": "x"});
        let sns = json!({"Type": "Notification", "Message": alarm.to_string()});
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": sns.to_string()}]});
        let inner = unwrap_envelopes(sqs);
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].origin, "Records[0] → body → Message");
        assert_eq!(inner[0].event, Ok(alarm));
    }

    #[test]
    fn one_bad_record_costs_only_itself() {
        let sqs = json!({"Records": [
            {"eventSource": "aws:sqs", "body": "not json"},
            {"eventSource": "aws:sqs", "body": "{\"ok\": true}"},
            {"eventSource": "aws:sqs"}
        ]});
        let inner = unwrap_envelopes(sqs);
        assert_eq!(inner.len(), 3);
        assert!(matches!(inner[0].event, Err(InboundError::NotJson { .. })));
        assert_eq!(inner[1].event, Ok(json!({"ok": true})));
        assert!(matches!(
            inner[2].event,
            Err(InboundError::MissingField { .. })
        ));
    }

    #[test]
    fn endless_nesting_stops_with_an_error() {
        let mut v = json!({"x": 1});
        for _ in 0..10 {
            v = json!({"Type": "Notification", "Message": v.to_string()});
        }
        let inner = unwrap_envelopes(v);
        assert!(matches!(inner[0].event, Err(InboundError::TooDeep { .. })));
    }

    #[test]
    fn a_plain_event_is_returned_as_is() {
        let e = json!({"source": "aws.config", "detail-type": "Config Rules Compliance Change"});
        assert_eq!(unwrap_envelopes(e.clone())[0].event, Ok(e));
    }
}
