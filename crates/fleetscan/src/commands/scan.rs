//! `fleetscan scan`: plan, scan every account, write one snapshot, print its
//! summary. Exit 0 complete, 3 partial, 1 failed, 2 configuration error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use fleetscan_scan::{planner, scanner};
use fleetscan_store::{SnapshotMeta, SnapshotStatus, SnapshotSummary, Store};
use serde::Serialize;

use super::ListFormat;
use super::reporters::{ScanReporter, wants_bar};
use crate::GlobalArgs;
use crate::exit::ExitStatus;
use crate::interrupt::Interrupt;
use crate::render::{Table, or_dash};

/// Rows in flight between the scanner and the writer thread (batches of up to 256).
const WRITER_CHANNEL: usize = 64;

/// How long the end of a scan waits for stopped units to let go.
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Configuration file (default: ./fleetscan.yaml if present, else built-in defaults).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Database file (default: the configuration's `database`, ./fleetscan.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Format of the summary printed at the end.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    #[command(flatten)]
    pub outputs: crate::outputs::OutputArgs,
}

#[derive(Serialize)]
struct ScanOutput<'a> {
    snapshot_id: i64,
    #[serde(flatten)]
    summary: &'a SnapshotSummary,
    /// Accounts of which nothing was read (their units are not in `failed_units`).
    failed_accounts: &'a [scanner::FailedAccount],
    elapsed_seconds: f64,
    skipped_accounts: &'a [planner::SkippedAccount],
    assume_role_calls: u64,
}

pub fn run(args: ScanArgs, global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let started_at = std::time::SystemTime::now();
    let started = Instant::now();
    let outputs = args.outputs.clone();
    let mut record = crate::outputs::RunRecord::default();
    let result = scan(args, global, started, &mut record);
    // The snapshot's outcome decides the exit code; a summary file that cannot
    // be written is reported, and a monitor watching it will see it is stale.
    if let Err(err) =
        crate::outputs::write(&outputs, started_at, started.elapsed(), &record, &result)
    {
        tracing::error!("{err:#}");
    }
    result
}

fn scan(
    args: ScanArgs,
    global: &GlobalArgs,
    started: Instant,
    record: &mut crate::outputs::RunRecord,
) -> anyhow::Result<ExitStatus> {
    let config = super::load_config(args.config.as_deref())?;
    let db_path = super::database_path(args.db.as_deref(), &config);
    let outputs: Vec<(&str, &std::path::Path)> = [
        ("--summary-json", args.outputs.summary_json.as_deref()),
        ("--prometheus", args.outputs.prometheus.as_deref()),
    ]
    .into_iter()
    .filter_map(|(flag, path)| Some((flag, path?)))
    .collect();
    crate::paths::check_outputs(&db_path, &outputs)?;
    record.database = Some(db_path.clone());
    let runtime = super::runtime()?;
    // From here on Ctrl-C and SIGTERM end the run through this function
    // (exit 1, the summary written), planning included.
    let interrupt = Interrupt::listen(&runtime).context("cannot listen for Ctrl-C and SIGTERM")?;
    // The database is opened (and locked) before any AWS call: a second scan,
    // an unreadable file or a file that is not SQLite stop here.
    let mut store = Store::open_for_scan(&db_path)?;

    // Who we are and what to scan are asked at the same time (each is a
    // round trip or more); a credentials failure is still reported first.
    let planned = runtime.block_on(async {
        let planning = async {
            let base = fleetscan_scan::session::load_base(&config).await;
            let (caller_arn, plan) = tokio::join!(
                fleetscan_scan::caller_arn(&base),
                planner::plan(&config, &base)
            );
            (base, caller_arn, plan)
        };
        tokio::select! {
            // A signal that came before planning started wins.
            biased;
            () = interrupt.wait() => None,
            planned = planning => Some(planned),
        }
    });
    let Some((base, caller_arn, plan)) = planned else {
        return Err(interrupted_before_snapshot());
    };
    let caller_arn = caller_arn.map_err(|failure| {
        anyhow!("the AWS credentials cannot be used (sts:GetCallerIdentity): {failure}")
    })?;
    tracing::info!(caller = %caller_arn, "planned");
    let plan = match plan {
        Ok(plan) => plan,
        Err(planner::PlanError::Config(err)) => return Err(err.into()),
        Err(err) => return Err(err).context("could not list the organization's accounts"),
    };
    for skipped in &plan.skipped {
        tracing::info!(account = %skipped.account_id, "not scanned: {}", skipped.reason);
    }
    if plan.targets.is_empty() {
        return Err(anyhow!(
            "the plan has no account to scan ({} left out; run `fleetscan plan` to see why)",
            plan.skipped.len()
        ));
    }

    if interrupt.received() {
        return Err(interrupted_before_snapshot());
    }
    let meta = SnapshotMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        config_digest: config.digest.clone(),
        caller_arn: Some(caller_arn),
    };
    let snapshot_id = store.begin_snapshot(&meta)?;
    record.snapshot_id = Some(snapshot_id);
    record.left_out_by_plan = plan.skipped.len();
    tracing::info!(snapshot = snapshot_id, accounts = plan.targets.len(), db = %db_path.display(), "scan started");
    let (sink, writer) = store.spawn_writer(snapshot_id, WRITER_CHANNEL);
    let reporter = Arc::new(ScanReporter::new(wants_bar(global.no_progress)));

    let outcome = runtime.block_on(async {
        let scan = scanner::scan(
            Arc::new(config.clone()),
            base.clone(),
            &plan.targets,
            snapshot_id,
            sink,
            reporter.clone(),
        );
        tokio::select! {
            result = scan => Some(result),
            () = interrupt.wait() => None,
        }
    });
    // Units run as tasks: when the scan stopped early (a signal, a failed
    // writer) the ones still running were told to stop, and shutting the
    // runtime down waits until they have (a task blocked in DNS resolution
    // gets a few seconds). After that no unit reports progress or sends a row.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    reporter.finish();
    // Every sender is gone now: the writer commits what it has and hands the connection back.
    let joined = writer.join();

    let report = match (outcome, joined) {
        (Some(Ok(report)), Ok(joined)) => {
            store = joined;
            report
        }
        (None, joined) => {
            if let Ok(mut store) = joined {
                store.fail_snapshot(snapshot_id, "interrupted by a signal")?;
            }
            return Err(anyhow!(
                "interrupted: snapshot {snapshot_id} is marked failed; earlier snapshots are untouched"
            ));
        }
        (Some(result), joined) => {
            // The writer failed (disk full, I/O error): the scan error and the
            // writer's own error say the same; prefer the writer's, it has the cause.
            let err = match joined {
                Err(err) => anyhow::Error::from(err),
                Ok(mut store) => {
                    let _ = store.fail_snapshot(snapshot_id, "the scan stopped");
                    match result {
                        Err(err) => anyhow::Error::from(err),
                        Ok(_) => anyhow!("the scan stopped"),
                    }
                }
            };
            return Err(err.context(format!(
                "snapshot {snapshot_id} could not be written; earlier snapshots are untouched"
            )));
        }
    };

    // Nothing read at all: the snapshot is failed, and says why (otherwise
    // the store would mark it failed with no reason anywhere).
    let nothing_read = report.nothing_read();
    let summary = match &nothing_read {
        Some(reason) => {
            store.fail_snapshot(snapshot_id, reason)?;
            store.snapshot(snapshot_id)?
        }
        None => store.finish_snapshot(snapshot_id)?,
    };
    record.summary = Some(summary.clone());
    record.failed_accounts = report.failed_accounts.clone();
    let assume_role_calls = report.assume_calls.iter().map(|(_, n)| n).sum();
    if report.deadline_reached {
        tracing::warn!(
            "the scan deadline (timeouts.scan) was reached; unfinished work is recorded as errors"
        );
    }
    let output = ScanOutput {
        snapshot_id,
        summary: &summary,
        failed_accounts: &report.failed_accounts,
        elapsed_seconds: started.elapsed().as_secs_f64(),
        skipped_accounts: &plan.skipped,
        assume_role_calls,
    };
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&output)?),
        ListFormat::Table => print!("{}", human_summary(&output, &db_path)),
    }
    match summary.status {
        SnapshotStatus::Complete => Ok(ExitStatus::Success),
        SnapshotStatus::Partial => Ok(ExitStatus::Partial),
        // The final error line and the summary's `error` say why.
        _ => Err(anyhow!(nothing_read.unwrap_or_else(|| format!(
            "snapshot {snapshot_id} failed: not one unit of any account completed"
        )))),
    }
}

