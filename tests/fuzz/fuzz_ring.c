/* Fuzz target: the shared-memory ring (src/renderer/pv_ring.c) as a hostile guest drives it.
 * A real context is made through the pv_renderer.h API with three blobs (ring, reply stream,
 * indirect streams), its reply stream and ring are set up with hand-built vkSetReplyCommand-
 * StreamMESA and vkCreateRingMESA commands, then the input is played as a guest: batches written
 * at the tail with wrap-around, hostile tail jumps, indirect stream data and socket submissions
 * (vkNotifyRingMESA, vkDestroyRingMESA, ...) beside the ring. Host Vulkan is hidden (no ICD),
 * so commands that reach the loader fail fast.
 *
 * The context has rings_without_workers, so the harness is single-threaded and deterministic:
 * after each ring step it runs every ring with pv_ring_consume itself instead of waiting for
 * worker threads (the idle/notify handshake is not exercised).
 *
 * Input: byte 0 ring shape (bits 0-3: buffer size 2^(4 + v % 13), 16 B to 64 KiB; bits 4-5:
 * idle timeout 0, 100 us or 10 s; bit 6: a context of the current generation, whose ring sets
 * its own reply stream as current guests do, else of the 2022 one; bit 7: a monitored ring,
 * VkRingMonitorInfoMESA chained as current guests do), bytes 1-4 the initial head (LE; the host
 * must cope with any),
 * then steps of op (1 byte), length (2 bytes LE) and that many bytes (cut at the input's end):
 *   op % 4 == 0  write the bytes at the tail, wrapping, and advance the tail by their count;
 *   op % 4 == 1  advance the tail by the first 4 bytes (LE) without writing: a lying guest;
 *   op % 4 == 2  write the bytes into the indirect-stream blob at offset (op / 4) * 1024;
 *   op % 4 == 3  submit the bytes (whole words) on the socket path, pv_context_submit. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_context.h"
#include "pv_fuzz.h"
#include "pv_renderer.h"
#include "pv_ring.h"

#define RING_ID 0x52494e4700000010ull
#define RING_RES_ID 1
#define REPLY_RES_ID 2
#define INDIRECT_RES_ID 3
#define REPLY_SIZE (1u << 20)   /* the driver's first reply shmem */
#define INDIRECT_SIZE 65536

/* The driver's layout (notes section 6.1). */
#define RING_HEAD_OFFSET 0
#define RING_TAIL_OFFSET 64
#define RING_STATUS_OFFSET 128
#define RING_BUFFER_OFFSET 192

#define CMD_SET_REPLY_COMMAND_STREAM 178
#define CMD_CREATE_RING 188
#define SHAPE_CURRENT 0x40u
#define SHAPE_MONITORED 0x80u

struct guest {
    struct pv_context *ctx;
    uint8_t *ring_map;
    size_t ring_map_size;
    uint8_t *indirect_map;
    uint32_t buffer_size;
    uint32_t tail;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* No host driver and no layers: the loader answers vkCreateInstance at once. With
     * PVGPU_FUZZ_HOST_VULKAN=1 the host driver stays, and streams reach the renderer's
     * handlers for real (slow: an instance and a device per run). */
    const char *host = getenv("PVGPU_FUZZ_HOST_VULKAN");
    if (!host || !*host || !strcmp(host, "0")) {
        setenv("VK_ICD_FILENAMES", "/nonexistent/pvgpu-fuzz-no-icd.json", 1);
        setenv("VK_DRIVER_FILES", "/nonexistent/pvgpu-fuzz-no-icd.json", 1);
    }
    setenv("VK_LOADER_LAYERS_DISABLE", "~all~", 1);
    return 0;
}

/* A little-endian command writer for the hand-built commands. */
struct writer {
    uint8_t bytes[256];
    size_t size;
};

static void put32(struct writer *w, uint32_t v)
{
    memcpy(w->bytes + w->size, &v, 4);
    w->size += 4;
}

static void put64(struct writer *w, uint64_t v)
{
    memcpy(w->bytes + w->size, &v, 8);
    w->size += 8;
}

