//! The signals that end a run (INT, TERM, HUP, QUIT, PIPE), caught into a pipe the main
//! loop polls together with the trace pipe, so every one of them leads to the same
//! teardown. A blocking read would not be interrupted (handlers restart syscalls), and a
//! default action would kill the process before it cleaned up.

use std::io;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use signal_hook::low_level::pipe;
use signal_hook::SigId;

/// The signals that stop a run and lead to teardown.
pub const STOP_SIGNALS: [i32; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGPIPE,
];

/// Catches [`STOP_SIGNALS`] for as long as it lives.
#[derive(Debug)]
pub struct SignalWatch {
    read_end: UnixStream,
    /// Kept open: the handlers write to it.
    _write_end: UnixStream,
    counts: Vec<(i32, Arc<AtomicUsize>)>,
    ids: Vec<SigId>,
    first: Option<i32>,
}

impl SignalWatch {
    /// Installs the handlers. A signal that was ignored when tprobe started stays ignored
    /// (`nohup tprobe … &` survives logout), except SIGPIPE, which the Rust runtime itself
    /// sets to ignored before `main`.
    pub fn install() -> io::Result<Self> {
        let (read_end, write_end) = UnixStream::pair()?;
        read_end.set_nonblocking(true)?;
        write_end.set_nonblocking(true)?;
        let mut watch = Self {
            read_end,
            _write_end: write_end,
            counts: Vec::new(),
            ids: Vec::new(),
            first: None,
        };
        for signal in STOP_SIGNALS {
            if signal != libc::SIGPIPE && ignored(signal)? {
                continue;
            }
            let count = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&count);
            // SAFETY: the action only does an atomic increment, which is async-signal-safe.
            let id = unsafe {
                signal_hook::low_level::register(signal, move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
            }?;
            watch.ids.push(id);
            // The registration owns (and on unregister closes) the descriptor it gets: give
            // it a duplicate of ours.
            let wake = watch._write_end.try_clone()?;
            watch.ids.push(pipe::register(signal, wake)?);
            watch.counts.push((signal, count));
        }
        Ok(watch)
    }

    /// The descriptor to poll: readable when a signal arrived.
    pub fn fd(&self) -> RawFd {
        self.read_end.as_raw_fd()
    }

    /// Makes [`fd`](Self::fd) readable again after [`raised`](Self::raised) drained it, so
    /// that writes through a [`SignalWriter`](super::SignalWriter) during the final drain
    /// give up at once when the output does not accept data, instead of blocking on a
    /// reader that stopped reading.
    pub fn rearm(&self) {
        use std::io::Write;
        // Non-blocking; a full pipe is readable already.
        let _ = (&self._write_end).write(&[0]);
    }

    /// The first stop signal received so far, if any. Drains the wake-up pipe.
    pub fn raised(&mut self) -> Option<i32> {
        let mut buf = [0u8; 64];
        while matches!((&self.read_end).read(&mut buf), Ok(n) if n > 0) {}
        if self.first.is_none() {
            self.first = self
                .counts
                .iter()
                .find(|(_, count)| count.load(Ordering::SeqCst) > 0)
                .map(|(signal, _)| *signal);
        }
        self.first
    }

    /// How many stop signals arrived in all (a second Ctrl-C during a slow teardown is
    /// counted, and does not abandon it).
    pub fn total(&self) -> usize {
        self.counts
            .iter()
            .map(|(_, count)| count.load(Ordering::SeqCst))
            .sum()
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Whether `signal`'s disposition is "ignore".
fn ignored(signal: i32) -> io::Result<bool> {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries the current one into `old`, which is valid
    // for writes.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaction succeeded, so it filled `old`.
    let old = unsafe { old.assume_init() };
    Ok(old.sa_sigaction == libc::SIG_IGN)
}

/// Signals are process-wide: tests that install a watch take turns.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_signal_is_seen_and_counted() {
        let _turn = TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut watch = SignalWatch::install().unwrap();
        assert_eq!(watch.raised(), None);
        signal_hook::low_level::raise(libc::SIGHUP).unwrap();
        assert_eq!(watch.raised(), Some(libc::SIGHUP));
        assert_eq!(watch.total(), 1);
    }
}
