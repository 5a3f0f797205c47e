//! `durian completions <shell>`: the shell completion script, printed to
//! stdout for the user to install (e.g. `durian completions bash >
//! ~/.local/share/bash-completion/completions/durian`).

use std::io::{ErrorKind, Write};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::{Cli, CliError};

/// Options of `durian completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script of every subcommand and option.
pub fn run(args: CompletionsArgs) -> Result<(), CliError> {
    // Generated into memory first: clap_complete panics when its writer
    // fails, and stdout may be a closed pipe (`durian completions bash |
    // head`), which is not an error worth reporting.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "durian", &mut script);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(CliError::new(format!(
            "cannot write the completion script to stdout: {e}"
        ))),
        _ => Ok(()),
    }
}
