//! Function name -> file offset, from `.symtab` and `.dynsym` (and a separate debug
//! file for stripped binaries).
//!
//! A uprobe takes a file offset: `st_value − p_vaddr + p_offset` of the PT_LOAD segment
//! that holds the symbol. Names match raw (`_ZN3foo3barEv`), without their version
//! (`malloc@@GLIBC_2.2.5` matches `malloc`), and demangled: C++ (`ns::f(int)` and
//! `ns::f`) and Rust (`crate::f`, without the hash).

use std::fs;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use object::Object;
use object::ObjectSegment;
use object::ObjectSymbol;
use object::SymbolFlags;
use object::SymbolKind;

use crate::kallsyms::suggest::bounded_distance;
use crate::kallsyms::suggest::max_distance;
use crate::spec::FileOffset;

/// `STT_GNU_IFUNC`: the symbol is a resolver that returns the implementation to use.
const STT_GNU_IFUNC: u8 = 10;

/// The usual root of separate debug files.
pub const DEBUG_ROOT: &str = "/usr/lib/debug";

/// Why a function could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not an ELF object tprobe can read (or is cut short).
    #[error("{} is not an ELF file tprobe can read (truncated or not ELF; `file {}` tells what it is)", path.display(), path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: object::Error,
    },
    /// No function of that name is in the symbol tables.
    #[error("no function `{name}` in {}{}{} (hint: `tprobe list {} '*'` lists its functions; a stripped binary needs its debug file under /usr/lib/debug, or a file offset: u:PATH:0xOFFSET)",
        path.display(),
        if suggestions.is_empty() { "" } else { "; did you mean " },
        suggestions.join(", "),
        path.display())]
    NoSymbol {
        /// The file.
        path: PathBuf,
        /// The name looked for.
        name: String,
        /// Close names that do exist.
        suggestions: Vec<String>,
    },
    /// The name matches functions at different addresses.
    #[error("`{name}` is ambiguous in {}: {} (hint: give the parameter list (`ns::f(int)`), the mangled or versioned name, or a file offset)", path.display(), candidates.join(", "))]
    Ambiguous {
        /// The file.
        path: PathBuf,
        /// The name looked for.
        name: String,
        /// What it matched, `name@0xaddr`.
        candidates: Vec<String>,
    },
    /// The symbol lies in no loadable segment (it has no place in the file).
    #[error("`{name}` in {} is at 0x{address:x}, outside every loadable segment", path.display())]
    NotLoaded {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// Its value.
        address: u64,
    },
    /// A library or program name that no search found.
    #[error("cannot find `{name}`: {searched} (hint: give its full path, run `ldconfig` if it was just installed, or add -p PID to look in a running process)")]
    MissingLibrary {
        /// The name given.
        name: String,
        /// Where tprobe looked.
        searched: String,
    },
    /// A short library name matches several different libraries.
    #[error("`{name}` could be any of {} (hint: give the soname, e.g. u:{}:FUNC)", candidates.join(", "), candidates.first().map_or("", String::as_str))]
    AmbiguousLibrary {
        /// The name given.
        name: String,
        /// The sonames it matched.
        candidates: Vec<String>,
    },
    /// A function pattern matches more functions than allowed.
    #[error("`{pattern}` matches {count} functions in {}, more than {max} (the flag is --max-probes N; or narrow the pattern)", path.display())]
    TooManyMatches {
        /// The pattern.
        pattern: String,
        /// The file.
        path: PathBuf,
        /// How many it matched.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A USDT probe that is not in the file.
    #[error("no USDT probe `{provider}:{name}` in {}{} (hint: `tprobe list usdt {}` lists them)", path.display(), if available.is_empty() { String::new() } else { format!("; it has {}", available.join(", ")) }, path.display())]
    NoUsdt {
        /// The file.
        path: PathBuf,
        /// The provider asked for.
        provider: String,
        /// The probe name asked for.
        name: String,
        /// Up to a few that exist.
        available: Vec<String>,
    },
    /// A USDT argument tprobe cannot turn into a fetch-arg.
    #[error("USDT argument `{arg}` of {probe} cannot be fetched by a uprobe ({why})")]
    UsdtArg {
        /// `provider:name`.
        probe: String,
        /// The argument as the note gives it.
        arg: String,
        /// Why not.
        why: String,
    },
}

/// Whether a symbol is a plain function or an IFUNC resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncKind {
    /// `STT_FUNC`.
    Function,
    /// `STT_GNU_IFUNC`: a probe on it fires when the loader resolves the function
    /// (once per process), not on each call.
    Ifunc,
}

