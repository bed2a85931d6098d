//! A deterministic, realistic CloudTrail corpus for the benchmarks, generated from the sample
//! records in `tests/data`: varied principals, regions, source addresses, user agents, event
//! names and sources (benign calls mixed with the changes the CIS patterns watch), error codes,
//! console sign-ins with and without MFA, root activity and service events. Records are
//! compact single-line JSON with CloudTrail's field order, ~1–2 KB each.

use serde_json::{Map, Value, json};

const TEMPLATES: &[(&str, u32)] = &[
    (
        include_str!("../../tests/data/cloudtrail-assume-role-success.json"),
        14,
    ),
    (
        include_str!("../../tests/data/cloudtrail-attach-user-policy.json"),
        10,
    ),
    (
        include_str!("../../tests/data/cloudtrail-authorize-security-group-ingress.json"),
        10,
    ),
    (
        include_str!("../../tests/data/cloudtrail-stop-logging.json"),
        10,
    ),
    (
        include_str!("../../tests/data/cloudtrail-unauthorized-operation-assumed-role.json"),
        10,
    ),
    (
        include_str!("../../tests/data/cloudtrail-assumed-role-sso-invoked-by-servicecatalog.json"),
        10,
    ),
    (
        include_str!("../../tests/data/cloudtrail-access-denied-assumed-role.json"),
        8,
    ),
    (
        include_str!("../../tests/data/cloudtrail-ec2-start-instances.json"),
        6,
    ),
    (
        include_str!("../../tests/data/cloudtrail-iam-user-console-login-mfa.json"),
        4,
    ),
    (
        include_str!("../../tests/data/cloudtrail-iam-user-console-login-no-mfa-stratus.json"),
        2,
    ),
    (
        include_str!("../../tests/data/cloudtrail-iam-user-console-login-failure.json"),
        1,
    ),
    (
        include_str!("../../tests/data/cloudtrail-aws-service-event-sso-federate.json"),
        4,
    ),
    (
        include_str!("../../tests/data/cloudtrail-root-api-call.json"),
        1,
    ),
    (
        include_str!("../../tests/data/cloudtrail-root-console-login-no-mfa.json"),
        1,
    ),
    (
        include_str!("../../tests/data/cloudtrail-insight-event.json"),
        1,
    ),
];

/// (eventSource, eventName, weight): mostly read-only noise, some watched changes.
const EVENTS: &[(&str, &str, u32)] = &[
    ("ec2.amazonaws.com", "DescribeInstances", 60),
    ("s3.amazonaws.com", "GetObject", 60),
    ("s3.amazonaws.com", "PutObject", 40),
    ("sts.amazonaws.com", "AssumeRole", 50),
    ("kms.amazonaws.com", "Decrypt", 40),
    ("lambda.amazonaws.com", "Invoke", 30),
    ("iam.amazonaws.com", "ListRoles", 20),
    ("dynamodb.amazonaws.com", "DescribeTable", 20),
    ("logs.amazonaws.com", "CreateLogStream", 20),
    ("s3.amazonaws.com", "HeadBucket", 10),
    ("ec2.amazonaws.com", "CreateVpcEndpoint", 3),
    ("iam.amazonaws.com", "PutUserPolicy", 1),
    ("iam.amazonaws.com", "AttachRolePolicy", 1),
    ("cloudtrail.amazonaws.com", "StopLogging", 1),
    ("cloudtrail.amazonaws.com", "UpdateTrail", 1),
    ("kms.amazonaws.com", "ScheduleKeyDeletion", 1),
    ("s3.amazonaws.com", "PutBucketPolicy", 1),
    ("config.amazonaws.com", "StopConfigurationRecorder", 1),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 1),
    ("ec2.amazonaws.com", "CreateNetworkAclEntry", 1),
    ("ec2.amazonaws.com", "AttachInternetGateway", 1),
    ("ec2.amazonaws.com", "CreateRoute", 1),
    ("ec2.amazonaws.com", "CreateVpc", 1),
    ("organizations.amazonaws.com", "CreateAccount", 1),
];

