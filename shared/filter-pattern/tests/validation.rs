//! Patterns AWS rejects are rejected, with the character position of the problem and a
//! message a user understands (spec §1, §3, §4, §5).

mod common;

use common::{check_rejected, pattern, rejection};
use triage_filter_pattern::{
    FilterPattern, MAX_NESTING, MAX_PATTERN_LENGTH, PatternErrorKind as K,
};

#[test]
fn patterns_longer_than_1024_characters_are_rejected() {
    let ok = format!("{{ $.a = \"{}\" }}", "x".repeat(MAX_PATTERN_LENGTH - 12));
    assert_eq!(ok.chars().count(), MAX_PATTERN_LENGTH);
    let _ = pattern(&ok);
    let too_long = "é".repeat(MAX_PATTERN_LENGTH + 1);
    check_rejected(&too_long, 1024, |k| {
        matches!(
            k,
            K::TooLong {
                length: 1025,
                max: 1024
            }
        )
    });
}

#[test]
fn a_json_pattern_must_end_with_its_closing_brace() {
    let e = rejection(r#"{ $.eventName = "ConsoleLogin""#);
    assert_eq!(e.kind, K::UnclosedJsonPattern);
    assert_eq!(e.position, 30);
    assert!(
        e.to_string()
            .contains("a filter pattern that starts with '{' must end with '}'")
    );
    check_rejected("{", 1, |k| *k == K::UnclosedJsonPattern);
    check_rejected("[a, b", 5, |k| *k == K::UnclosedSpaceDelimitedPattern);
}

#[test]
fn unbalanced_braces_inside_a_json_pattern_are_rejected() {
    check_rejected("{ $.a = 1 } }", 10, |k| *k == K::UnbalancedBrace);
    check_rejected("{ { $.a = 1 }", 2, |k| matches!(k, K::Unexpected { .. }));
    check_rejected("{ $.a = 1 }}", 10, |k| *k == K::UnbalancedBrace);
}

#[test]
fn empty_json_patterns_are_rejected() {
    check_rejected("{}", 0, |k| *k == K::EmptyJsonPattern);
    check_rejected("  {   }", 2, |k| *k == K::EmptyJsonPattern);
}

#[test]
fn unbalanced_parentheses_are_rejected() {
    check_rejected("{ ($.a = 1 }", 2, |k| *k == K::UnclosedParenthesis);
    check_rejected("{ $.a = 1) }", 9, |k| *k == K::UnbalancedParenthesis);
    check_rejected("{ () }", 3, |k| matches!(k, K::Unexpected { .. }));
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected_without_recursing_forever() {
    let deep = format!(
        "{{ {}$.a = 1{} }}",
        "(".repeat(MAX_NESTING),
        ")".repeat(MAX_NESTING)
    );
    let _ = pattern(&deep);
    let too_deep = format!(
        "{{ {}$.a = 1{} }}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    check_rejected(&too_deep, 2 + MAX_NESTING, |k| {
        matches!(k, K::NestingTooDeep { .. })
    });
    let absurd = format!("{{{}", "(".repeat(1000));
    assert!(FilterPattern::parse(&absurd).is_err());
}

#[test]
fn a_selector_without_dollar_is_rejected() {
    let e = rejection(r#"{ status = "401" }"#);
    assert_eq!(e.position, 2);
    assert_eq!(
        e.kind,
        K::SelectorWithoutDollar {
            name: "status".into()
        }
    );
    assert!(e.to_string().contains("write `$.status`"));
    check_rejected("{ .status = 1 }", 2, |k| {
        matches!(k, K::SelectorWithoutDollar { .. })
    });
    check_rejected("{ $status = 1 }", 2, |k| {
        matches!(k, K::InvalidSelector { .. })
    });
    check_rejected("{ $ = 1 }", 2, |k| matches!(k, K::InvalidSelector { .. }));
    check_rejected("{ $. = 1 }", 4, |k| matches!(k, K::InvalidSelector { .. }));
}

#[test]
fn malformed_selector_steps_are_rejected() {
    check_rejected("{ $.a[x] = 1 }", 6, |k| {
        matches!(k, K::InvalidSelector { .. })
    });
    check_rejected("{ $.a[1 = 1 }", 7, |k| {
        matches!(k, K::InvalidSelector { .. })
    });
    check_rejected("{ $.['a = 1 }", 4, |k| {
        matches!(k, K::InvalidSelector { .. })
    });
    check_rejected("{ $.a[99999999999999999999999] = 1 }", 5, |k| {
        matches!(k, K::IndexTooLarge { .. })
    });
    check_rejected("{ $.a@b = 1 }", 5, |k| matches!(k, K::Unexpected { .. }));
}

#[test]
fn is_not_and_bare_exists_are_rejected() {
    check_rejected("{ $.a IS NOT NULL }", 6, |k| *k == K::IsNotUnsupported);
    check_rejected("{ $.a EXISTS }", 6, |k| *k == K::BareExists);
    check_rejected("{ $.a IS EMPTY }", 9, |k| *k == K::InvalidIsOperand);
    check_rejected("{ $.a NOT NULL }", 10, |k| *k == K::InvalidNotOperand);
    check_rejected("{ $.a IS }", 9, |k| *k == K::InvalidIsOperand);
}

#[test]
fn keywords_must_be_upper_case() {
    let e = rejection("{ $.a is null }");
    assert_eq!(e.position, 6);
    assert!(
        matches!(&e.kind, K::LowercaseKeyword { found, upper } if found == "is" && upper == "IS")
    );
    check_rejected("{ $.a IS Null }", 9, |k| {
        matches!(k, K::LowercaseKeyword { .. })
    });
    check_rejected("{ $.a not exists }", 6, |k| {
        matches!(k, K::LowercaseKeyword { .. })
    });
}

#[test]
fn operators_are_checked() {
    check_rejected("{ $.a == 1 }", 6, |k| *k == K::DoubleEquals);
    check_rejected("{ $.a ! 1 }", 6, |k| matches!(k, K::Unexpected { .. }));
    check_rejected("{ $.a 1 }", 6, |k| matches!(k, K::Unexpected { .. }));
    check_rejected("{ $.a = }", 8, |k| matches!(k, K::MissingValue { op: "=" }));
    check_rejected("{ $.a = && $.b = 1 }", 8, |k| {
        matches!(k, K::MissingValue { .. })
    });
    check_rejected("{ $.a }", 6, |k| matches!(k, K::UnexpectedEnd { .. }));
}

#[test]
fn ordering_operators_need_a_number() {
    check_rejected(
        "{ $.a > abc }",
        8,
        |k| matches!(k, K::NonNumericOrdering { op: ">", value } if value == "abc"),
    );
    check_rejected(r#"{ $.a < "5" }"#, 8, |k| {
        matches!(k, K::NonNumericOrdering { .. })
    });
    check_rejected("{ $.a >= * }", 9, |k| {
        matches!(k, K::NonNumericOrdering { .. })
    });
    check_rejected("{ $.a <= %5% }", 9, |k| {
        matches!(k, K::NonNumericOrdering { .. })
    });
    check_rejected("[a > x]", 5, |k| matches!(k, K::NonNumericOrdering { .. }));
}

#[test]
fn quotes_must_be_closed_and_followed_by_a_separator() {
    check_rejected(r#"{ $.a = "abc }"#, 8, |k| *k == K::UnclosedQuote);
    check_rejected(r#""abc"#, 0, |k| *k == K::UnclosedQuote);
    check_rejected(r#"ERROR "a b"c"#, 11, |k| *k == K::TextAfterQuote);
    check_rejected(r#"{ $.a = "x"y }"#, 11, |k| {
        matches!(k, K::Unexpected { .. })
    });
}

#[test]
fn a_json_value_in_single_quotes_is_rejected_as_aws_rejects_it() {
    // terraform-provider-aws#2945: AWS refuses `{ $.eventName = 'ConsoleLogin' }`.
    check_rejected("{ $.eventName = 'ConsoleLogin' }", 16, |k| {
        *k == K::SingleQuotedValue
    });
    check_rejected("{ $.a != 'x' }", 9, |k| *k == K::SingleQuotedValue);
    check_rejected("{ ($.a = 1) && ($.b = 'x') }", 22, |k| {
        *k == K::SingleQuotedValue
    });
}

#[test]
fn prefixes_must_be_attached_to_a_term() {
    check_rejected("ERROR ? x", 6, |k| *k == K::DanglingPrefix { prefix: '?' });
    check_rejected("ERROR -", 6, |k| *k == K::DanglingPrefix { prefix: '-' });
}

#[test]
fn regexes_are_checked_against_the_aws_dialect() {
    check_rejected("%ab(c)%", 3, |k| matches!(k, K::InvalidRegex { .. }));
    check_rejected("%something!%", 10, |k| matches!(k, K::InvalidRegex { .. }));
    check_rejected("{ $.a = %caf\u{e9}% }", 12, |k| {
        matches!(k, K::InvalidRegex { .. })
    });
    check_rejected("%abc", 0, |k| *k == K::UnclosedRegex);
    check_rejected("%%", 0, |k| *k == K::EmptyRegex);
    check_rejected("{ $.a = %[abc% }", 9, |k| {
        matches!(k, K::InvalidRegex { .. })
    });
    let e = rejection("%a(b%");
    assert!(e.to_string().contains(r"\x28"), "{e}");
}

#[test]
fn more_than_two_regexes_in_a_json_or_space_pattern_are_rejected() {
    let _ = pattern("{ $.a = %x% && $.b = %y% }");
    check_rejected("{ $.a = %x% && $.b = %y% && $.c = %z% }", 34, |k| {
        matches!(k, K::TooManyRegexes { max: 2 })
    });
    check_rejected("[a = %x%, b = %y%, c = %z%]", 23, |k| {
        matches!(k, K::TooManyRegexes { max: 2 })
    });
    // Spec §1.5 limits JSON and space-delimited patterns only.
    let _ = pattern("%a% %b% %c%");
}

#[test]
fn wildcard_selector_quotas_are_enforced() {
    check_rejected("{ $.a[*].b[*] = 1 }", 10, |k| {
        *k == K::TooManyWildcardsInSelector
    });
    check_rejected("{ $.*.b.* = 1 }", 7, |k| {
        *k == K::TooManyWildcardsInSelector
    });
    let _ = pattern("{ $.a[*] = 1 || $.b.* = 1 || $.c[*] = 1 }");
    check_rejected(
        "{ $.a[*] = 1 || $.b.* = 1 || $.c[*] = 1 || $.d[*] = 1 }",
        43,
        |k| matches!(k, K::TooManyWildcardSelectors { max: 3 }),
    );
}

#[test]
fn space_delimited_conditions_may_only_name_their_own_field() {
    // awsdocs/amazon-cloudwatch-logs-user-guide#21: rejected even though once documented.
    let e = rejection("[ip, user, ..., status_code = 4* && bytes > 1000]");
    assert_eq!(e.position, 36);
    assert!(
        matches!(&e.kind, K::ForeignFieldInCondition { field, found } if field == "status_code" && found == "bytes")
    );
}

#[test]
fn space_delimited_structure_is_checked() {
    check_rejected("[a, ..., b, ...]", 12, |k| *k == K::MultipleEllipses);
    check_rejected("[a IS NULL]", 3, |k| *k == K::KeywordInSpaceDelimited);
    check_rejected("[a b]", 3, |k| matches!(k, K::Unexpected { .. }));
    check_rejected("[= x]", 1, |k| matches!(k, K::Unexpected { .. }));
    check_rejected("[..., x]]", 7, |k| matches!(k, K::Unexpected { .. }));
}

#[test]
fn errors_display_a_one_based_column() {
    let e = rejection("{ $.a IS NOT NULL }");
    assert_eq!(
        e.to_string(),
        "`IS NOT` is not supported: use `!=` to compare values or `NOT EXISTS` for a missing field (at column 7)"
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let e = rejection("{ $.é = 1 }");
    assert_eq!(e.position, 4);
}
