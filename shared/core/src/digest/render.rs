//! Rendering a [`Digest`]: a plain-text email, the JSON for machines, one SNS message (split into
//! numbered parts only past SNS's size limit).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Digest, ResolvedLine, RuleLine, SuppressedLine};
use crate::finding::{Fingerprint, Source};
use crate::severity::Severity;
use crate::text::plain;
use crate::ticket::{
    AttributeValue, MAX_ATTRIBUTE_VALUES, MAX_SUBJECT_CHARS, MessageAttributes, SCHEMA_VERSION,
    attribute_text,
};

/// SNS's limit for a message (the whole `MessageStructure=json` document), in bytes.
pub const MAX_SNS_MESSAGE_BYTES: usize = 256 * 1024;

/// Room kept under [`MAX_SNS_MESSAGE_BYTES`] for the subject and the request's framing.
const SNS_MARGIN_BYTES: usize = 2 * 1024;

/// How a digest is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Lines per section in the text (the JSON lists every rule, suppression and resolution;
    /// resources and principals are top lists in both).
    pub top_n: usize,
    /// The largest SNS message (bytes of the `MessageStructure=json` document and of the
    /// message attributes) before it is split into parts.
    pub max_message_bytes: usize,
    /// Whether each message carries the chat notification for HTTPS subscribers
    /// (`CHAT_NOTIFICATIONS`).
    pub chat: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            top_n: 20,
            max_message_bytes: MAX_SNS_MESSAGE_BYTES - SNS_MARGIN_BYTES,
            chat: false,
        }
    }
}

/// One SNS message of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMessage {
    /// ASCII, at most [`MAX_SUBJECT_CHARS`] characters.
    pub subject: String,
    /// Plain text for email.
    pub text: String,
    /// The JSON document for machines.
    pub json: String,
    /// 1-based part number, and the number of parts.
    pub part: usize,
    pub parts: usize,
    /// The SNS message attributes subscription filter policies route on: the digest's
    /// severities, sources, rules, accounts and actions (every part carries the whole
    /// digest's).
    pub attributes: MessageAttributes,
    /// Whether the message carries the chat notification for HTTPS subscribers.
    pub chat: bool,
}

/// The most bytes of one `String.Array` attribute (the five lists stay under 6 KB of SNS's
/// 256 KB, which counts attributes too; the split reserves what they take in every part).
const MAX_ATTRIBUTE_LIST_BYTES: usize = 1024;

/// What `attributes` add to an SNS message's size: names, data types and values.
fn attributes_bytes(attributes: &MessageAttributes) -> usize {
    attributes
        .iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::String(s) => "String".len() + s.len(),
                    AttributeValue::Strings(list) => {
                        "String.Array".len() + list.iter().map(|v| v.len() + 3).sum::<usize>() + 2
                    }
                }
        })
        .sum()
}

impl Digest {
    /// The SNS message attributes of the digest: `kind` = `digest`, then as lists (`String.Array`)
    /// the severities (most severe first), sources, rules and accounts it names and its actions
    /// (`open` for new, `update` for repeats, `resolve`, `suppressed`), each at most
    /// [`MAX_ATTRIBUTE_VALUES`] values; a list with nothing in it is left out.
    pub fn attributes(&self) -> MessageAttributes {
        fn push<T: Into<String>>(list: &mut Vec<String>, value: T) {
            let value = attribute_text(&value.into());
            let bytes: usize = list.iter().map(|v| v.len() + 3).sum();
            if list.len() < MAX_ATTRIBUTE_VALUES
                && bytes + value.len() + 3 <= MAX_ATTRIBUTE_LIST_BYTES
                && !list.contains(&value)
            {
                list.push(value);
            }
        }
        let (mut severities, mut sources, mut rules, mut accounts, mut actions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // The severities of what happened (new and repeat occurrences), most severe first: a
        // resolved or suppressed critical does not make a digest critical.
        for (level, _) in &self.by_severity {
            push(&mut severities, level.as_str());
        }
        for (source, rule) in self
            .rules
            .iter()
            .map(|r| (r.source, &r.rule_id))
            .chain(self.suppressed.iter().map(|s| (s.source, &s.rule_id)))
            .chain(self.resolved.iter().map(|r| (r.source, &r.rule_id)))
        {
            push(&mut sources, source.as_str());
            push(&mut rules, rule.as_str());
        }
        for line in &self.accounts {
            push(&mut accounts, line.account.as_str());
        }
        for r in &self.resolved {
            push(&mut accounts, r.account.as_str());
        }
        let k = self.kinds;
        for (count, action) in [
            (k.new, "open"),
            (k.repeat, "update"),
            (k.resolved, "resolve"),
            (k.suppressed, "suppressed"),
        ] {
            if count > 0 {
                push(&mut actions, action);
            }
        }
        let mut attributes = vec![("kind", AttributeValue::String("digest".to_owned()))];
        for (name, list) in [
            ("severity", severities),
            ("source", sources),
            ("rule", rules),
            ("account", accounts),
            ("action", actions),
        ] {
            if !list.is_empty() {
                attributes.push((name, AttributeValue::Strings(list)));
            }
        }
        attributes
    }
}

impl DigestMessage {
    /// What SNS counts against its 256 KB: the message and its attributes.
    pub fn sns_size(&self) -> Result<usize, serde_json::Error> {
        Ok(self.sns_message()?.len() + attributes_bytes(&self.attributes))
    }

