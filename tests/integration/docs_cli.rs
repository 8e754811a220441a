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
