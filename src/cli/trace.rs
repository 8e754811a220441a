//! `tprobe trace SPEC…` (and the bare `tprobe SPEC…`): define probes in a group and a
//! private instance of this run, stream their events, and remove everything at the end,
//! whatever ends the run.

use std::collections::BTreeMap;
use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::BufWriter;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::OutputFormat;
use super::lowargs::TraceArgs;
use super::lowargs::TracefsArgs;
use crate::decode::comm_args_of_definition;
use crate::decode::CommCache;
use crate::decode::Decoder;
use crate::decode::EventCatalog;
use crate::decode::RawCatalog;
use crate::decode::RawDecoder;
use crate::decode::Record;
use crate::elf::expand_user_spec;
use crate::elf::ElfInfo;
use crate::elf::FuncKind;
use crate::elf::SymbolizingSink;
use crate::elf::UstackSymbolizer;
use crate::elf::DEBUG_ROOT;
use crate::kallsyms::KsymIndex;
use crate::kallsyms::ProbeContext;
use crate::kallsyms::RefusalKind;
use crate::kallsyms::TargetWarning;
use crate::kallsyms::DEBUGFS;
use crate::output::RecordFormat;
use crate::output::RecordFormatter;
use crate::parse::parse_dynamic_event;
use crate::spec::assign_names;
use crate::spec::FileOffset;
use crate::spec::Place;
use crate::spec::ProbeKind;
use crate::spec::ProbeSpec;
use crate::stream::stream_pipe;
use crate::stream::stream_raw;
use crate::stream::RawCapture;
use crate::stream::RawOpenError;
use crate::stream::RawOutput;
use crate::stream::RawSink;
use crate::stream::SignalWatch;
use crate::stream::SignalWriter;
use crate::stream::StopReason;
use crate::stream::StopWhen;
use crate::stream::StoppedBySignal;
use crate::tracefs::EventsFile;
use crate::tracefs::Feature;
use crate::tracefs::Instance;
use crate::tracefs::Session;
use crate::tracefs::SessionName;
use crate::tracefs::TraceOption;
use crate::tracefs::Tracefs;

/// The checked plan of a trace run: what `tprobe trace` will write, enable and read.
#[derive(Debug)]
struct TracePlan {
    /// Definition lines for the session group, as the kernel accepts them.
    lines: Vec<String>,
    /// Events of the group to filter: (event, filter).
    event_filters: Vec<(String, String)>,
    /// Existing tracepoints to enable: (system, event, filter).
    tracepoints: Vec<(String, String, Option<String>)>,
    /// Kernel symbols the definitions attach to (`[MOD:]SYM`), and whether through ftrace
    /// (fprobes need the symbol in `available_filter_functions`; kprobes do not).
    kernel_symbols: Vec<(String, bool)>,
    /// `/proc/kallsyms`, read at most once per run (about 60 ms) by whichever step needs
    /// it first: pattern expansion or the symbol check.
    kallsyms: Option<KsymIndex>,
}

impl TracePlan {
    fn kallsyms(&mut self) -> Result<&KsymIndex, crate::kallsyms::KallsymsError> {
        Ok(match &mut self.kallsyms {
            Some(index) => index,
            slot @ None => slot.insert(KsymIndex::load()?),
        })
    }
}

