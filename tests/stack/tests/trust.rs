//! Nobody inside the account can quietly blind triage or speak in its name: the stack's key can
//! be disabled, deleted or re-policied only by the named administrators, and an attempt pages
//! through a topic that does not depend on that key; only the stack's functions (and the named
//! roles) can put a ticket event, a digest entry, a page or a dedup state where triage reads or
//! a person acts on it; and no condition names a sibling stack by accident.
//!
//! The template's policies are evaluated here for concrete principals: its intrinsics are
//! resolved for a stack named `triage` in us-east-1 (account 111122223333), and each Deny
//! statement is applied as IAM applies it (a Deny in a resource or key policy wins over any
//! Allow in the account).
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};
use stack_tests::{Template, Value, intrinsic, referenced_resource, yaml_to_json};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const STACK: &str = "triage";
/// The key in the `keyguard-*` samples stands for the stack's `TriageKey`.
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const FUNCTION: &str =
    "arn:aws:iam::111122223333:role/triage-us-east-1/triage-ConfigClassifierRole-1A2B3C";
const ADMIN: &str = "arn:aws:iam::111122223333:role/breakglass";
const CONSUMER: &str = "arn:aws:iam::111122223333:role/jira-sync";
const INTRUDER: &str = "arn:aws:iam::111122223333:role/developer";
/// A function of a sibling stack named `triage-dev`.
const SIBLING: &str =
    "arn:aws:iam::111122223333:role/triage-dev-us-east-1/triage-dev-ConfigClassifierRole-9Z8Y";

fn template() -> Template {
    Template::load().expect("template.yaml")
}

/// Resolves the intrinsics the policies use, for the stack above and the parameters given.
struct Resolver {
    params: BTreeMap<&'static str, Json>,
}

impl Resolver {
    fn new() -> Self {
        Resolver {
            params: BTreeMap::from([
                ("AdministratorArns", json!([ADMIN])),
                ("TicketConsumerArns", json!([CONSUMER])),
            ]),
        }
    }

    fn name(&self, name: &str) -> Json {
        match name {
            "AWS::Partition" => json!("aws"),
            "AWS::Region" => json!(REGION),
            "AWS::AccountId" => json!(ACCOUNT),
            "AWS::StackName" => json!(STACK),
            "TriageKey.Arn" => json!(KEY_ARN),
            // removed from the list or mapping that holds it (see `resolve`)
            "AWS::NoValue" => Json::Null,
            other => match self.params.get(other) {
                Some(v) => v.clone(),
                // A resource: its logical id stands for its ARN or name.
                None => json!(format!("resource:{}", other.trim_end_matches(".Arn"))),
            },
        }
    }

    fn sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing brace") + start;
            let value = self.name(&rest[start + 2..end]);
            out.push_str(value.as_str().expect("a string substitution"));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&self, v: &Value) -> Json {
        if let Some((tag, arg)) = intrinsic(v) {
            let strings = |v: &Json| -> Vec<String> {
                match v {
                    Json::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().unwrap_or_default().to_owned())
                        .collect(),
                    Json::String(s) => vec![s.clone()],
                    _ => vec![],
                }
            };
            return match tag.as_str() {
                "Ref" => self.name(arg.as_str().expect("Ref name")),
                "GetAtt" => {
                    let path = match arg {
                        Value::String(s) => s.clone(),
                        Value::Sequence(p) => p
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("."),
                        _ => panic!("GetAtt {arg:?}"),
                    };
                    self.name(&path)
                }
                "Sub" => json!(self.sub(arg.as_str().expect("Sub of a string"))),
                "Join" => {
                    let parts = arg.as_sequence().expect("Join arguments");
                    let delimiter = parts[0].as_str().expect("delimiter");
                    let list: Vec<String> = match self.resolve(&parts[1]) {
                        Json::Array(items) => items.iter().flat_map(strings).collect(),
                        other => strings(&other),
                    };
                    json!(list.join(delimiter))
                }
                "Split" => {
                    let parts = arg.as_sequence().expect("Split arguments");
                    let delimiter = parts[0].as_str().expect("delimiter");
                    let text = self.resolve(&parts[1]);
                    json!(
                        text.as_str()
                            .expect("Split of a string")
                            .split(delimiter)
                            .collect::<Vec<_>>()
                    )
                }
                // Every condition true: the fullest deployment (an optional alarm's ARN
                // included), which is what the policies must allow for.
                "If" => self.resolve(&arg.as_sequence().expect("If arguments")[1]),
                other => panic!("intrinsic {other} is not resolved by this test"),
            };
        }
        match v {
            Value::Sequence(items) => items
                .iter()
                .map(|i| self.resolve(i))
                .filter(|i| !i.is_null())
                .collect(),
            Value::Mapping(m) => m
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), self.resolve(v))))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            other => yaml_to_json(other),
        }
    }
}

