//! `fleetscan diff [OLD [NEW]]`: compares two snapshots (by default the two
//! newest usable ones; the old one may live in another database file) and
//! prints the changes as text, JSON or markdown.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use fleetscan_store::diff::render::{DiffHeader, JsonRender, MarkdownRender, Render, TextRender};
use fleetscan_store::{SnapshotSummary, Store, StoreError};

use crate::GlobalArgs;
use crate::exit::{ExitStatus, UsageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum DiffFormat {
    /// Grouped by account, for a terminal.
    #[default]
    Text,
    /// One JSON document, for scripts.
    Json,
    /// For a review ticket.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old snapshot id (default: the second newest usable snapshot, or
    /// the newest of --old-db).
    pub old: Option<i64>,
    /// The new snapshot id (default: the newest usable snapshot of --db).
    pub new: Option<i64>,
    /// The database holding the new snapshot (and the old one, without --old-db).
    #[arg(long, value_name = "FILE", default_value = "./fleetscan.db")]
    pub db: PathBuf,
    /// Read the old snapshot from this database file instead (e.g. an archived copy).
    #[arg(long, value_name = "FILE")]
    pub old_db: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Show only changes with a security reason.
    #[arg(long)]
    pub security_only: bool,
    /// Exit 4 when there are differences (with --security-only: security changes), 0 when none.
    #[arg(long)]
    pub exit_code: bool,
}

/// Unknown or unusable snapshot ids are the caller's mistake: exit 2.
fn usage_if_bad_id(err: StoreError) -> anyhow::Error {
    match err {
        StoreError::UnknownSnapshot { .. } | StoreError::UnusableSnapshot { .. } => {
            UsageError(err.to_string()).into()
        }
        other => other.into(),
    }
}

fn usable(store: &Store, id: i64) -> anyhow::Result<SnapshotSummary> {
    let summary = store.snapshot(id).map_err(usage_if_bad_id)?;
    if !summary.status.is_usable() {
        return Err(UsageError(format!(
            "snapshot {id} is {} in {}; only complete or partial snapshots can be compared",
            summary.status,
            store.path().display()
        ))
        .into());
    }
    Ok(summary)
}

fn newest(store: &Store, skip: usize, what: &str) -> anyhow::Result<i64> {
    let ids = store.usable_snapshot_ids()?;
    ids.get(skip).copied().ok_or_else(|| {
        UsageError(format!(
            "{} has {} usable snapshot(s); {what} (run `fleetscan snapshots` to see them)",
            store.path().display(),
            ids.len()
        ))
        .into()
    })
}

fn label(summary: &SnapshotSummary, file: Option<&Path>) -> String {
    let mut text = format!("snapshot {} ({})", summary.id, summary.started_at);
    if let Some(file) = file {
        text.push_str(&format!(" in {}", file.display()));
    }
    text
}

pub fn run(args: DiffArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let store = Store::open_existing(&args.db)?;
    let old_store = args
        .old_db
        .as_deref()
        .map(Store::open_existing)
        .transpose()?;
    let new_id = match args.new {
        Some(id) => id,
        None => newest(&store, 0, "a diff needs at least one to compare with")?,
    };
    let old_id = match (args.old, &old_store) {
        (Some(id), _) => id,
        (None, Some(old_store)) => newest(old_store, 0, "nothing to compare with")?,
        (None, None) => newest(&store, 1, "a diff needs two (or pass --old-db)")?,
    };
    let new_summary = usable(&store, new_id)?;
    let old_summary = usable(old_store.as_ref().unwrap_or(&store), old_id)?;
    drop(old_store);

    let header = DiffHeader {
        old_id,
        new_id,
        old_label: label(&old_summary, args.old_db.as_deref()),
        new_label: label(&new_summary, None),
    };
    let stdout = std::io::stdout();
    let color =
        stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let mut out = BufWriter::new(stdout.lock());
    let outcome = {
        let mut renderer: Box<dyn Render + '_> = match args.format {
            DiffFormat::Text => Box::new(TextRender::new(&mut out, args.security_only, color)),
            DiffFormat::Json => Box::new(JsonRender::new(&mut out, args.security_only)),
            DiffFormat::Markdown => Box::new(MarkdownRender::new(&mut out, args.security_only)),
        };
        renderer.begin(&header)?;
        let outcome = store
            .diff(args.old_db.as_deref(), old_id, new_id, &mut |change| {
                renderer.change(change)
            })
            .map_err(usage_if_bad_id)?;
        renderer.finish(&outcome)?;
        outcome
    };
    out.flush()?;
    let differs = if args.security_only {
        outcome.summary.security > 0
    } else {
        outcome.summary.has_differences()
    };
    Ok(if args.exit_code && differs {
        ExitStatus::Differences
    } else {
        ExitStatus::Success
    })
}
