//! A chunk's formatted records, written straight into the buffer they are handed over in.
//!
//! Formatting a JSON record into a scratch buffer and appending it to the chunk's output
//! cost a `memcpy` call per record (3% of `tprobe replay --format json`). A [`ChunkOutput`]
//! writes each JSON record in place, into the room past what is written. That room must
//! be initialised bytes (a [`Cursor`](super::cursor::Cursor) writes into a `&mut [u8]`), so
//! the buffer's length is the room it has, not what is written: zeroed once when it grows,
//! and reused as it is when the buffer comes back from the pool for another chunk.

use super::RecordFormat;
use super::RecordFormatter;
use crate::decode::Record;

/// Room made at least, when a record does not fit in what is left.
const MIN_GROWTH: usize = 64 * 1024;

/// A chunk's output: the records formatted so far, in a buffer whose bytes past them are
/// room for the next.
#[derive(Debug)]
pub(crate) struct ChunkOutput {
    /// `written` bytes of records, then room: every byte is initialised.
    buffer: Vec<u8>,
    written: usize,
    formatter: RecordFormatter,
}

impl ChunkOutput {
    /// Output in `format` into `buffer`, with `room` for it at least. JSON takes the
    /// buffer's bytes (if any) as room: they are zeroed once, and a buffer comes back
    /// from the pool with them. Text is appended to the buffer emptied.
    pub(crate) fn new(format: RecordFormat, mut buffer: Vec<u8>, room: usize) -> Self {
        match format {
            RecordFormat::Json if buffer.len() < room => buffer.resize(room, 0),
            RecordFormat::Json => {}
            _ => {
                buffer.clear();
                buffer.reserve(room);
            }
        }
        Self {
            buffer,
            written: 0,
            formatter: RecordFormatter::new(format),
        }
    }

    /// Appends `record`.
    #[inline]
    pub(crate) fn append(&mut self, record: &Record<'_>) {
        if self.formatter.format != RecordFormat::Json {
            // Text is written through `io::Write`: onto the end of the records.
            self.buffer.truncate(self.written);
            self.formatter.append(&mut self.buffer, record);
            self.written = self.buffer.len();
            return;
        }
        loop {
            let room = &mut self.buffer[self.written..];
            if let Some(used) = self.formatter.json.write_into(room, record) {
                self.written += used;
                return;
            }
            let grown = (self.buffer.len() * 2).max(self.written + MIN_GROWTH);
            self.buffer.resize(grown, 0);
        }
    }

    /// The records written.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buffer[..self.written]
    }

    /// The buffer, with its room, for another chunk.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Event;
    use crate::parse::Field;
    use crate::parse::RecordHeader;
    use crate::parse::Value;
    use std::borrow::Cow;

    fn record<'a>(comm: &'a [u8], text: &'a [u8]) -> Record<'a> {
        Record::Event(Event {
            header: RecordHeader {
                comm,
                pid: 7,
                tgid: None,
                cpu: 1,
                flags: Some(b"d..1."),
                ts: b"12.345678",
            },
            group: Some("g"),
            name: Cow::Borrowed(b"e"),
            fields: vec![Field {
                name: b"s",
                value: Value::Str(text),
            }],
            guessed: false,
            stack: Vec::new(),
            ustack: Vec::new(),
        })
    }

    /// The same bytes as a formatter appending to a vector, in JSON and text, whatever
    /// room the buffer brings (none, a little, stale bytes) and for records longer than
    /// the room at hand.
    #[test]
    fn writes_what_a_formatter_appends() {
        let long = vec![b'x'; 3 * MIN_GROWTH];
        let records = [
            record(b"a", b"short"),
            record(b"b", &long),
            record(b"a", b"with \"quotes\" and \n"),
            record(b"c", b""),
        ];
        for format in [RecordFormat::Json, RecordFormat::Text] {
            let mut want = Vec::new();
            let mut formatter = RecordFormatter::new(format);
            for r in &records {
                formatter.append(&mut want, r);
            }
            for buffer in [Vec::new(), vec![0; 10], vec![b'?'; 5000]] {
                let mut output = ChunkOutput::new(format, buffer, 0);
                for r in &records {
                    output.append(r);
                }
                assert!(output.bytes() == want, "{format:?}");
                let again = output.into_buffer();
                let mut output = ChunkOutput::new(format, again, 100);
                for r in &records {
                    output.append(r);
                }
                assert!(output.bytes() == want, "{format:?} reused");
            }
        }
    }
}
