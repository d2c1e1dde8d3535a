//! `fleetscan man` (hidden): the manual page, generated from the command-line
//! definition. Without `--out-dir` it prints fleetscan(1) to stdout; with it,
//! it writes fleetscan.1 and one fleetscan-COMMAND.1 per visible subcommand.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory;

use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write fleetscan.1 and fleetscan-COMMAND.1 pages into this directory.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

pub fn run(args: ManArgs) -> anyhow::Result<ExitStatus> {
    let mut command = crate::Cli::command();
    // Building fills in each subcommand's display name (`fleetscan-scan`) and
    // usage name (`fleetscan scan`), which the pages use as title and synopsis.
    command.build();
    match args.out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            std::io::Write::write_all(&mut std::io::stdout(), &page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_page(&dir, "fleetscan", command.clone())?;
            for sub in command
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            {
                let name = format!("fleetscan-{}", sub.get_name());
                write_page(&dir, &name, sub.clone())?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
