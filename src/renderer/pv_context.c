/* Guest contexts: lifetime, blobs, the reply stream and the decode loop (see pv_context.h). */
#define _GNU_SOURCE
#include "pv_context.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pv_device.h"
#include "pv_instance.h"
#include "pv_log.h"
#include "pv_time.h"
#include "pv_ring.h"

/* Most bytes one decoded command may allocate (structs, arrays, strings). */
#define PV_CONTEXT_ARENA_LIMIT (256u << 20)

struct pv_context *pv_context_create(uint32_t context_id, const char *debug_name,
                                     const struct pv_renderer_options *options)
{
    struct pv_context *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        pv_log("context %u: out of memory", context_id);
        return NULL;
    }
    ctx->fatal_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->fatal_fd < 0) {
        pv_log("context %u: eventfd: %s", context_id, strerror(errno));
        free(ctx);
        return NULL;
    }
    ctx->id = context_id;
    snprintf(ctx->name, sizeof(ctx->name), "%s", debug_name ? debug_name : "guest");
    if (options)
        ctx->options = *options;
    const char *stats = getenv("PVGPU_COMMAND_STATS");
    ctx->time_commands = stats && *stats;
    if (!ctx->options.max_objects)
        ctx->options.max_objects = PV_DEFAULT_MAX_OBJECTS;
    if (!ctx->options.max_memory_bytes)
        ctx->options.max_memory_bytes = PV_DEFAULT_MAX_MEMORY_BYTES;
    if (!ctx->options.max_blobs)
        ctx->options.max_blobs = PV_DEFAULT_MAX_BLOBS;
    if (!ctx->options.max_rings)
        ctx->options.max_rings = PV_DEFAULT_MAX_RINGS;
    pthread_mutex_init(&ctx->mutex, NULL);
    pv_cond_init_monotonic(&ctx->progress);
    pv_object_table_init(&ctx->objects);
    pv_channel_init(ctx, &ctx->transport);
    pv_debug("context %u (%s): created", ctx->id, ctx->name);
    return ctx;
}

void pv_context_get_usage(struct pv_context *ctx, struct pv_context_usage *usage)
{
    pthread_mutex_lock(&ctx->mutex);
    usage->objects = ctx->objects.count;
    usage->memory_bytes = ctx->memory_bytes;
    usage->blobs = ctx->blob_count;
    usage->rings = ctx->ring_count;
    pthread_mutex_unlock(&ctx->mutex);
}

/* One "name count nanoseconds" line per command the context ran, in
 * PVGPU_COMMAND_STATS/<name>-<pid>.txt. */
static void write_command_stats(struct pv_context *ctx)
{
    const char *dir = getenv("PVGPU_COMMAND_STATS");
    if (!dir || !*dir)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%d.txt", dir, ctx->name, (int)getpid());
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p == '/')
            *p = '_';
    }
    FILE *f = fopen(path, "we");
    if (!f) {
        pv_log("context %u (%s): cannot write %s: %s", ctx->id, ctx->name, path, strerror(errno));
        return;
    }
    for (uint32_t i = 0; i < PV_COMMAND_COUNT; i++) {
        if (ctx->command_counts[i])
            fprintf(f, "%s %llu %llu\n", pv_command_table[i].name,
                    (unsigned long long)ctx->command_counts[i],
                    (unsigned long long)ctx->command_ns[i]);
    }
    fclose(f);
}

void pv_context_stop(struct pv_context *ctx)
{
    pthread_mutex_lock(&ctx->mutex);
    ctx->stopping = true;
    pthread_cond_broadcast(&ctx->progress);
    pthread_mutex_unlock(&ctx->mutex);
}

