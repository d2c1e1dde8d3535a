//! Files a scheduled scan leaves for whoever watches it: the run summary as
//! JSON (`--summary-json`) and a Prometheus textfile for node_exporter
//! (`--prometheus`). Both are written whatever the outcome, and atomically
//! (a temporary file in the same directory, then a rename), so a reader never
//! sees half a file.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use fleetscan_scan::scanner::FailedAccount;
use fleetscan_store::rows::ScanUnitRow;
use fleetscan_store::{SnapshotStatus, SnapshotSummary, StoreError};
use serde::Serialize;

use crate::exit::{self, ExitStatus};

/// The monitoring outputs of `scan`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Write the run summary (snapshot id, status, counts, failed units,
    /// duration) as JSON to FILE, atomically, whatever the outcome.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write Prometheus metrics to FILE (a `.prom` file in node_exporter's
    /// textfile directory), atomically, whatever the outcome.
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// What a run learned about itself, filled in as it goes.
#[derive(Debug, Default)]
pub struct RunRecord {
    pub database: Option<PathBuf>,
    pub snapshot_id: Option<i64>,
    pub summary: Option<SnapshotSummary>,
    /// Accounts the plan left out (suspended, excluded, management).
    pub left_out_by_plan: usize,
    /// Accounts of which nothing was read (role not assumed, deadline).
    pub failed_accounts: Vec<FailedAccount>,
}

/// The shape of `--summary-json` (documented in the README).
#[derive(Debug, Serialize)]
pub struct RunSummary<'a> {
    pub fleetscan_version: &'static str,
    /// `complete`, `partial` or `failed`.
    pub status: &'static str,
    pub exit_code: u8,
    pub snapshot_id: Option<i64>,
    pub database: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    pub accounts: AccountCounts,
    /// Resource table → rows stored by this run.
    pub resources: BTreeMap<String, u64>,
    /// Units that ended neither `ok` nor `region_disabled`.
    pub failed_units: &'a [ScanUnitRow],
    /// Accounts of which nothing was read: no unit of theirs is in
    /// `failed_units` (an account with some failed units is there instead).
    pub failed_accounts: &'a [FailedAccount],
    /// Why the run failed, when it did.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountCounts {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
    pub left_out_by_plan: usize,
}

fn exit_code(status: ExitStatus) -> u8 {
    match status {
        ExitStatus::Success => 0,
        ExitStatus::Failure => 1,
        ExitStatus::Usage => 2,
        ExitStatus::Partial => 3,
        ExitStatus::Differences => 4,
    }
}

/// Whether the run stopped because another scan holds the database: that
/// scan owns the output files, so this one leaves them alone.
fn is_lock_conflict(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<StoreError>(),
            Some(StoreError::Locked { .. })
        )
    })
}

/// Whether the run stopped because an output path is the database or
/// another output: writing it is what must not happen.
fn is_output_conflict(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.is::<crate::paths::OutputConflict>())
}

fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Writes the requested outputs for a finished run.
pub fn write(
    args: &OutputArgs,
    started: SystemTime,
    elapsed: Duration,
    record: &RunRecord,
    result: &anyhow::Result<ExitStatus>,
) -> anyhow::Result<()> {
    if args.summary_json.is_none() && args.prometheus.is_none() {
        return Ok(());
    }
    if let Err(err) = result {
        if is_lock_conflict(err) {
            tracing::info!("another scan holds the database: leaving its summary files alone");
            return Ok(());
        }
        if is_output_conflict(err) {
            return Ok(());
        }
    }
    let exit_status = match result {
        Ok(status) => *status,
        Err(err) => exit::classify(err),
    };
    let status = match (&record.summary, result) {
        (Some(summary), Ok(_)) => match summary.status {
            SnapshotStatus::Complete => "complete",
            SnapshotStatus::Partial => "partial",
            _ => "failed",
        },
        _ => "failed",
    };
    let no_units: &[ScanUnitRow] = &[];
    let summary = record.summary.as_ref();
    let run = RunSummary {
        fleetscan_version: env!("CARGO_PKG_VERSION"),
        status,
        exit_code: exit_code(exit_status),
        snapshot_id: record.snapshot_id,
        database: record.database.as_ref().map(|p| p.display().to_string()),
        started_at: rfc3339(started),
        finished_at: rfc3339(started + elapsed),
        duration_seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        accounts: AccountCounts {
            total: summary.map_or(0, |s| s.accounts_total),
            ok: summary.map_or(0, |s| s.accounts_ok),
            failed: summary.map_or(0, |s| s.accounts_failed),
            left_out_by_plan: record.left_out_by_plan,
        },
        resources: summary.map(|s| s.resources.clone()).unwrap_or_default(),
        failed_units: summary.map_or(no_units, |s| s.failed_units.as_slice()),
        failed_accounts: &record.failed_accounts,
        error: result.as_ref().err().map(|err| format!("{err:#}")),
    };
    if let Some(path) = &args.summary_json {
        let mut text = serde_json::to_string_pretty(&run)?;
        text.push('\n');
        write_atomically(path, text.as_bytes())
            .with_context(|| format!("cannot write the summary {}", path.display()))?;
    }
    if let Some(path) = &args.prometheus {
        let previous = std::fs::read_to_string(path).unwrap_or_default();
        let text = prometheus_text(&run, started + elapsed, &previous);
        write_atomically(path, text.as_bytes())
            .with_context(|| format!("cannot write the metrics {}", path.display()))?;
    }
    Ok(())
}

const LAST_SUCCESS: &str = "fleetscan_last_success_timestamp_seconds";
const LAST_COMPLETE: &str = "fleetscan_last_complete_timestamp_seconds";

