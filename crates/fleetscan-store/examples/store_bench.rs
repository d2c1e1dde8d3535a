//! Store benchmark (run by scripts/bench): writer throughput in instance rows
//! per second, and the diff of two snapshots of N instances each, with the
//! peak memory of each phase. Prints one JSON line.
//!
//! cargo run --release -p fleetscan-store --example store_bench -- --instances 1000000
//!
//! The same N instance rows (1,000 accounts × 4 regions) reach the writer in
//! one of two orders, each written twice into its own database and diffed:
//!
//! * `scan` (the headline, `writer_rows_per_s`): the order a scan produces.
//!   Each (account, region) unit sends its instances in batches of at most
//!   256 rows (the scanner's `EMIT_BATCH`), in a pseudo-random instance-id
//!   order (EC2 pages are not sorted by id), then its one `scan_units` row;
//!   an account sends its `accounts` row once its four units are done. 64
//!   accounts are in flight at a time (a finished one is replaced by the
//!   next), and every batch comes from a unit picked pseudo-randomly among
//!   the in-flight ones, so units of 64 accounts interleave.
//! * `worst` (`writer_rows_per_s_worst_case_order`): consecutive rows belong
//!   to different accounts (row i to account i mod 1,000), batches of 256,
//!   units and accounts at the end: every row of a batch lands somewhere
//!   else in the primary-key index.
//!
//! `--order scan|worst|both` (default both) picks which are measured.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Instant;

use fleetscan_store::{
    AccountRow, AccountStatus, Ec2InstanceRow, Row, ScanUnitRow, SnapshotMeta, Store, UnitStatus,
};

/// The allocator of the `fleetscan` binary, so that the writer is measured as
/// it runs in a scan: with glibc malloc, the writer freeing rows the producer
/// allocated waits on the producer's arena lock, which a scan does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 256;
const ACCOUNTS: usize = 1000;
const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
/// Accounts a scan-shaped order has in flight at once.
const ACCOUNTS_IN_FLIGHT: usize = 64;

const SCAN_ORDER: &str = "scan: each (account, region) sends its instances in batches of <=256 rows \
     in pseudo-random id order, then its unit row; 64 accounts in flight, each batch from a \
     pseudo-randomly picked in-flight unit";
const WORST_ORDER: &str = "worst: row i belongs to account i mod 1000, batches of 256 rows, units and accounts at the end";

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Scan,
    Worst,
}

fn peak_rss_mb() -> f64 {
    // VmHWM: the peak resident set of this process so far.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn account_id(account: usize) -> String {
    format!("{:012}", 100_000_000_000u64 + account as u64)
}

fn instance(index: usize, generation: usize) -> Ec2InstanceRow {
    let account = index % ACCOUNTS;
    let region = REGIONS[(index / ACCOUNTS) % REGIONS.len()];
    // One instance in a hundred changes between generations: a new type, and
    // one in a thousand gains a public IP.
    let changed = generation == 1 && index.is_multiple_of(100);
    let mut tags = BTreeMap::new();
    tags.insert("Name".to_string(), format!("web-{index}"));
    tags.insert(
        "team".to_string(),
        if changed {
            "platform-2".into()
        } else {
            "platform".into()
        },
    );
    Ec2InstanceRow {
        account_id: account_id(account),
        region: region.to_string(),
        instance_id: format!("i-{index:017x}"),
        name: Some(format!("web-{index}")),
        state: Some("running".into()),
        instance_type: Some(if changed {
            "m7i.large".into()
        } else {
            "t3.micro".into()
        }),
        image_id: Some("ami-0123456789abcdef0".into()),
        launch_time: Some("2026-01-01T00:00:00Z".into()),
        availability_zone: Some(format!("{region}a")),
        vpc_id: Some("vpc-0123456789abcdef0".into()),
        subnet_id: Some("subnet-0123456789abcdef0".into()),
        private_ip: Some(format!(
            "10.{}.{}.{}",
            (index >> 16) & 255,
            (index >> 8) & 255,
            index & 255
        )),
        public_ip: (generation == 1 && index.is_multiple_of(1000))
            .then(|| "203.0.113.10".to_string()),
        iam_instance_profile_arn: None,
        key_name: Some("ops".into()),
        platform: None,
        imds_http_tokens: Some("required".into()),
        imds_http_endpoint: Some("enabled".into()),
        security_group_ids: vec!["sg-0123456789abcdef0".into(), "sg-00000000000000001".into()],
        tags,
    }
}

