/* The Venus transport commands: the reply stream, indirect command streams, rings, the
 * seqnos that order rings against the transport, and the experimental-feature query. They
 * manage the channels themselves, not Vulkan objects. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pv_context.h"
#include "pv_log.h"
#include "pv_ring.h"

/* The blob a stream description names, if the stream lies inside it; else the context is
 * fatal and NULL comes back. */
static struct pv_blob *stream_blob(struct pv_context *ctx, const VkCommandStreamDescriptionMESA *s,
                                   const char *command)
{
    struct pv_blob *blob = pv_context_find_blob(ctx, s->resourceId);
    if (!blob) {
        pv_context_set_fatal(ctx, "%s: unknown resource %u", command, s->resourceId);
        return NULL;
    }
    if (s->offset > blob->size || s->size > blob->size - s->offset) {
        pv_context_set_fatal(ctx, "%s: stream [%zu, +%zu) outside resource %u (%zu bytes)",
                             command, s->offset, s->size, s->resourceId, blob->size);
        return NULL;
    }
    return blob;
}

void pv_handle_vkSetReplyCommandStreamMESA(struct pv_context *ctx,
                                           struct pv_args_vkSetReplyCommandStreamMESA *a)
{
    const VkCommandStreamDescriptionMESA *s = a->pStream;
    struct pv_blob *blob = stream_blob(ctx, s, "vkSetReplyCommandStreamMESA");
    if (!blob)
        return;
    struct pv_reply_stream *reply = ctx->channel->reply;
    pv_blob_ref(blob);
    if (reply->blob)
        pv_blob_unref(reply->blob);
    reply->blob = blob;
    reply->offset = s->offset;
    reply->size = s->size;
    reply->position = 0;
}

void pv_handle_vkSeekReplyCommandStreamMESA(struct pv_context *ctx,
                                            struct pv_args_vkSeekReplyCommandStreamMESA *a)
{
    struct pv_reply_stream *reply = ctx->channel->reply;
    if (!reply->blob) {
        pv_context_set_fatal(ctx, "vkSeekReplyCommandStreamMESA: no reply stream is set");
        return;
    }
    if (a->position > reply->size) {
        pv_context_set_fatal(ctx, "vkSeekReplyCommandStreamMESA: position %zu past the "
                             "%zu-byte stream", a->position, reply->size);
        return;
    }
    reply->position = a->position;
}

void pv_handle_vkExecuteCommandStreamsMESA(struct pv_context *ctx,
                                           struct pv_args_vkExecuteCommandStreamsMESA *a)
{
    if (a->pReplyPositions || a->dependencyCount || a->flags) {
        pv_context_set_fatal(ctx, "vkExecuteCommandStreamsMESA: reply positions, dependencies "
                             "and flags are not used by the protocol version served");
        return;
    }
    for (uint32_t i = 0; i < a->streamCount && !ctx->fatal; i++) {
        const VkCommandStreamDescriptionMESA *s = &a->pStreams[i];
        struct pv_blob *blob = stream_blob(ctx, s, "vkExecuteCommandStreamsMESA");
        if (!blob)
            return;
        /* The guest may rewrite its shared memory at any time: decode a private copy. It is
         * memory the guest makes the host hold, counted against the context's limit while it
         * runs (a nested stream's copy on top of its parent's). */
        if (s->size > ctx->options.max_memory_bytes - ctx->memory_bytes) {
            pv_context_set_fatal(ctx, "vkExecuteCommandStreamsMESA: a copy of %zu bytes passes "
                                 "the context's memory limit of %llu bytes", s->size,
                                 (unsigned long long)ctx->options.max_memory_bytes);
            return;
        }
        uint8_t *copy = malloc(s->size ? s->size : 1);
        if (!copy) {
            pv_context_set_fatal(ctx, "vkExecuteCommandStreamsMESA: out of memory for %zu bytes",
                                 s->size);
            return;
        }
        memcpy(copy, (const uint8_t *)blob->map + s->offset, s->size);
        ctx->memory_bytes += s->size;
        pv_context_execute(ctx, ctx->channel, copy, s->size);
        ctx->memory_bytes -= s->size;
        free(copy);
    }
}

void pv_handle_vkCreateRingMESA(struct pv_context *ctx, struct pv_args_vkCreateRingMESA *a)
{
    pv_ring_create(ctx, a->ring, a->pCreateInfo);
}

static struct pv_ring *find_ring(struct pv_context *ctx, uint64_t id, const char *command)
{
    struct pv_ring *ring = pv_ring_find(ctx, id);
    if (!ring)
        pv_context_set_fatal(ctx, "%s: unknown ring 0x%llx", command, (unsigned long long)id);
    return ring;
}

void pv_handle_vkDestroyRingMESA(struct pv_context *ctx, struct pv_args_vkDestroyRingMESA *a)
{
    struct pv_ring *ring = find_ring(ctx, a->ring, "vkDestroyRingMESA");
    if (ring)
        pv_ring_stop(ctx, ring);
}

