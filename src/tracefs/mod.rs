//! tracefs: finding the mount, feature detection, writing and deleting definitions,
//! private instances (enable, filter, pids, options), error_log, and the [`Session`] that
//! owns one run's group and instance and removes them however the run ends.
//!
//! Every file is reached through a [`Tracefs`] root, so tests can run against a temporary
//! directory laid out like tracefs. Definitions are only appended (`O_APPEND`): opening an
//! `*_events` file with truncation would delete every probe on the machine.

mod definitions;
mod error;
mod error_log;
mod features;
mod instance;
#[cfg(test)]
mod live;
mod names;
mod root;
mod session;
mod session_name;
mod teardown;
#[cfg(test)]
mod test_dir;

pub use definitions::check_line;
pub use definitions::EventsFile;
pub use definitions::MAX_LINE_LEN;
pub use error::LineFault;
pub use error::TracefsError;
pub use error::TracefsErrorKind;
pub use error::TracefsOp;
pub use error::TracefsResult;
pub use error_log::ErrorLogRecord;
pub use features::Feature;
pub use features::Features;
pub use instance::Instance;
pub use instance::TraceOption;
pub use names::MAX_NAME_LEN;
pub use root::Tracefs;
pub use root::DEBUGFS_TRACING;
pub use root::DEFAULT_TRACEFS;
pub use root::DYNAMIC_EVENTS;
pub use root::ERROR_LOG;
pub use root::INSTANCES;
pub use root::KPROBE_EVENTS;
pub use root::README;
pub use root::TRACE_PIPE;
pub use root::UPROBE_EVENTS;
pub use session::Session;
pub use session_name::is_owner_alive;
pub use session_name::proc_starttime;
pub use session_name::SessionName;
pub use teardown::stale_sessions;
pub use teardown::teardown;
pub use teardown::TeardownError;
pub use teardown::TeardownReport;
