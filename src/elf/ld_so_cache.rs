//! `/etc/ld.so.cache`: library soname -> path, as the dynamic loader finds it.
//!
//! Layouts (glibc `sysdeps/generic/dl-cache.h`):
//! - new: `"glibc-ld.so.cache" "1.1"`, `u32 nlibs`, `u32 len_strings`, `u8 flags`, 3 pad,
//!   `u32 extension_offset`, 3×`u32` unused (48 bytes), then `nlibs` entries of
//!   `i32 flags, u32 key, u32 value, u32 osversion, u64 hwcap` (24 bytes). String offsets
//!   are relative to the start of this header.
//! - old: `"ld.so-1.7.0"`, pad, `u32 nlibs`, entries `i32 flags, u32 key, u32 value`
//!   (12 bytes); glibc before 2.32 wrote the new layout right after it, 8-byte aligned,
//!   and the loader prefers that part. An old-only cache has offsets relative to the end
//!   of its entries.
//!
//! Pure over bytes: every offset is bounds-checked, and bad input is an error, never a
//! panic. Integers are little-endian unless the header's endianness flag says big.

use std::path::Path;
use std::path::PathBuf;

/// The path of the loader's cache.
pub const LD_SO_CACHE: &str = "/etc/ld.so.cache";

const MAGIC_OLD: &[u8] = b"ld.so-1.7.0";
const MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER_LEN: usize = 16;
const OLD_ENTRY_LEN: usize = 12;
const NEW_HEADER_LEN: usize = 48;
const NEW_ENTRY_LEN: usize = 24;

/// The entry's type: an ELF library for glibc (the only kind a uprobe target can be).
const FLAG_ELF: u32 = 0x0001;
const FLAG_ELF_LIBC6: u32 = 0x0003;
const FLAG_TYPE_MASK: u32 = 0x00ff;
const FLAG_REQUIRED_MASK: u32 = 0xff00;

/// Why the cache could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdSoCacheError {
    /// The file starts with neither known magic.
    #[error("not an ld.so.cache (unknown magic; `ldconfig` rebuilds /etc/ld.so.cache)")]
    BadMagic,
    /// A header or table runs past the end of the file.
    #[error("ld.so.cache is truncated: {what} needs bytes up to {end}, the file has {len} (`ldconfig` rebuilds it)")]
    Truncated {
        /// The part that does not fit.
        what: &'static str,
        /// Where it would end.
        end: u64,
        /// The file's length.
        len: usize,
    },
}

/// One library of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The soname, e.g. `libc.so.6`.
    pub name: String,
    /// The file, e.g. `/lib/x86_64-linux-gnu/libc.so.6`.
    pub path: PathBuf,
    /// The loader's flags: type (low byte) and ABI (`0x0300` = x86-64).
    pub flags: u32,
    /// The hardware capabilities the entry needs (0 = none).
    pub hwcap: u64,
}

impl CacheEntry {
    /// Whether the loader of this machine's ABI would use this entry.
    pub fn is_host_abi(&self) -> bool {
        self.flags == FLAG_ELF || self.flags == host_abi_flags()
    }

    /// The ABI as `ldconfig -p` prints it (`libc6,x86-64`).
    pub fn abi_label(&self) -> String {
        let kind = match self.flags & FLAG_TYPE_MASK {
            0 => "libc4",
            FLAG_ELF => "ELF",
            0x0002 => "libc5",
            FLAG_ELF_LIBC6 => "libc6",
            _ => "unknown",
        };
        let arch = match self.flags & FLAG_REQUIRED_MASK {
            0 => "",
            0x0100 | 0x0200 => ",64bit",
            0x0300 => ",x86-64",
            0x0400 => ",64bit",
            0x0500 => ",64bit",
            0x0600 => ",N32",
            0x0700 => ",64bit",
            0x0800 => ",x32",
            0x0900 => ",hard-float",
            0x0a00 => ",AArch64",
            _ => ",other",
        };
        format!("{kind}{arch}")
    }
}

