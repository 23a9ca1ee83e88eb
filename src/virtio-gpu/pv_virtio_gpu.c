/* The virtio-gpu device model: decodes control-queue requests in the specification's wire
 * format, checks every field, runs them on the shared GPU core (pv_gpu_core.h) and writes the
 * specification's responses. Window mappings and scanouts are the VMM's business and live
 * here; contexts, resources and fences live in the core. */
#define _GNU_SOURCE
#include "pvgpu/virtio_gpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pv_gpu_core.h"
#include "pv_log.h"
#include "pv_virtio_gpu_protocol.h"

#define DEFAULT_MAX_REQUEST_BYTES (16u << 20)
#define DEFAULT_SCANOUT_WIDTH 1280
#define DEFAULT_SCANOUT_HEIGHT 800
/* Large enough for every response: the display info (408 bytes) or a capset. */
#define RESPONSE_MAX_BYTES 4096
/* Entries of one GUEST blob; the request size bounds them too. */
#define MAX_MEM_ENTRIES (1u << 20)

struct scanout {
    bool enabled;
    uint32_t resource_id;
    uint32_t width;
    uint32_t height;
    uint32_t format;
    uint32_t stride;
    uint32_t offset;
};

struct window_mapping {
    struct pvgpu_blob_mapping mapping;
    struct window_mapping *next;
};

struct pvgpu_virtio_gpu {
    struct pvgpu_virtio_gpu_config config;
    struct pvgpu_virtio_gpu_callbacks callbacks;
    struct pv_gpu *core;
    long page_size;
    uint32_t events_read;
    struct scanout scanouts[VIRTIO_GPU_MAX_SCANOUTS];
    struct window_mapping *mappings;
};

/* One request being processed: its private copy, and the response being built. */
struct request {
    const uint8_t *bytes;
    size_t size;
    struct virtio_gpu_ctrl_hdr hdr;   /* host byte order */
    const char *name;
    uint8_t response[RESPONSE_MAX_BYTES];
    size_t response_size;
};

/* -- byte order: the wire is little-endian whatever the host is ---------------------------- */

static uint32_t le32(uint32_t v) { return le32toh(v); }
static uint64_t le64(uint64_t v) { return le64toh(v); }

static void read_hdr(const uint8_t *bytes, struct virtio_gpu_ctrl_hdr *hdr)
{
    memcpy(hdr, bytes, sizeof(*hdr));
    hdr->type = le32(hdr->type);
    hdr->flags = le32(hdr->flags);
    hdr->fence_id = le64(hdr->fence_id);
    hdr->ctx_id = le32(hdr->ctx_id);
}

static const char *command_name(uint32_t type)
{
    switch (type) {
#define NAME(t) case VIRTIO_GPU_CMD_##t: return #t;
    NAME(GET_DISPLAY_INFO) NAME(RESOURCE_CREATE_2D) NAME(RESOURCE_UNREF) NAME(SET_SCANOUT)
    NAME(RESOURCE_FLUSH) NAME(TRANSFER_TO_HOST_2D) NAME(RESOURCE_ATTACH_BACKING)
    NAME(RESOURCE_DETACH_BACKING) NAME(GET_CAPSET_INFO) NAME(GET_CAPSET) NAME(GET_EDID)
    NAME(RESOURCE_ASSIGN_UUID) NAME(RESOURCE_CREATE_BLOB) NAME(SET_SCANOUT_BLOB)
    NAME(CTX_CREATE) NAME(CTX_DESTROY) NAME(CTX_ATTACH_RESOURCE) NAME(CTX_DETACH_RESOURCE)
    NAME(RESOURCE_CREATE_3D) NAME(TRANSFER_TO_HOST_3D) NAME(TRANSFER_FROM_HOST_3D)
    NAME(SUBMIT_3D) NAME(RESOURCE_MAP_BLOB) NAME(RESOURCE_UNMAP_BLOB) NAME(UPDATE_CURSOR)
    NAME(MOVE_CURSOR)
#undef NAME
    }
    return "unknown command";
}

/* -- responses -------------------------------------------------------------------------- */

/* Starts a response of type with size bytes (header included), zeroed past the header. */
static void *respond(struct request *rq, uint32_t type, size_t size)
{
    if (size > sizeof(rq->response))
        size = sizeof(rq->response);
    memset(rq->response, 0, size);
    struct virtio_gpu_ctrl_hdr *hdr = (struct virtio_gpu_ctrl_hdr *)rq->response;
    hdr->type = htole32(type);
    rq->response_size = size;
    return rq->response;
}

