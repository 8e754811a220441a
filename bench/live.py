#!/usr/bin/env python3
"""Live capture benchmark (issue 7): tprobe against cat, perf-tools and trace-cmd.

Run through bench/live.sh, which builds everything and passes the paths. For each rate
(calls/s; 0 = flat out) and each consumer, in one run on one machine:

  1. the consumer is started and the script waits until its event is enabled;
  2. bench/live/workload.c calls the probed no-op function CALLS times at that rate;
  3. once the consumer's output has been quiet for a moment it gets SIGINT (its whole
     process group, as Ctrl-C would), and is reaped with wait4() for its CPU and peak RSS;
  4. events received are counted from its output; lost = calls - received.

Then setup + teardown of 1, 100 and 1000 uprobes: tprobe (one run with a pattern, so the
probes become points of one event) against a plain per-probe shell loop, and JSON output
events/s to /dev/null.

Slowdown is the workload's time against its time with the probe enabled and nobody
reading, so it is the consumer's share alone. It prints a table and the ratios the issue
asks for. Nothing here is a test: figures move
with the machine; only the ratios within one run mean something.
"""

import argparse
import glob
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TRACEFS = "/sys/kernel/tracing"
# CPU seconds the last `trace-cmd report` took (decoding what trace-cmd record captured).
tc_report_cpu = [0.0]
GROUP = "tpbench"  # probes the script defines itself for cat and trace-cmd
EVENT = "bench_probe"


