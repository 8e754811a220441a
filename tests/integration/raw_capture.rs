//! Live tests of the binary per-CPU reader (issue 7): it decodes live events to the same
//! JSON as the text reader, and lost events are counted and reported, never dropped
//! silently. Skipped like live_trace.rs when the host cannot run live tests.
//!
//! Two ways to compare the readers on the same events:
//! - `binary_and_text_decode_the_same_live_events`: one session, one workload, and the
//!   instance's `trace` file read (it does not consume) *before* the per-CPU buffers are
//!   read and consumed by the binary reader, so both see exactly the same records. All of
//!   the JSON must match except the timestamp's precision (raw has nanoseconds; the text
//!   rounds to microseconds) and the header comm (the text looks it up at read time).
//!   Kernel and user stacks are on, so their records are compared too.
//! - `cli_binary_and_text_runs_print_the_same_fields`: the CLI twice, default (binary)
//!   and `--text`, over the same deterministic program: the same events with the same
//!   fields, apart from what differs between two processes (pid, addresses, times).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tprobe::decode::decode_reader;
use tprobe::decode::CommCache;
use tprobe::decode::Decoder;
use tprobe::decode::EventCatalog;
use tprobe::decode::RawCatalog;
use tprobe::decode::RawDecoder;
use tprobe::decode::Record;
use tprobe::kallsyms::KsymIndex;
use tprobe::output::RecordFormat;
use tprobe::stream::RawCapture;
use tprobe::stream::RawOutput;
use tprobe::tracefs::Session;
use tprobe::tracefs::TraceOption;
use tprobe::tracefs::Tracefs;

use crate::util::Live;
use crate::util::LiveRun;
use crate::util::StdoutMode;
use crate::util::Target;
use crate::util::TempDir;

const SECS_10: Duration = Duration::from_secs(10);

/// Every type the binary decoder plans differently: signed, hex, string, char, array.
fn typed_spec(program: &Path) -> String {
    format!(
        "u:{}:probe_me a=%di:s32 ax=%di:x32 au=%di:u16 s=+0(%si):string c=+0(%si):char \
         arr=+0(%si):u8[4] bad=+0(%di):string",
        program.display()
    )
}

