//! The organization-wide intake, kept in step: org/member.yaml's forwarding rules with the
//! classifiers' rules on template.yaml's central bus, with the bus policy and with events/;
//! the Logs destination, stream and event source mapping with log-detector's partial batch
//! responses; the names both templates give with the detections that watch for tampering;
//! the alarm Lambda action's permission.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};
use stack_tests::{Template, Value, intrinsic, referenced_resource, yaml_to_json};
use triage_core::cloudtrail::CloudTrailDetector;

fn central() -> Template {
    Template::load().expect("template.yaml")
}

fn member() -> Template {
    Template::load_member().expect("org/member.yaml")
}

fn props<'t>(t: &'t Template, id: &str) -> &'t Value {
    t.resource(id)
        .and_then(|r| r.get("Properties"))
        .unwrap_or_else(|| panic!("{id} has no Properties"))
}

fn condition<'t>(t: &'t Template, id: &str) -> Option<&'t str> {
    t.resource(id)?.get("Condition")?.as_str()
}

fn is_ref(v: Option<&Value>, name: &str) -> bool {
    v.and_then(referenced_resource).as_deref() == Some(name)
}

fn strings(v: &Json) -> BTreeSet<String> {
    match v {
        Json::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Json::String(s) => BTreeSet::from([s.clone()]),
        _ => BTreeSet::new(),
    }
}

/// The member's forwarding rules: `(logical id, rule name, pattern)`.
fn forwarding_rules(m: &Template) -> Vec<(String, String, Json)> {
    m.resources_of("AWS::Events::Rule")
        .into_iter()
        .map(|(id, r)| {
            let p = r.get("Properties").unwrap();
            (
                id.to_owned(),
                p.get("Name").and_then(Value::as_str).unwrap().to_owned(),
                yaml_to_json(p.get("EventPattern").unwrap()),
            )
        })
        .collect()
}

/// The classifiers' EventBridge rules: `(function, event, bus logical id or None, pattern)`.
fn classifier_rules(t: &Template) -> Vec<(String, String, Option<String>, Json)> {
    let mut out = Vec::new();
    for f in t.functions() {
        for (event, e) in &f.events {
            if e.get("Type").and_then(Value::as_str) != Some("EventBridgeRule") {
                continue;
            }
            let p = e.get("Properties").unwrap();
            out.push((
                f.logical_id.clone(),
                event.clone(),
                p.get("EventBusName").and_then(referenced_resource),
                yaml_to_json(p.get("Pattern").unwrap()),
            ));
        }
    }
    out
}

#[test]
fn every_forwarded_event_type_reaches_its_classifier_on_the_central_bus_as_on_the_default_bus() {
    let t = central();
    let rules = classifier_rules(&t);
    let on = |bus: Option<&str>| -> BTreeSet<(String, String)> {
        rules
            .iter()
            .filter(|(_, _, b, _)| b.as_deref() == bus)
            .map(|(f, _, _, p)| (f.clone(), p.to_string()))
            .collect()
    };
    let central_bus = on(Some("CentralEventBus"));
    assert_eq!(
        central_bus,
        on(None),
        "each classifier rule on the default bus has its twin on the central bus, and no other"
    );
    let forwarded: BTreeSet<String> = forwarding_rules(&member())
        .into_iter()
        .map(|(_, _, p)| p.to_string())
        .collect();
    let listened: BTreeSet<String> = central_bus.into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        forwarded, listened,
        "org/member.yaml forwards exactly what the classifiers listen for on the central bus"
    );
}

