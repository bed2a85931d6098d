//! Spec §5: space-delimited patterns.

mod common;

use common::{check, pattern};
use triage_filter_pattern::PatternKind;

const APACHE: &str =
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
const APACHE_404: &str =
    r#"127.0.0.1 - bob [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 404 2326"#;

#[test]
fn space_delimited_kind_is_selected_by_the_leading_bracket() {
    assert_eq!(pattern("[a, b]").kind(), PatternKind::SpaceDelimited);
}

#[test]
fn fields_bind_positionally_and_brackets_and_quotes_group_a_field() {
    let p = "[ip, id, user, timestamp, request, status_code, bytes]";
    check(p, &[(APACHE, true)]);
    check(
        r#"[ip, id, user, timestamp = "10/Oct/2000:13:25:15 -0700", request = "GET /apache_pb.gif HTTP/1.0", status_code = 200, bytes]"#,
        &[(APACHE, true), (APACHE_404, false)],
    );
}

#[test]
fn ellipsis_stands_for_any_number_of_fields() {
    check(
        "[..., status_code = 404, bytes]",
        &[(APACHE_404, true), (APACHE, false)],
    );
    check(
        "[ip = 127.0.0.1, ...]",
        &[(APACHE, true), ("10.0.0.1 x", false)],
    );
    check(
        "[ip, ..., status_code, bytes = 1534]",
        &[(APACHE, true), (APACHE_404, false)],
    );
    // Zero fields.
    check("[a, ..., b]", &[("x y", true), ("x", false)]);
    check("[...]", &[("", true), ("anything at all", true)]);
}

#[test]
fn an_empty_field_is_an_unnamed_field_that_matches_anything() {
    check(
        "[ip, user, username, timestamp, request, status_code = 4*, ]",
        &[(
            r#"127.0.0.1 frank admin [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 404 2326"#,
            true,
        )],
    );
    check(
        "[a, , c = z]",
        &[("x y z", true), ("x y w", false), ("x z", false)],
    );
}

#[test]
fn conditions_support_wildcards_numbers_and_regex() {
    for (p, expected) in [
        ("[..., status_code = 4*, bytes]", true),
        ("[..., status_code = 2*, bytes]", false),
        ("[..., request = *.html*, status_code, bytes]", true),
        ("[..., bytes > 1000]", true),
        ("[..., bytes >= 2326]", true),
        ("[..., bytes < 2000]", false),
        (r"[ip = %127\.0\.0\.[1-9]%, ...]", true),
        (r"[ip = %^10\.%, ...]", false),
        ("[..., status_code != 200, bytes]", true),
        ("[..., status_code = *, bytes]", true),
    ] {
        assert_eq!(pattern(p).matches(APACHE_404), expected, "{p}");
    }
}

#[test]
fn and_or_combine_conditions_on_the_same_field() {
    check(
        "[..., status_code = 404 || status_code = 410, bytes]",
        &[(APACHE_404, true), (APACHE, false)],
    );
    check(
        "[w1 != ERROR && w1 != WARNING, ...]",
        &[
            ("INFO all good", true),
            ("ERROR bad", false),
            ("WARNING x", false),
        ],
    );
}

#[test]
fn parenthesised_field_conditions_are_grouped() {
    check(
        "[(code = 4* || code = 5*) && code != 404, ...]",
        &[("500 x", true), ("404 x", false), ("200 x", false)],
    );
}

#[test]
fn fewer_message_fields_than_pattern_fields_do_not_match() {
    check("[a, b, c]", &[("x y", false), ("x y z", true), ("", false)]);
}

#[test]
fn the_last_field_takes_the_rest_of_the_line_when_the_message_has_more_fields() {
    check(
        "[w1 = ERROR, w2]",
        &[
            ("ERROR message", true),
            ("ERROR WARN message", true),
            ("WARN ERROR", false),
        ],
    );
    check(
        "[w1 = ERROR, w2 = WARN]",
        &[("ERROR WARN", true), ("ERROR WARN message", false)],
    );
    check(
        r#"[w1, rest = "b [c d] e"]"#,
        &[("a b [c d] e", true), ("a b [c d] e  ", true)],
    );
    check("[w1, rest = %^b c$%]", &[("a b c", true)]);
}

#[test]
fn unclosed_brackets_or_quotes_in_the_message_run_to_the_end() {
    check(r#"[a, b = "x y"]"#, &[(r#"w "x y"#, true)]);
    check("[a, b = x]", &[("w [x", true), ("w [x y", false)]);
}

#[test]
fn numeric_field_values_compare_as_numbers_and_other_text_does_not_order() {
    check(
        "[status, bytes > 1000]",
        &[
            ("200 1534", true),
            ("200 999", false),
            ("200 abc", false),
            ("200 1e4", true),
        ],
    );
}
