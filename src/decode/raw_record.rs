//! Decodes binary ring-buffer records (the payload of a [`PageEvent`](crate::parse::PageEvent))
//! by their format files into the same [`Record`]s the text decoder makes, so the
//! writers print the same JSON for the same event.
//!
//! The text path's fields come from the print fmt ([`Template`]): which fields, in which
//! order, and how each value looks (`%d`, `0x%x`, `\"%s\"`). A [`RawPlan`] is that
//! template resolved against the format file's offsets once per event ID; decoding a
//! record then only reads integers and slices. Values the kernel would print (hex, the
//! probe address column, the timestamp, the flags column) are formatted into a scratch
//! buffer the decoder reuses, and the field vector is recycled between records, so the
//! hot path does not allocate (array fields excepted: [`Value::Array`] owns a vector).

use std::borrow::Cow;
use std::collections::HashMap;

use super::event_catalog::QuickHashBuild;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use super::event_catalog::CatalogEntry;
use super::event_catalog::EventCatalog;
use super::record::Event;
use super::record::Record;
use crate::kallsyms::KsymIndex;
use crate::parse::Field;
use crate::parse::FormatField;
use crate::parse::RecordHeader;
use crate::parse::Segment;
use crate::parse::StackKind;
use crate::parse::Value;
use crate::parse::ValueKind;
use crate::spec::KernelAddr;

/// Addresses from here up are the kernel's (x86-64 and arm64 with 48-bit VAs).
const KERNEL_SPACE: u64 = 0xffff_8000_0000_0000;

/// Shown for a pid `saved_cmdlines` does not know, as the kernel prints it.
const UNKNOWN_COMM: &[u8] = b"<...>";

/// How often a miss may reread `saved_cmdlines`: a pid the kernel never saved must not
/// cost a file read per event.
const CMDLINES_REFRESH: Duration = Duration::from_millis(200);

/// How one field's bytes are laid out in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `count` integers of `elem` bytes.
    Ints { elem: usize, count: usize },
    /// `count` `__data_loc` words (a string, or `string[N]`).
    DataLoc { count: usize },
    /// A fixed `char[N]` printed as a string: up to the first NUL.
    FixedStr,
}

/// One field as the text path would print it, resolved to its bytes.
#[derive(Debug, Clone)]
struct PlannedField<'c> {
    name: &'c [u8],
    kind: ValueKind,
    /// Whether the template prints it as `{a,b,c}` (an array value).
    is_array: bool,
    /// Whether the kernel prints this address column with `0x` (probe columns).
    probe_column: bool,
    offset: usize,
    size: usize,
    layout: Layout,
}

/// One event's decoding plan.
#[derive(Debug, Clone)]
struct RawPlan<'c> {
    entry: &'c CatalogEntry,
    fields: Vec<PlannedField<'c>>,
    /// The field that holds the task's comm (a `$comm` argument), by index in `fields`.
    comm_field: Option<usize>,
    /// Whether a field is a probe's address column (which may need kernel symbols).
    has_probe_column: bool,
}

/// `common_*` offsets; the same for every event of a kernel.
#[derive(Debug, Clone, Copy)]
struct CommonFields {
    flags: Option<usize>,
    preempt_count: Option<usize>,
    pid: usize,
}

/// Where a stack record (`ftrace/kernel_stack`, `ftrace/user_stack`) keeps its frames.
#[derive(Debug, Clone, Copy)]
struct StackFormat {
    id: u16,
    kind: StackKind,
    /// `int size` (number of kernel frames); user stacks have a fixed array.
    count_offset: Option<usize>,
    caller_offset: usize,
    /// Frames the array holds when no count is stored.
    max_frames: usize,
}

/// Decoding plans by event ID, built from an [`EventCatalog`].
#[derive(Debug)]
pub struct RawCatalog<'c> {
    by_id: HashMap<u16, RawPlan<'c>, QuickHashBuild>,
    common: CommonFields,
    stacks: Vec<StackFormat>,
}

impl<'c> RawCatalog<'c> {
    /// Plans every event of `catalog`. `comm_args` names the fields that are `$comm`
    /// fetch arguments, as (event, field) — see [`comm_args_of_definition`].
    pub fn new(catalog: &'c EventCatalog, comm_args: &[(String, String)]) -> Self {
        let mut by_id = HashMap::default();
        let mut stacks = Vec::new();
        let mut common = CommonFields {
            flags: Some(2),
            preempt_count: Some(3),
            pid: 4,
        };
        for entry in catalog.entries() {
            let Ok(id) = u16::try_from(entry.format.id) else {
                continue;
            };
            if let Some(pid) = entry.format.field("common_pid") {
                common.pid = pid.offset as usize;
                common.flags = entry
                    .format
                    .field("common_flags")
                    .map(|f| f.offset as usize);
                common.preempt_count = entry
                    .format
                    .field("common_preempt_count")
                    .map(|f| f.offset as usize);
            }
            if let Some(stack) = stack_format(entry, id) {
                stacks.push(stack);
                continue;
            }
            let plan = plan_event(entry, comm_args);
            by_id.insert(id, plan);
        }
        Self {
            by_id,
            common,
            stacks,
        }
    }

    fn stack_format(&self, payload: &[u8]) -> Option<&StackFormat> {
        if self.stacks.is_empty() {
            return None;
        }
        let id = RawDecoder::event_id(payload)?;
        self.stacks.iter().find(|s| s.id == id)
    }

