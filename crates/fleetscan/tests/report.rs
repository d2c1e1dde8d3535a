//! `fleetscan report` end to end: snapshots seeded through the store's writer,
//! the real binary writing the page, and the page loaded in headless Chromium
//! (driven by `tests/browser/cdp.py`) to prove it runs clean, offline, with
//! working filters, and that hostile values from AWS stay text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetscan_store::*;
use serde_json::{Value, json};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const REGION: &str = "eu-west-1";

/// Values an attacker controls (tags, names, descriptions, error text).
const SCRIPT_PAYLOAD: &str = "<script>alert(1)</script>";
const IMG_PAYLOAD: &str = "\"><img src=x onerror=alert(2)>";
const SVG_PAYLOAD: &str = "'><svg onload=alert(3)>";

// ---------------------------------------------------------------- seeding

fn account(account_id: &str, name: &str, ou_path: &str, status: AccountStatus) -> Row {
    Row::Account(AccountRow {
        account_id: account_id.to_owned(),
        name: Some(name.to_owned()),
        email: Some(format!("{account_id}@example.com")),
        state: Some("ACTIVE".to_owned()),
        ou_path: Some(ou_path.to_owned()),
        role_arn: format!("arn:aws:iam::{account_id}:role/fleetscan"),
        status,
        error: (status != AccountStatus::Ok).then(|| "some units failed".to_owned()),
    })
}

fn unit(account_id: &str, region: &str, collector: &str, status: UnitStatus, message: &str) -> Row {
    Row::Unit(ScanUnitRow {
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        collector: collector.to_owned(),
        status,
        error_code: (!status.is_success()).then(|| "Throttling".to_owned()),
        error_message: (!status.is_success()).then(|| message.to_owned()),
        resources: 0,
        api_calls: 1,
        duration_ms: 10,
    })
}

