//! `/proc/kallsyms` into an index by address and by name.

use std::cmp::Ordering;
use std::fmt;
use std::fs::File;
use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;

use super::error::KallsymsError;
use super::KALLSYMS;
use crate::spec::KernelAddr;

/// How much to read at once (procfs files report no size).
const READ_CHUNK: usize = 1 << 20;

/// Marks an entry without a module (a vmlinux symbol).
const NO_MODULE: u32 = u32::MAX;

/// A symbol's type letter as `nm` prints it: upper case for global, lower case for local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SymType(u8);

impl SymType {
    /// The letter (`T`, `t`, `W`, `d`, …).
    pub fn as_char(self) -> char {
        char::from(self.0)
    }

    /// Whether the symbol is code a probe can attach to: `t`/`T`, or weak `w`/`W`.
    pub fn is_text(self) -> bool {
        matches!(self.0, b't' | b'T' | b'w' | b'W')
    }

    /// Whether the symbol is global (upper-case letter).
    pub fn is_global(self) -> bool {
        self.0.is_ascii_uppercase()
    }
}

impl fmt::Display for SymType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// One kernel symbol, borrowed from a [`KsymIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ksym<'a> {
    /// The name.
    pub name: &'a str,
    /// The module that holds it, or `None` for vmlinux.
    pub module: Option<&'a str>,
    /// The address (zero when addresses are hidden).
    pub addr: KernelAddr,
    /// The type letter.
    pub sym_type: SymType,
    /// Distance to the next higher symbol, as `%pS` computes it; `None` for the last
    /// symbol or when addresses are hidden.
    pub size: Option<u64>,
}

/// An address resolved to a symbol, printed like the kernel's `%pS`:
/// `do_sys_openat2+0x0/0xd0`, with ` [module]` for module symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SymOffset<'a> {
    /// The symbol that contains the address.
    pub sym: Ksym<'a>,
    /// Bytes from the symbol's start.
    pub offset: u64,
}

impl fmt::Display for SymOffset<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+0x{:x}", self.sym.name, self.offset)?;
        if let Some(size) = self.sym.size {
            write!(f, "/0x{size:x}")?;
        }
        if let Some(module) = self.sym.module {
            write!(f, " [{module}]")?;
        }
        Ok(())
    }
}

/// One parsed line, stored compactly: the name is a range of the index's arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    addr: u64,
    name_start: u32,
    name_len: u32,
    module: u32,
    sym_type: u8,
}

/// The kernel's symbols, sorted by address, with a name index.
///
/// Duplicate names are kept (static functions of the same name in different files or
/// modules are common); [`KsymIndex::find_all`] returns all of them.
pub struct KsymIndex {
    /// All names, back to back.
    names: String,
    /// Sorted by address; ties keep file order.
    entries: Vec<Entry>,
    /// Indices into `entries`, sorted by name then address.
    by_name: Vec<u32>,
    /// Module names, indexed by `Entry::module`.
    modules: Vec<Box<str>>,
    /// Every address was zero.
    hidden: bool,
}

impl fmt::Debug for KsymIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KsymIndex")
            .field("symbols", &self.entries.len())
            .field("modules", &self.modules.len())
            .field("addresses_hidden", &self.hidden)
            .finish()
    }
}

/// Splits one `ADDR TYPE NAME [\t[MODULE]]` line; `None` if it is malformed.
fn parse_line(line: &[u8]) -> Option<(u64, u8, &str, Option<&str>)> {
    let line = std::str::from_utf8(line).ok()?;
    let mut fields = line.split_ascii_whitespace();
    let addr = fields.next()?;
    if addr.is_empty() || addr.len() > 16 {
        return None;
    }
    let addr = u64::from_str_radix(addr, 16).ok()?;
    let sym_type = match fields.next()?.as_bytes() {
        [t] if t.is_ascii_alphabetic() => *t,
        _ => return None,
    };
    let name = fields.next()?;
    let module = match fields.next() {
        None => None,
        Some(m) => {
            let m = m.strip_prefix('[')?.strip_suffix(']')?;
            if m.is_empty() {
                return None;
            }
            Some(m)
        }
    };
    if fields.next().is_some() {
        return None;
    }
    Some((addr, sym_type, name, module))
}

