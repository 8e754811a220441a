//! JSON Lines, one object per record, keys in a stable order (design.md):
//!
//! ```json
//! {"ts":147.606363,"cpu":1,"pid":85,"tgid":85,"comm":"my app-1","flags":"d..1.","group":"tprobe_4242","event":"open","fields":{"path":"/tmp/a b"},"stack":["do_sys_openat2+0x0/0x100"]}
//! {"lost":1428,"cpu":1}
//! {"unparsed":"the line"}
//! ```

use std::io;
use std::io::Write;

use super::escape::json_bytes;
use super::escape::json_key;
use super::escape::json_name;
use super::escape::json_str;
use super::RecordWriter;
use crate::decode::Event;
use crate::decode::Record;
use crate::parse::Tgid;
use crate::parse::Value;

/// Bytes gathered before they are written out: records are appended to memory, which is
/// cheaper than many small writes.
const BATCH: usize = 64 * 1024;

/// Writes records as JSON Lines to `W`.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    /// A writer over `out`; it batches writes itself.
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(BATCH + 4096),
        }
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> RecordWriter for JsonLines<W> {
    fn write_record(&mut self, record: &Record<'_>) -> io::Result<()> {
        append_record(&mut self.buf, record);
        if self.buf.len() >= BATCH {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// Appends one record and its newline.
pub(crate) fn append_record(out: &mut Vec<u8>, record: &Record<'_>) {
    let mut numbers = itoa::Buffer::new();
    match record {
        Record::Event(event) => append_event(out, event),
        Record::Lost { cpu, count } => {
            out.extend_from_slice(b"{\"lost\":");
            match count {
                Some(n) => out.extend_from_slice(numbers.format(*n).as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"cpu\":");
            out.extend_from_slice(numbers.format(*cpu).as_bytes());
            out.push(b'}');
        }
        Record::Unparsed { line } => {
            out.extend_from_slice(b"{\"unparsed\":");
            json_bytes(out, line);
            out.push(b'}');
        }
    }
    out.push(b'\n');
}

fn append_event(out: &mut Vec<u8>, event: &Event<'_>) {
    // Room for the columns and keys up front, so the many small appends below do not
    // grow the buffer one by one.
    out.reserve(256);
    let h = &event.header;
    let mut numbers = itoa::Buffer::new();
    out.extend_from_slice(b"{\"ts\":");
    append_json_number(out, h.ts);
    out.extend_from_slice(b",\"cpu\":");
    out.extend_from_slice(numbers.format(h.cpu).as_bytes());
    out.extend_from_slice(b",\"pid\":");
    out.extend_from_slice(numbers.format(h.pid).as_bytes());
    match h.tgid {
        Some(Tgid::Known(tgid)) => {
            out.extend_from_slice(b",\"tgid\":");
            out.extend_from_slice(numbers.format(tgid).as_bytes());
        }
        Some(Tgid::Unknown) => out.extend_from_slice(b",\"tgid\":null"),
        None => {}
    }
    out.extend_from_slice(b",\"comm\":");
    json_bytes(out, h.comm);
    if let Some(flags) = h.flags {
        out.extend_from_slice(b",\"flags\":");
        json_name(out, flags);
    }
    out.extend_from_slice(b",\"group\":");
    match event.group {
        Some(group) => json_str(out, group),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"event\":");
    json_name(out, &event.name);
    out.extend_from_slice(b",\"fields\":{");
    for (i, field) in event.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_key(out, field.name);
        append_value(out, &field.value);
    }
    out.push(b'}');
    if !event.stack.is_empty() {
        out.extend_from_slice(b",\"stack\":");
        append_frames(out, &event.stack);
    }
    if !event.ustack.is_empty() {
        out.extend_from_slice(b",\"ustack\":");
        append_frames(out, &event.ustack);
    }
    out.push(b'}');
}

fn append_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::Signed(v) => out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
        Value::Unsigned(v) => out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes()),
        Value::Hex(digits) => append_hex(out, digits),
        Value::Str(b) | Value::Symbol(b) | Value::Text(b) => json_bytes(out, b),
        Value::Char(c) => json_bytes(out, &[*c]),
        Value::Fault => out.extend_from_slice(b"null"),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                append_value(out, item);
            }
            out.push(b']');
        }
    }
}

/// A hex value as a `"0x…"` string, whether or not the kernel printed the `0x` (old
/// kernels print `%lx` bare, syscalls print a zero as `0`).
fn append_hex(out: &mut Vec<u8>, digits: &[u8]) {
    if digits.starts_with(b"0x") {
        json_name(out, digits);
    } else {
        out.extend_from_slice(b"\"0x");
        out.extend_from_slice(digits);
        out.push(b'"');
    }
}

/// Frames as strings; a user frame printed `<00005647d826818f>` becomes
/// `"0x00005647d826818f"`.
fn append_frames(out: &mut Vec<u8>, frames: &[&[u8]]) {
    out.push(b'[');
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match frame
            .strip_prefix(b"<")
            .and_then(|f| f.strip_suffix(b">"))
            .filter(|hex| !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit))
        {
            Some(hex) => {
                out.extend_from_slice(b"\"0x");
                out.extend_from_slice(hex);
                out.push(b'"');
            }
            None => json_bytes(out, frame),
        }
    }
    out.push(b']');
}

/// The timestamp digits as a JSON number, exactly as printed (`147.606363`, `204`), with
/// leading zeros dropped because JSON forbids them.
fn append_json_number(out: &mut Vec<u8>, digits: &[u8]) {
    let zeros = digits.iter().take_while(|b| **b == b'0').count();
    let trimmed = &digits[zeros..];
    if trimmed.is_empty() || trimmed[0] == b'.' {
        out.push(b'0');
    }
    out.extend_from_slice(trimmed);
}
