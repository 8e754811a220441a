//! Writing and deleting probe definitions: append-only, one `write()` per batch, whole
//! lines only (kernel-notes.md §1.1, §1.6, §7).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io;
use std::io::Write;
use std::path::Path;

use nix::errno::Errno;

use super::error::LineFault;
use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;
use super::error_log::LogMark;
use super::features::Feature;
use super::names::check_group_name;
use super::root::Tracefs;
use super::root::DYNAMIC_EVENTS;
use super::root::ERROR_LOG;
use super::root::KPROBE_EVENTS;
use super::root::UPROBE_EVENTS;
use crate::parse::parse_dynamic_event;
use crate::parse::parse_dynamic_events;
use crate::parse::DynEventKind;
use crate::parse::DynamicEvent;

/// The longest line the kernel accepts (WRITE_BUFSIZE − 2).
pub const MAX_LINE_LEN: usize = 4094;

/// One of the files probe definitions are written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventsFile {
    /// `kprobe_events`: kprobes and kretprobes.
    Kprobe,
    /// `uprobe_events`: uprobes and uretprobes.
    Uprobe,
    /// `dynamic_events`: every kind (the only file for fprobe, tprobe and eprobe).
    Dynamic,
}

impl EventsFile {
    /// The file's name under the tracefs root.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Kprobe => KPROBE_EVENTS,
            Self::Uprobe => UPROBE_EVENTS,
            Self::Dynamic => DYNAMIC_EVENTS,
        }
    }

    /// The feature that provides this file.
    pub fn feature(self) -> Feature {
        match self {
            Self::Kprobe => Feature::KprobeEvents,
            Self::Uprobe => Feature::UprobeEvents,
            Self::Dynamic => Feature::DynamicEvents,
        }
    }

    /// Where a definition belongs: uprobes in `uprobe_events`, kprobes in
    /// `kprobe_events`, everything else in `dynamic_events`.
    pub fn for_definition(def: &DynamicEvent<'_>) -> Self {
        match def.kind {
            DynEventKind::Probe | DynEventKind::ReturnProbe if def.is_uprobe() => Self::Uprobe,
            DynEventKind::Probe | DynEventKind::ReturnProbe => Self::Kprobe,
            _ => Self::Dynamic,
        }
    }
}

/// Checks one line before anything is written: no control byte (a newline would inject a
/// second command), no `#` (the kernel would cut the line there), not blank, not too long.
pub fn check_line(line: &str) -> Result<(), LineFault> {
    if let Some((at, _)) = line.char_indices().find(|(_, c)| c.is_control()) {
        return Err(LineFault::ControlByte(at));
    }
    if let Some(at) = line.find('#') {
        return Err(LineFault::Hash(at));
    }
    if line.trim().is_empty() {
        return Err(LineFault::Empty);
    }
    if line.len() > MAX_LINE_LEN {
        return Err(LineFault::TooLong(line.len()));
    }
    Ok(())
}

