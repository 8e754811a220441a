//! One line of `trace_pipe` / `trace` text, classified and split into its columns.
//!
//! The context columns the kernel prints (`trace_print_context`, kernel-notes.md §3) are
//! `%16s-%-7d [(%7d) ][%03d] [FLAGS ]TS: ` — comm, pid, optional tgid, cpu, optional flags,
//! timestamp. A comm may hold spaces, dashes, digits, brackets and colons, so the parser
//! anchors on the `[cpu]` column and takes the *last* `-pid` before it, never splitting the
//! comm on whitespace. This module does no I/O and never panics.

use memchr::memchr_iter;

use super::bytes::blank_run;
use super::bytes::digit_run;
use super::bytes::digits_value;

/// What the process id column said about the thread group (`options/record-tgid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tgid {
    /// The tgid was known: `(   1730)`.
    Known(i32),
    /// The column was printed but the kernel had no tgid saved: `(-------)`.
    Unknown,
}

/// Which kind of stack a `<stack trace>` record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// `<stack trace>`: kernel frames (`options/stacktrace`).
    Kernel,
    /// `<user stack trace>`: user frames (`options/userstacktrace`).
    User,
}

/// The context columns every record line starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader<'a> {
    /// Command name as printed (from `saved_cmdlines` at read time; `<...>` if unknown).
    pub comm: &'a [u8],
    /// Thread id.
    pub pid: i32,
    /// Thread group id column, when `record-tgid` was on.
    pub tgid: Option<Tgid>,
    /// CPU the event was recorded on.
    pub cpu: u32,
    /// The latency flags column (`d..1.`), absent when `irq-info` was off.
    pub flags: Option<&'a [u8]>,
    /// Timestamp exactly as printed: `147.606363` (sec.usec) or `204` (counter clocks).
    pub ts: &'a [u8],
}

/// How the text after the timestamp names its event.
///
/// `repr(u8)` here and on [`TraceLine`]: a tag byte of their own, read once per line;
/// with the tag folded into a field's spare values, it was worked out from that field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventText<'a> {
    /// `NAME: BODY`, the form of probes and most tracepoints.
    Named {
        /// Event name, without the group (the kernel does not print it).
        name: &'a [u8],
        /// Everything after `NAME: `.
        body: &'a [u8],
    },
    /// `sys_NAME(ARGS)`: a `syscalls/sys_enter_NAME` tracepoint.
    SyscallEnter {
        /// `sys_openat`.
        name: &'a [u8],
        /// The text between the parentheses: `dfd: 0xffffff9c, filename: 0x…`.
        args: &'a [u8],
    },
    /// `sys_NAME -> RET`: a `syscalls/sys_exit_NAME` tracepoint.
    SyscallExit {
        /// `sys_openat`.
        name: &'a [u8],
        /// The return value as printed (`0x3`).
        ret: &'a [u8],
    },
    /// `FUNC <-PARENT`: an entry of the `function` tracer.
    Function {
        /// The traced function.
        func: &'a [u8],
        /// Its caller.
        parent: &'a [u8],
    },
}

/// One line of trace text, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TraceLine<'a> {
    /// An event record: context columns and the event's own text.
    Event(RecordHeader<'a>, EventText<'a>),
    /// `<stack trace>` or `<user stack trace>`: frames follow on ` => ` lines.
    StackStart(RecordHeader<'a>, StackKind),
    /// ` => frame` (a line of a stack record), trimmed: `do_syscall_64+0x5c/0xe0`,
    /// `<00005647d826818f>`.
    StackFrame(&'a [u8]),
    /// `CPU:N [LOST M EVENTS]`, or `CPU:N [LOST EVENTS]` when the count is unknown.
    Lost {
        /// The CPU whose events were lost.
        cpu: u32,
        /// How many, when the kernel knew.
        count: Option<u64>,
    },
    /// `##### CPU N buffer started ####` in the `trace` file.
    BufferStarted {
        /// The CPU.
        cpu: u32,
    },
    /// A `#` header line of the `trace` file.
    Comment(&'a [u8]),
    /// An empty line (or only whitespace).
    Blank,
    /// Anything else: kept whole, never an error.
    Unparsed(&'a [u8]),
}

impl TraceLine<'_> {
    /// Whether this line starts a new record, so it cannot be the continuation of a string
    /// that held a newline.
    pub fn starts_record(&self) -> bool {
        matches!(
            self,
            TraceLine::Event(..)
                | TraceLine::StackStart(..)
                | TraceLine::Lost { .. }
                | TraceLine::BufferStarted { .. }
        )
    }
}

/// Classifies one line (without its trailing newline; a trailing `\r` is kept as data).
pub fn parse_line(line: &[u8]) -> TraceLine<'_> {
    // A record in the kernel's alignment first: its comm may start with `=> ` and so look
    // like a frame, but then it is right-aligned and cannot start the line with ` => `.
    if let Some((header, rest)) = aligned_context(line) {
        return record_from(line, header, rest);
    }
    parse_unaligned(line)
}

/// The frame of a line that starts as stack frame lines do (` => FRAME`). Such a line
/// is a frame unless it reads as a record in the kernel's alignment.
#[inline(always)]
pub(super) fn frame_text(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b" => ").map(trim)
}

