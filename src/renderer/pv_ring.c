/* Ring workers: one thread per guest ring. The worker copies each batch out of shared memory
 * once, runs it under the context lock, then publishes the new head. When the ring stays empty
 * it spins briefly, then naps for longer the longer it stays idle, and after the guest's idle
 * timeout it sets the IDLE bit and blocks until vkNotifyRingMESA wakes it.
 *
 * The naps bound how late the worker sees a command the guest wrote while it slept: a guest
 * that submits, waits for the GPU and submits again finds the worker napping every time. So a
 * nap is an eighth of the time the ring has been idle (at least PV_RING_MIN_NAP_NS, at most
 * PV_RING_MAX_NAP_NS): the worker is late by about an eighth of the guest's pause, while a long
 * GPU job costs a few dozen wake-ups, not thousands (on a host whose GPU is the CPU, every
 * wake-up preempts the rasterizer). The thread asks for a tight timer slack: Linux's default of
 * 50 us would stretch every short nap by that much.
 *
 * Current guests ask for a monitored ring: they abort when the ALIVE bit stays clear for
 * their report period. The bit is set by one monitor thread per context (below), not by the
 * workers, which may spend seconds in one host call.
 */
#define _GNU_SOURCE
#include "pv_ring.h"

#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pv_context.h"
#include "pv_log.h"
#include "pv_time.h"

#define PV_RING_MAX_BUFFER (16u << 20)
/* How long the worker only yields after the last batch: a guest that submits back to back,
 * or right after a short GPU wait, is served at once. */
#define PV_RING_SPIN_NS (50 * 1000)
#define PV_RING_MIN_NAP_NS (4 * 1000)
#define PV_RING_MAX_NAP_NS (1000 * 1000)
#define PV_RING_TIMER_SLACK_NS 1000
/* How often an idle worker looks for work whose notification was lost. */
#define PV_RING_IDLE_LOOK_NS (100 * 1000 * 1000)

static bool ring_should_stop(struct pv_ring *ring)
{
    pthread_mutex_lock(&ring->wake_mutex);
    bool stop = ring->stop;
    pthread_mutex_unlock(&ring->wake_mutex);
    return stop;
}

/* Copies [head, tail) out of the ring, which may wrap. */
static void ring_copy_out(struct pv_ring *ring, uint32_t head, uint32_t size)
{
    uint32_t mask = ring->buffer_size - 1;
    uint32_t start = head & mask;
    uint32_t first = ring->buffer_size - start;
    if (first > size)
        first = size;
    memcpy(ring->commands, ring->buffer + start, first);
    memcpy(ring->commands + first, ring->buffer, size - first);
}

bool pv_ring_consume(struct pv_ring *ring)
{
    struct pv_context *ctx = ring->ctx;
    uint32_t head = ring->consumed;
    uint32_t tail = __atomic_load_n(ring->tail, __ATOMIC_ACQUIRE);
    if (tail == head)
        return false;
    uint32_t size = tail - head;
    pthread_mutex_lock(&ctx->mutex);
    if (size > ring->buffer_size) {
        pv_context_set_fatal(ctx, "ring 0x%llx: tail %u is %u bytes past head %u, more than the "
                             "%u-byte buffer", (unsigned long long)ring->id, tail, size, head,
                             ring->buffer_size);
    } else if (!ctx->fatal) {
        ring_copy_out(ring, head, size);
        ring->batch_head = head;
        pv_context_execute(ctx, &ring->channel, ring->commands, size);
    }
    /* Head moves on even for a fatal context, so a waiting guest is not stuck. */
    ring->consumed = tail;
    __atomic_store_n(ring->head, tail, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&ctx->progress);
    pthread_mutex_unlock(&ctx->mutex);
    return true;
}

/* The batch is copied out already, so the guest may reuse the space of each command done. */
static void ring_advanced(struct pv_channel *channel, size_t done)
{
    struct pv_ring *ring = (struct pv_ring *)((char *)channel - offsetof(struct pv_ring, channel));
    ring->consumed = ring->batch_head + (uint32_t)done;
    __atomic_store_n(ring->head, ring->consumed, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&ring->ctx->progress);
}

bool pv_ring_reached(const struct pv_ring *ring, uint32_t seqno)
{
    return (int32_t)(ring->consumed - seqno) >= 0;
}

/* The guest thread's priority, as far as an unprivileged process may take it: a ring may run
 * nicer than the host's default, never less nice. */
static void apply_priority(const struct pv_ring *ring)
{
    if (!ring->has_priority)
        return;
    errno = 0;
    int current = getpriority(PRIO_PROCESS, 0);
    if (current == -1 && errno)
        return;
    int wanted = ring->priority > 19 ? 19 : ring->priority;
    if (wanted > current)
        setpriority(PRIO_PROCESS, (id_t)gettid(), wanted);
}