/// The flags of this machine's native libraries (glibc's `_DL_CACHE_DEFAULT_ID`).
pub fn host_abi_flags() -> u32 {
    let arch = if cfg!(target_arch = "x86_64") {
        if cfg!(target_pointer_width = "32") {
            0x0800
        } else {
            0x0300
        }
    } else if cfg!(target_arch = "aarch64") {
        0x0a00
    } else if cfg!(any(
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "sparc64"
    )) {
        // Their 64-bit flags differ per arch; only the 32-bit ones are 0.
        if cfg!(target_arch = "powerpc64") {
            0x0500
        } else if cfg!(target_arch = "s390x") {
            0x0400
        } else {
            0x0100
        }
    } else if cfg!(target_arch = "riscv64") {
        0x1000
    } else if cfg!(target_arch = "loongarch64") {
        0x1200
    } else {
        0
    };
    FLAG_ELF_LIBC6 | arch
}

/// The parsed cache, entries in file order (the loader's search order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdSoCache {
    entries: Vec<CacheEntry>,
}

/// A bounds-checked little- or big-endian reader.
struct Bytes<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Bytes<'_> {
    fn u32_at(&self, at: usize, what: &'static str) -> Result<u32, LdSoCacheError> {
        let raw: [u8; 4] = self
            .slice(at, 4, what)?
            .try_into()
            .map_err(|_| self.short(what, at, 4))?;
        Ok(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    fn u64_at(&self, at: usize, what: &'static str) -> Result<u64, LdSoCacheError> {
        let raw: [u8; 8] = self
            .slice(at, 8, what)?
            .try_into()
            .map_err(|_| self.short(what, at, 8))?;
        Ok(if self.big_endian {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        })
    }

    fn slice(&self, at: usize, len: usize, what: &'static str) -> Result<&[u8], LdSoCacheError> {
        at.checked_add(len)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| self.short(what, at, len))
    }

    fn short(&self, what: &'static str, at: usize, len: usize) -> LdSoCacheError {
        LdSoCacheError::Truncated {
            what,
            end: at as u64 + len as u64,
            len: self.data.len(),
        }
    }

    /// The NUL-terminated string at `base + offset`.
    fn c_str(&self, base: usize, offset: u32, what: &'static str) -> Result<&[u8], LdSoCacheError> {
        let start = usize::try_from(offset)
            .ok()
            .and_then(|o| base.checked_add(o))
            .filter(|s| *s < self.data.len())
            .ok_or_else(|| self.short(what, base, offset as usize))?;
        let rest = &self.data[start..];
        let len = memchr::memchr(0, rest).ok_or_else(|| self.short(what, start, rest.len() + 1))?;
        Ok(&rest[..len])
    }
}

impl LdSoCache {
    /// Reads `/etc/ld.so.cache`.
    pub fn load() -> std::io::Result<Result<Self, LdSoCacheError>> {
        Self::load_from(Path::new(LD_SO_CACHE))
    }

    /// Reads a cache file; the outer error is I/O, the inner one the format.
    pub fn load_from(path: &Path) -> std::io::Result<Result<Self, LdSoCacheError>> {
        Ok(Self::parse(&std::fs::read(path)?))
    }

    /// Parses a cache image.
    pub fn parse(data: &[u8]) -> Result<Self, LdSoCacheError> {
        if data.starts_with(MAGIC_NEW) {
            return Self::parse_new(data, 0);
        }
        if !data.starts_with(MAGIC_OLD) {
            return Err(LdSoCacheError::BadMagic);
        }
        let le = Bytes {
            data,
            big_endian: false,
        };
        let nlibs = le.u32_at(12, "the old header")?;
        let entries_end = (nlibs as usize)
            .checked_mul(OLD_ENTRY_LEN)
            .and_then(|n| n.checked_add(OLD_HEADER_LEN))
            .filter(|end| *end <= data.len())
            .ok_or(LdSoCacheError::Truncated {
                what: "the old entries",
                end: OLD_HEADER_LEN as u64 + u64::from(nlibs) * OLD_ENTRY_LEN as u64,
                len: data.len(),
            })?;
        // The new layout follows, aligned to 8, when ldconfig wrote both.
        let new_start = entries_end.next_multiple_of(8);
        if data
            .get(new_start..)
            .is_some_and(|rest| rest.starts_with(MAGIC_NEW))
        {
            return Self::parse_new(data, new_start);
        }
        let mut entries = Vec::with_capacity(nlibs as usize);
        for i in 0..nlibs as usize {
            let at = OLD_HEADER_LEN + i * OLD_ENTRY_LEN;
            let flags = le.u32_at(at, "an old entry")?;
            let key = le.c_str(entries_end, le.u32_at(at + 4, "an old entry")?, "a name")?;
            let value = le.c_str(entries_end, le.u32_at(at + 8, "an old entry")?, "a path")?;
            entries.push(entry(flags, key, value, 0));
        }
        Ok(Self { entries })
    }

