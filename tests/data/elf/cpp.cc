// C++ test program for the ELF resolver tests: tp::twice(int) is probed by its demangled
// name. Usage: cpp CALLS PAUSE_US.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace tp {
__attribute__((noinline)) int twice(int x) {
    __asm__ volatile("" ::: "memory");
    return 2 * x;
}
// An overload: `tp::twice` alone is ambiguous, `tp::twice(int)` is not.
__attribute__((noinline)) double twice(double x) {
    __asm__ volatile("" ::: "memory");
    return 2 * x;
}
}  // namespace tp

int main(int argc, char **argv) {
    int calls = argc > 1 ? std::atoi(argv[1]) : 10;
    int pause_us = argc > 2 ? std::atoi(argv[2]) : 10000;
    for (int i = 0; i < calls; i++) {
        std::printf("%d %d %g\n", i, tp::twice(i), tp::twice(i * 0.5));
        std::fflush(stdout);
        if (pause_us) usleep(pause_us);
    }
    return 0;
}
