//! Spec §6: the seed's and the CIS benchmark's patterns against the CloudTrail sample records
//! (copied from shared/samples into tests/data as compact one-line JSON, as CloudWatch Logs
//! delivers them).

mod common;

use common::{pattern, sample, sample_names};
use serde_json::{Value, json};
use triage_filter_pattern::{Message, PatternSet, catalog};

/// Every pattern of the catalog with its id.
fn catalog_patterns() -> Vec<(&'static str, &'static str)> {
    catalog::SEED
        .iter()
        .chain(catalog::CIS.iter())
        .copied()
        .collect()
}

/// The detections each sample record must trigger (and, by omission, must not).
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "cloudtrail-access-denied-assumed-role",
        &[
            "seed.unauthorized-api-calls",
            "CloudWatch.2",
            "CIS-1.4-4.1",
            "CIS-1.4-4.15",
        ],
    ),
    (
        "cloudtrail-access-denied-iam-user",
        &["seed.unauthorized-api-calls", "CloudWatch.2", "CIS-1.4-4.1"],
    ),
    ("cloudtrail-assume-role-success", &[]),
    ("cloudtrail-assumed-role-sso-invoked-by-servicecatalog", &[]),
    ("cloudtrail-attach-user-policy", &["CloudWatch.4"]),
    (
        "cloudtrail-authorize-security-group-ingress",
        &["CloudWatch.10"],
    ),
    ("cloudtrail-aws-service-event-sso-federate", &[]),
    ("cloudtrail-ec2-start-instances", &[]),
    ("cloudtrail-error-trail-not-found", &["CloudWatch.5"]),
    ("cloudtrail-iam-user-check-mfa", &[]),
    (
        "cloudtrail-iam-user-console-login-failure",
        &["CloudWatch.6"],
    ),
    ("cloudtrail-iam-user-console-login-mfa", &[]),
    (
        "cloudtrail-iam-user-console-login-no-mfa",
        &[
            "seed.console-login-without-mfa",
            "CloudWatch.3",
            "CIS-1.2-3.2",
        ],
    ),
    (
        "cloudtrail-iam-user-console-login-no-mfa-stratus",
        &[
            "seed.console-login-without-mfa",
            "CloudWatch.3",
            "CIS-1.2-3.2",
        ],
    ),
    ("cloudtrail-insight-event", &[]),
    (
        "cloudtrail-root-api-call",
        &["seed.root-usage", "CloudWatch.1"],
    ),
    ("cloudtrail-root-api-call-invoked-by-service", &[]),
    ("cloudtrail-root-aws-service-event", &[]),
    (
        "cloudtrail-root-console-login-failure",
        &[
            "seed.root-usage",
            "CloudWatch.1",
            "CIS-1.2-3.2",
            "CloudWatch.6",
        ],
    ),
    (
        "cloudtrail-root-console-login-mfa",
        &["seed.root-usage", "CloudWatch.1", "CIS-1.2-3.2"],
    ),
    (
        "cloudtrail-root-console-login-no-mfa",
        &[
            "seed.root-usage",
            "seed.console-login-without-mfa",
            "CloudWatch.1",
            "CIS-1.2-3.2",
        ],
    ),
    ("cloudtrail-stop-logging", &["CloudWatch.5"]),
    (
        "cloudtrail-unauthorized-operation-assumed-role",
        &["seed.unauthorized-api-calls", "CloudWatch.2", "CIS-1.4-4.1"],
    ),
];

/// The ids the set reports; the same set with and without the prefilter must agree.
fn hits(set: &PatternSet, ids: &[(&'static str, &'static str)], record: &str) -> Vec<&'static str> {
    let indices = set.matches(&Message::new(record));
    for variant in [
        set.clone().with_prefilter(),
        set.clone().without_prefilter(),
    ] {
        assert_eq!(indices, variant.matches(&Message::new(record)), "{record}");
    }
    indices
        .into_iter()
        .filter_map(|i| ids.get(i).map(|(id, _)| *id))
        .collect()
}

