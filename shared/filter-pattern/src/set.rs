//! Many compiled patterns evaluated against one message with a single JSON parse.

use crate::FilterPattern;
use crate::ast::Pattern;
use crate::compile::{self, CExpr, SlotTable};
use crate::error::PatternError;
use crate::eval;
use crate::message::Message;
use crate::prefilter::{Candidates, Prefilter};

/// A fixed collection of patterns, evaluated together.
///
/// The message's JSON is parsed once (and only if a JSON pattern is evaluated), and selectors
/// shared between patterns — `$.eventName` in most CIS patterns — are resolved once per
/// message. For a set whose literals are few, one pass over the raw text first finds which
/// patterns can possibly match (the *prefilter*, see [`PatternSet::candidates`]), and only
/// those are evaluated: a message none of them can match is not parsed at all. For larger sets
/// that pass costs about as much as the parse it would save, and it is left out unless asked
/// for ([`PatternSet::with_prefilter`]).
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
    prefilter: Prefilter,
    /// Whether matching runs the prefilter first (on its own: when it pays).
    prefiltered: bool,
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
        let prefilter = Prefilter::new(patterns.iter().map(FilterPattern::ast));
        let prefiltered = prefilter.pays();
        Self {
            patterns,
            programs,
            slots,
            prefilter,
            prefiltered,
        }
    }

    /// The same set running its prefilter before every message it has not parsed, whatever its
    /// size: for tests and measurements.
    #[must_use]
    pub fn with_prefilter(mut self) -> Self {
        self.prefiltered = true;
        self
    }

    /// The same set evaluating every pattern on every message: what the prefilter must never
    /// change, for tests and measurements.
    #[must_use]
    pub fn without_prefilter(mut self) -> Self {
        self.prefiltered = false;
        self
    }

    /// Whether matching runs the prefilter first.
    #[must_use]
    pub fn is_prefiltered(&self) -> bool {
        self.prefiltered
    }

    /// The patterns that can possibly match a message with raw text `text`, found in one pass
    /// over it without parsing it: a pattern that is not a candidate does not match. When
    /// there is none, the message need not be parsed at all.
    ///
    /// It is conservative: a pattern stays a candidate unless the text lacks a literal that
    /// every match of it contains — a member name of a selector, an `=` string value, a term
    /// — and a JSON literal that a `\u` escape could hide counts as present whenever the text
    /// has one.
    ///
    /// ```
    /// use triage_filter_pattern::PatternSet;
    ///
    /// let set = PatternSet::parse([
    ///     r#"{ $.eventName = "StopLogging" }"#,
    ///     r#"{ $.errorCode = "AccessDenied*" }"#,
    /// ])?;
    /// assert!(set.is_prefiltered(), "two literals: the prefilter pays");
    /// let record = r#"{"eventName":"GetObject","errorCode":"AccessDeniedException"}"#;
    /// let candidates = set.candidates(record);
    /// assert!(!candidates.contains(0) && candidates.contains(1));
    /// assert!(set.candidates(r#"{"eventName":"GetObject"}"#).is_empty());
    /// # Ok::<(), triage_filter_pattern::SetError>(())
    /// ```
    #[must_use]
    pub fn candidates(&self, text: &str) -> Candidates {
        self.prefilter.candidates(text)
    }

    /// The candidates for matching `message`: the prefilter's if the set is prefiltered and the
    /// message not parsed yet (once parsed, evaluating is cheaper than the pass), else all.
    fn candidates_for(&self, message: &Message<'_>) -> Candidates {
        if self.prefiltered && !message.is_parsed() {
            self.candidates(message.text())
        } else {
            Candidates::all(self.patterns.len())
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
        let candidates = self.candidates_for(message);
        self.matches_candidates_into(message, &candidates, out);
    }

    /// Like [`PatternSet::matches_into`] with the candidates already found by
    /// [`PatternSet::candidates`] on this message's text.
    pub fn matches_candidates_into(
        &self,
        message: &Message<'_>,
        candidates: &Candidates,
        out: &mut Vec<usize>,
    ) {
        debug_assert_eq!(
            candidates.len(),
            self.patterns.len(),
            "candidates of this set"
        );
        out.clear();
        self.for_each_match(message, candidates, |i| {
            out.push(i);
            true
        });
    }

    /// Whether any pattern matches `message` (stops at the first match).
    #[must_use]
    pub fn is_match(&self, message: &Message<'_>) -> bool {
        let mut any = false;
        let candidates = self.candidates_for(message);
        self.for_each_match(message, &candidates, |_| {
            any = true;
            false
        });
        any
    }

    /// Calls `on_match` with each matching candidate's index; stops early if it returns
    /// `false`.
    fn for_each_match(
        &self,
        message: &Message<'_>,
        candidates: &Candidates,
        mut on_match: impl FnMut(usize) -> bool,
    ) {
        if candidates.is_empty() {
            return;
        }
        let has_json = self
            .programs
            .iter()
            .enumerate()
            .any(|(i, p)| p.is_some() && candidates.contains(i));
        let document = if has_json { message.document() } else { None };
        let mut run = |json: &mut dyn FnMut(&CExpr) -> bool| {
            for (i, (pattern, program)) in self.patterns.iter().zip(&self.programs).enumerate() {
                if !candidates.contains(i) {
                    continue;
                }
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
