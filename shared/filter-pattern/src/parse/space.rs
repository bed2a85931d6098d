//! Space-delimited patterns (spec §5): `[ip, user, ..., status_code = 4* || status_code = 5*, bytes]`.
//!
//! Field names are ASCII letters, digits and `_` (a decision: AWS documents nothing).

use super::common::{ValueContext, expression, operator, value, word};
use super::cursor::Cursor;
use crate::ast::{FieldTest, SpaceField};
use crate::error::{PatternError, PatternErrorKind};

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the text between the brackets.
pub(super) fn parse(mut cur: Cursor<'_>) -> Result<Vec<SpaceField>, PatternError> {
    let mut fields = Vec::new();
    let mut regexes = 0usize;
    let mut seen_ellipsis = false;
    loop {
        cur.skip_ws();
        let field_at = cur.pos();
        let field = if cur.at_end() || cur.peek() == Some(',') {
            SpaceField::Empty
        } else if cur.eat("...") {
            if seen_ellipsis {
                return Err(cur.error_at(field_at, PatternErrorKind::MultipleEllipses));
            }
            seen_ellipsis = true;
            SpaceField::Ellipsis
        } else {
            named_field(&mut cur, &mut regexes)?
        };
        fields.push(field);
        cur.skip_ws();
        match cur.peek() {
            None => return Ok(fields),
            Some(',') => {
                cur.bump();
            }
            Some(_) => return Err(cur.unexpected("`,`, `&&`, `||` or the closing `]`")),
        }
    }
}

/// `name` alone, or a condition on `name` (every comparison in it must name the same field).
fn named_field(cur: &mut Cursor<'_>, regexes: &mut usize) -> Result<SpaceField, PatternError> {
    let start = cur.pos();
    let name = cur.take_while(is_name_char);
    if !name.is_empty() {
        cur.skip_ws();
        if cur.at_end() || cur.peek() == Some(',') {
            return Ok(SpaceField::Named {
                name: name.to_owned(),
                condition: None,
            });
        }
        cur.set_pos(start);
    } else if cur.peek() != Some('(') {
        return Err(cur.unexpected("a field name, `...` or `,`"));
    }
    let mut field_name: Option<String> = None;
    let condition = expression(cur, &mut |cur| comparison(cur, &mut field_name, regexes))?;
    let name = field_name.unwrap_or_default();
    Ok(SpaceField::Named {
        name,
        condition: Some(condition),
    })
}

/// `name op value`, where `name` must be the field's own name.
fn comparison(
    cur: &mut Cursor<'_>,
    field_name: &mut Option<String>,
    regexes: &mut usize,
) -> Result<FieldTest, PatternError> {
    cur.skip_ws();
    let name_at = cur.pos();
    let name = cur.take_while(is_name_char);
    if name.is_empty() {
        return Err(cur.unexpected("a field name"));
    }
    match field_name {
        Some(own) if own != name => {
            return Err(cur.error_at(
                name_at,
                PatternErrorKind::ForeignFieldInCondition {
                    field: own.clone(),
                    found: name.to_owned(),
                },
            ));
        }
        Some(_) => {}
        None => *field_name = Some(name.to_owned()),
    }
    cur.skip_ws();
    let Some(op) = operator(cur)? else {
        let at = cur.pos();
        let keyword = word(cur);
        if matches!(
            keyword.to_ascii_uppercase().as_str(),
            "IS" | "NOT" | "EXISTS"
        ) {
            return Err(cur.error_at(at, PatternErrorKind::KeywordInSpaceDelimited));
        }
        cur.set_pos(at);
        return Err(cur.unexpected("an operator (`=`, `!=`, `<`, `<=`, `>`, `>=`)"));
    };
    let value = value(cur, op, ValueContext::SpaceDelimited, regexes)?;
    Ok(FieldTest { op, value })
}