#[test]
fn every_sample_triggers_exactly_the_expected_detections() {
    let ids = catalog_patterns();
    let set = match PatternSet::parse(ids.iter().map(|(_, p)| p)) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    };
    let names = sample_names();
    assert_eq!(
        names.len(),
        EXPECTED.len(),
        "every sample has an expectation"
    );
    for (name, expected) in EXPECTED {
        let record = sample(name);
        let mut got = hits(&set, &ids, &record);
        let mut want = expected.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn every_detection_has_a_sample_that_must_and_one_that_must_not_trigger_it() {
    let samples: Vec<String> = sample_names().iter().map(|n| sample(n)).collect();
    for (id, text) in catalog_patterns() {
        let p = pattern(text);
        assert!(
            samples.iter().any(|s| !p.matches(s)),
            "{id} matches every sample"
        );
        let synthetic_only = [
            "CloudWatch.7",
            "CloudWatch.8",
            "CloudWatch.9",
            "CloudWatch.11",
            "CloudWatch.12",
            "CloudWatch.13",
            "CloudWatch.14",
        ];
        if !synthetic_only.contains(&id) {
            assert!(
                samples.iter().any(|s| p.matches(s)),
                "{id} matches no sample"
            );
        }
    }
}

/// A sample record with some fields changed (`null` removes a field).
fn variant(name: &str, changes: &[(&str, Value)]) -> String {
    let mut record: Value = match serde_json::from_str(&sample(name)) {
        Ok(v) => v,
        Err(e) => panic!("{name}: {e}"),
    };
    for (path, value) in changes {
        let mut target = &mut record;
        let steps: Vec<&str> = path.split('.').collect();
        let Some((last, parents)) = steps.split_last() else {
            continue;
        };
        for step in parents {
            target = &mut target[*step];
        }
        match (value, target.as_object_mut()) {
            (Value::Null, Some(object)) => {
                object.remove(*last);
            }
            (_, Some(object)) => {
                object.insert((*last).to_owned(), value.clone());
            }
            (_, None) => panic!("{path} is not inside an object"),
        }
    }
    record.to_string()
}

fn by_id(id: &str) -> &'static str {
    match catalog_patterns().into_iter().find(|(i, _)| *i == id) {
        Some((_, p)) => p,
        None => panic!("no pattern {id}"),
    }
}

#[test]
fn equality_is_whole_value_create_vpc_is_not_create_vpc_endpoint() {
    let vpc = pattern(by_id("CloudWatch.14"));
    let base = "cloudtrail-ec2-start-instances";
    assert!(vpc.matches(&variant(base, &[("eventName", json!("CreateVpc"))])));
    assert!(!vpc.matches(&variant(base, &[("eventName", json!("CreateVpcEndpoint"))])));
}

#[test]
fn service_scoped_patterns_need_both_the_source_and_the_event_name() {
    let base = "cloudtrail-stop-logging";
    for (id, source, event) in [
        ("CloudWatch.7", "kms.amazonaws.com", "ScheduleKeyDeletion"),
        ("CloudWatch.8", "s3.amazonaws.com", "PutBucketPolicy"),
        (
            "CloudWatch.9",
            "config.amazonaws.com",
            "StopConfigurationRecorder",
        ),
        (
            "CIS-1.4-4.15",
            "organizations.amazonaws.com",
            "CreateAccount",
        ),
    ] {
        let p = pattern(by_id(id));
        let record =
            |s: &str, e: &str| variant(base, &[("eventSource", json!(s)), ("eventName", json!(e))]);
        assert!(p.matches(&record(source, event)), "{id}");
        assert!(
            !p.matches(&record("iam.amazonaws.com", event)),
            "{id} wrong source"
        );
        assert!(
            !p.matches(&record(source, "DescribeThings")),
            "{id} wrong event"
        );
    }
    for (id, event) in [
        ("CloudWatch.11", "ReplaceNetworkAclAssociation"),
        ("CloudWatch.12", "AttachInternetGateway"),
        ("CloudWatch.13", "DisassociateRouteTable"),
    ] {
        let p = pattern(by_id(id));
        assert!(
            p.matches(&variant(base, &[("eventName", json!(event))])),
            "{id}"
        );
        assert!(
            !p.matches(&variant(base, &[("eventName", json!("DescribeVpcs"))])),
            "{id}"
        );
    }
}

