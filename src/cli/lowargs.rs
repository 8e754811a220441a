//! The flags as given, parsed by clap; no I/O and no checks beyond syntax.

use std::path::PathBuf;

use clap::Parser;
use clap::Subcommand;
use clap::ValueEnum;

/// Manage tracefs/ftrace probes without eBPF, and decode what the kernel prints.
#[derive(Debug, Parser)]
#[command(
    name = "tprobe",
    version,
    about,
    propagate_version = true,
    after_help = super::exit_code::EXIT_CODES_HELP
)]
pub struct LowArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// tprobe's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode captured trace_pipe or trace text, exactly as the live path does.
    #[command(
        after_help = "Examples:\n  tprobe replay --events-dir fixtures/uprobe-basic/events fixtures/uprobe-basic/trace_pipe.txt\n  cat /sys/kernel/tracing/trace | tprobe replay --events-dir /sys/kernel/tracing/events --format json"
    )]
    Replay(ReplayArgs),
    /// Define probes, stream their events, and remove everything on exit (the default:
    /// `tprobe SPEC…` means `tprobe trace SPEC…`).
    #[command(
        after_help = "Examples:\n  tprobe 'u:/bin/bash:readline'\n  tprobe --json -n 5 'p:/usr/lib/x86_64-linux-gnu/libc.so.6:0x9d850 size=%di:u64'\n  tprobe -d 10 -s 'r:do_sys_openat2 ret=$retval:s32'"
    )]
    Trace(TraceArgs),
    /// Remove the probes and instances of tprobe runs whose process is gone.
    #[command(after_help = "Examples:\n  tprobe clean --dry-run\n  tprobe clean")]
    Clean(CleanArgs),
    /// Show live tprobe runs and this machine's other dynamic events (read-only).
    #[command(
        after_help = "Examples:\n  tprobe list kernel 'vfs_*'\n  tprobe list tracepoints 'sched:*'\n  tprobe list libc 'str*'\n  tprobe list /usr/bin/bash 'read*'\n  tprobe list usdt /usr/lib/x86_64-linux-gnu/libc.so.6"
    )]
    List(ListArgs),
    /// Show what a spec would attach to: file, symbol, address, file offset, build-id
    /// and the kernel line, or why it cannot (read-only).
    #[command(
        after_help = "Examples:\n  tprobe resolve u:libc:malloc\n  tprobe resolve vfs_read\n  tprobe resolve usdt:./app:myapp:request\n  tprobe resolve -p 1234 u:libssl:SSL_write"
    )]
    Resolve(ResolveArgs),
    /// Histogram of a function's durations, from an entry and a return probe paired per
    /// thread in user space (like bcc's funclatency, without BPF).
    #[command(
        after_help = "Examples:\n  tprobe latency vfs_read\n  tprobe latency -u ms -i 5 u:/usr/bin/bash:readline\n  tprobe latency --by comm u:libc:malloc\n  tprobe latency --by '$arg3' --json -d 10 vfs_read"
    )]
    Latency(LatencyArgs),
    /// Count events per probe, and per comm, pid or field with --by (like perf-tools'
    /// funccount).
    #[command(
        after_help = "Examples:\n  tprobe count 'p:vfs_*'\n  tprobe count -i 1 --by comm u:libc:malloc\n  tprobe count --by size 'u:libc:malloc size=%di:u64'"
    )]
    Count(CountArgs),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  tprobe completions bash > /etc/bash_completion.d/tprobe\n  source <(tprobe completions bash)\n  tprobe completions zsh > \"${fpath[1]}/_tprobe\"\n  tprobe completions fish > ~/.config/fish/completions/tprobe.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of tprobe, or of one command (`tprobe-COMMAND(1)`).
    #[command(
        after_help = "Examples:\n  tprobe man | man -l -\n  tprobe man trace | man -l -\n  tprobe man > /usr/local/share/man/man1/tprobe.1"
    )]
    Man(ManArgs),
}

/// `tprobe completions` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

/// `tprobe man` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// A command (`trace`, `latency`, …) whose own page to print instead of the overview.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// How durations are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LatencyUnit {
    /// Nanoseconds.
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
}

