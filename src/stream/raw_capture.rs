//! The binary live loop: read whole sub-buffers from every CPU's `trace_pipe_raw`,
//! decode their events, merge the CPUs in timestamp order and hand records to a sink,
//! until a count, a deadline, a signal or a closed output stops it.
//!
//! Waking: poll() on the per-CPU files wakes when the instance's `buffer_percent` is
//! reached (kernel-notes.md §4), and a tick reads whatever is there so a quiet stream is
//! still shown within about [`TICK`]. Reads are non-blocking and go until `EAGAIN`.
//!
//! Order: events of one CPU are in order. After a round that read data, an event is
//! written only when it is older than the newest event read in that round by more than
//! [`MERGE_WINDOW`]: a round takes far less than that, so no CPU can still hold an older
//! event. A round that reads nothing writes everything held (any later event is newer).
//!
//! Losses: a page flagged RB_MISSED_EVENTS becomes a `Lost` record for its CPU (with the
//! stored count when there is one), in order. At the end the CPU's `stats` (overrun,
//! dropped, commit overrun) are compared with what the pages said, and the rest is
//! reported as one more `Lost` record, so nothing is lost silently.

use std::collections::VecDeque;
use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use super::pipe_loop::StopReason;
use super::pipe_loop::StopWhen;
use super::pipe_loop::StreamError;
use super::signals::SignalWatch;
use crate::decode::RawDecoder;
use crate::decode::Record;
use crate::parse::check_header_event;
use crate::parse::parse_header_page;
use crate::parse::parse_page;
use crate::parse::Missed;
use crate::parse::PageLayout;
use crate::parse::RingPageError;
use crate::tracefs::Instance;

/// The longest a quiet stream waits before what is in the buffers is read.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// How far behind the newest event of a round an event must be to be written (in
/// trace-clock nanoseconds): the bound on reordering between CPUs read one after another.
pub(crate) const MERGE_WINDOW: u64 = 20_000_000;

/// At most this many sub-buffers are read from one CPU per round, so one busy CPU cannot
/// make the others wait (or memory grow) without bound.
const MAX_PAGES_PER_ROUND: usize = 256;

/// How many rounds the final drain reads at most while the probes keep firing.
const DRAIN_ROUNDS: usize = 8;

/// Where decoded records go.
pub trait RawSink {
    /// Takes one record.
    fn record(&mut self, record: &Record<'_>) -> io::Result<()>;
    /// Called after each round: write out what is buffered.
    fn flush(&mut self) -> io::Result<()>;
}

/// What a CPU's queue holds.
#[derive(Debug, Clone, Copy)]
enum Held {
    /// An event's payload at `start..start+len` of the CPU's pages.
    Event { ts: u64, start: usize, len: usize },
    /// The kernel lost events before the next page.
    Lost { ts: u64, count: Option<u64> },
}

impl Held {
    fn ts(&self) -> u64 {
        match self {
            Held::Event { ts, .. } | Held::Lost { ts, .. } => *ts,
        }
    }
}

/// Loss counters of one CPU's `stats` file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuLoss {
    /// `overrun:` events overwritten (overwrite mode).
    pub overrun: u64,
    /// `dropped events:` events refused when full (overwrite off).
    pub dropped: u64,
    /// `commit overrun:`.
    pub commit_overrun: u64,
}

impl CpuLoss {
    /// Parses a `per_cpu/cpuN/stats` file.
    pub fn parse(text: &[u8]) -> Self {
        let mut loss = Self::default();
        for line in text.split(|b| *b == b'\n') {
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let value = std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            let Some(value) = value else { continue };
            match &line[..colon] {
                b"overrun" => loss.overrun = value,
                b"dropped events" => loss.dropped = value,
                b"commit overrun" => loss.commit_overrun = value,
                _ => {}
            }
        }
        loss
    }

    fn total(&self) -> u64 {
        self.overrun
            .saturating_add(self.dropped)
            .saturating_add(self.commit_overrun)
    }
}

/// One CPU's reader.
#[derive(Debug)]
struct CpuReader {
    cpu: u32,
    file: File,
    stats: PathBuf,
    at_start: CpuLoss,
    /// Sub-buffers read and not yet fully written, back to back.
    pages: Vec<u8>,
    queue: VecDeque<Held>,
    /// Lost events the pages reported with a count.
    reported: u64,
}