    fn parse_new(data: &[u8], start: usize) -> Result<Self, LdSoCacheError> {
        // Header byte 28: 0 = unknown (host order), 1 = invalid, 2 = little, 3 = big.
        let big_endian = data.get(start + 28) == Some(&3);
        let bytes = Bytes { data, big_endian };
        let nlibs = bytes.u32_at(start + 20, "the header")?;
        bytes.slice(start, NEW_HEADER_LEN, "the header")?;
        let table_len = (nlibs as usize).checked_mul(NEW_ENTRY_LEN);
        table_len
            .and_then(|n| n.checked_add(start + NEW_HEADER_LEN))
            .filter(|end| *end <= data.len())
            .ok_or(LdSoCacheError::Truncated {
                what: "the entries",
                end: (start + NEW_HEADER_LEN) as u64 + u64::from(nlibs) * NEW_ENTRY_LEN as u64,
                len: data.len(),
            })?;
        let mut entries = Vec::with_capacity(nlibs as usize);
        for i in 0..nlibs as usize {
            let at = start + NEW_HEADER_LEN + i * NEW_ENTRY_LEN;
            let flags = bytes.u32_at(at, "an entry")?;
            let key = bytes.c_str(start, bytes.u32_at(at + 4, "an entry")?, "a name")?;
            let value = bytes.c_str(start, bytes.u32_at(at + 8, "an entry")?, "a path")?;
            let hwcap = bytes.u64_at(at + 16, "an entry")?;
            entries.push(entry(flags, key, value, hwcap));
        }
        Ok(Self { entries })
    }

    /// Every entry, in the loader's search order.
    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }

    /// The file the loader of this machine would load for soname `name` (exact match,
    /// e.g. `libc.so.6`): the first entry of the host ABI.
    pub fn lookup(&self, name: &str) -> Option<&Path> {
        self.entries
            .iter()
            .find(|e| e.name == name && e.is_host_abi())
            .map(|e| e.path.as_path())
    }

    /// Host-ABI entries for a short library name: `libc` and `c` match `libc.so`,
    /// `libc.so.6`, … Exact sonames come first; each path once.
    pub fn candidates(&self, short: &str) -> Vec<&CacheEntry> {
        let base = if short.starts_with("lib") {
            short.to_owned()
        } else {
            format!("lib{short}")
        };
        let prefix = format!("{base}.so");
        let mut found: Vec<&CacheEntry> = Vec::new();
        let matches = |e: &&CacheEntry| {
            e.is_host_abi()
                && (e.name == short
                    || e.name == prefix
                    || e.name
                        .strip_prefix(&prefix)
                        .is_some_and(|v| v.starts_with('.')))
        };
        for e in self.entries.iter().filter(matches) {
            if !found.iter().any(|f| f.path == e.path) {
                found.push(e);
            }
        }
        found.sort_by_key(|e| e.name != short);
        found
    }
}

