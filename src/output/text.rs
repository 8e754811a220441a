//! Human-readable text, one line per event (strings escaped so a newline in a value never
//! breaks a line), stack frames indented below it:
//!
//! ```text
//! 147.606363 [001] my app-1-85 tprobe_4242/open: path="/tmp/a b" n=-5
//!     => do_sys_openat2+0x0/0x100
//! ```

use std::io;
use std::io::Write;

use super::escape::text_bytes;
use super::RecordWriter;
use crate::decode::Event;
use crate::decode::Record;
use crate::parse::Tgid;
use crate::parse::Value;

/// Writes records as text to `W`.
#[derive(Debug)]
pub struct Text<W: Write> {
    out: W,
    colour: bool,
}

impl<W: Write> Text<W> {
    /// A writer over `out` (buffer it).
    pub fn new(out: W) -> Self {
        Self { out, colour: false }
    }

    /// Highlights each event's name with ANSI escapes (for a terminal).
    pub fn with_colour(mut self) -> Self {
        self.colour = true;
        self
    }
}

/// Bold cyan, then back to the default: around `GROUP/EVENT` with colour.
const EVENT_STYLE: &[u8] = b"\x1b[1;36m";
const RESET: &[u8] = b"\x1b[0m";

impl<W: Write> RecordWriter for Text<W> {
    fn write_record(&mut self, record: &Record<'_>) -> io::Result<()> {
        let out = &mut self.out;
        match record {
            Record::Event(event) => write_event(out, event, self.colour),
            Record::Lost { cpu, count } => match count {
                Some(n) => writeln!(out, "CPU {cpu}: LOST {n} events"),
                None => writeln!(out, "CPU {cpu}: LOST events (count unknown)"),
            },
            Record::Unparsed { line } => {
                out.write_all(b"unparsed: ")?;
                text_bytes(out, line)?;
                out.write_all(b"\n")
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_event(out: &mut impl Write, event: &Event<'_>, colour: bool) -> io::Result<()> {
    let h = &event.header;
    // itoa, not write!: this runs once per live event and fmt showed in profiles.
    let mut numbers = itoa::Buffer::new();
    out.write_all(h.ts)?;
    // ` [001] ` in one piece, zero-padded to three digits as the kernel prints it.
    let cpu = numbers.format(h.cpu).as_bytes();
    let mut column = *b" [000] ";
    match column.get_mut(5usize.saturating_sub(cpu.len())..5) {
        Some(digits) if cpu.len() <= 3 => {
            digits.copy_from_slice(cpu);
            out.write_all(&column)?;
        }
        _ => {
            out.write_all(b" [")?;
            out.write_all(cpu)?;
            out.write_all(b"] ")?;
        }
    }
    text_bytes(out, h.comm)?;
    out.write_all(b"-")?;
    out.write_all(numbers.format(h.pid).as_bytes())?;
    match h.tgid {
        Some(Tgid::Known(tgid)) if tgid != h.pid => write!(out, "({tgid})")?,
        _ => {}
    }
    out.write_all(b" ")?;
    if colour {
        out.write_all(EVENT_STYLE)?;
    }
    if let Some(group) = event.group {
        out.write_all(group.as_bytes())?;
        out.write_all(b"/")?;
    }
    text_bytes(out, &event.name)?;
    if colour {
        out.write_all(RESET)?;
    }
    out.write_all(b":")?;
    for field in &event.fields {
        out.write_all(b" ")?;
        text_bytes(out, field.name)?;
        out.write_all(b"=")?;
        write_value(out, &field.value)?;
    }
    out.write_all(b"\n")?;
    for frame in &event.stack {
        out.write_all(b"    => ")?;
        text_bytes(out, frame)?;
        out.write_all(b"\n")?;
    }
    for frame in &event.ustack {
        out.write_all(b"    u=> ")?;
        text_bytes(out, frame)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub(crate) fn write_value(out: &mut impl Write, value: &Value<'_>) -> io::Result<()> {
    match value {
        Value::Signed(v) => out.write_all(itoa::Buffer::new().format(*v).as_bytes()),
        Value::Unsigned(v) => out.write_all(itoa::Buffer::new().format(*v).as_bytes()),
        Value::Hex(digits) => {
            if !digits.starts_with(b"0x") {
                out.write_all(b"0x")?;
            }
            text_bytes(out, digits)
        }
        Value::Symbol(b) | Value::Text(b) => text_bytes(out, b),
        Value::Str(b) => {
            out.write_all(b"\"")?;
            text_bytes(out, b)?;
            out.write_all(b"\"")
        }
        Value::Char(c) => {
            out.write_all(b"'")?;
            text_bytes(out, &[*c])?;
            out.write_all(b"'")
        }
        Value::Fault => out.write_all(b"(fault)"),
        Value::Array(items) => {
            out.write_all(b"{")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_value(out, item)?;
            }
            out.write_all(b"}")
        }
    }
}
