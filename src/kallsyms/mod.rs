//! Kernel symbols for kprobes: `/proc/kallsyms` into a [`KsymIndex`] (name → addresses,
//! address → `sym+off/size`), and the checks that decide whether a function can be
//! probed: `available_filter_functions` and the kprobe blacklist ([`ProbeContext`]).
//!
//! Everything here is a pure loader over a reader; only [`KsymIndex::load`] and
//! [`ProbeContext::load`] touch the filesystem. A symbol that is not there is a result
//! (`None`, an empty list or a [`Refusal`]), not a [`KallsymsError`].

#![warn(missing_docs)]

mod error;
pub(crate) mod glob;
mod ksym_index;
mod probe_context;
mod probe_target;
pub(crate) mod suggest;

pub use error::KallsymsError;
pub use ksym_index::Ksym;
pub use ksym_index::KsymIndex;
pub use ksym_index::SymOffset;
pub use ksym_index::SymType;
pub use probe_context::BlacklistEntry;
pub use probe_context::Check;
pub use probe_context::FilterFunctions;
pub use probe_context::KprobeBlacklist;
pub use probe_context::ProbeContext;
pub use probe_context::SkippedCheck;
pub use probe_target::Candidate;
pub use probe_target::Refusal;
pub use probe_target::RefusalKind;
pub use probe_target::SyscallAbi;
pub use probe_target::SyscallWrapper;
pub use probe_target::Target;
pub use probe_target::TargetWarning;

/// The kernel's symbol table.
pub const KALLSYMS: &str = "/proc/kallsyms";

/// Functions ftrace can hook, relative to the tracefs mount.
pub const AVAILABLE_FILTER_FUNCTIONS: &str = "available_filter_functions";

/// The kprobe blacklist, relative to the debugfs mount (it is not in tracefs).
pub const KPROBE_BLACKLIST: &str = "kprobes/blacklist";

/// Where debugfs is usually mounted.
pub const DEBUGFS: &str = "/sys/kernel/debug";

/// How many symbols a wildcard may expand to unless the caller raises it (perf's limit).
pub const DEFAULT_EXPAND_CAP: usize = 128;
