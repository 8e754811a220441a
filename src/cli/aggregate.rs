//! `tprobe latency` and `tprobe count`: the live path of `tprobe trace` (plan, session,
//! readers, signals, teardown) with the decoded records going into aggregates instead of
//! the output.

use std::collections::HashMap;
use std::io;
use std::io::Write;
use std::time::Duration;
use std::time::Instant;

use serde_json::json;

use super::error::CliError;
use super::lowargs::AggregateArgs;
use super::lowargs::CountArgs;
use super::lowargs::LatencyArgs;
use super::lowargs::LatencyUnit;
use super::lowargs::OutputFormat;
use super::lowargs::TraceArgs;
use super::trace;
use super::trace::RecordHook;
use crate::aggregate::jobs::CountJob;
use crate::aggregate::jobs::LatencyJob;
use crate::aggregate::jobs::Losses;
use crate::aggregate::jobs::SplitBy;
use crate::aggregate::Counter;
use crate::aggregate::LatencyTracker;
use crate::aggregate::Log2Histogram;
use crate::aggregate::TimeUnit;
use crate::aggregate::Unpaired;
use crate::decode::Record;
use crate::elf::find_binary;
use crate::elf::UstackSymbolizer;

/// The entry and return probes' event names.
const ENTRY_EVENT: &str = "lat_entry";
const RETURN_EVENT: &str = "lat_return";
/// The fetch-arg name `--by FETCHARG` is recorded under.
const KEY_FIELD: &str = "key";

pub(super) fn run_latency(args: &LatencyArgs) -> Result<i32, CliError> {
    let (by, key_arg) = match args.common.by.as_deref() {
        None => (SplitBy::Nothing, None),
        Some("comm") => (SplitBy::Comm, None),
        Some("pid") => (SplitBy::Pid, None),
        Some(fetch_arg) => (
            SplitBy::Field(KEY_FIELD.to_owned()),
            Some(format!(" {KEY_FIELD}={fetch_arg}")),
        ),
    };
    let specs = latency_specs(args, key_arg.as_deref().unwrap_or(""))?;
    let trace_args = trace_args(&args.common, specs);
    let unit = match args.unit {
        LatencyUnit::Ns => TimeUnit::Nanos,
        LatencyUnit::Us => TimeUnit::Micros,
        LatencyUnit::Ms => TimeUnit::Millis,
    };
    let mut hook = LatencyHook {
        job: LatencyJob {
            tracker: LatencyTracker::new(unit),
            entry_event: ENTRY_EVENT.to_owned(),
            return_event: RETURN_EVENT.to_owned(),
            by,
            losses: Losses::default(),
        },
        clock: Interval::new(args.common.interval),
        json: args.common.json,
        target: args.target.clone(),
    };
    let code = trace::run_with(&trace_args, Some(&mut hook))?;
    hook.finish().map_err(CliError::Output)?;
    Ok(code)
}

/// The entry and return specs for `target`, with `key` (` key=FETCHARG` or nothing)
/// recorded at entry.
fn latency_specs(args: &LatencyArgs, key: &str) -> Result<Vec<String>, CliError> {
    let target = args.target.trim();
    if let Some(user) = target
        .strip_prefix("u:")
        .or_else(|| target.strip_prefix("uprobe:"))
    {
        let Some((file, func)) = user.rsplit_once(':') else {
            return Err(CliError::Naming(format!(
                "`{target}`: write u:PATH_OR_LIB:FUNCTION, e.g. u:libc:malloc"
            )));
        };
        let found = find_binary(file, args.common.pid.first().copied())?;
        let path = found.path.display();
        return Ok(vec![
            format!("p:{ENTRY_EVENT} {path}:{func}{key}"),
            format!("r:{RETURN_EVENT} {path}:{func}"),
        ]);
    }
    if let Some(symbol) = target.strip_prefix("f:") {
        return Ok(vec![
            format!("f:{ENTRY_EVENT} {symbol}{key}"),
            format!("f:{RETURN_EVENT} {symbol}%return"),
        ]);
    }
    let symbol = target
        .strip_prefix("p:")
        .or_else(|| target.strip_prefix("k:"))
        .unwrap_or(target);
    let maxactive = args.maxactive.map(|n| n.to_string()).unwrap_or_default();
    Ok(vec![
        format!("p:{ENTRY_EVENT} {symbol}{key}"),
        format!("r{maxactive}:{RETURN_EVENT} {symbol}"),
    ])
}

