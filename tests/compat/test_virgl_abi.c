/* The virglrenderer-compatible library's entry points as a VMM calls them, beyond what
 * virgl_test_server exercises: capsets, contexts, host and guest blobs (export, map), global
 * fences and per-ring context fences with their poll fds, in both fence callback modes, and the
 * OpenGL entry points failing cleanly. The library serves current Venus guests unless
 * PVGPU_PROTOCOL=2022 is set when it is initialized: each generation's capset and the command
 * only the 2022 generation has are checked. Linked against
 * build/src/compat/libvirglrenderer.so.1. TAP output. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pv_test_tap.h"
#include "pv_test_vtest_client.h"
#include "virglrenderer.h"


struct record {
    int cookie_ok;
    uint32_t fences[16];
    int fence_count;
    struct { uint32_t ctx, ring; uint64_t id; } ctx_fences[16];
    int ctx_fence_count;
};
static struct record rec;
static int cookie;

static void write_fence(void *c, uint32_t fence)
{
    rec.cookie_ok += c == &cookie;
    if (rec.fence_count < 16)
        rec.fences[rec.fence_count] = fence;
    rec.fence_count++;
}

static void write_context_fence(void *c, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
    rec.cookie_ok += c == &cookie;
    if (rec.ctx_fence_count < 16) {
        rec.ctx_fences[rec.ctx_fence_count].ctx = ctx_id;
        rec.ctx_fences[rec.ctx_fence_count].ring = ring_idx;
        rec.ctx_fences[rec.ctx_fence_count].id = fence_id;
    }
    rec.ctx_fence_count++;
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return fd >= 0 && poll(&p, 1, timeout_ms) == 1;
}

/* The 2022 generation's experimental query with a reply stream to answer into: answered (large
 * ring only) by a 2022 context, fatal for a current one (so a failure there can only be the
 * generation's refusal). */
static void experimental_query(const char *mode, bool gen_2022)
{
    check(virgl_renderer_context_create_with_flags(3, 4, 12, "experimental") == 0, "%s: context 3", mode);
    struct virgl_renderer_resource_create_blob_args args = {
        .res_handle = 9, .ctx_id = 3, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
        .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, .size = 4096,
    };
    void *map = NULL;
    uint64_t size = 0;
    if (virgl_renderer_resource_create_blob(&args) != 0 || virgl_renderer_resource_map(9, &map, &size) != 0) {
        check(false, "%s: a mapped reply blob 9 for the experimental query", mode);
        return;
    }
    uint8_t *reply = map;
    memset(reply, 0xcc, 4096);
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, 9, 0, 4096);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_experimental_features(&cs, PV_TEST_COMMAND_GENERATE_REPLY, 16);
    const int rc = virgl_renderer_submit_cmd(cs.data, 3, (int)(cs.size / 4));
    pv_test_cs_fini(&cs);
    if (gen_2022) {
        /* type, pDataSize (marker, 16), pData (count 16, then four VkBool32) */
        uint32_t w[11];
        memcpy(w, reply, sizeof(w));
        check(rc == 0 && w[0] == PV_TEST_CMD_vkGetVenusExperimentalFeatureData100000MESA && w[1] == 1 &&
              w[3] == 16 && w[5] == 16 && w[7] == 0 && w[8] == 0 && w[9] == 1 && w[10] == 0 && reply[44] == 0xcc,
              "%s: the experimental query is answered: large ring only", mode);
    } else {
        check(rc != 0, "%s: the experimental query is refused (the context is fatal)", mode);
    }
    virgl_renderer_resource_unmap(9);
    virgl_renderer_resource_unref(9);
    virgl_renderer_context_destroy(3);
}

/* The plain 2D resources a guest console uses (VIRTIO_GPU_CMD_RESOURCE_CREATE_2D and friends as
 * QEMU passes them): pixels go from the attached backing to the host and back. */
