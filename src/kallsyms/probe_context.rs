//! What the kernel says can be probed: `available_filter_functions` and the kprobe
//! blacklist, each parsed from a reader, and the context that carries them.

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::path::PathBuf;

use super::AVAILABLE_FILTER_FUNCTIONS;
use super::KPROBE_BLACKLIST;
use crate::spec::KernelAddr;

/// The functions ftrace can hook (`available_filter_functions`: `name` or `name [module]`
/// per line). A function missing here is notrace, noinstr, init code or inlined.
#[derive(Clone, Default)]
pub struct FilterFunctions {
    /// Bare names (module functions too).
    names: HashSet<Box<str>>,
    /// `module:name` for module functions.
    qualified: HashSet<Box<str>>,
}

impl fmt::Debug for FilterFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FilterFunctions({} names)", self.names.len())
    }
}

impl FilterFunctions {
    /// Parses the file's text; lines that are not `name` or `name [module]` are skipped.
    pub fn parse<R: BufRead>(reader: R) -> io::Result<Self> {
        let mut this = Self::default();
        for line in reader.split(b'\n') {
            let line = line?;
            let Ok(line) = std::str::from_utf8(&line) else {
                continue;
            };
            let mut fields = line.split_ascii_whitespace();
            let Some(name) = fields.next() else {
                continue;
            };
            let module = fields
                .next()
                .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'));
            if let Some(module) = module {
                this.qualified.insert(format!("{module}:{name}").into());
            }
            this.names.insert(name.into());
        }
        Ok(this)
    }

    /// Whether `name` (in `module`, if given) can be hooked.
    pub fn contains(&self, module: Option<&str>, name: &str) -> bool {
        match module {
            None => self.names.contains(name),
            Some(module) => self.qualified.contains(format!("{module}:{name}").as_str()),
        }
    }

    /// How many distinct names are listed.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One line of the kprobe blacklist: `0xSTART-0xEND\tNAME [MODULE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlacklistEntry {
    /// First address (zero when the kernel hides addresses).
    pub start: KernelAddr,
    /// One past the last address.
    pub end: KernelAddr,
    /// The function.
    pub name: String,
    /// Its module, if any.
    pub module: Option<String>,
}

/// The functions kprobes refuse (`/sys/kernel/debug/kprobes/blacklist`).
#[derive(Debug, Clone, Default)]
pub struct KprobeBlacklist {
    entries: Vec<BlacklistEntry>,
}

impl KprobeBlacklist {
    /// Parses the file's text; malformed lines are skipped.
    pub fn parse<R: BufRead>(reader: R) -> io::Result<Self> {
        let mut entries = Vec::new();
        for line in reader.split(b'\n') {
            let line = line?;
            let Ok(line) = std::str::from_utf8(&line) else {
                continue;
            };
            if let Some(entry) = parse_blacklist_line(line) {
                entries.push(entry);
            }
        }
        Ok(Self { entries })
    }

    /// The entry for `name` in `module` (`None`: vmlinux), or else the entry whose
    /// range holds `addr` (ranges are ignored when the kernel hid them).
    pub fn find(
        &self,
        module: Option<&str>,
        name: &str,
        addr: Option<KernelAddr>,
    ) -> Option<&BlacklistEntry> {
        self.entries
            .iter()
            .find(|e| e.name == name && e.module.as_deref() == module)
            .or_else(|| {
                let addr = addr.filter(|a| a.0 != 0)?;
                self.entries
                    .iter()
                    .find(|e| e.start.0 != 0 && e.start <= addr && addr < e.end)
            })
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &[BlacklistEntry] {
        &self.entries
    }
}

fn parse_blacklist_line(line: &str) -> Option<BlacklistEntry> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    let (start, end) = (hex(start)?, hex(end)?);
    let name = fields.next()?.to_owned();
    let module = match fields.next() {
        None => None,
        Some(m) => Some(m.strip_prefix('[')?.strip_suffix(']')?.to_owned()),
    };
    Some(BlacklistEntry {
        start: KernelAddr(start),
        end: KernelAddr(end),
        name,
        module,
    })
}

/// A probe-ability check tprobe knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// Membership in `available_filter_functions`.
    FilterFunctions,
    /// The kprobe blacklist.
    Blacklist,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FilterFunctions => "available_filter_functions",
            Self::Blacklist => "the kprobe blacklist",
        })
    }
}

/// A check that was not made, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCheck {
    check: Check,
    path: Option<PathBuf>,
    reason: String,
}

impl SkippedCheck {
    /// Which check.
    pub fn check(&self) -> Check {
        self.check
    }

    /// The file that could not be read, if one was tried.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for SkippedCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not checked against {}", self.check)?;
        match &self.path {
            Some(path) => write!(f, " ({}: {})", path.display(), self.reason),
            None => write!(f, " ({})", self.reason),
        }
    }
}

/// One input of the context: loaded, or why not.
#[derive(Debug, Clone)]
enum Source<T> {
    Loaded(T),
    Missing(Option<PathBuf>, String),
}

impl<T> Default for Source<T> {
    fn default() -> Self {
        Self::Missing(None, "not loaded".to_owned())
    }
}

impl<T> Source<T> {
    fn get(&self) -> Option<&T> {
        match self {
            Self::Loaded(t) => Some(t),
            Self::Missing(..) => None,
        }
    }

    fn skipped(&self, check: Check) -> Option<SkippedCheck> {
        match self {
            Self::Loaded(_) => None,
            Self::Missing(path, reason) => Some(SkippedCheck {
                check,
                path: path.clone(),
                reason: reason.clone(),
            }),
        }
    }

