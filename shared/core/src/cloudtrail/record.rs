//! One CloudTrail record (already parsed by the filter-pattern engine) → evidence and findings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use triage_filter_pattern::{JsonKind, JsonValue};

use super::pack::{Detection, FieldPath, ResourceSpec};
use crate::console;
use crate::finding::{Evidence, Finding, Fingerprint, Resource, Source, Status};
use crate::text::SafeText;

/// At most this many `requestParameters` members are summarised in `details.request.*`.
pub const REQUEST_PARAMETERS_MAX_KEYS: usize = 20;
/// Each summarised request parameter value is cut to this many characters.
pub const REQUEST_VALUE_MAX_CHARS: usize = 256;
const REQUEST_KEY_MAX_CHARS: usize = 64;
const RENDER_MAX_DEPTH: usize = 6;
const TITLE_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 2048;
const SHORT_FIELD_MAX_CHARS: usize = 256;
const USER_AGENT_MAX_CHARS: usize = 512;

/// The value at a dotted path.
fn at<'m>(root: JsonValue<'m>, path: &[&str]) -> Option<JsonValue<'m>> {
    path.iter().try_fold(root, |v, key| v.get(key))
}

/// A non-empty string at `path`.
fn text<'m>(root: JsonValue<'m>, path: &[&str]) -> Option<&'m str> {
    at(root, path)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// The scalar text (string, number, boolean) of the first alternative that has a non-empty one.
pub(crate) fn resolve<'m>(root: JsonValue<'m>, field: &FieldPath) -> Option<&'m str> {
    field.alternatives().iter().find_map(|steps| {
        steps
            .iter()
            .try_fold(root, |v, key| v.get(key))
            .and_then(|v| v.scalar_text())
            .filter(|s| !s.is_empty())
    })
}

/// Whether a parsed message is a CloudTrail record: an object with a string `eventVersion`, a
/// string `eventTime`, and an `eventSource` or (Insights events) an `eventType`.
pub fn is_cloudtrail_record(root: JsonValue<'_>) -> bool {
    let is_str = |key: &str| root.get(key).is_some_and(|v| v.kind() == JsonKind::String);
    root.kind() == JsonKind::Object
        && is_str("eventVersion")
        && is_str("eventTime")
        && (is_str("eventSource") || is_str("eventType"))
}

/// What the log event around a record tells (absent for records replayed from files).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Context<'a> {
    /// The account from the log stream name (`<account>_CloudTrail_<region>`) or the payload
    /// owner, for records without `recipientAccountId`.
    pub account: Option<&'a str>,
    /// The log event's timestamp (ms), for records without a readable `eventTime`.
    pub timestamp_ms: Option<i64>,
}

/// The parts of a record every finding from it shares: read once per matched record.
pub(crate) struct RecordView<'m> {
    root: JsonValue<'m>,
    account: String,
    region: String,
    partition: &'static str,
    event_name: Option<&'m str>,
    event_source: Option<&'m str>,
    event_id: Option<&'m str>,
    source_ip: Option<&'m str>,
    actor_type: Option<&'m str>,
    actor_arn: Option<String>,
    principal: Option<String>,
    event_time: Option<DateTime<Utc>>,
    time: DateTime<Utc>,
}