static int respond_nodata(struct request *rq)
{
    respond(rq, VIRTIO_GPU_RESP_OK_NODATA, sizeof(struct virtio_gpu_ctrl_hdr));
    return 0;
}

static int respond_error(struct request *rq, uint32_t type, const char *fmt, ...) PV_PRINTF(3, 4);

/* Logs why, then answers with an error type. Returns -1 so handlers can return it. */
static int respond_error(struct request *rq, uint32_t type, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    pv_log("virtio-gpu: %s (ctx %" PRIu32 "): %s", rq->name, rq->hdr.ctx_id, reason);
    respond(rq, type, sizeof(struct virtio_gpu_ctrl_hdr));
    return -1;
}

static uint32_t status_response(enum pv_gpu_status status)
{
    switch (status) {
    case PV_GPU_OK: return VIRTIO_GPU_RESP_OK_NODATA;
    case PV_GPU_ERR_OUT_OF_MEMORY: return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    case PV_GPU_ERR_INVALID_RESOURCE_ID: return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
    case PV_GPU_ERR_INVALID_CONTEXT_ID: return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
    case PV_GPU_ERR_INVALID_PARAMETER: return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
    case PV_GPU_ERR_UNSPEC: break;
    }
    return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

static int respond_status(struct request *rq, enum pv_gpu_status status, const char *what)
{
    if (status == PV_GPU_OK)
        return respond_nodata(rq);
    return respond_error(rq, status_response(status), "%s: %s", what, pv_gpu_status_name(status));
}

/* Copies the fixed part of a request into s (size bytes), or answers ERR_UNSPEC. */
static bool take(struct request *rq, void *s, size_t size)
{
    if (rq->size < size) {
        respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "%zu bytes, shorter than its %zu-byte struct",
                      rq->size, size);
        return false;
    }
    memcpy(s, rq->bytes, size);
    return true;
}

/* -- window mappings and scanouts ------------------------------------------------------- */

static struct window_mapping *find_mapping(struct pvgpu_virtio_gpu *gpu, uint32_t res_id)
{
    for (struct window_mapping *m = gpu->mappings; m; m = m->next) {
        if (m->mapping.resource_id == res_id)
            return m;
    }
    return NULL;
}

static void unmap_from_window(struct pvgpu_virtio_gpu *gpu, uint32_t res_id)
{
    struct window_mapping **link = &gpu->mappings;
    while (*link && (*link)->mapping.resource_id != res_id)
        link = &(*link)->next;
    struct window_mapping *m = *link;
    if (!m)
        return;
    *link = m->next;
    if (gpu->callbacks.unmap_blob)
        gpu->callbacks.unmap_blob(gpu->callbacks.opaque, &m->mapping);
    free(m);
}

static void disable_scanout(struct pvgpu_virtio_gpu *gpu, uint32_t scanout_id)
{
    struct scanout *s = &gpu->scanouts[scanout_id];
    bool was_enabled = s->enabled;
    memset(s, 0, sizeof(*s));
    if (was_enabled && gpu->callbacks.scanout_updated) {
        struct pvgpu_scanout_frame frame = { .scanout_id = scanout_id, .enabled = false };
        gpu->callbacks.scanout_updated(gpu->callbacks.opaque, &frame);
    }
}

static uint32_t fourcc(char a, char b, char c, char d)
{
    return (uint32_t)(uint8_t)a | (uint32_t)(uint8_t)b << 8 | (uint32_t)(uint8_t)c << 16 |
           (uint32_t)(uint8_t)d << 24;
}

/* The DRM fourcc of the same memory layout, or 0 for a format this device does not show. */
static uint32_t format_fourcc(uint32_t format)
{
    switch (format) {
    case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM: return fourcc('A', 'R', '2', '4');
    case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM: return fourcc('X', 'R', '2', '4');
    case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM: return fourcc('B', 'A', '2', '4');
    case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: return fourcc('B', 'X', '2', '4');
    case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM: return fourcc('A', 'B', '2', '4');
    case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM: return fourcc('R', 'X', '2', '4');
    case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: return fourcc('R', 'A', '2', '4');
    case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: return fourcc('X', 'B', '2', '4');
    }
    return 0;
}

/* -- commands --------------------------------------------------------------------------- */

static int cmd_get_display_info(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_ctrl_hdr hdr;
    if (!take(rq, &hdr, sizeof(hdr)))
        return -1;
    struct virtio_gpu_resp_display_info *info =
        respond(rq, VIRTIO_GPU_RESP_OK_DISPLAY_INFO, sizeof(*info));
    for (uint32_t i = 0; i < gpu->config.num_scanouts; i++) {
        info->pmodes[i].r.width = htole32(gpu->config.scanout_width);
        info->pmodes[i].r.height = htole32(gpu->config.scanout_height);
        info->pmodes[i].enabled = htole32(1);
    }
    return 0;
}