/// One function symbol of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncSymbol {
    /// The name as stored (mangled, with `@VERSION` when dynamic and versioned).
    pub name: String,
    /// The demangled name (C++ or Rust), when it is mangled.
    pub demangled: Option<String>,
    /// `st_value`.
    pub address: u64,
    /// `st_size`.
    pub size: u64,
    /// Function or IFUNC.
    pub kind: FuncKind,
}

impl FuncSymbol {
    /// The name without `@VERSION` / `@@VERSION`.
    pub fn plain_name(&self) -> &str {
        self.name.split('@').next().unwrap_or(&self.name)
    }

    /// The name to show: demangled when mangled.
    pub fn display_name(&self) -> &str {
        self.demangled.as_deref().unwrap_or(self.plain_name())
    }

    /// Whether `query` names this symbol: raw, unversioned, demangled, or demangled
    /// without its parameter list.
    pub fn matches(&self, query: &str) -> bool {
        if self.name == query || self.plain_name() == query {
            return true;
        }
        match &self.demangled {
            Some(d) => d == query || strip_params(d) == query,
            None => false,
        }
    }
}

/// `ns::f(int) const` -> `ns::f`; names without parameters are kept.
fn strip_params(demangled: &str) -> &str {
    match demangled.find('(') {
        Some(at) if at > 0 => &demangled[..at],
        _ => demangled,
    }
}

/// The demangled form of a C++ or Rust symbol name, if it is mangled.
pub fn demangle(name: &str) -> Option<String> {
    let plain = name.split('@').next().unwrap_or(name);
    if plain.starts_with("_R") || plain.starts_with("_ZN") {
        if let Ok(d) = rustc_demangle::try_demangle(plain) {
            let text = format!("{d:#}");
            // Itanium names that are not Rust's legacy form demangle to themselves.
            if text != plain && (plain.starts_with("_R") || plain.contains("17h")) {
                return Some(text);
            }
        }
    }
    if plain.starts_with("_Z") {
        let sym = cpp_demangle::Symbol::new(plain).ok()?;
        return sym.demangle().ok();
    }
    None
}

/// A PT_LOAD segment: where its bytes are in the file and in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_offset`.
    pub offset: u64,
    /// `p_filesz`.
    pub file_size: u64,
}

/// What tprobe knows about one ELF file: its functions, segments and identity.
#[derive(Debug, Clone)]
pub struct ElfInfo {
    /// The file.
    pub path: PathBuf,
    /// The GNU build-id, if any.
    pub build_id: Option<Vec<u8>>,
    /// `.gnu_debuglink`: the debug file's name and CRC.
    pub debuglink: Option<(String, u32)>,
    /// Whether the file is `ET_DYN` (PIE or shared library) rather than `ET_EXEC`.
    pub position_independent: bool,
    /// Whether the file had its own `.symtab`.
    pub has_symtab: bool,
    /// The separate debug file the symbols also came from, if one was found.
    pub debug_file: Option<PathBuf>,
    /// Function symbols (defined, `.symtab` then `.dynsym`, each address and name once).
    pub functions: Vec<FuncSymbol>,
    /// PT_LOAD segments.
    pub loads: Vec<LoadSegment>,
}

/// One resolved function: where a uprobe on it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFunc {
    /// The symbol that matched.
    pub symbol: FuncSymbol,
    /// Its file offset.
    pub offset: FileOffset,
}

fn read_file(path: &Path) -> Result<Vec<u8>, ElfError> {
    fs::read(path).map_err(|source| ElfError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse<'a>(path: &Path, data: &'a [u8]) -> Result<object::File<'a>, ElfError> {
    let file = object::File::parse(data).map_err(|source| ElfError::NotElf {
        path: path.to_owned(),
        source,
    })?;
    Ok(file)
}

/// `@VERSION` (hidden, an old compatible version) or `@@VERSION` (the default that new
/// links bind to) for each `.dynsym` index, from `.gnu.version`.
fn dynamic_versions(file: &object::File<'_>) -> Vec<Option<String>> {
    fn table<'a, Elf: object::read::elf::FileHeader>(
        f: &object::read::elf::ElfFile<'a, Elf>,
    ) -> Vec<Option<String>> {
        let endian = f.endian();
        let Ok(Some(versions)) = f.elf_section_table().versions(endian, f.data()) else {
            return Vec::new();
        };
        let count = f
            .dynamic_symbols()
            .map(|s| s.index().0)
            .max()
            .map_or(0, |m| m + 1);
        (0..count)
            .map(|i| {
                let index = versions.version_index(endian, object::SymbolIndex(i));
                let version = versions.version(index).ok().flatten()?;
                let at = if index.is_hidden() { "@" } else { "@@" };
                Some(format!("{at}{}", String::from_utf8_lossy(version.name())))
            })
            .collect()
    }
    match file {
        object::File::Elf64(f) => table(f),
        object::File::Elf32(f) => table(f),
        _ => Vec::new(),
    }
}