/// The kernel lines `tprobe --dry-run` plans for `spec`.
fn dry_run_lines(spec: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tprobe"))
        .args(["trace", "--dry-run", spec])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// A JSON line with its `ts` rounded to microseconds (as the kernel prints it) and the
/// header's `comm` removed.
fn comparable(line: &str) -> String {
    let mut out = line.to_owned();
    if let Some(rest) = out.strip_prefix("{\"ts\":") {
        let end = rest.find(',').unwrap_or(rest.len());
        let ts = &rest[..end];
        let rounded = match ts.split_once('.') {
            Some((secs, nanos)) if nanos.len() == 9 => {
                let total =
                    secs.parse::<u64>().unwrap() * 1_000_000_000 + nanos.parse::<u64>().unwrap();
                let micros = (total + 500) / 1000;
                format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
            }
            _ => ts.to_owned(),
        };
        out = format!("{{\"ts\":{rounded}{}", &rest[end..]);
    }
    let header_end = out.find(",\"fields\":").unwrap_or(out.len());
    if let Some(at) = out[..header_end].find(",\"comm\":") {
        let value: serde_json::Value = serde_json::Deserializer::from_str(&out[at + 8..])
            .into_iter::<serde_json::Value>()
            .next()
            .unwrap()
            .unwrap();
        let len = serde_json::to_string(&value).unwrap().len();
        out.replace_range(at..at + 8 + len, "");
    }
    out
}

#[test]
fn binary_and_text_decode_the_same_live_events() {
    let Some(live) = Live::get("binary_and_text_decode_the_same_live_events") else {
        return;
    };
    let dir = TempDir::new("raw-same");
    let program = live.private_program(&dir, "t_rawsame");
    let lines = dry_run_lines(&typed_spec(&program));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let tracefs = Tracefs::at(&live.tracefs);
    let mut session = Session::create(&tracefs).unwrap();
    let prefix = session.name().to_string();
    // The dry run named its own group: put the probe in this session's group.
    let (head, rest) = lines[0].split_once(' ').unwrap();
    let event = head.rsplit('/').next().unwrap();
    let line = format!("p:{}/{event} {rest}", session.group());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        session.define(&[line.as_str()]).unwrap();
        let instance = session.instance().clone();
        // Stacks too: they are records of their own in the buffers.
        instance.set_option(TraceOption::Stacktrace, true).unwrap();
        instance
            .set_option(TraceOption::Userstacktrace, true)
            .unwrap();
        session.enable().unwrap();
        let truth = Target::start(&program, 40, 0).finish(SECS_10);
        assert_eq!(truth.len(), 40);
        let events_dir = instance.events_path();
        let mut catalog = EventCatalog::new();
        catalog
            .load_group(session.group(), &events_dir.join(session.group()))
            .unwrap();
        // The text first: reading `trace` leaves the records in the buffers.
        let mut text = Vec::new();
        let mut decoder = Decoder::new(&catalog);
        let trace = std::fs::File::open(instance.path().join("trace")).unwrap();
        decode_reader(
            trace,
            &mut decoder,
            &mut |r: &Record<'_>| -> std::io::Result<()> {
                RecordFormat::Json.append(&mut text, r);
                Ok(())
            },
        )
        .unwrap();
        // Then the binary reader consumes them.
        for stack in ["kernel_stack", "user_stack"] {
            catalog
                .load_event("ftrace", &events_dir.join("ftrace").join(stack))
                .unwrap();
        }
        let raw_catalog = RawCatalog::new(&catalog, &[]);
        let comms = CommCache::new(Some(live.tracefs.join("saved_cmdlines")));
        let mut raw_decoder =
            RawDecoder::new(&raw_catalog, comms).with_kernel_symbols(KsymIndex::load().unwrap());
        let mut capture = RawCapture::for_instance(&instance).unwrap();
        let mut sink = RawOutput::new(Vec::new(), RecordFormat::Json);
        let n = capture.read_to_end(&mut raw_decoder, &mut sink).unwrap();
        drop(capture);
        let raw = String::from_utf8(sink.into_inner().unwrap()).unwrap();
        let text = String::from_utf8(text).unwrap();
        let raw: Vec<&str> = raw.lines().collect();
        let text: Vec<&str> = text.lines().collect();
        assert_eq!(n, 40, "raw:\n{}", raw.join("\n"));
        assert_eq!(
            raw.len(),
            text.len(),
            "raw:\n{}\ntext:\n{}",
            raw.join("\n"),
            text.join("\n")
        );
        for (r, t) in raw.iter().zip(&text) {
            assert_eq!(comparable(r), comparable(t));
        }
        // The values are the program's: `a` counts from -5, the fault is null.
        assert!(
            raw[0].contains("\"a\":-5,\"ax\":\"0xfffffffb\",\"au\":65531"),
            "{}",
            raw[0]
        );
        assert!(
            raw[0].contains("\"s\":\"call \\\"0\\\" = x\",\"c\":\"c\",\"arr\":[99,97,108,108]"),
            "{}",
            raw[0]
        );
        assert!(raw[0].contains("\"bad\":null"), "{}", raw[0]);
        assert!(
            raw[0].contains("\"stack\":[\"__uprobe_trace_func\""),
            "{}",
            raw[0]
        );
        assert!(raw[0].contains("\"ustack\":[\"0x0000"), "{}", raw[0]);
    }));
    let report = session.teardown();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    report.unwrap();
    assert!(
        live.leftovers(&prefix).is_empty(),
        "{:?}",
        live.leftovers(&prefix)
    );
}

/// The JSON of a run with what differs between two processes removed.
fn fields_only(run: &crate::util::RunEnd) -> Vec<serde_json::Value> {
    run.json()
        .into_iter()
        .map(|mut v| {
            let obj = v.as_object_mut().unwrap();
            // The flags column too: the first call of a run may fire in another context.
            for key in ["ts", "pid", "comm", "group", "cpu", "flags"] {
                obj.remove(key);
            }
            if let Some(fields) = obj.get_mut("fields").and_then(|f| f.as_object_mut()) {
                fields.remove("__probe_ip");
            }
            // User frames are addresses of this process (ASLR): keep only how many.
            if let Some(ustack) = obj.get_mut("ustack") {
                *ustack = serde_json::json!(ustack.as_array().map_or(0, Vec::len));
            }
            v
        })
        .collect()
}

