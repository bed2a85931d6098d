//! Compilation of JSON expressions for evaluation.
//!
//! Every distinct plain selector (and every shared prefix of one) becomes a *slot*, resolved
//! at most once per message; slots with the same parent form a *group*, resolved together in
//! one pass over the parent's members. Every `selector = "literal"` becomes a `OneOf` with a
//! bit in its slot's *literal table*, so one lookup per message answers all the lists that
//! test that selector (the CIS patterns test `$.eventName` against a dozen). A
//! [`PatternSet`](crate::PatternSet) shares one [`SlotTable`] across all its patterns.

use std::cmp::Ordering;

use crate::ast::{CompareOp, Expr, JsonCondition, JsonTest, Step, Value};
use crate::document::Document;

/// A non-wildcard selector step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlainStep {
    Field(Box<str>),
    Index(usize),
}

impl PlainStep {
    pub(crate) fn apply(&self, doc: &Document<'_>, node: u32) -> Option<u32> {
        match self {
            Self::Field(name) => doc.member(node, name),
            Self::Index(i) => doc.element(node, *i),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotDef {
    /// `None`: a member/element of the root object.
    pub(crate) parent: Option<u32>,
    pub(crate) step: PlainStep,
    /// For `Field` steps: the group of field slots sharing this parent, resolved together in
    /// one pass over the parent's members.
    pub(crate) group: Option<u32>,
}

/// The field slots sharing one parent, bucketed by key length so that a member name is only
/// compared with the keys of its own length.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Sorted by length.
    pub(crate) keys: Vec<GroupKey>,
    /// For each length (the last bucket takes every longer key): the range of `keys`.
    buckets: [(u16, u16); LENGTH_BUCKETS],
}

const LENGTH_BUCKETS: usize = 64;

impl Default for Group {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            buckets: [(0, 0); LENGTH_BUCKETS],
        }
    }
}

impl Group {
    fn bucket(len: usize) -> usize {
        len.min(LENGTH_BUCKETS - 1)
    }

    fn add(&mut self, key: GroupKey) {
        self.keys.push(key);
        self.keys.sort_by_key(|k| Self::bucket(k.key.len()));
        self.buckets = [(0, 0); LENGTH_BUCKETS];
        for (i, k) in self.keys.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            if let Some(bucket) = self.buckets.get_mut(Self::bucket(k.key.len())) {
                if bucket.1 == 0 {
                    *bucket = (i, 1);
                } else {
                    bucket.1 = bucket.1.saturating_add(1);
                }
            }
        }
    }

    /// The keys with the same length bucket as `len`.
    pub(crate) fn candidates(&self, len: usize) -> &[GroupKey] {
        let (start, count) = self
            .buckets
            .get(Self::bucket(len))
            .copied()
            .unwrap_or_default();
        let start = usize::from(start);
        self.keys
            .get(start..start + usize::from(count))
            .unwrap_or_default()
    }
}

/// One field slot of a group, with its member name and that name's [`Fingerprint`].
#[derive(Debug, Clone)]
pub(crate) struct GroupKey {
    pub(crate) slot: u32,
    pub(crate) key: Box<str>,
    pub(crate) fingerprint: Fingerprint,
}

/// A name's first and last eight bytes as integers (zero-padded when shorter): for names of
/// up to 16 bytes, equal lengths and fingerprints mean equal names — two integer comparisons
/// instead of a byte loop over CloudTrail's many `event…` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    head: u64,
    tail: u64,
}

impl Fingerprint {
    pub(crate) fn of(bytes: &[u8]) -> Self {
        match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(head), Some(tail)) => Self {
                head: u64::from_le_bytes(*head),
                tail: u64::from_le_bytes(*tail),
            },
            _ => {
                let mut padded = [0u8; 8];
                for (p, b) in padded.iter_mut().zip(bytes) {
                    *p = *b;
                }
                Self {
                    head: u64::from_le_bytes(padded),
                    tail: 0,
                }
            }
        }
    }
}

