//! User-space targets (issue 5): test binaries compiled here from `tests/data/elf/`
//! (C PIE, C non-PIE, a shared library, a stripped binary with a debug link, text moved
//! by `-Ttext-segment`, C++, Rust, USDT), their file offsets checked against
//! `nm`/`readelf` arithmetic, and live uprobe hits on each (root only, like the other live
//! tests). `u:libc:malloc` and a USDT probe with its semaphore are the must-show items.
//!
//! Compilers: gcc, g++, rustc, objcopy, and `<sys/sdt.h>` (Debian systemtap-sdt-dev).
//! Without one of them the tests that need it skip with a message, and fail under CI.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::copy_program;
use crate::util::repo_root;
use crate::util::Live;
use crate::util::LiveRun;
use crate::util::StdoutMode;
use crate::util::Target;
use crate::util::TempDir;
use crate::util::TprobeCmd;

const SECS_10: Duration = Duration::from_secs(10);

/// The compiled test binaries.
#[derive(Debug)]
struct Bins {
    dir: PathBuf,
    pie: PathBuf,
    no_pie: PathBuf,
    /// Non-PIE with frame pointers, so the kernel's user stack walk reaches past main.
    frame_pointers: PathBuf,
    moved: PathBuf,
    stripped: PathBuf,
    /// The unstripped build of `stripped` (for `nm`).
    stripped_src: PathBuf,
    lib: PathBuf,
    with_lib: PathBuf,
    cpp: PathBuf,
    rust: PathBuf,
    usdt: PathBuf,
}

