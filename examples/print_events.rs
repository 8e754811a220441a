//! Prints the events of probes given as specs, one line each, using tprobe's library API.
//!
//! ```text
//! cargo run --example print_events -- [--pid PID] [--count N] SPEC...
//! sudo target/debug/examples/print_events --count 3 'ur:/usr/bin/bash:readline line=+0($retval):string'
//! ```
//!
//! Each line is `COMM PID EVENT NAME=VALUE…` (the spec's fields); the summary goes to stderr. Ctrl-C ends the
//! run, and the probes are removed either way.

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut builder = tprobe::Probes::builder();
    let mut count: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pid" => match args.next().and_then(|pid| pid.parse().ok()) {
                Some(pid) => builder = builder.pid(pid),
                None => return usage("--pid takes a process id"),
            },
            "--count" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => count = Some(n),
                None => return usage("--count takes a number"),
            },
            "--seconds" => match args.next().and_then(|s| s.parse().ok()) {
                Some(seconds) => builder = builder.duration(Duration::from_secs_f64(seconds)),
                None => return usage("--seconds takes a number"),
            },
            spec => builder = builder.spec(spec),
        }
    }
    if let Some(count) = count {
        builder = builder.max_events(count);
    }
    let mut probes = match builder.start() {
        Ok(probes) => probes,
        Err(e) => {
            eprintln!("print_events: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("print_events: tracing as {}", probes.group());
    for event in probes.by_ref() {
        let mut line = format!("{} {} {}", event.comm, event.pid, event.name);
        // Fields tprobe adds itself (`__probe_ip`) are left out.
        for (name, value) in event
            .fields
            .iter()
            .filter(|(name, _)| !name.starts_with("__"))
        {
            let shown = match value {
                tprobe::OwnedValue::Str(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
                tprobe::OwnedValue::Signed(n) => n.to_string(),
                tprobe::OwnedValue::Unsigned(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            line.push_str(&format!(" {name}={shown}"));
        }
        println!("{line}");
    }
    match probes.stop() {
        Ok(summary) => {
            eprintln!(
                "print_events: {} events, {} lost, {} probe(s) removed",
                summary.events, summary.lost, summary.probes_removed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("print_events: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!(
        "print_events: {why}\nusage: print_events [--pid PID] [--count N] [--seconds S] SPEC..."
    );
    ExitCode::from(2)
}
