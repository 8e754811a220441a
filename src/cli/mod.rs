//! The command line: raw flags ([`LowArgs`], syntax only), a checked plan per command,
//! and the one place that turns errors into messages and exit codes.
//! Not part of the library's API.

mod aggregate;
mod clean;
mod colour;
mod docs;
mod error;
mod exit_code;
mod list;
mod lowargs;
mod progress;
mod replay;
mod resolve;
pub(crate) mod trace;

pub use error::CliError;
pub use exit_code::TprobeExitCode;
pub use lowargs::Command;
pub use lowargs::LowArgs;
pub use lowargs::OutputFormat;
pub use lowargs::ReplayArgs;

use std::ffi::OsString;
use std::io;
use std::io::Write;

use clap::Parser;

/// Runs tprobe with `args` (the program name first) and returns the exit code.
pub fn main_impl(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args = lowargs::with_default_command(args.into_iter().collect());
    let low = match LowArgs::try_parse_from(args) {
        Ok(low) => low,
        Err(err) => {
            let code = if err.use_stderr() {
                TprobeExitCode::USAGE
            } else {
                TprobeExitCode::OK
            };
            // Printing help into a closed pipe is not worth an error.
            let _ = err.print();
            return code;
        }
    };
    let result = match low.command {
        Command::Replay(args) => replay::run(&args),
        Command::Trace(args) => trace::run(&args),
        Command::Clean(args) => clean::run(&args),
        Command::List(args) => list::run(&args),
        Command::Resolve(args) => resolve::run(&args),
        Command::Latency(args) => aggregate::run_latency(&args),
        Command::Count(args) => aggregate::run_count(&args),
        Command::Completions(args) => docs::run_completions(&args),
        Command::Man(args) => docs::run_man(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) if err.is_broken_pipe() => TprobeExitCode::OK,
        Err(err) => {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "{} {}", colour::error_prefix(), err.render());
            err.exit_code()
        }
    }
}
