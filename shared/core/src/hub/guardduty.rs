//! GuardDuty's own EventBridge event: `detail` is the finding as `GetFindings` returns it.

use serde_json::Value;

use super::{
    Context, FindingError, Read, Shape, at, guardduty_band, required, resource, text_at, timestamp,
};
use crate::console;
use crate::finding::{Source, Status};

/// Where GuardDuty puts the remote party of each action type.
const REMOTE_IP_PATHS: [&[&str]; 6] = [
    &["awsApiCallAction", "remoteIpDetails"],
    &["networkConnectionAction", "remoteIpDetails"],
    &["kubernetesApiCallAction", "remoteIpDetails"],
    &["rdsLoginAttemptAction", "remoteIpDetails"],
    &[
        "portProbeAction",
        "portProbeDetails",
        "0",
        "remoteIpDetails",
    ],
    &["dnsRequestAction", "remoteIpDetails"],
];

pub(super) const REMEDIATION: &str = "Confirm whether the activity is expected; if not, contain the resource as the GuardDuty User Guide's \"Remediating security issues discovered by GuardDuty\" describes for its type (revoke and rotate the credentials, isolate the instance or container), then archive the finding.";

pub(super) fn read<'a>(
    detail: &'a Value,
    context: &Context<'a>,
    index: usize,
) -> Result<Read<'a>, FindingError> {
    let id = required(text_at(detail, &["id"]), index, "detail.id")?;
    let account = required(
        text_at(detail, &["accountId"]).or(context.account),
        index,
        "detail.accountId",
    )?;
    let region = required(
        text_at(detail, &["region"]).or(context.region),
        index,
        "detail.region",
    )?;
    let arn = required(text_at(detail, &["arn"]), index, "detail.arn")?;
    let kind = required(text_at(detail, &["type"]), index, "detail.type")?;
    let updated_at = timestamp(detail.get("updatedAt"), index, "detail.updatedAt")?.ok_or(
        FindingError::MissingField {
            index,
            field: "detail.updatedAt",
        },
    )?;
    let service = detail.get("service").unwrap_or(&Value::Null);
    let archived = service.get("archived").and_then(Value::as_bool) == Some(true);
    let score = detail.get("severity").and_then(Value::as_f64);
    let action = service.get("action").unwrap_or(&Value::Null);
    let remote = REMOTE_IP_PATHS.iter().find_map(|path| {
        let mut v = action;
        for key in path.iter() {
            v = match key.parse::<usize>() {
                Ok(i) => v.get(i)?,
                Err(_) => v.get(key)?,
            };
        }
        Some(v)
    });
    let api = action
        .get("awsApiCallAction")
        .and_then(|call| Some((text_at(call, &["serviceName"])?, text_at(call, &["api"])?)));
    let res = detail.get("resource").unwrap_or(&Value::Null);
    let key = res.get("accessKeyDetails");
    let actor = key.and_then(|k| text_at(k, &["userName"]).or(text_at(k, &["principalId"])));

    let mut details = Vec::new();
    if let Some(remote) = remote {
        for (name, path) in [
            ("remote_ip_organization", &["organization", "asnOrg"][..]),
            ("remote_ip_country", &["country", "countryName"][..]),
        ] {
            if let Some(v) = text_at(remote, path) {
                details.push((name, v.to_owned()));
            }
        }
    }
    if let Some(k) = key.and_then(|k| text_at(k, &["accessKeyId"])) {
        details.push(("access_key_id", k.to_owned()));
    }
    if let Some(a) = text_at(action, &["actionType"]) {
        details.push(("action_type", a.to_owned()));
    }
    if let Some(r) = text_at(service, &["resourceRole"]) {
        details.push(("resource_role", r.to_owned()));
    }

    let partition = text_at(detail, &["partition"]).unwrap_or_else(|| console::partition(region));
    let record = super::Record {
        shape: Shape::GuardDuty,
        source: Source::Guardduty,
        product: "GuardDuty",
        product_key: "",
        id: arn,
        rule: kind.to_owned(),
        title: text_at(detail, &["title"]),
        description: text_at(detail, &["description"]),
        account,
        region,
        severity: score.and_then(guardduty_band),
        severity_text: detail.get("severity").map(Value::to_string),
        status: if archived {
            Status::Resolved
        } else {
            Status::Active
        },
        state: archived.then(|| "archived".to_owned()),
        updated_at,
        created_at: timestamp(detail.get("createdAt"), index, "detail.createdAt")?,
        first_observed: timestamp(
            service.get("eventFirstSeen"),
            index,
            "detail.service.eventFirstSeen",
        )?,
        last_observed: timestamp(
            service.get("eventLastSeen"),
            index,
            "detail.service.eventLastSeen",
        )?,
        count: service.get("count").and_then(Value::as_u64),
        resources: resources(res, partition, account, region),
        actor,
        actor_type: key.and_then(|k| text_at(k, &["userType"])),
        remote_ip: remote
            .and_then(|r| text_at(r, &["ipAddressV4"]).or(text_at(r, &["ipAddressV6"]))),
        api,
        config_rule: None,
        remediation: Some(REMEDIATION.to_owned()),
        console_url: console::guardduty_finding(region, id),
        details,
        sample: at(service, &["additionalInfo", "sample"]).and_then(Value::as_bool) == Some(true),
    };
    Ok(Read::Record(Box::new(record)))
}

/// The finding's resource, by GuardDuty's `resourceType`.
fn resources(
    res: &Value,
    partition: &str,
    account: &str,
    region: &str,
) -> Vec<crate::finding::Resource> {
    let kind = text_at(res, &["resourceType"]).unwrap_or("Unknown");
    let named = |path: &[&str], arn: &[&str], cfn: &str| {
        text_at(res, path).map(|id| resource(cfn, id, text_at(res, arn)))
    };
    let one = match kind {
        "AccessKey" => named(
            &["accessKeyDetails", "accessKeyId"],
            &[],
            "AWS::IAM::AccessKey",
        ),
        "Instance" => text_at(res, &["instanceDetails", "instanceId"]).map(|id| {
            let arn = format!("arn:{partition}:ec2:{region}:{account}:instance/{id}");
            resource("AWS::EC2::Instance", id, Some(&arn))
        }),
        "S3Bucket" => res
            .get("s3BucketDetails")
            .and_then(|b| b.get(0))
            .and_then(|b| {
                let name = text_at(b, &["name"])?;
                Some(resource("AWS::S3::Bucket", name, text_at(b, &["arn"])))
            }),
        "EKSCluster" => named(
            &["eksClusterDetails", "name"],
            &["eksClusterDetails", "arn"],
            "AWS::EKS::Cluster",
        ),
        "Lambda" => named(
            &["lambdaDetails", "functionName"],
            &["lambdaDetails", "functionArn"],
            "AWS::Lambda::Function",
        ),
        "RDSDBInstance" => named(
            &["rdsDbInstanceDetails", "dbInstanceIdentifier"],
            &["rdsDbInstanceDetails", "dbInstanceArn"],
            "AWS::RDS::DBInstance",
        ),
        "ECSCluster" | "Container" => named(
            &["ecsClusterDetails", "name"],
            &["ecsClusterDetails", "arn"],
            "AWS::ECS::Cluster",
        ),
        _ => None,
    };
    one.into_iter().collect()
}
