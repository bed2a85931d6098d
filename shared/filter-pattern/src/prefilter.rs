//! The literal prefilter of a [`PatternSet`](crate::PatternSet): one pass over a message's raw
//! text says which patterns can possibly match it, so that a record no pattern can match is
//! neither parsed nor evaluated.
//!
//! It only pays when that pass is much cheaper than the parse it saves. The document parser
//! reads CloudTrail at about 2 GB/s; the pass runs at about 3 GB/s for the three seed
//! patterns (7 literals) but about 1.3 GB/s for the CIS set (110 literals, frequent
//! near-misses), where it costs more than it saves. So a set uses it by itself only with at
//! most [`PAYING_LITERALS`] literals ([`Prefilter::pays`]), and builds its searcher on first
//! use.
//!
//! For each pattern, [`Need`] is a formula over literals that any matching message contains:
//!
//! * a JSON condition other than `NOT EXISTS` selects a value, so every member name of its
//!   selector occurs in the message; `= "text"` (wildcards or not) also needs `text`, which the
//!   selected scalar contains (a string's contents, a number's digits, `true`/`false`);
//! * `&&` needs all of its operands' needs, `||` any of them;
//! * a term pattern needs its plain text terms (or, with only `?` terms, any of them).
//!
//! A condition with `!=`, a number (`404` equals `4.04e2`), `%regex%` or `*` alone needs only
//! its selector's member names; `NOT EXISTS`, space-delimited patterns and `-` terms need
//! nothing and keep their pattern a candidate.
//!
//! **Escapes.** A JSON member name or value is compared after its escapes are decoded, and
//! `"\u0052oot"` is `Root`. A literal is only looked for in JSON if it has none of the
//! characters a short escape stands for (`"`, `\`, `/`, control characters); the characters it
//! has can then only be hidden behind a `\u` escape, and a message whose raw text contains `\u`
//! anywhere counts every JSON literal as present. Term patterns match the raw text, escapes
//! and all, so their literals are looked for as they are.
//!
//! The prefilter is conservative by construction: "not a candidate" implies "does not match".
//! The property tests check it against full evaluation over generated patterns and messages,
//! escapes included.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::ast::{
    CompareOp, Expr, JsonCondition, JsonTest, Pattern, Step, StringValue, TermKind, TermMatcher,
    Value,
};

/// What a pattern needs to find in a message's raw text before it can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing: always a candidate.
    Nothing,
    /// Literal `id` of the [`Prefilter`]'s table; `json` literals also count as present when
    /// the message has a `\u` escape. `key`: a selector's member name, which most records of a
    /// log group share, so a poor filter that only costs search hits.
    Literal { id: u32, json: bool, key: bool },
    /// Every operand (at least two).
    All(Vec<Need>),
    /// Any operand (at least two).
    Any(Vec<Need>),
}

impl Need {
    /// Dropping an operand of `All` only makes the need weaker (more candidates), never wrong:
    /// member names go when a value or a term is also needed.
    fn all(needs: Vec<Need>) -> Need {
        let mut needs: Vec<Need> = needs.into_iter().filter(|n| *n != Need::Nothing).collect();
        if needs.iter().any(|n| !n.only_keys()) {
            needs.retain(|n| !n.only_keys());
        }
        match needs.len() {
            0 => Need::Nothing,
            1 => needs.pop().unwrap_or(Need::Nothing),
            _ => Need::All(needs),
        }
    }

    fn any(mut needs: Vec<Need>) -> Need {
        if needs.is_empty() || needs.contains(&Need::Nothing) {
            return Need::Nothing;
        }
        match needs.len() {
            1 => needs.pop().unwrap_or(Need::Nothing),
            _ => Need::Any(needs),
        }
    }

    fn literals(&self, out: &mut Vec<u32>) {
        match self {
            Need::Nothing => {}
            Need::Literal { id, .. } => out.push(*id),
            Need::All(needs) | Need::Any(needs) => needs.iter().for_each(|n| n.literals(out)),
        }
    }