fn ok_units(account_id: &str, regions: &[&str]) -> Vec<Row> {
    let mut rows = Vec::new();
    for region in regions {
        for collector in ["ec2_instances", "ec2_security_groups", "ec2_volumes"] {
            rows.push(unit(account_id, region, collector, UnitStatus::Ok, ""));
        }
    }
    for collector in ["s3_buckets", "s3_account_public_access_block"] {
        rows.push(unit(account_id, "global", collector, UnitStatus::Ok, ""));
    }
    rows
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn instance(account_id: &str, instance_id: &str) -> Ec2InstanceRow {
    Ec2InstanceRow {
        account_id: account_id.to_owned(),
        region: REGION.to_owned(),
        instance_id: instance_id.to_owned(),
        name: Some(format!("web {instance_id}")),
        state: Some("running".to_owned()),
        instance_type: Some("t3.micro".to_owned()),
        image_id: Some("ami-12345678".to_owned()),
        launch_time: Some("2025-01-02T03:04:05Z".to_owned()),
        availability_zone: Some(format!("{REGION}a")),
        vpc_id: Some("vpc-1".to_owned()),
        subnet_id: Some("subnet-1".to_owned()),
        private_ip: Some("10.0.0.10".to_owned()),
        public_ip: None,
        iam_instance_profile_arn: None,
        key_name: None,
        platform: None,
        imds_http_tokens: Some("required".to_owned()),
        imds_http_endpoint: Some("enabled".to_owned()),
        security_group_ids: vec!["sg-web".to_owned()],
        tags: tags(&[("owner", "team-a")]),
    }
}

fn group(account_id: &str, group_id: &str) -> Row {
    Row::Ec2SecurityGroup(Ec2SecurityGroupRow {
        account_id: account_id.to_owned(),
        region: REGION.to_owned(),
        group_id: group_id.to_owned(),
        group_name: Some(format!("name-{group_id}")),
        description: Some("managed by terraform".to_owned()),
        vpc_id: Some("vpc-1".to_owned()),
        tags: Tags::new(),
    })
}

fn ingress(account_id: &str, group_id: &str, port: i64, cidr: &str, description: &str) -> Row {
    Row::Ec2SecurityGroupRule(Ec2SecurityGroupRuleRow {
        account_id: account_id.to_owned(),
        region: REGION.to_owned(),
        group_id: group_id.to_owned(),
        direction: RuleDirection::Ingress,
        protocol: "tcp".to_owned(),
        from_port: Some(port),
        to_port: Some(port),
        cidr: Some(cidr.to_owned()),
        prefix_list_id: None,
        referenced_group_id: None,
        description: (!description.is_empty()).then(|| description.to_owned()),
    })
}

fn volume(account_id: &str, volume_id: &str, encrypted: bool) -> Ec2VolumeRow {
    Ec2VolumeRow {
        account_id: account_id.to_owned(),
        region: REGION.to_owned(),
        volume_id: volume_id.to_owned(),
        size_gib: Some(8),
        volume_type: Some("gp3".to_owned()),
        encrypted: Some(encrypted),
        kms_key_id: None,
        state: Some("in-use".to_owned()),
        availability_zone: Some(format!("{REGION}a")),
        attached_instance_ids: vec!["i-web".to_owned()],
        create_time: Some("2025-01-02T03:04:05Z".to_owned()),
        tags: Tags::new(),
    }
}

fn bucket(account_id: &str, bucket_name: &str) -> S3BucketRow {
    S3BucketRow {
        account_id: account_id.to_owned(),
        bucket_name: bucket_name.to_owned(),
        region: Some(REGION.to_owned()),
        creation_date: Some("2024-05-06T07:08:09Z".to_owned()),
        block_public_acls: Some(true),
        ignore_public_acls: Some(true),
        block_public_policy: Some(true),
        restrict_public_buckets: Some(true),
        policy_is_public: Some(false),
        versioning: Some("Enabled".to_owned()),
        sse_algorithm: Some("AES256".to_owned()),
        public_acl_grants: Some(Vec::new()),
        ..S3BucketRow::default()
    }
}

/// The old snapshot of the seeded pair.
fn old_fleet() -> Vec<Row> {
    let mut rows = vec![
        account(A, "prod-web", "/Root/Prod", AccountStatus::Ok),
        account(B, "sandbox", "/Root/Dev", AccountStatus::Ok),
    ];
    rows.extend(ok_units(A, &[REGION, "us-east-1"]));
    rows.extend(ok_units(B, &[REGION, "us-east-1"]));
    rows.push(Row::Ec2Instance(instance(A, "i-web")));
    rows.push(Row::Ec2Instance(instance(A, "i-old")));
    rows.push(Row::Ec2Instance(instance(B, "i-sandbox")));
    rows.push(group(A, "sg-web"));
    rows.push(group(A, "sg-db"));
    rows.push(ingress(A, "sg-web", 22, "10.0.0.0/8", "office"));
    rows.push(Row::Ec2Volume(volume(A, "vol-1", true)));
    rows.push(Row::S3Bucket(bucket(A, "logs")));
    rows.push(Row::S3Bucket(bucket(A, "assets")));
    rows.push(Row::S3AccountPublicAccessBlock(
        S3AccountPublicAccessBlockRow {
            account_id: A.to_owned(),
            ..S3AccountPublicAccessBlockRow::default()
        },
    ));
    rows
}

/// The new snapshot: known findings, known security changes, a unit of B
/// that failed (so B's instance must not read as removed), a third account
/// that entered the scope, and hostile values everywhere AWS lets them in.
fn new_fleet() -> Vec<Row> {
    let mut rows = vec![
        account(A, "prod-web", "/Root/Prod", AccountStatus::Ok),
        account(B, "sandbox", "/Root/Dev", AccountStatus::Partial),
        account(C, SCRIPT_PAYLOAD, "/Root/Prod", AccountStatus::Ok),
    ];
    rows.extend(ok_units(A, &[REGION, "us-east-1"]));
    rows.extend(ok_units(C, &[REGION, "us-east-1"]));
    let mut b_units = ok_units(B, &[REGION, "us-east-1"]);
    b_units.retain(|row| !matches!(row, Row::Unit(unit) if unit.region == REGION && unit.collector == "ec2_instances"));
    b_units.push(unit(
        B,
        REGION,
        "ec2_instances",
        UnitStatus::Throttled,
        SVG_PAYLOAD,
    ));
    rows.extend(b_units);

    let mut web = instance(A, "i-web");
    web.public_ip = Some("203.0.113.10".to_owned());
    web.imds_http_tokens = Some("optional".to_owned());
    web.tags = tags(&[("owner", SCRIPT_PAYLOAD), ("Name", IMG_PAYLOAD)]);
    web.name = Some(IMG_PAYLOAD.to_owned());
    rows.push(Row::Ec2Instance(web));
    rows.push(group(A, "sg-web"));
    rows.push(group(A, "sg-db"));
    rows.push(ingress(A, "sg-web", 22, "10.0.0.0/8", "office"));
    rows.push(ingress(A, "sg-web", 22, "0.0.0.0/0", IMG_PAYLOAD));
    rows.push(ingress(A, "sg-db", 3389, "::/0", "rdp"));
    let mut vol_1 = volume(A, "vol-1", true);
    vol_1.tags = tags(&[("backup", "daily")]);
    rows.push(Row::Ec2Volume(vol_1));
    rows.push(Row::Ec2Volume(volume(A, "vol-2", false)));
    let mut logs = bucket(A, "logs");
    logs.versioning = Some("Suspended".to_owned());
    rows.push(Row::S3Bucket(logs));
    let mut assets = bucket(A, "assets");
    assets.policy_is_public = Some(true);
    assets.restrict_public_buckets = Some(false);
    assets.block_public_policy = Some(false);
    rows.push(Row::S3Bucket(assets));
    rows.push(Row::S3AccountPublicAccessBlock(
        S3AccountPublicAccessBlockRow {
            account_id: A.to_owned(),
            ..S3AccountPublicAccessBlockRow::default()
        },
    ));
    rows
}

fn meta() -> SnapshotMeta {
    SnapshotMeta {
        tool_version: "0.1.0-test".to_owned(),
        config_digest: "sha256:test".to_owned(),
        caller_arn: Some("arn:aws:sts::111111111111:assumed-role/audit/cron".to_owned()),
    }
}

/// Writes one snapshot through the store's writer thread, as a scan does.
fn write_snapshot(store: Store, rows: Vec<Row>) -> (Store, i64) {
    let mut store = store;
    let id = store.begin_snapshot(&meta()).unwrap();
    let (sink, handle) = store.spawn_writer(id, 8);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        for chunk in rows.chunks(500) {
            // A stopped writer says why through join, below.
            if sink.send(chunk.to_vec()).await.is_err() {
                break;
            }
        }
    });
    drop(sink);
    let mut store = handle.join().unwrap();
    store.finish_snapshot(id).unwrap();
    (store, id)
}

