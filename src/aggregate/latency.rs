//! Pairs function entries with their returns per thread, in user space: the kernel only
//! gives two event streams, and without BPF nobody else does the matching.
//!
//! Each thread keeps a stack of open calls, so nested and recursive calls pair
//! innermost first, as the returns arrive. What can't be paired is counted, never
//! dropped silently: a return with no open call (the function was running when the
//! probes were armed), calls still open at the end (the thread exited mid-call, a return
//! was missed because `maxactive` ran out, or the call was still running), and calls
//! pushed out of a thread's stack past [`MAX_OPEN_PER_THREAD`].

use std::collections::BTreeMap;
use std::collections::HashMap;

use super::histogram::Log2Histogram;
use super::histogram::TimeUnit;

/// Open calls kept per thread. Deeper than any real recursion with uretprobes (the kernel
/// stops at 64 nested returns) or kretprobes; past it the oldest entry has surely lost
/// its return, and keeping it would grow memory without bound.
pub const MAX_OPEN_PER_THREAD: usize = 1024;

#[derive(Debug, Clone)]
struct OpenCall {
    ts_ns: u64,
    key: String,
}

/// Durations of paired calls, by key, and what could not be paired.
#[derive(Debug)]
pub struct LatencyTracker {
    unit: TimeUnit,
    open: HashMap<i32, Vec<OpenCall>>,
    histograms: BTreeMap<String, Log2Histogram>,
    unpaired_returns: u64,
    evicted_entries: u64,
    backwards: u64,
}

/// The end of a latency run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unpaired {
    /// Returns with no open call on their thread.
    pub returns: u64,
    /// Calls still open at the end whose thread is gone: it exited mid-call.
    pub exited_mid_call: u64,
    /// Calls still open at the end whose thread is alive: still running, or their
    /// return was missed.
    pub still_open: u64,
    /// Entries pushed out of a too-deep per-thread stack: their returns were missed.
    pub evicted: u64,
    /// Returns stamped before their entry (a clock that went backwards); not counted.
    pub backwards: u64,
}

impl Unpaired {
    /// Whether anything went unpaired.
    pub fn any(&self) -> bool {
        *self != Unpaired::default()
    }
}

impl LatencyTracker {
    /// A tracker that bins durations in `unit`.
    pub fn new(unit: TimeUnit) -> Self {
        LatencyTracker {
            unit,
            open: HashMap::new(),
            histograms: BTreeMap::new(),
            unpaired_returns: 0,
            evicted_entries: 0,
            backwards: 0,
        }
    }

    /// The unit of the histograms.
    pub fn unit(&self) -> TimeUnit {
        self.unit
    }

    /// Thread `tid` entered the function at `ts_ns`; `key` is what `--by` splits on.
    pub fn on_entry(&mut self, tid: i32, ts_ns: u64, key: String) {
        let stack = self.open.entry(tid).or_default();
        if stack.len() >= MAX_OPEN_PER_THREAD {
            stack.remove(0);
            self.evicted_entries += 1;
        }
        stack.push(OpenCall { ts_ns, key });
    }

    /// Thread `tid` returned at `ts_ns`: the duration in nanoseconds, if an entry was open.
    pub fn on_return(&mut self, tid: i32, ts_ns: u64) -> Option<u64> {
        let Some(stack) = self.open.get_mut(&tid) else {
            self.unpaired_returns += 1;
            return None;
        };
        let call = stack.pop();
        if stack.is_empty() {
            self.open.remove(&tid);
        }
        let Some(call) = call else {
            self.unpaired_returns += 1;
            return None;
        };
        let Some(duration) = ts_ns.checked_sub(call.ts_ns) else {
            self.backwards += 1;
            return None;
        };
        self.histograms
            .entry(call.key)
            .or_default()
            .add(duration / self.unit.nanos());
        Some(duration)
    }

    /// The histograms so far, by key; empties them (for `-i`), keeping open calls.
    pub fn take_histograms(&mut self) -> BTreeMap<String, Log2Histogram> {
        std::mem::take(&mut self.histograms)
    }

