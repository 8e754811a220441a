//! Live tests against this host's tracefs (root, tracefs mounted, uprobes). Each skips
//! with a message when that is missing, and each checks that nothing of its own is left in
//! `dynamic_events` or `instances/`. Run only these: `cargo test tracefs::live`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use nix::errno::Errno;

use super::test_dir::TestDir;
use super::*;

const TARGET_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int tprobe_live_target(int x) {
    __asm__ volatile("" ::: "memory");
    return x * 2 + 1;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3;
    int s = 0;
    for (int i = 0; i < n; i++) s += tprobe_live_target(i + 7);
    printf("%d\n", s);
    return 0;
}
"#;

/// Says why a live test can't run: a skip outside CI, a failure under CI, where a skip
/// would pass without testing anything.
fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "live tracefs test can't run under CI: {why}"
    );
    eprintln!("skipping live tracefs test: {why}");
}

/// The live tracefs, or `None` (with a message) when these tests can't run here.
fn live_tracefs() -> Option<Tracefs> {
    if !nix::unistd::geteuid().is_root() {
        skip("not root");
        return None;
    }
    let fs = match Tracefs::find() {
        Ok(fs) => fs,
        Err(e) => {
            skip(&format!("{e}: {}", e.kind()));
            return None;
        }
    };
    let features = fs.features().ok()?;
    if !features.has(Feature::UprobeEvents) || !features.has(Feature::Instances) {
        skip("no uprobe_events or instances");
        return None;
    }
    Some(fs)
}

/// The test program compiled into `dir`, and the file offset of `tprobe_live_target`.
fn build_target(dir: &Path) -> Option<(PathBuf, u64)> {
    let src = dir.join("target.c");
    let bin = dir.join("target");
    std::fs::write(&src, TARGET_C).ok()?;
    let status = Command::new("gcc")
        .args(["-O1", "-g0", "-o"])
        .arg(&bin)
        .arg(&src)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        skip("gcc failed or is missing");
        return None;
    }
    let nm = Command::new("nm").arg(&bin).output().ok()?;
    let nm = String::from_utf8_lossy(&nm.stdout);
    let vaddr = nm.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let addr = it.next()?;
        let _ = it.next()?;
        (it.next()? == "tprobe_live_target").then(|| u64::from_str_radix(addr, 16).ok())?
    })?;
    let re = Command::new("readelf").arg("-lW").arg(&bin).output().ok()?;
    let re = String::from_utf8_lossy(&re.stdout);
    let offset = re.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first() != Some(&"LOAD") {
            return None;
        }
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
        let (off, va, memsz) = (hex(f.get(1)?)?, hex(f.get(2)?)?, hex(f.get(5)?)?);
        (va <= vaddr && vaddr < va + memsz).then(|| vaddr - va + off)
    })?;
    Some((bin, offset))
}

fn run_target(bin: &Path, n: u32) {
    let out = Command::new(bin)
        .arg(n.to_string())
        .output()
        .expect("run target");
    assert!(out.status.success());
}