void pv_handle_vkNotifyRingMESA(struct pv_context *ctx, struct pv_args_vkNotifyRingMESA *a)
{
    struct pv_ring *ring = find_ring(ctx, a->ring, "vkNotifyRingMESA");
    if (ring)
        pv_ring_notify(ring);
}

void pv_handle_vkWriteRingExtraMESA(struct pv_context *ctx, struct pv_args_vkWriteRingExtraMESA *a)
{
    struct pv_ring *ring = find_ring(ctx, a->ring, "vkWriteRingExtraMESA");
    if (!ring)
        return;
    if (a->offset > ring->extra_size || ring->extra_size - a->offset < 4 || (a->offset & 3)) {
        pv_context_set_fatal(ctx, "vkWriteRingExtraMESA: offset %zu outside the %zu-byte extra "
                             "region", a->offset, ring->extra_size);
        return;
    }
    __atomic_store_n((uint32_t *)(ring->extra + a->offset), a->value, __ATOMIC_RELEASE);
}

void pv_handle_vkGetVenusExperimentalFeatureData100000MESA(
    struct pv_context *ctx, struct pv_args_vkGetVenusExperimentalFeatureData100000MESA *a)
{
    if (ctx->options.generation != PV_VENUS_2022) {
        pv_context_set_fatal(ctx, "vkGetVenusExperimentalFeatureData100000MESA: the current "
                             "protocol has no such command");
        return;
    }
    /* A 64 KiB ring is all this host offers: the other features need dma-buf or sync-fd
     * paths, which a portable host does not have. */
    const VkVenusExperimentalFeatures100000MESA features = {
        .memoryResourceAllocationSize = VK_FALSE,
        .globalFencing = VK_FALSE,
        .largeRing = VK_TRUE,
        .syncFdFencing = VK_FALSE,
    };
    if (!a->pDataSize) {
        pv_context_set_fatal(ctx, "vkGetVenusExperimentalFeatureData100000MESA: no size");
        return;
    }
    if (!a->pData) {
        *a->pDataSize = sizeof(features);
        return;
    }
    size_t size = *a->pDataSize < sizeof(features) ? *a->pDataSize : sizeof(features);
    memcpy(a->pData, &features, size);
    *a->pDataSize = size;
}

/* -- ordering rings against the transport ----------------------------------------------- */

void pv_handle_vkSubmitVirtqueueSeqnoMESA(struct pv_context *ctx,
                                          struct pv_args_vkSubmitVirtqueueSeqnoMESA *a)
{
    struct pv_ring *ring = find_ring(ctx, a->ring, "vkSubmitVirtqueueSeqnoMESA");
    if (!ring)
        return;
    if (a->seqno > ring->virtqueue_seqno)
        ring->virtqueue_seqno = a->seqno;
    pthread_cond_broadcast(&ctx->progress);
}

struct seqno_wait {
    uint64_t ring_id;
    uint64_t seqno;
};

/* The waiting ring is the channel's own: it lives as long as its worker waits. */
static bool virtqueue_reached(struct pv_context *ctx, void *data)
{
    const struct seqno_wait *w = data;
    return pv_ring_of_channel(ctx, ctx->channel)->virtqueue_seqno >= w->seqno;
}

void pv_handle_vkWaitVirtqueueSeqnoMESA(struct pv_context *ctx,
                                        struct pv_args_vkWaitVirtqueueSeqnoMESA *a)
{
    struct pv_ring *ring = pv_ring_of_channel(ctx, ctx->channel);
    if (!ring) {
        pv_context_set_fatal(ctx, "vkWaitVirtqueueSeqnoMESA: only a ring can wait for the "
                             "transport");
        return;
    }
    struct seqno_wait w = { ring->id, a->seqno };
    pv_context_wait_for(ctx, virtqueue_reached, &w);
}

static bool ring_reached(struct pv_context *ctx, void *data)
{
    const struct seqno_wait *w = data;
    /* A ring the guest destroyed meanwhile has nothing more to reach. */
    const struct pv_ring *ring = pv_ring_find(ctx, w->ring_id);
    return !ring || pv_ring_reached(ring, (uint32_t)w->seqno);
}

void pv_handle_vkWaitRingSeqnoMESA(struct pv_context *ctx, struct pv_args_vkWaitRingSeqnoMESA *a)
{
    struct pv_ring *ring = find_ring(ctx, a->ring, "vkWaitRingSeqnoMESA");
    if (!ring)
        return;
    if (pv_ring_of_channel(ctx, ctx->channel) == ring) {
        pv_context_set_fatal(ctx, "vkWaitRingSeqnoMESA: ring 0x%llx waits for itself",
                             (unsigned long long)a->ring);
        return;
    }
    struct seqno_wait w = { ring->id, a->seqno };
    pv_context_wait_for(ctx, ring_reached, &w);
}
