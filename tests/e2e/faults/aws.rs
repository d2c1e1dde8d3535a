//! AWS misbehaving: throttling, 5xx, hung calls, the scan deadline, a denied
//! role, a denied operation, regions not enabled, and paging faults.

use std::time::Duration;

use fleetscan_fakeaws::{
    CallFilter, DisabledRegionError, FleetSpec, Injected, Operation, ServerErrors, Throttle,
};

use crate::common::{
    Harness, assert_complete_and_true, assert_ok_units_match_fleet, assert_same_rows,
    expected_units, outputs, small_spec, snapshot_status, unit_statuses,
};

#[test]
fn throttling_on_every_account_gives_the_same_rows_as_a_clean_scan() {
    let harness = Harness::new(small_spec(11), fleetscan_fakeaws::Faults::none());
    let config = harness.config();
    let accounts = harness.scanned_accounts();
    let clean = harness.scan("clean", &config).expect(0, "clean scan");

    // Small token buckets for every (account, region, operation): bursts of
    // pages and per-bucket calls run them dry, the SDK's backoff waits for
    // the refill.
    harness.fake.reset_stats();
    harness.fake.update_faults(|faults| {
        faults.throttle = Some(Throttle {
            capacity: 2.0,
            refill_per_second: 4.0,
            only: CallFilter::any(),
        });
    });
    let throttled = harness
        .scan("throttled", &config)
        .expect(0, "throttled scan");
    let stats = harness.fake.stats();
    assert!(
        stats.injected(Injected::Throttled) >= 10,
        "the fake throttled too little to prove anything: {:?}",
        stats.injected
    );
    let throttled_accounts = stats
        .calls
        .iter()
        .map(|count| count.account.clone())
        .filter(|account| accounts.contains(account))
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(throttled_accounts.len(), accounts.len());

    let db = harness.db();
    assert_complete_and_true(&db, throttled, harness.fleet(), &accounts, None);
    assert_same_rows(&db, clean, throttled);
}

#[test]
fn server_errors_on_30_percent_of_calls_are_retried_or_recorded_per_unit() {
    let harness = Harness::new(small_spec(12), fleetscan_fakeaws::Faults::none());
    let mut config = harness.config();
    let accounts = harness.scanned_accounts();
    let clean = harness.scan("clean", &config).expect(0, "clean scan");

    harness.fake.reset_stats();
    harness.fake.update_faults(|faults| {
        faults.server_errors = Some(ServerErrors {
            fraction: 0.3,
            only: CallFilter::any(),
        });
    });
    // 30% per attempt: 7 attempts leave a call failing with p = 0.3^7 ≈ 2e-4,
    // so the planner's few Organizations calls (not units: they would fail
    // the run) get through, while a unit may still exhaust its retries.
    config.max_attempts = 7;
    let scan = harness.scan("flaky", &config);
    let stats = harness.fake.stats();
    assert!(
        stats.injected(Injected::ServerError) >= 20,
        "too few 5xx injected: {:?}",
        stats.injected
    );
    let db = harness.db();
    match scan.output.code {
        Some(0) => {
            let snapshot = scan.expect(0, "flaky scan");
            assert_complete_and_true(&db, snapshot, harness.fleet(), &accounts, None);
            assert_same_rows(&db, clean, snapshot);
        }
        Some(3) => {
            // Some units exhausted their retries: they are `error`, all the
            // others hold the fleet's resources.
            let snapshot = scan.expect(3, "flaky scan");
            assert_eq!(snapshot_status(&db, snapshot), "partial");
            let failed: Vec<_> = db
                .scan_units(snapshot)
                .into_iter()
                .filter(|unit| unit.status != "ok")
                .collect();
            assert!(!failed.is_empty(), "partial without a failed unit");
            for unit in &failed {
                assert_eq!(unit.status, "error", "{unit:?}");
                assert!(unit.error_message.is_some(), "{unit:?}");
            }
            assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
        }
        _ => panic!("unexpected outcome\n{}", outputs(&scan.output)),
    }
}

