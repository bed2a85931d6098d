//! Parser fuzz target: any text either parses or yields a positioned error, never a panic;
//! a parsed pattern's canonical form parses back to an equal pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_filter_pattern::{FilterPattern, MAX_PATTERN_LENGTH, PatternErrorKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FilterPattern::parse(text) {
        Ok(pattern) => {
            let printed = pattern.to_string();
            match FilterPattern::parse(&printed) {
                Ok(again) => {
                    assert_eq!(again, pattern, "{text:?} printed as {printed:?}");
                    assert_eq!(again.to_string(), printed, "canonical form is stable");
                }
                // The canonical form adds spaces, so it may exceed AWS's length limit.
                Err(e) if matches!(e.kind, PatternErrorKind::TooLong { .. }) => {
                    assert!(printed.chars().count() > MAX_PATTERN_LENGTH);
                }
                Err(e) => panic!("{text:?} printed as {printed:?} which fails: {e}"),
            }
            // Matching arbitrary text must not panic either.
            let _ = pattern.matches(text);
            let _ = pattern.matches(&printed);
        }
        Err(e) => {
            assert!(e.position <= text.chars().count(), "{text:?}: {e:?}");
            let _ = e.to_string();
        }
    }
});