    /// How many events it can decode.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it can decode none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The `$comm` arguments of one probe definition line (`p:G/E PLACE c=$comm:string`), as
/// (event, field) pairs: their value is the task's comm when the event fired, better
/// than `saved_cmdlines` at read time.
pub fn comm_args_of_definition(line: &str) -> Vec<(String, String)> {
    let mut tokens = line.split_ascii_whitespace();
    let Some(head) = tokens.next() else {
        return Vec::new();
    };
    let event = head
        .split_once(':')
        .map_or(head, |(_, rest)| rest)
        .rsplit(['/', '.'])
        .next()
        .unwrap_or_default();
    tokens
        .filter_map(|arg| {
            let (name, fetch) = arg.split_once('=')?;
            let fetch = fetch.split(':').next().unwrap_or_default();
            (fetch.eq_ignore_ascii_case("$comm")).then(|| (event.to_owned(), name.to_owned()))
        })
        .collect()
}

/// The stack record formats of the `ftrace` group, which the text prints as
/// `<stack trace>` / `<user stack trace>` lines after their event.
fn stack_format(entry: &CatalogEntry, id: u16) -> Option<StackFormat> {
    if entry.group != "ftrace" {
        return None;
    }
    let kind = match entry.format.name.as_str() {
        "kernel_stack" => StackKind::Kernel,
        "user_stack" => StackKind::User,
        _ => return None,
    };
    let caller = entry.format.field("caller")?;
    Some(StackFormat {
        id,
        kind,
        count_offset: match kind {
            StackKind::Kernel => entry.format.field("size").map(|f| f.offset as usize),
            StackKind::User => None,
        },
        caller_offset: caller.offset as usize,
        max_frames: (caller.size as usize / 8).max(1),
    })
}

fn plan_event<'c>(entry: &'c CatalogEntry, comm_args: &[(String, String)]) -> RawPlan<'c> {
    let format = &entry.format;
    let mut fields = Vec::new();
    match &entry.template {
        Some(template) => {
            // Output order is the order in which the template first prints each field.
            let mut seen = vec![false; template.fields.len()];
            for segment in &template.segments {
                let Segment::Value {
                    kind,
                    field: Some(index),
                } = segment
                else {
                    continue;
                };
                let Some(slot) = seen.get_mut(*index) else {
                    continue;
                };
                if *slot {
                    continue;
                }
                *slot = true;
                let Some(def) = template.fields.get(*index) else {
                    continue;
                };
                let Some(field) = format.field(&def.name) else {
                    continue;
                };
                fields.push(plan_field(field, *kind, def.is_array, def.values));
            }
        }
        None => {
            for field in format.own_fields() {
                let kind = if field.data_loc || is_char_array(field) {
                    ValueKind::QuotedStr
                } else if field.signed {
                    ValueKind::Signed
                } else {
                    ValueKind::Unsigned
                };
                let count = field.array_len.filter(|n| *n > 0).map_or(1, |n| n as usize);
                fields.push(plan_field(field, kind, field.array_len.is_some(), count));
            }
        }
    }
    let comm_field = comm_args
        .iter()
        .filter(|(event, _)| *event == format.name)
        .find_map(|(_, name)| fields.iter().position(|f| f.name == name.as_bytes()));
    RawPlan {
        entry,
        has_probe_column: fields.iter().any(|f| f.probe_column),
        fields,
        comm_field,
    }
}

fn is_char_array(field: &FormatField) -> bool {
    field.array_len.is_some() && field.c_type == "char"
}

fn plan_field(
    field: &FormatField,
    kind: ValueKind,
    is_array: bool,
    values: usize,
) -> PlannedField<'_> {
    let size = field.size as usize;
    let string_kind = matches!(kind, ValueKind::Str | ValueKind::QuotedStr);
    let layout = if field.data_loc {
        Layout::DataLoc {
            count: (size / 4).max(1),
        }
    } else if string_kind && is_char_array(field) {
        Layout::FixedStr
    } else {
        let count = if is_array { values.max(1) } else { 1 };
        let elem = c_type_size(&field.c_type)
            .filter(|e| e * count <= size)
            .unwrap_or_else(|| (size / count).clamp(1, 8));
        Layout::Ints { elem, count }
    };
    PlannedField {
        name: field.name.as_bytes(),
        kind,
        is_array,
        probe_column: field.name.starts_with("__probe_"),
        offset: field.offset as usize,
        size,
        layout,
    }
}

/// The size of one element of a C type name the kernel uses in format files.
fn c_type_size(c_type: &str) -> Option<usize> {
    let base = c_type
        .trim_start_matches("const ")
        .trim_start_matches("signed ")
        .trim_start_matches("unsigned ");
    Some(match base {
        "u8" | "s8" | "char" | "bool" => 1,
        "u16" | "s16" | "short" => 2,
        "u32" | "s32" | "int" | "pid_t" => 4,
        "u64" | "s64" | "long" | "long long" => 8,
        _ => return None,
    })
}