static int cmd_get_capset_info(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_get_capset_info cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t index = le32(cmd.capset_index);
    if (index != 0)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "capset index %" PRIu32 " of 1", index);
    uint32_t max_version, max_size;
    pv_gpu_capset_info(gpu->core, PV_CAPSET_VENUS, &max_version, &max_size);
    struct virtio_gpu_resp_capset_info *info =
        respond(rq, VIRTIO_GPU_RESP_OK_CAPSET_INFO, sizeof(*info));
    info->capset_id = htole32(PV_CAPSET_VENUS);
    info->capset_max_version = htole32(max_version);
    info->capset_max_size = htole32(max_size);
    return 0;
}

static int cmd_get_capset(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_get_capset cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t id = le32(cmd.capset_id), version = le32(cmd.capset_version);
    uint32_t max_version, max_size;
    pv_gpu_capset_info(gpu->core, id, &max_version, &max_size);
    if (max_size == 0 || version > max_version)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "no capset %" PRIu32 " version %" PRIu32, id, version);
    size_t hdr = sizeof(struct virtio_gpu_ctrl_hdr);
    uint8_t *resp = respond(rq, VIRTIO_GPU_RESP_OK_CAPSET, hdr + max_size);
    if (pv_gpu_capset_fill(gpu->core, id, version, resp + hdr, max_size) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "capset %" PRIu32 " failed", id);
    return 0;
}

static int cmd_ctx_create(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_ctx_create cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t nlen = le32(cmd.nlen), context_init = le32(cmd.context_init);
    if (nlen > sizeof(cmd.debug_name))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "debug name of %" PRIu32 " bytes (at most 64)", nlen);
    if (context_init & ~VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "unknown context_init bits %#" PRIx32, context_init);
    uint32_t capset = context_init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;
    if (capset != PV_CAPSET_VENUS)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "capset %" PRIu32 "; only Venus (%d) is served", capset,
                             PV_CAPSET_VENUS);
    return respond_status(rq, pv_gpu_context_create(gpu->core, rq->hdr.ctx_id, capset,
                                                    cmd.debug_name, nlen), "create");
}

static int cmd_ctx_destroy(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_ctx_destroy cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    return respond_status(rq, pv_gpu_context_destroy(gpu->core, rq->hdr.ctx_id), "destroy");
}

static int cmd_ctx_resource(struct pvgpu_virtio_gpu *gpu, struct request *rq, bool attach)
{
    struct virtio_gpu_ctx_resource cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id);
    enum pv_gpu_status status = attach ? pv_gpu_context_attach(gpu->core, rq->hdr.ctx_id, res_id)
                                       : pv_gpu_context_detach(gpu->core, rq->hdr.ctx_id, res_id);
    return respond_status(rq, status, attach ? "attach" : "detach");
}

