//! JSON Lines, one object per record, keys in a stable order (design.md):
//!
//! ```json
//! {"ts":147.606363,"cpu":1,"pid":85,"tgid":85,"comm":"my app-1","flags":"d..1.","group":"tprobe_4242","event":"open","fields":{"path":"/tmp/a b"},"stack":["do_sys_openat2+0x0/0x100"]}
//! {"lost":1428,"cpu":1}
//! {"unparsed":"the line"}
//! ```

use std::io;
use std::io::Write;

use super::cursor::Cursor;
use super::cursor::SHORT;
use super::escape::json_bytes;
use super::escape::json_key;
use super::escape::json_name;
use super::escape::json_str;
use super::RecordWriter;
use crate::decode::Event;
use crate::decode::Record;
use crate::parse::bytes::hex_digit_run;
use crate::parse::Field;
use crate::parse::RecordHeader;
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
    formatter: JsonFormatter,
}

impl<W: Write> JsonLines<W> {
    /// A writer over `out`; it batches writes itself.
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(BATCH + 4096),
            formatter: JsonFormatter::new(),
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
        self.formatter.append_record(&mut self.buf, record);
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

/// Formats records as JSON Lines, keeping what records repeat rendered: each event's
/// group, name and field keys, and the last task's columns, which are most of the bytes
/// of a record. Each decoding worker holds its own.
#[derive(Debug, Default)]
pub(crate) struct JsonFormatter {
    /// Where a record is written before it is appended to the output; grows to fit.
    scratch: Vec<u8>,
    repeated: Repeated,
}

/// Room for a record at first: most are a few hundred bytes.
const FIRST_SCRATCH: usize = 4096;

impl JsonFormatter {
    /// A formatter with nothing rendered yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes one record and its newline at the start of `room`: the bytes
    /// [`append_record`](Self::append_record) appends, and how many. `None` (with `room`
    /// written over) when they do not fit.
    #[inline]
    pub(crate) fn write_into(&mut self, room: &mut [u8], record: &Record<'_>) -> Option<usize> {
        let len = room.len();
        let left = write_record(Cursor::new(room), Some(&mut self.repeated), record).room_left();
        // With no room left, something did not fit (or it all fit exactly: rare, and only
        // costs writing it again with more room).
        (left > 0).then_some(len - left)
    }

    /// Appends one record and its newline: the same bytes as [`append_record`].
    pub(crate) fn append_record(&mut self, out: &mut Vec<u8>, record: &Record<'_>) {
        let repeated = &mut self.repeated;
        append_written(out, &mut self.scratch, |cursor| {
            write_record(cursor, Some(&mut *repeated), record)
        });
    }
}

/// Appends one record and its newline, rendering every part afresh: for callers that
/// format a record now and then, with no [`JsonFormatter`] to keep.
pub(crate) fn append_record(out: &mut Vec<u8>, record: &Record<'_>) {
    // The scratch gets its room when the record does not fit in none.
    append_written(out, &mut Vec::new(), |cursor| {
        write_record(cursor, None, record)
    });
}

/// Appends to `out` what `write` writes, through `scratch`, which is made larger until it
/// fits.
fn append_written(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    mut write: impl for<'b> FnMut(Cursor<'b>) -> Cursor<'b>,
) {
    loop {
        let room = scratch.len();
        let left = write(Cursor::new(scratch)).room_left();
        // With no room left, something did not fit (or it all fit exactly: rare, and
        // only costs writing it again).
        if left > 0 {
            out.extend_from_slice(&scratch[..room - left]);
            return;
        }
        scratch.resize((room * 2).max(FIRST_SCRATCH), 0);
    }
}

