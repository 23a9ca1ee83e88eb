/* Unit tests of the virtio-gpu device model (include/pvgpu/virtio_gpu.h): every control command
 * it serves, driven with request buffers laid out byte by byte as the virtio specification
 * describes them (written here from the spec's offsets, not from the device's structs), and the
 * responses checked the same way; malformed requests of each kind get the spec's error response.
 * A Venus exchange (vkCreateInstance with its reply) runs through SUBMIT_3D on the host's Vulkan.
 * The device serves current guests (wire format 1) unless the VMM asks for the 2022 generation
 * (venus_2022): the capsets of both, and a command only the 2022 generation has, are checked.
 * TAP output. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pv_test_sync_calls.h"
#include "pv_test_tap.h"
#include "pv_test_vtest_client.h"
#include "pvgpu/virtio_gpu.h"

/* -- wire numbers from the specification ----------------------------------------------- */

enum {
    GET_DISPLAY_INFO = 0x0100, RESOURCE_CREATE_2D, RESOURCE_UNREF, SET_SCANOUT, RESOURCE_FLUSH,
    TRANSFER_TO_HOST_2D, RESOURCE_ATTACH_BACKING, RESOURCE_DETACH_BACKING, GET_CAPSET_INFO,
    GET_CAPSET, GET_EDID, RESOURCE_ASSIGN_UUID, RESOURCE_CREATE_BLOB, SET_SCANOUT_BLOB,
    CTX_CREATE = 0x0200, CTX_DESTROY, CTX_ATTACH_RESOURCE, CTX_DETACH_RESOURCE,
    RESOURCE_CREATE_3D, TRANSFER_TO_HOST_3D, TRANSFER_FROM_HOST_3D, SUBMIT_3D,
    RESOURCE_MAP_BLOB, RESOURCE_UNMAP_BLOB,
    UPDATE_CURSOR = 0x0300,
    OK_NODATA = 0x1100, OK_DISPLAY_INFO, OK_CAPSET_INFO, OK_CAPSET, OK_EDID, OK_RESOURCE_UUID,
    OK_MAP_INFO,
    ERR_UNSPEC = 0x1200, ERR_OUT_OF_MEMORY, ERR_INVALID_SCANOUT_ID, ERR_INVALID_RESOURCE_ID,
    ERR_INVALID_CONTEXT_ID, ERR_INVALID_PARAMETER,
};
#define FLAG_FENCE 1u
#define FLAG_INFO_RING_IDX 2u
#define BLOB_MEM_GUEST 1u
#define BLOB_MEM_HOST3D 2u
#define BLOB_MEM_HOST3D_GUEST 3u
#define BLOB_FLAG_MAPPABLE 1u
#define FORMAT_B8G8R8X8 2u
#define CAPSET_VENUS 4u
#define PAGE 4096u
#define RAM_SIZE (4u << 20)
#define WINDOW_SIZE (8u << 20)

/* -- the fake VMM ----------------------------------------------------------------------- */

struct fence_record {
    uint64_t cookie;
    uint32_t ctx_id, ring_idx;
    uint64_t fence_id;
};

struct vmm {
    uint8_t *ram;   /* guest physical 0 */
    int map_calls, unmap_calls;
    struct pvgpu_blob_mapping last_map;
    bool map_fd_valid;
    bool fail_map;
    int frames, scanouts_off;
    struct pvgpu_scanout_frame last_frame;
    uint8_t frame_pixels[64];   /* first bytes of the last frame's damage, copied */
    struct fence_record fences[16];
    int fence_count;
};

static void *guest_memory(void *opaque, uint64_t address, uint64_t size)
{
    struct vmm *vmm = opaque;
    if (address >= RAM_SIZE || size > RAM_SIZE - address)
        return NULL;
    return vmm->ram + address;
}

static int map_blob(void *opaque, const struct pvgpu_blob_mapping *m)
{
    struct vmm *vmm = opaque;
    vmm->map_calls++;
    vmm->last_map = *m;
    /* The fd holds the blob: its last page may be partly past the end of the file. */
    vmm->map_fd_valid = m->fd >= 0 && lseek(m->fd, 0, SEEK_END) > (off_t)(m->size - PAGE);
    return vmm->fail_map ? -1 : 0;
}

static void unmap_blob(void *opaque, const struct pvgpu_blob_mapping *m)
{
    struct vmm *vmm = opaque;
    (void)m;
    vmm->unmap_calls++;
}

static void scanout_updated(void *opaque, const struct pvgpu_scanout_frame *f)
{
    struct vmm *vmm = opaque;
    if (!f->enabled) {
        vmm->scanouts_off++;
        return;
    }
    vmm->frames++;
    vmm->last_frame = *f;
    memcpy(vmm->frame_pixels,
           f->pixels + (size_t)f->damage_y * f->stride + (size_t)f->damage_x * 4,
           sizeof(vmm->frame_pixels));
    vmm->last_frame.pixels = NULL;
}

static void fence_done(void *opaque, uint64_t cookie, uint32_t ctx_id, uint32_t ring_idx,
                       uint64_t fence_id)
{
    struct vmm *vmm = opaque;
    if (vmm->fence_count < 16)
        vmm->fences[vmm->fence_count] = (struct fence_record){ cookie, ctx_id, ring_idx, fence_id };
    vmm->fence_count++;
}

/* -- requests and responses ------------------------------------------------------------- */

struct req {
    uint8_t bytes[8192];
    size_t size;
};

static void put32(struct req *r, size_t offset, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        r->bytes[offset + i] = (uint8_t)(v >> (8 * i));
}

