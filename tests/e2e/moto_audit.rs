//! End-to-end audit features against moto: the audit views (issue 3), the diff of two snapshots with its security classification, units that cannot be compared, and prune (issue 4).
//!
//! Each test starts its own moto on a free loopback port and seeds the sample
//! organization of `tests/moto/seed.py`. Every expectation is computed from the
//! seeder's or the mutator's manifest (what moto reports, read back), never
//! written down by hand here: ids, offenders and changes all come from there.
//! Needs the moto virtualenv: run `scripts/test` (the README's test command).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fleetscan_tests::config::ScanConfig;
use fleetscan_tests::db::Db;
use fleetscan_tests::fleetscan::{Fleetscan, RunOutput};
use fleetscan_tests::manifest::{AccountBlock, Bucket, Manifest};
use fleetscan_tests::moto::Moto;
use serde_json::{Value, json};

/// The exit codes of DESIGN.md.
const EXIT_OK: i32 = 0;
const EXIT_FAILURE: i32 = 1;
const EXIT_PARTIAL: i32 = 3;
const EXIT_DIFFERENCES: i32 = 4;

/// Sources that make an ingress rule "open to the world".
const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];
const BLOCK_FLAGS: [&str; 4] = [
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
];

/// The security reasons the diff gives (issue 4's list, worded as the product words them).
const REASON_WORLD_INGRESS: &str = "ingress rule from 0.0.0.0/0 or ::/0 added";
const REASON_PUBLIC_IP: &str = "instance gained a public IP";
const REASON_IMDS_OPTIONAL: &str = "IMDS tokens became optional (IMDSv1 allowed)";
const REASON_UNENCRYPTED_VOLUME: &str = "new unencrypted volume";
const REASON_VERSIONING: &str = "versioning suspended";
const REASON_ENCRYPTION_REMOVED: &str = "encryption removed";
const REASON_PUBLIC_POLICY: &str = "bucket became public (policy)";
const REASON_PUBLIC_ACL: &str = "bucket became public (ACL)";

/// A seeded moto, a scan configuration for it, and the binary ready to run.
struct Fixture {
    moto: Moto,
    dir: tempfile::TempDir,
    manifest: Manifest,
    fleetscan: Fleetscan,
    config: PathBuf,
    db: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let moto = Moto::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = moto.seed(dir.path());
        let db = dir.path().join("fleet.db");
        let config = dir.path().join("fleetscan.yaml");
        ScanConfig::for_manifest(&manifest, moto.endpoint(), &db).write(&config);
        let fleetscan = Fleetscan::new(env!("CARGO_BIN_EXE_fleetscan"), dir.path());
        Fixture {
            moto,
            dir,
            manifest,
            fleetscan,
            config,
            db,
        }
    }

    /// One scan; its JSON summary once the exit code is `expected`.
    fn scan(&self, expected: i32, what: &str) -> Value {
        let config = self.config.to_string_lossy().into_owned();
        let output = self.fleetscan.run([
            "scan",
            "--config",
            config.as_str(),
            "--no-progress",
            "--format",
            "json",
        ]);
        output.expect_code(expected, what);
        output.json()
    }

    /// `fleetscan COMMAND --db FILE ARGS...`.
    fn run_on_db(&self, command: &str, args: &[&str]) -> RunOutput {
        let db = self.db.to_string_lossy().into_owned();
        let mut all = vec![command, "--db", db.as_str()];
        all.extend_from_slice(args);
        self.fleetscan.run(all)
    }

    fn db(&self) -> Db {
        Db::open(&self.db)
    }

    /// Runs mutate.py; the typed manifest after it, and both manifests as raw JSON.
    fn mutate(&self) -> (Manifest, Value, Value) {
        let mutated = self
            .moto
            .mutate(&self.dir.path().join("manifest.json"), self.dir.path());
        let before = read_json(&self.dir.path().join("manifest.json"));
        let after = read_json(&self.dir.path().join("manifest-mutated.json"));
        (mutated, before, after)
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("parse {}: {err}", path.display()))
}

// ---------------------------------------------------------------------------
// Views (issue 3)
// ---------------------------------------------------------------------------

/// Every row of `sql` as a JSON array (SQLite integers stay integers).
fn rows(db: &Db, sql: &str) -> BTreeSet<String> {
    let mut statement = db
        .connection()
        .prepare(sql)
        .unwrap_or_else(|err| panic!("prepare {sql}: {err}"));
    let width = statement.column_count();
    let rows = statement
        .query_map([], |row| {
            let mut values = Vec::with_capacity(width);
            for index in 0..width {
                values.push(match row.get::<_, rusqlite::types::Value>(index)? {
                    rusqlite::types::Value::Null => Value::Null,
                    rusqlite::types::Value::Integer(number) => json!(number),
                    rusqlite::types::Value::Real(number) => json!(number),
                    rusqlite::types::Value::Text(text) => json!(text),
                    rusqlite::types::Value::Blob(bytes) => {
                        json!(format!("<{} bytes>", bytes.len()))
                    }
                });
            }
            Ok(Value::Array(values).to_string())
        })
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    rows.collect::<rusqlite::Result<_>>()
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

/// Equal sets, or a failure naming what is missing and what should not be there.
fn assert_same_rows(what: &str, actual: &BTreeSet<String>, expected: &BTreeSet<String>) {
    let missing: Vec<_> = expected.difference(actual).collect();
    let unexpected: Vec<_> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: {} rows, {} expected\n  missing:\n    {}\n  unexpected:\n    {}",
        actual.len(),
        expected.len(),
        missing
            .iter()
            .map(|row| row.as_str())
            .collect::<Vec<_>>()
            .join("\n    "),
        unexpected
            .iter()
            .map(|row| row.as_str())
            .collect::<Vec<_>>()
            .join("\n    ")
    );
    assert!(!expected.is_empty(), "{what}: the seed holds offenders");
}

