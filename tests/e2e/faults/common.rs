//! Shared by the fault tests: a fake plus a work directory, a scan
//! configuration pointing at the fake, and comparisons of a snapshot with the
//! fake's ground truth.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetscan_fakeaws::{AccountState, FakeAws, Faults, Fleet, FleetSpec};
use fleetscan_tests::db::{Db, UnitRecord};
use fleetscan_tests::fleetscan::{Fleetscan, RunOutput};
use rusqlite::types::ValueRef;

/// The regional collectors, as named in `scan_units.collector`.
pub const REGIONAL: [&str; 3] = ["ec2_instances", "ec2_security_groups", "ec2_volumes"];
/// The per-account collectors (region `global`).
pub const GLOBAL: [&str; 2] = ["s3_buckets", "s3_account_public_access_block"];
/// Resource tables whose rows a clean and a faulty scan must share.
pub const RESOURCE_TABLES: [&str; 6] = [
    "ec2_instances",
    "ec2_security_groups",
    "ec2_security_group_rules",
    "ec2_volumes",
    "s3_buckets",
    "s3_account_public_access_block",
];

/// A small fleet with something in every table, several EC2 pages per
/// region (the configs use `page_size.ec2: 5`) and one suspended account.
pub fn small_spec(seed: u64) -> FleetSpec {
    FleetSpec {
        seed,
        accounts: 4,
        opt_in_regions: Vec::new(),
        instances_per_region: fleetscan_fakeaws::Count::Between { min: 6, max: 11 },
        volumes_per_region: fleetscan_fakeaws::Count::Between { min: 3, max: 7 },
        ..FleetSpec::default()
    }
}

/// One test's world: a fake, a directory, the binary.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub fake: FakeAws,
    pub fleetscan: Fleetscan,
}

impl Harness {
    pub fn new(spec: FleetSpec, faults: Faults) -> Harness {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temporary directory: {err}"));
        let fake = FakeAws::start_blocking(spec, faults)
            .unwrap_or_else(|err| panic!("start the fake AWS endpoint: {err}"));
        let fleetscan = Fleetscan::new(env!("CARGO_BIN_EXE_fleetscan"), dir.path());
        Harness {
            dir,
            fake,
            fleetscan,
        }
    }

    pub fn fleet(&self) -> &Fleet {
        self.fake.fleet()
    }

    /// The database every scan of this harness writes unless told otherwise.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("fleet.db")
    }

    pub fn db(&self) -> Db {
        Db::open(&self.db_path())
    }

    /// A configuration scanning the whole organization through this fake.
    pub fn config(&self) -> ScanConfig {
        ScanConfig::new(&self.fake.endpoint_url(), &self.db_path())
    }

    /// Writes `config` as `<name>.yaml` and returns its path.
    pub fn write_config(&self, name: &str, config: &ScanConfig) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, config.to_yaml())
            .unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
        path
    }

    /// Runs `fleetscan scan` with `config` to its end.
    pub fn scan(&self, name: &str, config: &ScanConfig) -> Scan {
        let path = self.write_config(name, config);
        let started = Instant::now();
        let output = self
            .fleetscan
            .run(scan_args(&path).iter().map(String::as_str));
        Scan::new(output, started.elapsed())
    }

    /// The ACTIVE member accounts: what a scan with the default
    /// `include_management_account: false` covers.
    pub fn scanned_accounts(&self) -> Vec<String> {
        active_members(self.fleet())
    }
}

pub fn scan_args(config: &Path) -> Vec<String> {
    vec![
        "scan".into(),
        "--config".into(),
        config.display().to_string(),
        "--format".into(),
        "json".into(),
        "--no-progress".into(),
    ]
}

pub fn active_members(fleet: &Fleet) -> Vec<String> {
    fleet
        .members()
        .iter()
        .filter(|account| account.state == AccountState::Active)
        .map(|account| account.id.clone())
        .collect()
}

/// One finished `fleetscan scan`.
#[derive(Debug)]
pub struct Scan {
    pub output: RunOutput,
    pub elapsed: Duration,
    /// From the JSON summary on stdout (absent when the scan failed).
    pub snapshot_id: Option<i64>,
    pub status: Option<String>,
}

impl Scan {
    pub fn new(output: RunOutput, elapsed: Duration) -> Scan {
        let summary: Option<serde_json::Value> = serde_json::from_str(&output.stdout).ok();
        let snapshot_id = summary
            .as_ref()
            .and_then(|value| value["snapshot_id"].as_i64());
        let status = summary
            .as_ref()
            .and_then(|value| value["status"].as_str().map(str::to_string));
        Scan {
            output,
            elapsed,
            snapshot_id,
            status,
        }
    }