static void put64(struct req *r, size_t offset, uint64_t v)
{
    put32(r, offset, (uint32_t)v);
    put32(r, offset + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p, size_t offset)
{
    return (uint32_t)p[offset] | (uint32_t)p[offset + 1] << 8 | (uint32_t)p[offset + 2] << 16 |
           (uint32_t)p[offset + 3] << 24;
}

static uint64_t get64(const uint8_t *p, size_t offset)
{
    return get32(p, offset) | (uint64_t)get32(p, offset + 4) << 32;
}

static struct req *req_new(struct req *r, uint32_t type, uint32_t ctx_id, size_t size)
{
    memset(r, 0, sizeof(*r));
    put32(r, 0, type);
    put32(r, 16, ctx_id);
    r->size = size;
    return r;
}

static void req_fence(struct req *r, uint32_t flags, uint64_t fence_id, uint8_t ring_idx)
{
    put32(r, 4, flags);
    put64(r, 8, fence_id);
    r->bytes[20] = ring_idx;
}

struct resp {
    uint8_t bytes[8192];
    uint32_t size;
    int result;
};

static struct pvgpu_virtio_gpu *dev;
static struct vmm vmm;
static uint64_t next_cookie = 1000;

/* Sends r as one readable buffer with a 4 KiB writable one. */
static uint32_t send_req(const struct req *r, struct resp *out)
{
    memset(out, 0xee, sizeof(*out));
    struct iovec in = { (void *)r->bytes, r->size };
    struct iovec o = { out->bytes, 4096 };
    out->result = pvgpu_virtio_gpu_process_ctrl(dev, &in, 1, &o, 1, next_cookie++, &out->size);
    return out->size >= 24 ? get32(out->bytes, 0) : 0;
}

static uint32_t type_of(const struct req *r)
{
    struct resp out;
    return send_req(r, &out);
}

static const char *type_name(uint32_t t)
{
    static char buf[16];
    switch (t) {
    case OK_NODATA: return "OK_NODATA";
    case OK_DISPLAY_INFO: return "OK_DISPLAY_INFO";
    case OK_CAPSET_INFO: return "OK_CAPSET_INFO";
    case OK_CAPSET: return "OK_CAPSET";
    case OK_MAP_INFO: return "OK_MAP_INFO";
    case ERR_UNSPEC: return "ERR_UNSPEC";
    case ERR_OUT_OF_MEMORY: return "ERR_OUT_OF_MEMORY";
    case ERR_INVALID_SCANOUT_ID: return "ERR_INVALID_SCANOUT_ID";
    case ERR_INVALID_RESOURCE_ID: return "ERR_INVALID_RESOURCE_ID";
    case ERR_INVALID_CONTEXT_ID: return "ERR_INVALID_CONTEXT_ID";
    case ERR_INVALID_PARAMETER: return "ERR_INVALID_PARAMETER";
    }
    snprintf(buf, sizeof(buf), "%#x", t);
    return buf;
}

static void expect(const struct req *r, uint32_t want, const char *what)
{
    uint32_t got = type_of(r);
    check(got == want, "%s -> %s (got %s)", what, type_name(want), type_name(got));
}

/* Request builders, one per command, with the spec's offsets. */
static struct req *ctx_create(struct req *r, uint32_t ctx_id, uint32_t context_init,
                              const char *name, uint32_t nlen)
{
    req_new(r, CTX_CREATE, ctx_id, 96);
    put32(r, 24, nlen);
    put32(r, 28, context_init);
    if (name)
        memcpy(r->bytes + 32, name, strlen(name) < 64 ? strlen(name) : 64);
    return r;
}

static struct req *ctx_resource(struct req *r, uint32_t type, uint32_t ctx_id, uint32_t res_id)
{
    req_new(r, type, ctx_id, 32);
    put32(r, 24, res_id);
    return r;
}

static struct req *create_blob(struct req *r, uint32_t ctx_id, uint32_t res_id, uint32_t blob_mem,
                               uint32_t flags, uint64_t blob_id, uint64_t size,
                               uint32_t nr_entries, const uint64_t *entries /* addr, len pairs */)
{
    req_new(r, RESOURCE_CREATE_BLOB, ctx_id, 56 + (size_t)nr_entries * 16);
    put32(r, 24, res_id);
    put32(r, 28, blob_mem);
    put32(r, 32, flags);
    put32(r, 36, nr_entries);
    put64(r, 40, blob_id);
    put64(r, 48, size);
    for (uint32_t i = 0; entries && i < nr_entries; i++) {
        put64(r, 56 + i * 16, entries[2 * i]);
        put32(r, 56 + i * 16 + 8, (uint32_t)entries[2 * i + 1]);
    }
    return r;
}

static struct req *map_req(struct req *r, uint32_t ctx_id, uint32_t res_id, uint64_t offset)
{
    req_new(r, RESOURCE_MAP_BLOB, ctx_id, 40);
    put32(r, 24, res_id);
    put64(r, 32, offset);
    return r;
}

static struct req *res_req(struct req *r, uint32_t type, uint32_t res_id)
{
    req_new(r, type, 0, 32);
    put32(r, 24, res_id);
    return r;
}

static struct req *submit_req(struct req *r, uint32_t ctx_id, const void *cs, uint32_t size)
{
    req_new(r, SUBMIT_3D, ctx_id, 32 + (size_t)size);
    put32(r, 24, size);
    if (size)
        memcpy(r->bytes + 32, cs, size);
    return r;
}

static struct req *scanout_blob(struct req *r, uint32_t scanout_id, uint32_t res_id, uint32_t width,
                                uint32_t height, uint32_t format, uint32_t stride, uint32_t offset)
{
    req_new(r, SET_SCANOUT_BLOB, 0, 96);
    put32(r, 24, 0);
    put32(r, 28, 0);
    put32(r, 32, width);
    put32(r, 36, height);
    put32(r, 40, scanout_id);
    put32(r, 44, res_id);
    put32(r, 48, width);
    put32(r, 52, height);
    put32(r, 56, format);
    put32(r, 64, stride);
    put32(r, 80, offset);
    return r;
}

static struct req *flush_req(struct req *r, uint32_t res_id, uint32_t x, uint32_t y, uint32_t w,
                             uint32_t h)
{
    req_new(r, RESOURCE_FLUSH, 0, 48);
    put32(r, 24, x);
    put32(r, 28, y);
    put32(r, 32, w);
    put32(r, 36, h);
    put32(r, 40, res_id);
    return r;
}

static void wait_fences(int count)
{
    struct pollfd pfd = { .fd = pvgpu_virtio_gpu_event_fd(dev), .events = POLLIN };
    for (int i = 0; i < 100 && vmm.fence_count < count; i++) {
        poll(&pfd, 1, 100);
        pvgpu_virtio_gpu_poll(dev);
    }
}

/* -- the tests -------------------------------------------------------------------------- */

static void test_config(void)
{
    uint8_t cfg[16];
    pvgpu_virtio_gpu_read_config(dev, 0, cfg, sizeof(cfg));
    check(get32(cfg, 0) == 0 && get32(cfg, 8) == 2 && get32(cfg, 12) == 1,
          "config space: events_read 0, num_scanouts 2, num_capsets 1");
    uint64_t features = pvgpu_virtio_gpu_device_features(dev);
    check(features == ((1u << 0) | (1u << 3) | (1u << 4)),
          "features: VIRGL, RESOURCE_BLOB, CONTEXT_INIT (%#" PRIx64 ")", features);
}

static void test_display_info(void)
{
    struct req r;
    struct resp out;
    req_new(&r, GET_DISPLAY_INFO, 0, 24);
    uint32_t t = send_req(&r, &out);
    bool ok = t == OK_DISPLAY_INFO && out.size == 24 + 16 * 24 && out.result == PVGPU_CTRL_DONE;
    ok = ok && get32(out.bytes, 24 + 8) == 320 && get32(out.bytes, 24 + 12) == 200 &&
         get32(out.bytes, 24 + 16) == 1;                        /* pmodes[0] */
    ok = ok && get32(out.bytes, 48 + 16) == 1;                  /* pmodes[1] enabled */
    ok = ok && get32(out.bytes, 72 + 8) == 0 && get32(out.bytes, 72 + 16) == 0;   /* pmodes[2] */
    ok = ok && get32(out.bytes, 4) == 0;                        /* no fence flag */
    check(ok, "GET_DISPLAY_INFO: 408 bytes, two enabled 320x200 scanouts, the rest off");
    req_new(&r, GET_DISPLAY_INFO, 0, 20);
    expect(&r, ERR_UNSPEC, "GET_DISPLAY_INFO of 20 bytes (shorter than the header)");
}

static uint32_t capset_size;

/* The capset as the device's generation should serve it (pv_test_capset_mismatch), printing
 * the difference if any. */
static bool capset_matches(const uint8_t *bytes, uint32_t size, enum pv_test_generation generation)
{
    uint32_t caps[64] = { 0 };
    memcpy(caps, bytes, size < sizeof(caps) ? size : sizeof(caps));
    const char *mismatch = pv_test_capset_mismatch(caps, size, generation);
    if (mismatch)
        fprintf(stderr, "# the %s capset: %s\n", pv_test_generation_name(generation), mismatch);
    return !mismatch;
}

static void test_capsets(void)
{
    struct req r;
    struct resp out;
    req_new(&r, GET_CAPSET_INFO, 0, 32);
    put32(&r, 24, 0);
    uint32_t t = send_req(&r, &out);
    capset_size = get32(out.bytes, 32);
    check(t == OK_CAPSET_INFO && out.size == 40 && get32(out.bytes, 24) == CAPSET_VENUS &&
          get32(out.bytes, 28) == 0 && capset_size == 160,
          "GET_CAPSET_INFO 0: Venus, max version 0, %u bytes", capset_size);
    put32(&r, 24, 1);
    expect(&r, ERR_INVALID_PARAMETER, "GET_CAPSET_INFO index 1 (one capset)");
    req_new(&r, GET_CAPSET_INFO, 0, 28);
    expect(&r, ERR_UNSPEC, "GET_CAPSET_INFO of 28 bytes");

    req_new(&r, GET_CAPSET, 0, 32);
    put32(&r, 24, CAPSET_VENUS);
    put32(&r, 28, 0);
    t = send_req(&r, &out);
    check(t == OK_CAPSET && out.size == 24 + capset_size &&
          capset_matches(out.bytes + 24, capset_size, PV_TEST_GENERATION_CURRENT),
          "GET_CAPSET Venus v0: 160 bytes, wire format 1, vk.xml %#x, venus spec %u, multiple timelines %u",
          get32(out.bytes, 28), get32(out.bytes, 24 + 12), get32(out.bytes, 24 + 152));
    put32(&r, 24, 1);
    expect(&r, ERR_INVALID_PARAMETER, "GET_CAPSET of capset 1 (virgl, not served)");
    put32(&r, 24, CAPSET_VENUS);
    put32(&r, 28, 1);
    expect(&r, ERR_INVALID_PARAMETER, "GET_CAPSET Venus version 1");

    /* A response buffer too small for the capset gets an error header instead. */
    put32(&r, 28, 0);
    struct iovec in = { r.bytes, r.size };
    struct iovec small = { out.bytes, 64 };
    uint32_t len = 0;
    int rc = pvgpu_virtio_gpu_process_ctrl(dev, &in, 1, &small, 1, 1, &len);
    check(rc == PVGPU_CTRL_DONE && len == 24 && get32(out.bytes, 0) == ERR_UNSPEC,
          "GET_CAPSET into a 64-byte response buffer -> ERR_UNSPEC header");
}

static void test_contexts(void)
{
    struct req r;
    expect(ctx_create(&r, 1, CAPSET_VENUS, "first", 5), OK_NODATA, "CTX_CREATE 1, Venus");
    expect(ctx_create(&r, 2, CAPSET_VENUS, "second", 6), OK_NODATA, "CTX_CREATE 2, Venus");
    expect(ctx_create(&r, 1, CAPSET_VENUS, "again", 5), ERR_INVALID_CONTEXT_ID,
           "CTX_CREATE of an existing context");
    expect(ctx_create(&r, 0, CAPSET_VENUS, "zero", 4), ERR_INVALID_CONTEXT_ID, "CTX_CREATE 0");
    expect(ctx_create(&r, 3, 0, "virgl", 5), ERR_INVALID_PARAMETER,
           "CTX_CREATE without context_init (virgl)");
    expect(ctx_create(&r, 3, 1, "virgl", 5), ERR_INVALID_PARAMETER, "CTX_CREATE for capset 1");
    expect(ctx_create(&r, 3, CAPSET_VENUS | 0x100, "bits", 4), ERR_INVALID_PARAMETER,
           "CTX_CREATE with context_init bits beyond the capset id");
    expect(ctx_create(&r, 3, CAPSET_VENUS, "long", 65), ERR_INVALID_PARAMETER,
           "CTX_CREATE with nlen 65");
    ctx_create(&r, 3, CAPSET_VENUS, "short", 5);
    r.size = 90;
    expect(&r, ERR_UNSPEC, "CTX_CREATE of 90 bytes");
    /* A name full of garbage and no terminator is only a log name. */
    ctx_create(&r, 4, CAPSET_VENUS, NULL, 64);
    memset(r.bytes + 32, 0xff, 64);
    expect(&r, OK_NODATA, "CTX_CREATE with a 64-byte unterminated binary name");
    req_new(&r, CTX_DESTROY, 4, 24);
    expect(&r, OK_NODATA, "CTX_DESTROY 4");
    expect(&r, ERR_INVALID_CONTEXT_ID, "CTX_DESTROY 4 again");
    req_new(&r, CTX_DESTROY, 4, 16);
    expect(&r, ERR_UNSPEC, "CTX_DESTROY of 16 bytes");
}

static void test_blobs(void)
{
    struct req r;
    expect(create_blob(&r, 1, 10, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, 12345, 0, NULL),
           OK_NODATA, "RESOURCE_CREATE_BLOB host3d 10 (12345 bytes, mappable) in context 1");
    expect(create_blob(&r, 1, 11, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, 2 * PAGE, 0, NULL),
           OK_NODATA, "RESOURCE_CREATE_BLOB host3d 11");
    expect(create_blob(&r, 1, 12, BLOB_MEM_HOST3D, 0, 0, PAGE, 0, NULL), OK_NODATA,
           "RESOURCE_CREATE_BLOB host3d 12, not mappable");
    expect(create_blob(&r, 1, 10, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           ERR_INVALID_RESOURCE_ID, "RESOURCE_CREATE_BLOB of an existing resource id");
    expect(create_blob(&r, 1, 0, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           ERR_INVALID_RESOURCE_ID, "RESOURCE_CREATE_BLOB of resource 0");
    expect(create_blob(&r, 99, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           ERR_INVALID_CONTEXT_ID, "RESOURCE_CREATE_BLOB host3d in an unknown context");
    expect(create_blob(&r, 0, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           ERR_INVALID_CONTEXT_ID, "RESOURCE_CREATE_BLOB host3d without a context");
    uint64_t one[2] = { 0, PAGE };
    expect(create_blob(&r, 1, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 1, one),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB host3d with a memory entry");
    expect(create_blob(&r, 1, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, 0, 0, NULL),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB of size 0");
    expect(create_blob(&r, 1, 13, BLOB_MEM_HOST3D, 8, 0, PAGE, 0, NULL), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB with unknown blob flag 8");
    expect(create_blob(&r, 1, 13, 0, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB with blob_mem 0");
    expect(create_blob(&r, 1, 13, BLOB_MEM_HOST3D_GUEST, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB host3d_guest (not served)");
    expect(create_blob(&r, 1, 13, 77, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB with blob_mem 77");
    expect(create_blob(&r, 1, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0x7777, PAGE, 0, NULL),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB of an unknown VkDeviceMemory id");
    create_blob(&r, 1, 13, BLOB_MEM_GUEST, 0, 0, PAGE, 1, one);
    put32(&r, 36, 1000);
    expect(&r, ERR_UNSPEC, "RESOURCE_CREATE_BLOB claiming 1000 entries in a 1-entry request");
    create_blob(&r, 1, 13, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL);
    r.size = 50;
    expect(&r, ERR_UNSPEC, "RESOURCE_CREATE_BLOB of 50 bytes");

    /* Guest blobs: scattered guest pages, seen back to back. */
    uint64_t pages[6] = { 5 * PAGE, PAGE, 2 * PAGE, PAGE, 9 * PAGE, PAGE };
    expect(create_blob(&r, 1, 20, BLOB_MEM_GUEST, BLOB_FLAG_MAPPABLE, 0, 3 * PAGE, 3, pages),
           OK_NODATA, "RESOURCE_CREATE_BLOB guest 20 over guest pages 5, 2, 9 in context 1");
    expect(create_blob(&r, 0, 21, BLOB_MEM_GUEST, 0, 0, 2 * PAGE, 2, pages), OK_NODATA,
           "RESOURCE_CREATE_BLOB guest 21 without a context");
    uint64_t outside[2] = { RAM_SIZE, PAGE };
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, PAGE, 1, outside), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB guest with an entry outside guest RAM");
    uint64_t unaligned[2] = { 100, PAGE };
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, PAGE, 1, unaligned),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB guest with an unaligned entry");
    uint64_t torn[4] = { 0, 100, PAGE, PAGE };
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, 100 + PAGE, 2, torn),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB guest whose first entry ends mid-page");
    uint64_t zero[2] = { 0, 0 };
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, PAGE, 1, zero), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB guest with a zero-length entry");
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, 4 * PAGE, 2, pages),
           ERR_INVALID_PARAMETER, "RESOURCE_CREATE_BLOB guest whose entries hold less than size");
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, PAGE, 0, NULL), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB guest without entries");
    uint64_t wrap[2] = { UINT64_MAX - 10, PAGE };
    expect(create_blob(&r, 1, 22, BLOB_MEM_GUEST, 0, 0, PAGE, 1, wrap), ERR_INVALID_PARAMETER,
           "RESOURCE_CREATE_BLOB guest with an entry wrapping the address space");
}

static void test_attach(void)
{
    struct req r;
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 2, 10), OK_NODATA,
           "CTX_ATTACH_RESOURCE host3d 10 (context 1's) to context 2");
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 2, 10), OK_NODATA,
           "CTX_ATTACH_RESOURCE again (no change)");
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 2, 21), OK_NODATA,
           "CTX_ATTACH_RESOURCE guest 21 to context 2");
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 2, 999), ERR_INVALID_RESOURCE_ID,
           "CTX_ATTACH_RESOURCE of an unknown resource");
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 99, 10), ERR_INVALID_CONTEXT_ID,
           "CTX_ATTACH_RESOURCE to an unknown context");
    expect(ctx_resource(&r, CTX_DETACH_RESOURCE, 2, 21), OK_NODATA,
           "CTX_DETACH_RESOURCE guest 21 from context 2");
    expect(ctx_resource(&r, CTX_DETACH_RESOURCE, 2, 21), OK_NODATA,
           "CTX_DETACH_RESOURCE again (not attached: no change)");
    expect(ctx_resource(&r, CTX_DETACH_RESOURCE, 2, 999), ERR_INVALID_RESOURCE_ID,
           "CTX_DETACH_RESOURCE of an unknown resource");
    expect(ctx_resource(&r, CTX_DETACH_RESOURCE, 99, 10), ERR_INVALID_CONTEXT_ID,
           "CTX_DETACH_RESOURCE from an unknown context");
    ctx_resource(&r, CTX_ATTACH_RESOURCE, 2, 10);
    r.size = 28;
    expect(&r, ERR_UNSPEC, "CTX_ATTACH_RESOURCE of 28 bytes");
}

