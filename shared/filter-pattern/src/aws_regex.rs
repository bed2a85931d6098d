//! AWS's restricted regular-expression dialect (`%…%`), validated and translated to the
//! `regex` crate once, at parse time.
//!
//! The dialect allows ASCII letters and digits, the symbols `: _ # = @ / ; , -` and space, and
//! the operators `^ $ ? [ ] { } | \ * + .`. Everything else is rejected — notably `(` and `)`
//! (no groups) and any multi-byte character; `\xhh` matches other ASCII symbols. Supported
//! escapes: `\d \D \s \S \w \W` (ASCII classes), `\xhh`, and `\` before a symbol or operator
//! (a literal). Matching is a case-sensitive search.
//!
//! Decisions where AWS documents nothing: lazy quantifiers (`*?`) are accepted (they cannot
//! change whether a search matches); other escapes such as `\n` or `\b` are rejected; a lone `]`
//! or `}` is a literal (as in Java); a `{` must start a valid `{m}`, `{m,}`, `{,n}` or `{m,n}`
//! quantifier; nested classes (`[[…]]`) are rejected.

use std::fmt;
use std::hash::{Hash, Hasher};

use regex::{Regex, RegexBuilder};

/// Compiled-size limit for one regular expression; patterns are at most 1024 characters, so
/// only pathological repetition counts reach it.
const SIZE_LIMIT: usize = 1 << 20;

/// A regular expression in AWS's dialect, compiled once.
///
/// Equality and hashing use the source text.
#[derive(Clone)]
pub struct AwsRegex {
    source: String,
    regex: Regex,
}

/// Why a regular expression was rejected: a message and the character offset in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegexError {
    pub(crate) offset: usize,
    pub(crate) reason: String,
}

impl AwsRegex {
    /// Validates and compiles `source` (the text between the two `%`).
    pub(crate) fn compile(source: &str) -> Result<Self, RegexError> {
        let translated = translate(source)?;
        let regex = RegexBuilder::new(&translated)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(SIZE_LIMIT)
            .build()
            .map_err(|_| RegexError {
                offset: 0,
                reason:
                    "the regular expression is too large once compiled (reduce repetition counts)"
                        .to_owned(),
            })?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The regular expression as written, without the surrounding `%`.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the expression matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for AwsRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for AwsRegex {}

impl Hash for AwsRegex {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

impl fmt::Debug for AwsRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}%", self.source)
    }
}

/// Literal symbols the dialect accepts (besides ASCII letters and digits).
fn is_literal_symbol(c: char) -> bool {
    matches!(c, ':' | '_' | '#' | '=' | '@' | '/' | ';' | ',' | '-' | ' ')
}

/// Operator characters of the dialect.
fn is_operator(c: char) -> bool {
    matches!(
        c,
        '^' | '$' | '?' | '[' | ']' | '{' | '}' | '|' | '\\' | '*' | '+' | '.'
    )
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        // Hex escapes are valid everywhere in the `regex` syntax, inside classes too, so no
        // character of the dialect can turn into `regex`-crate syntax (`&&`, `--`, `~~`, `[`).
        out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    }
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = "\\t\\n\\x0B\\x0C\\r ";

/// A class escape (`\d` …) as the body of a bracket class, and whether it is negated.
fn class_escape(c: char) -> Option<(&'static str, bool)> {
    match c {
        'd' => Some((DIGIT, false)),
        'D' => Some((DIGIT, true)),
        'w' => Some((WORD, false)),
        'W' => Some((WORD, true)),
        's' => Some((SPACE, false)),
        'S' => Some((SPACE, true)),
        _ => None,
    }
}