static void *ring_worker(void *arg)
{
    struct pv_ring *ring = arg;
    uint64_t last_work = pv_now_ns();
    prctl(PR_SET_TIMERSLACK, PV_RING_TIMER_SLACK_NS, 0, 0, 0);
    apply_priority(ring);

    while (!ring_should_stop(ring)) {
        if (pv_ring_consume(ring)) {
            last_work = pv_now_ns();
            continue;
        }

        uint64_t idle_ns = pv_now_ns() - last_work;
        if (idle_ns < PV_RING_SPIN_NS) {
            sched_yield();
            continue;
        }
        if (idle_ns < ring->idle_timeout_ns) {
            uint64_t nap_ns = idle_ns / 8;
            if (nap_ns < PV_RING_MIN_NAP_NS)
                nap_ns = PV_RING_MIN_NAP_NS;
            if (nap_ns > PV_RING_MAX_NAP_NS)
                nap_ns = PV_RING_MAX_NAP_NS;
            struct timespec nap = { 0, (long)nap_ns };
            nanosleep(&nap, NULL);
            continue;
        }

        /* Going idle: announce it, then look once more, since the guest checks the bit only
         * after publishing its tail. The guest publishes its tail with a release store and
         * then loads the status, which the CPU may reorder, so a notification can be lost;
         * the worker looks at the tail now and then while it sleeps. */
        __atomic_or_fetch(ring->status, PV_RING_STATUS_IDLE, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&ring->wake_mutex);
        while (!ring->notified && !ring->stop &&
               __atomic_load_n(ring->tail, __ATOMIC_SEQ_CST) == ring->consumed) {
            const struct timespec until = pv_deadline(PV_RING_IDLE_LOOK_NS);
            pthread_cond_timedwait(&ring->wake_cond, &ring->wake_mutex, &until);
        }
        ring->notified = false;
        pthread_mutex_unlock(&ring->wake_mutex);
        __atomic_and_fetch(ring->status, ~PV_RING_STATUS_IDLE, __ATOMIC_SEQ_CST);
        last_work = pv_now_ns();
    }
    return NULL;
}

static bool region_ok(size_t blob_size, size_t offset, size_t size)
{
    return offset <= blob_size && size <= blob_size - offset && (offset & 3) == 0;
}

static bool regions_disjoint(const size_t *off, const size_t *len, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (off[i] < off[j] + len[j] && off[j] < off[i] + len[i])
                return false;
    return true;
}

