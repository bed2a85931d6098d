//! Spec §4: JSON patterns — selectors, values, operators, precedence and the §4.1
//! evaluation table.

mod common;

use common::{check, pattern};
use triage_filter_pattern::PatternKind;

/// A message exercising every row of the evaluation table.
const DOC: &str = r#"{"s":"abc","n":404,"f":1.5,"t":true,"fa":false,"z":null,"o":{"k":"v"},"a":[1,2,3],"e":"","num_str":"250","neg":-3}"#;

#[test]
fn json_pattern_kind_is_selected_by_the_leading_brace() {
    assert_eq!(pattern("{ $.a = 1 }").kind(), PatternKind::Json);
    assert_eq!(pattern("  {$.a=1}  ").kind(), PatternKind::Json);
}

#[test]
fn whitespace_between_tokens_is_optional() {
    let spaced = pattern(r#"{ ( $.eventName = "ConsoleLogin" ) || ( $.eventName = "X" ) }"#);
    let tight = pattern(r#"{($.eventName="ConsoleLogin")||($.eventName="X")}"#);
    assert_eq!(spaced, tight);
    check(
        "{$.eventName=ConsoleLogin}",
        &[(r#"{"eventName":"ConsoleLogin"}"#, true)],
    );
    check(
        "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)}",
        &[
            (r#"{"eventName":"DeleteRolePolicy"}"#, true),
            (r#"{"eventName":"DeleteUserPolicy"}"#, false),
        ],
    );
}

// ---- §4.1 evaluation table, one test per column -------------------------------------------

#[test]
fn equals_compares_scalars_and_fails_on_null_containers_and_missing() {
    for (selector, value, expected) in [
        ("$.s", r#""abc""#, true),
        ("$.s", r#""ab""#, false),
        ("$.n", "404", true),
        ("$.t", "true", true),
        ("$.t", "false", false),
        ("$.fa", r#""false""#, true),
        ("$.z", "null", false),
        ("$.z", r#""null""#, false),
        ("$.o", r#""v""#, false),
        ("$.a", "1", false),
        ("$.missing", "1", false),
        ("$.e", r#""""#, true),
    ] {
        let p = format!("{{ {selector} = {value} }}");
        assert_eq!(pattern(&p).matches(DOC), expected, "{p}");
    }
}

#[test]
fn not_equals_is_false_on_missing_null_and_containers() {
    for (selector, expected) in [
        ("$.s", true),
        ("$.n", true),
        ("$.t", true),
        ("$.z", false),
        ("$.o", false),
        ("$.a", false),
        ("$.missing", false),
        ("$.s.deeper", false),
        ("$.a[9]", false),
    ] {
        let p = format!(r#"{{ {selector} != "something else" }}"#);
        assert_eq!(pattern(&p).matches(DOC), expected, "{p}");
    }
    check(r#"{ $.s != "abc" }"#, &[(DOC, false)]);
}

#[test]
fn missing_field_not_equals_is_false_as_aws_console_shows() {
    // DEVIO: `{ $.user.phone != "0800…" }` is false when `phone` is absent; the fix is an
    // explicit `NOT EXISTS` branch.
    let absent = r#"{"user":{"name":"a"}}"#;
    check(r#"{ $.user.phone != "0800000000" }"#, &[(absent, false)]);
    check(
        r#"{ $.user.phone != "0800000000" || $.user.phone NOT EXISTS }"#,
        &[
            (absent, true),
            (r#"{"user":{"phone":"0800000000"}}"#, false),
        ],
    );
}

#[test]
fn ordering_operators_compare_numbers_only() {
    for (p, expected) in [
        ("{ $.n > 400 }", true),
        ("{ $.n >= 404 }", true),
        ("{ $.n < 404 }", false),
        ("{ $.n <= 404 }", true),
        ("{ $.f < 2 }", true),
        ("{ $.neg < -2 }", true),
        ("{ $.num_str > 100 }", true),
        ("{ $.s > 1 }", false),
        ("{ $.s < 1 }", false),
        ("{ $.t > 0 }", false),
        ("{ $.z > 0 }", false),
        ("{ $.z < 0 }", false),
        ("{ $.o > 0 }", false),
        ("{ $.a > 0 }", false),
        ("{ $.missing < 1 }", false),
        ("{ $.missing > 1 }", false),
    ] {
        assert_eq!(pattern(p).matches(DOC), expected, "{p}");
    }
}

#[test]
fn star_alone_means_the_field_has_a_scalar_value() {
    for (selector, expected) in [
        ("$.s", true),
        ("$.n", true),
        ("$.t", true),
        ("$.e", true),
        ("$.z", false),
        ("$.o", false),
        ("$.a", false),
        ("$.missing", false),
    ] {
        for p in [
            format!("{{ {selector} = * }}"),
            format!(r#"{{ {selector} = "*" }}"#),
        ] {
            assert_eq!(pattern(&p).matches(DOC), expected, "{p}");
        }
    }
    check("{ $.s != * }", &[(DOC, false)]);
}

#[test]
fn is_null_is_true_only_for_a_present_json_null() {
    for (selector, expected) in [
        ("$.z", true),
        ("$.s", false),
        ("$.e", false),
        ("$.o", false),
        ("$.missing", false),
    ] {
        let p = format!("{{ {selector} IS NULL }}");
        assert_eq!(pattern(&p).matches(DOC), expected, "{p}");
    }
}

#[test]
fn is_true_and_is_false_need_json_booleans() {
    for (p, expected) in [
        ("{ $.t IS TRUE }", true),
        ("{ $.t IS FALSE }", false),
        ("{ $.fa IS FALSE }", true),
        ("{ $.fa IS TRUE }", false),
        ("{ $.z IS FALSE }", false),
        ("{ $.missing IS FALSE }", false),
        ("{ $.o IS TRUE }", false),
    ] {
        assert_eq!(pattern(p).matches(DOC), expected, "{p}");
    }
    // CloudTrail's string "false" is not a boolean: use `= "false"`.
    let record =
        r#"{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}}"#;
    check(
        "{ $.userIdentity.sessionContext.attributes.mfaAuthenticated IS FALSE }",
        &[(record, false)],
    );
    check(
        r#"{ $.userIdentity.sessionContext.attributes.mfaAuthenticated = "false" }"#,
        &[(record, true)],
    );
}

#[test]
fn not_exists_is_true_only_when_nothing_is_selected() {
    for (selector, expected) in [
        ("$.missing", true),
        ("$.s.deeper", true),
        ("$.a[3]", true),
        ("$.o.k.x", true),
        ("$.a.k", true),
        ("$.o[0]", true),
        ("$.z", false),
        ("$.s", false),
        ("$.o", false),
        ("$.a", false),
        ("$.e", false),
    ] {
        let p = format!("{{ {selector} NOT EXISTS }}");
        assert_eq!(pattern(&p).matches(DOC), expected, "{p}");
    }
}

#[test]
fn a_selector_landing_on_an_object_or_array_never_matches() {
    // DOC: `{$.users = 1}` and `{$.users != 1}` both fail when users is [1,2,3].
    let users = r#"{"users":[1,2,3]}"#;
    for p in [
        "{ $.users = 1 }",
        "{ $.users != 1 }",
        "{ $.users = * }",
        "{ $.users > 0 }",
        "{ $.users IS NULL }",
        "{ $.users NOT EXISTS }",
        "{ $.users = %1% }",
        "{ $.users != %x% }",
    ] {
        assert!(!pattern(p).matches(users), "{p}");
    }
}

#[test]
fn a_message_that_is_not_a_json_object_matches_no_json_pattern() {
    for message in [
        "",
        "not json",
        "[1,2,3]",
        "\"string\"",
        "42",
        r#"{"a":1"#,
        r#"START RequestId: x {"a":1}"#,
        r#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#,
    ] {
        for p in [
            "{ $.a NOT EXISTS }",
            "{ $.a = 1 }",
            "{ $.a != 2 }",
            "{ $.userIdentity.type = Root }",
        ] {
            assert!(!pattern(p).matches(message), "{p} on {message}");
        }
    }
}

// ---- values ---------------------------------------------------------------------------------

#[test]
fn string_equality_is_whole_value_and_case_sensitive() {
    check(
        "{ $.eventName = CreateVpc }",
        &[
            (r#"{"eventName":"CreateVpc"}"#, true),
            (r#"{"eventName":"CreateVpcEndpoint"}"#, false),
            (r#"{"eventName":"createvpc"}"#, false),
            (r#"{"eventName":"xCreateVpc"}"#, false),
        ],
    );
}

#[test]
fn wildcards_work_only_at_the_start_and_end_quoted_or_not() {
    let ev = |v: &str| format!(r#"{{"eventName":"{v}"}}"#);
    for (value, name, expected) in [
        ("*Event", "PutEvent", true),
        ("*Event", "Event", true),
        ("*Event", "EventPut", false),
        ("Event*", "EventId", true),
        ("Event*", "Event", true),
        ("Event*", "PutEvent", false),
        ("*dateTr*", "UpdateTrail", true),
        ("*dateTr*", "dateTr", true),
        ("*dateTr*", "UpdateTail", false),
        ("Ev*ent", "Event", false),
        ("Ev*ent", "Ev*ent", true),
        ("Ev*ent", "EvXent", false),
        ("**", "anything", true),
    ] {
        for p in [
            format!("{{ $.eventName = {value} }}"),
            format!(r#"{{ $.eventName = "{value}" }}"#),
        ] {
            assert_eq!(pattern(&p).matches(&ev(name)), expected, "{p} on {name}");
        }
    }
    check(
        r#"{ $.errorCode = "*UnauthorizedOperation" }"#,
        &[
            (r#"{"errorCode":"UnauthorizedOperation"}"#, true),
            (r#"{"errorCode":"Client.UnauthorizedOperation"}"#, true),
        ],
    );
}

#[test]
fn unquoted_values_run_to_whitespace_parenthesis_or_operator() {
    check(
        "{($.eventSource=kms.amazonaws.com) && ($.eventName=DisableKey)}",
        &[(
            r#"{"eventSource":"kms.amazonaws.com","eventName":"DisableKey"}"#,
            true,
        )],
    );
    check(
        "{ $.sourceIPAddress = 123.123.* }",
        &[
            (r#"{"sourceIPAddress":"123.123.0.1"}"#, true),
            (r#"{"sourceIPAddress":"123.124.0.1"}"#, false),
        ],
    );
    check(
        "{ $.instanceType = *.8xlarge }",
        &[(r#"{"instanceType":"m5.8xlarge"}"#, true)],
    );
    check(
        "{$.a=x&&$.b=y}",
        &[
            (r#"{"a":"x","b":"y"}"#, true),
            (r#"{"a":"x&&$.b=y"}"#, false),
        ],
    );
    check("{$.a=a|b}", &[(r#"{"a":"a|b"}"#, true)]);
}

#[test]
fn numbers_compare_numerically_in_any_notation() {
    for (p, message, expected) in [
        ("{ $.n = 1e3 }", r#"{"n":1000}"#, true),
        ("{ $.n = 1000 }", r#"{"n":1e3}"#, true),
        ("{ $.n = +1000 }", r#"{"n":1000}"#, true),
        ("{ $.n <= 5 }", r#"{"n":5.0}"#, true),
        ("{ $.n = 5 }", r#"{"n":5.0}"#, true),
        ("{ $.n = 1e-3 }", r#"{"n":0.001}"#, true),
        ("{ $.n > 10e3 }", r#"{"n":10001}"#, true),
        ("{ $.n = .5 }", r#"{"n":0.5}"#, true),
        ("{ $.n != 0 }", r#"{"n":-0}"#, false),
        (
            "{ $.id = 12345678901234567890 }",
            r#"{"id":12345678901234567891}"#,
            false,
        ),
    ] {
        assert_eq!(pattern(p).matches(message), expected, "{p} on {message}");
    }
}

#[test]
fn number_and_string_mixing_compares_numerically_when_both_are_numbers() {
    // §4.2 [DECISION]
    check(r#"{ $.latency > 100 }"#, &[(r#"{"latency":"250"}"#, true)]);
    check(
        r#"{ $.errorCode = 400 }"#,
        &[(r#"{"errorCode":"400"}"#, true)],
    );
    check(
        r#"{ $.errorCode = 400 }"#,
        &[(r#"{"errorCode":"400.0"}"#, true)],
    );
    // A quoted value is a string: text comparison with the number's JSON text.
    check(
        r#"{ $.errorCode = "400" }"#,
        &[(r#"{"errorCode":400}"#, true)],
    );
    check(
        r#"{ $.errorCode = "400" }"#,
        &[(r#"{"errorCode":400.0}"#, false)],
    );
    check(r#"{ $.code = 4* }"#, &[(r#"{"code":404}"#, true)]);
    // Not both numbers: text comparison.
    check(r#"{ $.s = 5 }"#, &[(r#"{"s":"abc"}"#, false)]);
    check(r#"{ $.s != 5 }"#, &[(r#"{"s":"abc"}"#, true)]);
    check(r#"{ $.b = true }"#, &[(r#"{"b":true}"#, true)]);
    check(r#"{ $.b = "true" }"#, &[(r#"{"b":true}"#, true)]);
}

#[test]
fn regex_values_search_the_field_text_and_anchor_to_it() {
    check(
        "{ $.eventName = %^Delete% }",
        &[
            (r#"{"eventName":"DeleteTrail"}"#, true),
            (r#"{"eventName":"UndeleteTrail"}"#, false),
        ],
    );
    check(
        r#"{ $.url = %/service/resource/[0-9]+$% }"#,
        &[
            (r#"{"url":"/service/resource/42"}"#, true),
            (r#"{"url":"/service/resource/42/x"}"#, false),
        ],
    );
    check(
        "{ $.eventName != %^Get% }",
        &[
            (r#"{"eventName":"GetObject"}"#, false),
            (r#"{"eventName":"PutObject"}"#, true),
            (r#"{"other":1}"#, false),
        ],
    );
    check("{ $.n = %^4% }", &[(r#"{"n":404}"#, true)]);
}

// ---- selectors ------------------------------------------------------------------------------

#[test]
fn selectors_descend_objects_and_index_arrays() {
    let m = r#"{"coordinates":[[1,2],[3,4]],"users":[{"email":"a@x"},{"email":"b@x"}],"cluster":{"name":"nested"},"cluster.name":"dotted"}"#;
    for (p, expected) in [
        ("{ $.coordinates[0][1] = 2 }", true),
        ("{ $.coordinates[1][0] = 3 }", true),
        ("{ $.coordinates[2][0] NOT EXISTS }", true),
        (r#"{ $.users[0].email = "a@x" }"#, true),
        (r#"{ $.users[1].email = "a@x" }"#, false),
        (r#"{ $.cluster.name = "nested" }"#, true),
        (r#"{ $.['cluster.name'] = "dotted" }"#, true),
        (r#"{ $['cluster.name'] = "dotted" }"#, true),
        (r#"{ $.cluster['name'] = "nested" }"#, true),
        (r#"{ $.cluster.['name'] = "nested" }"#, true),
    ] {
        assert_eq!(pattern(p).matches(m), expected, "{p}");
    }
}

#[test]
fn wildcard_selectors_match_if_any_selected_node_matches() {
    let m = r#"{"arrayKey":["a","value1","x"],"ips":{"a":"111.111.1.1","b":"2.2.2.2"},"users":[{"email":"a@x"},{"name":"n"}]}"#;
    for (p, expected) in [
        ("{ $.arrayKey[*] = %val.{2}% }", true),
        ("{ $.arrayKey[*] = %zzz% }", false),
        (r"{ $.* = %111\.111% }", false),
        (r"{ $.ips.* = %111\.111% }", true),
        (r#"{ $.users[*].email = "a@x" }"#, true),
        (r#"{ $.users[*].email != "a@x" }"#, false),
        (r#"{ $.users[*].name = "n" }"#, true),
        ("{ $.users[*].phone NOT EXISTS }", true),
        ("{ $.users[*].email NOT EXISTS }", false),
        ("{ $.empty[*] NOT EXISTS }", true),
        ("{ $.ips[*] = * }", false),
        ("{ $.arrayKey.* = * }", false),
    ] {
        assert_eq!(pattern(p).matches(m), expected, "{p}");
    }
}

#[test]
fn duplicate_keys_take_the_last_value() {
    check(
        r#"{ $.a = "second" }"#,
        &[(r#"{"a":"first","a":"second"}"#, true)],
    );
}

#[test]
fn escaped_json_strings_are_compared_decoded() {
    check(
        r#"{ $.msg = "say \"hi\"" }"#,
        &[(r#"{"msg":"say \"hi\""}"#, true)],
    );
    check(r#"{ $.msg = "é" }"#, &[(r#"{"msg":"\u00e9"}"#, true)]);
}

// ---- operators and precedence --------------------------------------------------------------

#[test]
fn and_binds_tighter_than_or() {
    // `A || B && C` is `A || (B && C)`.
    let p = "{ $.a = 1 || $.b = 1 && $.c = 1 }";
    check(
        p,
        &[
            (r#"{"a":1}"#, true),
            (r#"{"b":1}"#, false),
            (r#"{"b":1,"c":1}"#, true),
            (r#"{"a":1,"c":0}"#, true),
        ],
    );
    assert_eq!(
        pattern(p),
        pattern("{ ($.a = 1) || (($.b = 1) && ($.c = 1)) }")
    );
    check(
        "{ ($.a = 1 || $.b = 1) && $.c = 1 }",
        &[(r#"{"a":1}"#, false), (r#"{"a":1,"c":1}"#, true)],
    );
}

#[test]
fn documented_or_example_groups_as_aws_describes() {
    // DOC "Expression that matches using OR": && before ||.
    let p = r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nomatch" }"#;
    let m = r#"{"user":{"email":"John.Stiles@example.com"},"coordinates":[[0,1]],"actions":["a","b","c"]}"#;
    check(p, &[(m, true)]);
}

#[test]
fn nested_parentheses_are_evaluated_inside_out() {
    check(
        "{ (($.a = 1) || ($.b = 1)) && (($.c = 1) || (($.d = 1) && ($.e = 1))) }",
        &[
            (r#"{"a":1,"c":1}"#, true),
            (r#"{"b":1,"d":1,"e":1}"#, true),
            (r#"{"b":1,"d":1}"#, false),
            (r#"{"c":1}"#, false),
        ],
    );
}

#[test]
fn documented_json_examples_behave_as_documented() {
    // The example event from the AWS "matching terms in JSON log events" page.
    let event = r#"{"eventType":"UpdateTrail","sourceIPAddress":"111.111.111.111","arrayKey":["value","another value"],"objectList":[{"name":"a","id":1},{"name":"b","id":2}],"SomeObject":null,"cluster.name":"c","ThisFlag":true}"#;
    for (p, expected) in [
        (r#"{ $.eventType = "UpdateTrail" }"#, true),
        (r#"{ $.sourceIPAddress != 123.123.* }"#, true),
        (r#"{ $.arrayKey[0] = "value" }"#, true),
        (r#"{ $.objectList[1].id = 2 }"#, true),
        ("{ $.SomeObject IS NULL }", true),
        ("{ $.SomeOtherObject NOT EXISTS }", true),
        ("{ $.ThisFlag IS TRUE }", true),
        (r#"{ $.['cluster.name'] = "c" }"#, true),
        (r#"{ $.eventType = "*Trail" }"#, true),
        (r#"{ $.eventType = "Update*" }"#, true),
        (r#"{ $.eventType = "*dateTr*" }"#, true),
        (r#"{ $.arrayKey[*] = "another value" }"#, true),
        (r"{ $.* = %111\.111\.111\.111% }", true),
    ] {
        assert_eq!(pattern(p).matches(event), expected, "{p}");
    }
}