/// The open per-CPU readers of an instance. Drop it (closing every file) before the
/// instance is removed: an open file makes rmdir fail with EBUSY.
#[derive(Debug)]
pub struct RawCapture {
    cpus: Vec<CpuReader>,
    layout: PageLayout,
    subbuf: usize,
}

/// Why the binary readers could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RawOpenError {
    /// A file of the instance could not be opened or read.
    #[error("cannot open {} (try --text)", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The kernel's ring-buffer layout is not one tprobe reads.
    #[error("cannot read this kernel's ring-buffer pages")]
    Layout(#[from] RingPageError),
}

impl RawCapture {
    /// Opens `trace_pipe_raw` (non-blocking) of each CPU in `cpus`; `path_of(cpu)` gives
    /// its file and `stats_of(cpu)` its stats file. `subbuf` is the sub-buffer size.
    pub fn open(
        cpus: &[u32],
        path_of: impl Fn(u32) -> PathBuf,
        stats_of: impl Fn(u32) -> PathBuf,
        layout: PageLayout,
        subbuf: usize,
    ) -> Result<Self, (PathBuf, io::Error)> {
        let mut readers = Vec::with_capacity(cpus.len());
        for &cpu in cpus {
            let path = path_of(cpu);
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(|e| (path, e))?;
            let stats = stats_of(cpu);
            let at_start = std::fs::read(&stats)
                .map(|t| CpuLoss::parse(&t))
                .unwrap_or_default();
            readers.push(CpuReader {
                cpu,
                file,
                stats,
                at_start,
                pages: Vec::new(),
                queue: VecDeque::new(),
                reported: 0,
            });
        }
        Ok(Self {
            cpus: readers,
            layout,
            subbuf: subbuf.max(64),
        })
    }

    /// Opens the per-CPU readers of `instance` for every online CPU, with the page layout
    /// of its `events/header_page` (checked against `header_event`).
    pub fn for_instance(instance: &Instance) -> Result<Self, RawOpenError> {
        let events = instance.events_path();
        let read = |name: &str| {
            let path = events.join(name);
            read_in_one_call(&path).map_err(|source| RawOpenError::Open { path, source })
        };
        let layout = parse_header_page(&read("header_page")?)?;
        check_header_event(&read("header_event")?)?;
        let cpus = match online_cpus() {
            Some(cpus) if !cpus.is_empty() => cpus,
            _ => (0..std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).collect(),
        };
        Self::open(
            &cpus,
            |cpu| instance.trace_pipe_raw_path(cpu),
            |cpu| instance.per_cpu_stats_path(cpu),
            layout,
            instance.subbuf_size(),
        )
        .map_err(|(path, source)| RawOpenError::Open { path, source })
    }

