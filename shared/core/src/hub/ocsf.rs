//! One finding of a "Findings Imported V2" event: Security Hub's OCSF shape (Detection Finding
//! 2004, Compliance Finding 2003, Vulnerability Finding 2002…).

use serde_json::Value;

use super::{
    Context, FindingError, HubSkip, MAX_RESOURCES, Read, Record, Shape, at, label_severity,
    required, resource, text_at, timestamp,
};
use crate::severity::Severity;

/// OCSF `status_id`: 3 Suppressed, 4 Resolved, 5 Archived, 6 Deleted close the finding.
const CLOSED_STATUS_IDS: [u64; 4] = [3, 4, 5, 6];
/// Archived and Deleted: what closes a GuardDuty finding.
const ARCHIVED_STATUS_IDS: [u64; 2] = [5, 6];
/// OCSF `compliance.status_id`: 1 Pass, 2 Warning, 3 Fail; 0 Unknown / 99 Other.
const COMPLIANCE_PASS: u64 = 1;

/// Where a remote IP can be: the first evidence's source endpoint, or the finding's.
const REMOTE_IP_PATHS: [&[&str]; 3] = [
    &["src_endpoint", "ip"],
    &["actor", "session", "ip"],
    &["device", "ip"],
];

/// OCSF `severity_id`: 1 Informational … 5 Critical, 6 Fatal; 0 Unknown and 99 Other say
/// nothing (the `severity` caption may).
fn severity_of(id: u64) -> Option<Severity> {
    match id {
        1 => Some(Severity::Info),
        2 => Some(Severity::Low),
        3 => Some(Severity::Medium),
        4 => Some(Severity::High),
        5 | 6 => Some(Severity::Critical),
        _ => None,
    }
}

/// The time attribute `name` of `object`: the ISO 8601 `<name>_dt` where present, else the epoch
/// milliseconds.
fn time<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .get(format!("{name}_dt"))
        .filter(|v| !v.is_null())
        .or_else(|| object.get(name).filter(|v| !v.is_null()))
}