    /// The SNS `Message` for `MessageStructure=json`: the text for email, the chat notification
    /// for HTTPS (Amazon Q Developer in chat applications), the JSON for every other protocol.
    pub fn sns_message(&self) -> Result<String, serde_json::Error> {
        let mut message = serde_json::json!({
            "default": self.json,
            "email": self.text,
        });
        if self.chat {
            let chat =
                crate::chat::digest_notification(&self.subject, &self.text, self.part, self.parts);
            message["https"] = serde_json::Value::String(chat.to_string());
        }
        serde_json::to_string(&message)
    }
}

// ---------------------------------------------------------------------------------- JSON

#[derive(Serialize)]
struct DigestJson<'a> {
    schema_version: u32,
    kind: &'static str,
    generated_at: DateTime<Utc>,
    part: usize,
    parts: usize,
    period: Option<PeriodJson>,
    totals: TotalsJson,
    top_resources: Vec<CountJson<'a>>,
    more_resources: usize,
    top_principals: Vec<CountJson<'a>>,
    more_principals: usize,
    rules: &'a [RuleJson<'a>],
    suppressed: &'a [SuppressedJson<'a>],
    resolved: &'a [ResolvedJson<'a>],
}

#[derive(Serialize)]
struct PeriodJson {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

#[derive(Serialize)]
struct TotalsJson {
    entries: u64,
    duplicates_ignored: u64,
    unreadable_messages: u64,
    new: u64,
    repeat: u64,
    resolved: u64,
    suppressed: u64,
    problems: u64,
    occurrences: u64,
    by_severity: Vec<SeverityJson>,
}

#[derive(Serialize)]
struct SeverityJson {
    severity: Severity,
    problems: u64,
    occurrences: u64,
}

#[derive(Serialize)]
struct CountJson<'a> {
    name: &'a str,
    occurrences: u64,
}

#[derive(Serialize)]
struct RuleJson<'a> {
    source: Source,
    rule_id: &'a str,
    severity: Severity,
    title: &'a str,
    new: u64,
    repeat: u64,
    occurrences: u64,
    problems: u64,
    accounts: &'a [String],
    suppressed: u64,
    resolved: u64,
}

#[derive(Serialize)]
struct SuppressedJson<'a> {
    source: Source,
    rule_id: &'a str,
    occurrences: u64,
    problems: u64,
    suppressions: &'a [String],
}

#[derive(Serialize)]
struct ResolvedJson<'a> {
    fingerprint: &'a Fingerprint,
    source: Source,
    severity: Severity,
    rule_id: &'a str,
    title: &'a str,
    account: &'a str,
    region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    at: DateTime<Utc>,
}

fn rule_json(r: &RuleLine) -> RuleJson<'_> {
    RuleJson {
        source: r.source,
        rule_id: &r.rule_id,
        severity: r.severity,
        title: &r.title,
        new: r.new,
        repeat: r.repeat,
        occurrences: r.occurrences,
        problems: r.problems,
        accounts: &r.accounts,
        suppressed: r.suppressed,
        resolved: r.resolved,
    }
}

