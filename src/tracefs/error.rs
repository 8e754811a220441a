//! Errors of the tracefs layer: what was being done, on which file, and why, with a hint
//! when the user can fix it.

use std::fmt;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use nix::errno::Errno;

use super::error_log::ErrorLogRecord;
use super::features::Feature;

/// `Result` with a [`TracefsError`].
pub type TracefsResult<T> = Result<T, TracefsError>;

/// A tracefs operation failed: `op` on `path`, because of `kind`.
///
/// Displays as a fragment that fits "failed to {error}"; the reason (with a hint) is the
/// [`source`](std::error::Error::source), a [`TracefsErrorKind`].
#[derive(Debug, thiserror::Error)]
#[error("{op} {}", path.display())]
#[non_exhaustive]
pub struct TracefsError {
    path: PathBuf,
    op: TracefsOp,
    #[source]
    kind: TracefsErrorKind,
}

impl TracefsError {
    pub(crate) fn new(op: TracefsOp, path: impl Into<PathBuf>, kind: TracefsErrorKind) -> Self {
        Self {
            path: path.into(),
            op,
            kind,
        }
    }

    /// An I/O failure, classified by errno (permission, lockdown, read-only, …).
    pub(crate) fn io(op: TracefsOp, path: impl Into<PathBuf>, err: io::Error) -> Self {
        Self {
            path: path.into(),
            op,
            kind: TracefsErrorKind::from_io(err),
        }
    }

    /// The file or directory involved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was being done.
    pub fn op(&self) -> TracefsOp {
        self.op
    }

    /// Why it failed.
    pub fn kind(&self) -> &TracefsErrorKind {
        &self.kind
    }

    /// Consumes the error, returning why it failed.
    pub fn into_kind(self) -> TracefsErrorKind {
        self.kind
    }
}

/// What tprobe was doing when a tracefs error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracefsOp {
    /// Looking for the tracefs mount.
    Find,
    /// Mounting tracefs.
    Mount,
    /// Reading a tracefs file.
    Read,
    /// Checking that the kernel has a feature.
    CheckFeature,
    /// Appending probe definitions to an `*_events` file.
    Define,
    /// Deleting a probe group.
    DeleteGroup,
    /// Creating a private instance.
    CreateInstance,
    /// Removing a private instance.
    RemoveInstance,
    /// Enabling or disabling events in an instance.
    Enable,
    /// Setting an event filter.
    SetFilter,
    /// Setting the instance's pid filter.
    SetPid,
    /// Setting an instance option.
    SetOption,
    /// Setting the instance's buffer size.
    SetBufferSize,
    /// Naming a session after its process.
    NameSession,
}

impl fmt::Display for TracefsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Find => "find tracefs at",
            Self::Mount => "mount tracefs at",
            Self::Read => "read",
            Self::CheckFeature => "use a kernel feature of",
            Self::Define => "define probes in",
            Self::DeleteGroup => "delete a probe group in",
            Self::CreateInstance => "create the tracing instance",
            Self::RemoveInstance => "remove the tracing instance",
            Self::Enable => "enable or disable events with",
            Self::SetFilter => "set an event filter with",
            Self::SetPid => "set the pid filter with",
            Self::SetOption => "set an instance option with",
            Self::SetBufferSize => "set the buffer size with",
            Self::NameSession => "name the session from",
        })
    }
}

/// Why a definition line was refused before anything was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineFault {
    /// A control byte (newline, tab, CR, NUL, DEL, C1…) at this byte offset: it could
    /// inject a second command.
    ControlByte(usize),
    /// A `#` at this byte offset: the kernel would cut the line there as a comment.
    Hash(usize),
    /// The line is empty or blank.
    Empty,
    /// The line is longer than the kernel's 4094-byte limit.
    TooLong(usize),
    /// The line names a group other than the session's own, or none, or deletes.
    ForeignGroup,
}

impl fmt::Display for LineFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlByte(at) => write!(f, "a control byte at byte {at}"),
            Self::Hash(at) => write!(f, "a `#` at byte {at} (the kernel reads it as a comment)"),
            Self::Empty => f.write_str("nothing"),
            Self::TooLong(len) => write!(f, "{len} bytes, more than the kernel's 4094"),
            Self::ForeignGroup => f.write_str("a group that is not this session's"),
        }
    }
}

