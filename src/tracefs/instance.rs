//! [`Instance`]: a private tracing instance (`instances/NAME`) with its own buffer, event
//! enables, filters, pid filter and options, so the top instance is never touched.

use std::fs::OpenOptions;
use std::io;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use nix::errno::Errno;

use super::error::TracefsError;
use super::error::TracefsErrorKind;
use super::error::TracefsOp;
use super::error::TracefsResult;
use super::error_log::LogMark;
use super::features::Feature;
use super::names::check_event_name;
use super::names::check_group_name;
use super::names::check_instance_name;
use super::root::Tracefs;
use super::root::ERROR_LOG;
use super::root::INSTANCES;
use super::root::TRACE_PIPE;

/// A per-instance option flag under `options/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceOption {
    /// `stacktrace`: a kernel stack after each event.
    Stacktrace,
    /// `userstacktrace`: a user stack after each event.
    Userstacktrace,
    /// `sym-userobj`: resolve user stack frames to objects.
    SymUserobj,
    /// `record-tgid`: the `(tgid)` column.
    RecordTgid,
    /// `event-fork`: children of `set_event_pid` pids are followed.
    EventFork,
    /// `irq-info`: the flags column.
    IrqInfo,
    /// `overwrite`: overwrite the oldest events when the buffer is full.
    Overwrite,
}

impl TraceOption {
    /// The file name under `options/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Stacktrace => "stacktrace",
            Self::Userstacktrace => "userstacktrace",
            Self::SymUserobj => "sym-userobj",
            Self::RecordTgid => "record-tgid",
            Self::EventFork => "event-fork",
            Self::IrqInfo => "irq-info",
            Self::Overwrite => "overwrite",
        }
    }
}

/// A tracing instance under `instances/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    dir: PathBuf,
    name: String,
}