    /// Calls open now.
    pub fn open_calls(&self) -> u64 {
        self.open.values().map(|s| s.len() as u64).sum()
    }

    /// Ends the run: what could not be paired. `thread_alive` tells exited threads from
    /// live ones (a `/proc` lookup in the tool, a stub in tests).
    pub fn finish(&mut self, thread_alive: impl Fn(i32) -> bool) -> Unpaired {
        let mut unpaired = Unpaired {
            returns: self.unpaired_returns,
            evicted: self.evicted_entries,
            backwards: self.backwards,
            ..Unpaired::default()
        };
        for (tid, stack) in self.open.drain() {
            if thread_alive(tid) {
                unpaired.still_open += stack.len() as u64;
            } else {
                unpaired.exited_mid_call += stack.len() as u64;
            }
        }
        unpaired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> LatencyTracker {
        LatencyTracker::new(TimeUnit::Nanos)
    }

    #[test]
    fn pairs_per_thread_even_when_interleaved() {
        let mut t = tracker();
        t.on_entry(1, 100, String::new());
        t.on_entry(2, 150, String::new());
        assert_eq!(t.on_return(1, 300), Some(200));
        assert_eq!(t.on_return(2, 1150), Some(1000));
        let h = &t.take_histograms()[""];
        assert_eq!(h.count(), 2);
        assert_eq!(h.bucket(Log2Histogram::bucket_of(200)), 1);
        assert_eq!(h.bucket(Log2Histogram::bucket_of(1000)), 1);
        assert!(!t.finish(|_| true).any());
    }

    #[test]
    fn recursion_pairs_innermost_first() {
        let mut t = tracker();
        t.on_entry(7, 0, "outer".into());
        t.on_entry(7, 10, "inner".into());
        assert_eq!(t.on_return(7, 15), Some(5));
        assert_eq!(t.on_return(7, 100), Some(100));
        let hs = t.take_histograms();
        assert_eq!(hs["inner"].sum(), 5);
        assert_eq!(hs["outer"].sum(), 100);
    }

    #[test]
    fn what_cannot_be_paired_is_counted() {
        let mut t = tracker();
        // A return for a call that began before the probes were armed.
        assert_eq!(t.on_return(1, 50), None);
        // A thread that exits mid-call, and one still in its call.
        t.on_entry(2, 60, String::new());
        t.on_entry(3, 70, String::new());
        // A clock that went backwards.
        t.on_entry(4, 500, String::new());
        assert_eq!(t.on_return(4, 400), None);
        assert_eq!(t.open_calls(), 2);
        let unpaired = t.finish(|tid| tid == 3);
        assert_eq!(
            unpaired,
            Unpaired {
                returns: 1,
                exited_mid_call: 1,
                still_open: 1,
                evicted: 0,
                backwards: 1,
            }
        );
        assert!(t.take_histograms().is_empty());
    }

    #[test]
    fn a_thread_that_never_returns_does_not_grow_without_bound() {
        let mut t = tracker();
        for i in 0..(MAX_OPEN_PER_THREAD as u64 + 10) {
            t.on_entry(9, i, String::new());
        }
        assert_eq!(t.open_calls(), MAX_OPEN_PER_THREAD as u64);
        let unpaired = t.finish(|_| true);
        assert_eq!(unpaired.evicted, 10);
        assert_eq!(unpaired.still_open, MAX_OPEN_PER_THREAD as u64);
    }

    #[test]
    fn intervals_keep_open_calls() {
        let mut t = LatencyTracker::new(TimeUnit::Micros);
        t.on_entry(1, 0, String::new());
        assert!(t.take_histograms().is_empty());
        assert_eq!(t.on_return(1, 4_000_000), Some(4_000_000));
        let h = &t.take_histograms()[""];
        assert_eq!(h.bucket(Log2Histogram::bucket_of(4000)), 1);
    }
}
