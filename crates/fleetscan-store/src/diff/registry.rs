//! The diff registry: one entry per resource type saying how its rows are
//! keyed, which columns are compared and how, and which unit gates it.
//! Adding a resource type to the diff is one entry here.

use super::classify;
use super::{ChangeKind, FieldChange, Record};

/// Which scan unit must be comparable for a row to be compared at all.
#[derive(Debug, Clone, Copy)]
pub enum Gate {
    /// Not gated (accounts themselves).
    None,
    /// The unit (account, the row's `region`, collector).
    Regional(&'static str),
    /// The unit (account, `global`, collector).
    Global(&'static str),
}

/// Classifies one change: the security reasons it carries (empty = none).
pub type Classify = fn(ChangeKind, Option<&Record>, Option<&Record>, &[FieldChange]) -> Vec<String>;

/// Formats the resource id shown for a row from its id columns.
pub type FormatId = fn(&Record) -> String;

pub struct ResourceType {
    /// `resource_type` in the output.
    pub name: &'static str,
    pub table: &'static str,
    pub gate: Gate,
    /// Whether the table has a `region` column that is part of the key.
    pub regional: bool,
    /// Key columns after `snapshot_id, account_id` (and `region` when regional).
    pub id_columns: &'static [&'static str],
    /// Columns compared field by field (everything else is identity or metadata).
    pub compared: &'static [&'static str],
    /// JSON arrays whose order means nothing: compared as sets.
    pub json_sets: &'static [&'static str],
    /// JSON object of tags, compared key by key.
    pub tags: Option<&'static str>,
    /// 0/1 columns, shown as true/false.
    pub booleans: &'static [&'static str],
    /// The column giving the region shown for a non-regional row.
    pub region_column: Option<&'static str>,
    pub format_id: FormatId,
    pub classify: Classify,
}

impl ResourceType {
    pub(crate) fn is_json(&self, column: &str) -> bool {
        self.json_sets.contains(&column) || self.tags == Some(column)
    }
}

const BUCKET_FLAGS: [&str; 4] = [
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
];

