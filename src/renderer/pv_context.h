/* A guest context: everything one guest instance owns on the host (objects, blobs, rings, the
 * reply stream) and the loop that decodes and runs its command streams. The context is the
 * unit of failure: a bad stream makes it fatal and nothing else. */
#ifndef PV_CONTEXT_H
#define PV_CONTEXT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pv_arena.h"
#include "pv_cs.h"
#include "pv_object.h"
#include "pv_renderer.h"
#include "pv_venus_gen.h"

struct pv_ring;

/* Shared memory that both the guest and the host map: a blob resource. Reference counted,
 * because rings and the reply stream keep using a blob the guest has already dropped. */
struct pv_blob {
    uint32_t res_id;
    int refs;
    void *map;
    size_t size;
    int fd;
    /* Bytes of plain shared memory (blob_id 0) counted against the context's memory limit
     * while the guest holds the blob; 0 for the blob of a VkDeviceMemory, counted there. */
    uint64_t counted;
    struct pv_blob *next;   /* the next live blob of the context's bucket */
};

/* Nested depth of vkExecuteCommandStreamsMESA: the top level and one below it. */
#define PV_CONTEXT_MAX_DEPTH 2

/* Where replies go: a range of a blob the guest reads, and the next reply's position in it. */
struct pv_reply_stream {
    struct pv_blob *blob;   /* holds a reference; NULL until the guest sets one */
    size_t offset;
    size_t size;
    size_t position;
};

/* A source of command streams: the transport's own submissions, or one ring. Each has its own
 * decoding arenas and nesting depth, so that a channel whose command waits on the host (with
 * the context unlocked) leaves the others free to run. Current guests give each channel its
 * own reply stream too (they set one before every command with a reply); the 2022 generation
 * sets one on the socket and goes on using it from its ring, so there all channels share the
 * context's. */
struct pv_channel {
    struct pv_reply_stream *reply;
    struct pv_reply_stream own_reply;
    struct pv_arena arenas[PV_CONTEXT_MAX_DEPTH];
    unsigned depth;
    /* Set (under ctx->mutex) when the channel is to stop: its waits give up. */
    bool stopping;
    /* Called under ctx->mutex after each command of a channel's own stream (not of streams
     * it executes from blobs), with the bytes done so far. A ring publishes its head there,
     * command by command: a guest may make the transport wait for a ring position that a
     * later command of the same batch could only pass after that very transport moves on. */
    void (*advanced)(struct pv_channel *channel, size_t done);
};
void pv_channel_init(struct pv_context *ctx, struct pv_channel *channel);
/* Drops the channel's reply stream and arenas; the caller holds ctx->mutex. */
void pv_channel_finish(struct pv_channel *channel);

struct pv_context {
    uint32_t id;
    char name[64];
    struct pv_renderer_options options;

    /* Command execution comes from the transport thread and the ring workers. */
    pthread_mutex_t mutex;

    struct pv_object_table objects;

    /* The guest's blobs, hashed by res_id into chains; blob_bucket_count is a power of two
     * (0 before the first blob). A guest may hold tens of thousands: lookups must not walk
     * them all. */
    struct pv_blob **blob_buckets;
    uint32_t blob_bucket_count;

    /* The transport's own submissions (vtest SUBMIT_CMD2, virtio-gpu execbuffers). */
    struct pv_channel transport;
    /* The reply stream every channel shares for the 2022 generation. */
    struct pv_reply_stream shared_reply;
    /* The channel whose commands run now (valid under ctx->mutex). */
    struct pv_channel *channel;

    struct pv_ring *rings;          /* running rings */
    struct pv_ring *stopped_rings;  /* destroyed by the guest, to be joined off the lock */
    /* Broadcast (with ctx->mutex) whenever a ring's head moves or the transport reaches a new
     * seqno of a ring: what vkWaitRingSeqnoMESA and vkWaitVirtqueueSeqnoMESA wait for. */
    pthread_cond_t progress;
    /* Set at teardown, or once the guest is gone: channels waiting on the host or on each other
     * give up. */
    bool stopping;
    /* pv_context_set_peer_check. */
    bool (*peer_gone)(void *data);
    void *peer_data;

    /* Sets the ALIVE bit of monitored rings (VkRingMonitorInfoMESA) while the context lives. */
    struct pv_ring_monitor *monitor;

    struct pv_instance *instances;  /* every instance of the context (normally one) */

    /* Usage against the limits of options. */
    uint64_t memory_bytes;
    uint32_t blob_count;
    uint32_t ring_count;

    /* How often each command ran and, when PVGPU_COMMAND_STATS names a directory (written
     * there at teardown), the time it took: which commands a workload exercises and what the
     * host spends on each (decoding plus the host driver; a command stream includes what it
     * runs). */
    uint64_t command_counts[PV_COMMAND_COUNT];
    uint64_t command_ns[PV_COMMAND_COUNT];
    bool time_commands;

    bool fatal;
    int fatal_fd;   /* eventfd, written when the context turns fatal */
    char fatal_reason[512];
    const char *current_command;   /* for log lines of handlers */
};