/// Parses and checks every spec (all errors reported together), gives the definitions
/// the session's group and unique names, and resolves library names, USDT probes and
/// uprobe function names to file offsets. Nothing is written to tracefs (its README is
/// read when a USDT probe has a semaphore).
fn plan(args: &TraceArgs, group: &str) -> Result<TracePlan, CliError> {
    let mut specs = Vec::new();
    let mut filters = Vec::new();
    let mut errors = Vec::new();
    let ref_ctr = args
        .specs
        .iter()
        .any(|s| s.trim_start().starts_with("usdt:"))
        && kernel_takes_ref_ctr(&args.tracefs);
    let (spec_args, trailing_filter) = split_trailing_filter(&args.specs);
    let every_probe_filter = match (&args.filter, trailing_filter) {
        (Some(flag), Some(trailing)) => Some(format!("({flag}) && ({trailing})")),
        (flag, trailing) => flag.clone().or(trailing.map(str::to_owned)),
    };
    for raw in spec_args {
        let (spec_text, filter) = split_filter(raw);
        // Library names and USDT probes become paths and offsets before parsing (a
        // thread's maps are its process's).
        let pid = args.pid.first().or(args.compat.tid.first()).copied();
        for expanded in expand_user_spec(spec_text, pid, ref_ctr, args.max_probes)? {
            if let Some(warning) = &expanded.warning {
                let _ = writeln!(io::stderr().lock(), "tprobe: warning: {warning}");
            }
            match ProbeSpec::parse(&expanded.text) {
                Ok(spec) => {
                    specs.push(spec);
                    filters.push(
                        filter
                            .map(str::to_owned)
                            .or_else(|| every_probe_filter.clone()),
                    );
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(CliError::Spec(errors));
    }
    assign_names(&mut specs, group).map_err(|e| CliError::Naming(e.to_string()))?;
    let mut plan = TracePlan {
        lines: Vec::new(),
        event_filters: Vec::new(),
        tracepoints: Vec::new(),
        kernel_symbols: Vec::new(),
        kallsyms: None,
    };
    for (spec, filter) in specs.into_iter().zip(filters) {
        match spec {
            ProbeSpec::Tracepoint(tp) => {
                plan.tracepoints
                    .push((tp.system().to_owned(), tp.event().to_owned(), filter));
            }
            ProbeSpec::Probe(mut def) => {
                if let Some((path, func)) = def.unresolved_symbol() {
                    let (path, func) = (path.to_owned(), func.to_owned());
                    let offset = resolve_user_function(std::path::Path::new(&path), &func)?;
                    def = def
                        .resolve(offset)
                        .map_err(|e| CliError::Naming(e.to_string()))?;
                }
                if def.group() != Some(group) {
                    return Err(CliError::ForeignGroup {
                        spec: def.to_string(),
                        group: group.to_owned(),
                    });
                }
                if let Some(pattern) = def.symbol_pattern() {
                    let index = plan
                        .kallsyms()
                        .map_err(|e| CliError::Pattern(format!("{pattern}: {e}")))?;
                    let symbols = expand_pattern(index, pattern, def.kind(), args.max_probes)?;
                    for symbol in symbols {
                        let line = def
                            .at_symbol(&symbol)
                            .to_kernel_line()
                            .map_err(|e| CliError::Spec(vec![e]))?;
                        plan.lines.push(line);
                    }
                    if let (Some(event), Some(filter)) = (def.event(), filter) {
                        plan.event_filters.push((event.to_owned(), filter));
                    }
                    continue;
                }
                let line = def.to_kernel_line().map_err(|e| CliError::Spec(vec![e]))?;
                if let Place::Symbol { module, symbol, .. } = def.place() {
                    let query = match module {
                        Some(module) => format!("{module}:{symbol}"),
                        None => symbol.clone(),
                    };
                    let via_ftrace = matches!(def.kind(), ProbeKind::Fentry | ProbeKind::Fexit);
                    plan.kernel_symbols.push((query, via_ftrace));
                }
                if let (Some(event), Some(filter)) = (def.event(), filter) {
                    plan.event_filters.push((event.to_owned(), filter));
                }
                plan.lines.push(line);
            }
        }
    }
    Ok(plan)
}

/// The file offset of `func` in `path`; an IFUNC gets a warning, since the probe then
/// fires when the loader picks the implementation, not on each call.
fn resolve_user_function(path: &std::path::Path, func: &str) -> Result<FileOffset, CliError> {
    let (_, resolved) =
        ElfInfo::read_and_resolve(path, func, &[std::path::PathBuf::from(DEBUG_ROOT)])?;
    if resolved.symbol.kind == FuncKind::Ifunc {
        let _ = writeln!(
            io::stderr().lock(),
            "tprobe: warning: `{func}` in {} is an IFUNC: the probe is on its resolver, which runs once when the loader binds it; probe the implementation it returns (e.g. `tprobe list {} '{func}*'`) to see calls",
            path.display(),
            path.display()
        );
    }
    Ok(resolved.offset)
}

/// Whether the kernel takes a uprobe `(REF_CTR_OFFSET)` (USDT semaphores); without a
/// readable tracefs the kernel is left to judge.
pub(super) fn kernel_takes_ref_ctr(args: &TracefsArgs) -> bool {
    match open_tracefs(args).and_then(|t| Ok(t.features()?)) {
        Ok(features) => features.has(Feature::RefCtrOffset),
        Err(_) => true,
    }
}

/// The probe-able kernel symbols `pattern` matches, at most `cap`. They become probe
/// points of one event: the kernel's cost of enabling and disabling follows events, not
/// probe points (kernel-notes.md §7).
fn expand_pattern(
    index: &KsymIndex,
    pattern: &str,
    kind: ProbeKind,
    cap: usize,
) -> Result<Vec<String>, CliError> {
    let context = ProbeContext::load(
        std::path::Path::new(crate::tracefs::DEFAULT_TRACEFS),
        std::path::Path::new(DEBUGFS),
    );
    let symbols = index
        .expand(pattern, &context, cap)
        .map_err(|e| CliError::Pattern(format!("{e} (the flag is --max-probes N)")))?;
    if symbols.is_empty() {
        return Err(CliError::Pattern(format!(
            "`{pattern}` matches no {} symbol that can be probed",
            if matches!(kind, ProbeKind::Fentry | ProbeKind::Fexit) {
                "traceable"
            } else {
                "kernel text"
            }
        )));
    }
    Ok(symbols)
}

/// `SPEC if FILTER` -> (`SPEC`, `FILTER`). Eprobes keep their `if`: the kernel reads it.
fn split_filter(raw: &str) -> (&str, Option<&str>) {
    let trimmed = raw.trim_start();
    if trimmed.starts_with("e:") || trimmed.starts_with("e ") {
        return (raw, None);
    }
    match raw.find(" if ") {
        Some(at) => (&raw[..at], Some(raw[at + 4..].trim())),
        None => (raw, None),
    }
}

/// perf-tools' trailing filter (`kprobe 'p:do_sys_open' 'filename ~ "*stat"'`): the last
/// of two or more arguments is a filter for every probe when it cannot be a spec (its
/// first word has no `:` or `%`, and it does not parse as one) and it compares something
/// outside quotes. A spec never holds these operators, so no spec is taken for a filter.
fn split_trailing_filter(specs: &[String]) -> (&[String], Option<&str>) {
    match specs.split_last() {
        Some((last, rest)) if !rest.is_empty() && is_filter_expression(last) => {
            (rest, Some(last.trim()))
        }
        _ => (specs, None),
    }
}

fn is_filter_expression(text: &str) -> bool {
    const OPERATORS: [&str; 6] = ["==", "!=", "<", ">", "~", "&"];
    let first_word = text.split_whitespace().next().unwrap_or("");
    if first_word.is_empty() || first_word.contains([':', '%']) {
        return false;
    }
    let mut unquoted = String::new();
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            unquoted.push(c);
        }
    }
    (OPERATORS.iter().any(|op| unquoted.contains(op)) || unquoted.contains("||"))
        && ProbeSpec::parse(text).is_err()
}

/// `-H`: the columns of the text output, where perf-tools prints the trace file's header.
const TEXT_HEADER: &str = "# TIMESTAMP [CPU] COMM-PID(TGID) GROUP/EVENT: FIELD=VALUE...";

/// Writes [`TEXT_HEADER`] when `-H` asks for it and the output is text for a reader.
fn write_header(out: &mut dyn Write, args: &TraceArgs, format: RecordFormat) -> io::Result<()> {
    if args.compat.header && matches!(format, RecordFormat::Text | RecordFormat::ColourText) {
        writeln!(out, "{TEXT_HEADER}")?;
        out.flush()?;
    }
    Ok(())
}

/// `-v`: prints the format file of each of the run's events from the private instance.
fn show_formats(
    instance: &crate::tracefs::Instance,
    group: &str,
    plan: &TracePlan,
) -> Result<(), CliError> {
    let events = instance.events_path();
    let mut files = Vec::new();
    if !plan.lines.is_empty() {
        let dir = events.join(group);
        let entries = std::fs::read_dir(&dir).map_err(|source| CliError::Input {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("format").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        files.extend(names.iter().map(|n| (group.to_owned(), n.clone())));
    }
    files.extend(
        plan.tracepoints
            .iter()
            .map(|(s, e, _)| (s.clone(), e.clone())),
    );
    let mut out = io::stdout().lock();
    for (system, event) in files {
        let path = events.join(&system).join(&event).join("format");
        let text = std::fs::read(&path).map_err(|source| CliError::Input { path, source })?;
        writeln!(out, "# events/{system}/{event}/format").map_err(CliError::Output)?;
        out.write_all(&text).map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)
}

/// Finds (or mounts) tracefs as the flags say.
pub(super) fn open_tracefs(args: &TracefsArgs) -> Result<Tracefs, CliError> {
    Ok(match &args.tracefs {
        Some(dir) => Tracefs::at(dir),
        None if args.mount => Tracefs::mount()?,
        None => Tracefs::find()?,
    })
}

/// Takes every decoded record in place of the output: how `tprobe latency`, `tprobe
/// count` and the library's [`crate::Probes`] reuse the whole live path (plan, session,
/// readers, signals, teardown).
pub(crate) trait RecordHook {
    /// One decoded record.
    fn record(&mut self, record: &Record<'_>);
    /// Called after records and between reads of a quiet stream: time for periodic output.
    fn tick(&mut self);
    /// Called once the probes of `group` are enabled and the readers open, before the
    /// first record.
    fn started(&mut self, _group: &str) {}
    /// Asked after each read round of the binary reader (and each record of the text
    /// reader): `true` ends the run as if the output had closed, then tears down.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// `tprobe trace FLAGS…` parsed as the command line would be, defaults included: how the
/// library facade builds its arguments without restating each flag's default.
pub(crate) fn trace_args_from(flags: Vec<String>) -> Result<TraceArgs, clap::Error> {
    use clap::Parser;
    let argv = ["tprobe".to_owned(), "trace".to_owned()]
        .into_iter()
        .chain(flags);
    match super::LowArgs::try_parse_from(argv)?.command {
        super::Command::Trace(args) => Ok(args),
        _ => Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand)),
    }
}

/// How a live run ended, for the caller's summary.
#[derive(Debug)]
pub(crate) struct LiveOutcome {
    /// What stopped the stream.
    pub(crate) stop: StopReason,
    /// Events per event name and lost events per CPU.
    pub(crate) counts: Counts,
    /// What the teardown removed.
    pub(crate) report: crate::tracefs::TeardownReport,
    /// The session's group.
    pub(crate) group: String,
}

pub(super) fn run(args: &TraceArgs) -> Result<i32, CliError> {
    run_with(args, None)
}

/// [`run`], with the records going to `hook` instead of the output when one is given.
pub(crate) fn run_with(
    args: &TraceArgs,
    hook: Option<&mut dyn RecordHook>,
) -> Result<i32, CliError> {
    if args.dry_run {
        let name = SessionName::next_for_this_process()?;
        let plan = plan(args, &name.to_string())?;
        let mut out = io::stdout().lock();
        for line in &plan.lines {
            writeln!(out, "{line}").map_err(CliError::Output)?;
        }
        for (event, filter) in &plan.event_filters {
            writeln!(out, "# filter {name}/{event}: {filter}").map_err(CliError::Output)?;
        }
        for (system, event, filter) in &plan.tracepoints {
            writeln!(out, "# enable {system}/{event}").map_err(CliError::Output)?;
            if let Some(filter) = filter {
                writeln!(out, "# filter {system}/{event}: {filter}").map_err(CliError::Output)?;
            }
        }
        return Ok(TprobeExitCode::OK);
    }

    let LiveOutcome {
        stop,
        counts,
        report,
        group,
    } = run_live(args, hook)?;
    let mut stderr = io::stderr().lock();
    let per_event: Vec<String> = counts
        .events
        .iter()
        .map(|(event, n)| format!("{event}: {n}"))
        .collect();
    let lost: Vec<String> = counts
        .lost
        .iter()
        .map(|(cpu, n)| format!("cpu{cpu}: {n}"))
        .collect();
    let _ = writeln!(
        stderr,
        "tprobe: {} events [{}], {} lost{}; removed instance and {} probe(s) of {group}",
        counts.events.values().sum::<u64>(),
        per_event.join(", "),
        counts.lost.values().sum::<u64>(),
        if lost.is_empty() {
            String::new()
        } else {
            format!(" [{}]", lost.join(", "))
        },
        report.probes_deleted,
    );
    Ok(match stop {
        StopReason::Signal(signal) if signal != libc::SIGPIPE => 128 + signal,
        _ => TprobeExitCode::OK,
    })
}

/// Plans, defines, streams into `hook` (or the output) and tears down: the live path
/// without the summary line, shared by the CLI and the library facade.
pub(crate) fn run_live(
    args: &TraceArgs,
    hook: Option<&mut dyn RecordHook>,
) -> Result<LiveOutcome, CliError> {
    // Everything that can be checked without tracefs is checked before anything is
    // written to it (not even the instance is created for a bad spec).
    let name = SessionName::next_for_this_process()?;
    let mut plan = plan(args, &name.to_string())?;
    let tracefs = open_tracefs(&args.tracefs)?;
    let features = tracefs.features()?;
    for line in &plan.lines {
        if let Some(def) = parse_dynamic_event(line.as_bytes()) {
            features.require(EventsFile::for_definition(&def).feature())?;
        }
    }
    check_kernel_symbols(&mut plan, &tracefs)?;
    // Signals from here on lead to the teardown below, not to an abrupt exit.
    let mut signals = SignalWatch::install().map_err(CliError::Signals)?;
    let mut session = Session::create_named(&tracefs, name)?;
    let group = session.group().to_owned();
    let outcome = run_session(args, &plan, &mut session, &mut signals, hook);
    // One teardown path for every outcome (the Session's Drop covers a panic).
    let teardown = session.teardown();
    let (stop, counts) = outcome?;
    let report = teardown?;
    Ok(LiveOutcome {
        stop,
        counts,
        report,
        group,
    })
}

/// Refuses, before anything is written, kernel symbols the kernel would refuse or that
/// cannot be what the user meant: unknown (with close names), not code, ambiguous, on the
/// kprobe blacklist, or (for fprobes) not traceable by ftrace. Warns about syscall wrappers,
/// whose arguments sit behind a `pt_regs` pointer. Without a readable kallsyms the kernel
/// is left to judge.
fn check_kernel_symbols(plan: &mut TracePlan, tracefs: &Tracefs) -> Result<(), CliError> {
    if plan.kernel_symbols.is_empty() {
        return Ok(());
    }
    // Taken out so the index can be borrowed from the plan while they are checked.
    let symbols = std::mem::take(&mut plan.kernel_symbols);
    let Ok(index) = plan.kallsyms() else {
        return Ok(());
    };
    let context = ProbeContext::load(tracefs.root(), std::path::Path::new(DEBUGFS));
    let mut stderr = io::stderr().lock();
    for (query, via_ftrace) in &symbols {
        match index.probe_target(query, &context) {
            Ok(target) => {
                for warning in target.warnings() {
                    if matches!(warning, TargetWarning::SyscallWrapper(_)) {
                        let _ = writeln!(stderr, "tprobe: warning: {query}: {warning}");
                    }
                }
            }
            Err(refusal) => match refusal.kind() {
                // kprobes attach by breakpoint: ftrace's list does not bind them, and
                // hidden addresses do not stop the kernel from finding a name.
                RefusalKind::NotTraceable if !via_ftrace => {}
                RefusalKind::AddressesHidden => {}
                _ => return Err(CliError::Refused(refusal)),
            },
        }
    }
    Ok(())
}

/// Events per event name and lost events per CPU, for the summary.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) events: BTreeMap<String, u64>,
    pub(crate) lost: BTreeMap<u32, u64>,
}

fn run_session(
    args: &TraceArgs,
    plan: &TracePlan,
    session: &mut Session,
    signals: &mut SignalWatch,
    mut hook: Option<&mut dyn RecordHook>,
) -> Result<(StopReason, Counts), CliError> {
    let group = session.group().to_owned();
    if let Some(signal) = signals.raised() {
        return Ok((StopReason::Signal(signal), Counts::default()));
    }
    session.define(&plan.lines)?;
    let instance = session.instance().clone();
    if args.compat.show_format {
        show_formats(&instance, &group, plan)?;
        return Ok((StopReason::EndOfInput, Counts::default()));
    }
    // The binary reader is the default; `--text` keeps the trace_pipe reader.
    let raw = !args.text;
    let buffer_kb = args.buffer_kb.or(raw.then_some(DEFAULT_RAW_BUFFER_KB));
    if let Some(kb) = buffer_kb {
        instance.set_buffer_size_kb(u64::from(kb))?;
    }
    if args.kernel_stack {
        instance.set_option(TraceOption::Stacktrace, true)?;
    }
    if args.ustack {
        instance.set_option(TraceOption::Userstacktrace, true)?;
    }
    if !args.pid.is_empty() {
        instance.set_option(TraceOption::EventFork, true)?;
        instance.set_event_pids(&args.pid)?;
    }
    if !args.compat.tid.is_empty() {
        // perf-tools' -L: these threads alone, so no event-fork (set_event_pid matches
        // a task's own id, which is the thread id).
        instance.set_event_pids(&args.compat.tid)?;
    }
    for (event, filter) in &plan.event_filters {
        instance.set_filter(&group, Some(event), filter)?;
    }
    let mut catalog = EventCatalog::new();
    if !plan.lines.is_empty() {
        catalog.load_group(&group, &instance.events_path().join(&group))?;
    }
    for (system, event, filter) in &plan.tracepoints {
        catalog.load_event(system, &instance.events_path().join(system).join(event))?;
        if let Some(filter) = filter {
            instance.set_filter(system, Some(event), filter)?;
        }
    }
    if raw {
        // Stacks are records of their own in the buffers, decoded by these formats.
        let ftrace = instance.events_path().join("ftrace");
        if args.kernel_stack {
            catalog.load_event("ftrace", &ftrace.join("kernel_stack"))?;
        }
        if args.ustack {
            catalog.load_event("ftrace", &ftrace.join("user_stack"))?;
        }
        instance.set_buffer_percent(RAW_BUFFER_PERCENT)?;
        // Open the readers before enabling, so no event is missed.
        let mut capture = RawCapture::for_instance(&instance).map_err(|e| match e {
            RawOpenError::Open { path, source } => CliError::Input { path, source },
            RawOpenError::Layout(e) => CliError::Input {
                path: instance.events_path().join("header_page"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            },
        })?;
        arm(plan, session, &instance, signals, hook.as_deref_mut())?;
        let comms = CommCache::new(Some(session.tracefs().root().join("saved_cmdlines")));
        let result = stream_raw_events(args, plan, &catalog, &mut capture, comms, signals, hook);
        // Close every reader before teardown: an open instance file makes rmdir fail.
        drop(capture);
        return result;
    }
    // Open the reader before enabling, so no event is missed.
    let mut pipe = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(instance.trace_pipe_path())
        .map_err(|source| CliError::Input {
            path: instance.trace_pipe_path(),
            source,
        })?;
    arm(plan, session, &instance, signals, hook.as_deref_mut())?;
    let result = stream_events(args, &catalog, &mut pipe, signals, hook);
    // Close the reader before teardown: an open instance file makes rmdir fail.
    drop(pipe);
    result
}

/// Per-CPU buffer of the private instance when the binary reader is used and `-b` is not
/// given: a burst of about 100k probe events fits.
const DEFAULT_RAW_BUFFER_KB: u32 = 4096;

/// How full a CPU's buffer gets before poll() wakes the binary reader; a tick reads the
/// rest, so a quiet stream still shows up promptly.
const RAW_BUFFER_PERCENT: u8 = 25;

/// Enables the run's probes and tracepoints in its instance (unless a stop signal came
/// first), once the readers are open, and tells the hook the run has started.
fn arm<'h>(
    plan: &TracePlan,
    session: &mut Session,
    instance: &Instance,
    signals: &mut SignalWatch,
    hook: Option<&mut (dyn RecordHook + 'h)>,
) -> Result<(), CliError> {
    if signals.raised().is_none() {
        if !plan.lines.is_empty() {
            session.enable()?;
        }
        for (system, event, _) in &plan.tracepoints {
            instance.enable_event(system, event, true)?;
        }
    }
    if let Some(hook) = hook {
        hook.started(session.group());
    }
    Ok(())
}

/// Where events go: nowhere when a hook takes the records (stdout stays free for the
/// program around it), else `-o FILE` or stdout, written through a [`SignalWriter`] so a
/// stop signal ends a run whose output's reader stalled. `buffer_file` puts a `BufWriter`
/// in front of a file for the text reader, which writes each record as it comes.
fn open_output(
    args: &TraceArgs,
    signals: &SignalWatch,
    hooked: bool,
    buffer_file: bool,
) -> Result<Box<dyn Write>, CliError> {
    Ok(match &args.output {
        _ if hooked => Box::new(io::sink()),
        Some(path) => {
            let file = File::create(path).map_err(|source| CliError::Input {
                path: path.clone(),
                source,
            })?;
            if is_regular_file(file.as_raw_fd()) {
                return Ok(Box::new(BufWriter::with_capacity(FILE_BUFFER, file)));
            }
            let fd = file.as_raw_fd();
            let writer = SignalWriter::new(file, fd, signals.fd());
            if buffer_file {
                Box::new(BufWriter::new(writer))
            } else {
                Box::new(writer)
            }
        }
        None if is_regular_file(libc::STDOUT_FILENO) => {
            Box::new(BufWriter::with_capacity(FILE_BUFFER, io::stdout().lock()))
        }
        None => Box::new(SignalWriter::new(
            io::stdout().lock(),
            libc::STDOUT_FILENO,
            signals.fd(),
        )),
    })
}

/// Output buffer for a regular file: a write to one never waits on a reader, so it
/// needs no [`SignalWriter`] and its small atomic pieces; large writes save the system
/// calls (the writers flush at the end of each read round, so nothing waits long).
const FILE_BUFFER: usize = 256 * 1024;

/// Whether `fd` is a regular file (not a pipe, socket or terminal).
fn is_regular_file(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: fstat writes into the zeroed struct we own; `fd` is only inspected.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut stat) } == 0) && (stat.st_mode & libc::S_IFMT) == libc::S_IFREG
}

