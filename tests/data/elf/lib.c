/* A shared library for the ELF resolver tests: linked into prog built with -DWITH_LIB. */
__attribute__((noinline)) int tp_lib_mul(int a, int b) {
    __asm__ volatile("" ::: "memory");
    return a * b;
}
