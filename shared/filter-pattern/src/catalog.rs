//! Well-known pattern strings: the seed's three detections and the CIS AWS Foundations
//! Benchmark monitoring set, verbatim from spec §6 (Security Hub requires the exact strings).
//!
//! These are data for tests, benchmarks and callers that build a detection pack; the pattern
//! engine itself knows nothing about them.

/// Seed: root account usage. Spec §6 gives the seed's variant as the CloudTrail/CIS pattern
/// with parentheses around each clause; it parses to the same tree as
/// `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`.
pub const SEED_ROOT_USAGE: &str = r#"{ ($.userIdentity.type = "Root") && ($.userIdentity.invokedBy NOT EXISTS) && ($.eventType != "AwsServiceEvent") }"#;

/// Seed: unauthorized API calls (CloudWatch.2 with CIS spacing).
pub const SEED_UNAUTHORIZED_API_CALLS: &str =
    r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;

/// Seed: console sign-in without MFA. Spec §6 describes the seed's variant as
/// `… MFAUsed = "No" … ConsoleLogin = "Success"` (a positive `= "No"` instead of CIS's
/// `!= "Yes"`, and successful sign-ins only); this is that pattern in the seed's style.
pub const SEED_CONSOLE_LOGIN_WITHOUT_MFA: &str = r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed = "No") && ($.responseElements.ConsoleLogin = "Success") }"#;

/// The seed's three detections, as `(id, pattern)`.
pub const SEED: [(&str, &str); 3] = [
    ("seed.root-usage", SEED_ROOT_USAGE),
    ("seed.unauthorized-api-calls", SEED_UNAUTHORIZED_API_CALLS),
    (
        "seed.console-login-without-mfa",
        SEED_CONSOLE_LOGIN_WITHOUT_MFA,
    ),
];

/// The CIS monitoring set, as `(id, pattern)`: CloudWatch.1–14, the CIS 1.4 variants
/// (4.1 unauthorized calls with exclusions, 1.2 3.2 no-MFA sign-in) and CIS 1.4 4.15 Organizations
/// changes.
pub const CIS: [(&str, &str); 17] = [
    // CloudWatch.1 / CIS 1.2 3.3: root account usage.
    (
        "CloudWatch.1",
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
    ),
    // CloudWatch.2 / CIS 1.2 3.1: unauthorized API calls.
    (
        "CloudWatch.2",
        r#"{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}"#,
    ),
    // CIS 1.4 4.1: unauthorized API calls, excluding `delivery.logs.amazonaws.com` and `HeadBucket` (by precedence the exclusions only guard the `AccessDenied*` branch).
    (
        "CIS-1.4-4.1",
        r#"{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#,
    ),
    // CloudWatch.3 / CIS 1.4: console sign-in without MFA (IAM users, successful sign-ins).
    (
        "CloudWatch.3",
        r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#,
    ),
    // CIS 1.2 3.2: console sign-in without MFA.
    (
        "CIS-1.2-3.2",
        r#"{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed !="Yes")}"#,
    ),
    // CloudWatch.4: IAM policy changes.
    (
        "CloudWatch.4",
        r#"{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}"#,
    ),
    // CloudWatch.5: CloudTrail config changes.
    (
        "CloudWatch.5",
        r#"{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}"#,
    ),
    // CloudWatch.6: console auth failures.
    (
        "CloudWatch.6",
        r#"{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}"#,
    ),
    // CloudWatch.7: CMK disable/delete.
    (
        "CloudWatch.7",
        r#"{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"#,
    ),
    // CloudWatch.8: S3 bucket policy.
    (
        "CloudWatch.8",
        r#"{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}"#,
    ),
    // CloudWatch.9: Config changes.
    (
        "CloudWatch.9",
        r#"{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}"#,
    ),
    // CloudWatch.10: security groups.
    (
        "CloudWatch.10",
        r#"{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"#,
    ),
    // CloudWatch.11: NACLs.
    (
        "CloudWatch.11",
        r#"{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}"#,
    ),
    // CloudWatch.12: network gateways.
    (
        "CloudWatch.12",
        r#"{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"#,
    ),
    // CloudWatch.13: route tables.
    (
        "CloudWatch.13",
        r#"{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}"#,
    ),
    // CloudWatch.14: VPCs.
    (
        "CloudWatch.14",
        r#"{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}"#,
    ),
    // CIS 1.4 4.15: AWS Organizations changes.
    (
        "CIS-1.4-4.15",
        r#"{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }"#,
    ),
];