/// A database with the old and the new snapshot of the seeded pair.
fn seeded_pair(dir: &Path) -> (PathBuf, i64, i64) {
    let path = dir.join("fleet.db");
    let store = Store::open_for_scan(&path).unwrap();
    let (store, old) = write_snapshot(store, old_fleet());
    let (store, new) = write_snapshot(store, new_fleet());
    drop(store);
    (path, old, new)
}

// ---------------------------------------------------------------- running

fn fleetscan(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetscan"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a report that hangs fails here instead of stalling the suite.
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("fleetscan {args:?} did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn report(db: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "report",
        "--db",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = fleetscan(&args);
    assert!(
        output.status.success(),
        "fleetscan report failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

/// Where screenshots for review go: `target/report-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Chromium, or a failure that says how to get it: a browser test must never
/// pass silently because the browser is missing.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::var_os("FLEETSCAN_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::split_paths(&path)
                .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name))),
        );
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "chromium is not installed, and the report's browser tests need it: run the README's test \
         command, scripts/test, which installs Debian's `chromium` package when it is missing \
         (or set FLEETSCAN_CHROMIUM to a Chromium binary)"
    );
}

/// Loads `page` in headless Chromium, evaluates `steps` (name, JavaScript
/// expression) in order, and returns what the helper observed.
fn browse(page: &Path, steps: &[(&str, &str)], screenshot: Option<&Path>) -> Value {
    let chromium = chromium();
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/cdp.py");
    let spec = json!({
        "chromium": chromium,
        "url": file_url(page),
        "steps": steps.iter().map(|(name, expression)| json!({"name": name, "expression": expression})).collect::<Vec<_>>(),
        "screenshot": screenshot,
    });
    let mut child = Command::new("python3")
        .arg(&helper)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs the DevTools helper");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Chromium helper failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// No console errors or warnings, no exceptions, no CSP refusals, no dialogs,
/// and no request but the page itself.
fn assert_clean_and_offline(observed: &Value, page: &Path) {
    for key in ["console", "exceptions", "log", "dialogs"] {
        assert_eq!(
            observed[key],
            json!([]),
            "{key} must be empty: {observed:#}"
        );
    }
    let requests: Vec<&str> = observed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap())
        .collect();
    assert_eq!(requests, [file_url(page)], "the page must fetch nothing");
}

