//! The canonical text of a pattern: single spaces, `{ … }` and `[ … ]` padded, string values
//! quoted, parentheses only where `&&` and `||` meet. Parsing the canonical text gives back an
//! equal tree.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{
    Expr, FieldTest, JsonCondition, JsonTest, Pattern, Selector, SpaceField, Step, StringValue,
    Term, TermKind, TermMatcher, Value,
};

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::MatchAll => Ok(()),
            Self::Terms(terms) => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{term}")?;
                }
                Ok(())
            }
            Self::Json(expr) => {
                f.write_str("{ ")?;
                fmt_expr(f, expr, &|f, c: &JsonCondition| write!(f, "{c}"))?;
                f.write_str(" }")
            }
            Self::SpaceDelimited(fields) => {
                f.write_char('[')?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_char(']')
            }
        }
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.kind {
            TermKind::Required => {}
            TermKind::Optional => f.write_char('?')?,
            TermKind::Excluded => f.write_char('-')?,
        }
        match &self.matcher {
            TermMatcher::Regex(re) => write!(f, "%{}%", re.as_str()),
            TermMatcher::Text(text) if can_be_bare(text, self.kind) => f.write_str(text),
            TermMatcher::Text(text) => write_quoted(f, "", text, ""),
        }
    }
}

/// Whether a term's text reads back as the same bare term.
fn can_be_bare(text: &str, kind: TermKind) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    !text.chars().any(char::is_whitespace)
        && !matches!(first, '"' | '%' | '{' | '[')
        && (kind != TermKind::Required || !matches!(first, '?' | '-'))
}

fn write_quoted(f: &mut Formatter<'_>, before: &str, text: &str, after: &str) -> fmt::Result {
    f.write_char('"')?;
    f.write_str(before)?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_str(after)?;
    f.write_char('"')
}

fn fmt_expr<C>(
    f: &mut Formatter<'_>,
    expr: &Expr<C>,
    condition: &dyn Fn(&mut Formatter<'_>, &C) -> fmt::Result,
) -> fmt::Result {
    let (operands, separator) = match expr {
        Expr::Condition(c) => return condition(f, c),
        Expr::Or(operands) => (operands, " || "),
        Expr::And(operands) => (operands, " && "),
    };
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if matches!(operand, Expr::Condition(_)) {
            fmt_expr(f, operand, condition)?;
        } else {
            f.write_char('(')?;
            fmt_expr(f, operand, condition)?;
            f.write_char(')')?;
        }
    }
    Ok(())
}

impl Display for JsonCondition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.selector)?;
        match &self.test {
            JsonTest::Compare(op, value) => write!(f, "{op} {value}"),
            JsonTest::IsNull => f.write_str("IS NULL"),
            JsonTest::IsTrue => f.write_str("IS TRUE"),
            JsonTest::IsFalse => f.write_str("IS FALSE"),
            JsonTest::NotExists => f.write_str("NOT EXISTS"),
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('$')?;
        for step in self.steps() {
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

impl Display for Step {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name)
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                write!(f, ".{name}")
            }
            Self::Field(name) => write!(f, "['{name}']"),
            Self::Index(i) => write!(f, "[{i}]"),
            Self::AnyIndex => f.write_str("[*]"),
            Self::AnyField => f.write_str(".*"),
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_char('*'),
            Self::String(s) => write!(f, "{s}"),
            Self::Number(n) => f.write_str(n.as_str()),
            Self::Regex(re) => write!(f, "%{}%", re.as_str()),
        }
    }
}

impl Display for StringValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let star = |on: bool| if on { "*" } else { "" };
        write_quoted(
            f,
            star(self.leading_wildcard()),
            self.text(),
            star(self.trailing_wildcard()),
        )
    }
}

impl Display for SpaceField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ellipsis => f.write_str("..."),
            Self::Empty => Ok(()),
            Self::Named {
                name,
                condition: None,
            } => f.write_str(name),
            Self::Named {
                name,
                condition: Some(expr),
            } => fmt_expr(f, expr, &|f, t: &FieldTest| {
                write!(f, "{name} {} {}", t.op, t.value)
            }),
        }
    }
}
