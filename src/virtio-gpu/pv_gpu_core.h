/* The state a VMM-side GPU holds, shared by the virtio-gpu device model and the
 * virglrenderer-compatible library: contexts by id, resources (blobs) by id and which contexts
 * see them, and fences with their per-ring timelines. The front ends only translate their wire
 * format or ABI into these calls.
 *
 * Threads: every call but pv_gpu_poll_fd's readers comes from one thread at a time (the VMM's
 * device thread). Fence workers run beside it and touch only their own context's renderer
 * state and the completion queue. */
#ifndef PV_GPU_CORE_H
#define PV_GPU_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "pv_renderer.h"

/* Outcomes of the calls below; the virtio-gpu front end maps them to the spec's response types,
 * the virglrenderer one to negative errno values. */
enum pv_gpu_status {
    PV_GPU_OK = 0,
    PV_GPU_ERR_UNSPEC,
    PV_GPU_ERR_OUT_OF_MEMORY,
    PV_GPU_ERR_INVALID_RESOURCE_ID,
    PV_GPU_ERR_INVALID_CONTEXT_ID,
    PV_GPU_ERR_INVALID_PARAMETER,
};

const char *pv_gpu_status_name(enum pv_gpu_status status);

/* Rings (fence timelines) a context may use, ring 0 being the CPU ring. */
#define PV_GPU_MAX_RINGS 64

/* A retired fence as the front ends get it back. */
struct pv_gpu_fence {
    uint32_t ctx_id;
    bool on_ring;      /* a context fence on ring ring_idx; else the device-wide timeline */
    uint32_t ring_idx;
    uint64_t fence_id;
    uint64_t cookie;   /* the front end's, handed back unchanged */
};

typedef void (*pv_gpu_fence_fn)(void *data, const struct pv_gpu_fence *fence);

struct pv_gpu_options {
    struct pv_renderer_options renderer;
    uint32_t max_contexts;    /* 0: 1024 */
    uint32_t max_resources;   /* 0: 65536 */

    /* Where retired fences go. Queued for pv_gpu_poll (and the poll fds made readable) unless
     * direct is set; then called at once from the retiring thread, which is the caller's for
     * fences that retire on creation and a fence worker's for the others. */
    pv_gpu_fence_fn fence_retired;
    void *fence_data;
    bool direct_fence_callbacks;
    /* Fences that retire on creation are only reported through pv_gpu_fence_create's
     * *retired, not to fence_retired (the virtio-gpu front end answers those at once). */
    bool quiet_immediate_fences;
};

struct pv_gpu;

struct pv_gpu *pv_gpu_create(const struct pv_gpu_options *options);
/* Destroys every context and resource; pending fences are dropped without a callback. */
void pv_gpu_destroy(struct pv_gpu *gpu);

/* Capsets: only Venus (PV_CAPSET_VENUS, version 0). max_size 0 means not served. */
/* The capset is the one of options.renderer.generation. Its version and size depend on the
 * generation only, so a VMM may ask before it creates the GPU (QEMU lists its capsets when the
 * device is realized, before the renderer starts): pv_gpu_capset_info_of. */
void pv_gpu_capset_info_of(enum pv_venus_generation generation, uint32_t capset_id,
                           uint32_t *max_version, uint32_t *max_size);
void pv_gpu_capset_info(struct pv_gpu *gpu, uint32_t capset_id, uint32_t *max_version,
                        uint32_t *max_size);
/* Fills size bytes (the capset's max_size) of capset capset_id, version. */
enum pv_gpu_status pv_gpu_capset_fill(struct pv_gpu *gpu, uint32_t capset_id, uint32_t version,
                                      void *buf, size_t size);

/* Contexts. name need not be terminated. */
enum pv_gpu_status pv_gpu_context_create(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t capset_id,
                                         const char *name, size_t name_len);
