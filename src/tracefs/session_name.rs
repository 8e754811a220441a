//! Session names `tprobe_<pid>_<starttime>_<n>`: the group and the instance of one session.
//!
//! `<starttime>` is the owner's start time in clock ticks since boot (`/proc/<pid>/stat`
//! field 22), so a recycled pid is told apart from the owner; `<n>` counts sessions within
//! one process. The longest name (7-digit pid, 20-digit starttime, 10-digit n) is 46
//! characters, within the kernel's 63.

use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;

use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;

const PREFIX: &str = "tprobe_";

/// Sessions created by this process so far.
static NEXT_SESSION: AtomicU32 = AtomicU32::new(0);

/// The name of one session's group and instance, and who owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionName {
    pid: u32,
    starttime: u64,
    n: u32,
}

impl SessionName {
    /// A fresh name for a new session of this process.
    pub fn next_for_this_process() -> TracefsResult<Self> {
        let pid = std::process::id();
        let stat = Path::new("/proc/self/stat");
        let text =
            std::fs::read(stat).map_err(|e| TracefsError::io(TracefsOp::NameSession, stat, e))?;
        let starttime = proc_starttime(&text).ok_or_else(|| {
            TracefsError::new(
                TracefsOp::NameSession,
                stat,
                TracefsErrorKind::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "no start time in /proc/self/stat",
                )),
            )
        })?;
        let n = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        Ok(Self { pid, starttime, n })
    }

    /// A name from its parts.
    pub fn new(pid: u32, starttime: u64, n: u32) -> Self {
        Self { pid, starttime, n }
    }

    /// Reads a name; `None` unless it is exactly `tprobe_<pid>_<starttime>_<n>` in
    /// canonical decimal (so foreign groups that merely start with `tprobe_` are not ours).
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(PREFIX)?;
        let mut parts = rest.split('_');
        let pid = decimal(parts.next()?)?;
        let starttime = decimal(parts.next()?)?;
        let n = decimal(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            pid: u32::try_from(pid).ok()?,
            starttime,
            n: u32::try_from(n).ok()?,
        })
    }

    /// The owning process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The owner's start time in clock ticks since boot.
    pub fn starttime(&self) -> u64 {
        self.starttime
    }

    /// The session's number within its process.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Whether the owning process still runs: its pid exists and has the same start time.
    /// When that can't be told (an unreadable `stat`), it counts as alive, so `tprobe clean`
    /// never removes a live session's probes.
    pub fn is_owner_alive(&self) -> bool {
        self.is_owner_alive_in(Path::new("/proc"))
    }

    /// [`is_owner_alive`](Self::is_owner_alive) against another procfs root (tests).
    pub fn is_owner_alive_in(&self, proc_root: &Path) -> bool {
        let stat = proc_root.join(self.pid.to_string()).join("stat");
        match std::fs::read(stat) {
            Ok(text) => match proc_starttime(&text) {
                Some(t) => t == self.starttime,
                None => true,
            },
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}_{}_{}", self.pid, self.starttime, self.n)
    }
}

/// Whether `name` is a tprobe session whose owner still runs: `None` when `name` is not
/// a tprobe session name (a foreign group or instance: never touch it).
pub fn is_owner_alive(name: &str) -> Option<bool> {
    SessionName::parse(name).map(|s| s.is_owner_alive())
}

/// Field 22 (`starttime`) of a `/proc/<pid>/stat` text. The comm (field 2) may hold spaces
/// and parentheses, so fields are counted after its last `)`.
pub fn proc_starttime(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let after = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // After the comm come fields 3 (state) … ; starttime is field 22, the 20th of these.
    let field = after.split_ascii_whitespace().nth(19)?;
    field.parse().ok()
}

/// Canonical decimal: digits only, no leading zero (except `0` itself).
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &[u8] = b"4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn starttime_after_odd_comm() {
        assert_eq!(proc_starttime(STAT), Some(987_654));
        assert_eq!(proc_starttime(b"1 (x) S 1"), None);
        assert_eq!(proc_starttime(b""), None);
    }

    #[test]
    fn round_trip_and_strictness() {
        let s = SessionName::new(4_194_304, u64::MAX, u32::MAX);
        let text = s.to_string();
        assert!(text.len() <= 63, "{}", text.len());
        assert_eq!(SessionName::parse(&text), Some(s));
        for bad in [
            "tprobe_1_2",
            "tprobe_1_2_3_4",
            "tprobe_01_2_3",
            "tprobe_1_2_x",
            "tprobe__2_3",
            "tprobe_99999999999_2_3",
            "uprobes",
            "tprobe_1_2_3 ",
        ] {
            assert_eq!(SessionName::parse(bad), None, "{bad}");
        }
        assert_eq!(is_owner_alive("kprobes"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_recycled_pid_is_not() {
        let me = SessionName::next_for_this_process().unwrap();
        let again = SessionName::next_for_this_process().unwrap();
        assert_ne!(me, again);
        assert_eq!(me.pid(), std::process::id());
        assert!(me.is_owner_alive());
        let recycled = SessionName::new(me.pid(), me.starttime() + 1, 0);
        assert!(!recycled.is_owner_alive());
        // pid_max is at most 4194304: this pid can't exist.
        assert!(!SessionName::new(4_194_305, 1, 0).is_owner_alive());
    }

    #[test]
    fn fake_proc_root() {
        let dir = crate::tracefs::test_dir::TestDir::new("proc");
        std::fs::create_dir_all(dir.path().join("77")).unwrap();
        std::fs::write(dir.path().join("77/stat"), STAT).unwrap();
        assert!(SessionName::new(77, 987_654, 0).is_owner_alive_in(dir.path()));
        assert!(!SessionName::new(77, 987_655, 0).is_owner_alive_in(dir.path()));
        assert!(!SessionName::new(78, 987_654, 0).is_owner_alive_in(dir.path()));
    }
}
