//! `tprobe resolve TARGET`: what a spec would attach to (file, symbol, address, file
//! offset, build-id, the kernel line), or why it cannot. Writes nothing to tracefs.

use std::fmt::Write as _;
use std::io;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use super::error::CliError;
use super::exit_code::TprobeExitCode;
use super::lowargs::ResolveArgs;
use super::trace::kernel_takes_ref_ctr;
use crate::elf::expand_user_spec;
use crate::elf::ElfInfo;
use crate::elf::ExpandedSpec;
use crate::elf::FuncKind;
use crate::elf::DEBUG_ROOT;
use crate::kallsyms::KsymIndex;
use crate::kallsyms::ProbeContext;
use crate::kallsyms::DEBUGFS;
use crate::spec::assign_names;
use crate::spec::Place;
use crate::spec::ProbeDef;
use crate::spec::ProbeSpec;
use crate::spec::UprobeLocation;
use crate::tracefs::SessionName;

pub(super) fn run(args: &ResolveArgs) -> Result<i32, CliError> {
    // What was found is printed even when a later step fails; the error says why.
    let mut out = String::new();
    let result = resolve_into(args, &mut out);
    io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(CliError::Output)?;
    result.map(|()| TprobeExitCode::OK)
}

/// A bare word (`vfs_read`, `ext4:ext4_sync_fs`) is a kernel function.
fn as_spec(target: &str) -> String {
    let word = target
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'));
    if word && target.matches(':').count() <= 1 && !target.starts_with("t:") {
        format!("p:{target}")
    } else {
        target.to_owned()
    }
}

fn resolve_into(args: &ResolveArgs, out: &mut String) -> Result<(), CliError> {
    let spec_text = as_spec(&args.target);
    let ref_ctr = spec_text.starts_with("usdt:") && kernel_takes_ref_ctr(&args.tracefs);
    let pid = args.pid;
    let expanded = expand_user_spec(&spec_text, pid, ref_ctr, args.max_probes)?;
    let group = SessionName::next_for_this_process()?.to_string();
    for one in expanded {
        resolve_one(&one, &group, args.max_probes, out)?;
    }
    Ok(())
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key:<12} {value}");
}

fn resolve_one(
    one: &ExpandedSpec,
    group: &str,
    max_probes: usize,
    out: &mut String,
) -> Result<(), CliError> {
    let spec = ProbeSpec::parse(&one.text).map_err(|e| CliError::Spec(vec![e]))?;
    let mut specs = vec![spec];
    assign_names(&mut specs, group).map_err(|e| CliError::Naming(e.to_string()))?;
    let spec = specs.remove(0);
    line(out, "spec", &one.text);
    let def = match spec {
        ProbeSpec::Tracepoint(tp) => {
            line(
                out,
                "tracepoint",
                format!("{tp} (existing; enabled, nothing defined)"),
            );
            return Ok(());
        }
        ProbeSpec::Probe(def) => def,
    };
    line(out, "kind", format!("{:?}", def.kind()));
    if let Some(found) = &one.binary {
        line(
            out,
            "found",
            format!("{} via {}", found.path.display(), found.how),
        );
    }
    if let Some(site) = &one.usdt {
        line(
            out,
            "usdt",
            format!(
                "{}:{} pc 0x{:x} (note pc 0x{:x}, base 0x{:x}) args `{}`",
                site.note.provider,
                site.note.name,
                site.pc,
                site.note.pc,
                site.note.base,
                site.note.args
            ),
        );
        match site.semaphore_offset {
            Some(sem) => line(
                out,
                "semaphore",
                format!("0x{:x} at file offset {sem}", site.note.semaphore),
            ),
            None => line(out, "semaphore", "none"),
        }
        line(out, "fetch-args", site.fetch_args.join(" "));
        if let Some(warning) = &one.warning {
            line(out, "warning", warning);
        }
    }
    match def.place().clone() {
        Place::File { path, location, .. } => {
            let def = resolve_file(def, &path, &location, out)?;
            line(out, "kernel line", checked_line(&def)?);
        }
        Place::Symbol { module, symbol, .. } if def.symbol_pattern().is_none() => {
            resolve_kernel(module.as_deref(), &symbol, out)?;
            line(out, "kernel line", checked_line(&def)?);
        }
        Place::Symbol { .. } => resolve_kernel_pattern(&def, max_probes, out)?,
        _ => line(out, "kernel line", checked_line(&def)?),
    }
    Ok(())
}

/// A kernel pattern (`p:vfs_*`): the probe-able functions it matches, and the lines of
/// the one event that would hold them.
fn resolve_kernel_pattern(
    def: &ProbeDef,
    max_probes: usize,
    out: &mut String,
) -> Result<(), CliError> {
    let pattern = def.symbol_pattern().unwrap_or_default().to_owned();
    let index = KsymIndex::load().map_err(|e| CliError::Pattern(e.to_string()))?;
    let context = ProbeContext::load(
        Path::new(crate::tracefs::DEFAULT_TRACEFS),
        Path::new(DEBUGFS),
    );
    let symbols = index
        .expand(&pattern, &context, max_probes)
        .map_err(|e| CliError::Pattern(format!("{e} (the flag is --max-probes N)")))?;
    line(out, "matches", format!("{} functions", symbols.len()));
    for symbol in &symbols {
        let kernel = def
            .at_symbol(symbol)
            .to_kernel_line()
            .map_err(|e| CliError::Spec(vec![e]))?;
        line(out, "kernel line", kernel);
    }
    Ok(())
}