fn flag(value: Option<bool>) -> Value {
    value.map_or(Value::Null, |on| json!(i64::from(on)))
}

/// A Block Public Access flag as the view combines it: on when the bucket or
/// the account sets it, off otherwise (moto answers every read, so never unknown).
fn effective(bucket: Option<bool>, account: Option<bool>) -> bool {
    bucket == Some(true) || account == Some(true)
}

fn is_public(bucket: &Bucket) -> bool {
    bucket.policy_is_public == Some(true)
        || bucket
            .public_acl_grants
            .as_ref()
            .is_some_and(|grants| !grants.is_empty())
}

/// The row `public_buckets` must hold for a public bucket.
fn public_bucket_row(
    snapshot: i64,
    account_id: &str,
    bucket: &Bucket,
    account: &AccountBlock,
) -> String {
    let acls = effective(bucket.block_public_acls, account.block_public_acls);
    let ignore = effective(bucket.ignore_public_acls, account.ignore_public_acls);
    let policy = effective(bucket.block_public_policy, account.block_public_policy);
    let restrict = effective(
        bucket.restrict_public_buckets,
        account.restrict_public_buckets,
    );
    let grants = bucket.public_acl_grants.clone().unwrap_or_default();
    let exposed =
        (bucket.policy_is_public == Some(true) && !restrict) || (!grants.is_empty() && !ignore);
    json!([
        snapshot,
        account_id,
        bucket.bucket_name,
        bucket.region,
        flag(bucket.policy_is_public),
        Value::String(json!(grants).to_string()),
        i64::from(acls),
        i64::from(ignore),
        i64::from(policy),
        i64::from(restrict),
        i64::from(exposed),
    ])
    .to_string()
}

/// Asserts that every view shows exactly what the manifest implies for `snapshot`.
fn assert_views_match(db: &Db, manifest: &Manifest, snapshot: i64) {
    assert_same_rows(
        "latest_snapshot",
        &rows(db, "SELECT id, status FROM latest_snapshot"),
        &BTreeSet::from([json!([snapshot, "complete"]).to_string()]),
    );

    let mut imdsv1 = BTreeSet::new();
    let mut unencrypted = BTreeSet::new();
    let mut open = BTreeSet::new();
    let mut public = BTreeSet::new();
    for account_id in &manifest.scan.expected_accounts {
        let fleet = &manifest.fleet[account_id];
        for (region, instances) in &fleet.instances {
            for instance in instances {
                if instance.state.as_deref() == Some("running")
                    && instance.imds_http_tokens.as_deref() == Some("optional")
                    && instance.imds_http_endpoint.as_deref() != Some("disabled")
                {
                    imdsv1.insert(
                        json!([snapshot, account_id, region, instance.instance_id]).to_string(),
                    );
                }
            }
        }
        for (region, volumes) in &fleet.volumes {
            for volume in volumes.iter().filter(|v| v.encrypted == Some(false)) {
                unencrypted
                    .insert(json!([snapshot, account_id, region, volume.volume_id]).to_string());
            }
        }
        for (region, groups) in &fleet.security_groups {
            for group in groups {
                let users = fleet
                    .instances
                    .get(region)
                    .into_iter()
                    .flatten()
                    .filter(|i| i.state.as_deref() != Some("terminated"))
                    .filter(|i| i.security_group_ids.contains(&group.group_id))
                    .count();
                for rule in &group.rules {
                    let cidr = rule["cidr"].as_str().unwrap_or_default();
                    if rule["direction"] == "ingress" && WORLD.contains(&cidr) {
                        open.insert(
                            json!([
                                snapshot,
                                account_id,
                                region,
                                group.group_id,
                                group.group_name,
                                group.vpc_id,
                                rule["protocol"],
                                rule["from_port"],
                                rule["to_port"],
                                cidr,
                                users,
                            ])
                            .to_string(),
                        );
                    }
                }
            }
        }
        for bucket in fleet.buckets.iter().filter(|b| is_public(b)) {
            public.insert(public_bucket_row(
                snapshot,
                account_id,
                bucket,
                &fleet.account_public_access_block,
            ));
        }
    }

    assert_same_rows(
        "imdsv1_instances",
        &rows(
            db,
            "SELECT snapshot_id, account_id, region, instance_id FROM imdsv1_instances",
        ),
        &imdsv1,
    );
    assert_same_rows(
        "unencrypted_volumes",
        &rows(
            db,
            "SELECT snapshot_id, account_id, region, volume_id FROM unencrypted_volumes",
        ),
        &unencrypted,
    );
    assert_same_rows(
        "open_ingress_rules",
        &rows(
            db,
            "SELECT snapshot_id, account_id, region, group_id, group_name, vpc_id, protocol,
                    from_port, to_port, cidr, instance_count
             FROM open_ingress_rules",
        ),
        &open,
    );
    assert_same_rows(
        "public_buckets",
        &rows(
            db,
            "SELECT snapshot_id, account_id, bucket_name, region, policy_is_public,
                    (SELECT json_group_array(value)
                     FROM (SELECT value FROM json_each(public_acl_grants) ORDER BY value)),
                    effective_block_public_acls, effective_ignore_public_acls,
                    effective_block_public_policy, effective_restrict_public_buckets, still_exposed
             FROM public_buckets",
        ),
        &public,
    );
}

