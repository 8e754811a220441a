/* Benchmark workload for bench/live.sh: calls bench_probe() CALLS times at RATE calls per
 * second (0 = flat out), then prints "calls elapsed_ns cpu_ns" on stdout.
 *
 * Pacing checks the clock every few calls and sleeps until the schedule catches up, so
 * the CPU is free for the consumer between bursts, as with a real application. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

__attribute__((noinline)) void bench_probe(long i) {
    /* Keep the call and its argument: the probe reads %di. */
    __asm__ volatile("" : : "r"(i) : "memory");
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: workload RATE CALLS\n");
        return 2;
    }
    long long rate = atoll(argv[1]);
    long long calls = atoll(argv[2]);
    /* Calls between clock checks: about 1 ms of work at the given rate. */
    long long batch = rate > 0 ? (rate / 1000 > 0 ? rate / 1000 : 1) : calls;
    long long start = now_ns();
    for (long long done = 0; done < calls;) {
        long long end = done + batch < calls ? done + batch : calls;
        for (; done < end; done++) bench_probe(done);
        if (rate > 0) {
            long long due = start + done * 1000000000LL / rate;
            long long wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
                nanosleep(&ts, NULL);
            }
        }
    }
    long long elapsed = now_ns() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    printf("%lld %lld %lld\n", calls, elapsed, cpu);
    return 0;
}
