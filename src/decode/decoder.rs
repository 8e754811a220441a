//! Turns a stream of trace lines into records: joins a string that held a newline back
//! into its record, attaches `<stack trace>` frames to the event they follow, counts
//! `LOST` lines, and splits fields by the event's format when the catalog knows it.
//!
//! The decoder holds at most one record's text between calls (bounded by
//! [`MAX_RECORD_TEXT`]), so memory stays constant whatever the input size.

use std::borrow::Cow;

use super::event_catalog::CatalogEntry;
use super::event_catalog::EventCatalog;
use super::in_place::Spare;
use super::pending_head::PendingHead;
use super::record::Event;
use super::record::Record;
use super::summary::DecodeSummary;
use crate::parse::bytes::has_prefix;
use crate::parse::fit_template;
use crate::parse::guess_value;
use crate::parse::parse_line;
use crate::parse::recycle::clear_fields;
use crate::parse::recycle::emptied;
use crate::parse::split_guessed;
use crate::parse::split_syscall_args_into;
use crate::parse::split_with_template;
use crate::parse::split_with_template_into;
use crate::parse::ContextMemo;
use crate::parse::EventText;
use crate::parse::Field;
use crate::parse::Fit;
use crate::parse::NameId;
use crate::parse::RecordHeader;
use crate::parse::Segment;
use crate::parse::StackKind;
use crate::parse::Template;
use crate::parse::TraceLine;
use crate::parse::Value;
use crate::parse::ValueKind;

/// The longest record text the decoder joins. A probe record holds at most a page of data
/// (kernel-notes.md §1.5), which prints well under this; beyond it the following lines are
/// not treated as continuations but reported as unparsed.
pub const MAX_RECORD_TEXT: usize = 64 * 1024;

/// The most lines one record may span; bounds the work of deciding where it ends.
pub const MAX_RECORD_LINES: usize = 1024;

/// How many lines that look like record headers a record may hold while it waits for a
/// string to close. A string with a newline followed by text shaped like a record is rare;
/// the bound keeps a record that never closes from delaying many real ones.
const MAX_HELD_HEADERS: usize = 8;