/// Writes one record and its newline, the parts events repeat from `repeated` when
/// given.
fn write_record<'b>(
    mut out: Cursor<'b>,
    repeated: Option<&mut Repeated>,
    record: &Record<'_>,
) -> Cursor<'b> {
    match record {
        Record::Event(event) => {
            out = write_clock(out, &event.header);
            match repeated {
                Some(repeated) => {
                    out = repeated.last_task.write(out, &event.header);
                    let keys = repeated.events.keys_for(event.group, &event.name);
                    keys.head.write(&mut out);
                    out = keys.write_fields(out, &event.fields);
                }
                None => {
                    out = write_task(out, &event.header);
                    out = write_head(out, event.group, &event.name);
                    for (index, field) in event.fields.iter().enumerate() {
                        out = write_key(out, index, field.name);
                        out = write_value(out, &field.value);
                    }
                }
            }
            out = write_tail(out, event);
        }
        Record::Lost { cpu, count } => {
            out.put_literal(b"{\"lost\":");
            match count {
                Some(n) => out.put_unsigned(*n),
                None => out.put_literal(b"null"),
            }
            out.put_literal(b",\"cpu\":");
            out.put_unsigned(u64::from(*cpu));
            out.put_literal(b"}\n");
        }
        Record::Unparsed { line } => {
            out.put_literal(b"{\"unparsed\":");
            out = json_bytes(out, line);
            out.put_literal(b"}\n");
        }
    }
    out
}

/// The columns that open every event: `{"ts":…,"cpu":…`.
#[inline(always)]
fn write_clock<'b>(mut out: Cursor<'b>, h: &RecordHeader<'_>) -> Cursor<'b> {
    out.put_literal(b"{\"ts\":");
    write_json_number(&mut out, h.ts);
    out.put_literal(b",\"cpu\":");
    out.put_unsigned(u64::from(h.cpu));
    out
}

/// The columns of the event's task: `,"pid":…,"tgid":…,"comm":…,"flags":…`.
fn write_task<'b>(mut out: Cursor<'b>, h: &RecordHeader<'_>) -> Cursor<'b> {
    out.put_literal(b",\"pid\":");
    out.put_signed(i64::from(h.pid));
    match h.tgid {
        Some(Tgid::Known(tgid)) => {
            out.put_literal(b",\"tgid\":");
            out.put_signed(i64::from(tgid));
        }
        Some(Tgid::Unknown) => out.put_literal(b",\"tgid\":null"),
        None => {}
    }
    out.put_literal(b",\"comm\":");
    out = json_bytes(out, h.comm);
    if let Some(flags) = h.flags {
        out.put_literal(b",\"flags\":");
        out = json_name(out, flags);
    }
    out
}

/// What follows the columns up to the first field: `,"group":"G","event":"E","fields":{`.
fn write_head<'b>(mut out: Cursor<'b>, group: Option<&str>, name: &[u8]) -> Cursor<'b> {
    out.put_literal(b",\"group\":");
    match group {
        Some(group) => out = json_str(out, group),
        None => out.put_literal(b"null"),
    }
    out.put_literal(b",\"event\":");
    out = json_name(out, name);
    out.put_literal(b",\"fields\":{");
    out
}

/// The key of the field at `index`: `"name":`, after a comma unless it is the first.
fn write_key<'b>(mut out: Cursor<'b>, index: usize, name: &[u8]) -> Cursor<'b> {
    if index > 0 {
        out.put_byte(b',');
    }
    json_key(out, name)
}

/// What follows the fields: the stacks, the closing braces and the newline.
fn write_tail<'b>(mut out: Cursor<'b>, event: &Event<'_>) -> Cursor<'b> {
    out.put_byte(b'}');
    if !event.stack.is_empty() {
        out.put_literal(b",\"stack\":");
        out = write_frames(out, &event.stack);
    }
    if !event.ustack.is_empty() {
        out.put_literal(b",\"ustack\":");
        out = write_frames(out, &event.ustack);
    }
    out.put_literal(b"}\n");
    out
}

/// Inlined where fields are written (a call per value showed in profiles); arrays go
/// through [`write_array`].
#[inline(always)]
fn write_value<'b>(mut out: Cursor<'b>, value: &Value<'_>) -> Cursor<'b> {
    match value {
        Value::Signed(v) => out.put_signed(*v),
        Value::Unsigned(v) => out.put_unsigned(*v),
        Value::Hex(digits) => write_hex(&mut out, digits),
        Value::Str(b) | Value::Symbol(b) | Value::Text(b) => out = json_bytes(out, b),
        // Arrays of chars (a `char[]` field) are common: a printable one is copied as is.
        Value::Char(c @ (b' '..=b'~')) if !matches!(c, b'"' | b'\\') => {
            out.put_literal(&[b'"', *c, b'"']);
        }
        Value::Char(c) => out = json_bytes(out, &[*c]),
        Value::Fault => out.put_literal(b"null"),
        Value::Array(items) => out = write_array(out, items),
    }
    out
}

