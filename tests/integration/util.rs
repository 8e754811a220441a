//! Running the real binary from tests.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Output;
use std::process::Stdio;

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory by name.
pub(crate) fn fixture(name: &str) -> PathBuf {
    repo_root().join("fixtures").join(name)
}

/// A `tprobe` invocation under test.
#[must_use]
pub(crate) struct TprobeCmd {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl TprobeCmd {
    pub(crate) fn new() -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tprobe"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TPROBE_") {
                cmd.env_remove(key);
            }
        }
        Self { cmd, stdin: None }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Runs it and returns what it printed, whatever the exit status.
    #[track_caller]
    pub(crate) fn output(mut self) -> Output {
        use std::io::Write;
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("tprobe binary runs");
        if let Some(input) = self.stdin.take() {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        child.wait_with_output().expect("tprobe finishes")
    }

    /// Runs it, checks the exit code, returns stdout.
    #[track_caller]
    pub(crate) fn status(self, code: i32) -> Output {
        let out = self.output();
        assert_eq!(
            out.status.code(),
            Some(code),
            "exit status\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Parses every stdout line as JSON.
#[track_caller]
pub(crate) fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(l)))
        })
        .collect()
}

/// Decodes a JSON string value, or `{"bytes": base64}`, back to bytes.
#[track_caller]
pub(crate) fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    match value {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        serde_json::Value::Object(o) if o.contains_key("bytes") => {
            base64::engine::general_purpose::STANDARD
                .decode(o["bytes"].as_str().unwrap())
                .unwrap()
        }
        other => panic!("not a string or bytes object: {other}"),
    }
}

pub(crate) fn write_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, contents).unwrap();
    path
}

/// `source` compiled with `gcc -O1 EXTRA…` into `dir/name`; the test fails with gcc's
/// message if it does not compile.
pub(crate) fn compile_c(dir: &TempDir, name: &str, source: &Path, extra: &[&str]) -> PathBuf {
    let program = dir.path().join(name);
    let out = Command::new("gcc")
        .arg("-O1")
        .args(extra)
        .arg("-o")
        .arg(&program)
        .arg(source)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    program
}

/// Copies a program that a test will run. The copy is written by `cp`, never by this
/// process: a file this process holds open for writing can be inherited by another test
/// thread's fork (until that child execs), and exec of the copy then fails with ETXTBSY.
pub(crate) fn copy_program(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}