fn skip_or_fail(test: &str, why: &str) -> Option<&'static Bins> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: can't run under CI: {why}");
    }
    eprintln!("skipping {test}: {why}");
    None
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn build() -> Result<Bins, String> {
    let src = repo_root().join("tests/data/elf");
    let dir = std::env::temp_dir().join(format!("tprobe-elf-bins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = |n: &str| dir.join(n);
    let prog = src.join("prog.c");
    let gcc = |args: &[&str], o: &Path| {
        run(Command::new("gcc")
            .args(["-O1", "-g"])
            .args(args)
            .arg("-o")
            .arg(o)
            .arg(&prog))
    };
    gcc(&[], &out("pie"))?;
    gcc(&["-no-pie"], &out("nopie"))?;
    gcc(&["-no-pie", "-fno-omit-frame-pointer"], &out("fp"))?;
    // A PIE linked at 0x800000: every PT_LOAD's p_vaddr differs from its p_offset.
    gcc(&["-Wl,-Ttext-segment=0x800000"], &out("moved"))?;
    // Stripped, with its symbols in a debug file beside it (.gnu_debuglink).
    gcc(&[], &out("stripped.full"))?;
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(out("stripped.full"))
        .arg(out("stripped.debug")))?;
    run(Command::new("objcopy")
        .arg("--strip-all")
        .arg("--add-gnu-debuglink=stripped.debug")
        .arg(out("stripped.full"))
        .arg(out("stripped"))
        .current_dir(&dir))?;
    run(Command::new("gcc")
        .args(["-O1", "-shared", "-fPIC", "-o"])
        .arg(out("libtptest.so"))
        .arg(src.join("lib.c")))?;
    run(Command::new("gcc")
        .args(["-O1", "-DWITH_LIB", "-o"])
        .arg(out("withlib"))
        .arg(&prog)
        .arg(format!("-L{}", dir.display()))
        .arg("-ltptest")
        .arg(format!("-Wl,-rpath,{}", dir.display())))?;
    run(Command::new("g++")
        .args(["-O1", "-o"])
        .arg(out("cpp"))
        .arg(src.join("cpp.cc")))?;
    run(Command::new("rustc")
        .args(["-C", "opt-level=1", "--crate-name", "rs", "-o"])
        .arg(out("rs"))
        .arg(src.join("rs.rs")))?;
    gcc(&["-DWITH_USDT"], &out("usdt"))
        .map_err(|e| format!("{e} (<sys/sdt.h> comes from Debian's systemtap-sdt-dev)"))?;
    extern "C" fn remove_bins() {
        let dir = std::env::temp_dir().join(format!("tprobe-elf-bins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
    // SAFETY: registers a plain function without arguments to run at exit.
    unsafe { libc::atexit(remove_bins) };
    Ok(Bins {
        pie: out("pie"),
        no_pie: out("nopie"),
        frame_pointers: out("fp"),
        moved: out("moved"),
        stripped: out("stripped"),
        stripped_src: out("stripped.full"),
        lib: out("libtptest.so"),
        with_lib: out("withlib"),
        cpp: out("cpp"),
        rust: out("rs"),
        usdt: out("usdt"),
        dir,
    })
}

fn bins(test: &str) -> Option<&'static Bins> {
    static BINS: OnceLock<Result<Bins, String>> = OnceLock::new();
    match BINS.get_or_init(build) {
        Ok(b) => Some(b),
        Err(why) => skip_or_fail(test, why),
    }
}

/// `tprobe resolve TARGET` and the value of its `KEY` line.
fn resolve_field(target: &str, key: &str) -> String {
    let out = TprobeCmd::new().args(["resolve", target]).status(0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = format!("{key:<12} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{text}"))
}

fn hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The symbol's value per `nm` (`--defined-only`, `-D` for dynamic), matched exactly.
fn nm_value(path: &Path, dynamic: bool, name: &str) -> u64 {
    let mut cmd = Command::new("nm");
    if dynamic {
        cmd.arg("-D");
    }
    let out = cmd.arg("--defined-only").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("nm: no {name} in {}", path.display()));
    hex(line.split_whitespace().next().unwrap())
}

/// `vaddr - p_vaddr + p_offset` of the PT_LOAD that holds `vaddr`, per `readelf -lW`.
fn readelf_offset(path: &Path, vaddr: u64) -> u64 {
    let out = Command::new("readelf")
        .arg("-lW")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .find_map(|l| {
            let f: Vec<u64> = l.split_whitespace().skip(1).take(4).map(hex).collect();
            let (offset, va, filesz) = (f[0], f[1], f[3]);
            (vaddr >= va && vaddr < va + filesz).then(|| vaddr - va + offset)
        })
        .unwrap_or_else(|| panic!("readelf: {vaddr:#x} in no PT_LOAD of {}", path.display()))
}

/// Every test binary: the offset `tprobe resolve` gives equals readelf/nm arithmetic,
/// and at least one binary has text whose p_vaddr and p_offset differ.
#[test]
fn offsets_match_readelf_and_nm_arithmetic() {
    let Some(b) = bins("offsets_match_readelf_and_nm_arithmetic") else {
        return;
    };
    let cases: [(&Path, &str, &Path, &str); 8] = [
        (&b.pie, "tp_add", &b.pie, "tp_add"),
        (&b.no_pie, "tp_add", &b.no_pie, "tp_add"),
        (&b.moved, "tp_add", &b.moved, "tp_add"),
        (&b.stripped, "tp_add", &b.stripped_src, "tp_add"),
        (&b.lib, "tp_lib_mul", &b.lib, "tp_lib_mul"),
        (&b.cpp, "tp::twice(int)", &b.cpp, "_ZN2tp5twiceEi"),
        (&b.rust, "rs::probed_rust", &b.rust, ""),
        (&b.usdt, "tp_add", &b.usdt, "tp_add"),
    ];
    let mut text_delta_seen = false;
    for (bin, func, nm_bin, nm_name) in cases {
        let target = format!("u:{}:{func}", bin.display());
        let got = hex(&resolve_field(&target, "file offset"));
        let vaddr = if nm_name.is_empty() {
            // Rust's hash is not known in advance: take the one symbol nm demangles so.
            let out = Command::new("nm").arg("-C").arg(nm_bin).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.ends_with(&format!(" {func}")))
                .unwrap_or_else(|| panic!("nm -C: no {func}"));
            hex(line.split_whitespace().next().unwrap())
        } else {
            nm_value(nm_bin, false, nm_name)
        };
        let want = readelf_offset(nm_bin, vaddr);
        assert_eq!(got, want, "{target}: vaddr {vaddr:#x}");
        text_delta_seen |= vaddr != want;
    }
    assert!(
        text_delta_seen,
        "no test binary has text with p_vaddr != p_offset"
    );
    // The stripped binary really has no symbols of its own: the debug link found them.
    let debug = resolve_field(&format!("u:{}:tp_add", b.stripped.display()), "debug file");
    assert!(debug.ends_with("stripped.debug"), "{debug}");
}

/// A build-id debug file under a debug root (`ROOT/.build-id/xx/rest.debug`) and a
/// debuglink under `.debug/` both give a stripped binary its symbols.
#[test]
fn debug_files_by_build_id_and_debug_dir() {
    let Some(b) = bins("debug_files_by_build_id_and_debug_dir") else {
        return;
    };
    let root = TempDir::new("elf-debug-root");
    let info = tprobe::elf::ElfInfo::read(&b.stripped, &[]).unwrap();
    let id: String = info
        .build_id
        .as_deref()
        .expect("gcc on Debian adds a build-id")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Only the build-id path holds it: copy the binary somewhere without its link target.
    let alone = root.path().join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(&b.stripped, alone.join("stripped")).unwrap();
    let by_id = root.path().join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&by_id).unwrap();
    std::fs::copy(
        b.dir.join("stripped.debug"),
        by_id.join(format!("{}.debug", &id[2..])),
    )
    .unwrap();
    let want = tprobe::elf::file_offset_of(&b.stripped_src, "tp_add").unwrap();
    let without = tprobe::elf::ElfInfo::read_and_resolve(&alone.join("stripped"), "tp_add", &[]);
    assert!(without.is_err(), "no debug file, no tp_add");
    let (info, got) = tprobe::elf::ElfInfo::read_and_resolve(
        &alone.join("stripped"),
        "tp_add",
        &[root.path().to_owned()],
    )
    .unwrap();
    assert_eq!(got.offset, want);
    assert!(info
        .debug_file
        .unwrap()
        .starts_with(root.path().join(".build-id")));
    // `.debug/NAME` beside the binary.
    let dotdebug = root.path().join("dd");
    std::fs::create_dir_all(dotdebug.join(".debug")).unwrap();
    std::fs::copy(&b.stripped, dotdebug.join("stripped")).unwrap();
    std::fs::copy(
        b.dir.join("stripped.debug"),
        dotdebug.join(".debug/stripped.debug"),
    )
    .unwrap();
    let (_, got) =
        tprobe::elf::ElfInfo::read_and_resolve(&dotdebug.join("stripped"), "tp_add", &[]).unwrap();
    assert_eq!(got.offset, want);
    // `ROOT/DIR/NAME`, DIR being the binary's own directory (`/usr/lib/debug/usr/bin/…`).
    let mirrored = root.path().join("mirror");
    let bin_dir = root.path().join("m");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(&b.stripped, bin_dir.join("stripped")).unwrap();
    let canonical = std::fs::canonicalize(&bin_dir).unwrap();
    let debug_dir = mirrored.join(canonical.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&debug_dir).unwrap();
    std::fs::copy(
        b.dir.join("stripped.debug"),
        debug_dir.join("stripped.debug"),
    )
    .unwrap();
    let (info, got) =
        tprobe::elf::ElfInfo::read_and_resolve(&bin_dir.join("stripped"), "tp_add", &[mirrored])
            .unwrap();
    assert_eq!(got.offset, want);
    assert_eq!(info.debug_file, Some(debug_dir.join("stripped.debug")));
}