static void *map_blob(struct pv_context *ctx, uint32_t res_id, size_t size)
{
    int fd = -1;
    if (pv_context_create_blob(ctx, res_id, PV_BLOB_TYPE_HOST3D, PV_BLOB_FLAG_MAPPABLE, 0, size,
                               &fd) != 0)
        pv_fuzz_fail("blob %u of %zu bytes refused", res_id, size);
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        pv_fuzz_fail("mmap of blob %u: %s", res_id, strerror(errno));
    return map;
}

static void guest_write_ring(struct guest *g, const uint8_t *bytes, size_t len);

static bool guest_start(struct guest *g, uint8_t shape, uint32_t initial_head)
{
    static const uint64_t idle_timeouts[4] = { 0, 100000, 10000000000ull, 10000000000ull };
    g->buffer_size = 1u << (4 + (shape & 15) % 13);
    g->ring_map_size = RING_BUFFER_OFFSET + g->buffer_size + 4;
    g->tail = initial_head;
    const struct pv_renderer_options options = {
        .rings_without_workers = true,
        .generation = shape & SHAPE_CURRENT ? PV_VENUS_CURRENT : PV_VENUS_2022,
    };
    g->ctx = pv_context_create(1, "fuzz-ring", &options);
    if (!g->ctx)
        pv_fuzz_fail("pv_context_create failed");
    g->ring_map = map_blob(g->ctx, RING_RES_ID, g->ring_map_size);
    munmap(map_blob(g->ctx, REPLY_RES_ID, REPLY_SIZE), REPLY_SIZE);
    g->indirect_map = map_blob(g->ctx, INDIRECT_RES_ID, INDIRECT_SIZE);
    memcpy(g->ring_map + RING_HEAD_OFFSET, &initial_head, 4);
    memcpy(g->ring_map + RING_TAIL_OFFSET, &initial_head, 4);

    struct writer reply = { .size = 0 };
    put32(&reply, CMD_SET_REPLY_COMMAND_STREAM);
    put32(&reply, 0);
    put64(&reply, 1);   /* pStream */
    put32(&reply, REPLY_RES_ID);
    put64(&reply, 0);   /* offset */
    put64(&reply, REPLY_SIZE);
    struct writer w = reply;
    put32(&w, CMD_CREATE_RING);
    put32(&w, 0);
    put64(&w, RING_ID);
    put64(&w, 1);   /* pCreateInfo */
    put32(&w, VK_STRUCTURE_TYPE_RING_CREATE_INFO_MESA);
    if (shape & SHAPE_MONITORED) {
        put64(&w, 1);   /* pNext: VkRingMonitorInfoMESA, the end of the chain, its member */
        put32(&w, VK_STRUCTURE_TYPE_RING_MONITOR_INFO_MESA);
        put64(&w, 0);
        put32(&w, 3000000);
    } else {
        put64(&w, 0);   /* pNext */
    }
    put32(&w, 0);   /* flags */
    put32(&w, RING_RES_ID);
    put64(&w, 0);   /* offset */
    put64(&w, g->ring_map_size);
    put64(&w, idle_timeouts[(shape >> 4) & 3]);
    put64(&w, RING_HEAD_OFFSET);
    put64(&w, RING_TAIL_OFFSET);
    put64(&w, RING_STATUS_OFFSET);
    put64(&w, RING_BUFFER_OFFSET);
    put64(&w, g->buffer_size);
    put64(&w, RING_BUFFER_OFFSET + g->buffer_size);   /* extra */
    put64(&w, 4);
    if (pv_context_submit(g->ctx, w.bytes, w.size) != 0)
        pv_fuzz_fail("ring set-up refused: %s", pv_context_fatal_reason(g->ctx));
    /* A current guest's ring has a reply stream of its own: it sets one before any reply (in
     * rings large enough for the command). */
    if ((shape & SHAPE_CURRENT) && reply.size <= g->buffer_size)
        guest_write_ring(g, reply.bytes, reply.size);
    return true;
}

static void guest_stop(struct guest *g)
{
    pv_context_destroy(g->ctx);
    munmap(g->ring_map, g->ring_map_size);
    munmap(g->indirect_map, INDIRECT_SIZE);
}