bool pv_ring_create(struct pv_context *ctx, uint64_t id, const VkRingCreateInfoMESA *info)
{
    if (ctx->ring_count >= ctx->options.max_rings) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: the context's limit of %u rings is reached",
                             ctx->options.max_rings);
        return false;
    }
    if (id == 0 || pv_ring_find(ctx, id)) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: ring id 0x%llx is zero or in use",
                             (unsigned long long)id);
        return false;
    }
    struct pv_blob *blob = pv_context_find_blob(ctx, info->resourceId);
    if (!blob) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: unknown resource %u", info->resourceId);
        return false;
    }
    if (!region_ok(blob->size, info->offset, info->size)) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: ring [%zu, +%zu) outside resource %u "
                             "(%zu bytes)", info->offset, info->size, info->resourceId,
                             blob->size);
        return false;
    }
    size_t buffer_size = info->bufferSize;
    if (buffer_size == 0 || buffer_size > PV_RING_MAX_BUFFER ||
        (buffer_size & (buffer_size - 1))) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: buffer size %zu is not a power of two up "
                             "to 16 MiB", buffer_size);
        return false;
    }
    size_t offsets[5] = { info->headOffset, info->tailOffset, info->statusOffset,
                          info->bufferOffset, info->extraOffset };
    size_t sizes[5] = { 4, 4, 4, buffer_size, info->extraSize };
    for (int i = 0; i < 5; i++) {
        if (!region_ok(info->size, offsets[i], sizes[i])) {
            pv_context_set_fatal(ctx, "vkCreateRingMESA: region %d [%zu, +%zu) outside the "
                                 "%zu-byte ring", i, offsets[i], sizes[i], info->size);
            return false;
        }
    }
    if (!regions_disjoint(offsets, sizes, 5)) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: ring regions overlap");
        return false;
    }
    uint8_t *base = (uint8_t *)blob->map + info->offset;

    struct pv_ring *ring = calloc(1, sizeof(*ring));
    for (const VkBaseInStructure *s = info->pNext; ring && s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_RING_MONITOR_INFO_MESA) {
            const VkRingMonitorInfoMESA *monitor = (const VkRingMonitorInfoMESA *)s;
            ring->alive_period_ns = (uint64_t)monitor->maxReportingPeriodMicroseconds * 1000;
        } else if (s->sType == VK_STRUCTURE_TYPE_RING_PRIORITY_INFO_MESA) {
            ring->has_priority = true;
            ring->priority = ((const VkRingPriorityInfoMESA *)s)->priority;
        }
    }
    uint8_t *commands = malloc(buffer_size);
    if (!ring || !commands) {
        free(ring);
        free(commands);
        pv_context_set_fatal(ctx, "vkCreateRingMESA: out of memory");
        return false;
    }
    ring->id = id;
    ring->ctx = ctx;
    ring->blob = blob;
    pv_blob_ref(blob);
    ring->head = (uint32_t *)(base + info->headOffset);
    ring->tail = (const uint32_t *)(base + info->tailOffset);
    ring->status = (uint32_t *)(base + info->statusOffset);
    ring->buffer = base + info->bufferOffset;
    ring->buffer_size = (uint32_t)buffer_size;
    ring->extra = base + info->extraOffset;
    ring->extra_size = info->extraSize;
    ring->idle_timeout_ns = info->idleTimeout;
    ring->commands = commands;
    pv_channel_init(ctx, &ring->channel);
    ring->channel.advanced = ring_advanced;
    pthread_mutex_init(&ring->wake_mutex, NULL);
    pv_cond_init_monotonic(&ring->wake_cond);

    /* The guest zeroes the ring before creating it; start from its head, whatever it is. */
    ring->consumed = __atomic_load_n(ring->head, __ATOMIC_RELAXED);
    if (ctx->fatal)
        __atomic_or_fetch(ring->status, PV_RING_STATUS_FATAL, __ATOMIC_SEQ_CST);
    int err = ring->alive_period_ns && !pv_ring_monitor_add(ctx, ring) ? ENOMEM : 0;
    if (!err && !ctx->options.rings_without_workers) {
        err = pthread_create(&ring->thread, NULL, ring_worker, ring);
        if (err && ring->alive_period_ns)
            pv_ring_monitor_remove(ctx, ring);
    }
    if (err) {
        pv_context_set_fatal(ctx, "vkCreateRingMESA: cannot start a worker: %s", strerror(err));
        pv_channel_finish(&ring->channel);
        pv_blob_unref(blob);
        pthread_mutex_destroy(&ring->wake_mutex);
        pthread_cond_destroy(&ring->wake_cond);
        free(commands);
        free(ring);
        return false;
    }
    ring->thread_started = !ctx->options.rings_without_workers;
    ring->next = ctx->rings;
    ctx->rings = ring;
    ctx->ring_count++;
    pv_debug("context %u: ring 0x%llx started (%zu-byte buffer)", ctx->id,
             (unsigned long long)id, buffer_size);
    return true;
}

struct pv_ring *pv_ring_find(struct pv_context *ctx, uint64_t id)
{
    for (struct pv_ring *r = ctx->rings; r; r = r->next) {
        if (r->id == id)
            return r;
    }
    return NULL;
}

void pv_ring_notify(struct pv_ring *ring)
{
    pthread_mutex_lock(&ring->wake_mutex);
    ring->notified = true;
    pthread_cond_signal(&ring->wake_cond);
    pthread_mutex_unlock(&ring->wake_mutex);
}

void pv_ring_stop(struct pv_context *ctx, struct pv_ring *ring)
{
    struct pv_ring **link = &ctx->rings;
    while (*link && *link != ring)
        link = &(*link)->next;
    if (*link)
        *link = ring->next;
    pthread_mutex_lock(&ring->wake_mutex);
    ring->stop = true;
    pthread_cond_signal(&ring->wake_cond);
    pthread_mutex_unlock(&ring->wake_mutex);
    ring->channel.stopping = true;
    pthread_cond_broadcast(&ctx->progress);
    ring->next = ctx->stopped_rings;
    ctx->stopped_rings = ring;
    ctx->ring_count--;
}

void pv_ring_stop_all(struct pv_context *ctx)
{
    while (ctx->rings)
        pv_ring_stop(ctx, ctx->rings);
}