fn unit_row(account: usize, region: &str, resources: u64) -> Row {
    Row::Unit(ScanUnitRow {
        account_id: account_id(account),
        region: region.into(),
        collector: "ec2_instances".into(),
        status: UnitStatus::Ok,
        error_code: None,
        error_message: None,
        resources,
        api_calls: 1,
        duration_ms: 1,
    })
}

fn account_row(account: usize) -> Row {
    Row::Account(AccountRow {
        account_id: account_id(account),
        name: None,
        email: None,
        state: Some("ACTIVE".into()),
        ou_path: None,
        role_arn: "arn:aws:iam::000000000000:role/Scan".into(),
        status: AccountStatus::Ok,
        error: None,
    })
}

/// splitmix64: a fixed pseudo-random sequence, so every run sends the same order.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One (account, region) unit of the scan-shaped order: its instance
/// indexes in the order it sends them.
struct Unit {
    account: usize,
    region: usize,
    indexes: Vec<usize>,
    sent: usize,
}

/// Produces the batches of the scan-shaped order one at a time.
struct ScanOrder {
    instances: usize,
    generation: usize,
    next_account: usize,
    in_flight: Vec<Unit>,
    /// Units left per in-flight account.
    units_left: BTreeMap<usize, usize>,
    random: u64,
    pending: VecDeque<Vec<Row>>,
}

impl ScanOrder {
    fn new(instances: usize, generation: usize) -> ScanOrder {
        let mut order = ScanOrder {
            instances,
            generation,
            next_account: 0,
            in_flight: Vec::new(),
            units_left: BTreeMap::new(),
            random: 0,
            pending: VecDeque::new(),
        };
        for _ in 0..ACCOUNTS_IN_FLIGHT {
            order.admit_next_account();
        }
        order
    }

    fn admit_next_account(&mut self) {
        if self.next_account >= ACCOUNTS {
            return;
        }
        let account = self.next_account;
        self.next_account += 1;
        self.units_left.insert(account, REGIONS.len());
        for region in 0..REGIONS.len() {
            // Instance i belongs to account i % 1000 and region (i / 1000) % 4.
            let mut indexes: Vec<usize> = (0..)
                .map(|k| account + ACCOUNTS * (region + REGIONS.len() * k))
                .take_while(|&index| index < self.instances)
                .collect();
            indexes.sort_by_key(|&index| mix(index as u64));
            self.in_flight.push(Unit {
                account,
                region,
                indexes,
                sent: 0,
            });
        }
    }

    fn next_batch(&mut self) -> Option<Vec<Row>> {
        if let Some(batch) = self.pending.pop_front() {
            return Some(batch);
        }
        if self.in_flight.is_empty() {
            return None;
        }
        self.random = self.random.wrapping_add(1);
        let pick = (mix(self.random) % self.in_flight.len() as u64) as usize;
        let unit = &mut self.in_flight[pick];
        let end = (unit.sent + BATCH).min(unit.indexes.len());
        let batch: Vec<Row> = unit.indexes[unit.sent..end]
            .iter()
            .map(|&index| Row::Ec2Instance(instance(index, self.generation)))
            .collect();
        unit.sent = end;
        if unit.sent == unit.indexes.len() {
            let unit = self.in_flight.swap_remove(pick);
            self.pending.push_back(vec![unit_row(
                unit.account,
                REGIONS[unit.region],
                unit.indexes.len() as u64,
            )]);
            let left = self.units_left.entry(unit.account).or_insert(1);
            *left -= 1;
            if *left == 0 {
                self.units_left.remove(&unit.account);
                self.pending.push_back(vec![account_row(unit.account)]);
                self.admit_next_account();
            }
        }
        if batch.is_empty() {
            return self.next_batch();
        }
        Some(batch)
    }
}

