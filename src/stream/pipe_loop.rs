//! The live loop: poll the trace pipe and the signal pipe together, decode what arrives,
//! hand records to the sink, and stop on a count, a deadline, a signal, the end of the
//! input or a closed output.

use std::io;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::Duration;
use std::time::Instant;

use super::signals::SignalWatch;
use crate::decode::Decoder;
use crate::decode::Record;

/// Bytes read from the trace pipe at a time.
const READ_SIZE: usize = 64 * 1024;

/// How long a decoded record may wait for the line after it. The decoder holds each
/// record until the next line shows where it ends (a stack, or the rest of a string that
/// held a newline, follows in the same burst); when the pipe stays quiet this long, the
/// record is written, so a live view shows the last event without waiting for another.
const IDLE_FLUSH: Duration = Duration::from_millis(50);

/// When to stop besides a signal or the end of the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopWhen {
    /// After this many events (`-n`).
    pub events: Option<u64>,
    /// After this long (`-d`).
    pub duration: Option<Duration>,
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `-n` events were written.
    Count,
    /// `-d` elapsed.
    Duration,
    /// A stop signal arrived (its number).
    Signal(i32),
    /// The input ended.
    EndOfInput,
    /// The output's reader went away (`| head`).
    OutputClosed,
}

/// Why the loop failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the trace pipe failed.
    #[error("cannot read the trace pipe")]
    Read(#[source] io::Error),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Write(#[source] io::Error),
}

/// Reads `input` (a trace pipe, opened non-blocking or not) until a stop condition holds,
/// feeding whole lines to `decoder` and its records to `sink`. Events are counted for
/// `stop.events`; when the count is reached the pending record is flushed first.
pub fn stream_pipe<R: Read + AsRawFd>(
    input: &mut R,
    signals: &mut SignalWatch,
    stop: StopWhen,
    decoder: &mut Decoder<'_>,
    sink: &mut impl FnMut(&Record<'_>) -> io::Result<()>,
) -> Result<StopReason, StreamError> {
    let deadline = stop.duration.map(|d| Instant::now() + d);
    let mut buf = vec![0u8; READ_SIZE];
    let mut carry: Vec<u8> = Vec::new();
    let events = std::cell::Cell::new(0u64);
    let mut counting_sink = |record: &Record<'_>| -> io::Result<()> {
        if matches!(record, Record::Event(_)) {
            events.set(events.get() + 1);
        }
        sink(record)
    };
    let output_error = |e: io::Error| -> Result<StopReason, StreamError> {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Ok(StopReason::OutputClosed)
        } else {
            Err(StreamError::Write(e))
        }
    };
    loop {
        if let Some(signal) = signals.raised() {
            return finish(decoder, &mut carry, &mut counting_sink)
                .map_or_else(output_error, |()| Ok(StopReason::Signal(signal)));
        }
        let left = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return finish(decoder, &mut carry, &mut counting_sink)
                        .map_or_else(output_error, |()| Ok(StopReason::Duration));
                }
                Some(left)
            }
            None => None,
        };
        let idle_flush = decoder.has_pending() && carry.is_empty();
        let wait = match (left, idle_flush) {
            (Some(left), true) => Some(left.min(IDLE_FLUSH)),
            (Some(left), false) => Some(left),
            (None, true) => Some(IDLE_FLUSH),
            (None, false) => None,
        };
        let timeout = wait.map_or(-1, |w| {
            i32::try_from(w.as_millis().max(1)).unwrap_or(i32::MAX)
        });
        let readiness =
            poll_two(input.as_raw_fd(), signals.fd(), timeout).map_err(StreamError::Read)?;
        if !readiness.input {
            if readiness.timed_out && idle_flush {
                if let Err(e) = decoder.finish(&mut counting_sink) {
                    return output_error(e);
                }
                if stop.events.is_some_and(|max| events.get() >= max) {
                    return Ok(StopReason::Count);
                }
            }
            continue;
        }
        let n = match input.read(&mut buf) {
            Ok(0) => {
                return finish(decoder, &mut carry, &mut counting_sink)
                    .map_or_else(output_error, |()| Ok(StopReason::EndOfInput));
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(StreamError::Read(e)),
        };
        carry.extend_from_slice(&buf[..n]);
        let Some(last_newline) = memchr::memrchr(b'\n', &carry) else {
            continue;
        };
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', &carry[..=last_newline]) {
            if let Err(e) = decoder.push_line(&carry[start..newline], &mut counting_sink) {
                return output_error(e);
            }
            start = newline + 1;
            if stop.events.is_some_and(|max| events.get() >= max) {
                carry.clear();
                return Ok(StopReason::Count);
            }
        }
        carry.drain(..=last_newline);
        if stop.events.is_some_and(|max| events.get() >= max) {
            return Ok(StopReason::Count);
        }
    }
}

