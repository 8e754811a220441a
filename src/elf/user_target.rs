//! User-space targets the kernel cannot read as they are written, turned into specs it
//! can: `u:libc:malloc` gets the library's path, `usdt:PATH:PROVIDER:NAME` becomes a
//! uprobe at the probe's file offset with its semaphore and arguments.
//!
//! The spec grammar stays pure (`src/spec`); this is the I/O step before it: library
//! names through `/etc/ld.so.cache`, `PATH` or a process's maps, USDT notes through the
//! ELF file. Function names are still resolved after parsing
//! (`ProbeDef::unresolved_symbol`, [`super::ElfInfo::resolve`]).

use std::path::Path;
use std::path::PathBuf;

use object::Object;
use object::ObjectSection;
use object::ObjectSymbol;

use super::binary_lookup::find_binary;
use super::binary_lookup::FoundBinary;
use super::sym_resolver::ElfError;
use super::sym_resolver::ElfInfo;
use super::sym_resolver::DEBUG_ROOT;
use super::usdt::parse_stapsdt_notes;
use super::usdt::UsdtNote;
use super::usdt::UsdtOperand;
use crate::spec::FileOffset;

/// The uprobe shorthands whose first field is a binary.
const UPROBE_PREFIXES: [&str; 4] = ["u:", "ur:", "uprobe:", "uretprobe:"];

/// The longest event name the kernel takes.
const MAX_EVENT_NAME: usize = 63;

/// One spec after library and USDT lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedSpec {
    /// The spec text to parse.
    pub text: String,
    /// Where its binary came from, when a lookup happened.
    pub binary: Option<FoundBinary>,
    /// The USDT site it places, for `usdt:` specs.
    pub usdt: Option<UsdtSite>,
    /// Something the user should know (a semaphore the kernel cannot bump).
    pub warning: Option<String>,
}

/// A USDT probe site, ready for a uprobe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtSite {
    /// The note.
    pub note: UsdtNote,
    /// The pc after the `.stapsdt.base` adjustment.
    pub pc: u64,
    /// The file offset of the pc.
    pub offset: FileOffset,
    /// The file offset of the semaphore (for `(REF_CTR_OFFSET)`), if it has one.
    pub semaphore_offset: Option<FileOffset>,
    /// The arguments as uprobe fetch-args, in order.
    pub fetch_args: Vec<String>,
}

/// Expands one spec. Specs that need no lookup come back unchanged (one element);
/// a USDT probe with several sites gives one spec per site.
/// `ref_ctr` says whether the kernel takes `(REF_CTR_OFFSET)`.
pub fn expand_user_spec(
    raw: &str,
    pid: Option<u32>,
    ref_ctr: bool,
    max_probes: usize,
) -> Result<Vec<ExpandedSpec>, ElfError> {
    let trimmed = raw.trim_start();
    let (first, rest) = match trimmed.find(char::is_whitespace) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let unchanged = || {
        Ok(vec![ExpandedSpec {
            text: raw.to_owned(),
            binary: None,
            usdt: None,
            warning: None,
        }])
    };
    if let Some(body) = first.strip_prefix("usdt:") {
        return expand_usdt(body, rest, pid, ref_ctr);
    }
    let Some(prefix) = UPROBE_PREFIXES.iter().find(|p| first.starts_with(**p)) else {
        return unchanged();
    };
    let body = &first[prefix.len()..];
    let Some((target, location)) = split_target(body) else {
        return unchanged();
    };
    // A relative path with `/` is the user's to mean; a bare name needs a lookup, and
    // with a process so does a path (the process may see another file there).
    let lookup = !target.is_empty() && (!target.contains('/') || pid.is_some());
    let needs_elf = !spec_can_name(location);
    if !lookup && !needs_elf {
        return unchanged();
    }
    let found = if lookup {
        Some(find_binary(target, pid)?)
    } else {
        None
    };
    let path = found
        .as_ref()
        .map_or_else(|| PathBuf::from(target), |f| f.path.clone());
    if is_glob(location) {
        return expand_glob(prefix, &path, location, rest, found.as_ref(), max_probes);
    }
    let location = if needs_elf {
        name_for_spec(&path, location)?
    } else {
        location.to_owned()
    };
    Ok(vec![ExpandedSpec {
        text: format!("{prefix}{}:{location}{rest}", path.display()),
        binary: found,
        usdt: None,
        warning: None,
    }])
}

