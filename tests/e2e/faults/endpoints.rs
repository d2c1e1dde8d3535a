//! The endpoint given the SDK's own ways (`AWS_ENDPOINT_URL`, a service's
//! `AWS_ENDPOINT_URL_<SERVICE>`, `endpoint_url` in the shared config profile)
//! instead of the configuration's `endpoint_url`: every one must get the same
//! emulator handling (S3 path-style, S3 Control's `<account>.<host>` resolved
//! to the endpoint), so the scan is as complete as with the configuration key.

use std::process::Output;
use std::time::Instant;

use fleetscan_fakeaws::Faults;
use fleetscan_tests::fleetscan::RunOutput;

use crate::common::{Harness, Scan, assert_complete_and_true, scan_args, small_spec};

/// A configuration with no `endpoint_url`: the database and nothing else,
/// as in the trial that found the bug.
fn endpointless_config(harness: &Harness) -> std::path::PathBuf {
    let path = harness.dir.path().join("envc.yaml");
    let yaml = format!("database: {:?}\n", harness.db_path().display().to_string());
    std::fs::write(&path, yaml).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    path
}

/// Runs `fleetscan scan` on `config` with `environment` added.
fn scan_with(harness: &Harness, config: &std::path::Path, environment: &[(&str, String)]) -> Scan {
    let mut command = harness.fleetscan.command(scan_args(config));
    for (name, value) in environment {
        command.env(name, value);
    }
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run fleetscan: {err}"));
    let output = RunOutput {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    Scan::new(output, started.elapsed())
}

fn assert_complete(harness: &Harness, scan: &Scan, what: &str) {
    let snapshot_id = scan.expect(0, what);
    assert_complete_and_true(
        &harness.db(),
        snapshot_id,
        harness.fleet(),
        &harness.scanned_accounts(),
        None,
    );
    // The unit the trial saw fail on every account.
    let failed = harness.db().count(
        "SELECT COUNT(*) FROM scan_units WHERE snapshot_id = ?1 \
         AND collector = 's3_account_public_access_block' AND status != 'ok'",
        [snapshot_id],
    );
    assert_eq!(failed, 0, "{what}: {}", scan.output.stderr);
}

/// A regression test: with only `AWS_ENDPOINT_URL`, every
/// `s3_account_public_access_block` unit failed with a DNS error for
/// `222200000000.127.0.0.1`.
#[test]
fn aws_endpoint_url_alone_scans_completely() {
    let harness = Harness::new(small_spec(71), Faults::default());
    let config = endpointless_config(&harness);
    let scan = scan_with(
        &harness,
        &config,
        &[("AWS_ENDPOINT_URL", harness.fake.endpoint_url())],
    );
    assert_complete(&harness, &scan, "AWS_ENDPOINT_URL");
}

/// S3 Control's own variable names another host than the general one
/// (`localhost` instead of `127.0.0.1`, the same fake): the account-id host
/// `222200000000.localhost` must resolve to it.
#[test]
fn a_service_endpoint_variable_gets_the_emulator_handling_of_its_own_host() {
    let harness = Harness::new(small_spec(72), Faults::default());
    let config = endpointless_config(&harness);
    let general = harness.fake.endpoint_url();
    let by_name = general.replacen("127.0.0.1", "localhost", 1);
    assert_ne!(general, by_name, "the fake listens on 127.0.0.1");
    let scan = scan_with(
        &harness,
        &config,
        &[
            ("AWS_ENDPOINT_URL", general),
            ("AWS_ENDPOINT_URL_S3", by_name.clone()),
            ("AWS_ENDPOINT_URL_S3_CONTROL", by_name),
        ],
    );
    assert_complete(&harness, &scan, "AWS_ENDPOINT_URL_S3_CONTROL");
}

/// `endpoint_url` in the shared config profile, which the SDK honours too.
#[test]
fn endpoint_url_in_the_shared_config_profile_scans_completely() {
    let harness = Harness::new(small_spec(73), Faults::default());
    let config = endpointless_config(&harness);
    let profile = harness.dir.path().join("aws-config");
    std::fs::write(
        &profile,
        format!(
            "[default]\nendpoint_url = {}\n",
            harness.fake.endpoint_url()
        ),
    )
    .unwrap_or_else(|err| panic!("write {}: {err}", profile.display()));
    let scan = scan_with(
        &harness,
        &config,
        &[("AWS_CONFIG_FILE", profile.display().to_string())],
    );
    assert_complete(&harness, &scan, "endpoint_url in the profile");
}