/// `tprobe trace` flags for `specs` with the shared options; the output is the hook's.
fn trace_args(common: &AggregateArgs, specs: Vec<String>) -> TraceArgs {
    TraceArgs {
        specs,
        filter: None,
        pid: common.pid.clone(),
        kernel_stack: false,
        ustack: false,
        buffer_kb: common.buffer_kb,
        text: common.text,
        count: None,
        duration: common.duration,
        format: OutputFormat::None,
        json: false,
        output: None,
        max_probes: common.max_probes,
        dry_run: false,
        compat: Default::default(),
        tracefs: common.tracefs.clone(),
    }
}

/// When the next `-i` print is due.
struct Interval {
    every: Option<Duration>,
    next: Option<Instant>,
}

impl Interval {
    fn new(seconds: Option<f64>) -> Self {
        let every = seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64);
        Interval {
            every,
            next: every.map(|d| Instant::now() + d),
        }
    }

    /// Whether a print is due now; moves the deadline on when it is.
    fn due(&mut self) -> bool {
        match (self.every, self.next) {
            (Some(every), Some(next)) if Instant::now() >= next => {
                self.next = Some(next + every);
                true
            }
            _ => false,
        }
    }
}

struct LatencyHook {
    job: LatencyJob,
    clock: Interval,
    json: bool,
    target: String,
}

impl RecordHook for LatencyHook {
    fn record(&mut self, record: &Record<'_>) {
        self.job.on_record(record);
    }

    fn tick(&mut self) {
        if self.clock.due() {
            // A closed stdout ends the run through the summary's own error path.
            let _ = self.print_histograms();
        }
    }
}

impl LatencyHook {
    fn print_histograms(&mut self) -> io::Result<()> {
        let unit = self.job.tracker.unit();
        let histograms = self.job.tracker.take_histograms();
        let mut out = io::stdout().lock();
        for (key, histogram) in &histograms {
            if self.json {
                let mut object = json!({
                    "target": self.target,
                    "unit": unit.short(),
                    "count": histogram.count(),
                    "sum": histogram.sum() as u64,
                    "buckets": histogram.json_buckets(),
                });
                if let Some(title) = self.job.by.title() {
                    object["by"] = json!(title);
                    object["key"] = json!(key);
                }
                writeln!(out, "{object}")?;
            } else {
                if let Some(title) = self.job.by.title() {
                    writeln!(out, "\n{title} = {key}")?;
                }
                write!(out, "{}", histogram.render(unit))?;
                writeln!(
                    out,
                    "\navg = {} {}, total: {} {}, count: {}",
                    average(histogram),
                    unit.title(),
                    histogram.sum(),
                    unit.title(),
                    histogram.count()
                )?;
            }
        }
        if histograms.is_empty() && !self.json {
            writeln!(out, "no complete calls of {} yet", self.target)?;
        }
        out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.print_histograms()?;
        let unpaired = self
            .job
            .tracker
            .finish(|tid| std::path::Path::new(&format!("/proc/{tid}")).exists());
        report_unpaired(&unpaired, &self.job.losses, self.json)
    }
}

fn average(histogram: &Log2Histogram) -> u128 {
    histogram.sum() / u128::from(histogram.count().max(1))
}

