//! Live runs against this host's tracefs (issue 4, "Tests"): a C program with a known
//! function (`tests/data/uprobe_target.c`: `probe_me(i - 5, "call \"i\" = x")`, printing
//! `a r s` per call) is probed by the real `tprobe` binary. Every test skips (with a
//! message) when not root, tracefs/uprobes are missing or gcc is absent.
//!
//! The machine is shared (other test binaries, other tools): tests only assert about names
//! of their own runs, `tprobe_<pid>_<starttime>_*` with the pid of the `tprobe` child they
//! started, and each test probes its own copy of the program (a uprobe is placed on an
//! inode), so no test sees another's calls.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use crate::util::assert_code;
use crate::util::assert_no_leftovers;
use crate::util::entry_spec;
use crate::util::InstanceWatch;
use crate::util::Live;
use crate::util::LiveRun;
use crate::util::Rng;
use crate::util::RunEnd;
use crate::util::StdoutMode;
use crate::util::Target;
use crate::util::TempDir;
use crate::util::TprobeCmd;

const SECS_10: Duration = Duration::from_secs(10);

/// How long a run may take to end after a stop signal before the test calls it hung. A
/// hang is forever; a run tearing down behind a dozen others (each removing uprobes waits
/// for an RCU grace period) on a busy 2-vCPU host took over 10 s, so the bound is wide.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// The event name tprobe gives `u:PATH:probe_me` (`u_<basename>_probe_me`).
fn event_name(kind: &str, program: &Path) -> String {
    format!(
        "{kind}_{}_probe_me",
        program.file_name().unwrap().to_string_lossy()
    )
}

/// Starts `tprobe ARGS`, waits until it is armed, runs the program `calls` times without
/// pause, and waits for tprobe to end (it must stop by itself: `-n`). Returns the run's
/// name, how it ended and the program's truth.
fn armed_run(
    live: &Live,
    program: &Path,
    args: &[&str],
    calls: u32,
) -> (String, RunEnd, Vec<crate::util::Truth>, u32, LiveRun) {
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["-d", "20"]);
    let mut run = LiveRun::start(&args, StdoutMode::Collect);
    let name = run.wait_armed(live, SECS_10);
    let target = Target::start(program, calls, 0);
    let target_pid = target.pid();
    let end = run.wait(SECS_10);
    let truth = target.finish(SECS_10);
    assert_eq!(truth.len(), calls as usize);
    assert_no_leftovers(live, &run);
    (name, end, truth, target_pid, run)
}

/// Issue 4 test 1: The must-show run: `--json -n 5 'u:PATH:probe_me a=%di:s32 s=+0(%si):string'`.
#[test]
fn json_five_events_match_the_programs_truth() {
    let Some(live) = Live::get("json_five_events_match_the_programs_truth") else {
        return;
    };
    let dir = TempDir::new("live-json");
    let program = live.private_program(&dir, "t_json");
    let spec = entry_spec(&program);
    let (name, end, truth, target_pid, run) =
        armed_run(live, &program, &["--json", "-n", "5", &spec], 12);
    assert_code(&end, 0);
    let events = end.json();
    assert_eq!(events.len(), 5, "{:?}", end.stdout);
    assert!(name.starts_with(&run.prefix), "{name} vs {}", run.prefix);
    assert_eq!(
        end.summary_group().as_deref(),
        Some(name.as_str()),
        "{}",
        end.stderr
    );
    // The forked child starts with the forking thread's name; read both that and the
    // process's, since which thread forks is the harness's business.
    let pre_exec_comms: Vec<String> = ["/proc/thread-self/comm", "/proc/self/comm"]
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        })
        .collect();
    for (event, truth) in events.iter().zip(&truth) {
        assert_eq!(event["group"], name.as_str(), "{event}");
        assert_eq!(
            event["event"],
            event_name("u", &program).as_str(),
            "{event}"
        );
        assert_eq!(event["pid"], target_pid, "{event}");
        // The header comm is looked up in saved_cmdlines when the line is read, and the
        // kernel saves it only at the task's next sched_switch: a fast reader may see
        // `<...>` (kernel-notes.md §3), or the name the same pid had before exec (this
        // test binary's, inherited by the forked child) when that name was saved at a
        // switch before the exec and not yet replaced. It is never another task's name.
        assert!(
            event["comm"] == "t_json"
                || event["comm"] == "<...>"
                || pre_exec_comms
                    .iter()
                    .any(|comm| event["comm"] == comm.as_str()),
            "{event} (pre-exec comms {pre_exec_comms:?})"
        );
        assert_eq!(event["fields"]["a"], truth.a, "{event}");
        assert_eq!(event["fields"]["s"], truth.s.as_str(), "{event}");
        assert!(truth.s.contains('"'), "the truth has quotes: {}", truth.s);
    }
    assert_eq!(events[0]["fields"]["a"], -5);
    assert!(
        end.stderr.contains(&format!(
            "5 events [{}: 5], 0 lost",
            event_name("u", &program)
        )),
        "{}",
        end.stderr
    );
}

