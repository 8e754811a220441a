//! tprobe manages raw tracefs/ftrace probes without eBPF and decodes what the kernel
//! prints. As a library it does two things:
//!
//! - **Live**: [`Probes::builder`] defines probes from specs (the same specs `tprobe
//!   trace` takes) in a group and a private tracefs instance of their own, and hands out
//!   decoded events, as an iterator of [`OwnedEvent`] or through a callback of borrowed
//!   [`Record`]s. Stopping or dropping the [`RunningProbes`] removes everything.
//! - **Replay**: [`replay`] and [`replay_with_formats`] decode captured `trace_pipe` or
//!   `trace` text from any reader (this is `tprobe replay`).
//!
//! ```no_run
//! // Every line an interactive bash reads, as it returns from readline().
//! let probes = tprobe::Probes::builder()
//!     .spec("ur:/usr/bin/bash:readline line=+0($retval):string")
//!     .start()?;
//! for event in probes {
//!     if let Some(line) = event.field("line").and_then(|v| v.as_str()) {
//!         println!("{} ({}): {line}", event.comm, event.pid);
//!     }
//! }
//! # Ok::<(), tprobe::Error>(())
//! ```
//!
//! Live sessions need root (or the tracefs permissions) and a kernel with the probe
//! types used; they catch the stop signals while they run, so Ctrl-C still cleans up.
//!
//! The modules behind the facade are hidden from these docs: they are public for tprobe's
//! own binary, tests and fuzz targets, and may change without notice.

#![deny(missing_docs)]

mod probes;

pub use probes::replay;
pub use probes::replay_with_formats;
pub use probes::Error;
pub use probes::OwnedEvent;
pub use probes::OwnedValue;
pub use probes::Probes;
pub use probes::ProbesBuilder;
pub use probes::RunningProbes;
pub use probes::Summary;

pub use decode::Event;
pub use decode::Record;
pub use parse::Field;
pub use parse::RecordHeader;
pub use parse::Tgid;
pub use parse::Value;

#[doc(hidden)]
pub mod aggregate;
#[doc(hidden)]
pub mod decode;
#[doc(hidden)]
pub mod elf;
#[doc(hidden)]
pub mod kallsyms;
#[doc(hidden)]
pub mod output;
#[doc(hidden)]
pub mod parse;
#[doc(hidden)]
pub mod spec;
#[doc(hidden)]
pub mod stream;
#[doc(hidden)]
pub mod tracefs;

#[doc(hidden)]
pub mod cli;
