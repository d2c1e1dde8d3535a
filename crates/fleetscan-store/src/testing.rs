//! Test fixtures shared by the store's unit tests: row builders, a helper that
//! writes a whole snapshot through the real writer thread, and readers that
//! load a snapshot back into rows.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::rows::*;
use crate::store::{SnapshotMeta, Store};

/// Everything a name or tag can hold that has broken tools before: quotes,
/// SQL, unicode, emoji, tabs, newlines, an ANSI escape and a bell.
pub(crate) const WEIRD: &str =
    "it's \"quoted\"; DROP TABLE snapshots; -- ünïcødé 🚀\ttab\nline\u{1b}[31mred\u{7}";

pub(crate) fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    (dir, path)
}

pub(crate) fn meta() -> SnapshotMeta {
    SnapshotMeta {
        tool_version: "0.1.0-test".to_owned(),
        config_digest: "sha256:abc".to_owned(),
        caller_arn: Some("arn:aws:sts::111111111111:assumed-role/audit/cron".to_owned()),
    }
}

/// Begins a snapshot, sends `rows` through the writer in small batches,
/// joins and finishes it; returns the store and the snapshot id.
pub(crate) fn write_snapshot(store: Store, rows: Vec<Row>) -> (Store, i64) {
    write_snapshot_with(store, &meta(), rows)
}

/// [`write_snapshot`] with the snapshot's metadata given.
pub(crate) fn write_snapshot_with(
    mut store: Store,
    meta: &SnapshotMeta,
    rows: Vec<Row>,
) -> (Store, i64) {
    let id = store.begin_snapshot(meta).unwrap();
    let (sink, handle) = store.spawn_writer(id, 4);
    futures::executor::block_on(async {
        for chunk in rows.chunks(7) {
            sink.send(chunk.to_vec()).await.unwrap();
        }
    });
    drop(sink);
    let mut store = handle.join().unwrap();
    store.finish_snapshot(id).unwrap();
    (store, id)
}

pub(crate) fn account(account_id: &str, status: AccountStatus) -> Row {
    Row::Account(AccountRow {
        account_id: account_id.to_owned(),
        name: Some(format!("account {account_id}")),
        email: Some(format!("{account_id}@example.com")),
        state: Some("ACTIVE".to_owned()),
        ou_path: Some("/Root/Prod".to_owned()),
        role_arn: format!("arn:aws:iam::{account_id}:role/fleetscan"),
        status,
        error: (status != AccountStatus::Ok).then(|| "AccessDenied".to_owned()),
    })
}

pub(crate) fn unit(account_id: &str, region: &str, collector: &str, status: UnitStatus) -> Row {
    Row::Unit(ScanUnitRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        collector: collector.to_owned(),
        status,
        error_code: (!status.is_success()).then(|| "UnauthorizedOperation".to_owned()),
        error_message: (!status.is_success()).then(|| "not allowed".to_owned()),
        resources: 1,
        api_calls: 2,
        duration_ms: 30,
    })
}

/// Every unit of one account in one region (plus the global S3 ones) ok.
pub(crate) fn ok_units(account_id: &str, region: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = ["ec2_instances", "ec2_security_groups", "ec2_volumes"]
        .iter()
        .map(|collector| unit(account_id, region, collector, UnitStatus::Ok))
        .collect();
    rows.push(unit(account_id, "global", "s3_buckets", UnitStatus::Ok));
    rows.push(unit(
        account_id,
        "global",
        "s3_account_public_access_block",
        UnitStatus::Ok,
    ));
    rows
}

pub(crate) fn instance(account_id: &str, region: &str, instance_id: &str) -> Ec2InstanceRow {
    Ec2InstanceRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        instance_id: instance_id.to_owned(),
        name: Some(format!("web {instance_id}")),
        state: Some("running".to_owned()),
        instance_type: Some("t3.micro".to_owned()),
        image_id: Some("ami-12345678".to_owned()),
        launch_time: Some("2025-01-02T03:04:05Z".to_owned()),
        availability_zone: Some(format!("{region}a")),
        vpc_id: Some("vpc-1".to_owned()),
        subnet_id: Some("subnet-1".to_owned()),
        private_ip: Some("10.0.0.10".to_owned()),
        public_ip: None,
        iam_instance_profile_arn: None,
        key_name: Some("ops".to_owned()),
        platform: None,
        imds_http_tokens: Some("required".to_owned()),
        imds_http_endpoint: Some("enabled".to_owned()),
        security_group_ids: vec!["sg-closed".to_owned()],
        tags: tags(&[("Name", &format!("web {instance_id}")), ("owner", "team-a")]),
    }
}

pub(crate) fn security_group(
    account_id: &str,
    region: &str,
    group_id: &str,
) -> Ec2SecurityGroupRow {
    Ec2SecurityGroupRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        group_id: group_id.to_owned(),
        group_name: Some(format!("name-{group_id}")),
        description: Some("managed by terraform".to_owned()),
        vpc_id: Some("vpc-1".to_owned()),
        tags: tags(&[("owner", "team-a")]),
    }
}

