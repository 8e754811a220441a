//! `tprobe trace --dry-run` planning that needs no tracefs: kernel symbol patterns.

use crate::util::TprobeCmd;

/// Exit code for a symbol or pattern that matches nothing usable (src/cli/exit_code.rs).
const SYMBOL_NOT_FOUND: i32 = 9;

fn kallsyms_readable() -> bool {
    std::fs::read_to_string("/proc/kallsyms").is_ok_and(|t| t.contains(" vfs_read"))
}

#[test]
fn a_pattern_becomes_probe_points_of_one_event() {
    if !kallsyms_readable() {
        eprintln!("skipped: /proc/kallsyms is not readable");
        return;
    }
    let out = TprobeCmd::new()
        .args(["--dry-run", "p:vfs_read* a=%di:x64"])
        .status(0);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    let heads: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(heads.len(), 1, "one event for every probe point: {text}");
    assert!(
        lines.iter().any(|l| l.contains(" vfs_read a=%di:x64")),
        "{text}"
    );
    assert!(lines.iter().all(|l| !l.contains('*')), "{text}");
}

#[test]
fn a_pattern_over_the_cap_or_matching_nothing_is_refused() {
    if !kallsyms_readable() {
        eprintln!("skipped: /proc/kallsyms is not readable");
        return;
    }
    let out = TprobeCmd::new()
        .args(["--dry-run", "--max-probes", "2", "p:vfs_*"])
        .status(SYMBOL_NOT_FOUND);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-probes"));
    TprobeCmd::new()
        .args(["--dry-run", "p:zzz_no_such_prefix_*"])
        .status(SYMBOL_NOT_FOUND);
}

#[test]
fn list_kernel_and_tracepoints_by_glob() {
    if !kallsyms_readable() {
        eprintln!("skipped: /proc/kallsyms is not readable");
        return;
    }
    let out = TprobeCmd::new()
        .args(["list", "kernel", "vfs_read*"])
        .status(0);
    let names = String::from_utf8(out.stdout).unwrap();
    assert!(names.lines().any(|l| l == "vfs_read"), "{names}");
    assert!(names.lines().all(|l| l.starts_with("vfs_read")), "{names}");
    if !std::path::Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_openat").is_dir() {
        eprintln!("skipped tracepoints: no tracefs with syscalls events");
        return;
    }
    let out = TprobeCmd::new()
        .args(["list", "tracepoints", "syscalls:sys_enter_openat"])
        .status(0);
    assert_eq!(out.stdout, b"syscalls:sys_enter_openat\n");
}
