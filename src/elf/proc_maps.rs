//! `/proc/PID/maps`: which file is mapped where in a process. Pure over bytes.
//!
//! Line: `START-END PERMS OFFSET MAJ:MIN INODE   PATH`, PATH optional, possibly with
//! spaces, and ending in ` (deleted)` when the file was removed or replaced after it
//! was mapped (an upgraded library in a long-running process).

/// One mapping of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `r-xp` and the like.
    pub perms: String,
    /// File offset of `start`.
    pub offset: u64,
    /// The inode (0 for anonymous memory).
    pub inode: u64,
    /// The path as the process sees it, without ` (deleted)`.
    pub path: String,
    /// Whether the kernel marked the file deleted.
    pub deleted: bool,
}

impl Mapping {
    /// Whether this mapping is executable.
    pub fn is_exec(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }

    /// The file offset of address `addr` in this mapping, if it is inside.
    pub fn file_offset_of(&self, addr: u64) -> Option<u64> {
        (addr >= self.start && addr < self.end).then(|| addr - self.start + self.offset)
    }
}

/// The file mappings (lines with an absolute path) of a maps file; other lines
/// (anonymous, `[heap]`, `[vdso]`, malformed) are skipped.
pub fn parse_maps(data: &[u8]) -> Vec<Mapping> {
    data.split(|b| *b == b'\n').filter_map(parse_line).collect()
}

fn parse_line(line: &[u8]) -> Option<Mapping> {
    let text = std::str::from_utf8(line).ok()?;
    let mut rest = text;
    let mut field = || {
        let trimmed = rest.trim_start_matches(' ');
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let (f, r) = trimmed.split_at(end);
        rest = r;
        f
    };
    let range = field();
    let perms = field().to_owned();
    let offset = u64::from_str_radix(field(), 16).ok()?;
    let _dev = field();
    let inode = field().parse().ok()?;
    let path = rest.trim_start_matches(' ');
    if !path.starts_with('/') {
        return None;
    }
    let (path, deleted) = match path.strip_suffix(" (deleted)") {
        Some(p) => (p, true),
        None => (path, false),
    };
    let (start, end) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        inode,
        path: path.to_owned(),
        deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the kernel's format (hand-made, modelled on `cat /proc/self/maps` here).
    #[test]
    fn lines() {
        let maps = b"55d0c6a00000-55d0c6a02000 r--p 00000000 08:01 1311 /usr/bin/cat\n\
55d0c6a02000-55d0c6a07000 r-xp 00002000 08:01 1311 /usr/bin/cat\n\
7f00aa000000-7f00aa100000 r-xp 00028000 08:01 99   /tmp/my lib.so (deleted)\n\
7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]\n\
7ffd3000-7ffd4000 rw-p 00000000 00:00 0\n\
garbage\n";
        let m = parse_maps(maps);
        assert_eq!(m.len(), 3);
        assert!(m[1].is_exec() && !m[0].is_exec());
        assert_eq!(m[1].file_offset_of(0x55d0_c6a0_2010), Some(0x2010));
        assert_eq!(m[1].file_offset_of(0x55d0_c6a0_7000), None);
        assert_eq!((m[2].path.as_str(), m[2].deleted), ("/tmp/my lib.so", true));
        assert_eq!(m[2].inode, 99);
    }

    #[test]
    fn garbage_is_skipped() {
        for line in [
            &b"-"[..],
            b"x-y r-xp 0 0 0 /a",
            b"1-2",
            b"1-2 r-xp zz 0 0 /a",
            b"\xff",
        ] {
            assert!(parse_maps(line).is_empty());
        }
    }
}
