//! S3 buckets of one account (global): `ListBuckets`, then per bucket its
//! region and posture, each call sent to a client in the bucket's region.
//!
//! Three states never blur: a value; `None` because S3 answered *not
//! configured*; and *could not be read*, which leaves `None` **and** an entry
//! in `fetch_errors` (call → error code), and degrades the unit's status.

use std::collections::BTreeMap;

use aws_sdk_s3::types::Permission;
use fleetscan_store::rows::{Row, S3BucketRow};
use futures::{FutureExt, StreamExt};

use super::{CollectorSpec, GLOBAL_REGION, Scope, UnitContext, UnitError, required, rfc3339, tags};
use crate::classify::{AwsFailure, ErrorClass, classify};
use crate::paginate::PageGuard;

pub const SPEC: CollectorSpec = CollectorSpec {
    name: "s3_buckets",
    scope: Scope::Global,
    actions: &[
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketPolicyStatus",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketLogging",
        "s3:GetBucketTagging",
        "s3:GetBucketAcl",
    ],
    collect: |unit| collect(unit).boxed(),
};

/// A bucket as `ListBuckets` gives it.
struct Listed {
    name: String,
    creation_date: Option<String>,
    region: Option<String>,
}

async fn collect(unit: &UnitContext<'_>) -> Result<(), UnitError> {
    debug_assert_eq!(unit.region, GLOBAL_REGION);
    let home = unit.session.s3(&unit.session.home_region);
    let mut buckets = Vec::new();
    let mut guard = PageGuard::new("ListBuckets");
    let mut token = None;
    loop {
        unit.call();
        // No max_buckets: without it S3 returns every bucket in one answer,
        // and some emulators cut the list when it is set.
        let page = home
            .list_buckets()
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for bucket in page.buckets() {
            buckets.push(Listed {
                name: required(bucket.name(), "bucket")?.to_string(),
                creation_date: rfc3339(bucket.creation_date()),
                region: bucket
                    .bucket_region()
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            });
        }
        token = guard.next(page.continuation_token().map(str::to_string))?;
        if token.is_none() {
            break;
        }
    }
    // Each bucket's future emits its own row: awaiting the writer here,
    // between polls of the other buckets, would leave them unpolled (see
    // the scanner's run_units).
    let mut emitted = futures::stream::iter(buckets)
        .map(|bucket| async move {
            let row = posture(unit, bucket).await;
            unit.emitter.emit(Row::S3Bucket(row)).await
        })
        .buffer_unordered(unit.config.concurrency.per_bucket);
    while let Some(result) = emitted.next().await {
        result?;
    }
    Ok(())
}

/// Maps `GetBucketLocation`'s answer to a region name: no constraint means
/// us-east-1, and the legacy `EU` means eu-west-1.
pub fn location_to_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

/// Outcome of one posture call: the value, `None` for *not configured*, or
/// the failure (recorded in `fetch_errors`).
fn settle<T, E>(
    unit: &UnitContext<'_>,
    call: &str,
    result: Result<T, E>,
    errors: &mut BTreeMap<String, String>,
) -> Option<T>
where
    E: Into<AwsFailure>,
{
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            let failure: AwsFailure = err.into();
            if failure.class != ErrorClass::NotConfigured {
                errors.insert(call.to_string(), failure.code.clone());
                unit.degrade(AwsFailure::new(
                    failure.class,
                    failure.code,
                    format!("{call}: {}", failure.message),
                ));
            }
            None
        }
    }
}

