/* The renderer's face towards transports (vtest server, virtio-gpu device model): one Venus
 * context per guest instance, its blob resources and its command submissions. Transports own
 * framing and fds; the renderer owns everything Vulkan. */
#ifndef PV_RENDERER_H
#define PV_RENDERER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capset ids from the virtio-gpu specification. */
#define PV_CAPSET_VENUS 4

/* Blob types and flags as the vtest and virtio-gpu protocols number them. */
#define PV_BLOB_TYPE_GUEST 1
#define PV_BLOB_TYPE_HOST3D 2
#define PV_BLOB_TYPE_HOST3D_GUEST 3
#define PV_BLOB_FLAG_MAPPABLE 1
#define PV_BLOB_FLAG_SHAREABLE 2
#define PV_BLOB_FLAG_CROSS_DEVICE 4

struct pv_context;

/* The two generations of the Venus protocol. Guests of the 2022 generation (Mesa 22.x) accept
 * only wire format 0; current guests (Mesa 25.0.7 and 26.2.6 are tested) only wire format 1. A
 * host cannot tell them apart before it answers the capset, so a context serves the one its
 * transport was set up for: current guests unless told otherwise. The generation decides the
 * capset, the experimental query (2022 only) and how vtest batches name their timelines. */
enum pv_venus_generation {
    PV_VENUS_CURRENT = 0,   /* wire format 1 */
    PV_VENUS_2022 = 1,      /* wire format 0 */
};

struct pv_renderer_options {
    enum pv_venus_generation generation;

    /* Enable the Khronos validation layer in host instances and log what it reports. */
    bool validate;

    /* Rings get no worker thread: the embedder drains them with pv_ring_consume (pv_ring.h).
     * For deterministic single-threaded harnesses (fuzzing); a guest would stall otherwise. */
    bool rings_without_workers;

    /* Called with every command batch the context is about to run, from any source (socket
     * submissions, ring batches, indirect streams), under the context lock, from the transport
     * thread or a ring worker. For recorders (pvgpu serve --record). */
    void (*record_batch)(void *data, const void *bytes, size_t size);
    void *record_batch_data;

    /* Per-context bounds; 0 takes the default. Past them: VK_ERROR_OUT_OF_DEVICE_MEMORY for
     * memory, a fatal context for the rest (the driver never learns of async failures). */
    uint64_t max_objects;        /* live guest objects (default 1048576) */
    uint64_t max_memory_bytes;   /* device memory allocated at once (default 64 GiB) */
    uint32_t max_blobs;          /* live blob resources (default 65536) */
    uint32_t max_rings;          /* live rings (default 64) */

    /* The longest a guest's own wait command (vkWaitForFences, vkWaitSemaphores, queue and
     * device idleness, vkResetFenceResourceMESA, query results) may block the transport's
     * thread, whatever timeout the guest asked for; 0: no bound. A transport whose thread
     * serves more than that context (a VMM's control queue serves every context of the VM)
     * sets one: past it the command answers VK_TIMEOUT (VK_NOT_READY for query results).
     * Waits on rings run on the context's own workers and are not bounded. */
    uint64_t max_transport_wait_ns;
};

#define PV_DEFAULT_MAX_OBJECTS (1u << 20)
#define PV_DEFAULT_MAX_MEMORY_BYTES (64ull << 30)
#define PV_DEFAULT_MAX_BLOBS 65536u
#define PV_DEFAULT_MAX_RINGS 64u

/* Transport timelines (ring indices) a context offers: 0 is the CPU's, the others may each be
 * bound to one queue. */
#define PV_MAX_TIMELINES 64u

/* What a context holds now: a test checks it all returns to zero at teardown. */
struct pv_context_usage {
    uint64_t objects;
    uint64_t memory_bytes;
    uint32_t blobs;
    uint32_t rings;
};
void pv_context_get_usage(struct pv_context *ctx, struct pv_context_usage *usage);

/* Fills the Venus capset (version 0) of a generation. Returns the capset size in bytes, or 0 if
 * buf is too small. Needs no Vulkan: a transport may answer capset queries before any context
 * exists. */
size_t pv_renderer_fill_capset(uint32_t capset_id, uint32_t version,
                               enum pv_venus_generation generation, void *buf, size_t size);
/* "wire format N (Mesa ...)": for log lines about a generation. */
const char *pv_venus_generation_name(enum pv_venus_generation generation);

/* Creates a context. debug_name is the guest's process name, for log lines. Returns NULL (and
 * logs why) on failure. */
struct pv_context *pv_context_create(uint32_t context_id, const char *debug_name,
                                     const struct pv_renderer_options *options);

/* Releases every host object the context owns, its rings and resources. */
void pv_context_destroy(struct pv_context *ctx);

/* Ends every wait of the context within a wait slice (PV_CONTEXT_WAIT_SLICE_NS), on any
 * thread, and makes later ones give up at once: what a transport calls before it joins its
 * own threads that may wait on the context (a VMM's fence worker), since pv_context_destroy
 * comes only after them. Any thread; the context stays usable until destroyed. */
