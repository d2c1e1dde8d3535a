//! End-to-end through the real AWS SDK for Rust: every served operation is
//! called once (paginated ones over several pages) and every field the scanner
//! reads is compared with the fleet's ground truth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use aws_sdk_s3::types::BucketVersioningStatus;
use fleetscan_fakeaws::{
    AccountState, CallFilter, FakeAws, Faults, FleetSpec, Injected, Operation, RuleSource,
    Versioning,
};
use std::collections::BTreeSet;

fn spec() -> FleetSpec {
    FleetSpec {
        seed: 11,
        accounts: 7,
        suspended_accounts: 1,
        closed_accounts: 1,
        instances_per_region: fleetscan_fakeaws::Count::Exactly(12),
        security_groups_per_region: fleetscan_fakeaws::Count::Exactly(7),
        volumes_per_region: fleetscan_fakeaws::Count::Exactly(11),
        buckets_per_account: fleetscan_fakeaws::Count::Exactly(9),
        opted_in_fraction: 0.5,
        ..FleetSpec::default()
    }
}

async fn base_config(fake: &FakeAws) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(fake.endpoint_url())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIAOPERATOR00000001",
            "base-secret",
            None,
            None,
            "test",
        )))
        .load()
        .await
}

/// The per-account config, built the way fleetscan does: an AssumeRoleProvider
/// from the base config.
async fn account_config(
    base: &aws_config::SdkConfig,
    account_id: &str,
    region: &str,
) -> aws_config::SdkConfig {
    let provider = AssumeRoleProvider::builder(format!(
        "arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    ))
    .session_name("fleetscan-test")
    .configure(base)
    .build()
    .await;
    base.to_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_and_organizations_parse_and_page_through_the_sdk() {
    let fake = FakeAws::start(spec(), Faults::none()).await.unwrap();
    let fleet = fake.fleet();
    let base = base_config(&fake).await;

    let sts = aws_sdk_sts::Client::new(&base);
    let identity = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(
        identity.account(),
        Some(fleet.management_account().id.as_str())
    );

    let member = &fleet
        .members()
        .iter()
        .find(|a| a.state == AccountState::Active)
        .unwrap()
        .id;
    let assumed = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("smoke")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let credentials = assumed.credentials().unwrap();
    assert!(credentials.access_key_id().starts_with("ASIA"));
    assert!(!credentials.secret_access_key().is_empty());
    assert!(!credentials.session_token().is_empty());
    let lifetime = credentials.expiration().secs() - aws_smithy_now();
    assert!((850..=905).contains(&lifetime), "lifetime {lifetime}");
    assert_eq!(
        assumed.assumed_role_user().unwrap().arn(),
        format!("arn:aws:sts::{member}:assumed-role/OrganizationAccountAccessRole/smoke")
    );

    // Unknown account: AccessDenied.
    let denied = sts
        .assume_role()
        .role_arn("arn:aws:iam::999999999999:role/OrganizationAccountAccessRole")
        .role_session_name("smoke")
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));

    let organizations = aws_sdk_organizations::Client::new(&base);
    let organization = organizations.describe_organization().send().await.unwrap();
    let organization = organization.organization().unwrap();
    assert_eq!(
        organization.master_account_id(),
        Some(fleet.management_account().id.as_str())
    );
    assert_eq!(organization.id(), Some(fleet.organization_id()));

    let accounts: Vec<_> = organizations
        .list_accounts()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|page| page.accounts().to_vec())
        .collect();
    assert_eq!(accounts.len(), fleet.accounts().len());
    for (got, want) in accounts.iter().zip(fleet.accounts()) {
        assert_eq!(got.id(), Some(want.id.as_str()));
        assert_eq!(got.name(), Some(want.name.as_str()));
        assert_eq!(got.email(), Some(want.email.as_str()));
        assert_eq!(got.arn(), Some(want.arn.as_str()));
        assert_eq!(got.state().map(|s| s.as_str()), Some(want.state.as_str()));
        assert_eq!(got.status().map(|s| s.as_str()), Some(want.state.status()));
        assert_eq!(
            got.joined_timestamp().map(|t| t.secs()),
            Some(want.joined_timestamp)
        );
    }
    assert!(fake.stats().count(Operation::ListAccounts) >= 4);

    let roots = organizations.list_roots().send().await.unwrap();
    assert_eq!(roots.roots()[0].id(), Some(fleet.root_id()));

    // Walk the tree with ListOrganizationalUnitsForParent / ListChildren /
    // ListAccountsForParent and find every account exactly once.
    let mut parents = vec![fleet.root_id().to_owned()];
    let mut found = BTreeSet::new();
    while let Some(parent) = parents.pop() {
        let ous: Vec<_> = organizations
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .max_results(1)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
            .iter()
            .flat_map(|page| page.organizational_units().to_vec())
            .collect();
        let child_ous: Vec<_> = organizations
            .list_children()
            .parent_id(&parent)
            .child_type(aws_sdk_organizations::types::ChildType::OrganizationalUnit)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
            .iter()
            .flat_map(|page| page.children().to_vec())
            .collect();
        assert_eq!(ous.len(), child_ous.len());
        parents.extend(ous.iter().map(|ou| ou.id().unwrap().to_owned()));
        let direct: Vec<_> = organizations
            .list_accounts_for_parent()
            .parent_id(&parent)
            .max_results(1)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
            .iter()
            .flat_map(|page| page.accounts().to_vec())
            .collect();
        for account in direct {
            assert!(found.insert(account.id().unwrap().to_owned()));
        }
    }
    assert_eq!(found.len(), fleet.accounts().len());

    let parents = organizations
        .list_parents()
        .child_id(member)
        .send()
        .await
        .unwrap();
    assert_eq!(
        parents.parents()[0].id(),
        Some(fleet.account(member).unwrap().parent_id.as_str())
    );
    let missing = organizations
        .list_children()
        .parent_id("ou-nope-00000000")
        .child_type(aws_sdk_organizations::types::ChildType::Account)
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ParentNotFoundException"));
}