/// Unknown (with close names), ambiguous, not ELF, truncated ELF, missing library: each a
/// clear error with its exit code, never a panic.
#[test]
fn bad_targets_are_clear_errors() {
    let Some(b) = bins("bad_targets_are_clear_errors") else {
        return;
    };
    let err = |target: &str, code: i32| {
        let out = TprobeCmd::new().args(["resolve", target]).status(code);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&format!("u:{}:tp_ad", b.pie.display()), 9);
    assert!(
        e.contains("no function `tp_ad`") && e.contains("tp_add"),
        "{e}"
    );
    let e = err(&format!("u:{}:tp::twice", b.cpp.display()), 9);
    assert!(
        e.contains("ambiguous") && e.contains("tp::twice(double)"),
        "{e}"
    );
    let text = b.dir.join("not-elf.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let e = err(&format!("u:{}:f", text.display()), 3);
    assert!(e.contains("not an ELF file"), "{e}");
    let cut = b.dir.join("truncated");
    let bytes = std::fs::read(&b.pie).unwrap();
    for len in [10, 64, 200, bytes.len() / 2] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let out = TprobeCmd::new()
            .args(["resolve", &format!("u:{}:tp_add", cut.display())])
            .output();
        assert!(matches!(out.status.code(), Some(3 | 9)), "{out:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    let e = err("u:libtprobe_missing_lib:f", 9);
    assert!(
        e.contains("cannot find `libtprobe_missing_lib`") && e.contains("full path"),
        "{e}"
    );
    let e = err(&format!("usdt:{}:tptest:nope", b.usdt.display()), 9);
    assert!(e.contains("tptest:tick"), "{e}");
}

/// `tprobe resolve u:libc:malloc` gives the offset readelf arithmetic gives for libc's
/// default `malloc` (must-show, offline half).
#[test]
fn libc_malloc_offset_is_readelf_arithmetic() {
    let file = PathBuf::from(resolve_field("u:libc:malloc", "file"));
    let got = hex(&resolve_field("u:libc:malloc", "file offset"));
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text
        .lines()
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 8 && f[3] == "FUNC" && f[7].starts_with("malloc@@")
        })
        .map(|l| hex(l.split_whitespace().nth(1).unwrap()))
        .expect("readelf: malloc@@ in libc's .dynsym");
    assert_eq!(got, readelf_offset(&file, value));
    // `tprobe list` agrees and shows the version.
    let out = TprobeCmd::new().args(["list", "libc", "malloc"]).status(0);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&format!("0x{got:08x} malloc@@GLIBC_")),
        "{listed}"
    );
}