#[test]
fn cli_binary_and_text_runs_print_the_same_fields() {
    let Some(live) = Live::get("cli_binary_and_text_runs_print_the_same_fields") else {
        return;
    };
    let dir = TempDir::new("raw-cli");
    let program = live.private_program(&dir, "t_rawcli");
    let spec = typed_spec(&program);
    let mut ends = Vec::new();
    for reader in [None, Some("--text")] {
        let mut args = vec!["--json", "-n", "12", "-d", "20", "-s", "--ustack"];
        args.extend(reader);
        args.push(&spec);
        let mut run = LiveRun::start(&args, StdoutMode::Collect);
        run.wait_armed(live, SECS_10);
        let truth = Target::start(&program, 12, 0).finish(SECS_10);
        assert_eq!(truth.len(), 12);
        let end = run.wait(SECS_10);
        assert_eq!(end.code(), 0, "{}", end.stderr);
        assert!(live.leftovers(&run.prefix).is_empty());
        assert!(end.stderr.contains("tprobe: 12 events"), "{}", end.stderr);
        ends.push(end);
    }
    let (binary, text) = (&ends[0], &ends[1]);
    assert_eq!(binary.stdout.len(), 12, "{:?}", binary.stdout);
    assert_eq!(fields_only(binary), fields_only(text));
    // The binary reader keeps nanoseconds.
    let ts = binary.stdout[0]
        .strip_prefix("{\"ts\":")
        .and_then(|rest| rest.split(',').next())
        .unwrap();
    assert_eq!(ts.split('.').nth(1).map(str::len), Some(9), "{ts}");
}

#[test]
fn forced_loss_is_counted_and_reported() {
    let Some(live) = Live::get("forced_loss_is_counted_and_reported") else {
        return;
    };
    let dir = TempDir::new("raw-lost");
    let program = live.private_program(&dir, "t_rawlost");
    let spec = format!("u:{}:probe_me a=%di:s32", program.display());
    let out = dir.path().join("events.jsonl");
    let out_arg = out.to_string_lossy().into_owned();
    // A 4 KiB buffer per CPU and a flat-out program: the buffer is overrun between reads.
    let mut run = LiveRun::start(
        ["--json", "-b", "4", "-d", "4", "-o", &out_arg, &spec],
        StdoutMode::Collect,
    );
    run.wait_armed(live, SECS_10);
    const CALLS: u32 = 20_000;
    let status = Command::new(&program)
        .args([CALLS.to_string(), "0".into()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let end = run.wait(Duration::from_secs(30));
    assert_eq!(end.code(), 0, "{}", end.stderr);
    assert!(live.leftovers(&run.prefix).is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    let mut events = 0u64;
    let mut lost_json = 0u64;
    let mut lost_lines = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(lost) = v.get("lost") {
            lost_json += lost.as_u64().unwrap_or(0);
            assert!(v["cpu"].is_u64(), "{line}");
            lost_lines.push(line.to_owned());
        } else {
            events += 1;
        }
    }
    eprintln!(
        "forced loss: {events} events, {lost_json} lost; {lost_lines:?}\n{}",
        end.stderr
    );
    assert!(lost_json > 0, "no loss reported: {}", end.stderr);
    // Every call is either written or counted as lost (overwrite mode counts exactly).
    assert_eq!(events + lost_json, u64::from(CALLS), "{}", end.stderr);
    let summary = end
        .stderr
        .lines()
        .find(|l| l.starts_with("tprobe: ") && l.contains(" lost"))
        .unwrap_or_else(|| panic!("no summary: {}", end.stderr));
    assert!(
        summary.contains(&format!("{events} events"))
            && summary.contains(&format!(", {lost_json} lost [cpu")),
        "{summary}"
    );
}