/// The binary path of [`stream_events`]: same output, flags and counts.
fn stream_raw_events(
    args: &TraceArgs,
    plan: &TracePlan,
    catalog: &EventCatalog,
    capture: &mut RawCapture,
    comms: CommCache,
    signals: &mut SignalWatch,
    hook: Option<&mut dyn RecordHook>,
) -> Result<(StopReason, Counts), CliError> {
    let format = match args.output_format() {
        OutputFormat::Json => RecordFormat::Json,
        OutputFormat::Text => super::colour::text_format(args.output.is_none()),
        OutputFormat::None => RecordFormat::None,
    };
    let mut out = open_output(args, signals, hook.is_some(), false)?;
    if hook.is_none() {
        write_header(&mut out, args, format).map_err(CliError::Output)?;
    }
    let comm_args: Vec<(String, String)> = plan
        .lines
        .iter()
        .flat_map(|line| comm_args_of_definition(line))
        .collect();
    let raw_catalog = RawCatalog::new(catalog, &comm_args);
    let mut decoder = RawDecoder::new(&raw_catalog, comms);
    if args.kernel_stack {
        // Frames are named as the kernel names them; unreadable kallsyms leaves them hex.
        if let Ok(index) = KsymIndex::load() {
            decoder = decoder.with_kernel_symbols(index);
        }
    }
    let format = if hook.is_some() {
        RecordFormat::None
    } else {
        format
    };
    let mut sink = HookedSink {
        output: RawOutput::new(out, format),
        hook,
    };
    let stop = StopWhen {
        events: args.count,
        duration: args.duration.map(Duration::from_secs_f64),
    };
    let streamed = if args.ustack {
        // --ustack: frames become `func+0x12 (/path)` while the process still exists.
        let mut symbolizing = SymbolizingSink::new(&mut sink);
        stream_raw(capture, signals, stop, &mut decoder, &mut symbolizing)
    } else {
        stream_raw(capture, signals, stop, &mut decoder, &mut sink)
    };
    let reason = match streamed {
        Ok(reason) => reason,
        Err(crate::stream::StreamError::Write(e)) if StoppedBySignal::is(&e) => {
            StopReason::Signal(signals.raised().unwrap_or(libc::SIGTERM))
        }
        Err(crate::stream::StreamError::Write(e)) => return Err(CliError::Output(e)),
        Err(crate::stream::StreamError::Read(source)) => {
            return Err(CliError::Input {
                path: "trace_pipe_raw".into(),
                source,
            })
        }
    };
    let counts = Counts {
        events: std::mem::take(&mut sink.output.events),
        lost: std::mem::take(&mut sink.output.lost),
    };
    Ok((reason, counts))
}