/// [`parse_line`] for a line that is not a record in the kernel's alignment.
pub(super) fn parse_unaligned(line: &[u8]) -> TraceLine<'_> {
    if let Some(frame) = frame_text(line) {
        return TraceLine::StackFrame(frame);
    }
    if let Some(record) = parse_record(line) {
        return record;
    }
    if line.iter().all(|b| *b == b' ' || *b == b'\t') {
        return TraceLine::Blank;
    }
    if let Some(lost) = parse_lost(line) {
        return lost;
    }
    if let Some(cpu) = parse_buffer_started(line) {
        return TraceLine::BufferStarted { cpu };
    }
    if line.first() == Some(&b'#') {
        return TraceLine::Comment(line);
    }
    TraceLine::Unparsed(line)
}

/// Tries each ` [digits] ` in the line as the cpu column and keeps the first whose
/// neighbours parse as `comm-pid [(tgid)]` before and `[flags] ts: ` after.
fn parse_record(line: &[u8]) -> Option<TraceLine<'_>> {
    for open in memchr_iter(b'[', line) {
        let Some((cpu, after_cpu)) = cpu_column(line, open) else {
            continue;
        };
        let Some((comm, pid, tgid)) = context_before(&line[..open]) else {
            continue;
        };
        let Some(AfterCpu { flags, ts, rest }) = context_after(&line[after_cpu..]) else {
            continue;
        };
        let header = RecordHeader {
            comm,
            pid,
            tgid,
            cpu,
            flags,
            ts,
        };
        return Some(record_from(line, header, rest));
    }
    None
}

/// The kernel's own layout, read forward in one pass: `%16s-%-7d [(%7d) ][%03d] …`. The
/// kernel right-aligns comm in 16 columns, so the pid's dash is byte 16, which a comm
/// cannot fake. This is the line shape of almost every record, so it touches each byte of
/// the context columns once. The context columns and the text after `TS: `.
#[inline(always)]
pub(super) fn aligned_context(line: &[u8]) -> Option<(RecordHeader<'_>, &[u8])> {
    if line.get(COMM_WIDTH) != Some(&b'-') {
        return None;
    }
    let pid_start = COMM_WIDTH + 1;
    let (pid, pid_len) = short_number(&line[pid_start..])?;
    let mut at = skip_spaces(line, pid_start + pid_len);
    let mut tgid = None;
    if line.get(at) == Some(&b'(') {
        let close = at + 1 + memchr::memchr(b')', &line[at + 1..])?;
        let inner = trim(&line[at + 1..close]);
        tgid = Some(if !inner.is_empty() && inner.iter().all(|b| *b == b'-') {
            Tgid::Unknown
        } else {
            Tgid::Known(parse_i32(inner)?)
        });
        at = skip_spaces(line, close + 1);
    }
    if line.get(at) != Some(&b'[') {
        return None;
    }
    let (cpu, after_cpu) = cpu_column(line, at)?;
    let AfterCpu { flags, ts, rest } = context_after(&line[after_cpu..])?;
    let header = RecordHeader {
        // Right-aligned in 16 columns, so usually many spaces: measured a word at a time.
        comm: &line[blank_run(&line[..COMM_WIDTH])..COMM_WIDTH],
        pid,
        tgid,
        cpu,
        flags,
        ts,
    };
    Some((header, rest))
}

