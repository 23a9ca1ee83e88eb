/* The guest's shared-memory command ring and the worker thread that drains it. */
#ifndef PV_RING_H
#define PV_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pv_context.h"

struct VkRingCreateInfoMESA;

/* Ring status bits (VkRingStatusFlagBitsMESA). */
#define PV_RING_STATUS_IDLE 0x1u
#define PV_RING_STATUS_FATAL 0x2u
#define PV_RING_STATUS_ALIVE 0x4u

struct pv_ring {
    uint64_t id;
    struct pv_context *ctx;
    struct pv_blob *blob;   /* holds a reference for the ring's lifetime */
    struct pv_channel channel;

    uint32_t *head;         /* host writes: bytes consumed */
    const uint32_t *tail;   /* guest writes: bytes produced */
    uint32_t *status;       /* host writes: IDLE, FATAL and ALIVE bits */
    const uint8_t *buffer;
    uint32_t buffer_size;   /* power of two */
    uint8_t *extra;
    size_t extra_size;
    uint64_t idle_timeout_ns;

    uint8_t *commands;      /* private copy of one batch, buffer_size bytes */
    uint32_t batch_head;    /* the head where that batch starts */
    uint32_t consumed;      /* head as the host last published it; the guest cannot move it */
    /* The last seqno the transport reached for this ring (vkSubmitVirtqueueSeqnoMESA), which
     * vkWaitVirtqueueSeqnoMESA in the ring waits for. Under ctx->mutex. */
    uint64_t virtqueue_seqno;

    /* VkRingMonitorInfoMESA: the ALIVE bit is due at least this often (0: not monitored). */
    uint64_t alive_period_ns;
    /* VkRingPriorityInfoMESA: the guest thread's nice value, for the worker (when present). */
    bool has_priority;
    int priority;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t wake_mutex;
    pthread_cond_t wake_cond;
    bool notified;
    bool stop;

    struct pv_ring *next;
};

/* Handlers of vkCreateRingMESA and friends live in pv_transport.c; these are for them and for
 * the context's teardown. The caller holds ctx->mutex unless said otherwise. */
bool pv_ring_create(struct pv_context *ctx, uint64_t id, const struct VkRingCreateInfoMESA *info);
struct pv_ring *pv_ring_find(struct pv_context *ctx, uint64_t id);
void pv_ring_notify(struct pv_ring *ring);
/* Runs what the guest has published past head, if anything, and publishes the new head;
 * returns whether there was anything. Takes ctx->mutex itself: the worker's one step, and what
 * an embedder with rings_without_workers calls instead. */
bool pv_ring_consume(struct pv_ring *ring);
/* Moves the ring to the stopped list; its worker exits at its next look at the flag. */
void pv_ring_stop(struct pv_context *ctx, struct pv_ring *ring);
void pv_ring_stop_all(struct pv_context *ctx);
/* Joins and frees stopped rings. Called WITHOUT ctx->mutex held. */
void pv_ring_join_stopped(struct pv_context *ctx);
/* Sets the FATAL bit of every ring of the context. */
void pv_ring_mark_fatal(struct pv_context *ctx);
/* Whether the ring's head has reached seqno (a ring position, compared the way the guest
 * compares them: modulo 2^32, within half the range). Under ctx->mutex. */
bool pv_ring_reached(const struct pv_ring *ring, uint32_t seqno);

/* The ring monitor: one thread per context that sets the ALIVE bit of every monitored ring
 * often enough while the context lives, whatever its workers are busy with (a long pipeline
 * compile, a GPU wait). Started with the first monitored ring. */
bool pv_ring_monitor_add(struct pv_context *ctx, struct pv_ring *ring);
void pv_ring_monitor_remove(struct pv_context *ctx, struct pv_ring *ring);
void pv_ring_monitor_destroy(struct pv_context *ctx);

#endif