fn suppressed_json(s: &SuppressedLine) -> SuppressedJson<'_> {
    SuppressedJson {
        source: s.source,
        rule_id: &s.rule_id,
        occurrences: s.occurrences,
        problems: s.problems,
        suppressions: &s.suppressions,
    }
}

fn resolved_json(r: &ResolvedLine) -> ResolvedJson<'_> {
    ResolvedJson {
        fingerprint: &r.fingerprint,
        source: r.source,
        severity: r.severity,
        rule_id: &r.rule_id,
        title: &r.title,
        account: &r.account,
        region: &r.region,
        resource: r.resource.as_deref(),
        at: r.at,
    }
}

/// The three lists that may be split across parts, as index ranges.
#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    rules: (usize, usize),
    suppressed: (usize, usize),
    resolved: (usize, usize),
}

/// Bytes an item adds inside the SNS document: its JSON, escaped once more as a string, plus a
/// comma.
fn escaped_len(json: &str) -> usize {
    json.len() + json.bytes().filter(|b| *b == b'"' || *b == b'\\').count() + 1
}

impl Digest {
    /// The messages to publish: one, or numbered parts when one would exceed
    /// `options.max_message_bytes`. Part 1 carries the whole text summary and the top lists;
    /// the rules, suppressed and resolved lists continue, in order, in the following parts.
    pub fn render(&self, options: &RenderOptions) -> Result<Vec<DigestMessage>, serde_json::Error> {
        let rules: Vec<RuleJson<'_>> = self.rules.iter().map(rule_json).collect();
        let suppressed: Vec<SuppressedJson<'_>> =
            self.suppressed.iter().map(suppressed_json).collect();
        let resolved: Vec<ResolvedJson<'_>> = self.resolved.iter().map(resolved_json).collect();
        let all = Slice {
            rules: (0, rules.len()),
            suppressed: (0, suppressed.len()),
            resolved: (0, resolved.len()),
        };
        let lists = (&rules[..], &suppressed[..], &resolved[..]);
        let single = self.message(options, 1, 1, all, lists)?;
        let max_message_bytes = options
            .max_message_bytes
            .saturating_sub(attributes_bytes(&self.attributes()));
        if single.sns_message()?.len() <= max_message_bytes {
            return Ok(vec![single]);
        }

        // Split: greedy by estimated size, a part at a time. The fixed cost of a part is
        // measured with its lists empty (part 1 also carries the text and the top lists).
        let costs = |items: Vec<String>| items.iter().map(|j| escaped_len(j)).collect::<Vec<_>>();
        let rule_costs = costs(
            rules
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()?,
        );
        let supp_costs = costs(
            suppressed
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()?,
        );
        let res_costs = costs(
            resolved
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()?,
        );
        let empty = Slice {
            rules: (0, 0),
            suppressed: (0, 0),
            resolved: (0, 0),
        };
        let first_fixed = self
            .message(options, 1, 999, empty, lists)?
            .sns_message()?
            .len();
        let next_fixed = self
            .message(options, 999, 999, empty, lists)?
            .sns_message()?
            .len();
        let mut slices: Vec<Slice> = Vec::new();
        let mut cursor = (0usize, 0usize, 0usize);
        loop {
            let fixed = if slices.is_empty() {
                first_fixed
            } else {
                next_fixed
            };
            let mut budget = max_message_bytes.saturating_sub(fixed);
            let start = cursor;
            let take = |pos: &mut usize, costs: &[usize], budget: &mut usize, any: bool| {
                let mut took = any;
                while *pos < costs.len() && (costs[*pos] <= *budget || !took) {
                    *budget = budget.saturating_sub(costs[*pos]);
                    *pos += 1;
                    took = true;
                }
                took
            };
            let any = take(&mut cursor.0, &rule_costs, &mut budget, false);
            let any = take(&mut cursor.1, &supp_costs, &mut budget, any);
            take(&mut cursor.2, &res_costs, &mut budget, any);
            slices.push(Slice {
                rules: (start.0, cursor.0),
                suppressed: (start.1, cursor.1),
                resolved: (start.2, cursor.2),
            });
            if cursor == (rules.len(), suppressed.len(), resolved.len()) {
                break;
            }
        }
        let parts = slices.len();
        slices
            .into_iter()
            .enumerate()
            .map(|(i, slice)| self.message(options, i + 1, parts, slice, lists))
            .collect()
    }

