//! Untrusted text, made safe to put in a ticket, a log line or an email.
//!
//! Every string that comes from an event (user agents, resource names, annotations, error
//! messages, alarm reasons…) is attacker-influenced. [`SafeText`] is the only way such a string
//! enters a finding: it is bounded in length and holds no control characters, no bidirectional
//! overrides and no zero-width characters, so it cannot forge log lines, recolour a terminal or
//! reorder what a reader sees.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Default bound for a free-text field, in characters.
pub const DEFAULT_MAX_CHARS: usize = 1024;
/// The bound used when text is read back (e.g. a ticket event deserialised by the digest).
const DESERIALIZE_MAX_CHARS: usize = 8192;
const TRUNCATION_MARK: &str = "…[truncated]";

/// Sanitised, length-bounded text. Serialises as a plain JSON string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct SafeText(String);

impl SafeText {
    /// Sanitises `raw` and bounds it to [`DEFAULT_MAX_CHARS`] characters.
    pub fn new(raw: &str) -> Self {
        Self::bounded(raw, DEFAULT_MAX_CHARS)
    }

    /// Sanitises `raw` and bounds it to `max_chars` characters (the truncation mark included).
    pub fn bounded(raw: &str, max_chars: usize) -> Self {
        SafeText(sanitize(raw, max_chars))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SafeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SafeText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(SafeText::bounded(&raw, DESERIALIZE_MAX_CHARS))
    }
}

/// True for characters that must never reach a reader: C0/C1 controls (newlines, ESC for ANSI
/// sequences, DEL…), bidirectional embeddings/overrides/isolates and marks, zero-width and
/// other invisible characters (soft hyphen, joiners, the deprecated format characters, Hangul
/// and Khmer fillers, variation selectors, the tag block that can smuggle hidden text),
/// line/paragraph separators and the BOM. Public so that tests and fuzz targets check rendered
/// output against the very set [`SafeText`] removes.
pub fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Replaces each run of hostile characters and whitespace with one space, trims, and cuts the
/// result to `max_chars` characters with a visible truncation mark. Reads at most a bounded
/// prefix of the input, so a 1 MB value costs no more than a short one.
pub fn sanitize(raw: &str, max_chars: usize) -> String {
    let max_chars = max_chars.max(TRUNCATION_MARK.chars().count() + 1);
    if is_plain(raw, max_chars) {
        return raw.to_owned();
    }
    rebuild(raw, max_chars)
}

/// [`sanitize`] character by character (`max_chars` already at least the mark's length + 1).
fn rebuild(raw: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars * 2));
    let mut kept = 0usize;
    let mut pending_space = false;
    let mut truncated = false;
    for c in raw.chars() {
        if is_hostile(c) || c.is_whitespace() {
            pending_space = kept > 0;
            continue;
        }
        let needed = usize::from(pending_space) + 1;
        if kept + needed > max_chars {
            truncated = true;
            break;
        }
        if pending_space {
            out.push(' ');
            kept += 1;
            pending_space = false;
        }
        out.push(c);
        kept += 1;
    }
    if truncated {
        let room = max_chars - TRUNCATION_MARK.chars().count();
        let cut = out.char_indices().nth(room).map_or(out.len(), |(i, _)| i);
        out.truncate(cut);
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push_str(TRUNCATION_MARK);
    }
    out
}

/// Whether [`sanitize`] would return `raw` as it is: printable ASCII, single spaces between
/// words, short enough. Most of a CloudTrail record's strings are (ARNs, names, addresses), and
/// this check is a tight loop instead of a per-character rebuild.
fn is_plain(raw: &str, max_chars: usize) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() <= max_chars
        && bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && bytes.iter().all(|b| (b' '..=b'~').contains(b))
        && !bytes.windows(2).any(|w| w == b"  ")
}

/// Untrusted text for a plain-text reader (the alert email, the digest email): sanitised,
/// bounded, and with the markup that a mail client, a chat tool or a ticket system could make
/// live neutralised, since such text is forwarded, pasted and rendered:
/// - `<` becomes `‹`: no HTML tag (`<img onerror=…>`), no autolink (`<https://…>`), no
///   Slack-style mention or link (`<!here>`, `<@U…>`, `<https://…|text>`); a lone `>` opens
///   nothing and stays (CloudWatch writes "OK -> ALARM");
/// - `@` becomes `＠` (U+FF20): no `@here`, `@channel`, `@everyone` or user mention;
/// - `](` becomes `] (`: no markdown link or image (`[text](url)`, `![x](url)`);
/// - `http://`, `https://` become `hxxp://`, `hxxps://` (the usual defanging): no clickable link
///   chosen by whoever wrote the event.
///
/// The JSON bodies (ticket events, alert JSON, digest JSON) keep the sanitised text as data;
/// each renderer escapes for its own syntax.
pub fn plain(raw: &str, max_chars: usize) -> String {
    // Sanitise (bounded, reads a bounded prefix), neutralise, and bound again: `](` grows.
    sanitize(&neutralise_markup(&sanitize(raw, max_chars)), max_chars)
}