void pv_context_destroy(struct pv_context *ctx)
{
    if (!ctx)
        return;
    write_command_stats(ctx);
    struct pv_context_usage before;
    pv_context_get_usage(ctx, &before);
    /* Rings first: their workers use everything else. Joined without the lock held, since a
     * worker may be waiting for it; a worker waiting on the host or on the transport gives up
     * at its next look at ctx->stopping. */
    pthread_mutex_lock(&ctx->mutex);
    ctx->stopping = true;
    pthread_cond_broadcast(&ctx->progress);
    pv_ring_stop_all(ctx);
    pthread_mutex_unlock(&ctx->mutex);
    pv_ring_join_stopped(ctx);
    pv_ring_monitor_destroy(ctx);

    while (ctx->instances)
        pv_instance_destroy(ctx, ctx->instances);

    pv_channel_finish(&ctx->transport);
    if (ctx->shared_reply.blob)
        pv_blob_unref(ctx->shared_reply.blob);
    for (uint32_t i = 0; i < ctx->blob_bucket_count; i++) {
        while (ctx->blob_buckets[i]) {
            struct pv_blob *blob = ctx->blob_buckets[i];
            ctx->blob_buckets[i] = blob->next;
            ctx->blob_count--;
            ctx->memory_bytes -= blob->counted;
            pv_blob_unref(blob);
        }
    }
    free(ctx->blob_buckets);
    ctx->blob_buckets = NULL;
    ctx->blob_bucket_count = 0;
    /* What the guest left behind is gone now; say how much, and prove it is all of it. */
    pv_log("context %u (%s): teardown released %llu objects, %llu bytes of memory, %u blobs, "
           "%u rings; left: %zu objects, %llu bytes, %u blobs, %u rings", ctx->id, ctx->name,
           (unsigned long long)before.objects, (unsigned long long)before.memory_bytes,
           before.blobs, before.rings, ctx->objects.count,
           (unsigned long long)ctx->memory_bytes, ctx->blob_count, ctx->ring_count);
    pv_object_table_finish(&ctx->objects);
    pthread_cond_destroy(&ctx->progress);
    pthread_mutex_destroy(&ctx->mutex);
    close(ctx->fatal_fd);
    pv_debug("context %u (%s): destroyed", ctx->id, ctx->name);
    free(ctx);
}

void pv_context_set_fatal(struct pv_context *ctx, const char *fmt, ...)
{
    if (ctx->fatal)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->fatal_reason, sizeof(ctx->fatal_reason), fmt, ap);
    va_end(ap);
    ctx->fatal = true;
    pv_log("context %u (%s): fatal: %s", ctx->id, ctx->name, ctx->fatal_reason);
    /* Current guests check this bit and abort with a message instead of waiting forever. */
    pv_ring_mark_fatal(ctx);
    pthread_cond_broadcast(&ctx->progress);
    uint64_t one = 1;
    ssize_t ignored = write(ctx->fatal_fd, &one, sizeof(one));
    (void)ignored;
}

bool pv_context_is_fatal(const struct pv_context *ctx)
{
    return ctx->fatal;
}

int pv_context_fatal_fd(const struct pv_context *ctx)
{
    return ctx->fatal_fd;
}

const char *pv_context_fatal_reason(const struct pv_context *ctx)
{
    return ctx->fatal ? ctx->fatal_reason : NULL;
}

void pv_channel_init(struct pv_context *ctx, struct pv_channel *channel)
{
    memset(channel, 0, sizeof(*channel));
    channel->reply = ctx->options.generation == PV_VENUS_2022 ? &ctx->shared_reply
                                                              : &channel->own_reply;
    for (unsigned i = 0; i < PV_CONTEXT_MAX_DEPTH; i++)
        pv_arena_init(&channel->arenas[i], PV_CONTEXT_ARENA_LIMIT);
}

void pv_channel_finish(struct pv_channel *channel)
{
    if (channel->own_reply.blob)
        pv_blob_unref(channel->own_reply.blob);
    channel->own_reply.blob = NULL;
    for (unsigned i = 0; i < PV_CONTEXT_MAX_DEPTH; i++)
        pv_arena_finish(&channel->arenas[i]);
}

void pv_context_wait_begin(struct pv_context *ctx, struct pv_context_wait *wait)
{
    wait->channel = ctx->channel;
    wait->command = ctx->current_command;
    pthread_mutex_unlock(&ctx->mutex);
}