    /// Reads every CPU until it has nothing more (or the per-round cap). Returns `None`
    /// when nothing was read, else the time up to which held records may be written: the
    /// newest event less [`MERGE_WINDOW`], and no later than the last event read from a
    /// CPU that still had more (its unread events are older than anything after that).
    fn read_round(&mut self) -> io::Result<Option<u64>> {
        let mut any = false;
        let mut newest: Option<u64> = None;
        let mut capped_at: Option<u64> = None;
        let (layout, subbuf) = (self.layout, self.subbuf);
        for reader in &mut self.cpus {
            let mut drained = false;
            let mut last_ts = 0;
            for _ in 0..MAX_PAGES_PER_ROUND {
                let base = reader.pages.len();
                reader.pages.resize(base + subbuf, 0);
                let n = match reader.file.read(&mut reader.pages[base..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                    Err(e) => {
                        reader.pages.truncate(base);
                        return Err(e);
                    }
                };
                if n == 0 {
                    reader.pages.truncate(base);
                    drained = true;
                    break;
                }
                any = true;
                // The rest of a short read stays zero: pages keep their sub-buffer stride.
                let page_bytes = &reader.pages[base..base + subbuf];
                let Ok(page) = parse_page(&layout, &page_bytes[..n]) else {
                    continue;
                };
                match page.missed {
                    Missed::None => {}
                    Missed::Unknown => reader.queue.push_back(Held::Lost {
                        ts: page.timestamp,
                        count: None,
                    }),
                    Missed::Count(count) => reader.queue.push_back(Held::Lost {
                        ts: page.timestamp,
                        count: Some(count),
                    }),
                }
                for event in page.events() {
                    // A malformed event ends its page; the events before it stand.
                    let Ok(event) = event else { break };
                    reader.queue.push_back(Held::Event {
                        ts: event.ts,
                        start: base + layout.data_offset + event.offset,
                        len: event.payload.len(),
                    });
                    newest = Some(newest.map_or(event.ts, |t| t.max(event.ts)));
                    last_ts = event.ts;
                }
            }
            if !drained {
                // Strictly before its last event: the stack records of that one may be
                // in the next sub-buffer.
                let before_last = last_ts.saturating_sub(1);
                capped_at = Some(capped_at.map_or(before_last, |t| t.min(before_last)));
            }
        }
        if !any {
            return Ok(None);
        }
        // Only loss markers read: hold them with the events around them.
        let limit = newest.map_or(0, |n| n.saturating_sub(MERGE_WINDOW));
        Ok(Some(capped_at.map_or(limit, |c| c.min(limit))))
    }

    /// Writes held records up to `limit` (all with `None`) in timestamp order. Returns
    /// `Ok(true)` when the event count was reached.
    fn emit(
        &mut self,
        limit: Option<u64>,
        decoder: &mut RawDecoder<'_>,
        sink: &mut impl RawSink,
        events: &mut u64,
        max_events: Option<u64>,
    ) -> io::Result<bool> {
        let mut reached = false;
        loop {
            if max_events.is_some_and(|max| *events >= max) {
                reached = true;
                break;
            }
            let next = self
                .cpus
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.queue.front().map(|h| (h.ts(), i)))
                .min();
            let Some((ts, index)) = next else { break };
            if limit.is_some_and(|limit| ts > limit) {
                break;
            }
            let reader = &mut self.cpus[index];
            let Some(held) = reader.queue.pop_front() else {
                break;
            };
            match held {
                Held::Lost { count, .. } => {
                    reader.reported += count.unwrap_or(0);
                    sink.record(&Record::Lost {
                        cpu: reader.cpu,
                        count,
                    })?;
                }
                Held::Event { ts, start, len } => {
                    let payload = reader.pages.get(start..start + len).unwrap_or_default();
                    // The stack records the kernel wrote right after the event belong to
                    // it (at most one of each kind).
                    let mut stacks: [&[u8]; 2] = [&[], &[]];
                    let mut found = 0;
                    if !decoder.is_stack(payload) {
                        while found < stacks.len() {
                            let Some(&Held::Event { start, len, .. }) = reader.queue.front() else {
                                break;
                            };
                            let next = reader.pages.get(start..start + len).unwrap_or_default();
                            if !decoder.is_stack(next) {
                                break;
                            }
                            stacks[found] = next;
                            found += 1;
                            reader.queue.pop_front();
                        }
                    }
                    decoder.decode(reader.cpu, ts, payload, &stacks[..found], |record| {
                        sink.record(record)
                    })?;
                    *events += 1;
                }
            }
        }
        self.compact();
        Ok(reached)
    }

    /// Drops the sub-buffers whose events are all written, once they are at least half
    /// of what is kept: moving the held rest (and rewriting its offsets) every round cost
    /// more than the decoding at high rates; this way each byte moves at most once.
    fn compact(&mut self) {
        let subbuf = self.subbuf;
        for reader in &mut self.cpus {
            let first = reader.queue.iter().find_map(|h| match h {
                Held::Event { start, .. } => Some(*start),
                Held::Lost { .. } => None,
            });
            let cut = match first {
                Some(start) => start / subbuf * subbuf,
                None => reader.pages.len(),
            };
            if cut == 0 || (cut < reader.pages.len() && cut * 2 < reader.pages.len()) {
                continue;
            }
            reader.pages.drain(..cut);
            for held in &mut reader.queue {
                if let Held::Event { start, .. } = held {
                    *start -= cut;
                }
            }
        }
    }

