//! The library facade: start probes from specs and receive decoded events, or decode a
//! captured trace from any reader. The CLI's live path does the work (plan, session,
//! binary readers, teardown); this module only drives it from another thread.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cli::trace::run_live;
use crate::cli::trace::trace_args_from;
use crate::cli::trace::RecordHook;
use crate::cli::CliError;
use crate::decode::decode_reader;
use crate::decode::DecodeError;
use crate::decode::Decoder;
use crate::decode::Event;
use crate::decode::EventCatalog;
use crate::decode::Record;
use crate::parse::Value;

/// Sessions running in this process (see [`keep_default_actions`]).
static SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// Counts a session from its start until its thread ends, even by a panic.
struct SessionCount;

impl SessionCount {
    fn start() -> Self {
        keep_default_actions();
        SESSIONS.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        SESSIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A session catches the stop signals, and signal-hook does not give a signal its default
/// action back when its last handler goes: after a session, Ctrl-C would be ignored.
/// Installed once, before the first session: while no session runs, a stop signal whose
/// action was the default one does what the default would (ends the process).
fn keep_default_actions() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            if !has_default_action(signal) {
                continue;
            }
            // SAFETY: the action does an atomic load and then what the default action
            // does, through signal-hook's helper made for signal handlers.
            let _ = unsafe {
                signal_hook::low_level::register(signal, move || {
                    if SESSIONS.load(Ordering::SeqCst) == 0 {
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                    }
                })
            };
        }
    });
}

/// Whether `signal`'s disposition is the default action.
fn has_default_action(signal: i32) -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries the current one into `old`, valid for writes.
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zeroed is a valid sigaction, and sigaction filled it when it succeeded.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_DFL
}

/// Events an iterator may hold before the session's reader waits for the consumer (the
/// kernel's buffers then absorb the rest, and count what they drop).
const EVENT_QUEUE: usize = 65_536;

/// Entry point of the live API: probes defined from specs in a group and a private
/// tracefs instance of their own, removed again when the session ends.
///
/// ```no_run
/// let mut probes = tprobe::Probes::builder()
///     .spec("ur:/usr/bin/bash:readline line=+0($retval):string")
///     .start()?;
/// for event in probes.by_ref().take(3) {
///     println!("{}: {:?}", event.comm, event.field("line"));
/// }
/// let summary = probes.stop()?;
/// println!("{} events, {} lost", summary.events, summary.lost);
/// # Ok::<(), tprobe::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Probes;

impl Probes {
    /// A builder with no specs and the CLI's defaults.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder().spec("u:libc:malloc size=%di:u64").start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn builder() -> ProbesBuilder {
        ProbesBuilder::default()
    }
}

/// What to probe and how; [`ProbesBuilder::start`] or [`ProbesBuilder::start_with`]
/// defines the probes and starts reading.
#[derive(Debug, Clone, Default)]
pub struct ProbesBuilder {
    specs: Vec<String>,
    pids: Vec<u32>,
    filter: Option<String>,
    buffer_kb: Option<u32>,
    max_events: Option<u64>,
    duration: Option<Duration>,
    tracefs: Option<PathBuf>,
}