void pv_context_wait_end(struct pv_context *ctx, struct pv_context_wait *wait)
{
    pthread_mutex_lock(&ctx->mutex);
    ctx->channel = wait->channel;
    ctx->current_command = wait->command;
}

void pv_context_set_peer_check(struct pv_context *ctx, bool (*gone)(void *data), void *data)
{
    pthread_mutex_lock(&ctx->mutex);
    ctx->peer_gone = gone;
    ctx->peer_data = data;
    pthread_mutex_unlock(&ctx->mutex);
}

bool pv_context_waits_end(struct pv_context *ctx)
{
    /* The transport's thread is the one that would notice a guest leaving, and it is the one
     * waiting: it asks. */
    if (!ctx->stopping && ctx->channel == &ctx->transport && ctx->peer_gone &&
        ctx->peer_gone(ctx->peer_data)) {
        pv_log("context %u (%s): the guest left while %s waited; giving up the wait", ctx->id,
               ctx->name, ctx->current_command ? ctx->current_command : "the transport");
        ctx->stopping = true;
        pthread_cond_broadcast(&ctx->progress);
    }
    return ctx->fatal || ctx->stopping || ctx->channel->stopping;
}

void pv_context_wait_for(struct pv_context *ctx, bool (*done)(struct pv_context *ctx, void *data),
                         void *data)
{
    if (done(ctx, data) || ctx->options.rings_without_workers)
        return;
    struct pv_context_wait wait = { ctx->channel, ctx->current_command };
    while (!pv_context_waits_end(ctx) && !done(ctx, data)) {
        /* In slices, so that a guest gone meanwhile is noticed (pv_context_waits_end). */
        const struct timespec until = pv_deadline(PV_CONTEXT_WAIT_SLICE_NS);
        pthread_cond_timedwait(&ctx->progress, &ctx->mutex, &until);
        /* Other channels ran while the lock was free: this one is current again. */
        ctx->channel = wait.channel;
        ctx->current_command = wait.command;
    }
}

struct pv_ring *pv_ring_of_channel(struct pv_context *ctx, struct pv_channel *channel)
{
    if (channel == &ctx->transport)
        return NULL;
    return (struct pv_ring *)((char *)channel - offsetof(struct pv_ring, channel));
}

void pv_context_execute(struct pv_context *ctx, struct pv_channel *channel, const uint8_t *data,
                        size_t size)
{
    if (channel->depth >= PV_CONTEXT_MAX_DEPTH) {
        pv_context_set_fatal(ctx, "vkExecuteCommandStreamsMESA: streams nested too deeply");
        return;
    }
    if (ctx->options.record_batch)
        ctx->options.record_batch(ctx->options.record_batch_data, data, size);
    ctx->channel = channel;
    struct pv_arena *arena = &channel->arenas[channel->depth];
    channel->depth++;
    struct pv_cs_decoder d = {
        .cur = data,
        .end = data + size,
        .arena = arena,
        .objects = &ctx->objects,
    };
    while (d.cur < d.end && !ctx->fatal) {
        uint32_t type, flags;
        d.command = NULL;
        d.device = NULL;
        if (!pv_cs_u32(&d, &type) || !pv_cs_u32(&d, &flags)) {
            pv_context_set_fatal(ctx, "command header truncated (%zu bytes left)",
                                 pv_cs_remaining(&d));
            break;
        }
        const struct pv_command_info *info =
            type < PV_COMMAND_COUNT ? &pv_command_table[type] : NULL;
        if (!info || !info->name) {
            pv_context_set_fatal(ctx, "unknown command type %u", type);
            break;
        }
        if (!info->dispatch) {
            pv_context_set_fatal(ctx, "%s: the protocol cannot carry it (%s)", info->name,
                                 info->why);
            break;
        }
        if (flags & ~(uint32_t)VK_COMMAND_GENERATE_REPLY_BIT_EXT) {
            pv_context_set_fatal(ctx, "%s: unknown command flags 0x%x", info->name, flags);
            break;
        }
        d.command = info->name;
        ctx->channel = channel;
        ctx->current_command = info->name;
        ctx->command_counts[type]++;
        if (ctx->time_commands) {
            uint64_t start = pv_now_ns();
            info->dispatch(ctx, &d, flags);
            ctx->command_ns[type] += pv_now_ns() - start;
        } else {
            info->dispatch(ctx, &d, flags);
        }
        if (d.failed)
            pv_context_set_fatal(ctx, "%s: %s", info->name, d.error);
        pv_arena_reset(arena);
        if (channel->depth == 1 && channel->advanced && !ctx->fatal)
            channel->advanced(channel, (size_t)(d.cur - data));
    }
    ctx->current_command = NULL;
    channel->depth--;
}

