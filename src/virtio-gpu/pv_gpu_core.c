/* Contexts, resources and fences of a VMM-side GPU (see pv_gpu_core.h). Resources are the
 * VMM's: a blob a context created stays here when the context detaches it, and a blob any
 * context attaches becomes a renderer blob of that context over the same pages. */
#define _GNU_SOURCE
#include "pv_gpu_core.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_log.h"

#define DEFAULT_MAX_CONTEXTS 1024u
#define DEFAULT_MAX_RESOURCES 65536u
#define RESOURCE_BUCKETS 4096u
/* The Venus capset is 160 bytes; a capset larger than this is a renderer bug. */
#define CAPSET_MAX_BYTES 4096u

/* The longest a guest's wait command in an execbuffer blocks the VMM's thread. */
#define PV_GPU_MAX_GUEST_WAIT_NS (1000ull * 1000 * 1000)

struct pending_fence {
    struct pv_gpu_fence fence;
    struct pending_fence *next;
};

struct gpu_context {
    uint32_t id;
    struct pv_context *renderer;
    int poll_fd;

    /* Ring fences wait here for the fence worker, in submission order. */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct pending_fence *pending, **pending_tail;
    bool worker_started;
    bool stop;
    pthread_t worker;
    struct pv_gpu *gpu;

    struct gpu_context *next;
};

struct gpu_resource {
    uint32_t id;
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint64_t blob_id;
    uint64_t size;
    uint32_t owner_ctx;        /* HOST3D: the context that made it */
    int fd;                    /* HOST3D: the renderer's fd for the pages; -1 for GUEST */
    struct iovec *iov;         /* GUEST: the guest's pages in this process */
    unsigned iov_count;
    void *map;                 /* the pages mapped here (lazily for HOST3D) */
    size_t map_size;
    uint32_t *attached;        /* contexts that have it as a renderer blob */
    unsigned attached_count;
    unsigned attached_capacity;
    void *priv;
    struct gpu_resource *next; /* bucket chain */
};

struct pv_gpu {
    struct pv_gpu_options options;
    long page_size;

    struct gpu_context *contexts;
    uint32_t context_count;
    struct gpu_resource *resources[RESOURCE_BUCKETS];
    uint32_t resource_count;

    /* Retired fences waiting for pv_gpu_poll; workers append under the lock. */
    pthread_mutex_t done_mutex;
    struct pending_fence *done, **done_tail;
    int poll_fd;
};

const char *pv_gpu_status_name(enum pv_gpu_status status)
{
    switch (status) {
    case PV_GPU_OK: return "ok";
    case PV_GPU_ERR_UNSPEC: return "unspecified error";
    case PV_GPU_ERR_OUT_OF_MEMORY: return "out of memory";
    case PV_GPU_ERR_INVALID_RESOURCE_ID: return "invalid resource id";
    case PV_GPU_ERR_INVALID_CONTEXT_ID: return "invalid context id";
    case PV_GPU_ERR_INVALID_PARAMETER: return "invalid parameter";
    }
    return "unknown";
}

static size_t round_up(size_t value, size_t align)
{
    return (value + align - 1) / align * align;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof(one));
    (void)ignored;
}

static void drain_fd(int fd)
{
    uint64_t value;
    ssize_t ignored = read(fd, &value, sizeof(value));
    (void)ignored;
}

/* -- capsets ---------------------------------------------------------------------------- */

void pv_gpu_capset_info_of(enum pv_venus_generation generation, uint32_t capset_id,
                           uint32_t *max_version, uint32_t *max_size)
{
    uint8_t buf[CAPSET_MAX_BYTES];
    size_t size = pv_renderer_fill_capset(capset_id, 0, generation, buf, sizeof(buf));
    *max_version = 0;
    *max_size = (uint32_t)size;
}