/// Runs `tprobe -n N --json ARGS… SPEC` against a running program and returns the
/// events; asserts the run left nothing behind.
fn live_events(live: &Live, args: &[&str], spec: &str) -> Vec<serde_json::Value> {
    let mut all: Vec<&str> = vec!["--json", "-d", "20"];
    all.extend(args);
    all.push(spec);
    // The target already runs, so a run with `-n` may be done before it could be seen
    // armed: wait for its end only.
    let mut run = LiveRun::start(&all, StdoutMode::Collect);
    let end = run.wait(Duration::from_secs(30));
    let left = live.leftovers(&run.prefix);
    assert!(left.is_empty(), "tracefs still holds {left:?}");
    assert_eq!(end.code(), 0, "{spec}: {}", end.stderr);
    end.json()
}

/// A uprobe placed by each test binary's function name fires (PIE, non-PIE, moved text,
/// stripped + debug link, C++ demangled, Rust demangled, and a shared library found
/// through the process's maps by its short name).
#[test]
fn uprobe_fires_on_each_test_binary() {
    let Some(live) = Live::get("uprobe_fires_on_each_test_binary") else {
        return;
    };
    let Some(b) = bins("uprobe_fires_on_each_test_binary") else {
        return;
    };
    let cases: [(&Path, String); 7] = [
        (&b.pie, "tp_add".into()),
        (&b.no_pie, "tp_add".into()),
        (&b.moved, "tp_add".into()),
        (&b.stripped, "tp_add".into()),
        (&b.cpp, "tp::twice(int)".into()),
        (&b.rust, "rs::probed_rust".into()),
        (&b.with_lib, "libtptest:tp_lib_mul".into()),
    ];
    for (bin, func) in cases {
        // Long enough to outlive arming; killed when dropped.
        let target = Target::background(bin, 3000, 5000);
        let pid = target.pid().to_string();
        let spec = if func.contains("libtptest") {
            format!("u:{func}")
        } else {
            format!("u:{}:{func}", bin.display())
        };
        let events = live_events(live, &["-n", "2", "-p", &pid], &spec);
        assert_eq!(events.len(), 2, "{spec}: {events:?}");
        for e in &events {
            assert_eq!(e["pid"].to_string(), pid, "{spec}: {e}");
        }
    }
    // The library probe went on the library file itself.
    assert!(b.lib.exists());
}

/// Must-show: a uprobe placed by `u:libc:malloc` fires on a live process.
#[test]
fn libc_malloc_uprobe_fires() {
    let Some(live) = Live::get("libc_malloc_uprobe_fires") else {
        return;
    };
    let Some(b) = bins("libc_malloc_uprobe_fires") else {
        return;
    };
    let target = Target::background(&b.pie, 3000, 5000);
    let pid = target.pid().to_string();
    let events = live_events(live, &["-n", "3", "-p", &pid], "u:libc:malloc size=%di:u64");
    assert_eq!(events.len(), 3, "{events:?}");
    // prog.c mallocs 64 + i bytes per call.
    for e in &events {
        assert_eq!(e["pid"].to_string(), pid, "{e}");
        let size = e["fields"]["size"].as_u64().unwrap();
        assert!((64..64 + 3000).contains(&size), "{e}");
    }
}

