#!/usr/bin/env bash
# bench/resolve.sh - start-up cost of symbol resolution, against the shell one-liners a
# user would otherwise type, in one run on this machine (issue 5, "Speed").
#
# This is a benchmark, not a test: it prints timings and ratios (target: tprobe within
# 2x of each peer) and exits 0 unless the setup fails. Each row is the best wall time of
# --runs runs (after one warm-up run, so every tool reads warm page cache):
#   tprobe resolve SYM                vs  grep -m1 ' SYM$' /proc/kallsyms
#   tprobe list kernel 'vfs_*'        vs  grep ' vfs_' /proc/kallsyms
#   tprobe resolve u:libc:malloc      vs  nm -D LIBC
# plus `cat /proc/kallsyms` (the whole file, which a resolver must read) for scale.
#
# Usage: bench/resolve.sh [--runs N] [--symbol SYM]
#   --runs N      timed runs per command, best one is reported (default 10)
#   --symbol SYM  the kernel symbol (default vfs_read)
# Environment: CARGO_TARGET_DIR (release build goes there; default target/), CARGO.
# Needs: bash, coreutils, grep, binutils (nm), cargo. Root shows real kernel addresses.
set -euo pipefail

RUNS=10
SYM=vfs_read

usage() { sed -n '/^# Usage:/,/^# Needs:/p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) [ $# -ge 2 ] || { usage >&2; exit 2; }; RUNS="$2"; shift 2 ;;
        --symbol) [ $# -ge 2 ] || { usage >&2; exit 2; }; SYM="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "resolve.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "resolve.sh: --runs needs a positive integer" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
echo "== building release tprobe into $TARGET_DIR" >&2
(cd "$ROOT" && "${CARGO:-cargo}" build --release --locked --quiet)
TPROBE="$TARGET_DIR/release/tprobe"

LIBC="$("$TPROBE" resolve u:libc:malloc | awk '$1 == "file" && $2 != "offset" { print $2 }')"
[ -n "$LIBC" ] || { echo "resolve.sh: tprobe cannot find libc" >&2; exit 1; }

# Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees
# /dev/null (it then acts like -q), which would not be the work a user waits for.
OUT="$(mktemp "${TMPDIR:-/tmp}/tprobe-bench-resolve.XXXXXX")"
trap 'rm -f "$OUT"' EXIT

# Best wall time in milliseconds (3 decimals) of RUNS runs of "$@".
best_ms() {
    "$@" > "$OUT" 2>&1 || true
    local best="" start end ns
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        "$@" > "$OUT" 2>&1 || true
        end=$(date +%s%N)
        ns=$((end - start))
        if [ -z "$best" ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
    done
    awk -v ns="$best" 'BEGIN { printf "%.3f", ns / 1e6 }'
}

row() {
    local label="$1" peer_label="$2" ours="$3" peer="$4"
    awk -v l="$label" -v pl="$peer_label" -v a="$ours" -v b="$peer" 'BEGIN {
        r = (b > 0) ? a / b : 0
        printf "%-34s %9.3f ms   %-38s %9.3f ms   ratio %5.2fx %s\n", l, a, pl, b, r, (r <= 2 ? "(within 2x)" : "(OVER 2x)")
    }'
}

echo "kernel $(uname -r), $(nproc) CPUs, $(wc -l < /proc/kallsyms) kallsyms lines, libc $LIBC; best of $RUNS"
row "tprobe resolve $SYM" "grep -m1 ' $SYM\$' /proc/kallsyms" \
    "$(best_ms "$TPROBE" resolve "$SYM")" \
    "$(best_ms grep -m1 " $SYM\$" /proc/kallsyms)"
# grep -m1 stops at the first match; a resolver must read every line to catch duplicate
# names (6.7+ kernels refuse a non-unique symbol), so the full read is its floor.
row "(floor) cat /proc/kallsyms" "grep -m1 ' $SYM\$' /proc/kallsyms" \
    "$(best_ms cat /proc/kallsyms)" \
    "$(best_ms grep -m1 " $SYM\$" /proc/kallsyms)"
row "tprobe list kernel 'vfs_*'" "grep ' vfs_' /proc/kallsyms" \
    "$(best_ms "$TPROBE" list kernel 'vfs_*')" \
    "$(best_ms grep ' vfs_' /proc/kallsyms)"
row "tprobe resolve u:libc:malloc" "nm -D $(basename "$LIBC")" \
    "$(best_ms "$TPROBE" resolve u:libc:malloc)" \
    "$(best_ms nm -D "$LIBC")"