void pv_gpu_capset_info(struct pv_gpu *gpu, uint32_t capset_id, uint32_t *max_version,
                        uint32_t *max_size)
{
    pv_gpu_capset_info_of(gpu->options.renderer.generation, capset_id, max_version, max_size);
}

enum pv_gpu_status pv_gpu_capset_fill(struct pv_gpu *gpu, uint32_t capset_id, uint32_t version,
                                      void *buf, size_t size)
{
    uint8_t capset[CAPSET_MAX_BYTES];
    memset(capset, 0, sizeof(capset));
    size_t got = pv_renderer_fill_capset(capset_id, version, gpu->options.renderer.generation,
                                         capset, sizeof(capset));
    if (got == 0)
        return PV_GPU_ERR_INVALID_PARAMETER;
    memset(buf, 0, size);
    memcpy(buf, capset, got < size ? got : size);
    return PV_GPU_OK;
}

/* -- lifetime --------------------------------------------------------------------------- */

struct pv_gpu *pv_gpu_create(const struct pv_gpu_options *options)
{
    struct pv_gpu *gpu = calloc(1, sizeof(*gpu));
    if (!gpu)
        return NULL;
    if (options)
        gpu->options = *options;
    if (!gpu->options.max_contexts)
        gpu->options.max_contexts = DEFAULT_MAX_CONTEXTS;
    if (!gpu->options.max_resources)
        gpu->options.max_resources = DEFAULT_MAX_RESOURCES;
    gpu->page_size = sysconf(_SC_PAGESIZE);
    if (gpu->page_size <= 0)
        gpu->page_size = 4096;
    gpu->poll_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (gpu->poll_fd < 0) {
        pv_log("gpu: eventfd: %s", strerror(errno));
        free(gpu);
        return NULL;
    }
    pthread_mutex_init(&gpu->done_mutex, NULL);
    gpu->done_tail = &gpu->done;
    return gpu;
}

void pv_gpu_reset(struct pv_gpu *gpu)
{
    /* Resources first: releasing one detaches it from contexts that still exist. */
    for (unsigned b = 0; b < RESOURCE_BUCKETS; b++) {
        while (gpu->resources[b])
            pv_gpu_resource_unref(gpu, gpu->resources[b]->id);
    }
    while (gpu->contexts)
        pv_gpu_context_destroy(gpu, gpu->contexts->id);
}

void pv_gpu_destroy(struct pv_gpu *gpu)
{
    if (!gpu)
        return;
    pv_gpu_reset(gpu);
    while (gpu->done) {
        struct pending_fence *f = gpu->done;
        gpu->done = f->next;
        free(f);
    }
    close(gpu->poll_fd);
    pthread_mutex_destroy(&gpu->done_mutex);
    free(gpu);
}

/* -- fence retirement ------------------------------------------------------------------- */

static void retire_fence(struct pv_gpu *gpu, struct gpu_context *context,
                         const struct pv_gpu_fence *fence)
{
    if (gpu->options.direct_fence_callbacks) {
        if (gpu->options.fence_retired)
            gpu->options.fence_retired(gpu->options.fence_data, fence);
        return;
    }
    struct pending_fence *done = malloc(sizeof(*done));
    if (!done) {
        /* Losing a fence would hang the guest; call back at once instead. */
        pv_log("gpu: out of memory queueing fence %" PRIu64 "; reporting it directly",
               fence->fence_id);
        if (gpu->options.fence_retired)
            gpu->options.fence_retired(gpu->options.fence_data, fence);
        return;
    }
    done->fence = *fence;
    done->next = NULL;
    pthread_mutex_lock(&gpu->done_mutex);
    *gpu->done_tail = done;
    gpu->done_tail = &done->next;
    pthread_mutex_unlock(&gpu->done_mutex);
    if (context)
        signal_fd(context->poll_fd);
    signal_fd(gpu->poll_fd);
}

