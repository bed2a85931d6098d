//! Evaluation of compiled JSON expressions against a parsed message (spec §4, §4.1).
//! Matching allocates nothing for patterns with up to [`INLINE_SLOTS`] slots.

use std::cmp::Ordering;

use crate::ast::{CompareOp, JsonTest, Value};
use crate::compile::{
    CExpr, CSelector, Fingerprint, Group, PlainStep, SlotTable, Wildcard, by_length_then_text,
    same_bytes,
};
use crate::document::{Document, Kind};
use crate::number::Decimal;

/// Slot caches up to this size live on the stack.
pub(crate) const INLINE_SLOTS: usize = 48;
/// Literal-table masks up to this count live on the stack.
const INLINE_TABLES: usize = 16;
const NOT_LOOKED_UP: u64 = u64::MAX;
pub(crate) const UNRESOLVED: u32 = u32::MAX;
const MISSING: u32 = u32::MAX - 1;

/// Per-message evaluation state: the document and the resolved slots.
pub(crate) struct JsonContext<'d, 'a> {
    doc: &'d Document<'a>,
    slots: &'d SlotTable,
    cache: &'d mut [u32],
    /// Per literal table: the mask of the message's value, once looked up
    /// ([`NOT_LOOKED_UP`] before; a genuine all-ones mask is merely looked up again).
    masks: &'d mut [u64],
}

/// Runs `f` with a slot cache for `slots` (on the stack when small enough).
pub(crate) fn with_context<R>(
    doc: &Document<'_>,
    slots: &SlotTable,
    f: impl FnOnce(&mut JsonContext<'_, '_>) -> R,
) -> R {
    let (n, t) = (slots.len(), slots.table_count());
    if n <= INLINE_SLOTS && t <= INLINE_TABLES {
        let mut cache = [UNRESOLVED; INLINE_SLOTS];
        let mut masks = [NOT_LOOKED_UP; INLINE_TABLES];
        let mut ctx = JsonContext {
            doc,
            slots,
            cache: cache.get_mut(..n).unwrap_or_default(),
            masks: masks.get_mut(..t).unwrap_or_default(),
        };
        f(&mut ctx)
    } else {
        let mut cache = vec![UNRESOLVED; n];
        let mut masks = vec![NOT_LOOKED_UP; t];
        let mut ctx = JsonContext {
            doc,
            slots,
            cache: &mut cache,
            masks: &mut masks,
        };
        f(&mut ctx)
    }
}

impl JsonContext<'_, '_> {
    fn resolve(&mut self, slot: u32) -> Option<u32> {
        let index = slot as usize;
        let cached = self.cache.get(index).copied()?;
        if cached != UNRESOLVED {
            return (cached != MISSING).then_some(cached);
        }
        let def = self.slots.slots.get(index)?;
        // Parents are interned before their children, so this recursion only goes down.
        let base = match def.parent {
            None => Some(Document::ROOT),
            Some(parent) if parent < slot => self.resolve(parent),
            Some(_) => None,
        };
        if let Some(group) = def.group.and_then(|g| self.slots.groups.get(g as usize)) {
            self.resolve_group(base, group);
            let resolved = self.cache.get(index).copied().unwrap_or(MISSING);
            return (resolved < MISSING).then_some(resolved);
        }
        let resolved = base.and_then(|b| def.step.apply(self.doc, b));
        if let Some(entry) = self.cache.get_mut(index) {
            *entry = resolved.unwrap_or(MISSING);
        }
        resolved
    }

    /// Resolves every field slot of `group` (all children of the same parent, `base`) in one
    /// pass over the parent's members. The last of duplicate members wins.
    fn resolve_group(&mut self, base: Option<u32>, group: &Group) {
        for member in &group.keys {
            if let Some(entry) = self.cache.get_mut(member.slot as usize) {
                *entry = MISSING;
            }
        }
        let Some(base) = base else {
            return;
        };
        let cache = &mut *self.cache;
        let doc = self.doc;
        doc.for_each_member(base, |child, len| {
            let candidates = group.candidates(len);
            if candidates.is_empty() {
                return;
            }
            let key = doc.key_bytes(child);
            let fingerprint = Fingerprint::of(key);
            for member in candidates {
                if member.fingerprint == fingerprint
                    && (key.len() <= 16 || same_bytes(member.key.as_bytes(), key))
                {
                    if let Some(entry) = cache.get_mut(member.slot as usize) {
                        *entry = child;
                    }
                }
            }
        });
    }