/// A function pattern (`str*`, `mem?py`): the location has a wildcard.
fn is_glob(location: &str) -> bool {
    location.contains(['*', '?', '['])
}

/// `u:PATH:GLOB [ARGS]`: every matching function (each file offset once), as probe
/// points of ONE event: the kernel's cost of enabling and disabling follows events, not
/// probe points (kernel-notes.md §7). The kernel prints each hit's address.
fn expand_glob(
    prefix: &str,
    path: &Path,
    pattern: &str,
    rest: &str,
    found: Option<&FoundBinary>,
    max_probes: usize,
) -> Result<Vec<ExpandedSpec>, ElfError> {
    let glob = crate::kallsyms::glob::Glob::new(pattern).map_err(|why| ElfError::NoSymbol {
        path: path.to_owned(),
        name: format!("{pattern} (bad pattern: {why})"),
        suggestions: Vec::new(),
    })?;
    let info = ElfInfo::read(path, &[PathBuf::from(DEBUG_ROOT)])?;
    let mut offsets: Vec<(u64, &str)> = info
        .functions
        .iter()
        .filter(|f| {
            glob.is_match(f.plain_name())
                || f.demangled.as_deref().is_some_and(|d| glob.is_match(d))
        })
        .filter_map(|f| Some((info.file_offset(f.address)?.0, f.plain_name())))
        .collect();
    offsets.sort_unstable();
    offsets.dedup_by_key(|(offset, _)| *offset);
    if offsets.is_empty() {
        return Err(ElfError::NoSymbol {
            path: path.to_owned(),
            name: pattern.to_owned(),
            suggestions: Vec::new(),
        });
    }
    if offsets.len() > max_probes {
        return Err(ElfError::TooManyMatches {
            pattern: pattern.to_owned(),
            path: path.to_owned(),
            count: offsets.len(),
            max: max_probes,
        });
    }
    let kind = if prefix.starts_with("ur") || prefix.starts_with("uret") {
        ("r", "ur")
    } else {
        ("p", "u")
    };
    let base = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // `u_libc_so_6_alloc` for `*alloc`: wildcards become one `_` at most.
    let mut event = String::new();
    for c in event_name(kind.1, &format!("{base}_{pattern}")).chars() {
        if !(c == '_' && event.ends_with('_')) {
            event.push(c);
        }
    }
    let event = event.trim_end_matches('_').to_owned();
    Ok(offsets
        .into_iter()
        .map(|(offset, _)| ExpandedSpec {
            text: format!("{}:{event} {}:0x{offset:x}{rest}", kind.0, path.display()),
            binary: found.cloned(),
            usdt: None,
            warning: None,
        })
        .collect())
}

/// `PATH:LOCATION` split where the spec grammar splits (the last `:`), except that a
/// C++ name keeps its `::` (`/bin/app:ns::f(int)`).
fn split_target(body: &str) -> Option<(&str, &str)> {
    match body.find("::") {
        Some(scope) => {
            let colon = body[..scope].rfind(':')?;
            Some((&body[..colon], &body[colon + 1..]))
        }
        None => body.rsplit_once(':'),
    }
}

/// Whether the spec grammar can carry this location as it is: an offset, or an
/// identifier (`malloc`, `_ZN2tp5twiceEi`) with optional `+OFF`, `%return`, `(REF)`.
fn spec_can_name(location: &str) -> bool {
    let name = location.split(['+', '%', '(']).next().unwrap_or(location);
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
}