/// Issue 4 test 1: A uretprobe's `$retval` next to the entry probe (several probes at once).
#[test]
fn uretprobe_retval_matches_the_truth() {
    let Some(live) = Live::get("uretprobe_retval_matches_the_truth") else {
        return;
    };
    let dir = TempDir::new("live-ret");
    let program = live.private_program(&dir, "t_ret");
    let entry = entry_spec(&program);
    let ret = format!("ur:{}:probe_me rv=$retval:s32", program.display());
    let (name, end, truth, _, _run) =
        armed_run(live, &program, &["--json", "-n", "24", &entry, &ret], 12);
    assert_code(&end, 0);
    let events = end.json();
    assert_eq!(events.len(), 24);
    let by_name = |kind: &str| -> Vec<&serde_json::Value> {
        let wanted = event_name(kind, &program);
        events
            .iter()
            .filter(|e| e["event"] == wanted.as_str())
            .map(|e| &e["fields"])
            .collect()
    };
    let (entries, returns) = (by_name("u"), by_name("ur"));
    assert_eq!((entries.len(), returns.len()), (12, 12), "{events:?}");
    for ((entry, ret), truth) in entries.iter().zip(&returns).zip(&truth) {
        assert_eq!(entry["a"], truth.a);
        assert_eq!(entry["s"], truth.s.as_str());
        assert_eq!(ret["rv"], truth.r, "{ret}");
        assert!(ret["__probe_ret_ip"].is_string() && ret["__probe_func"].is_string());
    }
    assert!(events.iter().all(|e| e["group"] == name.as_str()));
    assert!(
        end.stderr.contains(&format!(
            "[{}: 12, {}: 12]",
            event_name("u", &program),
            event_name("ur", &program)
        )),
        "{}",
        end.stderr
    );
}

/// Issue 4 test 1: The default text format.
#[test]
fn text_format_run() {
    let Some(live) = Live::get("text_format_run") else {
        return;
    };
    let dir = TempDir::new("live-text");
    let program = live.private_program(&dir, "t_text");
    let spec = entry_spec(&program);
    let (name, end, truth, target_pid, _run) = armed_run(live, &program, &["-n", "5", &spec], 8);
    assert_code(&end, 0);
    assert_eq!(end.stdout.len(), 5, "{:?}", end.stdout);
    for (line, truth) in end.stdout.iter().zip(&truth) {
        let escaped = truth.s.replace('"', "\\\"");
        // The header comm may be `<...>` (see json_five_events_match_the_programs_truth).
        let want_tail = format!(
            "-{target_pid} {name}/{}: __probe_ip=",
            event_name("u", &program)
        );
        assert!(
            line.contains(&format!(" t_text{want_tail}"))
                || line.contains(&format!(" <...>{want_tail}")),
            "{line}\nwant {want_tail}"
        );
        let want_args = format!(" a={} s=\"{escaped}\"", truth.a);
        assert!(line.ends_with(&want_args), "{line}\nwant …{want_args}");
    }
}