static void test_map(void)
{
    struct req r;
    struct resp out;
    map_req(&r, 1, 10, 0x10000);
    uint32_t t = send_req(&r, &out);
    check(t == OK_MAP_INFO && out.size == 32 && get32(out.bytes, 24) == 1 && vmm.map_calls == 1 &&
          vmm.last_map.resource_id == 10 && vmm.last_map.offset == 0x10000 &&
          vmm.last_map.size == 16384 && vmm.last_map.host_address && vmm.map_fd_valid,
          "RESOURCE_MAP_BLOB 10 at 0x10000: OK_MAP_INFO cached; the VMM got 16384 bytes, an "
          "address and an fd");
    /* The host address is the blob: what the VMM writes there, the device sees (checked
     * through the scanout below). */
    memset(vmm.last_map.host_address, 0x5a, 12345);
    expect(map_req(&r, 1, 10, 0x100000), ERR_INVALID_PARAMETER, "RESOURCE_MAP_BLOB of a mapped blob");
    expect(map_req(&r, 1, 11, 0x12000), ERR_INVALID_PARAMETER,
           "RESOURCE_MAP_BLOB overlapping another mapping");
    expect(map_req(&r, 1, 11, 0x10800), ERR_INVALID_PARAMETER, "RESOURCE_MAP_BLOB at 0x10800 (unaligned)");
    expect(map_req(&r, 1, 11, WINDOW_SIZE - PAGE), ERR_INVALID_PARAMETER,
           "RESOURCE_MAP_BLOB running past the end of the window");
    expect(map_req(&r, 1, 11, UINT64_MAX & ~(uint64_t)(PAGE - 1)), ERR_INVALID_PARAMETER,
           "RESOURCE_MAP_BLOB at an offset near 2^64");
    expect(map_req(&r, 1, 12, 0x40000), ERR_INVALID_PARAMETER, "RESOURCE_MAP_BLOB of a non-mappable blob");
    expect(map_req(&r, 1, 20, 0x40000), ERR_INVALID_PARAMETER, "RESOURCE_MAP_BLOB of a guest blob");
    expect(map_req(&r, 1, 999, 0x40000), ERR_INVALID_RESOURCE_ID, "RESOURCE_MAP_BLOB of an unknown resource");
    vmm.fail_map = true;
    expect(map_req(&r, 1, 11, 0x40000), ERR_UNSPEC, "RESOURCE_MAP_BLOB the VMM fails to map");
    vmm.fail_map = false;
    expect(map_req(&r, 1, 11, 0x40000), OK_MAP_INFO, "RESOURCE_MAP_BLOB 11 at 0x40000");
    map_req(&r, 1, 11, 0x40000);
    r.size = 36;
    expect(&r, ERR_UNSPEC, "RESOURCE_MAP_BLOB of 36 bytes");

    int unmaps = vmm.unmap_calls;
    expect(res_req(&r, RESOURCE_UNMAP_BLOB, 11), OK_NODATA, "RESOURCE_UNMAP_BLOB 11");
    check(vmm.unmap_calls == unmaps + 1, "the VMM was asked to unmap it");
    expect(res_req(&r, RESOURCE_UNMAP_BLOB, 11), ERR_INVALID_PARAMETER,
           "RESOURCE_UNMAP_BLOB of a blob not mapped");
    expect(res_req(&r, RESOURCE_UNMAP_BLOB, 999), ERR_INVALID_RESOURCE_ID,
           "RESOURCE_UNMAP_BLOB of an unknown resource");
    res_req(&r, RESOURCE_UNMAP_BLOB, 10);
    r.size = 30;
    expect(&r, ERR_UNSPEC, "RESOURCE_UNMAP_BLOB of 30 bytes");
}