    /// Literal ids become their index in `used` (sorted, holding every id of the need).
    fn renumber(&mut self, used: &[u32]) {
        match self {
            Need::Nothing => {}
            Need::Literal { id, .. } => {
                *id = used
                    .binary_search(id)
                    .ok()
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(u32::MAX);
            }
            Need::All(needs) | Need::Any(needs) => needs.iter_mut().for_each(|n| n.renumber(used)),
        }
    }

    fn only_keys(&self) -> bool {
        match self {
            Need::Nothing => false,
            Need::Literal { key, .. } => *key,
            Need::All(needs) | Need::Any(needs) => needs.iter().all(Need::only_keys),
        }
    }

    fn holds(&self, found: &Bits, escaped: bool) -> bool {
        match self {
            Need::Nothing => true,
            Need::Literal { id, json, .. } => (*json && escaped) || found.get(*id as usize),
            Need::All(needs) => needs.iter().all(|n| n.holds(found, escaped)),
            Need::Any(needs) => needs.iter().any(|n| n.holds(found, escaped)),
        }
    }
}

/// The literals of a set's patterns, interned.
#[derive(Default)]
struct Literals {
    texts: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Literals {
    fn intern(&mut self, text: &str, json: bool, key: bool) -> Need {
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => {
                let Ok(id) = u32::try_from(self.texts.len()) else {
                    return Need::Nothing;
                };
                self.texts.push(text.to_owned());
                self.ids.insert(text.to_owned(), id);
                id
            }
        };
        Need::Literal { id, json, key }
    }

    /// A literal compared after JSON decoding: usable only if no short escape can stand for
    /// one of its characters (module docs).
    ///
    /// `quoted_before` / `quoted_after`: the literal is known to begin / end a JSON string, so
    /// the quote next to it is part of what is looked for (`"No"` is far rarer than `No`).
    fn json(&mut self, text: &str, key: bool, quoted_before: bool, quoted_after: bool) -> Need {
        let escapable = |c: char| matches!(c, '"' | '\\' | '/') || c < ' ';
        if text.is_empty() || text.chars().any(escapable) {
            return Need::Nothing;
        }
        let needle = format!(
            "{}{text}{}",
            if quoted_before { "\"" } else { "" },
            if quoted_after { "\"" } else { "" }
        );
        self.intern(&needle, true, key)
    }

    /// A member name: the whole of a JSON string.
    fn key(&mut self, name: &str) -> Need {
        self.json(name, true, true, true)
    }

    /// An `=` string value. The selected scalar is a JSON string unless the value could be
    /// (part of) a number's text or `true` / `false`, which have no quotes: the value sits at
    /// the start of the string unless it has a leading wildcard, at its end unless a trailing
    /// one.
    fn value(&mut self, value: &StringValue) -> Need {
        let text = value.text();
        let unquoted_scalar = text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
            || "true".contains(text)
            || "false".contains(text);
        let string = !unquoted_scalar;
        self.json(
            text,
            false,
            string && !value.leading_wildcard(),
            string && !value.trailing_wildcard(),
        )
    }

    /// A literal of a term pattern, found in the raw text as it is.
    fn raw(&mut self, text: &str) -> Need {
        // A whitespace-only term is always present (spec §2).
        if text.trim().is_empty() {
            return Need::Nothing;
        }
        self.intern(text, false, false)
    }

