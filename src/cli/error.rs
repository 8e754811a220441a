//! Errors the command line reports, each with what to do about it.

use std::io;
use std::path::PathBuf;

use super::exit_code::TprobeExitCode;
use crate::decode::CatalogError;
use crate::elf::ElfError;
use crate::kallsyms::Refusal;
use crate::kallsyms::RefusalKind;
use crate::spec::SpecParseError;
use crate::tracefs::TeardownError;
use crate::tracefs::TracefsError;
use crate::tracefs::TracefsErrorKind;

/// A failure of a tprobe command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The events directory or a format file in it could not be loaded.
    #[error("cannot load event formats")]
    Catalog(#[from] CatalogError),
    /// An input file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
    /// One or more probe specs are invalid (each is rendered with a caret).
    #[error("{} invalid probe spec(s)", .0.len())]
    Spec(Vec<SpecParseError>),
    /// Names could not be given to the probes.
    #[error("cannot name the probes: {0}")]
    Naming(String),
    /// A spec names a group of its own; tprobe only owns (and cleans) its session group.
    #[error("`{spec}` names its own group; tprobe puts every probe in its session group `{group}` so it can remove them (hint: drop the `GROUP/` part, keep the event name)")]
    ForeignGroup {
        /// The spec as parsed.
        spec: String,
        /// The session's group.
        group: String,
    },
    /// A uprobe function could not be resolved to a file offset.
    #[error("cannot place the uprobe")]
    Elf(#[from] ElfError),
    /// A tracefs operation failed.
    #[error("cannot {0}")]
    Tracefs(#[from] TracefsError),
    /// Teardown left something behind.
    #[error("cannot clean up completely")]
    Teardown(#[from] TeardownError),
    /// A kernel symbol pattern could not be expanded.
    #[error("{0}")]
    Pattern(String),
    /// A kernel symbol cannot be probed (unknown, ambiguous, blacklisted…).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The signal handlers could not be installed.
    #[error("cannot install signal handlers")]
    Signals(#[source] io::Error),
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Catalog(CatalogError::Read { .. }) | CliError::Input { .. } => {
                TprobeExitCode::INPUT_UNREADABLE
            }
            CliError::Catalog(CatalogError::Format { .. }) => TprobeExitCode::BAD_FORMAT_FILE,
            CliError::Output(_) => TprobeExitCode::OUTPUT_FAILED,
            CliError::Spec(_) | CliError::Naming(_) | CliError::ForeignGroup { .. } => {
                TprobeExitCode::INVALID_SPEC
            }
            // The target names something that is not there, or not one thing: exit 9.
            CliError::Elf(
                ElfError::NoSymbol { .. }
                | ElfError::NotLoaded { .. }
                | ElfError::Ambiguous { .. }
                | ElfError::MissingLibrary { .. }
                | ElfError::AmbiguousLibrary { .. }
                | ElfError::TooManyMatches { .. }
                | ElfError::NoUsdt { .. },
            ) => TprobeExitCode::SYMBOL_NOT_FOUND,
            // A USDT argument tprobe cannot translate: the spec can't be placed as given.
            CliError::Elf(ElfError::UsdtArg { .. }) => TprobeExitCode::INVALID_SPEC,
            CliError::Elf(_) => TprobeExitCode::INPUT_UNREADABLE,
            CliError::Tracefs(e) => match e.kind() {
                TracefsErrorKind::NotMounted | TracefsErrorKind::NotSupported => {
                    TprobeExitCode::TRACEFS_UNAVAILABLE
                }
                TracefsErrorKind::PermissionDenied { .. }
                | TracefsErrorKind::Lockdown { .. }
                | TracefsErrorKind::ReadOnly => TprobeExitCode::PERMISSION_DENIED,
                TracefsErrorKind::FeatureMissing(_) => TprobeExitCode::FEATURE_MISSING,
                TracefsErrorKind::ProbeRejected { .. }
                | TracefsErrorKind::FilterRejected { .. }
                | TracefsErrorKind::InvalidLine { .. } => TprobeExitCode::PROBE_REJECTED,
                _ => TprobeExitCode::UNEXPECTED,
            },
            CliError::Teardown(_) => TprobeExitCode::TEARDOWN_INCOMPLETE,
            CliError::Pattern(_) => TprobeExitCode::SYMBOL_NOT_FOUND,
            CliError::Refused(refusal) => match refusal.kind() {
                RefusalKind::NotFound { .. } => TprobeExitCode::SYMBOL_NOT_FOUND,
                _ => TprobeExitCode::PROBE_REJECTED,
            },
            CliError::Signals(_) => TprobeExitCode::UNEXPECTED,
        }
    }

    /// Whether the output's reader went away (`| head`): a clean exit, not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The message with its causes and a hint, for stderr.
    pub fn render(&self) -> String {
        if let CliError::Spec(errors) = self {
            return errors
                .iter()
                .map(|e| e.render())
                .collect::<Vec<_>>()
                .join("\n");
        }
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            // `cannot {op}` wraps a cause that displays as `{op}`: don't say it twice.
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        if let Some(hint) = self.hint() {
            text.push_str("\n(hint: ");
            text.push_str(hint);
            text.push(')');
        }
        text
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::Catalog(CatalogError::Read { .. }) => Some(
                "--events-dir takes a directory laid out like tracefs events/, e.g. /sys/kernel/tracing/events or a copy of DIR/GROUP/EVENT/format files",
            ),
            CliError::Catalog(CatalogError::Format { .. }) => {
                Some("copy format files from tracefs unchanged (cp, not an editor)")
            }
            _ => None,
        }
    }
}