/// Issue 4 test 2: Every integer width and sign, hex, `$comm`, arrays, `ustring`, `char`, a bitfield
/// and an immediate, decoded from a live uprobe, including negative `a` values.
#[test]
fn arg_types_from_a_live_uprobe() {
    let Some(live) = Live::get("arg_types_from_a_live_uprobe") else {
        return;
    };
    let dir = TempDir::new("live-types");
    let program = live.private_program(&dir, "t_types");
    let mut spec = format!("u:{}:probe_me", program.display());
    for (name, ty) in [
        ("s8", "s8"),
        ("s16", "s16"),
        ("s32", "s32"),
        ("s64", "s64"),
        ("u8", "u8"),
        ("u16", "u16"),
        ("u32", "u32"),
        ("u64", "u64"),
        ("x8", "x8"),
        ("x16", "x16"),
        ("x32", "x32"),
        ("x64", "x64"),
        ("bf", "b4@0/32"),
    ] {
        spec.push_str(&format!(" {name}=%di:{ty}"));
    }
    spec.push_str(
        " cm=$comm:string arr=+0(%si):u8[4] xa=+0(%si):x8[2] ca=+0(%si):char[4] \
         ch=+0(%si):char us=+0(%si):ustring str=+0(%si):string im=\\42:u32",
    );
    let (_, end, truth, _, _run) = armed_run(live, &program, &["--json", "-n", "12", &spec], 12);
    assert_code(&end, 0);
    let events = end.json();
    assert_eq!(events.len(), 12);
    for (event, truth) in events.iter().zip(&truth) {
        let f = &event["fields"];
        let a = truth.a;
        let hex = |bits: u32| format!("{:#x}", (a as u64) & (u64::MAX >> (64 - bits)));
        assert_eq!(f["s8"], a as i8, "{event}");
        assert_eq!(f["s16"], a as i16, "{event}");
        assert_eq!(f["s32"], a as i32, "{event}");
        assert_eq!(f["u8"], a as u8, "{event}");
        assert_eq!(f["u16"], a as u16, "{event}");
        assert_eq!(f["u32"], a as u32, "{event}");
        assert_eq!(f["x8"], hex(8).as_str(), "{event}");
        assert_eq!(f["x16"], hex(16).as_str(), "{event}");
        assert_eq!(f["x32"], hex(32).as_str(), "{event}");
        // The upper half of %di for an `int` argument is whatever the caller left there:
        // gcc zero- or sign-extends.
        let zero_ext = a as u32 as u64;
        let sign_ext = a as u64;
        assert!(
            f["u64"] == zero_ext || f["u64"] == sign_ext,
            "u64 {} for {a}",
            f["u64"]
        );
        assert!(
            f["s64"] == zero_ext as i64 || f["s64"] == a,
            "s64 {} for {a}",
            f["s64"]
        );
        assert!(
            f["x64"] == format!("{zero_ext:#x}").as_str()
                || f["x64"] == format!("{sign_ext:#x}").as_str(),
            "x64 {} for {a}",
            f["x64"]
        );
        assert_eq!(f["bf"], (a as u64) & 0xf, "{event}");
        assert_eq!(f["cm"], "t_types", "{event}");
        assert_eq!(
            f["arr"],
            serde_json::json!([b'c', b'a', b'l', b'l']),
            "{event}"
        );
        assert_eq!(f["xa"], serde_json::json!(["0x63", "0x61"]), "{event}");
        assert_eq!(f["ca"], serde_json::json!(["c", "a", "l", "l"]), "{event}");
        assert_eq!(f["ch"], "c", "{event}");
        assert_eq!(f["us"], truth.s.as_str(), "{event}");
        assert_eq!(f["str"], truth.s.as_str(), "{event}");
        assert_eq!(f["im"], 42, "{event}");
    }
    // Negative and positive values were both seen.
    assert_eq!(events[0]["fields"]["s8"], -5);
    assert_eq!(events[0]["fields"]["u8"], 251);
    assert_eq!(events[0]["fields"]["x16"], "0xfffb");
    assert_eq!(events[11]["fields"]["s32"], 6);
}