/// Texts of the visible rows' `column` in a table.
fn visible_column(table: &str, column: usize) -> String {
    format!(
        "Array.from(document.querySelectorAll('#{table} tbody tr')).filter(row => !row.hidden)\
         .map(row => row.cells[{column}].textContent)"
    )
}

// ---------------------------------------------------------------- tests

#[test]
fn seeded_pair_report_loads_in_chromium_clean_offline_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (db, old, new) = seeded_pair(dir.path());
    let page = dir.path().join("report.html");
    let html = report(&db, &page, &[]);
    assert!(html.contains(&format!("snapshot {new}")));
    assert!(
        html.contains(&format!("Against snapshot {old}")),
        "defaults to the previous snapshot"
    );

    let filter_3389 = "(() => { const input = document.querySelector('input[data-filter-for=\"findings-open-ingress-table\"]'); \
        input.value = '3389'; input.dispatchEvent(new Event('input')); return true; })()";
    let sort_buckets = "(() => { const button = document.querySelector('#findings-public-buckets-table th:nth-child(3) button'); \
        button.click(); button.click(); return true; })()";
    let open_rules = visible_column("findings-open-ingress-table", 5);
    let steps = [
        (
            "sections",
            "Array.from(document.querySelectorAll('main > section')).map(s => s.id)",
        ),
        ("open_rules_before", open_rules.as_str()),
        ("filter", filter_3389),
        ("open_rules_after", open_rules.as_str()),
        (
            "count_text",
            "document.querySelector('[data-count-for=\"findings-open-ingress-table\"]').textContent",
        ),
        (
            "imdsv1",
            "document.querySelectorAll('#findings-imdsv1-table tbody tr').length",
        ),
        (
            "volumes",
            &visible_column("findings-unencrypted-volumes-table", 2),
        ),
        (
            "buckets",
            &visible_column("findings-public-buckets-table", 2),
        ),
        ("sort", sort_buckets),
        (
            "buckets_sorted_descending",
            &visible_column("findings-public-buckets-table", 2),
        ),
        (
            "security_reasons",
            &visible_column("changes-security-table", 6),
        ),
        ("other_changes", &visible_column("changes-other-table", 4)),
        (
            "not_comparable",
            &visible_column("changes-not-comparable-table", 0),
        ),
        (
            "problem_cells",
            "Array.from(document.querySelectorAll('td.cell.c-throttled')).map(cell => cell.title)",
        ),
        (
            "trend_dots",
            "document.querySelectorAll('#trend svg circle').length",
        ),
        (
            "trend_charts",
            "document.querySelectorAll('#trend svg').length",
        ),
    ];
    let screenshot = screenshot_dir().join("seeded-pair.png");
    let observed = browse(&page, &steps, Some(&screenshot));
    assert_clean_and_offline(&observed, &page);
    let results = &observed["results"];
    assert_eq!(
        results["sections"],
        json!(["summary", "coverage", "findings", "changes", "trend"])
    );
    assert_eq!(
        results["open_rules_before"],
        json!(["tcp 3389", "tcp 22"]),
        "sg-db before sg-web"
    );
    assert_eq!(
        results["open_rules_after"],
        json!(["tcp 3389"]),
        "the filter narrows the rows"
    );
    assert_eq!(results["count_text"], json!("1 of 2 rows"));
    assert_eq!(results["imdsv1"], json!(1));
    assert_eq!(results["volumes"], json!(["vol-2"]));
    assert_eq!(results["buckets"], json!(["assets"]));
    assert_eq!(results["buckets_sorted_descending"], json!(["assets"]));
    let reasons = results["security_reasons"].to_string();
    for expected in [
        "public IP",
        "IMDS",
        "0.0.0.0/0",
        "unencrypted volume",
        "versioning suspended",
        "public (policy)",
    ] {
        assert!(
            reasons.contains(expected),
            "missing reason {expected:?} in {reasons}"
        );
    }
    let other = results["other_changes"].to_string();
    assert!(
        other.contains("i-old"),
        "a removed instance of a comparable unit: {other}"
    );
    assert!(
        !other.contains("i-sandbox") && !reasons.contains("i-sandbox"),
        "B's throttled unit is not comparable: its instance is not removed"
    );
    assert_eq!(results["not_comparable"], json!([B]));
    let cells = results["problem_cells"].to_string();
    assert!(
        cells.contains("Throttling"),
        "the error shows on hover: {cells}"
    );
    assert_eq!(results["trend_charts"], json!(10));
    assert_eq!(
        results["trend_dots"],
        json!(20),
        "two snapshots, one dot each per chart"
    );
    assert!(
        screenshot.metadata().unwrap().len() > 10_000,
        "a real screenshot"
    );
}

