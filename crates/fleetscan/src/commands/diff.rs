//! `fleetscan diff` (being written).

use crate::GlobalArgs;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {}

pub fn run(_args: DiffArgs, _global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("`fleetscan diff` is not available yet")
}