/// Options `tprobe latency` and `tprobe count` share with `tprobe trace`.
#[derive(Debug, Clone, clap::Args)]
pub struct AggregateArgs {
    /// Print (and reset) the result every this many seconds, as well as at the end.
    #[arg(short = 'i', long = "interval", value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Split by `comm`, `pid`, or (latency) a fetch-arg taken at entry such as `$arg1` or
    /// `%di:u32`, or (count) a field name of the probe.
    #[arg(long, value_name = "KEY")]
    pub by: Option<String>,
    /// JSON Lines instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Only events of this process (and its children).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Stop after this many seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Per-CPU buffer size of tprobe's private instance, in KiB.
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u32>,
    /// Read the text `trace_pipe` instead of the binary per-CPU buffers.
    #[arg(long)]
    pub text: bool,
    /// The most functions one pattern may expand to.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub max_probes: usize,
    #[command(flatten)]
    pub tracefs: TracefsArgs,
}

/// `tprobe latency` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LatencyArgs {
    /// The function: a kernel function (`vfs_read`, `ext4:ext4_file_open`) or
    /// `u:PATH_OR_LIB:FUNC` for user space.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The unit of the histogram.
    #[arg(short = 'u', long, value_enum, default_value_t = LatencyUnit::Us)]
    pub unit: LatencyUnit,
    /// Concurrent calls a kernel return probe can follow (kretprobe maxactive); returns
    /// beyond it are missed and counted.
    #[arg(long, value_name = "N")]
    pub maxactive: Option<u32>,
    #[command(flatten)]
    pub common: AggregateArgs,
}

/// `tprobe count` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CountArgs {
    /// Probe specs, as for `tprobe trace`; patterns welcome (`p:vfs_*`, `u:libc:str*`).
    #[arg(value_name = "SPEC", required = true)]
    pub specs: Vec<String>,
    #[command(flatten)]
    pub common: AggregateArgs,
}

/// `tprobe resolve` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ResolveArgs {
    /// A spec (`u:libc:malloc`, `usdt:PATH:PROVIDER:NAME`, `p:vfs_read`) or a kernel
    /// function name.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Look libraries and programs up in this process's maps.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<u32>,
    /// The most functions one pattern (`u:libc:str*`) may expand to.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub max_probes: usize,
    #[command(flatten)]
    pub tracefs: TracefsArgs,
}

/// Where tracefs is, for the commands that use it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TracefsArgs {
    /// The tracefs mount to use instead of the one tprobe finds.
    #[arg(long, value_name = "DIR")]
    pub tracefs: Option<PathBuf>,
    /// Mount tracefs at /sys/kernel/tracing when it is not mounted.
    #[arg(long)]
    pub mount: bool,
}

/// `tprobe trace` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Probe specs: kernel syntax (`p:…`, `r:…`, `f:…`, `e:…`) or shorthands
    /// (`u:PATH:FUNC`, `ur:PATH:FUNC`, `t:SUBSYS:EVENT`, `SYM%return`). A spec may end in
    /// `if FILTER` (kernel filter syntax) for that probe alone. As with perf-tools'
    /// `kprobe`, the last argument may instead be a filter for every probe
    /// (`tprobe 'p:do_sys_open' 'filename ~ "*stat"'`): it is taken as one when there are
    /// at least two arguments, it is not a valid spec, and it compares something
    /// (`==`, `!=`, `<`, `>`, `<=`, `>=`, `~`, `&`, `&&`, `||`).
    #[arg(value_name = "SPEC", required = true)]
    pub specs: Vec<String>,
    /// A filter for every probe, in the kernel's filter syntax (`size > 1024`).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Only events of this process (and its children).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Record the kernel stack with each event.
    #[arg(short = 's', long = "stack")]
    pub kernel_stack: bool,
    /// Record the user stack with each event.
    #[arg(long)]
    pub ustack: bool,
    /// Per-CPU buffer size of tprobe's private instance, in KiB [default: 4096 with the
    /// binary reader, room for bursts; the kernel's default with --text].
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u32>,
    /// Read the text `trace_pipe` instead of the binary per-CPU buffers (slower, loses
    /// events under load).
    #[arg(long)]
    pub text: bool,
    /// Stop after this many events.
    #[arg(short = 'n', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(short = 'd', long = "duration", value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Shorthand for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write events to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The most kernel symbols or user functions one pattern (`p:vfs_*`, `u:libc:str*`)
    /// may expand to (one event with that many probe points).
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub max_probes: usize,
    /// Print the exact definitions tprobe would write, and exit without touching tracefs.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub compat: PerfToolsArgs,
    #[command(flatten)]
    pub tracefs: TracefsArgs,
}