    fn pattern(&mut self, pattern: &Pattern) -> Need {
        match pattern {
            Pattern::MatchAll | Pattern::SpaceDelimited(_) => Need::Nothing,
            Pattern::Json(expr) => self.expr(expr),
            Pattern::Terms(terms) => {
                let text = |t: &crate::ast::Term, l: &mut Self| match &t.matcher {
                    TermMatcher::Text(s) => l.raw(s),
                    TermMatcher::Regex(_) => Need::Nothing,
                };
                if terms.iter().all(|t| t.kind == TermKind::Optional) {
                    let needs = terms.iter().map(|t| text(t, self)).collect();
                    Need::any(needs)
                } else {
                    let needs = terms
                        .iter()
                        .filter(|t| t.kind == TermKind::Required)
                        .map(|t| text(t, self))
                        .collect();
                    Need::all(needs)
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expr<JsonCondition>) -> Need {
        match expr {
            Expr::Or(operands) => Need::any(operands.iter().map(|o| self.expr(o)).collect()),
            Expr::And(operands) => Need::all(operands.iter().map(|o| self.expr(o)).collect()),
            Expr::Condition(condition) => self.condition(condition),
        }
    }

    fn condition(&mut self, condition: &JsonCondition) -> Need {
        // Only `NOT EXISTS` holds for a selector that selects nothing (spec §4.1).
        if condition.test == JsonTest::NotExists {
            return Need::Nothing;
        }
        let mut needs: Vec<Need> = condition
            .selector
            .steps()
            .iter()
            .filter_map(|step| match step {
                Step::Field(name) => Some(self.key(name)),
                Step::Index(_) | Step::AnyIndex | Step::AnyField => None,
            })
            .collect();
        if let JsonTest::Compare(CompareOp::Eq, Value::String(value)) = &condition.test {
            needs.push(self.value(value));
        }
        Need::all(needs)
    }
}

/// Literals are found by a window of this many bytes, then checked whole.
const WINDOW: usize = 4;

/// The most literals with which the prefilter pays for itself (module docs).
pub(crate) const PAYING_LITERALS: usize = 16;

/// What log text usually looks like, to choose windows that seldom occur in it: a few
/// CloudTrail records as CloudWatch Logs delivers them (affects speed only, never answers).
const REFERENCE: [&str; 4] = [
    include_str!("../tests/data/cloudtrail-assume-role-success.json"),
    include_str!("../tests/data/cloudtrail-ec2-start-instances.json"),
    include_str!("../tests/data/cloudtrail-iam-user-console-login-mfa.json"),
    include_str!("../tests/data/cloudtrail-root-api-call-invoked-by-service.json"),
];

/// Picks, for each needle, the window (offset, bytes) the search looks for: among the
/// needle's windows that occur least in [`REFERENCE`], one shared with as many other needles
/// as possible (greedy set cover), so that few distinct windows fit the vectorised searcher.
fn choose_windows(needles: &[Box<[u8]>]) -> Vec<(usize, &[u8])> {
    // The reference's 3- and 4-byte strings as sorted integers, counted by binary search: this
    // runs at every cold start, so no hashing of thousands of slices.
    let gram = |w: &[u8]| w.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let sorted = |len: usize| {
        let mut grams: Vec<u32> = REFERENCE
            .iter()
            .flat_map(|t| t.as_bytes().windows(len).map(gram))
            .collect();
        grams.sort_unstable();
        grams
    };
    let (threes, fours) = (sorted(WINDOW - 1), sorted(WINDOW));
    let occurrences = |w: &[u8]| {
        let grams = if w.len() == WINDOW { &fours } else { &threes };
        let g = gram(w);
        grams.partition_point(|&x| x <= g) - grams.partition_point(|&x| x < g)
    };
    // Per needle: its least frequent windows, with their offsets.
    let options: Vec<Vec<(usize, &[u8])>> = needles
        .iter()
        .map(|n| {
            if n.len() <= WINDOW {
                return vec![(0, &n[..])];
            }
            // Rare as a whole, and rare in its first three bytes too (the vectorised searcher
            // screens by those); never starting with a quote, which starts every JSON string.
            let all: Vec<(usize, &[u8], (usize, usize))> = n
                .windows(WINDOW)
                .enumerate()
                .filter(|(_, w)| w.first() != Some(&b'"'))
                .map(|(k, w)| (k, w, (occurrences(w), occurrences(&w[..WINDOW - 1]))))
                .collect();
            let Some(least) = all.iter().map(|w| w.2).min() else {
                return vec![(0, &n[..WINDOW])];
            };
            all.into_iter()
                .filter(|w| w.2 == least)
                .map(|(k, w, _)| (k, w))
                .collect()
        })
        .collect();
    // Greedy cover: repeatedly the window that the most needles still without one can use.
    let mut chosen: Vec<Option<(usize, &[u8])>> = vec![None; needles.len()];
    while chosen.iter().any(Option::is_none) {
        let mut usable: Vec<&[u8]> = Vec::new();
        for (opts, slot) in options.iter().zip(&chosen) {
            if slot.is_none() {
                let mut own: Vec<&[u8]> = opts.iter().map(|o| o.1).collect();
                own.sort_unstable();
                own.dedup();
                usable.extend(own);
            }
        }
        usable.sort_unstable();
        let Some(best) = usable
            .chunk_by(|a, b| a == b)
            .max_by(|a, b| {
                a.len()
                    .cmp(&b.len())
                    .then_with(|| b.first().cmp(&a.first()))
            })
            .and_then(|run| run.first().copied())
        else {
            break;
        };
        for (opts, slot) in options.iter().zip(chosen.iter_mut()) {
            if slot.is_none() {
                *slot = opts.iter().find(|o| o.1 == best).copied();
            }
        }
    }
    chosen
        .into_iter()
        .zip(needles)
        .map(|(c, n)| c.unwrap_or((0, &n[..])))
        .collect()
}

/// One pass over a message for every literal of a set.
///
/// Each literal is looked for by one window of it ([`choose_windows`]). A vectorised
/// multi-substring search (aho-corasick's Teddy, when the CPU has it and there are at most a
/// few dozen distinct windows; its automaton otherwise) finds, left to right, each position
/// where some window occurs; there every literal with that window is compared whole, at the
/// window's offset in it, and the search goes on from the next position. So every occurrence
/// of every literal is seen, overlapping ones included.
#[derive(Clone)]
pub(crate) struct Prefilter {
    /// Per pattern, in the set's order.
    needs: Vec<Need>,
    /// Built on first use, so that a set that does not run its prefilter by itself costs
    /// nothing at start-up; `None` if no pattern has a literal (or no searcher can be built).
    scan: std::sync::OnceLock<Option<Scan>>,
    /// The literals by id.
    texts: Vec<String>,
}

#[derive(Clone)]
struct Scan {
    windows: Windows,
    /// How many distinct windows there are.
    count: usize,
    /// The literals' bytes by id; the last is `\u`.
    needles: Vec<Box<[u8]>>,
    /// Per distinct window (the searcher's pattern id): the literals it stands for, with the
    /// window's offset in each; and those of every window that is a prefix of it or that it
    /// is a prefix of (which may start at the same position unreported).
    by_window: Vec<Vec<(u32, usize)>>,
}

#[derive(Clone)]
enum Windows {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Windows {
    fn new(windows: &[&[u8]]) -> Option<Self> {
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(windows)
            .build();
        if let Some(searcher) = packed {
            return Some(Windows::Packed(searcher));
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(windows)
            .ok()
            .map(Windows::Automaton)
    }

    /// The leftmost window occurrence at or after `at`: (start, window id). Two windows that
    /// occur at one position are prefixes of one another, and the caller checks the literals of
    /// every window prefix-related to the reported one ([`Scan::by_window`]), so leftmost-first
    /// loses nothing.
    fn next(&self, haystack: &[u8], at: usize) -> Option<(usize, usize)> {
        if at >= haystack.len() {
            return None;
        }
        let span = aho_corasick::Span::from(at..haystack.len());
        match self {
            Windows::Packed(searcher) => searcher
                .find_in(haystack, span)
                .map(|m| (m.start(), m.pattern().as_usize())),
            Windows::Automaton(automaton) => automaton
                .find(aho_corasick::Input::new(haystack).span(span))
                .map(|m| (m.start(), m.pattern().as_usize())),
        }
    }
}

impl Prefilter {
    pub(crate) fn new<'p>(patterns: impl IntoIterator<Item = &'p Pattern>) -> Self {
        let mut literals = Literals::default();
        let mut needs: Vec<Need> = patterns.into_iter().map(|p| literals.pattern(p)).collect();
        // Only the literals that are still needed (a member name next to a value is not).
        let mut used: Vec<u32> = Vec::new();
        for need in &needs {
            need.literals(&mut used);
        }
        used.sort_unstable();
        used.dedup();
        for need in &mut needs {
            need.renumber(&used);
        }
        literals.texts = used
            .iter()
            .filter_map(|&id| literals.texts.get(id as usize).cloned())
            .collect();
        Self {
            needs,
            scan: std::sync::OnceLock::new(),
            texts: literals.texts,
        }
    }

    /// The patterns that can possibly match `text`.
    pub(crate) fn candidates(&self, text: &str) -> Candidates {
        let mut candidates = Candidates::all(self.needs.len());
        let scan = self.scan.get_or_init(|| {
            (!self.texts.is_empty())
                .then(|| Scan::new(&self.texts))
                .flatten()
        });
        let Some(scan) = scan else {
            return candidates;
        };
        let found = scan.run(text.as_bytes());
        let escaped = found.get(self.texts.len());
        for (i, need) in self.needs.iter().enumerate() {
            if !need.holds(&found, escaped) {
                candidates.remove(i);
            }
        }
        candidates
    }

    /// Whether running it before the parse is expected to save time: a few literals (module
    /// docs).
    pub(crate) fn pays(&self) -> bool {
        (1..=PAYING_LITERALS).contains(&self.texts.len())
    }

    #[cfg(test)]
    fn literal_texts(&self) -> usize {
        self.texts.len()
    }
}

impl Scan {
    /// `None` (no prefilter) only if no searcher can be built, which a few thousand short
    /// literals never cause.
    fn new(texts: &[String]) -> Option<Self> {
        let needles: Vec<Box<[u8]>> = texts
            .iter()
            .map(|t| t.as_bytes())
            .chain([b"\\u".as_slice()])
            .map(Box::from)
            .collect();
        let chosen = choose_windows(&needles);
        let mut windows: Vec<&[u8]> = chosen.iter().map(|c| c.1).collect();
        windows.sort_unstable();
        windows.dedup();
        let mut by_window = vec![Vec::new(); windows.len()];
        for (id, (offset, window)) in chosen.iter().enumerate() {
            let id = u32::try_from(id).ok()?;
            for (slot, other) in by_window.iter_mut().zip(&windows) {
                if other.starts_with(window) || window.starts_with(other) {
                    slot.push((id, *offset));
                }
            }
        }
        Some(Self {
            windows: Windows::new(&windows)?,
            count: windows.len(),
            needles,
            by_window,
        })
    }

    /// The literals that occur in `haystack` (the bit after the last literal: `\u`).
    ///
    /// Windows do not overlap the search's resumption: after a window at `start`, the search
    /// resumes at `start + 1`, so an occurrence of another window inside it is still found.
    fn run(&self, haystack: &[u8]) -> Bits {
        let mut found = Bits::new(self.needles.len());
        let mut at = 0;
        while let Some((start, window)) = self.windows.next(haystack, at) {
            self.check(haystack, start, window, &mut found);
            at = start + 1;
        }
        found
    }

    /// Every literal of `window` (found at `start`), and of the windows related to it, compared
    /// whole at its offset.
    fn check(&self, haystack: &[u8], start: usize, window: usize, found: &mut Bits) {
        for &(id, offset) in self.by_window.get(window).into_iter().flatten() {
            let Some(from) = start.checked_sub(offset) else {
                continue;
            };
            if self
                .needles
                .get(id as usize)
                .is_some_and(|n| haystack.get(from..).is_some_and(|h| h.starts_with(n)))
            {
                found.set(id as usize);
            }
        }
    }
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("literals", &self.texts)
            .field(
                "windows",
                &self.scan.get().map(|s| s.as_ref().map_or(0, |s| s.count)),
            )
            .field(
                "searcher",
                &match self.scan.get() {
                    Some(Some(Scan {
                        windows: Windows::Packed(_),
                        ..
                    })) => "packed",
                    Some(Some(_)) => "automaton",
                    Some(None) => "none",
                    None => "not built yet",
                },
            )
            .field("needs", &self.needs)
            .finish()
    }
}

/// The patterns of a [`PatternSet`](crate::PatternSet) that can possibly match one message,
/// from [`PatternSet::candidates`](crate::PatternSet::candidates). A pattern that is not a
/// candidate does not match; a candidate may or may not.
#[derive(Debug, Clone)]
pub struct Candidates {
    bits: Bits,
    len: usize,
    count: usize,
}

impl Candidates {
    /// Every one of `len` patterns.
    pub(crate) fn all(len: usize) -> Self {
        let mut bits = Bits::new(len);
        for i in 0..len {
            bits.set(i);
        }
        Self {
            bits,
            len,
            count: len,
        }
    }

    fn remove(&mut self, i: usize) {
        if self.bits.get(i) {
            self.bits.clear(i);
            self.count -= 1;
        }
    }

    /// Whether pattern `i` can possibly match.
    #[must_use]
    pub fn contains(&self, i: usize) -> bool {
        i < self.len && self.bits.get(i)
    }

    /// Whether no pattern can match: the message need not be parsed at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many patterns can possibly match.
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// How many patterns the set has (candidates or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }
}

/// A fixed-size bit set, on the stack up to 512 bits.
#[derive(Debug, Clone)]
enum Bits {
    Inline([u64; 8]),
    Heap(Vec<u64>),
}

impl Bits {
    fn new(len: usize) -> Self {
        if len <= 512 {
            Bits::Inline([0; 8])
        } else {
            Bits::Heap(vec![0; len.div_ceil(64)])
        }
    }

    fn words(&self) -> &[u64] {
        match self {
            Bits::Inline(w) => w,
            Bits::Heap(w) => w,
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Bits::Inline(w) => w,
            Bits::Heap(w) => w,
        }
    }

    fn get(&self, i: usize) -> bool {
        self.words()
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn clear(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FilterPattern;

    fn prefilter(patterns: &[&str]) -> Prefilter {
        let parsed: Vec<FilterPattern> = patterns
            .iter()
            .map(|p| match FilterPattern::parse(p) {
                Ok(p) => p,
                Err(e) => panic!("{p}: {e}"),
            })
            .collect();
        Prefilter::new(parsed.iter().map(FilterPattern::ast))
    }

    fn candidates(p: &Prefilter, text: &str) -> Vec<usize> {
        let c = p.candidates(text);
        (0..p.needs.len()).filter(|&i| c.contains(i)).collect()
    }

    #[test]
    fn needs_follow_the_pattern() {
        let p = prefilter(&[
            r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }"#,
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
            r#"{ $.eventName = ConsoleLogin && $.additionalEventData.MFAUsed != "Yes" }"#,
            "ERROR -DEBUG",
            "?WARN ?FATAL",
            r#"{ $.a != "x" || $.b NOT EXISTS }"#,
            r#"{ $.status >= 400 }"#,
            "[ip, user, ...]",
        ]);
        assert_eq!(
            p.needs[0],
            Need::Literal {
                id: p.needs_id("\"Root\""),
                json: true,
                key: false
            },
            "the member names go with a value to look for"
        );
        assert!(
            matches!(&p.needs[1], Need::Any(n) if n.len() == 2),
            "errorCode with either value"
        );
        assert_eq!(
            p.needs[3],
            Need::Literal {
                id: p.needs_id("ERROR"),
                json: false,
                key: false
            }
        );
        assert!(matches!(&p.needs[4], Need::Any(n) if n.len() == 2));
        assert_eq!(
            p.needs[5],
            Need::Nothing,
            "a NOT EXISTS alternative needs nothing"
        );
        assert_eq!(
            p.needs[6],
            Need::Literal {
                id: p.needs_id("\"status\""),
                json: true,
                key: true
            }
        );
        assert_eq!(p.needs[7], Need::Nothing);
        assert_eq!(
            p.literal_texts(),
            8,
            "only the literals a need still holds are looked for"
        );
    }

    impl Prefilter {
        fn needs_id(&self, text: &str) -> u32 {
            self.texts
                .iter()
                .position(|t| t == text)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(u32::MAX)
        }
    }

    #[test]
    fn a_record_without_the_literals_is_no_candidate() {
        let p = prefilter(&[
            r#"{ $.eventName = "ConsoleLogin" }"#,
            r#"{ $.eventSource = kms.amazonaws.com && ($.eventName = DisableKey || $.eventName = ScheduleKeyDeletion) }"#,
            "ERROR",
        ]);
        assert_eq!(candidates(&p, r#"{"eventName":"ConsoleLogin"}"#), [0]);
        assert_eq!(
            candidates(
                &p,
                r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt"}"#
            ),
            Vec::<usize>::new()
        );
        assert_eq!(
            candidates(
                &p,
                r#"{"eventSource":"kms.amazonaws.com","eventName":"DisableKey"}"#
            ),
            [1]
        );
        assert_eq!(
            candidates(&p, "ERROR ConsoleLogin"),
            [2],
            "a value is looked for as the whole JSON string"
        );
        assert_eq!(
            candidates(&p, r#"{"x":"ConsoleLogin","y":1}"#),
            [0],
            "the member name is not looked for"
        );
    }

    #[test]
    fn an_occurrence_hidden_inside_a_reported_one_still_counts() {
        // `abcd`, `bc` and `cdef` overlap in `abcdef`, and `abcd` is a prefix of `abcdx`: each
        // is found where it starts.
        let p = prefilter(&[
            r#"{ $.a = "*abcd*" }"#,
            r#"{ $.a = "*cdef*" }"#,
            r#"{ $.a = "*bc*" }"#,
            r#"{ $.a = "abcdx*" }"#,
            r#"{ $.a = "zz" }"#,
        ]);
        assert_eq!(candidates(&p, r#"{"a":"abcdef"}"#), [0, 1, 2]);
        assert_eq!(candidates(&p, r#"{"a":"abcdxbcdef"}"#), [0, 1, 2, 3]);
    }

    #[test]
    fn windows_that_start_at_one_position_are_all_checked() {
        // `x` and `x y"` both start at the `x`; the search reports one of them.
        let p = prefilter(&[r#"{ $.a = "*x*" }"#, r#"{ $.a = "*x y" }"#]);
        assert_eq!(candidates(&p, r#"{"a":"x y"}"#), [0, 1]);
        assert_eq!(candidates(&p, r#"{"a":"x z"}"#), [0]);
    }

    #[test]
    fn a_unicode_escape_anywhere_keeps_every_json_pattern() {
        let p = prefilter(&[r#"{ $.eventName = "ConsoleLogin" }"#, "ERROR"]);
        let escaped = r#"{"eventName":"Console\u004cogin"}"#;
        assert!(
            FilterPattern::parse(r#"{ $.eventName = "ConsoleLogin" }"#)
                .is_ok_and(|f| f.matches(escaped))
        );
        assert_eq!(
            candidates(&p, escaped),
            [0],
            "the term pattern reads the raw text"
        );
        assert_eq!(candidates(&p, r#"{"event\u004eame":"ConsoleLogin"}"#), [0]);
    }

    #[test]
    fn literals_a_short_escape_could_hide_are_not_used() {
        let p = prefilter(&[r#"{ $.path = "a/b" }"#, r#"{ $.q = "say \"hi\"" }"#]);
        assert_eq!(
            candidates(&p, r#"{"path":"a\/b"}"#),
            [0],
            "the member name still counts"
        );
        assert_eq!(candidates(&p, r#"{"q":"say \"hi\""}"#), [1]);
        assert_eq!(candidates(&p, "{}"), Vec::<usize>::new());
    }
}
