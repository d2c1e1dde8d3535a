//! `fleetscan prune` (being written).

use crate::GlobalArgs;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {}

pub fn run(_args: PruneArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`fleetscan prune` is not available yet")
}