static int cmd_resource_create_blob(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_resource_create_blob cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id), blob_mem = le32(cmd.blob_mem);
    uint32_t nr_entries = le32(cmd.nr_entries);
    uint64_t size = le64(cmd.size);
    size_t room = (rq->size - sizeof(cmd)) / sizeof(struct virtio_gpu_mem_entry);
    if (nr_entries > room)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC,
                             "%" PRIu32 " memory entries, but the request holds %zu", nr_entries,
                             room);
    if (nr_entries > MAX_MEM_ENTRIES)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "%" PRIu32 " memory entries", nr_entries);

    struct pv_gpu_blob_args args = {
        .res_id = res_id,
        .ctx_id = rq->hdr.ctx_id,
        .blob_mem = blob_mem,
        .blob_flags = le32(cmd.blob_flags),
        .blob_id = le64(cmd.blob_id),
        .size = size,
    };
    struct iovec *iov = NULL;
    if (blob_mem == VIRTIO_GPU_BLOB_MEM_GUEST) {
        if (!gpu->callbacks.guest_memory)
            return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC,
                                 "guest blobs need the VMM's guest_memory callback");
        if (nr_entries == 0)
            return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                                 "guest blob without memory entries");
        /* A guest blob that is not a guest context's own need not name one. */
        if (args.ctx_id && !pv_gpu_context_exists(gpu->core, args.ctx_id))
            args.ctx_id = 0;
        iov = calloc(nr_entries, sizeof(*iov));
        if (!iov)
            return respond_error(rq, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "no memory for entries");
        uint64_t total = 0;
        for (uint32_t i = 0; i < nr_entries; i++) {
            struct virtio_gpu_mem_entry e;
            memcpy(&e, rq->bytes + sizeof(cmd) + (size_t)i * sizeof(e), sizeof(e));
            uint64_t addr = le64(e.addr);
            uint32_t length = le32(e.length);
            if (length == 0 || addr + length < addr) {
                free(iov);
                return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                                     "memory entry %" PRIu32 ": %" PRIu32 " bytes at %#" PRIx64, i,
                                     length, addr);
            }
            iov[i].iov_base = gpu->callbacks.guest_memory(gpu->callbacks.opaque, addr, length);
            iov[i].iov_len = length;
            if (!iov[i].iov_base) {
                free(iov);
                return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                                     "memory entry %" PRIu32 " (%" PRIu32 " bytes at %#" PRIx64
                                     ") is not guest memory", i, length, addr);
            }
            total += length;
        }
        if (total < size) {
            free(iov);
            return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                                 "memory entries hold %" PRIu64 " of %" PRIu64 " bytes", total,
                                 size);
        }
        args.iov = iov;
        args.iov_count = nr_entries;
    } else if (nr_entries) {
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "blob_mem %" PRIu32 " with %" PRIu32 " memory entries", blob_mem,
                             nr_entries);
    }
    enum pv_gpu_status status = pv_gpu_resource_create_blob(gpu->core, &args);
    free(iov);
    return respond_status(rq, status, "create blob");
}

static int cmd_resource_unref(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_resource_unref cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id);
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(gpu->core, res_id, &info) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "unknown resource %" PRIu32, res_id);
    /* The guest should have unmapped it and taken it off the screen; make sure. */
    unmap_from_window(gpu, res_id);
    for (uint32_t i = 0; i < gpu->config.num_scanouts; i++) {
        if (gpu->scanouts[i].enabled && gpu->scanouts[i].resource_id == res_id)
            disable_scanout(gpu, i);
    }
    return respond_status(rq, pv_gpu_resource_unref(gpu->core, res_id), "unref");
}

static int cmd_map_blob(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_resource_map_blob cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id);
    uint64_t offset = le64(cmd.offset);
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(gpu->core, res_id, &info) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "unknown resource %" PRIu32, res_id);
    if (info.blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D ||
        !(info.blob_flags & VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "resource %" PRIu32 " is not a mappable host blob", res_id);
    if (find_mapping(gpu, res_id))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "resource %" PRIu32 " is mapped already", res_id);
    if (!gpu->callbacks.map_blob || gpu->config.host_visible_size == 0)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "the VMM has no host-visible window");
    void *map;
    uint64_t size;
    enum pv_gpu_status status = pv_gpu_resource_map(gpu->core, res_id, &map, &size);
    if (status != PV_GPU_OK)
        return respond_status(rq, status, "map");
    uint64_t window = gpu->config.host_visible_size;
    if (offset % (uint64_t)gpu->page_size || offset > window || size > window - offset)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "%" PRIu64 " bytes at offset %#" PRIx64 " do not fit the %" PRIu64
                             "-byte window page-aligned", size, offset, window);
    for (struct window_mapping *m = gpu->mappings; m; m = m->next) {
        if (offset < m->mapping.offset + m->mapping.size && m->mapping.offset < offset + size)
            return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                                 "offset %#" PRIx64 " overlaps resource %" PRIu32 " at %#" PRIx64,
                                 offset, m->mapping.resource_id, m->mapping.offset);
    }
    struct window_mapping *m = calloc(1, sizeof(*m));
    if (!m)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "no memory");
    m->mapping = (struct pvgpu_blob_mapping){
        .resource_id = res_id,
        .offset = offset,
        .size = size,
        .host_address = map,
        .fd = -1,
        .map_info = VIRTIO_GPU_MAP_CACHE_CACHED,
    };
    int fd = -1;
    if (pv_gpu_resource_export(gpu->core, res_id, &fd) == PV_GPU_OK)
        m->mapping.fd = fd;
    int rc = gpu->callbacks.map_blob(gpu->callbacks.opaque, &m->mapping);
    if (fd >= 0)
        close(fd);
    m->mapping.fd = -1;
    if (rc != 0) {
        free(m);
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "the VMM could not map it (%d)", rc);
    }
    m->next = gpu->mappings;
    gpu->mappings = m;
    struct virtio_gpu_resp_map_info *resp = respond(rq, VIRTIO_GPU_RESP_OK_MAP_INFO, sizeof(*resp));
    resp->map_info = htole32(VIRTIO_GPU_MAP_CACHE_CACHED);
    return 0;
}

