//! Decoding on several cores: the input is cut into chunks at record headers, each chunk
//! is decoded and formatted by a worker with a decoder of its own, and the results are
//! written in order.
//!
//! A chunk is decoded speculatively, as if no record of the previous chunk ran into it.
//! When the chunks are joined, the previous chunk's decoder is asked whether its last
//! record ends before the next chunk's first line ([`Decoder::ends_before`]); almost always
//! it does, and the worker's output is used as is. If not (a string with a newline
//! followed by text shaped like a record, right at the cut), the next chunk is decoded
//! again on the previous chunk's decoder, so the output is exactly what one decoder reading
//! the whole input would give.
//!
//! The input is a reader, whose chunks are copied into pooled buffers, or a
//! [`MappedInput`], whose chunks are slices of the map.

use std::collections::BTreeMap;
use std::io;
use std::io::Read;
use std::io::Write;
use std::ops::Deref;
use std::sync::mpsc;
use std::sync::Mutex;

use super::decoder::Decoder;
use super::event_catalog::EventCatalog;
use super::mapped_input::MappedInput;
use super::reader::DecodeError;
use super::record::Record;
use super::summary::DecodeSummary;
use crate::output::ChunkOutput;
use crate::output::RecordFormat;
use crate::output::RecordFormatter;
use crate::parse::parse_line;
use crate::parse::TraceLine;

/// Bytes per chunk: large enough that the per-chunk work is negligible, small enough to
/// keep memory low. 2 MiB decoded the bench capture 2-4% faster than 1 MiB (a fresh
/// decoder, formatter and output buffer per chunk), for about 10 MB more peak RSS.
const CHUNK: usize = 1 << 21;

/// Chunks read ahead of the writer; bounds memory whatever the input size.
const IN_FLIGHT: usize = 4;

/// Buffers handed back by the writer for the next chunks: fresh megabyte buffers would cost
/// a page fault and a cleared page for every 4 KiB read or written.
#[derive(Default)]
struct BufferPool(Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    /// An empty buffer with room for `capacity` bytes, reused when one is free.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let mut buffer = self.take_as_is();
        buffer.clear();
        buffer.reserve(capacity);
        buffer
    }

    /// A buffer as it was given back, bytes and all (a [`ChunkOutput`] writes over them),
    /// or a new empty one.
    fn take_as_is(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default()
    }

    fn give(&self, buffer: Vec<u8>) {
        if let Ok(mut free) = self.0.lock() {
            // Text and output buffers of the chunks in flight; more would only hold memory.
            if free.len() < 4 * IN_FLIGHT {
                free.push(buffer);
            }
        }
    }
}

/// A chunk of whole lines, starting at a record header (except perhaps the first).
struct Chunk<'m> {
    index: usize,
    text: Text<'m>,
}

/// A chunk's bytes: read into a pooled buffer, or in the map.
enum Text<'m> {
    Read(Vec<u8>),
    Mapped(&'m [u8]),
}

impl Deref for Text<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Text::Read(buffer) => buffer,
            Text::Mapped(bytes) => bytes,
        }
    }
}

/// Where the chunks come from.
enum Input<'m, R> {
    Reader(R),
    Mapped {
        map: &'m MappedInput,
        /// Told the bytes of each chunk as it is cut, as a reader is read.
        progress: &'m mut (dyn FnMut(usize) + Send),
    },
}

/// A worker's result for one chunk.
struct Decoded<'c> {
    chunk: Chunk<'c>,
    output: ChunkOutput,
    decoder: Decoder<'c>,
}

/// Decodes `reader` with `threads` workers (at least 1) and writes the records to `out` in
/// `format`. Returns the counts.
pub fn decode_parallel<R: Read + Send, W: Write>(
    reader: R,
    catalog: &EventCatalog,
    format: RecordFormat,
    out: &mut W,
    threads: usize,
) -> Result<DecodeSummary, DecodeError<io::Error>> {
    decode_input(Input::Reader(reader), catalog, format, out, threads)
}

