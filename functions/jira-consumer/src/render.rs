//! What an issue says, in Atlassian Document Format (ADF), the JSON document model of Jira
//! Cloud's REST API v3.
//!
//! Escaping: in ADF, text is data. A `text` node is shown as written; Jira interprets no wiki
//! markup (`{code}`, `[label|url]`, `*bold*`, `!image!`), no mention and no macro in it; a link
//! is a link only through a `link` mark, and mentions are `mention` nodes, which triage never
//! writes. So untrusted strings from events go into text nodes only, and are also defused as in
//! the email texts ([`plain`]: `http(s)://` → `hxxp(s)://`, `@` → `＠`, `<` → `‹`, `](` → `] (`),
//! so that a URL chosen by whoever wrote the event is not turned into a link by a client's
//! auto-linking, nor pasted from the issue into a chat as one. The one link triage writes is the
//! finding's console link, and only if it points at the AWS console.

use serde_json::{Value, json};
use triage_core::text::plain;
use triage_core::{Finding, SafeText, TicketEvent};

/// Jira's limit on a summary.
pub const SUMMARY_MAX_CHARS: usize = 255;
/// Bound on one text node of a description or comment (an annotation, a description).
const TEXT_MAX_CHARS: usize = 2000;
/// Bound on a short field (an account, a resource id).
const FIELD_MAX_CHARS: usize = 300;
/// Evidence details listed at most.
const MAX_DETAILS: usize = 30;

fn text(s: &str) -> Value {
    json!({"type": "text", "text": s})
}

fn strong(s: &str) -> Value {
    json!({"type": "text", "text": s, "marks": [{"type": "strong"}]})
}

fn paragraph(content: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": content})
}

fn heading(s: &str) -> Value {
    json!({"type": "heading", "attrs": {"level": 3}, "content": [text(s)]})
}

fn doc(content: Vec<Value>) -> Value {
    json!({"type": "doc", "version": 1, "content": content})
}

/// Untrusted text, defused and bounded; never empty (ADF refuses empty text nodes).
fn untrusted(s: &str, max: usize) -> String {
    let t = plain(s, max);
    if t.is_empty() { "—".to_owned() } else { t }
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "listItem", "content": [paragraph(vec![strong(&format!("{label}: ")), text(&untrusted(value, FIELD_MAX_CHARS))])]})
}

/// `[HIGH] <title>`: plain text, bounded to Jira's 255 characters.
pub fn summary(finding: &Finding) -> String {
    let prefix = format!("[{}] ", finding.severity.as_str().to_uppercase());
    let title = plain(
        finding.title.as_str(),
        SUMMARY_MAX_CHARS - prefix.chars().count(),
    );
    format!("{prefix}{title}")
}

fn opt(v: &Option<SafeText>) -> Option<&str> {
    v.as_ref().map(SafeText::as_str).filter(|s| !s.is_empty())
}

/// The description of a new issue.
pub fn description(event: &TicketEvent, previous: Option<&str>) -> Value {
    let f = &event.finding;
    let mut content = Vec::new();
    if let Some(previous) = previous {
        content.push(paragraph(vec![text(&format!(
            "This problem came back: it was ticketed in {previous}, which was closed when it went away."
        ))]));
    }
    if !f.description.is_empty() {
        content.push(paragraph(vec![text(&untrusted(
            f.description.as_str(),
            TEXT_MAX_CHARS,
        ))]));
    }
    let mut fields = vec![
        field("Severity", f.severity.as_str()),
        field("Source", f.source.as_str()),
        field("Rule", f.rule_id.as_str()),
        field("Account", f.account.as_str()),
        field("Region", f.region.as_str()),
    ];
    for r in &f.resources {
        let id = r.arn.as_ref().unwrap_or(&r.id);
        fields.push(field("Resource", &format!("{} {}", r.kind, id)));
    }
    if let Some(p) = opt(&f.principal) {
        fields.push(field("Principal", p));
    }
    fields.push(field("First seen", &f.first_seen.to_rfc3339()));
    fields.push(field("Last seen", &f.last_seen.to_rfc3339()));
    fields.push(field("Count", &f.count.to_string()));
    fields.push(field("Fingerprint", f.fingerprint.as_str()));
    content.push(heading("Finding"));
    content.push(json!({"type": "bulletList", "content": fields}));

    let e = &f.evidence;
    let mut evidence = Vec::new();
    for (label, value) in [
        ("Actor", opt(&e.actor_arn)),
        ("Actor type", opt(&e.actor_type)),
        ("Source IP", opt(&e.source_ip)),
        ("User agent", opt(&e.user_agent)),
        ("API", opt(&e.event_name)),
        ("Service", opt(&e.event_source)),
        ("Error", opt(&e.error_code)),
        ("Error message", opt(&e.error_message)),
        ("Event id", opt(&e.event_id)),
    ] {
        if let Some(v) = value {
            evidence.push(field(label, v));
        }
    }
    if let Some(mfa) = e.mfa_used {
        evidence.push(field("MFA used", if mfa { "yes" } else { "no" }));
    }
    for (k, v) in e.details.iter().take(MAX_DETAILS) {
        evidence.push(field(&untrusted(k, 64), v.as_str()));
    }
    if !evidence.is_empty() {
        content.push(heading("Evidence"));
        content.push(json!({"type": "bulletList", "content": evidence}));
    }
    if !f.remediation.is_empty() {
        content.push(heading("Remediation"));
        content.push(paragraph(vec![text(&untrusted(
            f.remediation.as_str(),
            TEXT_MAX_CHARS,
        ))]));
    }
    if let Some(link) = f
        .console_url
        .as_deref()
        .filter(|u| triage_core::console::is_console_url(u))
    {
        content.push(paragraph(vec![json!({
            "type": "text",
            "text": "Open in the AWS console",
            "marks": [{"type": "link", "attrs": {"href": link}}]
        })]));
    }
    content.push(paragraph(vec![text(&format!(
        "Opened by triage from ticket event {} of fingerprint {}.",
        event.sequence, f.fingerprint
    ))]));
    doc(content)
}