/* Marks the context fatal (first reason wins) and logs it once. */
void pv_context_set_fatal(struct pv_context *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Runs a stream of Venus commands from channel; the caller holds ctx->mutex and data is host
 * memory. A nested stream (vkExecuteCommandStreamsMESA) passes ctx->channel. */
void pv_context_execute(struct pv_context *ctx, struct pv_channel *channel, const uint8_t *data,
                        size_t size);

/* For handlers that wait on the host or on another channel: the context lock is dropped so
 * that the other channels run meanwhile, and taken back with this channel current again.
 * Whatever the handler decoded stays valid; objects it looked up may be destroyed by another
 * channel in between, as the guest may do to its own objects at any time. */
struct pv_context_wait {
    struct pv_channel *channel;
    const char *command;
};
void pv_context_wait_begin(struct pv_context *ctx, struct pv_context_wait *wait);
void pv_context_wait_end(struct pv_context *ctx, struct pv_context_wait *wait);
/* Whether the current channel should give up waiting: the context is fatal or being torn
 * down, or the channel is stopping. Under ctx->mutex. */
bool pv_context_waits_end(struct pv_context *ctx);
/* Waits on ctx->progress until done(ctx, data) or pv_context_waits_end. A harness without
 * ring workers has nobody to wait for: it only looks once. */
void pv_context_wait_for(struct pv_context *ctx, bool (*done)(struct pv_context *ctx, void *data),
                         void *data);
/* The ring a channel belongs to; NULL for the transport's. */
struct pv_ring *pv_ring_of_channel(struct pv_context *ctx, struct pv_channel *channel);
/* Longest a wait blocks before it looks at ctx->stopping (and the guest's timeout) again. */
#define PV_CONTEXT_WAIT_SLICE_NS (50ull * 1000 * 1000)

/* Reply stream access for the generated dispatchers. */
bool pv_context_reply_begin(struct pv_context *ctx, struct pv_cs_encoder *e);
void pv_context_reply_end(struct pv_context *ctx, struct pv_cs_encoder *e, const char *command);

struct pv_blob *pv_context_find_blob(struct pv_context *ctx, uint32_t res_id);
/* Whether a new blob res_id may join the context (live, under its limit, id free); logs why not.
 * The caller holds ctx->mutex. */
bool pv_context_blob_admissible(struct pv_context *ctx, uint32_t res_id);
/* Links an admitted blob (holding one reference for the context) into the context's table and
 * counts its plain shared memory; false (the caller keeps the blob) when memory is short. */
bool pv_context_add_blob(struct pv_context *ctx, struct pv_blob *blob);
/* The shared pages of host-visible memory memory_id, if it may become a blob of size bytes. */
struct pv_blob *pv_device_memory_blob(struct pv_context *ctx, uint64_t memory_id, uint64_t size);
void pv_blob_ref(struct pv_blob *blob);
void pv_blob_unref(struct pv_blob *blob);

/* Object registration for handlers: binds the guest id, or makes the context fatal. */
bool pv_context_add_object(struct pv_context *ctx, struct pv_object *obj);
void pv_context_remove_object(struct pv_context *ctx, struct pv_object *obj);

/* For create commands: a plain object of type under parent (which gives it its dispatch),
 * returned so that a handler can note more about it. On failure (NULL) the host object is
 * destroyed and the context is fatal. */
struct pv_object *pv_context_bind_object(struct pv_context *ctx, struct pv_object *parent,
                                         VkObjectType type, uint64_t id, uint64_t handle);
/* The same for an object type that records more (a struct starting with struct pv_object, of
 * object_size bytes, zeroed; released with a plain free()). */
struct pv_object *pv_context_bind_object_of(struct pv_context *ctx, struct pv_object *parent,
                                            VkObjectType type, uint64_t id, uint64_t handle,
                                            size_t object_size);
/* Unbinds an object and releases it (unlinking it from its pool); the host handle is the
 * caller's business. Generated destroy commands call it after the host destroy. */
void pv_context_forget_object(struct pv_context *ctx, struct pv_object *obj);

/* Pools and their children (pv_pool.c): the host frees children with the pool, so the ids go
 * with it. */
struct pv_device;
bool pv_pool_bind(struct pv_context *ctx, struct pv_device *device, VkObjectType type,
                  uint64_t id, uint64_t handle);
void pv_pool_add_child(struct pv_pool *pool, struct pv_object *child);
void pv_pool_forget_children(struct pv_context *ctx, struct pv_pool *pool);
/* Binds new host children (8-byte handles) to the guest's ids; returns how many were bound
 * (fewer only when the context went fatal). */
uint32_t pv_pool_bind_children(struct pv_context *ctx, struct pv_pool *pool, VkObjectType type,
                               const uint64_t *ids, const void *handles, uint32_t count);
/* Whether every non-null handle is a child of pool; else the context is fatal. */
bool pv_pool_owns(struct pv_context *ctx, struct pv_pool *pool, VkObjectType type,
                  const void *handles, uint32_t count);
void pv_pool_forget_listed(struct pv_context *ctx, VkObjectType type, const void *handles,
                           uint32_t count);

/* Unlinks every struct of the given type from a decoded pNext chain (the decoder's own copy,
 * so it may be changed). */
static inline void pv_chain_remove(const void **chain, VkStructureType type)
{
    while (*chain) {
        VkBaseInStructure *s = (VkBaseInStructure *)*chain;
        if (s->sType == type)
            *chain = s->pNext;
        else
            chain = (const void **)&s->pNext;
    }
}

/* Whether a decoded pNext chain holds a struct of the given type. */
static inline bool pv_chain_has(const void *chain, VkStructureType type)
{
    for (const VkBaseInStructure *s = chain; s; s = s->pNext) {
        if (s->sType == type)
            return true;
    }
    return false;
}

/* Finds an object the host handle stands for, of the given type (NULL if none). */
static inline struct pv_object *pv_context_object_for_handle(struct pv_context *ctx,
                                                             VkObjectType type, uint64_t handle)
{
    return pv_object_table_find_handle(&ctx->objects, type, handle);
}

#endif