/// Writes one snapshot of `instances` instance rows in `order`; returns
/// (seconds, snapshot id).
fn write_snapshot(path: &Path, instances: usize, generation: usize, order: Order) -> (f64, i64) {
    let mut store = Store::open_for_scan(path).expect("open");
    let meta = SnapshotMeta {
        tool_version: "bench".into(),
        config_digest: "bench".into(),
        caller_arn: None,
    };
    let id = store.begin_snapshot(&meta).expect("begin");
    let (sink, writer) = store.spawn_writer(id, 64);
    let started = Instant::now();
    futures::executor::block_on(async {
        match order {
            Order::Scan => {
                let mut batches = ScanOrder::new(instances, generation);
                while let Some(batch) = batches.next_batch() {
                    sink.send(batch).await.expect("send");
                }
            }
            Order::Worst => {
                let mut batch = Vec::with_capacity(BATCH);
                for index in 0..instances {
                    batch.push(Row::Ec2Instance(instance(index, generation)));
                    if batch.len() == BATCH {
                        sink.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                            .await
                            .expect("send");
                    }
                }
                let mut tail = batch;
                for account in 0..ACCOUNTS {
                    for region in REGIONS {
                        tail.push(unit_row(account, region, 0));
                    }
                    tail.push(account_row(account));
                }
                sink.send(tail).await.expect("send");
            }
        }
    });
    drop(sink);
    let mut store = writer.join().expect("join");
    let seconds = started.elapsed().as_secs_f64();
    store.finish_snapshot(id).expect("finish");
    (seconds, id)
}

/// What one order measured.
struct Measured {
    rows_per_second: f64,
    diff_seconds: f64,
    changes: u64,
    security: u64,
    rss_after_write: f64,
    file_mb: f64,
}

/// Writes two generations in `order` into a fresh database and diffs them.
fn measure(dir: &Path, instances: usize, order: Order) -> Measured {
    let path = dir.join(match order {
        Order::Scan => "scan.db",
        Order::Worst => "worst.db",
    });
    let (first_seconds, old_id) = write_snapshot(&path, instances, 0, order);
    let rss_after_write = peak_rss_mb();
    let (second_seconds, new_id) = write_snapshot(&path, instances, 1, order);

    let store = Store::open_existing(&path).expect("open");
    let started = Instant::now();
    let mut changes = 0u64;
    let mut security = 0u64;
    store
        .diff(None, old_id, new_id, &mut |change| {
            changes += 1;
            security += u64::from(change.security);
            Ok(())
        })
        .expect("diff");
    let diff_seconds = started.elapsed().as_secs_f64();
    Measured {
        rows_per_second: instances as f64 / first_seconds.min(second_seconds),
        diff_seconds,
        changes,
        security,
        rss_after_write,
        file_mb: std::fs::metadata(&path)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0),
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|pos| args.get(pos + 1).map(String::as_str))
    };
    let instances: usize = match value_of("--instances") {
        None => 1_000_000,
        Some(value) => value.and_then(|n| n.parse().ok()).expect("--instances N"),
    };
    let orders: &[Order] = match value_of("--order") {
        None | Some(Some("both")) => &[Order::Scan, Order::Worst],
        Some(Some("scan")) => &[Order::Scan],
        Some(Some("worst")) => &[Order::Worst],
        Some(_) => panic!("--order scan|worst|both"),
    };
    let dir = tempfile::tempdir().expect("tempdir");

    let scan = orders
        .contains(&Order::Scan)
        .then(|| measure(dir.path(), instances, Order::Scan));
    let worst = orders
        .contains(&Order::Worst)
        .then(|| measure(dir.path(), instances, Order::Worst));
    // The headline is the order a scan produces; the worst case is reported beside it.
    let headline = scan.as_ref().or(worst.as_ref()).expect("an order");
    let headline_order = if scan.is_some() {
        SCAN_ORDER
    } else {
        WORST_ORDER
    };
    println!(
        "{}",
        serde_json::json!({
            "instances_per_snapshot": instances,
            "writer_rows_per_s": headline.rows_per_second.round(),
            "writer_order": headline_order,
            "writer_target_rows_per_s": 250000,
            "writer_met": headline.rows_per_second >= 250_000.0,
            "writer_rows_per_s_worst_case_order": worst.as_ref().map(|w| w.rows_per_second.round()),
            "writer_worst_case_order": WORST_ORDER,
            "diff_seconds": round(headline.diff_seconds, 2),
            "diff_seconds_worst_case_order": worst.as_ref().map(|w| round(w.diff_seconds, 2)),
            "diff_target_seconds": 15,
            "diff_met": headline.diff_seconds <= 15.0,
            "diff_changes": headline.changes,
            "diff_security_changes": headline.security,
            "peak_rss_mb_after_writing_one_snapshot": round(headline.rss_after_write, 1),
            "peak_rss_mb_after_diff": round(peak_rss_mb(), 1),
            "database_mb": headline.file_mb.round(),
        })
    );
}