/// The perf-tools (`kprobe`, `uprobe`) options `tprobe trace` has that the aggregating
/// commands do not (`-p`, `-d` and `-s` are `tprobe trace`'s own).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PerfToolsArgs {
    /// Only events of these threads (not their children; `-p` follows a process and its
    /// children).
    #[arg(short = 'L', long = "tid", value_name = "TID", conflicts_with = "pid")]
    pub tid: Vec<u32>,
    /// Print a header line naming the columns before the events (text output only).
    #[arg(short = 'H', long = "header")]
    pub header: bool,
    /// Print each probe's event format file (`events/GROUP/EVENT/format`, as the kernel
    /// built it), then remove everything and exit without tracing.
    #[arg(short = 'v', long = "show-format")]
    pub show_format: bool,
}

impl TraceArgs {
    /// The output format after `--json`.
    pub fn output_format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else {
            self.format
        }
    }
}

/// `tprobe clean` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CleanArgs {
    /// Print what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub tracefs: TracefsArgs,
}

/// `tprobe list` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// What to list: `runs` (live tprobe runs and other dynamic events, the default),
    /// `kernel` (functions a kprobe can attach to), `tracepoints`, `usdt` (USDT probes
    /// of the file given next), or a binary or library (`libc`, `/usr/bin/bash`): its
    /// functions with their file offsets.
    #[arg(value_name = "WHAT", default_value = "runs", value_parser = parse_list_what)]
    pub what: ListWhat,
    /// A glob (`vfs_*`, `syscalls:sys_enter_open*`, `str*`); for `usdt`, the file.
    #[arg(value_name = "GLOB")]
    pub pattern: Option<String>,
    #[command(flatten)]
    pub tracefs: TracefsArgs,
}

/// What `tprobe list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListWhat {
    /// Live tprobe runs and this machine's other dynamic events.
    Runs,
    /// Kernel functions a kprobe can attach to (from /proc/kallsyms).
    Kernel,
    /// Tracepoints (`SUBSYS:EVENT`), for `t:SUBSYS:EVENT`.
    Tracepoints,
    /// USDT probes of a file (the file is the next argument).
    Usdt,
    /// Functions of a binary or library (a path or a name to look up).
    Binary(String),
}

fn parse_list_what(text: &str) -> Result<ListWhat, String> {
    Ok(match text {
        "runs" => ListWhat::Runs,
        "kernel" => ListWhat::Kernel,
        "tracepoints" => ListWhat::Tracepoints,
        "usdt" => ListWhat::Usdt,
        "" => return Err("give runs, kernel, tracepoints, usdt, or a binary".to_owned()),
        other => ListWhat::Binary(other.to_owned()),
    })
}

/// The first argument names a command; anything else (a spec, a flag of `trace`) means
/// `trace`: `tprobe SPEC…` is `tprobe trace SPEC…`.
pub(crate) fn with_default_command(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const COMMANDS: [&str; 10] = [
        "replay",
        "trace",
        "clean",
        "list",
        "resolve",
        "latency",
        "count",
        "completions",
        "man",
        "help",
    ];
    const TOP_LEVEL_FLAGS: [&str; 4] = ["-h", "--help", "-V", "--version"];
    if let Some(first) = args.get(1).and_then(|a| a.to_str()) {
        if !COMMANDS.contains(&first) && !TOP_LEVEL_FLAGS.contains(&first) {
            args.insert(1, "trace".into());
        }
    }
    args
}

/// `tprobe replay` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A directory laid out like tracefs `events/` (`DIR/GROUP/EVENT/format`); with it,
    /// fields are split by their format instead of guessed.
    #[arg(long, value_name = "DIR")]
    pub events_dir: Option<PathBuf>,
    /// Output format; `none` decodes everything and prints only the summary.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Shorthand for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Decoding threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Trace text files to decode; `-` or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl ReplayArgs {
    /// The output format after `--json`.
    pub fn output_format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else {
            self.format
        }
    }
}