#[test]
fn hostile_values_are_text_nodes_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _old, _new) = seeded_pair(dir.path());
    let page = dir.path().join("report.html");
    let html = report(&db, &page, &[]);
    assert!(
        !html.contains(SCRIPT_PAYLOAD) && !html.contains("<img src=x"),
        "escaped in the source"
    );

    let contains_text = |payload: &str| {
        format!(
            "Array.from(document.querySelectorAll('td, th, span, p, dd')).some(element => \
             Array.from(element.childNodes).some(node => node.nodeType === Node.TEXT_NODE && node.data.includes({})))",
            serde_json::to_string(payload).unwrap()
        )
    };
    let in_title = |payload: &str| {
        format!(
            "Array.from(document.querySelectorAll('[title]')).some(element => element.title.includes({}))",
            serde_json::to_string(payload).unwrap()
        )
    };
    let steps = [
        ("scripts", "document.scripts.length".to_owned()),
        ("images", "document.images.length".to_owned()),
        (
            "svg_with_onload",
            "document.querySelectorAll('[onload], [onerror]').length".to_owned(),
        ),
        ("script_payload_is_text", contains_text(SCRIPT_PAYLOAD)),
        ("img_payload_is_text", contains_text(IMG_PAYLOAD)),
        ("svg_payload_in_hover", in_title(SVG_PAYLOAD)),
    ];
    let steps: Vec<(&str, &str)> = steps
        .iter()
        .map(|(name, expr)| (*name, expr.as_str()))
        .collect();
    let observed = browse(
        &page,
        &steps,
        Some(&screenshot_dir().join("hostile-values.png")),
    );
    assert_clean_and_offline(&observed, &page);
    assert_eq!(
        observed["results"],
        json!({
            "scripts": 1,
            "images": 0,
            "svg_with_onload": 0,
            "script_payload_is_text": true,
            "img_payload_is_text": true,
            "svg_payload_in_hover": true,
        })
    );
}

