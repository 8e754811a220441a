# Guest tests, run by /init under busybox sh. Each test's output is base64 between
#   =====TPROBE-BEGIN NAME=====
#   =====TPROBE-END NAME rc=N=====
# and the run ends with =====TPROBE-DONE=====, so the host can tell a finished run from
# a guest that died half-way. rc 0 = pass.

TR=/sys/kernel/tracing
W=/tmp/tvm
mkdir -p "$W"

# report NAME RC FILE
report() {
    echo "=====TPROBE-BEGIN $1====="
    base64 "$3"
    echo "=====TPROBE-END $1 rc=$2====="
}

# Prints what is left in dynamic_events and instances/; fails when anything is.
leftovers() {
    left=0
    if [ -s "$TR/dynamic_events" ]; then
        echo "LEFT in dynamic_events:"; cat "$TR/dynamic_events"; left=1
    fi
    if [ -n "$(ls -A "$TR/instances")" ]; then
        echo "LEFT in instances/:"; ls -A "$TR/instances"; left=1
    fi
    return $left
}

# Waits (up to $2 tenths of a second) until a line of file $1 starts with READY.
wait_ready_line() {
    i=0
    while [ $i -lt "$2" ]; do
        grep -q '^READY ' "$1" 2>/dev/null && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# Waits until one of tprobe's private instances has its group enabled, or tprobe ($1)
# has exited; up to $2 tenths of a second.
wait_enabled() {
    i=0
    while [ $i -lt "$2" ]; do
        for f in "$TR"/instances/tprobe_*/events/tprobe_*/enable; do
            [ "$(cat "$f" 2>/dev/null)" = 1 ] && return 0
        done
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# probe_test NAME KIND SPEC: tprobe --json -n 3 -p OPENER SPEC while opener makes its
# three openat calls; decoded fields are checked against opener's truth.
probe_test() {
    name=$1 kind=$2 spec=$3 d="$W/$1"
    mkdir -p "$d"
    rc=0
    (
        echo "spec: $spec"
        opener run "$d/truth" > "$d/opener.out" 2>&1 &
        op=$!
        if ! wait_ready_line "$d/opener.out" 100; then
            echo "FAIL: opener never got ready"; cat "$d/opener.out"; rc=1
        else
            timeout 90 tprobe --json -n 3 -d 60 -p "$op" "$spec" > "$d/out.jsonl" 2> "$d/err" &
            tp=$!
            t0=$(date +%s)
            if wait_enabled "$tp" 600; then
                echo "tprobe enabled after $(( $(date +%s) - t0 ))s"
            else
                echo "FAIL: tprobe never enabled its probe (or exited)"; rc=1
            fi
            kill -USR1 "$op"
            wait "$op"; orc=$?
            wait "$tp"; trc=$?
            echo "opener rc=$orc, tprobe rc=$trc"
            [ "$orc" = 0 ] && [ "$trc" = 0 ] || rc=1
            echo "--- truth (dfd, ret, path)"; cat "$d/truth"
            echo "--- tprobe stderr"; cat "$d/err"
            echo "--- tprobe stdout"; cat "$d/out.jsonl"
            echo "--- check"
            opener check "$kind" "$d/truth" "$d/out.jsonl" || rc=1
        fi
        echo "--- leftovers"
        leftovers || rc=1
        echo "rc=$rc"
        exit $rc
    ) > "$d/log" 2>&1
    rc=$?
    report "$name" "$rc" "$d/log"
}

# The same probes written by hand with plain shell, read from the instance's trace_pipe:
# the raw text and format files, for debugging a failed decode and as fixture captures.
# Files are sent as extra blocks named file:PATH (the host saves them, see --save-captures).
raw_capture() {
    d="$W/raw_capture"
    mkdir -p "$d/files/events"
    (
        rc=0
        I="$TR/instances/tvmraw"
        echo "kernel $(uname -r)"
        for def in 'p:tvmraw/open do_sys_openat2 dfd=%di:s32 path=+0(%si):ustring' \
                   'r:tvmraw/ret do_sys_openat2 ret=$retval:s64'; do
            echo "definition: $def"
            echo "$def" >> "$TR/dynamic_events" || rc=1
        done
        mkdir "$I" || rc=1
        opener run "$d/files/truth.tsv" > "$d/opener.out" 2>&1 &
        op=$!
        wait_ready_line "$d/opener.out" 100 || rc=1
        echo "$op" > "$I/set_event_pid"
        echo 1 > "$I/events/tvmraw/enable" || rc=1
        kill -USR1 "$op"; wait "$op" || rc=1
        # trace_pipe blocks when empty: read what is there, then stop.
        timeout 3 cat "$I/trace_pipe" > "$d/files/trace_pipe.txt" 2>/dev/null
        cp "$TR/dynamic_events" "$d/files/dynamic_events.txt"
        for f in header_page header_event; do cp "$I/events/$f" "$d/files/events/$f"; done
        for e in open ret; do
            mkdir -p "$d/files/events/tvmraw/$e"
            cp "$TR/events/tvmraw/$e/format" "$TR/events/tvmraw/$e/id" "$d/files/events/tvmraw/$e/"
        done
        echo "=== dynamic_events"; cat "$d/files/dynamic_events.txt"
        echo "=== truth (dfd, ret, path)"; cat "$d/files/truth.tsv"
        echo "=== trace_pipe"; cat "$d/files/trace_pipe.txt"
        echo "=== events/tvmraw/open/format"; cat "$d/files/events/tvmraw/open/format"
        [ "$(grep -c ' open: ' "$d/files/trace_pipe.txt")" = 3 ] || { echo "FAIL: expected 3 open events"; rc=1; }
        [ "$(grep -c ' ret: ' "$d/files/trace_pipe.txt")" = 3 ] || { echo "FAIL: expected 3 ret events"; rc=1; }
        rmdir "$I" || rc=1
        echo '-:tvmraw/' >> "$TR/dynamic_events" || rc=1
        leftovers || rc=1
        exit $rc
    ) > "$d/log" 2>&1
    rc=$?
    (cd "$d/files" && find . -type f | sort) | while read -r f; do
        report "file:${f#./}" 0 "$d/files/$f"
    done
    report raw_capture "$rc" "$d/log"
}

# run_test NAME FUNC: runs FUNC (a shell function; its exit status is the result) with its
# output in a log, then reports it; the leftovers check is added after FUNC.
run_test() {
    d="$W/$1"; mkdir -p "$d"
    (
        rc=0
        "$2" "$d" || rc=1
        echo "--- leftovers"
        leftovers || rc=1
        echo "rc=$rc"
        exit $rc
    ) > "$d/log" 2>&1
    report "$1" $? "$d/log"
}

# expect_rc WANT_RC DESC -- CMD...: runs CMD, prints its stdout/stderr and exit status;
# fails unless the status is WANT_RC. Leaves stderr in $d/err.
expect_rc() {
    want=$1 desc=$2; shift 3
    echo "=== $desc: $*"
    "$@" > "$d/out" 2> "$d/err"; got=$?
    echo "--- stdout"; cat "$d/out"
    echo "--- stderr"; cat "$d/err"
    echo "--- exit $got (want $want)"
    [ "$got" = "$want" ]
}

# symstr: the return address on the stack at entry, printed as the caller's sym+off/size.
symstr_t() {
    d=$1 r=0
    opener run "$d/truth" > "$d/opener.out" 2>&1 &
    op=$!
    if ! wait_ready_line "$d/opener.out" 100; then
        echo "FAIL: opener never got ready"; kill "$op"; return 1
    fi
    timeout 60 tprobe --json -n 1 -d 30 -p "$op" 'p:do_sys_openat2 ra=+0($stack):symstr' \
        > "$d/out.jsonl" 2> "$d/err" &
    tp=$!
    wait_enabled "$tp" 600 || { echo "FAIL: tprobe never enabled its probe"; r=1; }
    kill -USR1 "$op"
    wait "$op"
    wait "$tp" || r=1
    echo "--- stderr"; cat "$d/err"
    echo "--- stdout"; cat "$d/out.jsonl"
    grep -Eq '"ra":"[A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+"' "$d/out.jsonl" \
        || { echo "FAIL: ra is not sym+off/size"; r=1; }
    return $r
}

# Errors caught before anything is written, and the kernel's own refusal with the caret.
errors_t() {
    d=$1 r=0
    expect_rc 9 "unknown symbol" -- tprobe --json -n 1 -d 5 'p:no_such_function_xyz' || r=1
    grep -q 'no_such_function_xyz' "$d/err" || { echo "FAIL: stderr does not name the symbol"; r=1; }
    grep -q 'did you mean' "$d/err" && echo "(suggestions given)" || echo "(no suggestions given)"
    # A blacklisted function: the first blacklist entry whose name is a unique text symbol.
    bl=""
    if [ -r /sys/kernel/debug/kprobes/blacklist ]; then
        for sym in $(awk '{print $2}' /sys/kernel/debug/kprobes/blacklist | head -50); do
            [ "$(grep -c " [tT] $sym\$" /proc/kallsyms)" = 1 ] && { bl=$sym; break; }
        done
    fi
    if [ -z "$bl" ]; then
        echo "FAIL: no usable blacklist entry (debugfs mounted?)"; r=1
    else
        grep "	$bl\$" /sys/kernel/debug/kprobes/blacklist
        expect_rc 10 "blacklisted symbol" -- tprobe --json -n 1 -d 5 "p:$bl" || r=1
        grep -q 'blacklist' "$d/err" || { echo "FAIL: stderr does not say blacklist"; r=1; }
    fi
    expect_rc 10 "definition the kernel rejects" -- tprobe --json -n 1 -d 5 'p:do_sys_openat2 x=%zz' || r=1
    grep -q '\^' "$d/err" || { echo "FAIL: no caret in stderr"; r=1; }
    if [ -r "$TR/error_log" ]; then
        echo "--- error_log"; cat "$TR/error_log"
        # The kernel's message (last error_log entry) must be in tprobe's stderr.
        msg=$(grep -o 'error: .*' "$TR/error_log" | tail -1 | sed 's/^error: *//')
        echo "kernel message: $msg"
        [ -n "$msg" ] && grep -qF "$msg" "$d/err" || { echo "FAIL: stderr lacks the error_log message"; r=1; }
    fi
    return $r
}

# sig_t DIR SIG RC: tprobe on do_sys_openat2 (all processes) gets SIG at a random moment
# (during setup or while streaming); it must exit with RC (128+N) or be killed by SIG
# before it wrote anything; nothing may be left either way.
sig_round() {
    d=$1 sig=$2 want=$3 delay=$4
    opener sigdfl tprobe --json -d 30 'p:do_sys_openat2 dfd=%di:s32 path=+0(%si):ustring' 'r:do_sys_openat2 ret=$retval:s64' > "$d/out" 2> "$d/err" &
    tp=$!
    sleep "$delay"
    # Some events to stream.
    cat /tvm/data/alpha > /dev/null
    kill -"$sig" "$tp"
    wait "$tp"; got=$?
    echo "SIG$sig after ${delay}s: exit $got (want $want), $(wc -l < "$d/out") events"
    tail -n 3 "$d/err"
    [ "$got" = "$want" ] || return 1
    leftovers
}

signals_t() {
    d=$1 r=0
    # Background jobs start with SIGINT ignored (and tprobe keeps an ignored signal
    # ignored), so tprobe runs under "opener sigdfl", which resets it.
    for n in 1 2 3 4; do
        delay=$(( RANDOM % 20 ))
        delay=$(( delay / 10 )).$(( delay % 10 ))
        sig_round "$d" INT 130 "$delay" || r=1
        delay=$(( RANDOM % 20 ))
        delay=$(( delay / 10 )).$(( delay % 10 ))
        sig_round "$d" TERM 143 "$delay" || r=1
    done
    return $r
}

sigkill_clean_t() {
    d=$1 r=0
    tprobe --json -d 60 'p:do_sys_openat2 dfd=%di:s32' > "$d/out" 2> "$d/err" &
    tp=$!
    wait_enabled "$tp" 600 || { echo "FAIL: tprobe never enabled"; r=1; }
    kill -KILL "$tp"; wait "$tp"
    echo "after SIGKILL:"
    if leftovers; then echo "FAIL: SIGKILL left nothing to clean (test did not test)"; r=1; fi
    expect_rc 0 "clean" -- tprobe clean || r=1
    return $r
}

# Finds an offset into do_sys_openat2 the kernel accepts (an instruction boundary after
# endbr64 / the fentry call), by writing and removing a raw probe.
symoff() {
    for off in 4 9 5 1 2 3 6 7 8 10 11 12; do
        if echo "p:tvmoff/t do_sys_openat2+$off" >> "$TR/dynamic_events" 2>/dev/null; then
            echo '-:tvmoff/t' >> "$TR/dynamic_events"
            echo "$off"; return 0
        fi
    done
    return 1
}

env_test() {
    d="$W/env"; mkdir -p "$d"
    (
        rc=0
        echo "kernel: $(uname -r)"
        echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
        for f in dynamic_events kprobe_events README instances; do
            [ -e "$TR/$f" ] || { echo "MISSING $TR/$f"; rc=1; }
        done
        grep -E 'kprobe|fprobe|ustring|symstr|%return' "$TR/README"
        echo "tprobe: $(tprobe --version)"
        exit $rc
    ) > "$d/log" 2>&1
    report env $? "$d/log"
}

# --- README recipes (kernel side). Each runs the README's command and checks what it
# decodes against what the test itself did.

# bg_tprobe DIR ARGS...: tprobe ARGS in the background (stdout DIR/out, stderr DIR/err),
# waits until its probes are enabled; sets tp.
bg_tprobe() {
    bd=$1; shift
    tprobe "$@" > "$bd/out" 2> "$bd/err" &
    tp=$!
    wait_enabled "$tp" 600 || { echo "FAIL: tprobe never enabled its probes"; return 1; }
}

# stop_tprobe: SIGTERM to $tp; tprobe must exit 143 after its teardown.
stop_tprobe() {
    sleep 1
    kill -TERM "$tp"; wait "$tp"; got=$?
    echo "--- tprobe exit $got (want 143)"; echo "--- stderr"; cat "$d/err"
    echo "--- stdout"; cat "$d/out"
    [ "$got" = 143 ]
}

# Recipe "commands run, with argv" (execsnoop): on 4.17+ kernels the syscall's entry is
# the wrapper __x64_sys_execve(struct pt_regs *regs); the user's registers are behind
# %di: regs->di (+0x70) is the filename, regs->si (+0x68) is argv.
recipe_exec_t() {
    d=$1 r=0
    bg_tprobe "$d" --json 'p:__x64_sys_execve file=+0(+0x70(%di)):ustring arg0=+0(+0(+0x68(%di))):ustring arg1=+0(+8(+0x68(%di))):ustring arg2=+0(+16(+0x68(%di))):ustring' || r=1
    # Exits with its usage message: only the exec matters.
    /tvm/opener tvmexec-marker "two words" > /dev/null 2>&1
    stop_tprobe || r=1
    grep -F '"file":"/tvm/opener"' "$d/out" | grep -F '"arg0":"/tvm/opener"' \
        | grep -F '"arg1":"tvmexec-marker"' | grep -qF '"arg2":"two words"' \
        || { echo "FAIL: no execve event with the file and argv the test ran"; r=1; }
    return $r
}

# Recipe "files opened": the path of each open, checked against opener's truth.
recipe_opens() {
    probe_test recipe_opens path 'p:do_sys_openat2 path=+0(%si):ustring'
}

# Recipe "outbound TCP connects": tcp_v4_connect(sk, uaddr, len); struct sockaddr_in has
# the port (network order) at +2 and the address at +4, fetched as byte arrays.
recipe_tcp_connect_t() {
    d=$1 r=0
    ip link set lo up || { echo "FAIL: cannot bring lo up"; r=1; }
    bg_tprobe "$d" --json 'p:tcp_v4_connect addr=+4(%si):u8[4] port=+2(%si):u8[2]' || r=1
    # Nothing listens on 7777 (0x1e61 = bytes 30, 97): the connect is refused, but
    # tcp_v4_connect ran.
    nc 127.0.0.1 7777 < /dev/null > /dev/null 2>&1
    stop_tprobe || r=1
    grep -F '"addr":[127,0,0,1]' "$d/out" | grep -qF '"port":[30,97]' \
        || { echo "FAIL: no connect to 127.0.0.1:7777 decoded"; r=1; }
    return $r
}

# Recipe "latency of vfs_read": a reader process (and its children, -p) copies a file
# with dd 50 times once tprobe is armed: each dd reads twice (the data, then end of file),
# so the histogram holds at least 100 calls, every one paired. (Not cat: busybox's cat
# copies with sendfile, which does not go through vfs_read.)
recipe_vfs_read_latency_t() {
    d=$1 r=0
    ( while [ ! -e "$d/go" ]; do sleep 0.1; done
      i=0; while [ $i -lt 50 ]; do
          dd if=/tvm/data/alpha of=/dev/null bs=64 2> /dev/null; i=$((i + 1))
      done ) &
    rd=$!
    bg_tprobe "$d" latency --json -p "$rd" vfs_read || r=1
    touch "$d/go"; wait "$rd"
    stop_tprobe || r=1
    hist=$(grep '"buckets"' "$d/out")
    [ -n "$hist" ] || { echo "FAIL: no histogram"; return 1; }
    # The total, with the buckets cut out; then the buckets' counts and low bounds.
    total=$(echo "$hist" | sed 's/"buckets":\[[^]]*\]//' | grep -o '"count":[0-9]*' | cut -d: -f2)
    sum=0
    for n in $(echo "$hist" | grep -o '"buckets":\[[^]]*\]' | grep -o '"count":[0-9]*' | cut -d: -f2); do
        sum=$((sum + n))
    done
    echo "total $total, bucket sum $sum"
    [ "${total:-0}" -ge 100 ] || { echo "FAIL: fewer than 100 calls"; r=1; }
    [ "$sum" = "$total" ] || { echo "FAIL: buckets do not add up to the total"; r=1; }
    # A cached 6-byte read takes microseconds (slower under TCG, but never a second).
    for low in $(echo "$hist" | grep -o '"low":[0-9]*' | cut -d: -f2); do
        [ "$low" -lt 1000000 ] || { echo "FAIL: a bucket at $low us"; r=1; }
    done
    grep -q '"unit":"us"' "$d/out" || { echo "FAIL: unit is not us"; r=1; }
    grep -q '"returns":0' "$d/out" || { echo "FAIL: unpaired returns"; r=1; }
    grep -q '"still_open":0' "$d/out" || { echo "FAIL: calls left open"; r=1; }
    return $r
}

env_test
path_reg=%si
# tvm.broken=1 (tests/vm/run --broken): a wrong register, so the decode check must fail.
case " $(cat /proc/cmdline) " in *" tvm.broken=1 "*) path_reg=%dx ;; esac
probe_test kprobe_openat2 entry "p:do_sys_openat2 dfd=%di:s32 path=+0($path_reg):ustring"
probe_test kretprobe_openat2 return 'r:do_sys_openat2 ret=$retval:s64'
raw_capture
run_test errors errors_t
probe_test kprobe_argN dfd,path 'p:do_sys_openat2 dfd=$arg1:s32 path=+0($arg2):ustring'
# struct open_how *how is the third argument (%dx); flags is its first member (u64).
probe_test kprobe_deref_comm_stack flags,comm,nonzero:s0 'p:do_sys_openat2 flags=+0(%dx):x64 comm=$comm:string s0=$stack0'
if off=$(symoff); then
    probe_test kprobe_symoff comm "p:do_sys_openat2+$off comm=\$comm:string"
else
    echo "no offset accepted" > "$W/symoff.log"; report kprobe_symoff 1 "$W/symoff.log"
fi
probe_test kretprobe_maxactive return 'r16:do_sys_openat2 ret=$retval:s64'
# A pattern expands (from kallsyms) to probe points of one event.
probe_test kprobe_wildcard dfd,path "p:do_sys_openat2* dfd=%di:s32 path=+0($path_reg):ustring"
# fprobes (README line "f[:[<group>/][<event>]] <func-name>[%return]"), 6.12 here.
if grep -q 'f\[:\[' "$TR/README"; then
    # "f:EVENT FUNC ARGS": with a bare first argument, "f:do_sys_openat2 dfd" would name
    # the event do_sys_openat2 and the function dfd.
    probe_test fprobe_btf dfd,path:filename 'f:fbtf do_sys_openat2 dfd filename:ustring'
    probe_test fprobe_return return 'f:do_sys_openat2%return ret=$retval:s64'
fi
if grep -q symstr /sys/kernel/tracing/README; then
    run_test kprobe_symstr symstr_t
fi
run_test signals signals_t
run_test sigkill_clean sigkill_clean_t
run_test recipe_exec recipe_exec_t
recipe_opens
run_test recipe_tcp_connect recipe_tcp_connect_t
run_test recipe_vfs_read_latency recipe_vfs_read_latency_t
echo "=====TPROBE-DONE====="