impl<'m> RecordView<'m> {
    pub(crate) fn new(root: JsonValue<'m>, ctx: &Context<'_>) -> Self {
        let identity = root.get("userIdentity");
        let id_text = |key: &str| identity.and_then(|u| text(u, &[key]));
        let account = text(root, &["recipientAccountId"])
            .or_else(|| id_text("accountId"))
            .or(ctx.account)
            .unwrap_or("unknown")
            .to_owned();
        let region = text(root, &["awsRegion"]).unwrap_or("unknown").to_owned();
        let partition = console::partition(&region);
        let actor_type = id_text("type");
        let actor_arn = id_text("arn").map(str::to_owned).or_else(|| {
            (actor_type == Some("Root")).then(|| {
                let owner = id_text("accountId").unwrap_or(&account);
                format!("arn:{partition}:iam::{owner}:root")
            })
        });
        let principal = actor_arn.clone().or_else(|| {
            id_text("userName")
                .or_else(|| id_text("invokedBy"))
                .or_else(|| id_text("principalId"))
                .map(str::to_owned)
        });
        let event_time = text(root, &["eventTime"]).and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        });
        let time = event_time
            .or_else(|| ctx.timestamp_ms.and_then(DateTime::from_timestamp_millis))
            .unwrap_or(DateTime::UNIX_EPOCH);
        let event_name = text(root, &["eventName"]);
        let event_source = text(root, &["eventSource"]);
        let event_id = text(root, &["eventID"]);
        let source_ip = text(root, &["sourceIPAddress"]);

        RecordView {
            root,
            account,
            region,
            partition,
            event_name,
            event_source,
            event_id,
            source_ip,
            actor_type,
            actor_arn,
            principal,
            event_time,
            time,
        }
    }

    /// The record's evidence: built only for a new finding or a newer occurrence, never for an
    /// occurrence a merge would drop.
    fn base_evidence(&self) -> Evidence {
        let root = self.root;
        let safe = |s: &str| SafeText::bounded(s, SHORT_FIELD_MAX_CHARS);
        Evidence {
            actor_arn: self.actor_arn.as_deref().map(SafeText::new),
            actor_type: self.actor_type.map(safe),
            source_ip: self.source_ip.map(safe),
            user_agent: text(root, &["userAgent"])
                .map(|s| SafeText::bounded(s, USER_AGENT_MAX_CHARS)),
            event_source: self.event_source.map(safe),
            event_name: self.event_name.map(safe),
            error_code: text(root, &["errorCode"]).map(safe),
            error_message: text(root, &["errorMessage"]).map(SafeText::new),
            mfa_used: mfa_used(root),
            event_time: self.event_time,
            event_id: self.event_id.map(safe),
            details: details(root),
        }
    }

    /// The fingerprint of `rule`'s finding for this record: source, rule, account, region and
    /// the rule's `fingerprint_fields`.
    pub(crate) fn fingerprint(&self, rule: &Detection) -> Fingerprint {
        let keys: Vec<&str> = rule
            .fingerprint_fields
            .iter()
            .map(|f| resolve(self.root, f).unwrap_or(""))
            .collect();
        Fingerprint::new(
            Source::Cloudtrail,
            &rule.id,
            &self.account,
            &self.region,
            &keys,
        )
    }

    /// The record's evidence as `rule` reports it. `also_matched` names the covered rules that
    /// matched the same record.
    fn evidence(&self, rule: &Detection, also_matched: &[&Detection]) -> Evidence {
        let mut evidence = self.base_evidence();
        if let Some(cis) = &rule.cis_id {
            evidence.details.insert("cis_id".into(), SafeText::new(cis));
        }
        if !also_matched.is_empty() {
            let names: Vec<String> = also_matched
                .iter()
                .map(|r| match &r.cis_id {
                    Some(cis) => format!("{} ({cis})", r.id),
                    None => r.id.clone(),
                })
                .collect();
            evidence
                .details
                .insert("also_matched".into(), SafeText::new(&names.join(", ")));
        }
        evidence
    }

    /// The finding `rule` makes of this record.
    pub(crate) fn finding(
        &self,
        rule: &Detection,
        also_matched: &[&Detection],
        fingerprint: Fingerprint,
    ) -> Finding {
        Finding {
            fingerprint,
            status: Status::Active,
            severity: rule.severity,
            source: Source::Cloudtrail,
            rule_id: SafeText::new(&rule.id),
            title: SafeText::bounded(&self.title(rule), TITLE_MAX_CHARS),
            description: SafeText::bounded(&self.description(rule), DESCRIPTION_MAX_CHARS),
            account: SafeText::bounded(&self.account, 64),
            region: SafeText::bounded(&self.region, 64),
            resources: rule
                .resources
                .iter()
                .filter_map(|spec| self.resource(spec))
                .collect(),
            principal: self.principal.as_deref().map(SafeText::new),
            first_seen: self.time,
            last_seen: self.time,
            count: 1,
            evidence: self.evidence(rule, also_matched),
            console_url: self
                .event_id
                .and_then(|id| console::cloudtrail_event(&self.region, id)),
            remediation: SafeText::new(&rule.remediation),
        }
    }

    /// Folds this record's count and times into `existing`, the finding of the same
    /// fingerprint from an earlier record, as [`Finding::merge`] does. Returns whether this
    /// occurrence is the newer one, whose evidence, status and severity then win
    /// ([`Self::replace_evidence`]); the title, description, resources and link stay the first
    /// occurrence's.
    pub(crate) fn merge_counts(&self, existing: &mut Finding) -> bool {
        existing.count = existing.count.saturating_add(1);
        let newer = self.time >= existing.last_seen;
        existing.first_seen = existing.first_seen.min(self.time);
        existing.last_seen = existing.last_seen.max(self.time);
        newer
    }

    /// The newer occurrence's part of a merge.
    pub(crate) fn replace_evidence(
        &self,
        existing: &mut Finding,
        rule: &Detection,
        also_matched: &[&Detection],
    ) {
        existing.evidence = self.evidence(rule, also_matched);
        existing.status = Status::Active;
        existing.severity = rule.severity;
    }

    /// "Root account used: ConsoleLogin from 192.0.2.1",
    /// "Unauthorized API call: AssumeRole by user/christophe from 203.0.113.51".
    fn title(&self, rule: &Detection) -> String {
        let mut title = format!("{}: {}", rule.title, self.event_name.unwrap_or("event"));
        if self.actor_type != Some("Root")
            && let Some(who) = self.short_principal()
        {
            let _ = write!(title, " by {who}");
        }
        if let Some(ip) = self.source_ip {
            let _ = write!(title, " from {ip}");
        }
        title
    }

    /// The resource part of the principal's ARN (`user/alice`, `assumed-role/Role/session`), or
    /// the principal as it is.
    fn short_principal(&self) -> Option<&str> {
        let principal = self.principal.as_deref()?;
        Some(
            principal
                .strip_prefix("arn:")
                .and_then(|rest| rest.splitn(5, ':').nth(4))
                .filter(|r| !r.is_empty())
                .unwrap_or(principal),
        )
    }

    fn description(&self, rule: &Detection) -> String {
        let mut d = rule.description.clone();
        let who = self.principal.as_deref().unwrap_or("an unknown principal");
        let _ = write!(d, " {who}");
        if let Some(kind) = self.actor_type {
            let _ = write!(d, " ({kind})");
        }
        let _ = write!(
            d,
            " called {}:{} in account {} ({})",
            self.event_source.unwrap_or("?"),
            self.event_name.unwrap_or("?"),
            self.account,
            self.region
        );
        if let Some(time) = self.event_time {
            let _ = write!(d, " at {}", time.to_rfc3339());
        }
        if let Some(ip) = self.source_ip {
            let _ = write!(d, " from {ip}");
        }
        if let Some(code) = text(self.root, &["errorCode"]) {
            let _ = write!(d, "; denied with {code}");
            if let Some(message) = text(self.root, &["errorMessage"]) {
                let _ = write!(d, ": {message}");
            }
        }
        d.push('.');
        d
    }

    fn resource(&self, spec: &ResourceSpec) -> Option<Resource> {
        let id = resolve(self.root, &spec.id)?;
        let arn = if id.starts_with("arn:") {
            Some(id.to_owned())
        } else {
            spec.arn.as_ref().map(|template| {
                template
                    .replace("{partition}", self.partition)
                    .replace("{region}", &self.region)
                    .replace("{account}", &self.account)
                    .replace("{id}", id)
            })
        };
        Some(Resource {
            kind: SafeText::new(&spec.kind),
            id: SafeText::bounded(id, SHORT_FIELD_MAX_CHARS),
            arn: arn.as_deref().map(SafeText::new),
        })
    }

    pub(crate) fn actor_arn(&self) -> Option<&str> {
        self.actor_arn.as_deref()
    }
}

