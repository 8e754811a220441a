#!/usr/bin/env bash
# bench/replay.sh - throughput benchmark for `tprobe replay` on trace_pipe text.
#
# This is a benchmark, not a test: it prints timings and ratios and always exits 0
# unless the setup itself fails (no pass/fail on the targets).
#
# It builds a capture of at least --size-mb MB (10^6 bytes) by repeating the real
# fixture text (every fixtures/*/trace_pipe.txt, concatenated), merges the fixtures'
# events/GROUP/EVENT/format files into one temp events dir, and times (wall clock,
# best of --runs, plus peak RSS of that run; the tools take turns, one run each per
# round, so a drift in the machine's speed touches them alike):
#   wc -l FILE
#   mawk '{print $NF}' FILE > /dev/null
#   python3 bench/re_parser.py FILE > /dev/null
#   target/release/tprobe replay --events-dir DIR --format json FILE > /dev/null
#   target/release/tprobe replay --events-dir DIR --format none FILE   (summary on stderr)
# The tprobe rows are skipped with a message until `tprobe replay --help` works.
#
# Usage: bench/replay.sh [--size-mb N] [--keep] [--runs N]
#   --size-mb N  size of the generated capture in MB (default 200)
#   --keep       keep the temp dir (capture + merged events dir) and print its path
#   --runs N     timed runs per tool, best one is reported (default 3)
# Environment: TMPDIR (temp location, default /tmp), CARGO (cargo binary),
#   CARGO_TARGET_DIR (where the release build is looked for).
# Needs: bash, coreutils, awk (any), mawk, python3, /usr/bin/time; cargo to build tprobe.
# Missing mawk / python3 / time are installed with apt-get when running as root.
set -euo pipefail

SIZE_MB=200
KEEP=0
RUNS=3

usage() { sed -n '/^# Usage:/,/^# Needs:/p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --size-mb) [ $# -ge 2 ] || { usage >&2; exit 2; }; SIZE_MB="$2"; shift 2 ;;
        --size-mb=*) SIZE_MB="${1#*=}"; shift ;;
        --runs) [ $# -ge 2 ] || { usage >&2; exit 2; }; RUNS="$2"; shift 2 ;;
        --runs=*) RUNS="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "replay.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$SIZE_MB" in ''|*[!0-9]*) echo "replay.sh: --size-mb needs a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in ''|*[!0-9]*) echo "replay.sh: --runs needs a positive integer" >&2; exit 2 ;; esac
