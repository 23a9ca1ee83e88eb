/* vtest timelines: syncs that take their values once a queue's work is done. A batch of a
 * current guest names a timeline (its ring index); its syncs may only advance when the work
 * submitted so far to the queue bound to that timeline has finished. One worker thread per
 * timeline in use waits for that, so the connection goes on serving the guest meanwhile (the
 * guest may need to notify a ring before the queue can finish); finished batches come back to
 * the connection's thread, which alone touches the syncs. */
#ifndef PV_VTEST_TIMELINE_H
#define PV_VTEST_TIMELINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pv_renderer.h"

struct pv_vtest_timeline_job;

struct pv_vtest_timelines;

struct pv_vtest_timeline {
    struct pv_vtest_timelines *owner;
    pthread_t thread;
    bool started;
    pthread_cond_t wake;
    struct pv_vtest_timeline_job *head, **tail;   /* waiting for their point, in order */
};

struct pv_vtest_timelines {
    struct pv_context *ctx;   /* not owned */
    int done_fd;              /* eventfd: readable while finished jobs wait for the connection */
    pthread_mutex_t mutex;
    bool stop;
    struct pv_vtest_timeline lines[PV_MAX_TIMELINES];
    struct pv_vtest_timeline_job *done, **done_tail;
    uint32_t pending;         /* jobs not yet collected, for the bound below */
};

/* Most batches one connection may have waiting on timelines at once. */
#define PV_VTEST_MAX_TIMELINE_JOBS 4096

/* Returns 0, or -1 (errno set) when the eventfd cannot be made. */
int pv_vtest_timelines_init(struct pv_vtest_timelines *t);
/* Stops and joins the workers, dropping what they still wait for. Before the context goes. */
void pv_vtest_timelines_fini(struct pv_vtest_timelines *t);

/* Queues count sync triples (id, value lo, value hi) to take their values once the work
 * submitted so far on timeline ring_idx (1..PV_MAX_TIMELINES-1) is done. Returns 0, -ENOSPC
 * past the bound, -1 once the context is fatal, or another negative errno. */
int pv_vtest_timelines_submit(struct pv_vtest_timelines *t, struct pv_context *ctx,
                              uint32_t ring_idx, const uint32_t *triples, uint32_t count);

/* Hands every finished job's triples to apply, in the order each timeline finished them, and
 * clears done_fd. On the connection's thread. */
void pv_vtest_timelines_collect(struct pv_vtest_timelines *t,
                                void (*apply)(void *data, const uint32_t *triples,
                                              uint32_t count),
                                void *data);

#endif