#[test]
fn the_bus_policy_admits_the_organization_and_exactly_the_forwarded_event_types() {
    let t = central();
    assert_eq!(
        condition(&t, "CentralEventBusPolicy"),
        Some("HasOrganization")
    );
    let p = props(&t, "CentralEventBusPolicy");
    assert!(is_ref(p.get("EventBusName"), "CentralEventBus"));
    let s = yaml_to_json(p.get("Statement").unwrap());
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Action"], "events:PutEvents");
    assert_eq!(
        s["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "OrganizationId",
        "the organization, from the parameter (yaml_to_json keeps a !Ref's argument)"
    );
    // Each entry of a PutEvents call must be one of the forwarded types.
    let c = &s["Condition"]["ForAllValues:StringEquals"];
    let (mut sources, mut types) = (BTreeSet::new(), BTreeSet::new());
    for (_, _, pattern) in forwarding_rules(&member()) {
        sources.extend(strings(&pattern["source"]));
        types.extend(strings(&pattern["detail-type"]));
    }
    assert_eq!(strings(&c["events:source"]), sources);
    assert_eq!(strings(&c["events:detail-type"]), types);
}

/// EventBridge-shaped samples the forwarding rules must not forward (as in consistency.rs).
const NOT_FORWARDED: &[&str] = &[
    "config-bad-wrong-detail-type.json",
    "securityhub-other-detail-type.json",
    "alarm-configuration-change.json",
    "alarm-irrelevant-ec2-state-change.json",
];

#[test]
fn the_forwarding_rules_match_their_samples_and_nothing_else() {
    let mut q = quamina::Quamina::<String>::new();
    let rules = forwarding_rules(&member());
    for (id, _, pattern) in &rules {
        q.add_pattern(id.clone(), &pattern.to_string()).unwrap();
    }
    let mut matched = BTreeSet::new();
    let mut problems = Vec::new();
    for path in triage_testkit::all_event_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let event = triage_testkit::event(&name);
        if event.get("detail-type").is_none() {
            continue;
        }
        let got = q.matches_for_event(event.to_string().as_bytes()).unwrap();
        let want: Vec<&str> = if NOT_FORWARDED.contains(&name.as_str()) {
            vec![]
        } else if name.starts_with("config-") {
            vec!["ForwardComplianceChanges"]
        } else if name.starts_with("alarm-") {
            vec!["ForwardAlarmStateChangesRule"]
        } else if name.starts_with("guardduty-") || name.starts_with("securityhub-") {
            vec!["ForwardSecurityFindingsRule"]
        } else {
            vec![]
        };
        if got != want {
            problems.push(format!("{name}: forwarded by {got:?}, expected {want:?}"));
        }
        matched.extend(got);
    }
    for (id, _, _) in &rules {
        if !matched.contains(id) {
            problems.push(format!("{id}: no sample in events/ matches it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn forwarding_keeps_what_it_cannot_deliver_and_says_so_and_never_runs_in_triages_own_account() {
    let m = member();
    for (id, _, _) in forwarding_rules(&m) {
        let p = props(&m, &id);
        let targets = p.get("Targets").and_then(Value::as_sequence).unwrap();
        assert_eq!(targets.len(), 1, "{id}");
        let target = &targets[0];
        assert!(is_ref(target.get("Arn"), "CentralEventBusArn"), "{id}");
        assert!(is_ref(target.get("RoleArn"), "ForwardRole"), "{id}");
        assert!(
            is_ref(
                target.get("DeadLetterConfig").and_then(|d| d.get("Arn")),
                "ForwardDLQ"
            ),
            "{id}"
        );
        let retry = target.get("RetryPolicy").unwrap();
        assert_eq!(
            retry
                .get("MaximumEventAgeInSeconds")
                .and_then(Value::as_u64),
            Some(86400)
        );
        assert!(
            matches!(
                condition(&m, &id),
                Some("Forwards" | "ForwardsAlarms" | "ForwardsSecurityFindings")
            ),
            "{id}: not in triage's own account and region, where the default bus is heard already"
        );
        // The DLQ's policy names the rule by its fixed name.
        let name = p.get("Name").and_then(Value::as_str).unwrap();
        let policy = serde_json::to_string(&yaml_to_json(props(&m, "ForwardDLQPolicy"))).unwrap();
        assert!(policy.contains(&format!(":rule/{name}")), "{id}: {policy}");
    }
    let alarm = props(&m, "ForwardingFailedAlarm");
    let dimension = &alarm
        .get("Dimensions")
        .and_then(Value::as_sequence)
        .unwrap()[0];
    assert!(is_ref(dimension.get("Value"), "ForwardDLQ"));
    assert!(
        alarm
            .get("AlarmDescription")
            .map(|d| format!("{d:?}"))
            .unwrap()
            .contains("severity=high"),
        "forwarded to triage while forwarding works, the alarm tickets as high"
    );
    let role = yaml_to_json(props(&m, "ForwardRole"));
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert_eq!(
        statement["Resource"], "CentralEventBusArn",
        "the central bus only"
    );
}

fn record(event_source: &str, event_name: &str, parameters: Json, issuer: &str) -> Json {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:s",
            "arn": format!("arn:aws:sts::444455556666:assumed-role/{issuer}/s"),
            "accountId": "444455556666",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": format!("arn:aws:iam::444455556666:role/{issuer}"),
                "accountId": "444455556666", "userName": issuer}}},
        "eventTime": "2026-11-30T02:14:00Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.0",
        "requestParameters": parameters,
        "responseElements": null,
        "eventType": "AwsApiCall",
        "recipientAccountId": "444455556666",
    })
}