/// Every type the diff knows, in the order changes are reported per account.
/// `account` comes first: an account's own changes head its section.
pub static REGISTRY: &[ResourceType] = &[
    ResourceType {
        name: "account",
        table: "accounts",
        gate: Gate::None,
        regional: false,
        id_columns: &[],
        compared: &["name", "email", "state", "ou_path", "role_arn"],
        json_sets: &[],
        tags: None,
        booleans: &[],
        region_column: None,
        format_id: format_account,
        classify: classify::nothing,
    },
    ResourceType {
        name: "ec2_instance",
        table: "ec2_instances",
        gate: Gate::Regional("ec2_instances"),
        regional: true,
        id_columns: &["instance_id"],
        compared: &[
            "name",
            "state",
            "instance_type",
            "image_id",
            "launch_time",
            "availability_zone",
            "vpc_id",
            "subnet_id",
            "private_ip",
            "public_ip",
            "iam_instance_profile_arn",
            "key_name",
            "platform",
            "imds_http_tokens",
            "imds_http_endpoint",
            "security_group_ids",
            "tags",
        ],
        json_sets: &["security_group_ids"],
        tags: Some("tags"),
        booleans: &[],
        region_column: None,
        format_id: format_joined,
        classify: classify::instance,
    },
    ResourceType {
        name: "ec2_security_group",
        table: "ec2_security_groups",
        gate: Gate::Regional("ec2_security_groups"),
        regional: true,
        id_columns: &["group_id"],
        compared: &["group_name", "description", "vpc_id", "tags"],
        json_sets: &[],
        tags: Some("tags"),
        booleans: &[],
        region_column: None,
        format_id: format_joined,
        classify: classify::nothing,
    },
    ResourceType {
        name: "ec2_security_group_rule",
        table: "ec2_security_group_rules",
        gate: Gate::Regional("ec2_security_groups"),
        regional: true,
        // A rule is its whole identity: rules are compared as a set per group.
        id_columns: &[
            "group_id",
            "direction",
            "protocol",
            "from_port",
            "to_port",
            "cidr",
            "prefix_list_id",
            "referenced_group_id",
        ],
        compared: &["description"],
        json_sets: &[],
        tags: None,
        booleans: &[],
        region_column: None,
        format_id: format_rule,
        classify: classify::rule,
    },
    ResourceType {
        name: "ec2_volume",
        table: "ec2_volumes",
        gate: Gate::Regional("ec2_volumes"),
        regional: true,
        id_columns: &["volume_id"],
        compared: &[
            "size_gib",
            "volume_type",
            "encrypted",
            "kms_key_id",
            "state",
            "availability_zone",
            "attached_instance_ids",
            "create_time",
            "tags",
        ],
        json_sets: &["attached_instance_ids"],
        tags: Some("tags"),
        booleans: &["encrypted"],
        region_column: None,
        format_id: format_joined,
        classify: classify::volume,
    },
    ResourceType {
        name: "s3_bucket",
        table: "s3_buckets",
        gate: Gate::Global("s3_buckets"),
        regional: false,
        id_columns: &["bucket_name"],
        compared: &[
            "region",
            "creation_date",
            BUCKET_FLAGS[0],
            BUCKET_FLAGS[1],
            BUCKET_FLAGS[2],
            BUCKET_FLAGS[3],
            "policy_is_public",
            "public_acl_grants",
            "versioning",
            "mfa_delete",
            "sse_algorithm",
            "kms_key_id",
            "bucket_key_enabled",
            "object_ownership",
            "logging_target_bucket",
            "tags",
            // Not compared as a field of its own, but read so that a setting
            // that could not be read is never reported as "removed".
            "fetch_errors",
        ],
        json_sets: &["public_acl_grants"],
        tags: Some("tags"),
        booleans: &[
            BUCKET_FLAGS[0],
            BUCKET_FLAGS[1],
            BUCKET_FLAGS[2],
            BUCKET_FLAGS[3],
            "policy_is_public",
            "bucket_key_enabled",
        ],
        region_column: Some("region"),
        format_id: format_joined,
        classify: classify::bucket,
    },
    ResourceType {
        name: "s3_account_public_access_block",
        table: "s3_account_public_access_block",
        gate: Gate::Global("s3_account_public_access_block"),
        regional: false,
        id_columns: &[],
        compared: &BUCKET_FLAGS,
        json_sets: &[],
        tags: None,
        booleans: &BUCKET_FLAGS,
        region_column: None,
        format_id: format_account,
        classify: classify::account_block,
    },
];

/// Columns read but never reported as changed fields.
pub(crate) const METADATA_COLUMNS: &[&str] = &["fetch_errors"];

fn format_account(record: &Record) -> String {
    record.text("account_id").unwrap_or_default().to_owned()
}

fn format_joined(record: &Record) -> String {
    record.id_parts().join("/")
}

/// `sg-1 ingress tcp 22 from 0.0.0.0/0`, `sg-1 egress all all to pl-1`.
fn format_rule(record: &Record) -> String {
    let text = |column| record.text(column).unwrap_or_default().to_owned();
    let protocol = match text("protocol").as_str() {
        "-1" => "all".to_owned(),
        other => other.to_owned(),
    };
    let ports = match (record.integer("from_port"), record.integer("to_port")) {
        (None, None) => "all".to_owned(),
        (Some(from), Some(to)) if from == to => from.to_string(),
        (from, to) => format!(
            "{}-{}",
            from.map_or_else(|| "*".to_owned(), |port| port.to_string()),
            to.map_or_else(|| "*".to_owned(), |port| port.to_string())
        ),
    };
    let source = ["cidr", "prefix_list_id", "referenced_group_id"]
        .iter()
        .find_map(|column| record.text(column))
        .unwrap_or("?");
    let direction = text("direction");
    let preposition = if direction == "egress" { "to" } else { "from" };
    format!(
        "{} {direction} {protocol} {ports} {preposition} {source}",
        text("group_id")
    )
}