/// Streaming decoder of trace text. Feed it lines with [`push_line`](Self::push_line), then
/// call [`finish`](Self::finish).
#[derive(Debug)]
pub struct Decoder<'c> {
    pub(super) catalog: &'c EventCatalog,
    /// The pending record's text: its header line and any continuation lines.
    pending: Vec<u8>,
    pending_lines: usize,
    /// The pending record's columns; `None` when no record is pending.
    head: Option<PendingHead>,
    /// Lines after the pending record that may continue it, each with the `\n` before
    /// it: blank lines, lines after a record that already fits its template, and lines
    /// inside a string that has not closed yet. They join the record when a later line
    /// completes it; otherwise they are decoded again as lines of their own.
    held: Vec<u8>,
    held_spans: Vec<(usize, usize)>,
    held_headers: usize,
    /// Lines taken back from `held` to decode again, last first.
    replay: Vec<Vec<u8>>,
    /// Frame text of the pending record's stacks, and where each frame lies in it.
    frames: Vec<u8>,
    frame_spans: Vec<(StackKind, usize, usize)>,
    open_stack: Option<StackKind>,
    /// The catalog entries of the pending record's event name, looked up once.
    pending_entries: &'c [CatalogEntry],
    pub(super) summary: DecodeSummary,
    /// Allocations the in-place path reuses from record to record.
    pub(super) spare: Spare,
    /// The in-place path's last record context, to read runs of one task's lines faster.
    pub(super) context: ContextMemo,
    /// The last two names the in-place path looked up, by the memo's ids for them, and
    /// their entries, the latest first: the memo keeps two names too.
    pub(super) last_named: [(NameId, &'c [CatalogEntry]); 2],
}

/// What to do with a line that follows a pending record.
enum Continuation {
    /// It is the rest of the record (with the held lines before it).
    Join,
    /// It may be: hold it until a later line decides.
    Hold,
    /// It is not: the record is complete.
    End,
}

impl<'c> Decoder<'c> {
    /// A decoder that splits fields by the formats in `catalog`.
    pub fn new(catalog: &'c EventCatalog) -> Self {
        Self {
            catalog,
            pending: Vec::with_capacity(512),
            pending_lines: 0,
            head: None,
            held: Vec::new(),
            held_spans: Vec::new(),
            held_headers: 0,
            replay: Vec::new(),
            frames: Vec::new(),
            frame_spans: Vec::new(),
            open_stack: None,
            pending_entries: &[],
            summary: DecodeSummary::default(),
            spare: Spare::default(),
            context: ContextMemo::default(),
            last_named: [(NameId::NONE, &[]); 2],
        }
    }

    /// Whether a record is held, waiting for the next line to show where it ends.
    pub fn has_pending(&self) -> bool {
        self.head.is_some()
    }

    /// Whether nothing is pending or held: the next line starts afresh.
    pub(super) fn is_idle(&self) -> bool {
        self.head.is_none() && self.held_spans.is_empty() && self.replay.is_empty()
    }

    /// Whether the decoder holds a record of `line` alone, with nothing joined, held or
    /// stacked: the state of a fresh decoder fed just `line`.
    pub(super) fn holds_only(&self, line: &[u8]) -> bool {
        self.head.is_some()
            && self.pending_lines == 1
            && self.held_spans.is_empty()
            && self.replay.is_empty()
            && self.open_stack.is_none()
            && self.frame_spans.is_empty()
            && self.pending == line
    }

    /// Forgets the pending record (see [`holds_only`](Self::holds_only)) so that it can be
    /// decoded again from its line. Nothing was counted for it yet.
    pub(super) fn retract_pending(&mut self) {
        self.head = None;
        self.pending.clear();
        self.pending_lines = 0;
        self.pending_entries = &[];
    }

    /// The counts so far.
    pub fn summary(&self) -> &DecodeSummary {
        &self.summary
    }

    /// Feeds every line of `text` (lines end in `\n`; the last one may lack it) to
    /// [`push_line`](Self::push_line), one by one: the records of
    /// [`push_text`](Self::push_text), none taken from the block in place (what that path
    /// is held to).
    pub fn push_lines<E>(
        &mut self,
        text: &[u8],
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        for line in text.split(|b| *b == b'\n') {
            self.push_line(line, sink)?;
        }
        Ok(())
    }

    /// Feeds one line, without its `\n`. Completed records go to `sink`.
    pub fn push_line<E>(
        &mut self,
        line: &[u8],
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.push_parsed_line(line, parse_line(line), sink)
    }

    /// [`push_line`](Self::push_line) for a line already parsed (`parsed` is
    /// `parse_line(line)`).
    pub(super) fn push_parsed_line<E>(
        &mut self,
        line: &[u8],
        parsed: TraceLine<'_>,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.process(line, parsed, sink)?;
        self.drain_replay(sink)
    }

    /// Emits the record still pending at the end of the input, and decodes any lines it
    /// held on their own.
    pub fn finish<E>(
        &mut self,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while self.head.is_some() {
            if self.flush(sink)? {
                self.requeue_held();
            }
            self.drain_replay(sink)?;
        }
        Ok(())
    }

    /// Whether the pending record ends before `line`, so that what follows `line` decodes
    /// the same on a fresh decoder: nothing is pending, or the record is complete and no
    /// lines are held. Used to join chunks decoded in parallel.
    pub fn ends_before(&self, line: &[u8]) -> bool {
        let Some(head) = &self.head else {
            return true;
        };
        if !self.held_spans.is_empty() || !self.replay.is_empty() {
            return false;
        }
        let parsed = parse_line(line);
        if !matches!(parsed, TraceLine::Event(..)) {
            return false;
        }
        if self.open_stack.is_some() || !self.has_room_for(line) {
            return true;
        }
        matches!(self.continuation(head, line, true), Continuation::End)
    }

    fn drain_replay<E>(
        &mut self,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(line) = self.replay.pop() {
            self.process(&line, parse_line(&line), sink)?;
        }
        Ok(())
    }

    fn process<E>(
        &mut self,
        line: &[u8],
        parsed: TraceLine<'_>,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(head) = &self.head {
            match parsed {
                TraceLine::StackFrame(frame) if self.open_stack.is_some() => {
                    let kind = self.open_stack.unwrap_or(StackKind::Kernel);
                    let start = self.frames.len();
                    self.frames.extend_from_slice(frame);
                    self.frame_spans.push((kind, start, self.frames.len()));
                    return Ok(());
                }
                TraceLine::StackStart(header, kind)
                    if header.pid == head.pid()
                        && header.cpu == head.cpu()
                        && self.held_spans.is_empty() =>
                {
                    self.open_stack = Some(kind);
                    return Ok(());
                }
                _ if self.open_stack.is_none() && self.has_room_for(line) => {
                    let starts_record = parsed.starts_record();
                    let decision = if parsed == TraceLine::Blank {
                        Continuation::Hold
                    } else {
                        self.continuation(head, line, starts_record)
                    };
                    match decision {
                        Continuation::Join => {
                            // A string with a newline in it: the rest of the record.
                            self.pending.extend_from_slice(&self.held);
                            self.pending_lines += self.held_spans.len() + 1;
                            self.held.clear();
                            self.held_spans.clear();
                            self.held_headers = 0;
                            self.pending.push(b'\n');
                            self.pending.extend_from_slice(line);
                            return Ok(());
                        }
                        Continuation::Hold
                            if !starts_record || self.held_headers < MAX_HELD_HEADERS =>
                        {
                            self.held_headers += usize::from(starts_record);
                            self.held.push(b'\n');
                            let start = self.held.len();
                            self.held.extend_from_slice(line);
                            self.held_spans.push((start, self.held.len()));
                            return Ok(());
                        }
                        Continuation::Hold | Continuation::End => {}
                    }
                }
                _ => {}
            }
            if self.flush(sink)? {
                // The held lines go first, then this one: decode them all again in order.
                self.replay.push(line.to_vec());
                self.requeue_held();
                return Ok(());
            }
        }
        match parsed {
            TraceLine::Event(header, text) => {
                self.start_pending(line, PendingHead::new(line, &header, Ok(&text)));
                Ok(())
            }
            TraceLine::StackStart(header, kind) => {
                self.start_pending(line, PendingHead::new(line, &header, Err(kind)));
                self.open_stack = Some(kind);
                Ok(())
            }
            TraceLine::Lost { cpu, count } => {
                self.summary.lost_lines += 1;
                match count {
                    Some(n) => {
                        self.summary.lost = self.summary.lost.saturating_add(n);
                        let per_cpu = self.summary.lost_per_cpu.entry(cpu).or_default();
                        *per_cpu = per_cpu.saturating_add(n);
                    }
                    None => self.summary.lost_unknown += 1,
                }
                sink(&Record::Lost { cpu, count })
            }
            TraceLine::BufferStarted { .. } | TraceLine::Comment(_) | TraceLine::Blank => Ok(()),
            TraceLine::StackFrame(_) | TraceLine::Unparsed(_) => {
                self.summary.unparsed += 1;
                sink(&Record::Unparsed { line })
            }
        }
    }

    fn start_pending(&mut self, line: &[u8], head: PendingHead) {
        self.pending_entries = match head.named(line) {
            Some((name, _)) => self.catalog.lookup(name),
            None => &[],
        };
        self.pending.clear();
        self.pending.extend_from_slice(line);
        self.pending_lines = 1;
        self.head = Some(head);
    }

    fn has_room_for(&self, line: &[u8]) -> bool {
        self.pending.len() + self.held.len() + 1 + line.len() <= MAX_RECORD_TEXT
            && self.pending_lines + self.held_spans.len() < MAX_RECORD_LINES
    }

    /// Moves the held lines to the replay queue, in order, so they are decoded again.
    fn requeue_held(&mut self) {
        for &(start, end) in self.held_spans.iter().rev() {
            self.replay.push(self.held[start..end].to_vec());
        }
        self.held.clear();
        self.held_spans.clear();
        self.held_headers = 0;
    }

    /// Whether `line` continues the pending record (a string that held a newline) or is
    /// something of its own. Without a format, a line that does not start a record
    /// continues it. With one, the template decides: the line joins when the record,
    /// with the held lines and this one, fits; it is held while the record could still
    /// be completed by more lines (the text ends inside a string, or the record was
    /// already complete and a stray line may yet prove part of a string); otherwise the
    /// record has ended.
    fn continuation(&self, head: &PendingHead, line: &[u8], starts_record: bool) -> Continuation {
        let without_format = if starts_record {
            Continuation::End
        } else {
            Continuation::Join
        };
        let Some((_, body)) = head.named(&self.pending) else {
            return without_format;
        };
        let entries = self.pending_entries;
        let templates = || entries.iter().filter_map(|entry| entry.template.as_ref());
        if templates().next().is_none() {
            return without_format;
        }
        // The common case, cheaply: the next record starts, and this one ends the way its
        // template ends.
        if starts_record && self.held_spans.is_empty() && ends_as_printed(entries, body) {
            return Continuation::End;
        }
        let mut joined = Vec::with_capacity(body.len() + self.held.len() + 1 + line.len());
        joined.extend_from_slice(body);
        joined.extend_from_slice(&self.held);
        joined.push(b'\n');
        joined.extend_from_slice(line);
        let fit = best_fit(templates(), &joined);
        match fit {
            Fit::Complete => Continuation::Join,
            Fit::NeedsMore => Continuation::Hold,
            Fit::Mismatch if starts_record => Continuation::End,
            Fit::Mismatch => match best_fit(templates(), body) {
                // A stray line after a complete record, or inside a string that has not
                // closed: hold it in case a later line shows it was inside the string
                // (`s=""` + `a` + `"`).
                Fit::Complete | Fit::NeedsMore => Continuation::Hold,
                // The record does not fit its format at all (another kernel's layout):
                // as without a format, the line continues it.
                Fit::Mismatch => Continuation::Join,
            },
        }
    }

    /// Emits the pending record. Returns whether lines were held that must now be decoded
    /// on their own (the caller requeues them).
    fn flush<E>(&mut self, sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>) -> Result<bool, E> {
        self.open_stack = None;
        let Some(head) = self.head.take() else {
            return Ok(false);
        };
        let (mut stack, mut ustack) = self.spare.take_frames();
        for (kind, start, end) in self.frame_spans.drain(..) {
            let frame = &self.frames[start..end];
            match kind {
                StackKind::Kernel => stack.push(frame),
                StackKind::User => ustack.push(frame),
            }
        }
        let header = head.header(&self.pending);
        self.summary.events += 1;
        let record = match head.event_text(&self.pending) {
            Ok(text) => {
                let fields = emptied(std::mem::take(&mut self.spare.fields));
                let mut event =
                    decode_event_with(self.catalog, self.pending_entries, header, text, fields);
                if event.guessed {
                    self.summary.guessed += 1;
                }
                event.stack = stack;
                event.ustack = ustack;
                Record::Event(event)
            }
            Err(kind) => {
                // A stack whose event is not in the input (it came before the capture
                // started, or was lost): an event of its own, as the kernel records it.
                let name: &[u8] = match kind {
                    StackKind::Kernel => b"kernel_stack",
                    StackKind::User => b"user_stack",
                };
                Record::Event(Event {
                    header,
                    group: Some("ftrace"),
                    name: Cow::Borrowed(name),
                    fields: Vec::new(),
                    guessed: false,
                    stack,
                    ustack,
                })
            }
        };
        let result = sink(&record);
        self.spare.keep_record(record, true);
        self.frames.clear();
        result?;
        // Held blank lines belong to nothing; other held lines are decoded again.
        let any_text = self
            .held_spans
            .iter()
            .any(|&(start, end)| parse_line(&self.held[start..end]) != TraceLine::Blank);
        if !any_text {
            self.held.clear();
            self.held_spans.clear();
            self.held_headers = 0;
        }
        Ok(any_text)
    }
}

