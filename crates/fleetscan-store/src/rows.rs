//! The typed rows a scan produces: what collectors emit and the writer inserts.
//!
//! These types are the in-memory mirror of the tables in `migrations/`. They
//! carry no AWS SDK types so that the store builds without the SDK.

use std::collections::BTreeMap;

use serde::Serialize;

/// Tags as a sorted map, stored as a JSON object.
pub type Tags = BTreeMap<String, String>;

/// `scan_units.region` of the units that are not per region (S3, region
/// discovery).
pub const GLOBAL_REGION: &str = "global";

/// `scan_units.collector` of region discovery (`DescribeRegions`).
pub const REGION_DISCOVERY: &str = "ec2_regions";

/// How an account fared in one snapshot (`accounts.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Every unit of the account ended `ok` or `region_disabled`.
    Ok,
    /// The role was assumed, but some units failed.
    Partial,
    /// The role could not be assumed; nothing of the account was read.
    AssumeFailed,
    /// Planned but deliberately not scanned (e.g. excluded after planning, deadline hit).
    Skipped,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Ok => "ok",
            AccountStatus::Partial => "partial",
            AccountStatus::AssumeFailed => "assume_failed",
            AccountStatus::Skipped => "skipped",
        }
    }
}

/// How one (account, region, collector) unit ended (`scan_units.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    Ok,
    Denied,
    RegionDisabled,
    Throttled,
    Error,
}

impl UnitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Ok => "ok",
            UnitStatus::Denied => "denied",
            UnitStatus::RegionDisabled => "region_disabled",
            UnitStatus::Throttled => "throttled",
            UnitStatus::Error => "error",
        }
    }

    /// Whether the unit's data is trustworthy and complete: `ok`, or a region
    /// that is not enabled (there is nothing to read there).
    pub fn is_success(self) -> bool {
        matches!(self, UnitStatus::Ok | UnitStatus::RegionDisabled)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    pub account_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub state: Option<String>,
    pub ou_path: Option<String>,
    pub role_arn: String,
    pub status: AccountStatus,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanUnitRow {
    pub account_id: String,
    /// A region name, or `global` for collectors that are not regional.
    pub region: String,
    pub collector: String,
    pub status: UnitStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub resources: u64,
    pub api_calls: u64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2InstanceRow {
    pub account_id: String,
    pub region: String,
    pub instance_id: String,
    pub name: Option<String>,
    pub state: Option<String>,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    /// RFC 3339 UTC.
    pub launch_time: Option<String>,
    pub availability_zone: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub iam_instance_profile_arn: Option<String>,
    pub key_name: Option<String>,
    pub platform: Option<String>,
    /// `required` (IMDSv2 only) or `optional` (v1 accepted).
    pub imds_http_tokens: Option<String>,
    /// `enabled` or `disabled`.
    pub imds_http_endpoint: Option<String>,
    pub security_group_ids: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2SecurityGroupRow {
    pub account_id: String,
    pub region: String,
    pub group_id: String,
    pub group_name: Option<String>,
    pub description: Option<String>,
    pub vpc_id: Option<String>,
    pub tags: Tags,
}

/// Direction of a security group rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDirection {
    Ingress,
    Egress,
}

impl RuleDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleDirection::Ingress => "ingress",
            RuleDirection::Egress => "egress",
        }
    }
}

/// One rule × one source: exactly one of `cidr`, `prefix_list_id`,
/// `referenced_group_id` is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2SecurityGroupRuleRow {
    pub account_id: String,
    pub region: String,
    pub group_id: String,
    pub direction: RuleDirection,
    /// `-1` for all protocols, otherwise `tcp`, `udp`, `icmp`, … or a number.
    pub protocol: String,
    pub from_port: Option<i64>,
    pub to_port: Option<i64>,
    /// IPv4 or IPv6 CIDR.
    pub cidr: Option<String>,
    pub prefix_list_id: Option<String>,
    pub referenced_group_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2VolumeRow {
    pub account_id: String,
    pub region: String,
    pub volume_id: String,
    pub size_gib: Option<i64>,
    pub volume_type: Option<String>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub state: Option<String>,
    pub availability_zone: Option<String>,
    pub attached_instance_ids: Vec<String>,
    /// RFC 3339 UTC.
    pub create_time: Option<String>,
    pub tags: Tags,
}

/// One bucket with its posture. `None` means AWS said *not configured*;
/// a setting that could not be read is `None` **and** has an entry in
/// `fetch_errors` (API call name → error code), so the two never blur.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct S3BucketRow {
    pub account_id: String,
    pub bucket_name: String,
    pub region: Option<String>,
    /// RFC 3339 UTC.
    pub creation_date: Option<String>,
    pub block_public_acls: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
    pub policy_is_public: Option<bool>,
    /// `Enabled`, `Suspended`, or `None` when never enabled.
    pub versioning: Option<String>,
    /// `Enabled` / `Disabled`, or `None` when never configured.
    pub mfa_delete: Option<String>,
    pub sse_algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub object_ownership: Option<String>,
    pub logging_target_bucket: Option<String>,
    /// `None` when the bucket has no tag set.
    pub tags: Option<Tags>,
    /// ACL grants to the public groups, as `AllUsers:READ` or
    /// `AuthenticatedUsers:WRITE`; empty when the ACL grants nothing public,
    /// `None` when the ACL could not be read.
    pub public_acl_grants: Option<Vec<String>>,
    pub fetch_errors: BTreeMap<String, String>,
}

/// Account-level S3 Block Public Access (S3 Control), which overrides what
/// each bucket says. All four `None` means *not configured*.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct S3AccountPublicAccessBlockRow {
    pub account_id: String,
    pub block_public_acls: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
}

/// Everything the writer accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Account(AccountRow),
    Unit(ScanUnitRow),
    Ec2Instance(Ec2InstanceRow),
    Ec2SecurityGroup(Ec2SecurityGroupRow),
    Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow),
    Ec2Volume(Ec2VolumeRow),
    S3Bucket(S3BucketRow),
    S3AccountPublicAccessBlock(S3AccountPublicAccessBlockRow),
}
