//! Output that a stop signal can interrupt. A write to a full pipe (a paused pager, a
//! slow consumer) blocks, and the signal handlers restart it, so without this a run
//! stuck on its output would ignore Ctrl-C and never tear down.

use std::io;
use std::io::Write;
use std::os::fd::RawFd;

/// Largest write after the descriptor polled writable. A pipe that polls writable has
/// room for at least this much (PIPE_BUF), so the write does not block.
const CHUNK: usize = 4096;

/// Returned by [`SignalWriter`] when a stop signal arrived while it waited.
#[derive(Debug, thiserror::Error)]
#[error("stopped by a signal while waiting for the output to accept data")]
pub struct StoppedBySignal;

impl StoppedBySignal {
    /// Whether `error` is this.
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.is::<StoppedBySignal>())
    }
}

/// Writes to `inner` (whose descriptor is `fd`) only once `fd` accepts data, waiting on
/// the signal pipe `signal_fd` at the same time.
#[derive(Debug)]
pub struct SignalWriter<W: Write> {
    inner: W,
    fd: RawFd,
    signal_fd: RawFd,
}

impl<W: Write> SignalWriter<W> {
    /// A writer over `inner`, which writes to descriptor `fd`.
    pub fn new(inner: W, fd: RawFd, signal_fd: RawFd) -> Self {
        Self {
            inner,
            fd,
            signal_fd,
        }
    }
}

impl<W: Write> Write for SignalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: self.fd,
                    events: libc::POLLOUT,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.signal_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is a valid array of two pollfd structs during the call.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            // Output first: after a stop signal the final drain still writes what the
            // output accepts (the signal pipe is re-armed then); only a write that would
            // wait gives up.
            if fds[0].revents != 0 {
                // Writable, or an error/hang-up the write itself will report.
                return self.inner.write(&buf[..buf.len().min(CHUNK)]);
            }
            if fds[1].revents & libc::POLLIN != 0 {
                return Err(io::Error::other(StoppedBySignal));
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_signal_ends_a_write_to_a_full_pipe() {
        let (out, _reader_that_never_reads) = UnixStream::pair().unwrap();
        let (signal_rx, mut signal_tx) = UnixStream::pair().unwrap();
        let fd = out.as_raw_fd();
        let mut writer = SignalWriter::new(&out, fd, signal_rx.as_raw_fd());
        let big = vec![b'x'; 1 << 20];
        let filler = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            signal_tx.write_all(b"s").unwrap();
        });
        let err = writer.write_all(&big).unwrap_err();
        assert!(StoppedBySignal::is(&err), "{err}");
        filler.join().unwrap();
    }
}