static void resource2d(const char *mode)
{
    enum { W = 64, H = 32, ID = 30 };
    struct virgl_renderer_resource_create_args args = {
        .handle = ID, .target = 2, .format = 2, .bind = 2, .width = W, .height = H, .depth = 1,
        .array_size = 1, .flags = 1,
    };
    check(virgl_renderer_resource_create(&args, NULL, 0) == 0, "%s: 2D resource %d", mode, ID);
    check(virgl_renderer_resource_create(&args, NULL, 0) != 0, "%s: 2D resource %d again fails",
          mode, ID);
    struct virgl_renderer_resource_create_blob_args clash = {
        .res_handle = ID, .ctx_id = 1, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D, .size = 4096,
    };
    check(virgl_renderer_resource_create_blob(&clash) != 0,
          "%s: a blob may not take a 2D resource's id", mode);
    struct virgl_renderer_resource_create_args big = args;
    big.handle = ID + 1;
    big.width = big.height = 16384;
    check(virgl_renderer_resource_create(&big, NULL, 0) != 0,
          "%s: 2D resources past the memory bound are refused", mode);

    /* The guest backing: two iovecs of the pixel rows, split mid-row. */
    static uint32_t backing[W * H], readback[W * H];
    for (int i = 0; i < W * H; i++)
        backing[i] = 0x01000000u * (uint32_t)(i & 0xff) + (uint32_t)i;
    struct iovec iov[2] = { { backing, 1000 }, { (uint8_t *)backing + 1000, sizeof(backing) - 1000 } };
    check(virgl_renderer_resource_attach_iov(ID, iov, 2) == 0, "%s: attach_iov", mode);
    struct { uint32_t x, y, z, w, h, d; } box = { 0, 0, 0, W, H, 1 };
    check(virgl_renderer_transfer_write_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&box, 0, NULL, 0) ==
              0, "%s: transfer_write_iov (the whole resource from its backing)", mode);
    uint32_t w = 0, h = 0;
    uint32_t *cursor = virgl_renderer_get_cursor_data(ID, &w, &h);
    check(cursor && w == W && h == H && !memcmp(cursor, backing, sizeof(backing)),
          "%s: get_cursor_data: the pixels written", mode);
    free(cursor);
    /* A box in the middle, at the resource's offset of its first pixel. */
    struct { uint32_t x, y, z, w, h, d; } part = { 8, 4, 0, 16, 8, 1 };
    backing[4 * W + 8] = 0xdeadbeef;
    check(virgl_renderer_transfer_write_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&part,
                                            (4 * W + 8) * 4, NULL, 0) == 0,
          "%s: transfer_write_iov of a box", mode);
    struct iovec out = { readback, sizeof(readback) };
    check(virgl_renderer_transfer_read_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&box, 0, &out, 1) ==
              0 && !memcmp(readback, backing, sizeof(backing)),
          "%s: transfer_read_iov gives the box's pixels back", mode);
    struct { uint32_t x, y, z, w, h, d; } outside = { 60, 0, 0, 8, 1, 1 };
    check(virgl_renderer_transfer_write_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&outside, 0, NULL,
                                            0) != 0, "%s: a box past the resource fails", mode);
    struct iovec short_iov = { backing, 100 };
    check(virgl_renderer_transfer_write_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&box, 0,
                                            &short_iov, 1) != 0,
          "%s: a backing shorter than the box fails", mode);
    /* Nothing draws 2D resources: QEMU's SET_SCANOUT (get_info) must fail for them. */
    struct virgl_renderer_resource_info_ext ext = { .version = 0 };
    check(virgl_renderer_resource_get_info_ext(ID, &ext) != 0,
          "%s: get_info_ext of a 2D resource fails (no scanout)", mode);
    struct iovec *back = NULL;
    int back_count = 0;
    virgl_renderer_resource_detach_iov(ID, &back, &back_count);
    check(back == iov && back_count == 2, "%s: detach_iov hands the iovecs back", mode);
    check(virgl_renderer_transfer_write_iov(ID, 0, 0, 0, 0, (struct virgl_box *)&box, 0, NULL, 0) !=
              0, "%s: no transfer without a backing", mode);
    virgl_renderer_resource_unref(ID);
    uint32_t gone_w = 1, gone_h = 1;
    check(virgl_renderer_get_cursor_data(ID, &gone_w, &gone_h) == NULL && gone_w == 0,
          "%s: 2D resource gone after unref", mode);
}