/* A Venus exchange through SUBMIT_3D: the reply stream in a mapped host blob and in a guest
 * blob, both read back where the guest would read them. */
static void test_submit(void)
{
    struct req r;
    struct resp out;
    expect(create_blob(&r, 2, 40, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           OK_NODATA, "RESOURCE_CREATE_BLOB host3d 40 for a reply stream in context 2");
    expect(map_req(&r, 2, 40, 0x80000), OK_MAP_INFO, "RESOURCE_MAP_BLOB 40");
    uint8_t *reply = vmm.last_map.host_address;
    memset(reply, 0xcc, PAGE);

    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, 40, 0, PAGE);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "virtio-gpu-test",
                               PV_TEST_API_VERSION_1_1, 0x1234);
    expect(submit_req(&r, 2, cs.data, (uint32_t)cs.size), OK_NODATA,
           "SUBMIT_3D: set reply stream, seek, vkCreateInstance");
    check(get32(reply, 0) == PV_TEST_CMD_vkCreateInstance && get32(reply, 4) == 0 &&
          get64(reply, 8) == 1 && get64(reply, 16) == 0x1234 && reply[24] == 0xcc,
          "the vkCreateInstance reply (VK_SUCCESS, id echoed, 24 bytes) is in the mapped blob");

    /* The reply stream in guest blob 20: the context sees guest pages 5, 2, 9 back to back. */
    memset(vmm.ram + 5 * PAGE, 0xcc, PAGE);
    pv_test_cs_reset(&cs);
    pv_test_cs_set_reply_stream(&cs, 20, PAGE - 8, 64);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_destroy_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, 0x1234);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "again",
                               PV_TEST_API_VERSION_1_1, 0x99);
    expect(submit_req(&r, 1, cs.data, (uint32_t)cs.size), ERR_UNSPEC,
           "SUBMIT_3D destroying an instance context 1 does not have -> ERR_UNSPEC (fatal)");
    pv_test_cs_reset(&cs);
    pv_test_cs_create_instance(&cs, 0, "unused", PV_TEST_API_VERSION_1_1, 0x77);
    expect(submit_req(&r, 1, cs.data, (uint32_t)cs.size), ERR_UNSPEC,
           "SUBMIT_3D to the fatal context -> ERR_UNSPEC");

    expect(ctx_create(&r, 5, CAPSET_VENUS, "guest-blob", 10), OK_NODATA, "CTX_CREATE 5");
    expect(ctx_resource(&r, CTX_ATTACH_RESOURCE, 5, 20), OK_NODATA,
           "CTX_ATTACH_RESOURCE guest 20 to context 5");
    pv_test_cs_reset(&cs);
    pv_test_cs_set_reply_stream(&cs, 20, PAGE - 8, 64);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "guest",
                               PV_TEST_API_VERSION_1_1, 0x5678);
    expect(submit_req(&r, 5, cs.data, (uint32_t)cs.size), OK_NODATA,
           "SUBMIT_3D with the reply stream across two guest pages of blob 20");
    /* Offset PAGE - 8 of the blob is the end of guest page 5, then guest page 2. */
    const uint8_t *a = vmm.ram + 6 * PAGE - 8, *b = vmm.ram + 2 * PAGE;
    check(get32(a, 0) == PV_TEST_CMD_vkCreateInstance && get32(a, 4) == 0 && get64(b, 0) == 1 &&
          get64(b, 8) == 0x5678,
          "the reply landed in guest RAM: 8 bytes at the end of page 5, 16 at the start of page 2");
    pv_test_cs_fini(&cs);

    expect(submit_req(&r, 99, NULL, 0), ERR_INVALID_CONTEXT_ID, "SUBMIT_3D to an unknown context");
    submit_req(&r, 2, "\0\0\0\0", 4);
    put32(&r, 24, 4096);
    expect(&r, ERR_INVALID_PARAMETER, "SUBMIT_3D whose size runs past the request");
    submit_req(&r, 2, NULL, 0);
    r.size = 30;
    expect(&r, ERR_UNSPEC, "SUBMIT_3D of 30 bytes");
    uint32_t garbage[4] = { 0x7fffffff, 0, 1, 2 };
    expect(submit_req(&r, 5, garbage, sizeof(garbage)), ERR_UNSPEC,
           "SUBMIT_3D of an unknown Venus command -> ERR_UNSPEC (context 5 fatal)");
    expect(submit_req(&r, 2, NULL, 0), OK_NODATA, "context 2 goes on after context 5 went fatal");

    /* The 2022 generation's experimental query has no place in the current protocol, even with
     * a reply stream to answer into (test_venus_2022 sends the same to a 2022 device). */
    expect(ctx_create(&r, 7, CAPSET_VENUS, "experimental", 12), OK_NODATA, "CTX_CREATE 7");
    expect(create_blob(&r, 7, 41, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL), OK_NODATA,
           "RESOURCE_CREATE_BLOB host3d 41 for a reply stream in context 7");
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, 41, 0, PAGE);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_experimental_features(&cs, PV_TEST_COMMAND_GENERATE_REPLY, 16);
    expect(submit_req(&r, 7, cs.data, (uint32_t)cs.size), ERR_UNSPEC,
           "SUBMIT_3D of the experimental query to a current context -> ERR_UNSPEC (fatal)");
    pv_test_cs_fini(&cs);
    expect(submit_req(&r, 2, NULL, 0), OK_NODATA, "context 2 goes on after context 7 went fatal");
    req_new(&r, CTX_DESTROY, 7, 24);
    expect(&r, OK_NODATA, "CTX_DESTROY 7");
    expect(res_req(&r, RESOURCE_UNREF, 41), OK_NODATA, "RESOURCE_UNREF 41");
    (void)out;
}