/// Task names by pid from the global `saved_cmdlines`, read when first needed and again
/// when a pid is missing (at most every `CMDLINES_REFRESH`).
#[derive(Debug, Default)]
pub struct CommCache {
    path: Option<PathBuf>,
    by_pid: HashMap<i32, Vec<u8>, QuickHashBuild>,
    last_read: Option<Instant>,
    /// The pid found last: most records in a row are one task's, and entries are only
    /// ever added or replaced, so it stays found.
    last_hit: Option<i32>,
}

impl CommCache {
    /// A cache over `saved_cmdlines` at `path`; `None` knows no comms.
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            ..Self::default()
        }
    }

    /// A cache filled from `saved_cmdlines` text, never reread (tests and replays).
    pub fn from_text(text: &[u8]) -> Self {
        let mut cache = Self::default();
        cache.load(text);
        cache
    }

    fn load(&mut self, text: &[u8]) {
        for line in text.split(|b| *b == b'\n') {
            let Some(space) = memchr::memchr(b' ', line) else {
                continue;
            };
            let Some(pid) = std::str::from_utf8(&line[..space])
                .ok()
                .and_then(|p| p.parse().ok())
            else {
                continue;
            };
            self.by_pid.insert(pid, line[space + 1..].to_vec());
        }
    }

    /// Makes sure `pid` is looked up (rereads the file on a miss, rate-limited).
    fn prepare(&mut self, pid: i32) {
        if pid == 0 || self.last_hit == Some(pid) {
            return;
        }
        if self.by_pid.contains_key(&pid) {
            self.last_hit = Some(pid);
            return;
        }
        let Some(path) = &self.path else {
            return;
        };
        if self
            .last_read
            .is_some_and(|at| at.elapsed() < CMDLINES_REFRESH)
        {
            return;
        }
        self.last_read = Some(Instant::now());
        if let Ok(text) = std::fs::read(path) {
            self.load(&text);
        }
    }

    fn get(&self, pid: i32) -> &[u8] {
        if pid == 0 {
            return b"<idle>";
        }
        self.by_pid.get(&pid).map_or(UNKNOWN_COMM, Vec::as_slice)
    }
}

/// A value before it is borrowed: numbers, or where its bytes lie.
#[derive(Debug, Clone, Copy)]
enum Pre {
    Signed(i64),
    Unsigned(u64),
    Char(u8),
    Fault,
    /// Bytes of the payload, as this kind.
    Payload(usize, usize, ValueKind),
    /// Bytes of the scratch buffer, as this kind.
    Scratch(usize, usize, ValueKind),
    /// The next `n` values make one array.
    ArrayOf(usize),
}

/// Decodes binary records. Reuse one per stream: it keeps its buffers.
#[derive(Debug)]
pub struct RawDecoder<'c> {
    catalog: &'c RawCatalog<'c>,
    comms: CommCache,
    scratch: Vec<u8>,
    pre: Vec<Pre>,
    spare_fields: Vec<Field<'static>>,
    /// Kernel stack frames are named from this (as the kernel prints them); hex without.
    ksyms: Option<KsymIndex>,
    /// Whether `/proc/kallsyms` was loaded (or tried) for a kernel probe's address column.
    ksyms_tried: bool,
    /// The event whose address columns were last checked for a kernel address.
    ksyms_checked: Option<u16>,
    /// Where each stack frame of the record being decoded lies in `scratch`.
    frame_spans: Vec<(StackKind, usize, usize)>,
}

impl<'c> RawDecoder<'c> {
    /// A decoder over `catalog`, naming tasks from `comms`.
    pub fn new(catalog: &'c RawCatalog<'c>, comms: CommCache) -> Self {
        Self {
            catalog,
            comms,
            scratch: Vec::with_capacity(1024),
            pre: Vec::with_capacity(64),
            spare_fields: Vec::with_capacity(32),
            ksyms: None,
            ksyms_tried: false,
            ksyms_checked: None,
            frame_spans: Vec::new(),
        }
    }

    /// Names kernel stack frames by `index` (`/proc/kallsyms`).
    pub fn with_kernel_symbols(mut self, index: KsymIndex) -> Self {
        self.ksyms = Some(index);
        self.ksyms_tried = true;
        self
    }

    /// Loads `/proc/kallsyms` the first time a probe's address column holds a kernel
    /// address (a kprobe's), so it prints as the text path prints it.
    fn load_ksyms_for(&mut self, plan: &RawPlan<'_>, payload: &[u8]) {
        let kernel = plan
            .fields
            .iter()
            .filter(|f| f.probe_column)
            .filter_map(|f| read_int(payload, f.offset, 8, false))
            .any(|addr| addr >= KERNEL_SPACE);
        if kernel {
            self.ksyms_tried = true;
            self.ksyms = KsymIndex::load().ok();
        }
    }

    /// Whether `payload` is a stack record (which belongs to the event before it).
    pub fn is_stack(&self, payload: &[u8]) -> bool {
        self.catalog.stack_format(payload).is_some()
    }

    /// The event ID of a record (its `common_type`).
    pub fn event_id(payload: &[u8]) -> Option<u16> {
        Some(u16::from_le_bytes(payload.get(..2)?.try_into().ok()?))
    }