static int cmd_unmap_blob(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_resource_unmap_blob cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id);
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(gpu->core, res_id, &info) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "unknown resource %" PRIu32, res_id);
    if (!find_mapping(gpu, res_id))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "resource %" PRIu32 " is not mapped", res_id);
    unmap_from_window(gpu, res_id);
    return respond_nodata(rq);
}

static int cmd_submit_3d(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_cmd_submit cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t size = le32(cmd.size);
    if (size > rq->size - sizeof(cmd))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "command stream of %" PRIu32 " bytes in a %zu-byte request", size,
                             rq->size);
    /* rq->bytes is the device's own copy: the guest cannot change it during decoding. */
    return respond_status(rq, pv_gpu_context_submit(gpu->core, rq->hdr.ctx_id,
                                                    rq->bytes + sizeof(cmd), size), "submit");
}

static int cmd_set_scanout_blob(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_set_scanout_blob cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t scanout_id = le32(cmd.scanout_id), res_id = le32(cmd.resource_id);
    if (scanout_id >= gpu->config.num_scanouts)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
                             "scanout %" PRIu32 " of %" PRIu32, scanout_id,
                             gpu->config.num_scanouts);
    if (res_id == 0) {
        disable_scanout(gpu, scanout_id);
        return respond_nodata(rq);
    }
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(gpu->core, res_id, &info) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "unknown resource %" PRIu32, res_id);
    uint32_t width = le32(cmd.width), height = le32(cmd.height), format = le32(cmd.format);
    uint32_t stride = le32(cmd.strides[0]), offset = le32(cmd.offsets[0]);
    struct virtio_gpu_rect r = { le32(cmd.r.x), le32(cmd.r.y), le32(cmd.r.width),
                                 le32(cmd.r.height) };
    if (!format_fourcc(format))
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "format %" PRIu32, format);
    if (width == 0 || height == 0 || width > 16384 || height > 16384 ||
        stride < (uint64_t)width * 4)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "%" PRIu32 "x%" PRIu32 " image with stride %" PRIu32, width, height,
                             stride);
    uint64_t end = (uint64_t)offset + (uint64_t)stride * (height - 1) + (uint64_t)width * 4;
    if (end > info.size)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "the image needs %" PRIu64 " bytes of the %" PRIu64 "-byte blob",
                             end, info.size);
    if ((uint64_t)r.x + r.width > width || (uint64_t)r.y + r.height > height)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                             "rectangle %" PRIu32 ",%" PRIu32 " %" PRIu32 "x%" PRIu32
                             " outside the image", r.x, r.y, r.width, r.height);
    void *map;
    uint64_t map_size;
    enum pv_gpu_status status = pv_gpu_resource_map(gpu->core, res_id, &map, &map_size);
    if (status != PV_GPU_OK)
        return respond_status(rq, status, "scanout");
    gpu->scanouts[scanout_id] = (struct scanout){
        .enabled = true,
        .resource_id = res_id,
        .width = width,
        .height = height,
        .format = format,
        .stride = stride,
        .offset = offset,
    };
    return respond_nodata(rq);
}

static int cmd_set_scanout(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    /* struct virtio_gpu_set_scanout: hdr, rect, scanout_id, resource_id. Only turning a
     * scanout off is served: there are no 2D resources to show. */
    uint8_t raw[24 + 16 + 8];
    if (!take(rq, raw, sizeof(raw)))
        return -1;
    uint32_t scanout_id, res_id;
    memcpy(&scanout_id, raw + 40, 4);
    memcpy(&res_id, raw + 44, 4);
    scanout_id = le32(scanout_id);
    res_id = le32(res_id);
    if (scanout_id >= gpu->config.num_scanouts)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
                             "scanout %" PRIu32 " of %" PRIu32, scanout_id,
                             gpu->config.num_scanouts);
    if (res_id != 0)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "resource %" PRIu32 ": only blob resources are shown "
                             "(SET_SCANOUT_BLOB)", res_id);
    disable_scanout(gpu, scanout_id);
    return respond_nodata(rq);
}