void pv_context_stop(struct pv_context *ctx);

/* Creates blob resource res_id (chosen by the transport, non-zero, unique in the context).
 * blob_id 0 asks for plain shared memory; otherwise blob_id names a VkDeviceMemory of the
 * context. On success *out_fd is an fd the transport passes to the guest (the transport
 * closes it after sending); mapping it MAP_SHARED at offset 0 gives the blob's bytes.
 * Returns 0, or -1 after logging the reason. */
int pv_context_create_blob(struct pv_context *ctx, uint32_t res_id, uint32_t blob_type,
                           uint32_t blob_flags, uint64_t blob_id, uint64_t size, int *out_fd);

/* Drops the context's reference to res_id. Unknown ids are logged and ignored. */
void pv_context_destroy_blob(struct pv_context *ctx, uint32_t res_id);

/* Executes a Venus command stream. The bytes must be the transport's own copy, which the guest
 * cannot change while they are decoded (a socket read buffer is; guest-shared memory is not:
 * copy it first). Returns 0, or -1 once the context is fatal (see below). */
int pv_context_submit(struct pv_context *ctx, const void *commands, size_t size);

/* Blocks until all work submitted so far to the VkQueue with guest object id queue_id has
 * completed (the 2022 generation's sync queues). Returns 0, or -1 if there is no such queue
 * (the context is made fatal). */
int pv_context_wait_queue(struct pv_context *ctx, uint64_t queue_id);
/* A point on a transport timeline: the end of the work submitted so far to the queue the
 * guest bound to that timeline (VkDeviceQueueTimelineInfoMESA). Transports signal their fences
 * and syncs of a timeline once its point is reached, from a thread of their own. */
struct pv_timeline_point;
/* Marks the point now. *out is NULL when there is nothing to wait for (no queue is bound to
 * ring_idx). Returns 0, or -1 once the context is fatal. */
int pv_context_timeline_point(struct pv_context *ctx, uint32_t ring_idx,
                              struct pv_timeline_point **out);
/* Waits at most timeout_ns for the point (any thread; the context stays unlocked meanwhile).
 * Returns 1 if it is not reached yet (call again), else releases the point and returns 0, or
 * -1 once the context is fatal. */
int pv_context_timeline_wait(struct pv_context *ctx, struct pv_timeline_point *point,
                             uint64_t timeout_ns);
/* Releases a point without waiting for it (a transport going away). */
void pv_context_timeline_drop(struct pv_context *ctx, struct pv_timeline_point *point);

/* How a context learns that its guest is gone while the transport waits on its behalf (a
 * vkWaitRingSeqnoMESA in a submission, a sync queue): gone(data) is asked every wait slice
 * (PV_CONTEXT_WAIT_SLICE_NS) from the waiting thread; once it says so, every wait of the
 * context ends and the transport goes on to tear the context down. */
void pv_context_set_peer_check(struct pv_context *ctx, bool (*gone)(void *data), void *data);

/* A fatal context executes nothing more; the reason names the command and what was wrong. */
bool pv_context_is_fatal(const struct pv_context *ctx);
/* Readable (POLLIN) once the context is fatal, whichever thread made it so (a ring worker, for
 * one): a transport polls it beside the guest's connection to drop the guest at once. */
int pv_context_fatal_fd(const struct pv_context *ctx);
const char *pv_context_fatal_reason(const struct pv_context *ctx);

/* Prints one line per Venus command type the protocol defines:
 * "<number> <name> <status>", status being "implemented" (decoded and executed),
 * "unimplemented" (decoded; executing it makes the context fatal with a clear message) or
 * "undecodable" (the protocol cannot carry its parameters; fatal as well). */
#include <stdio.h>
void pv_renderer_print_commands(FILE *out);

/* Whether the host's Vulkan loader finds the Khronos validation layer, which the validate
 * option needs: without it every instance is refused. Loads the Vulkan loader. */
bool pv_renderer_has_validation_layer(void);

/* -- For VMM transports (virtio-gpu device model, virglrenderer-compatible library); in
 * pv_renderer_vmm.c. -- */

/* Creates blob resource res_id over memory the transport has mapped: a VMM's guest pages, or
 * the pages of a blob another context created. The renderer takes over the mapping (map, size
 * bytes; munmap'd when its last reference goes) and fd (-1 for none; closed then): what the
 * guest writes to those pages is what the context reads. Returns 0, or -1 after logging why,
 * in which case map and fd are still the caller's. */
int pv_context_adopt_blob(struct pv_context *ctx, uint32_t res_id, void *map, size_t size, int fd);

/* Blocks until all work submitted so far to every queue of the context has completed (a fence
 * on a ring the transport cannot tie to one queue). Returns 0, or -1 once the context is fatal
 * (a lost device makes it so). */
int pv_context_wait_idle(struct pv_context *ctx);

#endif
