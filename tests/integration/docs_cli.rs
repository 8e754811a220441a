//! `tprobe completions`, `tprobe man`, `--help` examples and the documented exit codes
//! (issue 8, item 6).

use crate::util::repo_root;
use crate::util::TprobeCmd;

/// Every command a user can type; `help` is clap's.
const COMMANDS: [&str; 9] = [
    "replay",
    "trace",
    "clean",
    "list",
    "resolve",
    "latency",
    "count",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = TprobeCmd::new().args(args).status(0);
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The commands `tprobe --help` lists: the test's list must be complete, so a new
/// command without completions, a man page or examples fails here.
#[test]
fn the_command_list_is_complete() {
    let help = stdout_of(&["--help"]);
    let listed: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert_eq!(listed, COMMANDS, "{help}");
}

#[test]
fn completions_for_every_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for command in COMMANDS {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
    }
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("complete -F _tprobe"), "{bash}");
    // Flags of trace are completed too.
    assert!(bash.contains("--show-format") && bash.contains("--tid"));
    TprobeCmd::new().args(["completions", "tcsh"]).status(2);
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH tprobe 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS"));
    for command in COMMANDS {
        assert!(
            page.contains(&format!("tprobe\\-{command}(1)")),
            "man page lacks {command}:\n{page}"
        );
    }
    assert!(
        page.contains("TEARDOWN_INCOMPLETE"),
        "exit codes in the page"
    );
    let trace = stdout_of(&["man", "trace"]);
    assert!(trace.contains(".TH tprobe\\-trace 1") || trace.contains(".TH tprobe-trace 1"));
    assert!(trace.contains("\\-\\-show\\-format") && trace.contains("Examples:"));
    let bad = TprobeCmd::new().args(["man", "nope"]).status(2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no command `nope`"));
}

/// `man -l -` renders it without complaint, when man is installed.
#[test]
fn man_page_renders_with_man() {
    let page = stdout_of(&["man"]);
    let Ok(mut man) = std::process::Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("skipping man_page_renders_with_man: no man");
        return;
    };
    use std::io::Write;
    man.stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = man.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("SYNOPSIS") && text.contains("tprobe-latency(1)"),
        "{text}"
    );
}

#[test]
fn every_command_help_has_examples() {
    for command in COMMANDS {
        let help = stdout_of(&[command, "--help"]);
        assert!(
            help.contains("Examples:\n  tprobe "),
            "`tprobe {command} --help` has no examples:\n{help}"
        );
    }
}

/// Every constant of src/cli/exit_code.rs is listed in `tprobe --help` with its number.
#[test]
fn top_level_help_lists_every_exit_code() {
    let help = stdout_of(&["--help"]);
    let source = std::fs::read_to_string(repo_root().join("src/cli/exit_code.rs")).unwrap();
    let mut seen = 0;
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let (name, value) = rest.split_once(": i32 = ").expect("NAME: i32 = N;");
        let value = value.trim_end_matches(';');
        let wanted = format!("{value:>4}  {name} ");
        assert!(
            help.lines().any(|l| l.starts_with(&wanted)),
            "`tprobe --help` lacks {wanted:?}:\n{help}"
        );
        seen += 1;
    }
    assert!(seen >= 13, "read {seen} exit codes");
    assert!(help.contains("128+N"));
}

// ---------------------------------------------------------------------------------------
// Colour and the replay progress line: only on a terminal, never with NO_COLOR or a pipe.
// ---------------------------------------------------------------------------------------

/// Which of tprobe's outputs a pseudo-terminal gets (the other one is a pipe).
#[derive(Clone, Copy)]
enum OnTerminal {
    Stdout,
    Stderr,
}

/// Runs `tprobe ARGS` with one output on a fresh pseudo-terminal and the other on a pipe;
/// returns (what the terminal got, what the pipe got).
fn run_on_terminal(args: &[&str], env: &[(&str, &str)], which: OnTerminal) -> (Vec<u8>, Vec<u8>) {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    use std::os::fd::OwnedFd;
    use std::process::Stdio;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; the other arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tprobe"));
    cmd.args(args).stdin(Stdio::null()).env_remove("NO_COLOR");
    cmd.env("TERM", "xterm");
    for (key, value) in env {
        cmd.env(key, value);
    }
    match which {
        OnTerminal::Stdout => cmd.stdout(Stdio::from(slave)).stderr(Stdio::piped()),
        OnTerminal::Stderr => cmd.stderr(Stdio::from(slave)).stdout(Stdio::piped()),
    };
    let mut child = cmd.spawn().expect("tprobe runs");
    // Dropping `cmd` closes the parent's copy of the slave: the master reads EIO at the end.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(master);
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    });
    let mut piped = Vec::new();
    match which {
        OnTerminal::Stdout => child.stderr.take().unwrap().read_to_end(&mut piped),
        OnTerminal::Stderr => child.stdout.take().unwrap().read_to_end(&mut piped),
    }
    .unwrap();
    child.wait().unwrap();
    (reader.join().unwrap(), piped)
}

