//! Regression: a scan stalled for good when the writer channel was full.
//! The scanner awaited the channel between polls of its units; units that
//! had been granted a channel slot but were never polled again kept it, until
//! the channel held no row yet had no room and every task waited. Here the
//! channel holds a single batch, the tightest it can be, and the scan of a
//! fleet with many accounts, units and buckets in flight must still finish.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use fleetscan_fakeaws::{Count, FakeAws, Faults, FleetSpec};
use fleetscan_scan::{config, planner, scanner, session};
use fleetscan_store::{SnapshotMeta, SnapshotStatus, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_writer_channel_never_stalls_the_scan() {
    let spec = FleetSpec {
        accounts: 48,
        suspended_accounts: 0,
        opt_in_regions: Vec::new(),
        instances_per_region: Count::Exactly(12),
        buckets_per_account: Count::Exactly(12),
        ..FleetSpec::uniform(3, 48, &["us-east-1", "eu-west-1"])
    };
    let fake = FakeAws::start(spec, Faults::none()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    let yaml = format!(
        "endpoint_url: {}\ndatabase: {}\nconcurrency: {{accounts: 32, per_account: 16, per_bucket: 12}}\npage_size: {{ec2: 5}}\n",
        fake.endpoint_url(),
        db.display()
    );
    let config = config::parse(&yaml, None, &|_| None).unwrap();
    let credentials = SharedCredentialsProvider::new(Credentials::new(
        "AKIDTEST",
        "test-secret",
        None,
        None,
        "test",
    ));
    let base = session::load_base_with(&config, Some(credentials)).await;
    let plan = planner::plan(&config, &base).await.unwrap();
    assert_eq!(plan.targets.len(), 48);

    let mut store = Store::open_for_scan(&db).unwrap();
    let meta = SnapshotMeta {
        tool_version: "test".into(),
        config_digest: config.digest.clone(),
        caller_arn: None,
    };
    let snapshot = store.begin_snapshot(&meta).unwrap();
    let (sink, writer) = store.spawn_writer(snapshot, 1);
    let scan = scanner::scan(
        std::sync::Arc::new(config.clone()),
        base.clone(),
        &plan.targets,
        snapshot,
        sink,
        std::sync::Arc::new(scanner::NoReporter),
    );
    let report = tokio::time::timeout(Duration::from_secs(150), scan)
        .await
        .expect("the scan stalled with a full writer channel")
        .unwrap();
    assert_eq!(report.assume_calls.len(), 48);
    let mut store = tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    let summary = store.finish_snapshot(snapshot).unwrap();
    assert_eq!(
        summary.status,
        SnapshotStatus::Complete,
        "{:?}",
        summary.failed_units
    );
    assert_eq!(summary.accounts_ok, 48);
    let instances: usize = plan
        .targets
        .iter()
        .flat_map(|t| {
            ["us-east-1", "eu-west-1"]
                .map(|r| fake.fleet().expected_instances(&t.account_id, r).len())
        })
        .sum();
    assert_eq!(
        summary.resources.get("ec2_instances").copied(),
        Some(instances as u64)
    );
}
