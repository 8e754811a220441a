//! Writers for decoded records: JSON Lines (the schema of design.md) and human text.
//! Both write through any `io::Write`; give them a buffered one.

mod chunk_output;
mod cursor;
mod escape;
mod json_lines;
mod text;

pub(crate) use chunk_output::ChunkOutput;
use json_lines::JsonFormatter;
pub use json_lines::JsonLines;
pub(crate) use text::write_value;
pub use text::Text;

use std::io;

use crate::decode::Record;

/// Something that writes decoded records.
pub trait RecordWriter {
    /// Writes one record.
    fn write_record(&mut self, record: &Record<'_>) -> io::Result<()>;
    /// Flushes what is buffered.
    fn flush(&mut self) -> io::Result<()>;
}

/// An output format that appends records to a byte buffer: what parallel decoding needs,
/// since each worker formats its own chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFormat {
    /// JSON Lines.
    Json,
    /// Human text.
    Text,
    /// Human text with the event name highlighted (ANSI escapes): for a terminal.
    ColourText,
    /// Nothing (decode only).
    None,
}

impl RecordFormat {
    /// Appends `record` to `out` in this format, keeping nothing for the next record
    /// (the decoders format through a formatter that does, to the same bytes).
    pub fn append(self, out: &mut Vec<u8>, record: &Record<'_>) {
        match self {
            RecordFormat::Json => json_lines::append_record(out, record),
            RecordFormat::Text => {
                // Writing into a Vec cannot fail.
                let _ = Text::new(&mut *out).write_record(record);
            }
            RecordFormat::ColourText => {
                let _ = Text::new(&mut *out).with_colour().write_record(record);
            }
            RecordFormat::None => {}
        }
    }
}

/// A [`RecordFormat`] with what it keeps from one record to the next (the JSON parts each
/// event repeats), for formatting many records: one per thread.
#[derive(Debug)]
pub(crate) struct RecordFormatter {
    format: RecordFormat,
    json: JsonFormatter,
}

impl RecordFormatter {
    pub(crate) fn new(format: RecordFormat) -> Self {
        Self {
            format,
            json: JsonFormatter::new(),
        }
    }

    /// Appends `record` to `out`: the same bytes as [`RecordFormat::append`].
    #[inline]
    pub(crate) fn append(&mut self, out: &mut Vec<u8>, record: &Record<'_>) {
        match self.format {
            RecordFormat::Json => self.json.append_record(out, record),
            other => other.append(out, record),
        }
    }
}
