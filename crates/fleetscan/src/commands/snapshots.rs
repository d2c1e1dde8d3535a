//! `fleetscan snapshots` (being written).

use crate::GlobalArgs;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {}

pub fn run(_args: SnapshotsArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`fleetscan snapshots` is not available yet")
}