/// A signal arrived before the run's snapshot was created.
fn interrupted_before_snapshot() -> anyhow::Error {
    anyhow!(
        "interrupted by a signal while planning, before the scan started: no snapshot was created; earlier snapshots are untouched"
    )
}

/// The one-screen summary.
fn human_summary(output: &ScanOutput<'_>, db_path: &std::path::Path) -> String {
    let summary = output.summary;
    let mut text = format!(
        "snapshot {} {} in {:.1}s ({})\naccounts: {} scanned, {} ok, {} not ok",
        output.snapshot_id,
        summary.status,
        output.elapsed_seconds,
        db_path.display(),
        summary.accounts_total,
        summary.accounts_ok,
        summary.accounts_failed,
    );
    if !output.skipped_accounts.is_empty() {
        text.push_str(&format!(
            ", {} left out by the plan",
            output.skipped_accounts.len()
        ));
    }
    text.push('\n');
    let mut resources = Table::new(["RESOURCE", "ROWS"]);
    for (table, count) in &summary.resources {
        resources.row([table.as_str(), &count.to_string()]);
    }
    text.push_str(&resources.render());
    if !output.failed_accounts.is_empty() {
        text.push_str(&format!(
            "\n{} account(s) could not be scanned:\n",
            output.failed_accounts.len()
        ));
        let mut failed = Table::new(["ACCOUNT", "STATUS", "ERROR"]);
        for account in output.failed_accounts {
            let error: String = or_dash(account.error.as_deref())
                .chars()
                .take(160)
                .collect();
            failed.row([account.account_id.as_str(), account.status.as_str(), &error]);
        }
        text.push_str(&failed.render());
    }
    if !summary.failed_units.is_empty() {
        text.push_str(&format!(
            "\n{} unit(s) did not complete:\n",
            summary.failed_units.len()
        ));
        let mut failed = Table::new(["ACCOUNT", "REGION", "COLLECTOR", "STATUS", "ERROR"]);
        const SHOWN: usize = 20;
        for unit in summary.failed_units.iter().take(SHOWN) {
            let error = format!(
                "{}: {}",
                or_dash(unit.error_code.as_deref()),
                or_dash(unit.error_message.as_deref())
            );
            let error: String = error.chars().take(120).collect();
            failed.row([
                unit.account_id.as_str(),
                &unit.region,
                &unit.collector,
                unit.status.as_str(),
                &error,
            ]);
        }
        text.push_str(&failed.render());
        if summary.failed_units.len() > SHOWN {
            text.push_str(&format!("… and {} more (SELECT * FROM scan_units WHERE snapshot_id = {} AND status != 'ok')\n", summary.failed_units.len() - SHOWN, output.snapshot_id));
        }
    }
    text
}