/// The best fit of `text` among `templates`: complete over needs-more over mismatch.
pub(super) fn best_fit<'t>(templates: impl Iterator<Item = &'t Template>, text: &[u8]) -> Fit {
    let mut best = Fit::Mismatch;
    for template in templates {
        match fit_template(template, text) {
            Fit::Complete => return Fit::Complete,
            Fit::NeedsMore => best = Fit::NeedsMore,
            Fit::Mismatch => {}
        }
    }
    best
}

/// Splits an event's text into fields, by its format when the catalog has it.
///
/// `fields` is an empty vector to fill (callers may pass one with room reserved).
pub fn decode_event<'a>(
    catalog: &'a EventCatalog,
    header: RecordHeader<'a>,
    text: EventText<'a>,
    fields: Vec<Field<'a>>,
) -> Event<'a> {
    let candidates = match text {
        EventText::Named { name, .. } => catalog.lookup(name),
        _ => &[],
    };
    decode_event_with(catalog, candidates, header, text, fields)
}

/// [`decode_event`] with the catalog entries of a `NAME: BODY` event already looked up.
pub(super) fn decode_event_with<'a>(
    catalog: &'a EventCatalog,
    candidates: &'a [CatalogEntry],
    header: RecordHeader<'a>,
    text: EventText<'a>,
    fields: Vec<Field<'a>>,
) -> Event<'a> {
    let mut event = Event {
        header,
        group: None,
        name: Cow::Borrowed(b""),
        fields,
        guessed: false,
        stack: Vec::new(),
        ustack: Vec::new(),
    };
    decode_event_into(catalog, candidates, text, &mut event);
    event
}