#[test]
fn a_hung_call_ends_as_a_timeout_error_of_its_unit_only() {
    let harness = Harness::new(small_spec(13), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let victim = accounts[0].clone();
    harness.fake.update_faults(|faults| {
        faults.hang.push(
            CallFilter::operation(Operation::DescribeVolumes)
                .account(&victim)
                .region("eu-west-1"),
        );
    });
    let mut config = harness.config();
    config.attempt_timeout = 1;
    config.operation_timeout = 3;
    config.max_attempts = 2;
    let scan = harness.scan("hang", &config);
    let snapshot = scan.expect(3, "scan with a hung call");
    // Two attempts of one second, within an operation bound of three.
    assert!(
        scan.elapsed < Duration::from_secs(30),
        "took {:?}",
        scan.elapsed
    );
    assert!(harness.fake.stats().injected(Injected::Hung) >= 1);

    let db = harness.db();
    assert_eq!(snapshot_status(&db, snapshot), "partial");
    let mut expected = expected_units(harness.fleet(), &accounts, None);
    let key = (
        victim.clone(),
        "eu-west-1".to_string(),
        "ec2_volumes".to_string(),
    );
    expected.insert(key.clone(), "error".into());
    assert_eq!(unit_statuses(&db, snapshot), expected);
    let unit = db
        .scan_units(snapshot)
        .into_iter()
        .find(|unit| (&unit.account_id, &unit.region, &unit.collector) == (&key.0, &key.1, &key.2))
        .unwrap_or_else(|| panic!("no unit {key:?}"));
    assert_eq!(unit.error_code.as_deref(), Some("Timeout"), "{unit:?}");
    assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
}

#[test]
fn the_scan_deadline_ends_a_call_that_no_timeout_would_end_soon() {
    let harness = Harness::new(small_spec(14), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let victim = accounts[1].clone();
    harness.fake.update_faults(|faults| {
        faults.hang.push(
            CallFilter::operation(Operation::DescribeInstances)
                .account(&victim)
                .region("us-east-1"),
        );
    });
    let mut config = harness.config();
    // Per-call timeouts far beyond the deadline (one minute, the smallest
    // `timeouts.scan`): only the deadline can end the hung call.
    config.attempt_timeout = 600;
    config.operation_timeout = 1200;
    config.scan_deadline_minutes = 1;
    let running = harness.fleetscan.spawn(crate::common::scan_args(
        &harness.write_config("deadline", &config),
    ));
    let started = std::time::Instant::now();
    // `finish` kills and panics if the scan outlives this.
    let output = running.finish(Duration::from_secs(150));
    let elapsed = started.elapsed();
    let scan = crate::common::Scan::new(output, elapsed);
    let snapshot = scan.expect(3, "scan with a call hung past the deadline");
    assert!(
        elapsed >= Duration::from_secs(59),
        "ended before the deadline: {elapsed:?}"
    );
    assert!(
        scan.output.stderr.contains("deadline"),
        "{}",
        outputs(&scan.output)
    );

    let db = harness.db();
    assert_eq!(snapshot_status(&db, snapshot), "partial");
    let mut expected = expected_units(harness.fleet(), &accounts, None);
    let key = (
        victim.clone(),
        "us-east-1".to_string(),
        "ec2_instances".to_string(),
    );
    expected.insert(key.clone(), "error".into());
    assert_eq!(unit_statuses(&db, snapshot), expected);
    let codes = db.strings(
        "SELECT error_code FROM scan_units WHERE snapshot_id = ?1 AND status = 'error'",
        [snapshot],
    );
    assert_eq!(codes, ["ScanDeadline"]);
    assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
}

#[test]
fn denied_assume_role_fails_only_those_accounts_and_they_are_not_comparable() {
    let harness = Harness::new(
        FleetSpec {
            accounts: 5,
            ..small_spec(15)
        },
        fleetscan_fakeaws::Faults::none(),
    );
    let config = harness.config();
    let accounts = harness.scanned_accounts();
    assert!(accounts.len() >= 3);
    let clean = harness.scan("clean", &config).expect(0, "clean scan");

    let denied = vec![accounts[0].clone(), accounts[2].clone()];
    harness.fake.reset_stats();
    harness.fake.update_faults(|faults| {
        faults.deny_assume_role = denied.clone();
    });
    let scan = harness.scan("denied", &config);
    let snapshot = scan.expect(3, "scan with denied roles");
    let db = harness.db();
    assert_eq!(snapshot_status(&db, snapshot), "partial");

    for account in db.accounts(snapshot) {
        if denied.contains(&account.account_id) {
            assert_eq!(account.status, "assume_failed", "{account:?}");
            let error = account.error.clone().unwrap_or_default();
            assert!(
                error.contains("AccessDenied") && error.contains(&account.role_arn),
                "{account:?}"
            );
        } else {
            assert_eq!(account.status, "ok", "{account:?}");
        }
    }
    // No resource call into a denied account; the others are complete.
    let stats = harness.fake.stats();
    for account in &denied {
        let resource_calls: u64 = stats
            .calls
            .iter()
            .filter(|count| &count.account == account)
            .map(|count| count.count)
            .sum();
        assert_eq!(resource_calls, 0, "calls were made as {account}");
        assert!(stats.assume_role_count(account) >= 1);
    }
    let others: Vec<String> = accounts
        .iter()
        .filter(|account| !denied.contains(account))
        .cloned()
        .collect();
    assert_eq!(
        unit_statuses(&db, snapshot),
        expected_units(harness.fleet(), &others, None)
    );
    assert_ok_units_match_fleet(&db, snapshot, harness.fleet());

    // What a diff must see: the denied accounts have no ok unit in the new
    // snapshot (not comparable), and every resource of the accounts that
    // were scanned in both is still there (no removal).
    for account in &denied {
        let ok_units = db.count(
            "SELECT count(*) FROM scan_units WHERE snapshot_id = ?1 AND account_id = ?2 AND status = 'ok'",
            rusqlite::params![snapshot, account],
        );
        assert_eq!(ok_units, 0);
    }
    let removed = db.count(
        "SELECT count(*) FROM ec2_instances old
         WHERE old.snapshot_id = ?1
           AND EXISTS (SELECT 1 FROM scan_units u WHERE u.snapshot_id = ?2 AND u.account_id = old.account_id
                       AND u.region = old.region AND u.collector = 'ec2_instances' AND u.status = 'ok')
           AND NOT EXISTS (SELECT 1 FROM ec2_instances new WHERE new.snapshot_id = ?2
                           AND new.account_id = old.account_id AND new.region = old.region
                           AND new.instance_id = old.instance_id)",
        [clean, snapshot],
    );
    assert_eq!(removed, 0);
    diff_reports_not_comparable(&harness, clean, snapshot, &denied);
}

/// `fleetscan diff --format json OLD NEW`: the denied accounts are reported
/// not comparable and nothing is reported removed. The diff command is being
/// written by the store engineer; until it lands this only notes its absence.
fn diff_reports_not_comparable(harness: &Harness, old: i64, new: i64, denied: &[String]) {
    let db = harness.db_path();
    let output = harness.fleetscan.run([
        "diff".to_string(),
        "--db".into(),
        db.display().to_string(),
        "--format".into(),
        "json".into(),
        old.to_string(),
        new.to_string(),
    ]);
    let not_landed = output.stderr.contains("not available yet")
        || (output.code == Some(2) && output.stderr.contains("unexpected argument"));
    if not_landed {
        eprintln!("note: `fleetscan diff` is not available yet; checked through SQL only");
        return;
    }
    assert!(
        matches!(output.code, Some(0) | Some(4)),
        "diff failed\n{}",
        outputs(&output)
    );
    let json = output.json();
    let text = json.to_string();
    for account in denied {
        assert!(
            text.contains(account.as_str()),
            "diff does not mention {account}: {text}"
        );
    }
    let mut removals = Vec::new();
    find_removals(&json, "", &mut removals);
    assert!(removals.is_empty(), "diff reports removals: {removals:?}");
}

/// Collects every non-empty value under a key that says "removed".
fn find_removals(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                let says_removed = key.to_ascii_lowercase().contains("removed");
                let non_empty = match inner {
                    serde_json::Value::Array(items) => !items.is_empty(),
                    serde_json::Value::Number(number) => number.as_f64() != Some(0.0),
                    serde_json::Value::Object(map) => !map.is_empty(),
                    _ => false,
                };
                if says_removed && non_empty {
                    found.push(format!("{here} = {inner}"));
                }
                find_removals(inner, &here, found);
            }
            if map.get("change").and_then(|v| v.as_str()) == Some("removed")
                || map.get("kind").and_then(|v| v.as_str()) == Some("removed")
            {
                found.push(format!("{path} = {value}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                find_removals(inner, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn an_unauthorized_operation_denies_only_its_unit() {
    let harness = Harness::new(small_spec(16), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let victim = accounts[1].clone();
    harness.fake.update_faults(|faults| {
        faults.unauthorized.push(
            CallFilter::operation(Operation::DescribeVolumes)
                .account(&victim)
                .region("eu-west-1"),
        );
    });
    let scan = harness.scan("unauthorized", &harness.config());
    let snapshot = scan.expect(3, "scan with one denied operation");
    let db = harness.db();
    assert_eq!(snapshot_status(&db, snapshot), "partial");
    let mut expected = expected_units(harness.fleet(), &accounts, None);
    let key = (
        victim.clone(),
        "eu-west-1".to_string(),
        "ec2_volumes".to_string(),
    );
    expected.insert(key.clone(), "denied".into());
    assert_eq!(unit_statuses(&db, snapshot), expected);
    let codes = db.strings(
        "SELECT error_code FROM scan_units WHERE snapshot_id = ?1 AND status != 'ok'",
        [snapshot],
    );
    assert_eq!(codes, ["UnauthorizedOperation"]);
    for account in db.accounts(snapshot) {
        let expected = if account.account_id == victim {
            "partial"
        } else {
            "ok"
        };
        assert_eq!(account.status, expected, "{account:?}");
    }
    assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
}

/// Four members, `af-south-1` opted in by some of them only.
fn opt_in_spec() -> FleetSpec {
    FleetSpec {
        seed: 17,
        accounts: 6,
        suspended_accounts: 0,
        opt_in_regions: vec!["af-south-1".into()],
        opted_in_fraction: 0.5,
        ..small_spec(17)
    }
}

#[test]
fn a_region_not_enabled_is_region_disabled_and_the_snapshot_still_complete() {
    let harness = Harness::new(opt_in_spec(), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let fleet = harness.fleet();
    let without: Vec<&String> = accounts
        .iter()
        .filter(|account| !fleet.region_enabled(account, "af-south-1"))
        .collect();
    assert!(
        !without.is_empty() && without.len() < accounts.len(),
        "the seed must give af-south-1 to some accounts only"
    );
    let regions = vec!["us-east-1".to_string(), "af-south-1".to_string()];
    let mut config = harness.config();
    config.regions = Some(regions.clone());
    let snapshot = harness
        .scan("opt-in", &config)
        .expect(0, "scan naming an opt-in region");
    let db = harness.db();
    // expected_units marks the region `region_disabled` where it is not enabled.
    assert_complete_and_true(&db, snapshot, fleet, &accounts, Some(&regions));
    let disabled = db.count(
        "SELECT count(*) FROM scan_units WHERE snapshot_id = ?1 AND status = 'region_disabled'",
        [snapshot],
    );
    assert_eq!(disabled as usize, without.len() * 3);
}

#[test]
fn a_region_answering_opt_in_required_or_auth_failure_is_region_disabled_not_an_error() {
    let harness = Harness::new(opt_in_spec(), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let regions = vec!["us-east-1".to_string(), "af-south-1".to_string()];
    let mut config = harness.config();
    config.regions = Some(regions.clone());
    for (round, answer) in [
        DisabledRegionError::OptInRequired,
        DisabledRegionError::AuthFailure,
    ]
    .into_iter()
    .enumerate()
    {
        // Region discovery denied: fleetscan falls back to the configured
        // regions and meets the disabled one's own answer.
        harness.fake.reset_stats();
        harness.fake.update_faults(|faults| {
            faults.unauthorized = vec![CallFilter::operation(Operation::DescribeRegions)];
            faults.disabled_region_error = answer;
        });
        let scan = harness.scan(&format!("opt-in-{round}"), &config);
        let snapshot = scan.expect(3, "scan without region discovery");
        assert!(harness.fake.stats().injected(Injected::RegionDisabled) > 0);
        let db = harness.db();
        let mut expected = expected_units(harness.fleet(), &accounts, Some(&regions));
        for account in &accounts {
            expected.insert(
                (account.clone(), "global".into(), "ec2_regions".into()),
                "denied".into(),
            );
        }
        assert_eq!(unit_statuses(&db, snapshot), expected, "{answer:?}");
        // A failed region discovery is logged like any other failed unit.
        for account in &accounts {
            assert!(
                scan.output
                    .stderr
                    .lines()
                    .any(|line| line.contains(" WARN ")
                        && line.contains(account.as_str())
                        && line.contains("ec2_regions")),
                "no warning for {account}'s region discovery:\n{}",
                scan.output.stderr
            );
        }
        let code = format!("{answer:?}");
        for unit in db.scan_units(snapshot) {
            if unit.status == "region_disabled" {
                assert_eq!(unit.error_code.as_deref(), Some(code.as_str()), "{unit:?}");
            }
        }
        assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
    }
}

/// Also the regression test of the repeated page: the collectors emitted a
/// page's items before checking its token, so the endless token's second
/// (identical) page was written twice and the duplicate key stopped the
/// writer and with it the whole scan (exit 1).
#[test]
fn an_endless_next_token_stops_its_unit_without_writing_the_repeated_page() {
    let harness = Harness::new(small_spec(18), fleetscan_fakeaws::Faults::none());
    let accounts = harness.scanned_accounts();
    let victim = accounts[0].clone();
    harness.fake.update_faults(|faults| {
        faults.endless_next_token.push(
            CallFilter::operation(Operation::DescribeInstances)
                .account(&victim)
                .region("us-east-1"),
        );
    });
    let scan = harness.scan("endless", &harness.config());
    let snapshot = scan.expect(3, "scan with an endless NextToken");
    let db = harness.db();
    let mut expected = expected_units(harness.fleet(), &accounts, None);
    let key = (
        victim.clone(),
        "us-east-1".to_string(),
        "ec2_instances".to_string(),
    );
    expected.insert(key.clone(), "error".into());
    assert_eq!(unit_statuses(&db, snapshot), expected);
    let unit = db
        .scan_units(snapshot)
        .into_iter()
        .find(|unit| unit.status == "error")
        .unwrap_or_else(|| panic!("no failed unit"));
    assert_eq!(
        unit.error_code.as_deref(),
        Some("PaginationLoop"),
        "{unit:?}"
    );
    let message = unit.error_message.unwrap_or_default();
    assert!(message.contains("DescribeInstances"), "{message}");
    // Stopped at the first repeat, not after thousands of pages.
    let calls = harness
        .fake
        .stats()
        .count_in(Operation::DescribeInstances, &victim, "us-east-1");
    assert!(calls <= 3, "{calls} DescribeInstances calls");
    assert_ok_units_match_fleet(&db, snapshot, harness.fleet());
}

#[test]
fn an_endless_next_token_from_organizations_stops_the_plan_with_a_clear_error() {
    let harness = Harness::new(small_spec(19), fleetscan_fakeaws::Faults::none());
    harness.fake.update_faults(|faults| {
        faults
            .endless_next_token
            .push(CallFilter::operation(Operation::ListAccounts));
    });
    let scan = harness.scan("endless-org", &harness.config());
    scan.output
        .expect_code(1, "plan with an endless ListAccounts");
    assert!(
        scan.output.stderr.contains("ListAccounts"),
        "{}",
        outputs(&scan.output)
    );
    let stats = harness.fake.stats();
    assert!(stats.count(Operation::ListAccounts) <= 3);
    assert_eq!(stats.count(Operation::DescribeInstances), 0);
}

#[test]
fn empty_pages_with_a_next_token_are_followed_to_the_same_rows() {
    let harness = Harness::new(small_spec(20), fleetscan_fakeaws::Faults::none());
    let config = harness.config();
    let accounts = harness.scanned_accounts();
    let clean = harness.scan("clean", &config).expect(0, "clean scan");
    harness.fake.reset_stats();
    harness.fake.update_faults(|faults| {
        faults.empty_pages = Some(fleetscan_fakeaws::EmptyPages {
            before_each_page: 2,
            only: CallFilter::any(),
        });
    });
    let snapshot = harness
        .scan("empty-pages", &config)
        .expect(0, "scan with empty pages");
    assert!(harness.fake.stats().injected(Injected::EmptyPage) >= 10);
    let db = harness.db();
    assert_complete_and_true(&db, snapshot, harness.fleet(), &accounts, None);
    assert_same_rows(&db, clean, snapshot);
}
