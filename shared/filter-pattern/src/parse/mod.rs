//! Parsing and validation: pattern text → [`Pattern`] trees.
//!
//! Kind selection (spec §1): after trimming, an empty pattern matches everything, `{` starts a
//! JSON pattern (which must end with `}`), `[` a space-delimited pattern (which must end with
//! `]`), and anything else is a term pattern.

mod common;
mod cursor;
mod json;
mod space;
mod terms;

pub(crate) use cursor::char_index;

use crate::ast::Pattern;
use crate::error::{PatternError, PatternErrorKind};
use cursor::Cursor;

/// The longest pattern the CloudWatch Logs API accepts, in characters.
pub const MAX_PATTERN_LENGTH: usize = 1024;
/// At most this many `%regex%` values in one JSON or space-delimited pattern.
pub const MAX_REGEXES: usize = 2;
/// At most this many wildcard selectors in one JSON pattern.
pub const MAX_WILDCARD_SELECTORS: usize = 3;
/// Parentheses may nest at most this deep (AWS documents no limit; this bounds recursion).
pub const MAX_NESTING: usize = 64;

pub(crate) fn parse(src: &str) -> Result<Pattern, PatternError> {
    let length = src.chars().count();
    if length > MAX_PATTERN_LENGTH {
        return Err(PatternError::new(
            MAX_PATTERN_LENGTH,
            PatternErrorKind::TooLong {
                length,
                max: MAX_PATTERN_LENGTH,
            },
        ));
    }
    let start = src.len() - src.trim_start().len();
    let end = src.trim_end().len();
    if start >= end {
        return Ok(Pattern::MatchAll);
    }
    let body = src.get(start..end).unwrap_or("");
    if body.starts_with('{') {
        if body.len() < 2 || !body.ends_with('}') {
            return Err(PatternError::new(
                char_index(src, end),
                PatternErrorKind::UnclosedJsonPattern,
            ));
        }
        let cur = Cursor::new(src, start + 1, end - 1);
        return json::parse(cur, start).map(Pattern::Json);
    }
    if body.starts_with('[') {
        if body.len() < 2 || !body.ends_with(']') {
            return Err(PatternError::new(
                char_index(src, end),
                PatternErrorKind::UnclosedSpaceDelimitedPattern,
            ));
        }
        let cur = Cursor::new(src, start + 1, end - 1);
        return space::parse(cur).map(Pattern::SpaceDelimited);
    }
    terms::parse(Cursor::new(src, start, end)).map(Pattern::Terms)
}
