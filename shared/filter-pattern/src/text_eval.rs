//! Evaluation of the patterns that read the raw text: terms (spec §2) and space-delimited
//! fields (spec §5).

use crate::ast::{Expr, FieldTest, SpaceField, Term, TermKind, TermMatcher};
use crate::eval::compare;

/// Term patterns (spec §2).
pub(crate) fn eval_terms(terms: &[Term], text: &str) -> bool {
    let present = |t: &Term| match &t.matcher {
        TermMatcher::Text(s) => s.trim().is_empty() || text.contains(s.as_str()),
        TermMatcher::Regex(re) => re.is_match(text),
    };
    if terms.iter().all(|t| t.kind == TermKind::Optional) {
        return terms.iter().any(present);
    }
    // `?` terms are ignored when mixed with plain or `-` terms.
    terms.iter().all(|t| match t.kind {
        TermKind::Required => present(t),
        TermKind::Excluded => !present(t),
        TermKind::Optional => true,
    })
}

/// One whitespace-separated field of a message: its value and the byte range of the raw
/// token (including `[ ]` or `" "` delimiters).
#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    value: &'t str,
    start: usize,
}

/// Splits a message into fields: whitespace separates them; `[…]` and `"…"` are one field
/// each, without their delimiters (an unclosed one runs to the end) [spec §5].
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        let start = text.len() - trimmed.len();
        let Some(first) = trimmed.chars().next() else {
            return tokens;
        };
        let (value, consumed) = match first {
            '[' | '"' => {
                let close = if first == '[' { ']' } else { '"' };
                let inner = trimmed.get(1..).unwrap_or("");
                match inner.find(close) {
                    Some(i) => (inner.get(..i).unwrap_or(""), i + 2),
                    None => (inner, trimmed.len()),
                }
            }
            _ => {
                let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
                (trimmed.get(..end).unwrap_or(""), end)
            }
        };
        tokens.push(Token { value, start });
        rest = trimmed.get(consumed..).unwrap_or("");
    }
}

/// Space-delimited patterns (spec §5).
pub(crate) fn eval_space(fields: &[SpaceField], text: &str) -> bool {
    let tokens = tokenize(text);
    let ellipsis = fields.iter().position(|f| *f == SpaceField::Ellipsis);
    let Some(ellipsis) = ellipsis else {
        let (Some((last, init)), true) = (fields.split_last(), tokens.len() >= fields.len()) else {
            return false;
        };
        let bound = init
            .iter()
            .zip(&tokens)
            .all(|(field, token)| field_matches(field, token.value));
        // The last field takes the rest of the line when the message has more fields.
        let last_value = if tokens.len() == fields.len() {
            tokens.last().map_or("", |t| t.value)
        } else {
            tokens
                .get(init.len())
                .and_then(|t| text.get(t.start..))
                .map_or("", str::trim_end)
        };
        return bound && field_matches(last, last_value);
    };
    let (before, after) = fields.split_at(ellipsis);
    let after = after.get(1..).unwrap_or_default();
    if tokens.len() < before.len() + after.len() {
        return false;
    }
    let tail = tokens.get(tokens.len() - after.len()..).unwrap_or_default();
    before
        .iter()
        .zip(&tokens)
        .all(|(field, token)| field_matches(field, token.value))
        && after
            .iter()
            .zip(tail)
            .all(|(field, token)| field_matches(field, token.value))
}

fn field_matches(field: &SpaceField, value: &str) -> bool {
    match field {
        SpaceField::Named {
            condition: Some(condition),
            ..
        } => eval_field_expr(condition, value),
        SpaceField::Named { .. } | SpaceField::Empty | SpaceField::Ellipsis => true,
    }
}

fn eval_field_expr(expr: &Expr<FieldTest>, value: &str) -> bool {
    match expr {
        Expr::Or(operands) => operands.iter().any(|e| eval_field_expr(e, value)),
        Expr::And(operands) => operands.iter().all(|e| eval_field_expr(e, value)),
        Expr::Condition(t) => compare(t.op, &t.value, value),
    }
}