#[inline(never)]
fn write_array<'b>(mut out: Cursor<'b>, items: &[Value<'_>]) -> Cursor<'b> {
    out.put_byte(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_byte(b',');
        }
        out = write_value(out, item);
    }
    out.put_byte(b']');
    out
}

/// A hex value as a `"0x…"` string, whether or not the kernel printed the `0x` (old
/// kernels print `%lx` bare, syscalls print a zero as `0`). The parser makes a hex value
/// only of hex digits after an optional `0x`, so there is nothing to escape or check.
#[inline(always)]
fn write_hex(out: &mut Cursor<'_>, digits: &[u8]) {
    debug_assert!(
        digits
            .strip_prefix(b"0x")
            .unwrap_or(digits)
            .iter()
            .all(u8::is_ascii_hexdigit),
        "a hex value of other than hex digits"
    );
    if digits.starts_with(b"0x") {
        out.put_quoted(digits);
    } else {
        out.put_literal(b"\"0x");
        out.put(digits);
        out.put_byte(b'"');
    }
}

/// Frames as strings; a user frame printed `<00005647d826818f>` becomes
/// `"0x00005647d826818f"`.
fn write_frames<'b>(mut out: Cursor<'b>, frames: &[&[u8]]) -> Cursor<'b> {
    out.put_byte(b'[');
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.put_byte(b',');
        }
        match frame
            .strip_prefix(b"<")
            .and_then(|f| f.strip_suffix(b">"))
            .filter(|hex| !hex.is_empty() && hex_digit_run(hex) == hex.len())
        {
            Some(hex) => {
                out.put_literal(b"\"0x");
                out.put(hex);
                out.put_byte(b'"');
            }
            None => out = json_bytes(out, frame),
        }
    }
    out.put_byte(b']');
    out
}

/// The timestamp digits as a JSON number, exactly as printed (`147.606363`, `204`), with
/// leading zeros dropped because JSON forbids them.
#[inline(always)]
fn write_json_number(out: &mut Cursor<'_>, digits: &[u8]) {
    let zeros = digits.iter().take_while(|b| **b == b'0').count();
    let trimmed = &digits[zeros..];
    if trimmed.is_empty() || trimmed[0] == b'.' {
        out.put_byte(b'0');
    }
    out.put(trimmed);
}

/// The parts that records repeat, kept rendered. They are found again by content, never
/// by address: records may borrow from buffers that are later reused for other text.
#[derive(Debug, Default)]
struct Repeated {
    events: EventCache,
    last_task: LastTask,
}

/// Room for the task columns kept rendered: enough for any but a long `comm`.
const TASK_ROOM: usize = 64;

/// The task columns of the last event, rendered: events come in runs from one task (four
/// in five in the test capture), and these columns took a quarter of a record's time.
#[derive(Debug)]
struct LastTask {
    pid: i32,
    tgid: Option<Tgid>,
    comm: Recognised,
    flags: Option<Recognised>,
    /// What [`write_task`] wrote for them, in its first `len` bytes; `len` is 0 when
    /// nothing is kept.
    text: [u8; TASK_ROOM],
    len: usize,
}

impl Default for LastTask {
    fn default() -> Self {
        Self {
            pid: 0,
            tgid: None,
            comm: Recognised::new(b"", Fingerprint::of(b"")),
            flags: None,
            text: [0; TASK_ROOM],
            len: 0,
        }
    }
}

impl LastTask {
    /// Writes the task columns of `h`, from what is kept when it is the same task.
    #[inline(always)]
    fn write<'b>(&mut self, mut out: Cursor<'b>, h: &RecordHeader<'_>) -> Cursor<'b> {
        let same = self.len > 0
            && self.pid == h.pid
            && self.tgid == h.tgid
            && self.comm.matches(h.comm, Fingerprint::of(h.comm))
            && match (&self.flags, h.flags) {
                (Some(known), Some(flags)) => known.matches(flags, Fingerprint::of(flags)),
                (None, None) => true,
                _ => false,
            };
        if !same {
            self.keep(h);
            if self.len == 0 {
                return write_task(out, h);
            }
        }
        out.put_padded(&self.text, self.len);
        out
    }

