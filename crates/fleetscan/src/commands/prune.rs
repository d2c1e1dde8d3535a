//! `fleetscan prune --keep N`: deletes all but the N newest usable snapshots
//! and reclaims the space.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use fleetscan_store::Store;

use crate::GlobalArgs;
use crate::commands::ListFormat;
use crate::exit::{ExitStatus, UsageError};

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// How many of the newest usable (complete or partial) snapshots to keep.
    #[arg(long, value_name = "N")]
    pub keep: usize,
    /// The snapshot database.
    #[arg(long, value_name = "FILE", default_value = "./fleetscan.db")]
    pub db: PathBuf,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

pub fn run(args: PruneArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    if args.keep == 0 {
        // Keeping nothing would leave diff without a baseline: surely a typo.
        return Err(UsageError("--keep must be at least 1".to_owned()).into());
    }
    let mut store = Store::open_existing(&args.db)?;
    let report = store.prune(args.keep)?;
    let integrity = store.integrity_check()?;
    if integrity != "ok" {
        anyhow::bail!(
            "{}: integrity check after prune failed: {integrity}",
            args.db.display()
        );
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing JSON to stdout")?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            let ids = |ids: &[i64]| {
                if ids.is_empty() {
                    "none".to_owned()
                } else {
                    ids.iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            writeln!(out, "deleted: {}", ids(&report.deleted))?;
            writeln!(out, "kept:    {}", ids(&report.kept))?;
            if !report.running.is_empty() {
                writeln!(out, "running (left alone): {}", ids(&report.running))?;
            }
            writeln!(
                out,
                "size:    {} -> {}",
                human_bytes(report.bytes_before),
                human_bytes(report.bytes_after)
            )?;
        }
    }
    Ok(ExitStatus::Success)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
