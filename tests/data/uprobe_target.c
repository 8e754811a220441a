/* Test program for live uprobe tests: calls probe_me(a, s) with known arguments, a given
 * number of times, with a pause between calls, and prints the ground truth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int probe_me(int a, const char *s) {
    __asm__ volatile("" ::: "memory");
    return a + (int)strlen(s);
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 10;
    int pause_us = argc > 2 ? atoi(argv[2]) : 10000;
    char buf[64];
    for (int i = 0; i < calls; i++) {
        snprintf(buf, sizeof buf, "call \"%d\" = x", i);
        int r = probe_me(i - 5, buf);
        printf("%d %d %s\n", i - 5, r, buf);
        fflush(stdout);
        if (pause_us) usleep(pause_us);
    }
    return 0;
}
