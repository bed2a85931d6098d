//! A strict (RFC 8259) JSON parser into a flat, borrowed tree.
//!
//! One `Vec` of fixed-size nodes in document order; strings and numbers are spans of the
//! message text (only strings with escapes are decoded, into a side table). Each node records
//! where its subtree ends, so siblings are a hop apart and lookups need no per-object
//! allocation. Parsing is iterative, so nesting depth cannot overflow the stack.
//!
//! Duplicate object keys: the last occurrence wins (as with `serde_json::Value`).
//! Numbers keep their text exactly as written (`1.50` stays `1.50`).

/// Placeholder parent of the root while parsing.
const NO_PARENT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    False,
    True,
    Number,
    String,
    Array,
    Object,
}

/// A string: a span of the text, or (if it had escapes) an index into `decoded`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
    decoded: bool,
}

impl Span {
    const EMPTY: Span = Span {
        start: 0,
        len: 0,
        decoded: false,
    };
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Member name (objects' children only).
    key: Span,
    /// String contents or number text.
    value: Span,
    /// Index one past the last node of this subtree (while parsing an open container: its
    /// parent's index).
    end: u32,
    kind: Kind,
}

/// A parsed JSON document borrowing from the message text.
#[derive(Debug, Clone)]
pub(crate) struct Document<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    decoded: Vec<String>,
}

impl<'a> Document<'a> {
    /// Parses `text` as one JSON value (surrounding whitespace allowed). `None` if it is not
    /// valid JSON.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        // Offsets are u32; a message this large is not a log event.
        if u32::try_from(text.len()).is_err() {
            return None;
        }
        let mut parser = Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            nodes: Vec::with_capacity(text.len() / 16 + 4),
            decoded: Vec::new(),
        };
        parser.run()?;
        Some(Self {
            text,
            nodes: parser.nodes,
            decoded: parser.decoded,
        })
    }

    /// The root node's index, which is always 0.
    pub(crate) const ROOT: u32 = 0;

    fn node(&self, index: u32) -> Option<&Node> {
        self.nodes.get(index as usize)
    }

    pub(crate) fn kind(&self, index: u32) -> Kind {
        self.node(index).map_or(Kind::Null, |n| n.kind)
    }

    fn span_str(&self, span: Span) -> &str {
        if span.decoded {
            self.decoded
                .get(span.start as usize)
                .map_or("", String::as_str)
        } else {
            let start = span.start as usize;
            self.text
                .get(start..start + span.len as usize)
                .unwrap_or("")
        }
    }

    fn span_bytes(&self, span: Span) -> &[u8] {
        if span.decoded {
            self.decoded
                .get(span.start as usize)
                .map_or(&[], |s| s.as_bytes())
        } else {
            let start = span.start as usize;
            self.text
                .as_bytes()
                .get(start..start + span.len as usize)
                .unwrap_or_default()
        }
    }

    /// Calls `f(child, name_length)` for each member of object `index`, in document order
    /// (nothing for other values): the fast path of selector resolution, which reads a
    /// member's name (with [`Document::key_bytes`]) only when its length is of interest.
    pub(crate) fn for_each_member(&self, index: u32, mut f: impl FnMut(u32, usize)) {
        let Some(node) = self.node(index).filter(|n| n.kind == Kind::Object) else {
            return;
        };
        let mut child = index.saturating_add(1);
        while child < node.end {
            let Some(n) = self.node(child) else {
                return;
            };
            let len = if n.key.decoded {
                self.span_bytes(n.key).len()
            } else {
                n.key.len as usize
            };
            f(child, len);
            child = n.end;
        }
    }

    /// Member name of an object's child, as bytes.
    pub(crate) fn key_bytes(&self, index: u32) -> &[u8] {
        self.node(index).map_or(&[], |n| self.span_bytes(n.key))
    }

    fn key_is(&self, node: &Node, key: &str) -> bool {
        if node.key.decoded {
            self.span_str(node.key) == key
        } else {
            node.key.len as usize == key.len() && self.span_str(node.key) == key
        }
    }

    /// Member name of an object's child.
    pub(crate) fn key(&self, index: u32) -> &str {
        self.node(index).map_or("", |n| self.span_str(n.key))
    }

    /// The text a comparison sees: string contents, number text as written, `true`/`false`.
    /// `None` for `null`, arrays and objects.
    pub(crate) fn scalar_text(&self, index: u32) -> Option<&str> {
        let node = self.node(index)?;
        match node.kind {
            Kind::String | Kind::Number => Some(self.span_str(node.value)),
            Kind::True => Some("true"),
            Kind::False => Some("false"),
            Kind::Null | Kind::Array | Kind::Object => None,
        }
    }

    /// The children of an array or object, in document order.
    pub(crate) fn children(&self, index: u32) -> Children<'_, 'a> {
        let end = match self.node(index) {
            Some(n) if matches!(n.kind, Kind::Array | Kind::Object) => n.end,
            _ => index.saturating_add(1),
        };
        Children {
            doc: self,
            next: index.saturating_add(1),
            end,
        }
    }

    /// The member `key` of object `index` (the last one if the key repeats).
    pub(crate) fn member(&self, index: u32, key: &str) -> Option<u32> {
        if self.kind(index) != Kind::Object {
            return None;
        }
        let mut found = None;
        for child in self.children(index) {
            if self.node(child).is_some_and(|n| self.key_is(n, key)) {
                found = Some(child);
            }
        }
        found
    }

    /// Element `i` of array `index`.
    pub(crate) fn element(&self, index: u32, i: usize) -> Option<u32> {
        if self.kind(index) != Kind::Array {
            return None;
        }
        self.children(index).nth(i)
    }
}

