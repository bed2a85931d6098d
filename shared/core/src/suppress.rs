//! Suppressions: known noise, silenced on purpose and for a limited time.
//!
//! `policy/suppressions.toml` lists them. A suppression matches a finding when every pattern it
//! sets matches (globs, see [`crate::glob`]): `rule` the rule id, `account` the account id,
//! `principal` the finding's principal or actor ARN, `resource` any resource id or ARN, and
//! optionally `source`. A suppressed finding opens no ticket and pages no one; it is sent to the
//! digest as a `suppressed` entry and counted there, so nothing disappears silently.
//!
//! Every suppression has an `id`, a `reason` and an `expires` date. There is no "forever": a
//! suppression without `expires` is rejected, and so is one that expires more than
//! [`MAX_SUPPRESSION_DAYS`] days after the day the file is validated — a suppression is a
//! decision to revisit. From its expiry instant on (a date means 00:00 UTC that day) it stops
//! applying and the findings it hid ticket and page again. Resolutions (Config COMPLIANT,
//! alarm OK) are never suppressed, so a ticket opened before a suppression still closes.
//!
//! The file is compiled in and validated by `cargo test`; a broken file fails the build's tests,
//! never a cold start in production.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;

use crate::finding::{Finding, Source, Status};
use crate::glob::glob_match;

/// The suppressions shipped with the code.
pub const DEFAULT_SUPPRESSIONS_TOML: &str = include_str!("../../../policy/suppressions.toml");

/// The longest a suppression may run, counted from the day the file is validated.
pub const MAX_SUPPRESSION_DAYS: i64 = 366;

#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    #[error("suppressions file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("suppressions file: unsupported version {0} (expected 1)")]
    Version(u32),
    #[error("suppression #{index} ({id}) {problem}")]
    Invalid {
        index: usize,
        id: String,
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressionsFile {
    version: u32,
    #[serde(default, rename = "suppression")]
    suppressions: Vec<RawSuppression>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuppression {
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    expires: Option<toml::Value>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    product: Option<String>,
}

/// One validated suppression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub id: String,
    pub reason: String,
    pub owner: Option<String>,
    /// The instant from which it no longer applies.
    pub expires: DateTime<Utc>,
    pub source: Option<Source>,
    pub rule: Option<String>,
    pub account: Option<String>,
    pub principal: Option<String>,
    pub resource: Option<String>,
    /// Glob over the product of a GuardDuty or Security Hub finding ([`Finding::product`]).
    pub product: Option<String>,
}

impl Suppression {
    /// True while the suppression is in force at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires
    }

    /// True when every pattern it sets matches the finding (expiry not considered).
    pub fn matches(&self, finding: &Finding) -> bool {
        let glob = |pattern: &Option<String>, text: Option<&str>| {
            pattern
                .as_deref()
                .is_none_or(|p| text.is_some_and(|t| glob_match(p, t)))
        };
        self.source.is_none_or(|s| s == finding.source)
            && glob(&self.rule, Some(finding.rule_id.as_str()))
            && glob(&self.account, Some(finding.account.as_str()))
            && self.principal.as_deref().is_none_or(|p| {
                [
                    finding.principal.as_ref(),
                    finding.evidence.actor_arn.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|t| glob_match(p, t.as_str()))
            })
            && self.resource.as_deref().is_none_or(|p| {
                finding.resources.iter().any(|r| {
                    glob_match(p, r.id.as_str())
                        || r.arn.as_ref().is_some_and(|a| glob_match(p, a.as_str()))
                })
            })
            && glob(&self.product, finding.product())
    }
}

/// The suppressions in force, in file order; the first match names the suppression.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressions {
    list: Vec<Suppression>,
}

impl Suppressions {
    /// No suppressions.
    pub fn none() -> Self {
        Suppressions::default()
    }