    /// Renders the task columns of `h` and keeps them, unless they do not fit. Out of
    /// line: most events are of the task before.
    #[inline(never)]
    fn keep(&mut self, h: &RecordHeader<'_>) {
        let left = write_task(Cursor::new(&mut self.text), h).room_left();
        // With no room left, they did not fit (or fit exactly; either way not kept).
        self.len = if left == 0 { 0 } else { TASK_ROOM - left };
        self.pid = h.pid;
        self.tgid = h.tgid;
        self.comm = Recognised::new(h.comm, Fingerprint::of(h.comm));
        self.flags = h
            .flags
            .map(|flags| Recognised::new(flags, Fingerprint::of(flags)));
    }
}

/// The rendered parts of the events seen.
#[derive(Debug, Default)]
struct EventCache {
    /// By the fingerprint of the event's name (open addressing); empty until the first
    /// event.
    slots: Vec<Option<EventKeys>>,
}

/// Slots for events: a capture holds a few dozen kinds of events at most.
const EVENT_SLOTS: usize = 256;

/// Slots looked at for an event before its home slot is taken over: bounds the work when
/// a capture holds more kinds of events than the table does.
const EVENT_PROBES: usize = 8;

impl EventCache {
    /// The rendered parts of the event `group`/`name`, rendered now if not yet.
    fn keys_for(&mut self, group: Option<&str>, name: &[u8]) -> &mut EventKeys {
        if self.slots.is_empty() {
            self.slots.resize_with(EVENT_SLOTS, || None);
        }
        let name_print = Fingerprint::of(name);
        let home = name_print.slot(EVENT_SLOTS);
        let mut at = home;
        let mut known = false;
        for probe in 0..EVENT_PROBES {
            let slot = (home + probe) % EVENT_SLOTS;
            match &self.slots[slot] {
                Some(keys) if keys.is_for(group, name, name_print) => {
                    (at, known) = (slot, true);
                    break;
                }
                Some(_) => {}
                None => {
                    at = slot;
                    break;
                }
            }
        }
        let entry = &mut self.slots[at];
        if !known {
            // Vacant, or another event's when all probed slots are taken.
            *entry = None;
        }
        entry.get_or_insert_with(|| EventKeys::new(group, name, name_print))
    }
}

/// What every record of one event repeats, rendered.
#[derive(Debug)]
struct EventKeys {
    group: Option<Recognised>,
    name: Recognised,
    /// `,"group":"G","event":"E","fields":{`
    head: Rendered,
    /// The field keys by position: `"name":`, with a comma before all but the first.
    /// Records of an event almost always have the same fields; when one does not, the
    /// key at that position is rendered again.
    fields: Vec<FieldKey>,
}

impl EventKeys {
    fn new(group: Option<&str>, name: &[u8], name_print: Fingerprint) -> Self {
        Self {
            group: group.map(|g| Recognised::new(g.as_bytes(), Fingerprint::of(g.as_bytes()))),
            name: Recognised::new(name, name_print),
            head: Rendered::new(|out| write_head(out, group, name)),
            fields: Vec::new(),
        }
    }

    #[inline]
    fn is_for(&self, group: Option<&str>, name: &[u8], name_print: Fingerprint) -> bool {
        self.name.matches(name, name_print)
            && match (&self.group, group) {
                (Some(known), Some(group)) => {
                    known.matches(group.as_bytes(), Fingerprint::of(group.as_bytes()))
                }
                (None, None) => true,
                _ => false,
            }
    }

    /// Writes the fields, with the keys rendered before, rendering those not yet seen at
    /// their position.
    #[inline]
    fn write_fields<'b>(&mut self, mut out: Cursor<'b>, fields: &[Field<'_>]) -> Cursor<'b> {
        for (index, field) in fields.iter().enumerate() {
            let print = Fingerprint::of(field.name);
            match self.fields.get(index) {
                Some(known) if known.name.matches(field.name, print) => known.key.write(&mut out),
                _ => {
                    let key = FieldKey::new(index, field.name, print);
                    key.key.write(&mut out);
                    // Fields come in order, so `index` is at most the number known.
                    if index < self.fields.len() {
                        self.fields[index] = key;
                    } else {
                        self.fields.push(key);
                    }
                }
            }
            out = write_value(out, &field.value);
        }
        out
    }
}

/// One field's key at one position.
#[derive(Debug)]
struct FieldKey {
    name: Recognised,
    key: Rendered,
}

impl FieldKey {
    fn new(index: usize, name: &[u8], print: Fingerprint) -> Self {
        Self {
            name: Recognised::new(name, print),
            key: Rendered::new(|out| write_key(out, index, name)),
        }
    }
}

/// The bytes a fingerprint holds whole.
const FINGERPRINT_WHOLE: usize = 16;

/// A name's length with its first and last eight bytes (zero-filled when shorter): all of
/// a name up to sixteen bytes, so comparing fingerprints compares such names in a few
/// instructions, where comparing slices calls `memcmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    first: u64,
    last: u64,
}