/// [`decode_parallel`] on a mapped file: the same output without copying the input.
/// `progress` is told the bytes of each chunk as it is cut. Fails with
/// [`DecodeError::Read`] if the file shrank while it was read.
pub(crate) fn decode_mapped<W: Write>(
    map: &MappedInput,
    catalog: &EventCatalog,
    format: RecordFormat,
    out: &mut W,
    threads: usize,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<DecodeSummary, DecodeError<io::Error>> {
    let input: Input<'_, io::Empty> = Input::Mapped { map, progress };
    let summary = decode_input(input, catalog, format, out, threads)?;
    map.check_whole().map_err(DecodeError::Read)?;
    Ok(summary)
}

fn decode_input<R: Read + Send, W: Write>(
    input: Input<'_, R>,
    catalog: &EventCatalog,
    format: RecordFormat,
    out: &mut W,
    threads: usize,
) -> Result<DecodeSummary, DecodeError<io::Error>> {
    let (work_tx, work_rx) = mpsc::sync_channel::<Chunk<'_>>(IN_FLIGHT);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<Decoded<'_>>();
    let (slot_tx, slot_rx) = mpsc::sync_channel::<()>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = slot_tx.send(());
    }
    let pool = BufferPool::default();
    let map = match &input {
        Input::Mapped { map, .. } => Some(*map),
        Input::Reader(_) => None,
    };
    std::thread::scope(|scope| {
        let pool = &pool;
        let reader_thread = scope.spawn(move || match input {
            Input::Reader(reader) => read_chunks(reader, &work_tx, &slot_rx, pool),
            Input::Mapped { map, progress } => {
                map_chunks(map.bytes(), &work_tx, &slot_rx, progress);
                Ok(())
            }
        });
        for _ in 0..threads.max(1) {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || loop {
                let next = work_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some(chunk) = next else {
                    break;
                };
                let decoded = decode_chunk(chunk, catalog, format, pool);
                if done_tx.send(decoded).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let merged = merge(done_rx, &slot_tx, format, out, pool, map);
        // Unblock the reader if the writer stopped early.
        drop(slot_tx);
        let read = reader_thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reader thread panicked")));
        match (merged, read) {
            (Err(e), _) => Err(DecodeError::Sink(e)),
            (Ok(_), Err(e)) => Err(DecodeError::Read(e)),
            (Ok(summary), Ok(())) => Ok(summary),
        }
    })
}

/// Reads the input and cuts it into chunks that start at a record header.
fn read_chunks<R: Read>(
    mut reader: R,
    work: &mpsc::SyncSender<Chunk<'_>>,
    slots: &mpsc::Receiver<()>,
    pool: &BufferPool,
) -> io::Result<()> {
    let mut index = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut text = pool.take(carry.len() + CHUNK);
        text.append(&mut carry);
        let want = CHUNK as u64;
        let got = (&mut reader).take(want).read_to_end(&mut text)?;
        let at_end = (got as u64) < want;
        if !at_end {
            // With no newline at all, read on.
            match chunk_end(&text) {
                Some(cut) => {
                    carry.extend_from_slice(&text[cut..]);
                    text.truncate(cut);
                }
                None => {
                    carry = text;
                    continue;
                }
            }
        }
        if !text.is_empty() {
            if slots.recv().is_err() {
                return Ok(());
            }
            let text = Text::Read(text);
            if work.send(Chunk { index, text }).is_err() {
                return Ok(());
            }
            index += 1;
        }
        if at_end {
            return Ok(());
        }
    }
}

/// [`read_chunks`] on the bytes of a map: the same cuts, as slices instead of copies.
fn map_chunks<'m>(
    bytes: &'m [u8],
    work: &mpsc::SyncSender<Chunk<'m>>,
    slots: &mpsc::Receiver<()>,
    progress: &mut (dyn FnMut(usize) + Send),
) {
    let mut index = 0;
    // The chunk being cut starts at `start`; bytes up to `read` have been looked at, in
    // steps of CHUNK as `read_chunks` reads them.
    let mut start = 0;
    let mut read = 0;
    loop {
        let end = bytes.len().min(read + CHUNK);
        let at_end = end - read < CHUNK;
        progress(end - read);
        read = end;
        let mut cut = end;
        if !at_end {
            let text = &bytes[start..end];
            match chunk_end(text) {
                Some(at) => cut = start + at,
                None => continue,
            }
        }
        if cut > start {
            if slots.recv().is_err() {
                return;
            }
            let text = Text::Mapped(&bytes[start..cut]);
            if work.send(Chunk { index, text }).is_err() {
                return;
            }
            index += 1;
            start = cut;
        }
        if at_end {
            return;
        }
    }
}