static int cmd_resource_flush(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    struct virtio_gpu_resource_flush cmd;
    if (!take(rq, &cmd, sizeof(cmd)))
        return -1;
    uint32_t res_id = le32(cmd.resource_id);
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(gpu->core, res_id, &info) != PV_GPU_OK)
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
                             "unknown resource %" PRIu32, res_id);
    struct virtio_gpu_rect r = { le32(cmd.r.x), le32(cmd.r.y), le32(cmd.r.width),
                                 le32(cmd.r.height) };
    for (uint32_t i = 0; i < gpu->config.num_scanouts; i++) {
        struct scanout *s = &gpu->scanouts[i];
        if (!s->enabled || s->resource_id != res_id || !gpu->callbacks.scanout_updated)
            continue;
        void *map;
        uint64_t map_size;
        if (pv_gpu_resource_map(gpu->core, res_id, &map, &map_size) != PV_GPU_OK)
            continue;
        /* Clip the damage to the image; an empty one still tells the VMM to show it. */
        uint32_t x0 = r.x < s->width ? r.x : s->width;
        uint32_t y0 = r.y < s->height ? r.y : s->height;
        uint64_t x1 = (uint64_t)r.x + r.width, y1 = (uint64_t)r.y + r.height;
        if (x1 > s->width)
            x1 = s->width;
        if (y1 > s->height)
            y1 = s->height;
        struct pvgpu_scanout_frame frame = {
            .scanout_id = i,
            .enabled = true,
            .resource_id = res_id,
            .width = s->width,
            .height = s->height,
            .format = s->format,
            .drm_fourcc = format_fourcc(s->format),
            .stride = s->stride,
            .pixels = (const uint8_t *)map + s->offset,
            .damage_x = x0,
            .damage_y = y0,
            .damage_width = (uint32_t)(x1 - x0),
            .damage_height = (uint32_t)(y1 - y0),
        };
        gpu->callbacks.scanout_updated(gpu->callbacks.opaque, &frame);
    }
    return respond_nodata(rq);
}

static int dispatch(struct pvgpu_virtio_gpu *gpu, struct request *rq)
{
    switch (rq->hdr.type) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return cmd_get_display_info(gpu, rq);
    case VIRTIO_GPU_CMD_GET_CAPSET_INFO: return cmd_get_capset_info(gpu, rq);
    case VIRTIO_GPU_CMD_GET_CAPSET: return cmd_get_capset(gpu, rq);
    case VIRTIO_GPU_CMD_CTX_CREATE: return cmd_ctx_create(gpu, rq);
    case VIRTIO_GPU_CMD_CTX_DESTROY: return cmd_ctx_destroy(gpu, rq);
    case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE: return cmd_ctx_resource(gpu, rq, true);
    case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE: return cmd_ctx_resource(gpu, rq, false);
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB: return cmd_resource_create_blob(gpu, rq);
    case VIRTIO_GPU_CMD_RESOURCE_UNREF: return cmd_resource_unref(gpu, rq);
    case VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB: return cmd_map_blob(gpu, rq);
    case VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB: return cmd_unmap_blob(gpu, rq);
    case VIRTIO_GPU_CMD_SUBMIT_3D: return cmd_submit_3d(gpu, rq);
    case VIRTIO_GPU_CMD_SET_SCANOUT_BLOB: return cmd_set_scanout_blob(gpu, rq);
    case VIRTIO_GPU_CMD_SET_SCANOUT: return cmd_set_scanout(gpu, rq);
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH: return cmd_resource_flush(gpu, rq);
    default:
        /* 2D resources, virgl's 3D resources and transfers, EDID and UUIDs (features not
         * offered), cursor commands on the wrong queue, or garbage. */
        return respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "type %#" PRIx32 " is not served",
                             rq->hdr.type);
    }
}

/* -- the public API --------------------------------------------------------------------- */

static void core_fence_retired(void *data, const struct pv_gpu_fence *fence)
{
    struct pvgpu_virtio_gpu *gpu = data;
    if (gpu->callbacks.fence_done)
        gpu->callbacks.fence_done(gpu->callbacks.opaque, fence->cookie, fence->ctx_id,
                                  fence->ring_idx, fence->fence_id);
}