fn entry(flags: u32, key: &[u8], value: &[u8], hwcap: u64) -> CacheEntry {
    use std::os::unix::ffi::OsStrExt;
    CacheEntry {
        name: String::from_utf8_lossy(key).into_owned(),
        path: PathBuf::from(std::ffi::OsStr::from_bytes(value)),
        flags,
        hwcap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made image in the new layout (labelled: built here, not captured).
    fn new_image(entries: &[(u32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = NEW_HEADER_LEN + entries.len() * NEW_ENTRY_LEN;
        let mut table = Vec::new();
        for (flags, name, path) in entries {
            let key = strings_at + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let value = strings_at + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(key as u32).to_le_bytes());
            table.extend_from_slice(&(value as u32).to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&0u64.to_le_bytes());
        }
        let mut out = MAGIC_NEW.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        out.extend(table);
        out.extend(strings);
        out
    }

    #[test]
    fn new_layout_prefers_the_host_abi() {
        let image = new_image(&[
            (0x0003, "libz.so.1", "/usr/lib32/libz.so.1"),
            (host_abi_flags(), "libz.so.1", "/lib64/libz.so.1"),
            (host_abi_flags(), "libz.so", "/lib64/libz.so"),
        ]);
        let cache = LdSoCache::parse(&image).unwrap();
        assert_eq!(cache.entries().len(), 3);
        assert_eq!(
            cache.lookup("libz.so.1"),
            Some(Path::new("/lib64/libz.so.1"))
        );
        assert_eq!(cache.lookup("libq.so"), None);
        let short: Vec<&str> = cache
            .candidates("libz")
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(short, ["libz.so.1", "libz.so"]);
        assert_eq!(cache.candidates("z").len(), 2);
        assert!(cache.candidates("libzz").is_empty());
    }

    #[test]
    fn old_layout_with_new_after_it() {
        let new = new_image(&[(host_abi_flags(), "liba.so.1", "/lib/liba.so.1")]);
        let mut image = MAGIC_OLD.to_vec();
        image.push(0);
        image.extend_from_slice(&1u32.to_le_bytes());
        // One old entry pointing at garbage: the new part wins.
        image.extend_from_slice(&[3, 0, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0]);
        while image.len() % 8 != 0 {
            image.push(0);
        }
        image.extend(new);
        let cache = LdSoCache::parse(&image).unwrap();
        assert_eq!(cache.lookup("liba.so.1"), Some(Path::new("/lib/liba.so.1")));
    }

    #[test]
    fn old_layout_alone() {
        let mut image = MAGIC_OLD.to_vec();
        image.push(0);
        image.extend_from_slice(&1u32.to_le_bytes());
        image.extend_from_slice(&1u32.to_le_bytes());
        image.extend_from_slice(&0u32.to_le_bytes());
        image.extend_from_slice(&8u32.to_le_bytes());
        image.extend_from_slice(b"libb.so\0/x/libb.so\0");
        let cache = LdSoCache::parse(&image).unwrap();
        assert_eq!(cache.lookup("libb.so"), Some(Path::new("/x/libb.so")));
    }

    #[test]
    fn bad_images_are_errors() {
        assert_eq!(LdSoCache::parse(b""), Err(LdSoCacheError::BadMagic));
        assert_eq!(LdSoCache::parse(b"ELF"), Err(LdSoCacheError::BadMagic));
        let image = new_image(&[(3, "a", "/a"), (3, "b", "/b")]);
        for cut in 0..image.len() {
            assert!(LdSoCache::parse(&image[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = new_image(&[]);
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            LdSoCache::parse(&huge),
            Err(LdSoCacheError::Truncated { .. })
        ));
        let mut bad_offset = new_image(&[(3, "a", "/a")]);
        bad_offset[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LdSoCache::parse(&bad_offset).is_err());
        let mut old_huge = MAGIC_OLD.to_vec();
        old_huge.push(0);
        old_huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(LdSoCache::parse(&old_huge).is_err());
    }

    /// Every library `ldconfig -p` lists resolves to the same file here (first host-ABI
    /// entry per name, as the loader picks).
    #[test]
    fn agrees_with_ldconfig() {
        let Ok(Ok(cache)) = LdSoCache::load() else {
            eprintln!("skipped: no readable /etc/ld.so.cache");
            return;
        };
        let Ok(out) = std::process::Command::new("ldconfig").arg("-p").output() else {
            eprintln!("skipped: no ldconfig");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let mut listed = 0;
        let mut expected: Vec<(String, String)> = Vec::new();
        for line in text.lines().skip(1) {
            let Some((left, path)) = line.trim().split_once(" => ") else {
                continue;
            };
            let Some((name, abi)) = left.split_once(" (") else {
                continue;
            };
            listed += 1;
            let host_label = CacheEntry {
                name: String::new(),
                path: PathBuf::new(),
                flags: host_abi_flags(),
                hwcap: 0,
            }
            .abi_label();
            let is_host = abi.trim_end_matches(')').split(", ").next() == Some(&host_label);
            if is_host && !expected.iter().any(|(n, _)| n == name) {
                expected.push((name.to_owned(), path.to_owned()));
            }
        }
        assert_eq!(cache.entries().len(), listed, "entry count");
        assert!(!expected.is_empty());
        for (name, path) in &expected {
            assert_eq!(
                cache.lookup(name),
                Some(Path::new(path)),
                "{name} per ldconfig -p"
            );
        }
    }
}
