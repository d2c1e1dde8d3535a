//! The `fleetscan` binary: parses the command line, sets up logging, dispatches
//! to one command, and maps the outcome to the documented exit codes.

mod commands;
mod exit;
mod interrupt;
mod logging;
mod outputs;
mod paths;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::ExitStatus;

/// mimalloc instead of the system allocator: with the scan's work spread over
/// the runtime's threads, glibc malloc was about a fifth of its CPU. Built
/// without transparent huge pages (feature `no_thp`), whose 2 MiB page faults
/// cost CPU and peak memory (see the README's Benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "fleetscan",
    version,
    about = "Inventory every account of an AWS organization into SQLite snapshots"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// More log detail on stderr (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Never draw progress bars, even on a terminal.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = logging::LogFormat::Text, global = true)]
    pub log_format: logging::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Plan, scan every account and write one snapshot.
    Scan(commands::scan::ScanArgs),
    /// Show the accounts, role ARNs and regions a scan would use (no resource calls).
    Plan(commands::plan::PlanArgs),
    /// List the snapshots in the database.
    Snapshots(commands::snapshots::SnapshotsArgs),
    /// Compare two snapshots.
    Diff(commands::diff::DiffArgs),
    /// Delete all but the newest usable snapshots and reclaim space.
    Prune(commands::prune::PruneArgs),
    /// Write a self-contained HTML report of a snapshot (coverage, findings, changes, trend).
    Report(commands::report::ReportArgs),
    /// Preflight: assume the role in every planned account and try each permission a scan needs.
    Check(commands::check::CheckArgs),
    /// Print a shell completion script.
    #[command(hide = true)]
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (or write one page per command with --out-dir).
    #[command(hide = true)]
    Man(commands::man::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with success, usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    logging::init(&cli.global);
    let result = match cli.command {
        Command::Scan(args) => commands::scan::run(args, &cli.global),
        Command::Plan(args) => commands::plan::run(args, &cli.global),
        Command::Snapshots(args) => commands::snapshots::run(args, &cli.global),
        Command::Diff(args) => commands::diff::run(args, &cli.global),
        Command::Prune(args) => commands::prune::run(args, &cli.global),
        Command::Report(args) => commands::report::run(args, &cli.global),
        Command::Check(args) => commands::check::run(args, &cli.global),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(args),
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            let status = exit::classify(&err);
            // Under --log-format json the last word is a JSON line like every other.
            match cli.global.log_format {
                logging::LogFormat::Json => tracing::error!("{err:#}"),
                logging::LogFormat::Text => eprintln!("error: {err:#}"),
            }
            status.into()
        }
    }
}
