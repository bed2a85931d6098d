//! The offline pattern tester behind `triage pattern test`: the logic, independent of the
//! command line, over any [`BufRead`] / [`Write`].
//!
//! Two modes:
//! * [`test_lines`]: one pattern, each input line one log message; prints one result line per
//!   message and, via [`Summary`], a count like `aws logs test-metric-filter`.
//! * [`run_jsonl`]: each input line `{"pattern": "...", "message": "..."}`; writes one line per
//!   input line, in order: `{"match":true}`, `{"match":false}` or `{"error":"..."}`.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Write};

use crate::{FilterPattern, Message, PatternError};

/// Messages are shown truncated to this many characters.
pub const MESSAGE_PREVIEW_CHARS: usize = 100;
/// At most this many distinct patterns are kept compiled in `--jsonl` mode.
const PATTERN_CACHE_CAPACITY: usize = 4096;

/// Counts for a [`test_lines`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages read.
    pub messages: usize,
    /// Messages the pattern matched.
    pub matched: usize,
}

impl fmt::Display for Summary {
    /// `3 of 10 messages matched`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.messages == 1 {
            "message"
        } else {
            "messages"
        };
        write!(f, "{} of {} {noun} matched", self.matched, self.messages)
    }
}

/// Reads one line (without its `\n` / `\r\n`), decoding invalid UTF-8 lossily. `None` at the
/// end of the input.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<String>> {
    buf.clear();
    if input.read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(Some(String::from_utf8_lossy(buf).into_owned()))
}

/// A one-line, terminal-safe preview: control characters become spaces, and long messages are
/// cut at [`MESSAGE_PREVIEW_CHARS`] characters with `…`.
pub fn preview(message: &str) -> String {
    let mut out: String = message
        .chars()
        .take(MESSAGE_PREVIEW_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if message.chars().nth(MESSAGE_PREVIEW_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Evaluates `pattern` on every line of `input` and writes one line per message:
/// `MATCH   <location>  <preview>` or `-       <location>  <preview>`, where the location is
/// the line number, prefixed by `label:` when a label (a file name) is given. Adds to
/// `summary`.
///
/// # Errors
///
/// Only I/O errors from `input` or `out`.
pub fn test_lines(
    pattern: &FilterPattern,
    mut input: impl BufRead,
    label: Option<&str>,
    out: &mut impl Write,
    summary: &mut Summary,
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut line_number = 0usize;
    while let Some(line) = read_line(&mut input, &mut buf)? {
        line_number += 1;
        let matched = pattern.matches_message(&Message::new(&line));
        summary.messages += 1;
        if matched {
            summary.matched += 1;
        }
        let status = if matched { "MATCH" } else { "-" };
        let location = match label {
            Some(label) => format!("{label}:{line_number}"),
            None => line_number.to_string(),
        };
        writeln!(out, "{status:<7} {location:>6}  {}", preview(&line))?;
    }
    Ok(())
}

/// An invalid pattern explained for a terminal: the message, the pattern, and a caret under
/// the offending character.
///
/// ```text
/// invalid filter pattern: a selector must start with `$.`: write `$.status` (at column 3)
///   { status = "401" }
///     ^
/// ```
pub fn render_error(pattern: &str, error: &PatternError) -> String {
    let shown: String = pattern
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "invalid filter pattern: {error}\n  {shown}\n  {}^",
        " ".repeat(error.position)
    )
}

/// Counts for a [`run_jsonl`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonlSummary {
    /// Input lines answered.
    pub lines: usize,
    /// Lines answered `{"match":true}`.
    pub matched: usize,
    /// Lines answered `{"error":…}` (invalid pattern or unreadable line).
    pub errors: usize,
}

/// One answer of [`run_jsonl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonlAnswer {
    /// The pattern is valid; whether it matched.
    Match(bool),
    /// The pattern is invalid, or the line was not a `{"pattern", "message"}` object.
    Error(String),
}

impl JsonlAnswer {
    /// The answer as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        match self {
            Self::Match(m) => format!("{{\"match\":{m}}}"),
            Self::Error(e) => serde_json::json!({ "error": e }).to_string(),
        }
    }
}

/// Answers `{"pattern": "...", "message": "..."}` lines with a cache of compiled patterns.
#[derive(Debug, Default)]
pub struct JsonlTester {
    cache: HashMap<String, Result<FilterPattern, PatternError>>,
}

impl JsonlTester {
    /// An empty tester.
    pub fn new() -> Self {
        Self::default()
    }

    /// The answer for one input line.
    pub fn answer(&mut self, line: &str) -> JsonlAnswer {
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => return JsonlAnswer::Error(format!("input line is not valid JSON: {e}")),
        };
        let (Some(pattern), Some(message)) = (
            value.get("pattern").and_then(serde_json::Value::as_str),
            value.get("message").and_then(serde_json::Value::as_str),
        ) else {
            return JsonlAnswer::Error(
                "input line must be an object with string fields \"pattern\" and \"message\""
                    .to_owned(),
            );
        };
        if !self.cache.contains_key(pattern) && self.cache.len() >= PATTERN_CACHE_CAPACITY {
            self.cache.clear();
        }
        let compiled = self
            .cache
            .entry(pattern.to_owned())
            .or_insert_with(|| FilterPattern::parse(pattern));
        match compiled {
            Ok(p) => JsonlAnswer::Match(p.matches(message)),
            Err(e) => JsonlAnswer::Error(e.to_string()),
        }
    }
}