void pv_ring_join_stopped(struct pv_context *ctx)
{
    pthread_mutex_lock(&ctx->mutex);
    struct pv_ring *ring = ctx->stopped_rings;
    ctx->stopped_rings = NULL;
    pthread_mutex_unlock(&ctx->mutex);
    while (ring) {
        struct pv_ring *next = ring->next;
        if (ring->thread_started && !pthread_equal(ring->thread, pthread_self()))
            pthread_join(ring->thread, NULL);
        if (ring->alive_period_ns)
            pv_ring_monitor_remove(ctx, ring);
        pthread_mutex_lock(&ctx->mutex);
        pv_channel_finish(&ring->channel);
        pv_blob_unref(ring->blob);
        pthread_mutex_unlock(&ctx->mutex);
        pthread_mutex_destroy(&ring->wake_mutex);
        pthread_cond_destroy(&ring->wake_cond);
        free(ring->commands);
        free(ring);
        ring = next;
    }
}

void pv_ring_mark_fatal(struct pv_context *ctx)
{
    for (struct pv_ring *r = ctx->rings; r; r = r->next)
        __atomic_or_fetch(r->status, PV_RING_STATUS_FATAL, __ATOMIC_SEQ_CST);
}

/* -- the ring monitor ------------------------------------------------------------------- */

/* How often the ALIVE bit is set: a quarter of the shortest period a ring asks for, so that a
 * guest checking at any moment finds it set, within these bounds. */
#define PV_MONITOR_MIN_INTERVAL_NS (10ull * 1000 * 1000)
#define PV_MONITOR_MAX_INTERVAL_NS (1000ull * 1000 * 1000)

struct pv_ring_monitor {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool stop;
    struct pv_ring **rings;   /* monitored rings; each stays mapped until removed */
    size_t count;
    size_t capacity;
};

static uint64_t monitor_interval(const struct pv_ring_monitor *m)
{
    uint64_t interval = PV_MONITOR_MAX_INTERVAL_NS;
    for (size_t i = 0; i < m->count; i++) {
        uint64_t quarter = m->rings[i]->alive_period_ns / 4;
        if (quarter < interval)
            interval = quarter;
    }
    return interval < PV_MONITOR_MIN_INTERVAL_NS ? PV_MONITOR_MIN_INTERVAL_NS : interval;
}

static void *monitor_thread(void *arg)
{
    struct pv_ring_monitor *m = arg;
    pthread_mutex_lock(&m->mutex);
    while (!m->stop) {
        for (size_t i = 0; i < m->count; i++)
            __atomic_or_fetch(m->rings[i]->status, PV_RING_STATUS_ALIVE, __ATOMIC_SEQ_CST);
        const struct timespec until = pv_deadline(monitor_interval(m));
        pthread_cond_timedwait(&m->wake, &m->mutex, &until);
    }
    pthread_mutex_unlock(&m->mutex);
    return NULL;
}

bool pv_ring_monitor_add(struct pv_context *ctx, struct pv_ring *ring)
{
    struct pv_ring_monitor *m = ctx->monitor;
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (!m)
            return false;
        pthread_mutex_init(&m->mutex, NULL);
        pv_cond_init_monotonic(&m->wake);
        /* A harness that runs everything on one thread sets the bit at creation only. */
        if (!ctx->options.rings_without_workers &&
            pthread_create(&m->thread, NULL, monitor_thread, m) != 0) {
            pthread_cond_destroy(&m->wake);
            pthread_mutex_destroy(&m->mutex);
            free(m);
            return false;
        }
        ctx->monitor = m;
    }
    pthread_mutex_lock(&m->mutex);
    bool ok = true;
    if (m->count == m->capacity) {
        size_t capacity = m->capacity ? m->capacity * 2 : 4;
        struct pv_ring **rings = realloc(m->rings, capacity * sizeof(*rings));
        if (rings) {
            m->rings = rings;
            m->capacity = capacity;
        } else {
            ok = false;
        }
    }
    if (ok) {
        m->rings[m->count++] = ring;
        __atomic_or_fetch(ring->status, PV_RING_STATUS_ALIVE, __ATOMIC_SEQ_CST);
        pthread_cond_signal(&m->wake);   /* the interval may be shorter now */
    }
    pthread_mutex_unlock(&m->mutex);
    return ok;
}

void pv_ring_monitor_remove(struct pv_context *ctx, struct pv_ring *ring)
{
    struct pv_ring_monitor *m = ctx->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->mutex);
    for (size_t i = 0; i < m->count; i++) {
        if (m->rings[i] == ring) {
            m->rings[i] = m->rings[--m->count];
            break;
        }
    }
    pthread_mutex_unlock(&m->mutex);
}

void pv_ring_monitor_destroy(struct pv_context *ctx)
{
    struct pv_ring_monitor *m = ctx->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->mutex);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mutex);
    if (!ctx->options.rings_without_workers)
        pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->mutex);
    free(m->rings);
    free(m);
    ctx->monitor = NULL;
}