impl KsymIndex {
    /// Reads [`KALLSYMS`](super::KALLSYMS).
    pub fn load() -> Result<Self, KallsymsError> {
        Self::load_from_path(Path::new(KALLSYMS))
    }

    /// Reads a file laid out like `/proc/kallsyms`.
    pub fn load_from_path(path: &Path) -> Result<Self, KallsymsError> {
        let read_err = |source| KallsymsError::Read {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        // procfs makes one pass over the symbol table per read call: large reads are
        // several times faster than small ones.
        Self::load_from_reader(BufReader::with_capacity(READ_CHUNK, file)).map_err(|e| match e {
            KallsymsError::Read { source, .. } => read_err(source),
            other => other,
        })
    }

    /// Parses `/proc/kallsyms` text: lines `ADDR TYPE NAME` or `ADDR TYPE NAME\t[MODULE]`.
    /// Malformed lines are skipped; only a read failure is an error.
    pub fn load_from_reader<R: BufRead>(mut reader: R) -> Result<Self, KallsymsError> {
        let mut data = Vec::with_capacity(READ_CHUNK);
        reader
            .read_to_end(&mut data)
            .map_err(|source| KallsymsError::Read {
                path: KALLSYMS.into(),
                source,
            })?;
        Ok(Self::from_bytes(&data))
    }

    /// Builds the index from the whole text.
    fn from_bytes(data: &[u8]) -> Self {
        let mut names = String::with_capacity(data.len() / 2);
        let mut entries = Vec::with_capacity(data.len() / 40);
        let mut modules: Vec<Box<str>> = Vec::new();
        for line in data.split(|b| *b == b'\n') {
            let Some((addr, sym_type, name, module)) = parse_line(line) else {
                continue;
            };
            let (Ok(name_start), Ok(name_len)) =
                (u32::try_from(names.len()), u32::try_from(name.len()))
            else {
                break;
            };
            let module = match module {
                None => NO_MODULE,
                // Module symbols come in runs, so the last module is nearly always it.
                Some(m) => match modules.iter().rposition(|x| &**x == m) {
                    Some(i) => u32::try_from(i).unwrap_or(NO_MODULE),
                    None => {
                        modules.push(m.into());
                        u32::try_from(modules.len() - 1).unwrap_or(NO_MODULE)
                    }
                },
            };
            names.push_str(name);
            entries.push(Entry {
                addr,
                name_start,
                name_len,
                module,
                sym_type,
            });
        }
        entries.sort_by_key(|e| e.addr);
        let hidden = !entries.is_empty() && entries.iter().all(|e| e.addr == 0);
        let mut index = Self {
            names,
            entries,
            by_name: Vec::new(),
            modules,
            hidden,
        };
        let count = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
        let mut by_name: Vec<(&str, u32)> = (0..count).map(|i| (index.name_of(i), i)).collect();
        by_name.sort_unstable();
        let by_name = by_name.into_iter().map(|(_, i)| i).collect();
        index.by_name = by_name;
        index
    }

    fn name_of(&self, i: u32) -> &str {
        self.entries
            .get(i as usize)
            .and_then(|e| {
                self.names
                    .get(e.name_start as usize..(e.name_start as usize + e.name_len as usize))
            })
            .unwrap_or("")
    }

    /// The size of entry `i`: distance to the next higher address.
    fn size_of(&self, i: usize) -> Option<u64> {
        if self.hidden {
            return None;
        }
        let addr = self.entries.get(i)?.addr;
        self.entries
            .get(i + 1..)?
            .iter()
            .find(|e| e.addr > addr)
            .map(|e| e.addr - addr)
    }

    fn ksym(&self, i: usize) -> Option<Ksym<'_>> {
        let e = self.entries.get(i)?;
        Some(Ksym {
            name: self.name_of(u32::try_from(i).ok()?),
            module: self.modules.get(e.module as usize).map(|m| &**m),
            addr: KernelAddr(e.addr),
            sym_type: SymType(e.sym_type),
            size: self.size_of(i),
        })
    }

    /// How many symbols were loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no symbol was loaded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every address is zero: the kernel hid them (`kptr_restrict`, or not root).
    /// Names are still usable; addresses, sizes and [`KsymIndex::resolve`] are not.
    pub fn addresses_hidden(&self) -> bool {
        self.hidden
    }