impl ProbesBuilder {
    /// Adds a probe spec, as `tprobe trace` takes it: kernel syntax (`p:…`, `r:…`, `f:…`,
    /// `e:…`) or a shorthand (`u:PATH:FUNC`, `ur:PATH:FUNC`, `t:SUBSYS:EVENT`), with an
    /// optional `if FILTER`.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc size=%di:u64 if size > 4096")
    ///     .spec("t:sched:sched_process_exit")
    ///     .start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn spec(mut self, spec: impl Into<String>) -> Self {
        self.specs.push(spec.into());
        self
    }

    /// Only events of this process and its children (`-p`); may be given more than once.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc size=%di:u64")
    ///     .pid(std::process::id())
    ///     .start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn pid(mut self, pid: u32) -> Self {
        self.pids.push(pid);
        self
    }

    /// A kernel filter for every probe (`--filter`), e.g. `size > 1024`.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc size=%di:u64")
    ///     .filter("size > 1024")
    ///     .start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Per-CPU buffer size of the private instance in KiB (`-b`; default 4096).
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .buffer_kb(256)
    ///     .start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn buffer_kb(mut self, kb: u32) -> Self {
        self.buffer_kb = Some(kb);
        self
    }

    /// Ends the session by itself after this many events (`-n`).
    ///
    /// ```no_run
    /// let events: Vec<_> = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .max_events(10)
    ///     .start()?
    ///     .collect();
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn max_events(mut self, count: u64) -> Self {
        self.max_events = Some(count);
        self
    }

    /// Ends the session by itself after this long (`-d`).
    ///
    /// ```no_run
    /// let summary = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .duration(std::time::Duration::from_secs(2))
    ///     .start_with(|_record| {})?
    ///     .wait()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// The tracefs mount to use instead of the one found (`--tracefs`).
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .tracefs("/sys/kernel/tracing")
    ///     .start()?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn tracefs(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tracefs = Some(dir.into());
        self
    }

    /// Defines and enables the probes, and returns once events flow; the returned
    /// [`RunningProbes`] is an iterator of owned events. Errors (a bad spec, a missing
    /// function, no tracefs, a kernel refusal) come back here, with nothing left behind.
    ///
    /// While a session runs, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE end it (and its
    /// iterator) instead of the process, so Ctrl-C still removes the probes; once no
    /// session runs, they have their default actions again.
    ///
    /// ```no_run
    /// let mut probes = tprobe::Probes::builder().spec("u:libc:malloc size=%di:u64").start()?;
    /// if let Some(event) = probes.next_timeout(std::time::Duration::from_secs(1)) {
    ///     println!("{} malloc({:?})", event.pid, event.field("size"));
    /// }
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn start(self) -> Result<RunningProbes, Error> {
        let (sender, receiver) = mpsc::sync_channel(EVENT_QUEUE);
        let mut sender = Some(sender);
        let running = self.start_with(move |record| {
            let Record::Event(event) = record else {
                return;
            };
            // A dropped receiver ends the session through `stop` (set by its Drop).
            if let Some(tx) = &sender {
                if tx.send(OwnedEvent::from_event(event)).is_err() {
                    sender = None;
                }
            }
        })?;
        let mut running = running;
        running.events = Some(receiver);
        Ok(running)
    }

    /// Like [`ProbesBuilder::start`], but each decoded record (events, lost-event markers)
    /// goes to `on_record`, called on the session's own thread, borrowed and not copied.
    ///
    /// ```no_run
    /// let mut mallocs = 0u64;
    /// let running = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .duration(std::time::Duration::from_secs(1))
    ///     .start_with(|record| {
    ///         if let tprobe::Record::Event(event) = record {
    ///             eprintln!("{}", String::from_utf8_lossy(&event.name));
    ///         }
    ///     })?;
    /// println!("{} events", running.wait()?.events);
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn start_with<F>(self, on_record: F) -> Result<RunningProbes, Error>
    where
        F: FnMut(&Record<'_>) + Send + 'static,
    {
        let args = trace_args_from(self.flags()).map_err(|e| Error(Repr::Args(e)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel::<Result<String, Error>>();
        let mut hook = FacadeHook {
            on_record,
            stop: Arc::clone(&stop),
            started: Some(started_tx),
        };
        let count = SessionCount::start();
        let thread = std::thread::Builder::new()
            .name("tprobe-session".to_owned())
            .spawn(move || -> Result<Summary, Error> {
                let _count = count;
                let outcome = run_live(&args, Some(&mut hook)).map(|outcome| Summary {
                    events: outcome.counts.events.values().sum(),
                    lost: outcome.counts.lost.values().sum(),
                    probes_removed: outcome.report.probes_deleted,
                });
                match (hook.started.take(), outcome) {
                    // Failed before events flowed: `start` returns the error.
                    (Some(started), Err(e)) => {
                        let _ = started.send(Err(Error(Repr::Cli(e))));
                        Ok(Summary::default())
                    }
                    // Ended before events flowed (a stop signal): nothing to iterate.
                    (Some(started), Ok(summary)) => {
                        let _ = started.send(Ok(String::new()));
                        Ok(summary)
                    }
                    (None, outcome) => outcome.map_err(|e| Error(Repr::Cli(e))),
                }
            })
            .map_err(|e| Error(Repr::Thread(e.to_string())))?;
        match started_rx.recv() {
            Ok(Ok(group)) => Ok(RunningProbes {
                group,
                stop,
                events: None,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(join(thread).err().unwrap_or(Error(Repr::Thread(
                "the session thread ended without starting".to_owned(),
            )))),
        }
    }

    /// The `tprobe trace` flags this builder stands for.
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for pid in &self.pids {
            flags.push(format!("--pid={pid}"));
        }
        if let Some(filter) = &self.filter {
            flags.push(format!("--filter={filter}"));
        }
        if let Some(kb) = self.buffer_kb {
            flags.push(format!("--buffer-kb={kb}"));
        }
        if let Some(count) = self.max_events {
            flags.push(format!("--count={count}"));
        }
        if let Some(duration) = self.duration {
            flags.push(format!("--duration={}", duration.as_secs_f64()));
        }
        if let Some(dir) = &self.tracefs {
            flags.push(format!("--tracefs={}", dir.display()));
        }
        flags.push("--".to_owned());
        flags.extend(self.specs.iter().cloned());
        flags
    }
}

/// Receives the live path's records for the facade, and tells it when to stop.
struct FacadeHook<F> {
    on_record: F,
    stop: Arc<AtomicBool>,
    started: Option<mpsc::Sender<Result<String, Error>>>,
}

impl<F: FnMut(&Record<'_>)> RecordHook for FacadeHook<F> {
    fn record(&mut self, record: &Record<'_>) {
        (self.on_record)(record);
    }

    fn tick(&mut self) {}

    fn started(&mut self, group: &str) {
        if let Some(started) = self.started.take() {
            let _ = started.send(Ok(group.to_owned()));
        }
    }

    fn stop_requested(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A running session. Iterating yields its events (after [`ProbesBuilder::start`]) until
/// it ends: by [`RunningProbes::stop`], by the builder's count or duration, or by a stop
/// signal. Dropping it stops it; either way the probes, the group and the instance are
/// removed before `stop` returns or the drop completes.
///
/// ```no_run
/// let probes = tprobe::Probes::builder().spec("u:libc:free").max_events(5).start()?;
/// for event in probes {
///     println!("{} {} {}", event.timestamp, event.comm, event.name);
/// }
/// # Ok::<(), tprobe::Error>(())
/// ```
#[derive(Debug)]
pub struct RunningProbes {
    group: String,
    stop: Arc<AtomicBool>,
    events: Option<mpsc::Receiver<OwnedEvent>>,
    thread: Option<JoinHandle<Result<Summary, Error>>>,
}

impl RunningProbes {
    /// The session's tracefs group, which is also the name of its instance
    /// (`tprobe_<pid>_<starttime>_<n>`): `tprobe clean` removes it should the process be
    /// killed before teardown.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder().spec("u:libc:malloc").start()?;
    /// println!("probes in /sys/kernel/tracing/events/{}", probes.group());
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The next event, waiting at most `timeout`; `None` when none came in time or the
    /// session has ended (see [`RunningProbes::is_finished`]).
    ///
    /// ```no_run
    /// let mut probes = tprobe::Probes::builder().spec("u:libc:malloc").start()?;
    /// while let Some(event) = probes.next_timeout(std::time::Duration::from_millis(500)) {
    ///     println!("{event:?}");
    /// }
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<OwnedEvent> {
        self.events.as_ref()?.recv_timeout(timeout).ok()
    }

    /// Whether the session has ended (its events may still be queued for the iterator).
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder().spec("u:libc:malloc").max_events(1).start()?;
    /// while !probes.is_finished() {
    ///     std::thread::sleep(std::time::Duration::from_millis(100));
    /// }
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops reading, removes everything the session created, and reports its counts.
    ///
    /// ```no_run
    /// let probes = tprobe::Probes::builder().spec("u:libc:malloc").start()?;
    /// std::thread::sleep(std::time::Duration::from_secs(1));
    /// let summary = probes.stop()?;
    /// assert!(summary.probes_removed >= 1);
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn stop(mut self) -> Result<Summary, Error> {
        self.stop.store(true, Ordering::SeqCst);
        self.finish()
    }

    /// Waits for the session to end by itself (count, duration or a stop signal), then
    /// reports its counts. Events not taken from the iterator are dropped.
    ///
    /// ```no_run
    /// let summary = tprobe::Probes::builder()
    ///     .spec("u:libc:malloc")
    ///     .max_events(100)
    ///     .start_with(|_| {})?
    ///     .wait()?;
    /// assert_eq!(summary.events, 100);
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn wait(mut self) -> Result<Summary, Error> {
        let Some(thread) = self.thread.take() else {
            return Ok(Summary::default());
        };
        // Keep the queue moving, so a full one does not hold the session up.
        if let Some(events) = self.events.take() {
            for _ in events.iter() {}
        }
        join(thread)
    }

    fn finish(&mut self) -> Result<Summary, Error> {
        // The receiver goes first: a reader blocked on a full queue wakes up.
        self.events = None;
        match self.thread.take() {
            Some(thread) => join(thread),
            None => Ok(Summary::default()),
        }
    }
}

impl Iterator for RunningProbes {
    type Item = OwnedEvent;

    fn next(&mut self) -> Option<OwnedEvent> {
        self.events.as_ref()?.recv().ok()
    }
}

impl Drop for RunningProbes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.finish();
    }
}

fn join(thread: JoinHandle<Result<Summary, Error>>) -> Result<Summary, Error> {
    thread.join().unwrap_or_else(|_| {
        Err(Error(Repr::Thread(
            "the session thread panicked".to_owned(),
        )))
    })
}

/// What a session saw and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Events decoded.
    pub events: u64,
    /// Events the kernel dropped (its buffers were full).
    pub lost: u64,
    /// Probe points deleted at teardown.
    pub probes_removed: usize,
}

/// A decoded event that owns its data, as the iterator hands it out.
///
/// ```
/// let text = "bash-42 [001] ..... 7.000001: readline: (0x4f1b0) line=\"ls\"\n";
/// let mut events = Vec::new();
/// tprobe::replay(text.as_bytes(), |record| {
///     if let tprobe::Record::Event(event) = record {
///         events.push(tprobe::OwnedEvent::from_event(event));
///     }
/// })?;
/// assert_eq!(events[0].comm, "bash");
/// assert_eq!(events[0].pid, 42);
/// assert_eq!(events[0].field("line").and_then(|v| v.as_str()), Some("ls"));
/// # Ok::<(), tprobe::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedEvent {
    /// The group, when the event's format was known.
    pub group: Option<String>,
    /// The event name.
    pub name: String,
    /// The command name of the thread.
    pub comm: String,
    /// The thread id.
    pub pid: i32,
    /// The CPU the event was recorded on.
    pub cpu: u32,
    /// The timestamp as the kernel prints it (`147.606363`).
    pub timestamp: String,
    /// The fields in print order: name and value.
    pub fields: Vec<(String, OwnedValue)>,
}

impl OwnedEvent {
    /// Copies a borrowed [`Event`].
    ///
    /// ```
    /// tprobe::replay(&b"sh-7 [000] ..... 1.5: open: path=\"/etc/hosts\"\n"[..], |record| {
    ///     if let tprobe::Record::Event(event) = record {
    ///         assert_eq!(tprobe::OwnedEvent::from_event(event).name, "open");
    ///     }
    /// })?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn from_event(event: &Event<'_>) -> Self {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Self {
            group: event.group.map(str::to_owned),
            name: text(&event.name),
            comm: text(event.header.comm),
            pid: event.header.pid,
            cpu: event.header.cpu,
            timestamp: text(event.header.ts),
            fields: event
                .fields
                .iter()
                .map(|field| (text(field.name), OwnedValue::from_value(&field.value)))
                .collect(),
        }
    }

    /// The value of the first field called `name`.
    ///
    /// ```
    /// tprobe::replay(&b"app-9 [000] ..... 2.0: malloc: size=64\n"[..], |record| {
    ///     if let tprobe::Record::Event(event) = record {
    ///         let event = tprobe::OwnedEvent::from_event(event);
    ///         assert_eq!(event.field("size").and_then(|v| v.as_u64()), Some(64));
    ///     }
    /// })?;
    /// # Ok::<(), tprobe::Error>(())
    /// ```
    pub fn field(&self, name: &str) -> Option<&OwnedValue> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value)
    }
}

