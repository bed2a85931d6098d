//! Why a filter pattern was rejected, and where.

use thiserror::Error;

/// A filter pattern that AWS would reject (or that this engine cannot honour), with the
/// position of the problem.
///
/// `position` is a zero-based **character** (not byte) offset into the pattern string exactly
/// as it was given to [`FilterPattern::parse`](crate::FilterPattern::parse), so a caret can be
/// drawn under it. `Display` shows it one-based, as a column.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} (at column {column})", column = .position + 1)]
pub struct PatternError {
    /// Zero-based character offset of the problem in the pattern.
    pub position: usize,
    /// What is wrong.
    pub kind: PatternErrorKind,
}

impl PatternError {
    pub(crate) fn new(position: usize, kind: PatternErrorKind) -> Self {
        Self { position, kind }
    }
}

/// The reasons a pattern is rejected. Messages are written for the person who typed the pattern.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern is longer than the 1024 characters the CloudWatch Logs API accepts.
    #[error("the pattern is {length} characters long; CloudWatch Logs accepts at most {max}")]
    TooLong {
        /// Length of the pattern in characters.
        length: usize,
        /// The limit (1024).
        max: usize,
    },
    /// A JSON pattern that does not end with `}`.
    #[error("a filter pattern that starts with '{{' must end with '}}'")]
    UnclosedJsonPattern,
    /// A space-delimited pattern that does not end with `]`.
    #[error("a filter pattern that starts with '[' must end with ']'")]
    UnclosedSpaceDelimitedPattern,
    /// `{ }` with nothing inside.
    #[error(
        "the JSON pattern is empty: write a condition such as `$.eventName = \"ConsoleLogin\"`"
    )]
    EmptyJsonPattern,
    /// The input ended where something else was required.
    #[error("the pattern ends too early: expected {expected}")]
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
    },
    /// A character or word that does not fit here.
    #[error("unexpected `{found}`: expected {expected}")]
    Unexpected {
        /// The offending text (one character or a word).
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `}` that does not close the pattern (unbalanced braces).
    #[error(
        "unbalanced braces: this `}}` closes nothing (JSON patterns have exactly one pair of braces)"
    )]
    UnbalancedBrace,
    /// A `(` without its `)`.
    #[error("this `(` is never closed")]
    UnclosedParenthesis,
    /// A `)` without its `(`.
    #[error("this `)` closes nothing")]
    UnbalancedParenthesis,
    /// Parentheses nested deeper than the engine allows.
    #[error("parentheses are nested more than {max} levels deep")]
    NestingTooDeep {
        /// The limit.
        max: usize,
    },
    /// A JSON pattern's value in single quotes, e.g. `{ $.a = 'x' }`: AWS rejects it (single
    /// quotes delimit nothing in a filter pattern).
    #[error(
        "single quotes do not delimit a value (AWS rejects this pattern): use double quotes, \"...\""
    )]
    SingleQuotedValue,
    /// A `"` that is never closed.
    #[error("this quote is never closed")]
    UnclosedQuote,
    /// A closing quote followed directly by more text, e.g. `"ab"cd`.
    #[error("a quoted term or `%regex%` must be followed by a space or the end of the pattern")]
    TextAfterQuote,
    /// A `%` that is never closed.
    #[error("this regular expression is never closed: expected a second `%`")]
    UnclosedRegex,
    /// `%%`.
    #[error("the regular expression between `%` and `%` is empty")]
    EmptyRegex,
    /// A regular expression AWS's dialect does not accept.
    #[error("invalid regular expression: {reason}")]
    InvalidRegex {
        /// Why.
        reason: String,
    },
    /// More regular expressions than AWS allows in one JSON or space-delimited pattern.
    #[error("a JSON or space-delimited pattern may contain at most {max} regular expressions")]
    TooManyRegexes {
        /// The limit (2).
        max: usize,
    },
    /// A `?` or `-` prefix not followed by a term.
    #[error("`{prefix}` must be followed immediately by a term, e.g. `{prefix}ERROR`")]
    DanglingPrefix {
        /// `?` or `-`.
        prefix: char,
    },
    /// A selector that does not start with `$`.
    #[error("a selector must start with `$.`: write `$.{name}`")]
    SelectorWithoutDollar {
        /// What was written instead.
        name: String,
    },
    /// A malformed selector.
    #[error("invalid selector: {reason}")]
    InvalidSelector {
        /// Why.
        reason: &'static str,
    },
    /// An array index that does not fit in memory addresses.
    #[error("array index `{index}` is too large")]
    IndexTooLarge {
        /// The digits as written.
        index: String,
    },
    /// More than one `[*]` / `.*` in one selector.
    #[error("a selector may contain at most one wildcard (`[*]` or `.*`)")]
    TooManyWildcardsInSelector,
    /// More than three wildcard selectors in one pattern.
    #[error("a JSON pattern may contain at most {max} wildcard selectors")]
    TooManyWildcardSelectors {
        /// The limit (3).
        max: usize,
    },
    /// `IS NOT …`.
    #[error(
        "`IS NOT` is not supported: use `!=` to compare values or `NOT EXISTS` for a missing field"
    )]
    IsNotUnsupported,
    /// `EXISTS` without `NOT`.
    #[error(
        "`EXISTS` is only supported as `NOT EXISTS`; to require a field with a value write `= *`"
    )]
    BareExists,
    /// `IS` followed by something other than `NULL`, `TRUE` or `FALSE`.
    #[error("`IS` must be followed by `NULL`, `TRUE` or `FALSE`")]
    InvalidIsOperand,
    /// `NOT` not followed by `EXISTS`.
    #[error("`NOT` must be followed by `EXISTS`")]
    InvalidNotOperand,
    /// A keyword written in lower or mixed case.
    #[error("keywords are upper case: write `{upper}` instead of `{found}`")]
    LowercaseKeyword {
        /// As written.
        found: String,
        /// The accepted spelling.
        upper: String,
    },
    /// `==`.
    #[error("`==` is not an operator: use `=`")]
    DoubleEquals,
    /// `<`, `<=`, `>`, `>=` with something that is not a number.
    #[error("`{op}` compares numbers, but `{value}` is not a number")]
    NonNumericOrdering {
        /// The operator.
        op: &'static str,
        /// The value as written.
        value: String,
    },
    /// An empty value after an operator.
    #[error("expected a value after `{op}`")]
    MissingValue {
        /// The operator.
        op: &'static str,
    },
    /// A space-delimited field whose condition mentions another field.
    #[error(
        "a field's condition may only mention that field: `{found}` appears in the condition of `{field}`"
    )]
    ForeignFieldInCondition {
        /// The field the condition belongs to.
        field: String,
        /// The other name used in the condition.
        found: String,
    },
    /// More than one `...` in a space-delimited pattern.
    #[error("a space-delimited pattern may contain `...` only once")]
    MultipleEllipses,
    /// `IS …` / `NOT EXISTS` in a space-delimited pattern.
    #[error("`IS` and `NOT EXISTS` are only supported in JSON patterns")]
    KeywordInSpaceDelimited,
}