/// The seed must hold an offender and a clean look-alike of every kind the
/// issue names; otherwise "exactly the offenders" proves little.
fn assert_seed_covers_every_case(manifest: &Manifest) {
    let fleets: Vec<_> = manifest
        .scan
        .expected_accounts
        .iter()
        .map(|account_id| &manifest.fleet[account_id])
        .collect();
    let rules: Vec<&Value> = fleets
        .iter()
        .flat_map(|fleet| fleet.security_groups.values().flatten())
        .flat_map(|group| &group.rules)
        .filter(|rule| rule["direction"] == "ingress")
        .collect();
    let cidr = |rule: &&Value| rule["cidr"].as_str().map(str::to_owned);
    let mut cases: BTreeMap<&str, bool> = BTreeMap::new();
    cases.insert(
        "ingress open over IPv4",
        rules
            .iter()
            .any(|r| cidr(r).as_deref() == Some("0.0.0.0/0")),
    );
    cases.insert(
        "ingress open over IPv6",
        rules.iter().any(|r| cidr(r).as_deref() == Some("::/0")),
    );
    cases.insert(
        "ingress closed over IPv4",
        rules
            .iter()
            .any(|r| cidr(r).is_some_and(|c| c.contains('.') && !WORLD.contains(&c.as_str()))),
    );
    cases.insert(
        "ingress closed over IPv6",
        rules
            .iter()
            .any(|r| cidr(r).is_some_and(|c| c.contains(':') && !WORLD.contains(&c.as_str()))),
    );
    cases.insert(
        "ingress from a prefix list",
        rules.iter().any(|r| r.get("prefix_list_id").is_some()),
    );
    cases.insert(
        "ingress from a group",
        rules.iter().any(|r| r.get("referenced_group_id").is_some()),
    );
    let volumes: Vec<_> = fleets
        .iter()
        .flat_map(|fleet| fleet.volumes.values().flatten())
        .collect();
    cases.insert(
        "encrypted volume",
        volumes.iter().any(|v| v.encrypted == Some(true)),
    );
    cases.insert(
        "unencrypted volume",
        volumes.iter().any(|v| v.encrypted == Some(false)),
    );
    let instances: Vec<_> = fleets
        .iter()
        .flat_map(|fleet| fleet.instances.values().flatten())
        .filter(|i| i.state.as_deref() == Some("running"))
        .collect();
    for tokens in ["required", "optional"] {
        cases.insert(
            if tokens == "required" {
                "running instance with IMDS tokens required"
            } else {
                "running instance with IMDS tokens optional"
            },
            instances
                .iter()
                .any(|i| i.imds_http_tokens.as_deref() == Some(tokens)),
        );
    }
    let buckets: Vec<_> = fleets.iter().flat_map(|fleet| &fleet.buckets).collect();
    let grants = |b: &Bucket| b.public_acl_grants.clone().unwrap_or_default();
    cases.insert(
        "bucket public through its policy alone",
        buckets
            .iter()
            .any(|b| b.policy_is_public == Some(true) && grants(b).is_empty()),
    );
    cases.insert(
        "bucket public through its ACL alone",
        buckets
            .iter()
            .any(|b| b.policy_is_public != Some(true) && !grants(b).is_empty()),
    );
    cases.insert("private bucket", buckets.iter().any(|b| !is_public(b)));
    cases.insert(
        "account-level block of public access",
        fleets
            .iter()
            .any(|fleet| fleet.account_public_access_block.block_public_policy == Some(true)),
    );
    cases.insert(
        "account without an account-level block",
        fleets
            .iter()
            .any(|fleet| fleet.account_public_access_block == AccountBlock::default()),
    );
    let missing: Vec<_> = cases
        .iter()
        .filter(|(_, present)| !**present)
        .map(|(case, _)| *case)
        .collect();
    assert!(missing.is_empty(), "the seed lacks: {missing:?}");
}

#[test]
fn audit_views_list_exactly_the_offenders_of_the_latest_snapshot() {
    let fixture = Fixture::new();
    assert_seed_covers_every_case(&fixture.manifest);
    fixture.scan(EXIT_OK, "first scan");
    assert_views_match(&fixture.db(), &fixture.manifest, 1);

    // After the mutator (a new IMDSv1 instance with an unencrypted root
    // volume, SSH opened on a group that instances use), the views follow the
    // newest snapshot and show nothing of the older one.
    let (mutated, _, _) = fixture.mutate();
    fixture.scan(EXIT_OK, "second scan");
    assert_views_match(&fixture.db(), &mutated, 2);
}

// ---------------------------------------------------------------------------
// Diff (issue 4)
// ---------------------------------------------------------------------------

/// What identifies a change in the comparison: kind, account, region,
/// resource type, resource id.
type ChangeKey = (String, String, String, String, String);

/// What a change says beyond its identity: fields (name → old, new), security, reasons (sorted).
#[derive(Debug, Clone, PartialEq)]
struct ChangeBody {
    fields: BTreeMap<String, (Value, Value)>,
    security: bool,
    reasons: Vec<String>,
}

/// The diff's `resource_type` for a manifest change's table.
fn diff_type(table: &str) -> &'static str {
    match table {
        "ec2_instances" => "ec2_instance",
        "ec2_security_group_rules" => "ec2_security_group_rule",
        "ec2_volumes" => "ec2_volume",
        "s3_buckets" => "s3_bucket",
        other => panic!("the mutator changed a table this test does not know: {other}"),
    }
}

