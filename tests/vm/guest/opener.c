/* Guest test program for the VM harness (tests/vm/run). Built with `gcc -static`.
 *
 *   opener run TRUTH_FILE
 *       Blocks SIGUSR1, prints "READY <pid>" on stdout, waits for SIGUSR1, then calls
 *       openat(2) on a fixed list of paths (each through do_sys_openat2 in the kernel)
 *       and writes one truth line per call to TRUTH_FILE:  "<dfd>\t<ret>\t<path>".
 *       A static binary: no dynamic loader, so these are the only opens it makes after
 *       the signal.
 *   opener sigdfl CMD ARGS...
 *       Execs CMD with SIGINT and SIGQUIT at their defaults (background jobs of a
 *       non-interactive shell start with them ignored).
 *   opener check KIND TRUTH_FILE JSONL_FILE
 *       Compares tprobe's JSON Lines with the truth, event by event, in order.
 *       KIND "entry": fields dfd (s32) and path (string) must equal the truth.
 *       KIND "return": field ret (s64) must equal the truth's return value.
 *       Otherwise KIND is a comma list of COLUMN[:FIELD] (FIELD defaults to COLUMN):
 *         dfd, ret   the JSON number FIELD equals the truth's dfd / return value
 *         path, comm the JSON string FIELD equals the truth's path / "opener"
 *         flags      FIELD (a number or a "0x…" string) equals the truth's how->flags
 *         nonzero    FIELD is present and neither null nor zero (e.g. $stack0)
 *       e.g. "dfd,path:filename,flags".
 *       Prints one line per event (ok/MISMATCH) and exits 1 on any mismatch or when
 *       there are fewer events than truth lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NCALLS 3

static long do_openat(int dfd, const char *path) {
    long r = syscall(SYS_openat, dfd, path, O_RDONLY | O_CLOEXEC);
    return r < 0 ? -(long)errno : r;
}

static int run(const char *truth_path) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    /* Opened before the signal, so it is not one of the traced calls. */
    FILE *truth = fopen(truth_path, "w");
    int dir = open("/tvm/data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!truth || dir < 0) {
        perror("opener: setup");
        return 2;
    }
    printf("READY %d\n", (int)getpid());
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);

    struct { int dfd; const char *path; } calls[NCALLS] = {
        {AT_FDCWD, "/tvm/data/alpha"},
        {dir, "with space.txt"},
        {AT_FDCWD, "/tvm/data/does-not-exist"},
    };
    long rets[NCALLS];
    for (int i = 0; i < NCALLS; i++) {
        rets[i] = do_openat(calls[i].dfd, calls[i].path);
        if (rets[i] >= 0) close((int)rets[i]);
    }
    for (int i = 0; i < NCALLS; i++)
        /* how->flags as the kernel builds it: build_open_how() adds O_LARGEFILE
         * (kernel value 0100000) on 64-bit. */
        fprintf(truth, "%d\t%ld\t%s\t0x%x\topener\n", calls[i].dfd, rets[i], calls[i].path,
                (unsigned)(O_RDONLY | O_CLOEXEC | 0100000));
    fclose(truth);
    return 0;
}

/* Finds "name": inside the "fields" object of one JSON line; copies the raw value
 * (a number or null, or a string's contents without its quotes, escapes left as they
 * are). Returns 1 for a string, 0 for anything else, -1 when the field is missing. */
static int field(const char *line, const char *name, char *out, size_t cap) {
    const char *f = strstr(line, "\"fields\":{");
    if (!f) return -1;
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(f, key);
    if (!p) return -1;
    p += strlen(key);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < cap) {
            if (*p == '\\' && p[1]) out[n++] = *p++;
            out[n++] = *p++;
        }
        out[n] = 0;
        return *p == '"' ? 1 : -1;
    }
    while (*p && *p != ',' && *p != '}' && n + 1 < cap) out[n++] = *p++;
    out[n] = 0;
    return 0;
}