/// [`decode_event_with`] into an event the caller built (header set, `fields` empty): the
/// in-place path builds its record where it stays, as moving a record cost a `memcpy`
/// call each time. Returns whether the fields may own memory (hold an array); `false`
/// when a template without array fields made them.
#[inline(always)]
pub(super) fn decode_event_into<'a>(
    catalog: &'a EventCatalog,
    candidates: &'a [CatalogEntry],
    text: EventText<'a>,
    event: &mut Event<'a>,
) -> bool {
    match text {
        EventText::Named { name, body } => {
            event.name = Cow::Borrowed(name);
            for entry in candidates {
                let Some(template) = entry.template.as_ref() else {
                    continue;
                };
                if split_with_template_into(template, body, &mut event.fields) {
                    event.group = Some(&entry.group);
                    return template.has_arrays;
                }
                if let Some(fields) = split_old_layouts(template, body) {
                    event.group = Some(&entry.group);
                    set_fields(&mut event.fields, fields);
                    return true;
                }
            }
            event.group = candidates.first().map(|e| e.group.as_str());
            set_fields(&mut event.fields, guess_probe_fields(body));
            event.guessed = true;
        }
        EventText::SyscallEnter { name, args } => {
            let mut buffer = [0; SYSCALL_NAME_ROOM];
            let format_name = syscall_event_name(b"sys_enter_", name, &mut buffer);
            event.group = Some("syscalls");
            match catalog.lookup(&format_name).first() {
                Some(entry) => {
                    event.name = Cow::Borrowed(entry.format.name.as_bytes());
                    let names = entry.syscall_args.iter().map(|name| &name[..]);
                    split_syscall_args_into(names, args, &mut event.fields);
                }
                None => {
                    event.name = Cow::Owned(format_name.into_owned());
                    split_syscall_args_into([], args, &mut event.fields);
                    event.guessed = true;
                }
            }
        }
        EventText::SyscallExit { name, ret } => {
            event.group = Some("syscalls");
            let mut buffer = [0; SYSCALL_NAME_ROOM];
            let format_name = syscall_event_name(b"sys_exit_", name, &mut buffer);
            // The format's own name when there is one (the same bytes): nothing to allocate.
            event.name = match catalog.lookup(&format_name).first() {
                Some(entry) => Cow::Borrowed(entry.format.name.as_bytes()),
                None => Cow::Owned(format_name.into_owned()),
            };
            clear_fields(&mut event.fields);
            event.fields.push(Field {
                name: b"ret",
                value: guess_value(ret),
            });
        }
        EventText::Function { func, parent } => {
            event.group = Some("ftrace");
            event.name = Cow::Borrowed(b"function");
            clear_fields(&mut event.fields);
            event.fields.extend([
                Field {
                    name: b"ip",
                    value: Value::Symbol(func),
                },
                Field {
                    name: b"parent_ip",
                    value: Value::Symbol(parent),
                },
            ]);
        }
    }
    true
}