/// A demangled (`ns::f(int)`) or versioned (`memcpy@GLIBC_2.2.5`) function name, which
/// the spec grammar cannot hold, as its raw symbol name (or its file offset when the
/// raw name would pick another version).
fn name_for_spec(path: &Path, location: &str) -> Result<String, ElfError> {
    let (location, ret) = match location.strip_suffix("%return") {
        Some(l) => (l, "%return"),
        None => (location, ""),
    };
    let (name, offset) = match location.rsplit_once('+') {
        Some((name, off)) if off.bytes().all(|b| b.is_ascii_hexdigit() || b == b'x') => {
            (name, format!("+{off}"))
        }
        _ => (location, String::new()),
    };
    let (_, resolved) = ElfInfo::read_and_resolve(path, name, &[PathBuf::from(DEBUG_ROOT)])?;
    let raw = resolved.symbol.plain_name();
    let plain_is_unique = !name.contains('@') && spec_can_name(raw);
    Ok(if plain_is_unique {
        format!("{raw}{offset}{ret}")
    } else {
        let extra = offset
            .strip_prefix('+')
            .and_then(|o| {
                o.strip_prefix("0x")
                    .map_or_else(|| o.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
            })
            .unwrap_or(0);
        format!("0x{:x}{ret}", resolved.offset.0.saturating_add(extra))
    })
}

fn expand_usdt(
    body: &str,
    rest: &str,
    pid: Option<u32>,
    ref_ctr: bool,
) -> Result<Vec<ExpandedSpec>, ElfError> {
    let bad = || ElfError::NoUsdt {
        path: PathBuf::from(body),
        provider: String::new(),
        name: String::new(),
        available: vec!["(the form is usdt:PATH:PROVIDER:NAME)".to_owned()],
    };
    let (head, name) = body.rsplit_once(':').ok_or_else(bad)?;
    let (target, provider) = head.rsplit_once(':').ok_or_else(bad)?;
    let found = find_binary(target, pid)?;
    let sites = usdt_sites(&found.path)?;
    let matching: Vec<&UsdtSite> = sites
        .iter()
        .filter(|s| s.note.provider == provider && s.note.name == name)
        .collect();
    if matching.is_empty() {
        let mut available: Vec<String> = sites
            .iter()
            .map(|s| format!("{}:{}", s.note.provider, s.note.name))
            .collect();
        available.dedup();
        available.truncate(8);
        return Err(ElfError::NoUsdt {
            path: found.path,
            provider: provider.to_owned(),
            name: name.to_owned(),
            available,
        });
    }
    let base_name = event_name(provider, name);
    let mut out = Vec::new();
    for (i, site) in matching.into_iter().enumerate() {
        let event = if i == 0 {
            base_name.clone()
        } else {
            let suffix = format!("_{}", i + 1);
            let keep = MAX_EVENT_NAME - suffix.len();
            format!("{}{suffix}", &base_name[..base_name.len().min(keep)])
        };
        let ref_part = match site.semaphore_offset {
            Some(sem) if ref_ctr => format!("(0x{:x})", sem.0),
            _ => String::new(),
        };
        let args: Vec<String> = site
            .fetch_args
            .iter()
            .enumerate()
            .map(|(n, a)| format!("arg{}={a}", n + 1))
            .collect();
        let mut text = format!(
            "p:{event} {}:0x{:x}{ref_part}",
            found.path.display(),
            site.offset.0
        );
        for a in args {
            text.push(' ');
            text.push_str(&a);
        }
        text.push_str(rest);
        let warning = (site.semaphore_offset.is_some() && !ref_ctr).then(|| {
            format!(
                "{provider}:{name} has a semaphore, but this kernel's uprobes take no \
                 (REF_CTR_OFFSET) (4.20+): the program will not know it is traced, and \
                 code guarded by the semaphore will not run"
            )
        });
        out.push(ExpandedSpec {
            text,
            binary: Some(found.clone()),
            usdt: Some(site.clone()),
            warning,
        });
    }
    Ok(out)
}

/// `provider`, `name` -> an event name the kernel takes (`[A-Za-z_][A-Za-z0-9_]*`).
fn event_name(provider: &str, name: &str) -> String {
    let mut out: String = format!("{provider}_{name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out.truncate(MAX_EVENT_NAME);
    out
}

/// Every USDT site of the ELF file at `path`, with file offsets and fetch-args.
pub fn usdt_sites(path: &Path) -> Result<Vec<UsdtSite>, ElfError> {
    let data = std::fs::read(path).map_err(|source| ElfError::Read {
        path: path.to_owned(),
        source,
    })?;
    let info = ElfInfo::from_bytes(path, &data, &[PathBuf::from(DEBUG_ROOT)])?;
    let file = object::File::parse(&*data).map_err(|source| ElfError::NotElf {
        path: path.to_owned(),
        source,
    })?;
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let notes_data = section.data().unwrap_or(&[]);
    let base_addr = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let notes = parse_stapsdt_notes(notes_data, file.is_64(), !file.is_little_endian());
    let mut sites = Vec::new();
    for note in notes {
        let pc = note.adjusted_pc(base_addr);
        let probe = format!("{}:{}", note.provider, note.name);
        let offset = info.file_offset(pc).ok_or_else(|| ElfError::NotLoaded {
            path: path.to_owned(),
            name: probe.clone(),
            address: pc,
        })?;
        let semaphore_offset = (note.semaphore != 0)
            .then(|| info.file_offset(note.semaphore))
            .flatten();
        let args = note.parsed_args().map_err(|why| ElfError::UsdtArg {
            probe: probe.clone(),
            arg: note.args.clone(),
            why,
        })?;
        let mut fetch_args = Vec::new();
        for arg in &args {
            let symbol_offset = match &arg.operand {
                UsdtOperand::Symbol { name, disp } => {
                    // `@+OFF` is relative to the probed file's load base as the kernel
                    // computes it from the probe: bp_addr − probe offset.
                    let sym = file
                        .symbols()
                        .chain(file.dynamic_symbols())
                        .find(|s| s.name() == Ok(name.as_str()))
                        .map(|s| s.address());
                    sym.and_then(|a| a.checked_add_signed(*disp))
                        .and_then(|a| a.checked_sub(pc))
                        .and_then(|d| d.checked_add(offset.0))
                }
                _ => None,
            };
            let fetch = arg
                .fetch_arg(symbol_offset)
                .ok_or_else(|| ElfError::UsdtArg {
                    probe: probe.clone(),
                    arg: note.args.clone(),
                    why: "its symbol is not in the symbol table".to_owned(),
                })?;
            fetch_args.push(fetch);
        }
        sites.push(UsdtSite {
            note,
            pc,
            offset,
            semaphore_offset,
            fetch_args,
        });
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_become_paths() {
        let out = expand_user_spec("u:libc:malloc size=%di:u64", None, true, 128).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].text.starts_with("u:/"), "{}", out[0].text);
        assert!(
            out[0].text.ends_with(":malloc size=%di:u64"),
            "{}",
            out[0].text
        );
        let same = expand_user_spec("p:vfs_read", None, true, 128).unwrap();
        assert_eq!(same[0].text, "p:vfs_read");
        let path = expand_user_spec("ur:/bin/sh:main", None, true, 128).unwrap();
        assert_eq!(path[0].text, "ur:/bin/sh:main");
        assert!(matches!(
            expand_user_spec("u:libnot_here_at_all:f", None, true, 128),
            Err(ElfError::MissingLibrary { .. })
        ));
    }

    #[test]
    fn globs_become_probe_points_of_one_event() {
        let out = expand_user_spec("ur:libc:*alloc $retval", None, true, 128).unwrap();
        assert!(out.len() >= 4, "{out:?}");
        let event = out[0].text.split(' ').next().unwrap().to_owned();
        assert_eq!(event, "r:ur_libc_so_6_alloc");
        for one in &out {
            assert!(one.text.starts_with(&format!("{event} /")), "{}", one.text);
            assert!(one.text.ends_with(" $retval"), "{}", one.text);
        }
        let mut offsets: Vec<&str> = out.iter().map(|o| o.text.as_str()).collect();
        offsets.dedup();
        assert_eq!(offsets.len(), out.len());
        assert!(matches!(
            expand_user_spec("u:libc:str*", None, true, 2),
            Err(ElfError::TooManyMatches { max: 2, .. })
        ));
        assert!(matches!(
            expand_user_spec("u:libc:zzz_nothing*", None, true, 2),
            Err(ElfError::NoSymbol { .. })
        ));
    }

    #[test]
    fn targets_split_like_the_grammar_but_keep_cpp_scopes() {
        assert_eq!(split_target("/a/b:f"), Some(("/a/b", "f")));
        assert_eq!(split_target("/a:b/c:f"), Some(("/a:b/c", "f")));
        assert_eq!(
            split_target("/a/b:ns::f(int)"),
            Some(("/a/b", "ns::f(int)"))
        );
        assert_eq!(split_target("libc:malloc"), Some(("libc", "malloc")));
        assert!(spec_can_name("malloc+4%return"));
        assert!(spec_can_name("0x10(0x20)"));
        assert!(!spec_can_name("ns::f"));
        assert!(!spec_can_name("memcpy@GLIBC_2.2.5"));
    }

    #[test]
    fn event_names_are_words() {
        assert_eq!(event_name("my-app", "req.start"), "my_app_req_start");
        assert_eq!(event_name("9p", "x"), "_9p_x");
        assert_eq!(event_name(&"a".repeat(40), &"b".repeat(40)).len(), 63);
    }
}