impl Fingerprint {
    #[inline(always)]
    fn of(bytes: &[u8]) -> Self {
        let len = bytes.len();
        let (first, last) = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(first), Some(last)) => (u64::from_le_bytes(*first), u64::from_le_bytes(*last)),
            _ => match (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
                (Some(first), Some(last)) => (
                    u64::from(u32::from_le_bytes(*first)),
                    u64::from(u32::from_le_bytes(*last)),
                ),
                _ => {
                    // At most three bytes: the first, middle and last are all of them.
                    let byte = |at: usize| bytes.get(at).map_or(0, |b| u64::from(*b));
                    let all = byte(0) | byte(len / 2) << 8 | byte(len.wrapping_sub(1)) << 16;
                    (all, 0)
                }
            },
        };
        Self { len, first, last }
    }

    /// A slot in a table of `slots` (a power of two).
    #[inline]
    fn slot(self, slots: usize) -> usize {
        let mixed = (self.first ^ self.last.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> 32) as usize % slots
    }
}

/// Bytes to recognise again: by fingerprint, and in full only when it does not hold them
/// whole.
#[derive(Debug)]
struct Recognised {
    print: Fingerprint,
    /// The bytes when longer than a fingerprint holds; empty otherwise.
    long: Box<[u8]>,
}

impl Recognised {
    fn new(bytes: &[u8], print: Fingerprint) -> Self {
        let long = if bytes.len() > FINGERPRINT_WHOLE {
            bytes.into()
        } else {
            Box::default()
        };
        Self { print, long }
    }

    /// Whether these are `bytes`, whose fingerprint is `print`.
    #[inline(always)]
    fn matches(&self, bytes: &[u8], print: Fingerprint) -> bool {
        self.print == print && (print.len <= FINGERPRINT_WHOLE || *self.long == *bytes)
    }
}

/// JSON text rendered once and copied for every record. Its start is kept in a block
/// copied whole, with fixed-size moves: a field key fits in it.
#[derive(Debug)]
struct Rendered {
    first: [u8; SHORT],
    /// What does not fit in `first`.
    rest: Box<[u8]>,
    len: usize,
}

