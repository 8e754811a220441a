//! A progress line on stderr for long `tprobe replay` runs: bytes read of the total and
//! the rate, redrawn at most four times a second, cleared when the input ends. Only when
//! stderr is a terminal (a log or a pipe never gets carriage returns), and only once a
//! run has lasted a second, so short runs do not flicker.

use std::io;
use std::io::Read;
use std::io::Write;
use std::time::Duration;
use std::time::Instant;

/// Redraw interval.
const EVERY: Duration = Duration::from_millis(250);
/// Runs shorter than this show nothing.
const AFTER: Duration = Duration::from_secs(1);
/// Overrides [`AFTER`] in milliseconds: how tests see the line without a long input.
const AFTER_ENV: &str = "TPROBE_PROGRESS_AFTER_MS";

/// Wraps `reader` in a progress line when stderr is a terminal; else returns it as is.
pub(super) fn wrap<'r>(
    reader: Box<dyn Read + Send + 'r>,
    label: String,
    total: Option<u64>,
) -> Box<dyn Read + Send + 'r> {
    match Progress::start(label, total) {
        Some(progress) => Box::new(ProgressReader {
            inner: reader,
            progress,
        }),
        None => reader,
    }
}

/// The progress line of one input, told the bytes as they are read; cleared when dropped.
#[derive(Debug)]
pub(super) struct Progress {
    label: String,
    total: Option<u64>,
    read: u64,
    started: Instant,
    next_draw: Instant,
    drawn: bool,
}

impl Progress {
    /// A progress line when stderr is a terminal; else `None`.
    pub(super) fn start(label: String, total: Option<u64>) -> Option<Self> {
        // SAFETY: isatty only inspects the descriptor.
        if unsafe { libc::isatty(libc::STDERR_FILENO) } != 1 {
            return None;
        }
        let after = std::env::var(AFTER_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(AFTER, Duration::from_millis);
        let started = Instant::now();
        Some(Progress {
            label,
            total,
            read: 0,
            started,
            next_draw: started + after,
            drawn: false,
        })
    }

    /// `n` more bytes were read; redraws the line when it is time.
    pub(super) fn advance(&mut self, n: usize) {
        self.read += n as u64;
        let now = Instant::now();
        if n > 0 && now >= self.next_draw {
            self.next_draw = now + EVERY;
            self.drawn = true;
            let line = progress_line(&self.label, self.read, self.total, now - self.started);
            // A progress line that cannot be written is not worth failing the run.
            let _ = write!(io::stderr().lock(), "\r{line}\x1b[K");
        }
    }
}

struct ProgressReader<'r> {
    inner: Box<dyn Read + Send + 'r>,
    progress: Progress,
}

impl Read for ProgressReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n);
        Ok(n)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.drawn {
            let _ = write!(io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// `tprobe replay: FILE: 12.3 / 45.6 MB (27%), 80.1 MB/s`.
fn progress_line(label: &str, read: u64, total: Option<u64>, elapsed: Duration) -> String {
    const MB: f64 = 1e6;
    let rate = read as f64 / MB / elapsed.as_secs_f64().max(1e-3);
    let done = read as f64 / MB;
    match total {
        Some(total) if total > 0 => format!(
            "tprobe replay: {label}: {done:.1} / {:.1} MB ({}%), {rate:.1} MB/s",
            total as f64 / MB,
            read.saturating_mul(100) / total
        ),
        _ => format!("tprobe replay: {label}: {done:.1} MB, {rate:.1} MB/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_with_and_without_a_total() {
        assert_eq!(
            progress_line(
                "a.txt",
                25_000_000,
                Some(100_000_000),
                Duration::from_secs(2)
            ),
            "tprobe replay: a.txt: 25.0 / 100.0 MB (25%), 12.5 MB/s"
        );
        assert_eq!(
            progress_line("-", 3_000_000, None, Duration::from_secs(1)),
            "tprobe replay: -: 3.0 MB, 3.0 MB/s"
        );
        // A file that grew while it was read, and a zero elapsed time, still make a line.
        assert!(progress_line("g", 10, Some(5), Duration::ZERO).contains("(200%)"));
        assert!(progress_line("e", 0, Some(0), Duration::ZERO).contains("0.0 MB"));
    }
}
