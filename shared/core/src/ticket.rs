//! What leaves triage: ticket events for the FIFO ticket queue, digest entries for the digest
//! queue and alerts for the SNS alert topic. The ticket-event JSON is a versioned contract,
//! described by `schema/ticket-event.schema.json`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::ACCOUNT_NAME_DETAIL;
use crate::finding::{Finding, Fingerprint, Source};
use crate::severity::Severity;
use crate::text::{SafeText, plain};

/// The version of the digest-entry, digest-batch, digest and alert JSON. Bumped on any
/// incompatible change. 2: `source` may also be `guardduty` or `securityhub` (version 1 knew
/// `cloudtrail`, `alarm` and `config` only); nothing else changed, so the digest still reads
/// version 1 entries left on its queue across an upgrade.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest digest-entry version the digest function still reads.
pub const OLDEST_READABLE_SCHEMA_VERSION: u32 = 1;

/// The version of the ticket-event JSON. 2: every event carries its fingerprint's `sequence`
/// and the `event_time` it reflects (version 1 had neither). 3: `finding.source` may also be
/// `guardduty` or `securityhub`; nothing else changed.
pub const TICKET_EVENT_SCHEMA_VERSION: u32 = 3;

/// What a ticket system should do with the ticket keyed by the fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketAction {
    /// A new problem: create a ticket.
    Open,
    /// The problem recurred after its dedup window: update the ticket (count changed).
    Update,
    /// The problem went away (Config COMPLIANT, alarm OK): close the ticket.
    Resolve,
}

impl TicketAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketAction::Open => "open",
            TicketAction::Update => "update",
            TicketAction::Resolve => "resolve",
        }
    }
}

/// One message on the ticket queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub schema_version: u32,
    pub action: TicketAction,
    pub fingerprint: Fingerprint,
    /// Strictly greater than the sequence of every earlier ticket event of the fingerprint (not
    /// consecutive). A consumer applies an event only if its sequence is greater than the last
    /// one it applied for the fingerprint: a copy or an overtaken event changes nothing.
    pub sequence: u64,
    /// When the event this ticket event reflects happened (the finding's last sighting; for a
    /// resolve, the time of the resolving event).
    pub event_time: DateTime<Utc>,
    pub finding: Finding,
}

impl TicketEvent {
    /// The ticket event number `sequence` of the finding's fingerprint (the dedup state hands
    /// out sequences: [`crate::dedup::next_sequence`]).
    pub fn new(action: TicketAction, finding: Finding, sequence: u64) -> Self {
        TicketEvent {
            schema_version: TICKET_EVENT_SCHEMA_VERSION,
            action,
            fingerprint: finding.fingerprint.clone(),
            sequence,
            event_time: finding.last_seen,
            finding,
        }
    }

    /// The JSON body as sent. Deterministic: the same ticket event always gives the same bytes.
    pub fn body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The FIFO `MessageGroupId`: one group per problem, so its events stay in order.
    pub fn message_group_id(&self) -> &str {
        self.fingerprint.as_str()
    }

    /// The FIFO `MessageDeduplicationId`: a hash of the body. A retried invocation rebuilds the
    /// same ticket event from the same input, so SQS drops the second copy.
    pub fn deduplication_id(&self, body: &str) -> String {
        hex::encode(Sha256::digest(body.as_bytes()))
    }
}

/// What a digest line reports about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestKind {
    /// First seen: a ticket was opened (or the finding is digest-only).
    New,
    /// Seen again: merged into an existing ticket.
    Repeat,
    /// Went away.
    Resolved,
    /// Matched a suppression: no ticket, no page, counted here.
    Suppressed,
}

/// Suppression ids are short identifiers (validated when the file loads); bounded anyway.
const MAX_SUPPRESSION_ID_CHARS: usize = 128;

