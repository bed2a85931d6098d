//! One finding of a "Security Hub Findings - Imported" event: the AWS Security Finding Format.

use serde_json::Value;

use super::{
    Context, FindingError, HubSkip, MAX_RESOURCES, Read, Record, Shape, at,
    guardduty_type_from_asff, label_severity, normalized_severity, required, resource, text_at,
    timestamp,
};

/// Where a remote IP can be, for the products that report one.
const REMOTE_IP_PATHS: [&[&str]; 5] = [
    &[
        "Action",
        "AwsApiCallAction",
        "RemoteIpDetails",
        "IpAddressV4",
    ],
    &[
        "Action",
        "NetworkConnectionAction",
        "RemoteIpDetails",
        "IpAddressV4",
    ],
    &[
        "Action",
        "KubernetesApiCallAction",
        "RemoteIpDetails",
        "IpAddressV4",
    ],
    &["Network", "SourceIpV4"],
    &["Network", "SourceIpV6"],
];

/// The AWS Config rule a control finding names in `ProductFields`: Security Hub lists the
/// control's related resources as `RelatedAWSResources:<n>/type` and `…/name`.
fn config_rule(fields: &Value) -> Option<&str> {
    (0..8).find_map(|n| {
        let kind = text_at(fields, &[&format!("RelatedAWSResources:{n}/type")])?;
        (kind == "AWS::Config::ConfigRule")
            .then(|| text_at(fields, &[&format!("RelatedAWSResources:{n}/name")]))
            .flatten()
    })
}

