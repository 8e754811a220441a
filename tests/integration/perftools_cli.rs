//! perf-tools compatibility of `tprobe trace` (issue 8, item 4): `-L TID`, `-H`, `-v` and a
//! trailing filter argument, each driven live against this host's tracefs on a private
//! copy of a test program, each checked to leave nothing behind. (`-p`, `-d` and `-s` are
//! `tprobe trace`'s own flags, tested in live_trace.rs.)

use std::io::BufRead;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use crate::util::assert_code;
use crate::util::assert_no_leftovers;
use crate::util::compile_c;
use crate::util::entry_spec;
use crate::util::kill;
use crate::util::Live;
use crate::util::LiveRun;
use crate::util::RunEnd;
use crate::util::StdoutMode;
use crate::util::Target;
use crate::util::TempDir;

const SECS_10: Duration = Duration::from_secs(10);

/// Two threads calling `probe_me(TID, "…")` every 10 ms; each prints its thread id first.
const THREADED_SOURCE: &str = r#"
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) int probe_me(int a, const char *s) {
    __asm__ volatile("" ::: "memory");
    return a + (int)strlen(s);
}

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *unused) {
    (void)unused;
    int tid = (int)syscall(SYS_gettid);
    pthread_mutex_lock(&print_lock);
    printf("%d\n", tid);
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
    for (int i = 0; i < 100000; i++) {
        probe_me(tid, "thread");
        usleep(10000);
    }
    return NULL;
}

int main(void) {
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    return 0;
}
"#;

/// The threaded program running; killed when dropped.
struct Threaded {
    child: Child,
    tids: [u32; 2],
}

impl Threaded {
    fn start(dir: &TempDir) -> Self {
        let source = dir.path().join("threads.c");
        std::fs::write(&source, THREADED_SOURCE).unwrap();
        let program: PathBuf = compile_c(dir, "t_tids", &source, &["-pthread"]);
        let mut child = Command::new(&program)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut tid = || -> u32 { lines.next().unwrap().unwrap().trim().parse().unwrap() };
        let tids = [tid(), tid()];
        Self { child, tids }
    }

