//! `tprobe list`: live tprobe runs and this machine's other dynamic events. Read-only.

use std::collections::BTreeSet;
use std::io;
use std::io::Write;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::ListArgs;
use super::lowargs::ListWhat;
use super::trace::open_tracefs;
use std::path::Path;
use std::path::PathBuf;

use crate::elf::find_binary;
use crate::elf::usdt_sites;
use crate::elf::ElfInfo;
use crate::elf::FuncKind;
use crate::elf::DEBUG_ROOT;

use crate::kallsyms::glob::Glob;
use crate::kallsyms::KsymIndex;
use crate::kallsyms::ProbeContext;
use crate::kallsyms::DEBUGFS;
use crate::parse::parse_dynamic_event;
use crate::tracefs::SessionName;
use crate::tracefs::Tracefs;
use crate::tracefs::DYNAMIC_EVENTS;
use crate::tracefs::UPROBE_EVENTS;

pub(super) fn run(args: &ListArgs) -> Result<i32, CliError> {
    match &args.what {
        ListWhat::Runs => list_runs(args),
        ListWhat::Kernel => list_kernel(args),
        ListWhat::Tracepoints => list_tracepoints(args),
        ListWhat::Usdt => list_usdt(args),
        ListWhat::Binary(name) => list_binary(name, args.pattern.as_deref().unwrap_or("*")),
    }
}

/// Functions of a binary or library matching a glob (raw, unversioned or demangled
/// name), with file offsets: `OFFSET NAME [DEMANGLED] [ifunc]`, like `perf probe -F -x`.
fn list_binary(name: &str, pattern: &str) -> Result<i32, CliError> {
    let found = find_binary(name, None)?;
    let info = ElfInfo::read(&found.path, &[PathBuf::from(DEBUG_ROOT)])?;
    let glob = Glob::new(pattern).map_err(|e| CliError::Pattern(format!("bad pattern: {e}")))?;
    let mut rows: Vec<(u64, String)> = Vec::new();
    for f in &info.functions {
        let matches = glob.is_match(&f.name)
            || glob.is_match(f.plain_name())
            || f.demangled.as_deref().is_some_and(|d| glob.is_match(d));
        let Some(offset) = info.file_offset(f.address).filter(|_| matches) else {
            continue;
        };
        let mut row = format!("0x{:08x} {}", offset.0, f.name);
        if let Some(d) = &f.demangled {
            row.push_str(&format!("  [{d}]"));
        }
        if f.kind == FuncKind::Ifunc {
            row.push_str("  (ifunc)");
        }
        rows.push((offset.0, row));
    }
    rows.sort();
    rows.dedup_by(|a, b| a.1 == b.1);
    let mut out = io::stdout().lock();
    for (_, row) in rows {
        writeln!(out, "{row}").map_err(CliError::Output)?;
    }
    Ok(TprobeExitCode::OK)
}

/// USDT probes of a file: `PROVIDER:NAME offset (semaphore) args`, for
/// `usdt:PATH:PROVIDER:NAME`.
fn list_usdt(args: &ListArgs) -> Result<i32, CliError> {
    let Some(name) = args.pattern.as_deref() else {
        return Err(CliError::Pattern(
            "`tprobe list usdt` needs a file: tprobe list usdt PATH".to_owned(),
        ));
    };
    let found = find_binary(name, None)?;
    let sites = usdt_sites(&found.path)?;
    let mut out = io::stdout().lock();
    for site in sites {
        let sem = site
            .semaphore_offset
            .map_or(String::new(), |s| format!(" semaphore {s}"));
        writeln!(
            out,
            "usdt:{}:{}:{} offset 0x{:x}{sem} args `{}`",
            found.path.display(),
            site.note.provider,
            site.note.name,
            site.offset.0,
            site.note.args
        )
        .map_err(CliError::Output)?;
    }
    Ok(TprobeExitCode::OK)
}

/// Kernel functions a kprobe can attach to, like `perf probe -F`.
fn list_kernel(args: &ListArgs) -> Result<i32, CliError> {
    let pattern = args.pattern.as_deref().unwrap_or("*");
    let index = KsymIndex::load().map_err(|e| CliError::Pattern(e.to_string()))?;
    let tracefs = open_tracefs(&args.tracefs).ok();
    let context = ProbeContext::load(
        tracefs
            .as_ref()
            .map_or(Path::new(crate::tracefs::DEFAULT_TRACEFS), Tracefs::root),
        Path::new(DEBUGFS),
    );
    let names = index
        .expand(pattern, &context, usize::MAX)
        .map_err(|e| CliError::Pattern(e.to_string()))?;
    let mut out = io::stdout().lock();
    for name in names {
        writeln!(out, "{name}").map_err(CliError::Output)?;
    }
    Ok(TprobeExitCode::OK)
}

/// Tracepoints as `SUBSYS:EVENT`, from the tracefs `events/` directory.
fn list_tracepoints(args: &ListArgs) -> Result<i32, CliError> {
    let tracefs = open_tracefs(&args.tracefs)?;
    let glob = Glob::new(args.pattern.as_deref().unwrap_or("*"))
        .map_err(|e| CliError::Pattern(format!("bad pattern: {e}")))?;
    let events_dir = tracefs.path("events");
    let read = |dir: &Path| {
        std::fs::read_dir(dir).map_err(|source| CliError::Input {
            path: dir.to_owned(),
            source,
        })
    };
    let mut names = Vec::new();
    for group in read(&events_dir)?.flatten() {
        if !group.path().is_dir() {
            continue;
        }
        for event in read(&group.path())?.flatten() {
            if event.path().join("format").is_file() {
                let name = format!(
                    "{}:{}",
                    group.file_name().to_string_lossy(),
                    event.file_name().to_string_lossy()
                );
                if glob.is_match(&name) {
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    let mut out = io::stdout().lock();
    for name in names {
        writeln!(out, "{name}").map_err(CliError::Output)?;
    }
    Ok(TprobeExitCode::OK)
}

/// Live tprobe runs and this machine's other dynamic events.
fn list_runs(args: &ListArgs) -> Result<i32, CliError> {
    let tracefs = open_tracefs(&args.tracefs)?;
    let listing = tracefs
        .read(DYNAMIC_EVENTS)
        .or_else(|_| tracefs.read(UPROBE_EVENTS))?;
    let mut runs: BTreeSet<String> = tracefs
        .instance_names()?
        .into_iter()
        .filter(|n| SessionName::parse(n).is_some())
        .collect();
    let mut others = Vec::new();
    for line in listing.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let group = parse_dynamic_event(line)
            .and_then(|d| d.group)
            .map(|g| String::from_utf8_lossy(g).into_owned());
        match group.filter(|g| SessionName::parse(g).is_some()) {
            Some(group) => {
                runs.insert(group);
            }
            None => others.push(String::from_utf8_lossy(line).into_owned()),
        }
    }
    let mut out = io::stdout().lock();
    let mut say = |text: String| writeln!(out, "{text}").map_err(CliError::Output);
    say(format!("tprobe runs: {}", runs.len()))?;
    for run in &runs {
        let state = match SessionName::parse(run) {
            Some(name) if name.is_owner_alive() => format!("live, pid {}", name.pid()),
            Some(name) => format!(
                "stale, pid {} is gone (`tprobe clean` removes it)",
                name.pid()
            ),
            None => "unknown".to_owned(),
        };
        say(format!("  {run}  {state}"))?;
    }
    say(format!("other dynamic events: {}", others.len()))?;
    for line in others {
        say(format!("  {line}"))?;
    }
    Ok(TprobeExitCode::OK)
}
