//! The audit views (`latest_snapshot`, `public_buckets`, `open_ingress_rules`,
//! `imdsv1_instances`, `unencrypted_volumes` of `migrations/0002`, defined
//! since `migrations/0004` as the latest slice of their `*_by_snapshot`
//! views): their names for callers, and the tests proving each returns
//! exactly the seeded offenders, plus the test that runs every README
//! cookbook query.

/// Every view a user may query, as created by the migrations.
pub const VIEWS: &[&str] = &[
    "latest_snapshot",
    "public_buckets",
    "open_ingress_rules",
    "imdsv1_instances",
    "unencrypted_volumes",
    "public_buckets_by_snapshot",
    "open_ingress_rules_by_snapshot",
    "imdsv1_instances_by_snapshot",
    "unencrypted_volumes_by_snapshot",
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rows::*;
    use crate::store::Store;
    use crate::testing::*;

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const C: &str = "333333333333";
    const REGION: &str = "eu-west-1";

    fn open_rule(group_id: &str, protocol: &str, port: Option<i64>, cidr: &str) -> Row {
        Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            protocol: protocol.to_owned(),
            from_port: port,
            to_port: port,
            cidr: Some(cidr.to_owned()),
            ..rule(A, REGION, group_id, 0)
        })
    }

    /// A fleet with known offenders and known clean resources of every kind.
    pub(crate) fn seeded_fleet() -> Vec<Row> {
        let mut rows = vec![
            account(A, AccountStatus::Ok),
            account(B, AccountStatus::Ok),
            account(C, AccountStatus::Partial),
        ];
        rows.extend(ok_units(A, REGION));
        rows.extend(ok_units(B, REGION));
        rows.push(unit(C, "global", "s3_buckets", UnitStatus::Ok));
        rows.push(unit(
            C,
            "global",
            "s3_account_public_access_block",
            UnitStatus::Denied,
        ));
        rows.push(unit(C, REGION, "ec2_instances", UnitStatus::Throttled));

        for group_id in [
            "sg-ssh-world",
            "sg-rdp-world6",
            "sg-closed",
            "sg-prefix",
            "sg-ref",
            "sg-egress",
            "sg-all-world",
        ] {
            rows.push(Row::Ec2SecurityGroup(security_group(A, REGION, group_id)));
        }
        // Offenders: world over IPv4, IPv6, and "all traffic".
        rows.push(open_rule("sg-ssh-world", "tcp", Some(22), "0.0.0.0/0"));
        rows.push(open_rule("sg-rdp-world6", "tcp", Some(3389), "::/0"));
        rows.push(open_rule("sg-all-world", "-1", None, "0.0.0.0/0"));
        // Clean: private range, prefix list, group reference, egress to the world.
        rows.push(open_rule("sg-closed", "tcp", Some(22), "10.0.0.0/8"));
        rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            cidr: None,
            prefix_list_id: Some("pl-12345".to_owned()),
            ..rule(A, REGION, "sg-prefix", 22)
        }));
        rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            cidr: None,
            referenced_group_id: Some("sg-ssh-world".to_owned()),
            ..rule(A, REGION, "sg-ref", 22)
        }));
        rows.push(Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
            direction: RuleDirection::Egress,
            protocol: "-1".to_owned(),
            from_port: None,
            to_port: None,
            cidr: Some("0.0.0.0/0".to_owned()),
            ..rule(A, REGION, "sg-egress", 0)
        }));

        // Instances: i-web is public, behind the SSH group, and on IMDSv1.
        let mut web = instance(A, REGION, "i-web");
        web.public_ip = Some("203.0.113.10".to_owned());
        web.imds_http_tokens = Some("optional".to_owned());
        web.security_group_ids = vec!["sg-ssh-world".to_owned(), "sg-egress".to_owned()];
        rows.push(Row::Ec2Instance(web));
        let mut rdp = instance(A, REGION, "i-rdp");
        rdp.security_group_ids = vec!["sg-rdp-world6".to_owned(), "sg-ssh-world".to_owned()];
        rdp.tags = tags(&[("Name", "rdp")]); // no owner tag
        rows.push(Row::Ec2Instance(rdp));
        rows.push(Row::Ec2Instance(instance(A, REGION, "i-db")));
        let mut stopped = instance(A, REGION, "i-stopped");
        stopped.state = Some("stopped".to_owned());
        stopped.imds_http_tokens = Some("optional".to_owned());
        stopped.security_group_ids = vec!["sg-ssh-world".to_owned()];
        rows.push(Row::Ec2Instance(stopped));
        let mut no_endpoint = instance(A, REGION, "i-imds-off");
        no_endpoint.imds_http_tokens = Some("optional".to_owned());
        no_endpoint.imds_http_endpoint = Some("disabled".to_owned());
        rows.push(Row::Ec2Instance(no_endpoint));
        let mut terminated = instance(A, REGION, "i-gone");
        terminated.state = Some("terminated".to_owned());
        terminated.security_group_ids = vec!["sg-ssh-world".to_owned()];
        rows.push(Row::Ec2Instance(terminated));

        // Volumes: one unencrypted offender, one encrypted, one unknown.
        rows.push(Row::Ec2Volume(volume(A, REGION, "vol-encrypted")));
        rows.push(Row::Ec2Volume(Ec2VolumeRow {
            encrypted: Some(false),
            kms_key_id: None,
            ..volume(A, REGION, "vol-plain")
        }));
        rows.push(Row::Ec2Volume(Ec2VolumeRow {
            encrypted: None,
            ..volume(A, REGION, "vol-unknown")
        }));

        // Buckets of A (no account-level block configured).
        rows.push(Row::S3AccountPublicAccessBlock(account_block(A, None)));
        rows.push(Row::S3Bucket(S3BucketRow {
            policy_is_public: Some(true),
            block_public_acls: Some(false),
            ignore_public_acls: Some(false),
            block_public_policy: Some(false),
            restrict_public_buckets: Some(false),
            ..bucket(A, "a-public-policy")
        }));
        rows.push(Row::S3Bucket(S3BucketRow {
            block_public_acls: None,
            ignore_public_acls: None,
            block_public_policy: None,
            restrict_public_buckets: None,
            policy_is_public: None,
            public_acl_grants: Some(vec!["AllUsers:READ".to_owned()]),
            tags: None,
            ..bucket(A, "a-public-acl")
        }));
        rows.push(Row::S3Bucket(bucket(A, "a-private")));
        rows.push(Row::S3Bucket(S3BucketRow {
            public_acl_grants: None,
            fetch_errors: [("GetBucketAcl".to_owned(), "AccessDenied".to_owned())].into(),
            ..bucket(A, "a-acl-unreadable")
        }));
        // B: an account-wide block neutralises a public bucket policy.
        rows.push(Row::S3AccountPublicAccessBlock(account_block(
            B,
            Some(true),
        )));
        rows.push(Row::S3Bucket(S3BucketRow {
            policy_is_public: Some(true),
            block_public_acls: None,
            ignore_public_acls: None,
            block_public_policy: None,
            restrict_public_buckets: None,
            ..bucket(B, "b-blocked-by-account")
        }));
        // C: the account block could not be read, the bucket has none.
        rows.push(Row::S3Bucket(S3BucketRow {
            block_public_acls: None,
            ignore_public_acls: None,
            block_public_policy: None,
            restrict_public_buckets: None,
            public_acl_grants: Some(vec!["AuthenticatedUsers:WRITE".to_owned()]),
            ..bucket(C, "c-acl-account-unknown")
        }));
        rows
    }

    /// An older snapshot whose offenders are different, a seeded one, and a
    /// newer failed one: views must read the seeded (latest usable) one.
    fn seeded_store() -> (tempfile::TempDir, Store, i64) {
        let (dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let mut old = vec![account(A, AccountStatus::Ok)];
        old.extend(ok_units(A, REGION));
        old.push(Row::Ec2Volume(Ec2VolumeRow {
            encrypted: Some(false),
            ..volume(A, REGION, "vol-old")
        }));
        old.push(open_rule("sg-old", "tcp", Some(22), "0.0.0.0/0"));
        let (store, _old) = write_snapshot(store, old);
        let (store, seeded) = write_snapshot(store, seeded_fleet());
        let mut store = store;
        let failed = store.begin_snapshot(&meta()).unwrap();
        store.fail_snapshot(failed, "test").unwrap();
        (dir, store, seeded)
    }

    fn strings(store: &Store, sql: &str) -> Vec<String> {
        let mut statement = store.connection().prepare(sql).unwrap();
        let columns = statement.column_count();
        statement
            .query_map([], |row| {
                let mut parts = Vec::new();
                for index in 0..columns {
                    let value: rusqlite::types::Value = row.get(index)?;
                    parts.push(match value {
                        rusqlite::types::Value::Null => "NULL".to_owned(),
                        rusqlite::types::Value::Integer(number) => number.to_string(),
                        rusqlite::types::Value::Real(number) => number.to_string(),
                        rusqlite::types::Value::Text(text) => text,
                        rusqlite::types::Value::Blob(_) => "<blob>".to_owned(),
                    });
                }
                Ok(parts.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn latest_snapshot_is_the_newest_usable_one() {
        let (_dir, store, seeded) = seeded_store();
        // The seeded snapshot has failed units: partial, yet usable.
        assert_eq!(
            strings(&store, "SELECT id, status FROM latest_snapshot"),
            vec![format!("{seeded}|partial")]
        );
    }

    #[test]
    fn public_buckets_lists_exactly_the_exposed_buckets_with_effective_blocks() {
        let (_dir, store, _) = seeded_store();
        assert_eq!(
            strings(
                &store,
                "SELECT account_id, bucket_name, policy_is_public, public_acl_grants, effective_block_public_acls,
                        effective_ignore_public_acls, effective_block_public_policy, effective_restrict_public_buckets,
                        still_exposed
                 FROM public_buckets ORDER BY account_id, bucket_name"
            ),
            vec![
                format!("{A}|a-public-acl|NULL|[\"AllUsers:READ\"]|0|0|0|0|1"),
                format!("{A}|a-public-policy|1|[]|0|0|0|0|1"),
                format!("{B}|b-blocked-by-account|1|[]|1|1|1|1|0"),
                format!("{C}|c-acl-account-unknown|0|[\"AuthenticatedUsers:WRITE\"]|NULL|NULL|NULL|NULL|NULL"),
            ]
        );
    }

    #[test]
    fn open_ingress_rules_lists_world_sources_only_with_instance_counts() {
        let (_dir, store, _) = seeded_store();
        assert_eq!(
            strings(
                &store,
                "SELECT group_id, group_name, vpc_id, protocol, from_port, to_port, cidr, instance_count
                 FROM open_ingress_rules ORDER BY group_id"
            ),
            vec![
                "sg-all-world|name-sg-all-world|vpc-1|-1|NULL|NULL|0.0.0.0/0|0".to_owned(),
                "sg-rdp-world6|name-sg-rdp-world6|vpc-1|tcp|3389|3389|::/0|1".to_owned(),
                // i-web, i-rdp and the stopped one; the terminated one is not counted.
                "sg-ssh-world|name-sg-ssh-world|vpc-1|tcp|22|22|0.0.0.0/0|3".to_owned(),
            ]
        );
    }

    #[test]
    fn imdsv1_instances_lists_running_tokenless_instances_only() {
        let (_dir, store, _) = seeded_store();
        assert_eq!(
            strings(&store, "SELECT instance_id FROM imdsv1_instances"),
            vec!["i-web".to_owned()]
        );
    }

    #[test]
    fn unencrypted_volumes_lists_known_unencrypted_only() {
        let (_dir, store, _) = seeded_store();
        assert_eq!(
            strings(&store, "SELECT volume_id FROM unencrypted_volumes"),
            vec!["vol-plain".to_owned()]
        );
    }

    #[test]
    fn every_view_exists() {
        let (_dir, store, _) = seeded_store();
        for view in VIEWS {
            strings(&store, &format!("SELECT count(*) FROM {view}"));
        }
    }

    /// `(name, declared type)` of each column of a table or view, in order.
    fn columns_of(store: &Store, name: &str) -> Vec<(String, String)> {
        let mut statement = store
            .connection()
            .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
            .unwrap();
        statement
            .query_map([name], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn typed(columns: &[(&str, &str)]) -> Vec<(String, String)> {
        columns
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
            .collect()
    }

    /// The README documents the views' columns: they are a public contract.
    /// These lists are the ones `migrations/0002` produced; a migration that
    /// redefines a view must leave them exactly as they are.
    #[test]
    fn audit_views_keep_the_columns_of_migration_0002() {
        let (_dir, store, _) = seeded_store();
        assert_eq!(
            columns_of(&store, "public_buckets"),
            typed(&[
                ("snapshot_id", "INTEGER"),
                ("account_id", "TEXT"),
                ("bucket_name", "TEXT"),
                ("region", "TEXT"),
                ("policy_is_public", "INTEGER"),
                ("public_acl_grants", "TEXT"),
                ("effective_block_public_acls", ""),
                ("effective_ignore_public_acls", ""),
                ("effective_block_public_policy", ""),
                ("effective_restrict_public_buckets", ""),
                ("still_exposed", ""),
                ("fetch_errors", "TEXT"),
            ])
        );
        assert_eq!(
            columns_of(&store, "open_ingress_rules"),
            typed(&[
                ("snapshot_id", "INTEGER"),
                ("account_id", "TEXT"),
                ("region", "TEXT"),
                ("group_id", "TEXT"),
                ("group_name", "TEXT"),
                ("vpc_id", "TEXT"),
                ("protocol", "TEXT"),
                ("from_port", "INTEGER"),
                ("to_port", "INTEGER"),
                ("cidr", "TEXT"),
                ("description", "TEXT"),
                ("instance_count", ""),
            ])
        );
        // "All columns of ec2_instances / ec2_volumes", as the README says:
        // a column added to those tables must be added to these views too.
        assert_eq!(
            columns_of(&store, "imdsv1_instances"),
            columns_of(&store, "ec2_instances")
        );
        assert_eq!(
            columns_of(&store, "unencrypted_volumes"),
            columns_of(&store, "ec2_volumes")
        );
        assert_eq!(columns_of(&store, "imdsv1_instances").len(), 21);
        assert_eq!(columns_of(&store, "unencrypted_volumes").len(), 13);
    }

    /// Every row of the four latest-snapshot audit views, whole.
    fn audit_rows(conn: &rusqlite::Connection) -> Vec<Vec<rusqlite::types::Value>> {
        let mut rows = Vec::new();
        for view in &VIEWS[1..5] {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM {view} ORDER BY 1, 2, 3, 4"))
                .unwrap();
            let columns = statement.column_count();
            let found: Vec<Vec<rusqlite::types::Value>> = statement
                .query_map([], |row| (0..columns).map(|index| row.get(index)).collect())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.extend(found);
        }
        rows
    }

    /// A file written at schema v3 (before the `*_by_snapshot` views) keeps
    /// its audit answers, row for row, once opened and migrated.
    #[test]
    fn upgrading_a_v3_file_keeps_what_the_audit_views_return() {
        let (_dir, path) = temp_db();
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (version, _, sql) in &crate::migrate::MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO snapshots (id, started_at, status, tool_version, config_digest)
                 VALUES (1, '2025-01-31T02:00:00Z', 'running', 'old', 'digest');
             INSERT INTO ec2_volumes (snapshot_id, account_id, region, volume_id, encrypted)
                 VALUES (1, '{A}', '{REGION}', 'vol-plain', 0), (1, '{A}', '{REGION}', 'vol-ok', 1);
             INSERT INTO ec2_instances
                 (snapshot_id, account_id, region, instance_id, state, imds_http_tokens, security_group_ids)
                 VALUES (1, '{A}', '{REGION}', 'i-v1', 'running', 'optional', '[\"sg-open\"]');
             INSERT INTO ec2_security_group_rules
                 (snapshot_id, account_id, region, group_id, direction, protocol, from_port, to_port, cidr)
                 VALUES (1, '{A}', '{REGION}', 'sg-open', 'ingress', 'tcp', 22, 22, '0.0.0.0/0');
             INSERT INTO s3_buckets (snapshot_id, account_id, bucket_name, policy_is_public, public_acl_grants)
                 VALUES (1, '{A}', 'open-bucket', 1, '[]');
             UPDATE snapshots SET status = 'complete' WHERE id = 1;"
        ))
        .unwrap();
        let at_v3 = audit_rows(&conn);
        drop(conn);
        assert_eq!(at_v3.len(), 4, "one row per view: {at_v3:?}");

        let store = Store::open_for_scan(&path).unwrap();
        assert_eq!(audit_rows(store.connection()), at_v3);
        assert_eq!(
            strings(
                &store,
                "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name LIKE '%_by_snapshot'"
            ),
            ["4"]
        );
    }

    /// The SQL blocks of the README's cookbook section, in order.
    fn cookbook_queries() -> Vec<String> {
        let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(readme_path).unwrap();
        let start = readme
            .find("<!-- section: schema, views, audit cookbook (store) -->")
            .unwrap();
        let section = &readme[start..];
        let section = &section[..section[1..]
            .find("<!-- section:")
            .map_or(section.len(), |end| end + 1)];
        let cookbook = &section[section.find("### Audit cookbook").unwrap()..];
        let mut queries = Vec::new();
        let mut rest = cookbook;
        while let Some(open) = rest.find("```sql\n") {
            let body = &rest[open + 7..];
            let close = body.find("```").unwrap();
            queries.push(body[..close].to_owned());
            rest = &body[close + 3..];
        }
        queries
    }

    #[test]
    fn every_readme_cookbook_query_runs_and_finds_the_seeded_offenders() {
        let (_dir, store, _) = seeded_store();
        let queries = cookbook_queries();
        assert!(
            queries.len() >= 8,
            "the cookbook promises at least eight queries, found {}",
            queries.len()
        );
        let results: Vec<Vec<String>> = queries.iter().map(|sql| strings(&store, sql)).collect();
        for (sql, rows) in queries.iter().zip(&results) {
            assert!(
                !rows.is_empty(),
                "cookbook query returned nothing on the seeded fleet:\n{sql}"
            );
        }
        // Spot checks that the queries mean what the README says.
        assert_eq!(
            results[1].len(),
            3,
            "SSH/RDP/all-traffic open to the world: {:?}",
            results[1]
        );
        assert!(
            results[2].iter().all(|row| row.contains("i-web")) && !results[2].is_empty(),
            "{:?}",
            results[2]
        );
        assert_eq!(results[3].len(), 1);
        assert!(
            results[7]
                .iter()
                .any(|row| row.contains("s3_account_public_access_block")),
            "{:?}",
            results[7]
        );
        // Query 10: an account block that is not configured (all NULL) is
        // listed as such, one that could not be read too, a fully on one not.
        let account_blocks: Vec<(&str, &str)> = results[9]
            .iter()
            .map(|row| {
                let mut parts = row.split('|');
                (parts.next().unwrap(), parts.next_back().unwrap())
            })
            .collect();
        assert!(
            account_blocks.contains(&(A, "not configured")),
            "{account_blocks:?}"
        );
        assert!(
            account_blocks.contains(&(C, "could not be read")),
            "{account_blocks:?}"
        );
        assert!(
            account_blocks.iter().all(|(account, _)| *account != B),
            "{account_blocks:?}"
        );
    }
}
