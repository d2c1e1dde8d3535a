//! End-to-end: the `fleetscan` binary against moto, the database compared with the seeder's manifest.
//!
//! Each test starts its own moto on a free loopback port and seeds the sample
//! organization of `tests/moto/seed.py`; ids come from the manifest, never from
//! this file. Needs the moto virtualenv: run `scripts/test` (the README's test command).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetscan_tests::config::ScanConfig;
use fleetscan_tests::db::{Db, InstancesByAccount};
use fleetscan_tests::fleetscan::{
    Fleetscan, RunOutput, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY,
};
use fleetscan_tests::manifest::{Bucket, Manifest};
use fleetscan_tests::moto::Moto;

/// The exit codes of DESIGN.md.
const EXIT_OK: i32 = 0;

/// The regional collectors a default scan runs, and the global units, per
/// account (`ec2_regions` is region discovery, DescribeRegions, recorded as a unit).
const REGIONAL_COLLECTORS: [&str; 3] = ["ec2_instances", "ec2_security_groups", "ec2_volumes"];
const GLOBAL_COLLECTORS: [&str; 3] = [
    "ec2_regions",
    "s3_buckets",
    "s3_account_public_access_block",
];

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
        // Count only what fleetscan does, not the seeding.
        moto.reset_calls();
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

    fn config_arg(&self) -> String {
        self.config.to_string_lossy().into_owned()
    }

    fn scan(&self, extra: &[&str]) -> RunOutput {
        let config = self.config_arg();
        let mut args = vec!["scan", "--config", config.as_str(), "--no-progress"];
        args.extend_from_slice(extra);
        self.fleetscan.run(args)
    }

    fn db(&self) -> Db {
        Db::open(&self.db)
    }

    fn seeded_manifest_path(&self) -> PathBuf {
        self.dir.path().join("manifest.json")
    }
}

/// Instances by account and region, without regions that hold none (the
/// database cannot tell an empty region from an absent one).
fn non_empty(instances: InstancesByAccount) -> InstancesByAccount {
    instances
        .into_iter()
        .map(|(account, regions)| {
            (
                account,
                regions
                    .into_iter()
                    .filter(|(_, instances)| !instances.is_empty())
                    .collect::<BTreeMap<_, _>>(),
            )
        })
        .filter(|(_, regions)| !regions.is_empty())
        .collect()
}