    fn read(path: PathBuf, parse: impl FnOnce(BufReader<File>) -> io::Result<T>) -> Self {
        match File::open(&path).and_then(|f| parse(BufReader::new(f))) {
            Ok(t) => Self::Loaded(t),
            Err(e) => {
                let reason = match e.kind() {
                    io::ErrorKind::NotFound => "absent".to_owned(),
                    io::ErrorKind::PermissionDenied => {
                        "permission denied: needs root, and a kernel in lockdown refuses even root"
                            .to_owned()
                    }
                    _ => e.to_string(),
                };
                Self::Missing(Some(path), reason)
            }
        }
    }
}

/// What [`KsymIndex::probe_target`](super::KsymIndex::probe_target) checks a symbol
/// against. Each part is optional: a part that is absent makes its check skipped, and
/// the target says so.
#[derive(Debug, Clone, Default)]
pub struct ProbeContext {
    filter_functions: Source<FilterFunctions>,
    blacklist: Source<KprobeBlacklist>,
}

impl ProbeContext {
    /// A context with nothing loaded: every check is skipped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `available_filter_functions` under the tracefs mount `tracefs_root` and
    /// `kprobes/blacklist` under the debugfs mount `debugfs_root`. Never fails: a file
    /// that cannot be read leaves its check skipped, with the reason.
    pub fn load(tracefs_root: &Path, debugfs_root: &Path) -> Self {
        Self {
            filter_functions: Source::read(
                tracefs_root.join(AVAILABLE_FILTER_FUNCTIONS),
                FilterFunctions::parse,
            ),
            blacklist: Source::read(debugfs_root.join(KPROBE_BLACKLIST), KprobeBlacklist::parse),
        }
    }

    /// Uses `functions` as `available_filter_functions`.
    pub fn with_filter_functions(mut self, functions: FilterFunctions) -> Self {
        self.filter_functions = Source::Loaded(functions);
        self
    }

    /// Uses `blacklist` as the kprobe blacklist.
    pub fn with_blacklist(mut self, blacklist: KprobeBlacklist) -> Self {
        self.blacklist = Source::Loaded(blacklist);
        self
    }

    /// `available_filter_functions`, if loaded.
    pub fn filter_functions(&self) -> Option<&FilterFunctions> {
        self.filter_functions.get()
    }

    /// The kprobe blacklist, if loaded.
    pub fn blacklist(&self) -> Option<&KprobeBlacklist> {
        self.blacklist.get()
    }

    /// The checks this context cannot make, with why.
    pub fn skipped_checks(&self) -> Vec<SkippedCheck> {
        self.filter_functions
            .skipped(Check::FilterFunctions)
            .into_iter()
            .chain(self.blacklist.skipped(Check::Blacklist))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_functions_parsing() {
        let text: &[u8] = b"do_sys_openat2\n__x64_sys_openat\n\
            ext4_file_open [ext4]\ninit_once [fat]\n\n\xff\xfe\n";
        let ff = FilterFunctions::parse(text).unwrap();
        assert_eq!(ff.len(), 4);
        assert!(ff.contains(None, "do_sys_openat2"));
        assert!(ff.contains(None, "ext4_file_open"));
        assert!(ff.contains(Some("ext4"), "ext4_file_open"));
        assert!(!ff.contains(Some("fat"), "ext4_file_open"));
        assert!(!ff.contains(None, "vfs_read"));
    }

    #[test]
    fn blacklist_parsing() {
        let text: &[u8] = b"0xffffffff81001000-0xffffffff81001080\tdo_int3\n\
            0xffffffff821ef620-0xffffffff821ef8a0\tdo_syscall_64\n\
            0xffffffffc0a01030-0xffffffffc0a010c0\tfat_file_fsync [fat]\n\
            garbage line\n0xzz-0x10\tbad\n";
        let bl = KprobeBlacklist::parse(text).unwrap();
        assert_eq!(bl.entries().len(), 3);
        assert_eq!(
            bl.find(None, "do_int3", None).unwrap().end.0,
            0xffff_ffff_8100_1080
        );
        assert_eq!(
            bl.find(None, "x", Some(KernelAddr(0xffff_ffff_821e_f700)))
                .unwrap()
                .name,
            "do_syscall_64"
        );
        assert_eq!(
            bl.find(Some("fat"), "fat_file_fsync", None)
                .unwrap()
                .module
                .as_deref(),
            Some("fat")
        );
        assert!(bl.find(Some("ext4"), "fat_file_fsync", None).is_none());
        assert!(bl.find(None, "vfs_read", Some(KernelAddr(0x10))).is_none());
    }

    #[test]
    fn hidden_blacklist_matches_names_only() {
        let text: &[u8] = b"0x0000000000000000-0x0000000000000000\tdo_int3\n";
        let bl = KprobeBlacklist::parse(text).unwrap();
        assert!(bl.find(None, "do_int3", None).is_some());
        assert!(bl.find(None, "vfs_read", Some(KernelAddr(0))).is_none());
    }

    #[test]
    fn missing_files_are_skipped_checks() {
        let dir = std::env::temp_dir().join(format!("tprobe-kallsyms-ctx-{}", std::process::id()));
        let ctx = ProbeContext::load(&dir.join("tracing"), &dir.join("debug"));
        assert!(ctx.filter_functions().is_none());
        let skipped = ctx.skipped_checks();
        assert_eq!(skipped.len(), 2);
        assert_eq!(skipped[0].check(), Check::FilterFunctions);
        let text = skipped[0].to_string();
        assert!(
            text.contains("available_filter_functions") && text.contains("absent"),
            "{text}"
        );
        assert!(ProbeContext::new()
            .with_filter_functions(FilterFunctions::default())
            .with_blacklist(KprobeBlacklist::default())
            .skipped_checks()
            .is_empty());
    }
}