struct pvgpu_virtio_gpu *pvgpu_virtio_gpu_create(const struct pvgpu_virtio_gpu_config *config,
                                                 const struct pvgpu_virtio_gpu_callbacks *callbacks)
{
    struct pvgpu_virtio_gpu *gpu = calloc(1, sizeof(*gpu));
    if (!gpu) {
        pv_log("virtio-gpu: out of memory");
        return NULL;
    }
    if (config)
        gpu->config = *config;
    if (callbacks)
        gpu->callbacks = *callbacks;
    if (gpu->config.num_scanouts == 0)
        gpu->config.num_scanouts = 1;
    if (gpu->config.num_scanouts > VIRTIO_GPU_MAX_SCANOUTS) {
        pv_log("virtio-gpu: %" PRIu32 " scanouts asked for; at most %d", gpu->config.num_scanouts,
               VIRTIO_GPU_MAX_SCANOUTS);
        free(gpu);
        return NULL;
    }
    if (!gpu->config.scanout_width)
        gpu->config.scanout_width = DEFAULT_SCANOUT_WIDTH;
    if (!gpu->config.scanout_height)
        gpu->config.scanout_height = DEFAULT_SCANOUT_HEIGHT;
    if (!gpu->config.max_request_bytes)
        gpu->config.max_request_bytes = DEFAULT_MAX_REQUEST_BYTES;
    gpu->page_size = sysconf(_SC_PAGESIZE);
    if (gpu->page_size <= 0)
        gpu->page_size = 4096;
    if (gpu->config.host_visible_size % (uint64_t)gpu->page_size) {
        pv_log("virtio-gpu: the host-visible window (%" PRIu64 " bytes) is not whole pages",
               gpu->config.host_visible_size);
        free(gpu);
        return NULL;
    }
    struct pv_gpu_options options = {
        .renderer = { .validate = gpu->config.validate,
                      .generation = gpu->config.venus_2022 ? PV_VENUS_2022 : PV_VENUS_CURRENT },
        .fence_retired = core_fence_retired,
        .fence_data = gpu,
        .quiet_immediate_fences = true,
    };
    gpu->core = pv_gpu_create(&options);
    if (!gpu->core) {
        free(gpu);
        return NULL;
    }
    return gpu;
}

void pvgpu_virtio_gpu_destroy(struct pvgpu_virtio_gpu *gpu)
{
    if (!gpu)
        return;
    while (gpu->mappings)
        unmap_from_window(gpu, gpu->mappings->mapping.resource_id);
    for (uint32_t i = 0; i < gpu->config.num_scanouts; i++)
        disable_scanout(gpu, i);
    pv_gpu_destroy(gpu->core);
    free(gpu);
}

uint64_t pvgpu_virtio_gpu_device_features(const struct pvgpu_virtio_gpu *gpu)
{
    (void)gpu;
    return 1ull << VIRTIO_GPU_F_VIRGL | 1ull << VIRTIO_GPU_F_RESOURCE_BLOB |
           1ull << VIRTIO_GPU_F_CONTEXT_INIT;
}

void pvgpu_virtio_gpu_read_config(const struct pvgpu_virtio_gpu *gpu, size_t offset, void *data,
                                  size_t len)
{
    struct virtio_gpu_config config = {
        .events_read = htole32(gpu->events_read),
        .events_clear = 0,
        .num_scanouts = htole32(gpu->config.num_scanouts),
        .num_capsets = htole32(1),
    };
    memset(data, 0, len);
    if (offset < sizeof(config)) {
        size_t n = sizeof(config) - offset < len ? sizeof(config) - offset : len;
        memcpy(data, (const uint8_t *)&config + offset, n);
    }
}

void pvgpu_virtio_gpu_write_config(struct pvgpu_virtio_gpu *gpu, size_t offset, const void *data,
                                   size_t len)
{
    /* events_clear (offset 4) clears the bits written to it; nothing else is writable. */
    if (offset == offsetof(struct virtio_gpu_config, events_clear) && len == 4) {
        uint32_t clear;
        memcpy(&clear, data, 4);
        gpu->events_read &= ~le32(clear);
    }
}

/* Writes size bytes of src over the response buffers. */
static void scatter(const struct iovec *iov, unsigned count, const uint8_t *src, size_t size)
{
    for (unsigned i = 0; i < count && size; i++) {
        size_t n = iov[i].iov_len < size ? iov[i].iov_len : size;
        memcpy(iov[i].iov_base, src, n);
        src += n;
        size -= n;
    }
}

