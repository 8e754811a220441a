//! Whether to colour: only for a terminal, and never with `NO_COLOR` set (no-color.org).
//!
//! A check of our own (isatty on the descriptor, read once per run) rather than
//! anstream's self-stripping writers: the event output is formatted into byte buffers on
//! the hot path, and deciding up front costs nothing per event, where stripping would
//! scan every byte written to a pipe.

use std::os::fd::RawFd;

use crate::output::RecordFormat;

/// Bold red, for `tprobe:` before an error.
pub(super) const ERROR_STYLE: &str = "\x1b[1;31m";
/// Back to the terminal's default.
pub(super) const RESET: &str = "\x1b[0m";

/// Whether output to `fd` gets colour: it is a terminal, `NO_COLOR` is unset or empty,
/// and `TERM` is not `dumb`.
pub(super) fn wanted_on(fd: RawFd) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    // SAFETY: isatty only inspects the descriptor.
    !no_color && !dumb && unsafe { libc::isatty(fd) } == 1
}

/// The text format for events written to stdout (highlighted on a terminal) or, when
/// `to_stdout` is false, to a file (never highlighted).
pub(super) fn text_format(to_stdout: bool) -> RecordFormat {
    if to_stdout && wanted_on(libc::STDOUT_FILENO) {
        RecordFormat::ColourText
    } else {
        RecordFormat::Text
    }
}

/// `tprobe:` as the error prefix, bold red on a terminal.
pub(super) fn error_prefix() -> String {
    if wanted_on(libc::STDERR_FILENO) {
        format!("{ERROR_STYLE}tprobe:{RESET}")
    } else {
        "tprobe:".to_owned()
    }
}
