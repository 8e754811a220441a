//! The binary path's sink: formats records into one reused buffer, writes it through a
//! buffered writer once per read round, and counts events per name and losses per CPU
//! for the summary without allocating per event.

use std::collections::BTreeMap;
use std::io;
use std::io::Write;

use super::raw_capture::RawSink;
use crate::decode::Record;
use crate::output::RecordFormat;

/// Bytes formatted before they are handed to the writer.
const BATCH: usize = 64 * 1024;

/// Formats records to `W` and counts them.
#[derive(Debug)]
pub struct RawOutput<W: Write> {
    out: W,
    format: RecordFormat,
    buf: Vec<u8>,
    /// Events per event name.
    pub events: BTreeMap<String, u64>,
    /// Lost events per CPU.
    pub lost: BTreeMap<u32, u64>,
}

impl<W: Write> RawOutput<W> {
    /// A sink writing `format` to `out` (which need not be buffered: this batches).
    pub fn new(out: W, format: RecordFormat) -> Self {
        Self {
            out,
            format,
            buf: Vec::with_capacity(BATCH + 4096),
            events: BTreeMap::new(),
            lost: BTreeMap::new(),
        }
    }
}

impl<W: Write> RawOutput<W> {
    /// The writer, once what is buffered is written out.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> RawSink for RawOutput<W> {
    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        match record {
            Record::Event(event) => {
                let name = String::from_utf8_lossy(&event.name);
                match self.events.get_mut(name.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        self.events.insert(name.into_owned(), 1);
                    }
                }
            }
            Record::Lost { cpu, count } => {
                *self.lost.entry(*cpu).or_default() += count.unwrap_or(0);
            }
            Record::Unparsed { .. } => {}
        }
        self.format.append(&mut self.buf, record);
        if self.buf.len() >= BATCH {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.out.flush()
    }
}
