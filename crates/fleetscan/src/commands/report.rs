//! `fleetscan report`: writes one self-contained HTML page about a snapshot —
//! header, coverage map, findings, the diff against an older snapshot, and the
//! trend over the retained snapshots — that works offline from `file://`.

mod page;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use askama::Template;
use fleetscan_store::{Store, StoreError};

pub use page::{
    ChangeInput, Changes, ChangesInput, NotComparableInput, ROW_LIMIT, ReportInput, ReportPage,
};

use crate::GlobalArgs;
use crate::exit::{ExitStatus, UsageError};

/// Snapshots at most in the trend charts (the newest ones).
const TREND_POINTS: usize = 120;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The snapshot to report on (default: the newest usable one).
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: Option<i64>,
    /// The snapshot to compare with (default: the newest usable one before SNAPSHOT).
    #[arg(long, value_name = "OLD")]
    pub against: Option<i64>,
    /// The snapshot database.
    #[arg(long, value_name = "FILE", default_value = "./fleetscan.db")]
    pub db: PathBuf,
    /// Where to write the page (default: ./fleetscan-report-<SNAPSHOT>.html); `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: ReportArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    if let Some(out) = args.out.as_deref()
        && out != Path::new("-")
    {
        crate::paths::check_outputs(&args.db, &[("--out", out)])?;
    }
    let store = Store::open_existing(&args.db)?;
    let (snapshot_id, against) = choose_snapshots(&store, args.snapshot, args.against)?;
    let input = collect(&store, snapshot_id, against)?;
    let html = render(&input)?;
    match args.out.as_deref() {
        Some(path) if path == Path::new("-") => {
            let mut out = std::io::stdout().lock();
            out.write_all(html.as_bytes())
                .and_then(|()| out.flush())
                .context("writing the report to stdout")?;
        }
        out => {
            let path = out.map_or_else(
                || PathBuf::from(format!("fleetscan-report-{snapshot_id}.html")),
                Path::to_path_buf,
            );
            crate::paths::check_outputs(&args.db, &[("--out", &path)])?;
            write_private(&path, html.as_bytes())?;
            tracing::info!(path = %path.display(), snapshot = snapshot_id, against, bytes = html.len(), "report written");
            println!("{}", path.display());
        }
    }
    Ok(ExitStatus::Success)
}

/// The snapshot to report on and the one to compare with: SNAPSHOT or the
/// newest usable one; OLD or the newest usable one before it (none when
/// there is none).
fn choose_snapshots(
    store: &Store,
    snapshot: Option<i64>,
    against: Option<i64>,
) -> anyhow::Result<(i64, Option<i64>)> {
    let usable = store.usable_snapshot_ids()?;
    let check = |id: i64, role: &str| -> anyhow::Result<()> {
        let summary = match store.snapshot(id) {
            Ok(summary) => summary,
            Err(StoreError::UnknownSnapshot { .. }) => {
                return Err(UsageError(format!(
                    "{role} snapshot {id} does not exist in {} (see `fleetscan snapshots`)",
                    store.path().display()
                ))
                .into());
            }
            Err(err) => return Err(err.into()),
        };
        if !summary.status.is_usable() {
            return Err(UsageError(format!(
                "{role} snapshot {id} is {}; only complete or partial snapshots can be reported",
                summary.status
            ))
            .into());
        }
        Ok(())
    };
    let snapshot_id = match snapshot {
        Some(id) => {
            check(id, "the")?;
            id
        }
        None => *usable.first().ok_or_else(|| {
            UsageError(format!(
                "{} holds no complete or partial snapshot to report on (run `fleetscan scan`)",
                store.path().display()
            ))
        })?,
    };
    let against = match against {
        Some(id) if id == snapshot_id => {
            return Err(UsageError(format!(
                "--against {id} is the reported snapshot itself; name an older one"
            ))
            .into());
        }
        Some(id) => {
            check(id, "the --against")?;
            Some(id)
        }
        // `usable` is newest first: the first one older than the reported one.
        None => usable.iter().copied().find(|id| *id < snapshot_id),
    };
    Ok((snapshot_id, against))
}