/* A device for the 2022 generation (venus_2022): its 156-byte capset, and the experimental
 * query the 22.3.6 driver sends first, answered into a mapped blob (large ring only). */
static void test_venus_2022(const struct pvgpu_virtio_gpu_callbacks *callbacks)
{
    struct pvgpu_virtio_gpu_config config = {
        .num_scanouts = 1, .scanout_width = 320, .scanout_height = 200,
        .host_visible_size = WINDOW_SIZE, .venus_2022 = true,
    };
    dev = pvgpu_virtio_gpu_create(&config, callbacks);
    if (!dev) {
        check(false, "2022: device creation");
        return;
    }
    struct req r;
    struct resp out;
    req_new(&r, GET_CAPSET_INFO, 0, 32);
    uint32_t t = send_req(&r, &out);
    const uint32_t size = get32(out.bytes, 32);
    check(t == OK_CAPSET_INFO && get32(out.bytes, 24) == CAPSET_VENUS && get32(out.bytes, 28) == 0 &&
          size == 156, "2022: GET_CAPSET_INFO 0: Venus, max version 0, %u bytes", size);
    req_new(&r, GET_CAPSET, 0, 32);
    put32(&r, 24, CAPSET_VENUS);
    t = send_req(&r, &out);
    check(t == OK_CAPSET && out.size == 24 + size && capset_matches(out.bytes + 24, size, PV_TEST_GENERATION_2022),
          "2022: GET_CAPSET Venus v0: 156 bytes, wire format 0, venus spec %u, multiple timelines %u",
          get32(out.bytes, 24 + 12), get32(out.bytes, 24 + 152));

    expect(ctx_create(&r, 1, CAPSET_VENUS, "mesa-22", 7), OK_NODATA, "2022: CTX_CREATE 1");
    expect(create_blob(&r, 1, 1, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL), OK_NODATA,
           "2022: RESOURCE_CREATE_BLOB host3d 1 for a reply stream");
    expect(map_req(&r, 1, 1, 0), OK_MAP_INFO, "2022: RESOURCE_MAP_BLOB 1");
    uint8_t *reply = vmm.last_map.host_address;
    memset(reply, 0xcc, PAGE);
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, 1, 0, PAGE);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_experimental_features(&cs, PV_TEST_COMMAND_GENERATE_REPLY, 16);
    expect(submit_req(&r, 1, cs.data, (uint32_t)cs.size), OK_NODATA,
           "2022: SUBMIT_3D of the experimental query");
    pv_test_cs_fini(&cs);
    /* type, pDataSize (marker, 16), pData (count 16, then the four VkBool32) */
    check(get32(reply, 0) == PV_TEST_CMD_vkGetVenusExperimentalFeatureData100000MESA &&
          get64(reply, 4) == 1 && get64(reply, 12) == 16 && get64(reply, 20) == 16 &&
          get32(reply, 28) == 0 && get32(reply, 32) == 0 && get32(reply, 36) == 1 &&
          get32(reply, 40) == 0 && reply[44] == 0xcc,
          "2022: the reply offers the large ring only (0, 0, 1, 0), 44 bytes");
    req_new(&r, CTX_DESTROY, 1, 24);
    expect(&r, OK_NODATA, "2022: CTX_DESTROY 1");
    pvgpu_virtio_gpu_destroy(dev);
}

static void test_fences(void)
{
    struct req r;
    struct resp out;
    submit_req(&r, 2, NULL, 0);
    req_fence(&r, FLAG_FENCE, 77, 0);
    uint32_t t = send_req(&r, &out);
    check(t == OK_NODATA && out.result == PVGPU_CTRL_DONE && get32(out.bytes, 4) == FLAG_FENCE &&
          get64(out.bytes, 8) == 77 && get32(out.bytes, 16) == 2,
          "fenced SUBMIT_3D (device timeline): done at once, FENCE, fence_id and ctx_id echoed");
    req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 78, 0);
    t = send_req(&r, &out);
    check(t == OK_NODATA && out.result == PVGPU_CTRL_DONE &&
          get32(out.bytes, 4) == (FLAG_FENCE | FLAG_INFO_RING_IDX) && get64(out.bytes, 8) == 78 &&
          out.bytes[20] == 0, "fence on ring 0 (the CPU ring): done at once, ring_idx echoed");

    vmm.fence_count = 0;
    uint64_t first_cookie = next_cookie;
    int deferred = 0;
    for (int i = 0; i < 3; i++) {
        submit_req(&r, 2, NULL, 0);
        req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 100 + (uint64_t)i, 1);
        t = send_req(&r, &out);
        deferred += t == OK_NODATA && out.result == PVGPU_CTRL_DEFERRED && out.bytes[20] == 1 &&
                    get64(out.bytes, 8) == 100 + (uint64_t)i;
    }
    submit_req(&r, 2, NULL, 0);
    req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 200, 5);
    t = send_req(&r, &out);
    deferred += out.result == PVGPU_CTRL_DEFERRED;
    check(deferred == 4, "four fenced SUBMIT_3D on rings 1 and 5: deferred, response written");
    wait_fences(4);
    bool order = vmm.fence_count == 4;
    uint64_t want = 100;
    for (int i = 0; order && i < 4; i++) {
        const struct fence_record *f = &vmm.fences[i];
        if (f->ring_idx == 1) {
            order = f->fence_id == want && f->ctx_id == 2 && f->cookie == first_cookie + (want - 100);
            want++;
        } else {
            order = f->ring_idx == 5 && f->fence_id == 200 && f->cookie == first_cookie + 3;
        }
    }
    check(order && want == 103,
          "fence_done for all four, ring 1's in order 100, 101, 102, with their cookies");
    pvgpu_virtio_gpu_poll(dev);
    check(vmm.fence_count == 4, "no fence is reported twice");

    submit_req(&r, 2, NULL, 0);
    req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 300, 64);
    t = send_req(&r, &out);
    check(t == ERR_INVALID_PARAMETER && out.result == PVGPU_CTRL_DONE &&
          get64(out.bytes, 8) == 300 && get32(out.bytes, 4) == (FLAG_FENCE | FLAG_INFO_RING_IDX),
          "fence on ring 64 -> ERR_INVALID_PARAMETER at once, fence fields still echoed");
    req_new(&r, CTX_ATTACH_RESOURCE, 42, 32);
    put32(&r, 24, 10);
    req_fence(&r, FLAG_FENCE, 301, 0);
    t = send_req(&r, &out);
    check(t == ERR_INVALID_CONTEXT_ID && out.result == PVGPU_CTRL_DONE &&
          get64(out.bytes, 8) == 301 && get32(out.bytes, 4) == FLAG_FENCE,
          "a failing fenced request answers at once with the fence echoed");
    submit_req(&r, 1, NULL, 0);
    req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 302, 3);
    t = send_req(&r, &out);
    check(t == ERR_UNSPEC && out.result == PVGPU_CTRL_DONE,
          "fenced SUBMIT_3D to a fatal context -> ERR_UNSPEC, done at once");

    /* A context destroyed right behind ring fences still reports them. */
    vmm.fence_count = 0;
    expect(ctx_create(&r, 6, CAPSET_VENUS, "short-lived", 11), OK_NODATA, "CTX_CREATE 6");
    for (int i = 0; i < 3; i++) {
        submit_req(&r, 6, NULL, 0);
        req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 400 + (uint64_t)i, 2);
        send_req(&r, &out);
    }
    req_new(&r, CTX_DESTROY, 6, 24);
    expect(&r, OK_NODATA, "CTX_DESTROY 6 with ring fences just submitted");
    wait_fences(3);
    check(vmm.fence_count == 3 && vmm.fences[0].fence_id == 400 && vmm.fences[2].fence_id == 402,
          "its three fences are reported, in order");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_destroy_hang(int sig)
{
    (void)sig;
    static const char line[] = "not ok - CTX_DESTROY of a context whose queue waits for its guest "
                               "still blocks after 10 s\nBail out!\n";
    ssize_t ignored = write(STDOUT_FILENO, line, sizeof(line) - 1);
    (void)ignored;
    _exit(1);
}