    /// Decodes `payload`, recorded on `cpu` at `ts` (trace-clock nanoseconds), with the
    /// stack records that followed it (`stacks`, see [`is_stack`](Self::is_stack)), and
    /// hands the record to `sink`. A stack record on its own (its event was lost) is an
    /// event of its own, as the text path makes it.
    pub fn decode<R>(
        &mut self,
        cpu: u32,
        ts: u64,
        payload: &[u8],
        stacks: &[&[u8]],
        sink: impl FnOnce(&Record<'_>) -> R,
    ) -> R {
        self.scratch.clear();
        self.pre.clear();
        self.frame_spans.clear();
        let catalog = self.catalog;
        let orphan = catalog.stack_format(payload);
        for stack in orphan
            .map(|_| payload)
            .into_iter()
            .chain(stacks.iter().copied())
        {
            if let Some(format) = catalog.stack_format(stack) {
                write_frames(
                    &mut self.scratch,
                    &mut self.frame_spans,
                    format,
                    stack,
                    self.ksyms.as_ref(),
                );
            }
        }
        let plan = Self::event_id(payload).and_then(|id| catalog.by_id.get(&id));
        let Some(plan) = plan.filter(|_| orphan.is_none()) else {
            if let Some(format) = orphan {
                return self.decode_orphan_stack(cpu, ts, payload, format.kind, sink);
            }
            let _ = write!(
                self.scratch,
                "binary record of {} bytes with unknown event id {}",
                payload.len(),
                Self::event_id(payload).map_or(-1, i32::from)
            );
            return sink(&Record::Unparsed {
                line: &self.scratch,
            });
        };
        let (pid, ts_span, flags_span) = self.write_context(payload, ts);
        // A probe's address column is in the kernel's half for every record of a kprobe
        // and never for a uprobe: one record per run of an event says which.
        let id = Self::event_id(payload);
        if !self.ksyms_tried && plan.has_probe_column && self.ksyms_checked != id {
            self.ksyms_checked = id;
            self.load_ksyms_for(plan, payload);
        }
        for field in &plan.fields {
            pre_field(
                &mut self.pre,
                &mut self.scratch,
                field,
                payload,
                self.ksyms.as_ref(),
            );
        }
        if plan.comm_field.is_none() {
            self.comms.prepare(pid);
        }
        let scratch = &self.scratch;
        let comm = plan
            .comm_field
            .and_then(|index| comm_from_fields(&self.pre, plan, index, payload))
            .unwrap_or_else(|| self.comms.get(pid));
        // Empty and `'static`: it becomes a vector of shorter-lived fields for free.
        let mut fields: Vec<Field<'_>> = std::mem::take(&mut self.spare_fields);
        build_fields(&mut fields, &self.pre, plan, payload, scratch);
        let record = Record::Event(Event {
            header: RecordHeader {
                comm,
                pid,
                tgid: None,
                cpu,
                flags: Some(&scratch[flags_span.clone()]),
                ts: &scratch[ts_span.clone()],
            },
            group: Some(&plan.entry.group),
            name: Cow::Borrowed(plan.entry.format.name.as_bytes()),
            fields,
            guessed: false,
            stack: frames(scratch, &self.frame_spans, StackKind::Kernel),
            ustack: frames(scratch, &self.frame_spans, StackKind::User),
        });
        let result = sink(&record);
        if let Record::Event(event) = record {
            let mut fields = event.fields;
            fields.clear();
            self.spare_fields = recycle(fields);
        }
        result
    }
}

impl RawDecoder<'_> {
    /// The context every record starts with: its pid, and its timestamp (`sec.nsec`) and
    /// flags column written to the scratch buffer first, at spans that stay fixed.
    fn write_context(
        &mut self,
        payload: &[u8],
        ts: u64,
    ) -> (i32, std::ops::Range<usize>, std::ops::Range<usize>) {
        let common = self.catalog.common;
        let pid = read_int(payload, common.pid, 4, true).map_or(0, |v| v as i32);
        let ts_start = self.scratch.len();
        let ts_end = write_ts(&mut self.scratch, ts);
        let byte_at = |at: Option<usize>| at.and_then(|at| payload.get(at)).copied().unwrap_or(0);
        let flags_start = self.scratch.len();
        write_flags(
            &mut self.scratch,
            byte_at(common.flags),
            byte_at(common.preempt_count),
        );
        (pid, ts_start..ts_end, flags_start..self.scratch.len())
    }

    /// A stack record whose event is not in the buffer: `ftrace/kernel_stack` or
    /// `ftrace/user_stack` with its frames and no fields.
    fn decode_orphan_stack<R>(
        &mut self,
        cpu: u32,
        ts: u64,
        payload: &[u8],
        kind: StackKind,
        sink: impl FnOnce(&Record<'_>) -> R,
    ) -> R {
        let (pid, ts_span, flags_span) = self.write_context(payload, ts);
        self.comms.prepare(pid);
        let scratch = &self.scratch;
        let name: &[u8] = match kind {
            StackKind::Kernel => b"kernel_stack",
            StackKind::User => b"user_stack",
        };
        let record = Record::Event(Event {
            header: RecordHeader {
                comm: self.comms.get(pid),
                pid,
                tgid: None,
                cpu,
                flags: Some(&scratch[flags_span.clone()]),
                ts: &scratch[ts_span.clone()],
            },
            group: Some("ftrace"),
            name: Cow::Borrowed(name),
            fields: Vec::new(),
            guessed: false,
            stack: frames(scratch, &self.frame_spans, StackKind::Kernel),
            ustack: frames(scratch, &self.frame_spans, StackKind::User),
        });
        sink(&record)
    }
}

/// The frames of one kind, in order (no allocation when there are none).
fn frames<'a>(
    scratch: &'a [u8],
    spans: &[(StackKind, usize, usize)],
    kind: StackKind,
) -> Vec<&'a [u8]> {
    if spans.is_empty() {
        return Vec::new();
    }
    spans
        .iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|&(_, start, end)| scratch.get(start..end).unwrap_or_default())
        .collect()
}

