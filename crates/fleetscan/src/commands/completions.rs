//! `fleetscan completions SHELL` (hidden): prints a shell completion script
//! generated from the command-line definition itself, so it never drifts.

use clap::CommandFactory;

use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut command = crate::Cli::command();
    let name = command.get_name().to_string();
    // Into a buffer first: the generator panics on a closed pipe, a write here returns an error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)?;
    Ok(ExitStatus::Success)
}