/// Where a chunk of `text` ends: before a record header; with none in it, after its last
/// whole line (joining checks the cut either way); `None` without a newline.
fn chunk_end(text: &[u8]) -> Option<usize> {
    cut_point(text).or_else(|| memchr::memrchr(b'\n', text).map(|nl| nl + 1))
}

/// Where to cut `text` so the rest starts with a record header line: the start of the last
/// complete line that parses as an event, if it is not the first line.
fn cut_point(text: &[u8]) -> Option<usize> {
    let last_newline = memchr::memrchr(b'\n', text)?;
    let mut end = last_newline;
    while let Some(prev_newline) = memchr::memrchr(b'\n', &text[..end]) {
        let line_start = prev_newline + 1;
        if matches!(parse_line(&text[line_start..end]), TraceLine::Event(..)) {
            return Some(line_start);
        }
        end = prev_newline;
    }
    None
}

fn decode_chunk<'c>(
    chunk: Chunk<'c>,
    catalog: &'c EventCatalog,
    format: RecordFormat,
    pool: &BufferPool,
) -> Decoded<'c> {
    let mut decoder = Decoder::new(catalog);
    let buffer = match format {
        RecordFormat::None => Vec::new(),
        _ => pool.take_as_is(),
    };
    // Output is about one and a half times the text it comes from (more room is made
    // when a chunk needs it, and kept with the buffer).
    let mut output = ChunkOutput::new(format, buffer, chunk.text.len() / 2 * 3);
    let Ok(()) = if format == RecordFormat::None {
        // A sink of its own, so no record asks which format it is.
        decoder.push_text(&chunk.text, &mut |_: &Record<'_>| {
            Ok::<(), std::convert::Infallible>(())
        })
    } else {
        decoder.push_text(&chunk.text, &mut |record: &Record<'_>| {
            output.append(record);
            Ok::<(), std::convert::Infallible>(())
        })
    };
    Decoded {
        chunk,
        output,
        decoder,
    }
}

/// The lines of `text`, the last one possibly without its `\n`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut newlines = memchr::memchr_iter(b'\n', text);
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = newlines.next().unwrap_or(text.len());
        let line = &text[start..end];
        start = end + 1;
        Some(line)
    })
}

