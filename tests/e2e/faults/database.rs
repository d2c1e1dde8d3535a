//! The database under stress: `kill -9` at random moments, a full disk, two
//! scans at once, and configuration or database files that cannot be used.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleetscan_fakeaws::{Count, Faults, FleetSpec, Latency};
use fleetscan_tests::db::Db;

use crate::common::{
    Harness, Scan, assert_complete_and_true, outputs, scan_args, small_spec, snapshot_fingerprint,
};

/// A tiny deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing run can be replayed with `FLEETSCAN_KILL_SEED`.
struct Dice(u64);

impl Dice {
    fn from_env_or_clock() -> Dice {
        let seed = std::env::var("FLEETSCAN_KILL_SEED")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(7, |elapsed| elapsed.as_nanos() as u64)
            });
        eprintln!("kill moments seeded with FLEETSCAN_KILL_SEED={seed}");
        Dice(seed | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn kill_9_at_random_moments_leaves_earlier_snapshots_intact_and_the_dead_run_aborted() {
    // Enough rows that the writer commits many batches while the scan runs,
    // with a little latency so the scan lasts a couple of seconds.
    let spec = FleetSpec {
        instances_per_region: Count::Between { min: 30, max: 60 },
        volumes_per_region: Count::Between { min: 20, max: 40 },
        ..small_spec(31)
    };
    let faults = Faults {
        latency: Some(Latency::UniformMs { min: 1, max: 8 }),
        ..Faults::none()
    };
    let harness = Harness::new(spec, faults);
    let accounts = harness.scanned_accounts();
    let config = harness.config();
    let config_path = harness.write_config("kill", &config);

    let first = harness.scan("first", &config);
    let first_id = first.expect(0, "first scan");
    let full_run = first.elapsed;
    let fingerprint = snapshot_fingerprint(&harness.db(), first_id);

    const KILLS: usize = 12;
    let mut dice = Dice::from_env_or_clock();
    let mut moments = Vec::new();
    for round in 0..KILLS {
        // Half spread over the whole run, half in its last fifth, where the
        // final commits and the snapshot's closing happen.
        let fraction = if round % 2 == 0 {
            dice.unit() * 1.05
        } else {
            0.8 + dice.unit() * 0.25
        };
        let moment = full_run.mul_f64(fraction);
        moments.push(moment);
        let running = harness.fleetscan.spawn(scan_args(&config_path));
        std::thread::sleep(moment);
        let output = running.kill();
        let db = harness.db();
        assert_eq!(
            db.integrity_check(),
            "ok",
            "after kill {round} at {moment:?}\n{}",
            outputs(&output)
        );
        assert_eq!(
            snapshot_fingerprint(&db, first_id),
            fingerprint,
            "kill {round} at {moment:?} changed snapshot {first_id}"
        );
        // Every other snapshot is either finished or left running by the
        // dead process; nothing in between.
        for snapshot in db.snapshots() {
            assert!(
                ["running", "aborted", "complete"].contains(&snapshot.status.as_str()),
                "{snapshot:?}"
            );
        }
    }
    eprintln!("killed at {moments:?} of a {full_run:?} run");

    // The next run marks every dead one aborted and scans normally.
    let last = harness.scan("after", &config);
    let last_id = last.expect(0, "scan after the kills");
    let db = harness.db();
    assert_eq!(db.integrity_check(), "ok");
    assert_eq!(snapshot_fingerprint(&db, first_id), fingerprint);
    let snapshots = db.snapshots();
    assert!(
        snapshots.iter().any(|s| s.status == "aborted"),
        "no kill left a running snapshot: {snapshots:?}"
    );
    for snapshot in &snapshots {
        if snapshot.id != first_id && snapshot.id != last_id {
            assert!(
                snapshot.status == "aborted" || snapshot.status == "complete",
                "{snapshot:?}"
            );
        }
        if snapshot.status == "complete" {
            assert_complete_and_true(&db, snapshot.id, harness.fleet(), &accounts, None);
        }
    }
    // Listing agrees.
    let listing = harness
        .fleetscan
        .run([
            "snapshots",
            "--db",
            &harness.db_path().display().to_string(),
            "--format",
            "json",
        ])
        .expect_code(0, "snapshots")
        .json();
    let aborted_listed = listing
        .as_array()
        .map(|rows| rows.iter().filter(|row| row["status"] == "aborted").count())
        .unwrap_or_default();
    assert_eq!(
        aborted_listed,
        snapshots.iter().filter(|s| s.status == "aborted").count(),
        "{listing}"
    );
}

/// How the disk is made to fill up.
enum FullDisk {
    /// A small tmpfs in a private mount namespace (`unshare`): a real ENOSPC.
    Tmpfs { root_needed: bool },
    /// No namespaces here: a file size limit (`ulimit -f`) stands in.
    FileSizeLimit,
}

/// SIGTERM mid-scan (what `systemctl stop` or a cron timeout sends): the scan
/// stops within seconds, exits 1, marks its own snapshot `failed` with the
/// reason, and leaves earlier snapshots untouched. Regression cover for units
/// running as tasks: the stopped ones must be gone before the writer closes.
#[test]
fn sigterm_mid_scan_marks_the_snapshot_failed_and_keeps_earlier_ones() {
    let spec = FleetSpec {
        instances_per_region: Count::Between { min: 30, max: 60 },
        ..small_spec(37)
    };
    let faults = Faults {
        latency: Some(Latency::UniformMs { min: 20, max: 40 }),
        ..Faults::none()
    };
    let harness = Harness::new(spec, faults);
    let config = harness.config();
    let config_path = harness.write_config("term", &config);
    let first = harness.scan("first", &config);
    let first_id = first.expect(0, "first scan");
    let fingerprint = snapshot_fingerprint(&harness.db(), first_id);

    let running = harness.fleetscan.spawn(scan_args(&config_path));
    // Signal once the second snapshot is being written (before that, the
    // process is still planning and has no snapshot to mark), with units in
    // flight.
    let waiting = Instant::now();
    while !harness
        .db()
        .snapshots()
        .iter()
        .any(|s| s.id != first_id && s.status == "running")
    {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the second scan never started writing"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(first.elapsed / 4);
    let output = running.terminate();
    output.expect_code(1, "scan interrupted by SIGTERM");
    assert!(
        output.stderr.contains("interrupted"),
        "{}",
        outputs(&output)
    );

    let db = harness.db();
    assert_eq!(db.integrity_check(), "ok");
    assert_eq!(snapshot_fingerprint(&db, first_id), fingerprint);
    let interrupted: Vec<_> = db
        .snapshots()
        .into_iter()
        .filter(|s| s.id != first_id)
        .collect();
    assert_eq!(interrupted.len(), 1, "{interrupted:?}");
    assert_eq!(interrupted[0].status, "failed", "{interrupted:?}");
    assert_eq!(
        db.strings(
            "SELECT error FROM snapshots WHERE id = ?1",
            [interrupted[0].id]
        ),
        vec!["interrupted by a signal".to_string()]
    );
}

fn full_disk_method() -> FullDisk {
    let works = |args: &[&str]| {
        Command::new("unshare")
            .args(args)
            .args(["sh", "-c", "exit 0"])
            .status()
            .is_ok_and(|status| status.success())
    };
    if works(&["-r", "-m"]) {
        FullDisk::Tmpfs { root_needed: false }
    } else if works(&["-m"]) {
        FullDisk::Tmpfs { root_needed: true }
    } else {
        FullDisk::FileSizeLimit
    }
}

#[test]
fn a_full_disk_is_a_clear_error_with_exit_1_and_earlier_snapshots_intact() {
    // A first, small snapshot on the ordinary disk.
    let small = Harness::new(small_spec(32), Faults::none());
    let first_id = small.scan("first", &small.config()).expect(0, "first scan");
    let fingerprint = snapshot_fingerprint(&small.db(), first_id);
    let db_size = std::fs::metadata(small.db_path())
        .map(|m| m.len())
        .unwrap_or_else(|err| panic!("{err}"));

    // A second fleet with far more rows than the room left.
    let big = Harness::new(
        FleetSpec {
            accounts: 6,
            instances_per_region: Count::Exactly(120),
            volumes_per_region: Count::Exactly(80),
            ..small_spec(33)
        },
        Faults::none(),
    );
    let work = small.dir.path();
    let full = work.join("full");
    let after = work.join("after");
    for dir in [&full, &after] {
        std::fs::create_dir_all(dir).unwrap_or_else(|err| panic!("{err}"));
    }
    let mut config = big.config();
    config.database = full.join("fleet.db");
    let config_path = small.write_config("big", &config);
    let headroom: u64 = 192 * 1024;
    let method = full_disk_method();
    let script = match method {
        FullDisk::Tmpfs { .. } => format!(
            "mount -t tmpfs -o size={size} fleetscan-full \"$FULL\" || exit 97; \
             cp \"$SOURCE\" \"$FULL/fleet.db\" || exit 98; \
             \"$@\"; code=$?; \
             cp \"$FULL\"/fleet.db* \"$AFTER/\"; exit $code",
            size = (db_size + headroom).div_ceil(4096) * 4096,
        ),
        FullDisk::FileSizeLimit => format!(
            "cp \"$SOURCE\" \"$FULL/fleet.db\" || exit 98; \
             ulimit -f {blocks}; trap '' XFSZ; \
             \"$@\"; code=$?; \
             cp \"$FULL\"/fleet.db* \"$AFTER/\"; exit $code",
            // POSIX sh counts 512-byte blocks.
            blocks = (db_size + headroom) / 512,
        ),
    };
    let command = small.fleetscan.command(scan_args(&config_path));
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = match method {
        FullDisk::Tmpfs { root_needed: false } => {
            let mut c = Command::new("unshare");
            c.args(["-r", "-m", "sh", "-c", &script, "sh"]);
            c
        }
        FullDisk::Tmpfs { root_needed: true } => {
            let mut c = Command::new("unshare");
            c.args(["-m", "sh", "-c", &script, "sh"]);
            c
        }
        FullDisk::FileSizeLimit => {
            let mut c = Command::new("sh");
            c.args(["-c", &script, "sh"]);
            c
        }
    };
    wrapped.arg(program).args(args);
    // The same clean environment the runner gives fleetscan.
    wrapped.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    wrapped
        .env("FULL", &full)
        .env("AFTER", &after)
        .env("SOURCE", small.db_path())
        .current_dir(work);
    let started = Instant::now();
    let output = wrapped
        .output()
        .unwrap_or_else(|err| panic!("run the full-disk scan: {err}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the full-disk scan took {:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "full-disk scan: {stderr}");
    let db_name = full.join("fleet.db").display().to_string();
    assert!(
        stderr.contains(&db_name),
        "the error does not name the database: {stderr}"
    );
    assert!(
        stderr.contains("earlier snapshots are untouched")
            || stderr.contains("earlier snapshots are intact"),
        "{stderr}"
    );
    if matches!(method, FullDisk::Tmpfs { .. }) {
        assert!(
            stderr.contains("is full"),
            "not reported as disk full: {stderr}"
        );
    } else {
        eprintln!("note: no mount namespace here; a file size limit stood in for the full disk");
    }

    let db = Db::open(&after.join("fleet.db"));
    assert_eq!(db.integrity_check(), "ok");
    assert_eq!(snapshot_fingerprint(&db, first_id), fingerprint);
    for snapshot in db.snapshots() {
        if snapshot.id != first_id {
            assert!(
                !["complete", "partial"].contains(&snapshot.status.as_str()),
                "the failed scan left a usable snapshot: {snapshot:?}"
            );
        }
    }
}

#[test]
fn a_second_scan_of_the_same_database_refuses_and_the_first_is_unharmed() {
    let harness = Harness::new(
        small_spec(34),
        Faults {
            latency: Some(Latency::FixedMs(40)),
            ..Faults::none()
        },
    );
    let accounts = harness.scanned_accounts();
    let config = harness.config();
    let config_path = harness.write_config("first", &config);
    let first = harness.fleetscan.spawn(scan_args(&config_path));
    // Wait until the first scan holds the database (its snapshot is running).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running = harness.db_path().exists()
            && Db::open(&harness.db_path())
                .connection()
                .query_row(
                    "SELECT count(*) FROM snapshots WHERE status = 'running'",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .is_ok_and(|count| count == 1);
        if running {
            break;
        }
        assert!(Instant::now() < deadline, "the first scan never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = harness.scan("second", &config);
    second.output.expect_code(1, "second scan");
    let stderr = &second.output.stderr;
    assert!(
        stderr.contains("in use by another fleetscan process")
            && stderr.contains(&harness.db_path().display().to_string()),
        "{}",
        outputs(&second.output)
    );

    let output = first.finish(Duration::from_secs(120));
    let first = Scan::new(output, Duration::ZERO);
    let first_id = first.expect(0, "first scan");
    let db = harness.db();
    assert_complete_and_true(&db, first_id, harness.fleet(), &accounts, None);
    assert_eq!(db.snapshots().len(), 1);
    // The second stopped at the lock, before its first AWS call: only the
    // first scan ever asked who it is.
    assert_eq!(
        harness
            .fake
            .stats()
            .count(fleetscan_fakeaws::Operation::GetCallerIdentity),
        1
    );
}

/// One configuration or database problem and what must be said about it.
struct BadInput {
    what: &'static str,
    yaml: String,
    /// `--db` instead of the config's database.
    db: Option<std::path::PathBuf>,
    code: i32,
    /// Every one of these must be in stderr.
    mentions: Vec<String>,
}

#[test]
fn bad_configuration_and_database_files_fail_before_any_aws_call() {
    let harness = Harness::new(small_spec(35), Faults::none());
    let dir = harness.dir.path();
    let good = harness.config().to_yaml();
    let file = |name: &str| dir.join(format!("{name}.yaml")).display().to_string();

    let not_sqlite = dir.join("notes.db");
    std::fs::write(&not_sqlite, "this is a text file, not SQLite\n".repeat(200))
        .unwrap_or_else(|err| panic!("{err}"));
    let directory = dir.join("a-directory.db");
    std::fs::create_dir_all(&directory).unwrap_or_else(|err| panic!("{err}"));
    let unreadable = dir.join("unreadable.db");
    std::fs::write(&unreadable, b"").unwrap_or_else(|err| panic!("{err}"));
    set_mode(&unreadable, 0o000);
    // root reads anything: the case only means something for other users.
    let unreadable_counts = std::fs::read(&unreadable).is_err();

    let mut cases = vec![
        BadInput {
            what: "malformed YAML",
            yaml: format!("{good}role: [unclosed\n"),
            db: None,
            code: 2,
            mentions: vec![file("malformed YAML")],
        },
        BadInput {
            what: "unknown key",
            yaml: good.replace("role:\n", "role:\n  nmae: Typo\n"),
            db: None,
            code: 2,
            mentions: vec![file("unknown key"), "nmae".into()],
        },
        BadInput {
            what: "wrong type",
            yaml: good.replace("  accounts: 4\n", "  accounts: many\n"),
            db: None,
            code: 2,
            // serde's message ("invalid u64") names the type; the key is
            // named with the block it is in.
            mentions: vec![
                file("wrong type"),
                "u64".into(),
                "`concurrency.accounts`".into(),
            ],
        },
        BadInput {
            what: "bad account id",
            yaml: format!("{good}exclude_accounts: [\"12345\"]\n"),
            db: None,
            code: 2,
            mentions: vec![
                file("bad account id"),
                "exclude_accounts[0]".into(),
                "12345".into(),
            ],
        },
        BadInput {
            what: "bad region name",
            yaml: good.replace(
                "regions:\n  include: [\"*\"]\n",
                "regions:\n  include: [\"us-east-1\", \"Mars-north-1\"]\n",
            ),
            db: None,
            code: 2,
            mentions: vec![
                file("bad region name"),
                "regions.include[1]".into(),
                "Mars-north-1".into(),
            ],
        },
        BadInput {
            what: "not SQLite",
            yaml: good.clone(),
            db: Some(not_sqlite.clone()),
            code: 1,
            mentions: vec![
                not_sqlite.display().to_string(),
                "not a fleetscan SQLite database".into(),
            ],
        },
        BadInput {
            what: "a directory",
            yaml: good.clone(),
            db: Some(directory.clone()),
            code: 1,
            mentions: vec![directory.display().to_string()],
        },
    ];
    if unreadable_counts {
        cases.push(BadInput {
            what: "unreadable",
            yaml: good.clone(),
            db: Some(unreadable.clone()),
            code: 1,
            mentions: vec![unreadable.display().to_string()],
        });
    } else {
        eprintln!("note: running as root, an unreadable file cannot be made; case skipped");
    }

    for case in &cases {
        let config = dir.join(format!("{}.yaml", case.what));
        std::fs::write(&config, &case.yaml).unwrap_or_else(|err| panic!("{err}"));
        let mut args = scan_args(&config);
        if let Some(db) = &case.db {
            args.push("--db".into());
            args.push(db.display().to_string());
        }
        let output = harness.fleetscan.run(&args);
        assert_eq!(
            output.code,
            Some(case.code),
            "{}: wrong exit code\n{}",
            case.what,
            outputs(&output)
        );
        for mention in &case.mentions {
            assert!(
                output.stderr.contains(mention.as_str()),
                "{}: stderr does not mention {mention:?}\n{}",
                case.what,
                outputs(&output)
            );
        }
        // A configuration error also names the line.
        if case.code == 2 {
            let line_named = output
                .stderr
                .split(&format!("{}.yaml:", case.what))
                .nth(1)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            assert!(
                line_named,
                "{}: no line number\n{}",
                case.what,
                outputs(&output)
            );
        }
        assert_eq!(
            harness.fake.stats().total_calls,
            0,
            "{}: AWS was called",
            case.what
        );
    }
    // The non-SQLite file was left as it was.
    let text = std::fs::read_to_string(&not_sqlite).unwrap_or_default();
    assert!(text.starts_with("this is a text file"));
    set_mode(&unreadable, 0o600);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|err| panic!("chmod {}: {err}", path.display()));
}