[ "$SIZE_MB" -gt 0 ] && [ "$RUNS" -gt 0 ] || { echo "replay.sh: sizes must be > 0" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tprobe-bench.XXXXXX")"
cleanup() {
    if [ "$KEEP" = 1 ]; then
        echo "kept: $WORK (capture: $WORK/capture.txt, events: $WORK/events)" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

# ---------------------------------------------------------------- dependencies
APT_UPDATED=0
apt_install() { # apt_install PACKAGE...
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "$@" >"$WORK/apt.log" 2>&1; then
        [ "$APT_UPDATED" = 1 ] && return 1
        apt-get update >>"$WORK/apt.log" 2>&1 || true
        APT_UPDATED=1
        apt-get install -y --no-install-recommends "$@" >>"$WORK/apt.log" 2>&1 || return 1
    fi
}
need() { # need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (for $1)"
    if ! apt_install "$2" || ! command -v "$1" >/dev/null 2>&1; then
        echo "replay.sh: '$1' is missing and could not be installed (apt-get install -y $2, as root)" >&2
        [ -f "$WORK/apt.log" ] && tail -5 "$WORK/apt.log" >&2
        exit 1
    fi
}
need mawk mawk
need python3 python3
need awk mawk
if [ ! -x /usr/bin/time ]; then
    log "installing time (for /usr/bin/time)"
    apt_install time || true
fi
HAVE_TIME=0
[ -x /usr/bin/time ] && HAVE_TIME=1
[ "$HAVE_TIME" = 1 ] || log "no /usr/bin/time: peak RSS will be shown as '-'"

# ---------------------------------------------------------------- build tprobe
CARGO="${CARGO:-}"
if [ -z "$CARGO" ]; then
    if command -v cargo >/dev/null 2>&1; then CARGO=cargo
    elif [ -x "$HOME/.cargo/bin/cargo" ]; then CARGO="$HOME/.cargo/bin/cargo"
    fi
fi
TPROBE="${CARGO_TARGET_DIR:-$ROOT/target}/release/tprobe"
HAVE_TPROBE=0
if [ -z "$CARGO" ]; then
    log "cargo not found (install Rust with rustup); skipping the tprobe rows"
else
    log "cargo build --release"
    if (cd "$ROOT" && "$CARGO" build --release 2>"$WORK/cargo.log"); then
        if "$TPROBE" replay --help >/dev/null 2>&1; then
            HAVE_TPROBE=1
        else
            log "'tprobe replay --help' failed: replay is not implemented yet; skipping the tprobe rows"
        fi
    else
        log "cargo build --release failed; skipping the tprobe rows. Last lines:"
        tail -15 "$WORK/cargo.log" >&2
    fi
fi

# ---------------------------------------------------------------- seed text + events dir
EVENTS="$WORK/events"
SEED="$WORK/seed.txt"
mkdir -p "$EVENTS"
: >"$SEED"

# Normalized content of a format file, for conflict checks (the ID differs between captures).
norm_format() { grep -v '^ID:' "$1"; }

declare -A EVENT_SRC=() # event name -> merged format path (text decode keys on the event name)
NFIX=0
shopt -s nullglob
for trace in "$ROOT"/fixtures/*/trace_pipe.txt; do
    fixdir="$(dirname "$trace")"
    fixname="$(basename "$fixdir")"
    [ -s "$trace" ] || { log "skip $fixname: empty trace_pipe.txt"; continue; }
    # 1. check this fixture's formats against what is merged so far
    conflict=""
    for fmt in "$fixdir"/events/*/*/format; do
        ev="$(basename "$(dirname "$fmt")")"
        grp="$(basename "$(dirname "$(dirname "$fmt")")")"
        prev="${EVENT_SRC[$ev]:-}"
        if [ -n "$prev" ] && ! cmp -s <(norm_format "$prev") <(norm_format "$fmt"); then
            conflict="$grp/$ev differs from $prev"
            break
        fi
    done
    if [ -n "$conflict" ]; then
        log "skip $fixname: event format conflict ($conflict)"
        continue
    fi
    # 2. merge its formats and append its text (ending in a newline)
    for fmt in "$fixdir"/events/*/*/format; do
        ev="$(basename "$(dirname "$fmt")")"
        grp="$(basename "$(dirname "$(dirname "$fmt")")")"
        if [ -z "${EVENT_SRC[$ev]:-}" ]; then
            mkdir -p "$EVENTS/$grp/$ev"
            cp "$fmt" "$EVENTS/$grp/$ev/format"
            EVENT_SRC[$ev]="$EVENTS/$grp/$ev/format"
        fi
    done
    cat "$trace" >>"$SEED"
    [ "$(tail -c1 "$trace" | od -An -c | tr -d ' ')" = '\n' ] || echo >>"$SEED"
    NFIX=$((NFIX + 1))
    log "fixture $fixname: $(wc -l <"$trace") lines, $(ls -d "$fixdir"/events/*/*/ 2>/dev/null | wc -l) events"
done
shopt -u nullglob

if [ "$NFIX" = 0 ]; then
    log "no fixtures/*/trace_pipe.txt yet: using the built-in sample lines (development fallback)"
    # Real lines from kernel 6.18 (uprobe ent/ret, syscall events with record-tgid).
    cat >"$SEED" <<'EOF'
               t-1727    [001] DBZff   147.606363: ent: (0x55bb6db58139) p="/tmp/a " b=1" x" n=-5 x=0xfffb arr={1,0,0} c="t" f="abc" ch='/' u=251 bf=15
               t-1727    [001] DBZff   147.606432: ret: (0x55bb6db5818f <- 0x55bb6db58139) rv=11
             cat-1747    (   1747) [001] .....   152.986176: sys_openat(dfd: 0xffffff9c, filename: 0x562abb5f78c0, flags: 0x241, mode: 0x1b6)
             cat-1747    (   1747) [001] .....   152.986188: sys_openat -> 0x3
EOF
    # Format files written to match those lines (NOT captured: a best guess so that the
    # decoder has something to work with until real fixtures land). The `ent` line is
    # ambiguous on purpose: p is the string `/tmp/a " b=1" x` (there is no field b).
    mkdir -p "$EVENTS/disc/ent" "$EVENTS/disc/ret"
    printf '%s\n' \
        'name: ent' 'ID: 2326' 'format:' \
        $'\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;' \
        $'\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;' \
        $'\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;' \
        $'\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;' \
        '' \
        $'\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;' \
        $'\tfield:__data_loc char[] p;\toffset:16;\tsize:4;\tsigned:1;' \
        $'\tfield:s32 n;\toffset:20;\tsize:4;\tsigned:1;' \
        $'\tfield:u16 x;\toffset:24;\tsize:2;\tsigned:0;' \
        $'\tfield:u8[3] arr;\toffset:26;\tsize:3;\tsigned:0;' \
        $'\tfield:__data_loc char[] c;\toffset:29;\tsize:4;\tsigned:1;' \
        $'\tfield:__data_loc char[] f;\toffset:33;\tsize:4;\tsigned:1;' \
        $'\tfield:u8 ch;\toffset:37;\tsize:1;\tsigned:0;' \
        $'\tfield:u8 u;\toffset:38;\tsize:1;\tsigned:0;' \
        $'\tfield:u8 bf;\toffset:39;\tsize:1;\tsigned:0;' \
        '' \
        'print fmt: "(%lx) p=\"%s\" n=%d x=0x%x arr={%u,%u,%u} c=\"%s\" f=\"%s\" ch='"'%c'"' u=%u bf=%u", REC->__probe_ip, __get_str(p), REC->n, REC->x, REC->arr[0], REC->arr[1], REC->arr[2], __get_str(c), __get_str(f), REC->ch, REC->u, REC->bf' \
        >"$EVENTS/disc/ent/format"
    printf '%s\n' \
        'name: ret' 'ID: 2327' 'format:' \
        $'\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;' \
        $'\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;' \
        $'\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;' \
        $'\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;' \
        '' \
        $'\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;' \
        $'\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;' \
        $'\tfield:s32 rv;\toffset:24;\tsize:4;\tsigned:1;' \
        '' \
        'print fmt: "(%lx <- %lx) rv=%d", REC->__probe_func, REC->__probe_ret_ip, REC->rv' \
        >"$EVENTS/disc/ret/format"
fi

# ---------------------------------------------------------------- build the capture
CAPTURE="$WORK/capture.txt"
TARGET_BYTES=$((SIZE_MB * 1000000))
seed_bytes=$(wc -c <"$SEED")
[ "$seed_bytes" -gt 0 ] || { echo "replay.sh: empty seed text" >&2; exit 1; }
# Double the seed into a chunk of >= 4 MB (whole copies only, so records stay intact),
# then append the chunk until the capture reaches the target size.
CHUNK="$WORK/chunk.txt"
cp "$SEED" "$CHUNK"
while [ "$(wc -c <"$CHUNK")" -lt 4000000 ] && [ "$(wc -c <"$CHUNK")" -lt "$TARGET_BYTES" ]; do
    cat "$CHUNK" "$CHUNK" >"$CHUNK.tmp" && mv "$CHUNK.tmp" "$CHUNK"
done
chunk_bytes=$(wc -c <"$CHUNK")
: >"$CAPTURE"
size=0
while [ "$size" -lt "$TARGET_BYTES" ]; do
    cat "$CHUNK" >>"$CAPTURE"
    size=$((size + chunk_bytes))
done
rm -f "$CHUNK"
CAP_BYTES=$(wc -c <"$CAPTURE")
CAP_LINES=$(wc -l <"$CAPTURE")
log "capture: $CAPTURE, $CAP_BYTES bytes, $CAP_LINES lines, seed $seed_bytes bytes from $NFIX fixture(s)"
log "events dir: $EVENTS ($(find "$EVENTS" -name format | wc -l) formats)"
cat "$CAPTURE" >/dev/null # warm the page cache so the first tool is not penalised

# ---------------------------------------------------------------- timing
# The tools take turns, one run each per round, for $RUNS rounds: the VM's speed drifts by
# up to 2x within minutes, and a drift then touches every tool alike instead of whichever
# tool ran during it, so the ratios of one run stay comparable.
now() { date +%s.%N; }
# time_once KEY STDOUT CMD... : one timed run; sets DT and RSS, returns 1 if it failed
# (stderr kept in $WORK/KEY.err).
time_once() {
    local key="$1" out="$2" t0 t1
    shift 2
    t0=$(now)
    if [ "$HAVE_TIME" = 1 ]; then
        /usr/bin/time -f %M -o "$WORK/$key.rss" "$@" >"$out" 2>"$WORK/$key.err" || return 1
        RSS=$(tail -n1 "$WORK/$key.rss")
    else
        "$@" >"$out" 2>"$WORK/$key.err" || return 1
        RSS="-"
    fi
    t1=$(now)
    DT=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
}

NAMES=() SECS=() RSSES=()
add_tool() { # add_tool LABEL CMD... (each run's stdout goes to /dev/null)
    local label="$1"
    shift
    NAMES+=("$label") SECS+=("") RSSES+=("-")
    local key="cmd_${#NAMES[@]}"
    eval "$key=(\"\$@\")"
}

add_tool "wc -l" wc -l "$CAPTURE"
add_tool "mawk" mawk '{print $NF}' "$CAPTURE"
add_tool "python re" python3 "$ROOT/bench/re_parser.py" "$CAPTURE"
if [ "$HAVE_TPROBE" = 1 ]; then
    add_tool "tprobe json" "$TPROBE" replay --events-dir "$EVENTS" --format json "$CAPTURE"
    add_tool "tprobe none" "$TPROBE" replay --events-dir "$EVENTS" --format none "$CAPTURE"
fi

for ((round = 1; round <= RUNS; round++)); do
    log "timing: round $round of $RUNS (${NAMES[*]})"
    for i in "${!NAMES[@]}"; do
        [ "${SECS[$i]}" = FAILED ] && continue
        key="cmd_$((i + 1))"
        declare -n cmd="$key"
        label_key="$(printf '%s' "${NAMES[$i]}" | tr -c 'A-Za-z0-9' '_')"
        if time_once "$label_key" /dev/null "${cmd[@]}"; then
            if [ -z "${SECS[$i]}" ] || awk -v a="$DT" -v b="${SECS[$i]}" 'BEGIN { exit !(a < b) }'; then
                SECS[$i]="$DT" RSSES[$i]="$RSS"
            fi
        else
            log "${NAMES[$i]} FAILED; stderr:"
            tail -5 "$WORK/$label_key.err" >&2
            SECS[$i]="FAILED" RSSES[$i]="-"
        fi
        unset -n cmd
    done
done
if [ "$HAVE_TPROBE" != 1 ]; then
    NAMES+=("tprobe json" "tprobe none") SECS+=("SKIPPED" "SKIPPED") RSSES+=("-" "-")
fi

# ---------------------------------------------------------------- report
sec_of() { # sec_of LABEL -> seconds or empty
    local i
    for i in "${!NAMES[@]}"; do
        if [ "${NAMES[$i]}" = "$1" ]; then
            case "${SECS[$i]}" in FAILED|SKIPPED) echo "" ;; *) echo "${SECS[$i]}" ;; esac
            return
        fi
    done
}
MAWK_S="$(sec_of mawk)"
WC_S="$(sec_of "wc -l")"