/// The reasons a tracefs operation fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TracefsErrorKind {
    /// No tracefs mount was found.
    #[error(
        "tracefs is not mounted (hint: run `mount -t tracefs nodev /sys/kernel/tracing` as root, or pass --mount)"
    )]
    NotMounted,
    /// The kernel has no tracefs at all (built without CONFIG_TRACING / CONFIG_FTRACE).
    #[error(
        "this kernel has no tracefs (hint: use a kernel built with CONFIG_FTRACE and CONFIG_UPROBE_EVENTS or CONFIG_KPROBE_EVENTS)"
    )]
    NotSupported,
    /// Access was refused by file permissions or missing capabilities.
    #[error("permission denied (hint: {})", if *.is_root {
        "tprobe runs as root but still lacks access: check CAP_SYS_ADMIN and the mount's mode and gid= option"
    } else {
        "tracefs needs root; try sudo"
    })]
    PermissionDenied {
        /// Whether tprobe ran as root (effective uid 0).
        is_root: bool,
    },
    /// Kernel lockdown forbids tracefs access (or kprobes).
    #[error(
        "kernel lockdown ({mode}) forbids this (hint: boot with `lockdown=none` or without Secure Boot's lockdown, or use a kernel without it)"
    )]
    Lockdown {
        /// The active mode from `/sys/kernel/security/lockdown`: `integrity` or `confidentiality`.
        mode: String,
    },
    /// The mount is read-only.
    #[error("tracefs is mounted read-only (hint: `mount -o remount,rw` the tracefs mount)")]
    ReadOnly,
    /// The kernel lacks a feature the probe needs.
    #[error(
        "this kernel lacks {feature} (added in Linux {since}{approx}{config}) (hint: run on a newer kernel{or_config}, or write the probe without it)",
        feature = .0.description(),
        since = .0.since(),
        approx = if .0.since_is_approximate() { ", approximately" } else { "" },
        config = .0.config().map(|c| format!(", needs {c}")).unwrap_or_default(),
        or_config = .0.config().map(|c| format!(" or one built with {c}")).unwrap_or_default(),
    )]
    FeatureMissing(Feature),
    /// A definition line was refused before anything was written.
    #[error(
        "definition line {line} holds {fault}; nothing was written (hint: fix the probe spec)"
    )]
    InvalidLine {
        /// Index of the line in the batch (0-based).
        line: usize,
        /// What is wrong with it.
        fault: LineFault,
    },
    /// A group, event or instance name is not one the kernel accepts.
    #[error("invalid name `{name}` (hint: use 1..63 characters from [A-Za-z0-9_], not starting with a digit)")]
    InvalidName {
        /// The name, lossily printed.
        name: String,
    },
    /// A value to write holds a control byte (a newline could inject a second command).
    #[error("the value `{}` holds a control byte; nothing was written (hint: remove newlines and control characters)", .value.escape_debug())]
    InvalidValue {
        /// The value.
        value: String,
    },
    /// The kernel refused a definition line.
    #[error("{}", rejected_message(.errno, .line, .text, .log))]
    ProbeRejected {
        /// The errno the write returned (EINVAL, ENOENT, EEXIST, E2BIG, EADDRNOTAVAIL…).
        errno: Errno,
        /// Index of the failing line in the batch, when it could be told; every line
        /// before it was applied and stays defined (clean up by deleting the group).
        line: Option<usize>,
        /// The failing line's text, when known.
        text: Option<String>,
        /// The matching `error_log` entry, when the kernel logged one.
        log: Option<Box<ErrorLogRecord>>,
    },
    /// The kernel accepted only part of the buffer.
    #[error("the kernel took {written} of {expected} bytes; the rest was not applied (hint: delete the session's group and retry)")]
    ShortWrite {
        /// Bytes written.
        written: usize,
        /// Bytes in the buffer.
        expected: usize,
    },
    /// A probe of the group is enabled in some instance or used by perf, so it can't be
    /// deleted.
    #[error("a probe of the group is still enabled or in use (hint: remove the instance that enables it, or stop the perf session using it, then retry)")]
    GroupBusy,
    /// The group still had events after deletion.
    #[error("{} event(s) of the group remain: {}", .remaining.len(), .remaining.join(", "))]
    GroupNotDeleted {
        /// The events left.
        remaining: Vec<String>,
    },
    /// A file of the instance is still open (a `trace_pipe` reader), so it can't be removed.
    #[error("a file of the instance is still open (hint: close trace_pipe readers first; `fuser -v` on the instance shows who holds it)")]
    InstanceBusy,
    /// An instance of that name exists already.
    #[error("the instance exists already (hint: another session uses this name; `tprobe clean` removes stale ones)")]
    InstanceExists,
    /// The event or group does not exist in this instance.
    #[error(
        "no such event or group (hint: define the probe first; `tprobe list` shows what exists)"
    )]
    NoSuchEvent,
    /// The kernel refused a filter expression.
    #[error("{}", filter_message(.filter, .log))]
    FilterRejected {
        /// The filter as given.
        filter: String,
        /// The instance's `error_log` entry for it, when logged.
        log: Option<Box<ErrorLogRecord>>,
    },
    /// The kernel refused a value written to a control file.
    #[error("the kernel refused `{value}` ({errno})")]
    ValueRejected {
        /// The value.
        value: String,
        /// The errno.
        errno: Errno,
    },
    /// Any other I/O failure.
    #[error(transparent)]
    Io(io::Error),
}