/// One message on the digest queue: a compact line, not the whole finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub schema_version: u32,
    /// Hash of the entry's content: an entry delivered twice is counted once.
    pub entry_id: String,
    pub kind: DigestKind,
    pub fingerprint: Fingerprint,
    pub severity: Severity,
    pub source: Source,
    pub rule_id: SafeText,
    pub title: SafeText,
    pub account: SafeText,
    pub region: SafeText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<SafeText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<SafeText>,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// The id of the suppression (`policy/suppressions.toml`) that silenced a `suppressed` entry,
    /// so the digest says which entry is hiding what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SafeText>,
}

impl DigestEntry {
    pub fn new(kind: DigestKind, finding: &Finding) -> Self {
        let resource = finding
            .primary_resource()
            .map(|r| r.arn.clone().unwrap_or_else(|| r.id.clone()));
        let mut entry = DigestEntry {
            schema_version: SCHEMA_VERSION,
            entry_id: String::new(),
            kind,
            fingerprint: finding.fingerprint.clone(),
            severity: finding.severity,
            source: finding.source,
            rule_id: finding.rule_id.clone(),
            title: finding.title.clone(),
            account: finding.account.clone(),
            region: finding.region.clone(),
            resource,
            principal: finding.principal.clone(),
            count: finding.count,
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            console_url: finding.console_url.clone(),
            suppression: None,
        };
        entry.entry_id = entry.content_hash();
        entry
    }

    /// A `suppressed` entry for a finding the suppression `id` silenced.
    pub fn suppressed(finding: &Finding, id: &str) -> Self {
        let mut entry = DigestEntry::new(DigestKind::Suppressed, finding);
        entry.suppression = Some(SafeText::bounded(id, MAX_SUPPRESSION_ID_CHARS));
        entry.entry_id = entry.content_hash();
        entry
    }

    fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        // serde_json of a struct is deterministic; entry_id is empty while hashing.
        let mut copy = self.clone();
        copy.entry_id = String::new();
        hasher.update(serde_json::to_vec(&copy).unwrap_or_default());
        hex::encode(&hasher.finalize()[..16])
    }

    pub fn body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// SNS allows at most 100 characters of ASCII in a subject.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// An SNS message attribute value: one string, or a list of them (`String.Array`). A filter
/// policy `{"account": ["444455556666"]}` matches either when it holds that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    Strings(Vec<String>),
}

/// The SNS message attributes of an alert or a digest message, in order: what subscription
/// filter policies route on (`kind`, `severity`, `source`, `rule`, `account`, `action`), at most
/// seven, so that SQS raw delivery's limit of ten is never reached.
pub type MessageAttributes = Vec<(&'static str, AttributeValue)>;

/// Longest attribute value: rule ids and accounts are far shorter; a forged one is cut.
const MAX_ATTRIBUTE_CHARS: usize = 256;
/// Most values of one `String.Array` attribute (a digest naming many rules or accounts lists
/// the first ones; its JSON has them all).
pub const MAX_ATTRIBUTE_VALUES: usize = 50;

/// An attribute value from (already sanitised) finding text: bounded, never empty (SNS refuses
/// an empty value).
pub(crate) fn attribute_text(text: &str) -> String {
    let cut: String = text.chars().take(MAX_ATTRIBUTE_CHARS).collect();
    if cut.is_empty() { "-".to_owned() } else { cut }
}

/// An immediate page for a critical finding.
///
/// SNS topics that reach people (email, SMS, chat, paging services) do not deduplicate, and a
/// publish whose answer is lost is published again by the retry. Every alert therefore carries
/// an [`id`](Alert::id): a hash of the finding it pages for, the same for every copy (a retry
/// rebuilds the same finding, or re-sends the one stored in the dedup state) and different for
/// the next page of the same problem (its count and times differ). A paging integration uses it
/// as its deduplication key (PagerDuty `dedup_key`, Opsgenie `alias`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub fingerprint: Fingerprint,
    /// 32 hex digits; in the JSON (`alert_id`), the email text and the SNS message attribute
    /// `alert_id`.
    pub id: String,
    /// ASCII, at most [`MAX_SUBJECT_CHARS`] characters, no control characters.
    pub subject: String,
    /// A short human text for email.
    pub text: String,
    /// The whole finding as JSON, for machines.
    pub json: String,
    /// The Amazon Q Developer in chat applications custom notification ([`crate::chat`]).
    pub chat: String,
    /// What the ticket event it accompanies does: `open`, or `update` (a page again after a
    /// quiet window). Set by the router when it sends the alert with its ticket event.
    pub action: TicketAction,
    pub severity: Severity,
    pub source: Source,
    pub rule: String,
    pub account: String,
    /// The finding's resource ARNs, for its event on triage's bus.
    pub resources: Vec<String>,
}