impl Instance {
    /// Creates `instances/NAME` (mkdir). An existing one is an error
    /// ([`TracefsErrorKind::InstanceExists`]): it belongs to someone else.
    pub fn create(tracefs: &Tracefs, name: &str) -> TracefsResult<Self> {
        let dir = tracefs.path(INSTANCES).join(name);
        check_instance_name(name)
            .map_err(|k| TracefsError::new(TracefsOp::CreateInstance, &dir, k))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(Self {
                dir,
                name: name.to_owned(),
            }),
            Err(e) => {
                let kind = match e.raw_os_error().map(Errno::from_raw) {
                    Some(Errno::EEXIST) => TracefsErrorKind::InstanceExists,
                    Some(Errno::ENOENT) => TracefsErrorKind::FeatureMissing(Feature::Instances),
                    _ => return Err(TracefsError::io(TracefsOp::CreateInstance, &dir, e)),
                };
                Err(TracefsError::new(TracefsOp::CreateInstance, &dir, kind))
            }
        }
    }

    /// A handle on an instance that may exist (for cleanup); nothing is created or checked
    /// beyond the name.
    pub fn existing(tracefs: &Tracefs, name: &str) -> TracefsResult<Self> {
        let dir = tracefs.path(INSTANCES).join(name);
        check_instance_name(name).map_err(|k| TracefsError::new(TracefsOp::Read, &dir, k))?;
        Ok(Self {
            dir,
            name: name.to_owned(),
        })
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instance's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Its consuming reader, `trace_pipe`.
    pub fn trace_pipe_path(&self) -> PathBuf {
        self.dir.join(TRACE_PIPE)
    }

    /// Its per-CPU binary reader, `per_cpu/cpuN/trace_pipe_raw`.
    pub fn trace_pipe_raw_path(&self, cpu: u32) -> PathBuf {
        self.dir
            .join("per_cpu")
            .join(format!("cpu{cpu}"))
            .join("trace_pipe_raw")
    }

    /// Its `events/` directory (format files, ids, enables).
    pub fn events_path(&self) -> PathBuf {
        self.dir.join("events")
    }

    /// Its own `error_log` (filter errors go here; probe errors go to the top level).
    pub fn error_log_path(&self) -> PathBuf {
        self.dir.join(ERROR_LOG)
    }

    /// Enables or disables one event in this instance.
    pub fn enable_event(&self, group: &str, event: &str, on: bool) -> TracefsResult<()> {
        let path = self
            .event_dir(group, Some(event), TracefsOp::Enable)?
            .join("enable");
        self.write_value(TracefsOp::Enable, &path, if on { "1" } else { "0" })
    }

    /// Enables or disables every event of a group in this instance (`events/GROUP/enable`).
    pub fn enable_group(&self, group: &str, on: bool) -> TracefsResult<()> {
        let path = self
            .event_dir(group, None, TracefsOp::Enable)?
            .join("enable");
        self.write_value(TracefsOp::Enable, &path, if on { "1" } else { "0" })
    }

    /// Sets the filter of one event (or, with `event` `None`, of every event of the group).
    /// When the kernel refuses it, the instance's `error_log` entry says why.
    pub fn set_filter(&self, group: &str, event: Option<&str>, filter: &str) -> TracefsResult<()> {
        let path = self
            .event_dir(group, event, TracefsOp::SetFilter)?
            .join("filter");
        let mark = LogMark::take(&self.error_log_path());
        match self.write_value(TracefsOp::SetFilter, &path, filter) {
            Err(e) if e.kind().errno() == Some(Errno::EINVAL) => {
                let log_text = std::fs::read(self.error_log_path()).unwrap_or_default();
                let log = mark
                    .find_for(&log_text, &[filter])
                    .map(|(_, rec)| Box::new(rec));
                Err(TracefsError::new(
                    TracefsOp::SetFilter,
                    &path,
                    TracefsErrorKind::FilterRejected {
                        filter: filter.to_owned(),
                        log,
                    },
                ))
            }
            other => other,
        }
    }

    /// Clears a filter (writes `0`).
    pub fn clear_filter(&self, group: &str, event: Option<&str>) -> TracefsResult<()> {
        let path = self
            .event_dir(group, event, TracefsOp::SetFilter)?
            .join("filter");
        self.write_value(TracefsOp::SetFilter, &path, "0")
    }

    /// Traces only these pids (`set_event_pid`, replacing the list: opened with `O_TRUNC`,
    /// which this per-instance file treats as "clear").
    pub fn set_event_pids(&self, pids: &[u32]) -> TracefsResult<()> {
        let path = self.dir.join("set_event_pid");
        let value = pid_list(pids);
        let f = OpenOptions::new().write(true).truncate(true).open(&path);
        write_once(TracefsOp::SetPid, &path, f, &value)
    }

    /// Adds pids to the `set_event_pid` list (no truncation).
    pub fn add_event_pids(&self, pids: &[u32]) -> TracefsResult<()> {
        let path = self.dir.join("set_event_pid");
        let value = format!(" {}", pid_list(pids));
        let f = OpenOptions::new().append(true).open(&path);
        write_once(TracefsOp::SetPid, &path, f, &value)
    }

    /// Turns an option of this instance on or off.
    pub fn set_option(&self, option: TraceOption, on: bool) -> TracefsResult<()> {
        let path = self.dir.join("options").join(option.file_name());
        self.write_value(TracefsOp::SetOption, &path, if on { "1" } else { "0" })
    }

    /// Sets the per-CPU buffer size in KiB.
    pub fn set_buffer_size_kb(&self, kb: u64) -> TracefsResult<()> {
        let path = self.dir.join("buffer_size_kb");
        self.write_value(TracefsOp::SetBufferSize, &path, &kb.to_string())
    }

    /// Sets how full (percent) a per-CPU buffer must be before poll() on its
    /// `trace_pipe_raw` wakes a reader: the binary reader's batching.
    pub fn set_buffer_percent(&self, percent: u8) -> TracefsResult<()> {
        let path = self.dir.join("buffer_percent");
        self.write_value(TracefsOp::SetOption, &path, &percent.to_string())
    }

    /// The size of one ring-buffer sub-buffer in bytes (`buffer_subbuf_size_kb`; one page
    /// on kernels without the file).
    pub fn subbuf_size(&self) -> usize {
        std::fs::read_to_string(self.dir.join("buffer_subbuf_size_kb"))
            .ok()
            .and_then(|kb| kb.trim().parse::<usize>().ok())
            .filter(|kb| (1..=1024).contains(kb))
            .map_or(4096, |kb| kb * 1024)
    }

    /// Its per-CPU counters, `per_cpu/cpuN/stats`.
    pub fn per_cpu_stats_path(&self, cpu: u32) -> PathBuf {
        self.dir
            .join("per_cpu")
            .join(format!("cpu{cpu}"))
            .join("stats")
    }

    /// Removes the instance (rmdir; its enabled events are disabled by the kernel). A
    /// missing instance is success (`Ok(false)`). EBUSY while any file of it is open.
    pub fn remove(&self) -> TracefsResult<bool> {
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) => Err(TracefsError::new(
                TracefsOp::RemoveInstance,
                &self.dir,
                TracefsErrorKind::InstanceBusy,
            )),
            Err(e) => Err(TracefsError::io(TracefsOp::RemoveInstance, &self.dir, e)),
        }
    }

    /// `events/GROUP[/EVENT]`, names checked.
    fn event_dir(&self, group: &str, event: Option<&str>, op: TracefsOp) -> TracefsResult<PathBuf> {
        let mut dir = self.events_path();
        check_group_name(group).map_err(|k| TracefsError::new(op, &dir, k))?;
        dir.push(group);
        if let Some(event) = event {
            check_event_name(event).map_err(|k| TracefsError::new(op, &dir, k))?;
            dir.push(event);
        }
        Ok(dir)
    }

    /// One write of `value` to a control file of this instance (`O_WRONLY|O_TRUNC`, as
    /// `echo VALUE > file`).
    fn write_value(&self, op: TracefsOp, path: &Path, value: &str) -> TracefsResult<()> {
        if value.chars().any(char::is_control) {
            return Err(TracefsError::new(
                op,
                path,
                TracefsErrorKind::InvalidValue {
                    value: value.to_owned(),
                },
            ));
        }
        let f = OpenOptions::new().write(true).truncate(true).open(path);
        write_once(op, path, f, value)
    }
}