    fn program(&self, dir: &TempDir) -> PathBuf {
        dir.path().join("t_tids")
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        kill(self.child.id(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// `-L TID`: of two threads of one process calling the probed function, only the given
/// one's events; the instance's `set_event_pid` holds that thread id and `event-fork` is
/// off. Without `-L`, both threads are seen (the check means something).
#[test]
fn tid_option_sees_only_that_thread() {
    let Some(live) = Live::get("tid_option_sees_only_that_thread") else {
        return;
    };
    let dir = TempDir::new("perftools-tid");
    let threaded = Threaded::start(&dir);
    let program = threaded.program(&dir);
    let [traced, other] = threaded.tids;
    assert_ne!(traced, other);
    let spec = format!("u:{}:probe_me a=%di:s32", program.display());
    let traced_arg = traced.to_string();
    let mut with_tid = LiveRun::start(
        ["--json", "-n", "40", "-d", "20", "-L", &traced_arg, &spec],
        StdoutMode::Collect,
    );
    let name = with_tid.wait_armed(live, SECS_10);
    let instance = live.tracefs.join("instances").join(&name);
    let read = |file: &str| std::fs::read_to_string(instance.join(file)).unwrap_or_default();
    let (event_pids, event_fork) = (read("set_event_pid"), read("options/event-fork"));
    let mut without = LiveRun::start(
        ["--json", "-n", "40", "-d", "20", &spec],
        StdoutMode::Collect,
    );
    let (a, b) = (with_tid.wait(SECS_10), without.wait(SECS_10));
    assert_code(&a, 0);
    assert_code(&b, 0);
    // Read while the run was armed (40 events of one thread take about 0.4 s).
    assert_eq!(event_pids.trim(), traced_arg, "set_event_pid");
    assert_eq!(event_fork.trim(), "0", "-L follows no children");
    let tids = |end: &RunEnd| -> std::collections::BTreeSet<u64> {
        end.json()
            .iter()
            .map(|e| e["pid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(a.json().len(), 40);
    assert_eq!(
        tids(&a),
        [u64::from(traced)].into(),
        "-L {traced} saw other threads"
    );
    for event in a.json() {
        assert_eq!(event["fields"]["a"], traced, "{event}");
    }
    assert_eq!(
        tids(&b),
        [u64::from(traced), u64::from(other)].into(),
        "without -L both threads are seen"
    );
    assert_no_leftovers(live, &with_tid);
    assert_no_leftovers(live, &without);
}

/// `-L` and `-p` are exclusive (a thread list or a process tree), refused before tracefs.
#[test]
fn tid_and_pid_together_are_a_usage_error() {
    let out = crate::util::TprobeCmd::new()
        .args(["-L", "1", "-p", "1", "u:/bin/true:main"])
        .status(2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `-H`: one header line naming the columns, before the text events; none in JSON.
#[test]
fn header_option_names_the_columns_in_text_only() {
    let Some(live) = Live::get("header_option_names_the_columns_in_text_only") else {
        return;
    };
    let dir = TempDir::new("perftools-header");
    let program = live.private_program(&dir, "t_head");
    let _target = Target::background(&program, 100_000, 2000);
    let spec = entry_spec(&program);
    let mut text = LiveRun::start(["-H", "-n", "3", "-d", "20", &spec], StdoutMode::Collect);
    let mut json = LiveRun::start(
        ["-H", "--json", "-n", "3", "-d", "20", &spec],
        StdoutMode::Collect,
    );
    let mut plain = LiveRun::start(["-n", "3", "-d", "20", &spec], StdoutMode::Collect);
    let (text_end, json_end, plain_end) =
        (text.wait(SECS_10), json.wait(SECS_10), plain.wait(SECS_10));
    for end in [&text_end, &json_end, &plain_end] {
        assert_code(end, 0);
    }
    assert_eq!(text_end.stdout.len(), 4, "{:?}", text_end.stdout);
    assert_eq!(
        text_end.stdout[0],
        "# TIMESTAMP [CPU] COMM-PID(TGID) GROUP/EVENT: FIELD=VALUE..."
    );
    for line in &text_end.stdout[1..] {
        assert!(
            line.contains("_t_head_probe_me: ") && line.contains(" a="),
            "{line}"
        );
    }
    assert_eq!(json_end.json().len(), 3, "no header line in JSON");
    assert_eq!(plain_end.stdout.len(), 3, "{:?}", plain_end.stdout);
    assert!(plain_end.stdout.iter().all(|l| !l.starts_with('#')));
    for run in [&text, &json, &plain] {
        assert_no_leftovers(live, run);
    }
}

/// `-v`: prints the format file the kernel built for each probe (an entry and a return
/// probe here) and exits by itself without tracing, leaving nothing.
#[test]
fn show_format_option_prints_formats_and_exits() {
    let Some(live) = Live::get("show_format_option_prints_formats_and_exits") else {
        return;
    };
    let dir = TempDir::new("perftools-format");
    let program = live.private_program(&dir, "t_fmt");
    let _target = Target::background(&program, 100_000, 1000);
    let ret = format!("ur:{}:probe_me rv=$retval:s32", program.display());
    let mut run = LiveRun::start(
        ["-v", "-d", "30", &entry_spec(&program), &ret],
        StdoutMode::Collect,
    );
    let end = run.wait(SECS_10);
    assert_code(&end, 0);
    let stdout = end.stdout.join("\n");
    let group = end.summary_group().expect("summary names the group");
    for want in [
        format!("# events/{group}/u_t_fmt_probe_me/format"),
        "name: u_t_fmt_probe_me".to_owned(),
        format!("# events/{group}/ur_t_fmt_probe_me/format"),
        "name: ur_t_fmt_probe_me".to_owned(),
        "field:s32 a;".to_owned(),
        "field:__data_loc char[] s;".to_owned(),
        "field:s32 rv;".to_owned(),
        "print fmt:".to_owned(),
    ] {
        assert!(stdout.contains(&want), "missing {want:?} in:\n{stdout}");
    }
    assert!(
        end.stderr.contains(" 0 events "),
        "-v traces nothing: {}",
        end.stderr
    );
    assert_no_leftovers(live, &run);
}

/// A trailing filter argument (perf-tools' `kprobe 'p:do_sys_open' 'filename ~ "*stat"'`)
/// applies to every probe: `a > 10` cuts entries to a = 11..=18 (i >= 16) and returns to
/// rv = i + 7 or i + 8 > 10 (i >= 4): 8 + 20 events of 24 calls, none at or below 10.
#[test]
fn trailing_filter_applies_to_every_probe() {
    let Some(live) = Live::get("trailing_filter_applies_to_every_probe") else {
        return;
    };
    let dir = TempDir::new("perftools-filter");
    let program = live.private_program(&dir, "t_tfil");
    let entry = format!("u:{}:probe_me a=%di:s32", program.display());
    let ret = format!("ur:{}:probe_me a=$retval:s32", program.display());
    let mut run = LiveRun::start(
        ["--json", "-n", "28", "-d", "20", &entry, &ret, "a > 10"],
        StdoutMode::Collect,
    );
    run.wait_armed(live, SECS_10);
    let truth = Target::start(&program, 24, 0).finish(SECS_10);
    let end = run.wait(SECS_10);
    assert_code(&end, 0);
    let values = |event: &str| -> Vec<i64> {
        end.json()
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| e["fields"]["a"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(values("u_t_tfil_probe_me"), (11..=18).collect::<Vec<_>>());
    let want_returns: Vec<i64> = truth.iter().map(|t| t.r).filter(|r| *r > 10).collect();
    assert_eq!(want_returns.len(), 20, "{truth:?}");
    assert_eq!(values("ur_t_tfil_probe_me"), want_returns);
    assert_no_leftovers(live, &run);
}
