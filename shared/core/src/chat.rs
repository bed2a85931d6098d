//! Chat: alerts and digests as Amazon Q Developer in chat applications (formerly AWS Chatbot)
//! custom notifications, so that Slack and Microsoft Teams channels subscribed to the alert and
//! digest topics show a readable card instead of triage's JSON.
//!
//! The documented event format is `{"version": "1.0", "source": "custom", "id", "content":
//! {"textType": "client-markdown", "title", "description", "nextSteps": […], "keywords": […]},
//! "metadata": {"threadId", "summary", "eventType", "relatedResources": […],
//! "additionalContext": {…}}}`; `version`, `source` and `content.description` are required. An
//! alert's `threadId` is its fingerprint, so a problem's pages (an open, then an update after a
//! quiet window) thread together.
//!
//! Amazon Q Developer subscribes to a topic over HTTPS, so the notification is the `https` entry
//! of the SNS message (`MessageStructure=json`): email subscribers keep the `email` text and
//! queues, functions and every other protocol the `default` JSON. Any other HTTPS subscriber of
//! the topics gets the chat notification too; machines should subscribe a queue or a function,
//! or use the EventBridge events.
//!
//! AWS documents no size limits for these fields; the bounds below are triage's, well inside
//! what Slack and Teams show. Every value from an event is [`plain`] text (no live link,
//! mention or HTML) and, where it is a name rather than prose, inline code (` `…` `), so that
//! chat markdown neither formats nor links it. Links are triage's own (the console link).

use serde_json::{Value, json};

use crate::finding::Finding;
use crate::text::plain;

pub const MAX_TITLE_CHARS: usize = 250;
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_LIST_ITEMS: usize = 5;
pub const MAX_ITEM_CHARS: usize = 500;
pub const MAX_KEYWORD_CHARS: usize = 50;
pub const MAX_CONTEXT_VALUE_CHARS: usize = 256;
/// The whole notification, in bytes.
pub const MAX_NOTIFICATION_BYTES: usize = 16 * 1024;

/// An event value as inline code: neutralised, bounded, without a backtick to close the span.
fn code(raw: &str, max: usize) -> String {
    let text = plain(raw, max).replace('`', "'");
    if text.is_empty() {
        "-".to_owned()
    } else {
        format!("`{text}`")
    }
}

/// At most `max` characters.
fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The custom notification of a page for `finding` (`alert_id` its deduplication key).
pub fn alert_notification(finding: &Finding, alert_id: &str) -> Value {
    let severity = finding.severity.as_str().to_ascii_uppercase();
    let title = bounded(
        &format!("[{severity}] {}", plain(finding.title.as_str(), 256)),
        MAX_TITLE_CHARS,
    );
    let mut lines = vec![
        format!(
            "*Account* {}   *Region* {}",
            code(finding.account.as_str(), 64),
            code(finding.region.as_str(), 64)
        ),
        format!(
            "*Rule* {} ({})",
            code(finding.rule_id.as_str(), 256),
            finding.source
        ),
    ];
    if let Some(name) = finding
        .evidence
        .details
        .get(crate::accounts::ACCOUNT_NAME_DETAIL)
    {
        lines[0].push_str(&format!(" ({})", code(name.as_str(), 64)));
    }
    if let Some(r) = finding.primary_resource() {
        let name = r.arn.as_ref().unwrap_or(&r.id);
        lines.push(format!(
            "*Resource* {} {}",
            code(r.kind.as_str(), 128),
            code(name.as_str(), 512)
        ));
    }
    if let Some(p) = &finding.principal {
        lines.push(format!("*Principal* {}", code(p.as_str(), 512)));
    }
    if let Some(ip) = &finding.evidence.source_ip {
        lines.push(format!("*Source IP* {}", code(ip.as_str(), 64)));
    }
    lines.push(format!(
        "*Seen* {} (x{})",
        finding.last_seen.to_rfc3339(),
        finding.count
    ));
    lines.push(String::new());
    lines.push(plain(finding.description.as_str(), 1500));
    let mut next_steps = vec![bounded(
        &plain(finding.remediation.as_str(), 1024),
        MAX_ITEM_CHARS,
    )];
    if let Some(url) = &finding.console_url {
        next_steps.push(bounded(&format!("Console: {url}"), MAX_ITEM_CHARS));
    }
    next_steps.push(format!(
        "Ticket: fingerprint {} (alert {alert_id})",
        finding.fingerprint
    ));
    let related: Vec<String> = finding
        .resources
        .iter()
        .take(MAX_LIST_ITEMS)
        .map(|r| bounded(r.arn.as_ref().unwrap_or(&r.id).as_str(), MAX_ITEM_CHARS))
        .collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert_id,
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": bounded(&lines.join("\n"), MAX_DESCRIPTION_CHARS),
            "nextSteps": next_steps,
            "keywords": [
                finding.severity.as_str(),
                finding.source.as_str(),
                bounded(&plain(finding.account.as_str(), 64), MAX_KEYWORD_CHARS),
            ],
        },
        "metadata": {
            "threadId": finding.fingerprint.as_str(),
            "summary": title,
            "eventType": "triage-alert",
            "relatedResources": related,
            "additionalContext": {
                "fingerprint": finding.fingerprint.as_str(),
                "alert_id": alert_id,
                "severity": finding.severity.as_str(),
                "source": finding.source.as_str(),
                "account": bounded(&plain(finding.account.as_str(), 64), MAX_CONTEXT_VALUE_CHARS),
                "rule": bounded(&plain(finding.rule_id.as_str(), 256), MAX_CONTEXT_VALUE_CHARS),
            },
        },
    })
}

/// The custom notification of a digest message: its subject as the title and the head of its
/// email text (already neutralised) as the description, in a code block so that chat markdown
/// keeps its columns and formats nothing in it.
pub fn digest_notification(subject: &str, text: &str, part: usize, parts: usize) -> Value {
    let fence = "```";
    let body = bounded(
        &text.replace(fence, "'''"),
        MAX_DESCRIPTION_CHARS - 2 * fence.len() - 2,
    );
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": bounded(subject, MAX_TITLE_CHARS),
            "description": format!("{fence}\n{body}\n{fence}"),
            "nextSteps": [
                "The whole digest is in the email and, as JSON, on the digest topic's other subscriptions."
            ],
            "keywords": ["digest"],
        },
        "metadata": {
            "summary": bounded(subject, MAX_TITLE_CHARS),
            "eventType": "triage-digest",
            "additionalContext": {
                "part": format!("{part}/{parts}"),
            },
        },
    })
}