/// The comment of an update: the finding came back after its dedup window.
pub fn update_comment(event: &TicketEvent) -> Value {
    let f = &event.finding;
    doc(vec![paragraph(vec![text(&format!(
        "Seen again: {} occurrences since {}, the last at {} (severity {}). {}",
        f.count,
        f.first_seen.to_rfc3339(),
        f.last_seen.to_rfc3339(),
        f.severity.as_str(),
        untrusted(f.title.as_str(), FIELD_MAX_CHARS),
    ))])])
}

/// The comment of a resolve, made just before the issue is transitioned.
pub fn resolve_comment(event: &TicketEvent) -> Value {
    doc(vec![paragraph(vec![text(&format!(
        "Resolved at {}: the problem went away ({} {}). Closed by triage.",
        event.event_time.to_rfc3339(),
        event.finding.source.as_str(),
        untrusted(event.finding.rule_id.as_str(), FIELD_MAX_CHARS),
    ))])])
}

/// Every text node of an ADF document, for tests.
pub fn texts(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            out.push(t.to_owned());
        }
        if let Some(c) = v.get("content").and_then(Value::as_array) {
            c.iter().for_each(|v| walk(v, out));
        }
    }
    walk(doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::fakes::finding;
    use triage_core::text::{has_live_markup, is_hostile};
    use triage_core::{TicketAction, TicketEvent};

    fn hostile_event() -> TicketEvent {
        let mut f = finding("restricted-ssh");
        let evil = "{code}x{code} [click|https://evil.example] <img src=x onerror=alert(1)> @here \
                    [a](http://evil.example) !https://evil.example/i.png! \u{202e}gpj.exe\u{1b}[31m";
        f.title = SafeText::new(&format!("{evil}{}", "x".repeat(400)));
        f.description = SafeText::new(evil);
        f.principal = Some(SafeText::new(evil));
        f.evidence.user_agent = Some(SafeText::new(evil));
        f.evidence
            .details
            .insert("annotation".into(), SafeText::new(evil));
        f.console_url = Some("https://evil.example/?.console.aws.amazon.com".into());
        TicketEvent::new(TicketAction::Open, f, 1)
    }

    #[test]
    fn untrusted_text_reaches_jira_as_inert_bounded_text() {
        let e = hostile_event();
        let s = summary(&e.finding);
        assert!(
            s.chars().count() <= SUMMARY_MAX_CHARS,
            "{}",
            s.chars().count()
        );
        assert!(!has_live_markup(&s) && !s.chars().any(is_hostile), "{s}");
        for d in [
            description(&e, None),
            update_comment(&e),
            resolve_comment(&e),
        ] {
            for t in texts(&d) {
                assert!(!has_live_markup(&t), "{t}");
                assert!(!t.chars().any(is_hostile), "{t:?}");
                assert!(t.chars().count() <= TEXT_MAX_CHARS, "{}", t.chars().count());
            }
            // no link mark, no mention, no node but the ones triage writes
            let json = d.to_string();
            assert!(
                !json.contains("\"link\"") && !json.contains("mention"),
                "{json}"
            );
        }
    }

    #[test]
    fn the_console_link_is_a_link_only_to_the_aws_console() {
        // Which URLs are console links is triage_core::console::is_console_url's (tested there);
        // here: a console link becomes the one link mark, anything else none (see above).
        let mut e = hostile_event();
        e.finding.console_url = Some("https://us-east-1.console.aws.amazon.com/config/home".into());
        assert!(
            description(&e, None)
                .to_string()
                .contains("\"href\":\"https://us-east-1.console.aws.amazon.com/config/home\"")
        );
    }

    #[test]
    fn a_description_is_a_valid_adf_document_with_no_empty_text() {
        let mut e = TicketEvent::new(TicketAction::Open, finding("restricted-ssh"), 1);
        e.finding.description = SafeText::new("");
        e.finding.account = SafeText::new("");
        let d = description(&e, Some("SEC-1"));
        assert_eq!(d["type"], "doc");
        assert_eq!(d["version"], 1);
        assert!(texts(&d).iter().all(|t| !t.is_empty()));
        assert!(texts(&d)[0].contains("SEC-1"));
    }
}
