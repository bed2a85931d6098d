//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ops::Deref;

use triage_filter_pattern::{FilterPattern, Message, PatternError, PatternErrorKind, PatternSet};

/// A valid pattern whose [`Checked::matches`] evaluates it both ways, with and without the
/// literal prefilter (a one-pattern [`PatternSet`] and [`FilterPattern::matches`]), and fails
/// the test if they disagree: every conformance case checks the prefilter too.
pub struct Checked {
    pattern: FilterPattern,
    set: PatternSet,
}

impl Checked {
    pub fn matches(&self, message: &str) -> bool {
        let full = self.pattern.matches(message);
        let prefiltered = self.set.is_match(&Message::new(message));
        assert_eq!(
            prefiltered, full,
            "the prefilter changed the result of {:?} on {message:?}",
            self.pattern
        );
        assert!(
            !full || self.set.candidates(message).contains(0),
            "a match that is no candidate"
        );
        full
    }
}

impl PartialEq for Checked {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pattern.fmt(f)
    }
}

impl Deref for Checked {
    type Target = FilterPattern;

    fn deref(&self) -> &FilterPattern {
        &self.pattern
    }
}

/// Parses a pattern that must be valid.
pub fn pattern(text: &str) -> Checked {
    match FilterPattern::parse(text) {
        Ok(pattern) => Checked {
            set: PatternSet::new([pattern.clone()]).with_prefilter(),
            pattern,
        },
        Err(e) => panic!("pattern {text:?} should parse: {e}"),
    }
}

/// Parses a pattern that must be rejected.
pub fn rejection(text: &str) -> PatternError {
    match FilterPattern::parse(text) {
        Ok(p) => panic!("pattern {text:?} should be rejected, parsed as {p}"),
        Err(e) => e,
    }
}

/// Checks `pattern` against each `(message, expected)` pair.
pub fn check(pattern_text: &str, cases: &[(&str, bool)]) {
    let p = pattern(pattern_text);
    for (message, expected) in cases {
        assert_eq!(
            p.matches(message),
            *expected,
            "pattern {pattern_text:?} on message {message:?}"
        );
    }
}

/// Asserts that `text` is rejected at character `position` with an error of the given kind.
pub fn check_rejected(text: &str, position: usize, kind: impl Fn(&PatternErrorKind) -> bool) {
    let e = rejection(text);
    assert!(
        kind(&e.kind),
        "pattern {text:?}: unexpected error kind {:?}",
        e.kind
    );
    assert_eq!(e.position, position, "pattern {text:?}: error {e}");
}

/// A CloudTrail sample record (compact, one line, as CloudWatch Logs delivers it).
pub fn sample(name: &str) -> String {
    let path = format!("{}/tests/data/{name}.json", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim_end().to_owned(),
        Err(e) => panic!("reading {path}: {e}"),
    }
}

/// Every sample record name (file stem) in tests/data.
pub fn sample_names() -> Vec<String> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
            .collect(),
        Err(e) => panic!("reading {dir}: {e}"),
    };
    names.sort();
    names
}
