//! Checks of the moto harness itself: the launcher's patch and counters, and that the
//! seeder builds the organization the end-to-end tests rely on.

use std::collections::BTreeSet;

use fleetscan_tests::manifest::Manifest;
use fleetscan_tests::moto::Moto;

fn seeded() -> (Moto, tempfile::TempDir, Manifest) {
    let moto = Moto::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = moto.seed(dir.path());
    (moto, dir, manifest)
}

#[test]
fn seeder_builds_the_organization_the_issue_asks_for() {
    let (_moto, _dir, manifest) = seeded();
    let organization = &manifest.organization;
    let members: Vec<_> = organization
        .accounts
        .iter()
        .filter(|account| account.id != organization.management_account_id)
        .collect();
    assert!(
        members.len() >= 5,
        "at least 5 member accounts, got {}",
        members.len()
    );
    let top_level: BTreeSet<_> = members
        .iter()
        .filter_map(|account| account.ou_path.first().cloned())
        .collect();
    assert!(
        top_level.len() >= 2,
        "members spread over at least 2 OUs: {top_level:?}"
    );

    let reasons: BTreeSet<_> = organization
        .accounts
        .iter()
        .filter_map(|a| a.not_scanned_because.clone())
        .collect();
    for reason in ["outside_ou", "suspended", "excluded", "management"] {
        assert!(
            reasons.contains(reason),
            "an account not scanned because {reason}: {reasons:?}"
        );
    }
    let suspended = manifest.account_named("legacy");
    assert_eq!(suspended.state.as_deref(), Some("SUSPENDED"));

    let expected: Vec<String> = organization
        .accounts
        .iter()
        .filter(|a| a.scanned)
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(manifest.scan.expected_accounts, expected);
    assert!(expected.len() >= 4);
    assert_eq!(manifest.scan.regions.len(), 3);

    // Every scanned account has instances in each of the three regions.
    for account_id in &expected {
        for region in &manifest.regions {
            let instances = &manifest.fleet[account_id].instances[region];
            assert!(
                !instances.is_empty(),
                "{account_id} has instances in {region}"
            );
        }
    }
    // At least one account and region needs two pages of 5.
    let largest = expected
        .iter()
        .flat_map(|account_id| manifest.fleet[account_id].instances.values())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    assert!(
        largest > 5,
        "some region holds more than one EC2 page of 5, largest has {largest}"
    );

    let instances: Vec<_> = expected
        .iter()
        .flat_map(|account_id| manifest.fleet[account_id].instances.values().flatten())
        .collect();
    let tokens: BTreeSet<_> = instances
        .iter()
        .filter_map(|i| i.imds_http_tokens.clone())
        .collect();
    assert_eq!(
        tokens,
        BTreeSet::from(["optional".to_string(), "required".to_string()])
    );
    assert!(
        instances.iter().any(|i| i.public_ip.is_some())
            && instances.iter().any(|i| i.public_ip.is_none())
    );
    assert!(instances.iter().any(|i| {
        i.name
            .as_deref()
            .is_some_and(|name| name.contains('"') && !name.is_ascii())
    }));
    assert!(
        instances
            .iter()
            .any(|i| i.state.as_deref() == Some("stopped"))
    );

    let buckets: Vec<_> = expected
        .iter()
        .flat_map(|account_id| manifest.fleet[account_id].buckets.iter())
        .collect();
    let block: BTreeSet<_> = buckets.iter().map(|b| b.block_public_acls).collect();
    assert_eq!(
        block,
        BTreeSet::from([None, Some(false), Some(true)]),
        "public access block on, off and absent"
    );
    let sse: BTreeSet<_> = buckets.iter().map(|b| b.sse_algorithm.clone()).collect();
    assert_eq!(
        sse,
        BTreeSet::from([None, Some("AES256".into()), Some("aws:kms".into())])
    );
    let versioning: BTreeSet<_> = buckets.iter().map(|b| b.versioning.clone()).collect();
    assert_eq!(
        versioning,
        BTreeSet::from([None, Some("Enabled".into()), Some("Suspended".into())])
    );
    let regions: BTreeSet<_> = buckets.iter().filter_map(|b| b.region.clone()).collect();
    assert_eq!(
        regions,
        BTreeSet::from([
            "ap-southeast-2".into(),
            "eu-west-1".into(),
            "us-east-1".into()
        ])
    );
    assert!(buckets.iter().any(|b| b.policy_is_public == Some(true)));
    assert!(buckets.iter().any(|b| b.logging_target_bucket.is_some()));
    assert!(buckets.iter().any(|b| {
        b.tags
            .as_ref()
            .is_some_and(|tags| tags.values().any(|v| !v.is_ascii()))
    }));
    assert!(buckets.iter().any(|b| b.tags.is_none()));
    let ownership: BTreeSet<_> = buckets.iter().map(|b| b.object_ownership.clone()).collect();
    assert!(
        ownership.len() >= 3,
        "varied object ownership: {ownership:?}"
    );
}

#[test]
fn launcher_answers_get_bucket_versioning_under_the_root_s3_uses() {
    let (moto, _dir, manifest) = seeded();
    // A bucket of the management account (moto's default, reached with the test key).
    let bucket =
        &manifest.fleet[&manifest.organization.management_account_id].buckets[0].bucket_name;
    moto.reset_calls();
    let (status, body) = moto.raw_request("GET", &format!("/{bucket}?versioning"), "s3");
    assert!(status.contains(" 200 "), "{status}: {body}");
    assert!(
        body.contains("<VersioningConfiguration"),
        "patched root element: {body}"
    );
    assert!(
        !body.contains("GetBucketVersioningResponse"),
        "no trace of moto's root: {body}"
    );
    let calls = moto.calls();
    assert_eq!(
        calls.operation("s3:GetBucketVersioning"),
        1,
        "{:?}",
        calls.operations
    );
    assert_eq!(calls.total, 1);
}

#[test]
fn launcher_counts_assume_role_per_account_and_resets() {
    let (moto, _dir, manifest) = seeded();
    let calls = moto.calls();
    // The seeder assumes the role once per account to seed and once more to read back.
    for account in manifest
        .organization
        .accounts
        .iter()
        .filter(|a| a.id != manifest.organization.management_account_id)
    {
        let seen = calls.assume_role.get(&account.id).copied().unwrap_or(0);
        assert!(
            seen >= 1,
            "AssumeRole into {} counted: {:?}",
            account.id,
            calls.assume_role
        );
        assert_eq!(
            calls.assume_role_arns.get(&account.role_arn).copied(),
            Some(seen)
        );
        // Calls made with that account's credentials are attributed to it.
        assert!(
            calls
                .by_account
                .get(&account.id)
                .is_some_and(|ops| ops.contains_key("ec2:DescribeInstances"))
        );
    }
    assert!(calls.total > 0);

    moto.reset_calls();
    let after = moto.calls();
    assert_eq!(after.total, 0);
    assert!(after.assume_role.is_empty());

    let issued = moto.issued_credentials();
    assert!(!issued.is_empty());
    assert!(
        issued
            .iter()
            .all(|credential| !credential.secret_access_key.is_empty())
    );
}
