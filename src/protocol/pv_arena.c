/* Bump allocator for decoded commands (see pv_arena.h). */
#include "pv_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pv_arena_block {
    struct pv_arena_block *next;
    size_t size;   /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define PV_ARENA_MIN_BLOCK (64 * 1024)
/* The largest block kept across resets. Every channel (the transport and each ring, at two
 * depths) has arenas whose limit is hundreds of MiB: one huge command each must not leave the
 * host holding that much per channel for the context's life. */
#define PV_ARENA_KEEP_MAX (1024 * 1024)

void pv_arena_init(struct pv_arena *a, size_t limit)
{
    a->blocks = NULL;
    a->used = 0;
    a->limit = limit;
}

void pv_arena_finish(struct pv_arena *a)
{
    struct pv_arena_block *b = a->blocks;
    while (b) {
        struct pv_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->used = 0;
}

void *pv_arena_alloc(struct pv_arena *a, size_t size)
{
    size_t rounded = (size + 15) & ~(size_t)15;
    if (rounded < size || rounded > a->limit - a->used)
        return NULL;

    struct pv_arena_block *b = a->blocks;
    if (!b || b->size - b->used < rounded) {
        size_t block_size = rounded > PV_ARENA_MIN_BLOCK ? rounded : PV_ARENA_MIN_BLOCK;
        b = malloc(sizeof(*b) + block_size);
        if (!b)
            return NULL;
        b->size = block_size;
        b->used = 0;
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used += rounded;
    memset(p, 0, size);
    return p;
}

size_t pv_arena_kept(const struct pv_arena *a)
{
    size_t kept = 0;
    for (const struct pv_arena_block *b = a->blocks; b; b = b->next)
        kept += b->size;
    return kept;
}

void pv_arena_release(struct pv_arena *a)
{
    if (!a->blocks->next && a->blocks->size <= PV_ARENA_KEEP_MAX) {
        a->blocks->used = 0;
        a->used = 0;
        return;
    }
    /* Keep the largest block up to PV_ARENA_KEEP_MAX: after a big command the next one needs
     * no malloc, but a huge one is not held on to. */
    struct pv_arena_block *keep = NULL;
    for (struct pv_arena_block *b = a->blocks; b; b = b->next) {
        if (b->size <= PV_ARENA_KEEP_MAX && (!keep || b->size > keep->size))
            keep = b;
    }
    struct pv_arena_block *b = a->blocks;
    while (b) {
        struct pv_arena_block *next = b->next;
        if (b != keep)
            free(b);
        b = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->blocks = keep;
    a->used = 0;
}
