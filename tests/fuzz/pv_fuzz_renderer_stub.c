/* A fake renderer behind the pv_renderer.h API, for fuzzing the vtest server without Vulkan:
 * contexts hold blobs as memfds and take submissions as opaque bytes, looking only at the first
 * command header, so that the fuzzer can reach the fatal-context paths of the transport. It
 * keeps the real renderer's contract (ids, fds the caller closes, fatal is sticky) and checks
 * the transport keeps its side (abort on misuse). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_fuzz.h"
#include "pv_renderer.h"

/* Bigger blobs are refused, so that a fuzz run does not spend its time in the kernel. */
#define STUB_MAX_BLOB_SIZE (16u << 20)
/* Venus command types the protocol numbers (VkCommandTypeEXT of the 22.3.6 driver). */
#define STUB_COMMAND_COUNT 251

struct stub_blob {
    uint32_t res_id;
    int fd;
    struct stub_blob *next;
};

struct pv_context {
    uint32_t id;
    struct stub_blob *blobs;
    bool fatal;
    char fatal_reason[128];
};

const char *pv_venus_generation_name(enum pv_venus_generation generation)
{
    return generation == PV_VENUS_2022 ? "wire format 0" : "wire format 1";
}

size_t pv_renderer_fill_capset(uint32_t capset_id, uint32_t version,
                               enum pv_venus_generation generation, void *buf, size_t size)
{
    /* The real capset's size and leading fields; the extension mask does not matter here. */
    uint32_t caps[40] = { generation == PV_VENUS_2022 ? 0 : 1, 0x004030E4u, 0,
                          generation == PV_VENUS_2022 ? 100000 : 2, 1 };
    if (capset_id != PV_CAPSET_VENUS || version != 0 || size < sizeof(caps))
        return 0;
    memcpy(buf, caps, sizeof(caps));
    return sizeof(caps);
}

struct pv_context *pv_context_create(uint32_t context_id, const char *debug_name,
                                     const struct pv_renderer_options *options)
{
    if (!debug_name || strlen(debug_name) > 1024)
        pv_fuzz_fail("pv_context_create: bad debug name");
    struct pv_context *ctx = calloc(1, sizeof(*ctx));
    if (ctx)
        ctx->id = context_id;
    return ctx;
}

void pv_context_destroy(struct pv_context *ctx)
{
    if (!ctx)
        return;
    while (ctx->blobs) {
        struct stub_blob *b = ctx->blobs;
        ctx->blobs = b->next;
        close(b->fd);
        free(b);
    }
    free(ctx);
}

static void set_fatal(struct pv_context *ctx, const char *why)
{
    if (ctx->fatal)
        return;
    ctx->fatal = true;
    snprintf(ctx->fatal_reason, sizeof(ctx->fatal_reason), "%s", why);
}

int pv_context_create_blob(struct pv_context *ctx, uint32_t res_id, uint32_t blob_type,
                           uint32_t blob_flags, uint64_t blob_id, uint64_t size, int *out_fd)
{
    if (res_id == 0)
        return -1;
    for (struct stub_blob *b = ctx->blobs; b; b = b->next) {
        if (b->res_id == res_id)
            return -1;
    }
    if (blob_type != PV_BLOB_TYPE_GUEST && blob_type != PV_BLOB_TYPE_HOST3D)
        return -1;
    /* Memory blobs: pretend that small ids name host-visible memory of the context. */
    if (blob_id != 0 && blob_id > 16)
        return -1;
    if (size == 0 || size > STUB_MAX_BLOB_SIZE)
        return -1;
    int fd = memfd_create("pvgpu-fuzz-blob", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return -1;
    }
    struct stub_blob *b = calloc(1, sizeof(*b));
    int guest_fd = dup(fd);
    if (!b || guest_fd < 0) {
        free(b);
        if (guest_fd >= 0)
            close(guest_fd);
        close(fd);
        return -1;
    }
    b->res_id = res_id;
    b->fd = fd;
    b->next = ctx->blobs;
    ctx->blobs = b;
    *out_fd = guest_fd;
    return 0;
}

void pv_context_destroy_blob(struct pv_context *ctx, uint32_t res_id)
{
    for (struct stub_blob **link = &ctx->blobs; *link; link = &(*link)->next) {
        if ((*link)->res_id == res_id) {
            struct stub_blob *b = *link;
            *link = b->next;
            close(b->fd);
            free(b);
            return;
        }
    }
}

int pv_context_submit(struct pv_context *ctx, const void *commands, size_t size)
{
    if (size % 4 != 0)
        pv_fuzz_fail("pv_context_submit: %zu bytes, not whole words", size);
    if (ctx->fatal)
        return -1;
    /* Touch every byte: the transport promised that much is readable. */
    const uint8_t *bytes = commands;
    uint32_t sum = 0;
    for (size_t i = 0; i < size; i++)
        sum += bytes[i];
    (void)sum;
    uint32_t header[2] = { 0, 0 };
    if (size < sizeof(header)) {
        set_fatal(ctx, "command header truncated");
        return -1;
    }
    memcpy(header, commands, sizeof(header));
    if (header[0] >= STUB_COMMAND_COUNT || (header[1] & ~1u)) {
        set_fatal(ctx, "unknown command type or flags");
        return -1;
    }
    return 0;
}

int pv_context_wait_queue(struct pv_context *ctx, uint64_t queue_id)
{
    /* Ids with the top bit set stand for queues the context does not know. */
    if (ctx->fatal || queue_id == 0 || (queue_id >> 63)) {
        set_fatal(ctx, "unknown queue");
        return -1;
    }
    return 0;
}

/* Timelines have no queues here: every point is reached at once. */
int pv_context_timeline_point(struct pv_context *ctx, uint32_t ring_idx,
                              struct pv_timeline_point **out)
{
    *out = NULL;
    if (ctx->fatal || ring_idx >= PV_MAX_TIMELINES) {
        set_fatal(ctx, "timeline out of range");
        return -1;
    }
    return 0;
}

int pv_context_timeline_wait(struct pv_context *ctx, struct pv_timeline_point *point,
                             uint64_t timeout_ns)
{
    pv_fuzz_fail("pv_context_timeline_wait: no point was made");
    return -1;
}

void pv_context_timeline_drop(struct pv_context *ctx, struct pv_timeline_point *point)
{
    pv_fuzz_fail("pv_context_timeline_drop: no point was made");
}

void pv_context_set_peer_check(struct pv_context *ctx, bool (*gone)(void *data), void *data)
{
    (void)ctx;
    (void)gone;
    (void)data;
}

bool pv_context_is_fatal(const struct pv_context *ctx)
{
    return ctx->fatal;
}

const char *pv_context_fatal_reason(const struct pv_context *ctx)
{
    return ctx->fatal ? ctx->fatal_reason : NULL;
}

/* No other thread turns a stub context fatal: nothing to poll (poll skips negative fds). */
int pv_context_fatal_fd(const struct pv_context *ctx)
{
    (void)ctx;
    return -1;
}

void pv_renderer_print_commands(FILE *out)
{
    fputs("0 vkCreateInstance undecodable\n", out);
}