fn neutralise_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let lower_starts = |p: &str| {
            rest.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        };
        if lower_starts("http://") || lower_starts("https://") {
            // "http" → "hxxp", keeping the case of the first and last letters.
            let head = &rest[..4];
            out.push_str(&head[..1]);
            out.push_str(if head[1..2].chars().all(|c| c.is_ascii_uppercase()) {
                "XX"
            } else {
                "xx"
            });
            out.push_str(&head[3..4]);
            rest = &rest[4..];
            continue;
        }
        match c {
            '<' => out.push('‹'),
            '@' => out.push('＠'),
            ']' if rest[1..].starts_with('(') => out.push_str("] "),
            other => out.push(other),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether plain text holds markup that [`plain`] neutralises (for tests and fuzz targets: no
/// untrusted string may reach an email with it).
pub fn has_live_markup(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.contains(['<', '@'])
        || text.contains("](")
        || lower.contains("http://")
        || lower.contains("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_plain_shortcut_gives_what_the_rebuild_gives(
            raw in "[ -~\t\n\u{a0}\u{200b}é]{0,24}",
            max in 0usize..30,
        ) {
            let adjusted = max.max(TRUNCATION_MARK.chars().count() + 1);
            proptest::prop_assert_eq!(sanitize(&raw, max), rebuild(&raw, adjusted));
        }
    }

    #[test]
    fn markup_a_mail_client_chat_or_ticket_system_would_render_is_neutralised() {
        let raw = "<img src=x onerror=alert(1)> [click](https://evil.example/p) ![i](HTTP://x) \
                   @here @channel <!everyone> <@U024BE7LH> alice@example.com";
        let t = plain(raw, 1000);
        assert!(!has_live_markup(&t), "{t}");
        assert_eq!(
            t,
            "‹img src=x onerror=alert(1)> [click] (hxxps://evil.example/p) ![i] (HXXP://x) \
             ＠here ＠channel ‹!everyone> ‹＠U024BE7LH> alice＠example.com"
        );
    }

    #[test]
    fn plain_text_without_markup_is_only_sanitised() {
        let raw = "arn:aws:iam::111122223333:role/app [x] (y) 10.0.0.1 OK -> ALARM";
        assert_eq!(plain(raw, 200), raw);
        assert!(!has_live_markup(&plain(raw, 200)));
    }

    #[test]
    fn newlines_and_ansi_escapes_cannot_forge_lines_or_colours() {
        let t = SafeText::new("evil\r\nINFO forged line\u{1b}[31mred\u{7}");
        assert_eq!(t.as_str(), "evil INFO forged line [31mred");
        assert!(!t.as_str().chars().any(char::is_control));
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_removed() {
        let t = SafeText::new("invoice\u{202E}fdp.exe\u{200B}\u{2066}x\u{FEFF}");
        assert_eq!(t.as_str(), "invoice fdp.exe x");
    }

    #[test]
    fn invisible_characters_that_hide_or_smuggle_text_are_removed() {
        // Soft hyphen, the deprecated format characters, Hangul fillers, a variation selector,
        // tag characters spelling "evil" (invisible, read by some language models) and a
        // supplementary variation selector.
        let raw = "ad\u{00AD}min\u{206A}\u{206F} \u{3164}\u{115F}\u{FFA0}ok\u{FE0F} \
                   x\u{E0065}\u{E0076}\u{E0069}\u{E006C}y\u{E0100}";
        let t = SafeText::new(raw);
        assert_eq!(t.as_str(), "ad min ok x y");
        assert!(!t.as_str().chars().any(is_hostile));
    }

    #[test]
    fn the_bound_counts_characters_so_four_byte_text_is_at_most_four_times_the_bound_in_bytes() {
        let t = SafeText::bounded(&"😀".repeat(10_000), 100);
        assert_eq!(t.as_str().chars().count(), 100);
        assert!(t.as_str().len() <= 4 * 100);
    }

    #[test]
    fn a_megabyte_value_is_cut_to_the_bound_with_a_visible_mark() {
        let huge = "A".repeat(1 << 20);
        let t = SafeText::bounded(&huge, 100);
        assert_eq!(t.as_str().chars().count(), 100);
        assert!(t.as_str().ends_with(TRUNCATION_MARK));
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let t = SafeText::bounded(&"é日本".repeat(100), 20);
        assert_eq!(t.as_str().chars().count(), 20);
    }

    #[test]
    fn short_clean_text_is_unchanged() {
        assert_eq!(
            SafeText::new("aws-cli/2.13.5 Python/3.11").as_str(),
            "aws-cli/2.13.5 Python/3.11"
        );
        assert_eq!(SafeText::new("  padded  ").as_str(), "padded");
    }

    #[test]
    fn deserialising_sanitises_too() {
        let t: SafeText = serde_json::from_str("\"a\\nb\\u001b\"").unwrap_or_default();
        assert_eq!(t.as_str(), "a b");
    }
}