int pv_context_submit(struct pv_context *ctx, const void *commands, size_t size)
{
    pthread_mutex_lock(&ctx->mutex);
    if (!ctx->fatal)
        pv_context_execute(ctx, &ctx->transport, commands, size);
    bool fatal = ctx->fatal;
    pthread_mutex_unlock(&ctx->mutex);
    pv_ring_join_stopped(ctx);
    return fatal ? -1 : 0;
}

/* -- reply stream ----------------------------------------------------------------------- */

bool pv_context_reply_begin(struct pv_context *ctx, struct pv_cs_encoder *e)
{
    /* A command the context was made fatal for gets no reply: the guest must not read one
     * that looks whole. */
    if (ctx->fatal)
        return false;
    const struct pv_reply_stream *reply = ctx->channel->reply;
    if (!reply->blob) {
        pv_context_set_fatal(ctx, "%s: a reply is asked for but no reply stream is set",
                             ctx->current_command ? ctx->current_command : "command");
        return false;
    }
    uint8_t *base = (uint8_t *)reply->blob->map + reply->offset;
    e->cur = base + reply->position;
    e->end = base + reply->size;
    e->objects = &ctx->objects;
    e->failed = reply->position > reply->size;
    return true;
}

void pv_context_reply_end(struct pv_context *ctx, struct pv_cs_encoder *e, const char *command)
{
    if (e->failed)
        pv_context_set_fatal(ctx, "%s: the reply does not fit the reply stream", command);
}

/* -- blobs ------------------------------------------------------------------------------ */

void pv_blob_ref(struct pv_blob *blob)
{
    blob->refs++;
}

void pv_blob_unref(struct pv_blob *blob)
{
    if (--blob->refs > 0)
        return;
    if (blob->map)
        munmap(blob->map, blob->size);
    if (blob->fd >= 0)
        close(blob->fd);
    free(blob);
}

static struct pv_blob **blob_bucket(struct pv_context *ctx, uint32_t res_id)
{
    /* Guests number resources 1, 2, 3...: a multiplicative hash spreads them. */
    const uint32_t hash = (res_id * 2654435761u) >> 8;
    return &ctx->blob_buckets[hash & (ctx->blob_bucket_count - 1)];
}

struct pv_blob *pv_context_find_blob(struct pv_context *ctx, uint32_t res_id)
{
    if (!ctx->blob_bucket_count)
        return NULL;
    for (struct pv_blob *b = *blob_bucket(ctx, res_id); b; b = b->next) {
        if (b->res_id == res_id)
            return b;
    }
    return NULL;
}

/* Doubles the buckets once blobs outnumber them; false when memory is short (the chains stay
 * as they are, only longer). */
static bool blob_buckets_grow(struct pv_context *ctx)
{
    const uint32_t count = ctx->blob_bucket_count ? ctx->blob_bucket_count * 2 : 64;
    struct pv_blob **buckets = calloc(count, sizeof(*buckets));
    if (!buckets)
        return false;
    struct pv_blob **old = ctx->blob_buckets;
    const uint32_t old_count = ctx->blob_bucket_count;
    ctx->blob_buckets = buckets;
    ctx->blob_bucket_count = count;
    for (uint32_t i = 0; i < old_count; i++) {
        while (old[i]) {
            struct pv_blob *blob = old[i];
            old[i] = blob->next;
            struct pv_blob **bucket = blob_bucket(ctx, blob->res_id);
            blob->next = *bucket;
            *bucket = blob;
        }
    }
    free(old);
    return true;
}

