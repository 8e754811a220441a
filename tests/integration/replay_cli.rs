//! `tprobe replay` through the binary: exit codes, error messages, output formats.

use serde::Deserialize;

use crate::util::json_lines;
use crate::util::write_file;
use crate::util::TempDir;
use crate::util::TprobeCmd;

/// Exit codes, as documented in `src/cli/exit_code.rs`.
const OK: i32 = 0;
const USAGE: i32 = 2;
const INPUT_UNREADABLE: i32 = 3;
const BAD_FORMAT_FILE: i32 = 4;

/// A real 6.18 uprobe format file (captured live; see fixtures/README.md).
const ENT_FORMAT: &str = "name: ent\nID: 2326\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] p;\toffset:16;\tsize:4;\tsigned:1;\n\tfield:s32 n;\toffset:20;\tsize:4;\tsigned:1;\n\tfield:u16 x;\toffset:24;\tsize:2;\tsigned:0;\n\tfield:s64 arr[];\toffset:26;\tsize:24;\tsigned:1;\n\tfield:__data_loc char[] c;\toffset:50;\tsize:4;\tsigned:1;\n\tfield:u8 ch;\toffset:54;\tsize:1;\tsigned:0;\n\nprint fmt: \"(%lx) p=\\\"%s\\\" n=%d x=0x%x arr={%Ld,%Ld,%Ld} c=\\\"%s\\\" ch='%c'\", REC->__probe_ip, __get_str(p), REC->n, REC->x, REC->arr[0], REC->arr[1], REC->arr[2], __get_str(c), REC->ch\n";

/// Lines in the 6.18 layout (the first from a live capture, the others edited from it:
/// hand-made, to put every record shape in one small input).
const TRACE: &str = "\
               t-1727    [001] DBZff   147.606363: ent: (0x55bb6db58139) p=\"/tmp/a \" b=1\" x\" n=-5 x=0xfffb arr={1,0,-3} c=\"t\" ch='/'
               t-1727    [001] DBZff   147.606364: <stack trace>
 => __uprobe_trace_func
 => asm_exc_int3
               t-1727    [001] DBZff   147.606364: <user stack trace>
 =>  <00005647d8268139>
CPU:0 [LOST 12 EVENTS]
        my app-1-85      [000] d..1.   147.700000: ent: (0x1) p=\"line one
line two\" n=1 x=0x0 arr={0,0,0} c=(fault) ch='\"'
this line is not trace text
";

fn replay_fixture() -> TempDir {
    let dir = TempDir::new("replay");
    write_file(
        dir.path(),
        "events/tprobe_1/ent/format",
        ENT_FORMAT.as_bytes(),
    );
    write_file(dir.path(), "trace.txt", TRACE.as_bytes());
    dir
}

/// The JSON schema of design.md, strictly: unknown keys fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEvent {
    ts: f64,
    cpu: u32,
    pid: i32,
    #[serde(default)]
    tgid: Option<i32>,
    comm: serde_json::Value,
    #[serde(default)]
    flags: Option<String>,
    group: Option<String>,
    event: String,
    fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    stack: Vec<String>,
    #[serde(default)]
    ustack: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLost {
    lost: Option<u64>,
    cpu: u32,
}

#[test]
fn json_follows_the_schema() {
    let dir = replay_fixture();
    let out = TprobeCmd::new()
        .args(["replay", "--format", "json", "--events-dir"])
        .arg(dir.path().join("events"))
        .arg(dir.path().join("trace.txt"))
        .status(OK);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{lines:#?}");

    let first: JsonEvent = serde_json::from_value(lines[0].clone()).unwrap();
    assert_eq!(
        (first.ts, first.cpu, first.pid, first.tgid),
        (147.606363, 1, 1727, None)
    );
    assert_eq!(first.comm, "t");
    assert_eq!(first.flags.as_deref(), Some("DBZff"));
    assert_eq!(first.group.as_deref(), Some("tprobe_1"));
    assert_eq!(first.event, "ent");
    let f = &first.fields;
    assert_eq!(f["p"], "/tmp/a \" b=1\" x");
    assert_eq!(f["n"], -5);
    assert_eq!(f["x"], "0xfffb");
    assert_eq!(f["arr"], serde_json::json!([1, 0, -3]));
    assert_eq!(f["ch"], "/");
    assert_eq!(f["__probe_ip"], "0x55bb6db58139");
    assert_eq!(first.stack, ["__uprobe_trace_func", "asm_exc_int3"]);
    assert_eq!(first.ustack, ["0x00005647d8268139"]);

    let lost: JsonLost = serde_json::from_value(lines[1].clone()).unwrap();
    assert_eq!((lost.lost, lost.cpu), (Some(12), 0));

    let second: JsonEvent = serde_json::from_value(lines[2].clone()).unwrap();
    assert_eq!(second.comm, "my app-1");
    assert_eq!(second.fields["p"], "line one\nline two");
    assert_eq!(second.fields["c"], serde_json::Value::Null);
    assert_eq!(second.fields["ch"], "\"");

    assert_eq!(lines[3]["unparsed"], "this line is not trace text");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 events, 12 lost [cpu0:12], 1 unparsed, 0 guessed"),
        "{stderr}"
    );
}