impl Alert {
    pub fn for_finding(finding: &Finding) -> Result<Self, serde_json::Error> {
        let digest = Sha256::digest(serde_json::to_string(finding)?.as_bytes());
        let id = hex::encode(&digest[..16]);
        let subject = alert_subject(finding);
        let text = alert_text(finding, &id);
        let json = serde_json::to_string(&AlertJson {
            schema_version: SCHEMA_VERSION,
            kind: "alert",
            alert_id: &id,
            finding,
        })?;
        let chat = crate::chat::alert_notification(finding, &id).to_string();
        Ok(Alert {
            fingerprint: finding.fingerprint.clone(),
            id,
            subject,
            text,
            json,
            chat,
            action: TicketAction::Open,
            severity: finding.severity,
            source: finding.source,
            rule: attribute_text(finding.rule_id.as_str()),
            account: attribute_text(finding.account.as_str()),
            resources: event_resources(finding),
        })
    }

    /// The alert as it accompanies a ticket event of `action`: an update's chat card says the
    /// problem is back (it threads under the open's).
    pub fn with_action(self, action: TicketAction) -> Self {
        let chat = if action == TicketAction::Update {
            crate::chat::again(&self.chat)
        } else {
            self.chat
        };
        Alert {
            action,
            chat,
            ..self
        }
    }

    /// The alert without its chat card: HTTPS subscribers get the JSON (`CHAT_NOTIFICATIONS`
    /// disabled).
    pub fn without_chat(self) -> Self {
        Alert {
            chat: String::new(),
            ..self
        }
    }

    /// The SNS message attributes a subscription filter policy routes on, `alert_id` first
    /// (paging integrations key on it).
    pub fn attributes(&self) -> MessageAttributes {
        let s = |v: &str| AttributeValue::String(v.to_owned());
        vec![
            ("alert_id", s(&self.id)),
            ("kind", s("alert")),
            ("severity", s(self.severity.as_str())),
            ("source", s(self.source.as_str())),
            ("rule", s(&self.rule)),
            ("account", s(&self.account)),
            ("action", s(self.action.as_str())),
        ]
    }

    /// The SNS `Message` for `MessageStructure=json`: the human text for email, the chat
    /// notification (when there is one) for HTTPS (how Amazon Q Developer in chat applications
    /// subscribes), the JSON for every other protocol (SQS, Lambda, HTTPS without chat).
    pub fn sns_message(&self) -> Result<String, serde_json::Error> {
        let mut message = serde_json::json!({
            "default": self.json,
            "email": self.text,
        });
        if !self.chat.is_empty() {
            message["https"] = serde_json::Value::String(self.chat.clone());
        }
        serde_json::to_string(&message)
    }
}

#[derive(Serialize)]
struct AlertJson<'a> {
    schema_version: u32,
    kind: &'static str,
    alert_id: &'a str,
    finding: &'a Finding,
}

/// The finding's account, with its name (`policy/accounts.toml`) when the router knew it.
fn account_label(finding: &Finding) -> String {
    let id = plain(finding.account.as_str(), 64);
    match finding.evidence.details.get(ACCOUNT_NAME_DETAIL) {
        Some(name) => format!("{id} {}", plain(name.as_str(), 64)),
        None => id,
    }
}

fn alert_subject(finding: &Finding) -> String {
    let raw = format!(
        "[{}] {} ({})",
        finding.severity.as_str().to_ascii_uppercase(),
        plain(finding.title.as_str(), 256),
        account_label(finding)
    );
    let ascii: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= MAX_SUBJECT_CHARS {
        ascii
    } else {
        let mut cut: String = ascii.chars().take(MAX_SUBJECT_CHARS - 3).collect();
        cut.push_str("...");
        cut
    }
}