static int check(const char *kind, const char *truth_path, const char *json_path) {
    FILE *t = fopen(truth_path, "r"), *j = fopen(json_path, "r");
    if (!t || !j) {
        perror("opener check: open");
        return 2;
    }
    char tl[4096], jl[65536], v[4096];
    int i = 0, bad = 0;
    while (fgets(tl, sizeof tl, t)) {
        tl[strcspn(tl, "\n")] = 0;
        char *dfd = strtok(tl, "\t"), *ret = strtok(NULL, "\t"), *path = strtok(NULL, "\t");
        char *flags = strtok(NULL, "\t"), *comm = strtok(NULL, "");
        if (!dfd || !ret || !path || !flags || !comm) {
            printf("bad truth line %d\n", i);
            return 2;
        }
        /* Skip non-event lines such as {"lost":…}. */
        int got = 0;
        while (fgets(jl, sizeof jl, j)) {
            if (strstr(jl, "\"fields\":{")) { got = 1; break; }
            printf("  (skipped) %s", jl);
        }
        if (!got) {
            printf("event %d: MISSING (truth dfd=%s ret=%s path=%s)\n", i, dfd, ret, path);
            bad = 1;
            i++;
            continue;
        }
        jl[strcspn(jl, "\n")] = 0;
        int ok = 1;
        char spec[512];
        const char *k = kind;
        if (!strcmp(kind, "entry")) k = "dfd,path";
        else if (!strcmp(kind, "return")) k = "ret";
        snprintf(spec, sizeof spec, "%s", k);
        char *save = NULL;
        for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *fname = strchr(item, ':');
            if (fname) *fname++ = 0;
            else fname = item;
            int t = field(jl, fname, v, sizeof v);
            const char *want;
            if (!strcmp(item, "dfd") || !strcmp(item, "ret")) {
                want = !strcmp(item, "dfd") ? dfd : ret;
                if (t != 0 || strcmp(v, want)) {
                    printf("event %d: %s %s, truth %s\n", i, fname, t < 0 ? "(missing)" : v, want);
                    ok = 0;
                }
            } else if (!strcmp(item, "path") || !strcmp(item, "comm")) {
                want = !strcmp(item, "path") ? path : comm;
                if (t != 1 || strcmp(v, want)) {
                    printf("event %d: %s %s%s%s, truth \"%s\"\n", i, fname, t == 1 ? "\"" : "",
                           t < 0 ? "(missing)" : v, t == 1 ? "\"" : "", want);
                    ok = 0;
                }
            } else if (!strcmp(item, "flags")) {
                if (t < 0 || !strcmp(v, "null") || strtoull(v, NULL, 0) != strtoull(flags, NULL, 0)) {
                    printf("event %d: %s %s, truth %s\n", i, fname, t < 0 ? "(missing)" : v, flags);
                    ok = 0;
                }
            } else if (!strcmp(item, "nonzero")) {
                if (t < 0 || !strcmp(v, "null") || strtoull(v, NULL, 0) == 0) {
                    printf("event %d: %s %s, want non-zero\n", i, fname, t < 0 ? "(missing)" : v);
                    ok = 0;
                }
            } else {
                printf("unknown check column %s\n", item);
                return 2;
            }
        }
        printf("event %d: %s  %s\n", i, ok ? "ok" : "MISMATCH", jl);
        bad |= !ok;
        i++;
    }
    return bad;
}

int main(int argc, char **argv) {
    /* opener sigdfl CMD ARGS...: exec CMD with SIGINT/SIGQUIT back at their defaults
     * (busybox sh starts background jobs with them ignored). */
    if (argc >= 3 && !strcmp(argv[1], "sigdfl")) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        execvp(argv[2], argv + 2);
        perror("opener sigdfl: exec");
        return 127;
    }
    if (argc == 3 && !strcmp(argv[1], "run")) return run(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "check")) return check(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: opener run TRUTH | opener check entry|return|COL[:FIELD],... TRUTH JSONL\n");
    return 2;
}