/// `*` and `?` as in IAM's `ArnLike`.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn list(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Json::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// Whether a Deny statement applies to an IAM principal calling `action` on `resource` over
/// TLS. A condition this evaluator does not know fails the test rather than guess.
fn denies(statement: &Json, action: &str, resource: &str, principal: &str) -> bool {
    if statement["Effect"] != "Deny" || statement["Principal"] != "*" {
        return false;
    }
    if !list(&statement["Action"]).iter().any(|a| glob(a, action)) {
        return false;
    }
    let resources = list(&statement["Resource"]);
    if !resources.iter().any(|r| r == "*" || r == resource) {
        return false;
    }
    let Some(conditions) = statement.get("Condition").and_then(Json::as_object) else {
        return true;
    };
    conditions.iter().all(|(operator, keys)| {
        keys.as_object()
            .expect("condition keys")
            .iter()
            .all(|(key, values)| {
                let values = list(values);
                match (operator.as_str(), key.as_str()) {
                    ("ArnNotLike", "aws:PrincipalArn") => {
                        !values.iter().any(|p| glob(p, principal))
                    }
                    ("Bool", "aws:PrincipalIsAWSService") => values == ["false"],
                    ("Bool", "aws:SecureTransport") => values == ["true"],
                    other => panic!("condition {other:?} is not evaluated by this test"),
                }
            })
    })
}

/// The statements of a resource's policy: a property of the resource itself (`KeyPolicy`,
/// `ResourcePolicy`) or a policy resource that lists it.
fn statements(t: &Template, r: &Resolver, logical_id: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let resource = t.resource(logical_id).expect("resource");
    let props = resource.get("Properties").expect("properties");
    for inline in [
        props.get("KeyPolicy"),
        props
            .get("ResourcePolicy")
            .and_then(|p| p.get("PolicyDocument")),
    ]
    .into_iter()
    .flatten()
    {
        out.extend(list_of(&r.resolve(inline)["Statement"]));
    }
    for kind in ["AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"] {
        for (_, policy) in t.resources_of(kind) {
            let props = policy.get("Properties").expect("properties");
            let targets = props
                .get("Queues")
                .or_else(|| props.get("Topics"))
                .and_then(Value::as_sequence)
                .expect("Queues or Topics");
            if targets
                .iter()
                .any(|q| referenced_resource(q).as_deref() == Some(logical_id))
            {
                let doc = r.resolve(props.get("PolicyDocument").expect("document"));
                out.extend(list_of(&doc["Statement"]));
            }
        }
    }
    out
}

fn list_of(v: &Json) -> Vec<Json> {
    v.as_array().cloned().unwrap_or_default()
}

/// Whether some statement of the resource's policies denies the call.
fn denied(t: &Template, r: &Resolver, logical_id: &str, action: &str, principal: &str) -> bool {
    let resource = format!("resource:{logical_id}");
    statements(t, r, logical_id)
        .iter()
        .any(|s| denies(s, action, &resource, principal))
}

/// `(resource, action)` → principals that must pass and principals that must be refused.
fn expect(
    t: &Template,
    r: &Resolver,
    logical_id: &str,
    actions: &[&str],
    allowed: &[&str],
    refused: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    for action in actions {
        for p in allowed {
            if denied(t, r, logical_id, action, p) {
                problems.push(format!("{logical_id} {action}: {p} is refused"));
            }
        }
        for p in refused {
            if !denied(t, r, logical_id, action, p) {
                problems.push(format!("{logical_id} {action}: {p} is not refused"));
            }
        }
    }
    problems
}

#[test]
fn the_functions_roles_live_under_the_path_the_policies_name() {
    let t = template();
    let r = Resolver::new();
    for f in t.functions() {
        let role = f
            .properties
            .get("Role")
            .and_then(referenced_resource)
            .unwrap_or_else(|| panic!("{}: Role", f.logical_id));
        let path = t
            .resource(&role)
            .and_then(|res| res.get("Properties")?.get("Path"))
            .map(|p| r.resolve(p))
            .unwrap_or_else(|| panic!("{role}: Path"));
        assert_eq!(path, json!("/triage-us-east-1/"), "{role}");
        let example = format!("arn:aws:iam::{ACCOUNT}:role/triage-us-east-1/{role}-1A2B3C");
        assert!(
            !denied(&t, &r, "TicketQueue", "sqs:SendMessage", &example),
            "{role} sends ticket events"
        );
    }
}

