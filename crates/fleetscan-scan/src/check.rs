//! The preflight behind `fleetscan check`: for every planned account, assume
//! the role, then make one cheap read per IAM permission the enabled
//! collectors need, and report each as ok, denied, error or not tested.
//!
//! A probe is the smallest call that exercises one permission: EC2 lists with
//! `MaxResults` 5 in the home region, S3 reads against the account's first
//! bucket. An answer meaning *not configured* (for instance
//! `NoSuchPublicAccessBlockConfiguration`) proves the permission is granted.

use futures::StreamExt;
use serde::Serialize;

use crate::classify::{AwsFailure, ErrorClass, classify};
use crate::collectors::Scope;
use crate::config::Config;
use crate::planner::Target;
use crate::regions;
use crate::session::{AccountSession, BaseAws, RoleRequest};

/// Assuming the member role: the first permission checked, on the scanning
/// principal's side and in the role's trust policy.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";
/// Region discovery, needed whenever a regional collector runs.
pub const DESCRIBE_REGIONS: &str = "ec2:DescribeRegions";
/// Listing the buckets, which also finds the bucket the per-bucket probes use.
pub const LIST_BUCKETS: &str = "s3:ListAllMyBuckets";

/// The smallest page EC2's Describe calls accept.
const EC2_PROBE_PAGE: i32 = 5;

/// Permissions probed once per account (besides AssumeRole).
const ACCOUNT_PROBES: &[&str] = &[
    DESCRIBE_REGIONS,
    "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVolumes",
    LIST_BUCKETS,
    "s3:GetAccountPublicAccessBlock",
];

/// Permissions probed against one bucket.
const BUCKET_PROBES: &[&str] = &[
    "s3:GetBucketLocation",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketPolicyStatus",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketVersioning",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketLogging",
    "s3:GetBucketTagging",
    "s3:GetBucketAcl",
];

/// Whether fleetscan knows how to probe an action (every collector's actions
/// must be; a test keeps it so).
pub fn has_probe(action: &str) -> bool {
    action == ASSUME_ROLE || ACCOUNT_PROBES.contains(&action) || BUCKET_PROBES.contains(&action)
}

/// The result of one permission in one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Denied,
    Error,
    NotTested,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::NotTested => "not tested",
        }
    }

    /// Denied and error mean the account is not ready to scan; not tested
    /// (no bucket to try) does not.
    pub fn is_problem(self) -> bool {
        matches!(self, Outcome::Denied | Outcome::Error)
    }
}

/// One permission in one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionCheck {
    /// The IAM action, e.g. `ec2:DescribeVolumes`.
    pub permission: &'static str,
    pub result: Outcome,
    /// The AWS error code of a denied or failed probe.
    pub error_code: Option<String>,
    /// Why, for anything but a plain ok.
    pub detail: Option<String>,
}

impl PermissionCheck {
    fn ok(permission: &'static str, detail: Option<String>) -> Self {
        PermissionCheck {
            permission,
            result: Outcome::Ok,
            error_code: None,
            detail,
        }
    }

    fn not_tested(permission: &'static str, why: &str) -> Self {
        PermissionCheck {
            permission,
            result: Outcome::NotTested,
            error_code: None,
            detail: Some(why.to_string()),
        }
    }

    /// Settles a probe: *not configured* proves the permission too.
    fn settle(permission: &'static str, answer: Result<(), AwsFailure>, context: &str) -> Self {
        let failure = match answer {
            Ok(()) => return PermissionCheck::ok(permission, None),
            Err(failure) => failure,
        };
        let prefix = if context.is_empty() {
            String::new()
        } else {
            format!("{context}: ")
        };
        let result = match failure.class {
            ErrorClass::NotConfigured => {
                return PermissionCheck::ok(
                    permission,
                    Some(format!(
                        "{prefix}{} (not configured; the call is allowed)",
                        failure.code
                    )),
                );
            }
            ErrorClass::Denied => Outcome::Denied,
            _ => Outcome::Error,
        };
        PermissionCheck {
            permission,
            result,
            error_code: Some(failure.code),
            detail: Some(format!("{prefix}{}", failure.message)),
        }
    }
}

/// Every permission checked in one account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountCheck {
    pub account_id: String,
    pub name: Option<String>,
    pub role_arn: String,
    /// Whether every permission is ok or not tested.
    pub ok: bool,
    pub results: Vec<PermissionCheck>,
}

/// The check of a whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The permissions checked, in order (the columns of the table).
    pub permissions: Vec<&'static str>,
    /// One entry per planned account, by account id.
    pub accounts: Vec<AccountCheck>,
}

impl CheckReport {
    /// Whether every account has every permission it needs.
    pub fn all_ok(&self) -> bool {
        self.accounts.iter().all(|a| a.ok)
    }
}

