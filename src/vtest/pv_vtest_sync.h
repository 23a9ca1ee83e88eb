/* vtest syncs: per-connection 64-bit counters that submissions set and SYNC_WAIT waits on, and
 * the waits still pending, each with an eventfd that becomes readable once it is satisfied. */
#ifndef PV_VTEST_SYNC_H
#define PV_VTEST_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what one guest can make the host keep; the 22.3.6 driver uses a handful. */
#define PV_VTEST_MAX_SYNCS 65536
#define PV_VTEST_MAX_PENDING_WAITS 1024

struct pv_vtest_sync {
    uint32_t id;
    uint64_t value;
};

struct pv_vtest_wait;

struct pv_vtest_syncs {
    /* Sorted by id: ids only grow, so creation appends. */
    struct pv_vtest_sync *syncs;
    size_t count;
    size_t capacity;
    uint32_t next_id;

    struct pv_vtest_wait **waits;
    size_t wait_count;
    size_t wait_capacity;
};

void pv_vtest_syncs_init(struct pv_vtest_syncs *syncs);
/* Frees everything, closing the host's end of pending waits. */
void pv_vtest_syncs_fini(struct pv_vtest_syncs *syncs);

/* Returns 0 and the new id, -ENOSPC when the guest has too many syncs or ids ran out, -ENOMEM. */
int pv_vtest_sync_create(struct pv_vtest_syncs *syncs, uint64_t value, uint32_t *out_id);
/* Returns 0, or -ENOENT for an unknown id. Pending waits that can no longer be satisfied
 * because of it are released. */
int pv_vtest_sync_destroy(struct pv_vtest_syncs *syncs, uint32_t id);
/* NULL for an unknown id. */
struct pv_vtest_sync *pv_vtest_sync_find(struct pv_vtest_syncs *syncs, uint32_t id);

/* Signals and releases the pending waits whose condition now holds. Call after setting values. */
void pv_vtest_syncs_update_waits(struct pv_vtest_syncs *syncs);

/* Starts a wait on count syncs given as (id, value lo, value hi) word triples: all of them (or,
 * with any, one of them) must reach at least their value. On success *out_fd is an eventfd for
 * the guest, readable now or once a later update satisfies the wait; the caller sends and
 * closes it. Returns 0, -ENOENT for an unknown id, -ENOSPC for too many pending waits, or
 * another negative errno. */
int pv_vtest_sync_wait(struct pv_vtest_syncs *syncs, bool any, const uint32_t *triples,
                       uint32_t count, int *out_fd);

#endif
