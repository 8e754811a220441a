//! The kinds of dynamic probe the kernel defines.

use std::fmt;

/// Which kind of dynamic probe a definition creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeKind {
    /// A kernel probe at a symbol (+offset) or address (`p`).
    Kprobe,
    /// A kernel function return probe (`r`, or `p … SYM%return`).
    Kretprobe,
    /// A user-space probe at a file offset (`p PATH:OFFSET`).
    Uprobe,
    /// A user-space function return probe (`r PATH:OFFSET`).
    Uretprobe,
    /// A function entry probe through fprobe (`f SYM`, Linux 6.5).
    Fentry,
    /// A function exit probe through fprobe (`f SYM%return`, Linux 6.5).
    Fexit,
    /// An event probe on an existing trace event (`e SYSTEM.EVENT`, Linux 5.15).
    Eprobe,
    /// A tracepoint probe with BTF arguments (`t TRACEPOINT`, Linux 6.5).
    Tprobe,
}

impl ProbeKind {
    /// Whether the probe fires on function return (`$retval` is available).
    pub fn is_return(self) -> bool {
        matches!(self, Self::Kretprobe | Self::Uretprobe | Self::Fexit)
    }

    /// Whether the probe is in user space (uprobe or uretprobe).
    pub fn is_user(self) -> bool {
        matches!(self, Self::Uprobe | Self::Uretprobe)
    }

    /// Whether the definition goes to `dynamic_events` only (fprobe, eprobe, tprobe),
    /// rather than also `kprobe_events` / `uprobe_events`.
    pub fn needs_dynamic_events(self) -> bool {
        matches!(
            self,
            Self::Fentry | Self::Fexit | Self::Eprobe | Self::Tprobe
        )
    }

    /// Whether registers (`%REG`) can be fetched: only kprobes and uprobes have pt_regs.
    pub(crate) fn has_regs(self) -> bool {
        matches!(
            self,
            Self::Kprobe | Self::Kretprobe | Self::Uprobe | Self::Uretprobe
        )
    }

    /// The plural name used in messages.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Self::Kprobe => "kprobes",
            Self::Kretprobe => "kretprobes",
            Self::Uprobe => "uprobes",
            Self::Uretprobe => "uretprobes",
            Self::Fentry | Self::Fexit => "fprobes",
            Self::Eprobe => "eprobes",
            Self::Tprobe => "tracepoint probes",
        }
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kprobe => "kprobe",
            Self::Kretprobe => "kretprobe",
            Self::Uprobe => "uprobe",
            Self::Uretprobe => "uretprobe",
            Self::Fentry => "fprobe",
            Self::Fexit => "fprobe (exit)",
            Self::Eprobe => "eprobe",
            Self::Tprobe => "tracepoint probe",
        })
    }
}