/// What could not be paired or was lost: on stderr in text mode, a JSON object otherwise.
fn report_unpaired(unpaired: &Unpaired, losses: &Losses, json: bool) -> io::Result<()> {
    let lost: u64 = losses.lost.values().sum();
    if json {
        let object = json!({
            "unpaired": {
                "returns": unpaired.returns,
                "exited_mid_call": unpaired.exited_mid_call,
                "still_open": unpaired.still_open,
                "evicted": unpaired.evicted,
                "backwards": unpaired.backwards,
            },
            "lost": lost,
            "unparsed": losses.unparsed,
        });
        let mut out = io::stdout().lock();
        writeln!(out, "{object}")?;
        return out.flush();
    }
    let mut err = io::stderr().lock();
    if unpaired.any() {
        writeln!(
            err,
            "tprobe: unpaired: {} return(s) without an entry (calls already running when \
             the probes were armed), {} call(s) whose thread exited mid-call, {} still open \
             at the end (running, or the return was missed), {} dropped from too deep a \
             stack{}",
            unpaired.returns,
            unpaired.exited_mid_call,
            unpaired.still_open,
            unpaired.evicted,
            if unpaired.backwards > 0 {
                format!(", {} with the return before the entry", unpaired.backwards)
            } else {
                String::new()
            }
        )?;
    }
    if losses.any_lost() {
        writeln!(
            err,
            "tprobe: warning: the kernel lost {lost} event(s): the histograms undercount \
             (a bigger buffer: -b KB)"
        )?;
    }
    Ok(())
}

pub(super) fn run_count(args: &CountArgs) -> Result<i32, CliError> {
    let patterns = args.specs.iter().any(|s| s.contains(['*', '?', '[']));
    let by = match args.common.by.as_deref() {
        None if patterns => CountKey::ProbePoint,
        None => CountKey::Split(SplitBy::Nothing),
        Some("comm") => CountKey::Split(SplitBy::Comm),
        Some("pid") => CountKey::Split(SplitBy::Pid),
        Some(field) => CountKey::Split(SplitBy::Field(field.to_owned())),
    };
    let (specs, point_names) = count_specs(args)?;
    let trace_args = trace_args(&args.common, specs);
    let mut hook = CountHook {
        job: CountJob {
            counter: Counter::new(),
            by: match &by {
                CountKey::Split(split) => split.clone(),
                CountKey::ProbePoint => SplitBy::Field("__probe_ip".to_owned()),
            },
            losses: Losses::default(),
        },
        probe_point: matches!(by, CountKey::ProbePoint),
        point_names,
        symbolizer: UstackSymbolizer::new(),
        names: HashMap::new(),
        clock: Interval::new(args.common.interval),
        json: args.common.json,
    };
    let code = trace::run_with(&trace_args, Some(&mut hook))?;
    hook.print().map_err(CliError::Output)?;
    report_unpaired(&Unpaired::default(), &hook.job.losses, false).map_err(CliError::Output)?;
    Ok(code)
}

/// The field that tells the probe points of a user-space pattern apart: an immediate per
/// point (the kernel lets appended points differ in immediates, kernel-notes.md §7), since
/// a user address alone needs the process's maps, gone once a short process exits.
const POINT_FIELD: &str = "tprobe_point";

/// The specs to run: user-space patterns expanded here, one probe point per function,
/// each with its number in `POINT_FIELD`; and the function name of each number.
fn count_specs(args: &CountArgs) -> Result<(Vec<String>, Vec<String>), CliError> {
    let mut specs = Vec::new();
    let mut names = Vec::new();
    let ref_ctr = trace::kernel_takes_ref_ctr(&args.common.tracefs);
    for raw in &args.specs {
        let first = raw.split_whitespace().next().unwrap_or("");
        let user = ["u:", "ur:", "uprobe:", "uretprobe:"]
            .iter()
            .any(|p| first.starts_with(p));
        if !user || !first.contains(['*', '?', '[']) {
            specs.push(raw.clone());
            continue;
        }
        let expanded = crate::elf::expand_user_spec(
            raw,
            args.common.pid.first().copied(),
            ref_ctr,
            args.common.max_probes,
        )?;
        let mut infos: HashMap<String, crate::elf::ElfInfo> = HashMap::new();
        for spec in expanded {
            // `p:EVENT PATH:0xOFFSET ARGS`: name the function at that offset.
            let place = spec.text.split_whitespace().nth(1).unwrap_or("");
            let name = place.rsplit_once(':').and_then(|(path, offset)| {
                let offset = u64::from_str_radix(offset.strip_prefix("0x")?, 16).ok()?;
                if !infos.contains_key(path) {
                    let info = crate::elf::ElfInfo::read(
                        std::path::Path::new(path),
                        &[std::path::PathBuf::from(crate::elf::DEBUG_ROOT)],
                    )
                    .ok()?;
                    infos.insert(path.to_owned(), info);
                }
                let info = &infos[path];
                info.functions
                    .iter()
                    .find(|f| info.file_offset(f.address).map(|o| o.0) == Some(offset))
                    .map(|f| f.display_name().to_owned())
            });
            specs.push(format!("{} {POINT_FIELD}=\\{}:u32", spec.text, names.len()));
            names.push(name.unwrap_or_else(|| place.to_owned()));
        }
    }
    Ok((specs, names))
}