/// Every `OneOf` literal of one slot, each with the set of `OneOf`s (one bit each) that
/// contain it: one lookup per message answers all of them (the CIS patterns test
/// `$.eventName` against eleven such lists).
#[derive(Debug, Clone)]
pub(crate) struct LiteralTable {
    pub(crate) slot: u32,
    /// Sorted by length, then text.
    pub(crate) entries: Vec<(Box<str>, u64)>,
    bits_used: u32,
}

/// The distinct plain selector paths of one pattern or pattern set.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotTable {
    pub(crate) tables: Vec<LiteralTable>,
    pub(crate) slots: Vec<SlotDef>,
    /// Field slots grouped by parent.
    pub(crate) groups: Vec<Group>,
}

impl SlotTable {
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Gives a `OneOf` on `slot` a bit in that slot's literal table; `None` once a slot has
    /// 64 of them (the `OneOf` then searches its own list).
    fn register_one_of(&mut self, slot: u32, texts: &[Box<str>]) -> Option<(u32, u64)> {
        let index = match self.tables.iter().position(|t| t.slot == slot) {
            Some(i) => i,
            None => {
                self.tables.push(LiteralTable {
                    slot,
                    entries: Vec::new(),
                    bits_used: 0,
                });
                self.tables.len() - 1
            }
        };
        let table = self.tables.get_mut(index)?;
        if table.bits_used >= 64 {
            return None;
        }
        let bit = 1u64 << table.bits_used;
        table.bits_used += 1;
        for text in texts {
            match table
                .entries
                .binary_search_by(|(t, _)| by_length_then_text(t, text))
            {
                Ok(i) => {
                    if let Some((_, mask)) = table.entries.get_mut(i) {
                        *mask |= bit;
                    }
                }
                Err(i) => table.entries.insert(i, (text.clone(), bit)),
            }
        }
        Some((u32::try_from(index).ok()?, bit))
    }

