//! Hostile text from AWS: names, tags and descriptions with quotes, SQL,
//! markup, unicode and control characters are stored exactly as AWS sent
//! them, and printed without letting them drive the terminal.

use std::collections::BTreeMap;

use fleetscan_fakeaws::{Faults, FleetSpec, Tag};

use crate::common::{Harness, assert_complete_and_true, outputs, small_spec};

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|tag| (tag.key.clone(), tag.value.clone()))
        .collect()
}

fn stored_tags(text: Option<String>) -> Option<BTreeMap<String, String>> {
    text.map(|text| {
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("tags {text:?}: {err}"))
    })
}

fn is_hostile(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || "'\";<>`$\\%".contains(c) || !c.is_ascii())
        || text.starts_with(' ')
}

#[test]
fn hostile_names_tags_and_descriptions_are_stored_verbatim_and_printed_safely() {
    // Eight members, all ACTIVE: members 3 and 8 get hostile account names
    // (3 with a bell and an escape sequence); resources get them at random.
    let spec = FleetSpec {
        accounts: 8,
        suspended_accounts: 0,
        hostile_names: true,
        ..small_spec(51)
    };
    let harness = Harness::new(spec, Faults::none());
    let fleet = harness.fleet();
    let accounts = harness.scanned_accounts();
    let config = harness.config();
    let snapshot = harness.scan("hostile", &config).expect(0, "scan");
    let db = harness.db();
    assert_complete_and_true(&db, snapshot, fleet, &accounts, None);
    let conn = db.connection();
    let mut hostile_seen = 0;

    for account in fleet.members() {
        let stored: String = conn
            .query_row(
                "SELECT name FROM accounts WHERE snapshot_id = ?1 AND account_id = ?2",
                rusqlite::params![snapshot, account.id],
                |row| row.get(0),
            )
            .unwrap_or_else(|err| panic!("account {}: {err}", account.id));
        assert_eq!(stored, account.name);
        hostile_seen += usize::from(is_hostile(&stored));
    }
    let bell = fleet
        .members()
        .iter()
        .find(|account| account.name.contains('\u{1b}'))
        .unwrap_or_else(|| panic!("no account name with an escape sequence"));

    for account in &accounts {
        let resources = fleet
            .resources(account)
            .unwrap_or_else(|| panic!("{account} has no resources"));
        for region in fleet.enabled_regions(account) {
            let Some(regional) = resources.region(fleet, region) else {
                continue;
            };
            for instance in &regional.instances {
                let tags: Option<String> = conn
                    .query_row(
                        "SELECT tags FROM ec2_instances WHERE snapshot_id = ?1 AND instance_id = ?2",
                        rusqlite::params![snapshot, instance.instance_id],
                        |row| row.get(0),
                    )
                    .unwrap_or_else(|err| panic!("{}: {err}", instance.instance_id));
                let expected = tag_map(&instance.tags);
                assert_eq!(stored_tags(tags), Some(expected.clone()));
                hostile_seen += expected.values().filter(|v| is_hostile(v)).count();
            }
            for group in &regional.security_groups {
                let (name, description, tags): (String, Option<String>, Option<String>) = conn
                    .query_row(
                        "SELECT group_name, description, tags FROM ec2_security_groups
                         WHERE snapshot_id = ?1 AND group_id = ?2",
                        rusqlite::params![snapshot, group.group_id],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .unwrap_or_else(|err| panic!("{}: {err}", group.group_id));
                assert_eq!(name, group.group_name);
                assert_eq!(description.as_deref(), Some(group.description.as_str()));
                assert_eq!(stored_tags(tags).unwrap_or_default(), tag_map(&group.tags));
                hostile_seen += usize::from(is_hostile(&group.description));
            }
            for volume in &regional.volumes {
                let tags: Option<String> = conn
                    .query_row(
                        "SELECT tags FROM ec2_volumes WHERE snapshot_id = ?1 AND volume_id = ?2",
                        rusqlite::params![snapshot, volume.volume_id],
                        |row| row.get(0),
                    )
                    .unwrap_or_else(|err| panic!("{}: {err}", volume.volume_id));
                assert_eq!(stored_tags(tags).unwrap_or_default(), tag_map(&volume.tags));
            }
        }
        for bucket in &resources.buckets {
            let tags: Option<String> = conn
                .query_row(
                    "SELECT tags FROM s3_buckets WHERE snapshot_id = ?1 AND bucket_name = ?2",
                    rusqlite::params![snapshot, bucket.name],
                    |row| row.get(0),
                )
                .unwrap_or_else(|err| panic!("{}: {err}", bucket.name));
            assert_eq!(
                stored_tags(tags),
                bucket.tags.as_ref().map(|tags| tag_map(tags)),
                "bucket {}",
                bucket.name
            );
        }
    }
    assert!(
        hostile_seen >= 5,
        "only {hostile_seen} hostile values: the fleet does not test much"
    );
    // The tables are all still there (no SQL was executed from a value).
    let tables = db.count(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('ec2_instances', 's3_buckets')",
        [],
    );
    assert_eq!(tables, 2);

    // Printed for people: control characters escaped, one line per account.
    let config_path = harness.dir.path().join("hostile.yaml");
    let plan = harness
        .fleetscan
        .run(["plan", "--config", &config_path.display().to_string()]);
    plan.expect_code(0, "plan");
    assert!(
        !plan.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in the table\n{}",
        outputs(&plan)
    );
    let escaped: String = bell
        .name
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    assert!(
        plan.stdout.contains(&escaped),
        "{escaped:?} not in the table\n{}",
        outputs(&plan)
    );
    // Printed for scripts: JSON gives every name back verbatim.
    let plan_json = harness.fleetscan.run([
        "plan",
        "--config",
        &config_path.display().to_string(),
        "--format",
        "json",
    ]);
    plan_json.expect_code(0, "plan --format json");
    let text = plan_json.json().to_string();
    for account in fleet.members() {
        let encoded = serde_json::Value::String(account.name.clone()).to_string();
        assert!(
            text.contains(encoded.trim_matches('"')),
            "{:?} missing from the JSON plan",
            account.name
        );
    }
}