/// Asserts that snapshot `snapshot_id` holds exactly the manifest's instances and buckets.
fn assert_snapshot_matches(db: &Db, snapshot_id: i64, manifest: &Manifest) {
    let stored = non_empty(db.instances(snapshot_id));
    let expected = non_empty(manifest.expected_instances());
    for (account_id, regions) in &expected {
        for (region, instances) in regions {
            let ids: Vec<_> = instances.iter().map(|i| &i.instance_id).collect();
            let stored_ids: Vec<_> = stored
                .get(account_id)
                .and_then(|regions| regions.get(region))
                .map(|instances| instances.iter().map(|i| &i.instance_id).collect())
                .unwrap_or_default();
            assert_eq!(
                stored_ids, ids,
                "snapshot {snapshot_id}: instance ids of {account_id} in {region}"
            );
        }
    }
    assert_eq!(
        stored, expected,
        "snapshot {snapshot_id}: every instance column"
    );

    let stored_buckets = db.buckets(snapshot_id);
    let expected_buckets: BTreeMap<String, Vec<Bucket>> = manifest
        .expected_buckets()
        .into_iter()
        .filter(|(_, buckets)| !buckets.is_empty())
        .collect();
    let names = |buckets: &BTreeMap<String, Vec<Bucket>>| -> BTreeSet<(String, String)> {
        buckets
            .iter()
            .flat_map(|(account, buckets)| {
                buckets
                    .iter()
                    .map(move |b| (account.clone(), b.bucket_name.clone()))
            })
            .collect()
    };
    let stored_without_errors: BTreeMap<String, Vec<Bucket>> = stored_buckets
        .iter()
        .map(|(account, buckets)| {
            (
                account.clone(),
                buckets.iter().map(|(bucket, _)| bucket.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        names(&stored_without_errors),
        names(&expected_buckets),
        "snapshot {snapshot_id}: bucket names"
    );
    for (account_id, buckets) in &expected_buckets {
        for (expected, stored) in buckets.iter().zip(&stored_without_errors[account_id]) {
            assert_eq!(
                stored, expected,
                "snapshot {snapshot_id}: posture of {}",
                expected.bucket_name
            );
        }
    }
    for (account_id, buckets) in &stored_buckets {
        for (bucket, fetch_errors) in buckets {
            assert_eq!(
                fetch_errors,
                &serde_json::json!({}),
                "snapshot {snapshot_id}: {account_id}/{} read without errors",
                bucket.bucket_name
            );
        }
    }
}

fn expected_account_set(manifest: &Manifest) -> BTreeSet<String> {
    manifest.scan.expected_accounts.iter().cloned().collect()
}

#[test]
fn scan_stores_exactly_the_seeded_fleet() {
    let fixture = Fixture::new();
    let manifest = &fixture.manifest;
    let output = fixture.scan(&["--format", "json"]);
    output.expect_code(EXIT_OK, "a scan of a healthy fleet");

    let summary = output.json();
    let expected_accounts = manifest.scan.expected_accounts.len() as u64;
    assert_eq!(summary["status"], "complete", "summary: {summary:#}");
    assert_eq!(summary["snapshot_id"], 1, "summary: {summary:#}");
    assert_eq!(
        summary["accounts_total"].as_u64(),
        Some(expected_accounts),
        "summary: {summary:#}"
    );
    assert_eq!(
        summary["accounts_ok"].as_u64(),
        Some(expected_accounts),
        "summary: {summary:#}"
    );
    assert_eq!(
        summary["accounts_failed"].as_u64(),
        Some(0),
        "summary: {summary:#}"
    );
    let instance_count: usize = manifest
        .expected_instances()
        .values()
        .flat_map(|regions| regions.values())
        .map(Vec::len)
        .sum();
    let bucket_count: usize = manifest.expected_buckets().values().map(Vec::len).sum();
    assert_eq!(
        summary["resources"]["ec2_instances"].as_u64(),
        Some(instance_count as u64),
        "summary: {summary:#}"
    );
    assert_eq!(
        summary["resources"]["s3_buckets"].as_u64(),
        Some(bucket_count as u64),
        "summary: {summary:#}"
    );

    let db = fixture.db();
    let snapshots = db.snapshots();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0].status, "complete");
    assert!(snapshots[0].finished_at.is_some());
    assert_eq!(snapshots[0].accounts_total, Some(expected_accounts as i64));
    assert_eq!(snapshots[0].accounts_ok, Some(expected_accounts as i64));
    assert_eq!(snapshots[0].accounts_failed, Some(0));

    // Accounts: exactly the scanned ones, with what Organizations says about them.
    let accounts = db.accounts(1);
    let stored: BTreeSet<String> = accounts.iter().map(|a| a.account_id.clone()).collect();
    assert_eq!(stored, expected_account_set(manifest), "accounts table");
    for account in &accounts {
        let seeded = manifest.account(&account.account_id);
        assert_eq!(account.status, "ok", "{account:?}");
        assert_eq!(account.error, None, "{account:?}");
        assert_eq!(account.name.as_deref(), Some(seeded.name.as_str()));
        assert_eq!(account.email.as_deref(), Some(seeded.email.as_str()));
        assert_eq!(account.state.as_deref(), Some("ACTIVE"));
        assert_eq!(account.role_arn, seeded.role_arn);
        let ou_path = format!("Root/{}", seeded.ou_path.join("/"));
        assert_eq!(
            account.ou_path.as_deref(),
            Some(ou_path.as_str()),
            "{account:?}"
        );
    }
    for left_out in manifest.organization.accounts.iter().filter(|a| !a.scanned) {
        assert!(
            !stored.contains(&left_out.id),
            "{} ({:?}) must not be scanned",
            left_out.name,
            left_out.not_scanned_because
        );
    }

    // Units: every (account, region, collector) recorded, every one ok.
    let units = db.scan_units(1);
    let mut expected_units = BTreeSet::new();
    for account_id in &manifest.scan.expected_accounts {
        for region in &manifest.scan.regions {
            for collector in REGIONAL_COLLECTORS {
                expected_units.insert((account_id.clone(), region.clone(), collector.to_string()));
            }
        }
        for collector in GLOBAL_COLLECTORS {
            expected_units.insert((
                account_id.clone(),
                "global".to_string(),
                collector.to_string(),
            ));
        }
    }
    let stored_units: BTreeSet<_> = units
        .iter()
        .map(|u| (u.account_id.clone(), u.region.clone(), u.collector.clone()))
        .collect();
    assert_eq!(stored_units, expected_units, "scan_units");
    for unit in &units {
        assert_eq!(unit.status, "ok", "{unit:?}");
        assert!(unit.api_calls > 0, "{unit:?} made calls");
    }
    let instance_units: i64 = units
        .iter()
        .filter(|u| u.collector == "ec2_instances")
        .map(|u| u.resources)
        .sum();
    assert_eq!(
        instance_units, instance_count as i64,
        "ec2_instances units count what they stored"
    );

    assert_snapshot_matches(&db, 1, manifest);
}

#[test]
fn assume_role_is_called_once_per_scanned_account_and_pages_are_followed() {
    let fixture = Fixture::new();
    fixture.scan(&[]).expect_code(EXIT_OK, "scan");
    let calls = fixture.moto.calls();

    let once: BTreeMap<String, u64> = fixture
        .manifest
        .scan
        .expected_accounts
        .iter()
        .map(|account_id| (account_id.clone(), 1))
        .collect();
    assert_eq!(
        calls.assume_role, once,
        "AssumeRole calls by target account"
    );
    let expected_arns: BTreeMap<String, u64> = fixture
        .manifest
        .scan
        .expected_accounts
        .iter()
        .map(|account_id| (fixture.manifest.account(account_id).role_arn.clone(), 1))
        .collect();
    assert_eq!(
        calls.assume_role_arns, expected_arns,
        "AssumeRole calls by role ARN"
    );

    // Nothing ran as an account that is not scanned (the management account
    // plans; it must not be inventoried).
    let management = &fixture.manifest.organization.management_account_id;
    for (account_id, operations) in &calls.by_account {
        if account_id == management {
            let resource_calls: Vec<_> = operations
                .keys()
                .filter(|op| op.starts_with("ec2:") || op.starts_with("s3"))
                .collect();
            assert!(
                resource_calls.is_empty(),
                "resource calls as the management account: {resource_calls:?}"
            );
        } else {
            assert!(
                fixture.manifest.scan.expected_accounts.contains(account_id),
                "calls as {account_id}, which is not scanned: {operations:?}"
            );
        }
    }

    // The small page sizes of the test config force more than one page: one
    // region of one account holds more instances than a page, one OU more
    // accounts than a page.
    let regions = fixture.manifest.scan.regions.len() as u64;
    let accounts = fixture.manifest.scan.expected_accounts.len() as u64;
    assert!(
        calls.operation("ec2:DescribeInstances") > accounts * regions,
        "DescribeInstances followed NextToken: {} calls for {} account-regions",
        calls.operation("ec2:DescribeInstances"),
        accounts * regions
    );
    let listed = calls.operation("organizations:ListAccountsForParent")
        + calls.operation("organizations:ListAccounts");
    let scanned_ous = fixture
        .manifest
        .organization
        .ous
        .iter()
        .filter(|ou| ou.path.starts_with("Workloads"))
        .count();
    assert!(
        listed > scanned_ous as u64,
        "account listing followed NextToken: {listed} calls for {scanned_ous} OUs"
    );
}

#[test]
fn database_and_verbose_log_hold_no_credentials() {
    let fixture = Fixture::new();
    let output = fixture.scan(&["-vv"]);
    output.expect_code(EXIT_OK, "scan -vv");
    assert!(!output.stderr.is_empty(), "-vv logs something");

    let issued = fixture.moto.issued_credentials();
    let scanned: BTreeSet<_> = fixture.manifest.scan.expected_accounts.iter().collect();
    assert!(
        issued
            .iter()
            .filter(|credential| scanned.contains(&credential.account))
            .count()
            >= scanned.len(),
        "moto issued credentials for every scanned account"
    );
    let mut secrets: Vec<(&str, String)> = vec![
        ("the base access key id", TEST_ACCESS_KEY_ID.to_string()),
        ("the base secret key", TEST_SECRET_ACCESS_KEY.to_string()),
    ];
    for credential in &issued {
        secrets.push(("an issued access key id", credential.access_key_id.clone()));
        secrets.push(("an issued secret key", credential.secret_access_key.clone()));
        secrets.push(("an issued session token", credential.session_token.clone()));
    }

    // Collect every finding first, so one failure names all leaks at once.
    let mut leaks = Vec::new();
    let files = database_files(&fixture.db);
    assert!(!files.is_empty());
    for file in &files {
        let bytes =
            std::fs::read(file).unwrap_or_else(|err| panic!("read {}: {err}", file.display()));
        for (what, secret) in &secrets {
            if contains(&bytes, secret.as_bytes()) {
                leaks.push(format!("{what} ({secret}) in {}", file.display()));
            }
        }
        let mode = std::fs::metadata(file)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "mode of {}", file.display());
    }
    for (stream, text) in [
        ("the -vv log (stderr)", &output.stderr),
        ("stdout", &output.stdout),
    ] {
        for (what, secret) in &secrets {
            if let Some(line) = text.lines().find(|line| line.contains(secret.as_str())) {
                let excerpt: String = line.chars().take(300).collect();
                leaks.push(format!("{what} ({secret}) in {stream}, e.g.: {excerpt}"));
            }
        }
    }
    leaks.dedup();
    assert!(
        leaks.is_empty(),
        "credential material found:\n  {}",
        leaks.join("\n  ")
    );
}

