/* The decode arena (src/protocol/pv_arena.c): what it keeps across resets. Every channel of
 * every context has arenas with a limit of hundreds of MiB; one huge command must not leave
 * that much held for the context's life. */
#include <stdio.h>

#include "pv_arena.h"

static int failures;

static void report(int ok, const char *what)
{
    static int n;
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n, what);
    failures += !ok;
}

int main(void)
{
    printf("1..4\n");
    struct pv_arena arena;
    pv_arena_init(&arena, 256u << 20);

    report(pv_arena_alloc(&arena, 100) != NULL, "a small allocation");
    pv_arena_reset(&arena);
    const size_t small = pv_arena_kept(&arena);
    report(small > 0 && small <= (1u << 20), "a small block is kept for the next command");

    report(pv_arena_alloc(&arena, 8u << 20) != NULL && pv_arena_alloc(&arena, 100) != NULL,
           "an 8 MiB command");
    pv_arena_reset(&arena);
    const size_t kept = pv_arena_kept(&arena);
    printf("# kept after the 8 MiB command: %zu bytes\n", kept);
    report(kept <= (1u << 20), "at most 1 MiB is kept after a huge command");

    pv_arena_finish(&arena);
    return failures ? 1 : 0;
}
