//! Security classification of diff changes: which changes matter for a
//! security review, and why. Only what the reasons below name is flagged, so
//! that a review is never drowned in noise.

use serde_json::Value;

use super::{ChangeKind, FieldChange, Record};

pub const BUCKET_PUBLIC_POLICY: &str = "bucket became public (policy)";
pub const BUCKET_PUBLIC_ACL: &str = "bucket became public (ACL)";
pub const ENCRYPTION_REMOVED: &str = "encryption removed";
pub const VERSIONING_SUSPENDED: &str = "versioning suspended";
pub const WORLD_INGRESS_ADDED: &str = "ingress rule from 0.0.0.0/0 or ::/0 added";
pub const PUBLIC_IP_GAINED: &str = "instance gained a public IP";
pub const IMDS_OPTIONAL: &str = "IMDS tokens became optional (IMDSv1 allowed)";
pub const NEW_UNENCRYPTED_VOLUME: &str = "new unencrypted volume";

/// "block public access turned off: <flag> (bucket)" and "(account)".
pub fn block_off(flag: &str, level: &str) -> String {
    format!("block public access turned off or removed: {flag} ({level})")
}

const FLAGS: [&str; 4] = [
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
];
const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

pub fn nothing(
    _: ChangeKind,
    _: Option<&Record>,
    _: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    Vec::new()
}

fn is_true(value: Option<&Value>) -> bool {
    value == Some(&Value::Bool(true))
}

pub fn instance(
    kind: ChangeKind,
    old: Option<&Record>,
    new: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    let mut reasons = Vec::new();
    if let (ChangeKind::Modified, Some(old), Some(new)) = (kind, old, new) {
        if old.text("public_ip").is_none() && new.text("public_ip").is_some() {
            reasons.push(PUBLIC_IP_GAINED.to_owned());
        }
        if old.text("imds_http_tokens") != Some("optional")
            && new.text("imds_http_tokens") == Some("optional")
        {
            reasons.push(IMDS_OPTIONAL.to_owned());
        }
    }
    reasons
}

pub fn rule(
    kind: ChangeKind,
    _: Option<&Record>,
    new: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    match (kind, new) {
        (ChangeKind::Added, Some(new))
            if new.text("direction") == Some("ingress")
                && new.text("cidr").is_some_and(|cidr| WORLD.contains(&cidr)) =>
        {
            vec![WORLD_INGRESS_ADDED.to_owned()]
        }
        _ => Vec::new(),
    }
}

pub fn volume(
    kind: ChangeKind,
    old: Option<&Record>,
    new: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    match (kind, old, new) {
        (ChangeKind::Added, _, Some(new)) if new.get("encrypted") == Some(&Value::Bool(false)) => {
            vec![NEW_UNENCRYPTED_VOLUME.to_owned()]
        }
        (ChangeKind::Modified, Some(old), Some(new))
            if is_true(old.get("encrypted"))
                && new.get("encrypted") == Some(&Value::Bool(false)) =>
        {
            vec![ENCRYPTION_REMOVED.to_owned()]
        }
        _ => Vec::new(),
    }
}

/// Whether a bucket setting could not be read in this snapshot (then its
/// `NULL` means "unknown" and must not be read as "removed").
fn unreadable(record: &Record, api_call: &str) -> bool {
    record
        .get("fetch_errors")
        .and_then(|errors| errors.get(api_call))
        .is_some()
}

fn acl_grants(record: &Record) -> Vec<String> {
    match record.get("public_acl_grants") {
        Some(Value::Array(grants)) => grants
            .iter()
            .filter_map(|grant| grant.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn bucket(
    kind: ChangeKind,
    old: Option<&Record>,
    new: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    let mut reasons = Vec::new();
    let Some(new) = new else { return reasons };
    if kind == ChangeKind::Removed {
        return reasons;
    }
    let was_public_policy = old.is_some_and(|old| is_true(old.get("policy_is_public")));
    if is_true(new.get("policy_is_public")) && !was_public_policy {
        reasons.push(BUCKET_PUBLIC_POLICY.to_owned());
    }
    let old_grants = old.map(acl_grants).unwrap_or_default();
    if acl_grants(new)
        .iter()
        .any(|grant| !old_grants.contains(grant))
    {
        reasons.push(BUCKET_PUBLIC_ACL.to_owned());
    }
    let Some(old) = old else { return reasons };
    if !unreadable(new, "GetPublicAccessBlock") {
        for flag in FLAGS {
            if is_true(old.get(flag)) && !is_true(new.get(flag)) {
                reasons.push(block_off(flag, "bucket"));
            }
        }
    }
    if old.text("sse_algorithm").is_some()
        && new.text("sse_algorithm").is_none()
        && !unreadable(new, "GetBucketEncryption")
    {
        reasons.push(ENCRYPTION_REMOVED.to_owned());
    }
    if old.text("versioning") == Some("Enabled") && new.text("versioning") == Some("Suspended") {
        reasons.push(VERSIONING_SUSPENDED.to_owned());
    }
    reasons
}

pub fn account_block(
    kind: ChangeKind,
    old: Option<&Record>,
    new: Option<&Record>,
    _: &[FieldChange],
) -> Vec<String> {
    let Some(old) = old else { return Vec::new() };
    FLAGS
        .iter()
        .filter(|flag| {
            is_true(old.get(flag))
                && (kind == ChangeKind::Removed || !new.is_some_and(|new| is_true(new.get(flag))))
        })
        .map(|flag| block_off(flag, "account"))
        .collect()
}
