//! Ticket events as OCSF findings (Open Cybersecurity Schema Framework 1.6.0), for Security
//! Lake, SIEMs and anything else that reads OCSF without a mapper: with `OCSF_EVENTS=enabled`
//! every ticket event also goes on triage's bus as an `OCSF Detection Finding` (class 2004:
//! CloudTrail detections, alarms, GuardDuty, Inspector, Macie, Access Analyzer…) or an `OCSF
//! Compliance Finding` (class 2003: AWS Config rules and Security Hub controls).
//!
//! | OCSF | from the ticket event |
//! |---|---|
//! | `activity_id` | open 1 Create, update 2 Update, resolve 3 Close |
//! | `category_uid`, `class_uid`, `type_uid` | 2; 2004 or 2003; `class_uid * 100 + activity_id` |
//! | `severity_id` | info 1, low 2, medium 3, high 4, critical 5 |
//! | `time` | `event_time`, epoch milliseconds |
//! | `status_id` | 1 New (open, update), 4 Resolved (resolve) |
//! | `metadata` | OCSF version 1.6.0, product triage, `uid` = `<fingerprint>:<sequence>` (one per ticket event), `correlation_uid` = fingerprint, profile `cloud` |
//! | `finding_info` | `uid` = fingerprint, title, description, `types` = [rule], first and last seen, `src_url` = the console link (an AWS console URL only) |
//! | `cloud` | provider AWS, region, account (`type_id` 10, AWS Account) |
//! | `resources` | each resource: `uid` (ARN or id), `name` (id), `type`, region |
//! | `evidences` (2004) | the actor, the API call and the source address (`ip`, or `hostname` for a service's name; "AWS Internal" is left out), where the finding has them |
//! | `compliance` (2003) | `control` = rule, `standards`, `status_id` 3 Fail or 1 Pass (resolve) |
//! | `remediation`, `count`, `message`, `is_alert` (2004) | remediation text, occurrences, title, true |
//! | `unmapped` | triage's own: source, severity, action, sequence, ticket-event schema version |
//!
//! The required attributes of both classes (and of the `cloud` profile) are checked by
//! `schema/ocsf-finding.schema.json` against every sample's output (`tests/ocsf.rs`).

use serde_json::{Map, Value, json};

use crate::finding::{Finding, Source};
use crate::severity::Severity;
use crate::ticket::{BusEvent, TicketAction, TicketEvent};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.6.0";
pub const DETECTION_FINDING: u32 = 2004;
pub const COMPLIANCE_FINDING: u32 = 2003;
/// The detail-types of the OCSF events on triage's bus.
pub const DETAIL_TYPES: [&str; 2] = ["OCSF Detection Finding", "OCSF Compliance Finding"];

/// The class of a finding: Compliance for AWS Config rules and Security Hub controls (a
/// control's evaluation state, or Security Hub's own product), Detection for the rest.
pub fn class_uid(finding: &Finding) -> u32 {
    let detail = |k: &str| finding.evidence.details.get(k).map(|v| v.as_str());
    let control = finding.source == Source::Securityhub
        && (detail(crate::finding::PRODUCT_DETAIL) == Some("Security Hub")
            || detail("state").is_some_and(|s| s.contains("compliance ")));
    if finding.source == Source::Config || control {
        COMPLIANCE_FINDING
    } else {
        DETECTION_FINDING
    }
}

fn activity_id(action: TicketAction) -> u32 {
    match action {
        TicketAction::Open => 1,
        TicketAction::Update => 2,
        TicketAction::Resolve => 3,
    }
}