/// Stacks (`-s`, `--ustack`), buffer size (`-b`) and `-o FILE`.
#[test]
fn stacks_buffer_size_and_output_file() {
    let Some(live) = Live::get("stacks_buffer_size_and_output_file") else {
        return;
    };
    let dir = TempDir::new("live-ofile");
    let program = live.private_program(&dir, "t_ofile");
    let out = dir.path().join("events.json");
    let spec = format!("u:{}:probe_me a=%di:s32", program.display());
    let out_arg = out.to_str().unwrap();
    let (_, end, truth, _, _run) = armed_run(
        live,
        &program,
        &[
            "--json", "-n", "3", "-s", "--ustack", "-b", "256", "-o", out_arg, &spec,
        ],
        3,
    );
    assert_code(&end, 0);
    assert!(end.stdout.is_empty(), "{:?}", end.stdout);
    let events = crate::util::json_lines(&std::fs::read(&out).unwrap());
    assert_eq!(events.len(), 3);
    for (event, truth) in events.iter().zip(&truth) {
        assert_eq!(event["fields"]["a"], truth.a);
        let stack: Vec<&str> = event["stack"]
            .as_array()
            .unwrap_or_else(|| panic!("no kernel stack: {event}"))
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(stack.iter().any(|f| f.contains("uprobe")), "{stack:?}");
        let ustack = event["ustack"].as_array().expect("user stack");
        let ip = u64::from_str_radix(
            event["fields"]["__probe_ip"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let top =
            u64::from_str_radix(ustack[0].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(top, ip, "{event}");
    }
}

/// Issue 4 test 3: `-p PID`: of two processes running the probed function, only the given one's
/// events (and without `-p`, both: the check means something).
#[test]
fn pid_filter_sees_only_that_process() {
    let Some(live) = Live::get("pid_filter_sees_only_that_process") else {
        return;
    };
    let dir = TempDir::new("live-pid");
    let program = live.private_program(&dir, "t_pid");
    let spec = entry_spec(&program);
    let traced = Target::background(&program, 100_000, 1000);
    let other = Target::background(&program, 100_000, 1000);
    let traced_pid = traced.pid().to_string();
    let mut with_p = LiveRun::start(
        ["--json", "-n", "30", "-d", "20", "-p", &traced_pid, &spec],
        StdoutMode::Collect,
    );
    let mut without_p = LiveRun::start(
        ["--json", "-n", "60", "-d", "20", &spec],
        StdoutMode::Collect,
    );
    let (a, b) = (with_p.wait(SECS_10), without_p.wait(SECS_10));
    assert_code(&a, 0);
    assert_code(&b, 0);
    let pids = |end: &RunEnd| -> std::collections::BTreeSet<u64> {
        end.json()
            .iter()
            .map(|e| e["pid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(a.json().len(), 30);
    assert_eq!(
        pids(&a),
        [u64::from(traced.pid())].into(),
        "-p {traced_pid} saw other processes"
    );
    assert_eq!(
        pids(&b),
        [u64::from(traced.pid()), u64::from(other.pid())].into(),
        "without -p both processes are seen"
    );
    for e in a.json() {
        let a_val = e["fields"]["a"].as_i64().unwrap();
        assert_eq!(
            e["fields"]["s"],
            format!("call \"{}\" = x", a_val + 5).as_str()
        );
    }
    assert_no_leftovers(live, &with_p);
    assert_no_leftovers(live, &without_p);
}

/// Issue 4 test 3: `--filter 'a > 0'` and `SPEC if a > 0`, two runs at once on the same program: the
/// first 7 events of each are a = 1..=7 (unfiltered they would be -5..=1).
#[test]
fn global_and_per_spec_filters() {
    let Some(live) = Live::get("global_and_per_spec_filters") else {
        return;
    };
    let dir = TempDir::new("live-filter");
    let program = live.private_program(&dir, "t_filter");
    let spec = entry_spec(&program);
    let per_spec = format!("{spec} if a > 0");
    let mut global = LiveRun::start(
        ["--json", "-n", "7", "-d", "20", "--filter", "a > 0", &spec],
        StdoutMode::Collect,
    );
    let mut local = LiveRun::start(
        ["--json", "-n", "7", "-d", "20", &per_spec],
        StdoutMode::Collect,
    );
    global.wait_armed(live, SECS_10);
    local.wait_armed(live, SECS_10);
    let target = Target::start(&program, 24, 0);
    for run in [&mut global, &mut local] {
        let end = run.wait(SECS_10);
        assert_code(&end, 0);
        let a: Vec<i64> = end
            .json()
            .iter()
            .map(|e| e["fields"]["a"].as_i64().unwrap())
            .collect();
        assert_eq!(a, (1..=7).collect::<Vec<_>>(), "{}", end.stderr);
        assert_no_leftovers(live, run);
    }
    target.finish(SECS_10);
}

/// Issue 4 test 3: `-d 1` stops after about a second, with exit 0 and nothing left.
#[test]
fn duration_stops_after_about_a_second() {
    let Some(live) = Live::get("duration_stops_after_about_a_second") else {
        return;
    };
    let dir = TempDir::new("live-dur");
    let program = live.private_program(&dir, "t_dur");
    let _target = Target::background(&program, 100_000, 2000);
    let started = Instant::now();
    let mut run = LiveRun::start(
        ["--json", "-d", "1", &entry_spec(&program)],
        StdoutMode::Collect,
    );
    let end = run.wait(SECS_10);
    let elapsed = started.elapsed();
    assert_code(&end, 0);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(4),
        "-d 1 took {elapsed:?}"
    );
    assert!(!end.json().is_empty(), "events while the program ran");
    assert_no_leftovers(live, &run);
}

/// The file offset of `probe_me` in the compiled program, from its ELF headers.
fn probe_me_offset(program: &Path) -> u64 {
    use object::Object;
    use object::ObjectSegment;
    use object::ObjectSymbol;
    let data = std::fs::read(program).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let addr = file
        .symbols()
        .find(|s| s.name() == Ok("probe_me"))
        .expect("probe_me symbol")
        .address();
    file.segments()
        .find(|seg| seg.address() <= addr && addr < seg.address() + seg.size())
        .map(|seg| addr - seg.address() + seg.file_range().0)
        .expect("segment of probe_me")
}

/// Issue 4 test 3: `--dry-run` prints the kernel lines (group, offset, args, filter) and touches nothing.
#[test]
fn dry_run_prints_kernel_lines_and_touches_nothing() {
    let Some(live) = Live::get("dry_run_prints_kernel_lines_and_touches_nothing") else {
        return;
    };
    let dir = TempDir::new("live-dry");
    let program = live.private_program(&dir, "t_dry");
    let path = program.display().to_string();
    let watch = InstanceWatch::new(live);
    let (defs_before, instances_before) = (live.definitions(), live.instances());
    let mut run = LiveRun::start(
        [
            "--dry-run",
            "--filter",
            "a > 0",
            &entry_spec(&program),
            &format!("ur:{path}:probe_me rv=$retval:s32"),
        ],
        StdoutMode::Collect,
    );
    let end = run.wait(SECS_10);
    assert_code(&end, 0);
    let group = format!("{}0", run.prefix);
    let offset = format!("{:#x}", probe_me_offset(&program));
    assert_eq!(
        end.stdout,
        [
            format!("p:{group}/u_t_dry_probe_me {path}:{offset} a=%di:s32 s=+0(%si):string"),
            format!("r:{group}/ur_t_dry_probe_me {path}:{offset} rv=$retval:s32"),
            format!("# filter {group}/u_t_dry_probe_me: a > 0"),
            format!("# filter {group}/ur_t_dry_probe_me: a > 0"),
        ]
    );
    // Not even a short-lived instance, and no definition of this run or this program.
    let created: Vec<String> = watch
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&run.prefix))
        .collect();
    assert!(created.is_empty(), "--dry-run created {created:?}");
    let (defs_after, instances_after) = (live.definitions(), live.instances());
    let ours = |line: &String| line.contains(&run.prefix) || line.contains(&path);
    assert!(!defs_after.iter().any(ours), "{defs_after:?}");
    assert!(!instances_after.iter().any(ours), "{instances_after:?}");
    // Anything else that changed meanwhile belongs to concurrent runs: report, don't fail.
    if defs_before != defs_after || instances_before != instances_after {
        eprintln!("note: tracefs changed during the dry run (concurrent runs of other tests)");
    }
}

/// Issue 4 test 4: Bad input: a clear error, the exit code of its kind, and tracefs untouched (no
/// instance of the run ever appears, watched with inotify).
#[test]
fn bad_input_is_rejected_before_tracefs_is_touched() {
    let Some(live) = Live::get("bad_input_is_rejected_before_tracefs_is_touched") else {
        return;
    };
    let dir = TempDir::new("live-bad");
    let program = live.private_program(&dir, "t_bad");
    let p = program.display().to_string();
    let too_many: String = (1..=129).map(|i| format!(" a{i}=%di")).collect();
    let mut cases: Vec<(String, Vec<String>, i32, &str)> = vec![
        (
            "malformed arg".into(),
            vec![format!("u:{p}:probe_me a=")],
            6,
            "no value after `=`",
        ),
        (
            "unknown probe type".into(),
            vec!["x:foo".into()],
            6,
            "unknown probe type `x`",
        ),
        (
            "unknown type".into(),
            vec![format!("u:{p}:probe_me a=%di:s99")],
            6,
            "unknown type `s99`",
        ),
        (
            "bad arg name".into(),
            vec![format!("u:{p}:probe_me 1a=%di")],
            6,
            "argument name `1a`",
        ),
        (
            "$argN on a uprobe".into(),
            vec![format!("u:{p}:probe_me x=$arg1")],
            6,
            "$argN is not available on uprobes",
        ),
        (
            "unknown function".into(),
            vec![format!("u:{p}:no_such_fn a=%di")],
            9,
            "no function `no_such_fn`",
        ),
        (
            "missing binary".into(),
            vec![format!("u:{}/missing:probe_me", dir.path().display())],
            3,
            "No such file",
        ),
        (
            "129 args".into(),
            vec![format!("u:{p}:probe_me{too_many}")],
            6,
            "129 arguments given; the kernel takes at most 128",
        ),
        (
            "newline".into(),
            vec![format!("u:{p}:probe_me a=%di\n-:tprobe_foreign/")],
            6,
            "control character '\\n'",
        ),
        (
            "control byte".into(),
            vec![format!("u:{p}:probe_me a=%di\x01")],
            6,
            "control character",
        ),
        (
            "own group".into(),
            vec![format!("p:mygroup/ev {p}:probe_me a=%di")],
            6,
            "names its own group",
        ),
        (
            "one bad spec among good".into(),
            vec![entry_spec(&program), "p:".into()],
            6,
            "error",
        ),
        (
            "usage".into(),
            vec!["-n".into(), "many".into(), entry_spec(&program)],
            2,
            "invalid value",
        ),
    ];
    if live.tracefs.join("kprobe_events").exists() {
        eprintln!("note: this kernel has kprobe_events: the FEATURE_MISSING case is skipped");
    } else {
        cases.push((
            "kprobe without kprobe_events".into(),
            vec!["p:do_sys_openat2".into()],
            11,
            "lacks kprobe_events",
        ));
    }
    let watch = InstanceWatch::new(live);
    for (what, args, code, message) in &cases {
        let mut run = LiveRun::start(args, StdoutMode::Collect);
        let end = run.wait(SECS_10);
        assert_eq!(end.code(), *code, "{what}: {end:?}");
        assert!(
            end.stderr.contains(message),
            "{what}: want {message:?} in {}",
            end.stderr
        );
        assert!(end.stdout.is_empty(), "{what}: {:?}", end.stdout);
        assert!(!end.stderr.contains("panicked"), "{what}: {}", end.stderr);
        let created: Vec<String> = watch
            .names()
            .into_iter()
            .filter(|n| n.starts_with(&run.prefix))
            .collect();
        assert!(
            created.is_empty(),
            "{what}: created (then removed) {created:?}"
        );
        assert_no_leftovers(live, &run);
    }
    assert!(
        !live.definitions().iter().any(|l| l.contains(&p)),
        "a definition on the test program is left"
    );
}

/// Issue 4 test 4: A definition the kernel refuses: PROBE_REJECTED with error_log's message and caret,
/// and nothing left.
#[test]
fn kernel_rejected_definition_shows_the_error_log() {
    let Some(live) = Live::get("kernel_rejected_definition_shows_the_error_log") else {
        return;
    };
    let dir = TempDir::new("live-rej");
    let program = live.private_program(&dir, "t_rej");
    let mut run = LiveRun::start(
        [format!("u:{}:probe_me a=%zz", program.display())],
        StdoutMode::Collect,
    );
    let end = run.wait(SECS_10);
    assert_code(&end, 10);
    assert!(
        end.stderr.contains("Invalid register name"),
        "{}",
        end.stderr
    );
    let lines: Vec<&str> = end.stderr.lines().collect();
    let def = lines
        .iter()
        .position(|l| l.trim_start().starts_with("p:") && l.ends_with("a=%zz"))
        .unwrap_or_else(|| panic!("no definition line in {}", end.stderr));
    let caret = lines.get(def + 1).expect("a caret line");
    assert_eq!(
        caret.find('^'),
        lines[def].find("%zz"),
        "the caret points at %zz:\n{}",
        end.stderr
    );
    assert_no_leftovers(live, &run);
}

/// The outcome of one signalled run, for the histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Setup,
    Streaming,
    Finished,
}

/// Issue 4 test 5: Stop signals (INT, TERM, HUP, and a closed stdout) at random moments: during setup,
/// while streaming, near the end of a `-n` run. Each run exits 128+N (0 when it finished
/// first, or for a closed stdout) and leaves nothing in tracefs. Seed: LIVE_SIGNAL_SEED.
#[test]
fn random_stop_signals_leave_nothing() {
    let Some(live) = Live::get("random_stop_signals_leave_nothing") else {
        return;
    };
    const THREADS: u64 = 8;
    const RUNS_PER_THREAD: u64 = 8;
    let dir = TempDir::new("live-sig");
    let program = live.private_program(&dir, "t_sig");
    let _target = Target::background(&program, 100_000_000, 1000);
    let seed = std::env::var("LIVE_SIGNAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("random_stop_signals_leave_nothing: LIVE_SIGNAL_SEED={seed}");
    let spec = entry_spec(&program);
    let started = Instant::now();
    let failures = Mutex::new(Vec::<String>::new());
    let histogram = Mutex::new(BTreeMap::<(String, Phase, i32), u32>::new());
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (spec, failures, histogram) = (&spec, &failures, &histogram);
            scope.spawn(move || {
                let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for _ in 0..RUNS_PER_THREAD {
                    let (name, signal) = match rng.below(4) {
                        0 => ("INT", libc::SIGINT),
                        1 => ("TERM", libc::SIGTERM),
                        2 => ("HUP", libc::SIGHUP),
                        _ => ("PIPE", libc::SIGPIPE),
                    };
                    let count = (rng.below(3) == 0).then(|| (1 + rng.below(60)).to_string());
                    let mut args = vec!["-d", "20"];
                    if rng.below(2) == 0 {
                        args.push("--json");
                    }
                    if let Some(count) = &count {
                        args.extend(["-n", count]);
                    }
                    args.push(spec);
                    let delay = Duration::from_millis(rng.below(301));
                    let mode = if signal == libc::SIGPIPE {
                        StdoutMode::Pipe
                    } else {
                        StdoutMode::Collect
                    };
                    let mut run = LiveRun::start(&args, mode);
                    std::thread::sleep(delay);
                    let phase = if run.try_wait().is_some() {
                        Phase::Finished
                    } else if live.instances().iter().any(|n| {
                        n.starts_with(&run.prefix)
                            && std::fs::read_to_string(
                                live.tracefs
                                    .join("instances")
                                    .join(n)
                                    .join("events")
                                    .join(n)
                                    .join("enable"),
                            )
                            .is_ok_and(|s| s.trim() == "1")
                    }) {
                        Phase::Streaming
                    } else {
                        Phase::Setup
                    };
                    if signal == libc::SIGPIPE {
                        run.close_stdout();
                    } else {
                        run.signal(signal);
                    }
                    let (end, hung) = match run.wait_or_kill(STOP_DEADLINE) {
                        Ok(end) => (end, false),
                        Err(end) => (end, true),
                    };
                    let code = end.code();
                    let what = format!(
                        "SIG{name} after {delay:?} ({phase:?}), args {args:?}, pid {}: exit {:?}",
                        run.pid(),
                        end.status
                    );
                    use std::os::unix::process::ExitStatusExt;
                    let ok = match (signal, end.status.signal()) {
                        // Killed before the handlers were installed: allowed only if it
                        // had created nothing (checked below).
                        (libc::SIGPIPE, Some(_)) => false,
                        (_, Some(s)) => s == signal && phase == Phase::Setup,
                        (libc::SIGPIPE, None) => code == 0,
                        (_, None) => code == 128 + signal || code == 0,
                    };
                    let mut fail = Vec::new();
                    if hung {
                        fail.push(format!(
                            "{what}: STILL RAN {STOP_DEADLINE:?} after the signal (killed)\nstdout: {} lines\nstderr: {}",
                            end.stdout.len(),
                            end.stderr
                        ));
                    } else if !ok {
                        fail.push(format!("{what}\nstderr: {}", end.stderr));
                    }
                    if code == 0 && signal != libc::SIGPIPE && count.is_none() {
                        fail.push(format!("{what}: exit 0 without -n before -d 20"));
                    }
                    if end.stderr.contains("panicked") || end.stderr.contains("error") {
                        fail.push(format!("{what}\nstderr: {}", end.stderr));
                    }
                    let left = live.leftovers(&run.prefix);
                    if !left.is_empty() {
                        fail.push(format!("{what}: LEFTOVERS {left:?}\nstderr: {}", end.stderr));
                    }
                    failures.lock().unwrap().extend(fail);
                    let outcome = match end.status.signal() {
                        Some(s) => 200 + s, // shown as "killed by signal"
                        None => code,
                    };
                    *histogram
                        .lock()
                        .unwrap()
                        .entry((name.to_owned(), phase, outcome))
                        .or_default() += 1;
                }
            });
        }
    });
    let histogram = histogram.into_inner().unwrap();
    let runs: u32 = histogram.values().sum();
    eprintln!(
        "random_stop_signals_leave_nothing: {runs} runs in {:?} (signal, phase at signal, exit [200+N: killed by N]):",
        started.elapsed()
    );
    for ((name, phase, outcome), n) in &histogram {
        eprintln!("  SIG{name:5} {phase:10?} exit {outcome:3}: {n}");
    }
    assert!(runs >= 50, "{runs} runs");
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Removes the foreign probe group and instance a test made, however the test ends.
struct Foreign<'a> {
    live: &'a Live,
    group: String,
}