impl Rendered {
    /// What `write` writes.
    fn new(write: impl for<'b> FnMut(Cursor<'b>) -> Cursor<'b>) -> Self {
        let mut text = Vec::new();
        // Room for a key or a head; `append_written` makes more when one is longer.
        let mut scratch = vec![0; 2 * SHORT];
        append_written(&mut text, &mut scratch, write);
        let (start, rest) = text.split_at(text.len().min(SHORT));
        let mut first = [0; SHORT];
        first[..start.len()].copy_from_slice(start);
        Self {
            first,
            rest: rest.into(),
            len: text.len(),
        }
    }

    #[inline(always)]
    fn write(&self, out: &mut Cursor<'_>) {
        out.put_padded(&self.first, self.len);
        if !self.rest.is_empty() {
            out.put(&self.rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn header(comm: &[u8]) -> RecordHeader<'_> {
        RecordHeader {
            comm,
            pid: 85,
            tgid: Some(Tgid::Known(85)),
            cpu: 1,
            flags: Some(b"d..1."),
            ts: b"0147.606363",
        }
    }

    fn event<'a>(group: Option<&'a str>, name: &'a [u8], fields: &[&'a [u8]]) -> Record<'a> {
        Record::Event(Event {
            header: header(b"my app-1"),
            group,
            name: Cow::Borrowed(name),
            fields: fields
                .iter()
                .enumerate()
                .map(|(i, name)| Field {
                    name,
                    value: Value::Unsigned(i as u64),
                })
                .collect(),
            guessed: false,
            stack: Vec::new(),
            ustack: Vec::new(),
        })
    }

    /// Each record formatted on its own, with nothing kept.
    fn uncached(records: &[Record<'_>]) -> String {
        let mut out = Vec::new();
        for record in records {
            append_record(&mut out, record);
        }
        String::from_utf8(out).unwrap()
    }

    fn cached(formatter: &mut JsonFormatter, records: &[Record<'_>]) -> String {
        let mut out = Vec::new();
        for record in records {
            formatter.append_record(&mut out, record);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn interleaved_events_match_the_uncached_output() {
        // Names alike in their first and last eight bytes, so that only the full
        // comparison of long names tells them apart.
        let long_a = b"sys_enter_aaaa_openat_at";
        let long_b = b"sys_enter_bbbb_openat_at";
        let records = [
            event(Some("tprobe_1"), b"open", &[b"path", b"flags"]),
            event(Some("tprobe_2"), b"open", &[b"path", b"flags"]),
            event(None, b"open", &[b"path", b"flags"]),
            event(Some("tprobe_1"), b"close", &[b"fd"]),
            event(Some("tprobe_1"), b"open", &[b"path", b"mode", b"flags"]),
            event(Some("tprobe_1"), b"open", &[b"flags"]),
            event(Some("tprobe_1"), b"open", &[]),
            event(
                Some("syscalls"),
                long_a,
                &[b"a_long_field_name_of_many_bytes", b"b"],
            ),
            event(
                Some("syscalls"),
                long_b,
                &[b"a_long_field_xame_of_many_bytes", b"b"],
            ),
            event(Some("g\"q"), b"we\\ird\n", &[b"na\"me", b"t\tab", b"\xff"]),
            Record::Lost {
                cpu: 3,
                count: Some(12),
            },
            event(Some("tprobe_1"), b"close", &[b"fd"]),
            Record::Unparsed {
                line: b"a \"line\"",
            },
            event(Some("tprobe_1"), b"open", &[b"path", b"flags"]),
            event(Some("tprobe_2"), b"open", &[b"path", b"flags"]),
            event(
                Some("syscalls"),
                long_b,
                &[b"a_long_field_name_of_many_bytes", b"b"],
            ),
            event(
                Some("syscalls"),
                long_a,
                &[b"a_long_field_name_of_many_bytes", b"b"],
            ),
        ];
        let expected = uncached(&records);
        assert!(expected.contains(r#""group":"g\"q","event":"we\\ird\n","fields":{"na\"me":0"#));
        let mut formatter = JsonFormatter::new();
        // Twice: once rendering, once from what was rendered.
        assert_eq!(cached(&mut formatter, &records), expected);
        assert_eq!(cached(&mut formatter, &records), expected);
    }

    #[test]
    fn task_columns_match_the_uncached_output() {
        let long_comm = [b'c'; 2 * TASK_ROOM];
        let headers = [
            header(b"my app-1"),
            RecordHeader {
                pid: 86,
                ..header(b"my app-1")
            },
            RecordHeader {
                tgid: Some(Tgid::Known(84)),
                ..header(b"my app-1")
            },
            RecordHeader {
                tgid: Some(Tgid::Unknown),
                ..header(b"my app-1")
            },
            RecordHeader {
                tgid: None,
                ..header(b"my app-1")
            },
            header(b"my app-2"),
            header(b"q\"c=1\tx"),
            header(&long_comm),
            RecordHeader {
                flags: Some(b"d..2."),
                ..header(b"my app-1")
            },
            RecordHeader {
                flags: None,
                ..header(b"my app-1")
            },
            header(b"my app-1"),
        ];
        // Each task twice in a row (rendered, then from what is kept), and the first
        // one between the others, so that each column is the only one that changes.
        let records: Vec<Record<'_>> = headers
            .iter()
            .flat_map(|h| [h, h, &headers[0], &headers[0]])
            .map(|h| {
                let Record::Event(mut e) = event(Some("g"), b"e", &[b"f"]) else {
                    unreachable!()
                };
                e.header = *h;
                Record::Event(e)
            })
            .collect();
        let expected = uncached(&records);
        assert!(expected.contains(r#""comm":"q\"c=1\tx""#));
        let mut formatter = JsonFormatter::new();
        assert_eq!(cached(&mut formatter, &records), expected);
        assert_eq!(cached(&mut formatter, &records), expected);
    }

    #[test]
    fn more_kinds_of_events_than_slots() {
        let names: Vec<String> = (0..3 * EVENT_SLOTS).map(|i| format!("event_{i}")).collect();
        let fields: Vec<String> = (0..3 * EVENT_SLOTS).map(|i| format!("f{i}")).collect();
        let records: Vec<Record<'_>> = names
            .iter()
            .zip(&fields)
            .map(|(name, field)| event(Some("g"), name.as_bytes(), &[field.as_bytes()]))
            .collect();
        let expected = uncached(&records);
        let mut formatter = JsonFormatter::new();
        assert_eq!(cached(&mut formatter, &records), expected);
        assert_eq!(cached(&mut formatter, &records), expected);
    }

    /// Records may borrow from a buffer that is then reused for other text: the same
    /// address with other bytes is another name.
    #[test]
    fn names_are_recognised_by_content_not_address() {
        let mut formatter = JsonFormatter::new();
        let mut text = *b"open path";
        for (name, field) in [(&b"open"[..], &b"path"[..]), (b"shut", b"mode")] {
            text[..4].copy_from_slice(name);
            text[5..].copy_from_slice(field);
            let record = event(Some("g"), &text[..4], &[&text[5..]]);
            assert_eq!(
                cached(&mut formatter, std::slice::from_ref(&record)),
                uncached(std::slice::from_ref(&record))
            );
        }
    }

    #[test]
    fn records_longer_than_the_first_scratch_fit() {
        let long = vec![b'x'; 3 * FIRST_SCRATCH];
        let escaped = vec![b'"'; FIRST_SCRATCH];
        let mut record = event(Some("g"), b"e", &[b"s", b"t"]);
        if let Record::Event(event) = &mut record {
            event.fields[0].value = Value::Str(&long);
            event.fields[1].value = Value::Str(&escaped);
        }
        let records = [record, Record::Unparsed { line: &long }];
        let expected = uncached(&records);
        assert!(expected.len() > 8 * FIRST_SCRATCH);
        assert_eq!(cached(&mut JsonFormatter::new(), &records), expected);
    }

    /// Every kind of value and column, checked against a JSON reader.
    #[test]
    fn values_and_columns_read_back() {
        let record = Record::Event(Event {
            header: RecordHeader {
                comm: "h\u{e9}llo".as_bytes(),
                pid: -1,
                tgid: Some(Tgid::Unknown),
                cpu: u32::MAX,
                flags: None,
                ts: b"000.5",
            },
            group: None,
            name: Cow::Borrowed(b"e"),
            fields: vec![
                Field {
                    name: b"s",
                    value: Value::Signed(i64::MIN),
                },
                Field {
                    name: b"u",
                    value: Value::Unsigned(u64::MAX),
                },
                Field {
                    name: b"h",
                    value: Value::Hex(b"1f"),
                },
                Field {
                    name: b"c",
                    value: Value::Char(0),
                },
                Field {
                    name: b"a",
                    value: Value::Array(vec![
                        Value::Fault,
                        Value::Hex(b"0x0"),
                        Value::Str(b""),
                        Value::Char(b'a'),
                        Value::Char(b'"'),
                        Value::Char(b'\\'),
                        Value::Char(b'~'),
                        Value::Char(0x7f),
                    ]),
                },
            ],
            guessed: false,
            stack: vec![b"do_sys_openat2+0x0/0x100"],
            ustack: vec![b"<00005647d826818f>", b"<not hex>"],
        });
        let mut out = Vec::new();
        JsonFormatter::new().append_record(&mut out, &record);
        let line = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "ts": 0.5, "cpu": u32::MAX, "pid": -1, "tgid": null, "comm": "h\u{e9}llo",
                "group": null, "event": "e",
                "fields": {
                    "s": i64::MIN, "u": u64::MAX, "h": "0x1f", "c": "\u{0}",
                    "a": [null, "0x0", "", "a", "\"", "\\", "~", "\u{7f}"],
                },
                "stack": ["do_sys_openat2+0x0/0x100"],
                "ustack": ["0x00005647d826818f", "<not hex>"],
            })
        );
        assert!(line.starts_with("{\"ts\":0.5,"), "{line}");
        assert!(line.ends_with("}\n"));
    }
}
