//! Term patterns (spec §2): `ERROR -ARGUMENTS ?WARN "a phrase" %regex%`.
//!
//! Decisions where AWS documents nothing: a bare term runs to the next whitespace (a `"` or `%`
//! inside it is literal; only a leading `"` or `%` starts a quoted term or a regex); a closing
//! quote or `%` must be followed by whitespace or the end; a `?` or `-` must be followed
//! immediately by a term.

use super::common::{quoted, regex};
use super::cursor::Cursor;
use crate::ast::{Term, TermKind, TermMatcher};
use crate::error::{PatternError, PatternErrorKind};

pub(super) fn parse(mut cur: Cursor<'_>) -> Result<Vec<Term>, PatternError> {
    let mut terms = Vec::new();
    loop {
        cur.skip_ws();
        let Some(first) = cur.peek() else {
            return Ok(terms);
        };
        let kind = match first {
            '?' => TermKind::Optional,
            '-' => TermKind::Excluded,
            _ => TermKind::Required,
        };
        if kind != TermKind::Required {
            let prefix_at = cur.pos();
            cur.bump();
            if cur.peek().is_none_or(char::is_whitespace) {
                return Err(cur.error_at(
                    prefix_at,
                    PatternErrorKind::DanglingPrefix { prefix: first },
                ));
            }
        }
        let matcher = match cur.peek() {
            Some('"') => TermMatcher::Text(quoted(&mut cur)?),
            Some('%') => TermMatcher::Regex(regex(&mut cur)?),
            _ => TermMatcher::Text(cur.take_while(|c| !c.is_whitespace()).to_owned()),
        };
        if cur.peek().is_some_and(|c| !c.is_whitespace()) {
            return Err(cur.error_here(PatternErrorKind::TextAfterQuote));
        }
        terms.push(Term { kind, matcher });
    }
}