    /// Asserts the exit code and returns the snapshot id.
    pub fn expect(&self, code: i32, what: &str) -> i64 {
        self.output.expect_code(code, what);
        self.snapshot_id.unwrap_or_else(|| {
            panic!(
                "{what}: no snapshot id in the summary\n--- stdout\n{}\n--- stderr\n{}",
                self.output.stdout, self.output.stderr
            )
        })
    }
}

/// Every key fleetscan reads, written as YAML. Strings are JSON strings,
/// which YAML reads as they are.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub database: PathBuf,
    pub endpoint_url: String,
    /// `None`: every enabled region (`"*"`).
    pub regions: Option<Vec<String>>,
    pub collectors: Option<Vec<String>>,
    pub ou_paths: bool,
    pub concurrency_accounts: u32,
    pub per_account: u32,
    pub per_bucket: u32,
    pub max_attempts: u32,
    pub connect_timeout: u64,
    pub attempt_timeout: u64,
    pub operation_timeout: u64,
    /// Minutes; 0 is no deadline.
    pub scan_deadline_minutes: u64,
    pub session_duration: u64,
    pub refresh_buffer: u64,
    pub page_size_organizations: u32,
    pub page_size_ec2: u32,
}

impl ScanConfig {
    pub fn new(endpoint_url: &str, database: &Path) -> ScanConfig {
        ScanConfig {
            database: database.to_path_buf(),
            endpoint_url: endpoint_url.to_string(),
            regions: None,
            collectors: None,
            ou_paths: true,
            concurrency_accounts: 4,
            per_account: 4,
            per_bucket: 4,
            max_attempts: 5,
            connect_timeout: 5,
            attempt_timeout: 20,
            operation_timeout: 60,
            scan_deadline_minutes: 0,
            session_duration: 3600,
            refresh_buffer: 300,
            // Several pages of every paginated call in the small fleets.
            page_size_organizations: 2,
            page_size_ec2: 5,
        }
    }

    pub fn to_yaml(&self) -> String {
        let mut yaml =
            String::from("# Written by the fault tests for one scan against the fake.\n");
        let _ = writeln!(
            yaml,
            "database: {}",
            quote(&self.database.to_string_lossy())
        );
        let _ = writeln!(yaml, "endpoint_url: {}", quote(&self.endpoint_url));
        yaml.push_str("home_region: \"us-east-1\"\n");
        let _ = writeln!(
            yaml,
            "organization:\n  enabled: true\n  ou_paths: {}",
            self.ou_paths
        );
        match &self.regions {
            Some(regions) => {
                let _ = writeln!(yaml, "regions:\n  include: {}", list(regions));
            }
            None => yaml.push_str("regions:\n  include: [\"*\"]\n"),
        }
        if let Some(collectors) = &self.collectors {
            let _ = writeln!(yaml, "collectors: {}", list(collectors));
        }
        let _ = writeln!(
            yaml,
            "role:\n  session_duration: {}\n  refresh_buffer: {}",
            self.session_duration, self.refresh_buffer
        );
        let _ = writeln!(
            yaml,
            "concurrency:\n  accounts: {}\n  per_account: {}\n  per_bucket: {}",
            self.concurrency_accounts, self.per_account, self.per_bucket
        );
        let _ = writeln!(yaml, "retry:\n  max_attempts: {}", self.max_attempts);
        let _ = writeln!(
            yaml,
            "timeouts:\n  connect: {}\n  attempt: {}\n  operation: {}\n  scan: {}",
            self.connect_timeout,
            self.attempt_timeout,
            self.operation_timeout,
            self.scan_deadline_minutes
        );
        let _ = writeln!(
            yaml,
            "page_size:\n  organizations: {}\n  ec2: {}",
            self.page_size_organizations, self.page_size_ec2
        );
        yaml
    }
}

fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

fn list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| quote(value)).collect();
    format!("[{}]", quoted.join(", "))
}

// ---------------------------------------------------------------------------
// Ground truth.

/// The units a scan of `accounts` over `regions` (`None`: every enabled
/// region) records, with the status each must have when nothing fails:
/// (account, region, collector) → `ok` or `region_disabled`.
pub fn expected_units(
    fleet: &Fleet,
    accounts: &[String],
    regions: Option<&[String]>,
) -> BTreeMap<(String, String, String), String> {
    let mut units = BTreeMap::new();
    for account in accounts {
        units.insert(
            (account.clone(), "global".into(), "ec2_regions".into()),
            "ok".into(),
        );
        let selected: Vec<String> = match regions {
            Some(list) => list.to_vec(),
            None => fleet
                .enabled_regions(account)
                .into_iter()
                .map(str::to_string)
                .collect(),
        };
        for region in selected {
            let status = if fleet.region_enabled(account, &region) {
                "ok"
            } else {
                "region_disabled"
            };
            for collector in REGIONAL {
                units.insert(
                    (account.clone(), region.clone(), collector.to_string()),
                    status.to_string(),
                );
            }
        }
        for collector in GLOBAL {
            units.insert(
                (account.clone(), "global".into(), collector.to_string()),
                "ok".into(),
            );
        }
    }
    units
}

