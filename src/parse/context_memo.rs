//! The context columns of the last record line, kept to read the next one faster.
//!
//! Records come in runs from one task on one CPU: their lines match byte for byte from
//! the comm up to the timestamp (`           flood-18790   [000] DBZff  `). When a line
//! starts with the same bytes as the last record line in the kernel's alignment, its
//! comm, pid, tgid, cpu and flags are what they were, so only the timestamp and what
//! follows are read. A line that does not is read in full, so the result is always what
//! [`parse_line`] gives (the tests hold the two to it).

use super::bytes::offset_in;
use super::kept_prefix::KeptPrefix;
use super::parse_line;
use super::trace_line::aligned_context;
use super::trace_line::frame_text;
use super::trace_line::parse_unaligned;
use super::trace_line::record_from;
use super::trace_line::timestamp_and_rest;
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
    /// A line's bytes up to its timestamp; none when no context is kept.
    prefix: KeptPrefix<PREFIX_MAX>,
    comm: (usize, usize),
    pid: i32,
    tgid: Option<Tgid>,
    cpu: u32,
    flags: Option<(usize, usize)>,
    /// The last two different event names read, each with its `: ` and id, the latest
    /// first. Two, because probes come in pairs: an entry probe and its return probe take
    /// turns line after line. A hit moves nothing, so each line compares the same way.
    names: [KeptName; 2],
    /// The id the next different name gets.
    next_id: u64,
}

/// An event name kept by a [`ContextMemo`].
#[derive(Debug, Clone, Default)]
struct KeptName {
    /// The name and its `: `; none when no name is kept here.
    bytes: KeptPrefix<NAME_MAX>,
    /// Tells this name from every other name kept (see [`NameId`]); `NameId::NONE` when
    /// none is kept.
    id: NameId,
}

/// The longest event name (with its `: `) kept.
const NAME_MAX: usize = 32;

/// Which event name a line read through a [`ContextMemo`] has: lines with the same id
/// (other than [`NameId::NONE`]) have the same name, so a caller can look the name up
/// once for a run of them. Ids are only compared between lines read through one memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameId(u64);

impl Default for NameId {
    fn default() -> Self {
        Self::NONE
    }
}

impl NameId {
    /// Not known to share a name with any other line.
    pub(crate) const NONE: Self = Self(0);
}

impl Default for ContextMemo {
    fn default() -> Self {
        Self {
            prefix: KeptPrefix::default(),
            comm: (0, 0),
            pid: 0,
            tgid: None,
            cpu: 0,
            flags: None,
            names: Default::default(),
            next_id: 1,
        }
    }
}

impl ContextMemo {
    /// [`parse_line`]`(line)` into `out`, reading the context columns from the memo when
    /// `line` starts with the same bytes as the last record line. Written in place, and by
    /// each way out on its own: a parsed line that is returned and moved, or built for
    /// one shared write, was built on the stack and copied, which stalled on the copy.
    ///
    /// Returns the [`NameId`] of the line's event name when it is a `NAME: BODY` record
    /// whose name the memo holds, [`NameId::NONE`] otherwise.
    #[inline(never)]
    pub(crate) fn parse_into<'a>(&mut self, line: &'a [u8], out: &mut TraceLine<'a>) -> NameId {
        if let Some((header, rest)) = self.context_hit(line) {
            if let Some((text, id)) = self.name_hit(rest) {
                *out = TraceLine::Event(header, text);
                return id;
            }
            *out = record_from(line, header, rest);
            return self.remember_name(out);
        }
        if let Some((header, rest)) = aligned_context(line) {
            self.remember(line, &header);
            *out = record_from(line, header, rest);
            return self.remember_name(out);
        }
        // Stack frames are most of the lines that are not records.
        if let Some(frame) = frame_text(line) {
            *out = TraceLine::StackFrame(frame);
            return NameId::NONE;
        }
        *out = parse_unaligned(line);
        NameId::NONE
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
        let len = self.prefix.len();
        if len == 0 || line.len() <= len || !self.prefix.starts(line) {
            return None;
        }
        let (ts, rest) = timestamp_and_rest(&line[len..])?;
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