/// A fresh temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        use std::sync::atomic::AtomicUsize;
        use std::sync::atomic::Ordering;
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tprobe-test-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Lowercase (or uppercase) hex, as truth.jsonl writes byte strings, back to bytes.
#[track_caller]
pub(crate) fn hex_bytes(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd-length hex: {hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{e}: {hex}")))
        .collect()
}

/// Like [`json_bytes`], but `None` for a value that is neither a string nor `{"bytes":…}`.
pub(crate) fn try_json_bytes(value: &serde_json::Value) -> Option<Vec<u8>> {
    match value {
        serde_json::Value::String(_) => Some(json_bytes(value)),
        serde_json::Value::Object(o) if o.len() == 1 && o.contains_key("bytes") => {
            Some(json_bytes(value))
        }
        _ => None,
    }
}

/// Bytes shown unambiguously in a failure message (`\n`, `\xff`, `\"`).
pub(crate) fn show_bytes(bytes: &[u8]) -> String {
    format!("b\"{}\"", bytes.escape_ascii())
}

// ---------------------------------------------------------------------------------------
// Live tracefs runs (root, tracefs with uprobes, gcc): tests/integration/live_trace.rs.
// ---------------------------------------------------------------------------------------

use std::collections::BTreeSet;
use std::io::BufRead;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::process::ChildStdout;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::Instant;

/// What the live tests need from this host.
#[derive(Debug)]
pub(crate) struct Live {
    /// The tracefs mount.
    pub(crate) tracefs: PathBuf,
    /// `tests/data/uprobe_target.c`, compiled once per test binary.
    pub(crate) program: PathBuf,
}

impl Live {
    /// The host's tracefs and the compiled test program, or `None` (with a printed reason)
    /// when this host can't run live tests: not root, no tracefs with uprobes, no gcc.
    pub(crate) fn get(test: &str) -> Option<&'static Live> {
        static LIVE: OnceLock<Result<Live, String>> = OnceLock::new();
        match LIVE.get_or_init(Live::probe) {
            Ok(live) => Some(live),
            // CI must run the live tests: a skip there would pass without testing anything.
            Err(why) if std::env::var_os("CI").is_some() => {
                panic!("{test}: live tests can't run under CI: {why}")
            }
            Err(why) => {
                eprintln!("skipping {test}: {why}");
                None
            }
        }
    }

    fn probe() -> Result<Live, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (live tracefs tests need root)".into());
        }
        let tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.join("uprobe_events").exists() && p.join("instances").is_dir())
            .ok_or("tracefs with uprobe_events and instances/ is not mounted")?;
        let dir = std::env::temp_dir().join(format!("tprobe-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let program = dir.join("uprobe_target");
        let out = Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&program)
            .arg(repo_root().join("tests/data/uprobe_target.c"))
            .output()
            .map_err(|e| format!("gcc can't run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "gcc failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        extern "C" fn remove_program_dir() {
            let dir = std::env::temp_dir().join(format!("tprobe-live-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(dir);
        }
        // SAFETY: registers a plain function without arguments to run at exit.
        unsafe { libc::atexit(remove_program_dir) };
        Ok(Live { tracefs, program })
    }

    /// A copy of the test program at `dir/name` (a uprobe is placed on an inode, so a test
    /// with its own copy sees no other test's calls). `name` becomes the event name and
    /// the comm: keep it short.
    pub(crate) fn private_program(&self, dir: &TempDir, name: &str) -> PathBuf {
        let path = dir.path().join(name);
        copy_program(&self.program, &path);
        path
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.tracefs.join(file)).unwrap_or_default()
    }

    /// Every dynamic event definition on the machine (uprobes, kprobes, …).
    pub(crate) fn definitions(&self) -> BTreeSet<String> {
        let text = if self.tracefs.join("dynamic_events").exists() {
            self.read("dynamic_events")
        } else {
            self.read("uprobe_events") + &self.read("kprobe_events")
        };
        text.lines().map(str::to_owned).collect()
    }

    /// Every instance name.
    pub(crate) fn instances(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.tracefs.join("instances"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// What tracefs holds that is named `prefix…` (a group, an event of it, an instance):
    /// must be empty once a run ended.
    pub(crate) fn leftovers(&self, prefix: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .definitions()
            .into_iter()
            .filter(|line| line.contains(&format!(":{prefix}")))
            .collect();
        found.extend(
            self.instances()
                .into_iter()
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("instances/{n}")),
        );
        found
    }

    /// Appends one line to a tracefs file (never truncating it).
    pub(crate) fn append(&self, file: &str, line: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.tracefs.join(file))?;
        f.write_all(format!("{line}\n").as_bytes())
    }
}

/// Field 22 (start time) of `/proc/<pid>/stat`.
pub(crate) fn proc_starttime(pid: u32) -> Option<u64> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = text.iter().rposition(|b| *b == b')')?;
    let after = String::from_utf8_lossy(&text[close + 1..]).into_owned();
    after.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Sends `signal` to `pid` (ignores a process that is gone).
pub(crate) fn kill(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// One line the test program printed: the truth of one `probe_me(a, s)` call returning `r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Truth {
    pub(crate) a: i64,
    pub(crate) r: i64,
    pub(crate) s: String,
}

/// The test program running: `PATH CALLS PAUSE_US`. Killed when dropped.
#[derive(Debug)]
pub(crate) struct Target {
    child: Child,
}

impl Target {
    /// Its truth is kept in a pipe: for short runs (a pipe holds about 3000 lines; a
    /// program that prints more blocks once nobody reads). Use [`Target::background`] for
    /// long ones.
    pub(crate) fn start(path: &Path, calls: u32, pause_us: u32) -> Self {
        Self::spawn(path, calls, pause_us, Stdio::piped())
    }

    /// A long-running program whose truth is discarded.
    pub(crate) fn background(path: &Path, calls: u32, pause_us: u32) -> Self {
        Self::spawn(path, calls, pause_us, Stdio::null())
    }

    fn spawn(path: &Path, calls: u32, pause_us: u32, stdout: Stdio) -> Self {
        let child = Command::new(path)
            .arg(calls.to_string())
            .arg(pause_us.to_string())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the program to end (killing it after `timeout`) and returns its truth lines.
    pub(crate) fn finish(mut self, timeout: Duration) -> Vec<Truth> {
        let deadline = Instant::now() + timeout;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                kill(self.child.id(), libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.truth()
    }

    fn truth(&mut self) -> Vec<Truth> {
        let mut text = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|line| {
                let mut parts = line.splitn(3, ' ');
                let a = parts.next().unwrap().parse().unwrap();
                let r = parts.next().unwrap().parse().unwrap();
                let s = parts.next().unwrap().to_owned();
                Truth { a, r, s }
            })
            .collect()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// How a live run's stdout is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StdoutMode {
    /// Read by a thread into memory.
    Collect,
    /// Left unread in a pipe the test may close ([`LiveRun::close_stdout`]).
    Pipe,
}

/// A `tprobe` process started by a test: its own process, so signals target it alone.
/// Dropping a run that still runs sends SIGTERM (then SIGKILL after 10 s).
#[derive(Debug)]
pub(crate) struct LiveRun {
    child: Child,
    /// `tprobe_<pid>_<starttime>_`: the prefix of every group and instance this run makes.
    pub(crate) prefix: String,
    stdout_pipe: Option<ChildStdout>,
    stdout_lines: Arc<Mutex<Vec<String>>>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<String>>,
    status: Option<ExitStatus>,
}

/// How a live run ended.
#[derive(Debug)]
pub(crate) struct RunEnd {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: String,
}

impl RunEnd {
    /// The exit code, or `128 + N` when killed by signal N (as a shell reports it).
    pub(crate) fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// The group named in the summary line (`… of GROUP`).
    pub(crate) fn summary_group(&self) -> Option<String> {
        let line = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with("tprobe: ") && l.contains(" probe(s) of "))?;
        Some(line.rsplit(' ').next()?.to_owned())
    }

    pub(crate) fn json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {}", self.stderr))
            })
            .collect()
    }
}