/// What `tprobe count` splits on.
enum CountKey {
    /// A `--by` choice.
    Split(SplitBy),
    /// The function each probe point of a pattern sits on (like funccount).
    ProbePoint,
}

struct CountHook {
    job: CountJob,
    probe_point: bool,
    /// Function names of user-space probe points, by their `POINT_FIELD` value.
    point_names: Vec<String>,
    symbolizer: UstackSymbolizer,
    /// Probe addresses already named, per process (user space) or globally (kernel).
    names: HashMap<(i32, String), String>,
    clock: Interval,
    json: bool,
}

impl RecordHook for CountHook {
    fn record(&mut self, record: &Record<'_>) {
        if !self.probe_point {
            self.job.on_record(record);
            return;
        }
        let Record::Event(event) = record else {
            self.job.on_record(record);
            return;
        };
        let point = event
            .fields
            .iter()
            .find(|f| f.name == POINT_FIELD.as_bytes())
            .and_then(|f| match f.value {
                crate::parse::Value::Unsigned(n) => self.point_names.get(n as usize).cloned(),
                _ => None,
            });
        let name = match point {
            Some(name) => name,
            None => {
                let address = self.job.by.key(event);
                self.function_name(event.header.pid, address)
            }
        };
        self.job
            .counter
            .add(&String::from_utf8_lossy(&event.name), &name);
    }

    fn tick(&mut self) {
        if self.clock.due() {
            let _ = self.print();
        }
    }
}

impl CountHook {
    /// The function a probe address names: a kernel `sym+0x0/0x1a0` becomes `sym`; a
    /// user address is looked up in the process's maps while it still runs.
    fn function_name(&mut self, pid: i32, address: String) -> String {
        if let Some((symbol, _)) = address.split_once('+') {
            return symbol.to_owned();
        }
        if !address.starts_with("0x") {
            return address;
        }
        let key = (pid, address);
        if let Some(name) = self.names.get(&key) {
            return name.clone();
        }
        let frame = format!("<{:0>16}>", key.1.trim_start_matches("0x"));
        let name = self
            .symbolizer
            .symbolize(pid, frame.as_bytes())
            .map(|s| match s.split_once('+') {
                Some((func, rest)) => match rest.split_once(' ') {
                    Some((_, file)) => format!("{func} {file}"),
                    None => func.to_owned(),
                },
                None => s,
            })
            .unwrap_or_else(|| key.1.clone());
        self.names.insert(key, name.clone());
        name
    }

    fn print(&mut self) -> io::Result<()> {
        let rows = self.job.counter.take_sorted();
        let keyed = self.probe_point || self.job.by.title().is_some();
        let mut out = io::stdout().lock();
        if self.json {
            for row in crate::aggregate::count::json_rows(&rows, keyed) {
                writeln!(out, "{row}")?;
            }
        } else {
            let title = if self.probe_point {
                Some("FUNCTION")
            } else {
                self.job.by.title()
            };
            write!(
                out,
                "{}",
                crate::aggregate::count::render_table(&rows, title)
            )?;
        }
        out.flush()
    }
}