fn push_functions(file: &object::File<'_>, out: &mut Vec<FuncSymbol>) {
    let mut seen: std::collections::HashSet<(u64, String)> = out
        .iter()
        .map(|f| (f.address, f.plain_name().to_owned()))
        .collect();
    let versions = dynamic_versions(file);
    let dynamic = file.dynamic_symbols().map(|s| {
        let suffix = versions.get(s.index().0).cloned().flatten();
        (s, suffix)
    });
    // Not `is_definition()`: object counts only STT_FUNC/OBJECT, and IFUNCs are code too.
    for (sym, suffix) in file.symbols().map(|s| (s, None)).chain(dynamic) {
        if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
            continue;
        }
        let Ok(raw_name) = sym.name() else { continue };
        if raw_name.is_empty() {
            continue;
        }
        let name = match &suffix {
            Some(v) if !raw_name.contains('@') => format!("{raw_name}{v}"),
            _ => raw_name.to_owned(),
        };
        let kind = match sym.flags() {
            SymbolFlags::Elf { st_info, .. } if st_info & 0xf == STT_GNU_IFUNC => FuncKind::Ifunc,
            _ => FuncKind::Function,
        };
        // The same function in .symtab and .dynsym (or twice in one) is listed once.
        let plain = raw_name.split('@').next().unwrap_or(raw_name);
        if !seen.insert((sym.address(), plain.to_owned())) {
            continue;
        }
        out.push(FuncSymbol {
            demangled: demangle(&name),
            name,
            address: sym.address(),
            size: sym.size(),
            kind,
        });
    }
}

impl ElfInfo {
    /// Reads `path` and, when it has no `.symtab`, its separate debug file (build-id or
    /// `.gnu_debuglink`) under `debug_roots` (usually `/usr/lib/debug`; none: no debug
    /// file is read).
    pub fn read(path: &Path, debug_roots: &[PathBuf]) -> Result<Self, ElfError> {
        let data = read_file(path)?;
        Self::from_bytes(path, &data, debug_roots)
    }

