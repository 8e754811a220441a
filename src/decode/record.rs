//! What the decoder hands out: events with their fields and stacks, lost-event markers,
//! and lines it could not read.

use std::borrow::Cow;

use crate::parse::Field;
use crate::parse::RecordHeader;

/// A decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The context columns: comm, pid, tgid, cpu, flags, timestamp.
    pub header: RecordHeader<'a>,
    /// The group, when the event's format was known (text does not print it).
    pub group: Option<&'a str>,
    /// The event name: `open`, `sys_enter_openat`, `function`.
    pub name: Cow<'a, [u8]>,
    /// The fields in print order.
    pub fields: Vec<Field<'a>>,
    /// Whether the fields were split without a format file, by guessing.
    pub guessed: bool,
    /// Kernel stack frames (`<stack trace>` that followed the event), innermost first.
    pub stack: Vec<&'a [u8]>,
    /// User stack frames (`<user stack trace>`), as printed (`<00005647d826818f>`).
    pub ustack: Vec<&'a [u8]>,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// An event.
    Event(Event<'a>),
    /// `CPU:N [LOST M EVENTS]`: the kernel dropped events before the next record of `cpu`.
    Lost {
        /// The CPU.
        cpu: u32,
        /// How many, when the kernel knew.
        count: Option<u64>,
    },
    /// A line the decoder could not read, kept whole.
    Unparsed {
        /// The line (several joined by `\n` if they arrived as one record).
        line: &'a [u8],
    },
}