/* Whether our ring still runs (a stream may have destroyed it) and the context is usable. */
static bool ring_alive(struct guest *g, bool *fatal)
{
    pthread_mutex_lock(&g->ctx->mutex);
    struct pv_ring *ring = pv_ring_find(g->ctx, RING_ID);
    /* The host maps the blob elsewhere: compare offsets into it. */
    const uint8_t *host_map = ring ? ring->blob->map : NULL;
    bool ours = ring && ring->blob->res_id == RING_RES_ID &&
                (const uint8_t *)ring->head - host_map == RING_HEAD_OFFSET &&
                (const uint8_t *)ring->tail - host_map == RING_TAIL_OFFSET &&
                ring->buffer - host_map == RING_BUFFER_OFFSET &&
                ring->buffer_size == g->buffer_size;
    *fatal = g->ctx->fatal;
    pthread_mutex_unlock(&g->ctx->mutex);
    return ours;
}

/* Most rounds over all rings after one step: rings may feed each other through their extra
 * regions, which is the guest's own CPU time in real life but must end here. */
#define CONSUME_ROUNDS 16
#define CONSUME_MAX_RINGS 64

/* Publishes the tail and runs every ring of the context (ours and any a stream created) until
 * none has anything left, as their workers would. */
static void publish_and_wait(struct guest *g)
{
    uint32_t *tail = (uint32_t *)(g->ring_map + RING_TAIL_OFFSET);
    __atomic_store_n(tail, g->tail, __ATOMIC_RELEASE);
    for (unsigned round = 0; round < CONSUME_ROUNDS; round++) {
        struct pv_ring *rings[CONSUME_MAX_RINGS];
        unsigned count = 0;
        pthread_mutex_lock(&g->ctx->mutex);
        for (struct pv_ring *r = g->ctx->rings; r && count < CONSUME_MAX_RINGS; r = r->next)
            rings[count++] = r;
        pthread_mutex_unlock(&g->ctx->mutex);
        /* A ring a batch stops stays allocated until the next submission or teardown joins
         * it, so these pointers stay good for this round. */
        bool any = false;
        for (unsigned i = 0; i < count; i++)
            any |= pv_ring_consume(rings[i]);
        if (!any)
            return;
    }
}

/* Writes bytes at the tail, wrapping, and runs the rings. */
static void guest_write_ring(struct guest *g, const uint8_t *bytes, size_t len)
{
    uint8_t *buffer = g->ring_map + RING_BUFFER_OFFSET;
    for (size_t i = 0; i < len; i++)
        buffer[(g->tail + i) & (g->buffer_size - 1)] = bytes[i];
    g->tail += (uint32_t)len;
    publish_and_wait(g);
}

static uint32_t read_le32(const uint8_t *p, size_t n)
{
    uint8_t bytes[4] = { 0, 0, 0, 0 };
    memcpy(bytes, p, n < 4 ? n : 4);
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    struct guest g;
    memset(&g, 0, sizeof(g));
    guest_start(&g, data[0], read_le32(data + 1, 4));
    size_t pos = 5;
    while (pos + 3 <= size) {
        uint8_t op = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *bytes = data + pos;
        pos += len;

        bool fatal;
        switch (op % 4) {
        case 0:
        case 1:
            if (!ring_alive(&g, &fatal) || fatal)
                break;
            if (op % 4 == 0) {
                guest_write_ring(&g, bytes, len);
            } else {
                g.tail += read_le32(bytes, len);
                publish_and_wait(&g);
            }
            break;
        case 2: {
            size_t offset = (size_t)(op / 4) * 1024 % INDIRECT_SIZE;
            size_t n = len < INDIRECT_SIZE - offset ? len : INDIRECT_SIZE - offset;
            memcpy(g.indirect_map + offset, bytes, n);
            break;
        }
        case 3:
            if (len >= 4)
                pv_context_submit(g.ctx, bytes, len & ~(size_t)3);
            break;
        }
    }
    guest_stop(&g);
    return 0;
}