    fn message(
        &self,
        options: &RenderOptions,
        part: usize,
        parts: usize,
        slice: Slice,
        lists: (&[RuleJson<'_>], &[SuppressedJson<'_>], &[ResolvedJson<'_>]),
    ) -> Result<DigestMessage, serde_json::Error> {
        let first = part == 1;
        let (top_resources, more_resources) = top_list(&self.resources, options.top_n, first);
        let (top_principals, more_principals) = top_list(&self.principals, options.top_n, first);
        let json = DigestJson {
            schema_version: SCHEMA_VERSION,
            kind: "digest",
            generated_at: self.generated_at,
            part,
            parts,
            period: self.period.map(|(from, to)| PeriodJson { from, to }),
            totals: TotalsJson {
                entries: self.entries,
                duplicates_ignored: self.duplicates,
                unreadable_messages: self.unreadable,
                new: self.kinds.new,
                repeat: self.kinds.repeat,
                resolved: self.kinds.resolved,
                suppressed: self.kinds.suppressed,
                problems: self.total.problems,
                occurrences: self.total.occurrences,
                by_severity: self
                    .by_severity
                    .iter()
                    .map(|(severity, t)| SeverityJson {
                        severity: *severity,
                        problems: t.problems,
                        occurrences: t.occurrences,
                    })
                    .collect(),
            },
            top_resources,
            more_resources,
            top_principals,
            more_principals,
            rules: &lists.0[slice.rules.0..slice.rules.1],
            suppressed: &lists.1[slice.suppressed.0..slice.suppressed.1],
            resolved: &lists.2[slice.resolved.0..slice.resolved.1],
        };
        let text = if first {
            self.text(options, parts)
        } else {
            continuation_text(self, part, parts, slice)
        };
        Ok(DigestMessage {
            subject: self.subject(part, parts),
            text,
            json: serde_json::to_string(&json)?,
            part,
            parts,
            attributes: self.attributes(),
            chat: options.chat,
        })
    }

    /// `[CRITICAL] triage digest: 1 new, 29 repeats, 2 suppressed, 1 resolved (part 1/3)`:
    /// ASCII, at most [`MAX_SUBJECT_CHARS`] characters. "Resolved" counts problems, as the
    /// RESOLVED list does: an alarm that went OK twice in the period is one problem resolved.
    pub fn subject(&self, part: usize, parts: usize) -> String {
        let mut s = String::new();
        if let Some((top, _)) = self.by_severity.first() {
            s.push_str(&format!("[{}] ", top.as_str().to_ascii_uppercase()));
        }
        if self.is_empty() {
            s.push_str("triage digest: all quiet");
        } else {
            let k = &self.kinds;
            s.push_str(&format!(
                "triage digest: {} new, {} repeat{}, {} suppressed, {} resolved",
                k.new,
                k.repeat,
                if k.repeat == 1 { "" } else { "s" },
                k.suppressed,
                self.resolved.len()
            ));
        }
        if parts > 1 {
            s.push_str(&format!(" (part {part}/{parts})"));
        }
        if s.len() > MAX_SUBJECT_CHARS {
            s.truncate(MAX_SUBJECT_CHARS);
        }
        s
    }

    /// The email: bounded sections, each with an "and K more" line when it has more than
    /// `top_n` lines.
    pub fn text(&self, options: &RenderOptions, parts: usize) -> String {
        let n = options.top_n.max(1);
        let mut out: Vec<String> = Vec::new();
        out.push(format!(
            "triage digest, generated {}{}",
            stamp(self.generated_at),
            if parts > 1 {
                format!(
                    " (part 1 of {parts}: the complete lists continue in the JSON of parts 2 to {parts})"
                )
            } else {
                String::new()
            }
        ));
        out.push(String::new());
        if self.is_empty() {
            out.push("All quiet: no findings reached the digest since the last one.".into());
            return out.join("\n");
        }
        if let Some((from, to)) = self.period {
            out.push(format!("Findings seen {} to {}.", stamp(from), stamp(to)));
        }
        let k = &self.kinds;
        out.push(format!(
            "{} occurrence{} of {} problem{}: {} new (ticket opened), {} repeat{} merged into open problems. {} suppressed. {} problem{} resolved.",
            self.total.occurrences,
            plural(self.total.occurrences),
            self.total.problems,
            plural(self.total.problems),
            k.new,
            k.repeat,
            plural(k.repeat),
            k.suppressed,
            self.resolved.len(),
            plural(self.resolved.len() as u64)
        ));

        if !self.by_severity.is_empty() {
            out.push(String::new());
            out.push(format!(
                "{:<12}{:>10}{:>13}",
                "SEVERITY", "problems", "occurrences"
            ));
            for (severity, t) in &self.by_severity {
                out.push(format!(
                    "  {:<10}{:>10}{:>13}",
                    severity.as_str(),
                    t.problems,
                    t.occurrences
                ));
            }
        }

        // With more than one account, where it happened comes before what happened.
        if self.accounts.len() > 1 {
            out.push(String::new());
            out.push("BY ACCOUNT (most severe first)".into());
            for a in self.accounts.iter().take(n) {
                let label = match &a.name {
                    Some(name) => format!("{} {}", clip(&a.account, 32), clip(name, 64)),
                    None => clip(&a.account, 32),
                };
                let mut line = format!(
                    "  [{}] {label}: {} problem{}, {} occurrence{} ({} new)",
                    a.severity.map_or("-", |s| s.as_str()),
                    a.problems,
                    plural(a.problems),
                    a.occurrences,
                    plural(a.occurrences),
                    a.new
                );
                if a.suppressed > 0 {
                    line.push_str(&format!("; {} suppressed", a.suppressed));
                }
                if a.resolved > 0 {
                    line.push_str(&format!("; {} resolved", a.resolved));
                }
                out.push(line);
            }
            if self.accounts.len() > n {
                out.push(format!(
                    "  … and {} more accounts (each rule of the JSON's \"rules\" names its accounts)",
                    self.accounts.len() - n
                ));
            }
        }

        let active: Vec<&RuleLine> = self
            .rules
            .iter()
            .filter(|r| r.occurrences > 0 || r.resolved > 0)
            .collect();
        if !active.is_empty() {
            out.push(String::new());
            out.push("BY RULE (most severe first)".into());
            for r in active.iter().take(n) {
                out.push(format!(
                    "  [{}] {} {}: {}{}",
                    r.severity,
                    r.source,
                    clip(&r.rule_id, 128),
                    if r.problems > 1 { "e.g. " } else { "" },
                    clip(&r.title, 160)
                ));
                let mut detail = format!(
                    "      {} occurrence{} of {} problem{} ({} new, {} repeat{}) in {} account{}",
                    r.occurrences,
                    plural(r.occurrences),
                    r.problems,
                    plural(r.problems),
                    r.new,
                    r.repeat,
                    plural(r.repeat),
                    r.accounts.len(),
                    plural(r.accounts.len() as u64)
                );
                if r.resolved > 0 {
                    detail.push_str(&format!("; {} resolved", r.resolved));
                }
                out.push(detail);
            }
            more(&mut out, active.len(), n, "rules", "rules");
        }

        for (title, list, json_key) in [
            ("TOP RESOURCES", &self.resources, "top_resources"),
            ("TOP PRINCIPALS", &self.principals, "top_principals"),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push(String::new());
            out.push(format!("{title} (occurrences)"));
            for (name, count) in list.iter().take(n) {
                out.push(format!("  {count:>8}  {}", clip(name, 256)));
            }
            if list.len() > n {
                let rest: u64 = list.iter().skip(n).map(|(_, c)| c).sum();
                out.push(format!(
                    "  … and {} more ({} occurrence{}; the JSON's {json_key} lists the top {n})",
                    list.len() - n,
                    rest,
                    plural(rest)
                ));
            }
        }

        if !self.suppressed.is_empty() {
            out.push(String::new());
            out.push("SUPPRESSED (no ticket, no page; see policy/suppressions.toml)".into());
            for s in self.suppressed.iter().take(n) {
                let by = if s.suppressions.is_empty() {
                    String::new()
                } else {
                    let ids: Vec<String> = s
                        .suppressions
                        .iter()
                        .take(3)
                        .map(|id| clip(id, 64))
                        .collect();
                    let more = s.suppressions.len().saturating_sub(3);
                    let tail = if more > 0 {
                        format!(" +{more}")
                    } else {
                        String::new()
                    };
                    format!("; by {}{tail}", ids.join(", "))
                };
                out.push(format!(
                    "  {:>8}  {} {} ({} problem{}{by})",
                    s.occurrences,
                    s.source,
                    clip(&s.rule_id, 128),
                    s.problems,
                    plural(s.problems)
                ));
            }
            more(&mut out, self.suppressed.len(), n, "rules", "suppressed");
        }

        if !self.resolved.is_empty() {
            out.push(String::new());
            out.push("RESOLVED SINCE THE LAST DIGEST".into());
            for r in self.resolved.iter().take(n) {
                out.push(format!(
                    "  [{}] {} {}  {}  {} {}",
                    r.severity,
                    r.source,
                    clip(&r.rule_id, 100),
                    clip(r.resource.as_deref().unwrap_or("-"), 200),
                    self.account_label(&r.account),
                    clip(&r.region, 24)
                ));
            }
            more(
                &mut out,
                self.resolved.len(),
                n,
                "resolved problems",
                "resolved",
            );
        }

        if self.duplicates > 0 || self.unreadable > 0 {
            out.push(String::new());
            if self.duplicates > 0 {
                out.push(format!(
                    "{} entr{} delivered more than once, counted once.",
                    self.duplicates,
                    if self.duplicates == 1 { "y" } else { "ies" }
                ));
            }
            if self.unreadable > 0 {
                out.push(format!(
                    "{} unreadable queue message{} left on the digest queue; after 5 receives they move to its dead-letter queue.",
                    self.unreadable,
                    plural(self.unreadable)
                ));
            }
        }
        out.join("\n")
    }
}

impl Digest {
    /// An account id, with its name when the digest knows it.
    fn account_label(&self, account: &str) -> String {
        match self
            .accounts
            .iter()
            .find(|a| a.account == account)
            .and_then(|a| a.name.as_deref())
        {
            Some(name) => format!("{} ({})", clip(account, 32), clip(name, 64)),
            None => clip(account, 32),
        }
    }
}

fn continuation_text(d: &Digest, part: usize, parts: usize, slice: Slice) -> String {
    let count = |(a, b): (usize, usize)| b - a;
    format!(
        "triage digest, generated {} (part {part} of {parts}).\n\nThis part continues the machine-readable lists of part 1: {} rule{}, {} suppressed rule{}, {} resolved problem{} in its JSON. The summary is in part 1.",
        stamp(d.generated_at),
        count(slice.rules),
        plural(count(slice.rules) as u64),
        count(slice.suppressed),
        plural(count(slice.suppressed) as u64),
        count(slice.resolved),
        plural(count(slice.resolved) as u64),
    )
}

/// The top `n` of a ranked list (only in part 1) and how many are left out.
fn top_list(list: &[(String, u64)], n: usize, first: bool) -> (Vec<CountJson<'_>>, usize) {
    if !first {
        return (Vec::new(), 0);
    }
    let shown: Vec<CountJson<'_>> = list
        .iter()
        .take(n)
        .map(|(name, count)| CountJson {
            name,
            occurrences: *count,
        })
        .collect();
    let more = list.len() - shown.len();
    (shown, more)
}

fn more(out: &mut Vec<String>, len: usize, n: usize, what: &str, json_key: &str) {
    if len > n {
        out.push(format!(
            "  … and {} more {what} (the JSON's \"{json_key}\" lists all of them)",
            len - n
        ));
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Untrusted text, once more sanitised and bounded for a line of the email, its markup
/// neutralised (`text::plain`).
fn clip(s: &str, max_chars: usize) -> String {
    plain(s, max_chars)
}