    /// `NAME: BODY` and the name's id when `rest` starts with a kept name and its `: `:
    /// the name's characters end at its `:`, so the full read takes the same name.
    #[inline(always)]
    fn name_hit<'a>(&self, rest: &'a [u8]) -> Option<(EventText<'a>, NameId)> {
        let [latest, before] = &self.names;
        let kept = if latest.matches(rest) {
            latest
        } else if before.matches(rest) {
            before
        } else {
            return None;
        };
        let (name, body) = rest.split_at(kept.bytes.len());
        Some((
            EventText::Named {
                name: &name[..name.len() - 2],
                body,
            },
            kept.id,
        ))
    }

    /// Keeps the event name of a `NAME: BODY` record, and gives its id: a kept one's when
    /// the name is kept, a new one when not (and the older kept name is let go).
    fn remember_name(&mut self, parsed: &TraceLine<'_>) -> NameId {
        let TraceLine::Event(_, EventText::Named { name, .. }) = parsed else {
            return NameId::NONE;
        };
        for kept in &self.names {
            let bytes = kept.bytes.bytes();
            if bytes.len() == name.len() + 2 && bytes[..name.len()] == **name {
                return kept.id;
            }
        }
        self.names[1] = self.names[0].clone();
        let latest = &mut self.names[0];
        if !latest.bytes.keep(&[name, b": "]) {
            latest.id = NameId::NONE;
            return NameId::NONE;
        }
        // A u64 is not used up: ids never repeat.
        latest.id = NameId(self.next_id);
        self.next_id += 1;
        latest.id
    }

    /// Keeps `header`'s columns, read from `line` in the kernel's alignment.
    fn remember(&mut self, line: &[u8], header: &RecordHeader<'_>) {
        let len = offset_in(line, header.ts);
        if !self.prefix.keep(&[&line[..len]]) {
            return;
        }
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

impl KeptName {
    /// Whether `rest` starts with this name (and its `: `).
    #[inline(always)]
    fn matches(&self, rest: &[u8]) -> bool {
        self.bytes.len() != 0 && self.bytes.starts(rest)
    }
}

/// The frame of a stack frame line (` => FRAME`) as [`parse_line`] reads it, and `None`
/// for any other line. A frame line leaves a [`ContextMemo`] as it was, so a run of them
/// may be read with this instead, with no look at the memo.
#[inline(always)]
pub(crate) fn stack_frame(line: &[u8]) -> Option<&[u8]> {
    let frame = frame_text(line)?;
    // A record line whose 15-byte comm starts with `=> ` starts so too.
    if aligned_context(line).is_some() {
        return None;
    }
    Some(frame)
}

/// Whether every line of `text`, read in order through one [`ContextMemo`], reads as
/// [`parse_line`] reads it alone, and whether lines given the same [`NameId`] have the
/// same event name. `Err` names the first line that does not. For tests and the
/// `trace_line` fuzz target.
#[doc(hidden)]
pub fn memo_agrees_with_parse_line(text: &[u8]) -> Result<(), String> {
    let mut memo = ContextMemo::default();
    let mut names: Vec<(NameId, &[u8])> = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let mut read = TraceLine::Blank;
        let id = memo.parse_into(line, &mut read);
        let alone = parse_line(line);
        if read != alone {
            return Err(format!(
                "{:?}: memo {read:?}, alone {alone:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let frame = stack_frame(line);
        let as_frame = matches!(alone, TraceLine::StackFrame(_)).then_some(alone);
        if frame.map(TraceLine::StackFrame) != as_frame {
            return Err(format!(
                "{:?}: stack_frame {frame:?}, parse_line {alone:?}",
                String::from_utf8_lossy(line)
            ));
        }
        if id == NameId::NONE {
            continue;
        }
        let TraceLine::Event(_, EventText::Named { name, .. }) = read else {
            return Err(format!(
                "{:?}: {id:?} for {read:?}",
                String::from_utf8_lossy(line)
            ));
        };
        match names.iter().find(|(known, _)| *known == id) {
            Some((_, known)) if *known != name => {
                return Err(format!(
                    "{:?}: {id:?} was given to {:?} too",
                    String::from_utf8_lossy(line),
                    String::from_utf8_lossy(known)
                ));
            }
            Some(_) => {}
            None => names.push((id, name)),
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

    /// Lines of one event name share an id while the memo keeps that name, whether read
    /// from the memo or in full; the memo keeps two names, so a name it let go of for a
    /// third one gets a new id; lines it does not read as records of a kept name get none.
    #[test]
    fn name_ids_follow_the_kept_names() {
        let record = |comm: &str, name: &str| {
            format!("           {comm}-18790   [000] DBZff  1032.477661: {name}: i=1").into_bytes()
        };
        let lines: [(Vec<u8>, &str); 13] = [
            (record("flood", "flood"), "a"),
            (record("flood", "flood"), "a"),
            (record("other", "flood"), "a"),
            (b" => do_syscall_64+0x5c/0xe0".to_vec(), ""),
            (record("flood", "touch"), "b"),
            (record("flood", "flood"), "a"),
            (record("other", "touch"), "b"),
            (
                b"a very long comm that is not aligned-12 [000] .... 5.1: flood: i=1".to_vec(),
                "",
            ),
            (record("flood", "flood"), "a"),
            // A third name takes the place of the one kept earlier (flood, read after
            // touch but kept before it).
            (record("flood", "misc"), "c"),
            (record("flood", "touch"), "b"),
            (record("flood", "misc"), "c"),
            (record("flood", "flood"), "d"),
        ];
        let mut memo = ContextMemo::default();
        let mut seen: Vec<(&str, NameId)> = Vec::new();
        for (line, label) in &lines {
            let (line, label) = (line.as_slice(), *label);
            let mut parsed = TraceLine::Blank;
            let id = memo.parse_into(line, &mut parsed);
            let shown = String::from_utf8_lossy(line);
            if label.is_empty() {
                assert_eq!(id, NameId::NONE, "{shown}");
                continue;
            }
            assert_ne!(id, NameId::NONE, "{shown}");
            match seen.iter().find(|(known, _)| *known == label) {
                Some((_, known)) => assert_eq!(id, *known, "{shown}"),
                None => {
                    assert!(seen.iter().all(|(_, other)| *other != id), "{shown}");
                    seen.push((label, id));
                }
            }
        }
        assert_eq!(seen.len(), 4);
    }

    /// A frame line reads as its frame; a record line whose comm starts with `=> ` (so
    /// that the line starts like a frame) and other lines read as none.
    #[test]
    fn stack_frames_read_as_parse_line_reads_them() {
        let frame: &[u8] = b" => do_syscall_64+0x5c/0xe0 ";
        assert_eq!(stack_frame(frame), Some(&b"do_syscall_64+0x5c/0xe0"[..]));
        assert_eq!(
            parse_line(frame),
            TraceLine::StackFrame(b"do_syscall_64+0x5c/0xe0")
        );
        let record: &[u8] = b" => abcdefghijkl-18790   [000] DBZff  1032.477661: flood: i=1";
        assert!(matches!(parse_line(record), TraceLine::Event(..)));
        assert_eq!(stack_frame(record), None);
        assert_eq!(stack_frame(b"  => x"), None);
        assert!(memo_agrees_with_parse_line(&[frame, record, frame].join(&b'\n')).is_ok());
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
        assert_eq!(memo.prefix.len(), 0);
    }
}