fn severity_id(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The ticket event as an OCSF finding.
pub fn finding(event: &TicketEvent) -> Value {
    let f = &event.finding;
    let class = class_uid(f);
    let activity = activity_id(event.action);
    let resolved = event.action == TicketAction::Resolve;
    let mut info = Map::new();
    info.insert("uid".into(), json!(event.fingerprint));
    info.insert("title".into(), json!(f.title));
    if !f.description.is_empty() {
        info.insert("desc".into(), json!(f.description));
    }
    info.insert("types".into(), json!([f.rule_id]));
    info.insert("first_seen_time".into(), json!(ms(f.first_seen)));
    info.insert("last_seen_time".into(), json!(ms(f.last_seen)));
    if let Some(url) = f
        .console_url
        .as_deref()
        .filter(|u| crate::console::is_console_url(u))
    {
        info.insert("src_url".into(), json!(url));
    }
    let resources: Vec<Value> = f
        .resources
        .iter()
        .map(|r| {
            json!({
                "uid": r.arn.as_ref().unwrap_or(&r.id),
                "name": r.id,
                "type": r.kind,
                "region": f.region,
            })
        })
        .collect();
    let mut out = json!({
        "activity_id": activity,
        "category_uid": 2,
        "class_uid": class,
        "type_uid": class * 100 + activity,
        "severity_id": severity_id(f.severity),
        "time": ms(event.event_time),
        "status_id": if resolved { 4 } else { 1 },
        "message": f.title,
        "count": f.count,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "triage", "vendor_name": "triage", "version": env!("CARGO_PKG_VERSION")},
            "uid": format!("{}:{}", event.fingerprint, event.sequence),
            "correlation_uid": event.fingerprint,
            "profiles": ["cloud"],
        },
        "finding_info": Value::Object(info),
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "account": {"uid": f.account, "type_id": 10, "type": "AWS Account"},
        },
        "resources": resources,
        "unmapped": {
            "triage": {
                "source": f.source,
                "severity": f.severity,
                "action": event.action,
                "sequence": event.sequence,
                "ticket_event_schema_version": event.schema_version,
            }
        },
    });
    if !f.remediation.is_empty() {
        out["remediation"] = json!({"desc": f.remediation});
    }
    if class == COMPLIANCE_FINDING {
        let standard = match f.source {
            Source::Config => "AWS Config managed rules",
            _ => "AWS Security Hub controls",
        };
        out["compliance"] = json!({
            "control": f.rule_id,
            "standards": [standard],
            "status_id": if resolved { 1 } else { 3 },
            "status": if resolved { "Pass" } else { "Fail" },
        });
    } else {
        out["is_alert"] = json!(true);
        let e = &f.evidence;
        let mut evidence = Map::new();
        if let Some(actor) = &e.actor_arn {
            evidence.insert("actor".into(), json!({"user": {"uid": actor}}));
        }
        if let Some(op) = &e.event_name {
            let mut api = json!({"operation": op});
            if let Some(service) = &e.event_source {
                api["service"] = json!({"name": service});
            }
            evidence.insert("api".into(), api);
        }
        if let Some(ip) = &e.source_ip {
            // CloudTrail's sourceIPAddress may be a service's name (`ec2.amazonaws.com`) or
            // "AWS Internal": only an address goes in `ip` (an `ip_t`).
            let ip = ip.as_str();
            let hostname = ip.contains('.')
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if ip.parse::<std::net::IpAddr>().is_ok() {
                evidence.insert("src_endpoint".into(), json!({"ip": ip}));
            } else if hostname {
                evidence.insert("src_endpoint".into(), json!({"hostname": ip}));
            }
        }
        if !evidence.is_empty() {
            out["evidences"] = json!([Value::Object(evidence)]);
        }
    }
    out
}

/// The ticket event's OCSF twin for triage's bus.
pub fn bus_event(
    event: &TicketEvent,
    resources: Vec<String>,
) -> Result<BusEvent, serde_json::Error> {
    let detail_type = if class_uid(&event.finding) == COMPLIANCE_FINDING {
        DETAIL_TYPES[1]
    } else {
        DETAIL_TYPES[0]
    };
    Ok(BusEvent {
        detail_type,
        detail: serde_json::to_string(&finding(event))?,
        resources,
    })
}