const ERRORS: &[(&str, &str)] = &[
    (
        "AccessDenied",
        "User is not authorized to perform this operation",
    ),
    (
        "Client.UnauthorizedOperation",
        "You are not authorized to perform this operation.",
    ),
    (
        "AccessDeniedException",
        "User is not authorized to perform: kms:Decrypt",
    ),
    ("ThrottlingException", "Rate exceeded"),
    ("ValidationException", "1 validation error detected"),
    ("NoSuchEntityException", "The role cannot be found."),
];

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];

const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.2",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.4",
    "console.amazonaws.com",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36",
    "terraform-provider-aws/5.41.0 (+https://registry.terraform.io) aws-sdk-go-v2/1.25.3",
];

/// CloudTrail's own top-level field order (other keys follow, sorted).
const FIELD_ORDER: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
];

/// SplitMix64: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    fn weighted<'t, T>(&mut self, items: &'t [T], weight: impl Fn(&T) -> u32) -> &'t T {
        let total: u64 = items.iter().map(|i| u64::from(weight(i))).sum();
        let mut roll = self.next() % total.max(1);
        for item in items {
            let w = u64::from(weight(item));
            if roll < w {
                return item;
            }
            roll -= w;
        }
        &items[0]
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// The generated records and their total size.
pub struct Corpus {
    /// One compact CloudTrail record per entry.
    pub records: Vec<String>,
    /// Sum of the records' lengths in bytes.
    pub bytes: usize,
}

fn set(record: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut target = record;
    for p in parents {
        if !target.get(*p).is_some_and(Value::is_object) {
            if let Some(obj) = target.as_object_mut() {
                obj.insert((*p).to_owned(), Value::Object(Map::new()));
            }
        }
        let Some(next) = target.get_mut(*p) else {
            return;
        };
        target = next;
    }
    if let Some(obj) = target.as_object_mut() {
        obj.insert((*last).to_owned(), value);
    }
}

fn serialize(record: &Value) -> String {
    let Some(obj) = record.as_object() else {
        return record.to_string();
    };
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort_by_key(|k| {
        (
            FIELD_ORDER
                .iter()
                .position(|f| f == k)
                .unwrap_or(usize::MAX),
            k.as_str(),
        )
    });
    let mut out = String::from("{");
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push(':');
        out.push_str(&obj[key].to_string());
    }
    out.push('}');
    out
}