    /// Compares each CPU's stats with what its pages reported and emits the difference
    /// as `Lost` records.
    fn reconcile(&mut self, sink: &mut impl RawSink) -> io::Result<()> {
        for reader in &mut self.cpus {
            let now = std::fs::read(&reader.stats)
                .map(|t| CpuLoss::parse(&t))
                .unwrap_or_default();
            let lost = now.total().saturating_sub(reader.at_start.total());
            if lost > reader.reported {
                sink.record(&Record::Lost {
                    cpu: reader.cpu,
                    count: Some(lost - reader.reported),
                })?;
                reader.reported = lost;
            }
        }
        Ok(())
    }

    /// Reads every CPU's file until it is empty, writes everything in timestamp order,
    /// reports losses and flushes: a whole capture of files (or a drained instance) at
    /// once. Returns how many events were written.
    pub fn read_to_end(
        &mut self,
        decoder: &mut RawDecoder<'_>,
        sink: &mut impl RawSink,
    ) -> io::Result<u64> {
        let mut events = 0;
        while let Some(limit) = self.read_round()? {
            self.emit(Some(limit), decoder, sink, &mut events, None)?;
        }
        self.emit(None, decoder, sink, &mut events, None)?;
        self.reconcile(sink)?;
        sink.flush()?;
        Ok(events)
    }

    /// The file descriptors to poll.
    fn poll_fds(&self, signal_fd: i32, fds: &mut Vec<libc::pollfd>) {
        fds.clear();
        fds.push(libc::pollfd {
            fd: signal_fd,
            events: libc::POLLIN,
            revents: 0,
        });
        for reader in &self.cpus {
            fds.push(libc::pollfd {
                fd: reader.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
    }
}

/// Runs the binary loop until a stop condition holds; then reads what is left, writes it
/// (unless the count was reached or the output closed) and reports losses.
pub fn stream_raw(
    capture: &mut RawCapture,
    signals: &mut SignalWatch,
    stop: StopWhen,
    decoder: &mut RawDecoder<'_>,
    sink: &mut impl RawSink,
) -> Result<StopReason, StreamError> {
    let deadline = stop.duration.map(|d| Instant::now() + d);
    let mut events = 0u64;
    let mut fds = Vec::with_capacity(capture.cpus.len() + 1);
    let output_error = |e: io::Error| -> Result<StopReason, StreamError> {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Ok(StopReason::OutputClosed)
        } else {
            Err(StreamError::Write(e))
        }
    };
    let reason = loop {
        if let Some(signal) = signals.raised() {
            break StopReason::Signal(signal);
        }
        let mut wait = TICK;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break StopReason::Duration;
            }
            wait = wait.min(left);
        }
        capture.poll_fds(signals.fd(), &mut fds);
        let timeout = i32::try_from(wait.as_millis().max(1)).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a valid array of pollfd structs for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(StreamError::Read(err));
            }
        }
        if fds[0].revents != 0 {
            continue;
        }
        let limit = capture.read_round().map_err(StreamError::Read)?;
        let emitted = capture
            .emit(limit, decoder, sink, &mut events, stop.events)
            .and_then(|reached| sink.flush().map(|()| reached));
        match emitted {
            Ok(true) => break StopReason::Count,
            Ok(false) => {}
            Err(e) => return output_error(e),
        }
    };
    // After a stop signal the drain writes only while the output accepts data: a reader
    // that stopped reading must not keep tprobe from tearing down.
    if matches!(reason, StopReason::Signal(_)) {
        signals.rearm();
    }
    // Drain: what the buffers still hold goes out before the teardown.
    let drained = (|| -> io::Result<()> {
        if reason != StopReason::Count {
            // Read until the buffers are empty (a few rounds at most: the probes still
            // fire), then write all that is held.
            for _ in 0..DRAIN_ROUNDS {
                let Some(limit) = capture.read_round()? else {
                    break;
                };
                capture.emit(Some(limit), decoder, sink, &mut events, stop.events)?;
            }
            capture.emit(None, decoder, sink, &mut events, stop.events)?;
        }
        capture.reconcile(sink)
    })();
    // Flushed even when the drain failed: what was decoded goes out, and the sink's
    // counts are complete.
    let flushed = sink.flush();
    let finish = drained.and(flushed);
    match finish {
        Ok(()) => Ok(reason),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(StopReason::OutputClosed),
        Err(e) if matches!(reason, StopReason::Signal(_)) => {
            // The output may be what the signal interrupted; the signal decides the exit.
            let _ = e;
            Ok(reason)
        }
        Err(e) => Err(StreamError::Write(e)),
    }
}

