//! Decoding a block of text, with records taken straight from it.
//!
//! Line by line, the decoder copies each record's text so it can wait for the line that
//! shows where the record ends. When the whole block is at hand, that line is already
//! there: a record whose end is plain (the next line starts a record, or its stacks are
//! followed by one) is decoded from the block in place, with no copy and no state kept.
//! So is a record whose strings hold newlines, when the text up to the next record fits
//! its template: the line-by-line decoder joins those lines too, and the record's lines
//! are one slice of the block. Anything else (a text that does not fit, a blank or stray
//! line after the record, the block's last record) goes through [`Decoder::push_line`],
//! so the records are exactly those of a decoder fed the same lines one by one (the tests
//! and the `decoder` fuzz target hold the two paths to it).

use std::borrow::Cow;

use super::decoder::best_fit;
use super::decoder::decode_event_into;
use super::decoder::ends_as_printed;
use super::decoder::Decoder;
use super::decoder::MAX_RECORD_LINES;
use super::decoder::MAX_RECORD_TEXT;
use super::event_catalog::CatalogEntry;
use super::record::Event;
use super::record::Record;
use crate::parse::bytes::find_newline;
use crate::parse::bytes::offset_in;
use crate::parse::recycle::emptied;
use crate::parse::recycle::forget_plain_fields;
use crate::parse::stack_frame;
use crate::parse::ContextMemo;
use crate::parse::EventText;
use crate::parse::Field;
use crate::parse::Fit;
use crate::parse::NameId;
use crate::parse::RecordHeader;
use crate::parse::StackKind;
use crate::parse::TraceLine;

/// A line of the block: where it starts and ends (before its `\n`), how it parsed, and
/// the memo's id for its event name.
#[derive(Clone, Copy)]
struct ParsedLine<'t> {
    start: usize,
    end: usize,
    parsed: TraceLine<'t>,
    name_id: NameId,
}

/// The `start` of a slot that holds no line.
const NO_LINE: usize = usize::MAX;

impl ParsedLine<'_> {
    /// A slot with no line in it.
    const NONE: Self = Self {
        start: NO_LINE,
        end: NO_LINE,
        parsed: TraceLine::Blank,
        name_id: NameId::NONE,
    };
}

/// Allocations kept between records so that decoding one allocates nothing.
#[derive(Debug, Default)]
pub(super) struct Spare {
    pub(super) fields: Vec<Field<'static>>,
    stack: Vec<&'static [u8]>,
    ustack: Vec<&'static [u8]>,
}

impl Spare {
    /// Empty frame vectors for a record, with the allocations of the last ones.
    pub(super) fn take_frames<'t>(&mut self) -> (Vec<&'t [u8]>, Vec<&'t [u8]>) {
        (
            emptied(std::mem::take(&mut self.stack)),
            emptied(std::mem::take(&mut self.ustack)),
        )
    }

    /// Keeps the allocations of a record's frame vectors for the next one. Vectors that
    /// never allocated (a record without stacks) leave the kept ones be.
    #[inline(always)]
    pub(super) fn keep_frames(&mut self, stack: Vec<&[u8]>, ustack: Vec<&[u8]>) {
        if stack.capacity() > 0 {
            self.stack = emptied(stack);
        }
        if ustack.capacity() > 0 {
            self.ustack = emptied(ustack);
        }
    }

    /// Keeps the allocations of a record that went to the sink. `may_own_memory` is
    /// `false` when its fields are known to hold no array (see `decode_event_into`), so
    /// they are let go of without a look at each. Inlined: a record passed by value to a
    /// call is copied with `memcpy`.
    #[inline(always)]
    pub(super) fn keep_record(&mut self, record: Record<'_>, may_own_memory: bool) {
        if let Record::Event(event) = record {
            let mut fields = event.fields;
            if !may_own_memory {
                forget_plain_fields(&mut fields);
            }
            self.fields = emptied(fields);
            self.keep_frames(event.stack, event.ustack);
        }
    }
}

/// The record the in-place path decodes each of its records into, holding the spare
/// allocations while it does.
pub(super) struct ReusedEvent<'t> {
    /// Always an event.
    record: Record<'t>,
    /// `false` when the fields are known to hold no array (see `decode_event_into`): they
    /// are then let go of without a look at each.
    fields_may_own_memory: bool,
}