impl Tracefs {
    /// Appends `lines` to `file` in one `write()` (`O_WRONLY|O_APPEND`, never truncating:
    /// that would delete every probe on the machine). Every line is checked first
    /// ([`check_line`]); a bad one fails the call before anything is written.
    ///
    /// The kernel runs the lines in order and stops at the first it refuses: the error
    /// ([`TracefsErrorKind::ProbeRejected`]) says which line when that can be told, and the
    /// lines before it stay defined.
    pub fn write_definitions<S: AsRef<str>>(
        &self,
        file: EventsFile,
        lines: &[S],
    ) -> TracefsResult<()> {
        let path = self.path(file.file_name());
        let mut buf = String::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            check_line(line).map_err(|fault| {
                TracefsError::new(
                    TracefsOp::Define,
                    &path,
                    TracefsErrorKind::InvalidLine { line: i, fault },
                )
            })?;
            buf.push_str(line);
            buf.push('\n');
        }
        if buf.is_empty() {
            return Ok(());
        }
        let mark = LogMark::take(&self.path(ERROR_LOG));
        let before = if lines.len() > 1 {
            read_listing_file(&path)
        } else {
            None
        };
        let mut f =
            open_append(&path).map_err(|e| open_error(TracefsOp::Define, &path, file, e))?;
        match f.write(buf.as_bytes()) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(n) => Err(TracefsError::new(
                TracefsOp::Define,
                &path,
                TracefsErrorKind::ShortWrite {
                    written: n,
                    expected: buf.len(),
                },
            )),
            Err(e) => {
                drop(f);
                Err(self.rejected(&path, lines, &mark, before.as_deref(), e))
            }
        }
    }

    /// Builds the error for a refused write: errno, which line, and its `error_log` entry.
    fn rejected<S: AsRef<str>>(
        &self,
        path: &Path,
        lines: &[S],
        mark: &LogMark,
        before: Option<&[u8]>,
        err: io::Error,
    ) -> TracefsError {
        let Some(errno) = err.raw_os_error().map(Errno::from_raw) else {
            return TracefsError::io(TracefsOp::Define, path, err);
        };
        if matches!(errno, Errno::EPERM | Errno::EACCES | Errno::EROFS) {
            return TracefsError::io(TracefsOp::Define, path, err);
        }
        let texts: Vec<&str> = lines.iter().map(AsRef::as_ref).collect();
        let log_text = std::fs::read(self.path(ERROR_LOG)).unwrap_or_default();
        let found = mark.find_for(&log_text, &texts);
        let mut line = found.as_ref().and_then(|(i, _)| *i);
        if line.is_none() {
            line = if texts.len() == 1 {
                Some(0)
            } else {
                let after = read_listing_file(path).unwrap_or_default();
                before.and_then(|b| failing_line_from_listing(&texts, b, &after))
            };
        }
        TracefsError::new(
            TracefsOp::Define,
            path,
            TracefsErrorKind::ProbeRejected {
                errno,
                line,
                text: line.and_then(|i| texts.get(i)).map(|t| (*t).to_owned()),
                log: found.map(|(_, rec)| Box::new(rec)),
            },
        )
    }

    /// Deletes every event of `group` defined through `file` with one `-:GROUP/` line
    /// (`dynamic_events` deletes every kind). Idempotent: a group with nothing left is
    /// success. Returns how many probe points were removed. If the kernel leaves events
    /// behind (kernels without group-only deletion), they are deleted by name.
    pub fn delete_group(&self, file: EventsFile, group: &str) -> TracefsResult<usize> {
        let path = self.path(file.file_name());
        check_group_name(group).map_err(|k| TracefsError::new(TracefsOp::DeleteGroup, &path, k))?;
        let listing = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(TracefsError::io(TracefsOp::DeleteGroup, &path, e)),
        };
        let present = events_of_group(&listing, group);
        let points = present.values().sum();
        // The listing is a seq_file read in several chunks: when other sessions add or
        // remove events meanwhile, positions shift and this group's lines can be skipped.
        // So "absent" is only believed when the group's events directory (one atomic
        // lookup) is absent too; otherwise the deletion is written anyway (ENOENT = gone).
        if points == 0 && !self.path("events").join(group).exists() {
            return Ok(0);
        }
        self.delete_lines(&path, &[format!("-:{group}/")])?;
        let left = events_of_group(&self.read_listing(&path)?, group);
        if left.is_empty() {
            return Ok(points);
        }
        let by_name: Vec<String> = left.keys().map(|ev| format!("-:{group}/{ev}")).collect();
        self.delete_lines(&path, &by_name)?;
        let left = events_of_group(&self.read_listing(&path)?, group);
        if left.is_empty() {
            Ok(points)
        } else {
            Err(TracefsError::new(
                TracefsOp::DeleteGroup,
                &path,
                TracefsErrorKind::GroupNotDeleted {
                    remaining: left.into_keys().map(|ev| format!("{group}/{ev}")).collect(),
                },
            ))
        }
    }

    /// The groups that have events in `file`, sorted.
    pub fn groups(&self, file: EventsFile) -> TracefsResult<BTreeSet<String>> {
        let path = self.path(file.file_name());
        let listing = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(TracefsError::io(TracefsOp::Read, &path, e)),
        };
        Ok(parse_dynamic_events(&listing)
            .iter()
            .filter_map(|d| d.group)
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect())
    }

    fn read_listing(&self, path: &Path) -> TracefsResult<Vec<u8>> {
        std::fs::read(path).map_err(|e| TracefsError::io(TracefsOp::DeleteGroup, path, e))
    }

    /// One write of deletion lines; ENOENT (already gone) is success.
    fn delete_lines(&self, path: &Path, lines: &[String]) -> TracefsResult<()> {
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        let mut f =
            open_append(path).map_err(|e| TracefsError::io(TracefsOp::DeleteGroup, path, e))?;
        match f.write(buf.as_bytes()) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(n) => Err(TracefsError::new(
                TracefsOp::DeleteGroup,
                path,
                TracefsErrorKind::ShortWrite {
                    written: n,
                    expected: buf.len(),
                },
            )),
            Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                Some(Errno::ENOENT) => Ok(()),
                Some(Errno::EBUSY) => Err(TracefsError::new(
                    TracefsOp::DeleteGroup,
                    path,
                    TracefsErrorKind::GroupBusy,
                )),
                _ => Err(TracefsError::io(TracefsOp::DeleteGroup, path, e)),
            },
        }
    }
}