/// Reads everything the page shows.
pub fn collect(
    store: &Store,
    snapshot_id: i64,
    against: Option<i64>,
) -> anyhow::Result<ReportInput> {
    let changes = match against {
        Some(old_id) => Changes::Compared(collect_changes(store, old_id, snapshot_id)?),
        None => Changes::NothingToCompare,
    };
    Ok(ReportInput {
        header: store.report_header(snapshot_id)?,
        coverage: store.report_coverage(snapshot_id)?,
        findings: store.report_findings(snapshot_id, ROW_LIMIT)?,
        changes,
        trend: store.report_trend(snapshot_id, TREND_POINTS)?,
        generator: format!("fleetscan {}", env!("CARGO_PKG_VERSION")),
    })
}

/// Runs the store's diff, keeping at most [`ROW_LIMIT`] changes of each kind
/// (security-relevant, other) while counting all of them.
fn collect_changes(store: &Store, old_id: i64, new_id: i64) -> anyhow::Result<ChangesInput> {
    let old_started_at = store.snapshot(old_id)?.started_at;
    let mut input = ChangesInput {
        old_id,
        old_started_at,
        ..ChangesInput::default()
    };
    let mut security_changes = Vec::new();
    let mut other_changes = Vec::new();
    let mut security_total = 0;
    let mut other_total = 0;
    let outcome = store
        .diff(None, old_id, new_id, &mut |change| {
            let (kept, total) = if change.security {
                (&mut security_changes, &mut security_total)
            } else {
                (&mut other_changes, &mut other_total)
            };
            *total += 1;
            if kept.len() < ROW_LIMIT {
                kept.push(change_input(change));
            }
            Ok(())
        })
        .with_context(|| format!("comparing snapshot {old_id} with {new_id}"))?;
    input.security_changes = security_changes;
    input.security_total = security_total;
    input.other_changes = other_changes;
    input.other_total = other_total;
    let summary = outcome.summary;
    input.added = summary.added;
    input.removed = summary.removed;
    input.modified = summary.modified;
    input.accounts_entered = summary.accounts_entered;
    input.accounts_left = summary.accounts_left;
    input.not_comparable = outcome
        .not_comparable
        .into_iter()
        .map(|unit| NotComparableInput {
            account_id: unit.account_id,
            region: unit.region,
            collector: unit.collector,
            old_status: unit.old_status,
            new_status: unit.new_status,
        })
        .collect();
    Ok(input)
}

fn change_input(change: &fleetscan_store::diff::Change) -> ChangeInput {
    let show = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let fields = change
        .fields
        .iter()
        .map(|field| match change.change {
            fleetscan_store::diff::ChangeKind::Modified => {
                format!(
                    "{}: {} → {}",
                    field.field,
                    show(&field.old),
                    show(&field.new)
                )
            }
            fleetscan_store::diff::ChangeKind::Added => {
                format!("{}: {}", field.field, show(&field.new))
            }
            fleetscan_store::diff::ChangeKind::Removed => {
                format!("{}: {}", field.field, show(&field.old))
            }
        })
        .collect();
    ChangeInput {
        resource_type: change.resource_type.to_owned(),
        change: change.change.as_str().to_owned(),
        account_id: change.account_id.clone(),
        region: change.region.clone(),
        resource_id: change.resource_id.clone(),
        fields,
        security: change.security,
        reasons: change.reasons.clone(),
    }
}

/// The page as HTML text.
pub fn render(input: &ReportInput) -> anyhow::Result<String> {
    ReportPage::new(input)
        .render()
        .context("rendering the report page")
}

/// Writes the page with mode 0600, like the database: it names every account,
/// bucket and public IP of the fleet.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .with_context(|| format!("writing {}", path.display()))
}
