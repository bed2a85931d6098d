//! The test finding every crate's tests build on.

use chrono::{DateTime, TimeZone, Utc};

use crate::finding::{Evidence, Finding, Fingerprint, Resource, Source, Status};
use crate::severity::Severity;
use crate::text::SafeText;

/// 2026-11-24 03:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::TimeDelta::minutes(minutes)
}

/// An active, high Config finding of `rule` about security group `sg-1` in account
/// 111122223333, at [`at`]`(0)`: the one test finding every crate's tests start from.
pub fn finding(rule: &str) -> Finding {
    finding_about(rule, "sg-1")
}

/// The same finding about security group `group` (a fingerprint of its own).
pub fn finding_about(rule: &str, group: &str) -> Finding {
    let t = at(0);
    Finding {
        fingerprint: Fingerprint::new(
            Source::Config,
            rule,
            "111122223333",
            "us-east-1",
            &["AWS::EC2::SecurityGroup", group],
        ),
        status: Status::Active,
        severity: Severity::High,
        source: Source::Config,
        rule_id: SafeText::new(rule),
        title: SafeText::new(&format!("{rule} is not compliant")),
        description: SafeText::new("description"),
        account: SafeText::new("111122223333"),
        region: SafeText::new("us-east-1"),
        resources: vec![Resource {
            kind: SafeText::new("AWS::EC2::SecurityGroup"),
            id: SafeText::new(group),
            arn: Some(SafeText::new(&format!(
                "arn:aws:ec2:us-east-1:111122223333:security-group/{group}"
            ))),
        }],
        principal: None,
        first_seen: t,
        last_seen: t,
        count: 1,
        evidence: Evidence::default(),
        console_url: None,
        remediation: SafeText::new("remediation"),
    }
}
