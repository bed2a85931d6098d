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
//! queues, functions and every other protocol the `default` JSON. Every HTTPS subscriber gets
//! it, paging services' SNS integrations included, so it is opt-in (`CHAT_NOTIFICATIONS`,
//! template parameter `ChatNotifications`): enable it on topics whose HTTPS subscribers are
//! chat channels.
//!
//! AWS documents no size limits for these fields; the bounds below are triage's, well inside
//! what Slack and Teams show, in characters and for the whole card in bytes. Every value from
//! an event is [`plain`] text (no live link, mention or HTML); a name is inline code (` `…` `),
//! prose has its markdown emphasis characters replaced by look-alikes and the dots of
//! host-like words bracketed (`evil[.]example`), so that chat markdown neither formats nor
//! links it. The only link is triage's own console link, left out rather than cut when long.

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

/// Event prose for chat markdown: neutralised ([`plain`]), emphasis characters replaced by
/// look-alikes (`*` `_` `~` `` ` `` → `∗` `ˍ` `˜` `ʼ`), and a dot between a letter or digit and a
/// letter bracketed, so that a bare host (`www.evil.example`) is not auto-linked.
fn prose(raw: &str, max: usize) -> String {
    let text = plain(raw, max);
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '*' => out.push('∗'),
            '_' => out.push('ˍ'),
            '~' => out.push('˜'),
            '`' => out.push('ʼ'),
            '.' if i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|n| n.is_alphabetic()) =>
            {
                out.push_str("[.]")
            }
            other => out.push(other),
        }
    }
    bounded(&out, max)
}

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
        &format!("[{severity}] {}", prose(finding.title.as_str(), 256)),
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
    lines.push(prose(finding.description.as_str(), 1500));
    let mut next_steps = vec![prose(finding.remediation.as_str(), MAX_ITEM_CHARS)];
    // A link cut short is a broken link: a long one is left out (the ticket has it).
    if let Some(url) = finding
        .console_url
        .as_ref()
        .filter(|u| u.chars().count() + "Console: ".len() <= MAX_ITEM_CHARS)
    {
        next_steps.push(format!("Console: {url}"));
    }
    next_steps.push(format!(
        "Ticket: fingerprint {} (alert {alert_id})",
        finding.fingerprint
    ));
    let related: Vec<String> = finding
        .resources
        .iter()
        .take(MAX_LIST_ITEMS)
        .map(|r| prose(r.arn.as_ref().unwrap_or(&r.id).as_str(), MAX_ITEM_CHARS))
        .collect();
    fit(json!({
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
                "action": "open",
            },
        },
    }))
}

/// An alert's card for an update: the problem is back after a quiet window (it threads under
/// the open's card). `card` is [`alert_notification`]'s JSON; anything else is left as is.
pub fn again(card: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(card) else {
        return card.to_owned();
    };
    if let Some(title) = v["content"]["title"].as_str() {
        let again = match title.split_once("] ") {
            Some((severity, rest)) => format!("{severity}] Again: {rest}"),
            None => format!("Again: {title}"),
        };
        let again = bounded(&again, MAX_TITLE_CHARS);
        v["content"]["title"] = Value::String(again.clone());
        v["metadata"]["summary"] = Value::String(again);
    }
    if v["metadata"]["additionalContext"].is_object() {
        v["metadata"]["additionalContext"]["action"] = Value::String("update".to_owned());
    }
    fit(v).to_string()
}

/// The card within [`MAX_NOTIFICATION_BYTES`]: the description is cut (by bytes, at a character
/// boundary) when the characters' bounds are not enough (multi-byte text).
fn fit(mut v: Value) -> Value {
    let size = v.to_string().len();
    if size <= MAX_NOTIFICATION_BYTES {
        return v;
    }
    let excess = size - MAX_NOTIFICATION_BYTES;
    if let Some(description) = v["content"]["description"].as_str() {
        // JSON escaping at most sextuples a character: cut generously.
        let keep = description.len().saturating_sub(excess + 64);
        let mut cut = keep;
        while cut > 0 && !description.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut shorter = description[..cut].to_owned();
        shorter.push('…');
        v["content"]["description"] = Value::String(shorter);
    }
    v
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
    fit(json!({
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
    }))
}
