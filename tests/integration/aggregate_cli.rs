//! `tprobe latency` and `tprobe count`, live on this host's uprobes, against the ground
//! truth of `tests/data/latency_target.c` (it prints how long each call took by its own
//! clock).

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
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

/// `tests/data/latency_target.c` compiled into `dir`.
fn latency_program(dir: &TempDir) -> PathBuf {
    compile_c(
        dir,
        "lat_t",
        &repo_root().join("tests/data/latency_target.c"),
        &[],
    )
}

/// Runs the program with `sleeps` (ms) once tprobe is armed; returns (ms, ns) per call.
fn run_program(program: &Path, sleeps: &[u32]) -> Vec<(u32, u64)> {
    let mut child = Command::new(program)
        .args(sleeps.iter().map(u32::to_string))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the test program starts");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (ms, ns) = line.split_once(' ').unwrap();
            (ms.parse().unwrap(), ns.parse().unwrap())
        })
        .collect()
}

/// The must-show run: a function that sleeps 1, 4 and 16 ms lands in the 1, 4..7 and
/// 16..31 ms buckets, as the program's own clock says each call should.
#[test]
fn latency_puts_known_sleeps_in_their_buckets() {
    let Some(live) = Live::get("latency_puts_known_sleeps_in_their_buckets") else {
        return;
    };
    let dir = TempDir::new("lat");
    let program = latency_program(&dir);
    let spec = format!("u:{}:sleeper", program.display());
    let mut run = LiveRun::start(
        ["latency", "-u", "ms", "--json", "-d", "30", &spec],
        StdoutMode::Collect,
    );
    run.wait_armed(live, SECS_10);
    let truth = run_program(&program, &[1, 4, 16, 1, 4, 16, 16]);
    let end = stop_with_sigterm(run, live);
    let objects = end.json();
    let histogram = objects
        .iter()
        .find(|o| o.get("buckets").is_some())
        .unwrap_or_else(|| panic!("no histogram in {:?}", end.stdout));
    assert_eq!(histogram["unit"], "ms");
    assert_eq!(histogram["count"], truth.len());
    // Each call's bucket by the program's own clock (ms, rounded down as tprobe bins).
    // The probes see a call from slightly inside the program's clock readings, so a call
    // within 200 us of a bucket edge may land on either side of it; every other call must
    // be in exactly its bucket. (Under load a 1 ms sleep can take 2 ms: the program's clock
    // says so, and the bucket follows it.)
    let bucket = |ns: u64| {
        let ms = ns / 1_000_000;
        if ms == 0 {
            0
        } else {
            1u64 << ms.ilog2()
        }
    };
    let mut certain = std::collections::BTreeMap::<u64, u64>::new();
    let mut either = Vec::new();
    for (_, ns) in &truth {
        let (low, high) = (bucket(ns.saturating_sub(200_000)), bucket(ns + 200_000));
        if low == high {
            *certain.entry(low).or_default() += 1;
        } else {
            either.push((low, high));
        }
    }
    let got: std::collections::BTreeMap<u64, u64> = histogram["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["low"].as_u64().unwrap(), b["count"].as_u64().unwrap()))
        .collect();
    let buckets: std::collections::BTreeSet<u64> = got
        .keys()
        .chain(certain.keys())
        .copied()
        .chain(either.iter().flat_map(|&(a, b)| [a, b]))
        .collect();
    for b in buckets {
        let must = certain.get(&b).copied().unwrap_or(0);
        let may = either.iter().filter(|&&(l, h)| l == b || h == b).count() as u64;
        let n = got.get(&b).copied().unwrap_or(0);
        assert!(
            must <= n && n <= must + may,
            "bucket {b} ms holds {n}, the truth says {must} (+{may} at an edge): \
             {got:?}, truth {truth:?}"
        );
    }
    // The sleeps asked for are 1, 4 and 16 ms: three buckets at least, whatever the load.
    assert!(got.len() >= 3, "{got:?}");
    let unpaired = objects
        .iter()
        .find(|o| o.get("unpaired").is_some())
        .expect("the unpaired report");
    assert_eq!(unpaired["unpaired"]["returns"], 0, "{unpaired}");
    assert_eq!(unpaired["unpaired"]["still_open"], 0, "{unpaired}");
    assert_eq!(unpaired["lost"], 0, "{unpaired}");
}

/// `--by comm` keys each call by its command; the text table has the bcc layout.
#[test]
fn latency_text_table_by_comm() {
    let Some(live) = Live::get("latency_text_table_by_comm") else {
        return;
    };
    let dir = TempDir::new("latc");
    let program = latency_program(&dir);
    let spec = format!("u:{}:sleeper", program.display());
    let mut run = LiveRun::start(
        ["latency", "--by", "comm", "-d", "30", &spec],
        StdoutMode::Collect,
    );
    run.wait_armed(live, SECS_10);
    run_program(&program, &[2, 2]);
    let end = stop_with_sigterm(run, live);
    let text = end.stdout.join("\n");
    assert!(text.contains("usecs"), "{text}");
    // 2 ms sleeps take at least 2 ms: every call is in a row from 2048 us up (usually
    // 2048 -> 4095; a loaded machine may push one further), and the rows hold both.
    let rows: Vec<(u64, u64)> = end
        .stdout
        .iter()
        .filter_map(|l| {
            let (range, rest) = l.split_once(" : ")?;
            let low = range.split("->").next()?.trim().parse().ok()?;
            let count = rest.split_whitespace().next()?.parse().ok()?;
            Some((low, count))
        })
        .collect();
    assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), 2, "{text}");
    assert!(
        rows.iter().all(|&(low, count)| count == 0 || low >= 2048),
        "{text}"
    );
    // The comm is the program's, or `<...>` when the kernel had not saved it yet.
    assert!(
        text.contains("COMM = lat_t") || text.contains("COMM = <...>"),
        "{text}"
    );
    assert!(text.contains("count: 2"), "{text}");
}

/// A user-space pattern is counted per function, even after the process is gone.
#[test]
fn count_a_pattern_per_function() {
    let Some(live) = Live::get("count_a_pattern_per_function") else {
        return;
    };
    let dir = TempDir::new("cnt");
    let program = latency_program(&dir);
    let spec = format!("u:{}:*e*", program.display());
    let mut run = LiveRun::start(["count", "--json", "-d", "30", &spec], StdoutMode::Collect);
    run.wait_armed(live, SECS_10);
    run_program(&program, &[0, 0, 0]);
    let end = stop_with_sigterm(run, live);
    let rows = end.json();
    let sleeper = rows
        .iter()
        .find(|r| r["key"] == "sleeper")
        .unwrap_or_else(|| panic!("no sleeper row in {:?}", end.stdout));
    assert_eq!(sleeper["count"], 3, "{rows:?}");
    // nested() matched the pattern but was never called: no row.
    assert!(rows.iter().all(|r| r["key"] != "nested"), "{rows:?}");
}