pub(super) fn read<'a>(
    finding: &'a Value,
    context: &Context<'a>,
    index: usize,
) -> Result<Read<'a>, FindingError> {
    if !finding.is_object() {
        return Err(FindingError::NotAnObject { index });
    }
    let id = required(text_at(finding, &["Id"]), index, "Id")?;
    let account = required(
        text_at(finding, &["AwsAccountId"]).or(context.account),
        index,
        "AwsAccountId",
    )?;
    let updated_at = timestamp(finding.get("UpdatedAt"), index, "UpdatedAt")?.ok_or(
        FindingError::MissingField {
            index,
            field: "UpdatedAt",
        },
    )?;
    let region = required(
        text_at(finding, &["Region"])
            .or_else(|| {
                finding
                    .get("Resources")
                    .and_then(|r| r.get(0))
                    .and_then(|r| text_at(r, &["Region"]))
            })
            .or(context.region),
        index,
        "Region",
    )?;
    let fields = finding.get("ProductFields").unwrap_or(&Value::Null);
    let product_arn = text_at(finding, &["ProductArn"]).unwrap_or_default();
    let product = text_at(finding, &["ProductName"])
        .or_else(|| text_at(fields, &["aws/securityhub/ProductName"]))
        .or_else(|| product_arn.rsplit('/').next().filter(|p| !p.is_empty()))
        .unwrap_or("Security Hub");
    // GuardDuty by its product ARN alone: a product name is whatever the importer wrote.
    let provenance = super::Provenance::of(
        super::product_key(product_arn).unwrap_or("unknown"),
        region,
        id,
    );
    let guardduty = provenance.guardduty;
    let first_type = finding
        .get("Types")
        .and_then(|t| t.get(0))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    let compliance = finding.get("Compliance").unwrap_or(&Value::Null);
    let control = text_at(compliance, &["SecurityControlId"])
        .or_else(|| text_at(fields, &["ControlId"]))
        .or_else(|| {
            text_at(finding, &["GeneratorId"]).and_then(|g| g.strip_prefix("security-control/"))
        });
    let generator = text_at(finding, &["GeneratorId"]);
    let rule = if guardduty {
        first_type
            .and_then(guardduty_type_from_asff)
            .or_else(|| first_type.map(str::to_owned))
    } else {
        control.or(first_type).or(generator).map(str::to_owned)
    }
    .unwrap_or_else(|| "unknown".to_owned());

    let compliance_status = text_at(compliance, &["Status"]);
    let workflow = text_at(finding, &["Workflow", "Status"]);
    let record_state = text_at(finding, &["RecordState"]);
    // A GuardDuty finding closes when GuardDuty archives it; Security Hub's workflow is not
    // GuardDuty's (its own events would reopen what the workflow closed).
    let state = if record_state == Some("ARCHIVED") {
        Some("record ARCHIVED".to_owned())
    } else if guardduty {
        None
    } else if matches!(workflow, Some("RESOLVED" | "SUPPRESSED")) {
        workflow.map(|w| format!("workflow {w}"))
    } else if compliance_status == Some("PASSED") {
        Some("compliance PASSED".to_owned())
    } else {
        None
    };
    if state.is_none() && compliance_status == Some("NOT_AVAILABLE") {
        return Ok(Read::Skip(HubSkip::NotEvaluated));
    }
    let mut live_state = Vec::new();
    for (name, value) in [
        ("compliance", compliance_status),
        ("workflow", workflow),
        ("record", record_state),
    ] {
        if let Some(v) = value {
            live_state.push(format!("{name} {v}"));
        }
    }

    let severity = finding.get("Severity").unwrap_or(&Value::Null);
    let label = text_at(severity, &["Label"]);
    let severity_level = label.and_then(label_severity).or_else(|| {
        severity
            .get("Normalized")
            .and_then(Value::as_f64)
            .and_then(normalized_severity)
    });

    let resources: Vec<_> = finding
        .get("Resources")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(MAX_RESOURCES)
                .filter_map(|r| {
                    Some(resource(
                        text_at(r, &["Type"]).unwrap_or("Other"),
                        text_at(r, &["Id"])?,
                        None,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let access_key = finding
        .get("Resources")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find_map(|r| at(r, &["Details", "AwsIamAccessKey"]))
        });
    let actor = access_key.and_then(|k| {
        text_at(k, &["PrincipalName"])
            .or(text_at(k, &["UserName"]))
            .or(text_at(k, &["PrincipalId"]))
    });
    let remote_ip = REMOTE_IP_PATHS
        .iter()
        .find_map(|path| text_at(finding, path));
    let api = at(finding, &["Action", "AwsApiCallAction"])
        .and_then(|call| Some((text_at(call, &["ServiceName"])?, text_at(call, &["Api"])?)));
    // The provider's recommendation, with its link only when it is AWS documentation: a ticket
    // system renders links, and any importer may write this one.
    let remediation = text_at(finding, &["Remediation", "Recommendation", "Text"]).map(|text| {
        match text_at(finding, &["Remediation", "Recommendation", "Url"]) {
            Some(url)
                if url.starts_with("https://docs.aws.amazon.com/")
                    && url.len() <= 512
                    && !url.contains(char::is_whitespace) =>
            {
                format!("{text} {url}")
            }
            _ => text.to_owned(),
        }
    });
    let mut details = Vec::new();
    let remote = [
        "AwsApiCallAction",
        "NetworkConnectionAction",
        "KubernetesApiCallAction",
    ]
    .iter()
    .find_map(|action| at(finding, &["Action", action, "RemoteIpDetails"]));
    if let Some(remote) = remote {
        for (name, path) in [
            ("remote_ip_organization", &["Organization", "AsnOrg"][..]),
            ("remote_ip_country", &["Country", "CountryName"][..]),
        ] {
            if let Some(v) = text_at(remote, path) {
                details.push((name, v.to_owned()));
            }
        }
    }
    if let Some(g) = generator {
        details.push(("generator_id", g.to_owned()));
    }
    if let Some(c) = control {
        details.push(("control_id", c.to_owned()));
    }
    if !live_state.is_empty() {
        details.push(("finding_state", live_state.join(", ")));
    }
    if let Some(cve) = finding
        .get("Vulnerabilities")
        .and_then(|v| v.get(0))
        .and_then(|v| text_at(v, &["Id"]))
    {
        details.push(("vulnerability_id", cve.to_owned()));
    }
    let count = guardduty
        .then(|| text_at(fields, &["aws/guardduty/service/count"]))
        .flatten()
        .and_then(|c| c.parse().ok());
    let sample = text_at(fields, &["aws/guardduty/service/additionalInfo/sample"]) == Some("true");

    let record = Record {
        shape: Shape::Asff,
        source: provenance.source,
        product,
        product_key: provenance.product_key,
        id,
        rule,
        title: text_at(finding, &["Title"]),
        description: text_at(finding, &["Description"]),
        account,
        region,
        severity: severity_level,
        severity_text: label.map(str::to_owned),
        status: super::status_of(&state),
        state,
        updated_at,
        created_at: timestamp(finding.get("CreatedAt"), index, "CreatedAt")?,
        first_observed: timestamp(finding.get("FirstObservedAt"), index, "FirstObservedAt")?,
        last_observed: timestamp(finding.get("LastObservedAt"), index, "LastObservedAt")?,
        count,
        resources,
        actor,
        actor_type: access_key.and_then(|k| text_at(k, &["PrincipalType"])),
        remote_ip,
        api,
        config_rule: config_rule(fields),
        remediation: provenance.remediation(remediation),
        console_url: provenance.console_url,
        details,
        sample,
    };
    Ok(Read::Record(Box::new(record)))
}