/// `additionalEventData.MFAUsed` ("Yes"/"No" — AWS's own documentation also shows "YES", so
/// case is ignored), else the session's `mfaAuthenticated` ("true"/"false").
fn mfa_used(root: JsonValue<'_>) -> Option<bool> {
    let yes_no = |v: JsonValue<'_>| -> Option<bool> {
        if let Some(b) = v.as_bool() {
            return Some(b);
        }
        let s = v.as_str()?.trim();
        if s.eq_ignore_ascii_case("yes") || s.eq_ignore_ascii_case("true") {
            Some(true)
        } else if s.eq_ignore_ascii_case("no") || s.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    };
    at(root, &["additionalEventData", "MFAUsed"])
        .and_then(yes_no)
        .or_else(|| {
            at(
                root,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "mfaAuthenticated",
                ],
            )
            .and_then(yes_no)
        })
}

fn details(root: JsonValue<'_>) -> BTreeMap<String, SafeText> {
    let mut details = BTreeMap::new();
    let mut put = |key: &str, path: &[&str]| {
        if let Some(v) = at(root, path).and_then(|v| v.scalar_text())
            && !v.is_empty()
        {
            details.insert(key.to_owned(), SafeText::bounded(v, SHORT_FIELD_MAX_CHARS));
        }
    };
    put("event_type", &["eventType"]);
    put("user_name", &["userIdentity", "userName"]);
    put("access_key_id", &["userIdentity", "accessKeyId"]);
    put("invoked_by", &["userIdentity", "invokedBy"]);
    put(
        "session_issuer",
        &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
    );
    put("console_login", &["responseElements", "ConsoleLogin"]);
    put("recipient_account", &["recipientAccountId"]);
    put("vpc_endpoint_id", &["vpcEndpointId"]);
    if let Some(params) = root.get("requestParameters")
        && params.kind() == JsonKind::Object
    {
        let mut members = params.members();
        for (key, value) in members.by_ref().take(REQUEST_PARAMETERS_MAX_KEYS) {
            let key = format!(
                "request.{}",
                SafeText::bounded(key, REQUEST_KEY_MAX_CHARS).as_str()
            );
            details.insert(
                key,
                SafeText::bounded(&render(value), REQUEST_VALUE_MAX_CHARS),
            );
        }
        let omitted = members.count();
        if omitted > 0 {
            details.insert(
                "request_omitted_keys".into(),
                SafeText::new(&omitted.to_string()),
            );
        }
    }
    details
}