/// Layouts the print fmt does not describe: old uprobe text with extra spaces after
/// `NAME:`, and eprobes, which print the attached event `(sched.sched_switch)` before the
/// fields their print fmt lists (kept as the field `__attached_event`).
fn split_old_layouts<'a>(template: &'a Template, body: &'a [u8]) -> Option<Vec<Field<'a>>> {
    if body.first() == Some(&b' ') {
        let trimmed = crate::parse::trim_start(body);
        if let Some(fields) = split_with_template(template, trimmed) {
            return Some(fields);
        }
    }
    let inner = body.strip_prefix(b"(")?;
    let close = memchr::memchr(b')', inner)?;
    let mut fields = split_with_template(template, &inner[close + 1..])?;
    fields.insert(
        0,
        Field {
            name: b"__attached_event",
            value: Value::Text(&inner[..close]),
        },
    );
    Some(fields)
}

/// Whether `body` ends the way `template` ends: its last literal, or the last byte of
/// its last value's shape. A cheap test that the record is complete.
fn ends_like(template: &Template, body: &[u8]) -> bool {
    match template.segments.last() {
        Some(Segment::Literal(lit)) => body
            .len()
            .checked_sub(lit.len())
            .is_some_and(|start| has_prefix(&body[start..], lit)),
        Some(Segment::Value { kind, .. }) => {
            let last = body.last().copied().unwrap_or(b' ');
            match kind {
                ValueKind::Signed | ValueKind::Unsigned => last.is_ascii_digit(),
                ValueKind::Hex => last.is_ascii_hexdigit(),
                ValueKind::QuotedStr => last == b'"' || body.ends_with(b"(fault)"),
                ValueKind::QuotedChar => last == b'\'',
                _ => true,
            }
        }
        None => body.is_empty(),
    }
}