static struct pv_blob *blob_create_shmem(struct pv_context *ctx, uint32_t res_id, uint64_t size)
{
    if (size == 0 || size > SIZE_MAX / 2) {
        pv_log("context %u (%s): blob %u: bad size %llu", ctx->id, ctx->name, res_id,
               (unsigned long long)size);
        return NULL;
    }
    /* Plain shared memory is memory the guest makes the host hold, like device memory. */
    if (size > ctx->options.max_memory_bytes - ctx->memory_bytes) {
        pv_log("context %u (%s): blob %u of %llu bytes passes the context's memory limit of "
               "%llu bytes", ctx->id, ctx->name, res_id, (unsigned long long)size,
               (unsigned long long)ctx->options.max_memory_bytes);
        return NULL;
    }
    int fd = memfd_create("pvgpu-blob", MFD_CLOEXEC);
    if (fd < 0) {
        pv_log("context %u (%s): memfd_create failed: %s", ctx->id, ctx->name, strerror(errno));
        return NULL;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        pv_log("context %u (%s): blob of %llu bytes: %s", ctx->id, ctx->name,
               (unsigned long long)size, strerror(errno));
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        pv_log("context %u (%s): mmap of a %llu-byte blob failed: %s", ctx->id, ctx->name,
               (unsigned long long)size, strerror(errno));
        close(fd);
        return NULL;
    }
    struct pv_blob *blob = calloc(1, sizeof(*blob));
    if (!blob) {
        munmap(map, (size_t)size);
        close(fd);
        return NULL;
    }
    blob->res_id = res_id;
    blob->refs = 1;
    blob->map = map;
    blob->size = (size_t)size;
    blob->fd = fd;
    blob->counted = size;
    return blob;
}

int pv_context_create_blob(struct pv_context *ctx, uint32_t res_id, uint32_t blob_type,
                           uint32_t blob_flags, uint64_t blob_id, uint64_t size, int *out_fd)
{
    pthread_mutex_lock(&ctx->mutex);
    int ret = -1;
    if (!pv_context_blob_admissible(ctx, res_id))
        goto out;
    if (blob_type != PV_BLOB_TYPE_GUEST && blob_type != PV_BLOB_TYPE_HOST3D) {
        pv_log("context %u (%s): blob type %u is not supported", ctx->id, ctx->name, blob_type);
        goto out;
    }
    (void)blob_flags;
    struct pv_blob *blob;
    if (blob_id != 0) {
        /* The blob of a VkDeviceMemory: its own shared pages, so the guest's mapping is the
         * memory itself. */
        blob = pv_device_memory_blob(ctx, blob_id, size);
        if (!blob)
            goto out;
        blob->res_id = res_id;
        pv_blob_ref(blob);
    } else {
        blob = blob_create_shmem(ctx, res_id, size);
        if (!blob)
            goto out;
    }
    /* Close-on-exec: an embedding VMM forks helpers that must not inherit guest memory. */
    int fd = fcntl(blob->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        pv_blob_unref(blob);
        goto out;
    }
    if (!pv_context_add_blob(ctx, blob)) {
        close(fd);
        blob->res_id = 0;
        pv_blob_unref(blob);
        goto out;
    }
    *out_fd = fd;
    ret = 0;
out:
    pthread_mutex_unlock(&ctx->mutex);
    return ret;
}

bool pv_context_add_blob(struct pv_context *ctx, struct pv_blob *blob)
{
    if (ctx->blob_count >= ctx->blob_bucket_count && !blob_buckets_grow(ctx) &&
        !ctx->blob_bucket_count) {
        pv_log("context %u (%s): out of memory for blob %u", ctx->id, ctx->name, blob->res_id);
        return false;
    }
    struct pv_blob **bucket = blob_bucket(ctx, blob->res_id);
    blob->next = *bucket;
    *bucket = blob;
    ctx->blob_count++;
    ctx->memory_bytes += blob->counted;
    return true;
}