static void on_wait_hang(int sig)
{
    (void)sig;
    static const char line[] = "not ok - a guest's endless wait in SUBMIT_3D still blocks the "
                               "VMM's thread after 10 s\nBail out!\n";
    ssize_t ignored = write(STDOUT_FILENO, line, sizeof(line) - 1);
    (void)ignored;
    _exit(1);
}

/* A context whose only queue waits on a timeline value only its guest would signal, with a ring
 * fence behind that work: the fence worker waits for the queue, which never gets there. The
 * VMM's CTX_DESTROY must not wait with it: it returns within a second, and the fence is
 * reported (the guest that would wait for it is gone). */
static void test_destroy_waiting_context(void)
{
    struct req r;
    struct resp out;
    const uint64_t instance = 0x1110, physical = 0x2220, device = 0x3330, queue = 0x4440,
                   semaphore = 0x5550, fence = 0x6660;
    expect(ctx_create(&r, 9, CAPSET_VENUS, "stuck-queue", 11), OK_NODATA, "CTX_CREATE 9");
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, 0, "stuck", PV_TEST_API_VERSION_1_2, instance);
    pv_test_cs_enumerate_physical_devices(&cs, 0, instance, 1, &physical);
    pv_test_cs_create_device(&cs, 0, physical, true, device);
    pv_test_cs_get_device_queue2(&cs, device, 0, queue);
    pv_test_cs_create_timeline_semaphore(&cs, device, semaphore);
    pv_test_cs_submit_wait_timeline(&cs, queue, semaphore, 1, 0);
    expect(submit_req(&r, 9, cs.data, (uint32_t)cs.size), OK_NODATA,
           "SUBMIT_3D: a device whose queue waits for a timeline value never signalled");

    /* The guest's own endless waits in an execbuffer hold the VMM's thread at most a second
     * or so (the device's bound on guest waits), not for ever. */
    signal(SIGALRM, on_wait_hang);
    alarm(10);
    pv_test_cs_reset(&cs);
    pv_test_cs_create_fence(&cs, device, fence);
    pv_test_cs_wait_for_fences(&cs, 0, device, fence, PV_TEST_UINT64_MAX);
    int64_t start = now_ms();
    uint32_t t = send_req(submit_req(&r, 9, cs.data, (uint32_t)cs.size), &out);
    int64_t took = now_ms() - start;
    check(t == OK_NODATA && took >= 900 && took < 3000,
          "SUBMIT_3D with vkWaitForFences(UINT64_MAX) on a fence never submitted returns after "
          "the 1 s bound (%" PRId64 " ms)", took);
    pv_test_cs_reset(&cs);
    pv_test_cs_queue_wait_idle(&cs, 0, queue);
    start = now_ms();
    t = send_req(submit_req(&r, 9, cs.data, (uint32_t)cs.size), &out);
    took = now_ms() - start;
    alarm(0);
    check(t == OK_NODATA && took >= 900 && took < 3000,
          "SUBMIT_3D with vkQueueWaitIdle on the waiting queue returns after the 1 s bound "
          "(%" PRId64 " ms)", took);
    pv_test_cs_fini(&cs);

    vmm.fence_count = 0;
    submit_req(&r, 9, NULL, 0);
    req_fence(&r, FLAG_FENCE | FLAG_INFO_RING_IDX, 900, 1);
    t = send_req(&r, &out);
    check(t == OK_NODATA && out.result == PVGPU_CTRL_DEFERRED,
          "a fence on ring 1 behind the waiting queue is deferred");
    struct pollfd pfd = { .fd = pvgpu_virtio_gpu_event_fd(dev), .events = POLLIN };
    poll(&pfd, 1, 200);
    pvgpu_virtio_gpu_poll(dev);
    check(vmm.fence_count == 0, "it has not retired 200 ms later (the queue still waits)");

    signal(SIGALRM, on_destroy_hang);
    alarm(10);
    start = now_ms();
    req_new(&r, CTX_DESTROY, 9, 24);
    t = send_req(&r, &out);
    took = now_ms() - start;
    alarm(0);
    check(t == OK_NODATA && took < 1000,
          "CTX_DESTROY returns within 1 s although the fence worker waited (%" PRId64 " ms)", took);
    wait_fences(1);
    check(vmm.fence_count == 1 && vmm.fences[0].fence_id == 900 && vmm.fences[0].ctx_id == 9,
          "the fence is reported once, after the context went");
    req_new(&r, CTX_CREATE, 9, 24);
    expect(ctx_create(&r, 9, CAPSET_VENUS, "again", 5), OK_NODATA, "the context id is free again");
    req_new(&r, CTX_DESTROY, 9, 24);
    expect(&r, OK_NODATA, "CTX_DESTROY 9 again");
}

