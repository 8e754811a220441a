//! The library facade (`tprobe::Probes`, `tprobe::replay`) used as another Rust program
//! would: live against the uprobe test program, and the example program built from
//! examples/print_events.rs and run. Every live test checks that nothing is left.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use crate::util::Live;
use crate::util::Target;
use crate::util::TempDir;

/// The `probe_me(a, s)` spec for a private copy of the test program.
fn probe_me_spec(program: &std::path::Path) -> String {
    format!(
        "u:{}:probe_me a=%di:s32 s=+0(%si):string",
        program.display()
    )
}

/// `s` as the test program builds it for argument `a`.
fn expected_s(a: i64) -> String {
    format!("call \"{}\" = x", a + 5)
}

#[test]
fn iterator_yields_probe_me_calls_and_stop_removes_everything() {
    let Some(live) = Live::get("iterator_yields_probe_me_calls_and_stop_removes_everything") else {
        return;
    };
    let dir = TempDir::new("libapi-iter");
    let program = live.private_program(&dir, "libiter");
    let target = Target::background(&program, 100_000, 5_000);
    let mut probes = tprobe::Probes::builder()
        .spec(probe_me_spec(&program))
        .pid(target.pid())
        .buffer_kb(256)
        .start()
        .expect("session starts");
    let group = probes.group().to_owned();
    assert!(group.starts_with("tprobe_"), "group {group}");
    assert!(
        live.instances().contains(&group),
        "the private instance exists while running"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen.len() < 5 && Instant::now() < deadline {
        if let Some(event) = probes.next_timeout(Duration::from_millis(200)) {
            seen.push(event);
        }
    }
    assert_eq!(seen.len(), 5, "five events within 20 s");
    for event in &seen {
        assert_eq!(event.name, "u_libiter_probe_me");
        assert_eq!(event.comm, "libiter");
        assert_eq!(event.pid as u32, target.pid());
        let a = match event.field("a") {
            Some(tprobe::OwnedValue::Signed(a)) => *a,
            other => panic!("a is {other:?} in {event:?}"),
        };
        assert_eq!(
            event.field("s").and_then(|v| v.as_str()),
            Some(expected_s(a).as_str()),
            "{event:?}"
        );
    }
    // Consecutive calls of one thread: `a` grows by one.
    let a_values: Vec<_> = seen.iter().map(|e| e.field("a").cloned()).collect();
    for pair in a_values.windows(2) {
        match pair {
            [Some(tprobe::OwnedValue::Signed(x)), Some(tprobe::OwnedValue::Signed(y))] => {
                assert_eq!(x + 1, *y, "{a_values:?}")
            }
            _ => panic!("{a_values:?}"),
        }
    }
    let summary = probes.stop().expect("clean stop");
    assert!(summary.events >= 5, "{summary:?}");
    assert_eq!(summary.probes_removed, 1, "{summary:?}");
    assert_eq!(live.leftovers(&group), Vec::<String>::new());
    drop(target);
}

#[test]
fn callback_sees_records_and_count_ends_the_session() {
    let Some(live) = Live::get("callback_sees_records_and_count_ends_the_session") else {
        return;
    };
    let dir = TempDir::new("libapi-cb");
    let program = live.private_program(&dir, "libcb");
    let target = Target::background(&program, 100_000, 2_000);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let running = tprobe::Probes::builder()
        .spec(probe_me_spec(&program))
        .pid(target.pid())
        .max_events(7)
        .start_with(move |record| {
            if let tprobe::Record::Event(event) = record {
                sink.lock()
                    .unwrap()
                    .push(tprobe::OwnedEvent::from_event(event));
            }
        })
        .expect("session starts");
    let group = running.group().to_owned();
    let summary = running.wait().expect("ends by its count");
    assert_eq!(summary.events, 7, "{summary:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 7);
    assert!(seen.iter().all(|e| e.field("s").and_then(|v| v.as_str())
        == e.field("a")
            .and_then(|a| match a {
                tprobe::OwnedValue::Signed(a) => Some(expected_s(*a)),
                _ => None,
            })
            .as_deref()));
    assert_eq!(live.leftovers(&group), Vec::<String>::new());
    drop(target);
}

#[test]
fn dropping_a_session_tears_it_down() {
    let Some(live) = Live::get("dropping_a_session_tears_it_down") else {
        return;
    };
    let dir = TempDir::new("libapi-drop");
    let program = live.private_program(&dir, "libdrop");
    let probes = tprobe::Probes::builder()
        .spec(probe_me_spec(&program))
        .start()
        .expect("session starts");
    let group = probes.group().to_owned();
    assert!(
        live.definitions().iter().any(|d| d.contains(&group)),
        "the probe is defined while running"
    );
    drop(probes);
    assert_eq!(live.leftovers(&group), Vec::<String>::new());
}

/// In its own process (the example program), so no other test's session can be taken
/// for a leftover of this one.
#[test]
fn a_bad_spec_fails_start_and_leaves_nothing() {
    let Some(live) = Live::get("a_bad_spec_fails_start_and_leaves_nothing") else {
        return;
    };
    let example = example_binary("print_events");
    let child = Command::new(&example)
        .arg("u:/nonexistent/tprobe-libapi:f")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example runs");
    let prefix = format!("tprobe_{}_", child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("/nonexistent/tprobe-libapi"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(live.leftovers(&prefix), Vec::<String>::new());
}

#[test]
fn replay_decodes_any_reader() {
    let text = "\
          bash-1234    [001] .....  100.000001: readline: (0x5601d2a3b4c0 <- 0x5601d2a1b000) line=\"ls -l\"
CPU:0 [LOST 2 EVENTS]
          bash-1234    [001] .....  100.000002: readline: (0x5601d2a3b4c0 <- 0x5601d2a1b000) line=\"exit\"
";
    let mut lines = Vec::new();
    let mut lost = 0;
    tprobe::replay(
        std::io::BufReader::new(text.as_bytes()),
        |record| match record {
            tprobe::Record::Event(event) => lines.push(
                tprobe::OwnedEvent::from_event(event)
                    .field("line")
                    .and_then(|v| v.as_str().map(str::to_owned)),
            ),
            tprobe::Record::Lost { count, .. } => lost += count.unwrap_or(0),
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(lines, [Some("ls -l".to_owned()), Some("exit".to_owned())]);
    assert_eq!(lost, 2);
}

/// The example program's binary: `cargo test` builds examples next to the test binaries;
/// when a filtered run did not, it is built here.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/integration-HASH -> target/<profile>/examples/NAME
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --example {name}");
    }
    path
}

#[test]
fn example_program_prints_decoded_events() {
    let Some(live) = Live::get("example_program_prints_decoded_events") else {
        return;
    };
    let example = example_binary("print_events");
    let dir = TempDir::new("libapi-example");
    let program = live.private_program(&dir, "libex");
    let target = Target::background(&program, 100_000, 5_000);
    let out = Command::new(&example)
        .args(["--pid", &target.pid().to_string(), "--count", "3"])
        .arg(probe_me_spec(&program))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for line in &lines {
        // libex PID u_libex_probe_me a=N s="call \"N+5\" = x"
        let prefix = format!("libex {} u_libex_probe_me a=", target.pid());
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{line}"));
        let (a, s) = rest.split_once(" s=").unwrap();
        let a: i64 = a.parse().unwrap();
        assert_eq!(s, format!("{:?}", expected_s(a)), "{line}");
    }
    let group = stderr
        .lines()
        .find_map(|l| l.strip_prefix("print_events: tracing as "))
        .unwrap_or_else(|| panic!("no group in stderr: {stderr}"));
    assert!(
        stderr.contains("3 events, 0 lost, 1 probe(s) removed"),
        "{stderr}"
    );
    assert_eq!(live.leftovers(group), Vec::<String>::new());
    drop(target);
}

/// The child half of [`stop_signals_act_again_after_a_session`]: runs a session, stops it,
/// says so, and then sleeps; it must die of the SIGTERM the parent sends.
#[test]
#[ignore = "run by stop_signals_act_again_after_a_session in a child process"]
fn signal_child_runs_a_session_then_sleeps() {
    if std::env::var_os("TPROBE_TEST_SIGNAL_CHILD").is_none() {
        return;
    }
    let Some(live) = Live::get("signal_child_runs_a_session_then_sleeps") else {
        return;
    };
    let dir = TempDir::new("libapi-sigchild");
    let program = live.private_program(&dir, "libsig");
    let probes = tprobe::Probes::builder()
        .spec(probe_me_spec(&program))
        .start()
        .expect("session starts");
    probes.stop().expect("clean stop");
    println!("STOPPED");
    std::thread::sleep(Duration::from_secs(30));
}

/// A session catches the stop signals while it runs; afterwards SIGTERM must end the
/// program again (signal-hook alone would leave it ignored).
#[test]
fn stop_signals_act_again_after_a_session() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    if Live::get("stop_signals_act_again_after_a_session").is_none() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "library_api::signal_child_runs_a_session_then_sleeps",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TPROBE_TEST_SIGNAL_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let stopped = lines.any(|l| l.is_ok_and(|l| l.contains("STOPPED")));
    assert!(stopped, "the child never stopped its session");
    crate::util::kill(child.id(), libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGTERM),
        "after the session SIGTERM must end the program: {status:?}"
    );
}