/// Whether a `NAME: BODY` record whose next line starts a record ends here, as the
/// line-by-line decoder judges it with nothing held: it has no template to say otherwise,
/// or it ends the way one of its templates ends.
pub(super) fn ends_as_printed(entries: &[CatalogEntry], body: &[u8]) -> bool {
    // Most names have one entry: no iterator to set up.
    if let [entry] = entries {
        return entry
            .template
            .as_ref()
            .is_none_or(|template| ends_like(template, body));
    }
    let mut templates = entries
        .iter()
        .filter_map(|entry| entry.template.as_ref())
        .peekable();
    templates.peek().is_none() || templates.any(|template| ends_like(template, body))
}

/// Puts `fields` in place of the event's: into its vector, whose allocation the decoder
/// reuses for the next record.
fn set_fields<'a>(event_fields: &mut Vec<Field<'a>>, mut fields: Vec<Field<'a>>) {
    clear_fields(event_fields);
    event_fields.append(&mut fields);
}

/// Room for a syscall format's name on the stack: the longest (`sys_enter_` and a
/// syscall's name) is about 40 bytes.
const SYSCALL_NAME_ROOM: usize = 64;

/// `sys_openat` printed by a syscall tracepoint -> its format's name `sys_enter_openat`,
/// in `buffer` when it fits: a name is looked up for every syscall record.
fn syscall_event_name<'b>(
    prefix: &[u8],
    printed: &[u8],
    buffer: &'b mut [u8; SYSCALL_NAME_ROOM],
) -> Cow<'b, [u8]> {
    let rest = printed.strip_prefix(b"sys_").unwrap_or(printed);
    let len = prefix.len() + rest.len();
    match buffer.get_mut(..len) {
        Some(name) => {
            name[..prefix.len()].copy_from_slice(prefix);
            name[prefix.len()..].copy_from_slice(rest);
            Cow::Borrowed(name)
        }
        None => Cow::Owned([prefix, rest].concat()),
    }
}

