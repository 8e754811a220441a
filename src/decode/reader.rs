//! Runs a [`Decoder`] over a reader, line by line, in constant memory.

use std::io;
use std::io::Read;

use super::decoder::Decoder;
use super::record::Record;

/// Bytes read at a time; a line longer than this grows the buffer to hold it.
const CHUNK: usize = 1 << 20;

/// Why decoding a stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError<E: std::error::Error + 'static> {
    /// Reading the input failed.
    #[error("cannot read the input")]
    Read(#[source] io::Error),
    /// The sink refused a record (for example, writing the output failed).
    #[error(transparent)]
    Sink(E),
}

/// Feeds every line of `reader` to `decoder` and flushes the last record. Lines end in
/// `\n` or at the input's end; `\r` is kept as data, as the kernel never ends a line with
/// it. Reads in large chunks and decodes each chunk's whole lines in place
/// ([`Decoder::push_text`]).
pub fn decode_reader<R: Read, E: std::error::Error + 'static>(
    mut reader: R,
    decoder: &mut Decoder<'_>,
    sink: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), DecodeError<E>> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DecodeError::Read(e)),
        };
        if n == 0 {
            if filled > 0 {
                decoder
                    .push_line(&buf[..filled], sink)
                    .map_err(DecodeError::Sink)?;
            }
            return decoder.finish(sink).map_err(DecodeError::Sink);
        }
        let scan_from = filled;
        filled += n;
        let Some(last_newline) = memchr::memrchr(b'\n', &buf[scan_from..filled]) else {
            continue;
        };
        let complete = scan_from + last_newline + 1;
        decoder
            .push_text(&buf[..complete], sink)
            .map_err(DecodeError::Sink)?;
        buf.copy_within(complete..filled, 0);
        filled -= complete;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::EventCatalog;

    /// Reads one byte at a time, so every line crosses a read boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    fn count(reader: impl Read) -> (u64, u64) {
        let catalog = EventCatalog::new();
        let mut decoder = Decoder::new(&catalog);
        let mut sink = |_: &Record<'_>| -> Result<(), io::Error> { Ok(()) };
        decode_reader(reader, &mut decoder, &mut sink).unwrap();
        (decoder.summary().events, decoder.summary().unparsed)
    }

    #[test]
    fn lines_split_across_reads_and_a_missing_final_newline() {
        let text =
            b"junk\n   t-1 [000] ..... 1.000000: e: a=1\n   t-1 [000] ..... 1.000001: e: a=2";
        assert_eq!(count(Trickle(text)), (2, 1));
        assert_eq!(count(&text[..]), (2, 1));
    }

    #[test]
    fn a_line_longer_than_the_buffer() {
        let mut text = b"   t-1 [000] ..... 1.000000: e: a=".to_vec();
        text.resize(text.len() + 3 * CHUNK, b'x');
        text.extend_from_slice(b"\n   t-1 [000] ..... 1.000001: e: a=2\n");
        assert_eq!(count(&text[..]), (2, 0));
    }
}