fn alert_text(finding: &Finding, id: &str) -> String {
    // Every value from the event is neutralised for a plain-text reader (`text::plain`), the
    // remediation too (a Security Hub finding brings its provider's); the console link,
    // fingerprint and id are triage's own.
    let p = |s: &str| plain(s, 1024);
    let mut lines = vec![
        format!(
            "{} — {}",
            finding.severity.as_str().to_uppercase(),
            p(finding.title.as_str())
        ),
        String::new(),
        format!(
            "Account: {}   Region: {}",
            account_label(finding),
            p(finding.region.as_str())
        ),
        format!("Rule: {} ({})", p(finding.rule_id.as_str()), finding.source),
    ];
    if let Some(r) = finding.primary_resource() {
        let name = r.arn.as_ref().unwrap_or(&r.id);
        lines.push(format!(
            "Resource: {} {}",
            p(r.kind.as_str()),
            p(name.as_str())
        ));
    }
    if let Some(principal) = &finding.principal {
        lines.push(format!("Principal: {}", p(principal.as_str())));
    }
    let e = &finding.evidence;
    if let Some(ip) = &e.source_ip {
        lines.push(format!("Source IP: {}", p(ip.as_str())));
    }
    if let Some(name) = &e.event_name {
        lines.push(format!("Event: {}", p(name.as_str())));
    }
    lines.push(format!(
        "Seen: {} (x{})",
        finding.last_seen.to_rfc3339(),
        finding.count
    ));
    lines.push(String::new());
    lines.push(plain(finding.description.as_str(), 600));
    lines.push(String::new());
    lines.push(format!(
        "Remediation: {}",
        plain(finding.remediation.as_str(), 1024)
    ));
    if let Some(url) = &finding.console_url {
        lines.push(format!("Console: {url}"));
    }
    lines.push(format!("Fingerprint: {}", finding.fingerprint));
    lines.push(format!("Alert id: {id}"));
    lines.join("\n")
}

/// The `source` of every event triage puts on its EventBridge bus.
pub const EVENT_SOURCE: &str = "triage";

/// One event for triage's EventBridge bus: every ticket event and every alert, as sent, under a
/// detail-type per kind (`Ticket Opened`, `Ticket Updated`, `Ticket Resolved`, `Alert`), so that
/// a rule can match a kind and any EventBridge target (an API destination, a paging service, a
/// SIEM) can take it. The detail is the ticket event's or the alert's JSON, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    pub detail_type: &'static str,
    pub detail: String,
    /// The ARNs of the finding's resources (EventBridge's `resources`), at most 10.
    pub resources: Vec<String>,
}

/// The detail-types of triage's events.
pub const DETAIL_TYPES: [&str; 4] = [
    "Ticket Opened",
    "Ticket Updated",
    "Ticket Resolved",
    "Alert",
];

fn event_resources(finding: &Finding) -> Vec<String> {
    finding
        .resources
        .iter()
        .filter_map(|r| r.arn.as_ref())
        .filter(|a| a.as_str().starts_with("arn:") && a.as_str().len() <= 1600)
        .take(10)
        .map(|a| a.as_str().to_owned())
        .collect()
}

impl TicketEvent {
    /// This ticket event for the bus, with its body as sent to the ticket queue.
    pub fn bus_event(&self, body: &str) -> BusEvent {
        BusEvent {
            detail_type: match self.action {
                TicketAction::Open => DETAIL_TYPES[0],
                TicketAction::Update => DETAIL_TYPES[1],
                TicketAction::Resolve => DETAIL_TYPES[2],
            },
            detail: body.to_owned(),
            resources: event_resources(&self.finding),
        }
    }
}

impl Alert {
    /// This alert for the bus: its JSON (`alert_id`, the finding).
    pub fn bus_event(&self) -> BusEvent {
        BusEvent {
            detail_type: DETAIL_TYPES[3],
            detail: self.json.clone(),
            resources: self.resources.clone(),
        }
    }
}
