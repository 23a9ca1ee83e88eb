/* The stream recorder behind `pvgpu serve --record DIR`: per guest connection, the raw vtest
 * bytes the guest sent (DIR/ctx-N.vtest) and every Venus command batch that was executed
 * (DIR/ctx-N-batch-K.venus, K = 1, 2, ...). Recordings seed the fuzz corpora and replay bugs.
 * Recording never fails a connection: the first write error is logged and recording stops. */
#ifndef PV_VTEST_RECORD_H
#define PV_VTEST_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pv_vtest_recorder {
    int dir_fd;          /* -1: not recording */
    int vtest_fd;        /* DIR/ctx-N.vtest */
    uint32_t context_id;
    uint32_t next_batch; /* taken atomically: batches may come from ring worker threads */
    bool failed;         /* set once, with a log line; read racily, which at worst logs twice */
};

/* Starts recording connection context_id into dir, which must exist. Files of an earlier
 * recording with the same context id are replaced. On failure (logged) r records nothing. */
void pv_vtest_recorder_open(struct pv_vtest_recorder *r, const char *dir, uint32_t context_id);
void pv_vtest_recorder_close(struct pv_vtest_recorder *r);

static inline bool pv_vtest_recorder_active(const struct pv_vtest_recorder *r)
{
    return r->dir_fd >= 0 && !r->failed;
}

/* Appends bytes the guest sent on the socket, in the order they arrived. */
void pv_vtest_recorder_guest_bytes(struct pv_vtest_recorder *r, const void *bytes, size_t size);

/* Writes one executed Venus command batch to its own file. Safe from any thread. */
void pv_vtest_recorder_batch(struct pv_vtest_recorder *r, const void *bytes, size_t size);

#endif
