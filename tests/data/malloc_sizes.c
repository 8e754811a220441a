/* Test program for the malloc recipe: waits for a line on stdin (so the tracer can arm
 * first), then calls malloc with known sizes (3 x 3333, 5 x 77777) and prints "done". */
#include <stdio.h>
#include <stdlib.h>

/* Kept in a global the compiler must write, so no malloc/free pair is elided. */
void *volatile keep[8];

int main(void) {
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (int i = 0; i < 3; i++) keep[i] = malloc(3333);
    for (int i = 3; i < 8; i++) keep[i] = malloc(77777);
    for (int i = 0; i < 8; i++) free(keep[i]);
    puts("done");
    return 0;
}