    fn intern(&mut self, parent: Option<u32>, step: PlainStep) -> u32 {
        if let Some(i) = self
            .slots
            .iter()
            .position(|d| d.parent == parent && d.step == step)
        {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        let group = match &step {
            PlainStep::Index(_) => None,
            PlainStep::Field(key) => {
                let existing = self.groups.iter().position(|group| {
                    group.keys.first().is_some_and(|m| {
                        self.slots
                            .get(m.slot as usize)
                            .is_some_and(|d| d.parent == parent)
                    })
                });
                let g = existing.unwrap_or_else(|| {
                    self.groups.push(Group::default());
                    self.groups.len() - 1
                });
                if let Some(group) = self.groups.get_mut(g) {
                    group.add(GroupKey {
                        slot,
                        key: key.clone(),
                        fingerprint: Fingerprint::of(key.as_bytes()),
                    });
                }
                u32::try_from(g).ok()
            }
        };
        self.slots.push(SlotDef {
            parent,
            step,
            group,
        });
        slot
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wildcard {
    AnyIndex,
    AnyField,
}

#[derive(Debug, Clone)]
pub(crate) enum CSelector {
    Plain(u32),
    Wild {
        base: Option<u32>,
        wildcard: Wildcard,
        rest: Box<[PlainStep]>,
    },
}

/// A compiled JSON expression.
#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Or(Box<[CExpr]>),
    And(Box<[CExpr]>),
    Condition(CSelector, JsonTest),
    /// `slot = a || slot = b || …` with plain string literals, sorted by length then text.
    /// `table` is its bit in the slot's shared [`LiteralTable`], if it got one.
    OneOf {
        slot: u32,
        texts: Box<[Box<str>]>,
        table: Option<(u32, u64)>,
    },
}

pub(crate) fn compile(expr: &Expr<JsonCondition>, slots: &mut SlotTable) -> CExpr {
    match expr {
        Expr::Condition(c) => {
            let condition = compile_condition(c, slots);
            match plain_equality(&condition) {
                Some((slot, text)) => one_of(slot, vec![text.into()], slots),
                None => condition,
            }
        }
        Expr::And(operands) => CExpr::And(operands.iter().map(|e| compile(e, slots)).collect()),
        Expr::Or(operands) => {
            // Plain equalities stay conditions here, to be grouped by slot.
            let compiled: Vec<CExpr> = operands
                .iter()
                .map(|e| match e {
                    Expr::Condition(c) => compile_condition(c, slots),
                    other => compile(other, slots),
                })
                .collect();
            let mut grouped = group_equalities(compiled, slots);
            if grouped.len() == 1 {
                if let Some(only) = grouped.pop() {
                    return only;
                }
            }
            CExpr::Or(grouped.into_boxed_slice())
        }
    }
}

fn compile_condition(c: &JsonCondition, slots: &mut SlotTable) -> CExpr {
    CExpr::Condition(compile_selector(c, slots), c.test.clone())
}

/// A `OneOf` for `texts` on `slot`, with its bit in the slot's literal table.
fn one_of(slot: u32, mut texts: Vec<Box<str>>, slots: &mut SlotTable) -> CExpr {
    texts.sort_by(|a, b| by_length_then_text(a, b));
    texts.dedup();
    let table = slots.register_one_of(slot, &texts);
    CExpr::OneOf {
        slot,
        texts: texts.into_boxed_slice(),
        table,
    }
}

fn compile_selector(c: &JsonCondition, slots: &mut SlotTable) -> CSelector {
    let steps = c.selector.steps();
    let plain = |s: &Step| match s {
        Step::Field(name) => Some(PlainStep::Field(name.as_str().into())),
        Step::Index(i) => Some(PlainStep::Index(*i)),
        Step::AnyIndex | Step::AnyField => None,
    };
    let mut slot: Option<u32> = None;
    for (i, step) in steps.iter().enumerate() {
        match plain(step) {
            Some(p) => slot = Some(slots.intern(slot, p)),
            None => {
                let wildcard = if *step == Step::AnyIndex {
                    Wildcard::AnyIndex
                } else {
                    Wildcard::AnyField
                };
                let rest = steps.iter().skip(i + 1).filter_map(plain).collect();
                return CSelector::Wild {
                    base: slot,
                    wildcard,
                    rest,
                };
            }
        }
    }
    // The parser guarantees at least one step.
    CSelector::Plain(slot.unwrap_or(0))
}

/// The plain string literal `slot = "text"` compares, if that is what `e` is.
fn plain_equality(e: &CExpr) -> Option<(u32, &str)> {
    match e {
        CExpr::Condition(
            CSelector::Plain(slot),
            JsonTest::Compare(CompareOp::Eq, Value::String(s)),
        ) if !s.leading_wildcard() && !s.trailing_wildcard() => Some((*slot, s.text())),
        _ => None,
    }
}

/// Replaces the plain equalities on each slot with one `OneOf` (at the position of the
/// first). `||` has no side effects, so the order of its operands does not matter.
fn group_equalities(operands: Vec<CExpr>, slots: &mut SlotTable) -> Vec<CExpr> {
    let mut out: Vec<CExpr> = Vec::with_capacity(operands.len());
    let mut groups: Vec<(u32, usize, Vec<Box<str>>)> = Vec::new();
    for e in operands {
        let Some((slot, text)) = plain_equality(&e) else {
            out.push(e);
            continue;
        };
        match groups.iter_mut().find(|(s, _, _)| *s == slot) {
            Some((_, _, texts)) => texts.push(text.into()),
            None => {
                groups.push((slot, out.len(), vec![text.into()]));
                out.push(e);
            }
        }
    }
    for (slot, position, texts) in groups {
        let grouped = one_of(slot, texts, slots);
        if let Some(place) = out.get_mut(position) {
            *place = grouped;
        }
    }
    out
}

/// The order of `OneOf` sets: most comparisons are settled by the length alone, and the rest
/// by an inline byte loop (cheaper than a `memcmp` call for short names).
pub(crate) fn by_length_then_text(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        a.bytes()
            .zip(b.bytes())
            .find(|(x, y)| x != y)
            .map_or(Ordering::Equal, |(x, y)| x.cmp(&y))
    })
}

/// Equality for short names: length first, then an inline byte loop.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}