static void run(bool async, const char *protocol)
{
    char mode[64];
    snprintf(mode, sizeof(mode), "%s, %s%s", async ? "ASYNC_FENCE_CB" : "THREAD_SYNC",
             protocol ? "PVGPU_PROTOCOL=" : "PVGPU_PROTOCOL unset", protocol ? protocol : "");
    const bool gen_2022 = protocol && !strcmp(protocol, "2022");
    if (protocol)
        setenv("PVGPU_PROTOCOL", protocol, 1);
    else
        unsetenv("PVGPU_PROTOCOL");
    struct virgl_renderer_callbacks cbs = {
        .version = 3,
        .write_fence = write_fence,
        .write_context_fence = write_context_fence,
    };
    memset(&rec, 0, sizeof(rec));
    int flags = VIRGL_RENDERER_VENUS | VIRGL_RENDERER_NO_VIRGL | VIRGL_RENDERER_THREAD_SYNC |
                VIRGL_RENDERER_USE_EXTERNAL_BLOB | (async ? VIRGL_RENDERER_ASYNC_FENCE_CB : 0);
    check(virgl_renderer_init(&cookie, flags, &cbs) == 0, "%s: virgl_renderer_init", mode);
    check(virgl_renderer_init(&cookie, flags, &cbs) == 0, "%s: init again, same cookie", mode);

    uint32_t max_ver = 99, max_size = 0;
    virgl_renderer_get_cap_set(4, &max_ver, &max_size);
    const uint32_t want_size = gen_2022 ? PV_TEST_CAPSET_BYTES_2022 : PV_TEST_CAPSET_BYTES_CURRENT;
    check(max_ver == 0 && max_size == want_size, "%s: Venus capset: version 0, %u bytes (expected %u)", mode,
          max_size, want_size);
    uint32_t caps[1024];
    memset(caps, 0xee, sizeof(caps));
    virgl_renderer_fill_caps(4, 0, caps);
    const char *mismatch = pv_test_capset_mismatch(
        caps, want_size, gen_2022 ? PV_TEST_GENERATION_2022 : PV_TEST_GENERATION_CURRENT);
    check(!mismatch && caps[want_size / 4] == 0xeeeeeeeeu,
          "%s: fill_caps: wire format %u, venus spec %u, %u bytes written%s%s", mode,
          caps[PV_TEST_CAPSET_WIRE_FORMAT], caps[PV_TEST_CAPSET_VENUS_SPEC], want_size,
          mismatch ? "; " : "", mismatch ? mismatch : "");
    virgl_renderer_get_cap_set(1, &max_ver, &max_size);
    check(max_ver == 0 && max_size == 0, "%s: no virgl capset", mode);

    check(virgl_renderer_context_create_with_flags(1, 4, 4, "test") == 0, "%s: context 1 (Venus)",
          mode);
    check(virgl_renderer_context_create_with_flags(1, 4, 4, "test") == 0,
          "%s: context 1 again with the same capset", mode);
    check(virgl_renderer_context_create_with_flags(2, 1, 4, "virgl") != 0,
          "%s: a virgl context is refused", mode);
    check(virgl_renderer_context_create_with_flags(2, 4 | 0x100, 4, "flags") != 0,
          "%s: unknown context flags are refused", mode);
    check(virgl_renderer_context_create(3, 4, "gl") != 0, "%s: context_create (GL) is refused",
          mode);

    struct virgl_renderer_resource_create_blob_args host = {
        .res_handle = 7, .ctx_id = 1, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
        .blob_flags = VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, .blob_id = 0, .size = 10000,
    };
    check(virgl_renderer_resource_create_blob(&host) == 0, "%s: host3d blob 7", mode);
    check(virgl_renderer_resource_create_blob(&host) != 0, "%s: blob 7 again is refused", mode);
    uint32_t fd_type = 0;
    int fd = -1;
    check(virgl_renderer_resource_export_blob(7, &fd_type, &fd) == 0 &&
          fd_type == VIRGL_RENDERER_BLOB_FD_TYPE_SHM && fd >= 0,
          "%s: export_blob 7: a shm fd", mode);
    void *map = NULL;
    uint64_t size = 0;
    check(virgl_renderer_resource_map(7, &map, &size) == 0 && map && size == 12288,
          "%s: resource_map 7: %llu bytes", mode, (unsigned long long)size);
    uint32_t map_info = 0;
    check(virgl_renderer_resource_get_map_info(7, &map_info) == 0 &&
          map_info == VIRGL_RENDERER_MAP_CACHE_CACHED, "%s: map info cached", mode);
    if (fd >= 0 && map) {
        uint8_t *other = mmap(NULL, 10000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        memset(map, 0xab, 10000);
        check(other != MAP_FAILED && other[9999] == 0xab,
              "%s: the exported fd and the map are the same pages", mode);
        if (other != MAP_FAILED)
            munmap(other, 10000);
        close(fd);
    }
    /* 1.3's map_fixed: the blob's pages over a range the caller reserved. */
    uint8_t *window = mmap(NULL, 4 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(window != MAP_FAILED && virgl_renderer_resource_map_fixed(7, window + 4096) == 0,
          "%s: map_fixed 7 into a reserved window", mode);
    if (window != MAP_FAILED && map) {
        memset(map, 0x3c, 100);
        bool same = window[4096] == 0x3c && window[4096 + 99] == 0x3c;
        window[4096 + 5000] = 0x77;
        same = same && ((uint8_t *)map)[5000] == 0x77;
        check(same, "%s: the fixed mapping and the blob are the same pages", mode);
        munmap(window, 4 * 4096);
    }
    check(virgl_renderer_resource_map_fixed(99, (void *)(uintptr_t)0x10000) == -EINVAL,
          "%s: map_fixed of nothing fails", mode);
    check(virgl_renderer_resource_unmap(7) == 0, "%s: resource_unmap 7", mode);

    /* A guest blob over shared memory given as two iovecs. */
    int shm = memfd_create("guest", MFD_CLOEXEC);
    if (ftruncate(shm, 3 * 4096) != 0)
        perror("ftruncate");
    uint8_t *guest = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    struct iovec iov[2] = { { guest + 2 * 4096, 4096 }, { guest, 4096 } };
    struct virgl_renderer_resource_create_blob_args guest_args = {
        .res_handle = 8, .ctx_id = 1, .blob_mem = VIRGL_RENDERER_BLOB_MEM_GUEST,
        .size = 8192, .iovecs = iov, .num_iovs = 2,
    };
    check(virgl_renderer_resource_create_blob(&guest_args) == 0, "%s: guest blob 8 (2 iovecs)",
          mode);
    check(virgl_renderer_resource_export_blob(8, &fd_type, &fd) != 0,
          "%s: a guest blob is not exported", mode);
    check(virgl_renderer_resource_map_fixed(8, (void *)(uintptr_t)0x10000) != 0,
          "%s: a guest blob is not mapped fixed", mode);
    virgl_renderer_ctx_attach_resource(1, 8);
    virgl_renderer_ctx_detach_resource(1, 8);
    virgl_renderer_resource_set_priv(8, &rec);
    check(virgl_renderer_resource_get_priv(8) == &rec, "%s: set_priv/get_priv", mode);
    virgl_renderer_resource_unref(8);
    check(virgl_renderer_resource_get_priv(8) == NULL, "%s: blob 8 is gone after unref", mode);
    munmap(guest, 3 * 4096);
    close(shm);

    check(virgl_renderer_submit_cmd(NULL, 1, 0) == 0, "%s: empty submit", mode);
    uint32_t garbage[2] = { 0x7fffffff, 0 };
    check(virgl_renderer_submit_cmd(garbage, 1, 2) != 0, "%s: an unknown command fails", mode);
    check(virgl_renderer_submit_cmd(garbage, 99, 2) != 0, "%s: submit to an unknown context",
          mode);
    experimental_query(mode, gen_2022);

    /* Fences: a global one and ring 0 retire at once, ring 3 in order after the queues. */
    check(virgl_renderer_context_create_with_flags(2, 4, 5, "fence") == 0, "%s: context 2", mode);
    int poll_fd = virgl_renderer_get_poll_fd();
    int ctx_fd = virgl_renderer_context_get_poll_fd(2);
    check(poll_fd >= 0 && ctx_fd >= 0 && ctx_fd != poll_fd, "%s: poll fds", mode);
    check(virgl_renderer_create_fence(5, 0) == 0, "%s: global fence 5", mode);
    check(virgl_renderer_context_create_fence(2, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE, 0, 50) == 0,
          "%s: context 2 ring 0 fence 50", mode);
    for (uint64_t i = 0; i < 3; i++)
        check(virgl_renderer_context_create_fence(2, 0, 3, 60 + i) == 0,
              "%s: context 2 ring 3 fence %llu", mode, (unsigned long long)(60 + i));
    check(virgl_renderer_context_create_fence(2, 0, 64, 70) != 0, "%s: ring 64 is refused", mode);
    check(virgl_renderer_context_create_fence(9, 0, 1, 70) != 0,
          "%s: a fence of an unknown context is refused", mode);
    if (!async) {
        check(readable(poll_fd, 2000), "%s: the poll fd turns readable", mode);
        /* The context's own poll reports its ring fences, not the global one. */
        for (int i = 0; i < 50 && rec.ctx_fence_count < 4; i++) {
            readable(ctx_fd, 100);
            virgl_renderer_context_poll(2);
        }
        check(rec.fence_count == 0, "%s: context_poll leaves the global fence alone", mode);
        virgl_renderer_poll();
        check(!readable(ctx_fd, 0), "%s: the context poll fd is drained", mode);
    } else {
        for (int i = 0; i < 50 && rec.ctx_fence_count < 4; i++)
            usleep(20000);
        check(!readable(poll_fd, 0), "%s: callbacks came directly (poll fd quiet)", mode);
    }
    check(rec.fence_count == 1 && rec.fences[0] == 5, "%s: write_fence(5)", mode);
    bool order = rec.ctx_fence_count == 4 && rec.ctx_fences[0].ring == 0 &&
                 rec.ctx_fences[0].id == 50;
    for (int i = 1; order && i < 4; i++)
        order = rec.ctx_fences[i].ctx == 2 && rec.ctx_fences[i].ring == 3 &&
                rec.ctx_fences[i].id == 59 + (uint64_t)i;
    check(order, "%s: write_context_fence: ring 0 fence 50, then ring 3 fences 60, 61, 62", mode);
    check(rec.cookie_ok == rec.fence_count + rec.ctx_fence_count,
          "%s: every callback got the init cookie", mode);

    /* OpenGL-era entry points fail without harm. */
    struct virgl_renderer_resource_create_args gl = { .handle = 20, .target = 3, .format = 2,
                                                      .width = 4, .height = 4, .depth = 1,
                                                      .array_size = 1 };
    check(virgl_renderer_resource_create(&gl, NULL, 0) != 0,
          "%s: resource_create of a 3D texture fails", mode);
    check(virgl_renderer_transfer_read_iov(7, 1, 0, 0, 0, NULL, 0, NULL, 0) != 0,
          "%s: transfers of a blob fail", mode);
    struct virgl_renderer_resource_info info;
    memset(&info, 0x55, sizeof(info));
    check(virgl_renderer_resource_get_info(7, &info) == 0 && info.handle == 7 && info.fd == -1 &&
              info.width == 0, "%s: get_info of a blob: no dma-buf (fd -1), no size", mode);
    struct virgl_renderer_resource_info_ext ext = { .version = 0 };
    check(virgl_renderer_resource_get_info_ext(7, &ext) == 0 && ext.base.fd == -1 &&
              !ext.has_dmabuf_export && ext.d3d_tex2d == NULL, "%s: get_info_ext of a blob", mode);
    check(virgl_renderer_resource_get_info(99, &info) != 0, "%s: get_info of nothing fails", mode);
    resource2d(mode);
    struct virgl_renderer_supported_structures query = {
        .hdr = { VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES, 0, sizeof(query) },
    };
    check(virgl_renderer_execute(&query, sizeof(query)) == 0, "%s: execute(supported structures)",
          mode);

    virgl_renderer_context_destroy(2);
    virgl_renderer_context_destroy(1);
    virgl_renderer_resource_unref(7);
    virgl_renderer_cleanup(&cookie);
    check(virgl_renderer_context_create_with_flags(1, 4, 4, "after") != 0,
          "%s: nothing works after cleanup", mode);
}

static int log_lines;
static int log_freed;
static void log_callback(enum virgl_log_level_flags level, const char *message, void *data)
{
    log_lines += level == VIRGL_LOG_LEVEL_INFO && data == &log_lines && strstr(message, "OpenGL");
}
static void free_log_data(void *data)
{
    log_freed += data == &log_lines;
}

int main(void)
{
    check(VIRGL_CHECK_VERSION(1, 3, 0) && !VIRGL_CHECK_VERSION(1, 3, 1),
          "the header says virglrenderer 1.3.0");
    /* QEMU lists its capsets when the device is realized, before virgl_renderer_init. */
    uint32_t max_ver = 99, max_size = 0;
    unsetenv("PVGPU_PROTOCOL");
    virgl_renderer_get_cap_set(4, &max_ver, &max_size);
    check(max_ver == 0 && max_size == PV_TEST_CAPSET_BYTES_CURRENT,
          "before init: the Venus capset is listed (%u bytes)", max_size);
    virgl_renderer_get_cap_set(1, &max_ver, &max_size);
    check(max_size == 0, "before init: no virgl capset");
    virgl_set_log_callback(log_callback, &log_lines, free_log_data);
    /* Current guests by default and when asked for by name; the 2022 generation on request. */
    run(false, NULL);
    run(true, "current");
    run(false, "2022");
    check(log_lines >= 1, "the log callback got the host's lines (%d about OpenGL)", log_lines);
    virgl_set_log_callback(NULL, NULL, NULL);
    check(log_freed == 1, "replacing the log callback frees its data");
    return tap_done();
}
