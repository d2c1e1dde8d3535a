//! Store benchmark (run by scripts/bench): writer throughput in instance rows
//! per second, and the diff of two snapshots of N instances each, with the
//! peak memory of each phase. Prints one JSON line.
//!
//! cargo run --release -p fleetscan-store --example store_bench -- --instances 1000000

use std::collections::BTreeMap;
use std::time::Instant;

use fleetscan_store::{
    AccountRow, AccountStatus, Ec2InstanceRow, Row, ScanUnitRow, SnapshotMeta, Store, UnitStatus,
};

const BATCH: usize = 256;
const ACCOUNTS: usize = 1000;
const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];

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
        account_id: format!("{:012}", 100_000_000_000u64 + account as u64),
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

/// Writes one snapshot of `instances` instance rows; returns (seconds, snapshot id).
fn write_snapshot(path: &std::path::Path, instances: usize, generation: usize) -> (f64, i64) {
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
            let account_id = format!("{:012}", 100_000_000_000u64 + account as u64);
            for region in REGIONS {
                tail.push(Row::Unit(ScanUnitRow {
                    account_id: account_id.clone(),
                    region: region.into(),
                    collector: "ec2_instances".into(),
                    status: UnitStatus::Ok,
                    error_code: None,
                    error_message: None,
                    resources: 0,
                    api_calls: 1,
                    duration_ms: 1,
                }));
            }
            tail.push(Row::Account(AccountRow {
                account_id,
                name: None,
                email: None,
                state: Some("ACTIVE".into()),
                ou_path: None,
                role_arn: "arn:aws:iam::000000000000:role/Scan".into(),
                status: AccountStatus::Ok,
                error: None,
            }));
        }
        sink.send(tail).await.expect("send");
    });
    drop(sink);
    let mut store = writer.join().expect("join");
    let seconds = started.elapsed().as_secs_f64();
    store.finish_snapshot(id).expect("finish");
    (seconds, id)
}

fn main() {
    let mut instances = 1_000_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--instances") {
        instances = args
            .get(pos + 1)
            .and_then(|n| n.parse().ok())
            .expect("--instances N");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");

    let (first_seconds, old_id) = write_snapshot(&path, instances, 0);
    let rss_after_write = peak_rss_mb();
    let (second_seconds, new_id) = write_snapshot(&path, instances, 1);

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
    let rows_per_second = instances as f64 / first_seconds.min(second_seconds);
    let file_mb = std::fs::metadata(&path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    println!(
        "{}",
        serde_json::json!({
            "instances_per_snapshot": instances,
            "writer_rows_per_s": rows_per_second.round(),
            "writer_target_rows_per_s": 250000,
            "writer_met": rows_per_second >= 250_000.0,
            "diff_seconds": (diff_seconds * 100.0).round() / 100.0,
            "diff_target_seconds": 15,
            "diff_met": diff_seconds <= 15.0,
            "diff_changes": changes,
            "diff_security_changes": security,
            "peak_rss_mb_after_writing_one_snapshot": (rss_after_write * 10.0).round() / 10.0,
            "peak_rss_mb_after_diff": (peak_rss_mb() * 10.0).round() / 10.0,
            "database_mb": file_mb.round(),
        })
    );
}
