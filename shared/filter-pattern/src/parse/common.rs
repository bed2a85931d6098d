//! Pieces shared by the parsers: quoted strings, `%regex%`, operators, values and the
//! `&&` / `||` / `( )` expression grammar.

use super::MAX_NESTING;
use super::MAX_REGEXES;
use super::cursor::Cursor;
use crate::ast::{CompareOp, Expr, NumberValue, StringValue, Value};
use crate::aws_regex::AwsRegex;
use crate::error::{PatternError, PatternErrorKind};

/// Where a value appears, which decides what ends a bare (unquoted) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueContext {
    /// Inside `{ … }`: a bare value also ends at `}`.
    Json,
    /// Inside `[ … ]`: a bare value also ends at `,`.
    SpaceDelimited,
}

/// After `"`: the string up to the closing quote, with `\"` → `"` and `\\` → `\` (any other
/// backslash is kept as written).
pub(crate) fn quoted(cur: &mut Cursor<'_>) -> Result<String, PatternError> {
    let open = cur.pos();
    cur.bump();
    let mut out = String::new();
    loop {
        match cur.bump() {
            None => return Err(cur.error_at(open, PatternErrorKind::UnclosedQuote)),
            Some('"') => return Ok(out),
            Some('\\') => match cur.peek() {
                Some(c @ ('"' | '\\')) => {
                    cur.bump();
                    out.push(c);
                }
                _ => out.push('\\'),
            },
            Some(c) => out.push(c),
        }
    }
}

/// After `%`: the regular expression up to the next `%`, validated and compiled.
pub(crate) fn regex(cur: &mut Cursor<'_>) -> Result<AwsRegex, PatternError> {
    let open = cur.pos();
    cur.bump();
    let body_start = cur.pos();
    let Some(len) = cur.rest().find('%') else {
        return Err(cur.error_at(open, PatternErrorKind::UnclosedRegex));
    };
    let body = cur.slice(body_start, body_start + len);
    cur.set_pos(body_start + len + 1);
    if body.is_empty() {
        return Err(cur.error_at(open, PatternErrorKind::EmptyRegex));
    }
    AwsRegex::compile(body).map_err(|e| {
        PatternError::new(
            cur.char_index(body_start) + e.offset,
            PatternErrorKind::InvalidRegex { reason: e.reason },
        )
    })
}

/// A comparison operator, if one is next. `==` is reported as an error.
pub(crate) fn operator(cur: &mut Cursor<'_>) -> Result<Option<CompareOp>, PatternError> {
    if cur.starts_with("==") {
        return Err(cur.error_here(PatternErrorKind::DoubleEquals));
    }
    let op = [
        ("!=", CompareOp::Ne),
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("=", CompareOp::Eq),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ]
    .into_iter()
    .find(|(text, _)| cur.starts_with(text));
    Ok(op.map(|(text, op)| {
        cur.eat(text);
        op
    }))
}

/// Whether the unread text starts with something that ends a value.
fn at_value_end(cur: &Cursor<'_>, context: ValueContext) -> bool {
    match cur.peek() {
        None => true,
        Some(c) if c.is_whitespace() || c == ')' => true,
        Some('}') => context == ValueContext::Json,
        Some(',') => context == ValueContext::SpaceDelimited,
        Some(_) => cur.starts_with("&&") || cur.starts_with("||"),
    }
}

/// The value after operator `op`: `"quoted"`, `%regex%`, a number, `*`, or a bare string.
pub(crate) fn value(
    cur: &mut Cursor<'_>,
    op: CompareOp,
    context: ValueContext,
    regexes: &mut usize,
) -> Result<Value, PatternError> {
    cur.skip_ws();
    let start = cur.pos();
    let value = match cur.peek() {
        Some('"') => {
            let text = quoted(cur)?;
            expect_value_end(cur, context)?;
            StringValue::from_raw(&text).map_or(Value::Any, Value::String)
        }
        Some('\'') if context == ValueContext::Json => {
            return Err(cur.error_here(PatternErrorKind::SingleQuotedValue));
        }
        Some('%') => {
            *regexes += 1;
            if *regexes > MAX_REGEXES {
                return Err(cur.error_here(PatternErrorKind::TooManyRegexes { max: MAX_REGEXES }));
            }
            let re = regex(cur)?;
            expect_value_end(cur, context)?;
            Value::Regex(re)
        }
        _ => {
            while !at_value_end(cur, context) {
                cur.bump();
            }
            let raw = cur.slice(start, cur.pos());
            if raw.is_empty() {
                return Err(cur.error_at(start, PatternErrorKind::MissingValue { op: op.as_str() }));
            }
            if let Some(number) = NumberValue::from_raw(raw) {
                Value::Number(number)
            } else {
                StringValue::from_raw(raw).map_or(Value::Any, Value::String)
            }
        }
    };
    if op.is_ordering() && !matches!(value, Value::Number(_)) {
        return Err(cur.error_at(
            start,
            PatternErrorKind::NonNumericOrdering {
                op: op.as_str(),
                value: cur.slice(start, cur.pos()).to_owned(),
            },
        ));
    }
    Ok(value)
}