    /// Parses and validates a suppressions file. `today` bounds the expiry dates (at most
    /// [`MAX_SUPPRESSION_DAYS`] ahead); already expired entries are valid and simply never apply.
    pub fn from_toml(text: &str, today: NaiveDate) -> Result<Self, SuppressionError> {
        let file: SuppressionsFile = toml::from_str(text)?;
        if file.version != 1 {
            return Err(SuppressionError::Version(file.version));
        }
        let mut list: Vec<Suppression> = Vec::with_capacity(file.suppressions.len());
        for (i, raw) in file.suppressions.into_iter().enumerate() {
            let s = validate(i + 1, raw, today, &list)?;
            list.push(s);
        }
        Ok(Suppressions { list })
    }

    /// The shipped file, validated against today's date.
    pub fn shipped() -> Result<Self, SuppressionError> {
        Self::from_toml(DEFAULT_SUPPRESSIONS_TOML, Utc::now().date_naive())
    }

    pub fn all(&self) -> &[Suppression] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The suppression that silences this finding at `now`, if any. Resolutions are never
    /// suppressed.
    pub fn find(&self, finding: &Finding, now: DateTime<Utc>) -> Option<&Suppression> {
        if finding.status == Status::Resolved {
            return None;
        }
        self.list
            .iter()
            .find(|s| s.is_active(now) && s.matches(finding))
    }

    /// Suppressions whose expiry has passed at `now` (candidates for removal from the file).
    pub fn expired(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Suppression> {
        self.list.iter().filter(move |s| !s.is_active(now))
    }
}

fn validate(
    index: usize,
    raw: RawSuppression,
    today: NaiveDate,
    earlier: &[Suppression],
) -> Result<Suppression, SuppressionError> {
    let id = raw.id.trim().to_owned();
    let invalid = |problem: &str| SuppressionError::Invalid {
        index,
        id: if id.is_empty() {
            "no id".into()
        } else {
            id.clone()
        },
        problem: problem.to_owned(),
    };
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "needs an id of 1 to 64 letters, digits, '-', '_' or '.' (it is shown in the digest)",
        ));
    }
    if earlier.iter().any(|s| s.id == id) {
        return Err(invalid("repeats an id used earlier in the file"));
    }
    if raw.reason.trim().is_empty() {
        return Err(invalid("has no reason: say why this noise is acceptable"));
    }
    let patterns = [
        &raw.rule,
        &raw.account,
        &raw.principal,
        &raw.resource,
        &raw.product,
    ];
    if patterns.iter().all(|p| p.is_none()) {
        return Err(invalid(
            "matches everything: set at least one of rule, account, principal, resource, product",
        ));
    }
    if patterns
        .iter()
        .any(|p| p.as_deref().is_some_and(str::is_empty))
    {
        return Err(invalid("has an empty pattern"));
    }
    if patterns
        .iter()
        .flat_map(|p| p.as_deref())
        .all(|p| p.chars().all(|c| c == '*'))
    {
        return Err(invalid(
            "matches everything: its patterns are all '*'; name a rule, account, principal, resource or product",
        ));
    }
    let Some(expires) = raw.expires else {
        return Err(invalid(
            "has no expires date: every suppression ends (at most a year ahead); renew it on purpose",
        ));
    };
    let expires = parse_expiry(&expires).ok_or_else(|| {
        invalid("has an expires that is neither a date (2027-03-31) nor a date-time with an offset (2027-03-31T18:00:00Z)")
    })?;
    let limit = today
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc() + TimeDelta::days(MAX_SUPPRESSION_DAYS + 1));
    if limit.is_some_and(|limit| expires > limit) {
        return Err(invalid(&format!(
            "expires {} — more than {MAX_SUPPRESSION_DAYS} days after {today}; a suppression is a decision to revisit within a year",
            expires.format("%Y-%m-%d")
        )));
    }
    Ok(Suppression {
        id,
        reason: raw.reason.trim().to_owned(),
        owner: raw.owner,
        expires,
        source: raw.source,
        rule: raw.rule,
        account: raw.account,
        principal: raw.principal,
        resource: raw.resource,
        product: raw.product,
    })
}