/// Reads `{"pattern": "...", "message": "..."}` lines from `input` and writes one answer line
/// per input line, in order (see [`JsonlAnswer`]).
///
/// # Errors
///
/// Only I/O errors from `input` or `out` end the run early.
pub fn run_jsonl(mut input: impl BufRead, out: &mut impl Write) -> io::Result<JsonlSummary> {
    let mut tester = JsonlTester::new();
    let mut summary = JsonlSummary::default();
    let mut buf = Vec::new();
    while let Some(line) = read_line(&mut input, &mut buf)? {
        let answer = tester.answer(&line);
        summary.lines += 1;
        match answer {
            JsonlAnswer::Match(true) => summary.matched += 1,
            JsonlAnswer::Match(false) => {}
            JsonlAnswer::Error(_) => summary.errors += 1,
        }
        writeln!(out, "{}", answer.to_json())?;
    }
    out.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_lines(pattern: &str, input: &str, label: Option<&str>) -> (String, Summary) {
        let Ok(p) = FilterPattern::parse(pattern) else {
            panic!("bad pattern {pattern}");
        };
        let mut out = Vec::new();
        let mut summary = Summary::default();
        if let Err(e) = test_lines(&p, input.as_bytes(), label, &mut out, &mut summary) {
            panic!("{e}");
        }
        (String::from_utf8_lossy(&out).into_owned(), summary)
    }

    #[test]
    fn each_line_is_one_message_with_its_result_and_number() {
        let (out, summary) = run_lines("ERROR", "[ERROR] one\nall good\r\nERRORCODE 2\n", None);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "MATCH        1  [ERROR] one",
                "-            2  all good",
                "MATCH        3  ERRORCODE 2",
            ]
        );
        assert_eq!(
            summary,
            Summary {
                messages: 3,
                matched: 2
            }
        );
        assert_eq!(summary.to_string(), "2 of 3 messages matched");
    }

    #[test]
    fn file_label_prefixes_line_numbers() {
        let (out, _) = run_lines("x", "x\n", Some("app.log"));
        assert_eq!(out, "MATCH   app.log:1  x\n");
    }

    #[test]
    fn long_messages_and_control_characters_are_made_safe() {
        let long = format!("{}\u{1b}[31m", "é".repeat(150));
        let p = preview(&long);
        assert_eq!(p.chars().count(), MESSAGE_PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
        assert_eq!(preview("a\u{1b}[31mb"), "a [31mb");
    }

    #[test]
    fn invalid_utf8_lines_are_still_messages() {
        let Ok(p) = FilterPattern::parse("abc") else {
            panic!()
        };
        let mut out = Vec::new();
        let mut summary = Summary::default();
        let input: &[u8] = b"abc\xff\n\xfe\n";
        assert!(test_lines(&p, input, None, &mut out, &mut summary).is_ok());
        assert_eq!(
            summary,
            Summary {
                messages: 2,
                matched: 1
            }
        );
    }

    #[test]
    fn errors_render_with_a_caret_under_the_position() {
        let pattern = r#"{ status = "401" }"#;
        let Err(e) = FilterPattern::parse(pattern) else {
            panic!("should fail");
        };
        let rendered = render_error(pattern, &e);
        let lines: Vec<&str> = rendered.lines().collect();
        assert!(lines[0].starts_with("invalid filter pattern: a selector must start with `$.`"));
        assert_eq!(lines[1], r#"  { status = "401" }"#);
        assert_eq!(lines[2], "    ^");
    }

    #[test]
    fn jsonl_answers_every_line_in_order() {
        let input = concat!(
            r#"{"pattern": "{ $.a = 1 }", "message": "{\"a\": 1}"}"#,
            "\n",
            r#"{"pattern": "{ $.a = 1 }", "message": "{\"a\": 2}"}"#,
            "\n",
            r#"{"pattern": "{ a = 1 }", "message": "{}"}"#,
            "\n",
            "not json\n",
            "\n",
            r#"{"pattern": 5, "message": "x"}"#,
            "\n",
            r#"{"pattern": "", "message": "anything"}"#,
            "\n",
        );
        let mut out = Vec::new();
        let summary = match run_jsonl(input.as_bytes(), &mut out) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let out = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0], r#"{"match":true}"#);
        assert_eq!(lines[1], r#"{"match":false}"#);
        assert!(lines[2].starts_with(r#"{"error":"a selector must start with"#));
        assert!(lines[3].starts_with(r#"{"error":"input line is not valid JSON"#));
        assert!(lines[4].starts_with(r#"{"error":"input line is not valid JSON"#));
        assert!(lines[5].contains("string fields"));
        assert_eq!(lines[6], r#"{"match":true}"#);
        assert_eq!(
            summary,
            JsonlSummary {
                lines: 7,
                matched: 2,
                errors: 4
            }
        );
        for line in lines {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "{line}"
            );
        }
    }
}
