//! Keeps the shipped IAM policies honest: a full scan (the real binary, every
//! collector, every region) against the fake endpoint, every operation it
//! called mapped to its IAM action, compared with `deploy/`. The member role
//! policy must grant every action a member session used and nothing it did
//! not; the scanning principal's policy likewise for Organizations and STS.

#[path = "ops/common.rs"]
mod common;

use std::collections::BTreeSet;

use fleetscan_fakeaws::{Faults, Operation};
use serde_json::Value;

const MEMBER_POLICY: &str = include_str!("../../deploy/member-role-policy.json");
const SCANNER_POLICY: &str = include_str!("../../deploy/scanner-policy.json");

/// The IAM action that authorizes an operation (`None`: no permission needed).
/// Exhaustive on purpose: an operation the fake learns must be mapped here.
fn iam_action(operation: Operation) -> Option<&'static str> {
    use Operation::*;
    Some(match operation {
        AssumeRole => "sts:AssumeRole",
        // Always allowed; no policy can deny it.
        GetCallerIdentity => return None,
        DescribeOrganization => "organizations:DescribeOrganization",
        ListAccounts => "organizations:ListAccounts",
        ListRoots => "organizations:ListRoots",
        ListOrganizationalUnitsForParent => "organizations:ListOrganizationalUnitsForParent",
        ListChildren => "organizations:ListChildren",
        ListAccountsForParent => "organizations:ListAccountsForParent",
        ListParents => "organizations:ListParents",
        DescribeRegions => "ec2:DescribeRegions",
        DescribeInstances => "ec2:DescribeInstances",
        DescribeSecurityGroups => "ec2:DescribeSecurityGroups",
        DescribeVolumes => "ec2:DescribeVolumes",
        ListBuckets => "s3:ListAllMyBuckets",
        GetBucketLocation => "s3:GetBucketLocation",
        // The bucket-level call of S3 (S3 Control's is below).
        GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        GetBucketVersioning => "s3:GetBucketVersioning",
        GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
        GetBucketLogging => "s3:GetBucketLogging",
        GetBucketTagging => "s3:GetBucketTagging",
        GetBucketAcl => "s3:GetBucketAcl",
        GetAccountPublicAccessBlock => "s3:GetAccountPublicAccessBlock",
    })
}

/// Granted although a scan of the fake never calls them, each with the reason.
const CALLED_ONLY_SOMETIMES: &[(&str, &str)] = &[(
    "s3:GetBucketLocation",
    "only when ListBuckets gives no BucketRegion (older endpoints, moto); the fake always gives it",
)];

fn allowed_actions(policy: &str) -> BTreeSet<String> {
    let policy: Value = serde_json::from_str(policy).expect("policy JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("Statement list") {
        match &statement["Action"] {
            Value::String(action) => {
                actions.insert(action.clone());
            }
            Value::Array(list) => actions.extend(
                list.iter()
                    .map(|a| a.as_str().expect("action string").to_string()),
            ),
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

#[test]
fn the_shipped_policies_grant_exactly_what_a_full_scan_calls() {
    let world = common::World::start(Faults::none());
    // Defaults: every collector, every enabled region, OU paths (the tree walk).
    let config = world.config("");
    world
        .fleetscan
        .run([
            "scan",
            "--config",
            config.to_str().expect("path"),
            "--no-progress",
        ])
        .expect_code(0, "full scan");

    let stats = world.fake.stats();
    assert!(
        stats.unsupported.is_empty(),
        "calls the fake does not serve (and this test cannot map): {:?}",
        stats.unsupported
    );
    let management = world.management_account();
    let members: BTreeSet<String> = world.active_members().into_iter().collect();
    let mut member_calls = BTreeSet::new();
    let mut scanner_calls = BTreeSet::new();
    for call in &stats.calls {
        let Some(action) = iam_action(call.operation) else {
            continue;
        };
        if call.account == management {
            scanner_calls.insert(action.to_string());
        } else {
            assert!(
                members.contains(&call.account),
                "{} called as account {}, which is not a scanned member",
                call.operation,
                call.account
            );
            member_calls.insert(action.to_string());
        }
    }

    let member_policy = allowed_actions(MEMBER_POLICY);
    let missing: Vec<&String> = member_calls.difference(&member_policy).collect();
    assert!(
        missing.is_empty(),
        "deploy/member-role-policy.json lacks {missing:?}"
    );
    let sometimes: BTreeSet<String> = CALLED_ONLY_SOMETIMES
        .iter()
        .map(|(action, _)| action.to_string())
        .collect();
    let unused: Vec<&String> = member_policy
        .difference(&member_calls)
        .filter(|action| !sometimes.contains(*action))
        .collect();
    assert!(
        unused.is_empty(),
        "deploy/member-role-policy.json grants {unused:?}, which the scan never called"
    );
    for (action, why) in CALLED_ONLY_SOMETIMES {
        assert!(
            member_policy.contains(*action),
            "{action} is listed as sometimes called but not granted"
        );
        assert!(
            !member_calls.contains(*action),
            "{action} was called after all ({why} no longer holds): drop it from CALLED_ONLY_SOMETIMES"
        );
    }

    // The scanning principal: Organizations to plan, STS to assume the roles.
    assert_eq!(scanner_calls, allowed_actions(SCANNER_POLICY));

    // Every collector's declared actions are granted.
    for collector in fleetscan_scan::collectors::REGISTRY {
        for action in collector.actions {
            assert!(
                member_policy.contains(*action),
                "collector {} declares {action}, which the member policy lacks",
                collector.name
            );
        }
    }
}