/// Must-show: a USDT probe fires with its semaphore bumped (the program sees it non-zero
/// only while tprobe runs) and its arguments decoded (`i`, `-i`, `r = i+2 + 3i`).
#[test]
fn usdt_probe_fires_with_semaphore_and_args() {
    let Some(live) = Live::get("usdt_probe_fires_with_semaphore_and_args") else {
        return;
    };
    let Some(b) = bins("usdt_probe_fires_with_semaphore_and_args") else {
        return;
    };
    let spec = format!("usdt:{}:tptest:tick", b.usdt.display());
    let line = resolve_field(&spec, "kernel line");
    // `PATH:0xOFF(0xSEMAPHORE) arg1=… arg2=… arg3=…`: the semaphore as a ref_ctr offset.
    assert!(line.contains("(0x"), "ref_ctr offset expected: {line}");
    assert!(line.contains(" arg3="), "{line}");
    let target = Target::start(&b.usdt, 400, 5000);
    let pid = target.pid().to_string();
    let events = live_events(live, &["-n", "5", "-p", &pid], &spec);
    assert_eq!(events.len(), 5, "{events:?}");
    for e in &events {
        let f = &e["fields"];
        let i = f["arg1"].as_i64().unwrap();
        assert_eq!(f["arg2"].as_i64(), Some(-i), "{e}");
        assert_eq!(f["arg3"].as_i64(), Some(i + 2 + 3 * i), "{e}");
    }
    let truth = target.finish(Duration::from_secs(20));
    assert!(
        truth.iter().any(|t| t.s == "1"),
        "the semaphore was never non-zero"
    );
    assert_eq!(truth.first().map(|t| t.s.as_str()), Some("0"));
    assert_eq!(
        truth.last().map(|t| t.s.as_str()),
        Some("0"),
        "semaphore left bumped"
    );
}

/// `u:PATH:GLOB` places one event with a probe point per matching function, and it fires
/// (cap: --max-probes).
#[test]
fn user_wildcard_is_one_event_with_many_points() {
    let Some(live) = Live::get("user_wildcard_is_one_event_with_many_points") else {
        return;
    };
    let Some(b) = bins("user_wildcard_is_one_event_with_many_points") else {
        return;
    };
    // malloc, calloc, realloc, valloc, pvalloc…: many functions, one event.
    let spec = "u:libc:*alloc".to_owned();
    let out = TprobeCmd::new().args(["--dry-run", &spec]).status(0);
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let events: std::collections::BTreeSet<&str> = lines
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{lines}");
    assert!(lines.lines().count() >= 4, "{lines}");
    let offsets: std::collections::BTreeSet<&str> = lines
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(
        offsets.len(),
        lines.lines().count(),
        "each offset once: {lines}"
    );
    let too_many = TprobeCmd::new()
        .args([
            "--dry-run",
            "--max-probes",
            "1",
            &format!("u:{}:*", b.pie.display()),
        ])
        .output();
    assert_eq!(too_many.status.code(), Some(9), "{too_many:?}");
    assert!(String::from_utf8_lossy(&too_many.stderr).contains("--max-probes"));
    let target = Target::background(&b.pie, 3000, 5000);
    let pid = target.pid().to_string();
    let events = live_events(live, &["-n", "2", "-p", &pid], &spec);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| e["event"] == "u_libc_so_6_alloc"),
        "{events:?}"
    );
}

/// `--ustack` frames are named at output time through the process's maps: the probed
/// function first, its caller next (binary reader and `--text` alike).
#[test]
fn ustack_frames_are_symbolized() {
    let Some(live) = Live::get("ustack_frames_are_symbolized") else {
        return;
    };
    let Some(b) = bins("ustack_frames_are_symbolized") else {
        return;
    };
    let target = Target::background(&b.frame_pointers, 3000, 5000);
    let pid = target.pid().to_string();
    let spec = format!("u:{}:tp_add", b.frame_pointers.display());
    for reader in [None, Some("--text")] {
        let mut args = vec!["-n", "1", "--ustack", "-p", &pid];
        args.extend(reader);
        let events = live_events(live, &args, &spec);
        let frames: Vec<&str> = events[0]["ustack"]
            .as_array()
            .unwrap_or_else(|| panic!("no ustack: {events:?}"))
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let own = format!("({})", b.frame_pointers.display());
        assert_eq!(frames[0], format!("tp_add+0x0 {own}"), "{frames:?}");
        // At a function's first instruction the frame-pointer walk skips its caller
        // (main) and goes on with main's caller, in libc.
        assert!(
            frames[1].contains("+0x") && frames[1].ends_with("libc.so.6)"),
            "{frames:?}"
        );
    }
}