#[test]
fn snapshots_default_to_newest_against_previous_and_bad_ids_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (db, old, new) = seeded_pair(dir.path());
    let db_arg = db.to_str().unwrap();

    let output = fleetscan(&["report", "--db", db_arg, "--out", "-", &old.to_string()]);
    assert!(output.status.success());
    let html = String::from_utf8(output.stdout).unwrap();
    assert!(html.contains(&format!("snapshot {old}")));
    assert!(
        html.contains("no older usable snapshot"),
        "the first snapshot has nothing to compare with"
    );

    let output = fleetscan(&[
        "report",
        "--db",
        db_arg,
        "--out",
        "-",
        "--against",
        &new.to_string(),
        &old.to_string(),
    ]);
    assert!(output.status.success(), "an explicit OLD may even be newer");
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains(&format!("Against snapshot {new}"))
    );

    let new_text = new.to_string();
    for args in [
        vec!["99"],
        vec!["--against", "99"],
        vec!["--against", new_text.as_str()],
    ] {
        let mut full = vec!["report", "--db", db_arg, "--out", "-"];
        full.extend(args.iter().copied());
        let output = fleetscan(&full);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let page = dir.path().join("private.html");
    report(&db, &page, &[]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(page.metadata().unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn report_of_2000_accounts_stays_small() {
    const ACCOUNTS: usize = 2_000;
    let regions = [
        "ap-northeast-1",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ap-east-1",
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    let mut rows = Vec::new();
    for index in 0..ACCOUNTS {
        let account_id = format!("{:012}", 100_000_000_000 + index);
        let ou = format!("/Root/Unit{:02}", index % 12);
        let status = match index % 50 {
            0 => AccountStatus::AssumeFailed,
            1..=3 => AccountStatus::Partial,
            _ => AccountStatus::Ok,
        };
        rows.push(account(&account_id, &format!("team {index}"), &ou, status));
        if status == AccountStatus::AssumeFailed {
            continue;
        }
        let mut units = ok_units(&account_id, &regions);
        if status == AccountStatus::Partial {
            units.retain(|row| !matches!(row, Row::Unit(unit) if unit.region == "ap-east-1" && unit.collector == "ec2_volumes"));
            units.push(unit(
                &account_id,
                "ap-east-1",
                "ec2_volumes",
                UnitStatus::Denied,
                "not authorized",
            ));
        }
        rows.extend(units);
        let mut v1 = instance(&account_id, &format!("i-{index:08x}"));
        v1.imds_http_tokens = Some("optional".to_owned());
        rows.push(Row::Ec2Instance(v1));
        rows.push(Row::S3Bucket(bucket(
            &account_id,
            &format!("bucket-{index}"),
        )));
        if index.is_multiple_of(10) {
            rows.push(group(&account_id, "sg-web"));
            rows.push(ingress(&account_id, "sg-web", 443, "0.0.0.0/0", "https"));
        }
    }
    let store = Store::open_for_scan(&db).unwrap();
    let (store, _id) = write_snapshot(store, rows);
    drop(store);

    let page = dir.path().join("big.html");
    let started = Instant::now();
    let html = report(&db, &page, &[]);
    eprintln!(
        "report of {ACCOUNTS} accounts: {} bytes in {:?}",
        html.len(),
        started.elapsed()
    );
    assert!(html.len() < 4_000_000, "the page is {} bytes", html.len());
    // Every account with a problem has its own row (1 in 50 could not be
    // entered, 3 in 50 were denied a unit); the clean ones are folded.
    assert_eq!(html.matches("class=\"acct-status\"").count(), 160);
    assert_eq!(
        html.matches("accounts read completely in every region")
            .count(),
        12
    );

    // Readable in a browser: the map filters down to one account.
    let filter = "(() => { const input = document.querySelector('input[data-filter-for=\"coverage-map\"]'); \
        input.value = '100000000001'; input.dispatchEvent(new Event('input')); return true; })()";
    let visible_rows = "Array.from(document.querySelectorAll('#coverage-map tr[data-filter-row]')).filter(row => \
        !row.hidden && !row.closest('[data-filter-group]').hidden).map(row => row.cells[0].firstChild.data.trim())";
    let steps = [
        (
            "rows_before",
            "document.querySelectorAll('#coverage-map tr[data-filter-row]').length",
        ),
        ("filter", filter),
        ("rows_after", visible_rows),
    ];
    let observed = browse(
        &page,
        &steps,
        Some(&screenshot_dir().join("fleet-2000-accounts.png")),
    );
    assert_clean_and_offline(&observed, &page);
    assert_eq!(observed["results"]["rows_before"], json!(160));
    assert_eq!(observed["results"]["rows_after"], json!(["100000000001"]));
}

/// Not a test of the report: keeps the helper's expectations of the seeded
/// rows honest (the counts the browser tests rely on).
#[test]
fn seeded_pair_has_the_expected_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _old, new) = seeded_pair(dir.path());
    let store = Store::open_existing(&db).unwrap();
    let counts = store.finding_counts(new).unwrap();
    let got: BTreeMap<&str, u64> = [
        ("public_buckets", counts.public_buckets),
        ("open_ingress_rules", counts.open_ingress_rules),
        ("imdsv1_instances", counts.imdsv1_instances),
        ("unencrypted_volumes", counts.unencrypted_volumes),
    ]
    .into();
    assert_eq!(
        got,
        [
            ("public_buckets", 1),
            ("open_ingress_rules", 2),
            ("imdsv1_instances", 1),
            ("unencrypted_volumes", 1),
        ]
        .into()
    );
}