/// The listing of an events file, only if it is a regular file (as tracefs files are):
/// reading anything else (a FIFO in tests) could block or consume.
fn read_listing_file(path: &Path) -> Option<Vec<u8>> {
    if std::fs::metadata(path).ok()?.is_file() {
        std::fs::read(path).ok()
    } else {
        None
    }
}

/// `O_WRONLY|O_APPEND|O_CLOEXEC`: no `O_CREAT`, and above all no `O_TRUNC`.
pub(crate) fn open_append(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new().append(true).open(path)
}

fn open_error(op: TracefsOp, path: &Path, file: EventsFile, e: io::Error) -> TracefsError {
    if e.kind() == io::ErrorKind::NotFound {
        TracefsError::new(op, path, TracefsErrorKind::FeatureMissing(file.feature()))
    } else {
        TracefsError::io(op, path, e)
    }
}

/// Event name → probe points, for one group of a listing.
fn events_of_group(listing: &[u8], group: &str) -> BTreeMap<String, usize> {
    let mut events = BTreeMap::new();
    for d in parse_dynamic_events(listing) {
        if d.group == Some(group.as_bytes()) {
            if let Some(ev) = d.event {
                *events
                    .entry(String::from_utf8_lossy(ev).into_owned())
                    .or_insert(0) += 1;
            }
        }
    }
    events
}

