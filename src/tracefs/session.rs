//! [`Session`]: owns one run's group and private instance and tears them down however it
//! ends (explicitly, or on drop: normal exit, error, panic unwinding).

use std::collections::BTreeSet;

use super::definitions::EventsFile;
use super::error::LineFault;
use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;
use super::instance::Instance;
use super::root::Tracefs;
use super::session_name::SessionName;
use super::teardown::teardown;
use super::teardown::TeardownError;
use super::teardown::TeardownReport;
use crate::parse::parse_dynamic_event;
use crate::parse::DynEventKind;

/// One run's probes: a group and a private instance named `tprobe_<pid>_<starttime>_<n>`.
/// Definitions may only name this group. Dropping it tears everything down (close
/// `trace_pipe` readers before, or the instance can't be removed).
#[derive(Debug)]
pub struct Session {
    tracefs: Tracefs,
    name: SessionName,
    group: String,
    instance: Instance,
    written: BTreeSet<EventsFile>,
    torn_down: bool,
}

impl Session {
    /// Names a new session for this process and creates its instance.
    pub fn create(tracefs: &Tracefs) -> TracefsResult<Self> {
        Self::create_named(tracefs, SessionName::next_for_this_process()?)
    }

    /// Creates the instance of a session named beforehand (so its definitions can be
    /// planned and checked before anything is written to tracefs). `name` must come from
    /// [`SessionName::next_for_this_process`].
    pub fn create_named(tracefs: &Tracefs, name: SessionName) -> TracefsResult<Self> {
        let group = name.to_string();
        let instance = Instance::create(tracefs, &group)?;
        Ok(Self {
            tracefs: tracefs.clone(),
            name,
            group,
            instance,
            written: BTreeSet::new(),
            torn_down: false,
        })
    }

    /// The session's name (and its owner).
    pub fn name(&self) -> &SessionName {
        &self.name
    }

    /// The group every definition must use (also the instance's name).
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The private instance.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The tracefs mount.
    pub fn tracefs(&self) -> &Tracefs {
        &self.tracefs
    }

    /// Writes definitions, each to its file (uprobes to `uprobe_events`, kprobes to
    /// `kprobe_events`, others to `dynamic_events`), one write per file. Every line must be
    /// a definition (not a deletion) in this session's group, checked before anything is
    /// written.
    pub fn define<S: AsRef<str>>(&mut self, lines: &[S]) -> TracefsResult<()> {
        let mut batches: Vec<(EventsFile, Vec<&str>)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            let file = self.route(line).map_err(|fault| {
                TracefsError::new(
                    TracefsOp::Define,
                    self.tracefs.root(),
                    TracefsErrorKind::InvalidLine { line: i, fault },
                )
            })?;
            match batches.iter_mut().find(|(f, _)| *f == file) {
                Some((_, batch)) => batch.push(line),
                None => batches.push((file, vec![line])),
            }
        }
        for (file, batch) in batches {
            // Recorded first: a failing batch may still leave earlier lines defined.
            self.written.insert(file);
            self.tracefs.write_definitions(file, &batch)?;
        }
        Ok(())
    }

    /// Enables every event of the group in the private instance.
    pub fn enable(&self) -> TracefsResult<()> {
        self.instance.enable_group(&self.group, true)
    }

    /// Tears down (instance, then group). Idempotent: later calls and the drop do nothing
    /// once a teardown succeeded.
    pub fn teardown(&mut self) -> Result<TeardownReport, TeardownError> {
        if self.torn_down {
            return Ok(TeardownReport::default());
        }
        let files: Vec<EventsFile> = self.written.iter().copied().collect();
        let report = teardown(&self.tracefs, &self.group, &files)?;
        self.torn_down = true;
        Ok(report)
    }

    fn route(&self, line: &str) -> Result<EventsFile, LineFault> {
        super::definitions::check_line(line)?;
        let def = parse_dynamic_event(line.as_bytes()).ok_or(LineFault::ForeignGroup)?;
        if def.kind == DynEventKind::Delete || def.group != Some(self.group.as_bytes()) {
            return Err(LineFault::ForeignGroup);
        }
        Ok(EventsFile::for_definition(&def))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Errors can't be reported from here; `tprobe clean` reclaims what is left.
        let _ = self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefs::test_dir::TestDir;

    #[test]
    fn a_panic_unwinds_through_the_teardown() {
        let dir = TestDir::fake_tracefs("session-panic");
        let fs = Tracefs::at(dir.path());
        let instances = dir.path().join("instances");
        let result = std::panic::catch_unwind(|| {
            let mut session = Session::create(&fs).unwrap();
            let g = session.group().to_owned();
            session
                .define(&[format!("p:{g}/a /bin/true:0x10")])
                .unwrap();
            // As the kernel would: the new event's directory.
            std::fs::create_dir_all(dir.path().join("events").join(&g).join("a")).unwrap();
            assert!(instances.join(&g).is_dir());
            panic!("a bug while streaming");
        });
        assert!(result.is_err());
        // The drop removed the instance and wrote the group's deletion.
        assert_eq!(std::fs::read_dir(&instances).unwrap().count(), 0);
        let deletions = std::fs::read_to_string(dir.path().join("uprobe_events"))
            .unwrap_or_default()
            + &std::fs::read_to_string(dir.path().join("dynamic_events")).unwrap_or_default();
        assert!(deletions.contains("-:tprobe_"), "{deletions}");
    }

    #[test]
    fn define_only_own_group_and_routes_by_kind() {
        let dir = TestDir::fake_tracefs("session");
        let fs = Tracefs::at(dir.path());
        let mut s = Session::create(&fs).unwrap();
        let g = s.group().to_owned();
        assert!(dir.path().join("instances").join(&g).is_dir());
        for bad in [
            "p:other/x /bin/true:0x10".to_owned(),
            "p /bin/true:0x10".to_owned(),
            format!("-:{g}/"),
            "-:other/".to_owned(),
            format!("p:{g}/x /bin/true:0x10\n-:other/"),
        ] {
            let err = s.define(&[bad.as_str()]).unwrap_err();
            assert!(
                matches!(err.kind(), TracefsErrorKind::InvalidLine { .. }),
                "{bad:?}"
            );
        }
        assert_eq!(
            std::fs::read(dir.path().join("uprobe_events")).unwrap(),
            b""
        );
        s.define(&[
            format!("p:{g}/a /bin/true:0x10"),
            format!("e:{g}/b sched.sched_switch"),
        ])
        .unwrap();
        let up = std::fs::read_to_string(dir.path().join("uprobe_events")).unwrap();
        let dynev = std::fs::read_to_string(dir.path().join("dynamic_events")).unwrap();
        assert_eq!(up, format!("p:{g}/a /bin/true:0x10\n"));
        assert_eq!(dynev, format!("e:{g}/b sched.sched_switch\n"));
        // Teardown of the fake: instance removed; the group deletion can't take effect on
        // plain files, so it reports leftovers, and drop retries without panicking.
        let err = s.teardown().unwrap_err();
        assert!(err.report().instance_removed);
        drop(s);
        assert!(!dir.path().join("instances").join(&g).exists());
    }
}