/// Formats a stack record's frames as the text prints them: kernel frames by symbol name
/// (`0x…` when unknown), user frames as `<%016lx>`; stops at the kernel's end markers.
fn write_frames(
    scratch: &mut Vec<u8>,
    spans: &mut Vec<(StackKind, usize, usize)>,
    format: &StackFormat,
    payload: &[u8],
    ksyms: Option<&KsymIndex>,
) {
    let stored = format
        .count_offset
        .and_then(|at| read_int(payload, at, 4, false))
        .map(|n| n as usize);
    let room = payload.len().saturating_sub(format.caller_offset) / 8;
    let count = stored.unwrap_or(format.max_frames).min(room);
    for k in 0..count {
        let Some(addr) = read_int(payload, format.caller_offset + 8 * k, 8, false) else {
            break;
        };
        let start = scratch.len();
        match format.kind {
            StackKind::Kernel => {
                if addr == u64::MAX {
                    break;
                }
                match ksyms.and_then(|index| index.resolve(KernelAddr(addr))) {
                    Some(sym) => scratch.extend_from_slice(sym.sym.name.as_bytes()),
                    None => {
                        scratch.extend_from_slice(b"0x");
                        push_hex(scratch, addr, 8);
                    }
                }
            }
            StackKind::User => {
                if addr == 0 || addr == u64::MAX {
                    break;
                }
                scratch.push(b'<');
                push_hex(scratch, addr, 16);
                scratch.push(b'>');
            }
        }
        spans.push((format.kind, start, scratch.len()));
    }
}

/// An empty vector of fields with another lifetime, keeping its allocation (the in-place
/// `collect` of an empty iterator reuses the buffer).
#[expect(
    clippy::unnecessary_filter_map,
    reason = "the map changes the lifetime; `filter` would not"
)]
fn recycle<'a, 'b>(fields: Vec<Field<'a>>) -> Vec<Field<'b>> {
    fields.into_iter().filter_map(|_| None).collect()
}

/// The comm from a `$comm` string field, when the record holds one.
fn comm_from_fields<'a>(
    pre: &[Pre],
    plan: &RawPlan<'_>,
    index: usize,
    payload: &'a [u8],
) -> Option<&'a [u8]> {
    // Walk the pre-values to the field's first one.
    let mut at = 0;
    for (i, field) in plan.fields.iter().enumerate() {
        let taken = match pre.get(at)? {
            Pre::ArrayOf(n) => n + 1,
            _ => 1,
        };
        if i == index {
            return match pre.get(at)? {
                Pre::Payload(start, end, _) if !field.is_array => payload.get(*start..*end),
                _ => None,
            };
        }
        at += taken;
    }
    None
}

fn build_fields<'a>(
    out: &mut Vec<Field<'a>>,
    pre: &[Pre],
    plan: &RawPlan<'a>,
    payload: &'a [u8],
    scratch: &'a [u8],
) {
    let mut values = pre.iter();
    for field in &plan.fields {
        let Some(first) = values.next() else {
            return;
        };
        let value = match first {
            Pre::ArrayOf(n) => Value::Array(
                values
                    .by_ref()
                    .take(*n)
                    .map(|p| to_value(*p, payload, scratch))
                    .collect(),
            ),
            other => to_value(*other, payload, scratch),
        };
        out.push(Field {
            name: field.name,
            value,
        });
    }
}

fn to_value<'a>(pre: Pre, payload: &'a [u8], scratch: &'a [u8]) -> Value<'a> {
    let typed = |bytes: &'a [u8], kind: ValueKind| match kind {
        ValueKind::Hex => Value::Hex(bytes),
        ValueKind::Symbol => Value::Symbol(bytes),
        ValueKind::Text => Value::Text(bytes),
        _ => Value::Str(bytes),
    };
    match pre {
        Pre::Signed(v) => Value::Signed(v),
        Pre::Unsigned(v) => Value::Unsigned(v),
        Pre::Char(c) => Value::Char(c),
        Pre::Fault => Value::Fault,
        Pre::Payload(start, end, kind) => typed(payload.get(start..end).unwrap_or_default(), kind),
        Pre::Scratch(start, end, kind) => typed(scratch.get(start..end).unwrap_or_default(), kind),
        Pre::ArrayOf(_) => Value::Array(Vec::new()),
    }
}