/// Best-effort split of a probe's text without its format: the address column `(ip)` or
/// `(ret <- func)` first, then ` name=value` pairs.
fn guess_probe_fields(body: &[u8]) -> Vec<Field<'_>> {
    let Some(inner_and_rest) = body.strip_prefix(b"(") else {
        return split_guessed(body);
    };
    let Some(close) = inner_and_rest.iter().position(|b| *b == b')') else {
        return split_guessed(body);
    };
    let inner = &inner_and_rest[..close];
    let rest = inner_and_rest[close + 1..]
        .strip_prefix(b" ")
        .unwrap_or(&inner_and_rest[close + 1..]);
    let mut fields = match memchr::memmem::find(inner, b" <- ") {
        Some(arrow) => vec![
            Field {
                name: b"__probe_ret_ip",
                value: Value::Text(&inner[..arrow]),
            },
            Field {
                name: b"__probe_func",
                value: Value::Text(&inner[arrow + 4..]),
            },
        ],
        None => vec![Field {
            name: b"__probe_ip",
            value: Value::Text(inner),
        }],
    };
    fields.extend(split_guessed(rest));
    fields
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::parse::parse_event_format;

    /// The name is the prefix and the printed name without `sys_`, whether it fits the
    /// stack buffer or not.
    #[test]
    fn syscall_event_names_fit_or_are_allocated() {
        let mut buffer = [0; SYSCALL_NAME_ROOM];
        let name = syscall_event_name(b"sys_enter_", b"sys_openat", &mut buffer);
        assert!(matches!(name, Cow::Borrowed(b"sys_enter_openat")));
        let long = vec![b'x'; SYSCALL_NAME_ROOM];
        let mut buffer = [0; SYSCALL_NAME_ROOM];
        let name = syscall_event_name(b"sys_exit_", &long, &mut buffer);
        assert!(matches!(&name, Cow::Owned(_)));
        assert_eq!(&name[..9], b"sys_exit_");
        assert_eq!(&name[9..], &long[..]);
    }

    /// A hand-made uprobe format file: the common fields, `__probe_ip`, then `fields`
    /// (`"s32 n"`, each 4 bytes), and `print_fmt` as the file spells it.
    pub(in crate::decode) fn uprobe_format(
        name: &str,
        fields: &[&str],
        print_fmt: &str,
    ) -> crate::parse::EventFormat {
        let mut text = format!(
            "name: {name}\nID: 2326\nformat:\n\
             \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
             \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
             \tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n"
        );
        for (k, field) in fields.iter().enumerate() {
            let offset = 16 + 4 * k;
            text.push_str(&format!(
                "\tfield:{field};\toffset:{offset};\tsize:4;\tsigned:1;\n"
            ));
        }
        text.push_str(&format!("\nprint fmt: {print_fmt}\n"));
        parse_event_format(text.as_bytes()).unwrap()
    }

    /// A catalog of one hand-made uprobe format, `grp/ent`: `(%lx) p="%s" n=%d`.
    pub(in crate::decode) fn catalog() -> EventCatalog {
        let mut c = EventCatalog::new();
        c.insert(
            "grp",
            uprobe_format(
                "ent",
                &["__data_loc char[] p", "s32 n"],
                r#""(%lx) p=\"%s\" n=%d", REC->__probe_ip, __get_str(p), REC->n"#,
            ),
        );
        c
    }

    fn decode_all(catalog: &EventCatalog, text: &[u8]) -> (Vec<String>, DecodeSummary) {
        let mut decoder = Decoder::new(catalog);
        let mut out = Vec::new();
        let mut sink = |r: &Record<'_>| -> Result<(), ()> {
            out.push(format!("{r:?}"));
            Ok(())
        };
        for line in text.split(|b| *b == b'\n') {
            decoder.push_line(line, &mut sink).unwrap();
        }
        decoder.finish(&mut sink).unwrap();
        (out, decoder.summary().clone())
    }

    #[test]
    fn newline_in_string_joins_and_stacks_attach() {
        let c = catalog();
        let text = b"   t-1 [000] ..... 1.000000: ent: (0x1) p=\"a\nb\" n=3\n   t-1 [000] ..... 1.000000: <stack trace>\n => f1\n => f2+0x1/0x2\n   t-1 [000] ..... 1.000000: <user stack trace>\n =>  <00007f0000000001>\nCPU:1 [LOST 7 EVENTS]\ngarbage\n";
        let mut decoder = Decoder::new(&c);
        let mut events = Vec::new();
        let mut others = Vec::new();
        let mut sink = |r: &Record<'_>| -> Result<(), ()> {
            match r {
                Record::Event(e) => events.push((
                    e.fields
                        .clone()
                        .into_iter()
                        .map(|f| format!("{f:?}"))
                        .collect::<Vec<_>>(),
                    e.stack.iter().map(|f| f.to_vec()).collect::<Vec<_>>(),
                    e.ustack.iter().map(|f| f.to_vec()).collect::<Vec<_>>(),
                    e.group.map(str::to_owned),
                )),
                other => others.push(format!("{other:?}")),
            }
            Ok(())
        };
        for line in text.split(|b| *b == b'\n') {
            decoder.push_line(line, &mut sink).unwrap();
        }
        decoder.finish(&mut sink).unwrap();
        assert_eq!(events.len(), 1);
        let (fields, stack, ustack, group) = &events[0];
        assert!(fields[1].contains("Str([97, 10, 98])"), "{fields:?}");
        assert_eq!(stack, &vec![b"f1".to_vec(), b"f2+0x1/0x2".to_vec()]);
        assert_eq!(ustack, &vec![b"<00007f0000000001>".to_vec()]);
        assert_eq!(group.as_deref(), Some("grp"));
        assert_eq!(others.len(), 2);
        let s = decoder.summary();
        assert_eq!(
            (s.events, s.lost, s.lost_lines, s.unparsed, s.guessed),
            (1, 7, 1, 1, 0)
        );
    }

    #[test]
    fn unknown_event_is_guessed_and_counted() {
        let (out, s) = decode_all(
            &EventCatalog::new(),
            b"   t-1 [000] ..... 1.000000: other: (0x1 <- 0x2) a=1\n",
        );
        assert_eq!(s.guessed, 1);
        assert!(
            out[0].contains(&format!("{:?}", b"__probe_ret_ip")),
            "{out:?}"
        );
    }

    #[test]
    fn blank_lines_after_last_record_are_not_joined() {
        let (out, s) = decode_all(
            &catalog(),
            b"   t-1 [000] ..... 1.000000: ent: (0x1) p=\"a\" n=3\n\n\n",
        );
        assert_eq!(s.guessed, 0, "{out:?}");
        assert_eq!(s.events, 1);
    }

    #[test]
    fn template_decides_what_continues_a_record() {
        let c = catalog();
        // A string whose second line looks like a record header stays whole.
        let text = b"   t-1 [000] ..... 1.000000: ent: (0x1) p=\"x\n   t-2 [001] ..... 2.000000: ent: (0x2) p=\"y\" n=4\" n=3\n";
        let (out, s) = decode_all(&c, text);
        assert_eq!((s.events, s.guessed, s.unparsed), (1, 0, 0), "{out:?}");
        // A stray line after a complete record is its own unparsed record.
        let text = b"   t-1 [000] ..... 1.000000: ent: (0x1) p=\"x\" n=3\nstray\n";
        let (out, s) = decode_all(&c, text);
        assert_eq!((s.events, s.guessed, s.unparsed), (1, 0, 1), "{out:?}");
    }

    #[test]
    fn runaway_continuation_is_bounded() {
        let mut text = b"   t-1 [000] ..... 1.000000: ent: (0x1) p=\"a".to_vec();
        for _ in 0..2000 {
            text.extend_from_slice(b"\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        }
        let (_, s) = decode_all(&catalog(), &text);
        assert_eq!(s.events, 1);
        assert!(s.unparsed > 0);
    }
}