#[test]
fn only_the_stacks_functions_and_the_administrators_can_inject_a_ticket_event_page_digest_entry_or_dedup_state()
 {
    let t = template();
    let r = Resolver::new();
    let outsiders = [INTRUDER, SIBLING, CONSUMER];
    let mut problems = Vec::new();
    problems.extend(expect(
        &t,
        &r,
        "TicketQueue",
        &["sqs:SendMessage"],
        &[FUNCTION, ADMIN],
        &outsiders,
    ));
    problems.extend(expect(
        &t,
        &r,
        "TicketDLQ",
        &["sqs:SendMessage"],
        &[ADMIN],
        &[FUNCTION, INTRUDER, SIBLING, CONSUMER],
    ));
    problems.extend(expect(
        &t,
        &r,
        "DigestQueue",
        &["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
        &[FUNCTION, ADMIN],
        &outsiders,
    ));
    problems.extend(expect(
        &t,
        &r,
        "AlertTopic",
        &["sns:Publish"],
        &[FUNCTION, ADMIN],
        &outsiders,
    ));
    problems.extend(expect(
        &t,
        &r,
        "AlertTopic",
        &["sns:Subscribe", "sns:SetTopicAttributes"],
        &[ADMIN],
        &[FUNCTION, INTRUDER, SIBLING],
    ));
    problems.extend(expect(
        &t,
        &r,
        "DedupTable",
        &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PartiQLUpdate",
            "dynamodb:GetItem",
        ],
        &[FUNCTION, ADMIN],
        &outsiders,
    ));
    problems.extend(expect(
        &t,
        &r,
        "HealthTopic",
        &["sns:Publish", "sns:Subscribe"],
        &[ADMIN],
        &[FUNCTION, INTRUDER, SIBLING],
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_ticket_system_reads_ticket_events_and_only_administrators_purge_or_redrive() {
    let t = template();
    let r = Resolver::new();
    let mut problems = Vec::new();
    for queue in ["TicketQueue", "TicketDLQ"] {
        problems.extend(expect(
            &t,
            &r,
            queue,
            &["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            &[CONSUMER, ADMIN],
            &[INTRUDER, SIBLING],
        ));
        problems.extend(expect(
            &t,
            &r,
            queue,
            &[
                "sqs:PurgeQueue",
                "sqs:SetQueueAttributes",
                "sqs:StartMessageMoveTask",
            ],
            &[ADMIN],
            &[CONSUMER, FUNCTION, INTRUDER],
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_administrators_can_disable_delete_or_repolicy_the_stacks_key() {
    let t = template();
    let r = Resolver::new();
    let problems = expect(
        &t,
        &r,
        "TriageKey",
        &[
            "kms:DisableKey",
            "kms:ScheduleKeyDeletion",
            "kms:PutKeyPolicy",
            "kms:RevokeGrant",
        ],
        &[ADMIN],
        &[FUNCTION, INTRUDER, SIBLING, CONSUMER],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let rule = t
        .root
        .get("Rules")
        .and_then(|r| r.get("StackHasAdministrators"))
        .expect("Rules.StackHasAdministrators: a deploy without administrators is refused");
    let text = serde_json::to_string(&yaml_to_json(rule)).expect("json");
    assert!(text.contains("AdministratorArns"), "{text}");
}

fn sample(name: &str) -> Json {
    triage_testkit::event(name)
}

#[test]
fn an_attempt_on_the_key_pages_through_a_topic_that_does_not_depend_on_it() {
    let t = template();
    let r = Resolver::new();
    let rule = t.resource("KeyGuardRule").expect("KeyGuardRule");
    let props = rule.get("Properties").expect("properties");
    let pattern = r.resolve(props.get("EventPattern").expect("EventPattern"));
    let mut q = quamina::Quamina::<String>::new();
    q.add_pattern("key-guard".to_owned(), &pattern.to_string())
        .unwrap_or_else(|e| panic!("quamina rejects {pattern}: {e}"));
    let matches = |event: &Json| {
        !q.matches_for_event(event.to_string().as_bytes())
            .expect("event")
            .is_empty()
    };

    let mut problems = Vec::new();
    for name in [
        "keyguard-kms-disable-key.json",
        "keyguard-kms-put-key-policy-denied.json",
    ] {
        let event = sample(name);
        if !matches(&event) {
            problems.push(format!("{name}: must match"));
        }
        for call in ["ScheduleKeyDeletion", "RevokeGrant"] {
            let mut e = event.clone();
            e["detail"]["eventName"] = json!(call);
            if !matches(&e) {
                problems.push(format!("{name} as {call}: must match"));
            }
        }
        let mut other_key = event.clone();
        other_key["detail"]["resources"][0]["ARN"] =
            json!("arn:aws:kms:us-east-1:111122223333:key/ffffffff-0000-1111-2222-333333333333");
        if matches(&other_key) {
            problems.push(format!("{name} on another key: must not match"));
        }
        let mut use_of_key = event.clone();
        use_of_key["detail"]["eventName"] = json!("Decrypt");
        if matches(&use_of_key) {
            problems.push(format!("{name} as Decrypt: must not match"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let targets = props
        .get("Targets")
        .and_then(Value::as_sequence)
        .expect("targets");
    let topics: BTreeSet<String> = targets
        .iter()
        .filter_map(|t| t.get("Arn").and_then(referenced_resource))
        .collect();
    assert_eq!(topics, BTreeSet::from(["HealthTopic".to_owned()]));
    let health = t
        .resource("HealthTopic")
        .and_then(|h| h.get("Properties"))
        .expect("HealthTopic");
    assert!(
        health.get("KmsMasterKeyId").is_none(),
        "the health topic must not depend on the stack's key"
    );
    let lets_the_rule_publish = statements(&t, &r, "HealthTopic").iter().any(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]["Service"] == "events.amazonaws.com"
            && s["Condition"]["ArnEquals"]["aws:SourceArn"] == "resource:KeyGuardRule"
    });
    assert!(
        lets_the_rule_publish,
        "the health topic lets exactly the key guard rule publish"
    );
}

/// The alarm names (after the stack name) of the alarms with actions, and where they publish.
fn alarms_with_actions(t: &Template, r: &Resolver) -> BTreeMap<String, BTreeSet<String>> {
    t.resources_of("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter_map(|(_, a)| {
            let p = a.get("Properties")?;
            let actions: BTreeSet<String> = ["AlarmActions", "OKActions"]
                .iter()
                .filter_map(|k| p.get(*k)?.as_sequence())
                .flatten()
                .filter_map(referenced_resource)
                .collect();
            if actions.is_empty() {
                return None;
            }
            let name = r.resolve(p.get("AlarmName")?);
            Some((name.as_str()?.to_owned(), actions))
        })
        .collect()
}

#[test]
fn the_stacks_alarms_reach_people_without_the_stacks_key_and_only_they_publish_there() {
    let t = template();
    let r = Resolver::new();
    let alarms = alarms_with_actions(&t, &r);
    assert!(alarms.len() >= 15, "{alarms:?}");
    for (name, topics) in &alarms {
        for topic in topics {
            let encrypted = t
                .resource(topic)
                .and_then(|x| x.get("Properties")?.get("KmsMasterKeyId"))
                .is_some();
            assert!(
                !encrypted,
                "{name} publishes to {topic}, encrypted with the stack's key: a disabled key would silence it"
            );
        }
    }
    let allowed: BTreeSet<String> = statements(&t, &r, "HealthTopic")
        .iter()
        .filter(|s| {
            s["Effect"] == "Allow" && s["Principal"]["Service"] == "cloudwatch.amazonaws.com"
        })
        .flat_map(|s| list(&s["Condition"]["ArnEquals"]["aws:SourceArn"]))
        .collect();
    let expected: BTreeSet<String> = alarms
        .keys()
        .map(|n| format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}"))
        .collect();
    assert_eq!(
        allowed, expected,
        "the health topic lets exactly the stack's alarms publish, by name"
    );
}

/// Every string of the template that is a `!Sub`, with its position.
fn sub_strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    if let Some((tag, arg)) = intrinsic(v) {
        if tag == "Sub" {
            if let Some(s) = arg.as_str() {
                out.push((at.to_owned(), s.to_owned()));
            }
        }
        sub_strings(arg, at, out);
        return;
    }
    match v {
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                sub_strings(item, &format!("{at}[{i}]"), out);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m {
                sub_strings(item, &format!("{at}.{}", k.as_str().unwrap_or("?")), out);
            }
        }
        _ => {}
    }
}

#[test]
fn no_pattern_after_the_stack_name_can_match_a_sibling_stack() {
    // Stack names are letters, digits and hyphens: `<stack>-*` also matches `<stack>-dev-…`.
    // A wildcard after the stack name is safe only behind a character no stack name has.
    let t = template();
    let mut subs = Vec::new();
    sub_strings(&t.root, "", &mut subs);
    let mut problems = Vec::new();
    for (at, s) in &subs {
        let mut rest = s.as_str();
        while let Some(i) = rest.find("${AWS::StackName}") {
            rest = &rest[i + "${AWS::StackName}".len()..];
            if let Some(star) = rest.find(['*', '?']) {
                let between = &rest[..star];
                if !between.contains(['/', ':']) {
                    problems.push(format!("{at}: {s}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
