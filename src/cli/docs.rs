//! `tprobe completions SHELL` and `tprobe man [COMMAND]`: generated from the clap
//! definitions that parse the command line, so they cannot drift from it.

use std::io;
use std::io::Write;

use clap::CommandFactory;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::CompletionsArgs;
use super::lowargs::LowArgs;
use super::lowargs::ManArgs;

/// The program name completions are registered for.
const BIN_NAME: &str = "tprobe";

pub(super) fn run_completions(args: &CompletionsArgs) -> Result<i32, CliError> {
    let mut command = LowArgs::command();
    // Generated into memory first: a closed pipe then fails one write, not the generator.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, BIN_NAME, &mut script);
    write_stdout(&script)?;
    Ok(TprobeExitCode::OK)
}

pub(super) fn run_man(args: &ManArgs) -> Result<i32, CliError> {
    let mut top = LowArgs::command();
    // Built so that each command knows its full name (`tprobe-trace`) and inherits the
    // top level's version.
    top.build();
    let page = match &args.command {
        None => clap_mangen::Man::new(top),
        Some(name) => {
            let Some(command) = top.find_subcommand(name).cloned() else {
                let names: Vec<&str> = top.get_subcommands().map(clap::Command::get_name).collect();
                let _ = writeln!(
                    io::stderr().lock(),
                    "tprobe: no command `{name}` (hint: `tprobe man` for the overview, or one of: {})",
                    names.join(", ")
                );
                return Ok(TprobeExitCode::USAGE);
            };
            clap_mangen::Man::new(command).title(format!("{BIN_NAME}-{name}"))
        }
    };
    let mut roff = Vec::new();
    page.render(&mut roff).map_err(CliError::Output)?;
    write_stdout(&roff)?;
    Ok(TprobeExitCode::OK)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(CliError::Output)
}
