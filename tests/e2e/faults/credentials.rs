//! Credentials: short-lived role sessions during a long scan, and no
//! credential material in the database, its WAL or the most verbose logs.

use std::time::Duration;

use fleetscan_fakeaws::{Count, Faults, FleetSpec, Injected, Latency, Operation};

use crate::common::{Harness, assert_complete_and_true, scan_args};

#[test]
fn credentials_expiring_every_60s_are_refreshed_ahead_of_expiry_during_a_long_scan() {
    const LIFETIME: u64 = 60;
    // Two accounts, one region; every call takes a second and units run one
    // at a time, so each account is busy for about two minutes
    // and meets its credentials' expiry more than once.
    let spec = FleetSpec {
        instances_per_region: Count::Exactly(240),
        volumes_per_region: Count::Exactly(240),
        security_groups_per_region: Count::Exactly(3),
        buckets_per_account: Count::Exactly(3),
        ..FleetSpec::uniform(41, 2, &["us-east-1"])
    };
    let faults = Faults {
        latency: Some(Latency::FixedMs(1000)),
        credential_lifetime_seconds: Some(LIFETIME),
        ..Faults::none()
    };
    let harness = Harness::new(spec, faults);
    let accounts = harness.scanned_accounts();
    let mut config = harness.config();
    config.ou_paths = false;
    config.page_size_organizations = 20;
    config.per_account = 1;
    config.per_bucket = 1;
    config.session_duration = 900;
    config.refresh_buffer = 15;
    let scan = harness.scan("long", &config);
    let snapshot = scan.expect(0, "long scan with short-lived credentials");
    let db = harness.db();
    assert_complete_and_true(&db, snapshot, harness.fleet(), &accounts, None);

    let stats = harness.fake.stats();
    assert_eq!(
        stats.injected(Injected::ExpiredToken),
        0,
        "calls were signed with expired credentials"
    );
    for account in &accounts {
        // How long the account was busy: its units ran one after another.
        let busy_ms = db.count(
            "SELECT coalesce(sum(duration_ms), 0) FROM scan_units WHERE snapshot_id = ?1 AND account_id = ?2",
            rusqlite::params![snapshot, account],
        );
        // (Never more than the scan's own wall time.)
        let busy = Duration::from_millis(busy_ms as u64).min(scan.elapsed);
        assert!(
            busy > Duration::from_secs(LIFETIME + 30),
            "{account} was busy only {busy:?}: the scan is too short to prove refreshes"
        );
        let assumed = stats.assume_role_count(account);
        let calls: u64 = stats
            .calls
            .iter()
            .filter(|count| &count.account == account)
            .map(|count| count.count)
            .sum();
        // Refreshed halfway through each 60 s life (the refresh buffer of
        // 15 s is sooner than the midpoint): one AssumeRole per ~30 s of
        // work, never fewer than the lifetime forces, never one per call.
        let busy_secs = busy.as_secs_f64();
        let at_least = (busy_secs / LIFETIME as f64).floor() as u64 + 1;
        let at_most = (busy_secs / (LIFETIME as f64 / 2.0 - 5.0)).ceil() as u64 + 2;
        assert!(
            (at_least..=at_most).contains(&assumed),
            "{account}: {assumed} AssumeRole calls in {busy:?} of work \
             (expected {at_least}..={at_most} for refresh ahead of a {LIFETIME}s expiry)"
        );
        assert!(
            calls >= 10 * assumed,
            "{account}: {assumed} AssumeRole calls for {calls} calls"
        );
        eprintln!("{account}: {assumed} AssumeRole, {calls} calls, busy {busy:?}");
    }
    eprintln!("scan took {:?}", scan.elapsed);
}

/// Base credentials distinctive enough to search for.
const BASE_ACCESS_KEY_ID: &str = "AKIAFLEETSCANBASE777";
const BASE_SECRET: &str = "baseSecretMustNeverBeStored/7f3a9c";

#[test]
fn no_credential_material_in_the_database_or_verbose_logs_and_the_database_is_private() {
    let harness = Harness::new(
        crate::common::small_spec(42),
        Faults {
            latency: Some(Latency::FixedMs(5)),
            ..Faults::none()
        },
    );
    let config_path = harness.write_config("secrets", &harness.config());
    let mut args = vec!["-vv".to_string()];
    args.extend(scan_args(&config_path));
    let mut command = harness.fleetscan.command(&args);
    command
        .env("AWS_ACCESS_KEY_ID", BASE_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
        .env("AWS_SESSION_TOKEN", "baseSessionTokenMustNeverBeStored");
    // Output to files; while it runs, keep the largest WAL seen (a finished
    // scan checkpoints and removes it).
    let stdout_path = harness.dir.path().join("secrets.stdout");
    let stderr_path = harness.dir.path().join("secrets.stderr");
    let create = |path: &std::path::Path| {
        std::fs::File::create(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    };
    let mut child = command
        .stdout(create(&stdout_path))
        .stderr(create(&stderr_path))
        .spawn()
        .unwrap_or_else(|err| panic!("run fleetscan: {err}"));
    let wal_path = std::path::PathBuf::from(format!("{}-wal", harness.db_path().display()));
    let mut wal_seen: Vec<u8> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Ok(bytes) = std::fs::read(&wal_path)
            && bytes.len() > wal_seen.len()
        {
            wal_seen = bytes;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                panic!("the scan did not finish");
            }
        }
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "--- stdout\n{stdout}\n--- stderr\n{}",
        tail(&stderr)
    );
    assert!(!wal_seen.is_empty(), "never saw the WAL");
    assert!(harness.fake.issued_credentials() >= 3);
    assert!(
        stderr.lines().count() > 50,
        "-vv logged too little to prove anything"
    );

    // What the fake hands out (see its STS service) and what it was given.
    let needles = [
        BASE_ACCESS_KEY_ID,
        BASE_SECRET,
        "baseSessionTokenMustNeverBeStored",
        "ASIAFAKE",
        "fakeSecret",
        "FakeSessionToken",
    ];
    let mut haystacks: Vec<(String, Vec<u8>)> = vec![
        ("-vv stderr".into(), stderr.clone().into_bytes()),
        ("stdout".into(), stdout.into_bytes()),
        ("the WAL during the scan".into(), wal_seen),
    ];
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", harness.db_path().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            assert_eq!(
                mode(&path),
                0o600,
                "{} is readable by others",
                path.display()
            );
            haystacks.push((path.display().to_string(), bytes));
        }
    }
    assert!(haystacks.len() >= 4, "the database was not written");
    let mut found = Vec::new();
    for (name, bytes) in &haystacks {
        for needle in needles {
            if let Some(position) = find(bytes, needle.as_bytes()) {
                let start = position.saturating_sub(400);
                let end = (position + 300).min(bytes.len());
                found.push(format!(
                    "{name} holds {needle:?}: …{}…",
                    String::from_utf8_lossy(&bytes[start..end])
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(harness.fake.stats().count(Operation::AssumeRole) >= 3);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|metadata| metadata.permissions().mode() & 0o777)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