/// An owned [`Value`].
///
/// ```
/// assert_eq!(tprobe::OwnedValue::Unsigned(7).as_u64(), Some(7));
/// assert_eq!(tprobe::OwnedValue::Str(b"ls".to_vec()).as_str(), Some("ls"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnedValue {
    /// A signed decimal.
    Signed(i64),
    /// An unsigned decimal.
    Unsigned(u64),
    /// Hex as printed, with its `0x` when the kernel printed one.
    Hex(String),
    /// A string's bytes.
    Str(Vec<u8>),
    /// One byte.
    Char(u8),
    /// A kernel symbol: `do_sys_openat2+0x0/0x100`.
    Symbol(String),
    /// Printed text tprobe does not type further.
    Text(String),
    /// The kernel could not read the value.
    Fault,
    /// An array.
    Array(Vec<OwnedValue>),
}

impl OwnedValue {
    /// Copies a borrowed [`Value`].
    ///
    /// ```
    /// let value = tprobe::OwnedValue::from_value(&tprobe::Value::Signed(-1));
    /// assert_eq!(value, tprobe::OwnedValue::Signed(-1));
    /// ```
    pub fn from_value(value: &Value<'_>) -> Self {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match value {
            Value::Signed(n) => Self::Signed(*n),
            Value::Unsigned(n) => Self::Unsigned(*n),
            Value::Hex(bytes) => Self::Hex(text(bytes)),
            Value::Str(bytes) => Self::Str(bytes.to_vec()),
            Value::Char(byte) => Self::Char(*byte),
            Value::Symbol(bytes) => Self::Symbol(text(bytes)),
            Value::Text(bytes) => Self::Text(text(bytes)),
            Value::Fault => Self::Fault,
            Value::Array(values) => Self::Array(values.iter().map(Self::from_value).collect()),
        }
    }

    /// The value as an unsigned number: decimals that fit, and hex.
    ///
    /// ```
    /// assert_eq!(tprobe::OwnedValue::Hex("0x10".into()).as_u64(), Some(16));
    /// assert_eq!(tprobe::OwnedValue::Signed(-1).as_u64(), None);
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Unsigned(n) => Some(*n),
            Self::Signed(n) => u64::try_from(*n).ok(),
            Self::Hex(text) => u64::from_str_radix(text.trim_start_matches("0x"), 16).ok(),
            _ => None,
        }
    }

    /// The value as text, when it is a UTF-8 string.
    ///
    /// ```
    /// assert_eq!(tprobe::OwnedValue::Str(b"/etc".to_vec()).as_str(), Some("/etc"));
    /// assert_eq!(tprobe::OwnedValue::Fault.as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }
}