fn checked_line(def: &ProbeDef) -> Result<String, CliError> {
    def.to_kernel_line().map_err(|e| CliError::Spec(vec![e]))
}

fn resolve_file(
    def: ProbeDef,
    path: &str,
    location: &UprobeLocation,
    out: &mut String,
) -> Result<ProbeDef, CliError> {
    let roots = [PathBuf::from(DEBUG_ROOT)];
    let (info, resolved) = match location {
        UprobeLocation::Symbol { name, .. } => {
            let (info, resolved) = ElfInfo::read_and_resolve(Path::new(path), name, &roots)?;
            (info, Some(resolved))
        }
        UprobeLocation::Offset(_) => (ElfInfo::read(Path::new(path), &roots)?, None),
    };
    line(out, "file", path);
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    if real != Path::new(path) {
        line(out, "real file", real.display());
    }
    line(
        out,
        "elf",
        format!(
            "{}, {} functions{}",
            if info.position_independent {
                "ET_DYN (PIE or shared library)"
            } else {
                "ET_EXEC (not PIE)"
            },
            info.functions.len(),
            if info.has_symtab {
                ", .symtab"
            } else {
                ", no .symtab (stripped)"
            }
        ),
    );
    line(
        out,
        "build-id",
        info.build_id.as_deref().map_or("none".to_owned(), |id| {
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        }),
    );
    if let Some((name, crc)) = &info.debuglink {
        line(out, "debuglink", format!("{name} (crc 0x{crc:08x})"));
    }
    if let Some(debug) = &info.debug_file {
        line(out, "debug file", debug.display());
    }
    match (location, resolved) {
        (UprobeLocation::Symbol { offset, .. }, Some(resolved)) => {
            let sym = &resolved.symbol;
            line(
                out,
                "symbol",
                format!(
                    "{}{} size {}",
                    sym.name,
                    sym.demangled
                        .as_deref()
                        .map_or(String::new(), |d| format!(" ({d})")),
                    sym.size
                ),
            );
            if sym.kind == FuncKind::Ifunc {
                line(
                    out,
                    "note",
                    "an IFUNC: the probe is on its resolver, which runs once when the loader binds it, not on each call",
                );
            }
            line(out, "address", format!("0x{:x} (as linked)", sym.address));
            if let Some(load) = info
                .loads
                .iter()
                .find(|l| sym.address >= l.vaddr && sym.address - l.vaddr < l.file_size)
            {
                line(
                    out,
                    "segment",
                    format!(
                        "PT_LOAD p_vaddr 0x{:x} p_offset 0x{:x} p_filesz 0x{:x}",
                        load.vaddr, load.offset, load.file_size
                    ),
                );
            }
            let total = resolved.offset.0.saturating_add(*offset);
            line(out, "file offset", format!("0x{total:x}"));
            def.resolve(resolved.offset)
                .map_err(|e| CliError::Naming(e.to_string()))
        }
        (UprobeLocation::Symbol { .. }, None) => Ok(def),
        (UprobeLocation::Offset(offset), _) => {
            match info.vaddr_of_offset(offset.0) {
                Some(vaddr) => {
                    line(out, "address", format!("0x{vaddr:x} (as linked)"));
                    if let Some(f) = info
                        .functions
                        .iter()
                        .find(|f| vaddr >= f.address && vaddr - f.address < f.size.max(1))
                    {
                        line(
                            out,
                            "symbol",
                            format!("{}+0x{:x}", f.display_name(), vaddr - f.address),
                        );
                    }
                }
                None => line(out, "why not", "the offset is in no loadable segment"),
            }
            line(out, "file offset", offset);
            Ok(def)
        }
    }
}

fn resolve_kernel(module: Option<&str>, symbol: &str, out: &mut String) -> Result<(), CliError> {
    let index = KsymIndex::load().map_err(|e| CliError::Pattern(e.to_string()))?;
    let context = ProbeContext::load(
        Path::new(crate::tracefs::DEFAULT_TRACEFS),
        Path::new(DEBUGFS),
    );
    let query = match module {
        Some(m) => format!("{m}:{symbol}"),
        None => symbol.to_owned(),
    };
    match index.probe_target(&query, &context) {
        Ok(target) => {
            line(out, "symbol", target.name());
            line(out, "module", target.module().unwrap_or("vmlinux"));
            match target.addr() {
                Some(addr) => line(out, "address", addr),
                None => line(out, "address", "hidden (kptr_restrict; run as root)"),
            }
            if let Some(size) = target.size() {
                line(out, "size", size);
            }
            for warning in target.warnings() {
                line(out, "warning", warning);
            }
            Ok(())
        }
        Err(refusal) => Err(CliError::Refused(refusal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_words_are_kernel_functions() {
        assert_eq!(as_spec("vfs_read"), "p:vfs_read");
        assert_eq!(as_spec("ext4:ext4_sync_fs"), "p:ext4:ext4_sync_fs");
        assert_eq!(as_spec("u:libc:malloc"), "u:libc:malloc");
        assert_eq!(as_spec("t:sched:sched_switch"), "t:sched:sched_switch");
        assert_eq!(as_spec("p:vfs_read %di"), "p:vfs_read %di");
    }
}