int pvgpu_virtio_gpu_process_ctrl(struct pvgpu_virtio_gpu *gpu,
                                  const struct iovec *request, unsigned request_count,
                                  const struct iovec *response, unsigned response_count,
                                  uint64_t cookie, uint32_t *response_length)
{
    *response_length = 0;
    size_t capacity = 0, size = 0;
    for (unsigned i = 0; i < response_count; i++)
        capacity += response[i].iov_len;
    for (unsigned i = 0; i < request_count; i++)
        size += request[i].iov_len;
    if (capacity < sizeof(struct virtio_gpu_ctrl_hdr)) {
        pv_log("virtio-gpu: a request with %zu response bytes, less than a header; dropped",
               capacity);
        return -1;
    }

    struct request *rq = malloc(sizeof(*rq));
    if (!rq) {
        pv_log("virtio-gpu: out of memory for a request");
        return -1;
    }
    memset(&rq->hdr, 0, sizeof(rq->hdr));
    rq->name = "request";
    rq->response_size = 0;

    /* Read once: every check and every use below sees this copy, not guest memory. */
    uint8_t *copy = NULL;
    bool fenced = false;
    if (size > gpu->config.max_request_bytes) {
        uint8_t head[sizeof(struct virtio_gpu_ctrl_hdr)];
        size_t got = 0;
        for (unsigned i = 0; i < request_count && got < sizeof(head); i++) {
            size_t n = request[i].iov_len < sizeof(head) - got ? request[i].iov_len
                                                                 : sizeof(head) - got;
            memcpy(head + got, request[i].iov_base, n);
            got += n;
        }
        read_hdr(head, &rq->hdr);
        rq->name = command_name(rq->hdr.type);
        respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "%zu bytes, over the limit of %" PRIu32,
                      size, gpu->config.max_request_bytes);
    } else if (size < sizeof(struct virtio_gpu_ctrl_hdr)) {
        respond_error(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, "%zu bytes, shorter than a header", size);
    } else if (!(copy = malloc(size))) {
        respond_error(rq, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "no memory for %zu bytes", size);
    } else {
        size_t off = 0;
        for (unsigned i = 0; i < request_count; i++) {
            memcpy(copy + off, request[i].iov_base, request[i].iov_len);
            off += request[i].iov_len;
        }
        rq->bytes = copy;
        rq->size = size;
        read_hdr(copy, &rq->hdr);
        rq->name = command_name(rq->hdr.type);
        if (rq->hdr.flags & ~(VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX))
            pv_debug("virtio-gpu: %s: ignoring unknown flags %#" PRIx32, rq->name, rq->hdr.flags);
        pv_debug("virtio-gpu: %s, %zu bytes, ctx %" PRIu32 ", flags %#" PRIx32, rq->name, size,
                 rq->hdr.ctx_id, rq->hdr.flags);
        if (dispatch(gpu, rq) == 0 && (rq->hdr.flags & VIRTIO_GPU_FLAG_FENCE))
            fenced = true;
    }

    int result = PVGPU_CTRL_DONE;
    if (fenced) {
        bool on_ring = rq->hdr.flags & VIRTIO_GPU_FLAG_INFO_RING_IDX;
        bool retired = false;
        enum pv_gpu_status status = pv_gpu_fence_create(gpu->core, rq->hdr.ctx_id, on_ring,
                                                        rq->hdr.ring_idx, rq->hdr.fence_id,
                                                        cookie, &retired);
        if (status != PV_GPU_OK)
            respond_error(rq, status_response(status), "fence %" PRIu64 " on ring %u: %s",
                          rq->hdr.fence_id, rq->hdr.ring_idx, pv_gpu_status_name(status));
        else if (!retired)
            result = PVGPU_CTRL_DEFERRED;
    }

    if (rq->response_size > capacity) {
        pv_log("virtio-gpu: %s: the %zu-byte response does not fit %zu bytes", rq->name,
               rq->response_size, capacity);
        respond(rq, VIRTIO_GPU_RESP_ERR_UNSPEC, sizeof(struct virtio_gpu_ctrl_hdr));
    }
    /* The fence fields go back as the request had them, on errors too: the guest's fence
     * is signalled by this response. */
    struct virtio_gpu_ctrl_hdr *hdr = (struct virtio_gpu_ctrl_hdr *)rq->response;
    if (rq->hdr.flags & VIRTIO_GPU_FLAG_FENCE) {
        uint32_t flags = VIRTIO_GPU_FLAG_FENCE | (rq->hdr.flags & VIRTIO_GPU_FLAG_INFO_RING_IDX);
        hdr->flags = htole32(flags);
        hdr->fence_id = htole64(rq->hdr.fence_id);
        hdr->ctx_id = htole32(rq->hdr.ctx_id);
        if (flags & VIRTIO_GPU_FLAG_INFO_RING_IDX)
            hdr->ring_idx = rq->hdr.ring_idx;
    }
    scatter(response, response_count, rq->response, rq->response_size);
    *response_length = (uint32_t)rq->response_size;
    free(copy);
    free(rq);
    return result;
}

int pvgpu_virtio_gpu_event_fd(const struct pvgpu_virtio_gpu *gpu)
{
    return pv_gpu_poll_fd(gpu->core);
}

void pvgpu_virtio_gpu_poll(struct pvgpu_virtio_gpu *gpu)
{
    pv_gpu_poll(gpu->core, false, 0);
}