echo
echo "tprobe replay benchmark: $CAP_BYTES bytes ($((CAP_BYTES / 1000000)) MB), $CAP_LINES lines, best of $RUNS"
echo "ratio = that tool's throughput / the reference's throughput (higher is faster)"
printf '%-12s %10s %10s %10s %10s %14s\n' "tool" "seconds" "MB/s" "vs mawk" "vs wc -l" "peak RSS KB"
for i in "${!NAMES[@]}"; do
    s="${SECS[$i]}"
    case "$s" in
        FAILED|SKIPPED)
            printf '%-12s %10s %10s %10s %10s %14s\n' "${NAMES[$i]}" "$s" "-" "-" "-" "${RSSES[$i]}"
            ;;
        *)
            awk -v n="${NAMES[$i]}" -v s="$s" -v b="$CAP_BYTES" -v m="$MAWK_S" -v w="$WC_S" -v r="${RSSES[$i]}" 'BEGIN {
                mbs = (s > 0) ? b / 1e6 / s : 0
                vm = (m != "" && s > 0) ? sprintf("%.2fx", m / s) : "-"
                vw = (w != "" && s > 0) ? sprintf("%.3fx", w / s) : "-"
                printf "%-12s %10.3f %10.1f %10s %10s %14s\n", n, s, mbs, vm, vw, r
            }'
            ;;
    esac
done
echo

JSON_S="$(sec_of "tprobe json")"
NONE_S="$(sec_of "tprobe none")"
if [ -n "$JSON_S" ] && [ -n "$MAWK_S" ]; then
    awk -v m="$MAWK_S" -v s="$JSON_S" 'BEGIN { printf "JSON vs mawk: %.2fx (target >= 2x)\n", m / s }'
else
    echo "JSON vs mawk: n/a (target >= 2x): tprobe json row $( [ "$HAVE_TPROBE" = 1 ] && echo failed || echo skipped)"
fi
if [ -n "$NONE_S" ] && [ -n "$WC_S" ]; then
    awk -v w="$WC_S" -v s="$NONE_S" 'BEGIN { printf "parse-only vs wc -l: %.3fx (target >= 0.25x)\n", w / s }'
else
    echo "parse-only vs wc -l: n/a (target >= 0.25x): tprobe none row $( [ "$HAVE_TPROBE" = 1 ] && echo failed || echo skipped)"
fi
if [ "$HAVE_TPROBE" = 1 ] && [ -s "$WORK/tprobe_none.err" ]; then
    echo
    echo "tprobe --format none summary (stderr of the last run):"
    tail -n 20 "$WORK/tprobe_none.err"
fi