    /// The mask of `OneOf`s of literal table `index` that contain the message's value.
    fn literal_mask(&mut self, index: u32) -> u64 {
        if let Some(&mask) = self.masks.get(index as usize) {
            if mask != NOT_LOOKED_UP {
                return mask;
            }
        }
        let Some(table) = self.slots.tables.get(index as usize) else {
            return 0;
        };
        let node = self.resolve(table.slot);
        let mask = node
            .and_then(|n| self.doc.scalar_text(n))
            .and_then(|text| {
                table
                    .entries
                    .binary_search_by(|(t, _)| by_length_then_text(t, text))
                    .ok()
            })
            .and_then(|i| table.entries.get(i))
            .map_or(0, |(_, mask)| *mask);
        if let Some(entry) = self.masks.get_mut(index as usize) {
            *entry = mask;
        }
        mask
    }

    pub(crate) fn eval(&mut self, e: &CExpr) -> bool {
        match e {
            CExpr::Or(operands) => operands.iter().any(|o| self.eval(o)),
            CExpr::And(operands) => operands.iter().all(|o| self.eval(o)),
            CExpr::OneOf {
                table: Some((table, bit)),
                ..
            } => self.literal_mask(*table) & bit != 0,
            CExpr::OneOf {
                slot,
                texts,
                table: None,
            } => {
                let node = self.resolve(*slot);
                node.and_then(|n| self.doc.scalar_text(n))
                    .is_some_and(|text| {
                        texts
                            .binary_search_by(|t| by_length_then_text(t, text))
                            .is_ok()
                    })
            }
            CExpr::Condition(CSelector::Plain(slot), test) => {
                let node = self.resolve(*slot);
                test_node(self.doc, node, test)
            }
            CExpr::Condition(
                CSelector::Wild {
                    base,
                    wildcard,
                    rest,
                },
                test,
            ) => {
                let base = match base {
                    None => Some(Document::ROOT),
                    Some(slot) => self.resolve(*slot),
                };
                test_wildcard(self.doc, base, *wildcard, rest, test)
            }
        }
    }
}

/// With a wildcard, a condition holds if it holds for any selected node; if nothing is
/// selected, the "missing" row applies (only `NOT EXISTS` is true) [spec §4.1, DECISION].
fn test_wildcard(
    doc: &Document<'_>,
    base: Option<u32>,
    wildcard: Wildcard,
    rest: &[PlainStep],
    test: &JsonTest,
) -> bool {
    let container = base.filter(|&b| match wildcard {
        Wildcard::AnyIndex => doc.kind(b) == Kind::Array,
        Wildcard::AnyField => doc.kind(b) == Kind::Object,
    });
    let mut selected_any = false;
    if let Some(container) = container {
        for child in doc.children(container) {
            let target = rest
                .iter()
                .try_fold(child, |node, step| step.apply(doc, node));
            if target.is_some() {
                selected_any = true;
                if test_node(doc, target, test) {
                    return true;
                }
            }
        }
    }
    !selected_any && test_node(doc, None, test)
}

/// One condition against what its selector resolved to (spec §4.1).
fn test_node(doc: &Document<'_>, node: Option<u32>, test: &JsonTest) -> bool {
    let Some(node) = node else {
        return matches!(test, JsonTest::NotExists);
    };
    match test {
        JsonTest::NotExists => false,
        JsonTest::IsNull => doc.kind(node) == Kind::Null,
        JsonTest::IsTrue => doc.kind(node) == Kind::True,
        JsonTest::IsFalse => doc.kind(node) == Kind::False,
        JsonTest::Compare(op, value) => doc
            .scalar_text(node)
            .is_some_and(|text| compare(*op, value, text)),
    }
}

