/* Test program for the ELF resolver tests (tests/integration/elf_targets.rs): built as PIE,
 * non-PIE, stripped with a debug link, with its text moved away from the first PT_LOAD,
 * and with USDT probes (-DWITH_USDT, needs <sys/sdt.h> from systemtap-sdt-dev).
 * Usage: prog CALLS PAUSE_US. Each call prints `i r sem` (sem: 1 while a tracer holds the
 * USDT semaphore). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef WITH_USDT
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short tptest_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));
#define TICK_ENABLED() __builtin_expect(tptest_tick_semaphore, 0)
#else
#define TICK_ENABLED() 0
#endif

#ifdef WITH_LIB
int tp_lib_mul(int a, int b);
#else
static int tp_lib_mul(int a, int b) { return a * b; }
#endif

long tp_counter = 40;

__attribute__((noinline)) int tp_add(int a, int b) {
    __asm__ volatile("" ::: "memory");
    return a + b;
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 10;
    int pause_us = argc > 2 ? atoi(argv[2]) : 10000;
    for (int i = 0; i < calls; i++) {
        int r = tp_add(i, 2) + tp_lib_mul(i, 3);
        void *volatile block = malloc(64 + (size_t)i);
        free(block);
        tp_counter++;
        int sem = TICK_ENABLED() ? 1 : 0;
#ifdef WITH_USDT
        long neg = -(long)i;
        STAP_PROBE3(tptest, tick, i, neg, r);
#endif
        printf("%d %d %d\n", i, r, sem);
        fflush(stdout);
        if (pause_us) usleep(pause_us);
    }
    return 0;
}