#[test]
fn text_output_snapshot() {
    let dir = replay_fixture();
    let out = TprobeCmd::new()
        .args(["replay", "--events-dir"])
        .arg(dir.path().join("events"))
        .arg("-")
        .stdin(TRACE)
        .status(OK);
    insta::assert_snapshot!("replay_text", String::from_utf8(out.stdout).unwrap());
}

#[test]
fn without_formats_it_guesses_and_says_so() {
    let out = TprobeCmd::new()
        .args(["replay", "--json"])
        .stdin(TRACE)
        .status(OK);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["group"], serde_json::Value::Null);
    // The guess splits the unescaped string at ` b=`: the price of having no format.
    assert_eq!(lines[0]["fields"]["p"], "/tmp/a ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 guessed"), "{stderr}");
    assert!(stderr.contains("--events-dir"), "{stderr}");
}

#[test]
fn missing_input_names_the_path() {
    let out = TprobeCmd::new()
        .args(["replay", "/nonexistent/trace_pipe.txt"])
        .status(INPUT_UNREADABLE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/trace_pipe.txt"), "{stderr}");
}

#[test]
fn missing_events_dir_names_the_path_and_hints() {
    let out = TprobeCmd::new()
        .args(["replay", "--events-dir", "/nonexistent/events", "-"])
        .stdin("")
        .status(INPUT_UNREADABLE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/events"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn bad_format_file_names_the_path() {
    let dir = TempDir::new("badfmt");
    let bad = write_file(dir.path(), "events/g/e/format", b"name: e\nID: x\n");
    let out = TprobeCmd::new()
        .args(["replay", "--events-dir"])
        .arg(dir.path().join("events"))
        .stdin("")
        .status(BAD_FORMAT_FILE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    TprobeCmd::new()
        .args(["replay", "--format", "xml"])
        .status(USAGE);
}

#[test]
fn closed_stdout_is_a_clean_exit() {
    use std::io::BufRead;
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tprobe"))
        .args(["replay", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let line = "               t-1727    [001] DBZff   147.606363: ent: (0x1) n=1\n";
        for _ in 0..200_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"ts\":147.606363"), "{first}");
    drop(stdout);
    let status = child.wait().unwrap();
    writer.join().unwrap();
    assert_eq!(status.code(), Some(OK));
}

/// Chunks decoded on several threads give byte for byte what one thread gives, on real
/// captures repeated past several chunk boundaries (records with stacks, multi-line strings
/// and a fake record header inside a string among them).
#[test]
fn threads_give_the_same_output_as_one() {
    let dir = TempDir::new("threads");
    let mut text = Vec::new();
    let fixtures = crate::util::repo_root().join("fixtures");
    while text.len() < 5 << 20 {
        for name in [
            "uprobe-basic",
            "uprobe-tgid-stacks",
            "syscalls-openat",
            "lost",
        ] {
            text.extend_from_slice(
                &std::fs::read(fixtures.join(name).join("trace_pipe.txt")).unwrap(),
            );
        }
    }
    let input = write_file(dir.path(), "big.txt", &text);
    let events = fixtures.join("uprobe-tgid-stacks/events");
    for format in ["json", "text"] {
        let run = |threads: &str| {
            TprobeCmd::new()
                .args([
                    "replay",
                    "--format",
                    format,
                    "--threads",
                    threads,
                    "--events-dir",
                ])
                .arg(&events)
                .arg(&input)
                .status(OK)
        };
        let one = run("1");
        let four = run("4");
        assert!(
            one.stdout == four.stdout,
            "{format} output differs between 1 and 4 threads"
        );
        assert_eq!(one.stderr, four.stderr);
        assert!(!one.stdout.is_empty());
    }
}