/// A `!Sub "${AWS::StackName}-…"` name for the stack `triage`.
fn stack_name(v: &Value) -> String {
    let (tag, arg) = intrinsic(v).expect("!Sub");
    assert_eq!(tag, "Sub");
    arg.as_str().unwrap().replace("${AWS::StackName}", "triage")
}

#[test]
fn the_names_the_tamper_detections_watch_are_the_names_the_templates_give() {
    let (t, m) = (central(), member());
    let p = |t: &'_ Template, id: &str, key: &str| -> String {
        let v = props(t, id).get(key).unwrap();
        v.as_str().map_or_else(|| stack_name(v), str::to_owned)
    };
    let logs = "logs.amazonaws.com";
    let events = "events.amazonaws.com";
    let mut cases = vec![
        (
            logs,
            "DeleteSubscriptionFilter",
            json!({"logGroupName": "aws-cloudtrail-logs-o-a1b2c3d4e5",
                "filterName": p(&m, "OrganizationTrailSubscription", "FilterName")}),
            "intake-logs-tampering",
        ),
        (
            logs,
            "DeleteAccountPolicy",
            json!({"policyName": p(&m, "CloudTrailSubscriptionPolicy", "PolicyName"),
                "policyType": "SUBSCRIPTION_FILTER_POLICY"}),
            "intake-logs-tampering",
        ),
        (
            logs,
            "PutDestinationPolicy",
            json!({"destinationName": p(&t, "TrailDestination", "DestinationName"),
                "accessPolicy": "{}"}),
            "intake-logs-tampering",
        ),
        (
            events,
            "RemovePermission",
            json!({"eventBusName": p(&t, "CentralEventBus", "Name"),
                "statementId": "OrganizationForwardsTriageEvents"}),
            "intake-events-tampering",
        ),
        (
            events,
            "DeleteEventBus",
            json!({"name": p(&t, "CentralEventBus", "Name")}),
            "intake-events-tampering",
        ),
    ];
    for (_, name, _) in forwarding_rules(&m) {
        cases.push((
            events,
            "DisableRule",
            json!({"name": name}),
            "intake-events-tampering",
        ));
        cases.push((
            events,
            "RemoveTargets",
            json!({"rule": name, "ids": ["central-bus"]}),
            "intake-events-tampering",
        ));
    }
    let detector = CloudTrailDetector::shipped().unwrap();
    for (source, name, parameters, rule) in cases {
        let by_admin = record(source, name, parameters.clone(), "Admin");
        let found = detector.detect_records([&by_admin]).findings;
        assert!(
            found.iter().any(|f| f.rule_id.as_str() == rule),
            "{name} {parameters}: {rule} does not fire"
        );
        let by_stackset = record(
            source,
            name,
            parameters.clone(),
            "stacksets-exec-0123456789abcdef",
        );
        let found = detector.detect_records([&by_stackset]).findings;
        assert!(
            found.iter().all(|f| f.rule_id.as_str() != rule),
            "{name} {parameters}: the StackSet's own deployment is not tampering"
        );
    }
}

