//! The parsed columns of the record the decoder holds, kept as offsets into its text so
//! the line is parsed once however many continuation lines join it.

use std::ops::Range;

use crate::parse::bytes::offset_in;
use crate::parse::EventText;
use crate::parse::RecordHeader;
use crate::parse::StackKind;
use crate::parse::Tgid;

/// Where each column of a record lies in its text.
#[derive(Debug, Clone)]
pub(crate) struct PendingHead {
    comm: Range<usize>,
    pid: i32,
    tgid: Option<Tgid>,
    cpu: u32,
    flags: Option<Range<usize>>,
    ts: Range<usize>,
    text: TextSpans,
}

/// [`EventText`] as offsets. The part that may grow with continuation lines (the body,
/// the syscall arguments, the function's parent) runs to the end of the text.
#[derive(Debug, Clone)]
enum TextSpans {
    Named { name: Range<usize>, body: usize },
    SyscallEnter { name: Range<usize>, args: usize },
    SyscallExit { name: Range<usize>, ret: usize },
    Function { func: Range<usize>, parent: usize },
    Stack(StackKind),
}

fn span(line: &[u8], part: &[u8]) -> Range<usize> {
    let start = offset_in(line, part);
    start..start + part.len()
}

impl PendingHead {
    /// Records where the columns of `header` and `text` (sub-slices of `line`) lie.
    pub(crate) fn new(
        line: &[u8],
        header: &RecordHeader<'_>,
        text: Result<&EventText<'_>, StackKind>,
    ) -> Self {
        let text = match text {
            Ok(EventText::Named { name, body }) => TextSpans::Named {
                name: span(line, name),
                body: offset_in(line, body),
            },
            Ok(EventText::SyscallEnter { name, args }) => TextSpans::SyscallEnter {
                name: span(line, name),
                args: offset_in(line, args),
            },
            Ok(EventText::SyscallExit { name, ret }) => TextSpans::SyscallExit {
                name: span(line, name),
                ret: offset_in(line, ret),
            },
            Ok(EventText::Function { func, parent }) => TextSpans::Function {
                func: span(line, func),
                parent: offset_in(line, parent),
            },
            Err(kind) => TextSpans::Stack(kind),
        };
        Self {
            comm: span(line, header.comm),
            pid: header.pid,
            tgid: header.tgid,
            cpu: header.cpu,
            flags: header.flags.map(|f| span(line, f)),
            ts: span(line, header.ts),
            text,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    pub(crate) fn cpu(&self) -> u32 {
        self.cpu
    }

    /// The context columns, borrowed from `text` (the record's text).
    pub(crate) fn header<'a>(&self, text: &'a [u8]) -> RecordHeader<'a> {
        RecordHeader {
            comm: &text[self.comm.clone()],
            pid: self.pid,
            tgid: self.tgid,
            cpu: self.cpu,
            flags: self.flags.clone().map(|f| &text[f]),
            ts: &text[self.ts.clone()],
        }
    }

    /// The event's own text, or the kind of stack for a stack record.
    pub(crate) fn event_text<'a>(&self, text: &'a [u8]) -> Result<EventText<'a>, StackKind> {
        Ok(match &self.text {
            TextSpans::Named { name, body } => EventText::Named {
                name: &text[name.clone()],
                body: &text[*body..],
            },
            TextSpans::SyscallEnter { name, args } => {
                let args = &text[*args..];
                EventText::SyscallEnter {
                    name: &text[name.clone()],
                    args: args.strip_suffix(b")").unwrap_or(args),
                }
            }
            TextSpans::SyscallExit { name, ret } => EventText::SyscallExit {
                name: &text[name.clone()],
                ret: &text[*ret..],
            },
            TextSpans::Function { func, parent } => EventText::Function {
                func: &text[func.clone()],
                parent: &text[*parent..],
            },
            TextSpans::Stack(kind) => return Err(*kind),
        })
    }

    /// Name and body of a `NAME: BODY` event.
    pub(crate) fn named<'a>(&self, text: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        match &self.text {
            TextSpans::Named { name, body } => Some((&text[name.clone()], &text[*body..])),
            _ => None,
        }
    }
}
