#!/usr/bin/env bash
# Live capture benchmark (issue 7): events lost, consumer CPU per event, workload slowdown
# and peak RSS for tprobe (binary and --text), `cat trace_pipe`, perf-tools `uprobe` and
# trace-cmd record/stream at 10k, 100k, 1M calls/s and flat out; then setup + teardown of
# 1, 100 and 1000 uprobes against a per-probe shell loop; then JSON events/s to /dev/null.
# Prints a table and ratios. Needs root, tracefs with uprobes, gcc; installs the peers
# (Debian trace-cmd, perf-tools-unstable) when missing. Takes about 5 minutes.
#
#   bash bench/live.sh                      # everything
#   bash bench/live.sh --rates 100000 0     # some rates only
#   bash bench/live.sh --only tprobe 'trace-cmd record' --skip setup json
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "live bench: needs root" >&2
    exit 2
fi
if ! grep -qs ' tracefs ' /proc/self/mountinfo; then
    mount -t tracefs nodev /sys/kernel/tracing
fi
if ! command -v trace-cmd >/dev/null || ! command -v uprobe-perf >/dev/null; then
    apt-get update -q && apt-get install -y -q trace-cmd perf-tools-unstable
fi

[ -n "${TPROBE:-}" ] || (cd "$ROOT" && cargo build --release --quiet)
BIN=${TPROBE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tprobe}
WORK=$(mktemp -d /tmp/tprobe-live-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -o "$WORK/workload" "$ROOT/bench/live/workload.c"

BINARY_CAPTURE=()
if "$BIN" trace --help | grep -q -- '--text'; then
    BINARY_CAPTURE=(--binary-capture)
fi
echo "kernel $(uname -r), $(nproc) CPUs; tprobe $("$BIN" --version | cut -d' ' -f2)" \
    "${BINARY_CAPTURE[*]:-(text path only)}; $(trace-cmd --version 2>/dev/null | head -1)"
python3 "$ROOT/bench/live.py" --tprobe "$BIN" --workload "$WORK/workload" --work "$WORK" \
    "${BINARY_CAPTURE[@]}" "$@"
