//! One file per command, each returning the exit status it wants.

pub mod diff;
pub mod plan;
pub mod prune;
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
