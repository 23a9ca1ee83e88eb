/* vtest syncs and pending SYNC_WAITs of one connection. Waits are answered with an eventfd so
 * that the guest can poll it with its own timeout while the host goes on serving commands. */
#define _GNU_SOURCE
#include "pv_vtest_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct pv_vtest_wait {
    int fd; /* the host's end, written once the wait is satisfied */
    bool any;
    uint32_t count;
    /* id 0 marks a sync that was destroyed while the wait was pending. */
    struct pv_vtest_sync targets[];
};

void pv_vtest_syncs_init(struct pv_vtest_syncs *syncs)
{
    memset(syncs, 0, sizeof(*syncs));
    syncs->next_id = 1;
}

static void wait_free(struct pv_vtest_wait *wait)
{
    close(wait->fd);
    free(wait);
}

void pv_vtest_syncs_fini(struct pv_vtest_syncs *syncs)
{
    for (size_t i = 0; i < syncs->wait_count; i++)
        wait_free(syncs->waits[i]);
    free(syncs->waits);
    free(syncs->syncs);
    memset(syncs, 0, sizeof(*syncs));
}

struct pv_vtest_sync *pv_vtest_sync_find(struct pv_vtest_syncs *syncs, uint32_t id)
{
    size_t lo = 0, hi = syncs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (syncs->syncs[mid].id == id)
            return &syncs->syncs[mid];
        if (syncs->syncs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int pv_vtest_sync_create(struct pv_vtest_syncs *syncs, uint64_t value, uint32_t *out_id)
{
    /* Ids are never reused, so a stale id from the guest can only miss, never alias. */
    if (syncs->count >= PV_VTEST_MAX_SYNCS || syncs->next_id == 0)
        return -ENOSPC;
    if (syncs->count == syncs->capacity) {
        size_t capacity = syncs->capacity ? syncs->capacity * 2 : 16;
        struct pv_vtest_sync *grown = realloc(syncs->syncs, capacity * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        syncs->syncs = grown;
        syncs->capacity = capacity;
    }
    uint32_t id = syncs->next_id++;
    syncs->syncs[syncs->count++] = (struct pv_vtest_sync){ .id = id, .value = value };
    *out_id = id;
    return 0;
}

enum wait_state { WAIT_PENDING, WAIT_SATISFIED, WAIT_HOPELESS };

static enum wait_state wait_evaluate(struct pv_vtest_syncs *syncs,
                                     const struct pv_vtest_wait *wait)
{
    if (wait->count == 0)
        return WAIT_SATISFIED;
    uint32_t reached = 0, destroyed = 0;
    for (uint32_t i = 0; i < wait->count; i++) {
        const struct pv_vtest_sync *target = &wait->targets[i];
        const struct pv_vtest_sync *sync =
            target->id ? pv_vtest_sync_find(syncs, target->id) : NULL;
        if (!sync)
            destroyed++;
        else if (sync->value >= target->value)
            reached++;
    }
    if (wait->any)
        return reached ? WAIT_SATISFIED : destroyed == wait->count ? WAIT_HOPELESS : WAIT_PENDING;
    return destroyed ? WAIT_HOPELESS : reached == wait->count ? WAIT_SATISFIED : WAIT_PENDING;
}

static void wait_signal(const struct pv_vtest_wait *wait)
{
    uint64_t one = 1;
    /* A non-blocking eventfd written once cannot be full; nothing else can go wrong that the
     * guest would not see as a timeout anyway. */
    ssize_t ignored = write(wait->fd, &one, sizeof(one));
    (void)ignored;
}

/* Signals satisfied waits and releases those plus the hopeless ones (the guest then sees its
 * poll time out, as it would with a sync that never advances). */
static void waits_settle(struct pv_vtest_syncs *syncs)
{
    size_t i = 0;
    while (i < syncs->wait_count) {
        struct pv_vtest_wait *wait = syncs->waits[i];
        enum wait_state state = wait_evaluate(syncs, wait);
        if (state == WAIT_PENDING) {
            i++;
            continue;
        }
        if (state == WAIT_SATISFIED)
            wait_signal(wait);
        wait_free(wait);
        syncs->waits[i] = syncs->waits[--syncs->wait_count];
    }
}

void pv_vtest_syncs_update_waits(struct pv_vtest_syncs *syncs)
{
    waits_settle(syncs);
}

int pv_vtest_sync_destroy(struct pv_vtest_syncs *syncs, uint32_t id)
{
    struct pv_vtest_sync *sync = pv_vtest_sync_find(syncs, id);
    if (!sync)
        return -ENOENT;
    size_t index = (size_t)(sync - syncs->syncs);
    memmove(sync, sync + 1, (syncs->count - index - 1) * sizeof(*sync));
    syncs->count--;

    for (size_t i = 0; i < syncs->wait_count; i++) {
        struct pv_vtest_wait *wait = syncs->waits[i];
        for (uint32_t j = 0; j < wait->count; j++) {
            if (wait->targets[j].id == id)
                wait->targets[j].id = 0;
        }
    }
    waits_settle(syncs);
    return 0;
}

int pv_vtest_sync_wait(struct pv_vtest_syncs *syncs, bool any, const uint32_t *triples,
                       uint32_t count, int *out_fd)
{
    for (uint32_t i = 0; i < count; i++) {
        if (!pv_vtest_sync_find(syncs, triples[3 * i]))
            return -ENOENT;
    }

    struct pv_vtest_wait *wait = malloc(sizeof(*wait) + (size_t)count * sizeof(wait->targets[0]));
    if (!wait)
        return -ENOMEM;
    wait->any = any;
    wait->count = count;
    for (uint32_t i = 0; i < count; i++) {
        wait->targets[i].id = triples[3 * i];
        wait->targets[i].value = triples[3 * i + 1] | (uint64_t)triples[3 * i + 2] << 32;
    }

    int err;
    wait->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wait->fd < 0) {
        err = -errno;
        free(wait);
        return err;
    }

    enum wait_state state = wait_evaluate(syncs, wait);
    if (state == WAIT_SATISFIED) {
        wait_signal(wait);
        *out_fd = wait->fd;
        free(wait);
        return 0;
    }

    /* Pending: the guest gets its own fd, the host keeps this one to signal later. */
    if (syncs->wait_count >= PV_VTEST_MAX_PENDING_WAITS) {
        err = -ENOSPC;
        goto fail;
    }
    if (syncs->wait_count == syncs->wait_capacity) {
        size_t capacity = syncs->wait_capacity ? syncs->wait_capacity * 2 : 4;
        struct pv_vtest_wait **grown = realloc(syncs->waits, capacity * sizeof(*grown));
        if (!grown) {
            err = -ENOMEM;
            goto fail;
        }
        syncs->waits = grown;
        syncs->wait_capacity = capacity;
    }
    int guest_fd = fcntl(wait->fd, F_DUPFD_CLOEXEC, 0);
    if (guest_fd < 0) {
        err = -errno;
        goto fail;
    }
    syncs->waits[syncs->wait_count++] = wait;
    *out_fd = guest_fd;
    return 0;

fail:
    wait_free(wait);
    return err;
}
