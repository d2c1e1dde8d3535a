//! What a nightly cron job relies on, against the fake endpoint: the
//! `--summary-json` shape, the Prometheus textfile (and its success time
//! surviving a failed run), JSON log lines, and the lock that turns an
//! overlapping second run away with exit 1 while the first goes on.

#[path = "ops/common.rs"]
mod common;

use std::time::{Duration, Instant};

use fleetscan_fakeaws::{CallFilter, Faults, Operation};
use serde_json::Value;

/// The sorted keys of a JSON object.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The value of an unlabelled sample in a Prometheus textfile.
fn sample(text: &str, metric: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(metric)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[test]
fn a_partial_scan_writes_the_summary_metrics_and_json_logs() {
    // One member may not list volumes in eu-west-1: the snapshot is partial.
    let probe = common::World::start(Faults::none());
    let member = probe.active_members()[1].clone();
    drop(probe);
    let world = common::World::start(
        Faults::none().unauthorized(
            CallFilter::operation(Operation::DescribeVolumes)
                .account(&member)
                .region("eu-west-1"),
        ),
    );
    let config = world.config("");
    let outputs = world.path("out");
    std::fs::create_dir(&outputs).expect("mkdir");
    let summary_path = outputs.join("summary.json");
    let metrics_path = outputs.join("fleetscan.prom");
    let output = world.fleetscan.run([
        "--log-format",
        "json",
        "scan",
        "--config",
        config.to_str().expect("path"),
        "--summary-json",
        summary_path.to_str().expect("path"),
        "--prometheus",
        metrics_path.to_str().expect("path"),
    ]);
    output.expect_code(3, "partial scan");

    // Every log line is one JSON object with a level and a message.
    assert!(!output.stderr.trim().is_empty());
    for line in output.stderr.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("log line is not JSON ({err}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["fields"]["message"].is_string(), "{line}");
    }

    // The summary's shape is a contract for monitoring scripts.
    let summary: Value =
        serde_json::from_str(&common::read(&summary_path)).expect("summary is JSON");
    assert_eq!(
        keys(&summary),
        [
            "accounts",
            "database",
            "duration_seconds",
            "error",
            "exit_code",
            "failed_accounts",
            "failed_units",
            "finished_at",
            "fleetscan_version",
            "resources",
            "snapshot_id",
            "started_at",
            "status",
        ]
    );
    assert_eq!(summary["status"], "partial");
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["snapshot_id"], 1);
    assert_eq!(summary["error"], Value::Null);
    assert!(summary["duration_seconds"].as_f64().expect("duration") > 0.0);
    assert!(
        summary["started_at"]
            .as_str()
            .expect("started_at")
            .ends_with('Z')
    );
    assert_eq!(
        keys(&summary["accounts"]),
        ["failed", "left_out_by_plan", "ok", "total"]
    );
    assert_eq!(summary["accounts"]["total"], 3);
    assert_eq!(summary["accounts"]["ok"], 2);
    assert_eq!(summary["accounts"]["failed"], 1);
    // The management account and the suspended member.
    assert_eq!(summary["accounts"]["left_out_by_plan"], 2);
    let failed = summary["failed_units"].as_array().expect("failed_units");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["account_id"], member.as_str());
    assert_eq!(failed[0]["region"], "eu-west-1");
    assert_eq!(failed[0]["collector"], "ec2_volumes");
    assert_eq!(failed[0]["status"], "denied");
    assert_eq!(failed[0]["error_code"], "UnauthorizedOperation");
    let resources = summary["resources"].as_object().expect("resources");
    assert!(resources["ec2_instances"].as_u64().expect("count") > 0);
    assert!(resources["s3_buckets"].as_u64().expect("count") > 0);

    // The textfile for node_exporter.
    let metrics = common::read(&metrics_path);
    assert!(
        metrics.contains("fleetscan_last_run_status{status=\"partial\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "fleetscan_last_run_accounts_failed"),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "fleetscan_last_run_failed_units"),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "fleetscan_last_run_exit_code"), Some(3.0));
    let instances = resources["ec2_instances"].as_u64().expect("count");
    assert!(
        metrics.contains(&format!(
            "fleetscan_last_run_resources{{type=\"ec2_instances\"}} {instances}\n"
        )),
        "{metrics}"
    );
    let succeeded =
        sample(&metrics, "fleetscan_last_success_timestamp_seconds").expect("last success");
    assert_eq!(
        sample(&metrics, "fleetscan_last_complete_timestamp_seconds"),
        None
    );
    // Written atomically: no temporary file is left beside them.
    let mut names: Vec<String> = std::fs::read_dir(&outputs)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["fleetscan.prom", "summary.json"]);

    // A failed run (here: a configuration error) says so in both files, and
    // the last success time survives it.
    let broken = world.config_named("broken.yaml", "collectors: [lambda]\n");
    let output = world.fleetscan.run([
        "scan",
        "--config",
        broken.to_str().expect("path"),
        "--summary-json",
        summary_path.to_str().expect("path"),
        "--prometheus",
        metrics_path.to_str().expect("path"),
    ]);
    output.expect_code(2, "configuration error");
    let summary: Value =
        serde_json::from_str(&common::read(&summary_path)).expect("summary is JSON");
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(summary["snapshot_id"], Value::Null);
    assert!(
        summary["error"]
            .as_str()
            .expect("error")
            .contains("unknown collector `lambda`"),
        "{summary}"
    );
    let metrics = common::read(&metrics_path);
    assert!(metrics.contains("fleetscan_last_run_status{status=\"failed\"} 1\n"));
    assert_eq!(
        sample(&metrics, "fleetscan_last_success_timestamp_seconds"),
        Some(succeeded)
    );
}

#[test]
fn a_second_scan_on_the_same_database_exits_1_while_the_first_runs() {
    // Every call takes 150 ms: the first scan runs for a few seconds.
    let world = common::World::start(Faults::none().with_latency_ms(150));
    let config = world.config("");
    let config = config.to_str().expect("path");
    let first = world
        .fleetscan
        .spawn(["scan", "--config", config, "--no-progress"]);
    // The database is opened and locked before the first AWS call.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !world
        .fake
        .stats()
        .by_operation
        .contains_key(&Operation::GetCallerIdentity)
    {
        assert!(Instant::now() < deadline, "the first scan never called AWS");
        std::thread::sleep(Duration::from_millis(20));
    }

    let summary_path = world.path("second.json");
    let second = world.fleetscan.run([
        "scan",
        "--config",
        config,
        "--summary-json",
        summary_path.to_str().expect("path"),
    ]);
    second.expect_code(1, "overlapping scan");
    assert!(
        second
            .stderr
            .contains("is in use by another fleetscan process"),
        "{}",
        second.stderr
    );
    assert!(
        !summary_path.exists(),
        "the run turned away leaves the summary to the one that holds the lock"
    );
    let calls = world
        .fake
        .stats()
        .by_operation
        .get(&Operation::GetCallerIdentity)
        .copied();
    assert_eq!(calls, Some(1), "the second scan made no AWS call");

    let first = first.finish(Duration::from_secs(240));
    first.expect_code(0, "the first scan");
    let listed = world
        .fleetscan
        .run([
            "snapshots",
            "--db",
            world.path("fleet.db").to_str().expect("path"),
            "--format",
            "json",
        ])
        .expect_code(0, "snapshots")
        .json();
    let snapshots = listed.as_array().expect("snapshot list");
    assert_eq!(snapshots.len(), 1, "{listed}");
    assert_eq!(snapshots[0]["status"], "complete");
}
