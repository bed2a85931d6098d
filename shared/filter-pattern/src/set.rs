//! Many compiled patterns evaluated against one message with a single JSON parse.

use crate::FilterPattern;
use crate::ast::Pattern;
use crate::compile::{self, CExpr, SlotTable};
use crate::error::PatternError;
use crate::eval;
use crate::message::Message;

/// A fixed collection of patterns, evaluated together.
///
/// The message's JSON is parsed once (and only if the set holds a JSON pattern), and selectors
/// shared between patterns — `$.eventName` in most CIS patterns — are resolved once per
/// message.
///
/// ```
/// use triage_filter_pattern::{Message, PatternSet};
///
/// let set = PatternSet::parse([
///     r#"{ $.eventName = "ConsoleLogin" }"#,
///     r#"{ $.errorCode = "AccessDenied*" }"#,
///     "ConsoleLogin",
/// ])?;
/// let message = Message::new(r#"{"eventName":"ConsoleLogin","errorCode":"AccessDenied"}"#);
/// assert_eq!(set.matches(&message), vec![0, 1, 2]);
/// # Ok::<(), triage_filter_pattern::SetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PatternSet {
    patterns: Vec<FilterPattern>,
    /// Per pattern: its JSON expression compiled against the shared slot table.
    programs: Vec<Option<CExpr>>,
    slots: SlotTable,
}

/// A pattern of a [`PatternSet`] that failed to parse, and which one it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern #{index}: {error}")]
pub struct SetError {
    /// Zero-based index of the pattern in the input.
    pub index: usize,
    /// Why it was rejected.
    pub error: PatternError,
}

impl PatternSet {
    /// A set of already-parsed patterns; indices in results follow the iteration order.
    pub fn new(patterns: impl IntoIterator<Item = FilterPattern>) -> Self {
        let patterns: Vec<FilterPattern> = patterns.into_iter().collect();
        let mut slots = SlotTable::default();
        let programs = patterns
            .iter()
            .map(|p| match p.ast() {
                Pattern::Json(expr) => Some(compile::compile(expr, &mut slots)),
                _ => None,
            })
            .collect();
        Self {
            patterns,
            programs,
            slots,
        }
    }

    /// Parses every pattern.
    ///
    /// # Errors
    ///
    /// The first invalid pattern, with its index, as a [`SetError`].
    pub fn parse<I, S>(patterns: I) -> Result<Self, SetError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parsed = patterns
            .into_iter()
            .enumerate()
            .map(|(index, p)| {
                FilterPattern::parse(p.as_ref()).map_err(|error| SetError { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(parsed))
    }

    /// The number of patterns.
    #[must_use]
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether the set holds no pattern.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Pattern `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&FilterPattern> {
        self.patterns.get(index)
    }

    /// The patterns, in order.
    #[must_use]
    pub fn patterns(&self) -> &[FilterPattern] {
        &self.patterns
    }

    /// Indices of the patterns that match `message`, in ascending order.
    #[must_use]
    pub fn matches(&self, message: &Message<'_>) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(message, &mut out);
        out
    }

    /// Like [`PatternSet::matches`], reusing `out` (cleared first) to avoid an allocation per
    /// message.
    pub fn matches_into(&self, message: &Message<'_>, out: &mut Vec<usize>) {
        out.clear();
        self.for_each_match(message, |i| {
            out.push(i);
            true
        });
    }

    /// Whether any pattern matches `message` (stops at the first match).
    #[must_use]
    pub fn is_match(&self, message: &Message<'_>) -> bool {
        let mut any = false;
        self.for_each_match(message, |_| {
            any = true;
            false
        });
        any
    }

    /// Calls `on_match` with each matching index; stops early if it returns `false`.
    fn for_each_match(&self, message: &Message<'_>, mut on_match: impl FnMut(usize) -> bool) {
        let has_json = self.programs.iter().any(Option::is_some);
        let document = if has_json { message.document() } else { None };
        let mut run = |json: &mut dyn FnMut(&CExpr) -> bool| {
            for (i, (pattern, program)) in self.patterns.iter().zip(&self.programs).enumerate() {
                let hit = match program {
                    Some(expr) => json(expr),
                    None => pattern.matches_text(message.text()),
                };
                if hit && !on_match(i) {
                    return;
                }
            }
        };
        match document {
            Some(doc) => eval::with_context(doc, &self.slots, |ctx| run(&mut |e| ctx.eval(e))),
            None => run(&mut |_| false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_patterns_and_sets_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<FilterPattern>();
        shareable::<PatternSet>();
        shareable::<PatternError>();
    }

    #[test]
    fn a_set_without_json_patterns_never_parses_the_message() {
        let Ok(set) = PatternSet::parse(["ERROR", "[a, b]"]) else {
            panic!("valid patterns");
        };
        let message = Message::new("ERROR x");
        assert_eq!(set.matches(&message), vec![0, 1]);
        assert!(!format!("{message:?}").contains("parsed: true"));
    }

    #[test]
    fn an_empty_set_matches_nothing() {
        let set = PatternSet::new([]);
        assert!(set.is_empty());
        assert!(!set.is_match(&Message::new("{}")));
    }
}