/// With -p, a binary deleted after it started (an upgrade under a running service) is
/// found in the process's maps, placed through `/proc/PID/map_files`, and fires.
#[test]
fn deleted_binary_is_probed_through_map_files() {
    let Some(live) = Live::get("deleted_binary_is_probed_through_map_files") else {
        return;
    };
    let Some(b) = bins("deleted_binary_is_probed_through_map_files") else {
        return;
    };
    let dir = TempDir::new("elf-deleted");
    let copy = dir.path().join("goner");
    copy_program(&b.no_pie, &copy);
    let target = Target::background(&copy, 3000, 5000);
    let pid = target.pid().to_string();
    // Wait for the exec to map it before the file goes away.
    let maps = format!("/proc/{pid}/maps");
    let deadline = std::time::Instant::now() + SECS_10;
    while !std::fs::read_to_string(&maps).is_ok_and(|m| m.contains("/goner")) {
        assert!(std::time::Instant::now() < deadline, "goner never mapped");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(&copy).unwrap();
    let out = TprobeCmd::new()
        .args(["resolve", "-p", &pid, "u:goner:tp_add"])
        .status(0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("/proc/{pid}/map_files/")), "{text}");
    assert!(text.contains("(deleted;"), "{text}");
    let events = live_events(live, &["-n", "2", "-p", &pid], "u:goner:tp_add");
    assert_eq!(events.len(), 2, "{events:?}");
}

/// Where the kernel takes no `(REF_CTR_OFFSET)`, a USDT probe with a semaphore is placed
/// without it, with a warning that the program will not see it is traced.
#[test]
fn usdt_without_ref_ctr_support_warns() {
    let Some(b) = bins("usdt_without_ref_ctr_support_warns") else {
        return;
    };
    let spec = format!("usdt:{}:tptest:tick", b.usdt.display());
    let with = tprobe::elf::expand_user_spec(&spec, None, true, 128).unwrap();
    let without = tprobe::elf::expand_user_spec(&spec, None, false, 128).unwrap();
    assert!(
        with[0].text.contains("(0x") && with[0].warning.is_none(),
        "{with:?}"
    );
    assert!(!without[0].text.contains('('), "{without:?}");
    assert!(
        without[0]
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("semaphore")),
        "{without:?}"
    );
    let site = with[0].usdt.as_ref().unwrap();
    assert_eq!(site.fetch_args.len(), 3, "{site:?}");
    // `tprobe list usdt` shows the same site.
    let out = TprobeCmd::new()
        .args(["list", "usdt", &b.usdt.display().to_string()])
        .status(0);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&format!(":tptest:tick offset 0x{:x} ", site.offset.0)),
        "{listed}"
    );
}

/// With -p, a path means the file the process sees: here a process in its own mount
/// namespace has another binary bind-mounted over the path, which tprobe reaches
/// through /proc/PID/root (the file at that path here has no `tp_add` at all).
#[test]
fn other_mount_namespace_is_reached_through_proc_root() {
    let Some(live) = Live::get("other_mount_namespace_is_reached_through_proc_root") else {
        return;
    };
    let Some(b) = bins("other_mount_namespace_is_reached_through_proc_root") else {
        return;
    };
    let dir = TempDir::new("elf-mntns");
    let seen_here = dir.path().join("app");
    let seen_there = dir.path().join("real");
    copy_program(&b.cpp, &seen_here);
    copy_program(&b.no_pie, &seen_there);
    let script = format!(
        "mount --bind {} {} && exec {} 3000 5000",
        seen_there.display(),
        seen_here.display(),
        seen_here.display()
    );
    let mut child = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("unshare (util-linux) runs");
    let pid = child.id().to_string();
    let maps = format!("/proc/{pid}/maps");
    let deadline = std::time::Instant::now() + SECS_10;
    while !std::fs::read_to_string(&maps).is_ok_and(|m| m.contains("/app")) {
        assert!(std::time::Instant::now() < deadline, "app never mapped");
        std::thread::sleep(Duration::from_millis(5));
    }
    let spec = format!("u:{}:tp_add", seen_here.display());
    let out = TprobeCmd::new()
        .args(["resolve", "-p", &pid, &spec])
        .output();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let events = if out.status.success() {
        live_events(live, &["-n", "2", "-p", &pid], &spec)
    } else {
        Vec::new()
    };
    crate::util::kill(child.id(), libc::SIGKILL);
    let _ = child.wait();
    assert!(
        text.contains(&format!("/proc/{pid}/root/")),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(events.len(), 2, "{events:?}");
}
