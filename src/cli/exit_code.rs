//! tprobe's exit codes, in one table. A number, once given, is never reused.

/// The exit codes as `tprobe --help` lists them; a test checks that every constant of
/// [`TprobeExitCode`] is here with its number.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
   0  OK                   success
   1  UNEXPECTED           an unexpected failure (a bug, or an I/O error without remedy)
   2  USAGE                the command line could not be parsed
   3  INPUT_UNREADABLE     an input file (trace text, format file, events dir) is unreadable
   4  BAD_FORMAT_FILE      a format file is not in the kernel's layout
   5  OUTPUT_FAILED        writing the output failed (a closed pipe is a clean exit)
   6  INVALID_SPEC         a probe spec is invalid; nothing was written to tracefs
   7  PERMISSION_DENIED    tracefs needs privileges tprobe lacks (not root, lockdown)
   8  TRACEFS_UNAVAILABLE  tracefs is not mounted (or not in this kernel)
   9  SYMBOL_NOT_FOUND     a function or pattern matches no symbol
  10  PROBE_REJECTED       the kernel refused a definition or filter (error_log shown)
  11  FEATURE_MISSING      the kernel lacks a feature a spec needs
  12  TEARDOWN_INCOMPLETE  teardown could not remove everything (`tprobe clean` retries)
 128+N                     stopped by signal N (INT, TERM, HUP, QUIT) after cleaning up";

/// Named exit codes. Unexpected failures exit with 1.
#[derive(Debug)]
pub enum TprobeExitCode {}

impl TprobeExitCode {
    /// Success.
    pub const OK: i32 = 0;
    /// An unexpected failure (a bug, or an I/O error tprobe has no remedy for).
    pub const UNEXPECTED: i32 = 1;
    /// The command line could not be parsed.
    pub const USAGE: i32 = 2;
    /// An input file (trace text, a format file, an events directory) could not be read.
    pub const INPUT_UNREADABLE: i32 = 3;
    /// A format file is not in the kernel's layout.
    pub const BAD_FORMAT_FILE: i32 = 4;
    /// Writing the output failed (other than a closed pipe, which is a clean exit).
    pub const OUTPUT_FAILED: i32 = 5;
    /// A probe spec is invalid; nothing was written to tracefs.
    pub const INVALID_SPEC: i32 = 6;
    /// tracefs needs privileges tprobe does not have (not root, lockdown, read-only).
    pub const PERMISSION_DENIED: i32 = 7;
    /// tracefs is not mounted (or not in this kernel).
    pub const TRACEFS_UNAVAILABLE: i32 = 8;
    /// A uprobe's function is not in the binary's symbol tables.
    pub const SYMBOL_NOT_FOUND: i32 = 9;
    /// The kernel refused a definition or filter (its error_log message is shown).
    pub const PROBE_REJECTED: i32 = 10;
    /// The kernel lacks a feature a spec needs.
    pub const FEATURE_MISSING: i32 = 11;
    /// Teardown could not remove everything (`tprobe clean` retries).
    pub const TEARDOWN_INCOMPLETE: i32 = 12;
    // After a stop signal N (INT, TERM, HUP, QUIT), tprobe exits with 128 + N once it has
    // cleaned up, as a shell reports a process killed by that signal.
}