enum Escape {
    Class(&'static str, bool),
    Literal(char),
}

struct Translator {
    chars: Vec<char>,
    pos: usize,
    out: String,
}

fn translate(source: &str) -> Result<String, RegexError> {
    let mut t = Translator {
        chars: source.chars().collect(),
        pos: 0,
        out: String::with_capacity(source.len() * 2),
    };
    t.run()?;
    Ok(t.out)
}

impl Translator {
    fn err(&self, offset: usize, reason: impl Into<String>) -> RegexError {
        RegexError {
            offset,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn check_allowed(&self, c: char, at: usize) -> Result<(), RegexError> {
        if c.is_ascii_alphanumeric() || is_literal_symbol(c) || is_operator(c) {
            return Ok(());
        }
        if !c.is_ascii() {
            return Err(self.err(
                at,
                format!("multi-byte character `{c}` is not supported; only ASCII may appear"),
            ));
        }
        if c == '(' || c == ')' {
            return Err(self.err(
                at,
                format!(
                    "`(` and `)` are not supported (no groups); match them with `\\x{:02X}`",
                    u32::from(c)
                ),
            ));
        }
        let shown = if c.is_ascii_graphic() {
            format!("`{c}`")
        } else {
            format!("U+{:04X}", u32::from(c))
        };
        Err(self.err(
            at,
            format!(
                "character {shown} is not allowed; match it with `\\x{:02X}`",
                u32::from(c)
            ),
        ))
    }

    fn run(&mut self) -> Result<(), RegexError> {
        // Whether the previous item can take a quantifier, and whether it was a quantifier
        // (which may be followed by one lazy `?`).
        let mut quantifiable = false;
        let mut after_quantifier = false;
        while let Some(c) = self.peek() {
            let at = self.pos;
            self.check_allowed(c, at)?;
            self.pos += 1;
            match c {
                '*' | '+' | '?' | '{' => {
                    if c == '?' && after_quantifier {
                        self.out.push('?');
                        after_quantifier = false;
                        continue;
                    }
                    if !quantifiable {
                        return Err(self.err(
                            at,
                            format!(
                                "`{c}` has nothing to repeat (escape it as `\\{c}` for a literal)"
                            ),
                        ));
                    }
                    if c == '{' {
                        self.quantifier(at)?;
                    } else {
                        self.out.push(c);
                    }
                    quantifiable = false;
                    after_quantifier = true;
                    continue;
                }
                '^' | '$' | '|' => {
                    self.out.push(c);
                    quantifiable = false;
                }
                '.' => {
                    self.out.push('.');
                    quantifiable = true;
                }
                '[' => {
                    self.class(at)?;
                    quantifiable = true;
                }
                '\\' => {
                    match self.escape(at)? {
                        Escape::Class(body, negated) => {
                            self.out.push('[');
                            if negated {
                                self.out.push('^');
                            }
                            self.out.push_str(body);
                            self.out.push(']');
                        }
                        Escape::Literal(l) => push_literal(&mut self.out, l),
                    }
                    quantifiable = true;
                }
                _ => {
                    // Letters, digits, literal symbols, and a lone `]` or `}`.
                    push_literal(&mut self.out, c);
                    quantifiable = true;
                }
            }
            after_quantifier = false;
        }
        Ok(())
    }

    /// After `{`: `m}`, `m,}`, `,n}` or `m,n}`.
    fn quantifier(&mut self, open: usize) -> Result<(), RegexError> {
        let bad = |t: &Self| {
            t.err(
                open,
                "`{` must start a repetition `{m}`, `{m,}`, `{,n}` or `{m,n}` (escape it as `\\{` for a literal)",
            )
        };
        let min = self.count(open)?;
        let comma = self.peek() == Some(',');
        let max = if comma {
            self.pos += 1;
            self.count(open)?
        } else {
            min
        };
        if self.peek() != Some('}') {
            return Err(bad(self));
        }
        self.pos += 1;
        let rendered = match (min, comma, max) {
            (Some(m), false, _) => format!("{{{m}}}"),
            (Some(m), true, None) => format!("{{{m},}}"),
            (lo, true, Some(n)) => {
                let m = lo.unwrap_or(0);
                if m > n {
                    return Err(self.err(
                        open,
                        format!("repetition `{{{m},{n}}}` has its minimum above its maximum"),
                    ));
                }
                format!("{{{m},{n}}}")
            }
            (None, _, _) => return Err(bad(self)),
        };
        self.out.push_str(&rendered);
        Ok(())
    }

    /// A run of ASCII digits as a repetition count, or `None` if there is none.
    fn count(&mut self, open: usize) -> Result<Option<u32>, RegexError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let digits: String = self
            .chars
            .iter()
            .skip(start)
            .take(self.pos - start)
            .collect();
        digits
            .parse::<u32>()
            .map(Some)
            .map_err(|_| self.err(open, "repetition count is too large"))
    }

    /// After `\`.
    fn escape(&mut self, backslash: usize) -> Result<Escape, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.err(backslash, "a regular expression cannot end with `\\`"));
        };
        self.check_allowed(c, self.pos)?;
        self.pos += 1;
        if let Some((body, negated)) = class_escape(c) {
            return Ok(Escape::Class(body, negated));
        }
        if c == 'x' {
            let hex: String = self.chars.iter().skip(self.pos).take(2).collect();
            if hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                self.pos += 2;
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.err(backslash, "invalid `\\x` escape"))?;
                return Ok(Escape::Literal(code));
            }
            return Err(self.err(
                backslash,
                "`\\x` must be followed by two hexadecimal digits, e.g. `\\x3A`",
            ));
        }
        if c.is_ascii_alphanumeric() {
            return Err(self.err(
                backslash,
                format!(
                    "unsupported escape `\\{c}` (supported: \\d \\D \\s \\S \\w \\W \\xhh and `\\` before a symbol)"
                ),
            ));
        }
        Ok(Escape::Literal(c))
    }

    /// After `[`: a bracket class up to its `]`.
    fn class(&mut self, open: usize) -> Result<(), RegexError> {
        let unclosed = |t: &Self| t.err(open, "this `[` is never closed by `]`");
        self.out.push('[');
        if self.peek() == Some('^') {
            self.pos += 1;
            self.out.push('^');
        }
        let mut items = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return Err(unclosed(self));
            };
            let at = self.pos;
            self.check_allowed(c, at)?;
            self.pos += 1;
            if c == ']' {
                if items == 0 {
                    return Err(self.err(open, "empty character class `[]`"));
                }
                break;
            }
            if c == '[' {
                return Err(self.err(
                    at,
                    "nested `[` in a character class is not supported (escape it as `\\[`)",
                ));
            }
            let item = if c == '\\' {
                self.escape(at)?
            } else {
                Escape::Literal(c)
            };
            items += 1;
            match item {
                Escape::Class(body, false) => self.out.push_str(body),
                Escape::Class(body, true) => {
                    self.out.push_str("[^");
                    self.out.push_str(body);
                    self.out.push(']');
                }
                Escape::Literal(lo) => {
                    let is_range = self.peek() == Some('-')
                        && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']');
                    if !is_range {
                        push_literal(&mut self.out, lo);
                        continue;
                    }
                    self.pos += 1; // '-'
                    let hi_at = self.pos;
                    let Some(h) = self.peek() else {
                        return Err(unclosed(self));
                    };
                    self.check_allowed(h, hi_at)?;
                    self.pos += 1;
                    let hi = match h {
                        '\\' => match self.escape(hi_at)? {
                            Escape::Literal(l) => l,
                            Escape::Class(..) => {
                                return Err(
                                    self.err(hi_at, "a range cannot end with a class like `\\d`")
                                );
                            }
                        },
                        '[' => {
                            return Err(self.err(
                                hi_at,
                                "nested `[` in a character class is not supported (escape it as `\\[`)",
                            ));
                        }
                        other => other,
                    };
                    if hi < lo {
                        return Err(self.err(at, format!("range `{lo}-{hi}` is out of order")));
                    }
                    push_literal(&mut self.out, lo);
                    self.out.push('-');
                    push_literal(&mut self.out, hi);
                }
            }
        }
        self.out.push(']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> AwsRegex {
        match AwsRegex::compile(s) {
            Ok(r) => r,
            Err(e) => panic!("{s}: {e:?}"),
        }
    }

    fn rejects(s: &str) -> RegexError {
        match AwsRegex::compile(s) {
            Ok(_) => panic!("{s} should be rejected"),
            Err(e) => e,
        }
    }

    #[test]
    fn documented_examples_match_as_aws_describes() {
        let cases: &[(&str, &str, bool)] = &[
            ("AUTHORIZED", "[ERROR 401] UNAUTHORIZED REQUEST", true),
            (
                "^starting|^initializing|^shutting down",
                "shutting down now",
                true,
            ),
            (
                "^starting|^initializing|^shutting down",
                "we are starting",
                false,
            ),
            ("gra|ey", "grey", true),
            ("gra|ey", "gr", false),
            ("a{3,5}", "aaaa", true),
            ("a{3,5}", "aa", false),
            ("[Ee]rror|[Ff]ail", "Failure", true),
            ("[Ee]rror|[Ff]ail", "ERROR", false),
            (
                r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
                "from 10.0.0.1 ok",
                true,
            ),
            (
                r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
                "from 10.0.0 ok",
                false,
            ),
            (r"\x3A", "a:b", true),
            (r"\x28", "f(x)", true),
            ("/service/resource/[0-9]+$", "/service/resource/123", true),
            (
                "/service/resource/[0-9]+$",
                "/service/resource/123/x",
                false,
            ),
            ("[^c]at", "cat", false),
            ("[^c]at", "bat", true),
            ("colou?r", "color", true),
            (r"\s", "a\tb", true),
            (r"\w+", "é", false),
            (r"\d", "٣", false),
            ("a{,2}b", "b", true),
            ("a{2,}", "aa", true),
            ("case", "CASE", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                re(pattern).is_match(text),
                *expected,
                "%{pattern}% on {text:?}"
            );
        }
    }

    #[test]
    fn characters_outside_the_dialect_are_rejected_with_their_position() {
        assert_eq!(rejects("ab(c)").offset, 2);
        assert_eq!(rejects("something!").offset, 9);
        assert_eq!(rejects("caf\u{e9}").offset, 3);
        assert_eq!(rejects("tab\there").offset, 3);
        assert!(rejects("a\"b").reason.contains("`\"`"));
    }

    #[test]
    fn malformed_operators_are_rejected() {
        for bad in [
            "*a",
            "a**",
            "|+",
            "^*",
            "[abc",
            "[]",
            "a{",
            "a{x}",
            "a{3,2}",
            "{3}",
            "\\",
            "\\q",
            "\\xZ1",
            "[[a]]",
            "[z-a]",
            "a{99999999999}",
        ] {
            let _ = rejects(bad);
        }
    }

    #[test]
    fn lazy_quantifiers_and_lone_closers_are_accepted() {
        assert!(re("a+?b").is_match("aab"));
        assert!(re("a]").is_match("a]"));
        assert!(re("a}").is_match("a}"));
    }

    #[test]
    fn class_contents_never_become_regex_crate_syntax() {
        assert!(re(r"[a\x26\x26b]").is_match("&"));
        assert!(re("[+--]").is_match(","));
        assert!(re("[a-c--]").is_match("-"));
        assert!(re("[.*+]").is_match("+"));
        assert!(!re("[.*+]").is_match("x"));
        assert!(re(r"[\d_]").is_match("_"));
        assert!(re(r"[\D]").is_match("x"));
        assert!(!re(r"[\D]").is_match("5"));
        assert!(re("[a-]").is_match("-"));
    }

    #[test]
    fn huge_repetitions_are_rejected_not_panicking() {
        let e = rejects("a{1000}{1000}{1000}");
        assert!(e.reason.contains("nothing to repeat") || e.reason.contains("too large"));
        let e = rejects("[a-z]{60000}");
        assert!(e.reason.contains("too large"), "{e:?}");
    }
}
