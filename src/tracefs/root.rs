//! [`Tracefs`]: where the tracefs mount is, and every path under it.

use std::io;
use std::path::Path;
use std::path::PathBuf;

use nix::errno::Errno;

use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;
use super::features::Features;

/// The usual tracefs mount point (4.1+).
pub const DEFAULT_TRACEFS: &str = "/sys/kernel/tracing";
/// Where debugfs exposes tracefs on older setups.
pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";
/// The file listing this kernel's tracing features.
pub const README: &str = "README";
/// Kernel probe definitions.
pub const KPROBE_EVENTS: &str = "kprobe_events";
/// User-space probe definitions.
pub const UPROBE_EVENTS: &str = "uprobe_events";
/// Every dynamic event (5.0+).
pub const DYNAMIC_EVENTS: &str = "dynamic_events";
/// Why the last command was refused (5.1+).
pub const ERROR_LOG: &str = "error_log";
/// Private tracing instances.
pub const INSTANCES: &str = "instances";
/// The consuming reader of an instance's buffer.
pub const TRACE_PIPE: &str = "trace_pipe";

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// A tracefs mount: every tracefs file tprobe touches is a path under `root`, so tests can
/// point it at a temporary directory laid out like tracefs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracefs {
    root: PathBuf,
}

impl Tracefs {
    /// Uses `root` as the tracefs mount, without checking it.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Finds the mount: a `tracefs` (or debugfs `tracing/`) mount in
    /// `/proc/self/mountinfo`, then `/sys/kernel/tracing`, then `/sys/kernel/debug/tracing`;
    /// the first that holds a `README` wins.
    pub fn find() -> TracefsResult<Self> {
        let mountinfo = std::fs::read(MOUNTINFO).unwrap_or_default();
        let mut candidates = mount_candidates(&mountinfo);
        for fallback in [DEFAULT_TRACEFS, DEBUGFS_TRACING] {
            let p = PathBuf::from(fallback);
            if !candidates.contains(&p) {
                candidates.push(p);
            }
        }
        let mut refused: Option<(PathBuf, io::Error)> = None;
        for root in candidates {
            let readme = root.join(README);
            match std::fs::metadata(&readme) {
                Ok(m) if m.is_file() => return Ok(Self { root }),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error().map(Errno::from_raw),
                        Some(Errno::EACCES | Errno::EPERM)
                    ) =>
                {
                    refused.get_or_insert((readme, e));
                }
                Err(_) => {}
            }
        }
        if let Some((path, e)) = refused {
            return Err(TracefsError::io(TracefsOp::Find, path, e));
        }
        let kind = if tracefs_in_kernel() {
            TracefsErrorKind::NotMounted
        } else {
            TracefsErrorKind::NotSupported
        };
        Err(TracefsError::new(TracefsOp::Find, DEFAULT_TRACEFS, kind))
    }

    /// Mounts tracefs on `/sys/kernel/tracing` (`mount -t tracefs nodev /sys/kernel/tracing`)
    /// and returns it; for `--mount`. An existing mount there is reused.
    pub fn mount() -> TracefsResult<Self> {
        let target = Path::new(DEFAULT_TRACEFS);
        if target.join(README).is_file() {
            return Ok(Self::at(target));
        }
        let res = nix::mount::mount(
            Some("nodev"),
            target,
            Some("tracefs"),
            nix::mount::MsFlags::MS_NOSUID
                | nix::mount::MsFlags::MS_NODEV
                | nix::mount::MsFlags::MS_NOEXEC,
            None::<&str>,
        );
        match res {
            Ok(()) => Ok(Self::at(target)),
            Err(Errno::ENODEV) => Err(TracefsError::new(
                TracefsOp::Mount,
                target,
                TracefsErrorKind::NotSupported,
            )),
            Err(Errno::ENOENT) => Err(TracefsError::new(
                TracefsOp::Mount,
                target,
                if tracefs_in_kernel() {
                    TracefsErrorKind::Io(io::Error::from(Errno::ENOENT))
                } else {
                    TracefsErrorKind::NotSupported
                },
            )),
            Err(e) => Err(TracefsError::io(
                TracefsOp::Mount,
                target,
                io::Error::from(e),
            )),
        }
    }

    /// The mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `root/rel`.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// This kernel's features ([`Features::detect`]).
    pub fn features(&self) -> TracefsResult<Features> {
        Features::detect(self)
    }

    /// Reads a file under the root.
    pub fn read(&self, rel: impl AsRef<Path>) -> TracefsResult<Vec<u8>> {
        let path = self.path(rel);
        std::fs::read(&path).map_err(|e| TracefsError::io(TracefsOp::Read, &path, e))
    }

    /// The names of every instance under `instances/`.
    pub fn instance_names(&self) -> TracefsResult<Vec<String>> {
        let dir = self.path(INSTANCES);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TracefsError::io(TracefsOp::Read, &dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TracefsError::io(TracefsOp::Read, &dir, e))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Whether the running kernel knows the `tracefs` filesystem type.
fn tracefs_in_kernel() -> bool {
    match std::fs::read_to_string("/proc/filesystems") {
        Ok(text) => text
            .lines()
            .any(|l| l.split_whitespace().last() == Some("tracefs")),
        // Can't tell: assume it is there and only needs mounting.
        Err(_) => true,
    }
}

/// Tracefs roots named by a mountinfo text, best first: tracefs mounts (the one at
/// `/sys/kernel/tracing` first), then `tracing/` under debugfs mounts.
pub(crate) fn mount_candidates(mountinfo: &[u8]) -> Vec<PathBuf> {
    let mut tracefs = Vec::new();
    let mut debugfs = Vec::new();
    for line in mountinfo.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        // id parent maj:min root mount_point options [optional…] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        let Some(fstype) = right.split(' ').next() else {
            continue;
        };
        let Some(mount_point) = unescape_octal(mount_point) else {
            continue;
        };
        match fstype {
            "tracefs" => tracefs.push(PathBuf::from(mount_point)),
            "debugfs" => debugfs.push(PathBuf::from(mount_point).join("tracing")),
            _ => {}
        }
    }
    tracefs.sort_by_key(|p| p != Path::new(DEFAULT_TRACEFS));
    tracefs.dedup();
    tracefs.extend(debugfs);
    tracefs
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            let digits = bytes.get(i + 1..i + 4)?;
            let text = std::str::from_utf8(digits).ok()?;
            out.push(u8::from_str_radix(text, 8).ok()?);
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_SAMPLE: &[u8] = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
30 22 0:7 / /sys/kernel/debug rw,nosuid,nodev,noexec,relatime shared:12 - debugfs debugfs rw\n\
31 22 0:13 / /mnt/my\\040trace rw,relatime - tracefs nodev rw\n\
42 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs nodev rw\n\
bad line\n";

    #[test]
    fn candidates_prefer_sys_kernel_tracing() {
        let c = mount_candidates(MOUNTINFO_SAMPLE);
        assert_eq!(
            c,
            vec![
                PathBuf::from("/sys/kernel/tracing"),
                PathBuf::from("/mnt/my trace"),
                PathBuf::from("/sys/kernel/debug/tracing"),
            ]
        );
        assert!(mount_candidates(b"").is_empty());
        assert!(mount_candidates(b"\xff - tracefs").is_empty());
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal("a\\040b\\134").as_deref(), Some("a b\\"));
        assert_eq!(unescape_octal("a\\04"), None);
    }
}