#[test]
fn the_account_policy_sends_cloudtrail_records_and_nothing_else() {
    let m = member();
    let (tag, document) = intrinsic(
        props(&m, "CloudTrailSubscriptionPolicy")
            .get("PolicyDocument")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(tag, "Sub");
    let document: Json = serde_json::from_str(&document.as_str().unwrap().replace(
        "${TrailDestinationArn}",
        "arn:aws:logs:us-east-1:999999999999:destination:triage-trail-records",
    ))
    .expect("the policy document is JSON");
    assert_eq!(document["Distribution"], "Random");
    let pattern =
        triage_filter_pattern::FilterPattern::parse(document["FilterPattern"].as_str().unwrap())
            .expect("a valid filter pattern (AWS's syntax, our engine)");
    let mut records = 0;
    for path in triage_testkit::all_event_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("cloudtrail-") && name.ends_with(".json") {
            let record = triage_testkit::event(&name).to_string();
            assert!(
                pattern.matches(&record),
                "{name}: a CloudTrail record must be sent"
            );
            records += 1;
        }
    }
    assert!(records > 20);
    for line in [
        r#"{"level":"info","msg":"order placed","time":"2026-11-30T02:14:00Z"}"#,
        r#"{"eventVersion":"1.0","source":"app"}"#,
        "START RequestId: 8f5 Version: $LATEST",
    ] {
        assert!(!pattern.matches(line), "{line}: not CloudTrail, not sent");
    }
}

#[test]
fn the_stream_intake_reports_partial_failures_bisects_retries_boundedly_and_keeps_what_fails() {
    let t = central();
    let exclusive = [
        ("LogDetectorTrailSubscription", "DirectTrailIntake"),
        ("LogDetectorTrailPermission", "DirectTrailIntake"),
        ("LogDetectorStreamMapping", "OrganizationTrailIntake"),
        ("TrailRecordsStream", "OrganizationTrailIntake"),
        ("TrailDestination", "OrganizationTrailIntake"),
        ("TrailDestinationRole", "OrganizationTrailIntake"),
    ];
    for (id, want) in exclusive {
        assert_eq!(
            condition(&t, id),
            Some(want),
            "{id}: TrailIntake chooses one path"
        );
    }
    let m = props(&t, "LogDetectorStreamMapping");
    assert!(is_ref(m.get("FunctionName"), "LogDetectorFunction"));
    assert!(is_ref(m.get("EventSourceArn"), "TrailRecordsStream"));
    let types: Vec<&str> = m
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        types,
        ["ReportBatchItemFailures"],
        "log-detector answers with the records to retry"
    );
    assert_eq!(
        m.get("BisectBatchOnFunctionError").and_then(Value::as_bool),
        Some(true)
    );
    let retries = m
        .get("MaximumRetryAttempts")
        .and_then(Value::as_u64)
        .unwrap();
    assert!((1..=10).contains(&retries), "bounded retries: {retries}");
    assert_eq!(
        m.get("StartingPosition").and_then(Value::as_str),
        Some("TRIM_HORIZON")
    );
    assert_eq!(
        m.get("ParallelizationFactor").and_then(Value::as_u64),
        Some(1),
        "a log stream's records in order"
    );
    // Each payload is evaluated and routed in turn within the function's timeout.
    let batch = m.get("BatchSize").and_then(Value::as_u64).unwrap();
    assert!((1..=25).contains(&batch), "{batch} payloads per invocation");
    assert!(is_ref(
        m.get("DestinationConfig")
            .and_then(|d| d.get("OnFailure"))
            .and_then(|d| d.get("Destination")),
        "LogDetectorDLQ"
    ));

    let d = props(&t, "TrailDestination");
    assert!(is_ref(d.get("TargetArn"), "TrailRecordsStream"));
    assert!(is_ref(d.get("RoleArn"), "TrailDestinationRole"));
    let (_, policy) = intrinsic(d.get("DestinationPolicy").unwrap()).unwrap();
    let policy: Json =
        serde_json::from_str(policy.as_str().unwrap()).expect("the access policy is JSON");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"], "*");
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "${OrganizationId}",
        "only the organization subscribes"
    );
    assert_eq!(
        statement["Resource"],
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:destination:${AWS::StackName}-trail-records"
    );

    let stream = props(&t, "TrailRecordsStream");
    let encryption = stream.get("StreamEncryption").unwrap();
    assert_eq!(
        encryption.get("EncryptionType").and_then(Value::as_str),
        Some("KMS")
    );
    assert!(is_ref(encryption.get("KeyId"), "TriageKey"));

    let role = serde_json::to_string(&yaml_to_json(props(&t, "LogDetectorRole"))).unwrap();
    for action in [
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:DescribeStream",
        "kinesis:ListShards",
    ] {
        assert!(role.contains(action), "log-detector's role lacks {action}");
    }
    let put = serde_json::to_string(&yaml_to_json(props(&t, "TrailDestinationRole"))).unwrap();
    assert!(put.contains("kinesis:PutRecord") && put.contains("logs.amazonaws.com"));
}