    /// `Ok` if addresses are real, else [`KallsymsError::AddressesHidden`] with the remedy.
    pub fn require_addresses(&self) -> Result<(), KallsymsError> {
        if self.hidden {
            Err(KallsymsError::AddressesHidden)
        } else {
            Ok(())
        }
    }

    /// The range of `by_name` whose names equal `name`.
    fn name_range(&self, name: &str) -> &[u32] {
        let lo = self.by_name.partition_point(|i| self.name_of(*i) < name);
        let rest = self.by_name.get(lo..).unwrap_or(&[]);
        let n = rest.partition_point(|i| self.name_of(*i) == name);
        rest.get(..n).unwrap_or(&[])
    }

    /// Every symbol called `name`, in address order (empty if there is none).
    pub fn find_all(&self, name: &str) -> Vec<Ksym<'_>> {
        self.name_range(name)
            .iter()
            .filter_map(|i| self.ksym(*i as usize))
            .collect()
    }

    /// Every symbol called `name` in `module` (`"vmlinux"` selects the core kernel).
    pub fn find_in_module(&self, module: &str, name: &str) -> Vec<Ksym<'_>> {
        self.find_all(name)
            .into_iter()
            .filter(|s| s.module.unwrap_or("vmlinux") == module)
            .collect()
    }

    /// The symbol that contains `addr`, as `%pS` would print it, or `None` if it is
    /// below every symbol or addresses are hidden. Of several symbols at one address
    /// (aliases), the first listed wins, as in the kernel.
    pub fn resolve(&self, addr: KernelAddr) -> Option<SymOffset<'_>> {
        if self.hidden {
            return None;
        }
        let after = self.entries.partition_point(|e| e.addr <= addr.0);
        let last = after.checked_sub(1)?;
        let start = self.entries.get(last)?.addr;
        let first = self.entries.partition_point(|e| e.addr < start);
        let sym = self.ksym(first)?;
        Some(SymOffset {
            offset: addr.0 - start,
            sym,
        })
    }

    /// The symbols that start exactly at `addr`, in file order.
    pub(crate) fn at(&self, addr: KernelAddr) -> Vec<Ksym<'_>> {
        let lo = self.entries.partition_point(|e| e.addr < addr.0);
        let hi = self.entries.partition_point(|e| e.addr <= addr.0);
        (lo..hi).filter_map(|i| self.ksym(i)).collect()
    }

    /// All symbols in address order.
    pub fn iter(&self) -> impl Iterator<Item = Ksym<'_>> + '_ {
        (0..self.entries.len()).filter_map(|i| self.ksym(i))
    }

    /// Distinct names that start with `prefix` (all of them for `""`), in sorted
    /// order, each with the indices of its symbols in address order.
    pub(crate) fn names<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [u32])> + 'a {
        let lo = self
            .by_name
            .partition_point(|i| self.name_of(*i).cmp(prefix) == Ordering::Less);
        let mut rest = self.by_name.get(lo..).unwrap_or(&[]);
        std::iter::from_fn(move || {
            let first = *rest.first()?;
            let name = self.name_of(first);
            if !name.starts_with(prefix) {
                return None;
            }
            let n = rest
                .iter()
                .position(|i| self.name_of(*i) != name)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(n);
            rest = tail;
            Some((name, run))
        })
    }

    /// The symbols at `indices` (from [`KsymIndex::names`]).
    pub(crate) fn syms_at<'a>(&'a self, indices: &'a [u32]) -> impl Iterator<Item = Ksym<'a>> + 'a {
        indices.iter().filter_map(|i| self.ksym(*i as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real lines of this host's /proc/kallsyms plus module lines (see the file's header).
    pub(crate) const SAMPLE: &[u8] = include_bytes!("testdata/kallsyms");

    #[test]
    fn kallsyms_parsing() {
        let index = KsymIndex::load_from_reader(SAMPLE).unwrap();
        assert!(!index.addresses_hidden());
        let syms = index.find_all("do_sys_openat2");
        assert_eq!(syms.len(), 1);
        let sym = syms[0];
        assert_eq!(sym.addr, KernelAddr(0xffff_ffff_816b_7430));
        assert_eq!(sym.size, Some(0xd0));
        assert_eq!(sym.module, None);
        assert!(sym.sym_type.is_text());
        assert!(!sym.sym_type.is_global());
        let ext4 = index.find_all("ext4_file_open");
        assert_eq!(ext4.len(), 1);
        assert_eq!(ext4[0].module, Some("ext4"));
        assert_eq!(index.find_all("cleanup_module").len(), 2);
        assert!(index.find_all("no_such_function").is_empty());
    }

    #[test]
    fn resolves_like_percent_ps() {
        let index = KsymIndex::load_from_reader(SAMPLE).unwrap();
        let at = |a| index.resolve(KernelAddr(a)).unwrap().to_string();
        assert_eq!(at(0xffff_ffff_816b_7430), "do_sys_openat2+0x0/0xd0");
        assert_eq!(at(0xffff_ffff_816b_7445), "do_sys_openat2+0x15/0xd0");
        // Aliases: the first one listed wins.
        assert_eq!(at(0xffff_ffff_8100_0000), "srso_alias_untrain_ret+0x0/0x10");
        assert!(at(0xffff_ffff_c06f_5a12).ends_with(" [ext4]"));
        assert!(index.resolve(KernelAddr(0x1000)).is_none());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text: &[u8] = b"\n\
            garbage\n\
            ffffffff81000000\n\
            ffffffff81000000 TT two_letters\n\
            zzzzffff81000000 T bad_hex\n\
            ffffffff8100000000 T too_long\n\
            ffffffff81000010 T extra fields here\n\
            ffffffff81000020 t bad_module\tmod]\n\
            ffffffff81000030 t \xff\xfe\n\
            ffffffff81000040 T good\n\
            ffffffff81000050 t good_mod\t[m]\r\n";
        let index = KsymIndex::load_from_reader(text).unwrap();
        let names: Vec<_> = index.iter().map(|s| s.name).collect();
        assert_eq!(names, ["good", "good_mod"]);
        assert_eq!(index.find_all("good_mod")[0].module, Some("m"));
        assert_eq!(index.find_all("good")[0].size, Some(0x10));
        assert_eq!(index.find_all("good_mod")[0].size, None);
    }

    #[test]
    fn hidden_addresses_detected() {
        let text: &[u8] = b"0000000000000000 T _text\n\
            0000000000000000 t do_sys_openat2\n\
            0000000000000000 t cleanup_module\t[ext4]\n";
        let index = KsymIndex::load_from_reader(text).unwrap();
        assert!(index.addresses_hidden());
        assert!(index.resolve(KernelAddr(0)).is_none());
        assert_eq!(index.find_all("do_sys_openat2")[0].size, None);
        let err = index.require_addresses().unwrap_err().to_string();
        assert!(err.contains("kptr_restrict=0"), "{err}");
        assert!(err.contains("root"), "{err}");
        let empty = KsymIndex::load_from_reader(&b""[..]).unwrap();
        assert!(empty.is_empty());
        assert!(!empty.addresses_hidden());
    }

    #[test]
    fn names_iterates_distinct() {
        let index = KsymIndex::load_from_reader(SAMPLE).unwrap();
        let names: Vec<_> = index.names("").map(|(n, _)| n).collect();
        let mut sorted = names.clone();
        sorted.dedup();
        assert_eq!(names, sorted);
        let (_, run) = index
            .names("")
            .find(|(n, _)| *n == "cleanup_module")
            .unwrap();
        assert_eq!(run.len(), 2);
        let vfs: Vec<_> = index.names("vfs_").map(|(n, _)| n).collect();
        assert_eq!(vfs, ["vfs_dup_fs_context_data", "vfs_read", "vfs_write"]);
    }

    /// The live table on this host; skipped where it cannot be read or is hidden.
    #[test]
    fn live_kallsyms_finds_do_sys_openat2() {
        let index = match KsymIndex::load() {
            Ok(index) => index,
            Err(e) => {
                eprintln!("skipping: {e}");
                return;
            }
        };
        if index.addresses_hidden() || index.is_empty() {
            eprintln!("skipping: /proc/kallsyms addresses are hidden");
            return;
        }
        let syms = index.find_all("do_sys_openat2");
        assert_eq!(syms.len(), 1, "{syms:?}");
        let back = index.resolve(syms[0].addr).unwrap().to_string();
        assert!(back.starts_with("do_sys_openat2+0x0/0x"), "{back}");
    }
}