/// Decodes captured `trace_pipe` or `trace` text from any reader, exactly as `tprobe
/// replay` does, handing each record to `on_record`. Without format files the fields
/// are split by guessing; see [`replay_with_formats`].
///
/// ```
/// let text = "\
///  bash-1 [000] ..... 1.000000: readline: (0x4f1b0) line=\"ls\"
/// CPU:1 [LOST 3 EVENTS]
/// ";
/// let mut names = Vec::new();
/// let mut lost = 0;
/// tprobe::replay(text.as_bytes(), |record| match record {
///     tprobe::Record::Event(event) => names.push(String::from_utf8_lossy(&event.name).into_owned()),
///     tprobe::Record::Lost { count, .. } => lost += count.unwrap_or(0),
///     _ => {}
/// })?;
/// assert_eq!(names, ["readline"]);
/// assert_eq!(lost, 3);
/// # Ok::<(), tprobe::Error>(())
/// ```
pub fn replay<R: Read>(reader: R, on_record: impl FnMut(&Record<'_>)) -> Result<(), Error> {
    replay_catalog(reader, &EventCatalog::new(), on_record)
}

/// [`replay`], with the events' format files from `events_dir` (a copy of tracefs'
/// `events/`, or the live one), so fields are typed by their formats.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("tprobe-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let text = "sh-3 [000] ..... 1.000000: open: path=\"/etc\"\n";
/// let mut events = 0;
/// tprobe::replay_with_formats(text.as_bytes(), &dir, |_| events += 1)?;
/// assert_eq!(events, 1);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay_with_formats<R: Read>(
    reader: R,
    events_dir: &Path,
    on_record: impl FnMut(&Record<'_>),
) -> Result<(), Error> {
    let catalog =
        EventCatalog::from_dir(events_dir).map_err(|e| Error(Repr::Cli(CliError::from(e))))?;
    replay_catalog(reader, &catalog, on_record)
}

fn replay_catalog<R: Read>(
    reader: R,
    catalog: &EventCatalog,
    mut on_record: impl FnMut(&Record<'_>),
) -> Result<(), Error> {
    let mut decoder = Decoder::new(catalog);
    let mut sink = |record: &Record<'_>| -> Result<(), std::convert::Infallible> {
        on_record(record);
        Ok(())
    };
    decode_reader(reader, &mut decoder, &mut sink).map_err(|e| match e {
        DecodeError::Read(e) => Error(Repr::Read(e)),
        DecodeError::Sink(never) => match never {},
    })
}

/// Why a session could not start or ended in error, or a replay failed; the message
/// says what to do about it.
///
/// ```no_run
/// match tprobe::Probes::builder().spec("u:/no/such/file:f").start() {
///     Ok(_) => unreachable!(),
///     Err(e) => eprintln!("tprobe: {e}"),
/// }
/// ```
#[derive(Debug)]
pub struct Error(Repr);

#[derive(Debug)]
enum Repr {
    /// What the CLI would report for the same run.
    Cli(CliError),
    /// The builder's settings were refused by the flag parser.
    Args(clap::Error),
    /// Reading the replay input failed.
    Read(std::io::Error),
    /// The session thread could not start or panicked.
    Thread(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Cli(e) => f.write_str(&e.render()),
            Repr::Args(e) => write!(f, "invalid settings: {}", e.render()),
            Repr::Read(e) => write!(f, "cannot read the input: {e}"),
            Repr::Thread(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}