void pv_gpu_poll(struct pv_gpu *gpu, bool only_ctx, uint32_t ctx_id)
{
    /* Take the matching entries off under the lock, call back without it: a callback may
     * create fences or poll again. */
    pthread_mutex_lock(&gpu->done_mutex);
    struct pending_fence *taken = NULL, **taken_tail = &taken;
    struct pending_fence **link = &gpu->done;
    while (*link) {
        struct pending_fence *f = *link;
        if (!only_ctx || (f->fence.ctx_id == ctx_id && f->fence.on_ring)) {
            *link = f->next;
            f->next = NULL;
            *taken_tail = f;
            taken_tail = &f->next;
        } else {
            link = &f->next;
        }
    }
    gpu->done_tail = link;
    if (!only_ctx)
        drain_fd(gpu->poll_fd);
    pthread_mutex_unlock(&gpu->done_mutex);

    if (only_ctx) {
        for (struct gpu_context *c = gpu->contexts; c; c = c->next) {
            if (c->id == ctx_id)
                drain_fd(c->poll_fd);
        }
    } else {
        for (struct gpu_context *c = gpu->contexts; c; c = c->next)
            drain_fd(c->poll_fd);
    }
    while (taken) {
        struct pending_fence *f = taken;
        taken = f->next;
        if (gpu->options.fence_retired)
            gpu->options.fence_retired(gpu->options.fence_data, &f->fence);
        free(f);
    }
}

int pv_gpu_poll_fd(struct pv_gpu *gpu)
{
    return gpu->poll_fd;
}

/* -- contexts --------------------------------------------------------------------------- */

static struct gpu_context *find_context(struct pv_gpu *gpu, uint32_t ctx_id)
{
    for (struct gpu_context *c = gpu->contexts; c; c = c->next) {
        if (c->id == ctx_id)
            return c;
    }
    return NULL;
}

bool pv_gpu_context_exists(struct pv_gpu *gpu, uint32_t ctx_id)
{
    return find_context(gpu, ctx_id) != NULL;
}

int pv_gpu_context_poll_fd(struct pv_gpu *gpu, uint32_t ctx_id)
{
    struct gpu_context *c = find_context(gpu, ctx_id);
    return c ? c->poll_fd : -1;
}

/* Retires ring fences in order once the context's queues have caught up with them. All that
 * are pending when a wait starts share that wait. */
static void *fence_worker(void *arg)
{
    struct gpu_context *c = arg;
    pthread_mutex_lock(&c->mutex);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->cond, &c->mutex);
        if (!c->pending)
            break;   /* stopping with nothing left */
        struct pending_fence *batch = c->pending;
        c->pending = NULL;
        c->pending_tail = &c->pending;
        pthread_mutex_unlock(&c->mutex);

        /* A fatal context runs nothing more: its fences retire so the guest is not stuck. */
        pv_context_wait_idle(c->renderer);
        while (batch) {
            struct pending_fence *f = batch;
            batch = f->next;
            retire_fence(c->gpu, c, &f->fence);
            free(f);
        }
        pthread_mutex_lock(&c->mutex);
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