    /// As [`ElfInfo::read`], over bytes already read.
    pub fn from_bytes(path: &Path, data: &[u8], debug_roots: &[PathBuf]) -> Result<Self, ElfError> {
        let file = parse(path, data)?;
        let build_id = file.build_id().ok().flatten().map(<[u8]>::to_vec);
        let debuglink = file
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc));
        let has_symtab = file.section_by_name(".symtab").is_some();
        let loads = file
            .segments()
            .map(|s| {
                let (offset, file_size) = s.file_range();
                LoadSegment {
                    vaddr: s.address(),
                    offset,
                    file_size,
                }
            })
            .collect();
        let mut functions = Vec::new();
        push_functions(&file, &mut functions);
        let mut info = Self {
            path: path.to_owned(),
            build_id,
            debuglink,
            position_independent: file.kind() == object::ObjectKind::Dynamic,
            has_symtab,
            debug_file: None,
            functions,
            loads,
        };
        if !has_symtab && !debug_roots.is_empty() {
            info.add_debug_symbols(debug_roots);
        }
        Ok(info)
    }

    /// Reads `path` and resolves `name`, reading a separate debug file (under
    /// `debug_roots`) only when the file's own tables do not have the name: a debug file
    /// can be a hundred times larger than the library.
    pub fn read_and_resolve(
        path: &Path,
        name: &str,
        debug_roots: &[PathBuf],
    ) -> Result<(Self, ResolvedFunc), ElfError> {
        let data = read_file(path)?;
        let mut info = Self::from_bytes(path, &data, &[])?;
        let resolved = match info.resolve(name) {
            Err(ElfError::NoSymbol { .. }) if !info.has_symtab => {
                info.add_debug_symbols(debug_roots);
                info.resolve(name)
            }
            other => other,
        }?;
        Ok((info, resolved))
    }

    /// Where the separate debug file may be, best first.
    pub fn debug_file_candidates(&self, debug_roots: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(id) = self.build_id.as_deref().filter(|id| id.len() >= 2) {
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            for root in debug_roots {
                out.push(
                    root.join(".build-id")
                        .join(&hex[..2])
                        .join(format!("{}.debug", &hex[2..])),
                );
            }
        }
        if let Some((name, _)) = &self.debuglink {
            let dir = self.path.parent().unwrap_or(Path::new("/"));
            out.push(dir.join(name));
            out.push(dir.join(".debug").join(name));
            let absolute_dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
            for root in debug_roots {
                let rel = absolute_dir.strip_prefix("/").unwrap_or(&absolute_dir);
                out.push(root.join(rel).join(name));
            }
        }
        out.retain(|p| p != &self.path);
        out
    }

    fn add_debug_symbols(&mut self, debug_roots: &[PathBuf]) {
        for candidate in self.debug_file_candidates(debug_roots) {
            let Ok(data) = fs::read(&candidate) else {
                continue;
            };
            let Ok(file) = object::File::parse(&*data) else {
                continue;
            };
            // A debug file for another build would give wrong offsets.
            let their_id = file.build_id().ok().flatten();
            if let (Some(ours), Some(theirs)) = (self.build_id.as_deref(), their_id) {
                if ours != theirs {
                    continue;
                }
            }
            if self.build_id.is_none() {
                if let Some((_, crc)) = &self.debuglink {
                    if crc32(&data) != *crc {
                        continue;
                    }
                }
            }
            push_functions(&file, &mut self.functions);
            self.debug_file = Some(candidate);
            return;
        }
    }

    /// The file offset of virtual address `address`, through the PT_LOAD holding it.
    pub fn file_offset(&self, address: u64) -> Option<FileOffset> {
        self.loads
            .iter()
            .find(|l| address >= l.vaddr && address - l.vaddr < l.file_size)
            .map(|l| FileOffset(l.offset + (address - l.vaddr)))
    }

    /// The virtual address (as linked) of file offset `offset`.
    pub fn vaddr_of_offset(&self, offset: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|l| offset >= l.offset && offset - l.offset < l.file_size)
            .map(|l| l.vaddr + (offset - l.offset))
    }

    /// The one function `name` names (see [`FuncSymbol::matches`]).
    pub fn resolve(&self, name: &str) -> Result<ResolvedFunc, ElfError> {
        let mut matched: Vec<&FuncSymbol> = Vec::new();
        for f in self.functions.iter().filter(|f| f.matches(name)) {
            if !matched.iter().any(|m| m.address == f.address) {
                matched.push(f);
            }
        }
        // An exact raw or unversioned name beats a demangled one.
        if matched.len() > 1 {
            let exact: Vec<&FuncSymbol> = matched
                .iter()
                .copied()
                .filter(|f| f.name == name || f.plain_name() == name)
                .collect();
            if exact.len() == 1 {
                matched = exact;
            }
        }
        // Among versions of one name, the default (`@@`) is what new links call.
        if matched.len() > 1 {
            let default: Vec<&FuncSymbol> = matched
                .iter()
                .copied()
                .filter(|f| f.name.contains("@@"))
                .collect();
            if default.len() == 1
                && matched
                    .iter()
                    .all(|f| f.plain_name() == default[0].plain_name())
            {
                matched = default;
            }
        }
        match matched[..] {
            [] => Err(ElfError::NoSymbol {
                path: self.path.clone(),
                name: name.to_owned(),
                suggestions: self.suggest(name),
            }),
            [one] => {
                let offset = self.file_offset(one.address).ok_or(ElfError::NotLoaded {
                    path: self.path.clone(),
                    name: name.to_owned(),
                    address: one.address,
                })?;
                Ok(ResolvedFunc {
                    symbol: one.clone(),
                    offset,
                })
            }
            _ => Err(ElfError::Ambiguous {
                path: self.path.clone(),
                name: name.to_owned(),
                candidates: matched
                    .iter()
                    .take(8)
                    .map(|f| match &f.demangled {
                        Some(d) => format!("{d} ({}) at 0x{:x}", f.name, f.address),
                        None => format!("{} at 0x{:x}", f.name, f.address),
                    })
                    .collect(),
            }),
        }
    }

    /// Up to five existing function names close to `name`.
    pub fn suggest(&self, name: &str) -> Vec<String> {
        let max = max_distance(name.len());
        let mut scored: Vec<(usize, &str)> = self
            .functions
            .iter()
            .filter_map(|f| {
                let shown = f.display_name();
                let candidate = strip_params(shown);
                bounded_distance(name, candidate, max)
                    .or_else(|| (candidate.contains(name) && name.len() >= 3).then_some(max + 1))
                    .map(|d| (d, candidate))
            })
            .collect();
        scored.sort();
        let mut out: Vec<String> = Vec::new();
        for (_, n) in scored {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_owned());
            }
            if out.len() == 5 {
                break;
            }
        }
        out
    }
}