pub(super) fn read<'a>(
    finding: &'a Value,
    context: &Context<'a>,
    index: usize,
) -> Result<Read<'a>, FindingError> {
    if !finding.is_object() {
        return Err(FindingError::NotAnObject { index });
    }
    let info = finding.get("finding_info").unwrap_or(&Value::Null);
    let id = required(text_at(info, &["uid"]), index, "finding_info.uid")?;
    let account = required(
        text_at(finding, &["cloud", "account", "uid"]).or(context.account),
        index,
        "cloud.account.uid",
    )?;
    let region = required(
        text_at(finding, &["cloud", "region"]).or(context.region),
        index,
        "cloud.region",
    )?;
    let updated_at = timestamp(
        time(info, "modified_time").or_else(|| time(finding, "time")),
        index,
        "finding_info.modified_time",
    )?
    .ok_or(FindingError::MissingField {
        index,
        field: "finding_info.modified_time",
    })?;
    let product = text_at(finding, &["metadata", "product", "name"]).unwrap_or("Security Hub");
    // GuardDuty by its product ARN alone: a product name is whatever the importer wrote.
    let product_key = text_at(finding, &["metadata", "product", "uid"])
        .and_then(super::product_key)
        .unwrap_or("unknown");
    let provenance = super::Provenance::of(product_key, region, id);
    let guardduty = provenance.guardduty;
    let compliance = finding.get("compliance").unwrap_or(&Value::Null);
    let compliance_status = compliance.get("status_id").and_then(Value::as_u64);
    let control = text_at(compliance, &["control"]);
    let first_type = info
        .get("types")
        .and_then(|t| t.get(0))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    let rule = control
        .or(first_type)
        .or_else(|| text_at(finding, &["class_name"]))
        .unwrap_or("unknown")
        .to_owned();

    let status_id = finding.get("status_id").and_then(Value::as_u64);
    let status_name = text_at(finding, &["status"]);
    // A GuardDuty finding closes when GuardDuty archives it (Archived, Deleted); Suppressed and
    // Resolved are Security Hub's workflow, which GuardDuty's own events would contradict.
    let closed: &[u64] = if guardduty {
        &ARCHIVED_STATUS_IDS
    } else {
        &CLOSED_STATUS_IDS
    };
    let state = if status_id.is_some_and(|s| closed.contains(&s)) {
        Some(format!("status {}", status_name.unwrap_or("closed")))
    } else if !guardduty && compliance_status == Some(COMPLIANCE_PASS) {
        Some("compliance Pass".to_owned())
    } else {
        None
    };
    if state.is_none() && compliance.is_object() && matches!(compliance_status, None | Some(0)) {
        return Ok(Read::Skip(HubSkip::NotEvaluated));
    }
    let severity_id = finding.get("severity_id").and_then(Value::as_u64);
    let severity_name = text_at(finding, &["severity"]);
    let severity = severity_id
        .and_then(severity_of)
        .or_else(|| severity_name.and_then(label_severity));

    let resources: Vec<_> = finding
        .get("resources")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(MAX_RESOURCES)
                .filter_map(|r| {
                    Some(resource(
                        text_at(r, &["type"]).unwrap_or("Other"),
                        text_at(r, &["uid"]).or(text_at(r, &["name"]))?,
                        None,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let evidence = finding
        .get("evidences")
        .and_then(|e| e.get(0))
        .unwrap_or(&Value::Null);
    let actor_user = at(evidence, &["actor", "user"]).or(at(finding, &["actor", "user"]));
    // GuardDuty names the principal of an access key in the resource's data.
    let key_data = finding
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .filter(|r| text_at(r, &["type"]) == Some("AWS::IAM::AccessKey"))
                .find_map(|r| r.get("data"))
        });
    let actor = actor_user
        .and_then(|u| {
            text_at(u, &["uid"])
                .filter(|uid| uid.starts_with("arn:"))
                .or(text_at(u, &["name"]))
                .or(text_at(u, &["uid"]))
        })
        .or_else(|| key_data.and_then(|d| text_at(d, &["user_name"])));
    let actor_type = actor_user
        .and_then(|u| text_at(u, &["type"]))
        .or_else(|| key_data.and_then(|d| text_at(d, &["user_type"])));
    let analytic = info.get("analytic").unwrap_or(&Value::Null);
    let config_rule = (text_at(analytic, &["category"]) == Some("AWS::Config::ConfigRule"))
        .then(|| text_at(analytic, &["name"]))
        .flatten();
    let remote_ip = REMOTE_IP_PATHS
        .iter()
        .find_map(|path| text_at(evidence, path).or(text_at(finding, path)));
    let api = evidence.get("api").and_then(|api| {
        Some((
            text_at(api, &["service", "name"])?,
            text_at(api, &["operation"])?,
        ))
    });
    let mut details = Vec::new();
    let endpoint = at(evidence, &["src_endpoint"]).unwrap_or(&Value::Null);
    for (name, path) in [
        ("remote_ip_organization", &["autonomous_system", "name"][..]),
        ("remote_ip_country", &["location", "country"][..]),
    ] {
        if let Some(v) = text_at(endpoint, path) {
            details.push((name, v.to_owned()));
        }
    }
    if let Some(key) = key_data.and_then(|d| text_at(d, &["access_key_id"])) {
        details.push(("access_key_id", key.to_owned()));
    }
    if let Some(class) = text_at(finding, &["class_name"]) {
        details.push(("ocsf_class", class.to_owned()));
    }
    if let Some(c) = control {
        details.push(("control_id", c.to_owned()));
    }
    if let Some(s) = status_name {
        details.push(("finding_state", s.to_owned()));
    }
    if let Some(cve) = finding
        .get("vulnerabilities")
        .and_then(|v| v.get(0))
        .and_then(|v| text_at(v, &["cve", "uid"]))
    {
        details.push(("vulnerability_id", cve.to_owned()));
    }
    // The link is built (`Provenance`), never taken from the event (`finding_info.src_url` is
    // the provider's word): a page's link must be triage's own.
    let remediation = text_at(finding, &["remediation", "desc"]).map(str::to_owned);

    let record = Record {
        shape: Shape::Ocsf,
        source: provenance.source,
        product,
        product_key: provenance.product_key,
        id,
        rule,
        title: text_at(info, &["title"]),
        description: text_at(info, &["desc"]),
        account,
        region,
        severity,
        severity_text: severity_name.map(str::to_owned),
        status: super::status_of(&state),
        state,
        updated_at,
        created_at: timestamp(
            time(info, "created_time"),
            index,
            "finding_info.created_time",
        )?,
        first_observed: timestamp(
            time(info, "first_seen_time"),
            index,
            "finding_info.first_seen_time",
        )?,
        last_observed: timestamp(
            time(info, "last_seen_time"),
            index,
            "finding_info.last_seen_time",
        )?,
        count: finding.get("count").and_then(Value::as_u64),
        resources,
        actor,
        actor_type,
        remote_ip,
        api,
        config_rule,
        remediation: provenance.remediation(remediation),
        console_url: provenance.console_url,
        details,
        sample: false,
    };
    Ok(Read::Record(Box::new(record)))
}