enum pv_gpu_status pv_gpu_context_create(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t capset_id,
                                         const char *name, size_t name_len)
{
    if (ctx_id == 0 || find_context(gpu, ctx_id)) {
        pv_log("gpu: context %" PRIu32 " is zero or exists already", ctx_id);
        return PV_GPU_ERR_INVALID_CONTEXT_ID;
    }
    if (capset_id != PV_CAPSET_VENUS) {
        pv_log("gpu: context %" PRIu32 " for capset %" PRIu32 "; only Venus (%d) is served",
               ctx_id, capset_id, PV_CAPSET_VENUS);
        return PV_GPU_ERR_INVALID_PARAMETER;
    }
    if (gpu->context_count >= gpu->options.max_contexts) {
        pv_log("gpu: context %" PRIu32 ": the limit of %" PRIu32 " contexts is reached", ctx_id,
               gpu->options.max_contexts);
        return PV_GPU_ERR_OUT_OF_MEMORY;
    }
    /* The name is only for log lines: printable, short. */
    char debug_name[64];
    size_t n = 0;
    while (name && n < name_len && n < sizeof(debug_name) - 1 && name[n]) {
        unsigned char ch = (unsigned char)name[n];
        debug_name[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    debug_name[n] = '\0';
    if (n == 0)
        strcpy(debug_name, "vm-guest");

    struct gpu_context *c = calloc(1, sizeof(*c));
    if (!c)
        return PV_GPU_ERR_OUT_OF_MEMORY;
    c->poll_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->poll_fd < 0) {
        pv_log("gpu: context %" PRIu32 ": eventfd: %s", ctx_id, strerror(errno));
        free(c);
        return PV_GPU_ERR_UNSPEC;
    }
    /* Execbuffers run on the VMM's control-queue thread, which serves every context of the
     * VM: a guest's wait there must not hold it for long. */
    struct pv_renderer_options options = gpu->options.renderer;
    if (!options.max_transport_wait_ns)
        options.max_transport_wait_ns = PV_GPU_MAX_GUEST_WAIT_NS;
    c->renderer = pv_context_create(ctx_id, debug_name, &options);
    if (!c->renderer) {
        close(c->poll_fd);
        free(c);
        return PV_GPU_ERR_UNSPEC;
    }
    c->id = ctx_id;
    c->gpu = gpu;
    pthread_mutex_init(&c->mutex, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->pending_tail = &c->pending;
    c->next = gpu->contexts;
    gpu->contexts = c;
    gpu->context_count++;
    pv_log("gpu: context %" PRIu32 " created for \"%s\"", ctx_id, debug_name);
    return PV_GPU_OK;
}

static struct gpu_resource *find_resource(struct pv_gpu *gpu, uint32_t res_id)
{
    for (struct gpu_resource *r = gpu->resources[res_id % RESOURCE_BUCKETS]; r; r = r->next) {
        if (r->id == res_id)
            return r;
    }
    return NULL;
}

static bool resource_attached(const struct gpu_resource *r, uint32_t ctx_id)
{
    for (unsigned i = 0; i < r->attached_count; i++) {
        if (r->attached[i] == ctx_id)
            return true;
    }
    return false;
}

static void resource_forget_context(struct gpu_resource *r, uint32_t ctx_id)
{
    for (unsigned i = 0; i < r->attached_count; i++) {
        if (r->attached[i] == ctx_id) {
            r->attached[i] = r->attached[--r->attached_count];
            return;
        }
    }
}

enum pv_gpu_status pv_gpu_context_destroy(struct pv_gpu *gpu, uint32_t ctx_id)
{
    struct gpu_context **link = &gpu->contexts;
    while (*link && (*link)->id != ctx_id)
        link = &(*link)->next;
    struct gpu_context *c = *link;
    if (!c)
        return PV_GPU_ERR_INVALID_CONTEXT_ID;
    *link = c->next;
    gpu->context_count--;

    /* The worker finishes its current wait and retires what is pending, then ends. Its wait
     * may be for work that never finishes (a queue waiting on what only the guest would
     * signal): the renderer cuts it short, or this thread would hang with it. */
    pv_context_stop(c->renderer);
    pthread_mutex_lock(&c->mutex);
    c->stop = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mutex);
    if (c->worker_started)
        pthread_join(c->worker, NULL);
    while (c->pending) {
        struct pending_fence *f = c->pending;
        c->pending = f->next;
        retire_fence(gpu, NULL, &f->fence);
        free(f);
    }

    /* Resources forget the context; the renderer releases its blobs with it. */
    for (unsigned b = 0; b < RESOURCE_BUCKETS; b++) {
        for (struct gpu_resource *r = gpu->resources[b]; r; r = r->next)
            resource_forget_context(r, ctx_id);
    }
    pv_context_destroy(c->renderer);

    /* Fences of this context still queued for poll stay there; only its fd goes. */
    close(c->poll_fd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mutex);
    free(c);
    pv_log("gpu: context %" PRIu32 " destroyed", ctx_id);
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_context_submit(struct pv_gpu *gpu, uint32_t ctx_id,
                                         const void *commands, size_t size)
{
    struct gpu_context *c = find_context(gpu, ctx_id);
    if (!c)
        return PV_GPU_ERR_INVALID_CONTEXT_ID;
    if (size == 0)
        return pv_context_is_fatal(c->renderer) ? PV_GPU_ERR_UNSPEC : PV_GPU_OK;
    if (pv_context_submit(c->renderer, commands, size) != 0)
        return PV_GPU_ERR_UNSPEC;
    return PV_GPU_OK;
}

/* -- resources -------------------------------------------------------------------------- */

/* Maps len bytes starting at iov[first] at dest: in one piece, or range by range when the
 * ranges lie in different mappings of this process. */
static int map_again(const struct iovec *iov, unsigned first, unsigned last, size_t len,
                     uint8_t *dest)
{
    if (mremap(iov[first].iov_base, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest) != MAP_FAILED)
        return 0;
    if (first == last)
        return -1;
    size_t done = 0;
    for (unsigned i = first; i <= last && done < len; i++) {
        size_t piece = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
        if (i == last)
            piece = len - done;   /* the rounded-up tail */
        if (mremap(iov[i].iov_base, 0, piece, MREMAP_MAYMOVE | MREMAP_FIXED, dest + done) ==
            MAP_FAILED)
            return -1;
        done += piece;
    }
    return 0;
}

/* Maps the page-aligned ranges of iov back to back, covering size bytes: a second mapping of
 * the same (shared) pages, which the caller owns. NULL if a range is unaligned, not shared
 * memory, or too short. */
static void *map_ranges(struct pv_gpu *gpu, const struct iovec *iov, unsigned count, uint64_t size,
                        size_t *out_size)
{
    size_t page = (size_t)gpu->page_size;
    size_t total = round_up((size_t)size, page);
    void *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    size_t done = 0;
    for (unsigned i = 0; i < count && done < total; i++) {
        size_t len = iov[i].iov_len;
        if (((uintptr_t)iov[i].iov_base & (page - 1)) || len == 0) {
            pv_log("gpu: guest memory range %u is not page-aligned or empty", i);
            goto fail;
        }
        /* Ranges that follow each other in this process are mapped in one piece: fewer
         * mappings for the guest to make us hold. */
        unsigned first = i;
        while (!(len & (page - 1)) && i + 1 < count && iov[i + 1].iov_len &&
               (uint8_t *)iov[first].iov_base + len == iov[i + 1].iov_base &&
               len + iov[i + 1].iov_len > len) {
            i++;
            len += iov[i].iov_len;
        }
        if (len & (page - 1)) {
            /* Only the range that ends the blob may end inside a page. */
            if (done + len < (size_t)size) {
                pv_log("gpu: guest memory range %u of %zu bytes is not whole pages", i, len);
                goto fail;
            }
            len = round_up(len, page);
        }
        if (len > total - done)
            len = total - done;
        if (map_again(iov, first, i, len, (uint8_t *)base + done) != 0) {
            pv_log("gpu: guest memory ranges %u..%u cannot be mapped again (%s); guest memory "
                   "must be shared memory", first, i, strerror(errno));
            goto fail;
        }
        done += len;
    }
    if (done < total) {
        pv_log("gpu: guest memory ranges cover %zu of %" PRIu64 " bytes", done, size);
        goto fail;
    }
    *out_size = total;
    return base;
fail:
    munmap(base, total);
    return NULL;
}

/* The pages of r mapped here once more, for a renderer blob of another context. */
static void *map_resource_again(struct pv_gpu *gpu, struct gpu_resource *r, size_t *out_size)
{
    if (r->fd >= 0) {
        size_t total = round_up((size_t)r->size, (size_t)gpu->page_size);
        void *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
        if (map == MAP_FAILED) {
            pv_log("gpu: resource %" PRIu32 ": mmap: %s", r->id, strerror(errno));
            return NULL;
        }
        *out_size = total;
        return map;
    }
    return map_ranges(gpu, r->iov, r->iov_count, r->size, out_size);
}

static bool resource_add_context(struct gpu_resource *r, uint32_t ctx_id)
{
    if (r->attached_count == r->attached_capacity) {
        unsigned capacity = r->attached_capacity ? r->attached_capacity * 2 : 4;
        uint32_t *grown = realloc(r->attached, capacity * sizeof(*grown));
        if (!grown)
            return false;
        r->attached = grown;
        r->attached_capacity = capacity;
    }
    r->attached[r->attached_count++] = ctx_id;
    return true;
}

/* Gives context c a renderer blob of r over the same pages. */
static enum pv_gpu_status attach_pages(struct pv_gpu *gpu, struct gpu_context *c,
                                       struct gpu_resource *r)
{
    if (!resource_add_context(r, c->id))
        return PV_GPU_ERR_OUT_OF_MEMORY;
    size_t map_size = 0;
    void *map = map_resource_again(gpu, r, &map_size);
    if (!map) {
        r->attached_count--;
        return PV_GPU_ERR_UNSPEC;
    }
    /* The renderer bounds-checks against the blob's size, not the rounded mapping; it unmaps
     * whole pages either way. */
    if (pv_context_adopt_blob(c->renderer, r->id, map, (size_t)r->size, -1) != 0) {
        munmap(map, map_size);
        r->attached_count--;
        return PV_GPU_ERR_UNSPEC;
    }
    return PV_GPU_OK;
}

static void resource_free(struct gpu_resource *r)
{
    if (r->map)
        munmap(r->map, r->map_size);
    if (r->fd >= 0)
        close(r->fd);
    free(r->iov);
    free(r->attached);
    free(r);
}

enum pv_gpu_status pv_gpu_resource_create_blob(struct pv_gpu *gpu,
                                               const struct pv_gpu_blob_args *a)
{
    if (a->res_id == 0 || find_resource(gpu, a->res_id)) {
        pv_log("gpu: blob resource id %" PRIu32 " is zero or taken", a->res_id);
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    }
    if (a->size == 0 || a->size > (uint64_t)SIZE_MAX / 2) {
        pv_log("gpu: blob resource %" PRIu32 ": bad size %" PRIu64, a->res_id, a->size);
        return PV_GPU_ERR_INVALID_PARAMETER;
    }
    if (a->blob_flags & ~(uint32_t)(PV_BLOB_FLAG_MAPPABLE | PV_BLOB_FLAG_SHAREABLE |
                                    PV_BLOB_FLAG_CROSS_DEVICE)) {
        pv_log("gpu: blob resource %" PRIu32 ": unknown flags %#" PRIx32, a->res_id,
               a->blob_flags);
        return PV_GPU_ERR_INVALID_PARAMETER;
    }
    if (gpu->resource_count >= gpu->options.max_resources) {
        pv_log("gpu: the limit of %" PRIu32 " resources is reached", gpu->options.max_resources);
        return PV_GPU_ERR_OUT_OF_MEMORY;
    }
    struct gpu_context *c = NULL;
    if (a->ctx_id) {
        c = find_context(gpu, a->ctx_id);
        if (!c)
            return PV_GPU_ERR_INVALID_CONTEXT_ID;
    }

    struct gpu_resource *r = calloc(1, sizeof(*r));
    if (!r)
        return PV_GPU_ERR_OUT_OF_MEMORY;
    r->id = a->res_id;
    r->blob_mem = a->blob_mem;
    r->blob_flags = a->blob_flags;
    r->blob_id = a->blob_id;
    r->size = a->size;
    r->fd = -1;
    enum pv_gpu_status status = PV_GPU_OK;

    switch (a->blob_mem) {
    case PV_BLOB_TYPE_GUEST: {
        if (a->blob_id != 0 || a->iov_count == 0) {
            pv_log("gpu: guest blob %" PRIu32 " with blob id %" PRIu64 " and %u memory ranges",
                   a->res_id, a->blob_id, a->iov_count);
            status = PV_GPU_ERR_INVALID_PARAMETER;
            break;
        }
        r->iov = calloc(a->iov_count, sizeof(*r->iov));
        if (!r->iov) {
            status = PV_GPU_ERR_OUT_OF_MEMORY;
            break;
        }
        memcpy(r->iov, a->iov, a->iov_count * sizeof(*r->iov));
        r->iov_count = a->iov_count;
        r->map = map_ranges(gpu, r->iov, r->iov_count, r->size, &r->map_size);
        if (!r->map) {
            status = PV_GPU_ERR_INVALID_PARAMETER;
            break;
        }
        if (c)
            status = attach_pages(gpu, c, r);
        break;
    }
    case PV_BLOB_TYPE_HOST3D: {
        if (!c || a->iov_count) {
            pv_log("gpu: host blob %" PRIu32 " needs a context (has %" PRIu32 ") and no guest "
                   "memory (has %u ranges)", a->res_id, a->ctx_id, a->iov_count);
            status = c ? PV_GPU_ERR_INVALID_PARAMETER : PV_GPU_ERR_INVALID_CONTEXT_ID;
            break;
        }
        if (pv_context_create_blob(c->renderer, a->res_id, a->blob_mem, a->blob_flags, a->blob_id,
                                   a->size, &r->fd) != 0) {
            r->fd = -1;
            status = PV_GPU_ERR_INVALID_PARAMETER;
            break;
        }
        if (!resource_add_context(r, c->id)) {
            pv_context_destroy_blob(c->renderer, a->res_id);
            status = PV_GPU_ERR_OUT_OF_MEMORY;
            break;
        }
        r->owner_ctx = c->id;
        break;
    }
    default:
        pv_log("gpu: blob resource %" PRIu32 ": blob_mem %" PRIu32 " is not served", a->res_id,
               a->blob_mem);
        status = PV_GPU_ERR_INVALID_PARAMETER;
        break;
    }
    if (status != PV_GPU_OK) {
        resource_free(r);
        return status;
    }
    r->next = gpu->resources[r->id % RESOURCE_BUCKETS];
    gpu->resources[r->id % RESOURCE_BUCKETS] = r;
    gpu->resource_count++;
    pv_debug("gpu: blob resource %" PRIu32 ": %" PRIu64 " bytes, blob_mem %" PRIu32
             ", flags %#" PRIx32 ", blob id %" PRIu64 ", context %" PRIu32, r->id, r->size,
             r->blob_mem, r->blob_flags, r->blob_id, a->ctx_id);
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_resource_unref(struct pv_gpu *gpu, uint32_t res_id)
{
    struct gpu_resource **link = &gpu->resources[res_id % RESOURCE_BUCKETS];
    while (*link && (*link)->id != res_id)
        link = &(*link)->next;
    struct gpu_resource *r = *link;
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    *link = r->next;
    gpu->resource_count--;
    for (unsigned i = 0; i < r->attached_count; i++) {
        struct gpu_context *c = find_context(gpu, r->attached[i]);
        if (c)
            pv_context_destroy_blob(c->renderer, res_id);
    }
    resource_free(r);
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_context_attach(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t res_id)
{
    struct gpu_context *c = find_context(gpu, ctx_id);
    if (!c)
        return PV_GPU_ERR_INVALID_CONTEXT_ID;
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    if (resource_attached(r, ctx_id))
        return PV_GPU_OK;
    return attach_pages(gpu, c, r);
}

enum pv_gpu_status pv_gpu_context_detach(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t res_id)
{
    struct gpu_context *c = find_context(gpu, ctx_id);
    if (!c)
        return PV_GPU_ERR_INVALID_CONTEXT_ID;
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    if (!resource_attached(r, ctx_id))
        return PV_GPU_OK;
    resource_forget_context(r, ctx_id);
    pv_context_destroy_blob(c->renderer, res_id);
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_resource_info(struct pv_gpu *gpu, uint32_t res_id,
                                        struct pv_gpu_resource_info *info)
{
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    info->blob_mem = r->blob_mem;
    info->blob_flags = r->blob_flags;
    info->size = r->size;
    info->exportable = r->fd >= 0;
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_resource_map(struct pv_gpu *gpu, uint32_t res_id, void **map,
                                       uint64_t *size)
{
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    if (!r->map) {
        r->map = map_resource_again(gpu, r, &r->map_size);
        if (!r->map)
            return PV_GPU_ERR_UNSPEC;
    }
    *map = r->map;
    *size = r->map_size;
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_resource_export(struct pv_gpu *gpu, uint32_t res_id, int *fd)
{
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    if (r->fd < 0)
        return PV_GPU_ERR_INVALID_PARAMETER;
    int copy = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        pv_log("gpu: resource %" PRIu32 ": dup: %s", res_id, strerror(errno));
        return PV_GPU_ERR_UNSPEC;
    }
    *fd = copy;
    return PV_GPU_OK;
}

enum pv_gpu_status pv_gpu_resource_set_priv(struct pv_gpu *gpu, uint32_t res_id, void *priv)
{
    struct gpu_resource *r = find_resource(gpu, res_id);
    if (!r)
        return PV_GPU_ERR_INVALID_RESOURCE_ID;
    r->priv = priv;
    return PV_GPU_OK;
}

void *pv_gpu_resource_get_priv(struct pv_gpu *gpu, uint32_t res_id)
{
    struct gpu_resource *r = find_resource(gpu, res_id);
    return r ? r->priv : NULL;
}

/* -- fences ----------------------------------------------------------------------------- */

enum pv_gpu_status pv_gpu_fence_create(struct pv_gpu *gpu, uint32_t ctx_id, bool on_ring,
                                       uint32_t ring_idx, uint64_t fence_id, uint64_t cookie,
                                       bool *retired)
{
    *retired = false;
    struct gpu_context *c = NULL;
    if (on_ring) {
        c = find_context(gpu, ctx_id);
        if (!c)
            return PV_GPU_ERR_INVALID_CONTEXT_ID;
        if (ring_idx >= PV_GPU_MAX_RINGS)
            return PV_GPU_ERR_INVALID_PARAMETER;
    }
    struct pv_gpu_fence fence = {
        .ctx_id = ctx_id,
        .on_ring = on_ring,
        .ring_idx = on_ring ? ring_idx : 0,
        .fence_id = fence_id,
        .cookie = cookie,
    };
    if (!on_ring || ring_idx == 0) {
        /* Execution is synchronous: everything before this fence has run. */
        *retired = true;
        if (!gpu->options.quiet_immediate_fences)
            retire_fence(gpu, c, &fence);
        return PV_GPU_OK;
    }

    struct pending_fence *f = malloc(sizeof(*f));
    if (!f)
        return PV_GPU_ERR_OUT_OF_MEMORY;
    f->fence = fence;
    f->next = NULL;
    pthread_mutex_lock(&c->mutex);
    if (!c->worker_started) {
        if (pthread_create(&c->worker, NULL, fence_worker, c) != 0) {
            pthread_mutex_unlock(&c->mutex);
            free(f);
            pv_log("gpu: context %" PRIu32 ": cannot start its fence worker", ctx_id);
            return PV_GPU_ERR_UNSPEC;
        }
        c->worker_started = true;
    }
    *c->pending_tail = f;
    c->pending_tail = &f->next;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mutex);
    return PV_GPU_OK;
}