/// Writes the chunks in order, joining each to the one before it.
fn merge<'c, W: Write>(
    done: mpsc::Receiver<Decoded<'c>>,
    slots: &mpsc::SyncSender<()>,
    format: RecordFormat,
    out: &mut W,
    pool: &BufferPool,
    map: Option<&MappedInput>,
) -> io::Result<DecodeSummary> {
    let mut waiting: BTreeMap<usize, Decoded<'c>> = BTreeMap::new();
    let mut next = 0;
    let mut summary = DecodeSummary::default();
    let mut carried: Option<Decoder<'c>> = None;
    let mut tail = Vec::new();
    let mut formatter = RecordFormatter::new(format);
    for decoded in done {
        waiting.insert(decoded.chunk.index, decoded);
        while let Some(decoded) = waiting.remove(&next) {
            next += 1;
            let _ = slots.send(());
            let first_line = lines(&decoded.chunk.text).next().unwrap_or_default();
            carried = Some(match carried.take() {
                Some(mut previous) if !previous.ends_before(first_line) => {
                    // The previous record runs into this chunk: decode it again, in order.
                    let mut output = Vec::new();
                    let mut sink = |record: &Record<'_>| -> Result<(), std::convert::Infallible> {
                        formatter.append(&mut output, record);
                        Ok(())
                    };
                    let Ok(()) = previous.push_text(&decoded.chunk.text, &mut sink);
                    out.write_all(&output)?;
                    previous
                }
                previous => {
                    if let Some(mut previous) = previous {
                        tail.clear();
                        let mut sink =
                            |record: &Record<'_>| -> Result<(), std::convert::Infallible> {
                                formatter.append(&mut tail, record);
                                Ok(())
                            };
                        let Ok(()) = previous.finish(&mut sink);
                        out.write_all(&tail)?;
                        summary.add(previous.summary());
                    }
                    out.write_all(decoded.output.bytes())?;
                    pool.give(decoded.output.into_buffer());
                    decoded.decoder
                }
            });
            match decoded.chunk.text {
                Text::Read(buffer) => pool.give(buffer),
                // Chunks are written in order: all before this one's end is done with.
                Text::Mapped(bytes) => {
                    if let Some(map) = map {
                        map.release_before(bytes);
                    }
                }
            }
        }
    }
    if let Some(mut last) = carried {
        tail.clear();
        let mut sink = |record: &Record<'_>| -> Result<(), std::convert::Infallible> {
            formatter.append(&mut tail, record);
            Ok(())
        };
        let Ok(()) = last.finish(&mut sink);
        out.write_all(&tail)?;
        summary.add(last.summary());
    }
    out.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_reader;
    use crate::decode::mapped_input::TempFile;

    /// The same text decoded by one decoder and in parallel chunks, read or mapped, gives
    /// the same bytes.
    fn same_as_sequential(text: &[u8], catalog: &EventCatalog) {
        let mut sequential = Vec::new();
        let mut decoder = Decoder::new(catalog);
        let mut sink = |record: &Record<'_>| -> Result<(), io::Error> {
            RecordFormat::Json.append(&mut sequential, record);
            Ok(())
        };
        decode_reader(text, &mut decoder, &mut sink).unwrap();
        let mut parallel = Vec::new();
        let summary = decode_parallel(text, catalog, RecordFormat::Json, &mut parallel, 2).unwrap();
        assert_eq!(summary, *decoder.summary());
        assert!(sequential == parallel, "parallel output differs");

        let file = TempFile::new(text);
        let map = file.map();
        for threads in [1, 3] {
            let mut mapped = Vec::new();
            let mut seen = 0;
            let summary = decode_mapped(
                &map,
                catalog,
                RecordFormat::Json,
                &mut mapped,
                threads,
                &mut |n| seen += n,
            )
            .unwrap();
            assert_eq!(summary, *decoder.summary());
            assert_eq!(seen, text.len(), "progress told of every byte");
            assert!(sequential == mapped, "mapped output differs");
        }
    }

    #[test]
    fn lines_with_and_without_a_final_newline() {
        assert_eq!(
            lines(b"a\n\nb\n").collect::<Vec<_>>(),
            [&b"a"[..], b"", b"b"]
        );
        assert_eq!(lines(b"a\nb").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").collect::<Vec<_>>(), [&b""[..]]);
    }

    #[test]
    fn cut_points_are_record_headers() {
        let text = b"   t-1 [000] ..... 1.000000: e: a=1\n => frame\n   t-1 [000] ..... 1.000001: e: a=2\n => f";
        let cut = cut_point(text).unwrap();
        assert!(text[cut..].starts_with(b"   t-1 [000] ..... 1.000001"));
        assert_eq!(cut_point(b"no header here\nnor here\n"), None);
    }

    #[test]
    fn chunks_without_record_headers_are_cut_too() {
        let catalog = EventCatalog::new();
        let mut text = b"   t-1 [000] ..... 1.000000: e: s=\"start".to_vec();
        while text.len() < 3 * CHUNK {
            text.extend_from_slice(b"\nnot a header, a continuation or an unparsed line");
        }
        text.extend_from_slice(b"\"\n   t-1 [000] ..... 2.000000: e: s=\"end\"\n");
        same_as_sequential(&text, &catalog);
    }

    #[test]
    fn many_chunks_match_one_decoder() {
        let catalog = EventCatalog::new();
        let mut text = Vec::new();
        let mut i = 0;
        while text.len() <= 3 * CHUNK {
            text.extend_from_slice(
                format!("   t-{i} [001] d..1. {i}.000001: e: (0x1) s=\"a\nb\" n={i}\n => f{i}\nCPU:1 [LOST 2 EVENTS]\n")
                    .as_bytes(),
            );
            i += 1;
        }
        same_as_sequential(&text, &catalog);
    }
}