/// Reads one field's values into `pre`, formatting what the kernel would print into
/// `scratch`.
fn pre_field(
    pre: &mut Vec<Pre>,
    scratch: &mut Vec<u8>,
    field: &PlannedField<'_>,
    payload: &[u8],
    ksyms: Option<&KsymIndex>,
) {
    let in_array = |pre: &mut Vec<Pre>, count: usize| {
        if field.is_array {
            pre.push(Pre::ArrayOf(count));
        }
    };
    match field.layout {
        Layout::DataLoc { count } => {
            let count = if field.is_array { count } else { 1 };
            in_array(pre, count);
            for k in 0..count {
                let word = read_int(payload, field.offset + 4 * k, 4, false).unwrap_or(0);
                let start = (word & 0xffff) as usize;
                let len = (word >> 16) as usize;
                if len == 0 {
                    pre.push(Pre::Fault);
                    continue;
                }
                let bytes = payload.get(start..start + len).unwrap_or_default();
                // The kernel prints `%s`: up to the first NUL.
                let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
                pre.push(string_value(
                    field.kind,
                    start,
                    start + end,
                    payload,
                    scratch,
                ));
            }
        }
        Layout::FixedStr => {
            let start = field.offset.min(payload.len());
            let bytes = payload.get(start..start + field.size).unwrap_or_default();
            let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
            pre.push(string_value(
                field.kind,
                start,
                start + end,
                payload,
                scratch,
            ));
        }
        Layout::Ints { elem, count } => {
            in_array(pre, count);
            for k in 0..count {
                let at = field.offset + elem * k;
                let signed = field.kind == ValueKind::Signed;
                let Some(v) = read_int(payload, at, elem, signed) else {
                    pre.push(Pre::Fault);
                    continue;
                };
                pre.push(int_value(field, v, elem, scratch, ksyms));
            }
        }
    }
}

/// A string's bytes as the template's kind; a number-shaped kind gets the text as is.
fn string_value(
    kind: ValueKind,
    start: usize,
    end: usize,
    payload: &[u8],
    scratch: &mut Vec<u8>,
) -> Pre {
    match kind {
        ValueKind::Char | ValueKind::QuotedChar => {
            Pre::Char(payload.get(start).copied().unwrap_or(0))
        }
        ValueKind::Str | ValueKind::QuotedStr | ValueKind::Symbol | ValueKind::Text => {
            Pre::Payload(start, end, kind)
        }
        ValueKind::Hex | ValueKind::Signed | ValueKind::Unsigned => {
            let from = scratch.len();
            scratch.extend_from_slice(payload.get(start..end).unwrap_or_default());
            Pre::Scratch(from, scratch.len(), ValueKind::Text)
        }
    }
}

/// An integer as the template prints it.
fn int_value(
    field: &PlannedField<'_>,
    raw: u64,
    elem: usize,
    scratch: &mut Vec<u8>,
    ksyms: Option<&KsymIndex>,
) -> Pre {
    let hex = |scratch: &mut Vec<u8>, kind: ValueKind| {
        let from = scratch.len();
        scratch.extend_from_slice(b"0x");
        push_hex(scratch, raw & mask(elem), 1);
        Pre::Scratch(from, scratch.len(), kind)
    };
    // A kernel address as the kernel prints a kprobe's address column and `%pS`:
    // `sym+0x0/0x20 [module]`; hex when it has no symbol or no index is loaded.
    let symbol = |scratch: &mut Vec<u8>, kind: ValueKind| {
        let resolved = ksyms
            .filter(|_| raw >= KERNEL_SPACE)
            .and_then(|index| index.resolve(KernelAddr(raw)));
        match resolved {
            // A return probe's function is printed by name alone (`%ps`).
            Some(sym) if field.name == b"__probe_func" => {
                let from = scratch.len();
                scratch.extend_from_slice(sym.sym.name.as_bytes());
                Pre::Scratch(from, scratch.len(), kind)
            }
            Some(sym) => {
                let from = scratch.len();
                let _ = write!(scratch, "{sym}");
                Pre::Scratch(from, scratch.len(), kind)
            }
            None => hex(scratch, kind),
        }
    };
    match field.kind {
        ValueKind::Signed => Pre::Signed(raw as i64),
        ValueKind::Unsigned => Pre::Unsigned(raw & mask(elem)),
        ValueKind::Hex => hex(scratch, ValueKind::Hex),
        ValueKind::Char | ValueKind::QuotedChar => Pre::Char(raw as u8),
        ValueKind::Symbol => symbol(scratch, ValueKind::Symbol),
        // A uprobe prints its address column in hex, a kprobe as a symbol.
        ValueKind::Text if field.probe_column && raw >= KERNEL_SPACE && ksyms.is_some() => {
            symbol(scratch, ValueKind::Text)
        }
        ValueKind::Text | ValueKind::Str | ValueKind::QuotedStr => hex(scratch, ValueKind::Text),
    }
}

fn mask(bytes: usize) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (bytes * 8)) - 1
    }
}

/// A little-endian integer of `size` bytes at `at`, sign-extended when `signed`.
fn read_int(payload: &[u8], at: usize, size: usize, signed: bool) -> Option<u64> {
    let bytes = payload.get(at..at.checked_add(size)?)?;
    // The usual sizes as fixed-size loads (a copy of a variable length is a call).
    let v = match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => {
            let mut buf = [0u8; 8];
            buf.get_mut(..size)?.copy_from_slice(bytes);
            u64::from_le_bytes(buf)
        }
    };
    if signed && size < 8 && size > 0 {
        let shift = 64 - 8 * size as u32;
        Some((((v << shift) as i64) >> shift) as u64)
    } else {
        Some(v)
    }
}