/// Reads `trace_pipe` without blocking until `want` lines containing `needle` arrived or
/// two seconds passed. The file is closed on return.
fn read_pipe(path: &Path, needle: &str, want: usize) -> String {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .expect("open trace_pipe");
    let mut text = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(10)),
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(Errno::EAGAIN as i32) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("read trace_pipe: {e}"),
        }
        let s = String::from_utf8_lossy(&text);
        if s.lines().filter(|l| l.contains(needle)).count() >= want {
            break;
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Nothing of `name` in `dynamic_events`/`uprobe_events` nor in `instances/`.
fn assert_nothing_left(fs: &Tracefs, name: &str) {
    for file in [DYNAMIC_EVENTS, UPROBE_EVENTS] {
        if let Ok(text) = std::fs::read_to_string(fs.path(file)) {
            assert!(
                !text.lines().any(|l| l.contains(name)),
                "{file} still holds {name}:\n{text}"
            );
        }
    }
    let names = fs.instance_names().unwrap();
    assert!(!names.iter().any(|n| n == name), "instance {name} left");
}

#[test]
fn find_locates_the_mount_and_features() {
    let Some(fs) = live_tracefs() else { return };
    assert!(fs.path(README).is_file());
    let f = fs.features().unwrap();
    assert!(f.has(Feature::UprobeEvents));
    // The mounted kernel and the fixture agree (this host's README is the fixture).
    assert!(f.has(Feature::ErrorLog));
}

#[test]
fn session_traces_a_uprobe_and_leaves_nothing() {
    let Some(fs) = live_tracefs() else { return };
    let dir = TestDir::new("live-session");
    let Some((bin, off)) = build_target(dir.path()) else {
        return;
    };

    // Another tool's probe, created with a plain append (like `echo >>`): it must survive.
    let foreign = format!("tplive_foreign_{}", std::process::id());
    let foreign_line = format!("p:{foreign}/keep {}:0x{off:x}\n", bin.display());
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(fs.path(UPROBE_EVENTS))
            .unwrap();
        f.write_all(foreign_line.as_bytes()).unwrap();
    }

    let mut session = Session::create(&fs).unwrap();
    let g = session.group().to_owned();
    let inst_path = session.instance().path().to_owned();
    assert!(inst_path.is_dir());
    session
        .define(&[
            format!("p:{g}/hit {}:0x{off:x} x=%di:s32", bin.display()),
            format!("r:{g}/ret {}:0x{off:x} rv=$retval:s32", bin.display()),
        ])
        .unwrap();
    session
        .instance()
        .set_option(TraceOption::RecordTgid, true)
        .unwrap();
    session.instance().set_buffer_size_kb(256).unwrap();
    session
        .instance()
        .set_filter(&g, Some("hit"), "x >= 8")
        .unwrap();
    session.enable().unwrap();
    run_target(&bin, 3);
    let text = read_pipe(&session.instance().trace_pipe_path(), "ret:", 3);
    // x = 7, 8, 9: the filter drops 7.
    let hits: Vec<&str> = text.lines().filter(|l| l.contains(" hit:")).collect();
    assert_eq!(hits.len(), 2, "{text}");
    assert!(hits[0].contains("x=8") && hits[1].contains("x=9"), "{text}");
    let rets: Vec<&str> = text.lines().filter(|l| l.contains(" ret:")).collect();
    assert_eq!(rets.len(), 3, "{text}");
    assert!(rets[0].contains("rv=15"), "{text}");

    let report = session.teardown().unwrap();
    assert!(report.instance_removed);
    assert_eq!(report.probes_deleted, 2);
    // Idempotent.
    assert_eq!(session.teardown().unwrap(), TeardownReport::default());
    drop(session);
    assert_nothing_left(&fs, &g);

    // The foreign probe survived; remove it ourselves.
    let listing = std::fs::read_to_string(fs.path(UPROBE_EVENTS)).unwrap();
    assert!(listing.contains(&format!("{foreign}/keep")), "{listing}");
    fs.delete_group(EventsFile::Uprobe, &foreign).unwrap();
    assert_nothing_left(&fs, &foreign);
}

#[test]
fn kernel_rejections_carry_error_log_and_line() {
    let Some(fs) = live_tracefs() else { return };
    let dir = TestDir::new("live-reject");
    let Some((bin, off)) = build_target(dir.path()) else {
        return;
    };
    let mut session = Session::create(&fs).unwrap();
    let g = session.group().to_owned();
    let good = format!("p:{g}/ok {}:0x{off:x}", bin.display());
    let bad = format!("p:{g}/bad {}:0x{off:x} n=%si:s33", bin.display());
    let err = session.define(&[good.as_str(), bad.as_str()]).unwrap_err();
    match err.kind() {
        TracefsErrorKind::ProbeRejected {
            errno,
            line,
            text,
            log,
        } => {
            assert_eq!(*errno, Errno::EINVAL);
            assert_eq!(*line, Some(1));
            assert_eq!(text.as_deref(), Some(bad.as_str()));
            let log = log.as_ref().expect("error_log entry");
            assert_eq!(log.message, "Unknown type is specified");
            let at = log.caret.expect("caret");
            assert_eq!(log.command.get(at..), Some("s33"));
        }
        other => panic!("{other:?}"),
    }
    // The first line stayed defined.
    let listing = std::fs::read_to_string(fs.path(UPROBE_EVENTS)).unwrap();
    assert!(listing.contains(&format!("{g}/ok ")), "{listing}");

    // A missing file: ENOENT with the kernel's message.
    let err = session
        .define(&[format!("p:{g}/nofile /nonexistent/tprobe/x:0x10")])
        .unwrap_err();
    match err.kind() {
        TracefsErrorKind::ProbeRejected { errno, log, .. } => {
            assert_eq!(*errno, Errno::ENOENT);
            assert!(log.is_some(), "{err:?}");
        }
        other => panic!("{other:?}"),
    }
    // A syntax miss the kernel does not log: EINVAL, no entry taken.
    let err = session
        .define(&[format!("p:{g}/syn {}:abc", bin.display())])
        .unwrap_err();
    match err.kind() {
        TracefsErrorKind::ProbeRejected {
            errno, log, line, ..
        } => {
            assert_eq!(*errno, Errno::EINVAL);
            assert_eq!(*line, Some(0));
            assert!(log.is_none(), "{log:?}");
        }
        other => panic!("{other:?}"),
    }

    // A filter the kernel refuses: the instance's error_log says why.
    let err = session
        .instance()
        .set_filter(&g, Some("ok"), "nosuchfield == 1")
        .unwrap_err();
    match err.kind() {
        TracefsErrorKind::FilterRejected { log, .. } => {
            let log = log.as_ref().expect("instance error_log entry");
            assert!(log.message.contains("Field not found"), "{log:?}");
        }
        other => panic!("{other:?}"),
    }
    session.teardown().unwrap();
    assert_nothing_left(&fs, &g);
}

