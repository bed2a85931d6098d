//! Matcher fuzz target: the input is `pattern \n message`. Matching never panics; a
//! single pattern, a `Message` shared between evaluations and a `PatternSet` agree; and the
//! JSON parser accepts exactly the objects serde_json accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_filter_pattern::{FilterPattern, JsonValue, Message, PatternSet};

fn walk(value: JsonValue<'_>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let _ = (
        value.kind(),
        value.scalar_text(),
        value.as_bool(),
        value.is_null(),
    );
    let _ = format!("{value:?}");
    for (_, member) in value.members() {
        walk(member, budget);
    }
    for element in value.elements() {
        walk(element, budget);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern_text, message_text) = text.split_once('\n').unwrap_or((text, ""));

    let message = Message::new(message_text);
    // Differential check of the JSON parser against serde_json (ignoring serde_json's own
    // limits: nesting depth 128 and numbers beyond f64).
    match serde_json::from_str::<serde_json::Value>(message_text) {
        Ok(value) => assert_eq!(
            message.is_json_object(),
            value.is_object(),
            "{message_text:?}"
        ),
        Err(e) => {
            let reason = e.to_string();
            if !reason.contains("recursion limit") && !reason.contains("out of range") {
                assert!(
                    !message.is_json_object(),
                    "{message_text:?}: serde_json says {reason}"
                );
            }
        }
    }
    if let Some(root) = message.json() {
        walk(root, &mut 10_000);
    }

    let Ok(pattern) = FilterPattern::parse(pattern_text) else {
        return;
    };
    let alone = pattern.matches(message_text);
    assert_eq!(pattern.matches_message(&message), alone);
    let set = PatternSet::new([pattern.clone(), pattern]);
    let expected: Vec<usize> = if alone { vec![0, 1] } else { vec![] };
    assert_eq!(set.matches(&message), expected);
});