impl<'t> ReusedEvent<'t> {
    /// An event with the spare allocations.
    fn take(spare: &mut Spare) -> Self {
        let (stack, ustack) = spare.take_frames();
        Self {
            record: Record::Event(Event {
                header: RecordHeader {
                    comm: b"",
                    pid: 0,
                    tgid: None,
                    cpu: 0,
                    flags: None,
                    ts: b"",
                },
                group: None,
                name: Cow::Borrowed(b""),
                fields: emptied(std::mem::take(&mut spare.fields)),
                guessed: false,
                stack,
                ustack,
            }),
            fields_may_own_memory: false,
        }
    }

    /// The event, for the next record: its frames emptied, and its fields too when they
    /// hold no array (`decode_event_into` empties them in full).
    #[inline(always)]
    fn next(&mut self) -> &mut Event<'t> {
        let event = self.event();
        event.stack.clear();
        event.ustack.clear();
        if !self.fields_may_own_memory {
            let Record::Event(event) = &mut self.record else {
                unreachable!("a reused record is always an event");
            };
            forget_plain_fields(&mut event.fields);
        }
        self.event()
    }

    /// The event.
    #[inline(always)]
    fn event(&mut self) -> &mut Event<'t> {
        match &mut self.record {
            Record::Event(event) => event,
            _ => unreachable!("a reused record is always an event"),
        }
    }

    /// Gives the allocations back to the spare.
    fn give_back(self, spare: &mut Spare) {
        spare.keep_record(self.record, self.fields_may_own_memory);
    }
}

impl<'c> Decoder<'c> {
    /// Feeds every line of `text` (lines end in `\n`; the last one may lack it), as
    /// [`push_line`](Self::push_line) would line by line, taking the records whose end is
    /// plain straight from `text`.
    pub fn push_text<E>(
        &mut self,
        text: &[u8],
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // The in-place records are decoded into this one, one after another: built afresh,
        // each record was written whole and its vectors taken from the spare and given back.
        let mut reused = ReusedEvent::take(&mut self.spare);
        let result = self.push_text_into(text, &mut reused, sink);
        reused.give_back(&mut self.spare);
        result
    }

    /// [`push_text`](Self::push_text), with the in-place records decoded into `reused`.
    #[inline(always)]
    fn push_text_into<'t, E>(
        &mut self,
        text: &'t [u8],
        reused: &mut ReusedEvent<'t>,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        'c: 't,
    {
        // The line at hand and the one after it, parsed in place: a parsed line is large,
        // and moving it from record to record stalled on the copies. The two are swapped
        // by reference: held by an index, every access was worked out from it.
        let [mut one, mut other] = [ParsedLine::NONE; 2];
        let (mut slot, mut ahead) = (&mut one, &mut other);
        read_line(&mut self.context, text, 0, slot);
        // The line the in-place path last declined: the next attempt must be past it.
        let mut declined = usize::MAX;
        loop {
            let line: &ParsedLine<'_> = slot;
            if line.start == NO_LINE {
                break;
            }
            if self.is_idle() && line.start != declined {
                if self.record_in_place(text, line, ahead, reused, sink)? {
                    // The line that ended the record is the next one at hand.
                    std::mem::swap(&mut slot, &mut ahead);
                    continue;
                }
                declined = line.start;
            }
            let bytes = &text[line.start..line.end];
            self.push_parsed_line(bytes, line.parsed, sink)?;
            if line.start != declined && self.holds_only(bytes) {
                // A fresh record of this line alone, as the in-place path would start it:
                // let that path take it, and the lines after it.
                self.retract_pending();
                continue;
            }
            let after = line.end + 1;
            read_line(&mut self.context, text, after, slot);
        }
        Ok(())
    }