fn aws_smithy_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_fields_match_the_fleet_through_the_sdk() {
    let fake = FakeAws::start(spec(), Faults::none()).await.unwrap();
    let fleet = fake.fleet();
    let base = base_config(&fake).await;
    let member = fleet
        .members()
        .iter()
        .find(|a| a.state == AccountState::Active)
        .unwrap()
        .id
        .clone();
    let region = "eu-west-1";
    let config = account_config(&base, &member, region).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);

    let regions = ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .unwrap();
    let listed: Vec<(&str, &str)> = regions
        .regions()
        .iter()
        .map(|r| (r.region_name().unwrap(), r.opt_in_status().unwrap()))
        .collect();
    assert_eq!(listed.len(), fleet.regions().len());
    let enabled_only = ec2
        .describe_regions()
        .filters(
            Filter::builder()
                .name("opt-in-status")
                .values("opt-in-not-required")
                .values("opted-in")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let enabled: Vec<&str> = enabled_only
        .regions()
        .iter()
        .map(|r| r.region_name().unwrap())
        .collect();
    assert_eq!(enabled, fleet.enabled_regions(&member));

    let resources = fleet.resources(&member).unwrap();
    let truth = resources.region(fleet, region).unwrap();

    let reservations: Vec<_> = ec2
        .describe_instances()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let instances: Vec<_> = reservations.iter().flat_map(|r| r.instances()).collect();
    assert_eq!(instances.len(), truth.instances.len());
    assert_eq!(
        fake.stats()
            .count_in(Operation::DescribeInstances, &member, region),
        3
    );
    for (got, want) in instances.iter().zip(&truth.instances) {
        assert_eq!(got.instance_id(), Some(want.instance_id.as_str()));
        assert_eq!(
            got.instance_type().map(|t| t.as_str()),
            Some(want.instance_type.as_str())
        );
        assert_eq!(got.image_id(), Some(want.image_id.as_str()));
        assert_eq!(
            got.state().and_then(|s| s.name()).map(|n| n.as_str()),
            Some(want.state)
        );
        assert_eq!(
            got.state().and_then(|s| s.code()),
            Some(want.state_code as i32)
        );
        assert_eq!(got.launch_time().map(|t| t.secs()), Some(want.launch_time));
        assert_eq!(
            got.placement().and_then(|p| p.availability_zone()),
            Some(want.availability_zone.as_str())
        );
        assert_eq!(got.vpc_id(), want.vpc_id.as_deref());
        assert_eq!(got.subnet_id(), want.subnet_id.as_deref());
        assert_eq!(got.private_ip_address(), want.private_ip.as_deref());
        assert_eq!(got.public_ip_address(), want.public_ip.as_deref());
        assert_eq!(
            got.iam_instance_profile().and_then(|p| p.arn()),
            want.iam_instance_profile_arn.as_deref()
        );
        assert_eq!(got.key_name(), want.key_name.as_deref());
        assert_eq!(got.platform().map(|p| p.as_str()), want.platform);
        let metadata = got.metadata_options().unwrap();
        assert_eq!(
            metadata.http_tokens().map(|t| t.as_str()),
            Some(want.imds_http_tokens)
        );
        assert_eq!(
            metadata.http_endpoint().map(|e| e.as_str()),
            Some(want.imds_http_endpoint)
        );
        let groups: Vec<(String, String)> = got
            .security_groups()
            .iter()
            .map(|g| {
                (
                    g.group_id().unwrap().to_owned(),
                    g.group_name().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(groups, want.security_groups);
        let tags: Vec<(&str, &str)> = got
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap()))
            .collect();
        let want_tags: Vec<(&str, &str)> = want
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(tags, want_tags);
    }

    let groups: Vec<_> = ec2
        .describe_security_groups()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(groups.len(), truth.security_groups.len());
    for (got, want) in groups.iter().zip(&truth.security_groups) {
        assert_eq!(got.group_id(), Some(want.group_id.as_str()));
        assert_eq!(got.group_name(), Some(want.group_name.as_str()));
        assert_eq!(got.description(), Some(want.description.as_str()));
        assert_eq!(got.vpc_id(), Some(want.vpc_id.as_str()));
        for (got_permissions, want_permissions) in [
            (got.ip_permissions(), &want.ingress),
            (got.ip_permissions_egress(), &want.egress),
        ] {
            assert_eq!(got_permissions.len(), want_permissions.len());
            for (got, want) in got_permissions.iter().zip(want_permissions) {
                assert_eq!(got.ip_protocol(), Some(want.protocol.as_str()));
                assert_eq!(got.from_port().map(i64::from), want.from_port);
                assert_eq!(got.to_port().map(i64::from), want.to_port);
                let mut sources = Vec::new();
                for pair in got.user_id_group_pairs() {
                    sources.push(RuleSource::Group {
                        user_id: pair.user_id().unwrap().to_owned(),
                        group_id: pair.group_id().unwrap().to_owned(),
                        description: pair.description().map(str::to_owned),
                    });
                }
                for range in got.ip_ranges() {
                    sources.push(RuleSource::Cidr {
                        cidr: range.cidr_ip().unwrap().to_owned(),
                        description: range.description().map(str::to_owned),
                    });
                }
                for range in got.ipv6_ranges() {
                    sources.push(RuleSource::CidrIpv6 {
                        cidr: range.cidr_ipv6().unwrap().to_owned(),
                        description: range.description().map(str::to_owned),
                    });
                }
                for list in got.prefix_list_ids() {
                    sources.push(RuleSource::PrefixList {
                        prefix_list_id: list.prefix_list_id().unwrap().to_owned(),
                        description: list.description().map(str::to_owned),
                    });
                }
                let mut want_sources = want.sources.clone();
                let key = |s: &RuleSource| format!("{s:?}");
                sources.sort_by_key(key);
                want_sources.sort_by_key(key);
                assert_eq!(sources, want_sources);
            }
        }
    }

    let volumes: Vec<_> = ec2
        .describe_volumes()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(volumes.len(), truth.volumes.len());
    for (got, want) in volumes.iter().zip(&truth.volumes) {
        assert_eq!(got.volume_id(), Some(want.volume_id.as_str()));
        assert_eq!(got.size().map(i64::from), Some(want.size_gib));
        assert_eq!(
            got.volume_type().map(|t| t.as_str()),
            Some(want.volume_type)
        );
        assert_eq!(got.encrypted(), Some(want.encrypted));
        assert_eq!(got.kms_key_id(), want.kms_key_id.as_deref());
        assert_eq!(got.state().map(|s| s.as_str()), Some(want.state));
        assert_eq!(
            got.availability_zone(),
            Some(want.availability_zone.as_str())
        );
        assert_eq!(got.create_time().map(|t| t.secs()), Some(want.create_time));
        let attached: Vec<String> = got
            .attachments()
            .iter()
            .map(|a| a.instance_id().unwrap().to_owned())
            .collect();
        assert_eq!(attached, want.attached_instance_ids);
    }

    // One AssumeRole for the whole account session, however many calls.
    assert_eq!(fake.stats().assume_role_count(&member), 1);

    // A region the account has not enabled.
    let disabled = fleet
        .regions()
        .iter()
        .find(|r| !fleet.region_enabled(&member, &r.name))
        .map(|r| r.name.clone());
    if let Some(disabled) = disabled {
        let config = account_config(&base, &member, &disabled).await;
        let error = aws_sdk_ec2::Client::new(&config)
            .describe_instances()
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("OptInRequired"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_posture_matches_the_fleet_through_the_sdk() {
    let fake = FakeAws::start(spec(), Faults::none()).await.unwrap();
    let fleet = fake.fleet();
    let base = base_config(&fake).await;
    let member = fleet
        .members()
        .iter()
        .find(|a| a.state == AccountState::Active)
        .unwrap()
        .id
        .clone();
    let config = account_config(&base, &member, "us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );

    let mut names = Vec::new();
    let mut pages = s3.list_buckets().max_buckets(4).into_paginator().send();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        page_count += 1;
        for bucket in page.buckets() {
            names.push((
                bucket.name().unwrap().to_owned(),
                bucket.bucket_region().unwrap().to_owned(),
                bucket.creation_date().unwrap().secs(),
            ));
        }
    }
    assert_eq!(page_count, 3);
    let resources = fleet.resources(&member).unwrap();
    let want: Vec<(String, String, i64)> = resources
        .buckets
        .iter()
        .map(|b| (b.name.clone(), b.region.clone(), b.creation_date))
        .collect();
    assert_eq!(names, want);

    let mut not_configured = BTreeSet::new();
    for bucket in &resources.buckets {
        let name = bucket.name.as_str();
        let location = s3.get_bucket_location().bucket(name).send().await.unwrap();
        let location = location
            .location_constraint()
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default();
        if bucket.region == "us-east-1" {
            assert_eq!(location, "");
        } else {
            assert_eq!(location, bucket.region);
        }

        match s3.get_public_access_block().bucket(name).send().await {
            Ok(output) => {
                let got = output.public_access_block_configuration().unwrap();
                let want = bucket.public_access_block.unwrap();
                assert_eq!(got.block_public_acls(), Some(want.block_public_acls));
                assert_eq!(got.ignore_public_acls(), Some(want.ignore_public_acls));
                assert_eq!(got.block_public_policy(), Some(want.block_public_policy));
                assert_eq!(
                    got.restrict_public_buckets(),
                    Some(want.restrict_public_buckets)
                );
            }
            Err(error) => {
                assert!(bucket.public_access_block.is_none());
                not_configured.insert(error.code().unwrap().to_owned());
            }
        }
        match s3.get_bucket_policy_status().bucket(name).send().await {
            Ok(output) => assert_eq!(
                output.policy_status().unwrap().is_public(),
                bucket.policy_is_public
            ),
            Err(error) => {
                assert!(bucket.policy_is_public.is_none());
                not_configured.insert(error.code().unwrap().to_owned());
            }
        }
        match s3.get_bucket_encryption().bucket(name).send().await {
            Ok(output) => {
                let rule = &output
                    .server_side_encryption_configuration()
                    .unwrap()
                    .rules()[0];
                let default = rule.apply_server_side_encryption_by_default().unwrap();
                let want = bucket.encryption.as_ref().unwrap();
                assert_eq!(default.sse_algorithm().as_str(), want.algorithm);
                assert_eq!(default.kms_master_key_id(), want.kms_key_id.as_deref());
                assert_eq!(rule.bucket_key_enabled(), Some(want.bucket_key_enabled));
            }
            Err(error) => {
                assert!(bucket.encryption.is_none());
                not_configured.insert(error.code().unwrap().to_owned());
            }
        }
        let versioning = s3
            .get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .unwrap();
        let expected = match bucket.versioning {
            Versioning::Never => None,
            Versioning::Enabled => Some(BucketVersioningStatus::Enabled),
            Versioning::Suspended => Some(BucketVersioningStatus::Suspended),
        };
        assert_eq!(versioning.status(), expected.as_ref());
        match s3.get_bucket_ownership_controls().bucket(name).send().await {
            Ok(output) => assert_eq!(
                output.ownership_controls().unwrap().rules()[0]
                    .object_ownership()
                    .as_str(),
                bucket.object_ownership.unwrap()
            ),
            Err(error) => {
                assert!(bucket.object_ownership.is_none());
                not_configured.insert(error.code().unwrap().to_owned());
            }
        }
        let logging = s3.get_bucket_logging().bucket(name).send().await.unwrap();
        assert_eq!(
            logging
                .logging_enabled()
                .map(|l| l.target_bucket().to_owned()),
            bucket.logging.as_ref().map(|l| l.target_bucket.clone())
        );
        match s3.get_bucket_tagging().bucket(name).send().await {
            Ok(output) => {
                let got: Vec<(&str, &str)> = output
                    .tag_set()
                    .iter()
                    .map(|t| (t.key(), t.value()))
                    .collect();
                let want: Vec<(&str, &str)> = bucket
                    .tags
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str()))
                    .collect();
                assert_eq!(got, want);
            }
            Err(error) => {
                assert!(bucket.tags.is_none());
                not_configured.insert(error.code().unwrap().to_owned());
            }
        }
        let acl = s3.get_bucket_acl().bucket(name).send().await.unwrap();
        let public = acl.grants().iter().any(|grant| {
            grant.grantee().and_then(|g| g.uri())
                == Some("http://acs.amazonaws.com/groups/global/AllUsers")
        });
        assert_eq!(public, bucket.public_acl);
    }
    // The seed gives this account buckets without each configuration.
    assert!(not_configured.len() >= 3, "{not_configured:?}");

    // Another account's bucket.
    let other = fleet
        .members()
        .iter()
        .find(|a| a.id != member && a.state == AccountState::Active)
        .unwrap();
    let foreign = fleet.expected_buckets(&other.id)[0].clone();
    let error = s3
        .get_bucket_tagging()
        .bucket(&foreign)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDenied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_retries_throttling_and_times_out_hung_calls() {
    let faults = Faults::none().with_throttle(2.0, 10.0);
    let fake = FakeAws::start(spec(), faults).await.unwrap();
    let fleet = fake.fleet();
    let base = base_config(&fake).await;
    let member = fleet
        .members()
        .iter()
        .find(|a| a.state == AccountState::Active)
        .unwrap()
        .id
        .clone();
    let config = account_config(&base, &member, "us-east-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    for _ in 0..6 {
        let output = ec2.describe_volumes().send().await.unwrap();
        assert_eq!(
            output.volumes().len(),
            fleet.expected_volumes(&member, "us-east-1").len()
        );
    }
    let stats = fake.stats();
    assert!(stats.injected(Injected::Throttled) > 0, "{stats:?}");

    // Hung operation: the SDK's operation timeout ends it.
    fake.set_faults(
        Faults::none().hang(CallFilter::operation(Operation::DescribeVolumes).account(&member)),
    );
    let timeout_config = config
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_millis(200))
                .operation_timeout(std::time::Duration::from_millis(700))
                .build(),
        )
        .build();
    let hung = aws_sdk_ec2::Client::new(&timeout_config)
        .describe_volumes()
        .send()
        .await;
    assert!(hung.is_err());
    assert!(fake.stats().injected(Injected::Hung) >= 1);
    // Other operations still answer.
    ec2.describe_instances().send().await.unwrap();
}