/// The permissions the configured collectors need, AssumeRole first, then in
/// the collectors' order, each once.
pub fn required_permissions(config: &Config) -> Vec<&'static str> {
    let mut permissions = vec![ASSUME_ROLE];
    if config.collectors.iter().any(|c| c.scope == Scope::Regional) {
        permissions.push(DESCRIBE_REGIONS);
    }
    for collector in &config.collectors {
        for action in collector.actions {
            if !permissions.contains(action) {
                permissions.push(action);
            }
        }
    }
    permissions
}

/// Checks every target, `concurrency.accounts` at a time.
pub async fn check(config: &Config, base: &BaseAws, targets: &[Target]) -> CheckReport {
    let permissions = required_permissions(config);
    let mut accounts: Vec<AccountCheck> = futures::stream::iter(targets)
        .map(|target| check_account(config, base, target, &permissions))
        .buffer_unordered(config.concurrency.accounts)
        .collect()
        .await;
    accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    CheckReport {
        permissions,
        accounts,
    }
}

async fn check_account(
    config: &Config,
    base: &BaseAws,
    target: &Target,
    permissions: &[&'static str],
) -> AccountCheck {
    let request = RoleRequest {
        account_id: target.account_id.clone(),
        role_arn: target.role_arn.clone(),
        external_id: target.external_id.clone(),
        session_name: config.role.session_name_for("check"),
        session_duration: config.role.session_duration,
        refresh_buffer: config.role.refresh_buffer,
    };
    let results = match AccountSession::assume(base, &request).await {
        Err(failure) => {
            tracing::warn!(account = %target.account_id, "{failure}");
            let mut results = vec![PermissionCheck::settle(ASSUME_ROLE, Err(failure), "")];
            results.extend(
                permissions
                    .iter()
                    .filter(|p| **p != ASSUME_ROLE)
                    .map(|p| PermissionCheck::not_tested(p, "the role could not be assumed")),
            );
            results
        }
        Ok(session) => probe_account(&session, permissions).await,
    };
    let ok = !results.iter().any(|r| r.result.is_problem());
    tracing::info!(account = %target.account_id, ok, "account checked");
    AccountCheck {
        account_id: target.account_id.clone(),
        name: target.name.clone(),
        role_arn: target.role_arn.clone(),
        ok,
        results,
    }
}

/// The bucket the per-bucket probes use.
enum FirstBucket {
    Found {
        name: String,
        region: Option<String>,
    },
    /// Why no bucket can be tried.
    Missing(&'static str),
}

async fn probe_account(
    session: &AccountSession,
    permissions: &[&'static str],
) -> Vec<PermissionCheck> {
    let account_level = permissions
        .iter()
        .copied()
        .filter(|p| *p != LIST_BUCKETS && ACCOUNT_PROBES.contains(p));
    let account_checks = futures::future::join_all(account_level.map(|permission| async move {
        PermissionCheck::settle(permission, probe(session, permission).await, "")
    }));
    let (mut account_checks, (list_check, bucket)) = futures::join!(account_checks, async {
        if permissions.contains(&LIST_BUCKETS) {
            let (check, bucket) = first_bucket(session).await;
            (Some(check), bucket)
        } else {
            (
                None,
                FirstBucket::Missing("s3:ListAllMyBuckets is not needed"),
            )
        }
    });
    account_checks.extend(list_check);
    let bucket_permissions: Vec<&'static str> = permissions
        .iter()
        .copied()
        .filter(|p| BUCKET_PROBES.contains(p))
        .collect();
    match &bucket {
        FirstBucket::Found { name, region } => {
            let context = format!("bucket {name}");
            let region = region.as_deref().unwrap_or(&session.home_region);
            let checks = futures::future::join_all(bucket_permissions.iter().map(|permission| {
                let context = context.as_str();
                async move {
                    let answer = probe_bucket(session, permission, name, region).await;
                    PermissionCheck::settle(permission, answer, context)
                }
            }))
            .await;
            account_checks.extend(checks);
        }
        FirstBucket::Missing(why) => account_checks.extend(
            bucket_permissions
                .iter()
                .map(|p| PermissionCheck::not_tested(p, why)),
        ),
    }
    // Report in the order of `permissions`; anything without a probe says so.
    let mut results = vec![PermissionCheck::ok(ASSUME_ROLE, None)];
    for permission in permissions.iter().filter(|p| **p != ASSUME_ROLE) {
        match account_checks
            .iter()
            .position(|c| c.permission == *permission)
        {
            Some(index) => results.push(account_checks.swap_remove(index)),
            None => results.push(PermissionCheck {
                permission,
                result: Outcome::Error,
                error_code: Some("NoProbe".into()),
                detail: Some(format!("fleetscan has no check for {permission}")),
            }),
        }
    }
    results
}

/// `ListBuckets` with a page of one: the permission and the bucket to probe.
async fn first_bucket(session: &AccountSession) -> (PermissionCheck, FirstBucket) {
    let answer = session
        .s3(&session.home_region)
        .list_buckets()
        .max_buckets(1)
        .send()
        .await
        .map_err(|e| classify(&e));
    match answer {
        Ok(out) => {
            let bucket = match out.buckets().first().and_then(|b| {
                let name = b.name()?.to_string();
                let region = b
                    .bucket_region()
                    .filter(|r| !r.is_empty())
                    .map(str::to_string);
                Some((name, region))
            }) {
                Some((name, region)) => FirstBucket::Found { name, region },
                None => FirstBucket::Missing("no bucket in this account to try it on"),
            };
            (PermissionCheck::ok(LIST_BUCKETS, None), bucket)
        }
        Err(failure) => (
            PermissionCheck::settle(LIST_BUCKETS, Err(failure), ""),
            FirstBucket::Missing("ListBuckets failed, so no bucket to try it on"),
        ),
    }
}

/// One account-level probe.
async fn probe(session: &AccountSession, permission: &str) -> Result<(), AwsFailure> {
    let home = session.home_region.as_str();
    match permission {
        DESCRIBE_REGIONS => regions::enabled_regions(session).await.map(drop),
        "ec2:DescribeInstances" => session
            .ec2(home)
            .describe_instances()
            .max_results(EC2_PROBE_PAGE)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "ec2:DescribeSecurityGroups" => session
            .ec2(home)
            .describe_security_groups()
            .max_results(EC2_PROBE_PAGE)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "ec2:DescribeVolumes" => session
            .ec2(home)
            .describe_volumes()
            .max_results(EC2_PROBE_PAGE)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetAccountPublicAccessBlock" => session
            .s3control()
            .get_public_access_block()
            .account_id(&session.account_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        other => Err(no_probe(other)),
    }
}

/// One per-bucket probe, sent to the bucket's region (GetBucketLocation, which
/// finds that region, goes to the home region).
async fn probe_bucket(
    session: &AccountSession,
    permission: &str,
    bucket: &str,
    region: &str,
) -> Result<(), AwsFailure> {
    let client = session.s3(region);
    match permission {
        "s3:GetBucketLocation" => session
            .s3(&session.home_region)
            .get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketPublicAccessBlock" => client
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketPolicyStatus" => client
            .get_bucket_policy_status()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetEncryptionConfiguration" => client
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketVersioning" => client
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketOwnershipControls" => client
            .get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketLogging" => client
            .get_bucket_logging()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketTagging" => client
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        "s3:GetBucketAcl" => client
            .get_bucket_acl()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify(&e)),
        other => Err(no_probe(other)),
    }
}

fn no_probe(permission: &str) -> AwsFailure {
    AwsFailure::new(
        ErrorClass::Error,
        "NoProbe",
        format!("fleetscan has no check for {permission}"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collectors::REGISTRY;
    use crate::config::parse;

    #[test]
    fn every_collector_action_has_a_probe() {
        for collector in REGISTRY {
            for action in collector.actions {
                assert!(
                    has_probe(action),
                    "{action} of {} has no probe in check.rs",
                    collector.name
                );
            }
        }
        assert!(has_probe(DESCRIBE_REGIONS));
    }

    #[test]
    fn permissions_follow_the_enabled_collectors() {
        let all = parse("", None, &|_| None).unwrap();
        let permissions = required_permissions(&all);
        assert_eq!(permissions[..2], [ASSUME_ROLE, DESCRIBE_REGIONS]);
        let actions: usize = REGISTRY.iter().map(|c| c.actions.len()).sum();
        assert_eq!(permissions.len(), 2 + actions);

        let global_only = parse(
            "collectors: [s3_account_public_access_block]\n",
            None,
            &|_| None,
        )
        .unwrap();
        assert_eq!(
            required_permissions(&global_only),
            [ASSUME_ROLE, "s3:GetAccountPublicAccessBlock"]
        );
    }

    #[test]
    fn not_configured_proves_the_permission() {
        let not_configured = AwsFailure::new(
            ErrorClass::NotConfigured,
            "NoSuchPublicAccessBlockConfiguration",
            "none",
        );
        let check =
            PermissionCheck::settle("s3:GetAccountPublicAccessBlock", Err(not_configured), "");
        assert_eq!(check.result, Outcome::Ok);
        let denied = AwsFailure::new(ErrorClass::Denied, "UnauthorizedOperation", "no");
        let check = PermissionCheck::settle("ec2:DescribeVolumes", Err(denied), "");
        assert_eq!(check.result, Outcome::Denied);
        assert_eq!(check.error_code.as_deref(), Some("UnauthorizedOperation"));
        let throttled = AwsFailure::new(ErrorClass::Throttled, "Throttling", "slow down");
        let check = PermissionCheck::settle("ec2:DescribeVolumes", Err(throttled), "bucket b");
        assert_eq!(check.result, Outcome::Error);
        assert_eq!(check.detail.as_deref(), Some("bucket b: slow down"));
        assert!(!Outcome::NotTested.is_problem());
    }
}