fn rejected_message(
    errno: &Errno,
    line: &Option<usize>,
    text: &Option<String>,
    log: &Option<Box<ErrorLogRecord>>,
) -> String {
    let mut m = String::from("the kernel rejected ");
    match (line, text) {
        (Some(n), Some(t)) => m.push_str(&format!("definition line {n} `{t}`")),
        (Some(n), None) => m.push_str(&format!("definition line {n}")),
        _ => m.push_str("a definition"),
    }
    // Errno's Display is already "EINVAL: Invalid argument".
    m.push_str(&format!(" ({errno})"));
    match log {
        Some(log) => {
            m.push_str(":\n");
            m.push_str(&log.to_string());
        }
        None => m.push_str(&format!(" (hint: {})", errno_hint(*errno))),
    }
    match line {
        Some(0) | None => {}
        Some(n) => m.push_str(&format!(
            "\n{n} earlier line(s) of the batch stay defined (delete the group to remove them)"
        )),
    }
    m
}

fn errno_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EINVAL => "the kernel logged nothing: check the syntax, e.g. a uprobe offset must start with a digit and a ref_ctr offset must match other probes on the same place",
        Errno::ENOENT => "the file, symbol or event does not exist",
        Errno::EEXIST => "an event of that name exists already, or a probe of another type has the same name",
        Errno::E2BIG => "too many arguments (at most 128) or an expression longer than 63 bytes",
        Errno::EADDRNOTAVAIL => "the symbol is not unique: add a module prefix or use an address",
        Errno::EBUSY => "the event is in use",
        Errno::ENOMEM => "the kernel is out of memory",
        Errno::EPERM | Errno::EACCES => "tracefs needs root; try sudo",
        _ => "see dmesg for details",
    }
}

fn filter_message(filter: &str, log: &Option<Box<ErrorLogRecord>>) -> String {
    match log {
        Some(log) => format!("the kernel rejected the filter `{filter}`:\n{log}"),
        None => format!(
            "the kernel rejected the filter `{filter}` (hint: use the kernel's filter syntax, e.g. `arg1 > 10 && comm == \"bash\"`, with field names from the event's format file)"
        ),
    }
}

impl TracefsErrorKind {
    /// Classifies an I/O error: permission (not root), lockdown (root, EPERM, lockdown
    /// active), read-only, or plain I/O.
    pub(crate) fn from_io(err: io::Error) -> Self {
        let is_root = nix::unistd::geteuid().is_root();
        match err.raw_os_error().map(Errno::from_raw) {
            Some(Errno::EPERM) if is_root => match lockdown_mode() {
                Some(mode) => Self::Lockdown { mode },
                None => Self::PermissionDenied { is_root },
            },
            Some(Errno::EPERM | Errno::EACCES) => Self::PermissionDenied { is_root },
            Some(Errno::EROFS) => Self::ReadOnly,
            _ => Self::Io(err),
        }
    }

    /// The errno behind this error, when there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::ProbeRejected { errno, .. } | Self::ValueRejected { errno, .. } => Some(*errno),
            Self::Io(e) => e.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }
}

/// The active lockdown mode, when one other than `none` is active.
fn lockdown_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    active_lockdown(&text).map(str::to_owned)
}

/// `none [integrity] confidentiality` → `Some("integrity")`; `[none] …` → `None`.
pub(crate) fn active_lockdown(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text.get(start..)?.find(']')?;
    let mode = text.get(start..end)?;
    (mode != "none").then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockdown_modes() {
        assert_eq!(active_lockdown("[none] integrity confidentiality\n"), None);
        assert_eq!(
            active_lockdown("none [integrity] confidentiality\n"),
            Some("integrity")
        );
        assert_eq!(active_lockdown("garbage"), None);
    }

    #[test]
    fn feature_missing_names_version() {
        let e = TracefsErrorKind::FeatureMissing(Feature::Ustring);
        let text = e.to_string();
        assert!(text.contains("ustring"), "{text}");
        assert!(text.contains("5.5"), "{text}");
    }

    #[test]
    fn not_mounted_gives_mount_command() {
        let text = TracefsErrorKind::NotMounted.to_string();
        assert!(text.contains("mount -t tracefs nodev /sys/kernel/tracing"));
    }
}