impl LiveRun {
    pub(crate) fn start<I, S>(args: I, stdout: StdoutMode) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tprobe"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TPROBE_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A test runner started in the background (or under nohup) passes SIGINT/SIGHUP
        // on ignored, and tprobe keeps an ignored signal ignored: give it the defaults.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("tprobe binary runs");
        let pid = child.id();
        // Not reaped until waited for, so /proc/<pid> is there even if it already exited.
        let starttime = proc_starttime(pid).expect("child's start time");
        let prefix = format!("tprobe_{pid}_{starttime}_");
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let (stdout_pipe, stdout_thread) = match stdout {
            StdoutMode::Pipe => (Some(out), None),
            StdoutMode::Collect => {
                let lines = Arc::clone(&stdout_lines);
                let thread = std::thread::spawn(move || {
                    for line in std::io::BufReader::new(out).lines() {
                        match line {
                            Ok(line) => lines.lock().unwrap().push(line),
                            Err(_) => break,
                        }
                    }
                });
                (None, Some(thread))
            }
        };
        let mut err = child.stderr.take().unwrap();
        let stderr_thread = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = err.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        Self {
            child,
            prefix,
            stdout_pipe,
            stdout_lines,
            stdout_thread,
            stderr_thread: Some(stderr_thread),
            status: None,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, signal: i32) {
        if self.status.is_none() {
            kill(self.pid(), signal);
        }
    }

    /// Closes the read end of its stdout pipe (its next write fails with EPIPE).
    pub(crate) fn close_stdout(&mut self) {
        self.stdout_pipe = None;
    }

    /// Lines of stdout so far (collected mode).
    pub(crate) fn lines_so_far(&self) -> usize {
        self.stdout_lines.lock().unwrap().len()
    }

    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Waits until the run's events are enabled in its instance and returns the session
    /// name (group = instance); panics after `timeout` or if the run ends first.
    pub(crate) fn wait_armed(&mut self, live: &Live, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(name) = live
                .instances()
                .into_iter()
                .find(|n| n.starts_with(&self.prefix))
            {
                let enable = live
                    .tracefs
                    .join("instances")
                    .join(&name)
                    .join("events")
                    .join(&name)
                    .join("enable");
                if std::fs::read_to_string(enable).is_ok_and(|s| s.trim() == "1") {
                    return name;
                }
            }
            if let Some(status) = self.try_wait() {
                let end = self.wait(Duration::from_secs(1));
                panic!("tprobe ended ({status}) before it was armed: {end:?}");
            }
            assert!(
                Instant::now() < deadline,
                "tprobe not armed after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(3));
        }
    }

    /// Waits (SIGKILL after `timeout`, which fails the test) and returns what it printed.
    #[track_caller]
    pub(crate) fn wait(&mut self, timeout: Duration) -> RunEnd {
        match self.wait_or_kill(timeout) {
            Ok(end) => end,
            Err(end) => panic!(
                "tprobe (pid {}) still ran after {timeout:?}: killed it (`tprobe clean` removes \
                 what it left)\nstdout: {:?}\nstderr: {}",
                self.pid(),
                end.stdout,
                end.stderr
            ),
        }
    }

