//! The context columns of the last record line, kept to read the next one faster.
//!
//! Records come in runs from one task on one CPU: their lines match byte for byte from
//! the comm up to the timestamp (`           flood-18790   [000] DBZff  `). When a line
//! starts with the same bytes as the last record line in the kernel's alignment, its
//! comm, pid, tgid, cpu and flags are what they were, so only the timestamp and what
//! follows are read. A line that does not is read in full, so the result is always what
//! [`parse_line`] gives (the tests hold the two to it).

use super::bytes::offset_in;
use super::bytes::starts_with_padded;
use super::parse_line;
use super::trace_line::aligned_context;
use super::trace_line::parse_unaligned;
use super::trace_line::record_from;
use super::trace_line::timestamp_and_rest;
use super::trace_line::trim;
use super::EventText;
use super::RecordHeader;
use super::Tgid;
use super::TraceLine;

/// The longest context prefix kept: a 16-column comm, a 7-digit pid, a tgid column,
/// a cpu and flags take about 50 bytes.
const PREFIX_MAX: usize = 64;

/// The last aligned record line's context columns: its bytes up to the timestamp and what
/// they said, as offsets so that they apply to the next line.
#[derive(Debug, Clone)]
pub(crate) struct ContextMemo {
    prefix: [u8; PREFIX_MAX],
    /// How many bytes of `prefix` hold a line's context; 0 when none is kept.
    len: usize,
    comm: (usize, usize),
    pid: i32,
    tgid: Option<Tgid>,
    cpu: u32,
    flags: Option<(usize, usize)>,
    /// The last event name read after a kept context, with its `: `.
    name: [u8; NAME_MAX],
    /// How many bytes of `name` hold one; 0 when none is kept.
    name_len: usize,
}

/// The longest event name (with its `: `) kept.
const NAME_MAX: usize = 32;

impl Default for ContextMemo {
    fn default() -> Self {
        Self {
            prefix: [0; PREFIX_MAX],
            len: 0,
            comm: (0, 0),
            pid: 0,
            tgid: None,
            cpu: 0,
            flags: None,
            name: [0; NAME_MAX],
            name_len: 0,
        }
    }
}

impl ContextMemo {
    /// [`parse_line`]`(line)` into `out`, reading the context columns from the memo when
    /// `line` starts with the same bytes as the last record line. Written in place, and by
    /// each way out on its own: a parsed line that is returned and moved, or built for
    /// one shared write, was built on the stack and copied, which stalled on the copy.
    #[inline(never)]
    pub(crate) fn parse_into<'a>(&mut self, line: &'a [u8], out: &mut TraceLine<'a>) {
        if let Some((header, rest)) = self.context_hit(line) {
            if let Some(text) = self.name_hit(rest) {
                *out = TraceLine::Event(header, text);
                return;
            }
            *out = record_from(line, header, rest);
            self.remember_name(out);
            return;
        }
        if let Some((header, rest)) = aligned_context(line) {
            self.remember(line, &header);
            *out = record_from(line, header, rest);
            self.remember_name(out);
            return;
        }
        // Stack frames are most of the lines that are not records.
        if let Some(frame) = line.strip_prefix(b" => ") {
            *out = TraceLine::StackFrame(trim(frame));
            return;
        }
        *out = parse_unaligned(line);
    }

    /// [`parse_into`](Self::parse_into), returned.
    #[cfg(test)]
    fn parse<'a>(&mut self, line: &'a [u8]) -> TraceLine<'a> {
        let mut parsed = TraceLine::Blank;
        self.parse_into(line, &mut parsed);
        parsed
    }

    /// The context columns and the text after `TS: `, when `line` starts with the kept
    /// context. Every byte the columns were read from is the same, and a timestamp followed
    /// by `: ` cannot be read as flags, so the full read would reach this timestamp with
    /// these columns. When it is not there, the full read decides.
    #[inline(always)]
    fn context_hit<'a>(&self, line: &'a [u8]) -> Option<(RecordHeader<'a>, &'a [u8])> {
        if self.len == 0 || line.len() <= self.len {
            return None;
        }
        if !starts_with_padded(line, &self.prefix, self.len) {
            return None;
        }
        let (ts, rest) = timestamp_and_rest(&line[self.len..])?;
        let header = RecordHeader {
            comm: &line[self.comm.0..self.comm.1],
            pid: self.pid,
            tgid: self.tgid,
            cpu: self.cpu,
            flags: self.flags.map(|(start, end)| &line[start..end]),
            ts,
        };
        Some((header, rest))
    }

    /// `NAME: BODY` when `rest` starts with the kept name and its `: `: the name's
    /// characters end at its `:`, so the full read takes the same name.
    #[inline(always)]
    fn name_hit<'a>(&self, rest: &'a [u8]) -> Option<EventText<'a>> {
        if self.name_len == 0 || !starts_with_padded(rest, &self.name, self.name_len) {
            return None;
        }
        let (name, body) = rest.split_at(self.name_len);
        Some(EventText::Named {
            name: &name[..name.len() - 2],
            body,
        })
    }

    /// Keeps the event name of a `NAME: BODY` record.
    fn remember_name(&mut self, parsed: &TraceLine<'_>) {
        let TraceLine::Event(_, EventText::Named { name, .. }) = parsed else {
            return;
        };
        let Some(kept) = self.name.get_mut(..name.len() + 2) else {
            self.name_len = 0;
            return;
        };
        kept[..name.len()].copy_from_slice(name);
        kept[name.len()..].copy_from_slice(b": ");
        self.name_len = name.len() + 2;
    }

    /// Keeps `header`'s columns, read from `line` in the kernel's alignment.
    fn remember(&mut self, line: &[u8], header: &RecordHeader<'_>) {
        let len = offset_in(line, header.ts);
        let Some(prefix) = self.prefix.get_mut(..len) else {
            self.len = 0;
            return;
        };
        prefix.copy_from_slice(&line[..len]);
        self.len = len;
        let comm = offset_in(line, header.comm);
        self.comm = (comm, comm + header.comm.len());
        self.pid = header.pid;
        self.tgid = header.tgid;
        self.cpu = header.cpu;
        self.flags = header.flags.map(|flags| {
            let start = offset_in(line, flags);
            (start, start + flags.len())
        });
    }
}