/* Retires the context's pending fences (they are reported as usual), then releases it. */
enum pv_gpu_status pv_gpu_context_destroy(struct pv_gpu *gpu, uint32_t ctx_id);
/* commands must be the caller's own copy (the guest cannot change it while it is decoded). */
enum pv_gpu_status pv_gpu_context_submit(struct pv_gpu *gpu, uint32_t ctx_id,
                                         const void *commands, size_t size);
enum pv_gpu_status pv_gpu_context_attach(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t res_id);
enum pv_gpu_status pv_gpu_context_detach(struct pv_gpu *gpu, uint32_t ctx_id, uint32_t res_id);
bool pv_gpu_context_exists(struct pv_gpu *gpu, uint32_t ctx_id);

/* Resources. GUEST blobs are iov_count ranges of guest memory mapped in this process
 * (page-aligned, MAP_SHARED: the renderer maps the same pages again); HOST3D blobs are made by
 * context ctx_id (blob_id 0: plain shared memory; else a VkDeviceMemory's guest id). */
struct pv_gpu_blob_args {
    uint32_t res_id;
    uint32_t ctx_id;
    uint32_t blob_mem;     /* PV_BLOB_TYPE_* */
    uint32_t blob_flags;   /* PV_BLOB_FLAG_* */
    uint64_t blob_id;
    uint64_t size;
    const struct iovec *iov;
    unsigned iov_count;
};
enum pv_gpu_status pv_gpu_resource_create_blob(struct pv_gpu *gpu,
                                               const struct pv_gpu_blob_args *args);
/* Detaches the resource from every context and releases it. */
enum pv_gpu_status pv_gpu_resource_unref(struct pv_gpu *gpu, uint32_t res_id);

struct pv_gpu_resource_info {
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint64_t size;
    bool exportable;   /* has an fd (HOST3D) */
};
enum pv_gpu_status pv_gpu_resource_info(struct pv_gpu *gpu, uint32_t res_id,
                                        struct pv_gpu_resource_info *info);
/* The resource's pages in this process, valid until the resource is released; *size is
 * rounded up to whole pages. */
enum pv_gpu_status pv_gpu_resource_map(struct pv_gpu *gpu, uint32_t res_id, void **map,
                                       uint64_t *size);
/* A new fd (the caller closes it) whose MAP_SHARED mapping at offset 0 is the resource's pages:
 * a memfd, so shared memory in virglrenderer's terms. HOST3D only. */
enum pv_gpu_status pv_gpu_resource_export(struct pv_gpu *gpu, uint32_t res_id, int *fd);
/* An opaque pointer the front end keeps with the resource. */
enum pv_gpu_status pv_gpu_resource_set_priv(struct pv_gpu *gpu, uint32_t res_id, void *priv);
void *pv_gpu_resource_get_priv(struct pv_gpu *gpu, uint32_t res_id);

/* Fences. A device-wide fence (on_ring false) and a context fence on ring 0 retire at once:
 * every command before them has been executed by then. A fence on ring 1..63 retires, in order
 * with the context's other ring fences, once all work the context has submitted to its queues
 * so far has completed (22.3.6 guests bind no queue to a ring, so no narrower rule is known).
 * *retired says whether it retired before the call returned. */
enum pv_gpu_status pv_gpu_fence_create(struct pv_gpu *gpu, uint32_t ctx_id, bool on_ring,
                                       uint32_t ring_idx, uint64_t fence_id, uint64_t cookie,
                                       bool *retired);

/* Readable (eventfd) while retired fences wait for pv_gpu_poll: all of them, or one context's
 * (-1 for an unknown context). The fds stay owned by the core. */
int pv_gpu_poll_fd(struct pv_gpu *gpu);
int pv_gpu_context_poll_fd(struct pv_gpu *gpu, uint32_t ctx_id);
/* Hands every queued retired fence to the fence_retired callback, in retirement order; with
 * only_ctx set, only those of context ctx_id. */
void pv_gpu_poll(struct pv_gpu *gpu, bool only_ctx, uint32_t ctx_id);

/* Releases every context and resource (virgl_renderer_reset). */
void pv_gpu_reset(struct pv_gpu *gpu);

#endif