#[test]
fn second_scan_after_changes_makes_a_second_snapshot() {
    let fixture = Fixture::new();
    fixture.scan(&[]).expect_code(EXIT_OK, "first scan");
    let mutated = fixture
        .moto
        .mutate(&fixture.seeded_manifest_path(), fixture.dir.path());
    assert!(!mutated.changes.is_empty());
    let output = fixture.scan(&["--format", "json"]);
    output.expect_code(EXIT_OK, "second scan");
    assert_eq!(output.json()["snapshot_id"], 2);

    let db = fixture.db();
    let statuses: Vec<_> = db
        .snapshots()
        .iter()
        .map(|s| (s.id, s.status.clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![(1, "complete".to_string()), (2, "complete".to_string())]
    );
    // The first snapshot still holds the fleet as seeded, the second the changed one.
    assert_snapshot_matches(&db, 1, &fixture.manifest);
    assert_snapshot_matches(&db, 2, &mutated);
    let removed = mutated
        .changes
        .iter()
        .find(|change| change.kind == "removed")
        .expect("a removed bucket");
    assert_eq!(
        db.count(
            "SELECT count(*) FROM s3_buckets WHERE bucket_name = ?1 GROUP BY bucket_name",
            [removed.resource_id.as_str()]
        ),
        1,
        "the deleted bucket is in snapshot 1 only"
    );

    let db_arg = fixture.db.to_string_lossy().into_owned();
    let listing = fixture
        .fleetscan
        .run(["snapshots", "--db", db_arg.as_str(), "--format", "json"]);
    listing.expect_code(EXIT_OK, "snapshots");
    let listed = listing.json();
    let listed: Vec<_> = listed
        .as_array()
        .unwrap_or_else(|| panic!("snapshots --format json is an array: {listed:#}"))
        .iter()
        .map(|s| (s["id"].as_i64(), s["status"].as_str().map(String::from)))
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(
        listed_sorted,
        vec![
            (Some(1), Some("complete".to_string())),
            (Some(2), Some("complete".to_string()))
        ]
    );
}

#[test]
fn killed_scan_leaves_earlier_snapshots_intact_and_is_marked_aborted() {
    let fixture = Fixture::new();
    fixture.scan(&[]).expect_code(EXIT_OK, "first scan");

    // Slow every answer down so the second scan is still running when it dies.
    fixture.moto.set_delay(150);
    let config = fixture.config_arg();
    let mut running =
        fixture
            .fleetscan
            .spawn(["scan", "--config", config.as_str(), "--no-progress"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            !running.has_exited(),
            "the slowed scan ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the second scan wrote nothing within two minutes"
        );
        if rows_written_by(&fixture.db, 2) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = running.kill();
    assert_eq!(killed.code, None, "killed by a signal:\n{}", killed.stderr);
    fixture.moto.set_delay(0);

    {
        let db = fixture.db();
        assert_eq!(db.integrity_check(), "ok");
        let statuses: Vec<_> = db
            .snapshots()
            .iter()
            .map(|s| (s.id, s.status.clone()))
            .collect();
        assert_eq!(
            statuses,
            vec![(1, "complete".to_string()), (2, "running".to_string())]
        );
        assert_snapshot_matches(&db, 1, &fixture.manifest);
    }

    // The next run notices the dead one.
    fixture
        .scan(&[])
        .expect_code(EXIT_OK, "scan after the kill");
    let db = fixture.db();
    assert_eq!(db.integrity_check(), "ok");
    let statuses: Vec<_> = db
        .snapshots()
        .iter()
        .map(|s| (s.id, s.status.clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (1, "complete".to_string()),
            (2, "aborted".to_string()),
            (3, "complete".to_string())
        ]
    );
    assert_snapshot_matches(&db, 1, &fixture.manifest);
    assert_snapshot_matches(&db, 3, &fixture.manifest);
}

#[test]
fn plan_lists_the_expected_accounts_and_role_arns() {
    let fixture = Fixture::new();
    let config = fixture.config_arg();
    let output = fixture
        .fleetscan
        .run(["plan", "--config", config.as_str(), "--format", "json"]);
    output.expect_code(EXIT_OK, "plan");
    let plan = output.json();
    let targets = plan["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("plan has targets: {plan:#}"));
    let planned: BTreeMap<String, String> = targets
        .iter()
        .map(|t| {
            (
                t["account_id"].as_str().unwrap_or_default().to_string(),
                t["role_arn"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = fixture
        .manifest
        .scan
        .expected_accounts
        .iter()
        .map(|account_id| {
            (
                account_id.clone(),
                fixture.manifest.account(account_id).role_arn.clone(),
            )
        })
        .collect();
    assert_eq!(planned, expected, "planned accounts and role ARNs");
    for target in targets {
        let account_id = target["account_id"].as_str().unwrap_or_default();
        let seeded = fixture.manifest.account(account_id);
        assert_eq!(target["name"], seeded.name.as_str());
        assert_eq!(
            target["ou_path"],
            format!("Root/{}", seeded.ou_path.join("/"))
        );
    }
    let skipped: BTreeSet<_> = plan["skipped"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["account_id"].as_str())
        .collect();
    assert!(
        skipped.contains(fixture.manifest.account_named("audit").id.as_str()),
        "excluded account reported: {plan:#}"
    );
    assert!(
        skipped.contains(fixture.manifest.account_named("legacy").id.as_str()),
        "suspended account reported: {plan:#}"
    );

    // No resource API, no role assumed: planning reads Organizations only.
    let calls = fixture.moto.calls();
    let resource_calls: Vec<_> = calls
        .operations
        .keys()
        .filter(|op| !op.starts_with("organizations:") && op.as_str() != "sts:GetCallerIdentity")
        .collect();
    assert!(resource_calls.is_empty(), "plan made {resource_calls:?}");
}

/// Rows of snapshot `snapshot_id` a reader can already see (0 if it does not exist yet).
fn rows_written_by(db: &Path, snapshot_id: i64) -> i64 {
    if !db.exists() {
        return 0;
    }
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(
        "SELECT (SELECT count(*) FROM scan_units WHERE snapshot_id = ?1)
              + (SELECT count(*) FROM accounts WHERE snapshot_id = ?1)",
        [snapshot_id],
        |row| row.get(0),
    )
    .unwrap_or(0)
}

/// The database and every file SQLite keeps beside it.
fn database_files(db: &Path) -> Vec<PathBuf> {
    let Some(name) = db.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Some(dir) = db.parent() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the database's folder")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&name))
        })
        .collect();
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
