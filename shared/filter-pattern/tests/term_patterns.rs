//! Spec §1 (kind selection, match-all, case) and §2 (term patterns).

mod common;

use common::{check, pattern, sample};
use triage_filter_pattern::PatternKind;

#[test]
fn empty_and_whitespace_patterns_match_every_event() {
    for p in ["", "   ", "\t\n"] {
        assert_eq!(pattern(p).kind(), PatternKind::MatchAll);
        check(p, &[("", true), ("anything", true), ("{\"a\":1}", true)]);
    }
}

#[test]
fn quoted_space_and_quoted_empty_match_every_event() {
    check(r#"" ""#, &[("", true), ("no spaces", true), ("x", true)]);
    check(r#""""#, &[("", true), ("x", true)]);
    // A whitespace-only quoted term is always present, so it does not constrain other terms.
    check(r#"" " ERROR"#, &[("ERROR", true), ("INFO", false)]);
}

#[test]
fn a_plain_term_is_a_case_sensitive_substring_not_a_word() {
    check(
        "ERROR",
        &[
            ("Exiting with ERRORCODE: -1", true),
            ("ERRORNEOUS PROGRAM", true),
            ("[ERROR] Caught IllegalArgumentException", true),
            ("NotFoundError", false),
            ("rpc error", false),
            ("ErRoR", false),
        ],
    );
    // Infix match [DECISION].
    check("RRORCO", &[("Exiting with ERRORCODE: -1", true)]);
}

#[test]
fn several_terms_must_all_occur_in_any_order() {
    check(
        "ERROR ARGUMENTS",
        &[
            ("[ERROR] Unrecognized ARGUMENTS", true),
            ("ARGUMENTS caused an ERROR", true),
            ("[ERROR] no args", false),
            ("ARGUMENTS only", false),
        ],
    );
    check(
        "ERROR Exception",
        &[("[ERROR] Caught IllegalArgumentException", true)],
    );
}

#[test]
fn unquoted_words_are_independent_terms() {
    check(
        "Failed to process the request",
        &[
            ("the request: Failed to process", true),
            ("Failed to process request", false),
        ],
    );
}

#[test]
fn a_quoted_phrase_must_occur_verbatim() {
    check(
        r#""INTERNAL SERVER ERROR""#,
        &[
            ("[ERROR 500] INTERNAL SERVER ERROR", true),
            ("INTERNAL ERROR SERVER", false),
            ("INTERNAL  SERVER ERROR", false),
            ("internal server error", false),
        ],
    );
    check(
        r#""ERROR][grpc""#,
        &[
            ("2025-03-28 [ERROR][grpc] failed", true),
            ("2025-03-28 [ERROR] [grpc] failed", false),
        ],
    );
}

#[test]
fn escaped_quote_and_backslash_inside_quotes_are_literal() {
    check(
        r#""say \"hi\"""#,
        &[(r#"they say "hi" loudly"#, true), ("say hi", false)],
    );
    check(
        r#""C:\\temp""#,
        &[(r"path C:\temp", true), (r"C:\\temp", false)],
    );
    // Any other backslash is kept as written.
    check(r#""a\nb""#, &[(r"a\nb", true), ("a\nb", false)]);
}

#[test]
fn an_exclusion_term_must_not_occur() {
    check(
        "ERROR -ARGUMENTS",
        &[
            ("[ERROR] Unrecognized ARGUMENTS", false),
            ("[ERROR] Something else", true),
            ("[INFO] fine", false),
        ],
    );
    check(
        r#"ERROR -"bad thing""#,
        &[("ERROR bad thing", false), ("ERROR bad  thing", true)],
    );
}

#[test]
fn a_pattern_of_only_exclusions_matches_events_without_any_of_them() {
    check(
        "-DEBUG -TRACE",
        &[
            ("INFO started", true),
            ("DEBUG x", false),
            ("a TRACE", false),
            ("", true),
        ],
    );
}

#[test]
fn optional_terms_alone_match_if_any_occurs() {
    check(
        "?ERROR ?ARGUMENTS",
        &[
            ("[ERROR] x", true),
            ("bad ARGUMENTS", true),
            ("[INFO] fine", false),
        ],
    );
    check(
        "?Error ?fatal",
        &[("fatal: x", true), ("Error", true), ("FATAL", false)],
    );
    check(
        r#"?"clean up" ?xyz"#,
        &[
            ("will clean up now", true),
            ("xyz", true),
            ("cleanup", false),
        ],
    );
    check("?BAD ?INVALID", &[("INVALID input", true), ("bad", false)]);
}

#[test]
fn optional_terms_are_ignored_when_mixed_with_plain_terms() {
    // AWS: `?ERROR ?ARGUMENTS REQUEST` matches `[INFO] REQUEST FAILED`.
    check(
        "?ERROR ?ARGUMENTS REQUEST",
        &[
            ("[INFO] REQUEST FAILED", true),
            ("[ERROR] ARGUMENTS", false),
            ("[ERROR] REQUEST", true),
        ],
    );
    // The older CDK rendering of "(foo AND bar) OR baz" means just `bar` today.
    check(
        r#"?"foo" "bar" ?"baz""#,
        &[
            ("bar", true),
            ("baz", false),
            ("foo", false),
            ("foo baz", false),
        ],
    );
}

#[test]
fn optional_terms_are_ignored_when_mixed_with_exclusions() {
    check(
        "?ERROR -DEBUG",
        &[("INFO", true), ("ERROR DEBUG", false), ("ERROR", true)],
    );
}

#[test]
fn a_regex_term_searches_anywhere_in_the_message() {
    check(
        "%AUTHORIZED%",
        &[
            ("[ERROR 401] UNAUTHORIZED REQUEST", true),
            ("authorized", false),
        ],
    );
    check(
        "%^starting|^initializing|^shutting down%",
        &[
            ("starting server", true),
            ("shutting down now", true),
            ("server starting", false),
        ],
    );
    check(
        "ERROR -%^DEBUG%",
        &[("ERROR x", true), ("DEBUG ERROR", false)],
    );
    check(
        "?%^a% ?%z$%",
        &[("abc", true), ("xyz", true), ("xyzw", false)],
    );
}

#[test]
fn term_patterns_run_on_the_raw_text_of_json_messages() {
    let record = sample("cloudtrail-root-console-login-no-mfa");
    assert!(pattern("ConsoleLogin").matches(&record));
    assert!(pattern(r#""\"MFAUsed\":\"No\"""#).matches(&record));
    assert!(!pattern("consolelogin").matches(&record));
}

#[test]
fn bare_terms_keep_inner_quotes_and_percent_signs() {
    check(r#"ab"cd"#, &[(r#"xab"cdx"#, true), ("abcd", false)]);
    check("50%", &[("load 50% now", true), ("load 50 now", false)]);
    check("??x", &[("a?x", true), ("x", false)]);
    check("-?x", &[("?x", false), ("x", true)]);
}