async fn posture(unit: &UnitContext<'_>, bucket: Listed) -> S3BucketRow {
    let mut errors = BTreeMap::new();
    let region = match bucket.region {
        Some(region) => Some(region),
        None => {
            unit.call();
            let home = unit.session.s3(&unit.session.home_region);
            let answer = home
                .get_bucket_location()
                .bucket(&bucket.name)
                .send()
                .await
                .map_err(|e| classify(&e));
            settle(unit, "GetBucketLocation", answer, &mut errors)
                .map(|out| location_to_region(out.location_constraint().map(|c| c.as_str())))
        }
    };
    // Without a known region the home region is tried; S3 redirects are then
    // recorded as fetch errors rather than guessed around.
    let client = unit
        .session
        .s3(region.as_deref().unwrap_or(&unit.session.home_region));
    let name = bucket.name.as_str();
    for _ in 0..8 {
        unit.call();
    }
    let (
        public_access_block,
        policy_status,
        encryption,
        versioning,
        ownership,
        logging,
        tagging,
        acl,
    ) = futures::join!(
        client.get_public_access_block().bucket(name).send(),
        client.get_bucket_policy_status().bucket(name).send(),
        client.get_bucket_encryption().bucket(name).send(),
        client.get_bucket_versioning().bucket(name).send(),
        client.get_bucket_ownership_controls().bucket(name).send(),
        client.get_bucket_logging().bucket(name).send(),
        client.get_bucket_tagging().bucket(name).send(),
        client.get_bucket_acl().bucket(name).send(),
    );
    let mut row = S3BucketRow {
        account_id: unit.session.account_id.clone(),
        bucket_name: bucket.name.clone(),
        region,
        creation_date: bucket.creation_date,
        ..S3BucketRow::default()
    };
    if let Some(out) = settle(
        unit,
        "GetPublicAccessBlock",
        public_access_block.map_err(|e| classify(&e)),
        &mut errors,
    ) && let Some(block) = out.public_access_block_configuration()
    {
        row.block_public_acls = block.block_public_acls();
        row.ignore_public_acls = block.ignore_public_acls();
        row.block_public_policy = block.block_public_policy();
        row.restrict_public_buckets = block.restrict_public_buckets();
    }
    if let Some(out) = settle(
        unit,
        "GetBucketPolicyStatus",
        policy_status.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.policy_is_public = out.policy_status().and_then(|s| s.is_public());
    }
    if let Some(out) = settle(
        unit,
        "GetBucketEncryption",
        encryption.map_err(|e| classify(&e)),
        &mut errors,
    ) && let Some(rule) = out
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
    {
        let default = rule.apply_server_side_encryption_by_default();
        row.sse_algorithm = default.map(|d| d.sse_algorithm().as_str().to_string());
        row.kms_key_id = default
            .and_then(|d| d.kms_master_key_id())
            .map(str::to_string);
        row.bucket_key_enabled = rule.bucket_key_enabled();
    }
    if let Some(out) = settle(
        unit,
        "GetBucketVersioning",
        versioning.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.versioning = out.status().map(|s| s.as_str().to_string());
        row.mfa_delete = out.mfa_delete().map(|s| s.as_str().to_string());
    }
    if let Some(out) = settle(
        unit,
        "GetBucketOwnershipControls",
        ownership.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.object_ownership = out
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string());
    }
    if let Some(out) = settle(
        unit,
        "GetBucketLogging",
        logging.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.logging_target_bucket = out.logging_enabled().map(|l| l.target_bucket().to_string());
    }
    if let Some(out) = settle(
        unit,
        "GetBucketTagging",
        tagging.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.tags = Some(tags(
            out.tag_set()
                .iter()
                .map(|t| (Some(t.key()), Some(t.value()))),
        ));
    }
    if let Some(out) = settle(
        unit,
        "GetBucketAcl",
        acl.map_err(|e| classify(&e)),
        &mut errors,
    ) {
        row.public_acl_grants = Some(public_grants(out.grants()));
    }
    row.fetch_errors = errors;
    row
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Grants to everyone or to every AWS account, as `AllUsers:READ`.
pub fn public_grants(grants: &[aws_sdk_s3::types::Grant]) -> Vec<String> {
    let mut public: Vec<String> = grants
        .iter()
        .filter_map(|grant| {
            let group = match grant.grantee()?.uri()? {
                ALL_USERS => "AllUsers",
                AUTHENTICATED_USERS => "AuthenticatedUsers",
                _ => return None,
            };
            let permission = grant.permission().map_or("UNKNOWN", Permission::as_str);
            Some(format!("{group}:{permission}"))
        })
        .collect();
    public.sort();
    public.dedup();
    public
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_sdk_s3::types::{Grant, Grantee, Type};

    use super::*;

    #[test]
    fn bucket_locations_map_to_regions() {
        assert_eq!(location_to_region(None), "us-east-1");
        assert_eq!(location_to_region(Some("")), "us-east-1");
        assert_eq!(location_to_region(Some("EU")), "eu-west-1");
        assert_eq!(location_to_region(Some("ap-south-2")), "ap-south-2");
    }

    fn grant(uri: Option<&str>, id: Option<&str>, permission: Permission) -> Grant {
        let mut grantee = Grantee::builder().r#type(if uri.is_some() {
            Type::Group
        } else {
            Type::CanonicalUser
        });
        if let Some(uri) = uri {
            grantee = grantee.uri(uri);
        }
        if let Some(id) = id {
            grantee = grantee.id(id);
        }
        Grant::builder()
            .grantee(grantee.build().unwrap())
            .permission(permission)
            .build()
    }

    #[test]
    fn only_public_groups_count_as_public_grants() {
        let grants = vec![
            grant(None, Some("owner-canonical-id"), Permission::FullControl),
            grant(Some(ALL_USERS), None, Permission::Read),
            grant(Some(AUTHENTICATED_USERS), None, Permission::Write),
            grant(
                Some("http://acs.amazonaws.com/groups/s3/LogDelivery"),
                None,
                Permission::Write,
            ),
        ];
        assert_eq!(
            public_grants(&grants),
            vec![
                "AllUsers:READ".to_string(),
                "AuthenticatedUsers:WRITE".to_string()
            ]
        );
        assert!(public_grants(&grants[..1]).is_empty());
    }
}