/// The stored units keyed like [`expected_units`].
pub fn unit_statuses(db: &Db, snapshot_id: i64) -> BTreeMap<(String, String, String), String> {
    db.scan_units(snapshot_id)
        .into_iter()
        .map(|unit| ((unit.account_id, unit.region, unit.collector), unit.status))
        .collect()
}

/// The resource ids a unit should have stored, from the fake's fleet.
pub fn expected_ids(fleet: &Fleet, account: &str, region: &str, collector: &str) -> Vec<String> {
    match collector {
        "ec2_instances" => fleet.expected_instances(account, region),
        "ec2_security_groups" => fleet.expected_security_groups(account, region),
        "ec2_volumes" => fleet.expected_volumes(account, region),
        "s3_buckets" => fleet.expected_buckets(account),
        other => panic!("no ground truth for collector {other}"),
    }
}

/// The resource ids a unit stored.
pub fn stored_ids(
    db: &Db,
    snapshot_id: i64,
    account: &str,
    region: &str,
    collector: &str,
) -> Vec<String> {
    let (sql, by_region) = match collector {
        "ec2_instances" => (
            "SELECT instance_id FROM ec2_instances WHERE snapshot_id = ?1 AND account_id = ?2 AND region = ?3 ORDER BY 1",
            true,
        ),
        "ec2_security_groups" => (
            "SELECT group_id FROM ec2_security_groups WHERE snapshot_id = ?1 AND account_id = ?2 AND region = ?3 ORDER BY 1",
            true,
        ),
        "ec2_volumes" => (
            "SELECT volume_id FROM ec2_volumes WHERE snapshot_id = ?1 AND account_id = ?2 AND region = ?3 ORDER BY 1",
            true,
        ),
        "s3_buckets" => (
            "SELECT bucket_name FROM s3_buckets WHERE snapshot_id = ?1 AND account_id = ?2 ORDER BY 1",
            false,
        ),
        other => panic!("no id column for collector {other}"),
    };
    let mut ids = if by_region {
        db.strings(sql, rusqlite::params![snapshot_id, account, region])
    } else {
        db.strings(sql, rusqlite::params![snapshot_id, account])
    };
    ids.sort();
    ids
}

/// Every `ok` unit with ground truth stored exactly the fleet's resources
/// (ids), and reported that many in `scan_units.resources`. Returns how many
/// units were compared.
pub fn assert_ok_units_match_fleet(db: &Db, snapshot_id: i64, fleet: &Fleet) -> usize {
    let mut compared = 0;
    for unit in db.scan_units(snapshot_id) {
        if unit.status != "ok" || !has_ground_truth(&unit) {
            continue;
        }
        let expected = expected_ids(fleet, &unit.account_id, &unit.region, &unit.collector);
        let stored = stored_ids(
            db,
            snapshot_id,
            &unit.account_id,
            &unit.region,
            &unit.collector,
        );
        assert_eq!(
            stored, expected,
            "snapshot {snapshot_id}: {} {} {} stored other resources than the fleet has",
            unit.account_id, unit.region, unit.collector
        );
        let mut expected_resources = expected.len();
        if unit.collector == "ec2_security_groups" {
            // The unit counts every row it wrote: groups and their rules.
            let rules = expected_rule_rows(fleet, &unit.account_id, &unit.region);
            let stored_rules = db.count(
                "SELECT count(*) FROM ec2_security_group_rules WHERE snapshot_id = ?1 AND account_id = ?2 AND region = ?3",
                rusqlite::params![snapshot_id, unit.account_id, unit.region],
            );
            assert_eq!(
                stored_rules as usize, rules,
                "snapshot {snapshot_id}: {} {} security group rules",
                unit.account_id, unit.region
            );
            expected_resources += rules;
        }
        assert_eq!(
            unit.resources as usize, expected_resources,
            "snapshot {snapshot_id}: {} {} {} reports {} resources",
            unit.account_id, unit.region, unit.collector, unit.resources
        );
        compared += 1;
    }
    compared
}

