//! One file per command, each returning the exit status it wants.

pub mod check;
pub mod completions;
pub mod diff;
pub mod man;
pub mod plan;
pub mod prune;
pub mod report;
pub mod reporters;
pub mod scan;
pub mod snapshots;

/// Output format of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ListFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
}

use std::path::{Path, PathBuf};

use fleetscan_scan::config::{self, Config};

/// Loads the configuration named by `--config`, or `./fleetscan.yaml` when
/// it exists, or the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let default = Path::new("fleetscan.yaml");
    let chosen = match path {
        Some(path) => Some(path),
        None if default.exists() => Some(default),
        None => None,
    };
    Ok(config::load(chosen)?)
}

/// The database file: `--db`, else the configuration's `database`.
pub fn database_path(flag: Option<&Path>, config: &Config) -> PathBuf {
    flag.map_or_else(|| config.database.clone(), Path::to_path_buf)
}

/// A multi-threaded runtime for the commands that call AWS.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