impl Drop for Foreign<'_> {
    fn drop(&mut self) {
        let _ = self
            .live
            .append("uprobe_events", &format!("-:{}/", self.group));
        let _ = std::fs::remove_dir(self.live.tracefs.join("instances").join(&self.group));
    }
}

/// Issue 4 test 6: SIGKILL leaves a run's group and instance; `tprobe clean` reclaims them, and leaves
/// a foreign probe group and instance (made here with a plain append and mkdir) and a live
/// run (which keeps streaming) alone.
#[test]
fn clean_after_sigkill_reclaims_only_dead_runs() {
    let Some(live) = Live::get("clean_after_sigkill_reclaims_only_dead_runs") else {
        return;
    };
    let dir = TempDir::new("live-clean");
    let program = live.private_program(&dir, "t_clean");
    let spec = entry_spec(&program);
    let _target = Target::background(&program, 100_000_000, 1000);

    let foreign = Foreign {
        live,
        group: format!("tprobe_foreign_test_{}", std::process::id()),
    };
    let foreign_def = format!(
        "p:{}/ev {}:{:#x}",
        foreign.group,
        program.display(),
        probe_me_offset(&program)
    );
    live.append("uprobe_events", &foreign_def).unwrap();
    std::fs::create_dir(live.tracefs.join("instances").join(&foreign.group)).unwrap();
    let foreign_present = || {
        live.definitions()
            .iter()
            .any(|l| l.starts_with(&format!("p:{}/ev {}:", foreign.group, program.display())))
            && live.instances().contains(&foreign.group)
    };
    assert!(foreign_present());

    let mut victim = LiveRun::start(["--json", "-d", "60", &spec], StdoutMode::Collect);
    let victim_name = victim.wait_armed(live, SECS_10);
    let mut survivor = LiveRun::start(["--json", "-d", "60", &spec], StdoutMode::Collect);
    let survivor_name = survivor.wait_armed(live, SECS_10);
    victim.signal(libc::SIGKILL);
    let end = victim.wait(SECS_10);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(end.status.signal(), Some(libc::SIGKILL));
    let left = live.leftovers(&victim.prefix);
    assert!(
        left.iter()
            .any(|l| l == &format!("instances/{victim_name}"))
            && left.iter().any(|l| l.contains(&format!(":{victim_name}/"))),
        "SIGKILL leaves the group and instance: {left:?}"
    );

    let list = TprobeCmd::new().arg("list").status(0);
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(list.contains(&format!("{victim_name}  stale")), "{list}");
    assert!(list.contains(&format!("{survivor_name}  live")), "{list}");
    assert!(
        list.contains(&format!("  p:{}/ev {}:", foreign.group, program.display())),
        "foreign probes are listed as others: {list}"
    );

    let dry = TprobeCmd::new().args(["clean", "--dry-run"]).status(0);
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.contains(&format!("would remove {victim_name}")),
        "{dry}"
    );
    assert!(
        !live.leftovers(&victim.prefix).is_empty(),
        "--dry-run removed something"
    );

    let clean = TprobeCmd::new().arg("clean").status(0);
    let clean = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert!(
        clean.contains(&format!("removed {victim_name}: instance, 1 probe(s)")),
        "{clean}"
    );
    assert!(
        !clean.contains(&survivor_name) && !clean.contains(&foreign.group),
        "{clean}"
    );
    assert_no_leftovers(live, &victim);
    assert!(
        foreign_present(),
        "clean removed the foreign probe or instance"
    );
    let survivor_left = live.leftovers(&survivor.prefix);
    assert_eq!(
        survivor_left.len(),
        2,
        "the live run is intact: {survivor_left:?}"
    );

    // The survivor still streams after clean.
    let seen = survivor.lines_so_far();
    let deadline = Instant::now() + SECS_10;
    while survivor.lines_so_far() < seen + 5 {
        assert!(
            Instant::now() < deadline,
            "the live run stopped streaming after clean"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    survivor.signal(libc::SIGTERM);
    let end = survivor.wait(SECS_10);
    assert_code(&end, 128 + libc::SIGTERM);
    assert!(end
        .json()
        .iter()
        .all(|e| e["group"] == survivor_name.as_str()));
    assert_no_leftovers(live, &survivor);

    let group = foreign.group.clone();
    drop(foreign);
    assert!(
        !live
            .definitions()
            .iter()
            .any(|l| l.contains(&format!(":{group}/"))),
        "the foreign probe is removed at the end"
    );
    assert!(!live.instances().contains(&group));
}

/// Issue 4 test 7: Two runs on the same function at once: each sees every call, in its own group only.
#[test]
fn concurrent_runs_see_only_their_own_group() {
    let Some(live) = Live::get("concurrent_runs_see_only_their_own_group") else {
        return;
    };
    let dir = TempDir::new("live-two");
    let program = live.private_program(&dir, "t_two");
    let spec = entry_spec(&program);
    let mut runs: Vec<LiveRun> = (0..2)
        .map(|_| {
            LiveRun::start(
                ["--json", "-n", "12", "-d", "20", &spec],
                StdoutMode::Collect,
            )
        })
        .collect();
    let names: Vec<String> = runs
        .iter_mut()
        .map(|r| r.wait_armed(live, SECS_10))
        .collect();
    assert_ne!(names[0], names[1]);
    let target = Target::start(&program, 12, 0);
    for (run, name) in runs.iter_mut().zip(&names) {
        let end = run.wait(SECS_10);
        assert_code(&end, 0);
        let events = end.json();
        assert_eq!(events.len(), 12);
        assert!(
            events.iter().all(|e| e["group"] == name.as_str()),
            "{name} saw another group's events: {events:?}"
        );
        let a: Vec<i64> = events
            .iter()
            .map(|e| e["fields"]["a"].as_i64().unwrap())
            .collect();
        assert_eq!(a, (-5..=6).collect::<Vec<_>>());
        assert_no_leftovers(live, run);
    }
    target.finish(SECS_10);
}

/// A stop signal must end a run whose stdout is full (a reader that stopped reading): a
/// plain blocked write would restart after the handler (SA_RESTART) and hang until the
/// reader reads or goes away; tprobe waits for the output together with its signals.
#[test]
fn stop_signal_ends_a_run_blocked_on_a_full_stdout() {
    let Some(live) = Live::get("stop_signal_ends_a_run_blocked_on_a_full_stdout") else {
        return;
    };
    let dir = TempDir::new("live-full");
    let program = live.private_program(&dir, "t_full");
    let _target = Target::background(&program, 100_000_000, 0);
    let mut run = LiveRun::start(["-d", "30", &entry_spec(&program)], StdoutMode::Pipe);
    run.wait_armed(live, SECS_10);
    // A 64 KiB pipe fills within a moment at this event rate.
    std::thread::sleep(Duration::from_millis(500));
    run.signal(libc::SIGTERM);
    let deadline = Instant::now() + STOP_DEADLINE;
    while run.try_wait().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stuck = run.try_wait().is_none();
    // Unblock it either way, so it tears down.
    run.close_stdout();
    let end = run.wait(SECS_10);
    assert_no_leftovers(live, &run);
    assert!(
        !stuck,
        "SIGTERM did not stop tprobe blocked on a full stdout in {STOP_DEADLINE:?}"
    );
    assert_code(&end, 128 + libc::SIGTERM);
}

/// A second Ctrl-C (or a TERM after an INT) while tprobe tears down does not abandon the
/// teardown: signals arriving in a burst still leave nothing behind, and the exit status
/// is the first signal's.
#[test]
fn a_burst_of_stop_signals_still_tears_down() {
    let Some(live) = Live::get("a_burst_of_stop_signals_still_tears_down") else {
        return;
    };
    let dir = TempDir::new("live-burst");
    let program = live.private_program(&dir, "t_burst");
    let _target = Target::background(&program, 100_000_000, 1000);
    for _ in 0..5 {
        let mut run = LiveRun::start(["-d", "20", &entry_spec(&program)], StdoutMode::Collect);
        run.wait_armed(live, SECS_10);
        run.signal(libc::SIGINT);
        run.signal(libc::SIGINT);
        run.signal(libc::SIGTERM);
        let end = run.wait(SECS_10);
        assert_code(&end, 128 + libc::SIGINT);
        assert_no_leftovers(live, &run);
    }
}