/// Whether every line of `text`, read in order through one [`ContextMemo`], reads as
/// [`parse_line`] reads it alone. `Err` names the first line that does not. For tests and
/// the `trace_line` fuzz target.
#[doc(hidden)]
pub fn memo_agrees_with_parse_line(text: &[u8]) -> Result<(), String> {
    let mut memo = ContextMemo::default();
    for line in text.split(|b| *b == b'\n') {
        let mut read = TraceLine::Blank;
        memo.parse_into(line, &mut read);
        let alone = parse_line(line);
        if read != alone {
            return Err(format!(
                "{:?}: memo {read:?}, alone {alone:?}",
                String::from_utf8_lossy(line)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line, read after each other line, reads as `parse_line` reads it: lines that
    /// share context columns, lines that share only part of them, and lines whose
    /// timestamp column is not a timestamp.
    #[test]
    fn reads_as_parse_line_after_any_line() {
        let lines: &[&[u8]] = &[
            b"           flood-18790   [000] DBZff  1032.477661: flood: (0x55a1591962b9) i=2720",
            b"           flood-18790   [000] DBZff  1032.477670: flood: (0x55a1591962b9) i=2721",
            b"           flood-18790   [000] DBZff  1032.477680: <stack trace>",
            b"           flood-18790   [000] DBZff  1032.4776x0: flood: i=1",
            b"           flood-18790   [000] DBZff  12.4 1.5: flood: i=1",
            b"           flood-18790   [000] DBZff  1032: flood: i=1",
            b"           flood-18790   [001] DBZff  1032.477680: flood: i=1",
            b"           flood-18790   [000] d..1.  1032.477680: flood: i=1",
            b"           flood-18790   [000] 1032.477680: flood: i=1",
            b"           flood-18790   [000] 1033.477680: flood: i=1",
            b"           flood-18790   [000] 10.1 5.1: flood: i=1",
            b"           flood-18790   [000] .... 5.1: flood: i=1",
            b"           flood-18790   (  18790) [000] .... 5.1: flood: i=1",
            b"           flood-18790   (-------) [000] .... 5.1: flood: i=1",
            b"           flood-18790   (-------) [000] .... 5.1: sys_openat(dfd: 3)",
            b"           flood-18790   (-------) [000] .... 5.1: sys_openat -> 0x3",
            b"           flood-18790   (-------) [000] .... 5.1: vfs_read <-ksys_read",
            b"           flood-18790   (-------) [000] .... 5.1: !!",
            b" => do_syscall_64+0x5c/0xe0",
            b"CPU:1 [LOST 3 EVENTS]",
            b"a very long comm that is not aligned-12 [000] .... 5.1: flood: i=1",
            b"",
            b"           flood-18790   [000] DBZff  1032.477661",
            b"           flood-18790   [000] DBZff  1032.477661:",
        ];
        for first in lines {
            for second in lines {
                let mut memo = ContextMemo::default();
                assert_eq!(memo.parse(first), parse_line(first));
                assert_eq!(
                    memo.parse(second),
                    parse_line(second),
                    "after {:?}: {:?}",
                    String::from_utf8_lossy(first),
                    String::from_utf8_lossy(second)
                );
            }
        }
    }

    /// Every real capture in the repository, line by line in order.
    #[test]
    fn captures_read_as_parse_line() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for dir in ["fixtures", "tests/vm/captures"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                for name in ["trace_pipe.txt", "trace.txt"] {
                    if let Ok(text) = std::fs::read(path.join(name)) {
                        memo_agrees_with_parse_line(&text).unwrap();
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 10, "only {checked} captures found");
    }

    /// A line whose context columns are longer than the memo keeps is read in full.
    #[test]
    fn long_context_is_not_kept() {
        let line = format!(
            "           flood-18790{}[000] .... 5.1: flood: i=1",
            " ".repeat(60)
        );
        let mut memo = ContextMemo::default();
        assert_eq!(memo.parse(line.as_bytes()), parse_line(line.as_bytes()));
        assert_eq!(memo.len, 0);
    }
}