/// A record line's kind, from the text after `TS: `.
#[inline(always)]
pub(super) fn record_from<'a>(
    line: &'a [u8],
    header: RecordHeader<'a>,
    rest: &'a [u8],
) -> TraceLine<'a> {
    match rest {
        b"<stack trace>" => TraceLine::StackStart(header, StackKind::Kernel),
        b"<user stack trace>" => TraceLine::StackStart(header, StackKind::User),
        _ => match event_text(rest) {
            Some(text) => TraceLine::Event(header, text),
            None => TraceLine::Unparsed(line),
        },
    }
}

/// Width of the comm column (`%16s`).
const COMM_WIDTH: usize = 16;

/// `[ddd]` at `open`, preceded by a space and followed by a space: the cpu and the index
/// just past the `] `.
#[inline(always)]
fn cpu_column(line: &[u8], open: usize) -> Option<(u32, usize)> {
    if open == 0 || line[open - 1] != b' ' {
        return None;
    }
    // The kernel prints `[%03d] `: three digits, read directly.
    if let Some([d0 @ b'0'..=b'9', d1 @ b'0'..=b'9', d2 @ b'0'..=b'9', b']', b' ']) =
        line.get(open + 1..open + 6)
    {
        let cpu = u32::from(d0 - b'0') * 100 + u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
        return Some((cpu, open + 6));
    }
    let (cpu, digits_len) = leading_number(&line[open + 1..]);
    let close = open + 1 + digits_len;
    if digits_len == 0 || line.get(close) != Some(&b']') || line.get(close + 1) != Some(&b' ') {
        return None;
    }
    let cpu = u32::try_from(cpu?).ok()?;
    Some((cpu, close + 2))
}

/// `   comm-pid   [(tgid) ]` ending right before the cpu column's `[`.
fn context_before(before: &[u8]) -> Option<(&[u8], i32, Option<Tgid>)> {
    let mut rest = trim_end(before);
    let mut tgid = None;
    if rest.last() == Some(&b')') {
        let open = rest.iter().rposition(|b| *b == b'(')?;
        let inner = trim(&rest[open + 1..rest.len() - 1]);
        tgid = Some(if !inner.is_empty() && inner.iter().all(|b| *b == b'-') {
            Tgid::Unknown
        } else {
            Tgid::Known(parse_i32(inner)?)
        });
        rest = trim_end(&rest[..open]);
    }
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    // A column of digits alone has no dash before them: not a `comm-pid`.
    let dash = rest.len().checked_sub(digits + 1)?;
    if rest.get(dash) != Some(&b'-') {
        return None;
    }
    let pid = parse_i32(&rest[dash + 1..])?;
    let comm = trim_start(&rest[..dash]);
    Some((comm, pid, tgid))
}

/// The columns after the cpu: optional flags, the timestamp, and the event's text.
struct AfterCpu<'a> {
    flags: Option<&'a [u8]>,
    ts: &'a [u8],
    rest: &'a [u8],
}

/// `[FLAGS ]TS: REST` after the cpu column.
#[inline(always)]
fn context_after(after: &[u8]) -> Option<AfterCpu<'_>> {
    let after = trim_start(after);
    // Flags are 4 or 5 flag letters and a space. Anything else is read as the timestamp,
    // which must end in `:`, so a first word that ends in a space and is not flags fails
    // there as it should.
    let flags_len = match after {
        [a, b, c, d, b' ', ..] if [a, b, c, d].iter().all(|f| is_flag_char(**f)) => Some(4),
        [a, b, c, d, e, b' ', ..] if [a, b, c, d, e].iter().all(|f| is_flag_char(**f)) => Some(5),
        _ => None,
    };
    let (flags, ts_part) = match flags_len {
        Some(len) => (Some(&after[..len]), trim_start(&after[len..])),
        None => (None, after),
    };
    let (ts, rest) = timestamp_and_rest(ts_part)?;
    Some(AfterCpu { flags, ts, rest })
}

/// `TS: REST`: the timestamp and the event's text after it.
#[inline(always)]
pub(super) fn timestamp_and_rest(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let ts_len = timestamp_len(input)?;
    let rest = input[ts_len..].strip_prefix(b": ")?;
    Some((&input[..ts_len], rest))
}

/// Length of `digits` or `digits.digits` at the start of `input`.
#[inline(always)]
fn timestamp_len(input: &[u8]) -> Option<usize> {
    let int_len = digit_run(input);
    if int_len == 0 {
        return None;
    }
    if input.get(int_len) == Some(&b'.') {
        let frac = digit_run(&input[int_len + 1..]);
        if frac == 0 {
            return None;
        }
        return Some(int_len + 1 + frac);
    }
    Some(int_len)
}