/// Reads a small tracefs file with one large read: `header_page` answers a small first
/// read (as `fs::read` makes) with its first 32 bytes and then end-of-file (seen on 6.18).
fn read_in_one_call(path: &std::path::Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf[len..])?;
        if n == 0 || len + n == buf.len() {
            len += n;
            break;
        }
        len += n;
    }
    buf.truncate(len);
    Ok(buf)
}

/// The online CPUs (`/sys/devices/system/cpu/online`: `0-3,5`), or `None` when unknown.
pub fn online_cpus() -> Option<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    parse_cpu_list(text.trim())
}

/// Parses a kernel CPU list (`0-3,5`).
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 4096 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_reader;
    use crate::decode::CommCache;
    use crate::decode::Decoder;
    use crate::decode::EventCatalog;
    use crate::decode::RawCatalog;
    use crate::output::RecordFormat;
    use crate::stream::RawOutput;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    /// The `$comm` arguments of the fixture's probe definitions (capture.sh DEFS).
    fn comm_args() -> Vec<(String, String)> {
        [("touch", "comm"), ("touch_ret", "rcomm"), ("misc", "comm")]
            .iter()
            .map(|(e, f)| (e.to_string(), f.to_string()))
            .collect()
    }

    /// Decodes a raw fixture's per-CPU files through [`RawCapture`] into JSON lines.
    fn raw_json(dir: &Path) -> (Vec<String>, u64) {
        let catalog = EventCatalog::from_dir(&dir.join("events")).unwrap();
        let raw_catalog = RawCatalog::new(&catalog, &comm_args());
        let comms = CommCache::from_text(&std::fs::read(dir.join("saved_cmdlines")).unwrap());
        let mut decoder = RawDecoder::new(&raw_catalog, comms);
        let layout =
            parse_header_page(&std::fs::read(dir.join("events/header_page")).unwrap()).unwrap();
        check_header_event(&std::fs::read(dir.join("events/header_event")).unwrap()).unwrap();
        let mut capture = RawCapture::open(
            &[0, 1],
            |cpu| dir.join(format!("cpu{cpu}.raw")),
            |cpu| dir.join(format!("cpu{cpu}.stats")),
            layout,
            4096,
        )
        .unwrap();
        // The stats files are the end state: count from zero.
        for reader in &mut capture.cpus {
            reader.at_start = CpuLoss::default();
        }
        let mut sink = RawOutput::new(Vec::new(), RecordFormat::Json);
        let events = capture.read_to_end(&mut decoder, &mut sink).unwrap();
        let text = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        (text.lines().map(str::to_owned).collect(), events)
    }

    /// The fixture's `trace.txt` through the text decoder, as JSON lines.
    fn text_json(dir: &Path) -> Vec<String> {
        let catalog = EventCatalog::from_dir(&dir.join("events")).unwrap();
        let mut decoder = Decoder::new(&catalog);
        let mut out = Vec::new();
        let file = std::fs::File::open(dir.join("trace.txt")).unwrap();
        decode_reader(
            file,
            &mut decoder,
            &mut |r: &Record<'_>| -> Result<(), io::Error> {
                RecordFormat::Json.append(&mut out, r);
                Ok(())
            },
        )
        .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A JSON line with its `ts` cut to microseconds and its `comm` removed: the text
    /// path prints microseconds and looks comms up at read time.
    pub(crate) fn comparable(line: &str) -> String {
        let mut out = line.to_owned();
        if let Some(rest) = out.strip_prefix("{\"ts\":") {
            let end = rest.find(',').unwrap_or(rest.len());
            let ts = &rest[..end];
            // The kernel prints microseconds rounded to nearest (ns2usecs adds 500).
            let cut = match ts.split_once('.') {
                Some((secs, nanos)) if nanos.len() == 9 => {
                    let total = secs.parse::<u64>().unwrap() * 1_000_000_000
                        + nanos.parse::<u64>().unwrap();
                    let micros = (total + 500) / 1000;
                    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
                }
                _ => ts.to_owned(),
            };
            out = format!("{{\"ts\":{cut}{}", &rest[end..]);
        }
        // Only the header's comm, before the fields (a field may be called comm too).
        let header_end = out.find(",\"fields\":").unwrap_or(out.len());
        let header = &out[..header_end];
        if let Some(at) = header.find(",\"comm\":{") {
            if let Some(end) = out[at..].find('}') {
                out.replace_range(at..at + end + 1, "");
            }
        } else if let Some(at) = header.find(",\"comm\":\"") {
            let body = &out[at + 9..];
            let mut escaped = false;
            let mut end = None;
            for (i, c) in body.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            if let Some(end) = end {
                out.replace_range(at..at + 9 + end + 1, "");
            }
        }
        out
    }

    #[test]
    fn raw_pages_decode_to_the_same_json_as_their_text() {
        let dir = fixture("raw-uprobe-basic");
        let (raw, events) = raw_json(&dir);
        let text = text_json(&dir);
        assert!(events > 40, "{events} events");
        assert_eq!(
            raw.len(),
            text.len(),
            "raw:\n{}\ntext:\n{}",
            raw.join("\n"),
            text.join("\n")
        );
        for (r, t) in raw.iter().zip(&text) {
            assert_eq!(comparable(r), comparable(t));
        }
        // Nanoseconds from the raw path; comm from `$comm` where the probe has one.
        assert!(raw[0].starts_with("{\"ts\":") && raw[0].split(',').next().unwrap().len() > 17);
        assert!(raw.iter().any(|l| l.contains("\"comm\":\"my app-1\"")));
    }

    #[test]
    fn overrun_pages_and_stats_report_every_lost_event() {
        let dir = fixture("raw-uprobe-lost");
        let (raw, events) = raw_json(&dir);
        let text = text_json(&dir);
        let lost: Vec<&String> = raw.iter().filter(|l| l.starts_with("{\"lost\":")).collect();
        // The first page read on each CPU says events were lost, with the count stored.
        assert!(!lost.is_empty(), "{raw:?}");
        let mut per_cpu = BTreeMap::new();
        for line in &lost {
            // `null` when the page was full and had no room for the count.
            let n: u64 = line["{\"lost\":".len()..line.find(',').unwrap()]
                .parse()
                .unwrap_or(0);
            let cpu: u32 = line[line.rfind(':').unwrap() + 1..line.len() - 1]
                .parse()
                .unwrap();
            *per_cpu.entry(cpu).or_insert(0) += n;
        }
        for cpu in [0u32, 1] {
            let stats =
                CpuLoss::parse(&std::fs::read(dir.join(format!("cpu{cpu}.stats"))).unwrap());
            assert_eq!(
                per_cpu.get(&cpu).copied().unwrap_or(0),
                stats.total(),
                "cpu{cpu}: {lost:?}"
            );
        }
        // The events that survived are those the text shows.
        let raw_events: Vec<String> = raw
            .iter()
            .filter(|l| !l.starts_with("{\"lost\":"))
            .map(|l| comparable(l))
            .collect();
        let text_events: Vec<String> = text.iter().map(|l| comparable(l)).collect();
        assert_eq!(raw_events.len() as u64, events);
        assert_eq!(raw_events, text_events);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-3,7"), Some(vec![0, 2, 3, 7]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn stats_loss_counters() {
        // per_cpu/cpu0/stats seen on 6.18 (kernel-notes.md §4).
        let text = b"entries: 0\noverrun: 1224\ncommit overrun: 0\nbytes: 0\noldest event ts: 1.0\nnow ts: 2.0\ndropped events: 3\nread events: 10\n";
        let loss = CpuLoss::parse(text);
        assert_eq!(
            loss,
            CpuLoss {
                overrun: 1224,
                dropped: 3,
                commit_overrun: 0
            }
        );
        assert_eq!(loss.total(), 1227);
    }
}