pub(crate) fn rule(
    account_id: &str,
    region: &str,
    group_id: &str,
    port: i64,
) -> Ec2SecurityGroupRuleRow {
    Ec2SecurityGroupRuleRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        group_id: group_id.to_owned(),
        direction: RuleDirection::Ingress,
        protocol: "tcp".to_owned(),
        from_port: Some(port),
        to_port: Some(port),
        cidr: Some("10.0.0.0/8".to_owned()),
        prefix_list_id: None,
        referenced_group_id: None,
        description: None,
    }
}

pub(crate) fn volume(account_id: &str, region: &str, volume_id: &str) -> Ec2VolumeRow {
    Ec2VolumeRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        volume_id: volume_id.to_owned(),
        size_gib: Some(8),
        volume_type: Some("gp3".to_owned()),
        encrypted: Some(true),
        kms_key_id: Some("arn:aws:kms:eu-west-1:111111111111:key/1".to_owned()),
        state: Some("in-use".to_owned()),
        availability_zone: Some(format!("{region}a")),
        attached_instance_ids: vec!["i-1".to_owned()],
        create_time: Some("2025-01-02T03:04:05Z".to_owned()),
        tags: Tags::new(),
    }
}

pub(crate) fn bucket(account_id: &str, bucket_name: &str) -> S3BucketRow {
    S3BucketRow {
        account_id: account_id.to_owned(),
        bucket_name: bucket_name.to_owned(),
        region: Some("eu-west-1".to_owned()),
        creation_date: Some("2024-05-06T07:08:09Z".to_owned()),
        block_public_acls: Some(true),
        ignore_public_acls: Some(true),
        block_public_policy: Some(true),
        restrict_public_buckets: Some(true),
        policy_is_public: Some(false),
        versioning: Some("Enabled".to_owned()),
        mfa_delete: None,
        sse_algorithm: Some("aws:kms".to_owned()),
        kms_key_id: Some("arn:aws:kms:eu-west-1:111111111111:key/1".to_owned()),
        bucket_key_enabled: Some(true),
        object_ownership: Some("BucketOwnerEnforced".to_owned()),
        logging_target_bucket: None,
        tags: Some(tags(&[("owner", "team-a")])),
        public_acl_grants: Some(Vec::new()),
        fetch_errors: BTreeMap::new(),
    }
}

pub(crate) fn account_block(account_id: &str, on: Option<bool>) -> S3AccountPublicAccessBlockRow {
    S3AccountPublicAccessBlockRow {
        account_id: account_id.to_owned(),
        block_public_acls: on,
        ignore_public_acls: on,
        block_public_policy: on,
        restrict_public_buckets: on,
    }
}

