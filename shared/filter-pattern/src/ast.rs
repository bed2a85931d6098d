//! The syntax tree of a parsed filter pattern.
//!
//! Obtained from [`FilterPattern::ast`](crate::FilterPattern::ast). It is normalised while
//! parsing: redundant parentheses are dropped and nested `&&` / `||` chains are flattened, so two
//! patterns that differ only in spacing, quoting of plain values or redundant parentheses have
//! equal trees (and print the same canonical text).

use std::fmt;

use crate::aws_regex::AwsRegex;

/// One parsed filter pattern, of one of the three kinds (or the match-everything pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// The empty (or whitespace-only) pattern: matches every log event.
    MatchAll,
    /// A term pattern for unstructured text: `ERROR -ARGUMENTS "a phrase" %regex%`.
    Terms(Vec<Term>),
    /// A JSON pattern: `{ $.eventName = "ConsoleLogin" && … }`.
    Json(Expr<JsonCondition>),
    /// A space-delimited pattern: `[ip, user, ..., status_code = 4*, bytes]`.
    SpaceDelimited(Vec<SpaceField>),
}

/// How a term takes part in a term pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// A plain term: must occur.
    Required,
    /// `?term`: any of them must occur — but only when the pattern has no plain or `-` terms.
    Optional,
    /// `-term`: must not occur.
    Excluded,
}

/// What a term looks for in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermMatcher {
    /// A case-sensitive substring (bare or quoted in the pattern). An empty or whitespace-only
    /// text is always present.
    Text(String),
    /// `%regex%`: a search anywhere in the message.
    Regex(AwsRegex),
}

/// One term of a term pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Plain, `?` or `-`.
    pub kind: TermKind,
    /// What it looks for.
    pub matcher: TermMatcher,
}

/// A boolean combination of conditions. `&&` binds tighter than `||`.
///
/// `Or` and `And` always hold at least two operands, and an operand of `And` is never itself an
/// `And` (likewise for `Or`): chains are flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr<C> {
    /// True if any operand is true (evaluated left to right).
    Or(Vec<Expr<C>>),
    /// True if every operand is true (evaluated left to right).
    And(Vec<Expr<C>>),
    /// A single condition.
    Condition(C),
}

/// One condition of a JSON pattern: a selector and what it must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonCondition {
    /// Where to look, e.g. `$.userIdentity.type`.
    pub selector: Selector,
    /// What the selected value must satisfy.
    pub test: JsonTest,
}

/// What a JSON condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTest {
    /// `selector op value`.
    Compare(CompareOp, Value),
    /// `IS NULL`: the field is present and JSON `null`.
    IsNull,
    /// `IS TRUE`: the field is the JSON boolean `true`.
    IsTrue,
    /// `IS FALSE`: the field is the JSON boolean `false`.
    IsFalse,
    /// `NOT EXISTS`: the selector selects nothing.
    NotExists,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written in a pattern.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// `<`, `<=`, `>` or `>=`: operators that only compare numbers.
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `*` (or `"*"`) alone: the field holds a scalar value.
    Any,
    /// A string, quoted or bare, possibly with a leading and/or trailing `*` wildcard.
    String(StringValue),
    /// A number such as `404`, `-1.5` or `1e3`, compared numerically.
    Number(NumberValue),
    /// `%regex%`: a search in the field's text.
    Regex(AwsRegex),
}

/// A string value with its wildcards split off.
///
/// `*Event` has a leading wildcard and the text `Event`; `Ev*ent` has no wildcard (a `*` in the
/// middle is literal).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StringValue {
    text: String,
    leading_wildcard: bool,
    trailing_wildcard: bool,
}

impl StringValue {
    /// Splits the wildcards off `raw` (the value as written, quotes removed). Returns `None` for
    /// `*` alone, which is [`Value::Any`].
    pub(crate) fn from_raw(raw: &str) -> Option<Self> {
        if raw == "*" {
            return None;
        }
        let (leading_wildcard, rest) = match raw.strip_prefix('*') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (trailing_wildcard, text) = match rest.strip_suffix('*') {
            Some(text) => (true, text),
            None => (false, rest),
        };
        Some(Self {
            text: text.to_owned(),
            leading_wildcard,
            trailing_wildcard,
        })
    }

    /// The literal text between the wildcards.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the value started with `*` (matches any prefix).
    pub fn leading_wildcard(&self) -> bool {
        self.leading_wildcard
    }

    /// Whether the value ended with `*` (matches any suffix).
    pub fn trailing_wildcard(&self) -> bool {
        self.trailing_wildcard
    }

    /// Whether `candidate` matches this value (whole-value comparison, wildcards honoured).
    pub fn matches(&self, candidate: &str) -> bool {
        match (self.leading_wildcard, self.trailing_wildcard) {
            (false, false) => candidate == self.text,
            (true, false) => candidate.ends_with(self.text.as_str()),
            (false, true) => candidate.starts_with(self.text.as_str()),
            (true, true) => candidate.contains(self.text.as_str()),
        }
    }
}

/// A number as written in the pattern (the text is kept for printing; comparison is numeric).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumberValue {
    raw: String,
}

impl NumberValue {
    /// `Some` if `raw` is a number in the pattern grammar
    /// (`[+-]? (digits ['.' digits] | '.' digits) ([eE] [+-]? digits)?`).
    pub(crate) fn from_raw(raw: &str) -> Option<Self> {
        crate::number::Decimal::parse(raw).map(|_| Self {
            raw: raw.to_owned(),
        })
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// A JSON property selector such as `$.userIdentity.type` or `$.items[*].name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    steps: Vec<Step>,
}

impl Selector {
    pub(crate) fn new(steps: Vec<Step>) -> Self {
        Self { steps }
    }

    /// The steps after `$`.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether the selector contains `[*]` or `.*`.
    pub fn has_wildcard(&self) -> bool {
        self.steps.iter().any(|s| s.is_wildcard())
    }
}

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// `.name` or `['name']`: an object member.
    Field(String),
    /// `[n]`: a zero-based array element.
    Index(usize),
    /// `[*]`: any array element.
    AnyIndex,
    /// `.*`: any object member.
    AnyField,
}

impl Step {
    /// `[*]` or `.*`.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Self::AnyIndex | Self::AnyField)
    }
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceField {
    /// `...`: any number (zero or more) of fields.
    Ellipsis,
    /// An empty field (`[a,,b]` or a trailing comma): one field, any value.
    Empty,
    /// A named field, optionally with a condition on its value.
    Named {
        /// The field's name.
        name: String,
        /// Its condition, e.g. `status_code = 404 || status_code = 410`.
        condition: Option<Expr<FieldTest>>,
    },
}

/// One comparison in a space-delimited field's condition (the field name is the field's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTest {
    /// The operator.
    pub op: CompareOp,
    /// The value.
    pub value: Value,
}