#[test]
fn open_reader_makes_rmdir_busy_then_teardown_recovers() {
    let Some(fs) = live_tracefs() else { return };
    let dir = TestDir::new("live-busy");
    let Some((bin, off)) = build_target(dir.path()) else {
        return;
    };
    let mut session = Session::create(&fs).unwrap();
    let g = session.group().to_owned();
    session
        .define(&[format!("p:{g}/hit {}:0x{off:x}", bin.display())])
        .unwrap();
    session.enable().unwrap();
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(session.instance().trace_pipe_path())
        .unwrap();
    let err = session.teardown().unwrap_err();
    assert!(
        err.errors()
            .iter()
            .any(|e| matches!(e.kind(), TracefsErrorKind::InstanceBusy)),
        "{err}"
    );
    // The group was disabled in the instance and deleted anyway.
    assert_eq!(err.report().probes_deleted, 1, "{err}");
    drop(reader);
    let report = session.teardown().unwrap();
    assert!(report.instance_removed);
    assert_nothing_left(&fs, &g);
}

#[test]
fn clean_style_scan_sees_live_owner() {
    let Some(fs) = live_tracefs() else { return };
    let session = Session::create(&fs).unwrap();
    let name = session.group().to_owned();
    let names = fs.instance_names().unwrap();
    assert!(names.contains(&name));
    assert_eq!(is_owner_alive(&name), Some(true));
    drop(session);
    assert_nothing_left(&fs, &name);
}

#[test]
fn stale_session_of_a_dead_owner_is_reclaimed_live_one_is_not() {
    let Some(fs) = live_tracefs() else { return };
    let dir = TestDir::new("live-stale");
    let Some((bin, off)) = build_target(dir.path()) else {
        return;
    };
    // A session whose owner is gone (pid beyond pid_max), as SIGKILL would leave it.
    let dead = SessionName::new(4_194_305, 1, std::process::id());
    let dead_name = dead.to_string();
    let inst = Instance::create(&fs, &dead_name).unwrap();
    fs.write_definitions(
        EventsFile::Uprobe,
        &[format!("p:{dead_name}/hit {}:0x{off:x}", bin.display())],
    )
    .unwrap();
    inst.enable_group(&dead_name, true).unwrap();
    let live = Session::create(&fs).unwrap();

    let stale = stale_sessions(&fs).unwrap();
    assert!(stale.contains(&dead), "{stale:?}");
    assert!(!stale.contains(live.name()), "{stale:?}");
    let report = teardown(&fs, &dead_name, &[]).unwrap();
    assert!(report.instance_removed);
    assert_eq!(report.probes_deleted, 1);
    assert_nothing_left(&fs, &dead_name);
    assert!(fs
        .instance_names()
        .unwrap()
        .contains(&live.group().to_owned()));
    let name = live.group().to_owned();
    drop(live);
    assert_nothing_left(&fs, &name);
}