/// A TOML date (`2027-03-31`, meaning 00:00 UTC that day), a TOML date-time with an offset, or
/// the same as a string. A local date-time (no offset) is ambiguous and refused.
fn parse_expiry(value: &toml::Value) -> Option<DateTime<Utc>> {
    let text = match value {
        toml::Value::Datetime(d) => {
            if d.time.is_some() && d.offset.is_none() {
                return None;
            }
            d.to_string()
        }
        toml::Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::finding::{Evidence, Fingerprint, Resource};
    use crate::severity::Severity;
    use crate::text::SafeText;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn finding(rule: &str, account: &str, principal: Option<&str>, resource: &str) -> Finding {
        let t = at(2026, 11, 24, 3);
        Finding {
            fingerprint: Fingerprint::new(Source::Cloudtrail, rule, account, "us-east-1", &[]),
            status: Status::Active,
            severity: Severity::High,
            source: Source::Cloudtrail,
            rule_id: SafeText::new(rule),
            title: SafeText::new("t"),
            description: SafeText::new("d"),
            account: SafeText::new(account),
            region: SafeText::new("us-east-1"),
            resources: vec![Resource {
                kind: SafeText::new("AWS::EC2::SecurityGroup"),
                id: SafeText::new(resource),
                arn: Some(SafeText::new(&format!(
                    "arn:aws:ec2:us-east-1:{account}:security-group/{resource}"
                ))),
            }],
            principal: principal.map(SafeText::new),
            first_seen: t,
            last_seen: t,
            count: 1,
            evidence: Evidence::default(),
            console_url: None,
            remediation: SafeText::new("r"),
        }
    }

    fn parse(body: &str) -> Result<Suppressions, SuppressionError> {
        Suppressions::from_toml(&format!("version = 1\n{body}"), today())
    }

    const CI_ROLE: &str = r#"
[[suppression]]
id = "ci-access-denied"
reason = "the CI role probes permissions on purpose"
expires = 2027-01-31
rule = "unauthorized-api-calls"
account = "1111*"
principal = "arn:aws:iam::*:role/ci-*"
"#;

    #[test]
    fn a_suppression_matches_when_every_pattern_it_sets_matches() {
        let s = parse(CI_ROLE).expect("valid");
        let now = at(2026, 12, 1, 0);
        let ci = Some("arn:aws:iam::111122223333:role/ci-deploy");
        let hit = finding("unauthorized-api-calls", "111122223333", ci, "sg-1");
        assert_eq!(
            s.find(&hit, now).map(|s| s.id.as_str()),
            Some("ci-access-denied")
        );
        for miss in [
            finding("root-account-usage", "111122223333", ci, "sg-1"),
            finding("unauthorized-api-calls", "444455556666", ci, "sg-1"),
            finding(
                "unauthorized-api-calls",
                "111122223333",
                Some("arn:aws:iam::111122223333:role/admin"),
                "sg-1",
            ),
            finding("unauthorized-api-calls", "111122223333", None, "sg-1"),
        ] {
            assert!(s.find(&miss, now).is_none(), "{:?}", miss.rule_id);
        }
    }

    #[test]
    fn resource_patterns_match_ids_and_arns_and_principal_patterns_match_the_actor_arn() {
        let s = parse(
            r#"
[[suppression]]
id = "bastion"
reason = "bastion security groups are reviewed weekly"
expires = "2027-01-31"
resource = "arn:aws:ec2:*:security-group/sg-bastion*"

[[suppression]]
id = "scanner"
reason = "the vulnerability scanner's role"
expires = 2027-01-31T12:00:00Z
principal = "*:role/scanner"
"#,
        )
        .expect("valid");
        let now = at(2026, 12, 1, 0);
        let bastion = finding("restricted-ssh", "1", None, "sg-bastion-01");
        assert_eq!(
            s.find(&bastion, now).map(|s| s.id.as_str()),
            Some("bastion")
        );
        let mut scanned = finding("unauthorized-api-calls", "1", None, "sg-9");
        scanned.evidence.actor_arn = Some(SafeText::new("arn:aws:iam::1:role/scanner"));
        assert_eq!(
            s.find(&scanned, now).map(|s| s.id.as_str()),
            Some("scanner")
        );
    }

    #[test]
    fn an_expired_suppression_stops_applying_at_its_expiry_instant() {
        let s = parse(CI_ROLE).expect("valid");
        let f = finding(
            "unauthorized-api-calls",
            "111122223333",
            Some("arn:aws:iam::111122223333:role/ci-x"),
            "sg-1",
        );
        let expiry = at(2027, 1, 31, 0);
        assert!(s.find(&f, expiry - TimeDelta::seconds(1)).is_some());
        assert!(
            s.find(&f, expiry).is_none(),
            "expired at 00:00 UTC on the date"
        );
        assert_eq!(s.expired(expiry).count(), 1);
    }

    #[test]
    fn resolutions_are_never_suppressed() {
        let s = parse(CI_ROLE).expect("valid");
        let mut f = finding(
            "unauthorized-api-calls",
            "111122223333",
            Some("arn:aws:iam::111122223333:role/ci-x"),
            "sg-1",
        );
        f.status = Status::Resolved;
        assert!(s.find(&f, at(2026, 12, 1, 0)).is_none());
    }

    #[test]
    fn invalid_suppressions_are_rejected_with_their_index_and_id() {
        let cases = [
            ("id = \"a\"\nreason = \"r\"\nrule = \"x\"", "no expires"),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"x\"\nexpires = 2099-01-01",
                "more than 366 days",
            ),
            (
                "id = \"a\"\nreason = \"\"\nrule = \"x\"\nexpires = 2027-01-01",
                "no reason",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nexpires = 2027-01-01",
                "matches everything",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"*\"\naccount = \"**\"\nexpires = 2027-01-01",
                "matches everything",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"\"\nexpires = 2027-01-01",
                "empty pattern",
            ),
            (
                "reason = \"r\"\nrule = \"x\"\nexpires = 2027-01-01",
                "needs an id",
            ),
            (
                "id = \"a b\"\nreason = \"r\"\nrule = \"x\"\nexpires = 2027-01-01",
                "needs an id",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"x\"\nexpires = 2027-01-01T10:00:00",
                "neither a date",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"x\"\nexpires = \"soon\"",
                "neither a date",
            ),
            (
                "id = \"a\"\nreason = \"r\"\nrule = \"x\"\nexpires = 2027-01-01\nseverity = \"low\"",
                "unknown field",
            ),
        ];
        for (body, want) in cases {
            let err = parse(&format!("[[suppression]]\n{body}"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let twice =
            "[[suppression]]\nid = \"a\"\nreason = \"r\"\nrule = \"x\"\nexpires = 2027-01-01\n"
                .repeat(2);
        let err = parse(&twice)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("#2 (a) repeats an id"), "{err}");
        assert!(matches!(
            Suppressions::from_toml("version = 2", today()),
            Err(SuppressionError::Version(2))
        ));
    }

    #[test]
    fn an_already_expired_suppression_is_valid_and_never_applies() {
        let s = parse("[[suppression]]\nid = \"old\"\nreason = \"r\"\nrule = \"*\"\naccount = \"1\"\nexpires = 2020-01-01").expect("valid");
        let f = finding("x", "1", None, "sg-1");
        assert!(s.find(&f, at(2026, 11, 24, 0)).is_none());
    }

    #[test]
    fn the_shipped_file_and_its_commented_examples_are_valid() {
        let shipped = Suppressions::from_toml(DEFAULT_SUPPRESSIONS_TOML, today());
        assert!(shipped.is_ok(), "{shipped:?}");
        // The examples in the file's comments must stay valid too: uncomment and parse them.
        let examples: String = DEFAULT_SUPPRESSIONS_TOML
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .skip_while(|l| !l.starts_with("[[suppression]]"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            examples.contains("[[suppression]]"),
            "the file shows examples"
        );
        let parsed = Suppressions::from_toml(&format!("version = 1\n{examples}"), today());
        assert!(
            parsed.as_ref().is_ok_and(|s| s.all().len() >= 2),
            "{parsed:?}\n{examples}"
        );
    }
}