/// The value of an unlabelled metric in a textfile we wrote before.
fn previous_value(previous: &str, metric: &str) -> Option<f64> {
    previous.lines().find_map(|line| {
        let value = line.strip_prefix(metric)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Prometheus text exposition format. The success timestamps carry over from
/// the previous file when this run did not succeed, so "no success for a day"
/// alerts keep working across failures.
pub fn prometheus_text(run: &RunSummary<'_>, finished: SystemTime, previous: &str) -> String {
    let now = finished
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, String)]| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let plain = |value: String| vec![(String::new(), value)];
    gauge(
        "fleetscan_last_run_timestamp_seconds",
        "When the last scan run ended (Unix time), whatever its outcome.",
        &plain(now.to_string()),
    );
    gauge(
        "fleetscan_last_run_status",
        "The last run's status: 1 for the one it had (complete, partial, failed).",
        &["complete", "partial", "failed"]
            .iter()
            .map(|s| {
                (
                    format!("{{status=\"{s}\"}}"),
                    u8::from(*s == run.status).to_string(),
                )
            })
            .collect::<Vec<_>>(),
    );
    gauge(
        "fleetscan_last_run_exit_code",
        "The last run's exit code (0 complete, 3 partial, 1 failure, 2 configuration error).",
        &plain(run.exit_code.to_string()),
    );
    gauge(
        "fleetscan_last_run_duration_seconds",
        "How long the last run took.",
        &plain(run.duration_seconds.to_string()),
    );
    if let Some(snapshot_id) = run.snapshot_id {
        gauge(
            "fleetscan_last_run_snapshot_id",
            "The snapshot the last run wrote.",
            &plain(snapshot_id.to_string()),
        );
    }
    gauge(
        "fleetscan_last_run_accounts_total",
        "Accounts the last run scanned.",
        &plain(run.accounts.total.to_string()),
    );
    gauge(
        "fleetscan_last_run_accounts_failed",
        "Accounts of the last run that were not fully scanned (role not assumed, or some units failed).",
        &plain(run.accounts.failed.to_string()),
    );
    gauge(
        "fleetscan_last_run_failed_units",
        "(account, region, collector) units of the last run that did not complete.",
        &plain(run.failed_units.len().to_string()),
    );
    gauge(
        "fleetscan_last_run_failed_accounts",
        "Accounts of the last run of which nothing was read (role not assumed, or the scan deadline came first).",
        &plain(run.failed_accounts.len().to_string()),
    );
    gauge(
        "fleetscan_last_run_resources",
        "Rows the last run stored, by resource table.",
        &run.resources
            .iter()
            .map(|(table, count)| (format!("{{type=\"{}\"}}", label(table)), count.to_string()))
            .collect::<Vec<_>>(),
    );
    let succeeded = matches!(run.status, "complete" | "partial");
    let carried = |metric: &str, now_if: bool| {
        if now_if {
            Some(now.to_string())
        } else {
            previous_value(previous, metric).map(|v| v.to_string())
        }
    };
    if let Some(value) = carried(LAST_SUCCESS, succeeded) {
        gauge(
            LAST_SUCCESS,
            "When the last run that stored a usable snapshot (complete or partial) ended.",
            &plain(value),
        );
    }
    if let Some(value) = carried(LAST_COMPLETE, run.status == "complete") {
        gauge(
            LAST_COMPLETE,
            "When the last run whose snapshot is complete ended.",
            &plain(value),
        );
    }
    text
}

/// Escapes a label value (backslash, quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and
/// renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleetscan-output".into());
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(status: &'static str) -> RunSummary<'static> {
        RunSummary {
            fleetscan_version: "0.1.0",
            status,
            exit_code: 0,
            snapshot_id: Some(7),
            database: None,
            started_at: String::new(),
            finished_at: String::new(),
            duration_seconds: 1.5,
            accounts: AccountCounts {
                total: 2,
                ok: 1,
                failed: 1,
                left_out_by_plan: 0,
            },
            resources: [("ec2_instances".to_string(), 3)].into(),
            failed_units: &[],
            failed_accounts: &[],
            error: None,
        }
    }

    #[test]
    fn success_timestamps_carry_over_a_failed_run() {
        let first = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let text = prometheus_text(&run("complete"), first, "");
        assert!(text.contains("\nfleetscan_last_complete_timestamp_seconds 1000\n"));
        assert!(text.contains("fleetscan_last_run_resources{type=\"ec2_instances\"} 3\n"));
        assert!(text.contains("fleetscan_last_run_status{status=\"complete\"} 1\n"));

        let second = SystemTime::UNIX_EPOCH + Duration::from_secs(2000);
        let text = prometheus_text(&run("failed"), second, &text);
        assert!(text.contains("\nfleetscan_last_run_timestamp_seconds 2000\n"));
        assert!(text.contains("\nfleetscan_last_success_timestamp_seconds 1000\n"));
        assert!(text.contains("\nfleetscan_last_complete_timestamp_seconds 1000\n"));
        assert!(text.contains("fleetscan_last_run_status{status=\"failed\"} 1\n"));

        let third = SystemTime::UNIX_EPOCH + Duration::from_secs(3000);
        let text = prometheus_text(&run("partial"), third, &text);
        assert!(text.contains("\nfleetscan_last_success_timestamp_seconds 3000\n"));
        assert!(text.contains("\nfleetscan_last_complete_timestamp_seconds 1000\n"));
    }

    #[test]
    fn every_sample_line_has_a_name_and_a_number() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        for line in prometheus_text(&run("partial"), at, "").lines() {
            if line.starts_with('#') {
                continue;
            }
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("fleetscan_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn atomic_writes_replace_the_whole_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomically(&path, b"first, longer content").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