/// `sec.nnnnnnnnn` of a nanosecond clock; returns where it ends.
fn write_ts(out: &mut Vec<u8>, ts: u64) -> usize {
    // By hand, in place: this runs once per live event, and formatting elsewhere and
    // copying a variable length costs a call.
    let mut secs = ts / 1_000_000_000;
    let (mut secs_digits, mut bound) = (1, 10u64);
    while secs >= bound && secs_digits < 11 {
        secs_digits += 1;
        bound *= 10;
    }
    // u64::MAX ns is 18446744073 s: at most eleven digits, a dot and nine.
    let start = out.len();
    out.extend_from_slice(&[b'0'; 21]);
    out.truncate(start + secs_digits + 10);
    let Some((secs_text, fraction)) = out
        .get_mut(start..)
        .and_then(|text| text.split_at_mut_checked(secs_digits))
    else {
        return out.len();
    };
    let mut nanos = ts % 1_000_000_000;
    for digit in fraction.iter_mut().rev() {
        *digit = b'0' + (nanos % 10) as u8;
        nanos /= 10;
    }
    if let Some(dot) = fraction.first_mut() {
        *dot = b'.';
    }
    for digit in secs_text.iter_mut().rev() {
        *digit = b'0' + (secs % 10) as u8;
        secs /= 10;
    }
    out.len()
}

/// Appends `value` in lower-case hex, zero-padded to at least `min_digits` (at most 16),
/// as `{:0N$x}` prints it: without `core::fmt`, which showed in live profiles, and in
/// place (a copy of a variable length costs a call).
fn push_hex(out: &mut Vec<u8>, value: u64, min_digits: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let needed = (64 - value.leading_zeros() as usize).div_ceil(4);
    let digits = needed.max(min_digits).clamp(1, 16);
    let start = out.len();
    out.extend_from_slice(&[b'0'; 16]);
    out.truncate(start + digits);
    let mut rest = value;
    for digit in out.get_mut(start..).unwrap_or_default().iter_mut().rev() {
        *digit = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
    }
}