/// Rule rows (one per rule and source) of an account's groups in a region.
pub fn expected_rule_rows(fleet: &Fleet, account: &str, region: &str) -> usize {
    fleet
        .resources(account)
        .and_then(|resources| {
            resources.region(fleet, region).map(|region| {
                region
                    .security_groups
                    .iter()
                    .map(|group| group.rule_source_count())
                    .sum()
            })
        })
        .unwrap_or(0)
}

fn has_ground_truth(unit: &UnitRecord) -> bool {
    REGIONAL.contains(&unit.collector.as_str()) || unit.collector == "s3_buckets"
}

/// The snapshot is `complete`, holds exactly the units a fault-free scan of
/// `accounts` over `regions` records, every account `ok`, and every unit's
/// resources are the fleet's.
pub fn assert_complete_and_true(
    db: &Db,
    snapshot_id: i64,
    fleet: &Fleet,
    accounts: &[String],
    regions: Option<&[String]>,
) {
    let status = snapshot_status(db, snapshot_id);
    assert_eq!(status, "complete", "snapshot {snapshot_id}");
    assert_eq!(
        unit_statuses(db, snapshot_id),
        expected_units(fleet, accounts, regions),
        "snapshot {snapshot_id}: units"
    );
    for account in db.accounts(snapshot_id) {
        assert_eq!(account.status, "ok", "{account:?}");
    }
    let stored_accounts: Vec<String> = db
        .accounts(snapshot_id)
        .into_iter()
        .map(|account| account.account_id)
        .collect();
    let mut expected_accounts = accounts.to_vec();
    expected_accounts.sort();
    assert_eq!(stored_accounts, expected_accounts);
    let compared = assert_ok_units_match_fleet(db, snapshot_id, fleet);
    assert!(compared > 0, "nothing compared");
}

pub fn snapshot_status(db: &Db, snapshot_id: i64) -> String {
    db.strings("SELECT status FROM snapshots WHERE id = ?1", [snapshot_id])
        .pop()
        .unwrap_or_else(|| panic!("snapshot {snapshot_id} does not exist"))
}

/// All rows of a resource table in one snapshot, each rendered as text
/// without its `snapshot_id`, sorted: comparable across snapshots.
pub fn table_rows(db: &Db, table: &str, snapshot_id: i64) -> Vec<String> {
    let sql = format!("SELECT * FROM {table} WHERE snapshot_id = ?1");
    let conn = db.connection();
    let mut statement = conn
        .prepare(&sql)
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    let names: Vec<String> = statement.column_names().map(str::to_string).collect();
    let mut rows: Vec<String> = statement
        .query_map([snapshot_id], |row| {
            let mut text = String::new();
            for (index, name) in names.iter().enumerate() {
                if name == "snapshot_id" || name == "id" {
                    continue;
                }
                let value = match row.get_ref(index)? {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(value) => value.to_string(),
                    ValueRef::Real(value) => value.to_string(),
                    ValueRef::Text(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
                    ValueRef::Blob(bytes) => format!("blob{bytes:?}"),
                };
                let _ = write!(text, "{name}={value} ");
            }
            Ok(text)
        })
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .collect::<rusqlite::Result<Vec<String>>>()
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    rows.sort();
    rows
}

/// Two snapshots hold the same resource rows, table by table.
pub fn assert_same_rows(db: &Db, left: i64, right: i64) {
    for table in RESOURCE_TABLES {
        let a = table_rows(db, table, left);
        let b = table_rows(db, table, right);
        assert!(
            a == b,
            "{table}: snapshots {left} and {right} differ ({} vs {} rows); first difference: {:?}",
            a.len(),
            b.len(),
            a.iter()
                .zip(&b)
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("{x}\n  vs\n{y}"))
        );
    }
}

/// A digest of everything a snapshot holds (its `snapshots` row included), to
/// prove it did not change.
pub fn snapshot_fingerprint(db: &Db, snapshot_id: i64) -> Vec<String> {
    let mut all = Vec::new();
    for table in ["accounts", "scan_units"]
        .into_iter()
        .chain(RESOURCE_TABLES)
    {
        all.push(format!("## {table}"));
        all.extend(table_rows(db, table, snapshot_id));
    }
    let snapshot: Vec<String> = db.strings(
        "SELECT status || ' ' || started_at || ' ' || coalesce(finished_at, '-') || ' ' || \
         coalesce(accounts_total, -1) || ' ' || coalesce(accounts_ok, -1) FROM snapshots WHERE id = ?1",
        [snapshot_id],
    );
    all.extend(snapshot);
    all
}

/// The whole stderr, for assertion messages.
pub fn outputs(output: &RunOutput) -> String {
    format!(
        "--- exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.code, output.stdout, output.stderr
    )
}