    /// Waits; after `timeout`, kills it with SIGKILL and returns what it printed as `Err`.
    pub(crate) fn wait_or_kill(&mut self, timeout: Duration) -> Result<RunEnd, RunEnd> {
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                timed_out = true;
                eprintln!("tprobe pid {} hung: {}", self.pid(), diagnose(self.pid()));
                kill(self.pid(), libc::SIGKILL);
                let status = self.child.wait().unwrap();
                self.status = Some(status);
                break status;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        self.stdout_pipe = None;
        if let Some(t) = self.stdout_thread.take() {
            t.join().unwrap();
        }
        let stderr = self
            .stderr_thread
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default();
        let end = RunEnd {
            status,
            stdout: std::mem::take(&mut *self.stdout_lines.lock().unwrap()),
            stderr,
        };
        if timed_out {
            Err(end)
        } else {
            Ok(end)
        }
    }
}

/// Where a hung process waits, and who else holds its stdout pipe.
pub(crate) fn diagnose(pid: u32) -> String {
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let out = std::fs::read_link(format!("/proc/{pid}/fd/1"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut holders = Vec::new();
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(other) = proc_entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{other}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if other != pid
                && std::fs::read_link(fd.path()).is_ok_and(|l| l.display().to_string() == out)
            {
                let comm =
                    std::fs::read_to_string(format!("/proc/{other}/comm")).unwrap_or_default();
                holders.push(format!("{other} ({}) fd {:?}", comm.trim(), fd.file_name()));
            }
        }
    }
    format!("wchan {wchan}, stdout {out}, also held by {holders:?}")
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        self.stdout_pipe = None;
        kill(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.try_wait().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.try_wait().is_none() {
            kill(self.pid(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Watches `instances/` (inotify) for instances created under a name prefix: "tracefs
/// untouched" means not even a short-lived instance appeared.
#[derive(Debug)]
pub(crate) struct InstanceWatch {
    fd: std::os::fd::OwnedFd,
}

impl InstanceWatch {
    pub(crate) fn new(live: &Live) -> Self {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain syscalls; the fd is owned right after it is checked.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            fd >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd was just returned by inotify_init1 and is owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let dir =
            std::ffi::CString::new(live.tracefs.join("instances").as_os_str().as_bytes()).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: a valid fd and NUL-terminated path.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd.as_raw_fd(),
                dir.as_ptr(),
                libc::IN_CREATE | libc::IN_DELETE,
            )
        };
        assert!(
            wd >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
        Self { fd }
    }

    /// Names created (or deleted) in `instances/` since the last call.
    pub(crate) fn names(&self) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let mut names = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is valid for writes of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return names;
            }
            let mut at = 0;
            while at + 16 <= n as usize {
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                let name = &buf[at + 16..at + 16 + len];
                let name = name.split(|b| *b == 0).next().unwrap_or_default();
                names.push(String::from_utf8_lossy(name).into_owned());
                at += 16 + len;
            }
        }
    }
}

/// A small deterministic PRNG (xorshift64*), seeded per test for reproducible runs.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The must-show spec of the live tests: `a` and `s` of `probe_me` in uprobe_target.c.
pub(crate) fn entry_spec(program: &Path) -> String {
    format!(
        "u:{}:probe_me a=%di:s32 s=+0(%si):string",
        program.display()
    )
}

/// Asserts that nothing of `run` is left in tracefs.
#[track_caller]
pub(crate) fn assert_no_leftovers(live: &Live, run: &LiveRun) {
    let left = live.leftovers(&run.prefix);
    assert!(
        left.is_empty(),
        "tracefs still holds {left:?} of {}",
        run.prefix
    );
}

/// Asserts the run's exit code, showing its output when it differs.
#[track_caller]
pub(crate) fn assert_code(end: &RunEnd, code: i32) {
    assert_eq!(
        end.code(),
        code,
        "exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        end.status,
        end.stdout.join("\n"),
        end.stderr
    );
}

/// Stops an armed run with SIGTERM, after a moment for events recorded just before it
/// (the binary reader takes them in its next round), and checks it ended by that signal
/// and left nothing.
pub(crate) fn stop_with_sigterm(mut run: LiveRun, live: &Live) -> RunEnd {
    std::thread::sleep(Duration::from_millis(300));
    run.signal(libc::SIGTERM);
    let end = run.wait(Duration::from_secs(10));
    assert_eq!(end.code(), 128 + libc::SIGTERM, "{end:?}");
    assert_no_leftovers(live, &run);
    end
}