/// Generates `n` records from `seed` (same inputs, same corpus).
pub fn generate(n: usize, seed: u64) -> Corpus {
    let templates: Vec<(Value, u32)> = TEMPLATES
        .iter()
        .filter_map(|(text, w)| serde_json::from_str(text).ok().map(|v| (v, *w)))
        .collect();
    let mut rng = Rng(seed);
    let mut records = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let (template, _) = rng.weighted(&templates, |(_, w)| *w);
        let mut record = template.clone();
        let is_signin = record["eventName"] == "ConsoleLogin";
        let is_generic_call = record["eventType"] == "AwsApiCall"
            || (record.get("eventType").is_none() && record.get("eventName").is_some());
        let account = format!(
            "{:012}",
            111_122_223_333u64 + (rng.below(4) as u64) * 1_000_000
        );
        let principal = rng.below(200);
        let region = *rng.pick(REGIONS);
        let seconds = i as u64;
        set(
            &mut record,
            &["eventTime"],
            json!(format!(
                "2026-11-{:02}T{:02}:{:02}:{:02}Z",
                1 + (seconds / 86_400) % 28,
                (seconds / 3600) % 24,
                (seconds / 60) % 60,
                seconds % 60
            )),
        );
        if record.get("eventID").is_some() || is_generic_call {
            set(&mut record, &["eventID"], json!(rng.uuid()));
            set(&mut record, &["requestID"], json!(rng.uuid()));
        }
        if record.get("awsRegion").is_some() {
            set(&mut record, &["awsRegion"], json!(region));
        }
        set(&mut record, &["recipientAccountId"], json!(account));
        if record.get("sourceIPAddress").is_some() {
            let ip = if rng.chance(10) {
                "delivery.logs.amazonaws.com".to_owned()
            } else {
                format!(
                    "{}.{}",
                    ["198.51.100", "203.0.113", "192.0.2"][rng.below(3)],
                    rng.below(254) + 1
                )
            };
            set(&mut record, &["sourceIPAddress"], json!(ip));
            set(&mut record, &["userAgent"], json!(*rng.pick(AGENTS)));
        }
        if record
            .get("userIdentity")
            .is_some_and(|u| u["type"] != "Root" && u.get("arn").is_some())
        {
            let user = format!("svc-{principal:03}");
            if record["userIdentity"]["type"] == "AssumedRole" {
                let session = format!("session-{}", rng.hex(10));
                set(
                    &mut record,
                    &["userIdentity", "arn"],
                    json!(format!(
                        "arn:aws:sts::{account}:assumed-role/{user}/{session}"
                    )),
                );
                set(
                    &mut record,
                    &["userIdentity", "principalId"],
                    json!(format!("AROA{}:{session}", rng.hex(16).to_uppercase())),
                );
            } else {
                set(
                    &mut record,
                    &["userIdentity", "arn"],
                    json!(format!("arn:aws:iam::{account}:user/{user}")),
                );
                set(&mut record, &["userIdentity", "userName"], json!(user));
                set(
                    &mut record,
                    &["userIdentity", "principalId"],
                    json!(format!("AIDA{}", rng.hex(16).to_uppercase())),
                );
            }
            set(&mut record, &["userIdentity", "accountId"], json!(account));
            set(
                &mut record,
                &["userIdentity", "accessKeyId"],
                json!(format!("ASIA{}", rng.hex(16).to_uppercase())),
            );
        }
        if is_generic_call && !is_signin {
            let (source, name, _) = *rng.weighted(EVENTS, |e| e.2);
            set(&mut record, &["eventSource"], json!(source));
            set(&mut record, &["eventName"], json!(name));
            set(
                &mut record,
                &["readOnly"],
                json!(
                    name.starts_with("Describe")
                        || name.starts_with("Get")
                        || name.starts_with("List")
                ),
            );
            if let Some(obj) = record.as_object_mut() {
                obj.remove("errorCode");
                obj.remove("errorMessage");
            }
            if rng.chance(6) {
                let (code, message) = *rng.pick(ERRORS);
                set(&mut record, &["errorCode"], json!(code));
                set(&mut record, &["errorMessage"], json!(message));
                set(&mut record, &["responseElements"], Value::Null);
            }
        }
        if is_signin && record["responseElements"]["ConsoleLogin"] == "Success" {
            let mfa = if rng.chance(85) { "Yes" } else { "No" };
            set(&mut record, &["additionalEventData", "MFAUsed"], json!(mfa));
        }
        // Real records carry request parameters of varied size; bring small ones to 1–2 KB.
        let mut text = serialize(&record);
        if text.len() < 1100 {
            let pad = 1100 - text.len() + rng.below(700);
            let filters: Vec<Value> = (0..pad / 60)
                .map(|k| json!({ "name": format!("tag:team-{k}"), "values": [rng.hex(24)] }))
                .collect();
            if record
                .get("requestParameters")
                .is_some_and(Value::is_object)
            {
                set(
                    &mut record,
                    &["requestParameters", "filterSet"],
                    json!({ "items": filters }),
                );
            } else if record.get("requestParameters").is_some() {
                set(
                    &mut record,
                    &["requestParameters"],
                    json!({ "filterSet": { "items": filters } }),
                );
            }
            text = serialize(&record);
        }
        bytes += text.len();
        records.push(text);
    }
    Corpus { records, bytes }
}
