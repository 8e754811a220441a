//! Removing a session's instance and group, in the order of design.md: (readers closed by
//! the caller) → `rmdir` the instance → one `-:GROUP/` line. Idempotent; every step is
//! attempted even when an earlier one fails, and the failures are collected.

use std::collections::BTreeSet;
use std::fmt;

use super::definitions::EventsFile;
use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsResult;
use super::instance::Instance;
use super::root::Tracefs;
use super::session_name::SessionName;

/// What a teardown removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeardownReport {
    /// The instance existed and was removed.
    pub instance_removed: bool,
    /// Probe points deleted.
    pub probes_deleted: usize,
}

/// Some teardown steps failed; the others were still attempted.
#[derive(Debug, thiserror::Error)]
pub struct TeardownError {
    name: String,
    report: TeardownReport,
    errors: Vec<TracefsError>,
}

impl TeardownError {
    /// Every failed step, in order.
    pub fn errors(&self) -> &[TracefsError] {
        &self.errors
    }

    /// What was removed despite the failures.
    pub fn report(&self) -> TeardownReport {
        self.report
    }
}

impl fmt::Display for TeardownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tear down session {} ({} step(s) failed",
            self.name,
            self.errors.len()
        )?;
        for e in &self.errors {
            write!(f, "; {e}: {}", e.kind())?;
        }
        f.write_str(") (hint: `tprobe clean` retries once the cause is gone)")
    }
}

/// Tears down the session `name` (its instance and its group share the name). `files` are
/// the `*_events` files it wrote to; `dynamic_events` is used instead when present, since
/// one `-:GROUP/` line there deletes every kind. A missing instance or group is success.
/// Close every reader of the instance first: an open `trace_pipe` makes `rmdir` EBUSY
/// (then the group is disabled in the instance so the probes can still be deleted).
pub fn teardown(
    tracefs: &Tracefs,
    name: &str,
    files: &[EventsFile],
) -> Result<TeardownReport, TeardownError> {
    let mut report = TeardownReport::default();
    let mut errors = Vec::new();
    match Instance::existing(tracefs, name) {
        Ok(instance) => match remove_instance(&instance) {
            Ok(removed) => report.instance_removed = removed,
            Err(e) => {
                errors.push(e);
                // The instance stays; at least stop its events so the group can go.
                match instance.enable_group(name, false) {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind(), TracefsErrorKind::NoSuchEvent) => {}
                    Err(e) => errors.push(e),
                }
            }
        },
        Err(e) => errors.push(e),
    }
    for file in delete_files(tracefs, files) {
        match tracefs.delete_group(file, name) {
            Ok(n) => report.probes_deleted += n,
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(TeardownError {
            name: name.to_owned(),
            report,
            errors,
        })
    }
}

/// Removes the instance, retrying for a while when it is busy: anyone who merely reads a
/// file of it (a `cat` of its `enable`, a monitoring tool) makes `rmdir` fail with EBUSY
/// for that moment.
fn remove_instance(instance: &Instance) -> TracefsResult<bool> {
    const TRIES: u32 = 25;
    const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
    let mut tries = 1;
    loop {
        match instance.remove() {
            Err(e) if matches!(e.kind(), TracefsErrorKind::InstanceBusy) && tries < TRIES => {
                tries += 1;
                std::thread::sleep(PAUSE);
            }
            other => return other,
        }
    }
}

/// Every tprobe session that has an instance or a probe group here but whose owning
/// process is gone (pid absent, or reused by a process with another start time): what
/// `tprobe clean` removes with [`teardown`]. Foreign groups and instances (names that are
/// not exactly `tprobe_<pid>_<starttime>_<n>`) and live sessions are never listed.
pub fn stale_sessions(tracefs: &Tracefs) -> TracefsResult<Vec<SessionName>> {
    let mut names: BTreeSet<String> = tracefs.instance_names()?.into_iter().collect();
    for file in [EventsFile::Dynamic, EventsFile::Uprobe, EventsFile::Kprobe] {
        names.extend(tracefs.groups(file)?);
    }
    Ok(names
        .iter()
        .filter_map(|n| SessionName::parse(n))
        .filter(|s| !s.is_owner_alive())
        .collect())
}

