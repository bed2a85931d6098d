//! Region display names, as classic CloudWatch alarm notifications carry them in `Region`
//! (`"US East (N. Virginia)"`), mapped to region codes (`us-east-1`).
//!
//! The table holds the names the AWS console and the CloudWatch notifications use, including the
//! older `EU (…)` spellings. A name it does not know (a region launched after this table was
//! written) is not an error: the classifier falls back to the region in the `AlarmArn`.

/// Display name → region code. Compared ignoring ASCII case and surrounding whitespace.
const REGIONS: &[(&str, &str)] = &[
    ("US East (N. Virginia)", "us-east-1"),
    ("US East (Ohio)", "us-east-2"),
    ("US West (N. California)", "us-west-1"),
    ("US West (Oregon)", "us-west-2"),
    ("Africa (Cape Town)", "af-south-1"),
    ("Asia Pacific (Hong Kong)", "ap-east-1"),
    ("Asia Pacific (Taipei)", "ap-east-2"),
    ("Asia Pacific (Mumbai)", "ap-south-1"),
    ("Asia Pacific (Hyderabad)", "ap-south-2"),
    ("Asia Pacific (Tokyo)", "ap-northeast-1"),
    ("Asia Pacific (Seoul)", "ap-northeast-2"),
    ("Asia Pacific (Osaka)", "ap-northeast-3"),
    ("Asia Pacific (Osaka-Local)", "ap-northeast-3"),
    ("Asia Pacific (Singapore)", "ap-southeast-1"),
    ("Asia Pacific (Sydney)", "ap-southeast-2"),
    ("Asia Pacific (Jakarta)", "ap-southeast-3"),
    ("Asia Pacific (Melbourne)", "ap-southeast-4"),
    ("Asia Pacific (Malaysia)", "ap-southeast-5"),
    ("Asia Pacific (New Zealand)", "ap-southeast-6"),
    ("Asia Pacific (Thailand)", "ap-southeast-7"),
    ("Canada (Central)", "ca-central-1"),
    ("Canada West (Calgary)", "ca-west-1"),
    ("Europe (Frankfurt)", "eu-central-1"),
    ("EU (Frankfurt)", "eu-central-1"),
    ("Europe (Zurich)", "eu-central-2"),
    ("Europe (Ireland)", "eu-west-1"),
    ("EU (Ireland)", "eu-west-1"),
    ("Europe (London)", "eu-west-2"),
    ("EU (London)", "eu-west-2"),
    ("Europe (Paris)", "eu-west-3"),
    ("EU (Paris)", "eu-west-3"),
    ("Europe (Milan)", "eu-south-1"),
    ("EU (Milan)", "eu-south-1"),
    ("Europe (Spain)", "eu-south-2"),
    ("Europe (Stockholm)", "eu-north-1"),
    ("EU (Stockholm)", "eu-north-1"),
    ("Israel (Tel Aviv)", "il-central-1"),
    ("Mexico (Central)", "mx-central-1"),
    ("Middle East (Bahrain)", "me-south-1"),
    ("Middle East (UAE)", "me-central-1"),
    ("South America (Sao Paulo)", "sa-east-1"),
    ("South America (São Paulo)", "sa-east-1"),
    ("AWS GovCloud (US-East)", "us-gov-east-1"),
    ("AWS GovCloud (US-West)", "us-gov-west-1"),
    ("AWS GovCloud (US)", "us-gov-west-1"),
    ("China (Beijing)", "cn-north-1"),
    ("China (Ningxia)", "cn-northwest-1"),
];

/// The region code for a display name, or `None` for a name the table does not know.
pub fn region_code(display_name: &str) -> Option<&'static str> {
    let wanted = display_name.trim();
    REGIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
        .map(|&(_, code)| code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::is_region;

    #[test]
    fn display_names_map_to_region_codes() {
        assert_eq!(region_code("US East (N. Virginia)"), Some("us-east-1"));
        assert_eq!(region_code("  eu (ireland) "), Some("eu-west-1"));
        assert_eq!(region_code("Europe (Ireland)"), Some("eu-west-1"));
        assert_eq!(region_code("AWS GovCloud (US)"), Some("us-gov-west-1"));
        assert_eq!(region_code("EXAMPLE"), None);
        assert_eq!(region_code(""), None);
    }

    #[test]
    fn every_code_in_the_table_is_a_region_name_and_every_display_name_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (name, code) in REGIONS {
            assert!(is_region(code), "{code}");
            assert!(
                seen.insert(name.to_ascii_lowercase()),
                "duplicate display name {name}"
            );
        }
    }
}