/// The row of a resource in a raw manifest: instances and volumes by region
/// and id, buckets by name; `None` when absent.
fn manifest_row<'m>(
    manifest: &'m Value,
    account_id: &str,
    region: &str,
    table: &str,
    resource_id: &str,
) -> Option<&'m Value> {
    let fleet = &manifest["fleet"][account_id];
    let (list, id_column) = match table {
        "ec2_instances" => (&fleet["instances"][region], "instance_id"),
        "ec2_volumes" => (&fleet["volumes"][region], "volume_id"),
        "s3_buckets" => (&fleet["buckets"], "bucket_name"),
        other => panic!("no rows of {other} in a manifest"),
    };
    list.as_array()?
        .iter()
        .find(|row| row[id_column] == resource_id)
}

/// Columns whose JSON arrays are sets, as the diff compares them.
const SET_COLUMNS: [&str; 3] = [
    "security_group_ids",
    "attached_instance_ids",
    "public_acl_grants",
];
/// Timestamps: the manifest keeps seconds, the database what the SDK gives;
/// they never change between the two manifests here, so only names are compared.
const TIMESTAMP_COLUMNS: [&str; 3] = ["launch_time", "create_time", "creation_date"];

/// The fields that differ between two manifest rows, as the diff names them
/// (tags key by key as `tags.KEY`, sets as sets).
fn expected_fields(old: &Value, new: &Value, id_column: &str) -> BTreeMap<String, (Value, Value)> {
    let mut fields = BTreeMap::new();
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        panic!("manifest rows are objects: {old} {new}");
    };
    let columns: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for column in columns {
        if column == id_column {
            continue;
        }
        let (before, after) = (
            old.get(column).unwrap_or(&Value::Null),
            new.get(column).unwrap_or(&Value::Null),
        );
        if column == "tags" {
            let empty = serde_json::Map::new();
            let (before, after) = (
                before.as_object().unwrap_or(&empty),
                after.as_object().unwrap_or(&empty),
            );
            let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            for key in keys {
                let (was, is) = (
                    before.get(key).cloned().unwrap_or(Value::Null),
                    after.get(key).cloned().unwrap_or(Value::Null),
                );
                if was != is {
                    fields.insert(format!("tags.{key}"), (was, is));
                }
            }
        } else if SET_COLUMNS.contains(&column.as_str()) {
            let set = |value: &Value| -> Option<BTreeSet<String>> {
                value
                    .as_array()
                    .map(|items| items.iter().map(Value::to_string).collect())
            };
            if set(before) != set(after) {
                fields.insert(column.clone(), (before.clone(), after.clone()));
            }
        } else if before != after {
            fields.insert(column.clone(), (before.clone(), after.clone()));
        }
    }
    fields
}