pub(crate) fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Loads every row of a snapshot back, in a canonical order (sorted by their
/// debug form, which the caller applies to the expected rows too).
pub(crate) fn read_rows(conn: &Connection, snapshot_id: i64) -> Vec<Row> {
    let mut rows = Vec::new();
    let json_vec = |text: String| -> Vec<String> { serde_json::from_str(&text).unwrap() };
    let json_map =
        |text: String| -> BTreeMap<String, String> { serde_json::from_str(&text).unwrap() };
    let account_status = |text: String| match text.as_str() {
        "ok" => AccountStatus::Ok,
        "partial" => AccountStatus::Partial,
        "assume_failed" => AccountStatus::AssumeFailed,
        "skipped" => AccountStatus::Skipped,
        other => panic!("unexpected account status {other}"),
    };

    let mut statement = conn
        .prepare("SELECT account_id, name, email, state, ou_path, role_arn, status, error FROM accounts WHERE snapshot_id = ?1")
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(AccountRow {
                account_id: row.get(0)?,
                name: row.get(1)?,
                email: row.get(2)?,
                state: row.get(3)?,
                ou_path: row.get(4)?,
                role_arn: row.get(5)?,
                status: account_status(row.get(6)?),
                error: row.get(7)?,
            })
        })
        .unwrap()
    {
        rows.push(Row::Account(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, region, collector, status, error_code, error_message, resources, api_calls, duration_ms
             FROM scan_units WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(ScanUnitRow {
                account_id: row.get(0)?,
                region: row.get(1)?,
                collector: row.get(2)?,
                status: crate::store::parse_unit_status(&row.get::<_, String>(3)?).unwrap(),
                error_code: row.get(4)?,
                error_message: row.get(5)?,
                resources: row.get::<_, i64>(6)? as u64,
                api_calls: row.get::<_, i64>(7)? as u64,
                duration_ms: row.get::<_, i64>(8)? as u64,
            })
        })
        .unwrap()
    {
        rows.push(Row::Unit(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, region, instance_id, name, state, instance_type, image_id, launch_time,
                    availability_zone, vpc_id, subnet_id, private_ip, public_ip, iam_instance_profile_arn, key_name,
                    platform, imds_http_tokens, imds_http_endpoint, security_group_ids, tags
             FROM ec2_instances WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(Ec2InstanceRow {
                account_id: row.get(0)?,
                region: row.get(1)?,
                instance_id: row.get(2)?,
                name: row.get(3)?,
                state: row.get(4)?,
                instance_type: row.get(5)?,
                image_id: row.get(6)?,
                launch_time: row.get(7)?,
                availability_zone: row.get(8)?,
                vpc_id: row.get(9)?,
                subnet_id: row.get(10)?,
                private_ip: row.get(11)?,
                public_ip: row.get(12)?,
                iam_instance_profile_arn: row.get(13)?,
                key_name: row.get(14)?,
                platform: row.get(15)?,
                imds_http_tokens: row.get(16)?,
                imds_http_endpoint: row.get(17)?,
                security_group_ids: json_vec(row.get(18)?),
                tags: json_map(row.get(19)?),
            })
        })
        .unwrap()
    {
        rows.push(Row::Ec2Instance(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, region, group_id, group_name, description, vpc_id, tags
             FROM ec2_security_groups WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(Ec2SecurityGroupRow {
                account_id: row.get(0)?,
                region: row.get(1)?,
                group_id: row.get(2)?,
                group_name: row.get(3)?,
                description: row.get(4)?,
                vpc_id: row.get(5)?,
                tags: json_map(row.get(6)?),
            })
        })
        .unwrap()
    {
        rows.push(Row::Ec2SecurityGroup(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, region, group_id, direction, protocol, from_port, to_port, cidr, prefix_list_id,
                    referenced_group_id, description
             FROM ec2_security_group_rules WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(Ec2SecurityGroupRuleRow {
                account_id: row.get(0)?,
                region: row.get(1)?,
                group_id: row.get(2)?,
                direction: if row.get::<_, String>(3)? == "ingress" {
                    RuleDirection::Ingress
                } else {
                    RuleDirection::Egress
                },
                protocol: row.get(4)?,
                from_port: row.get(5)?,
                to_port: row.get(6)?,
                cidr: row.get(7)?,
                prefix_list_id: row.get(8)?,
                referenced_group_id: row.get(9)?,
                description: row.get(10)?,
            })
        })
        .unwrap()
    {
        rows.push(Row::Ec2SecurityGroupRule(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, region, volume_id, size_gib, volume_type, encrypted, kms_key_id, state,
                    availability_zone, attached_instance_ids, create_time, tags
             FROM ec2_volumes WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(Ec2VolumeRow {
                account_id: row.get(0)?,
                region: row.get(1)?,
                volume_id: row.get(2)?,
                size_gib: row.get(3)?,
                volume_type: row.get(4)?,
                encrypted: row.get(5)?,
                kms_key_id: row.get(6)?,
                state: row.get(7)?,
                availability_zone: row.get(8)?,
                attached_instance_ids: json_vec(row.get(9)?),
                create_time: row.get(10)?,
                tags: json_map(row.get(11)?),
            })
        })
        .unwrap()
    {
        rows.push(Row::Ec2Volume(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, bucket_name, region, creation_date, block_public_acls, ignore_public_acls,
                    block_public_policy, restrict_public_buckets, policy_is_public, versioning, mfa_delete,
                    sse_algorithm, kms_key_id, bucket_key_enabled, object_ownership, logging_target_bucket, tags,
                    public_acl_grants, fetch_errors
             FROM s3_buckets WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(S3BucketRow {
                account_id: row.get(0)?,
                bucket_name: row.get(1)?,
                region: row.get(2)?,
                creation_date: row.get(3)?,
                block_public_acls: row.get(4)?,
                ignore_public_acls: row.get(5)?,
                block_public_policy: row.get(6)?,
                restrict_public_buckets: row.get(7)?,
                policy_is_public: row.get(8)?,
                versioning: row.get(9)?,
                mfa_delete: row.get(10)?,
                sse_algorithm: row.get(11)?,
                kms_key_id: row.get(12)?,
                bucket_key_enabled: row.get(13)?,
                object_ownership: row.get(14)?,
                logging_target_bucket: row.get(15)?,
                tags: row.get::<_, Option<String>>(16)?.map(json_map),
                public_acl_grants: row.get::<_, Option<String>>(17)?.map(json_vec),
                fetch_errors: json_map(row.get(18)?),
            })
        })
        .unwrap()
    {
        rows.push(Row::S3Bucket(row.unwrap()));
    }

    let mut statement = conn
        .prepare(
            "SELECT account_id, block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets
             FROM s3_account_public_access_block WHERE snapshot_id = ?1",
        )
        .unwrap();
    for row in statement
        .query_map([snapshot_id], |row| {
            Ok(S3AccountPublicAccessBlockRow {
                account_id: row.get(0)?,
                block_public_acls: row.get(1)?,
                ignore_public_acls: row.get(2)?,
                block_public_policy: row.get(3)?,
                restrict_public_buckets: row.get(4)?,
            })
        })
        .unwrap()
    {
        rows.push(Row::S3AccountPublicAccessBlock(row.unwrap()));
    }
    sort_rows(&mut rows);
    rows
}

pub(crate) fn sort_rows(rows: &mut [Row]) {
    rows.sort_by_cached_key(|row| format!("{row:?}"));
}

/// Mode bits of a file (permissions only).
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
