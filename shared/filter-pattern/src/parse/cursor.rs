//! A position in the pattern text, with the small helpers the parsers share.

use crate::error::{PatternError, PatternErrorKind};

/// Walks `src[..end]` one character at a time. Positions are byte offsets into the whole
/// pattern (always on character boundaries); errors convert them to character offsets.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'s> {
    src: &'s str,
    pos: usize,
    end: usize,
}

impl<'s> Cursor<'s> {
    /// A cursor over `src[start..end]`; both must be character boundaries of `src`.
    pub(crate) fn new(src: &'s str, start: usize, end: usize) -> Self {
        Self {
            src,
            pos: start,
            end,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The unread text.
    pub(crate) fn rest(&self) -> &'s str {
        self.src.get(self.pos..self.end).unwrap_or("")
    }

    /// `src[from..to]`, or `""` if that is not a valid slice.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'s str {
        self.src.get(from..to).unwrap_or("")
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(crate) fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }

    /// Consumes `s` if the unread text starts with it.
    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Consumes characters while `keep` holds and returns them.
    pub(crate) fn take_while(&mut self, mut keep: impl FnMut(char) -> bool) -> &'s str {
        let start = self.pos;
        while self.peek().is_some_and(&mut keep) {
            self.bump();
        }
        self.slice(start, self.pos)
    }

    /// The character offset of byte offset `byte`.
    pub(crate) fn char_index(&self, byte: usize) -> usize {
        char_index(self.src, byte)
    }

    pub(crate) fn error_at(&self, byte: usize, kind: PatternErrorKind) -> PatternError {
        PatternError::new(self.char_index(byte), kind)
    }

    pub(crate) fn error_here(&self, kind: PatternErrorKind) -> PatternError {
        self.error_at(self.pos, kind)
    }

    /// An "unexpected …" error for whatever is next: the next word if it starts with a letter
    /// or digit, else the next character; or "ends too early" at the end.
    pub(crate) fn unexpected(&self, expected: &'static str) -> PatternError {
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return self.error_here(PatternErrorKind::UnexpectedEnd { expected });
        };
        let found = if first.is_alphanumeric() {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        } else {
            first.to_string()
        };
        self.error_here(PatternErrorKind::Unexpected { found, expected })
    }
}

/// The character offset of byte offset `byte` in `src` (clamped to the end).
pub(crate) fn char_index(src: &str, byte: usize) -> usize {
    src.char_indices().take_while(|(i, _)| *i < byte).count()
}