/// Issue 4's security reasons for a modified instance or bucket, from the
/// manifest rows before and after.
fn expected_modified_reasons(table: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut reasons = Vec::new();
    match table {
        "ec2_instances" => {
            if old["public_ip"].is_null() && !new["public_ip"].is_null() {
                reasons.push(REASON_PUBLIC_IP.to_owned());
            }
            if old["imds_http_tokens"] != "optional" && new["imds_http_tokens"] == "optional" {
                reasons.push(REASON_IMDS_OPTIONAL.to_owned());
            }
        }
        "s3_buckets" => {
            for flag in BLOCK_FLAGS {
                if old[flag] == true && new[flag] != true {
                    reasons.push(format!(
                        "block public access turned off or removed: {flag} (bucket)"
                    ));
                }
            }
            if old["versioning"] == "Enabled" && new["versioning"] == "Suspended" {
                reasons.push(REASON_VERSIONING.to_owned());
            }
            if !old["sse_algorithm"].is_null() && new["sse_algorithm"].is_null() {
                reasons.push(REASON_ENCRYPTION_REMOVED.to_owned());
            }
            if old["policy_is_public"] != true && new["policy_is_public"] == true {
                reasons.push(REASON_PUBLIC_POLICY.to_owned());
            }
            let grants = |row: &Value| -> BTreeSet<String> {
                row["public_acl_grants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(Value::to_string)
                    .collect()
            };
            if !grants(new).is_subset(&grants(old)) {
                reasons.push(REASON_PUBLIC_ACL.to_owned());
            }
        }
        _ => {}
    }
    reasons.sort();
    reasons
}

/// The rule rows of a group in a raw manifest.
fn group_rules(manifest: &Value, account_id: &str, region: &str, group_id: &str) -> Vec<Value> {
    manifest["fleet"][account_id]["security_groups"][region]
        .as_array()
        .into_iter()
        .flatten()
        .find(|group| group["group_id"] == group_id)
        .and_then(|group| group["rules"].as_array().cloned())
        .unwrap_or_default()
}

/// A rule as the diff names it: `sg-1 ingress tcp 22 from 0.0.0.0/0`.
fn rule_id(group_id: &str, rule: &Value) -> String {
    let protocol = match rule["protocol"].as_str() {
        Some("-1") | None => "all".to_owned(),
        Some(other) => other.to_owned(),
    };
    let ports = match (rule["from_port"].as_i64(), rule["to_port"].as_i64()) {
        (None, None) => "all".to_owned(),
        (Some(from), Some(to)) if from == to => from.to_string(),
        (from, to) => format!(
            "{}-{}",
            from.map_or("*".to_owned(), |p| p.to_string()),
            to.map_or("*".to_owned(), |p| p.to_string())
        ),
    };
    let source = ["cidr", "prefix_list_id", "referenced_group_id"]
        .iter()
        .find_map(|column| rule[column].as_str())
        .unwrap_or("?");
    let direction = rule["direction"].as_str().unwrap_or("?");
    let preposition = if direction == "egress" { "to" } else { "from" };
    format!("{group_id} {direction} {protocol} {ports} {preposition} {source}")
}

/// Every change the diff must list, from the mutator's `changes` and the
/// manifests before and after: one entry per resource, however many of the
/// mutator's steps touched it.
fn expected_changes(
    mutated: &Manifest,
    before: &Value,
    after: &Value,
) -> BTreeMap<ChangeKey, ChangeBody> {
    let mut expected = BTreeMap::new();
    for change in &mutated.changes {
        let table = change.resource_type.as_str();
        let (account, region) = (change.account_id.as_str(), change.region.as_str());
        if table == "ec2_security_group_rules" {
            assert_eq!(
                change.kind, "added",
                "the mutator only adds rules: {change:?}"
            );
            let old_rules = group_rules(before, account, region, &change.resource_id);
            for rule in group_rules(after, account, region, &change.resource_id) {
                if old_rules.contains(&rule) {
                    continue;
                }
                let world = rule["direction"] == "ingress"
                    && WORLD.contains(&rule["cidr"].as_str().unwrap_or_default());
                let reasons = if world {
                    vec![REASON_WORLD_INGRESS.to_owned()]
                } else {
                    Vec::new()
                };
                expected.insert(
                    (
                        "added".to_owned(),
                        account.to_owned(),
                        region.to_owned(),
                        diff_type(table).to_owned(),
                        rule_id(&change.resource_id, &rule),
                    ),
                    ChangeBody {
                        fields: BTreeMap::new(),
                        security: world,
                        reasons,
                    },
                );
            }
            continue;
        }
        // S3 changes say `global`; the diff shows the bucket's region.
        let lookup_region = |manifest: &Value| -> Option<String> {
            manifest_row(manifest, account, region, table, &change.resource_id)
                .map(|row| row["region"].as_str().unwrap_or(region).to_owned())
        };
        let shown_region = if table == "s3_buckets" {
            lookup_region(after)
                .or_else(|| lookup_region(before))
                .unwrap_or_else(|| panic!("bucket {} in neither manifest", change.resource_id))
        } else {
            region.to_owned()
        };
        let old = manifest_row(before, account, region, table, &change.resource_id);
        let new = manifest_row(after, account, region, table, &change.resource_id);
        let body = match (change.kind.as_str(), old, new) {
            ("modified", Some(old), Some(new)) => {
                let id_column = match table {
                    "ec2_instances" => "instance_id",
                    "ec2_volumes" => "volume_id",
                    _ => "bucket_name",
                };
                let reasons = expected_modified_reasons(table, old, new);
                ChangeBody {
                    fields: expected_fields(old, new, id_column),
                    security: !reasons.is_empty(),
                    reasons,
                }
            }
            ("added", None, Some(new)) => {
                let reasons = if table == "ec2_volumes" && new["encrypted"] == false {
                    vec![REASON_UNENCRYPTED_VOLUME.to_owned()]
                } else {
                    Vec::new()
                };
                ChangeBody {
                    fields: BTreeMap::new(),
                    security: !reasons.is_empty(),
                    reasons,
                }
            }
            ("removed", Some(_), None) => ChangeBody {
                fields: BTreeMap::new(),
                security: false,
                reasons: Vec::new(),
            },
            (kind, old, new) => panic!(
                "{change:?} says {kind}, but the manifests hold it before: {}, after: {}",
                old.is_some(),
                new.is_some()
            ),
        };
        expected.insert(
            (
                change.kind.clone(),
                account.to_owned(),
                shown_region,
                diff_type(table).to_owned(),
                change.resource_id.clone(),
            ),
            body,
        );
    }
    expected
}

/// The changes of `diff --format json`, keyed like [`expected_changes`].
/// Fields of added and removed resources (their values) are not compared.
fn listed_changes(diff: &Value) -> BTreeMap<ChangeKey, ChangeBody> {
    let changes = diff["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("diff JSON has changes: {diff:#}"));
    let mut listed = BTreeMap::new();
    for change in changes {
        let text = |key: &str| change[key].as_str().unwrap_or_default().to_owned();
        let kind = text("change");
        let fields = if kind == "modified" {
            change["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|field| {
                    let name = field["field"].as_str().unwrap_or_default().to_owned();
                    let values = if TIMESTAMP_COLUMNS.contains(&name.as_str()) {
                        (Value::Null, Value::Null)
                    } else {
                        (field["old"].clone(), field["new"].clone())
                    };
                    (name, values)
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        let mut reasons: Vec<String> = change["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|reason| reason.as_str().unwrap_or_default().to_owned())
            .collect();
        reasons.sort();
        let key = (
            kind,
            text("account_id"),
            text("region"),
            text("resource_type"),
            text("resource_id"),
        );
        let body = ChangeBody {
            fields,
            security: change["security"] == true,
            reasons,
        };
        assert!(
            listed.insert(key.clone(), body).is_none(),
            "listed twice: {key:?}"
        );
    }
    listed
}

/// Expected timestamps are not compared by value (see [`TIMESTAMP_COLUMNS`]).
fn without_timestamp_values(
    mut changes: BTreeMap<ChangeKey, ChangeBody>,
) -> BTreeMap<ChangeKey, ChangeBody> {
    for body in changes.values_mut() {
        for (name, values) in body.fields.iter_mut() {
            if TIMESTAMP_COLUMNS.contains(&name.as_str()) {
                *values = (Value::Null, Value::Null);
            }
        }
    }
    changes
}

fn assert_same_changes(
    what: &str,
    listed: &BTreeMap<ChangeKey, ChangeBody>,
    expected: &BTreeMap<ChangeKey, ChangeBody>,
) {
    let mut problems = Vec::new();
    for (key, body) in expected {
        match listed.get(key) {
            None => problems.push(format!("missing {key:?}: {body:?}")),
            Some(found) if found != body => problems.push(format!(
                "{key:?}\n      expected {body:?}\n      listed   {found:?}"
            )),
            Some(_) => {}
        }
    }
    for (key, body) in listed {
        if !expected.contains_key(key) {
            problems.push(format!("unexpected {key:?}: {body:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} listed, {} expected\n  {}",
        listed.len(),
        expected.len(),
        problems.join("\n  ")
    );
}

/// Replaces what moto makes up per run (account, instance, volume and group
/// ids, times, addresses) with stable placeholders, so text and markdown
/// output can be snapshot-tested.
struct Redactor {
    /// Literal replacements, longest first.
    literal: Vec<(String, String)>,
}

impl Redactor {
    fn new(mutated: &Manifest, before: &Value) -> Redactor {
        let mut literal = Vec::new();
        for (index, account_id) in mutated.scan.expected_accounts.iter().enumerate() {
            literal.push((account_id.clone(), format!("<account-{index}>")));
        }
        // Which region loses its db-primary depends on how the random account
        // ids sort; the JSON comparison checks the region, the snapshot hides it.
        for change in &mutated.changes {
            let hidden = match (change.resource_type.as_str(), change.kind.as_str()) {
                ("ec2_instances", "modified") if change.detail.starts_with("state:") => {
                    Some("<terminated-instance>")
                }
                ("ec2_volumes", "removed") => Some("<its-root-volume>"),
                _ => None,
            };
            if let Some(placeholder) = hidden {
                literal.push((
                    format!("{} {}", change.region, change.resource_id),
                    format!("<region> {placeholder}"),
                ));
                literal.push((
                    format!("{}` in `{}", change.resource_id, change.region),
                    format!("{placeholder}` in `<region>"),
                ));
                literal.push((change.resource_id.clone(), placeholder.to_owned()));
            }
        }
        // The retagged instance's `env` before the change follows its account id.
        for change in &mutated.changes {
            if change.detail.starts_with("tag env") {
                let old = manifest_row(
                    before,
                    &change.account_id,
                    &change.region,
                    &change.resource_type,
                    &change.resource_id,
                )
                .and_then(|row| row["tags"]["env"].as_str())
                .unwrap_or("?")
                .to_owned();
                literal.push((
                    format!("tags.env: \"{old}\""),
                    "tags.env: \"<seeded env>\"".to_owned(),
                ));
                literal.push((
                    format!("tags.env`: `\"{old}\"`"),
                    "tags.env`: `\"<seeded env>\"`".to_owned(),
                ));
            }
        }
        literal.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        Redactor { literal }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.literal {
            text = text.replace(from, to);
        }
        let text = numbered_ids(&text, &["i-", "vol-", "sg-", "pl-", "vpc-", "subnet-"]);
        let text = replace_timestamps(&text);
        replace_addresses(&text)
    }
}

/// `i-0abc…` → `<i-1>`, numbered in order of first appearance (the diff's
/// order is fixed by the manifest's shape, so the numbers are stable).
fn numbered_ids(text: &str, prefixes: &[&str]) -> String {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let at_word_start = out
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-');
        if at_word_start {
            for prefix in prefixes {
                if let Some(tail) = rest.strip_prefix(prefix) {
                    let hex = tail
                        .find(|c: char| !c.is_ascii_hexdigit())
                        .unwrap_or(tail.len());
                    if hex >= 8 {
                        let id = &rest[..prefix.len() + hex];
                        let placeholder = seen.entry(id.to_owned()).or_insert_with(|| {
                            let counter = counters.entry(prefix).or_insert(0);
                            *counter += 1;
                            format!("<{prefix}{counter}>")
                        });
                        out.push_str(placeholder);
                        rest = &rest[id.len()..];
                        continue 'scan;
                    }
                }
            }
        }
        let Some(character) = rest.chars().next() else {
            break;
        };
        out.push(character);
        rest = &rest[character.len_utf8()..];
    }
    out
}

/// RFC 3339 times (`2025-01-31T02:00:00Z`, with or without fraction and zone) → `<time>`.
fn replace_timestamps(text: &str) -> String {
    let pattern = |window: &[u8]| {
        window.len() >= 19
            && window
                .iter()
                .take(19)
                .enumerate()
                .all(|(index, byte)| match index {
                    4 | 7 => *byte == b'-',
                    10 => *byte == b'T',
                    13 | 16 => *byte == b':',
                    _ => byte.is_ascii_digit(),
                })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    let mut copied = 0;
    while index < bytes.len() {
        if pattern(&bytes[index..]) {
            let mut end = index + 19;
            while end < bytes.len()
                && matches!(bytes[end], b'0'..=b'9' | b'.' | b':' | b'+' | b'-' | b'Z')
            {
                end += 1;
            }
            out.push_str(&text[copied..index]);
            out.push_str("<time>");
            index = end;
            copied = end;
        } else {
            index += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Dotted IPv4 addresses that are not part of a CIDR (`0.0.0.0/0` stays) → `<ip>`.
fn replace_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let preceded_by_word = rest[..start]
            .chars()
            .last()
            .or_else(|| out.chars().last())
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '<');
        let candidate_end = rest[start..]
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .map_or(rest.len(), |offset| start + offset);
        let candidate = &rest[start..candidate_end];
        let octets: Vec<&str> = candidate.split('.').collect();
        let is_address = !preceded_by_word
            && octets.len() == 4
            && octets.iter().all(|octet| {
                !octet.is_empty() && octet.len() <= 3 && octet.parse::<u16>().is_ok_and(|n| n < 256)
            })
            && !rest[candidate_end..].starts_with('/');
        out.push_str(&rest[..start]);
        if is_address {
            out.push_str("<ip>");
        } else {
            out.push_str(candidate);
        }
        rest = &rest[candidate_end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn diff_lists_exactly_the_mutations_with_their_security_reasons() {
    let fixture = Fixture::new();
    fixture.scan(EXIT_OK, "first scan");
    fixture.scan(EXIT_OK, "second scan, nothing changed");

    // Two snapshots of an unchanged fleet: no differences, exit 0 even with --exit-code.
    let unchanged = fixture.run_on_db("diff", &["--format", "json", "--exit-code"]);
    unchanged.expect_code(EXIT_OK, "diff of an unchanged fleet with --exit-code");
    let unchanged = unchanged.json();
    assert_eq!(unchanged["old"], 1, "{unchanged:#}");
    assert_eq!(unchanged["new"], 2, "{unchanged:#}");
    assert_eq!(unchanged["changes"], json!([]), "{unchanged:#}");
    assert_eq!(unchanged["not_comparable"], json!([]), "{unchanged:#}");

    let (mutated, before, after) = fixture.mutate();
    fixture.scan(EXIT_OK, "third scan, after the mutator");

    let diff = fixture.run_on_db("diff", &["--format", "json"]);
    diff.expect_code(EXIT_OK, "diff without --exit-code");
    let diff = diff.json();
    assert_eq!(diff["old"], 2, "the two newest usable snapshots: {diff:#}");
    assert_eq!(diff["new"], 3, "the two newest usable snapshots: {diff:#}");
    assert_eq!(diff["not_comparable"], json!([]), "{diff:#}");

    let expected = without_timestamp_values(expected_changes(&mutated, &before, &after));
    let listed = listed_changes(&diff);
    assert_same_changes("diff --format json", &listed, &expected);
    // Beside the mutator's own steps, the ones moto adds (root volumes) are there too.
    assert!(
        expected.keys().any(|key| key.3 == "ec2_volume"),
        "the mutator recorded the root volumes moto adds and removes: {expected:#?}"
    );

    let count = |kind: &str| expected.keys().filter(|key| key.0 == kind).count() as u64;
    let security = expected.values().filter(|body| body.security).count() as u64;
    let summary = &diff["summary"];
    assert_eq!(
        summary["added"].as_u64(),
        Some(count("added")),
        "{summary:#}"
    );
    assert_eq!(
        summary["removed"].as_u64(),
        Some(count("removed")),
        "{summary:#}"
    );
    assert_eq!(
        summary["modified"].as_u64(),
        Some(count("modified")),
        "{summary:#}"
    );
    assert_eq!(summary["security"].as_u64(), Some(security), "{summary:#}");
    assert_eq!(summary["accounts_entered"].as_u64(), Some(0), "{summary:#}");
    assert_eq!(summary["accounts_left"].as_u64(), Some(0), "{summary:#}");
    assert_eq!(summary["accounts_changed"].as_u64(), Some(0), "{summary:#}");

    // --security-only keeps exactly the changes with a reason.
    let security_only = fixture.run_on_db("diff", &["--format", "json", "--security-only"]);
    security_only.expect_code(EXIT_OK, "diff --security-only");
    let expected_security: BTreeMap<_, _> = expected
        .iter()
        .filter(|(_, body)| body.security)
        .map(|(key, body)| (key.clone(), body.clone()))
        .collect();
    assert!(
        expected_security.len() >= 3 && expected_security.len() < expected.len(),
        "the mutation mixes security and other changes: {expected:#?}"
    );
    assert_same_changes(
        "diff --format json --security-only",
        &listed_changes(&security_only.json()),
        &expected_security,
    );

    // --exit-code: 4 when there are differences, whatever the format.
    for format in ["json", "text", "markdown"] {
        fixture
            .run_on_db("diff", &["--format", format, "--exit-code"])
            .expect_code(
                EXIT_DIFFERENCES,
                &format!("diff --format {format} --exit-code"),
            );
    }

    // Text and markdown, whole-output snapshots with per-run values redacted.
    let redactor = Redactor::new(&mutated, &before);
    let text = fixture.run_on_db("diff", &["--format", "text"]);
    text.expect_code(EXIT_OK, "diff --format text");
    insta::assert_snapshot!("diff_text", redactor.redact(&text.stdout));
    let markdown = fixture.run_on_db("diff", &["--format", "markdown"]);
    markdown.expect_code(EXIT_OK, "diff --format markdown");
    insta::assert_snapshot!("diff_markdown", redactor.redact(&markdown.stdout));
    let text_security = fixture.run_on_db("diff", &["--format", "text", "--security-only"]);
    text_security.expect_code(EXIT_OK, "diff --format text --security-only");
    insta::assert_snapshot!(
        "diff_text_security_only",
        redactor.redact(&text_security.stdout)
    );
}

// ---------------------------------------------------------------------------
// Not comparable, and prune (issue 4)
// ---------------------------------------------------------------------------

fn snapshot_statuses(fixture: &Fixture) -> Vec<(i64, String)> {
    let listing = fixture.run_on_db("snapshots", &["--format", "json"]);
    listing.expect_code(EXIT_OK, "snapshots --format json");
    let listed = listing.json();
    let mut statuses: Vec<(i64, String)> = listed
        .as_array()
        .unwrap_or_else(|| panic!("snapshots --format json is an array: {listed:#}"))
        .iter()
        .map(|snapshot| {
            (
                snapshot["id"].as_i64().unwrap_or(-1),
                snapshot["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    statuses.sort();
    statuses
}

#[test]
fn a_failed_unit_is_not_comparable_and_prune_keeps_the_newest_usable_snapshot() {
    let fixture = Fixture::new();
    let manifest = &fixture.manifest;
    fixture.scan(EXIT_OK, "first scan");

    // The second scan cannot list one account's volumes in one region.
    let account_id = manifest.scan.expected_accounts[0].clone();
    let region = manifest.scan.regions[1].clone();
    let volumes = manifest.fleet[&account_id].volumes[&region].len() as i64;
    assert!(
        volumes > 0,
        "the denied unit held volumes in the first scan"
    );
    fixture
        .moto
        .deny("ec2:DescribeVolumes", &account_id, Some(&region));
    let summary = fixture.scan(EXIT_PARTIAL, "second scan, one unit denied");
    assert_eq!(summary["status"], "partial", "{summary:#}");
    {
        let db = fixture.db();
        let units: Vec<_> = db
            .scan_units(2)
            .into_iter()
            .filter(|unit| unit.status != "ok")
            .map(|unit| (unit.account_id, unit.region, unit.collector, unit.status))
            .collect();
        assert_eq!(
            units,
            vec![(
                account_id.clone(),
                region.clone(),
                "ec2_volumes".to_owned(),
                "denied".to_owned()
            )],
            "exactly one unit failed"
        );
        let stored = |snapshot: i64| {
            db.count(
                "SELECT count(*) FROM ec2_volumes WHERE snapshot_id = ?1 AND account_id = ?2 AND region = ?3",
                rusqlite::params![snapshot, account_id, region],
            )
        };
        assert_eq!(stored(1), volumes, "snapshot 1 holds the unit's volumes");
        assert_eq!(stored(2), 0, "snapshot 2 has none to compare with");
    }

    // Nothing changed in the fleet: the diff lists the unit, and removes nothing.
    let diff = fixture.run_on_db("diff", &["1", "2", "--format", "json"]);
    diff.expect_code(EXIT_OK, "diff 1 2");
    let diff = diff.json();
    assert_eq!(diff["changes"], json!([]), "no change at all: {diff:#}");
    assert_eq!(
        diff["not_comparable"],
        json!([{
            "account_id": account_id,
            "region": region,
            "collector": "ec2_volumes",
            "old_status": "ok",
            "new_status": "denied",
        }]),
        "{diff:#}"
    );
    assert_eq!(diff["summary"]["removed"], 0, "{diff:#}");
    assert_eq!(diff["summary"]["not_comparable"], 1, "{diff:#}");

    // A third scan sees everything again; a fourth can assume no role at all
    // and ends `failed`, newer than every usable one.
    fixture.moto.reset_denials();
    fixture.scan(EXIT_OK, "third scan, nothing denied");
    fixture.moto.deny(
        "sts:AssumeRole",
        &manifest.organization.management_account_id,
        None,
    );
    let config = fixture.config.to_string_lossy().into_owned();
    fixture
        .fleetscan
        .run(["scan", "--config", config.as_str(), "--no-progress"])
        .expect_code(EXIT_FAILURE, "fourth scan, every AssumeRole denied");
    fixture.moto.reset_denials();
    assert_eq!(
        snapshot_statuses(&fixture),
        vec![
            (1, "complete".to_owned()),
            (2, "partial".to_owned()),
            (3, "complete".to_owned()),
            (4, "failed".to_owned()),
        ]
    );

    let prune = fixture.run_on_db("prune", &["--keep", "1", "--format", "json"]);
    prune.expect_code(EXIT_OK, "prune --keep 1");
    let report = prune.json();
    assert_eq!(report["kept"], json!([3]), "{report:#}");
    let mut deleted: Vec<i64> = report["deleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    deleted.sort();
    assert_eq!(deleted, vec![1, 2, 4], "{report:#}");

    let db = fixture.db();
    assert_eq!(db.integrity_check(), "ok");
    assert_eq!(
        snapshot_statuses(&fixture),
        vec![(3, "complete".to_owned())]
    );
    for table in [
        "accounts",
        "scan_units",
        "ec2_instances",
        "ec2_security_groups",
        "ec2_security_group_rules",
        "ec2_volumes",
        "s3_buckets",
        "s3_account_public_access_block",
    ] {
        assert_eq!(
            db.count(
                &format!("SELECT count(*) FROM {table} WHERE snapshot_id <> 3"),
                []
            ),
            0,
            "no rows of pruned snapshots left in {table}"
        );
        assert!(
            db.count(
                &format!("SELECT count(*) FROM {table} WHERE snapshot_id = 3"),
                []
            ) > 0,
            "the kept snapshot keeps its rows in {table}"
        );
    }
    // What is kept is still the whole fleet: the views read it.
    assert_views_match(&db, manifest, 3);
}
