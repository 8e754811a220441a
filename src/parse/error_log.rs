//! The `error_log` file: why the kernel refused a definition, and where.
//!
//! ```text
//! [  161.311780] trace_uprobe: error: Unknown type is specified
//!   Command: p:disc/bad /tmp/disc/t:0x1139 n=%si:s33
//!                                                ^
//! ```
//! The caret's column minus `strlen("  Command: ")` is the byte offset of the bad token in
//! the command (kernel-notes.md §6). The command is argv joined by single spaces, so the
//! offset is into that string, which [`ErrorLogEntry::command`] holds.

use nom::bytes::complete::tag;
use nom::bytes::complete::take_until;
use nom::bytes::complete::take_while;
use nom::bytes::complete::take_while1;
use nom::IResult;
use nom::Parser;

/// Width of the `  Command: ` prefix the caret line is aligned to.
const COMMAND_PREFIX_LEN: usize = 11;

/// One entry of `error_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorLogEntry<'a> {
    /// `161.311780`: the kernel's local clock when the error was logged.
    pub timestamp: &'a [u8],
    /// Who logged it: `trace_kprobe`, `trace_uprobe`, `trace_fprobe`, `event_probe`,
    /// `event filter parse error`…
    pub location: &'a [u8],
    /// The message after `error: `.
    pub message: &'a [u8],
    /// The command as the kernel re-joined it.
    pub command: &'a [u8],
    /// Byte offset of the caret in [`command`](Self::command), when a caret line was present.
    pub caret: Option<usize>,
}

impl ErrorLogEntry<'_> {
    /// The timestamp in microseconds, for "newer than my write" comparisons.
    pub fn timestamp_micros(&self) -> Option<u64> {
        let text = std::str::from_utf8(self.timestamp).ok()?;
        let (sec, usec) = text.split_once('.')?;
        let sec: u64 = sec.trim().parse().ok()?;
        let usec: u64 = usec.parse().ok()?;
        sec.checked_mul(1_000_000)?.checked_add(usec)
    }
}

/// Parses every entry of an `error_log` file; lines that fit no entry are skipped.
pub fn parse_error_log(input: &[u8]) -> Vec<ErrorLogEntry<'_>> {
    let mut entries = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        match entry(rest) {
            Ok((after, e)) => {
                entries.push(e);
                rest = after;
            }
            Err(_) => {
                rest = match memchr::memchr(b'\n', rest) {
                    Some(nl) => &rest[nl + 1..],
                    None => &[],
                };
            }
        }
    }
    entries
}

/// The last entry, the one a failed write most likely produced.
pub fn last_error(input: &[u8]) -> Option<ErrorLogEntry<'_>> {
    parse_error_log(input).pop()
}

fn entry(input: &[u8]) -> IResult<&[u8], ErrorLogEntry<'_>> {
    let (input, _) = tag(&b"["[..]).parse(input)?;
    let (input, _) = take_while(|b| b == b' ').parse(input)?;
    let (input, timestamp) = take_while1(|b: u8| b.is_ascii_digit() || b == b'.').parse(input)?;
    let (input, _) = tag(&b"] "[..]).parse(input)?;
    let (input, location) = take_until(&b": error: "[..]).parse(input)?;
    let (input, _) = tag(&b": error: "[..]).parse(input)?;
    let (input, message) = line(input);
    let (input, _) = tag(&b"  Command: "[..]).parse(input)?;
    let (input, command) = line(input);
    let (input, caret) = caret_line(input);
    Ok((
        input,
        ErrorLogEntry {
            timestamp,
            location,
            message,
            command,
            caret,
        },
    ))
}

/// A line without its newline, and the input after the newline.
fn line(input: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', input) {
        Some(nl) => (&input[nl + 1..], &input[..nl]),
        None => (&[], input),
    }
}

/// `      ^`: the caret's offset into the command.
fn caret_line(input: &[u8]) -> (&[u8], Option<usize>) {
    let (after, text) = line(input);
    let spaces = text.iter().take_while(|b| **b == b' ').count();
    if text.get(spaces) == Some(&b'^') && text[spaces + 1..].iter().all(|b| *b == b' ') {
        (after, Some(spaces.saturating_sub(COMMAND_PREFIX_LEN)))
    } else {
        (input, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_6_18: &[u8] = b"[  161.311780] trace_uprobe: error: Unknown type is specified\n  Command: p:disc/bad /tmp/disc/t:0x1139 n=%si:s33\n                                               ^\n";

    #[test]
    fn real_entry_caret_points_at_bad_type() {
        let entries = parse_error_log(REAL_6_18);
        assert_eq!(entries.len(), 1);
        let e = entries[0];
        assert_eq!(e.location, b"trace_uprobe");
        assert_eq!(e.message, b"Unknown type is specified");
        assert_eq!(e.command, b"p:disc/bad /tmp/disc/t:0x1139 n=%si:s33");
        let at = e.caret.unwrap();
        assert_eq!(&e.command[at..], b"s33");
        assert_eq!(e.timestamp_micros(), Some(161_311_780));
    }

    #[test]
    fn several_entries_with_junk_between() {
        let mut log = REAL_6_18.to_vec();
        log.extend_from_slice(b"junk\n[ 5.000001] event filter parse error: error: Field not found\n  Command: foo == 1\n  ^\n");
        log.extend_from_slice(b"[ 6.000000] trace_kprobe: error: No caret\n  Command: p:x y");
        let entries = parse_error_log(&log);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].location, b"event filter parse error");
        assert_eq!(entries[1].caret, Some(0));
        assert_eq!(entries[2].caret, None);
        assert_eq!(last_error(&log).unwrap().message, b"No caret");
    }
}