/// `text op value` for a scalar's text (a JSON string's contents, a number's text, `true` /
/// `false`, or a space-delimited field). `!=` is the negation of `=`; ordering operators only
/// ever come with numbers (the parser enforces it).
pub(crate) fn compare(op: CompareOp, value: &Value, text: &str) -> bool {
    let equal = match value {
        Value::Any => true,
        Value::String(s) => s.matches(text),
        Value::Regex(re) => re.is_match(text),
        Value::Number(n) => {
            let (Some(literal), Some(field)) = (Decimal::parse(n.as_str()), Decimal::parse(text))
            else {
                // Not both numbers: compare text (spec §4.2).
                return match op {
                    CompareOp::Eq => text == n.as_str(),
                    CompareOp::Ne => text != n.as_str(),
                    _ => false,
                };
            };
            let ordering = field.compare(&literal);
            return match op {
                CompareOp::Eq => ordering == Ordering::Equal,
                CompareOp::Ne => ordering != Ordering::Equal,
                CompareOp::Lt => ordering == Ordering::Less,
                CompareOp::Le => ordering != Ordering::Greater,
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
            };
        }
    };
    match op {
        CompareOp::Eq => equal,
        CompareOp::Ne => !equal,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::{FilterPattern, Message, PatternSet};

    fn set(patterns: &[String]) -> PatternSet {
        match PatternSet::parse(patterns) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn member_names_differing_only_in_the_middle_are_distinct() {
        let long_a = "abcdefgh_middle_A_12345678";
        let long_b = "abcdefgh_middle_B_12345678";
        let patterns = [
            format!("{{ $.{long_a} = 1 }}"),
            format!("{{ $.{long_b} = 1 }}"),
            "{ $.ab = 1 }".to_owned(),
            "{ $.ac = 1 }".to_owned(),
            "{ $.eventName = x || $.eventType = x }".to_owned(),
        ];
        let s = set(&patterns);
        let message = format!(r#"{{"{long_b}":1,"ac":1,"eventTime":"x"}}"#);
        assert_eq!(s.matches(&Message::new(&message)), vec![1, 3]);
    }

    #[test]
    fn escaped_member_names_are_resolved_by_their_decoded_text() {
        let s = set(&["{ $.eventName = ConsoleLogin }".to_owned()]);
        let message = r#"{"event\u004eame":"ConsoleLogin"}"#;
        assert_eq!(s.matches(&Message::new(message)), vec![0]);
    }

    #[test]
    fn literal_tables_answer_many_lists_and_overflow_past_64_lists() {
        // 70 patterns testing the same selector against overlapping lists.
        let patterns: Vec<String> = (0..70)
            .map(|i| {
                format!(
                    "{{ $.eventName = E{i} || $.eventName = Shared || $.eventName = E{} }}",
                    i + 1
                )
            })
            .collect();
        let s = set(&patterns);
        let all: Vec<usize> = (0..70).collect();
        assert_eq!(s.matches(&Message::new(r#"{"eventName":"Shared"}"#)), all);
        assert_eq!(
            s.matches(&Message::new(r#"{"eventName":"E5"}"#)),
            vec![4, 5]
        );
        assert_eq!(
            s.matches(&Message::new(r#"{"eventName":"E69"}"#)),
            vec![68, 69]
        );
        assert!(
            s.matches(&Message::new(r#"{"eventName":"E999"}"#))
                .is_empty()
        );
        assert!(s.matches(&Message::new(r#"{"other":"Shared"}"#)).is_empty());
    }

    #[test]
    fn single_equalities_and_lists_agree_with_their_definition() {
        for (pattern, message, expected) in [
            ("{ $.a = x }", r#"{"a":"x"}"#, true),
            ("{ $.a = x }", r#"{"a":["x"]}"#, false),
            ("{ $.a = 1 || $.a = \"2\" }", r#"{"a":2}"#, true),
            ("{ $.a = x || $.a = y }", r#"{"a":null}"#, false),
            ("{ $.a = x || $.b = y || $.a = z }", r#"{"b":"y"}"#, true),
            ("{ $.a = x || $.b = y || $.a = z }", r#"{"a":"z"}"#, true),
            ("{ $.a = true || $.a = y }", r#"{"a":true}"#, true),
        ] {
            let Ok(p) = FilterPattern::parse(pattern) else {
                panic!("{pattern}");
            };
            assert_eq!(p.matches(message), expected, "{pattern} on {message}");
        }
    }
}