def write(path, text):
    """Writes a tracefs control file; appends to *_events, never truncates them."""
    # os.open, not open(): Python's append mode seeks to the end, which tracefs refuses.
    flags = os.O_WRONLY | (os.O_APPEND if path.endswith("_events") else os.O_TRUNC)
    fd = os.open(path, flags | (0 if path.startswith(TRACEFS) else os.O_CREAT), 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def func_offset(binary, func):
    """File offset of FUNC in BINARY: st_value - p_vaddr + p_offset of its PT_LOAD."""
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    value = next(int(l.split()[0], 16) for l in nm.splitlines() if l.split()[-1] == func)
    return value - text_load_delta(binary, value)


def text_load_delta(binary, value):
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == "LOAD":
            offset, vaddr, filesz = int(cols[1], 16), int(cols[2], 16), int(cols[4], 16)
            if vaddr <= value < vaddr + filesz:
                return vaddr - offset
    raise SystemExit(f"{binary}: no PT_LOAD holds {value:#x}")


def enabled(pattern):
    """Whether an enable file matching PATTERN (under tracefs) reads 1."""
    for path in glob.glob(os.path.join(TRACEFS, pattern)):
        try:
            if open(path).read().strip() == "1":
                return True
        except OSError:
            pass
    return False


def instances():
    return set(os.listdir(os.path.join(TRACEFS, "instances")))


def groups_defined():
    listing = os.path.join(TRACEFS, "dynamic_events")
    with open(listing) as f:
        return {line.split()[0].split(":", 1)[1].split("/")[0] for line in f if ":" in line}


class Consumer:
    """One way of reading the probe's events: how to arm it and how to count."""

    def __init__(self, name, argv, armed, count, setup=None, teardown=None):
        self.name, self.argv, self.armed, self.count = name, argv, armed, count
        self.setup, self.teardown = setup or (lambda: None), teardown or (lambda: None)


def define_own_probe(binary, offset):
    write(os.path.join(TRACEFS, "uprobe_events"),
          f"p:{GROUP}/{EVENT} {binary}:{offset:#x} i=%di:s64\n")


def remove_own_probe():
    if GROUP in groups_defined():
        write(os.path.join(TRACEFS, "uprobe_events"), f"-:{GROUP}/\n")


def count_lines(needle):
    def count(path):
        n = 0
        with open(path, "rb") as f:
            for line in f:
                n += needle in line
        return n
    return count


def remove_stale_ftrace_lock():
    """perf-tools refuses to start while /var/tmp/.ftrace-lock names a pid; one left by a
    killed run (its pid gone) is stale."""
    lock = "/var/tmp/.ftrace-lock"
    try:
        pid = int(open(lock).read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid and not os.path.exists(f"/proc/{pid}"):
        os.remove(lock)
        print(f"  (removed a stale perf-tools lock of pid {pid})")


def make_consumers(args, offset):
    binary = args.workload
    inst = lambda name: os.path.join(TRACEFS, "instances", name)
    spec = f"u:{binary}:{EVENT} i=%di:s64"

    def cat_setup():
        define_own_probe(binary, offset)
        os.mkdir(inst("tpbench_cat"))
        write(os.path.join(inst("tpbench_cat"), "events", GROUP, EVENT, "enable"), "1")

    def cat_teardown():
        if os.path.isdir(inst("tpbench_cat")):
            os.rmdir(inst("tpbench_cat"))
        remove_own_probe()

    # trace-cmd writes /proc/sys/kernel/ftrace_enabled (EPERM here), and under kernel
    # lockdown it crashes on reading set_ftrace_pid (EPERM -> NULL). A private mount
    # namespace with plain files over those paths lets it run unchanged; the function
    # tracer files it touches are no business of a uprobe capture anyway.
    ftrace_enabled = os.path.join(args.work, "ftrace_enabled")
    write(ftrace_enabled, "1\n")
    empty = os.path.join(args.work, "empty")
    write(empty, "")
    shim = os.path.join(args.work, "trace-cmd-shim.sh")
    write(shim, f"mount --bind {ftrace_enabled} /proc/sys/kernel/ftrace_enabled\n"
                "for f in set_ftrace_pid set_ftrace_filter set_ftrace_notrace "
                "set_ftrace_notrace_pid set_graph_function set_graph_notrace; do\n"
                f"  mount --bind {empty} {TRACEFS}/$f 2>/dev/null\n"
                "done\nexec \"$@\"\n")

    def tc_teardown():
        # trace-cmd works in the top instance and may leave tracing_on off (seen with 3.1.6
        # after SIGINT): put back what was there, and say so.
        tracing_on = os.path.join(TRACEFS, "tracing_on")
        if open(tracing_on).read().strip() != top_tracing_on:
            write(tracing_on, top_tracing_on)
            print(f"  (trace-cmd left tracing_on changed; restored {top_tracing_on})")
        # A peer that leaves the event enabled at the top level: disable it, and say so.
        top_enable = os.path.join(TRACEFS, "events", GROUP, EVENT, "enable")
        if os.path.exists(top_enable) and open(top_enable).read().strip() == "1":
            write(top_enable, "0")
            print("  (trace-cmd left the event enabled at the top level; disabled it)")
        remove_own_probe()

    top_tracing_on = open(os.path.join(TRACEFS, "tracing_on")).read().strip()
    tc_file = os.path.join(args.work, "trace.dat")

    def tc_count(_path):
        # Decoding happens here, after the capture: its CPU is shown on its own row, since
        # tprobe's figure includes the decoding and formatting of every event.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = subprocess.run(["trace-cmd", "report", "-i", tc_file],
                                capture_output=True, check=False).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tc_report_cpu[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return sum(EVENT.encode() in line for line in report.splitlines())

    consumers = [
        Consumer("cat trace_pipe", ["cat", os.path.join(inst("tpbench_cat"), "trace_pipe")],
                 f"instances/tpbench_cat/events/{GROUP}/{EVENT}/enable",
                 count_lines(EVENT.encode() + b":"), cat_setup, cat_teardown),
        # perf-tools finds tracefs under debugfs: mount it in a private namespace.
        Consumer("perf-tools uprobe",
                 ["unshare", "-m", "sh", "-c",
                  "mount -t debugfs none /sys/kernel/debug && exec uprobe-perf "
                  f"'p:{binary}:{EVENT} i=%di:s64'"],
                 f"events/uprobes/{EVENT}/enable", count_lines(EVENT.encode() + b":"),
                 remove_stale_ftrace_lock),
        # trace-cmd records the top instance: with -B it fails under lockdown opening the
        # instance's set_ftrace_filter, which exists only once the instance does.
        Consumer("trace-cmd record",
                 ["unshare", "-m", "sh", shim, "trace-cmd", "record", "-q", "-e",
                  f"{GROUP}:{EVENT}", "-o", tc_file],
                 f"events/{GROUP}/{EVENT}/enable", tc_count,
                 lambda: define_own_probe(binary, offset), tc_teardown),
        Consumer("trace-cmd stream",
                 ["unshare", "-m", "sh", shim, "trace-cmd", "stream", "-q", "-e",
                  f"{GROUP}:{EVENT}"],
                 f"events/{GROUP}/{EVENT}/enable", count_lines(EVENT.encode() + b":"),
                 lambda: define_own_probe(binary, offset), tc_teardown),
        Consumer("tprobe --text",
                 [args.tprobe, "trace", *(["--text"] if args.binary_capture else []), spec],
                 "instances/tprobe_*/events/tprobe_*/enable", count_lines(EVENT.encode() + b":")),
    ]
    if args.binary_capture:
        consumers.append(Consumer("tprobe", [args.tprobe, "trace", spec],
                                  "instances/tprobe_*/events/tprobe_*/enable",
                                  count_lines(EVENT.encode() + b":")))
    return consumers


def run_workload(args, rate, calls):
    out = subprocess.run([args.workload, str(rate), str(calls)], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[1]) / 1e9  # elapsed seconds


def wait_quiet(path, proc, quiet=1.0, limit=30.0):
    """Waits until PATH stops growing for QUIET seconds (the consumer has caught up)."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and proc.poll() is None:
        size = os.path.getsize(path)
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def measure(args, consumer, rate, calls, baseline):
    before = (instances(), groups_defined())
    consumer.setup()
    out_path = os.path.join(args.work, "out.txt")
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(consumer.argv, stdout=out, stderr=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 30
    while not enabled(consumer.armed):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            consumer.teardown()
            raise SystemExit(f"{consumer.name}: never armed (exit {proc.poll()})")
        time.sleep(0.02)
    time.sleep(0.3)  # the event is enabled a moment before the reader runs
    elapsed = run_workload(args, rate, calls)
    wait_quiet(out_path, proc)
    rss_kb = session_peak_rss_kb(proc.pid)
    if proc.returncode is not None:
        consumer.teardown()
        raise SystemExit(f"{consumer.name}: exited early ({proc.returncode}) at {rate}/s")
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, status, usage = wait4_timeout(proc.pid, 60)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    consumer.teardown()
    # Other tracers may run on the machine meanwhile: only names this run made count.
    ours = lambda name: name.startswith(GROUP) or f"_{proc.pid}_" in name
    left = ({n for n in instances() - before[0] if ours(n)},
            {n for n in groups_defined() - before[1] if ours(n)})
    for name in left[0]:  # a peer that leaves its instance behind
        if name.startswith(GROUP):
            os.rmdir(os.path.join(TRACEFS, "instances", name))
    received = consumer.count(out_path)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "received": received,
        "lost_pct": 100.0 * max(calls - received, 0) / calls,
        "cpu_us_per_event": 1e6 * cpu / received if received else float("nan"),
        "slowdown": elapsed / baseline,
        "elapsed": elapsed,
        "rss_mb": rss_kb / 1024,
        "leftover": sorted(left[0] | left[1]),
    }


def session_peak_rss_kb(sid):
    """Sum of VmHWM over the processes of session SID: the consumer and its helpers.
    (wait4's ru_maxrss would count the Python interpreter the child was forked from.)"""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(pid)) != sid:
                continue
            with open(f"/proc/{pid}/status") as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmHWM:")), 0)
        except (OSError, ValueError):
            pass
    return total


def default_sigint():
    """Consumers stop on SIGINT, as on Ctrl-C. A script started in the background of a
    non-interactive shell inherits SIGINT ignored, and so would every consumer (a shell
    script cannot even trap it then): give them the default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait4_timeout(pid, seconds):
    deadline = time.monotonic() + seconds
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


def probed_baseline(args, offset, rate, calls):
    """The workload's time with the probe enabled and nobody reading: what the uprobe
    trap itself costs, so that slowdown is the consumer's doing alone."""
    define_own_probe(args.workload, offset)
    base = os.path.join(TRACEFS, "instances", "tpbench_base")
    os.mkdir(base)
    try:
        write(os.path.join(base, "events", GROUP, EVENT, "enable"), "1")
        return min(run_workload(args, rate, calls) for _ in range(2))
    finally:
        os.rmdir(base)
        remove_own_probe()


def live_table(args):
    offset = func_offset(args.workload, EVENT)
    consumers = [c for c in make_consumers(args, offset) if args.only is None
                 or c.name in args.only]
    rows = []
    for rate in args.rates:
        # A uprobe hit costs microseconds (a trap), so high rates are capped by calls.
        calls = min(max(int(rate * args.seconds), 1000), args.flat_calls) if rate else \
            args.flat_calls
        baseline = probed_baseline(args, offset, rate, calls)
        for consumer in consumers:
            m = measure(args, consumer, rate, calls, baseline)
            label = f"{rate // 1000}k/s" if rate else "flat out"
            rows.append((label, consumer.name, calls, m))
            label += f" ({calls / m['elapsed'] / 1000:.0f}k/s)"
            print(f"{label:>18}  {consumer.name:<18} calls {calls:>8}  received "
                  f"{m['received']:>8}  lost {m['lost_pct']:6.2f}%  cpu/event "
                  f"{m['cpu_us_per_event']:7.3f} us  slowdown {m['slowdown']:5.2f}x  "
                  f"rss {m['rss_mb']:6.1f} MB" + (f"  LEFT {m['leftover']}" if m["leftover"]
                                                  else ""), flush=True)
            if consumer.name == "trace-cmd record" and m["received"]:
                per_event = 1e6 * tc_report_cpu[0] / m["received"]
                m["with_report"] = m["cpu_us_per_event"] + per_event
                print(f"{'':>18}  {'  + trace-cmd report':<18} decoding the capture afterwards: "
                      f"cpu/event {per_event:7.3f} us (record + report "
                      f"{m['cpu_us_per_event'] + per_event:.3f} us)")
    return rows


def ratios(rows):
    print("\nRatios per rate (tprobe = binary capture when built, else --text):")
    by_rate = {}
    for label, name, _calls, m in rows:
        by_rate.setdefault(label, {})[name] = m
    for label, ms in by_rate.items():
        tp = ms.get("tprobe") or ms.get("tprobe --text")
        tc = ms.get("trace-cmd record")
        if not tp or not tc:
            continue
        print(f"{label:>18}: tprobe lost {tp['lost_pct']:.2f}% vs trace-cmd record "
              f"{tc['lost_pct']:.2f}%; cpu/event tprobe/trace-cmd = "
              f"{tp['cpu_us_per_event'] / tc['cpu_us_per_event']:.2f} (against record + "
              f"report: {tp['cpu_us_per_event'] / tc.get('with_report', float('nan')):.2f}); "
              "peak RSS "
              f"{tp['rss_mb']:.1f} MB")


def many_functions(args, n):
    """A program with N probe-able functions fn_0000.. (compiled, never run)."""
    src = os.path.join(args.work, "many.c")
    with open(src, "w") as f:
        for i in range(n):
            f.write(f"__attribute__((noinline)) void fn_{i:04d}(void) "
                    "{ __asm__ volatile(\"\"); }\n")
        f.write("int main(void) { return 0; }\n")
    binary = os.path.join(args.work, "many")
    subprocess.run(["gcc", "-O1", "-o", binary, src], check=True)
    return binary


def setup_teardown(args):
    binary = many_functions(args, 1000)
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    offsets = {}
    for line in nm.splitlines():
        cols = line.split()
        if cols[-1].startswith("fn_"):
            value = int(cols[0], 16)
            offsets[cols[-1]] = value - text_load_delta(binary, value)
    print("\nSetup + teardown of N uprobes (define, enable in a private instance, remove):")
    for n, pattern in ((1, "fn_0000"), (100, "fn_00*"), (1000, "fn_*")):
        names = sorted(offsets)[:n]
        start = time.monotonic()
        done = subprocess.run([args.tprobe, "trace", "-d", "0", "--max-probes", "1000",
                               f"u:{binary}:{pattern}"], capture_output=True, text=True)
        tprobe_s = time.monotonic() - start
        if done.returncode != 0:
            print(f"  N={n}: tprobe failed ({done.returncode}): {done.stderr.strip()[:300]}")
            tprobe_s = float("nan")
        start = time.monotonic()
        shell_loop(binary, names, offsets)
        loop_s = time.monotonic() - start
        print(f"  N={n:>4}: tprobe {tprobe_s * 1000:9.1f} ms   per-probe shell loop "
              f"{loop_s * 1000:9.1f} ms   loop/tprobe = {loop_s / tprobe_s:6.1f}x", flush=True)


def shell_loop(binary, names, offsets):
    """What a careful hand-written script does: one command per probe at each step."""
    lines = []
    for name in names:
        lines.append(f"echo 'p:tpbench_loop/{name} {binary}:{offsets[name]:#x}' >> "
                     f"{TRACEFS}/uprobe_events")
    lines.append(f"mkdir {TRACEFS}/instances/tpbench_loop")
    ev = f"{TRACEFS}/instances/tpbench_loop/events/tpbench_loop"
    lines += [f"echo 1 > {ev}/{name}/enable" for name in names]
    lines += [f"echo 0 > {ev}/{name}/enable" for name in names]
    lines += [f"echo '-:tpbench_loop/{name}' >> {TRACEFS}/uprobe_events" for name in names]
    lines.append(f"rmdir {TRACEFS}/instances/tpbench_loop")
    script = os.path.join(os.path.dirname(binary), "loop.sh")
    write(script, "\n".join(lines) + "\n")
    subprocess.run(["sh", "-e", script], check=True)


def json_rate(args):
    """JSON Lines to /dev/null, flat out. The uprobe trap bounds how fast events come, so
    the figure that says what tprobe's output can sustain is events per CPU second it
    spent, shown next to the rate offered."""
    calls = args.flat_calls
    spec = f"u:{args.workload}:{EVENT} i=%di:s64"
    proc = subprocess.Popen([args.tprobe, "trace", "--json", "-o", "/dev/null", spec],
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=default_sigint)
    while not enabled("instances/tprobe_*/events/tprobe_*/enable"):
        time.sleep(0.02)
    time.sleep(0.3)
    elapsed = run_workload(args, 0, calls)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    err = proc.stderr.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    cpu = usage.ru_utime + usage.ru_stime
    summary = err.decode(errors="replace").strip().splitlines()
    print(f"\nJSON to /dev/null, flat out: {calls} events offered at {calls / elapsed:,.0f}/s; "
          f"tprobe used {cpu:.2f} CPU s = {calls / cpu:,.0f} events per CPU second; "
          f"{summary[-1] if summary else '?'}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tprobe", required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--binary-capture", action="store_true")
    parser.add_argument("--rates", type=int, nargs="+", default=[10_000, 100_000,
                                                                   1_000_000, 0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--flat-calls", type=int, default=500_000)
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--skip", nargs="+", default=[], choices=["live", "setup", "json"])
    args = parser.parse_args()
    if "live" not in args.skip:
        ratios(live_table(args))
    if "setup" not in args.skip:
        setup_teardown(args)
    if "json" not in args.skip:
        json_rate(args)


if __name__ == "__main__":
    sys.exit(main())
