//! CloudWatch Logs filter patterns — the language of metric filters, subscription filters and
//! `FilterLogEvents` — parsed, validated and evaluated with AWS's semantics, as written down in
//! the project's filter-pattern specification.
//!
//! * [`FilterPattern`]: one compiled pattern (term, JSON or space-delimited). Parse once, match
//!   many; [`Display`](std::fmt::Display) prints a canonical form that parses back to an equal
//!   pattern.
//! * [`Message`]: one log event message whose JSON is parsed at most once, lazily, however many
//!   patterns look at it. [`Message::json`] gives read access to the parsed fields.
//! * [`PatternSet`]: N patterns evaluated against one message with one parse, returning the
//!   indices that matched; its literal prefilter ([`PatternSet::candidates`]) skips the parse
//!   of a message that none of them can match.
//! * [`PatternError`]: why AWS would reject a pattern, with the character position.
//! * [`catalog`]: the seed's and the CIS benchmark's pattern strings.
//! * [`tester`]: the offline pattern tester behind `triage pattern test`.
//!
//! ```
//! use triage_filter_pattern::{FilterPattern, Message, PatternSet, catalog};
//!
//! let pattern = FilterPattern::parse(
//!     r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }"#,
//! )?;
//! // `!=` on a missing field is false: this sign-in record has no MFAUsed.
//! assert!(!pattern.matches(r#"{"eventName":"ConsoleLogin"}"#));
//! assert!(pattern.matches(r#"{"eventName":"ConsoleLogin","additionalEventData":{"MFAUsed":"No"}}"#));
//! assert_eq!(
//!     pattern.to_string(),
//!     r#"{ $.eventName = "ConsoleLogin" && $.additionalEventData.MFAUsed != "Yes" }"#
//! );
//!
//! let set = PatternSet::parse(catalog::CIS.iter().map(|(_, p)| p)).map_err(|e| e.error)?;
//! let record = Message::new(r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#);
//! let hits: Vec<&str> = set.matches(&record).into_iter().map(|i| catalog::CIS[i].0).collect();
//! assert_eq!(hits, ["CloudWatch.5"]);
//! # Ok::<(), triage_filter_pattern::PatternError>(())
//! ```

mod aws_regex;
mod compile;
mod display;
mod document;
mod eval;
mod message;
mod number;
mod parse;
mod prefilter;
mod set;
mod text_eval;

pub mod ast;
pub mod catalog;
pub mod error;
pub mod tester;

pub use ast::Pattern;
pub use aws_regex::AwsRegex;
pub use error::{PatternError, PatternErrorKind};
pub use message::{JsonKind, JsonValue, Message};
pub use parse::{MAX_NESTING, MAX_PATTERN_LENGTH, MAX_REGEXES, MAX_WILDCARD_SELECTORS};
pub use prefilter::Candidates;
pub use set::{PatternSet, SetError};

use std::fmt;
use std::str::FromStr;

use compile::{CExpr, SlotTable};

/// Which of the pattern kinds a [`FilterPattern`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// The empty pattern (matches every event).
    MatchAll,
    /// Terms, quoted phrases and `%regex%` terms over unstructured text.
    Terms,
    /// `{ … }` over JSON messages.
    Json,
    /// `[ … ]` over space-delimited messages.
    SpaceDelimited,
}

/// A compiled CloudWatch Logs filter pattern.
///
/// Equality compares the parsed trees, so `{$.a=x}` equals `{ ($.a = "x") }`.
#[derive(Clone)]
pub struct FilterPattern {
    source: Box<str>,
    ast: Pattern,
    /// For JSON patterns: the expression compiled against its own slot table.
    json: Option<(CExpr, SlotTable)>,
}

impl FilterPattern {
    /// Parses and validates `pattern`, rejecting what AWS rejects (see [`PatternErrorKind`]).
    /// Regular expressions are compiled here, once.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] with the character position of the first problem: a pattern longer
    /// than 1024 characters, unbalanced braces or parentheses, a selector without `$.`,
    /// `IS NOT`, a bare `EXISTS`, a regular expression outside AWS's dialect, more than two
    /// regular expressions or too many wildcard selectors, and so on.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let ast = parse::parse(pattern)?;
        let json = match &ast {
            Pattern::Json(expr) => {
                let mut slots = SlotTable::default();
                let compiled = compile::compile(expr, &mut slots);
                Some((compiled, slots))
            }
            _ => None,
        };
        Ok(Self {
            source: pattern.into(),
            ast,
            json,
        })
    }

    /// Whether the pattern matches a raw log event message. For repeated evaluation of one
    /// message against several patterns, build a [`Message`] once and use
    /// [`FilterPattern::matches_message`] or a [`PatternSet`].
    #[must_use]
    pub fn matches(&self, message: &str) -> bool {
        self.matches_message(&Message::new(message))
    }

    /// Whether the pattern matches `message`, reusing its JSON parse if another pattern
    /// already triggered it.
    #[must_use]
    pub fn matches_message(&self, message: &Message<'_>) -> bool {
        match &self.json {
            Some((expr, slots)) => message
                .document()
                .is_some_and(|doc| eval::with_context(doc, slots, |ctx| ctx.eval(expr))),
            None => self.matches_text(message.text()),
        }
    }

    /// Evaluation for the kinds that work on the raw text (JSON patterns never match here).
    pub(crate) fn matches_text(&self, text: &str) -> bool {
        match &self.ast {
            Pattern::MatchAll => true,
            Pattern::Terms(terms) => text_eval::eval_terms(terms, text),
            Pattern::SpaceDelimited(fields) => text_eval::eval_space(fields, text),
            Pattern::Json(_) => false,
        }
    }

    /// The pattern's kind.
    #[must_use]
    pub fn kind(&self) -> PatternKind {
        match self.ast {
            Pattern::MatchAll => PatternKind::MatchAll,
            Pattern::Terms(_) => PatternKind::Terms,
            Pattern::Json(_) => PatternKind::Json,
            Pattern::SpaceDelimited(_) => PatternKind::SpaceDelimited,
        }
    }

    /// The parsed tree.
    #[must_use]
    pub fn ast(&self) -> &Pattern {
        &self.ast
    }

    /// The pattern exactly as it was given to [`FilterPattern::parse`].
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl PartialEq for FilterPattern {
    fn eq(&self, other: &Self) -> bool {
        self.ast == other.ast
    }
}

impl Eq for FilterPattern {}

impl fmt::Display for FilterPattern {
    /// The canonical form: `parse(&p.to_string()) == p`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ast.fmt(f)
    }
}

impl fmt::Debug for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FilterPattern").field(&self.source).finish()
    }
}

impl FromStr for FilterPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
