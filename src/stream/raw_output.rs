//! The binary path's sink: formats records into one reused buffer, writes it through a
//! buffered writer once per read round, and counts events per name and losses per CPU
//! for the summary without allocating per event.

use std::collections::BTreeMap;
use std::io;
use std::io::Write;

use super::raw_capture::RawSink;
use crate::decode::Record;
use crate::output::RecordFormat;
use crate::output::RecordFormatter;

/// Bytes formatted before they are handed to the writer.
const BATCH: usize = 64 * 1024;

/// The most bytes handed to the writer at once, cut after a newline: what
/// [`SignalWriter`](super::SignalWriter) writes in one go, and no more than a pipe takes
/// atomically (PIPE_BUF), so a stop signal while the reader stalls cuts between records,
/// never inside one.
const LINE_CHUNK: usize = 4096;

/// Formats records to `W` and counts them.
#[derive(Debug)]
pub struct RawOutput<W: Write> {
    out: W,
    formatter: RecordFormatter,
    buf: Vec<u8>,
    /// Events per event name.
    pub events: BTreeMap<String, u64>,
    /// Lost events per CPU.
    pub lost: BTreeMap<u32, u64>,
    /// The name of the last event counted, when it was UTF-8: records come in runs of one
    /// name, and comparing bytes is cheaper than checking UTF-8 per event.
    last_name: String,
}

impl<W: Write> RawOutput<W> {
    /// A sink writing `format` to `out` (which need not be buffered: this batches).
    pub fn new(out: W, format: RecordFormat) -> Self {
        Self {
            out,
            formatter: RecordFormatter::new(format),
            buf: Vec::with_capacity(BATCH + 4096),
            events: BTreeMap::new(),
            lost: BTreeMap::new(),
            last_name: String::new(),
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

impl<W: Write> RawOutput<W> {
    /// Writes the buffer in whole lines of at most [`LINE_CHUNK`] bytes (a longer line
    /// in pieces). What was written is gone from the buffer even when a write fails.
    fn write_out(&mut self) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            let rest = &self.buf[done..];
            if rest.is_empty() {
                break Ok(());
            }
            let cut = if rest.len() <= LINE_CHUNK {
                rest.len()
            } else {
                memchr::memrchr(b'\n', &rest[..LINE_CHUNK]).map_or(LINE_CHUNK, |nl| nl + 1)
            };
            if let Err(e) = self.out.write_all(&rest[..cut]) {
                break Err(e);
            }
            done += cut;
        };
        self.buf.drain(..done);
        result
    }
}

impl<W: Write> RawSink for RawOutput<W> {
    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        match record {
            Record::Event(event) => {
                if self.last_name.as_bytes() != &*event.name {
                    // Names are UTF-8 in practice: look up without building a String.
                    self.last_name.clear();
                    if let Ok(name) = std::str::from_utf8(&event.name) {
                        self.last_name.push_str(name);
                    }
                }
                let counted = Some(self.last_name.as_str())
                    .filter(|name| !name.is_empty())
                    .and_then(|name| self.events.get_mut(name));
                match counted {
                    Some(n) => *n += 1,
                    None => {
                        let name = String::from_utf8_lossy(&event.name).into_owned();
                        *self.events.entry(name).or_default() += 1;
                    }
                }
            }
            Record::Lost { cpu, count } => {
                *self.lost.entry(*cpu).or_default() += count.unwrap_or(0);
            }
            Record::Unparsed { .. } => {}
        }
        self.formatter.append(&mut self.buf, record);
        if self.buf.len() >= BATCH {
            self.write_out()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each `write` call it gets.
    struct Calls(Vec<Vec<u8>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_whole_lines_in_small_pieces() {
        let mut out = RawOutput::new(Calls(Vec::new()), RecordFormat::Json);
        for line in 0..500u32 {
            let text = format!("line {line}");
            out.record(&Record::Unparsed {
                line: text.as_bytes(),
            })
            .unwrap();
        }
        out.flush().unwrap();
        let calls = out.into_inner().unwrap().0;
        assert!(calls.len() > 1);
        for call in &calls {
            assert!(call.len() <= LINE_CHUNK && call.ends_with(b"\n"));
        }
        assert_eq!(calls.concat().iter().filter(|b| **b == b'\n').count(), 500);
    }
}