/// Flag letters of every kernel generation (kernel-notes.md §3): irqs, need-resched,
/// context, preempt depth and migrate-disable depth.
fn is_flag_char(b: u8) -> bool {
    FLAG_CHARS[usize::from(b)]
}

/// [`is_flag_char`] as a table: it is asked for every byte of every record's flags.
static FLAG_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let letters = b".0123456789abcdefDXNnpBLlZzHhs";
    let mut i = 0;
    while i < letters.len() {
        table[letters[i] as usize] = true;
        i += 1;
    }
    table
};

/// The event's own text after `TS: `.
#[inline(always)]
fn event_text(rest: &[u8]) -> Option<EventText<'_>> {
    let name_len = rest.iter().take_while(|b| is_event_name_char(**b)).count();
    if name_len == 0 {
        return None;
    }
    let (name, after) = rest.split_at(name_len);
    if let Some(body) = after.strip_prefix(b": ") {
        return Some(EventText::Named { name, body });
    }
    if after == b":" {
        // The empty body is the end of the line, not a static empty slice: the decoder
        // keeps where each column lies in the line, and reads the body back from there.
        return Some(EventText::Named {
            name,
            body: &after[1..],
        });
    }
    if name.starts_with(b"sys_") {
        if let Some(args) = after.strip_prefix(b"(") {
            let args = args.strip_suffix(b")").unwrap_or(args);
            return Some(EventText::SyscallEnter { name, args });
        }
        if let Some(ret) = after.strip_prefix(b" -> ") {
            return Some(EventText::SyscallExit { name, ret });
        }
    }
    if let Some(parent) = after.strip_prefix(b" <-") {
        return Some(EventText::Function { func: name, parent });
    }
    None
}

/// Characters of event names and of function names printed by the function tracer
/// (`foo.isra.0`).
fn is_event_name_char(b: u8) -> bool {
    EVENT_NAME_CHARS[usize::from(b)]
}

/// [`is_event_name_char`] as a table: it is asked for every byte of every event's name.
static EVENT_NAME_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
        b += 1;
    }
    table
};

/// `CPU:N [LOST M EVENTS]` / `CPU:N [LOST EVENTS]`.
fn parse_lost(line: &[u8]) -> Option<TraceLine<'_>> {
    let rest = trim(line).strip_prefix(b"CPU:")?;
    let cpu_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let cpu = parse_u32(&rest[..cpu_len])?;
    let rest = rest[cpu_len..].strip_prefix(b" [LOST ")?;
    if rest == b"EVENTS]" {
        return Some(TraceLine::Lost { cpu, count: None });
    }
    let count_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if &rest[count_len..] != b" EVENTS]" {
        return None;
    }
    let count = parse_u64(&rest[..count_len])?;
    Some(TraceLine::Lost {
        cpu,
        count: Some(count),
    })
}

/// `##### CPU 1 buffer started ####`.
fn parse_buffer_started(line: &[u8]) -> Option<u32> {
    let rest = line.strip_prefix(b"##### CPU ")?;
    let cpu_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let tail = &rest[cpu_len..];
    if !tail.starts_with(b" buffer started") {
        return None;
    }
    parse_u32(&rest[..cpu_len])
}

/// The decimal number at the start of `input` and how many digits it had; the number is
/// `None` when it overflows `u64` (the digit count is still right).
fn leading_number(input: &[u8]) -> (Option<u64>, usize) {
    let len = digit_run(input);
    (digits_value(&input[..len]), len)
}

/// A pid or tgid column: the digits `input` starts with (at least one) as an `i32`, and
/// how many there were. Up to nine digits always fit, and a pid has at most seven, so the
/// common case is a plain loop.
#[inline(always)]
fn short_number(input: &[u8]) -> Option<(i32, usize)> {
    let mut value: i32 = 0;
    for (len, &b) in input.iter().enumerate().take(9) {
        if !b.is_ascii_digit() {
            return (len > 0).then_some((value, len));
        }
        value = value * 10 + i32::from(b - b'0');
    }
    if input.len() <= 9 {
        return (!input.is_empty()).then_some((value, input.len()));
    }
    let (value, len) = leading_number(input);
    Some((i32::try_from(value?).ok()?, len))
}