/// A compact, bounded rendering of a request parameter: strings as they are, containers as
/// compact JSON, cut once long enough to fill the value's bound.
fn render(value: JsonValue<'_>) -> String {
    let mut out = String::new();
    if let Some(s) = value.as_str() {
        out.push_str(s);
    } else {
        render_into(value, &mut out, 0);
    }
    out
}

fn render_into(value: JsonValue<'_>, out: &mut String, depth: usize) {
    // Enough characters to fill REQUEST_VALUE_MAX_CHARS after sanitising; stop beyond.
    let budget = REQUEST_VALUE_MAX_CHARS * 4;
    if out.len() > budget {
        return;
    }
    match value.kind() {
        JsonKind::Null => out.push_str("null"),
        JsonKind::Bool | JsonKind::Number => out.push_str(value.scalar_text().unwrap_or("")),
        JsonKind::String => {
            let _ = write!(out, "{:?}", value.as_str().unwrap_or(""));
        }
        JsonKind::Array | JsonKind::Object if depth >= RENDER_MAX_DEPTH => out.push('…'),
        JsonKind::Array => {
            out.push('[');
            for (i, element) in value.elements().enumerate() {
                if out.len() > budget {
                    out.push('…');
                    break;
                }
                if i > 0 {
                    out.push(',');
                }
                render_into(element, out, depth + 1);
            }
            out.push(']');
        }
        JsonKind::Object => {
            out.push('{');
            for (i, (key, member)) in value.members().enumerate() {
                if out.len() > budget {
                    out.push('…');
                    break;
                }
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{key:?}:");
                render_into(member, out, depth + 1);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use triage_filter_pattern::Message;

    use super::*;

    #[test]
    fn mfa_used_reads_yes_no_in_any_case_and_falls_back_to_the_session() {
        let cases = [
            (r#"{"additionalEventData":{"MFAUsed":"Yes"}}"#, Some(true)),
            (r#"{"additionalEventData":{"MFAUsed":"YES"}}"#, Some(true)),
            (r#"{"additionalEventData":{"MFAUsed":"No"}}"#, Some(false)),
            (r#"{"additionalEventData":{"MFAUsed":"maybe"}}"#, None),
            (
                r#"{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"true"}}}}"#,
                Some(true),
            ),
            (r#"{"eventName":"x"}"#, None),
        ];
        for (record, want) in cases {
            let m = Message::new(record);
            assert_eq!(m.json().and_then(mfa_used), want, "{record}");
        }
    }

    #[test]
    fn request_parameters_are_summarised_with_bounds() {
        let mut params = String::from("{");
        for i in 0..30 {
            params.push_str(&format!("\"k{i:02}\":\"v\","));
        }
        params.push_str(&format!(
            "\"nested\":{{\"a\":[1,2,{{\"b\":null}}]}},\"huge\":\"{}\"}}",
            "x".repeat(5000)
        ));
        let record = format!(r#"{{"requestParameters":{params}}}"#);
        let m = Message::new(&record);
        let d = m.json().map(details).unwrap_or_default();
        let request: Vec<&String> = d.keys().filter(|k| k.starts_with("request.")).collect();
        assert_eq!(request.len(), REQUEST_PARAMETERS_MAX_KEYS);
        assert_eq!(
            d.get("request_omitted_keys").map(SafeText::as_str),
            Some("12")
        );

        let record = format!(
            r#"{{"requestParameters":{{"nested":{{"a":[1,2,{{"b":null}}]}},"huge":"{}","bad\u001bkey":"x\ny"}}}}"#,
            "x".repeat(5000)
        );
        let m = Message::new(&record);
        let d = m.json().map(details).unwrap_or_default();
        assert_eq!(
            d.get("request.nested").map(SafeText::as_str),
            Some(r#"{"a":[1,2,{"b":null}]}"#)
        );
        let huge = d.get("request.huge").map(SafeText::as_str).unwrap_or("");
        assert_eq!(huge.chars().count(), REQUEST_VALUE_MAX_CHARS);
        assert_eq!(d.get("request.bad key").map(SafeText::as_str), Some("x y"));
    }

    #[test]
    fn deep_request_parameters_render_without_recursing_forever() {
        let deep = format!(
            r#"{{"requestParameters":{{"d":{}1{}}}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let m = Message::new(&deep);
        let d = m.json().map(details).unwrap_or_default();
        assert!(d.get("request.d").is_some_and(|v| v.as_str().contains('…')));
    }
}