#[test]
fn failed_calls_still_match_patterns_that_ignore_error_code() {
    // AccessDenied LeaveOrganization and TrailNotFoundException UpdateTrail.
    assert!(
        pattern(by_id("CIS-1.4-4.15")).matches(&sample("cloudtrail-access-denied-assumed-role"))
    );
    assert!(pattern(by_id("CloudWatch.5")).matches(&sample("cloudtrail-error-trail-not-found")));
}

#[test]
fn root_usage_excludes_invoked_by_service_events_and_records_without_event_type() {
    for id in ["CloudWatch.1", "seed.root-usage"] {
        let p = pattern(by_id(id));
        assert!(p.matches(&sample("cloudtrail-root-api-call")), "{id}");
        assert!(
            !p.matches(&sample("cloudtrail-root-api-call-invoked-by-service")),
            "{id}"
        );
        assert!(
            !p.matches(&sample("cloudtrail-root-aws-service-event")),
            "{id}"
        );
        // eventVersion < 1.02 records lack eventType: `!=` on a missing field is false.
        let old = variant("cloudtrail-root-api-call", &[("eventType", Value::Null)]);
        assert!(!p.matches(&old), "{id} on a record without eventType");
    }
}

#[test]
fn unauthorized_patterns_match_ec2_and_access_denied_variants() {
    for id in ["CloudWatch.2", "seed.unauthorized-api-calls", "CIS-1.4-4.1"] {
        let p = pattern(by_id(id));
        let base = "cloudtrail-access-denied-iam-user";
        for (code, expected) in [
            ("Client.UnauthorizedOperation", true),
            ("UnauthorizedOperation", true),
            ("AccessDenied", true),
            ("AccessDeniedException", true),
            ("accessdenied", false),
            ("ThrottlingException", false),
            ("Client.UnauthorizedOperationX", false),
        ] {
            let record = variant(base, &[("errorCode", json!(code))]);
            assert_eq!(p.matches(&record), expected, "{id} with {code}");
        }
        let no_error = variant(base, &[("errorCode", Value::Null)]);
        assert!(!p.matches(&no_error), "{id} without errorCode");
    }
}

#[test]
fn cis_4_1_exclusions_only_guard_the_access_denied_branch() {
    let p = pattern(by_id("CIS-1.4-4.1"));
    let base = "cloudtrail-access-denied-iam-user";
    let record = |code: &str, source_ip: &str, event: &str| {
        variant(
            base,
            &[
                ("errorCode", json!(code)),
                ("sourceIPAddress", json!(source_ip)),
                ("eventName", json!(event)),
            ],
        )
    };
    assert!(!p.matches(&record(
        "AccessDenied",
        "delivery.logs.amazonaws.com",
        "PutObject"
    )));
    assert!(!p.matches(&record("AccessDenied", "198.51.100.1", "HeadBucket")));
    assert!(p.matches(&record("AccessDenied", "198.51.100.1", "GetObject")));
    // By precedence the UnauthorizedOperation branch is not guarded.
    assert!(p.matches(&record(
        "Client.UnauthorizedOperation",
        "delivery.logs.amazonaws.com",
        "HeadBucket"
    )));
}

#[test]
fn no_mfa_patterns_are_false_when_mfa_used_is_missing() {
    let login = variant(
        "cloudtrail-iam-user-console-login-no-mfa",
        &[("additionalEventData.MFAUsed", Value::Null)],
    );
    for id in [
        "CloudWatch.3",
        "CIS-1.2-3.2",
        "seed.console-login-without-mfa",
    ] {
        assert!(!pattern(by_id(id)).matches(&login), "{id}");
    }
}

#[test]
fn upper_case_yes_counts_as_no_mfa_for_case_sensitive_patterns() {
    // AWS's sample root sign-in with MFA says "MFAUsed": "YES".
    let record = sample("cloudtrail-root-console-login-mfa");
    assert!(pattern(by_id("CIS-1.2-3.2")).matches(&record));
    assert!(!pattern(by_id("seed.console-login-without-mfa")).matches(&record));
}

