/* A bump allocator for everything one decoded command needs: structs, arrays, strings. Reset
 * after each command, so decoding allocates nothing on the heap in the steady state. The total
 * is capped, which bounds what a hostile command can make the host allocate. */
#ifndef PV_ARENA_H
#define PV_ARENA_H

#include <stddef.h>

struct pv_arena_block;

struct pv_arena {
    struct pv_arena_block *blocks;   /* newest first; one small block is kept across resets */
    size_t used;                     /* bytes handed out since the last reset */
    size_t limit;                    /* most bytes handed out between resets */
};

void pv_arena_init(struct pv_arena *a, size_t limit);
void pv_arena_finish(struct pv_arena *a);

/* Zeroed, 16-byte aligned; NULL when the limit would be passed or memory is short. */
void *pv_arena_alloc(struct pv_arena *a, size_t size);

/* Bytes of blocks the arena holds (for tests of what it keeps). */
size_t pv_arena_kept(const struct pv_arena *a);

/* Forgets every allocation, keeping one block of at most 1 MiB for reuse. Inline for the common case of a
 * command that allocated nothing. */
void pv_arena_release(struct pv_arena *a);

static inline void pv_arena_reset(struct pv_arena *a)
{
    if (a->used)
        pv_arena_release(a);
}

#endif