static void test_scanout(void)
{
    struct req r;
    /* Blob 10 was filled with 0x5a through the VMM's mapping; draw a marker too. */
    uint8_t *pixels = vmm.last_map.host_address;
    (void)pixels;
    expect(scanout_blob(&r, 0, 10, 32, 24, FORMAT_B8G8R8X8, 128, 0), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 0 <- blob 10, 32x24 B8G8R8X8, stride 128");
    vmm.frames = 0;
    expect(flush_req(&r, 10, 8, 8, 100, 100), OK_NODATA, "RESOURCE_FLUSH 10, 100x100 at 8,8");
    check(vmm.frames == 1 && vmm.last_frame.scanout_id == 0 && vmm.last_frame.width == 32 &&
          vmm.last_frame.height == 24 && vmm.last_frame.stride == 128 &&
          vmm.last_frame.drm_fourcc == 0x34325258u && vmm.last_frame.damage_x == 8 &&
          vmm.last_frame.damage_y == 8 && vmm.last_frame.damage_width == 24 &&
          vmm.last_frame.damage_height == 16 && vmm.frame_pixels[0] == 0x5a,
          "the VMM got one frame: 32x24 XR24, damage clipped to 24x16 at 8,8, the blob's pixels");

    uint64_t pages[2] = { 7 * PAGE, PAGE };
    memset(vmm.ram + 7 * PAGE, 0x3c, PAGE);
    struct req b;
    expect(create_blob(&b, 0, 30, BLOB_MEM_GUEST, 0, 0, PAGE, 1, pages), OK_NODATA,
           "RESOURCE_CREATE_BLOB guest 30 (one page) for scanout 1");
    expect(scanout_blob(&r, 1, 30, 16, 16, FORMAT_B8G8R8X8, 64, 0), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 1 <- guest blob 30, 16x16");
    vmm.frames = 0;
    expect(flush_req(&r, 30, 0, 0, 16, 16), OK_NODATA, "RESOURCE_FLUSH 30");
    check(vmm.frames == 1 && vmm.last_frame.scanout_id == 1 && vmm.frame_pixels[0] == 0x3c,
          "the VMM got scanout 1's frame from guest RAM");

    /* Guest pages 12 and 13 are adjacent (mapped in one piece), page 15 ends the blob early. */
    uint64_t runs[6] = { 12 * PAGE, PAGE, 13 * PAGE, PAGE, 15 * PAGE, 100 };
    memset(vmm.ram + 13 * PAGE, 0x66, PAGE);
    memset(vmm.ram + 15 * PAGE, 0x77, 100);
    expect(create_blob(&b, 0, 31, BLOB_MEM_GUEST, 0, 0, 2 * PAGE + 100, 3, runs), OK_NODATA,
           "RESOURCE_CREATE_BLOB guest 31 over pages 12+13 (adjacent) and 100 bytes of page 15");
    expect(scanout_blob(&r, 1, 31, 16, 1, FORMAT_B8G8R8X8, 64, 2 * PAGE), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 1 <- blob 31 at offset 8192 (page 15)");
    vmm.frames = 0;
    expect(flush_req(&r, 31, 0, 0, 16, 1), OK_NODATA, "RESOURCE_FLUSH 31");
    bool page15 = vmm.frames == 1 && vmm.frame_pixels[0] == 0x77;
    expect(scanout_blob(&r, 1, 31, 16, 1, FORMAT_B8G8R8X8, 64, PAGE), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 1 <- blob 31 at offset 4096 (page 13)");
    expect(flush_req(&r, 31, 0, 0, 16, 1), OK_NODATA, "RESOURCE_FLUSH 31 again");
    check(page15 && vmm.frames == 2 && vmm.frame_pixels[0] == 0x66,
          "the frames show guest pages 15 and 13 at blob offsets 8192 and 4096");
    expect(scanout_blob(&r, 1, 30, 16, 16, FORMAT_B8G8R8X8, 64, 0), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 1 <- guest blob 30 again");

    expect(scanout_blob(&r, 2, 10, 32, 24, FORMAT_B8G8R8X8, 128, 0), ERR_INVALID_SCANOUT_ID,
           "SET_SCANOUT_BLOB scanout 2 of 2");
    expect(scanout_blob(&r, 0, 999, 32, 24, FORMAT_B8G8R8X8, 128, 0), ERR_INVALID_RESOURCE_ID,
           "SET_SCANOUT_BLOB of an unknown resource");
    expect(scanout_blob(&r, 0, 10, 32, 24, 99, 128, 0), ERR_INVALID_PARAMETER,
           "SET_SCANOUT_BLOB with format 99");
    expect(scanout_blob(&r, 0, 10, 64, 64, FORMAT_B8G8R8X8, 256, 0), ERR_INVALID_PARAMETER,
           "SET_SCANOUT_BLOB of an image larger than the blob");
    expect(scanout_blob(&r, 0, 10, 32, 24, FORMAT_B8G8R8X8, 64, 0), ERR_INVALID_PARAMETER,
           "SET_SCANOUT_BLOB with a stride shorter than a row");
    expect(scanout_blob(&r, 0, 10, 32, 24, FORMAT_B8G8R8X8, 128, 0xfffffff0u),
           ERR_INVALID_PARAMETER, "SET_SCANOUT_BLOB with an offset past the blob");
    scanout_blob(&r, 0, 10, 32, 24, FORMAT_B8G8R8X8, 128, 0);
    put32(&r, 32, 33);
    expect(&r, ERR_INVALID_PARAMETER, "SET_SCANOUT_BLOB with a rectangle wider than the image");
    scanout_blob(&r, 0, 10, 32, 24, FORMAT_B8G8R8X8, 128, 0);
    r.size = 90;
    expect(&r, ERR_UNSPEC, "SET_SCANOUT_BLOB of 90 bytes");
    expect(flush_req(&r, 999, 0, 0, 1, 1), ERR_INVALID_RESOURCE_ID,
           "RESOURCE_FLUSH of an unknown resource");
    flush_req(&r, 10, 0, 0, 1, 1);
    r.size = 40;
    expect(&r, ERR_UNSPEC, "RESOURCE_FLUSH of 40 bytes");

    req_new(&r, SET_SCANOUT, 0, 48);
    put32(&r, 40, 1);
    put32(&r, 44, 5);
    expect(&r, ERR_INVALID_RESOURCE_ID, "SET_SCANOUT of a (non-blob) resource 5");
    put32(&r, 44, 0);
    int off = vmm.scanouts_off;
    expect(&r, OK_NODATA, "SET_SCANOUT scanout 1 <- 0 (off)");
    check(vmm.scanouts_off == off + 1, "the VMM was told scanout 1 is off");
    expect(scanout_blob(&r, 1, 0, 0, 0, 0, 0, 0), OK_NODATA,
           "SET_SCANOUT_BLOB scanout 1 <- 0 (already off)");
    check(vmm.scanouts_off == off + 1, "no second 'off' for a scanout already off");
}

/* The fds the test inherited, which are its runner's business, not the device's. */
#define INHERITED_FDS_MAX 1024
static bool inherited_fds[INHERITED_FDS_MAX];

static void note_inherited_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        int fd = atoi(entry->d_name);
        if (fd >= 0 && fd < INHERITED_FDS_MAX && fd != dirfd(dir))
            inherited_fds[fd] = true;
    }
    if (dir)
        closedir(dir);
}

/* A VMM forks and execs helpers; every fd the device opens (blobs, eventfds, the host driver's
 * own) must be close-on-exec, or each child inherits the guest's memory. */
static void test_fds_close_on_exec(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        check(false, "/proc/self/fd can be read");
        return;
    }
    int scanned = 0, inheritable = 0;
    char names[256] = "";
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] == '.' || fd == dirfd(dir) ||
            (fd < INHERITED_FDS_MAX && inherited_fds[fd]))
            continue;
        scanned++;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            inheritable++;
            char target[128] = "", path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            ssize_t n = readlink(path, target, sizeof(target) - 1);
            target[n > 0 ? n : 0] = '\0';
            size_t used = strlen(names);
            snprintf(names + used, sizeof(names) - used, " %d=%s", fd, target);
        }
    }
    closedir(dir);
    check(scanned > 0 && inheritable == 0,
          "with blobs, contexts and fences alive, all %d fds of the process are close-on-exec "
          "(%d are not:%s)", scanned, inheritable, names);
}

static void test_unref(void)
{
    struct req r;
    int unmaps = vmm.unmap_calls, off = vmm.scanouts_off;
    expect(res_req(&r, RESOURCE_UNREF, 10), OK_NODATA,
           "RESOURCE_UNREF 10 while mapped, attached to two contexts and on scanout 0");
    check(vmm.unmap_calls == unmaps + 1 && vmm.scanouts_off == off + 1,
          "the VMM was asked to unmap it and told scanout 0 is off");
    expect(flush_req(&r, 10, 0, 0, 1, 1), ERR_INVALID_RESOURCE_ID, "RESOURCE_FLUSH of it afterwards");
    expect(res_req(&r, RESOURCE_UNREF, 10), ERR_INVALID_RESOURCE_ID, "RESOURCE_UNREF 10 again");
    expect(res_req(&r, RESOURCE_UNREF, 20), OK_NODATA, "RESOURCE_UNREF guest 20");
    res_req(&r, RESOURCE_UNREF, 11);
    r.size = 28;
    expect(&r, ERR_UNSPEC, "RESOURCE_UNREF of 28 bytes");
    expect(create_blob(&r, 2, 10, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL),
           OK_NODATA, "resource id 10 is free again: RESOURCE_CREATE_BLOB 10 in context 2");
}