/// How decoded records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum OutputFormat {
    /// One readable line per event.
    Text,
    /// JSON Lines, one object per record.
    Json,
    /// Nothing but the summary (decode only).
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LowArgs, clap::Error> {
        LowArgs::try_parse_from(std::iter::once("tprobe").chain(args.iter().copied()))
    }

    fn replay(args: &[&str]) -> ReplayArgs {
        match parse(args).unwrap().command {
            Command::Replay(r) => r,
            other => panic!("not replay: {other:?}"),
        }
    }

    fn trace(args: &[&str]) -> TraceArgs {
        let argv: Vec<std::ffi::OsString> = std::iter::once("tprobe")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        match LowArgs::try_parse_from(with_default_command(argv))
            .unwrap()
            .command
        {
            Command::Trace(t) => t,
            other => panic!("not trace: {other:?}"),
        }
    }

    #[test]
    fn bare_specs_mean_trace() {
        let t = trace(&["u:/bin/true:main"]);
        assert_eq!(t.specs, ["u:/bin/true:main"]);
        let t = trace(&["-n", "5", "--json", "p:x a=%di", "r:y"]);
        assert_eq!(t.count, Some(5));
        assert_eq!(t.output_format(), OutputFormat::Json);
        assert_eq!(t.specs.len(), 2);
        let t = trace(&[
            "trace", "-s", "--ustack", "-p", "1", "-p", "2", "-b", "64", "-d", "1.5", "x",
        ]);
        assert!(t.kernel_stack && t.ustack);
        assert_eq!(t.pid, [1, 2]);
        assert_eq!((t.buffer_kb, t.duration), (Some(64), Some(1.5)));
    }

    #[test]
    fn trace_needs_a_spec_and_valid_numbers() {
        let argv = |a: &[&str]| -> Vec<std::ffi::OsString> {
            std::iter::once("tprobe")
                .chain(a.iter().copied())
                .map(Into::into)
                .collect()
        };
        assert!(LowArgs::try_parse_from(with_default_command(argv(&["trace"]))).is_err());
        assert!(LowArgs::try_parse_from(with_default_command(argv(&["-n", "x", "s"]))).is_err());
        assert!(LowArgs::try_parse_from(with_default_command(argv(&["--help"]))).is_err());
    }

    #[test]
    fn list_takes_a_kind_or_a_binary() {
        let list = |a: &[&str]| match parse(a).unwrap().command {
            Command::List(l) => l,
            other => panic!("not list: {other:?}"),
        };
        assert_eq!(list(&["list"]).what, ListWhat::Runs);
        assert_eq!(list(&["list", "kernel", "vfs_*"]).what, ListWhat::Kernel);
        let usdt = list(&["list", "usdt", "./app"]);
        assert_eq!(
            (usdt.what, usdt.pattern.as_deref()),
            (ListWhat::Usdt, Some("./app"))
        );
        let lib = list(&["list", "libc", "str*"]);
        assert_eq!(lib.what, ListWhat::Binary("libc".into()));
        assert!(parse(&["list", ""]).is_err());
    }

    #[test]
    fn resolve_flags() {
        let resolve = |a: &[&str]| match parse(a).unwrap().command {
            Command::Resolve(r) => r,
            other => panic!("not resolve: {other:?}"),
        };
        let r = resolve(&["resolve", "u:libc:malloc"]);
        assert_eq!(
            (r.target.as_str(), r.pid, r.max_probes),
            ("u:libc:malloc", None, 128)
        );
        let r = resolve(&["resolve", "-p", "12", "--max-probes", "3", "u:libc:str*"]);
        assert_eq!((r.pid, r.max_probes), (Some(12), 3));
        assert!(parse(&["resolve"]).is_err());
        assert!(parse(&["resolve", "-p", "x", "f"]).is_err());
        // `resolve` is a command, not a spec for `trace`.
        let argv: Vec<std::ffi::OsString> = ["tprobe", "resolve", "vfs_read"]
            .iter()
            .map(Into::into)
            .collect();
        assert!(matches!(
            LowArgs::try_parse_from(with_default_command(argv))
                .unwrap()
                .command,
            Command::Resolve(_)
        ));
    }

    #[test]
    fn replay_defaults() {
        let r = replay(&["replay"]);
        assert_eq!(r.output_format(), OutputFormat::Text);
        assert!(r.files.is_empty());
        assert!(r.events_dir.is_none());
    }

    #[test]
    fn replay_format_and_files() {
        let r = replay(&["replay", "--format", "json", "--events-dir", "d", "a", "-"]);
        assert_eq!(r.output_format(), OutputFormat::Json);
        assert_eq!(r.files, vec![PathBuf::from("a"), PathBuf::from("-")]);
        assert_eq!(
            replay(&["replay", "--json"]).output_format(),
            OutputFormat::Json
        );
        assert_eq!(
            replay(&["replay", "--format=none"]).output_format(),
            OutputFormat::None
        );
    }

    #[test]
    fn replay_bad_values() {
        assert!(parse(&["replay", "--format", "xml"]).is_err());
        assert!(parse(&["replay", "--json", "--format", "text"]).is_err());
        assert!(parse(&["replay", "--events-dir"]).is_err());
    }
}
