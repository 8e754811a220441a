/* Latency test program (tests/integration/aggregate_cli.rs): waits for a line on stdin
 * (so the test can arm probes first), then calls sleeper(ms) for each ms given on the
 * command line and prints, per call, the milliseconds asked and the nanoseconds the call
 * took by its own clock: the ground truth the histogram is checked against. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) int sleeper(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return ms;
}

/* Recursion: each level sleeps `ms`, so the outer call lasts depth * ms. */
__attribute__((noinline)) int nested(int depth, int ms) {
    sleeper(ms);
    return depth > 1 ? nested(depth - 1, ms) + 1 : 1;
}

int main(int argc, char **argv) {
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (int i = 1; i < argc; i++) {
        int ms = atoi(argv[i]);
        long long start = now_ns();
        sleeper(ms);
        printf("%d %lld\n", ms, now_ns() - start);
    }
    fflush(stdout);
    return 0;
}
