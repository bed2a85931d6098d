//! AWS console deep links. Every part that comes from an event is validated or percent-encoded,
//! so a hostile resource id cannot turn a link into something else.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but unreserved characters is encoded (RFC 3986 `unreserved`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Whether `url` is an https link to the AWS console (a region's console host, commercial,
/// GovCloud or China), with nothing a reader could be misled by: what a ticket, a chat message or
/// an OCSF finding may show as a link. Links triage builds here always are; a link read back
/// from a queue message is checked again.
pub fn is_console_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let console = [
        ".console.aws.amazon.com",
        ".console.amazonaws-us-gov.com",
        ".console.amazonaws.cn",
    ];
    !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && (host == "console.amazonaws-us-gov.com"
            || console.iter().any(|suffix| {
                host.strip_suffix(suffix)
                    .is_some_and(|region| !region.is_empty() && !region.contains('.'))
            }))
}

pub fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// A region name is lower-case letters, digits and dashes (e.g. `us-east-1`, `us-gov-west-1`).
pub fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The AWS partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// `https://<region>.console…/<service>/home?region=<region>` for the region's partition, or
/// `None` for a region name that is not one.
pub fn service_home(region: &str, service: &str) -> Option<String> {
    if !is_region(region) {
        return None;
    }
    let host = match partition(region) {
        "aws-cn" => format!("{region}.console.amazonaws.cn"),
        "aws-us-gov" => "console.amazonaws-us-gov.com".to_owned(),
        "aws" => format!("{region}.console.aws.amazon.com"),
        _ => return None,
    };
    Some(format!("https://{host}/{service}/home?region={region}"))
}

/// The AWS Config timeline of a resource.
pub fn config_timeline(region: &str, resource_type: &str, resource_id: &str) -> Option<String> {
    let home = service_home(region, "config")?;
    Some(format!(
        "{home}#/timeline/{}/{}/configuration",
        encode(resource_type),
        encode(resource_id)
    ))
}

/// Longest CloudTrail event id linked to: real ids are UUIDs (36 characters); anything much
/// longer is not an id, and a link built from it could swell a ticket past SQS's size limit.
const MAX_EVENT_ID_CHARS: usize = 128;

/// A CloudTrail event in event history (none for an id that cannot be one).
pub fn cloudtrail_event(region: &str, event_id: &str) -> Option<String> {
    if event_id.is_empty() || event_id.chars().count() > MAX_EVENT_ID_CHARS {
        return None;
    }
    let home = service_home(region, "cloudtrail")?;
    Some(format!("{home}#/events/{}", encode(event_id)))
}

/// A CloudWatch alarm.
pub fn cloudwatch_alarm(region: &str, alarm_name: &str) -> Option<String> {
    let home = service_home(region, "cloudwatch")?;
    Some(format!("{home}#alarmsV2:alarm/{}", encode(alarm_name)))
}

/// Longest finding id linked to: GuardDuty ids are 32 hex digits and Security Hub ids ARNs of a
/// few hundred characters; a longer one is not linked (the link would be as long).
const MAX_FINDING_ID_CHARS: usize = 512;

/// A GuardDuty finding, by its id (the last part of its ARN), in the current findings view.
pub fn guardduty_finding(region: &str, finding_id: &str) -> Option<String> {
    if finding_id.is_empty() || finding_id.chars().count() > MAX_FINDING_ID_CHARS {
        return None;
    }
    let home = service_home(region, "guardduty")?;
    Some(format!(
        "{home}#/findings?macros=current&fId={}",
        encode(finding_id)
    ))
}

/// A Security Hub finding, by its `Id`: the findings view filtered on `Id EQUALS <id>` (the
/// console's filter syntax, `\operator\:EQUALS\:`, URL-encoded inside the encoded `search`).
pub fn securityhub_finding(region: &str, finding_id: &str) -> Option<String> {
    if finding_id.is_empty() || finding_id.chars().count() > MAX_FINDING_ID_CHARS {
        return None;
    }
    let home = service_home(region, "securityhub")?;
    let filter = encode(&format!("\\operator\\:EQUALS\\:{finding_id}"));
    Some(format!("{home}#/findings?search=Id%3D{}", encode(&filter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_triage_builds_is_a_console_url_and_nothing_else_is() {
        for region in ["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"] {
            let link = service_home(region, "config").unwrap_or_default();
            assert!(is_console_url(&link), "{link}");
        }
        assert!(is_console_url(
            "https://us-gov-west-1.console.amazonaws-us-gov.com/x"
        ));
        for url in [
            "https://evil.example/?.console.aws.amazon.com",
            "https://evil.example#.console.aws.amazon.com",
            "https://a.b.console.aws.amazon.com/x",
            "http://us-east-1.console.aws.amazon.com/x",
            "https://us-east-1.console.aws.amazon.com/x y",
            "https://user@us-east-1.console.aws.amazon.com/",
            "javascript:alert(1)",
        ] {
            assert!(!is_console_url(url), "{url}");
        }
    }

    #[test]
    fn finding_links_name_the_finding_and_refuse_what_cannot_be_an_id() {
        assert_eq!(
            guardduty_finding("us-east-1", "60baffd3f9042e38640f2300d5c5a631").as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=60baffd3f9042e38640f2300d5c5a631"
            )
        );
        assert_eq!(
            securityhub_finding("eu-west-1", "arn:aws:inspector2:eu-west-1:1:finding/ab")
                .as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253Aarn%253Aaws%253Ainspector2%253Aeu-west-1%253A1%253Afinding%252Fab"
            )
        );
        assert_eq!(guardduty_finding("us-east-1", &"a".repeat(600)), None);
        assert_eq!(securityhub_finding("x/../y", "id"), None);
    }

    #[test]
    fn config_timeline_link_encodes_the_resource() {
        assert_eq!(
            config_timeline("us-east-1", "AWS::S3::Bucket", "my bucket/../x").as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/config/home?region=us-east-1#/timeline/AWS%3A%3AS3%3A%3ABucket/my%20bucket%2F..%2Fx/configuration"
            )
        );
    }

    #[test]
    fn a_hostile_region_gives_no_link() {
        assert_eq!(config_timeline("evil.com/x?", "AWS::S3::Bucket", "b"), None);
        assert_eq!(cloudtrail_event("", "id"), None);
    }

    #[test]
    fn links_follow_the_partition() {
        assert!(service_home("cn-north-1", "config").is_some_and(|u| u.contains("amazonaws.cn")));
        assert!(
            service_home("us-gov-west-1", "config")
                .is_some_and(|u| u.contains("amazonaws-us-gov.com"))
        );
    }
}