static void test_malformed(void)
{
    struct req r;
    struct resp out;
    req_new(&r, GET_DISPLAY_INFO, 0, 10);
    expect(&r, ERR_UNSPEC, "a 10-byte request");
    req_new(&r, 0, 0, 0);
    expect(&r, ERR_UNSPEC, "an empty request");
    static const uint32_t unserved[] = { RESOURCE_CREATE_2D, TRANSFER_TO_HOST_2D,
                                         RESOURCE_ATTACH_BACKING, RESOURCE_DETACH_BACKING,
                                         GET_EDID, RESOURCE_ASSIGN_UUID, RESOURCE_CREATE_3D,
                                         TRANSFER_TO_HOST_3D, TRANSFER_FROM_HOST_3D,
                                         UPDATE_CURSOR, 0, 0x9999, OK_NODATA, 0xffffffffu };
    for (size_t i = 0; i < sizeof(unserved) / sizeof(unserved[0]); i++) {
        req_new(&r, unserved[i], 0, 64);
        char what[64];
        snprintf(what, sizeof(what), "type %#x (not served)", unserved[i]);
        expect(&r, ERR_UNSPEC, what);
    }

    /* Headers and responses split across descriptors, as a guest may lay them out. */
    req_new(&r, GET_CAPSET_INFO, 0, 32);
    struct iovec in[3] = { { r.bytes, 5 }, { r.bytes + 5, 20 }, { r.bytes + 25, 7 } };
    struct iovec o[2] = { { out.bytes, 10 }, { out.bytes + 100, 100 } };
    uint32_t len = 0;
    int rc = pvgpu_virtio_gpu_process_ctrl(dev, in, 3, o, 2, 1, &len);
    uint8_t joined[40];
    memcpy(joined, out.bytes, 10);
    memcpy(joined + 10, out.bytes + 100, 30);
    check(rc == PVGPU_CTRL_DONE && len == 40 && get32(joined, 0) == OK_CAPSET_INFO &&
          get32(joined, 24) == CAPSET_VENUS,
          "GET_CAPSET_INFO split over 3 request and 2 response buffers");

    struct iovec tiny = { out.bytes, 23 };
    struct iovec whole = { r.bytes, r.size };
    rc = pvgpu_virtio_gpu_process_ctrl(dev, &whole, 1, &tiny, 1, 1, &len);
    check(rc < 0 && len == 0, "a 23-byte response buffer: no response, an error for the VMM");

    size_t big = (1u << 20) + 64;
    uint8_t *huge = calloc(1, big);
    put32((struct req *)huge, 0, SUBMIT_3D);   /* the first bytes only */
    struct iovec hv = { huge, big };
    struct iovec ov = { out.bytes, 4096 };
    rc = pvgpu_virtio_gpu_process_ctrl(dev, &hv, 1, &ov, 1, 1, &len);
    check(rc == PVGPU_CTRL_DONE && len == 24 && get32(out.bytes, 0) == ERR_UNSPEC,
          "a request over the device's 1 MiB limit -> ERR_UNSPEC");
    free(huge);

    /* Random requests of every served type: any answer is a response type, and nothing breaks. */
    static const uint32_t types[] = { GET_DISPLAY_INFO, RESOURCE_UNREF, SET_SCANOUT,
                                      RESOURCE_FLUSH, GET_CAPSET_INFO, GET_CAPSET,
                                      RESOURCE_CREATE_BLOB, SET_SCANOUT_BLOB, CTX_CREATE,
                                      CTX_DESTROY, CTX_ATTACH_RESOURCE, CTX_DETACH_RESOURCE,
                                      SUBMIT_3D, RESOURCE_MAP_BLOB, RESOURCE_UNMAP_BLOB };
    uint32_t seed = 12345;
    int bad = 0;
    for (int i = 0; i < 4000; i++) {
        req_new(&r, 0, 0, 0);
        seed = seed * 1103515245u + 12345u;
        r.size = (seed >> 8) % 200;
        for (size_t k = 0; k < r.size; k++) {
            seed = seed * 1103515245u + 12345u;
            /* Mostly small values, so ids and sizes hit existing objects now and then. */
            r.bytes[k] = (uint8_t)((seed >> 16) % 4 == 0 ? seed >> 24 : (seed >> 24) % 16);
        }
        if (r.size >= 4)
            put32(&r, 0, types[(seed >> 4) % (sizeof(types) / sizeof(types[0]))]);
        if (r.size >= 8)
            put32(&r, 4, 0);   /* no ring fences here: they would wait on the host */
        /* Command streams go only to fatal context 5: the decoder has fuzz targets of its own. */
        if (r.size >= 20 && get32(r.bytes, 0) == SUBMIT_3D)
            put32(&r, 16, 5);
        uint32_t t = type_of(&r);
        if (!((t >= OK_NODATA && t <= OK_MAP_INFO) || (t >= ERR_UNSPEC && t <= ERR_INVALID_PARAMETER)))
            bad++;
    }
    check(bad == 0, "4000 random requests of the served types: every answer is a response type");
}

int main(void)
{
    note_inherited_fds();
    int ram_fd = memfd_create("test-guest-ram", MFD_CLOEXEC);
    if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) < 0)
        return 1;
    vmm.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
    if (vmm.ram == MAP_FAILED)
        return 1;
    struct pvgpu_virtio_gpu_config config = {
        .num_scanouts = 2,
        .scanout_width = 320,
        .scanout_height = 200,
        .host_visible_size = WINDOW_SIZE,
        .max_request_bytes = 1u << 20,
    };
    struct pvgpu_virtio_gpu_callbacks callbacks = {
        .opaque = &vmm,
        .fence_done = fence_done,
        .map_blob = map_blob,
        .unmap_blob = unmap_blob,
        .scanout_updated = scanout_updated,
        .guest_memory = guest_memory,
    };
    dev = pvgpu_virtio_gpu_create(&config, &callbacks);
    if (!dev) {
        printf("Bail out! device creation failed\n");
        return 1;
    }
    test_config();
    test_display_info();
    test_capsets();
    test_contexts();
    test_blobs();
    test_attach();
    test_map();
    test_submit();
    test_fences();
    test_destroy_waiting_context();
    test_scanout();
    test_fds_close_on_exec();
    test_unref();
    test_malformed();
    pvgpu_virtio_gpu_destroy(dev);

    test_venus_2022(&callbacks);

    /* A VMM without the guest_memory callback or a window refuses what needs them. */
    struct pvgpu_virtio_gpu_callbacks bare = { .opaque = &vmm };
    struct pvgpu_virtio_gpu_config no_window = { 0 };
    dev = pvgpu_virtio_gpu_create(&no_window, &bare);
    struct req r;
    uint64_t page[2] = { 0, PAGE };
    expect(create_blob(&r, 0, 1, BLOB_MEM_GUEST, 0, 0, PAGE, 1, page), ERR_UNSPEC,
           "without guest_memory: RESOURCE_CREATE_BLOB guest -> ERR_UNSPEC");
    expect(ctx_create(&r, 1, CAPSET_VENUS, "bare", 4), OK_NODATA, "CTX_CREATE on the bare device");
    expect(create_blob(&r, 1, 2, BLOB_MEM_HOST3D, BLOB_FLAG_MAPPABLE, 0, PAGE, 0, NULL), OK_NODATA,
           "RESOURCE_CREATE_BLOB host3d on the bare device");
    expect(map_req(&r, 1, 2, 0), ERR_UNSPEC, "without a window: RESOURCE_MAP_BLOB -> ERR_UNSPEC");
    pvgpu_virtio_gpu_destroy(dev);

    struct pvgpu_virtio_gpu_config too_many = { .num_scanouts = 17 };
    check(pvgpu_virtio_gpu_create(&too_many, &bare) == NULL, "17 scanouts are refused");

    return tap_done();
}
