//! Reading `error_log` around a write: remember the newest entry before, and after a
//! failure take the entry that appeared since (kernel-notes.md §6). The log is never
//! cleared: that would erase other tools' entries.

use std::fmt;
use std::path::Path;

use crate::parse::parse_error_log;
use crate::parse::ErrorLogEntry;

/// An `error_log` entry, owned: what the kernel said about a refused command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLogRecord {
    /// The kernel's local clock when logged, in microseconds.
    pub timestamp_micros: Option<u64>,
    /// Who logged it: `trace_uprobe`, `trace_kprobe`, `event filter parse error`…
    pub location: String,
    /// The message.
    pub message: String,
    /// The command as the kernel re-joined it (argv joined by single spaces).
    pub command: String,
    /// Byte offset of the caret in `command`.
    pub caret: Option<usize>,
}

impl ErrorLogRecord {
    fn from_entry(e: &ErrorLogEntry<'_>) -> Self {
        Self {
            timestamp_micros: e.timestamp_micros(),
            location: String::from_utf8_lossy(e.location).into_owned(),
            message: String::from_utf8_lossy(e.message).into_owned(),
            command: String::from_utf8_lossy(e.command).into_owned(),
            caret: e.caret,
        }
    }
}

impl fmt::Display for ErrorLogRecord {
    /// `MESSAGE`, the command, and a caret under the bad token (indented two spaces).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {}: {}", self.location, self.message)?;
        write!(f, "    {}", self.command)?;
        if let Some(at) = self.caret {
            let width = self
                .command
                .get(..at.min(self.command.len()))
                .map_or(at, |s| s.chars().count());
            write!(f, "\n    {:width$}^", "")?;
        }
        Ok(())
    }
}

/// The newest entry of an `error_log` before a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogMark {
    last: Option<(Option<u64>, Vec<u8>, Vec<u8>)>,
}

impl LogMark {
    /// Reads `path` (a missing or unreadable log gives an empty mark).
    pub(crate) fn take(path: &Path) -> Self {
        let text = std::fs::read(path).unwrap_or_default();
        Self::of(&text)
    }

    pub(crate) fn of(text: &[u8]) -> Self {
        let last = parse_error_log(text)
            .last()
            .map(|e| (e.timestamp_micros(), e.message.to_vec(), e.command.to_vec()));
        Self { last }
    }

    /// The entries logged after this mark, oldest first.
    fn new_entries<'a>(&self, entries: &'a [ErrorLogEntry<'a>]) -> &'a [ErrorLogEntry<'a>] {
        let Some((ts, message, command)) = &self.last else {
            return entries;
        };
        // The mark's own entry, looked for from the end: everything after it is new.
        if let Some(at) = entries.iter().rposition(|e| {
            e.timestamp_micros() == *ts && e.message == &message[..] && e.command == &command[..]
        }) {
            return entries.get(at + 1..).unwrap_or_default();
        }
        // It rotated out (8 entries are kept) or the log was cleared: newer by the clock.
        let first_new = entries
            .iter()
            .position(|e| match (e.timestamp_micros(), ts) {
                (Some(now), Some(then)) => now > *then,
                _ => false,
            })
            .unwrap_or(entries.len());
        entries.get(first_new..).unwrap_or_default()
    }

    /// After a failed write: the new entry whose command is one of `commands` (whitespace
    /// runs collapsed, as the kernel joins argv), with that command's index; else, when
    /// exactly one entry is new, that one (index `None`). Another tool's entry is never
    /// taken when ours can be told apart.
    pub(crate) fn find_for(
        &self,
        log_text: &[u8],
        commands: &[&str],
    ) -> Option<(Option<usize>, ErrorLogRecord)> {
        let entries = parse_error_log(log_text);
        let fresh = self.new_entries(&entries);
        let wanted: Vec<String> = commands.iter().map(|c| normalize(c)).collect();
        for e in fresh.iter().rev() {
            if let Some(i) = wanted.iter().position(|w| e.command == w.as_bytes()) {
                return Some((Some(i), ErrorLogRecord::from_entry(e)));
            }
        }
        match fresh {
            [only] => Some((None, ErrorLogRecord::from_entry(only))),
            _ => None,
        }
    }
}

/// argv joined by single spaces, as the kernel logs a command.
pub(crate) fn normalize(line: &str) -> String {
    line.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"[  161.311780] trace_uprobe: error: Unknown type is specified\n  Command: p:disc/bad /tmp/disc/t:0x1139 n=%si:s33\n                                               ^\n";
    const NEW: &[u8] = b"[  170.000001] trace_uprobe: error: Failed to find the given file\n  Command: p:g/e /nope:0x10\n             ^\n";
    const OTHER: &[u8] =
        b"[  170.500000] trace_kprobe: error: Other tool\n  Command: p:x/y z\n  ^\n";

    #[test]
    fn new_entry_after_mark() {
        let mark = LogMark::of(OLD);
        let after = [OLD, NEW].concat();
        let (i, rec) = mark
            .find_for(&after, &["p:g/ok /x:0x1", "p:g/e   /nope:0x10"])
            .unwrap();
        assert_eq!(i, Some(1));
        assert_eq!(rec.message, "Failed to find the given file");
        assert_eq!(rec.timestamp_micros, Some(170_000_001));
        // Nothing new: nothing taken, even though the log is not empty.
        assert_eq!(mark.find_for(OLD, &["p:g/e /nope:0x10"]), None);
    }

    #[test]
    fn prefers_matching_command_never_takes_a_foreign_one() {
        let mark = LogMark::of(OLD);
        let after = [OLD, NEW, OTHER].concat();
        let (_, rec) = mark.find_for(&after, &["p:g/e /nope:0x10"]).unwrap();
        assert_eq!(rec.location, "trace_uprobe");
        // Two new entries, neither ours: none taken.
        assert_eq!(mark.find_for(&after, &["p:nomatch x"]), None);
        // One new entry that is not literally ours: taken, line unknown.
        let after = [OLD, OTHER].concat();
        let (i, rec) = mark.find_for(&after, &["p:nomatch x"]).unwrap();
        assert_eq!((i, rec.location.as_str()), (None, "trace_kprobe"));
    }

    #[test]
    fn rotated_mark_falls_back_to_clock() {
        let mark = LogMark::of(OLD);
        // OLD rotated out; NEW is newer by the clock.
        let (_, rec) = mark.find_for(NEW, &[]).unwrap();
        assert_eq!(rec.command, "p:g/e /nope:0x10");
        // Empty log before: everything is new.
        assert!(LogMark::of(b"").find_for(NEW, &[]).is_some());
    }

    #[test]
    fn display_puts_caret_under_token() {
        let mark = LogMark::default();
        let (_, rec) = mark.find_for(OLD, &[]).unwrap();
        let text = rec.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1].find("s33"), lines[2].find('^'));
    }
}