    /// Decodes the event that starts at `first` into `reused` if the lines after it show
    /// plainly where it ends, and leaves the line that ends it in `ahead`. `false`, with
    /// nothing sent to the sink, when the record is not plain, or when `text` ends before
    /// the line that ends it.
    fn record_in_place<'t, E>(
        &mut self,
        text: &'t [u8],
        first: &ParsedLine<'t>,
        ahead: &mut ParsedLine<'t>,
        reused: &mut ReusedEvent<'t>,
        sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        'c: 't,
    {
        let TraceLine::Event(header, event_text) = &first.parsed else {
            return Ok(false);
        };
        let entries = match event_text {
            EventText::Named { name, .. } => self.entries_named(name, first.name_id),
            _ => &[],
        };
        let event = reused.next();
        let mut open_stack = None;
        let mut event_text = *event_text;
        // The record's text ends at `record_end`, after `record_lines` lines.
        let mut record_end = first.end;
        let mut record_lines = 1;
        let mut at = first.end + 1;
        let mut read_next = true;
        loop {
            if read_next && !read_line(&mut self.context, text, at, ahead) {
                // What follows is not in this block.
                return Ok(false);
            }
            read_next = true;
            if record_lines == 1 && open_stack.is_none() && !ahead.parsed.starts_record() {
                // A string with a newline in it, it seems: take the lines up to the next
                // record as the rest of the record when the line-by-line decoder would.
                let joined = match event_text {
                    EventText::Named { name, body } => self
                        .continued_lines(text, first.start, body, entries, ahead)
                        .map(|(body, lines)| (name, body, lines)),
                    _ => None,
                };
                let Some((name, body, lines)) = joined else {
                    return Ok(false);
                };
                event_text = EventText::Named { name, body };
                record_end = offset_in(text, body) + body.len();
                record_lines = lines;
                // `ahead` holds the line after them.
                read_next = false;
                continue;
            }
            let line: &ParsedLine<'t> = ahead;
            match line.parsed {
                TraceLine::StackFrame(frame) if open_stack.is_some() => {
                    match open_stack {
                        Some(StackKind::User) => event.ustack.push(frame),
                        _ => event.stack.push(frame),
                    }
                    at = line.end + 1;
                    continue;
                }
                TraceLine::StackStart(stack_header, kind)
                    if stack_header.pid == header.pid && stack_header.cpu == header.cpu =>
                {
                    open_stack = Some(kind);
                    at = line.end + 1;
                    // The frames after it, read straight from the text: a frame line
                    // leaves the memo as it was.
                    let frames = match kind {
                        StackKind::User => &mut event.ustack,
                        _ => &mut event.stack,
                    };
                    while let Some((frame, end)) = frame_at(text, at) {
                        frames.push(frame);
                        at = end + 1;
                    }
                    continue;
                }
                _ => {}
            }
            // The line-by-line decoder weighs a following line only while the record has
            // room for it.
            let room = (record_end - first.start) + 1 + (line.end - line.start) <= MAX_RECORD_TEXT
                && record_lines < MAX_RECORD_LINES;
            if open_stack.is_none() && room {
                // Its test for a record that ends here: the next line starts a record and
                // the text ends as its template does.
                let ends = line.parsed.starts_record()
                    && match event_text {
                        EventText::Named { body, .. } => ends_as_printed(entries, body),
                        _ => true,
                    };
                if !ends {
                    return Ok(false);
                }
            }
            break;
        }
        self.summary.events += 1;
        event.header = *header;
        event.guessed = false;
        reused.fields_may_own_memory =
            decode_event_into(self.catalog, entries, event_text, reused.event());
        if reused.event().guessed {
            self.summary.guessed += 1;
        }
        sink(&reused.record)?;
        Ok(true)
    }

    /// The text of a `NAME: BODY` record whose `body` (in `text`, on the line that starts
    /// at `record_start`) runs on over the lines from `ahead` to the next record, and how
    /// many lines it has, when the line-by-line decoder joins them all: its last line
    /// joins when the text up to it fits a template completely (or there is none), and
    /// that join takes in any lines held before it; the record has room for them all.
    /// `ahead` is left holding the line after them. `None` when that is not sure, or the
    /// block ends first.
    fn continued_lines<'t>(
        &mut self,
        text: &'t [u8],
        record_start: usize,
        body: &'t [u8],
        entries: &[CatalogEntry],
        ahead: &mut ParsedLine<'t>,
    ) -> Option<(&'t [u8], usize)> {
        let mut lines = 1;
        let mut last_end;
        loop {
            lines += 1;
            last_end = ahead.end;
            let last_is_blank = ahead.parsed == TraceLine::Blank;
            // Room for this line, or the record ends before it.
            if last_end - record_start > MAX_RECORD_TEXT || lines > MAX_RECORD_LINES {
                return None;
            }
            if !read_line(&mut self.context, text, last_end + 1, ahead) {
                return None;
            }
            if ahead.parsed.starts_record() {
                // A blank last line is held, not joined.
                if last_is_blank {
                    return None;
                }
                break;
            }
        }
        let body_start = offset_in(text, body);
        let joined = &text[body_start..last_end];
        let mut templates = entries
            .iter()
            .filter_map(|entry| entry.template.as_ref())
            .peekable();
        let joins = templates.peek().is_none() || best_fit(templates, joined) == Fit::Complete;
        joins.then_some((joined, lines))
    }

    /// The catalog entries of the event `name`, which has the memo's id `id`: runs of
    /// records of one event, or of an entry probe and its return probe taking turns, look
    /// each name up once.
    #[inline(always)]
    fn entries_named(&mut self, name: &[u8], id: NameId) -> &'c [CatalogEntry] {
        let [latest, before] = self.last_named;
        if id != NameId::NONE {
            if id == latest.0 {
                return latest.1;
            }
            if id == before.0 {
                self.last_named = [before, latest];
                return before.1;
            }
        }
        let entries = self.catalog.lookup(name);
        self.last_named = [(id, entries), latest];
        entries
    }
}