/// Iterator over a container's children.
pub(crate) struct Children<'d, 'a> {
    doc: &'d Document<'a>,
    next: u32,
    end: u32,
}

impl Iterator for Children<'_, '_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next >= self.end {
            return None;
        }
        let current = self.next;
        self.next = self.doc.node(current)?.end;
        Some(current)
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
    decoded: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn index(&self) -> Option<u32> {
        u32::try_from(self.nodes.len()).ok()
    }

    fn push(&mut self, key: Span, value: Span, kind: Kind) -> Option<()> {
        let index = self.index()?;
        self.nodes.push(Node {
            key,
            value,
            end: index.checked_add(1)?,
            kind,
        });
        Some(())
    }

    fn run(&mut self) -> Option<()> {
        let mut parent = NO_PARENT;
        let mut key = Span::EMPTY;
        loop {
            // A value.
            self.skip_ws();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    let index = self.index()?;
                    let kind = if open == b'{' {
                        Kind::Object
                    } else {
                        Kind::Array
                    };
                    self.nodes.push(Node {
                        key,
                        value: Span::EMPTY,
                        end: parent,
                        kind,
                    });
                    self.pos += 1;
                    parent = index;
                    self.skip_ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        parent = self.close(parent)?;
                    } else {
                        key = if open == b'{' {
                            self.key()?
                        } else {
                            Span::EMPTY
                        };
                        continue;
                    }
                }
                b'"' => {
                    let value = self.string()?;
                    self.push(key, value, Kind::String)?;
                }
                b't' => self.literal(b"true", key, Kind::True)?,
                b'f' => self.literal(b"false", key, Kind::False)?,
                b'n' => self.literal(b"null", key, Kind::Null)?,
                b'-' | b'0'..=b'9' => {
                    let value = self.number()?;
                    self.push(key, value, Kind::Number)?;
                }
                _ => return None,
            }
            // After a value: separators and closing brackets, until the next value.
            loop {
                self.skip_ws();
                if parent == NO_PARENT {
                    return (self.pos == self.bytes.len()).then_some(());
                }
                let in_object = self.nodes.get(parent as usize)?.kind == Kind::Object;
                match (self.peek()?, in_object) {
                    (b',', true) => {
                        self.pos += 1;
                        self.skip_ws();
                        key = self.key()?;
                        break;
                    }
                    (b',', false) => {
                        self.pos += 1;
                        key = Span::EMPTY;
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        parent = self.close(parent)?;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Closes container `index`; returns its parent.
    fn close(&mut self, index: u32) -> Option<u32> {
        let end = self.index()?;
        let node = self.nodes.get_mut(index as usize)?;
        let parent = node.end;
        node.end = end;
        Some(parent)
    }

    /// `"name"` and the `:` after it.
    fn key(&mut self) -> Option<Span> {
        if self.peek()? != b'"' {
            return None;
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek()? != b':' {
            return None;
        }
        self.pos += 1;
        Some(key)
    }

    fn literal(&mut self, word: &[u8], key: Span, kind: Kind) -> Option<()> {
        if self.bytes.get(self.pos..self.pos + word.len())? != word {
            return None;
        }
        self.pos += word.len();
        self.push(key, Span::EMPTY, kind)
    }

    fn number(&mut self) -> Option<Span> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(self.pos - start).ok()?,
            decoded: false,
        })
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// After `"`: a string up to its closing quote.
    fn string(&mut self) -> Option<Span> {
        self.pos += 1;
        let start = self.pos;
        loop {
            self.skip_plain_string_bytes();
            match self.peek()? {
                b'"' => {
                    let span = Span {
                        start: u32::try_from(start).ok()?,
                        len: u32::try_from(self.pos - start).ok()?,
                        decoded: false,
                    };
                    self.pos += 1;
                    return Some(span);
                }
                b'\\' => return self.escaped_string(start),
                0x00..=0x1F => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// Skips string bytes that need no attention (not `"`, `\\` or a control character) eight
    /// at a time, then stops at the first byte that may (which the caller looks at one by one).
    fn skip_plain_string_bytes(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while let Some(chunk) = self
            .bytes
            .get(self.pos..self.pos + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            let word = u64::from_le_bytes(chunk);
            // A high bit set for each byte that is zero after the XOR (so: equal to the byte)
            // or below 0x20; exact for the first such byte, which is all that is used.
            let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
            let quote = zero(word ^ (ONES * u64::from(b'"')));
            let backslash = zero(word ^ (ONES * u64::from(b'\\')));
            let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
            let stop = quote | backslash | control;
            if stop != 0 {
                self.pos += (stop.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
    }

    /// The slow path of [`Parser::string`]: decodes escapes into an owned string.
    fn escaped_string(&mut self, start: usize) -> Option<Span> {
        let mut out = String::from(self.text.get(start..self.pos)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    let index = u32::try_from(self.decoded.len()).ok()?;
                    self.decoded.push(out);
                    return Some(Span {
                        start: index,
                        len: 0,
                        decoded: true,
                    });
                }
                b'\\' => {
                    self.pos += 1;
                    let c = match self.peek()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return None,
                    };
                    self.pos += 1;
                    out.push(c);
                }
                0x00..=0x1F => return None,
                _ => {
                    let run_start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20)
                    {
                        self.pos += 1;
                    }
                    out.push_str(self.text.get(run_start..self.pos)?);
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut value = 0u32;
        for &d in digits {
            value = value * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(value)
    }

    /// After `\u`: one code point, combining a surrogate pair. Lone surrogates are invalid.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2)? != b"\\u" {
                    return None;
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document<'_> {
        match Document::parse(text) {
            Some(d) => d,
            None => panic!("should parse: {text}"),
        }
    }

    #[test]
    fn accepts_valid_json_and_rejects_invalid_json_like_serde_json() {
        let cases = [
            r#"{}"#,
            r#"  {"a" : [1, -2.5e+3, true, false, null, "x\"y\u00e9\ud83d\ude00"], "b": {}} "#,
            "[]",
            "0",
            "\"s\"",
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"{"a" 1}"#,
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "tru",
            "nul",
            "{\"a\":\"\u{1}\"}",
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\x""#,
            "{} x",
            "{}{}",
            "",
            "  ",
            r#"{"a":[{"b":[[]]}]}"#,
            "[[[[",
            "]",
            r#"{"a":1 "b":2}"#,
            "\u{feff}{}",
        ];
        for text in cases {
            let ours = Document::parse(text).is_some();
            let serde = serde_json::from_str::<serde_json::Value>(text).is_ok();
            assert_eq!(ours, serde, "{text:?}");
        }
    }

    #[test]
    fn lookups_follow_structure_and_last_duplicate_wins() {
        let text = r#"{"a":{"b":[10,{"c":"x"}],"k":"first"},"k":1,"k":"last","e":"\u0041\n"}"#;
        let d = doc(text);
        let a = d.member(Document::ROOT, "a");
        assert!(a.is_some());
        let b = a.and_then(|a| d.member(a, "b"));
        let ten = b.and_then(|b| d.element(b, 0));
        assert_eq!(ten.and_then(|i| d.scalar_text(i)), Some("10"));
        let c = b
            .and_then(|b| d.element(b, 1))
            .and_then(|o| d.member(o, "c"));
        assert_eq!(c.and_then(|i| d.scalar_text(i)), Some("x"));
        assert_eq!(b.and_then(|b| d.element(b, 2)), None);
        assert_eq!(
            d.member(Document::ROOT, "k").and_then(|i| d.scalar_text(i)),
            Some("last")
        );
        assert_eq!(
            d.member(Document::ROOT, "e").and_then(|i| d.scalar_text(i)),
            Some("A\n")
        );
        assert_eq!(d.children(Document::ROOT).count(), 4);
        assert_eq!(d.member(Document::ROOT, "missing"), None);
    }

    #[test]
    fn escaped_keys_are_found_by_their_decoded_name() {
        let d = doc(r#"{"event\u004eame":"ConsoleLogin"}"#);
        let hit = d.member(Document::ROOT, "eventName");
        assert_eq!(hit.and_then(|i| d.scalar_text(i)), Some("ConsoleLogin"));
        assert_eq!(hit.map(|i| d.key(i)), Some("eventName"));
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(Document::parse(&deep).is_some());
        let unbalanced = "[".repeat(200_000);
        assert!(Document::parse(&unbalanced).is_none());
    }

    #[test]
    fn numbers_keep_their_text() {
        let d = doc(r#"{"n":1.50,"m":-0,"e":1E+2}"#);
        let text = |k| d.member(Document::ROOT, k).and_then(|i| d.scalar_text(i));
        assert_eq!(text("n"), Some("1.50"));
        assert_eq!(text("m"), Some("-0"));
        assert_eq!(text("e"), Some("1E+2"));
    }
}