/// The latency column the text path prints (`trace_print_lat_fmt`, trace_output.c 6.12+):
/// irqs-off, need-resched, hard/soft irq, preempt depth, migrate-disable depth.
fn write_flags(out: &mut Vec<u8>, flags: u8, preempt_count: u8) {
    const IRQS_OFF: u8 = 0x01;
    const NEED_RESCHED_LAZY: u8 = 0x02;
    const NEED_RESCHED: u8 = 0x04;
    const HARDIRQ: u8 = 0x08;
    const SOFTIRQ: u8 = 0x10;
    const PREEMPT_RESCHED: u8 = 0x20;
    const NMI: u8 = 0x40;
    const BH_OFF: u8 = 0x80;
    let irqs_off = match (flags & IRQS_OFF != 0, flags & BH_OFF != 0) {
        (true, true) => b'D',
        (true, false) => b'd',
        (false, true) => b'b',
        (false, false) => b'.',
    };
    let need_resched = match flags & (NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED) {
        x if x == NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED => b'B',
        x if x == NEED_RESCHED | PREEMPT_RESCHED => b'N',
        x if x == NEED_RESCHED_LAZY | PREEMPT_RESCHED => b'L',
        x if x == NEED_RESCHED | NEED_RESCHED_LAZY => b'b',
        NEED_RESCHED => b'n',
        PREEMPT_RESCHED => b'p',
        NEED_RESCHED_LAZY => b'l',
        _ => b'.',
    };
    let (nmi, hard, soft) = (flags & NMI != 0, flags & HARDIRQ != 0, flags & SOFTIRQ != 0);
    let irq = match (nmi, hard, soft) {
        (true, true, _) => b'Z',
        (true, false, _) => b'z',
        (false, true, true) => b'H',
        (false, true, false) => b'h',
        (false, false, true) => b's',
        (false, false, false) => b'.',
    };
    let hex_digit = |d: u8| if d < 10 { b'0' + d } else { b'a' + d - 10 };
    let depth = preempt_count & 0xf;
    let migrate = (preempt_count >> 4) & 0xf;
    out.extend_from_slice(&[
        irqs_off,
        need_resched,
        irq,
        if depth == 0 { b'.' } else { hex_digit(depth) },
        if migrate == 0 {
            b'.'
        } else {
            hex_digit(migrate)
        },
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_args_from_definitions() {
        assert_eq!(
            comm_args_of_definition(
                "p:g/touch /bin/x:0x1 path=+0(%di):string comm=$comm:string c2=$COMM"
            ),
            vec![
                ("touch".to_owned(), "comm".to_owned()),
                ("touch".to_owned(), "c2".to_owned())
            ]
        );
        assert!(comm_args_of_definition("r:g/e f").is_empty());
    }

    #[test]
    fn ts_and_flags_columns() {
        let mut out = Vec::new();
        write_ts(&mut out, 147_606_363_001);
        assert_eq!(out, b"147.606363001");
        out.clear();
        write_flags(&mut out, 0x01, 0x01);
        assert_eq!(out, b"d..1.");
        out.clear();
        write_flags(&mut out, 0x08 | 0x04, 0x21);
        assert_eq!(out, b".nh12");
    }

    /// Hand-made stack records (labelled: built here, laid out as the 6.18 formats say).
    #[test]
    fn stack_frames_stop_at_the_kernels_markers() {
        let kernel = StackFormat {
            id: 4,
            kind: StackKind::Kernel,
            count_offset: Some(8),
            caller_offset: 16,
            max_frames: 8,
        };
        let user = StackFormat {
            id: 13,
            kind: StackKind::User,
            count_offset: None,
            caller_offset: 16,
            max_frames: 8,
        };
        let mut record = vec![0u8; 16];
        record[8] = 3; // size: 3 frames, the last one the end marker
        for addr in [0xffff_ffff_8100_0010u64, 0x1234, u64::MAX] {
            record.extend_from_slice(&addr.to_le_bytes());
        }
        let (mut scratch, mut spans) = (Vec::new(), Vec::new());
        write_frames(&mut scratch, &mut spans, &kernel, &record, None);
        assert_eq!(
            frames(&scratch, &spans, StackKind::Kernel),
            vec![&b"0xffffffff81000010"[..], b"0x00001234"]
        );
        let mut record = vec![0u8; 16];
        for addr in [0x5564_9046_9189u64, 0, 7] {
            record.extend_from_slice(&addr.to_le_bytes());
        }
        scratch.clear();
        spans.clear();
        write_frames(&mut scratch, &mut spans, &user, &record, None);
        assert_eq!(
            frames(&scratch, &spans, StackKind::User),
            vec![&b"<0000556490469189>"[..]]
        );
        // A count larger than the record is bounded by the record.
        let mut record = vec![0u8; 20];
        record[8] = 200;
        scratch.clear();
        spans.clear();
        write_frames(&mut scratch, &mut spans, &kernel, &record, None);
        assert!(spans.is_empty());
    }

    /// A kprobe's address columns print as the kernel prints them: `sym+off/size` for the
    /// probed address, the name alone for a return probe's function (hand-made values,
    /// symbols from the 6.18 kallsyms sample).
    #[test]
    fn kernel_address_columns_are_named() {
        let text = include_bytes!("../kallsyms/testdata/kallsyms");
        let index = KsymIndex::load_from_reader(&text[..]).unwrap();
        let column = |name: &'static str| PlannedField {
            name: name.as_bytes(),
            kind: ValueKind::Text,
            is_array: false,
            probe_column: true,
            offset: 8,
            size: 8,
            layout: Layout::Ints { elem: 8, count: 1 },
        };
        let mut scratch = Vec::new();
        let shown = |pre: Pre, scratch: &[u8]| match pre {
            Pre::Scratch(a, b, _) => String::from_utf8(scratch[a..b].to_vec()).unwrap(),
            other => panic!("{other:?}"),
        };
        let addr = 0xffff_ffff_8120_7617;
        let pre = int_value(&column("__probe_ip"), addr, 8, &mut scratch, Some(&index));
        assert!(shown(pre, &scratch).starts_with("do_exit.cold+0x0/0x"));
        let pre = int_value(&column("__probe_func"), addr, 8, &mut scratch, Some(&index));
        assert_eq!(shown(pre, &scratch), "do_exit.cold");
        // A uprobe's (user) address, or no index: hex.
        let pre = int_value(
            &column("__probe_ip"),
            0x55d0_1234,
            8,
            &mut scratch,
            Some(&index),
        );
        assert_eq!(shown(pre, &scratch), "0x55d01234");
        let pre = int_value(&column("__probe_ip"), addr, 8, &mut scratch, None);
        assert_eq!(shown(pre, &scratch), "0xffffffff81207617");
    }

    #[test]
    fn hex_digits_as_fmt_prints_them() {
        for value in [0u64, 1, 0xf, 0x10, 0x55d0_1234, u64::MAX, 1 << 63] {
            for min_digits in [1, 8, 16] {
                let mut out = Vec::new();
                push_hex(&mut out, value, min_digits);
                assert_eq!(out, format!("{value:0min_digits$x}").into_bytes());
            }
        }
        let mut out = Vec::new();
        write_ts(&mut out, 5);
        assert_eq!(out, b"0.000000005");
        out.clear();
        write_ts(&mut out, u64::MAX);
        assert_eq!(out, b"18446744073.709551615");
        for ts in [
            999_999_999u64,
            1_000_000_000,
            9_999_999_999,
            10_000_000_000,
            147_606_363_001,
        ] {
            out.clear();
            out.push(b'x');
            assert_eq!(write_ts(&mut out, ts), out.len());
            let want = format!("x{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000);
            assert_eq!(out, want.into_bytes());
        }
    }

    #[test]
    fn ints_sign_extend_by_size() {
        assert_eq!(read_int(&[0xff], 0, 1, true), Some(u64::MAX));
        assert_eq!(read_int(&[0xff], 0, 1, false), Some(0xff));
        assert_eq!(read_int(&[0xff], 0, 2, false), None);
        let bytes = [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0];
        assert_eq!(read_int(&bytes, 0, 8, false), Some(0x1122_3344_5566_7788));
        assert_eq!(read_int(&bytes, 1, 4, false), Some(0x4455_6677));
        assert_eq!(read_int(&bytes, 0, 3, false), Some(0x66_7788));
        assert_eq!(read_int(&bytes, 0, 3, true), Some(0x66_7788));
        assert_eq!(read_int(&bytes, 1, 2, true), Some(0x6677));
        assert_eq!(read_int(&bytes, 0, 1, true), Some(u64::MAX - 0x77));
        assert_eq!(read_int(&bytes, 0, 9, false), None);
    }
}
