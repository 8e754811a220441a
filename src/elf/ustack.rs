//! User stack frames (`<00007f…>` from the kernel's userstacktrace) to
//! `func+0x12 (/usr/lib/…/libc.so.6)`, through the process's `/proc/PID/maps` and the
//! mapped file's ELF symbols. Files are read once per run (cached by path and inode);
//! a process's maps are re-read when an address falls outside the cached ones (a library
//! loaded later). A frame that cannot be symbolized is kept as the kernel printed it.

use std::collections::HashMap;
use std::path::PathBuf;

use super::proc_maps::parse_maps;
use super::proc_maps::Mapping;
use super::sym_resolver::ElfInfo;
use super::sym_resolver::DEBUG_ROOT;
use crate::decode::Record;
use crate::stream::RawSink;

/// Functions of one file, sorted by address, for address -> name lookups.
#[derive(Debug)]
struct FileSymbols {
    /// (address, size, name to show).
    functions: Vec<(u64, u64, String)>,
    info: ElfInfo,
}

impl FileSymbols {
    fn load(read_from: &std::path::Path) -> Option<Self> {
        let info = ElfInfo::read(read_from, &[PathBuf::from(DEBUG_ROOT)]).ok()?;
        let mut functions: Vec<(u64, u64, String)> = info
            .functions
            .iter()
            .map(|f| (f.address, f.size, f.display_name().to_owned()))
            .collect();
        // Of aliases at one address, show the public name (`malloc`, not `__malloc`).
        functions.sort_by(|a, b| {
            (a.0, a.2.starts_with('_'), a.2.len()).cmp(&(b.0, b.2.starts_with('_'), b.2.len()))
        });
        functions.dedup_by_key(|(a, _, _)| *a);
        Some(Self { functions, info })
    }

    /// `func+0xOFF` for a file offset, if a function covers it.
    fn name_at_offset(&self, offset: u64) -> Option<String> {
        let vaddr = self.info.vaddr_of_offset(offset)?;
        let at = self.functions.partition_point(|(a, _, _)| *a <= vaddr);
        let (start, size, name) = self.functions.get(at.checked_sub(1)?)?;
        // A size of 0 (hand-written assembly) covers up to the next symbol.
        let next = self.functions.get(at).map_or(u64::MAX, |(a, _, _)| *a);
        let end = if *size == 0 { next } else { start + size };
        (vaddr < end).then(|| format!("{name}+0x{:x}", vaddr - start))
    }
}

/// Symbolizes user stack frames, caching maps per process and symbols per file.
#[derive(Debug, Default)]
pub struct UstackSymbolizer {
    maps: HashMap<i32, Vec<Mapping>>,
    files: HashMap<(String, u64), Option<FileSymbols>>,
}

/// The address in a frame as the kernel prints it: `<00007f…>`, `0x…`, or bare hex.
pub fn frame_address(frame: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(frame).ok()?.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

impl UstackSymbolizer {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn mapping(&mut self, pid: i32, addr: u64) -> Option<Mapping> {
        let find = |maps: &[Mapping]| {
            maps.iter()
                .find(|m| addr >= m.start && addr < m.end)
                .cloned()
        };
        if let Some(found) = self.maps.get(&pid).and_then(|m| find(m)) {
            return Some(found);
        }
        let data = std::fs::read(format!("/proc/{pid}/maps")).ok()?;
        let maps = parse_maps(&data);
        let found = find(&maps);
        self.maps.insert(pid, maps);
        found
    }

    /// `func+0x12 (/path)`, `/path+0xOFF` when no function covers it, or `None` when the
    /// address is in no file mapping of `pid` (or the process is gone).
    pub fn symbolize(&mut self, pid: i32, frame: &[u8]) -> Option<String> {
        let addr = frame_address(frame)?;
        let mapping = self.mapping(pid, addr)?;
        let offset = mapping.file_offset_of(addr)?;
        let key = (mapping.path.clone(), mapping.inode);
        let symbols = self.files.entry(key).or_insert_with(|| {
            // map_files reaches the mapped inode even if deleted or in another mount
            // namespace; the plain path is the fallback when it cannot be opened.
            let via_map_files = PathBuf::from(format!(
                "/proc/{pid}/map_files/{:x}-{:x}",
                mapping.start, mapping.end
            ));
            FileSymbols::load(&via_map_files)
                .or_else(|| FileSymbols::load(std::path::Path::new(&mapping.path)))
        });
        Some(
            match symbols.as_ref().and_then(|s| s.name_at_offset(offset)) {
                Some(name) => format!("{name} ({})", mapping.path),
                None => format!("{}+0x{offset:x}", mapping.path),
            },
        )
    }
}

impl UstackSymbolizer {
    /// Hands `use_record` the record with its user stack symbolized (frames that cannot
    /// be are kept as printed); other records pass through unchanged.
    pub fn with_symbolized<R>(
        &mut self,
        record: &Record<'_>,
        use_record: impl FnOnce(&Record<'_>) -> R,
    ) -> R {
        let Record::Event(event) = record else {
            return use_record(record);
        };
        if event.ustack.is_empty() {
            return use_record(record);
        }
        let pid = event.header.pid;
        let named: Vec<Vec<u8>> = event
            .ustack
            .iter()
            .map(|f| {
                self.symbolize(pid, f)
                    .map_or_else(|| f.to_vec(), String::into_bytes)
            })
            .collect();
        let mut shown = event.clone();
        shown.ustack = named.iter().map(Vec::as_slice).collect();
        use_record(&Record::Event(shown))
    }
}

/// A [`RawSink`] that symbolizes user stacks before handing records on (`--ustack`).
#[derive(Debug)]
pub struct SymbolizingSink<'s, S> {
    inner: &'s mut S,
    symbolizer: UstackSymbolizer,
}

impl<'s, S: RawSink> SymbolizingSink<'s, S> {
    /// Wraps `inner`.
    pub fn new(inner: &'s mut S) -> Self {
        Self {
            inner,
            symbolizer: UstackSymbolizer::new(),
        }
    }
}

impl<S: RawSink> RawSink for SymbolizingSink<'_, S> {
    fn record(&mut self, record: &Record<'_>) -> std::io::Result<()> {
        let inner = &mut *self.inner;
        self.symbolizer.with_symbolized(record, |r| inner.record(r))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse() {
        assert_eq!(frame_address(b"<00007fbc74d3f930>"), Some(0x7fbc_74d3_f930));
        assert_eq!(frame_address(b"0x10"), Some(0x10));
        assert_eq!(frame_address(b"/usr/lib/libc.so.6[+0x1234]"), None);
        assert_eq!(frame_address(b"<>"), None);
    }

    /// An address inside this test binary's own code symbolizes to a function of it.
    #[test]
    fn own_function_symbolizes() {
        #[inline(never)]
        fn marker() -> u64 {
            std::hint::black_box(7)
        }
        let addr = marker as *const () as usize as u64;
        let mut symbolizer = UstackSymbolizer::new();
        let frame = format!("<{addr:016x}>");
        let pid = i32::try_from(std::process::id()).unwrap();
        let text = symbolizer.symbolize(pid, frame.as_bytes()).unwrap();
        assert!(text.contains("marker+0x0 ("), "{text}");
        assert!(symbolizer.symbolize(pid, b"<0000000000000010>").is_none());
    }
}
