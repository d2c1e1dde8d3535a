//! `fleetscan snapshots`: lists the snapshots of a database with their status,
//! duration, account outcome and resource counts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use fleetscan_store::{SnapshotSummary, Store};
use serde::Serialize;

use crate::GlobalArgs;
use crate::commands::ListFormat;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {
    /// The snapshot database.
    #[arg(long, value_name = "FILE", default_value = "./fleetscan.db")]
    pub db: PathBuf,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// The resource columns of the table, with their short headings.
const RESOURCE_COLUMNS: &[(&str, &str)] = &[
    ("ec2_instances", "INSTANCES"),
    ("ec2_security_groups", "SGS"),
    ("ec2_security_group_rules", "SG RULES"),
    ("ec2_volumes", "VOLUMES"),
    ("s3_buckets", "BUCKETS"),
];

#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    summary: &'a SnapshotSummary,
    duration_seconds: Option<i64>,
}

pub fn run(args: SnapshotsArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let store = Store::open_existing(&args.db)?;
    let snapshots = store.list_snapshots()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            let listed: Vec<Listed<'_>> = snapshots
                .iter()
                .map(|summary| Listed {
                    summary,
                    duration_seconds: summary.duration_seconds(),
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &listed).context("writing JSON to stdout")?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            if snapshots.is_empty() {
                eprintln!(
                    "no snapshots in {} yet (run `fleetscan scan`)",
                    args.db.display()
                );
            } else {
                write_table(&mut out, &snapshots)?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn write_table(out: &mut impl Write, snapshots: &[SnapshotSummary]) -> std::io::Result<()> {
    let mut header: Vec<String> = [
        "ID",
        "STARTED",
        "DURATION",
        "STATUS",
        "ACCOUNTS OK",
        "FAILED",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    header.extend(
        RESOURCE_COLUMNS
            .iter()
            .map(|(_, heading)| (*heading).to_owned()),
    );
    let mut lines = vec![header];
    for summary in snapshots {
        let mut line = vec![
            summary.id.to_string(),
            summary.started_at.clone(),
            summary
                .duration_seconds()
                .map_or_else(|| "-".to_owned(), format_duration),
            summary.status.as_str().to_owned(),
            summary.accounts_ok.to_string(),
            summary.accounts_failed.to_string(),
        ];
        line.extend(RESOURCE_COLUMNS.iter().map(|(table, _)| {
            summary
                .resources
                .get(*table)
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
        lines.push(line);
    }
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            lines
                .iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let mut text = String::new();
        for (column, cell) in line.iter().enumerate() {
            // Text columns (started, status) align left, numbers right.
            let left = matches!(column, 1 | 3);
            if column > 0 {
                text.push_str("  ");
            }
            if left {
                text.push_str(&format!("{cell:<width$}", width = widths[column]));
            } else {
                text.push_str(&format!("{cell:>width$}", width = widths[column]));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

/// `45s`, `12m03s`, `2h05m00s`.
fn format_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m{seconds:02}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(723), "12m03s");
        assert_eq!(format_duration(7500), "2h05m00s");
    }
}