/// Which line of a batch failed, from the listing before and after the write: each line
/// adds one probe point to its GROUP/EVENT, so the first line whose point is missing is
/// the one that failed. `None` when that can't be told (a line without an explicit
/// group and event, a deletion, or every line accounted for).
fn failing_line_from_listing(lines: &[&str], before: &[u8], after: &[u8]) -> Option<usize> {
    let count = |text: &[u8]| {
        let mut m: BTreeMap<(Vec<u8>, Vec<u8>), isize> = BTreeMap::new();
        for d in parse_dynamic_events(text) {
            if let (Some(g), Some(e)) = (d.group, d.event) {
                *m.entry((g.to_vec(), e.to_vec())).or_insert(0) += 1;
            }
        }
        m
    };
    let mut added = count(after);
    for (key, n) in count(before) {
        *added.entry(key).or_insert(0) -= n;
    }
    for (i, line) in lines.iter().enumerate() {
        let d = parse_dynamic_event(line.as_bytes())?;
        if d.kind == DynEventKind::Delete {
            return None;
        }
        let key = (d.group?.to_vec(), d.event?.to_vec());
        match added.get_mut(&key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => return Some(i),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefs::test_dir::TestDir;

    const FOREIGN: &str = "p:other_tool/keepme /usr/bin/true:0x0000000000001000\n";

    #[test]
    fn append_keeps_existing_probes() {
        let dir = TestDir::fake_tracefs("append");
        let fs = Tracefs::at(dir.path());
        std::fs::write(dir.path().join("uprobe_events"), FOREIGN).unwrap();
        fs.write_definitions(
            EventsFile::Uprobe,
            &[
                "p:tprobe_1_2_0/a /bin/true:0x10",
                "r:tprobe_1_2_0/b /bin/true:0x10",
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(dir.path().join("uprobe_events")).unwrap();
        assert_eq!(
            text,
            format!("{FOREIGN}p:tprobe_1_2_0/a /bin/true:0x10\nr:tprobe_1_2_0/b /bin/true:0x10\n")
        );
    }

    #[test]
    fn bad_line_refused_before_any_write() {
        let dir = TestDir::fake_tracefs("refuse");
        let fs = Tracefs::at(dir.path());
        std::fs::write(dir.path().join("uprobe_events"), FOREIGN).unwrap();
        for (bad, fault) in [
            (
                "p:g/e /bin/true:0x10\n-:other_tool/",
                LineFault::ControlByte(20),
            ),
            ("p:g/e /bin/true:0x10\r", LineFault::ControlByte(20)),
            ("p:g/e\t/bin/true:0x10", LineFault::ControlByte(5)),
            ("p:g/e /bin/true:0x10 \u{85}", LineFault::ControlByte(21)),
            ("p:g/e /bin/true:0x10 # x", LineFault::Hash(21)),
            ("   ", LineFault::Empty),
        ] {
            let err = fs
                .write_definitions(EventsFile::Uprobe, &["p:g/ok /bin/true:0x1", bad])
                .unwrap_err();
            match err.kind() {
                TracefsErrorKind::InvalidLine { line, fault: f } => {
                    assert_eq!((*line, *f), (1, fault), "{bad:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        let long = format!("p:g/e /bin/true:0x10 {}", "a".repeat(MAX_LINE_LEN));
        assert!(matches!(
            fs.write_definitions(EventsFile::Uprobe, &[long])
                .unwrap_err()
                .kind(),
            TracefsErrorKind::InvalidLine {
                fault: LineFault::TooLong(_),
                ..
            }
        ));
        // The first (valid) line was not written either.
        let text = std::fs::read_to_string(dir.path().join("uprobe_events")).unwrap();
        assert_eq!(text, FOREIGN);
    }

    /// A FIFO stands in for the events file, with a reader already blocked in `read()`:
    /// a batch written in one `write()` (≤ PIPE_BUF bytes, so atomic) arrives as one chunk;
    /// several writes would wake the reader on the first and usually show as several chunks.
    #[test]
    fn single_write_of_whole_batch() {
        let dir = TestDir::fake_tracefs("fifo");
        let path = dir.path().join("uprobe_events");
        std::fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let lines: Vec<String> = (0..50)
            .map(|i| format!("p:tprobe_1_2_0/e{i} /bin/true:0x{i:x}"))
            .collect();
        let expected_len = lines.iter().map(|l| l.len() + 1).sum::<usize>();
        // Opened read-write, the FIFO's open does not wait for a writer (so neither side
        // can block the other in open()); the reader stops once the whole batch is in.
        let reader_end = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut f = reader_end;
            let mut chunks = Vec::new();
            let mut buf = [0u8; 65536];
            let mut total = 0;
            while total < expected_len {
                let n = f.read(&mut buf).unwrap();
                total += n;
                chunks.push(buf[..n].to_vec());
            }
            chunks
        });
        let fs = Tracefs::at(dir.path());
        fs.write_definitions(EventsFile::Uprobe, &lines).unwrap();
        let chunks = reader.join().unwrap();
        let all: Vec<u8> = chunks.concat();
        assert_eq!(all, format!("{}\n", lines.join("\n")).into_bytes());
        assert!(all.len() < 4096);
        assert_eq!(chunks.len(), 1, "the batch must be one write()");
    }

    #[test]
    fn missing_events_file_is_a_missing_feature() {
        let dir = TestDir::fake_tracefs("nokprobe");
        let fs = Tracefs::at(dir.path());
        let err = fs
            .write_definitions(EventsFile::Kprobe, &["p:g/e do_sys_open"])
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            TracefsErrorKind::FeatureMissing(Feature::KprobeEvents)
        ));
        assert!(!dir.path().join("kprobe_events").exists(), "no O_CREAT");
    }

    #[test]
    fn delete_group_appends_one_line_and_is_idempotent() {
        let dir = TestDir::fake_tracefs("delete");
        let fs = Tracefs::at(dir.path());
        let path = dir.path().join("dynamic_events");
        // Nothing of the group: nothing written.
        std::fs::write(&path, FOREIGN).unwrap();
        assert_eq!(
            fs.delete_group(EventsFile::Dynamic, "tprobe_1_2_0")
                .unwrap(),
            0
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), FOREIGN);
        // A plain file can't act on the deletion, so the by-name fallback runs too and the
        // events are reported as left over.
        let listing = format!("{FOREIGN}p:tprobe_1_2_0/a /bin/true:0x0000000000000010\n");
        std::fs::write(&path, &listing).unwrap();
        let err = fs
            .delete_group(EventsFile::Dynamic, "tprobe_1_2_0")
            .unwrap_err();
        assert!(matches!(
            err.kind(),
            TracefsErrorKind::GroupNotDeleted { .. }
        ));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{listing}-:tprobe_1_2_0/\n-:tprobe_1_2_0/a\n")
        );
        assert!(fs.delete_group(EventsFile::Dynamic, "bad/name").is_err());
        assert!(fs.delete_group(EventsFile::Dynamic, "a\nb").is_err());
    }

    #[test]
    fn delete_group_does_not_trust_a_listing_that_missed_the_group() {
        // A listing read while other sessions change it can skip this group's lines; its
        // events directory still shows it exists, so the deletion is written anyway.
        let dir = TestDir::fake_tracefs("delete-missed");
        let fs = Tracefs::at(dir.path());
        let path = dir.path().join("dynamic_events");
        std::fs::write(&path, FOREIGN).unwrap();
        std::fs::create_dir_all(dir.path().join("events/tprobe_1_2_0/a")).unwrap();
        assert_eq!(
            fs.delete_group(EventsFile::Dynamic, "tprobe_1_2_0")
                .unwrap(),
            0
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{FOREIGN}-:tprobe_1_2_0/\n")
        );
    }

    #[test]
    fn failing_line_told_from_listings() {
        let lines = [
            "p:g/a /x:0x1",
            "p:g/a /x:0x2",
            "p:g/b /x:0x3",
            "p:g/c /x:0x4",
        ];
        let before = b"p:other/z /y:0x0000000000000001\n";
        let after = b"p:other/z /y:0x0000000000000001\np:g/a /x:0x0000000000000001\np:g/a /x:0x0000000000000002\n";
        assert_eq!(failing_line_from_listing(&lines, before, after), Some(2));
        assert_eq!(failing_line_from_listing(&lines, before, before), Some(0));
        // A line without an explicit name: can't tell.
        assert_eq!(failing_line_from_listing(&["p /x:0x1"], b"", b""), None);
    }
}