#[test]
fn an_alarms_lambda_action_may_invoke_alarm_classifier_for_this_accounts_alarms_only() {
    let t = central();
    let permissions: Vec<&Value> = t
        .resources_of("AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, r)| r.get("Properties").unwrap())
        .filter(|p| {
            p.get("Principal").and_then(Value::as_str)
                == Some("lambda.alarms.cloudwatch.amazonaws.com")
        })
        .collect();
    assert_eq!(
        permissions.len(),
        1,
        "README offers the alarm Lambda action: it must be allowed"
    );
    let p = permissions[0];
    assert!(is_ref(p.get("FunctionName"), "AlarmClassifierFunction"));
    assert_eq!(
        p.get("Action").and_then(Value::as_str),
        Some("lambda:InvokeFunction")
    );
    assert!(
        is_ref(p.get("SourceAccount"), "AWS::AccountId"),
        "no confused deputy: this account's alarms"
    );
    let (tag, arn) = intrinsic(p.get("SourceArn").unwrap()).unwrap();
    assert_eq!(tag, "Sub");
    assert_eq!(
        arn.as_str().unwrap(),
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    );
    // The payload such an action sends is one of alarm-classifier's samples.
    assert!(triage_testkit::event("lambda-alarm-metric-alarm.json")["alarmArn"].is_string());
}

#[test]
fn the_trail_intake_is_watched_for_silence_and_for_falling_behind() {
    let t = central();
    let silent = props(&t, "TrailIntakeSilentAlarm");
    assert_eq!(
        condition(&t, "TrailIntakeSilentAlarm"),
        Some("WatchIntakeSilence")
    );
    assert_eq!(
        silent.get("MetricName").and_then(Value::as_str),
        Some("Invocations")
    );
    let dimension = &silent
        .get("Dimensions")
        .and_then(Value::as_sequence)
        .unwrap()[0];
    assert!(is_ref(dimension.get("Value"), "LogDetectorFunction"));
    assert_eq!(
        silent.get("TreatMissingData").and_then(Value::as_str),
        Some("breaching"),
        "no invocation at all is missing data, and that is the silence"
    );
    assert!(is_ref(
        silent.get("EvaluationPeriods"),
        "IntakeSilenceMinutes"
    ));
    assert_eq!(silent.get("Period").and_then(Value::as_u64), Some(60));
    let behind = props(&t, "TrailStreamBehindAlarm");
    assert_eq!(
        behind.get("MetricName").and_then(Value::as_str),
        Some("IteratorAge")
    );
    assert_eq!(
        condition(&t, "TrailStreamBehindAlarm"),
        Some("OrganizationTrailIntake")
    );
    // IteratorAge is only measured for batches processed: a mapping that stops invoking is
    // caught by records arriving while log-detector is not invoked.
    assert_eq!(
        condition(&t, "TrailStreamUnreadAlarm"),
        Some("OrganizationTrailIntake")
    );
    let unread = serde_json::to_string(&yaml_to_json(props(&t, "TrailStreamUnreadAlarm"))).unwrap();
    for needle in [
        "IncomingRecords",
        "TrailRecordsStream",
        "Invocations",
        "LogDetectorFunction",
        "FILL(invocations, 0) == 0",
    ] {
        assert!(unread.contains(needle), "{needle}: {unread}");
    }
}

// ------------------------------------------------------------------ through moto

mod through_moto {
    use std::collections::BTreeSet;

    use aws_sdk_eventbridge::types::{PutEventsRequestEntry, RuleState, Target};
    use lambda_runtime::{Context, LambdaEvent};
    use serde_json::Value as Json;
    use stack_tests::{Template, function_env, stand_ins, ticket_of};
    use triage_aws::Aws;
    use triage_testkit::{DedupTable, MotoServer, Queues, event, sdk_config_for};

    use super::{classifier_rules, forwarding_rules, member, props, stack_name};

    const MEMBERS: [&str; 3] = ["444455556666", "777788889999", "222233334444"];
    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

    /// An EventBridge client acting as `account` in `region`: moto's multi-account support
    /// keys its state by the account of the credentials, which STS gives for a role there.
    async fn events_as(
        moto: &MotoServer,
        account: &str,
        region: &str,
    ) -> aws_sdk_eventbridge::Client {
        let central = moto.sdk_config().await;
        let sts = aws_sdk_sts::Client::new(&central);
        let c = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/triage-member-test"))
            .role_session_name("triage-test")
            .send()
            .await
            .expect("assume role")
            .credentials
            .expect("credentials");
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "triage-test",
            ))
            .load()
            .await;
        aws_sdk_eventbridge::Client::new(&config)
    }

    /// A sample's event as `account` would emit it in `region`: its own ids replaced.
    fn as_member(name: &str, account: &str, region: &str) -> Json {
        let text = event(name)
            .to_string()
            .replace("111122223333", account)
            .replace("123456789012", account)
            .replace("us-east-1", region);
        serde_json::from_str(&text).unwrap()
    }

    fn entry(e: &Json) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(e["source"].as_str().unwrap())
            .detail_type(e["detail-type"].as_str().unwrap())
            .detail(e["detail"].to_string())
            .set_resources(Some(
                e["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect(),
            ))
            .build()
    }

    /// Three member accounts in two regions run org/member.yaml's forwarding rules; triage's
    /// account runs the central bus with the classifiers' rules from template.yaml (an SQS
    /// queue standing in for their Lambda targets, which moto cannot invoke). What each
    /// member's Config and alarms emit reaches the central bus's rules, and nothing else
    /// does; config-classifier, as it ships on moto, makes one ticket of each compliance
    /// change, attributed to its member account and region. moto re-stamps a forwarded event
    /// with the receiving bus's region and drops its account, where EventBridge keeps the
    /// original ones; a Config event names its account and region in its detail, which is
    /// what config-classifier reads.
    #[tokio::test(flavor = "multi_thread")]
    async fn events_of_three_member_accounts_in_two_regions_reach_the_classifiers_through_the_central_bus()
     {
        let moto = MotoServer::start();
        let central = moto.sdk_config().await;
        let t = Template::load().unwrap();
        let bus = stack_name(props(&t, "CentralEventBus").get("Name").unwrap());
        let events = aws_sdk_eventbridge::Client::new(&central);
        let bus_arn = events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("central bus")
            .event_bus_arn()
            .unwrap()
            .to_owned();
        let sqs = aws_sdk_sqs::Client::new(&central);
        let inbox = sqs
            .create_queue()
            .queue_name("central-bus-deliveries")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let inbox_arn = "arn:aws:sqs:us-east-1:123456789012:central-bus-deliveries";
        for (function, name, on_bus, pattern) in classifier_rules(&t) {
            if on_bus.as_deref() != Some("CentralEventBus") {
                continue;
            }
            let rule = format!("{function}{name}");
            events
                .put_rule()
                .name(&rule)
                .event_bus_name(&bus)
                .event_pattern(pattern.to_string())
                .state(RuleState::Enabled)
                .send()
                .await
                .expect("central rule");
            events
                .put_targets()
                .rule(&rule)
                .event_bus_name(&bus)
                .targets(
                    Target::builder()
                        .id("classifier")
                        .arn(inbox_arn)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .expect("central target");
        }

        let rules = forwarding_rules(&member());
        for account in MEMBERS {
            for region in REGIONS {
                let member_events = events_as(&moto, account, region).await;
                for (_, name, pattern) in &rules {
                    member_events
                        .put_rule()
                        .name(name)
                        .event_pattern(pattern.to_string())
                        .state(RuleState::Enabled)
                        .send()
                        .await
                        .expect("forwarding rule");
                    member_events
                        .put_targets()
                        .rule(name)
                        .targets(
                            Target::builder()
                                .id("central-bus")
                                .arn(&bus_arn)
                                .role_arn(format!("arn:aws:iam::{account}:role/triage-forward"))
                                .build()
                                .unwrap(),
                        )
                        .send()
                        .await
                        .expect("forwarding target");
                }
                let emitted: Vec<Json> = [
                    "config-noncompliant-s3-public-read.json",
                    "alarm-metric-alarm.json",
                    "alarm-configuration-change.json", // not forwarded
                    "config-bad-wrong-detail-type.json", // not forwarded
                ]
                .iter()
                .map(|name| as_member(name, account, region))
                .collect();
                let put = member_events
                    .put_events()
                    .set_entries(Some(emitted.iter().map(entry).collect()))
                    .send()
                    .await
                    .expect("put events");
                assert_eq!(put.failed_entry_count(), 0);
            }
        }

        let mut delivered = Vec::new();
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&inbox)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                break;
            }
            for m in got.messages() {
                delivered.push(serde_json::from_str::<Json>(m.body().unwrap()).unwrap());
                sqs.delete_message()
                    .queue_url(&inbox)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        let kinds: Vec<&str> = delivered
            .iter()
            .map(|e| e["detail-type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "Config Rules Compliance Change")
                .count(),
            MEMBERS.len() * REGIONS.len(),
            "{kinds:?}"
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "CloudWatch Alarm State Change")
                .count(),
            MEMBERS.len() * REGIONS.len(),
            "{kinds:?}"
        );
        assert_eq!(
            kinds.len(),
            2 * MEMBERS.len() * REGIONS.len(),
            "nothing else forwarded"
        );

        // config-classifier as it ships, on moto's queues and table. (The alarm events are
        // not classified here: moto's forwarding drops their `account` and `resources`, which
        // EventBridge keeps, and alarm-classifier rightly refuses an alarm without an account;
        // its attribution from the envelope is proven by its own tests.)
        let q = Queues::create(&moto, "orgbus").await;
        let table = DedupTable::create(&moto, "orgbus-dedup").await;
        let backend = Aws::new(&sdk_config_for(moto.endpoint()).await);
        let config = config_classifier::assemble(
            config_classifier::Settings::from(&function_env(
                "config-classifier",
                &stand_ins(&q, &table),
            ))
            .unwrap(),
            &backend,
        );
        for e in delivered.iter().filter(|e| e["source"] == "aws.config") {
            let summary = config
                .handle(LambdaEvent::new(e.clone(), Context::default()))
                .await
                .expect("config-classifier");
            assert_eq!(summary.tickets, 1, "{summary:?}");
        }
        let tickets: Vec<_> = q
            .drain(&q.ticket_queue_url)
            .await
            .iter()
            .map(ticket_of)
            .collect();
        let attributed: BTreeSet<(String, String)> = tickets
            .iter()
            .map(|t| {
                (
                    t.finding.account.as_str().to_owned(),
                    t.finding.region.as_str().to_owned(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String)> = MEMBERS
            .iter()
            .flat_map(|a| {
                REGIONS
                    .iter()
                    .map(move |r| ((*a).to_owned(), (*r).to_owned()))
            })
            .collect();
        assert_eq!(
            tickets.len(),
            want.len(),
            "one ticket per member account and region"
        );
        assert_eq!(
            attributed, want,
            "each attributed to its account and region"
        );
        let fingerprints: BTreeSet<_> = tickets
            .iter()
            .map(|t| t.finding.fingerprint.clone())
            .collect();
        assert_eq!(fingerprints.len(), tickets.len(), "distinct problems");
    }
}