#[test]
fn cloudwatch_3_is_limited_to_successful_iam_user_sign_ins() {
    let p = pattern(by_id("CloudWatch.3"));
    assert!(p.matches(&sample("cloudtrail-iam-user-console-login-no-mfa")));
    assert!(!p.matches(&sample("cloudtrail-root-console-login-no-mfa")));
    let failed = variant(
        "cloudtrail-iam-user-console-login-no-mfa",
        &[("responseElements.ConsoleLogin", json!("Failure"))],
    );
    assert!(!p.matches(&failed));
}

#[test]
fn the_briefs_seed_strings_relate_to_the_catalog_as_documented() {
    // The unparenthesised root pattern is the same tree as the seed's parenthesised one.
    let brief_root = r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#;
    assert_eq!(pattern(brief_root), pattern(catalog::SEED_ROOT_USAGE));
    assert_eq!(pattern(brief_root), pattern(by_id("CloudWatch.1")));
    let brief_unauthorized =
        r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;
    assert_eq!(brief_unauthorized, catalog::SEED_UNAUTHORIZED_API_CALLS);
    assert_eq!(pattern(brief_unauthorized), pattern(by_id("CloudWatch.2")));
    // The `!= "Yes"` variant is CIS 1.2 3.2; it also flags failed sign-ins and "YES".
    let brief_mfa =
        r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }"#;
    assert_eq!(pattern(brief_mfa), pattern(by_id("CIS-1.2-3.2")));
}

#[test]
fn a_pattern_set_agrees_with_patterns_evaluated_one_by_one() {
    let ids = catalog_patterns();
    let set = match PatternSet::parse(ids.iter().map(|(_, p)| p)) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    };
    let patterns: Vec<_> = ids.iter().map(|(_, p)| pattern(p)).collect();
    let mut records: Vec<String> = sample_names().iter().map(|n| sample(n)).collect();
    records.extend(["not json".to_owned(), "[]".to_owned(), "{}".to_owned()]);
    for record in &records {
        let message = Message::new(record);
        let expected: Vec<usize> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(record))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(set.matches(&message), expected, "{record}");
        assert_eq!(set.is_match(&message), !expected.is_empty());
    }
}

#[test]
fn catalog_patterns_print_canonically_and_parse_back() {
    for (id, text) in catalog_patterns() {
        let p = pattern(text);
        let printed = p.to_string();
        assert_eq!(pattern(&printed), p, "{id}: {printed}");
        assert_eq!(pattern(&printed).to_string(), printed, "{id}");
    }
    assert_eq!(
        pattern(by_id("CloudWatch.7")).to_string(),
        r#"{ $.eventSource = "kms.amazonaws.com" && ($.eventName = "DisableKey" || $.eventName = "ScheduleKeyDeletion") }"#
    );
    assert_eq!(
        pattern(by_id("CIS-1.4-4.1")).to_string(),
        r#"{ $.errorCode = "*UnauthorizedOperation" || ($.errorCode = "AccessDenied*" && $.sourceIPAddress != "delivery.logs.amazonaws.com" && $.eventName != "HeadBucket") }"#
    );
}

#[test]
fn parsed_fields_are_readable_from_the_message_without_a_second_parse() {
    let record = sample("cloudtrail-unauthorized-operation-assumed-role");
    let message = Message::new(&record);
    let Some(root) = message.json() else {
        panic!("a CloudTrail record is a JSON object");
    };
    let arn = root
        .get("userIdentity")
        .and_then(|u| u.get("arn"))
        .and_then(|a| a.as_str());
    assert_eq!(
        arn,
        Some(
            "arn:aws:sts::111122223333:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000"
        )
    );
    let max_count = root
        .get("requestParameters")
        .and_then(|r| {
            r.get("instancesSet")?
                .get("items")?
                .index(0)?
                .get("maxCount")
        })
        .and_then(|m| m.number_text());
    assert_eq!(max_count, Some("10"));
    assert_eq!(
        root.get("managementEvent").and_then(|v| v.as_bool()),
        Some(true)
    );
    assert!(root.get("responseElements").is_some_and(|v| v.is_null()));
    assert!(root.members().any(|(k, _)| k == "tlsDetails"));
    assert!(!Message::new("not json").is_json_object());
}
