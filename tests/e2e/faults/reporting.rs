//! What a run that goes wrong tells its watchers: a signal during planning,
//! a role no account lets us assume, one account denied, and output paths
//! that would overwrite the database. Each test is named after what broke
//! in a new user's trial.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetscan_fakeaws::{Faults, FleetSpec, Latency};
use serde_json::Value;

use crate::common::{Harness, outputs, scan_args, small_spec};

/// `scan --config CONFIG --format json --no-progress --summary-json S --prometheus P`.
fn scan_with_outputs(config: &Path, summary: &Path, metrics: &Path) -> Vec<String> {
    let mut args = scan_args(config);
    args.extend([
        "--summary-json".into(),
        summary.display().to_string(),
        "--prometheus".into(),
        metrics.display().to_string(),
    ]);
    args
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}\n{text}", path.display()))
}

/// The value of an unlabelled sample in a Prometheus textfile.
fn sample(text: &str, metric: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(metric)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// Stale outputs of an earlier, successful run, which a failed run must replace.
fn stale_outputs(summary: &Path, metrics: &Path) {
    std::fs::write(summary, "{\"status\": \"complete\", \"exit_code\": 0}\n").expect("write");
    std::fs::write(
        metrics,
        "fleetscan_last_run_status{status=\"complete\"} 1\nfleetscan_last_success_timestamp_seconds 1000\n",
    )
    .expect("write");
}

/// SIGTERM while the organization is still being planned (every call takes
/// 1.5 s, so the signal lands before any snapshot exists) used to kill the
/// process with the default handler: exit 143, nothing on stderr, and the
/// summary and metrics of the last run left saying "complete".
#[test]
fn sigterm_while_planning_exits_1_and_writes_a_failed_summary_without_snapshot() {
    let harness = Harness::new(
        small_spec(41),
        Faults {
            latency: Some(Latency::FixedMs(1500)),
            ..Faults::none()
        },
    );
    let config = harness.write_config("planning", &harness.config());
    let summary_path = harness.dir.path().join("sig.json");
    let metrics_path = harness.dir.path().join("sig.prom");
    stale_outputs(&summary_path, &metrics_path);

    let running = harness
        .fleetscan
        .spawn(scan_with_outputs(&config, &summary_path, &metrics_path));
    // Signal once the first AWS call has arrived: the handlers are in place
    // by then (they come before any call), and every call takes 1.5 s, so
    // planning is still going on. A fixed delay could land before the
    // handlers on a loaded machine.
    let waiting = Instant::now();
    while harness.fake.stats().total_calls == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the scan made no AWS call within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = running.terminate();
    output.expect_code(1, "scan interrupted while planning");
    let last_line = output.stderr.lines().last().unwrap_or_default();
    assert!(
        last_line.starts_with("error: interrupted by a signal"),
        "{}",
        outputs(&output)
    );

    let summary = read_json(&summary_path);
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_eq!(summary["exit_code"], 1, "{summary}");
    assert_eq!(summary["snapshot_id"], Value::Null, "{summary}");
    let error = summary["error"].as_str().expect("an error");
    assert!(
        error.contains("interrupted") && error.contains("no snapshot was created"),
        "{summary}"
    );
    let metrics = std::fs::read_to_string(&metrics_path).expect("metrics");
    assert!(
        metrics.contains("fleetscan_last_run_status{status=\"failed\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "fleetscan_last_run_exit_code"), Some(1.0));
    // The last success survives the failed run.
    assert_eq!(
        sample(&metrics, "fleetscan_last_success_timestamp_seconds"),
        Some(1000.0)
    );
    // Nothing was begun in the database.
    assert!(harness.db().snapshots().is_empty());
}

/// A role name no account has: every AssumeRole is denied. The snapshot
/// used to end `failed` with no reason anywhere (`snapshots.error` NULL,
/// the summary's `error` null, stdout only "snapshot 1 failed").
#[test]
fn a_role_no_account_lets_us_assume_fails_the_snapshot_and_says_why() {
    let harness = Harness::new(
        FleetSpec {
            role_name: Some("ScanRole".into()),
            accounts: 2,
            suspended_accounts: 0,
            ..FleetSpec::default()
        },
        Faults::none(),
    );
    let config = harness.write_config("wrong-role", &harness.config());
    let summary_path = harness.dir.path().join("summary.json");
    let metrics_path = harness.dir.path().join("fleetscan.prom");
    let output = harness
        .fleetscan
        .run(scan_with_outputs(&config, &summary_path, &metrics_path));
    output.expect_code(1, "no role could be assumed");
    let accounts = harness.scanned_accounts();
    assert_eq!(accounts.len(), 2);

    let stored: Vec<String> = harness
        .db()
        .strings("SELECT coalesce(error, 'NULL') FROM snapshots", []);
    assert_eq!(stored.len(), 1);
    let reason = &stored[0];
    assert!(
        reason.starts_with(
            "no account could be scanned: the role could not be assumed in any of the 2 account(s) (e.g. "
        ) && reason.contains("AccessDenied"),
        "{reason}"
    );
    assert!(reason.len() < 800, "{} chars: {reason}", reason.len());

    let summary = read_json(&summary_path);
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["snapshot_id"], 1);
    assert_eq!(
        summary["error"].as_str(),
        Some(reason.as_str()),
        "{summary}"
    );
    let failed: Vec<&str> = summary["failed_accounts"]
        .as_array()
        .expect("failed_accounts")
        .iter()
        .map(|account| account["account_id"].as_str().expect("account_id"))
        .collect();
    assert_eq!(failed, accounts);
    assert_eq!(
        output.stderr.lines().last(),
        Some(format!("error: {reason}").as_str()),
        "{}",
        outputs(&output)
    );
    // stdout still carries the scan's own summary.
    let stdout = output.json();
    assert_eq!(stdout["status"], "failed");
    assert_eq!(stdout["failed_accounts"].as_array().map(Vec::len), Some(2));
}

/// One account denies AssumeRole: the run is `partial`, and that account
/// used to be in no machine-readable list (`failed_units: []`, the metric 0),
/// with ~2 KB of the SDK's debug dump (raw HTTP response included) in
/// `accounts.error` and every log line about it.
#[test]
fn an_account_whose_role_is_denied_is_listed_with_a_short_error() {
    let probe = Harness::new(small_spec(43), Faults::none());
    let denied = probe.scanned_accounts()[1].clone();
    drop(probe);
    let harness = Harness::new(
        small_spec(43),
        Faults {
            deny_assume_role: vec![denied.clone()],
            ..Faults::none()
        },
    );
    let config = harness.write_config("denied", &harness.config());
    let summary_path = harness.dir.path().join("summary.json");
    let metrics_path = harness.dir.path().join("fleetscan.prom");
    let output = harness
        .fleetscan
        .run(scan_with_outputs(&config, &summary_path, &metrics_path));
    output.expect_code(3, "one account denied");

    let errors = harness.db().strings(
        "SELECT error FROM accounts WHERE account_id = ?1",
        [denied.as_str()],
    );
    assert_eq!(errors.len(), 1);
    let error = &errors[0];
    assert!(
        error.starts_with("AccessDenied: could not assume arn:aws:iam::")
            && error.contains("is not authorized to perform: sts:AssumeRole"),
        "{error}"
    );
    assert!(error.len() < 600, "{} chars: {error}", error.len());
    for dump in [
        "ErrorResponse",
        "raw:",
        "SdkBody",
        "ErrorMetadata",
        "RequestId",
    ] {
        assert!(!error.contains(dump), "{dump} in {error}");
    }
    let warnings: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.contains(" WARN ") && line.contains(&denied))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", outputs(&output));
    assert!(warnings[0].len() < 800, "{}", warnings[0]);
    assert!(
        !output.stderr.contains("ErrorResponse"),
        "{}",
        output.stderr
    );

    let expected = serde_json::json!([{
        "account_id": denied,
        "status": "assume_failed",
        "error": error,
    }]);
    let summary = read_json(&summary_path);
    assert_eq!(summary["status"], "partial");
    assert_eq!(summary["accounts"]["failed"], 1);
    assert_eq!(summary["failed_accounts"], expected, "{summary}");
    assert_eq!(output.json()["failed_accounts"], expected);
    let metrics = std::fs::read_to_string(&metrics_path).expect("metrics");
    assert_eq!(
        sample(&metrics, "fleetscan_last_run_failed_accounts"),
        Some(1.0),
        "{metrics}"
    );
}

/// An output path that is the database replaced it with JSON, text or HTML
/// (exit 0). Refused with exit 2 before anything is opened or written,
/// through `..`, a symlink or a companion file too.
#[test]
fn an_output_path_that_is_the_database_is_refused_and_the_database_kept() {
    let harness = Harness::new(small_spec(47), Faults::none());
    let config = harness.config();
    let config_path = harness.write_config("same", &config);
    let db = harness.db_path();
    harness
        .fleetscan
        .run(scan_args(&config_path))
        .expect_code(0, "first scan");
    let before = std::fs::read(&db).expect("database");
    let dir = harness.dir.path();
    std::fs::create_dir(dir.join("sub")).expect("mkdir");
    let link = dir.join("link.prom");
    std::os::unix::fs::symlink(&db, &link).expect("symlink");
    let path = |p: PathBuf| p.display().to_string();
    let db_text = path(db.clone());

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--summary-json".into(), db_text.clone()],
            "--summary-json points at the database",
        ),
        (
            vec!["--prometheus".into(), path(dir.join("sub/../fleet.db"))],
            "--prometheus points at the database",
        ),
        (
            vec!["--prometheus".into(), path(link.clone())],
            "--prometheus points at the database",
        ),
        (
            vec!["--summary-json".into(), format!("{db_text}-wal")],
            "--summary-json points at a companion file of the database",
        ),
        (
            vec!["--prometheus".into(), format!("{db_text}.lock")],
            "--prometheus points at a companion file of the database",
        ),
        (
            vec![
                "--summary-json".into(),
                path(dir.join("out.json")),
                "--prometheus".into(),
                path(dir.join("sub/../out.json")),
            ],
            "--prometheus and --summary-json name the same file",
        ),
    ];
    for (extra, message) in cases {
        let mut args = scan_args(&config_path);
        args.extend(extra.clone());
        let output = harness.fleetscan.run(&args);
        output.expect_code(2, &format!("scan {extra:?}"));
        assert!(
            output.stderr.contains(message),
            "{extra:?}: {}",
            outputs(&output)
        );
    }
    assert!(!dir.join("out.json").exists());
    for out in [db_text.clone(), path(link.clone())] {
        let output = harness
            .fleetscan
            .run(["report", "--db", &db_text, "--out", &out]);
        output.expect_code(2, &format!("report --out {out}"));
        assert!(
            output.stderr.contains("--out points at the database"),
            "{}",
            outputs(&output)
        );
    }
    assert!(
        std::fs::read(&db).expect("database") == before,
        "the database changed"
    );
    assert_eq!(harness.db().integrity_check(), "ok");
    assert_eq!(harness.db().snapshots().len(), 1);
}