/// The binary reader's output, with a [`RecordHook`] that sees each record first.
struct HookedSink<'h, W: Write> {
    output: RawOutput<W>,
    hook: Option<&'h mut dyn RecordHook>,
}

impl<W: Write> RawSink for HookedSink<'_, W> {
    fn record(&mut self, record: &Record<'_>) -> io::Result<()> {
        if let Some(hook) = self.hook.as_deref_mut() {
            hook.record(record);
        }
        self.output.record(record)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(hook) = self.hook.as_deref_mut() {
            hook.tick();
            if hook.stop_requested() {
                // Ends the stream the way a closed output does; teardown follows.
                return Err(io::ErrorKind::BrokenPipe.into());
            }
        }
        self.output.flush()
    }
}

fn stream_events(
    args: &TraceArgs,
    catalog: &EventCatalog,
    pipe: &mut File,
    signals: &mut SignalWatch,
    mut hook: Option<&mut dyn RecordHook>,
) -> Result<(StopReason, Counts), CliError> {
    let format = match args.output_format() {
        OutputFormat::Json => RecordFormat::Json,
        OutputFormat::Text => super::colour::text_format(args.output.is_none()),
        OutputFormat::None => RecordFormat::None,
    };
    // Written through a SignalWriter: a stop signal ends the run even while the output's
    // reader is not reading.
    let mut out = open_output(args, signals, hook.is_some(), true)?;
    if hook.is_none() {
        write_header(&mut out, args, format).map_err(CliError::Output)?;
    }
    let mut counts = Counts::default();
    let mut decoder = Decoder::new(catalog);
    let mut buf = Vec::with_capacity(4096);
    let stop = StopWhen {
        events: args.count,
        duration: args.duration.map(Duration::from_secs_f64),
    };
    let mut symbolizer = args.ustack.then(UstackSymbolizer::new);
    let mut formatter = RecordFormatter::new(format);
    let mut sink = |record: &Record<'_>| -> io::Result<()> {
        match record {
            Record::Event(event) => {
                *counts
                    .events
                    .entry(String::from_utf8_lossy(&event.name).into_owned())
                    .or_default() += 1;
            }
            Record::Lost { cpu, count } => {
                *counts.lost.entry(*cpu).or_default() += count.unwrap_or(0);
            }
            Record::Unparsed { .. } => {}
        }
        if let Some(hook) = hook.as_deref_mut() {
            hook.record(record);
            hook.tick();
            if hook.stop_requested() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            return Ok(());
        }
        buf.clear();
        match symbolizer.as_mut() {
            // --ustack: frames become `func+0x12 (/path)` while the process still exists.
            Some(symbolizer) => {
                symbolizer.with_symbolized(record, |r| formatter.append(&mut buf, r));
            }
            None => formatter.append(&mut buf, record),
        }
        // Each record goes out as it is decoded: a live view must not wait for a buffer.
        out.write_all(&buf)?;
        out.flush()
    };
    let reason = match stream_pipe(pipe, signals, stop, &mut decoder, &mut sink) {
        Ok(reason) => reason,
        Err(crate::stream::StreamError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            StopReason::OutputClosed
        }
        Err(crate::stream::StreamError::Write(e)) if StoppedBySignal::is(&e) => {
            StopReason::Signal(signals.raised().unwrap_or(libc::SIGTERM))
        }
        Err(crate::stream::StreamError::Write(e)) => return Err(CliError::Output(e)),
        Err(crate::stream::StreamError::Read(source)) => {
            return Err(CliError::Input {
                path: "trace_pipe".into(),
                source,
            })
        }
    };
    Ok((reason, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_spec_filters() {
        assert_eq!(
            split_filter("u:/bin/x:f a=%di if a > 1"),
            ("u:/bin/x:f a=%di", Some("a > 1"))
        );
        assert_eq!(split_filter("p:f"), ("p:f", None));
        assert_eq!(
            split_filter("e:syscalls.sys_enter_openat if flags == 0"),
            ("e:syscalls.sys_enter_openat if flags == 0", None)
        );
    }

    #[test]
    fn trailing_filter_is_told_from_specs() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let perf_tools = args(&["p:do_sys_open", r#"filename ~ "*stat""#]);
        assert_eq!(
            split_trailing_filter(&perf_tools),
            (&perf_tools[..1], Some(r#"filename ~ "*stat""#))
        );
        for filter in [
            "a > 1",
            "a>1",
            "common_pid == 42 && a != 0",
            "(a & 4) || b <= 2",
        ] {
            let with = args(&["u:/bin/x:f a=%di", filter]);
            assert_eq!(split_trailing_filter(&with).1, Some(filter), "{filter}");
        }
        // Specs stay specs: several, bare symbols, fetch args, a per-spec `if`, an
        // operator only inside quotes, or a lone argument.
        for last in [
            "vfs_read",
            "r:do_sys_openat2 ret=$retval:s32",
            "u:/bin/x:f a=%di if a > 1",
            "vfs_write a=%di",
            r#"name "a>b""#,
            "t:sched:sched_switch",
        ] {
            let both = args(&["vfs_read", last]);
            assert_eq!(split_trailing_filter(&both), (&both[..], None), "{last}");
        }
        let alone = args(&["a > 1"]);
        assert_eq!(split_trailing_filter(&alone), (&alone[..], None));
    }
}