/// `dynamic_events` when it exists, else the files written to (or both classic files when
/// that is not known), keeping only files that exist.
fn delete_files(tracefs: &Tracefs, files: &[EventsFile]) -> Vec<EventsFile> {
    let exists = |f: &EventsFile| tracefs.path(f.file_name()).exists();
    if exists(&EventsFile::Dynamic) {
        return vec![EventsFile::Dynamic];
    }
    let mut chosen: Vec<EventsFile> = if files.is_empty() {
        vec![EventsFile::Kprobe, EventsFile::Uprobe]
    } else {
        files.to_vec()
    };
    chosen.sort();
    chosen.dedup();
    chosen.retain(exists);
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefs::test_dir::TestDir;

    #[test]
    fn missing_everything_is_success() {
        let dir = TestDir::fake_tracefs("td-empty");
        let fs = Tracefs::at(dir.path());
        let r = teardown(&fs, "tprobe_1_2_0", &[EventsFile::Uprobe]).unwrap();
        assert_eq!(r, TeardownReport::default());
        // Nothing was written anywhere.
        for f in ["uprobe_events", "dynamic_events"] {
            assert_eq!(std::fs::read(dir.path().join(f)).unwrap(), b"");
        }
    }

    #[test]
    fn removes_instance_then_attempts_group() {
        let dir = TestDir::fake_tracefs("td");
        let fs = Tracefs::at(dir.path());
        Instance::create(&fs, "tprobe_1_2_0").unwrap();
        std::fs::write(
            dir.path().join("dynamic_events"),
            "p:tprobe_1_2_0/a /bin/true:0x0000000000000010\n",
        )
        .unwrap();
        // A plain file can't delete: the group step fails, but the instance went first.
        let err = teardown(&fs, "tprobe_1_2_0", &[]).unwrap_err();
        assert!(err.report().instance_removed);
        assert_eq!(err.errors().len(), 1);
        assert!(!dir.path().join("instances/tprobe_1_2_0").exists());
        let text = std::fs::read_to_string(dir.path().join("dynamic_events")).unwrap();
        assert!(text.contains("-:tprobe_1_2_0/\n"), "{text}");
        assert!(err.to_string().contains("tprobe clean"));
    }

    #[test]
    fn stale_sessions_skip_live_and_foreign() {
        let dir = TestDir::fake_tracefs("stale");
        let fs = Tracefs::at(dir.path());
        let live = SessionName::next_for_this_process().unwrap();
        // pid_max is at most 4194304: this owner can't exist.
        let dead = SessionName::new(4_194_305, 5, 0);
        let dead2 = SessionName::new(4_194_306, 5, 1);
        for name in [
            live.to_string(),
            dead.to_string(),
            "tprobe_foreign".to_owned(),
        ] {
            std::fs::create_dir(dir.path().join("instances").join(name)).unwrap();
        }
        std::fs::write(
            dir.path().join("uprobe_events"),
            format!("p:{dead2}/a /bin/true:0x0000000000000010\np:{live}/b /bin/true:0x0000000000000010\np:other/c /bin/true:0x0000000000000010\n"),
        )
        .unwrap();
        assert_eq!(stale_sessions(&fs).unwrap(), vec![dead, dead2]);
    }

    #[test]
    fn uses_written_files_without_dynamic_events() {
        let dir = TestDir::fake_tracefs("td-old");
        std::fs::remove_file(dir.path().join("dynamic_events")).unwrap();
        let fs = Tracefs::at(dir.path());
        assert_eq!(delete_files(&fs, &[]), vec![EventsFile::Uprobe]);
        assert_eq!(
            delete_files(&fs, &[EventsFile::Uprobe, EventsFile::Uprobe]),
            vec![EventsFile::Uprobe]
        );
    }
}
