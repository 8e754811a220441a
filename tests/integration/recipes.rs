//! The README's user-space recipes, run live on this host as the README shows them, each
//! checked against what the test itself did. (The kernel recipes run in the VM harness:
//! tests/vm/guest/tests.sh.)

use std::io::Write;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use crate::util::compile_c;
use crate::util::repo_root;
use crate::util::stop_with_sigterm;
use crate::util::Live;
use crate::util::LiveRun;
use crate::util::StdoutMode;
use crate::util::TempDir;

const SECS_10: Duration = Duration::from_secs(10);

/// Recipe "Lines typed into bash": a return probe on readline() fetches the string it
/// returns. bash calls readline only when interactive on a terminal: `script` gives it
/// one, fed by a pipe.
#[test]
fn recipe_bash_readline_returns_the_typed_line() {
    let Some(live) = Live::get("recipe_bash_readline_returns_the_typed_line") else {
        return;
    };
    let bash = ["/usr/bin/bash", "/bin/bash"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("bash is installed");
    let spec = format!("ur:{bash}:readline line=+0($retval):string");
    let mut run = LiveRun::start(["--json", "-d", "60", &spec], StdoutMode::Collect);
    run.wait_armed(live, SECS_10);
    let typed = format!("echo tprobe-recipe-{}", std::process::id());
    let mut shell = Command::new("script")
        .args([
            "-qec",
            &format!("{bash} --norc --noprofile -i"),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux) runs");
    shell
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{typed}\nexit\n").as_bytes())
        .unwrap();
    assert!(shell.wait().unwrap().success());
    let end = stop_with_sigterm(run, live);
    let lines: Vec<String> = end
        .json()
        .iter()
        .filter(|e| e["event"] == "ur_bash_readline")
        .filter_map(|e| e["fields"]["line"].as_str().map(str::to_owned))
        .collect();
    assert!(
        lines.windows(2).any(|w| w[0] == typed && w[1] == "exit"),
        "readline returned {lines:?}, typed {typed:?} then exit"
    );
}

/// `tests/data/malloc_sizes.c` compiled into `dir`.
fn malloc_program(dir: &TempDir) -> std::path::PathBuf {
    compile_c(
        dir,
        "mallocs",
        &repo_root().join("tests/data/malloc_sizes.c"),
        &[],
    )
}

/// Recipe "malloc sizes of a process": `tprobe count -p PID --by size` on libc's malloc
/// counts each requested size; the program mallocs 3 x 3333 and 5 x 77777 bytes.
#[test]
fn recipe_malloc_sizes_of_a_process() {
    let Some(live) = Live::get("recipe_malloc_sizes_of_a_process") else {
        return;
    };
    let dir = TempDir::new("recipe-malloc");
    let program = malloc_program(&dir);
    let mut child = Command::new(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut run = LiveRun::start(
        [
            "count",
            "--json",
            "-p",
            &pid,
            "--by",
            "size",
            "u:libc:malloc size=%di:u64",
        ],
        StdoutMode::Collect,
    );
    run.wait_armed(live, SECS_10);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    let end = stop_with_sigterm(run, live);
    let rows = end.json();
    let count_of = |size: u64| -> u64 {
        rows.iter()
            .filter(|r| {
                r["key"].as_u64() == Some(size) || r["key"].as_str() == Some(&size.to_string())
            })
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(count_of(3333), 3, "{rows:?}");
    assert_eq!(count_of(77777), 5, "{rows:?}");
}
