/* vtest timelines (see pv_vtest_timeline.h). */
#define _GNU_SOURCE
#include "pv_vtest_timeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pv_log.h"

/* How long a worker blocks on its point before it looks at the stop flag again. */
#define WAIT_SLICE_NS (50ull * 1000 * 1000)

struct pv_vtest_timeline_job {
    struct pv_vtest_timeline_job *next;
    struct pv_timeline_point *point;   /* NULL once reached */
    uint32_t count;
    uint32_t triples[];
};

int pv_vtest_timelines_init(struct pv_vtest_timelines *t)
{
    memset(t, 0, sizeof(*t));
    t->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->done_fd < 0)
        return -1;
    pthread_mutex_init(&t->mutex, NULL);
    t->done_tail = &t->done;
    for (uint32_t i = 0; i < PV_MAX_TIMELINES; i++) {
        t->lines[i].owner = t;
        pthread_cond_init(&t->lines[i].wake, NULL);
        t->lines[i].tail = &t->lines[i].head;
    }
    return 0;
}

static void free_jobs(struct pv_vtest_timelines *t, struct pv_vtest_timeline_job *job)
{
    while (job) {
        struct pv_vtest_timeline_job *next = job->next;
        if (job->point)
            pv_context_timeline_drop(t->ctx, job->point);
        free(job);
        job = next;
    }
}

void pv_vtest_timelines_fini(struct pv_vtest_timelines *t)
{
    if (t->done_fd < 0)
        return;
    pthread_mutex_lock(&t->mutex);
    t->stop = true;
    for (uint32_t i = 0; i < PV_MAX_TIMELINES; i++)
        pthread_cond_signal(&t->lines[i].wake);
    pthread_mutex_unlock(&t->mutex);
    for (uint32_t i = 0; i < PV_MAX_TIMELINES; i++) {
        struct pv_vtest_timeline *line = &t->lines[i];
        if (line->started)
            pthread_join(line->thread, NULL);
        free_jobs(t, line->head);
        pthread_cond_destroy(&line->wake);
    }
    free_jobs(t, t->done);
    pthread_mutex_destroy(&t->mutex);
    close(t->done_fd);
    t->done_fd = -1;
}

/* Waits for each job's point in turn and hands the job over to the connection. */
static void *timeline_worker(void *arg)
{
    struct pv_vtest_timeline *line = arg;
    struct pv_vtest_timelines *t = line->owner;
    pthread_mutex_lock(&t->mutex);
    for (;;) {
        while (!line->head && !t->stop)
            pthread_cond_wait(&line->wake, &t->mutex);
        if (t->stop)
            break;
        struct pv_vtest_timeline_job *job = line->head;
        pthread_mutex_unlock(&t->mutex);
        int rc = 1;
        while (job->point && rc == 1) {
            rc = pv_context_timeline_wait(t->ctx, job->point, WAIT_SLICE_NS);
            if (rc != 1)
                job->point = NULL;   /* released by the wait */
            pthread_mutex_lock(&t->mutex);
            bool stop = t->stop;
            pthread_mutex_unlock(&t->mutex);
            if (stop)
                break;
        }
        pthread_mutex_lock(&t->mutex);
        if (job->point)
            continue;   /* stopping: fini drops it */
        line->head = job->next;
        if (!line->head)
            line->tail = &line->head;
        if (rc < 0) {
            /* A fatal context: the connection drops the guest; nothing to signal. */
            free(job);
            t->pending--;
            continue;
        }
        job->next = NULL;
        *t->done_tail = job;
        t->done_tail = &job->next;
        uint64_t one = 1;
        ssize_t ignored = write(t->done_fd, &one, sizeof(one));
        (void)ignored;
    }
    pthread_mutex_unlock(&t->mutex);
    return NULL;
}

int pv_vtest_timelines_submit(struct pv_vtest_timelines *t, struct pv_context *ctx,
                              uint32_t ring_idx, const uint32_t *triples, uint32_t count)
{
    if (ring_idx == 0 || ring_idx >= PV_MAX_TIMELINES)
        return -EINVAL;
    t->ctx = ctx;
    pthread_mutex_lock(&t->mutex);
    bool full = t->pending >= PV_VTEST_MAX_TIMELINE_JOBS;
    pthread_mutex_unlock(&t->mutex);
    if (full)
        return -ENOSPC;
    struct pv_vtest_timeline_job *job = calloc(1, sizeof(*job) + count * 3 * sizeof(uint32_t));
    if (!job)
        return -ENOMEM;
    job->count = count;
    memcpy(job->triples, triples, count * 3 * sizeof(uint32_t));
    if (pv_context_timeline_point(ctx, ring_idx, &job->point) != 0) {
        free(job);
        return -1;
    }
    struct pv_vtest_timeline *line = &t->lines[ring_idx];
    pthread_mutex_lock(&t->mutex);
    int err = 0;
    if (!job->point) {
        /* Nothing to wait for: done already, no worker needed. */
        *t->done_tail = job;
        t->done_tail = &job->next;
        t->pending++;
        pthread_mutex_unlock(&t->mutex);
        uint64_t one = 1;
        ssize_t ignored = write(t->done_fd, &one, sizeof(one));
        (void)ignored;
        return 0;
    }
    if (!line->started) {
        err = pthread_create(&line->thread, NULL, timeline_worker, line);
        line->started = err == 0;
    }
    if (!err) {
        *line->tail = job;
        line->tail = &job->next;
        t->pending++;
        pthread_cond_signal(&line->wake);
    }
    pthread_mutex_unlock(&t->mutex);
    if (err) {
        if (job->point)
            pv_context_timeline_drop(ctx, job->point);
        free(job);
        return -err;
    }
    return 0;
}

void pv_vtest_timelines_collect(struct pv_vtest_timelines *t,
                                void (*apply)(void *data, const uint32_t *triples,
                                              uint32_t count),
                                void *data)
{
    uint64_t ignored;
    if (read(t->done_fd, &ignored, sizeof(ignored)) < 0 && errno != EAGAIN)
        pv_log("vtest: timeline completions: %s", strerror(errno));
    pthread_mutex_lock(&t->mutex);
    struct pv_vtest_timeline_job *job = t->done;
    t->done = NULL;
    t->done_tail = &t->done;
    pthread_mutex_unlock(&t->mutex);
    while (job) {
        struct pv_vtest_timeline_job *next = job->next;
        apply(data, job->triples, job->count);
        free(job);
        pthread_mutex_lock(&t->mutex);
        t->pending--;
        pthread_mutex_unlock(&t->mutex);
        job = next;
    }
}
