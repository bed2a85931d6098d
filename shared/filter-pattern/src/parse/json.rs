//! JSON patterns (spec §4): `{ selector op value && (… || …) }`.

use super::MAX_WILDCARD_SELECTORS;
use super::common::{ValueContext, check_keyword_case, expression, operator, value, word};
use super::cursor::Cursor;
use crate::ast::{Expr, JsonCondition, JsonTest, Selector, Step};
use crate::error::{PatternError, PatternErrorKind};

/// Parses the text between the braces. `open_brace` is the byte offset of `{`.
pub(super) fn parse(
    mut cur: Cursor<'_>,
    open_brace: usize,
) -> Result<Expr<JsonCondition>, PatternError> {
    cur.skip_ws();
    if cur.at_end() {
        return Err(cur.error_at(open_brace, PatternErrorKind::EmptyJsonPattern));
    }
    let mut regexes = 0usize;
    let mut wildcard_selectors = 0usize;
    let expr = expression(&mut cur, &mut |cur| {
        condition(cur, &mut regexes, &mut wildcard_selectors)
    })?;
    cur.skip_ws();
    match cur.peek() {
        None => Ok(expr),
        Some(')') => Err(cur.error_here(PatternErrorKind::UnbalancedParenthesis)),
        Some('}') => Err(cur.error_here(PatternErrorKind::UnbalancedBrace)),
        Some(_) => Err(cur.unexpected("`&&`, `||` or the closing `}`")),
    }
}

/// `selector op value | selector IS (NULL|TRUE|FALSE) | selector NOT EXISTS`.
fn condition(
    cur: &mut Cursor<'_>,
    regexes: &mut usize,
    wildcard_selectors: &mut usize,
) -> Result<JsonCondition, PatternError> {
    cur.skip_ws();
    let start = cur.pos();
    match cur.peek() {
        Some('$') => {}
        Some(c) if c.is_alphanumeric() || c == '_' || c == '.' => {
            let name = cur.take_while(|c| !c.is_whitespace() && !"=!<>()&|}".contains(c));
            let name = name.trim_start_matches('.').to_owned();
            return Err(cur.error_at(start, PatternErrorKind::SelectorWithoutDollar { name }));
        }
        Some('}') => return Err(cur.error_here(PatternErrorKind::UnbalancedBrace)),
        _ => {
            return Err(cur.unexpected("a selector such as `$.eventName`, or `(`"));
        }
    }
    let selector = selector(cur)?;
    if selector.has_wildcard() {
        *wildcard_selectors += 1;
        if *wildcard_selectors > MAX_WILDCARD_SELECTORS {
            return Err(cur.error_at(
                start,
                PatternErrorKind::TooManyWildcardSelectors {
                    max: MAX_WILDCARD_SELECTORS,
                },
            ));
        }
    }
    cur.skip_ws();
    let test = test(cur, regexes)?;
    Ok(JsonCondition { selector, test })
}

/// What follows a selector.
fn test(cur: &mut Cursor<'_>, regexes: &mut usize) -> Result<JsonTest, PatternError> {
    const EXPECTED: &str = "an operator (`=`, `!=`, `<`, `<=`, `>`, `>=`), `IS` or `NOT EXISTS` \
                            (write `$.['name']` for a name with other characters)";
    if let Some(op) = operator(cur)? {
        return Ok(JsonTest::Compare(
            op,
            value(cur, op, ValueContext::Json, regexes)?,
        ));
    }
    let at = cur.pos();
    let keyword = word(cur);
    check_keyword_case(cur, at, keyword)?;
    match keyword {
        "IS" => {
            cur.skip_ws();
            let operand_at = cur.pos();
            let operand = word(cur);
            check_keyword_case(cur, operand_at, operand)?;
            match operand {
                "NULL" => Ok(JsonTest::IsNull),
                "TRUE" => Ok(JsonTest::IsTrue),
                "FALSE" => Ok(JsonTest::IsFalse),
                "NOT" => Err(cur.error_at(at, PatternErrorKind::IsNotUnsupported)),
                _ => Err(cur.error_at(operand_at, PatternErrorKind::InvalidIsOperand)),
            }
        }
        "NOT" => {
            cur.skip_ws();
            let operand_at = cur.pos();
            let operand = word(cur);
            check_keyword_case(cur, operand_at, operand)?;
            if operand == "EXISTS" {
                Ok(JsonTest::NotExists)
            } else {
                Err(cur.error_at(operand_at, PatternErrorKind::InvalidNotOperand))
            }
        }
        "EXISTS" => Err(cur.error_at(at, PatternErrorKind::BareExists)),
        _ => {
            cur.set_pos(at);
            Err(cur.unexpected(EXPECTED))
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `$` followed by `.name`, `.*`, `[n]`, `[*]`, `['key']` or `.['key']` steps.
fn selector(cur: &mut Cursor<'_>) -> Result<Selector, PatternError> {
    let dollar = cur.pos();
    cur.bump();
    let mut steps = Vec::new();
    loop {
        let step_at = cur.pos();
        let step = match cur.peek() {
            Some('.') => {
                cur.bump();
                match cur.peek() {
                    Some('*') => {
                        cur.bump();
                        Step::AnyField
                    }
                    Some('[') => bracket(cur)?,
                    Some(c) if is_name_char(c) => {
                        Step::Field(cur.take_while(is_name_char).to_owned())
                    }
                    _ => {
                        return Err(cur.error_here(PatternErrorKind::InvalidSelector {
                            reason: "expected a field name after `.` (letters, digits, `_` and `-`; \
                                     use `['name']` for other characters)",
                        }));
                    }
                }
            }
            Some('[') => bracket(cur)?,
            _ => break,
        };
        if step.is_wildcard() && steps.iter().any(Step::is_wildcard) {
            return Err(cur.error_at(step_at, PatternErrorKind::TooManyWildcardsInSelector));
        }
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(cur.error_at(
            dollar,
            PatternErrorKind::InvalidSelector {
                reason: "a selector starts with `$.` followed by a field name, e.g. `$.eventName`",
            },
        ));
    }
    Ok(Selector::new(steps))
}

/// After `[`: `*]`, `digits]` or `'key']`.
fn bracket(cur: &mut Cursor<'_>) -> Result<Step, PatternError> {
    let open = cur.pos();
    cur.bump();
    let step = match cur.peek() {
        Some('*') => {
            cur.bump();
            Step::AnyIndex
        }
        Some(c) if c.is_ascii_digit() => {
            let digits = cur.take_while(|c| c.is_ascii_digit());
            let index = digits.parse::<usize>().map_err(|_| {
                cur.error_at(
                    open,
                    PatternErrorKind::IndexTooLarge {
                        index: digits.to_owned(),
                    },
                )
            })?;
            Step::Index(index)
        }
        Some('\'') => {
            cur.bump();
            let Some(len) = cur.rest().find("']") else {
                return Err(cur.error_at(
                    open,
                    PatternErrorKind::InvalidSelector {
                        reason: "this `['` is never closed by `']`",
                    },
                ));
            };
            let key = cur.slice(cur.pos(), cur.pos() + len).to_owned();
            cur.set_pos(cur.pos() + len + 2);
            return Ok(Step::Field(key));
        }
        _ => {
            return Err(cur.error_here(PatternErrorKind::InvalidSelector {
                reason: "expected an index, `*` or a quoted key such as `['name']` after `[`",
            }));
        }
    };
    if !cur.eat("]") {
        return Err(cur.error_here(PatternErrorKind::InvalidSelector {
            reason: "expected `]`",
        }));
    }
    Ok(step)
}