fn expect_value_end(cur: &Cursor<'_>, context: ValueContext) -> Result<(), PatternError> {
    if at_value_end(cur, context) {
        Ok(())
    } else {
        Err(cur.unexpected("a space, `&&`, `||` or `)` after the value"))
    }
}

/// Reads a run of ASCII letters (a keyword candidate).
pub(crate) fn word<'s>(cur: &mut Cursor<'s>) -> &'s str {
    cur.take_while(|c| c.is_ascii_alphabetic())
}

/// Rejects a keyword written in the wrong case (`is null`): keywords are upper case only.
pub(crate) fn check_keyword_case(
    cur: &Cursor<'_>,
    at: usize,
    word: &str,
) -> Result<(), PatternError> {
    const KEYWORDS: [&str; 6] = ["IS", "NOT", "EXISTS", "NULL", "TRUE", "FALSE"];
    let upper = word.to_ascii_uppercase();
    if upper != word && KEYWORDS.contains(&upper.as_str()) {
        return Err(cur.error_at(
            at,
            PatternErrorKind::LowercaseKeyword {
                found: word.to_owned(),
                upper,
            },
        ));
    }
    Ok(())
}

/// `or := and ('||' and)*`, `and := unary ('&&' unary)*`, `unary := '(' or ')' | atom`.
///
/// Stops before anything that cannot continue the expression; the caller decides whether
/// what follows is acceptable.
pub(crate) fn expression<C>(
    cur: &mut Cursor<'_>,
    atom: &mut dyn FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
) -> Result<Expr<C>, PatternError> {
    or_expr(cur, atom, 0)
}

fn or_expr<C>(
    cur: &mut Cursor<'_>,
    atom: &mut dyn FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<Expr<C>, PatternError> {
    let mut operands = Vec::new();
    loop {
        match and_expr(cur, atom, depth)? {
            Expr::Or(inner) => operands.extend(inner),
            other => operands.push(other),
        }
        cur.skip_ws();
        if !cur.eat("||") {
            break;
        }
    }
    Ok(if operands.len() == 1 {
        operands.remove(0)
    } else {
        Expr::Or(operands)
    })
}

fn and_expr<C>(
    cur: &mut Cursor<'_>,
    atom: &mut dyn FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<Expr<C>, PatternError> {
    let mut operands = Vec::new();
    loop {
        match unary(cur, atom, depth)? {
            Expr::And(inner) => operands.extend(inner),
            other => operands.push(other),
        }
        cur.skip_ws();
        if !cur.eat("&&") {
            break;
        }
    }
    Ok(if operands.len() == 1 {
        operands.remove(0)
    } else {
        Expr::And(operands)
    })
}

fn unary<C>(
    cur: &mut Cursor<'_>,
    atom: &mut dyn FnMut(&mut Cursor<'_>) -> Result<C, PatternError>,
    depth: usize,
) -> Result<Expr<C>, PatternError> {
    cur.skip_ws();
    if cur.peek() != Some('(') {
        return atom(cur).map(Expr::Condition);
    }
    let open = cur.pos();
    if depth >= MAX_NESTING {
        return Err(cur.error_here(PatternErrorKind::NestingTooDeep { max: MAX_NESTING }));
    }
    cur.bump();
    let inner = or_expr(cur, atom, depth + 1)?;
    cur.skip_ws();
    match cur.peek() {
        Some(')') => {
            cur.bump();
            Ok(inner)
        }
        None => Err(cur.error_at(open, PatternErrorKind::UnclosedParenthesis)),
        Some(_) => Err(cur.unexpected("`&&`, `||` or `)`")),
    }
}
