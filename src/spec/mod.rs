//! Probe specs: the user's shorthand and the kernel's own syntax, parsed and validated
//! into definitions the kernel accepts.
//!
//! [`ProbeSpec::parse`] reads one spec (see its docs for the forms), reporting every
//! error with a byte span ([`SpecParseError::render`] draws a caret under each).
//! [`ProbeDef`] is one definition: `Display` prints the kernel line and
//! [`ProbeDef::parse`] reads it back; [`ProbeDef::to_kernel_line`] is the checked way
//! to get the line for a tracefs file. [`assign_names`] puts a session's specs in its
//! group with unique event names. Everything here is pure: no I/O, no panics.

mod addr;
mod error;
mod fetch_arg;
mod fetch_type;
mod names;
mod number;
mod parser;
mod place;
mod probe_arg;
mod probe_def;
mod probe_kind;
mod probe_spec;

pub use addr::FileOffset;
pub use addr::KernelAddr;
pub use error::SpecError;
pub use error::SpecErrorKind;
pub use error::SpecParseError;
pub use fetch_arg::BtfStep;
pub use fetch_arg::FetchArg;
pub use fetch_type::BaseType;
pub use fetch_type::FetchType;
pub use fetch_type::IntWidth;
pub use place::Place;
pub use place::UprobeLocation;
pub use probe_arg::ProbeArg;
pub use probe_def::ProbeDef;
pub use probe_kind::ProbeKind;
pub use probe_spec::assign_names;
pub use probe_spec::ProbeSpec;
pub use probe_spec::TracepointRef;

pub(crate) use names::check_event_name;
pub(crate) use names::check_group_name;