/// The CRC-32 that `.gnu_debuglink` records (the IEEE polynomial, as zlib's).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The file offset of function `name` in the ELF file at `path`. A versioned name
/// (`malloc@@GLIBC_2.2.5`) matches its plain form.
pub fn file_offset_of(path: &Path, name: &str) -> Result<FileOffset, ElfError> {
    ElfInfo::read_and_resolve(path, name, &[PathBuf::from(DEBUG_ROOT)]).map(|(_, r)| r.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Compiles a program whose text is not at file offset == vaddr in every layout, and
    /// checks the offset against `nm` and `readelf` arithmetic.
    #[test]
    fn offset_matches_nm_and_program_headers() {
        let dir = std::env::temp_dir().join(format!("tprobe-elf-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t.c");
        fs::write(
            &src,
            "__attribute__((noinline)) int probed(int x) { return x * 3; }\nint main(int c, char **v) { return probed(c); }\n",
        )
        .unwrap();
        let bin = dir.join("t");
        let status = Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&bin)
            .arg(&src)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("skipped: gcc is not available");
            return;
        }
        let offset = file_offset_of(&bin, "probed").unwrap();
        let nm = Command::new("nm").arg(&bin).output().unwrap();
        let nm = String::from_utf8_lossy(&nm.stdout);
        let vaddr = nm
            .lines()
            .find(|l| l.ends_with(" probed"))
            .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
            .unwrap();
        let readelf = Command::new("readelf")
            .args(["-lW"])
            .arg(&bin)
            .output()
            .unwrap();
        let readelf = String::from_utf8_lossy(&readelf.stdout);
        let expected = readelf
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD"))
            .find_map(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .skip(1)
                    .take(5)
                    .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0))
                    .collect();
                let (off, va, filesz) = (f[0], f[1], f[3]);
                (vaddr >= va && vaddr < va + filesz).then(|| vaddr - va + off)
            })
            .unwrap();
        assert_eq!(offset, FileOffset(expected));
        match file_offset_of(&bin, "probd") {
            Err(ElfError::NoSymbol { suggestions, .. }) => {
                assert!(
                    suggestions.contains(&"probed".to_owned()),
                    "{suggestions:?}"
                )
            }
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_elf_truncated_and_missing_file() {
        assert!(matches!(
            file_offset_of(Path::new("/nonexistent/x"), "f"),
            Err(ElfError::Read { .. })
        ));
        assert!(matches!(
            file_offset_of(Path::new("/etc/hostname"), "f"),
            Err(ElfError::NotElf { .. })
        ));
        let true_bin = fs::read("/bin/true").unwrap();
        for cut in [4, 20, 63, 64, 200, true_bin.len() / 3] {
            // Never a panic; a cut header is NotElf, a cut body has fewer symbols.
            let r = ElfInfo::from_bytes(Path::new("/bin/true"), &true_bin[..cut], &[]);
            if cut < 64 {
                assert!(matches!(r, Err(ElfError::NotElf { .. })), "cut {cut}");
            }
        }
    }

    #[test]
    fn names_match_raw_versioned_and_demangled() {
        let f = FuncSymbol {
            name: "malloc@@GLIBC_2.2.5".into(),
            demangled: None,
            address: 1,
            size: 1,
            kind: FuncKind::Function,
        };
        assert!(f.matches("malloc") && f.matches("malloc@@GLIBC_2.2.5"));
        assert!(!f.matches("mallo"));
        let name = "_ZN2ns5greetEi";
        let cpp = FuncSymbol {
            name: name.into(),
            demangled: demangle(name),
            address: 2,
            size: 1,
            kind: FuncKind::Function,
        };
        assert_eq!(cpp.demangled.as_deref(), Some("ns::greet(int)"));
        assert!(cpp.matches("ns::greet") && cpp.matches("ns::greet(int)") && cpp.matches(name));
        assert_eq!(
            demangle("_ZN4test6probed17h0123456789abcdefE").as_deref(),
            Some("test::probed")
        );
        assert_eq!(demangle("malloc"), None);
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
