//! template.yaml, the functions' code and events/ say the same thing, and the template keeps the
//! promises DESIGN.md makes (nothing lost, encrypted, watched, least privilege).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::{BTreeMap, BTreeSet};

use stack_tests::env_reads::function_env_reads;
use stack_tests::{
    Function, SAMPLES, Template, Value, intrinsic, owner_of, referenced_resource, repo_root,
};

/// EventBridge-shaped samples that exist to exercise a handler's "irrelevant event" path: the
/// template's rules must NOT deliver them to any function.
const NOT_DELIVERED: &[&str] = &[
    "config-bad-wrong-detail-type.json", // Config Configuration Item Change
    "alarm-configuration-change.json",   // CloudWatch Alarm Configuration Change
    "alarm-irrelevant-ec2-state-change.json", // EC2 Instance State-change Notification
    "securityhub-other-detail-type.json", // Security Hub Insight Results
];

/// Variables a function gets from the template although no settings code of ours reads them.
const READ_BY_THE_RUNTIME: &[(&str, &str)] = &[(
    "RUST_LOG",
    "lambda_runtime's tracing subscriber (tracing::init_default_subscriber)",
)];

/// Variables a function reads that Lambda sets, not the template.
const SET_BY_LAMBDA: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API", // metrics go to stdout only under a Lambda runtime
];

fn template() -> Template {
    Template::load().expect("template.yaml")
}

fn samples() -> Vec<String> {
    triage_testkit::all_event_files()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect()
}

fn binary(f: &Function) -> &str {
    f.binary
        .as_deref()
        .unwrap_or_else(|| panic!("{} has no Metadata.BuildProperties.Binary", f.logical_id))
}

fn sample_json(name: &str) -> serde_json::Value {
    triage_testkit::event(name)
}

// ------------------------------------------------------------------ functions and samples

#[test]
fn every_function_in_the_template_is_a_workspace_package_with_samples() {
    let t = template();
    let functions = t.functions();
    assert!(functions.len() >= 2, "the template has functions");
    let all = samples();
    for f in &functions {
        let bin = binary(f);
        let manifest = repo_root().join("functions").join(bin).join("Cargo.toml");
        assert!(
            manifest.exists(),
            "{}: Binary {bin} is not a package in functions/{bin}",
            f.logical_id
        );
        assert!(
            SAMPLES.iter().any(|(name, _)| *name == bin),
            "{}: add the prefixes of {bin}'s samples to SAMPLES in {}",
            f.logical_id,
            file!()
        );
        let own: Vec<_> = all.iter().filter(|s| owner_of(s) == Some(bin)).collect();
        assert!(
            !own.is_empty(),
            "{}: no sample in events/ for {bin}",
            f.logical_id
        );
    }
}