fn replay_fixture_args() -> Vec<String> {
    let dir = crate::util::fixture("uprobe-basic");
    vec![
        "replay".to_owned(),
        "--events-dir".to_owned(),
        dir.join("events").display().to_string(),
        dir.join("trace_pipe.txt").display().to_string(),
    ]
}

const ESC: u8 = 0x1b;

/// Text events are highlighted on a terminal, not with NO_COLOR, not into a pipe, never
/// in JSON; the error prefix likewise.
#[test]
fn colour_only_on_a_terminal_without_no_color() {
    let args = replay_fixture_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (terminal, _) = run_on_terminal(&args, &[], OnTerminal::Stdout);
    let text = String::from_utf8_lossy(&terminal);
    assert!(
        text.contains("\x1b[1;36mtprobe_fixture/touch\x1b[0m: "),
        "no highlighted event name on a terminal:\n{text}"
    );
    let (no_color, _) = run_on_terminal(&args, &[("NO_COLOR", "1")], OnTerminal::Stdout);
    assert!(
        no_color.len() > 1000,
        "{}",
        String::from_utf8_lossy(&no_color)
    );
    assert!(!no_color.contains(&ESC), "escapes despite NO_COLOR");
    let piped = TprobeCmd::new().args(&args).status(0);
    assert!(piped.stdout.len() > 1000);
    assert!(!piped.stdout.contains(&ESC), "escapes into a pipe");
    let mut json_args = args.clone();
    json_args.insert(1, "--json");
    let (json, _) = run_on_terminal(&json_args, &[], OnTerminal::Stdout);
    assert!(json.len() > 1000 && !json.contains(&ESC), "escapes in JSON");

    let bad = ["replay", "/nonexistent/trace.txt"];
    let (terminal_err, _) = run_on_terminal(&bad, &[], OnTerminal::Stderr);
    assert!(
        terminal_err.starts_with(b"\x1b[1;31mtprobe:\x1b[0m cannot read"),
        "{}",
        String::from_utf8_lossy(&terminal_err)
    );
    let (plain_err, _) = run_on_terminal(&bad, &[("NO_COLOR", "1")], OnTerminal::Stderr);
    assert!(plain_err.starts_with(b"tprobe: cannot read"));
    let piped_err = TprobeCmd::new().args(bad).status(3);
    assert!(piped_err.stderr.starts_with(b"tprobe: cannot read"));
}

/// The replay progress line shows on a terminal stderr (made immediate by
/// TPROBE_PROGRESS_AFTER_MS=0) and is cleared; a piped stderr gets the summary alone.
#[test]
fn replay_progress_only_on_a_terminal() {
    let args = replay_fixture_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.insert(1, "--format=none");
    let now = [("TPROBE_PROGRESS_AFTER_MS", "0")];
    let (terminal, _) = run_on_terminal(&args, &now, OnTerminal::Stderr);
    let text = String::from_utf8_lossy(&terminal);
    let size_mb = std::fs::metadata(crate::util::fixture("uprobe-basic/trace_pipe.txt"))
        .unwrap()
        .len() as f64
        / 1e6;
    assert!(
        text.starts_with("\rtprobe replay: ")
            && text.contains(&format!(" / {size_mb:.1} MB ("))
            && text.contains(" MB/s\x1b[K"),
        "{text:?}"
    );
    // Cleared before the summary.
    assert!(
        text.contains("\r\x1b[Ktprobe replay: 56 events"),
        "{text:?}"
    );
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_tprobe"))
        .args(&args)
        .env("TPROBE_PROGRESS_AFTER_MS", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.starts_with("tprobe replay: 56 events"), "{stderr:?}");
    assert!(
        !stderr.contains('\r') && !stderr.contains("MB/s"),
        "{stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
}