/// Decodes what is left and flushes the pending record.
fn finish(
    decoder: &mut Decoder<'_>,
    carry: &mut Vec<u8>,
    sink: &mut impl FnMut(&Record<'_>) -> io::Result<()>,
) -> io::Result<()> {
    for line in carry.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        decoder.push_line(line, sink)?;
    }
    carry.clear();
    decoder.finish(sink)
}

/// Which of the two descriptors is readable.
struct Readiness {
    input: bool,
    /// Neither was, and the timeout passed.
    timed_out: bool,
}

/// Waits until `input` or `signal` is readable, or `timeout_ms` passes (-1: no limit).
fn poll_two(input: i32, signal: i32, timeout_ms: i32) -> io::Result<Readiness> {
    let mut fds = [
        libc::pollfd {
            fd: input,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signal,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(Readiness {
                input: false,
                timed_out: false,
            });
        }
        return Err(err);
    }
    Ok(Readiness {
        input: fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
        timed_out: rc == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::EventCatalog;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn line(i: u32) -> String {
        format!("   t-1 [000] ..... {i}.000000: e: n={i}\n")
    }

    /// Streams `text` written into a socket (closed after it when `close`), and returns
    /// why the loop stopped and how many events it wrote.
    fn stream(text: &[u8], close: bool, stop: StopWhen) -> (StopReason, usize) {
        let (mut tx, mut rx) = UnixStream::pair().unwrap();
        tx.write_all(text).unwrap();
        // Kept open unless asked, so the reader sees no end of input.
        let _writer = (!close).then_some(tx);
        let catalog = EventCatalog::new();
        let mut decoder = Decoder::new(&catalog);
        let _turn = crate::stream::signals::TEST_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut signals = SignalWatch::install().unwrap();
        let mut seen = 0;
        let reason = stream_pipe(&mut rx, &mut signals, stop, &mut decoder, &mut |r| {
            if matches!(r, Record::Event(_)) {
                seen += 1;
            }
            Ok(())
        })
        .unwrap();
        (reason, seen)
    }

    #[test]
    fn stops_after_n_events() {
        let text: String = (0..10).map(line).collect();
        let stop = StopWhen {
            events: Some(3),
            duration: None,
        };
        assert_eq!(stream(text.as_bytes(), false, stop), (StopReason::Count, 3));
    }

    #[test]
    fn stops_at_the_deadline_and_flushes_the_pending_record() {
        let started = Instant::now();
        let stop = StopWhen {
            events: None,
            duration: Some(Duration::from_millis(200)),
        };
        assert_eq!(
            stream(line(1).as_bytes(), false, stop),
            (StopReason::Duration, 1),
            "the last record is flushed at the deadline"
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_quiet_pipe_flushes_the_last_record() {
        // The one event is written after the pipe stays quiet, well before the deadline.
        let stop = StopWhen {
            events: Some(1),
            duration: Some(Duration::from_secs(10)),
        };
        assert_eq!(
            stream(line(1).as_bytes(), false, stop),
            (StopReason::Count, 1)
        );
    }

    #[test]
    fn end_of_input_flushes() {
        let mut text = line(1).into_bytes();
        text.extend_from_slice(b"   t-1 [000] ..... 2.000000: e: n=2");
        assert_eq!(
            stream(&text, true, StopWhen::default()),
            (StopReason::EndOfInput, 2)
        );
    }
}