fn pid_list(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `value` in one call and checks the length; maps errno to a kind.
fn write_once(
    op: TracefsOp,
    path: &Path,
    file: io::Result<std::fs::File>,
    value: &str,
) -> TracefsResult<()> {
    let mut f = file.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => TracefsError::new(op, path, TracefsErrorKind::NoSuchEvent),
        _ => TracefsError::io(op, path, e),
    })?;
    if value.is_empty() {
        return Ok(());
    }
    match f.write(value.as_bytes()) {
        Ok(n) if n == value.len() => Ok(()),
        Ok(n) => Err(TracefsError::new(
            op,
            path,
            TracefsErrorKind::ShortWrite {
                written: n,
                expected: value.len(),
            },
        )),
        Err(e) => match e.raw_os_error().map(Errno::from_raw) {
            Some(errno @ (Errno::EINVAL | Errno::ENOMEM | Errno::EBUSY | Errno::ENOSPC)) => {
                Err(TracefsError::new(
                    op,
                    path,
                    TracefsErrorKind::ValueRejected {
                        value: value.to_owned(),
                        errno,
                    },
                ))
            }
            _ => Err(TracefsError::io(op, path, e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefs::test_dir::TestDir;

    fn fake_instance(dir: &TestDir) -> Instance {
        let fs = Tracefs::at(dir.path());
        let inst = Instance::create(&fs, "tprobe_1_2_0").unwrap();
        let ev = inst.path().join("events/tprobe_1_2_0/open");
        std::fs::create_dir_all(&ev).unwrap();
        for f in ["enable", "filter"] {
            std::fs::write(ev.join(f), "0\n").unwrap();
        }
        std::fs::write(inst.path().join("events/tprobe_1_2_0/enable"), "0\n").unwrap();
        std::fs::create_dir_all(inst.path().join("options")).unwrap();
        std::fs::write(inst.path().join("options/stacktrace"), "0\n").unwrap();
        std::fs::write(inst.path().join("set_event_pid"), "").unwrap();
        std::fs::write(inst.path().join("buffer_size_kb"), "1408\n").unwrap();
        inst
    }

    #[test]
    fn create_exists_and_names() {
        let dir = TestDir::fake_tracefs("inst");
        let fs = Tracefs::at(dir.path());
        let inst = Instance::create(&fs, "tprobe_1_2_0").unwrap();
        assert!(inst.path().is_dir());
        assert_eq!(
            inst.trace_pipe_path(),
            dir.path().join("instances/tprobe_1_2_0/trace_pipe")
        );
        let err = Instance::create(&fs, "tprobe_1_2_0").unwrap_err();
        assert!(matches!(err.kind(), TracefsErrorKind::InstanceExists));
        for bad in ["../x", "a/b", "", "a\nb"] {
            assert!(Instance::create(&fs, bad).is_err(), "{bad:?}");
        }
        assert!(inst.remove().unwrap());
        assert!(!inst.remove().unwrap(), "second remove is a no-op");
    }

    #[test]
    fn control_files() {
        let dir = TestDir::fake_tracefs("ctl");
        let inst = fake_instance(&dir);
        let read = |rel: &str| std::fs::read_to_string(inst.path().join(rel)).unwrap();
        inst.enable_event("tprobe_1_2_0", "open", true).unwrap();
        assert_eq!(read("events/tprobe_1_2_0/open/enable"), "1");
        inst.enable_group("tprobe_1_2_0", true).unwrap();
        assert_eq!(read("events/tprobe_1_2_0/enable"), "1");
        inst.set_filter("tprobe_1_2_0", Some("open"), "arg1 > 3")
            .unwrap();
        assert_eq!(read("events/tprobe_1_2_0/open/filter"), "arg1 > 3");
        let err = inst
            .set_filter("tprobe_1_2_0", Some("open"), "a\n-:x/")
            .unwrap_err();
        assert!(matches!(err.kind(), TracefsErrorKind::InvalidValue { .. }));
        inst.set_event_pids(&[10, 20]).unwrap();
        inst.add_event_pids(&[30]).unwrap();
        assert_eq!(read("set_event_pid"), "10 20 30");
        inst.set_event_pids(&[7]).unwrap();
        assert_eq!(read("set_event_pid"), "7");
        inst.set_option(TraceOption::Stacktrace, true).unwrap();
        assert_eq!(read("options/stacktrace"), "1");
        inst.set_buffer_size_kb(4096).unwrap();
        assert_eq!(read("buffer_size_kb"), "4096");
        let err = inst.enable_event("tprobe_1_2_0", "nope", true).unwrap_err();
        assert!(matches!(err.kind(), TracefsErrorKind::NoSuchEvent));
        let err = inst.enable_event("../../x", "open", true).unwrap_err();
        assert!(matches!(err.kind(), TracefsErrorKind::InvalidName { .. }));
    }
}