/// The stack frame on the line of `text` that starts at `start`, and where that line ends;
/// `None` when it is not a frame line (or `start` is past the end).
#[inline(always)]
fn frame_at(text: &[u8], start: usize) -> Option<(&[u8], usize)> {
    if !text.get(start..)?.starts_with(b" => ") {
        return None;
    }
    let end = find_newline(text, start).unwrap_or(text.len());
    stack_frame(&text[start..end]).map(|frame| (frame, end))
}

/// Reads the line of `text` that starts at `start` into `slot`; `false` (and the slot
/// marked empty) past the end. The parse is written into the slot where it stays.
#[inline(always)]
fn read_line<'t>(
    context: &mut ContextMemo,
    text: &'t [u8],
    start: usize,
    slot: &mut ParsedLine<'t>,
) -> bool {
    if start >= text.len() {
        slot.start = NO_LINE;
        return false;
    }
    let end = find_newline(text, start).unwrap_or(text.len());
    slot.start = start;
    slot.end = end;
    slot.name_id = context.parse_into(&text[start..end], &mut slot.parsed);
    true
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::decode::EventCatalog;

    /// Every record and the summary, as a decoder fed `text` line by line gives them.
    fn line_by_line(catalog: &EventCatalog, text: &[u8]) -> Vec<String> {
        let mut decoder = Decoder::new(catalog);
        let mut out = Vec::new();
        let mut sink = |r: &Record<'_>| -> Result<(), ()> {
            out.push(format!("{r:?}"));
            Ok(())
        };
        decoder.push_lines(text, &mut sink).unwrap();
        decoder.finish(&mut sink).unwrap();
        out.push(format!("{:?}", decoder.summary()));
        out
    }

    /// The same through `push_text`, with `text` cut into blocks at the given line
    /// numbers (each block a whole number of lines, as the readers hand them over).
    fn in_blocks(catalog: &EventCatalog, text: &[u8], every: usize) -> Vec<String> {
        let mut decoder = Decoder::new(catalog);
        let mut out = Vec::new();
        let mut sink = |r: &Record<'_>| -> Result<(), ()> {
            out.push(format!("{r:?}"));
            Ok(())
        };
        let mut start = 0;
        let mut count = 0;
        for nl in memchr::memchr_iter(b'\n', text) {
            count += 1;
            if count % every == 0 {
                decoder.push_text(&text[start..=nl], &mut sink).unwrap();
                start = nl + 1;
            }
        }
        decoder.push_text(&text[start..], &mut sink).unwrap();
        decoder.finish(&mut sink).unwrap();
        out.push(format!("{:?}", decoder.summary()));
        out
    }

    fn same_both_ways(catalog: &EventCatalog, text: &[u8], what: &str) {
        let expected = line_by_line(catalog, text);
        for every in [1, 2, 3, 7, usize::MAX] {
            let got = in_blocks(catalog, text, every);
            assert!(
                got == expected,
                "{what}, blocks of {every} lines: in place gave\n{got:#?}\nline by line\n{expected:#?}"
            );
        }
    }

    /// Every real capture in the repository, with its format files.
    #[test]
    fn captures_decode_the_same_in_place_and_line_by_line() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["fixtures", "tests/vm/captures"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let events = path.join("events");
                let catalog = if events.is_dir() {
                    EventCatalog::from_dir(&events).unwrap()
                } else {
                    EventCatalog::new()
                };
                for name in ["trace_pipe.txt", "trace.txt"] {
                    let Ok(text) = std::fs::read(path.join(name)) else {
                        continue;
                    };
                    same_both_ways(&catalog, &text, &path.join(name).display().to_string());
                    // Without formats too: the guessing path.
                    same_both_ways(&EventCatalog::new(), &text, "no formats");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 10, "only {checked} captures found");
    }

    /// Hand-made: the shapes where a record's end is not plain, next to plain ones.
    #[test]
    fn awkward_ends_decode_the_same_in_place_and_line_by_line() {
        let mut catalog = crate::decode::decoder::tests::catalog();
        // An unquoted string last, which a blank line after it would still fit.
        catalog.insert(
            "grp",
            crate::decode::decoder::tests::uprobe_format(
                "tail",
                &["__data_loc char[] s"],
                r#""(%lx) s=%s", REC->__probe_ip, __get_str(s)"#,
            ),
        );
        let header =
            |pid: u32, ts: u32| format!("               t-{pid}    [000] ..... {ts}.000000: ");
        let mut text = String::new();
        // A string with a newline, one whose second line looks like a record, a blank
        // line inside a string and after a record, a stray line after a complete record,
        // stacks of the same and of another thread, an orphan stack, LOST between
        // records, an event without a format, a record that never closes its string.
        for (k, body) in [
            "ent: (0x1) p=\"a\nb\" n=1",
            "ent: (0x1) p=\"x\n               t-2    [001] ..... 2.000000: ent: (0x2) p=\"y\" n=4\" n=3",
            "ent: (0x1) p=\"\n\n\" n=2",
            "ent: (0x1) p=\"c\" n=5\n",
            "ent: (0x1) p=\"d\" n=6\nstray",
            "ent: (0x1) p=\"e\" n=7",
            "other: (0x1 <- 0x2) a=1",
            // Strings over several lines: two newlines, then with its stacks, then with a
            // line inside that does not fit yet, one that never fits, an unquoted string
            // last with a blank line after it and in it, one without a format, the most
            // lines a record may have and one more, and one that is still open.
            "ent: (0x1) p=\"a\nb\nc\" n=9",
            "ent: (0x1) p=\"q\nr\" n=12",
            "ent: (0x1) p=\"s\" n=\nt\" n=13",
            "ent: (0x1) p=\"u\nv\" n=x",
            "tail: (0x1) s=a\nb\n",
            "tail: (0x1) s=a\n\nb",
            "other: (0x1 <- 0x2) a=1\nb=2",
            &format!("ent: (0x1) p=\"{}\" n=14", "w\n".repeat(MAX_RECORD_LINES - 1)),
            &format!("ent: (0x1) p=\"{}\" n=15", "w\n".repeat(MAX_RECORD_LINES)),
            "ent: (0x1) p=\"u\nv 5",
            "ent: (0x1) p=\"f",
        ]
        .into_iter()
        .enumerate()
        {
            let pid = 1 + (k as u32 % 3);
            text.push_str(&header(pid, k as u32));
            text.push_str(body);
            text.push('\n');
            if k % 2 == 0 {
                text.push_str(&header(pid, k as u32));
                text.push_str("<stack trace>\n => f1\n => f2+0x1/0x2\n");
                text.push_str(&header(pid + 10, k as u32));
                text.push_str("<user stack trace>\n =>  <00007f0000000001>\n");
            }
            if k % 3 == 0 {
                text.push_str("CPU:1 [LOST 7 EVENTS]\n");
            }
        }
        // Records of two lines as long as a record may be, and one byte longer.
        for (k, extra) in [(20, 0), (21, 1)] {
            let head = format!("{}ent: (0x1) p=\"", header(1, k));
            let tail = "\" n=16";
            let fill = MAX_RECORD_TEXT + extra - head.len() - 1 - tail.len();
            text.push_str(&format!("{head}{}\n{tail}\n", "y".repeat(fill)));
        }
        text.push_str(&header(1, 22));
        text.push_str("ent: (0x1) p=\"z\" n=17\n");
        same_both_ways(&catalog, text.as_bytes(), "hand-made");
        // Found by the decoder fuzz target: `NAME:` with nothing after it, in a comm with
        // ` x=` in it, then the next record.
        let empty_body = format!(
            "           a x=1-5    [000] ..... 9.000000: nofmt:\n{}ent: (0x1) p=\"g\" n=8\n",
            header(6, 10)
        );
        same_both_ways(&catalog, empty_body.as_bytes(), "empty body");
        same_both_ways(
            &catalog,
            &text.as_bytes()[..text.len() - 1],
            "without the last newline",
        );
    }
}