/// The index of the first byte at or after `at` that is not a space.
#[inline(always)]
fn skip_spaces(line: &[u8], mut at: usize) -> usize {
    while line.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

/// Decimal digits to `u64`, `None` on empty input, non-digits or overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

fn parse_u32(digits: &[u8]) -> Option<u32> {
    u32::try_from(parse_u64(digits)?).ok()
}

fn parse_i32(digits: &[u8]) -> Option<i32> {
    match digits.strip_prefix(b"-") {
        Some(abs) => i32::try_from(-i64::try_from(parse_u64(abs)?).ok()?).ok(),
        None => i32::try_from(parse_u64(digits)?).ok(),
    }
}

#[inline(always)]
pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    &s[n..]
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    &s[..s.len() - n]
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    trim_start(trim_end(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &[u8]) -> (RecordHeader<'_>, EventText<'_>) {
        match parse_line(line) {
            TraceLine::Event(h, t) => (h, t),
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn uprobe_line_real_6_18() {
        let (h, t) = event(b"               t-1727    [001] DBZff   147.606363: ent: (0x55bb6db58139) p=\"/tmp/a \" b=1\" x\" n=-5");
        assert_eq!(h.comm, b"t");
        assert_eq!(h.pid, 1727);
        assert_eq!(h.tgid, None);
        assert_eq!(h.cpu, 1);
        assert_eq!(h.flags, Some(&b"DBZff"[..]));
        assert_eq!(h.ts, b"147.606363");
        assert_eq!(
            t,
            EventText::Named {
                name: b"ent",
                body: b"(0x55bb6db58139) p=\"/tmp/a \" b=1\" x\" n=-5"
            }
        );
    }

    #[test]
    fn pid_columns_of_every_width() {
        assert_eq!(short_number(b"1727    ["), Some((1727, 4)));
        assert_eq!(short_number(b"7"), Some((7, 1)));
        assert_eq!(short_number(b"123456789"), Some((123_456_789, 9)));
        assert_eq!(short_number(b"123456789 "), Some((123_456_789, 9)));
        assert_eq!(short_number(b"2147483647 "), Some((i32::MAX, 10)));
        assert_eq!(short_number(b"2147483648 "), None);
        assert_eq!(short_number(b"99999999999999999999999 "), None);
        assert_eq!(short_number(b" 1"), None);
        assert_eq!(short_number(b""), None);
    }

    #[test]
    fn cpu_columns_of_the_kernel_and_other_widths() {
        let line = b"x [007] y";
        assert_eq!(cpu_column(line, 2), Some((7, 8)));
        assert_eq!(cpu_column(b"x [12] y", 2), Some((12, 7)));
        assert_eq!(cpu_column(b"x [1234] y", 2), Some((1234, 9)));
        assert_eq!(cpu_column(b"x [007]y", 2), None);
        assert_eq!(cpu_column(b"x[007] y", 1), None);
        assert_eq!(cpu_column(b"x [] y", 2), None);
    }

    /// Found by the decoder fuzz target: only digits before the cpu column (an overflow
    /// in builds that check arithmetic).
    #[test]
    fn digits_without_a_dash_before_the_cpu_column_are_unparsed() {
        for line in [
            &b"1 [2] 1: e: x"[..],
            b"12345 [000] ..... 1.000000: e: x",
            b" 7 [1] 5:",
        ] {
            assert_eq!(parse_line(line), TraceLine::Unparsed(line));
        }
    }

    #[test]
    fn awkward_comms_anchor_on_cpu_and_last_pid() {
        for (line, comm, pid) in [
            (
                &b"        my app-1-85      [000] d..1.   1.000001: e: x=1"[..],
                &b"my app-1"[..],
                85,
            ),
            (
                b"           12345-90      [000] .....   1.000001: e: x=1",
                b"12345",
                90,
            ),
            (
                b"            x: y-91      [000] .....   1.000001: e: x=1",
                b"x: y",
                91,
            ),
            (
                b"           <...>-85      [000] .....   1.000001: e: x=1",
                b"<...>",
                85,
            ),
            (
                b"     a [1] b-c-7       [002] .....   1.000001: e: x=1",
                b"a [1] b-c",
                7,
            ),
            (
                b"      h\xc3\xa9llo \xff-7       [002] .....   1.000001: e: x=1",
                b"h\xc3\xa9llo \xff",
                7,
            ),
            (
                b"   trailing -7       [002] .....   1.000001: e: x=1",
                b"trailing ",
                7,
            ),
        ] {
            let (h, _) = event(line);
            assert_eq!(h.comm, comm, "{}", String::from_utf8_lossy(line));
            assert_eq!(h.pid, pid);
        }
    }

    #[test]
    fn comm_that_looks_like_a_header_loses_to_the_aligned_columns() {
        let line = format!(
            "{:>16}-{:<7} [001] .....     1.000001: ev: a=1",
            "x-1 [0] 2: e:", 5
        );
        let (h, t) = event(line.as_bytes());
        assert_eq!(h.comm, b"x-1 [0] 2: e:");
        assert_eq!(h.pid, 5);
        assert_eq!(h.cpu, 1);
        assert_eq!(
            t,
            EventText::Named {
                name: b"ev",
                body: b"a=1"
            }
        );
    }

    #[test]
    fn tgid_column_and_counter_clock_without_flags() {
        let (h, _) = event(
            b"               t-1774    (   1774) [000]             2: ent: (0x55721efa0139) n=1",
        );
        assert_eq!(h.tgid, Some(Tgid::Known(1774)));
        assert_eq!(h.flags, None);
        assert_eq!(h.ts, b"2");
        let (h, _) = event(b"           <...>-12    (-------) [001] d.h2. 11630806345077: e: x=1");
        assert_eq!(h.tgid, Some(Tgid::Unknown));
        assert_eq!(h.flags, Some(&b"d.h2."[..]));
        assert_eq!(h.ts, b"11630806345077");
    }

    #[test]
    fn stack_records_and_frames() {
        let line =
            b"               t-1730    (   1730) [001] DBZff   147.619413: <user stack trace>";
        assert!(matches!(
            parse_line(line),
            TraceLine::StackStart(_, StackKind::User)
        ));
        assert_eq!(
            parse_line(b" =>  <00005647d826818f>"),
            TraceLine::StackFrame(b"<00005647d826818f>")
        );
        assert_eq!(
            parse_line(b" => do_syscall_64+0x5c/0xe0"),
            TraceLine::StackFrame(b"do_syscall_64+0x5c/0xe0")
        );
    }

    #[test]
    fn syscalls_and_function_tracer() {
        let (_, t) = event(b"             cat-1747    (   1747) [001] .....   152.986176: sys_openat(dfd: 0xffffff9c, filename: 0x562abb5f78c0, flags: 0x241, mode: 0x1b6)");
        assert_eq!(
            t,
            EventText::SyscallEnter {
                name: b"sys_openat",
                args: b"dfd: 0xffffff9c, filename: 0x562abb5f78c0, flags: 0x241, mode: 0x1b6"
            }
        );
        let (_, t) = event(b"             cat-1747    [001] .....   152.986188: sys_openat -> 0x3");
        assert_eq!(
            t,
            EventText::SyscallExit {
                name: b"sys_openat",
                ret: b"0x3"
            }
        );
        let (_, t) = event(b"            bash-1234    [001] ...1.   123.456789: do_sys_openat2.isra.0 <-__x64_sys_openat");
        assert_eq!(
            t,
            EventText::Function {
                func: b"do_sys_openat2.isra.0",
                parent: b"__x64_sys_openat"
            }
        );
    }

    #[test]
    fn lost_header_blank_and_unparsed() {
        assert_eq!(
            parse_line(b"CPU:1 [LOST 1428 EVENTS]"),
            TraceLine::Lost {
                cpu: 1,
                count: Some(1428)
            }
        );
        assert_eq!(
            parse_line(b"CPU:0 [LOST EVENTS]"),
            TraceLine::Lost {
                cpu: 0,
                count: None
            }
        );
        assert_eq!(
            parse_line(b"##### CPU 3 buffer started ####"),
            TraceLine::BufferStarted { cpu: 3 }
        );
        assert!(matches!(
            parse_line(b"# tracer: nop"),
            TraceLine::Comment(_)
        ));
        assert_eq!(parse_line(b"   "), TraceLine::Blank);
        assert_eq!(parse_line(b"x\" n=1"), TraceLine::Unparsed(b"x\" n=1"));
        assert_eq!(
            parse_line(b"  t-1 [000] ..... 1.0: "),
            TraceLine::Unparsed(b"  t-1 [000] ..... 1.0: ")
        );
    }
}
