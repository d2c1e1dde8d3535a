//! The seeder's ground truth (`seed.py` / `mutate.py` output), typed for comparison with the database.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub variant: String,
    pub regions: Vec<String>,
    pub role_name: String,
    pub organization: Organization,
    pub scan: ScanPlan,
    /// Account id → what moto holds for it, for every account (scanned or not).
    pub fleet: BTreeMap<String, AccountFleet>,
    /// Only in mutate.py's manifest.
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    pub id: String,
    pub root_id: String,
    pub management_account_id: String,
    pub ous: Vec<OrganizationalUnit>,
    pub accounts: Vec<OrgAccount>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrganizationalUnit {
    pub id: String,
    pub name: String,
    /// Names from the root down, `/`-separated: `Workloads/Prod`.
    pub path: String,
    pub parent_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub email: String,
    pub state: Option<String>,
    pub status: Option<String>,
    /// OU names from the root down; empty for an account directly under the root.
    pub ou_path: Vec<String>,
    pub ou_id: String,
    pub role_arn: String,
    pub scanned: bool,
    /// `management`, `excluded`, `suspended` or `outside_ou`.
    pub not_scanned_because: Option<String>,
}

/// The scope the tests configure, and the accounts it must select.
#[derive(Debug, Clone, Deserialize)]
pub struct ScanPlan {
    pub include_ous: Vec<String>,
    pub exclude_accounts: Vec<String>,
    pub regions: Vec<String>,
    pub expected_accounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountFleet {
    /// Region → instances sorted by id.
    pub instances: BTreeMap<String, Vec<Instance>>,
    pub security_groups: BTreeMap<String, Vec<SecurityGroup>>,
    /// Sorted by name.
    pub buckets: Vec<Bucket>,
    /// Region → volumes sorted by id (absent in manifests written before volumes were read back).
    #[serde(default)]
    pub volumes: BTreeMap<String, Vec<Volume>>,
    /// The account-level S3 Block Public Access; every flag `None` when not configured.
    #[serde(default)]
    pub account_public_access_block: AccountBlock,
}

/// An `ec2_volumes` row without its key columns (account, region).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Volume {
    pub volume_id: String,
    pub size_gib: Option<i64>,
    pub volume_type: Option<String>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub state: Option<String>,
    pub availability_zone: Option<String>,
    /// Sorted.
    pub attached_instance_ids: Vec<String>,
    #[serde(deserialize_with = "seconds")]
    pub create_time: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// An `s3_account_public_access_block` row without its keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccountBlock {
    pub block_public_acls: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
}

/// An `ec2_instances` row without its key columns (account, region).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub name: Option<String>,
    pub state: Option<String>,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    /// Seconds precision, `YYYY-MM-DDTHH:MM:SS` (see [`second_precision`]).
    #[serde(deserialize_with = "seconds")]
    pub launch_time: Option<String>,
    pub availability_zone: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub iam_instance_profile_arn: Option<String>,
    pub key_name: Option<String>,
    pub platform: Option<String>,
    pub imds_http_tokens: Option<String>,
    pub imds_http_endpoint: Option<String>,
    /// Sorted.
    pub security_group_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: Option<String>,
    pub vpc_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub rules: Vec<serde_json::Value>,
}

/// An `s3_buckets` row without account id and fetch errors (which must be empty).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Bucket {
    pub bucket_name: String,
    pub region: Option<String>,
    #[serde(deserialize_with = "seconds")]
    pub creation_date: Option<String>,
    pub block_public_acls: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
    pub policy_is_public: Option<bool>,
    pub versioning: Option<String>,
    pub mfa_delete: Option<String>,
    pub sse_algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub object_ownership: Option<String>,
    pub logging_target_bucket: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Sorted; `AllUsers:READ`-style.
    pub public_acl_grants: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    /// `added`, `removed` or `modified`.
    pub kind: String,
    pub account_id: String,
    /// A region, or `global` for S3.
    pub region: String,
    /// The table the change shows up in.
    pub resource_type: String,
    pub resource_id: String,
    pub detail: String,
}

impl Manifest {
    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("parse {}: {err}", path.display()))
    }

    pub fn account(&self, account_id: &str) -> &OrgAccount {
        self.organization
            .accounts
            .iter()
            .find(|account| account.id == account_id)
            .unwrap_or_else(|| panic!("account {account_id} is not in the manifest"))
    }

    pub fn account_named(&self, name: &str) -> &OrgAccount {
        self.organization
            .accounts
            .iter()
            .find(|account| account.name == name)
            .unwrap_or_else(|| panic!("no account named {name} in the manifest"))
    }

    /// What the scanned accounts hold: account id → region → instances.
    pub fn expected_instances(&self) -> BTreeMap<String, BTreeMap<String, Vec<Instance>>> {
        self.scan
            .expected_accounts
            .iter()
            .map(|account_id| (account_id.clone(), self.fleet[account_id].instances.clone()))
            .collect()
    }

    /// What the scanned accounts hold: account id → buckets.
    pub fn expected_buckets(&self) -> BTreeMap<String, Vec<Bucket>> {
        self.scan
            .expected_accounts
            .iter()
            .map(|account_id| (account_id.clone(), self.fleet[account_id].buckets.clone()))
            .collect()
    }
}

/// Timestamps compared to the second: moto and the SDK agree on the instant,
/// not on how many fractional digits to print.
pub fn second_precision(timestamp: &str) -> String {
    timestamp.chars().take(19).collect()
}

fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.map(|timestamp| second_precision(&timestamp)))
}