#[test]
fn every_function_package_is_deployed_by_the_template() {
    let t = template();
    let deployed: BTreeSet<String> = t.functions().iter().map(|f| binary(f).to_owned()).collect();
    for entry in std::fs::read_dir(repo_root().join("functions")).expect("functions/") {
        let dir = entry.expect("entry").path();
        if !dir.join("Cargo.toml").exists() || !dir.join("src/main.rs").exists() {
            continue; // a colleague's package still being written
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        assert!(
            deployed.contains(&name),
            "functions/{name} is not deployed by template.yaml"
        );
    }
}

// ------------------------------------------------------------------ environment variables

#[test]
fn every_environment_variable_a_function_reads_is_set_by_the_template_and_vice_versa() {
    let t = template();
    let runtime: BTreeMap<&str, &str> = READ_BY_THE_RUNTIME.iter().copied().collect();
    let mut problems = Vec::new();
    for f in t.functions() {
        let bin = binary(&f);
        let reads = function_env_reads(&repo_root(), bin).expect("read sources");
        assert!(
            !reads.is_empty(),
            "{bin}: found no environment reads; is functions/{bin}/src/settings.rs there?"
        );
        for (name, files) in &reads {
            if !f.env.contains_key(name) && !SET_BY_LAMBDA.contains(&name.as_str()) {
                problems.push(format!(
                    "{}: {bin} reads {name} ({}) but the template does not set it",
                    f.logical_id,
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for name in f.env.keys() {
            if !reads.contains_key(name) && !runtime.contains_key(name.as_str()) {
                problems.push(format!(
                    "{}: the template sets {name}, which {bin} never reads",
                    f.logical_id
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dedup_claims_outlast_the_function_timeout_and_end_before_lambdas_first_retry() {
    for f in template().functions() {
        if let Some(claim) = f.env.get("DEDUP_CLAIM_SECONDS") {
            let claim: u64 = claim
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{}: DEDUP_CLAIM_SECONDS is a literal", f.logical_id));
            let timeout = f.timeout.expect("Timeout");
            assert!(
                claim >= timeout,
                "{}: a dedup claim of {claim} s must outlast the {timeout} s timeout",
                f.logical_id
            );
            // Lambda's first asynchronous retry comes a minute after a failure: a longer claim
            // makes that retry fail on the failed attempt's own claim (InFlight), and a page
            // waits for the second retry, two minutes later still.
            assert!(
                claim <= 60,
                "{}: a dedup claim of {claim} s outlasts Lambda's first retry",
                f.logical_id
            );
        }
    }
}

// ------------------------------------------------------------------ EventBridge patterns

#[test]
fn every_eventbridge_rule_matches_its_own_samples_and_none_of_the_others() {
    let t = template();
    let mut q = quamina::Quamina::<String>::new();
    let mut rule_owner = BTreeMap::new();
    for f in t.functions() {
        for (event, pattern) in f.eventbridge_patterns() {
            let id = format!("{}.{event}", f.logical_id);
            q.add_pattern(id.clone(), &pattern.to_string())
                .unwrap_or_else(|e| panic!("{id}: quamina rejects the pattern {pattern}: {e}"));
            rule_owner.insert(id, binary(&f).to_owned());
        }
    }
    assert!(!rule_owner.is_empty(), "the template has EventBridge rules");

    let mut matched_rules = BTreeSet::new();
    let mut problems = Vec::new();
    for sample in samples() {
        let event = sample_json(&sample);
        // Only EventBridge events are subject to rule patterns.
        if event.get("detail-type").is_none() || event.get("source").is_none() {
            continue;
        }
        let mut got = q
            .matches_for_event(event.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{sample}: {e}"));
        got.sort();
        let owner = owner_of(&sample);
        let expected: Vec<String> = if NOT_DELIVERED.contains(&sample.as_str()) {
            vec![]
        } else {
            rule_owner
                .iter()
                .filter(|(_, o)| Some(o.as_str()) == owner)
                .map(|(id, _)| id.clone())
                .collect()
        };
        if got != expected {
            problems.push(format!(
                "{sample} (owner {}): matched {got:?}, expected {expected:?}",
                owner.unwrap_or("none")
            ));
        }
        matched_rules.extend(got);
    }
    for id in rule_owner.keys() {
        if !matched_rules.contains(id) {
            problems.push(format!("{id}: no sample in events/ matches its pattern"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_digest_schedule_sends_what_the_digest_sample_holds() {
    let t = template();
    let digest = t
        .functions()
        .into_iter()
        .find(|f| f.binary.as_deref() == Some("digest"))
        .expect("digest function");
    let schedule = digest
        .events
        .values()
        .find(|e| e.get("Type").and_then(Value::as_str) == Some("ScheduleV2"))
        .expect("a ScheduleV2 event");
    let input: serde_json::Value = schedule
        .get("Properties")
        .and_then(|p| p.get("Input"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .expect("Input is a JSON string");
    let sample = sample_json("scheduled-digest.json");
    let keys = |v: &serde_json::Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<BTreeSet<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(&input), keys(&sample));
    assert_eq!(input.get("source"), sample.get("source"));
}

// ------------------------------------------------------------------ promises of the template

fn is_ref_to(v: Option<&Value>, logical_id: &str) -> bool {
    v.and_then(referenced_resource).as_deref() == Some(logical_id)
}

#[test]
fn every_queue_topic_and_table_is_encrypted_with_the_stacks_key() {
    let t = template();
    let key = "TriageKey";
    for (id, r) in t.resources_of("AWS::SQS::Queue") {
        assert!(
            is_ref_to(
                r.get("Properties").and_then(|p| p.get("KmsMasterKeyId")),
                key
            ),
            "{id} is not encrypted with {key}"
        );
    }
    for (id, r) in t.resources_of("AWS::SNS::Topic") {
        if id == "HealthTopic" {
            // Deliberately not: it reports a disabled key (trust.rs).
            continue;
        }
        assert!(
            is_ref_to(
                r.get("Properties").and_then(|p| p.get("KmsMasterKeyId")),
                key
            ),
            "{id} is not encrypted with {key}"
        );
    }
    let tables = t.resources_of("AWS::DynamoDB::Table");
    assert!(!tables.is_empty(), "the dedup table is in the template");
    for (id, r) in tables {
        let sse = r
            .get("Properties")
            .and_then(|p| p.get("SSESpecification"))
            .expect("SSESpecification");
        assert!(
            is_ref_to(sse.get("KMSMasterKeyId"), key),
            "{id} is not encrypted with {key}"
        );
    }
}

#[test]
fn the_dedup_table_has_the_adapters_key_and_ttl_is_on_demand_and_recoverable() {
    let t = template();
    let (id, table) = t
        .resources_of("AWS::DynamoDB::Table")
        .into_iter()
        .next()
        .expect("dedup table");
    let p = table.get("Properties").expect("properties");
    let key = p
        .get("KeySchema")
        .and_then(|k| k.get(0))
        .expect("KeySchema");
    assert_eq!(
        key.get("AttributeName").and_then(Value::as_str),
        Some(triage_aws::PARTITION_KEY),
        "{id}: partition key of shared/aws/src/dynamodb.rs"
    );
    assert_eq!(key.get("KeyType").and_then(Value::as_str), Some("HASH"));
    let ttl = p.get("TimeToLiveSpecification").expect("TTL");
    assert_eq!(
        ttl.get("AttributeName").and_then(Value::as_str),
        Some(triage_aws::TTL_ATTRIBUTE)
    );
    assert_eq!(ttl.get("Enabled").and_then(Value::as_bool), Some(true));
    assert_eq!(
        p.get("BillingMode").and_then(Value::as_str),
        Some("PAY_PER_REQUEST")
    );
    assert_eq!(
        p.get("PointInTimeRecoverySpecification")
            .and_then(|s| s.get("PointInTimeRecoveryEnabled"))
            .and_then(Value::as_bool),
        Some(true)
    );
}

/// Queues that receive what failed: redrive targets, on-failure destinations, EventBridge and
/// Scheduler dead-letter queues.
fn dead_letter_queues(t: &Template) -> BTreeSet<String> {
    let mut dlqs = BTreeSet::new();
    for (_, r) in t.resources_of("AWS::SQS::Queue") {
        if let Some(target) = r
            .get("Properties")
            .and_then(|p| p.get("RedrivePolicy"))
            .and_then(|p| p.get("deadLetterTargetArn"))
            .and_then(referenced_resource)
        {
            dlqs.insert(target);
        }
    }
    for f in t.functions() {
        if let Some(q) = f
            .properties
            .get("EventInvokeConfig")
            .and_then(|c| c.get("DestinationConfig"))
            .and_then(|c| c.get("OnFailure"))
            .and_then(|c| c.get("Destination"))
            .and_then(referenced_resource)
        {
            dlqs.insert(q);
        }
        for e in f.events.values() {
            if let Some(q) = e
                .get("Properties")
                .and_then(|p| p.get("DeadLetterConfig"))
                .and_then(|d| d.get("Arn"))
                .and_then(referenced_resource)
            {
                dlqs.insert(q);
            }
        }
    }
    dlqs
}

fn alarms(t: &Template) -> Vec<(&str, &Value)> {
    t.resources_of("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, r)| (id, r.get("Properties").unwrap_or(&Value::Null)))
        .collect()
}

fn alarms_the_health_topic(p: &Value) -> bool {
    p.get("AlarmActions")
        .and_then(Value::as_sequence)
        .is_some_and(|a| a.iter().any(|x| is_ref_to(Some(x), "HealthTopic")))
}

fn dimension_refers_to(p: &Value, resource: &str) -> bool {
    let dims = p.get("Dimensions").or_else(|| {
        p.get("Metrics")?
            .as_sequence()?
            .iter()
            .find_map(|m| m.get("MetricStat")?.get("Metric")?.get("Dimensions"))
    });
    dims.and_then(Value::as_sequence)
        .is_some_and(|ds| ds.iter().any(|d| is_ref_to(d.get("Value"), resource)))
}

fn metric_name(p: &Value) -> Option<&str> {
    p.get("MetricName").and_then(Value::as_str).or_else(|| {
        p.get("Metrics")?.as_sequence()?.iter().find_map(|m| {
            m.get("MetricStat")?
                .get("Metric")?
                .get("MetricName")?
                .as_str()
        })
    })
}

#[test]
fn every_dead_letter_queue_keeps_14_days_and_an_alarm_pages_when_it_is_not_empty() {
    let t = template();
    let dlqs = dead_letter_queues(&t);
    assert!(dlqs.len() >= 5, "DLQs found: {dlqs:?}");
    let alarms = alarms(&t);
    for q in &dlqs {
        let retention = t
            .resource(q)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("MessageRetentionPeriod"))
            .and_then(Value::as_u64);
        assert_eq!(retention, Some(14 * 24 * 3600), "{q} keeps 14 days");
        let watched = alarms.iter().any(|(_, p)| {
            dimension_refers_to(p, q)
                && metric_name(p) == Some("ApproximateNumberOfMessagesVisible")
                && p.get("Threshold").and_then(Value::as_f64) == Some(0.0)
                && p.get("ComparisonOperator").and_then(Value::as_str)
                    == Some("GreaterThanThreshold")
                && alarms_the_health_topic(p)
        });
        assert!(
            watched,
            "no alarm tells the health topic that {q} is not empty"
        );
    }
}

#[test]
fn the_age_of_the_oldest_digest_entry_is_watched() {
    let t = template();
    assert!(
        alarms(&t).iter().any(|(_, p)| {
            dimension_refers_to(p, "DigestQueue")
                && metric_name(p) == Some("ApproximateAgeOfOldestMessage")
                && alarms_the_health_topic(p)
        }),
        "no alarm on the age of the oldest digest entry"
    );
}

#[test]
fn every_function_has_its_log_group_json_logs_and_error_and_throttle_alarms() {
    let t = template();
    let alarms = alarms(&t);
    for f in t.functions() {
        let bin = binary(&f);
        let logging = f.properties.get("LoggingConfig").expect("LoggingConfig");
        assert_eq!(
            logging.get("LogFormat").and_then(Value::as_str),
            Some("JSON"),
            "{}",
            f.logical_id
        );
        let group = logging
            .get("LogGroup")
            .and_then(referenced_resource)
            .unwrap_or_else(|| panic!("{}: LoggingConfig.LogGroup", f.logical_id));
        let group_props = t
            .resource(&group)
            .and_then(|r| r.get("Properties"))
            .expect("log group");
        assert!(
            is_ref_to(group_props.get("RetentionInDays"), "LogRetentionDays"),
            "{group}: retention is the LogRetentionDays parameter"
        );
        assert!(
            is_ref_to(group_props.get("KmsKeyId"), "TriageKey"),
            "{group}"
        );
        // The key policy lets CloudWatch Logs use the key for /aws/lambda/<stack>-* only.
        let name = group_props.get("LogGroupName").and_then(intrinsic);
        assert_eq!(
            name.map(|(tag, arg)| (tag, arg.as_str().map(str::to_owned))),
            Some((
                "Sub".into(),
                Some(format!("/aws/lambda/${{AWS::StackName}}-{bin}"))
            )),
            "{group}"
        );
        // …and names this one exactly: without it CloudFormation cannot create the encrypted
        // log group and the deploy rolls back.
        let wanted = format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/${{AWS::StackName}}-{bin}"
        );
        assert!(
            key_policy_log_groups(&t).contains(&wanted),
            "{group}: the key policy does not let CloudWatch Logs encrypt {wanted}"
        );
        for metric in ["Errors", "Throttles"] {
            assert!(
                alarms
                    .iter()
                    .any(|(_, p)| dimension_refers_to(p, &f.logical_id)
                        && metric_name(p) == Some(metric)
                        && alarms_the_health_topic(p)),
                "{}: no {metric} alarm to the health topic",
                f.logical_id
            );
        }
    }
    let retention = t
        .root
        .get("Parameters")
        .and_then(|p| p.get("LogRetentionDays"))
        .expect("LogRetentionDays");
    assert_eq!(retention.get("Default").and_then(Value::as_u64), Some(90));
    let allowed = retention
        .get("AllowedValues")
        .and_then(Value::as_sequence)
        .expect("AllowedValues");
    assert!(
        allowed.iter().all(|v| v.as_u64().is_some_and(|d| d > 0)),
        "never \"never expire\""
    );
}

#[test]
fn queues_a_function_consumes_hide_messages_for_six_times_its_timeout() {
    let t = template();
    let mut checked = 0;
    for f in t.functions() {
        let Some(role) = f.properties.get("Role").and_then(referenced_resource) else {
            continue;
        };
        for statement in role_statements(&t, &role) {
            if !actions(statement).iter().any(|a| a == "sqs:ReceiveMessage") {
                continue;
            }
            for queue in resources(statement)
                .iter()
                .filter_map(|r| referenced_resource(r))
            {
                let visibility = t
                    .resource(&queue)
                    .and_then(|r| r.get("Properties"))
                    .and_then(|p| p.get("VisibilityTimeout"))
                    .and_then(Value::as_u64)
                    .unwrap_or(30);
                let timeout = f.timeout.expect("Timeout");
                assert!(
                    visibility >= 6 * timeout,
                    "{queue}: visibility {visibility} s < 6 x {}'s timeout {timeout} s",
                    f.logical_id
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 1,
        "the digest function consumes the digest queue"
    );
}

#[test]
fn the_digest_runs_one_at_a_time() {
    let t = template();
    let digest = t
        .functions()
        .into_iter()
        .find(|f| f.binary.as_deref() == Some("digest"))
        .expect("digest");
    assert_eq!(
        digest
            .properties
            .get("ReservedConcurrentExecutions")
            .and_then(Value::as_u64),
        Some(1)
    );
}

fn role_statements<'a>(t: &'a Template, role: &str) -> Vec<&'a Value> {
    t.resource(role)
        .and_then(|r| r.get("Properties"))
        .and_then(|p| p.get("Policies"))
        .and_then(Value::as_sequence)
        .map(|ps| {
            ps.iter()
                .map(condition_true)
                .filter_map(|p| p.get("PolicyDocument")?.get("Statement")?.as_sequence())
                .flatten()
                .collect()
        })
        .unwrap_or_default()
}

/// A conditional policy (`!If [condition, policy, !Ref AWS::NoValue]`) as deployed when the
/// condition holds: its statements are checked like the others.
fn condition_true(v: &Value) -> &Value {
    match intrinsic(v) {
        Some((tag, arg)) if tag == "If" => arg.as_sequence().and_then(|a| a.get(1)).unwrap_or(v),
        _ => v,
    }
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Sequence(s)) => s.iter().collect(),
        Some(other) => vec![other],
        None => vec![],
    }
}

fn actions(statement: &Value) -> Vec<String> {
    as_list(statement.get("Action"))
        .into_iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

fn resources(statement: &Value) -> Vec<&Value> {
    as_list(statement.get("Resource"))
}

/// The user's own resources a role may name: parameters whose `AllowedPattern` admits one ARN
/// (never a wildcard), with why the stack cannot own them.
const USER_RESOURCES: &[(&str, &str, &str)] = &[(
    "JiraCredentialsSecretArn",
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:triage/jira-AbCdEf",
    "the Jira API token is the user's: the stack never sees it in a parameter",
)];

fn names_one_arn(t: &Template, parameter: &str) -> bool {
    let Some((_, example, _)) = USER_RESOURCES.iter().find(|(p, _, _)| *p == parameter) else {
        return false;
    };
    let pattern = t
        .root
        .get("Parameters")
        .and_then(|p| p.get(parameter))
        .and_then(|p| p.get("AllowedPattern"))
        .and_then(Value::as_str)
        .expect("the parameter has an AllowedPattern");
    let re = regex::Regex::new(pattern).expect("AllowedPattern compiles");
    let wildcard = example.replace("triage/jira-AbCdEf", "*");
    re.is_match(example) && !re.is_match(&wildcard) && !re.is_match(&format!("{example}*"))
}

#[test]
fn every_iam_statement_names_actions_and_the_stacks_own_resources() {
    let t = template();
    let own: BTreeSet<&str> = t.resources().into_iter().map(|(id, _)| id).collect();
    let roles = t.resources_of("AWS::IAM::Role");
    assert!(roles.len() >= 4);
    let mut problems = Vec::new();
    for (role, _) in &roles {
        for s in role_statements(&t, role) {
            assert_eq!(s.get("Effect").and_then(Value::as_str), Some("Allow"));
            for a in actions(s) {
                if a.contains('*') {
                    problems.push(format!("{role}: action {a} has a wildcard"));
                }
            }
            if s.get("Action").is_none() || s.get("NotAction").is_some() {
                problems.push(format!("{role}: a statement without a plain Action list"));
            }
            for r in resources(s) {
                // `!Sub "${Parameter}"` names the parameter's value, as `!Ref` would
                let whole_sub = match intrinsic(r) {
                    Some((tag, Value::String(text))) if tag == "Sub" => text
                        .strip_prefix("${")
                        .and_then(|t| t.strip_suffix('}'))
                        .filter(|t| !t.contains(['$', '{', '}']))
                        .map(str::to_owned),
                    _ => None,
                };
                match whole_sub.or_else(|| referenced_resource(r)) {
                    Some(id) if own.contains(id.as_str()) => {}
                    Some(id) if names_one_arn(&t, &id) => {}
                    _ => problems.push(format!(
                        "{role}: resource {r:?} is not one of the stack's own resources"
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_eventbridge_rule_may_write_to_the_event_delivery_dlq() {
    let t = template();
    let allowed: BTreeSet<String> = t
        .resource("EventDeliveryDLQPolicy")
        .and_then(|r| r.get("Properties"))
        .and_then(|p| p.get("PolicyDocument"))
        .and_then(|d| d.get("Statement"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("Condition")?.get("ArnEquals")?.get("aws:SourceArn"))
        .flat_map(|v| as_list(Some(v)))
        .filter_map(referenced_resource)
        .collect();
    for f in t.functions() {
        for (event, e) in &f.events {
            if e.get("Type").and_then(Value::as_str) != Some("EventBridgeRule") {
                continue;
            }
            // SAM names the rule it generates <function logical id><event name>.
            let rule = format!("{}{event}", f.logical_id);
            assert!(
                allowed.contains(&rule),
                "EventDeliveryDLQPolicy does not let {rule} dead-letter (allowed: {allowed:?})"
            );
        }
    }
}

#[test]
fn a_conditional_policy_is_checked_like_the_others() {
    let t = template();
    let actions: Vec<String> = role_statements(&t, "LogDetectorRole")
        .into_iter()
        .flat_map(actions)
        .collect();
    assert!(
        actions.iter().any(|a| a == "kinesis:GetRecords"),
        "the organization intake's read-trail-records policy is among the checked statements: {actions:?}"
    );
}

/// The log group ARNs (as `!Sub` strings) the stack key's policy lets CloudWatch Logs use it for,
/// conditional ones included.
fn key_policy_log_groups(t: &Template) -> BTreeSet<String> {
    fn subs(v: &Value, out: &mut BTreeSet<String>) {
        match intrinsic(v) {
            Some((tag, Value::String(text))) if tag == "Sub" => {
                out.insert(text.clone());
            }
            Some((tag, Value::Sequence(args))) if tag == "If" => {
                args.iter().skip(1).for_each(|a| subs(a, out));
            }
            _ => {
                if let Value::Sequence(items) = v {
                    items.iter().for_each(|i| subs(i, out));
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    let statements = t
        .resource("TriageKey")
        .and_then(|k| {
            k.get("Properties")?
                .get("KeyPolicy")?
                .get("Statement")?
                .as_sequence()
        })
        .expect("the key policy's statements");
    for s in statements {
        if let Some(arns) = s
            .get("Condition")
            .and_then(|c| c.get("ArnEquals"))
            .and_then(|a| a.get("kms:EncryptionContext:aws:logs:arn"))
        {
            subs(arns, &mut out);
        }
    }
    out
}