bool pv_context_blob_admissible(struct pv_context *ctx, uint32_t res_id)
{
    if (ctx->fatal) {
        pv_log("context %u (%s): no blob %u for a fatal context", ctx->id, ctx->name, res_id);
        return false;
    }
    if (ctx->blob_count >= ctx->options.max_blobs) {
        pv_log("context %u (%s): blob limit of %u reached", ctx->id, ctx->name,
               ctx->options.max_blobs);
        return false;
    }
    if (res_id == 0 || pv_context_find_blob(ctx, res_id)) {
        pv_log("context %u (%s): blob id %u is zero or taken", ctx->id, ctx->name, res_id);
        return false;
    }
    return true;
}

void pv_context_destroy_blob(struct pv_context *ctx, uint32_t res_id)
{
    pthread_mutex_lock(&ctx->mutex);
    struct pv_blob **link = ctx->blob_bucket_count ? blob_bucket(ctx, res_id) : NULL;
    while (link && *link && (*link)->res_id != res_id)
        link = &(*link)->next;
    if (link && *link) {
        struct pv_blob *blob = *link;
        *link = blob->next;
        /* Memory may be exported again once the guest dropped its blob. */
        blob->res_id = 0;
        blob->next = NULL;
        ctx->blob_count--;
        ctx->memory_bytes -= blob->counted;
        blob->counted = 0;
        pv_blob_unref(blob);
    } else {
        pv_log("context %u (%s): unref of unknown blob %u ignored", ctx->id, ctx->name, res_id);
    }
    pthread_mutex_unlock(&ctx->mutex);
}

/* -- objects ---------------------------------------------------------------------------- */

bool pv_context_add_object(struct pv_context *ctx, struct pv_object *obj)
{
    if (ctx->objects.count >= ctx->options.max_objects) {
        pv_context_set_fatal(ctx, "%s: the context's limit of %llu objects is reached",
                             ctx->current_command,
                             (unsigned long long)ctx->options.max_objects);
        return false;
    }
    if (pv_object_table_insert(&ctx->objects, obj))
        return true;
    if (obj->id == 0)
        pv_context_set_fatal(ctx, "%s: a new %s has id 0", ctx->current_command,
                             pv_object_type_name(obj->type));
    else if (pv_object_table_lookup(&ctx->objects, obj->id))
        pv_context_set_fatal(ctx, "%s: id 0x%llx of a new %s is already in use",
                             ctx->current_command, (unsigned long long)obj->id,
                             pv_object_type_name(obj->type));
    else
        pv_context_set_fatal(ctx, "%s: out of memory", ctx->current_command);
    return false;
}

void pv_context_remove_object(struct pv_context *ctx, struct pv_object *obj)
{
    pv_object_table_remove(&ctx->objects, obj->id);
}

struct pv_object *pv_context_bind_object(struct pv_context *ctx, struct pv_object *parent,
                                         VkObjectType type, uint64_t id, uint64_t handle)
{
    return pv_context_bind_object_of(ctx, parent, type, id, handle, sizeof(struct pv_object));
}

struct pv_object *pv_context_bind_object_of(struct pv_context *ctx, struct pv_object *parent,
                                            VkObjectType type, uint64_t id, uint64_t handle,
                                            size_t object_size)
{
    struct pv_object *obj = calloc(1, object_size);
    if (obj) {
        obj->id = id;
        obj->type = type;
        obj->handle = handle;
        obj->instance = parent->instance;
        obj->device = parent->device;
        if (pv_context_add_object(ctx, obj))
            return obj;
        free(obj);
    } else {
        pv_context_set_fatal(ctx, "%s: out of memory", ctx->current_command);
    }
    if (parent->device)
        pv_destroy_host_object(parent->device, type, handle);
    return NULL;
}

void pv_context_forget_object(struct pv_context *ctx, struct pv_object *obj)
{
    pv_context_remove_object(ctx, obj);
    if (obj->pool) {
        if (obj->pool_prev)
            obj->pool_prev->pool_next = obj->pool_next;
        else
            obj->pool->children = obj->pool_next;
        if (obj->pool_next)
            obj->pool_next->pool_prev = obj->pool_prev;
        obj->pool = NULL;
    }
    if (obj->release)
        obj->release(ctx, obj);
    else
        free(obj);
}
