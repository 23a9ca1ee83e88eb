/* An example of the VMM side of PearVisor GPU's virtio-gpu device (include/pvgpu/virtio_gpu.h).
 *
 * A real VMM gets control-queue descriptor chains from its virtqueue; here a tiny stand-in
 * "guest" writes requests into guest RAM and the VMM hands the device iovecs into that RAM,
 * exactly as it would translate descriptors. What the VMM provides is all real:
 *   - guest RAM as shared memory (a memfd), so GUEST blobs can be mapped by the device;
 *   - a host-visible window (virtio shm region 1) that map_blob fills with mmap(MAP_FIXED);
 *   - fence completion through the device's eventfd and pvgpu_virtio_gpu_poll();
 *   - a scanout callback that receives the guest's pixels (written to a PPM file if a path is
 *     given).
 *
 * Build: part of `ninja -C build` (build/examples/pvgpu-vmm-example). Run:
 *   build/examples/pvgpu-vmm-example [frame.ppm] */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pvgpu/virtio_gpu.h"

/* The few wire values this example sends (the virtio specification's numbers). */
enum {
    CMD_GET_DISPLAY_INFO = 0x0100,
    CMD_RESOURCE_UNREF = 0x0102,
    CMD_RESOURCE_FLUSH = 0x0104,
    CMD_GET_CAPSET_INFO = 0x0108,
    CMD_GET_CAPSET = 0x0109,
    CMD_RESOURCE_CREATE_BLOB = 0x010c,
    CMD_SET_SCANOUT_BLOB = 0x010d,
    CMD_CTX_CREATE = 0x0200,
    CMD_CTX_DESTROY = 0x0201,
    CMD_SUBMIT_3D = 0x0207,
    CMD_RESOURCE_MAP_BLOB = 0x0208,
    CMD_RESOURCE_UNMAP_BLOB = 0x0209,
    RESP_OK_NODATA = 0x1100,
    RESP_OK_DISPLAY_INFO = 0x1101,
    RESP_OK_CAPSET_INFO = 0x1102,
    RESP_OK_CAPSET = 0x1103,
    RESP_OK_MAP_INFO = 0x1106,
    FLAG_FENCE = 1,
    FLAG_INFO_RING_IDX = 2,
    CAPSET_VENUS = 4,
    BLOB_MEM_HOST3D = 2,
    BLOB_FLAG_USE_MAPPABLE = 1,
    FORMAT_B8G8R8X8_UNORM = 2,
};

#define RAM_SIZE (16u << 20)
#define WINDOW_SIZE (64u << 20)
#define IMAGE_W 64
#define IMAGE_H 48

struct vmm {
    uint8_t *ram;            /* guest physical address 0 */
    uint8_t *window;         /* the host-visible window as the guest would see it */
    const char *ppm_path;
    int frames;
    uint64_t last_fence_cookie;
    int fences_done;
};

/* -- callbacks: what the VMM provides -------------------------------------------------- */

static void *guest_memory(void *opaque, uint64_t address, uint64_t size)
{
    struct vmm *vmm = opaque;
    if (address > RAM_SIZE || size > RAM_SIZE - address)
        return NULL;
    return vmm->ram + address;
}

static int map_blob(void *opaque, const struct pvgpu_blob_mapping *m)
{
    /* A KVM VMM would register m->host_address as a memory slot at the window's guest
     * address + m->offset; a process-based VMM maps the fd over its window reservation. */
    struct vmm *vmm = opaque;
    if (m->fd < 0)
        return -1;
    void *at = mmap(vmm->window + m->offset, m->size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED, m->fd, (off_t)m->fd_offset);
    if (at == MAP_FAILED) {
        perror("map_blob: mmap");
        return -1;
    }
    printf("vmm: resource %u mapped at window offset %#" PRIx64 " (%" PRIu64 " bytes, cache %u)\n",
           m->resource_id, m->offset, m->size, m->map_info);
    return 0;
}

static void unmap_blob(void *opaque, const struct pvgpu_blob_mapping *m)
{
    struct vmm *vmm = opaque;
    mmap(vmm->window + m->offset, m->size, PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    printf("vmm: resource %u unmapped from the window\n", m->resource_id);
}

static void scanout_updated(void *opaque, const struct pvgpu_scanout_frame *f)
{
    struct vmm *vmm = opaque;
    if (!f->enabled) {
        printf("vmm: scanout %u off\n", f->scanout_id);
        return;
    }
    vmm->frames++;
    uint32_t sum = 0;
    for (uint32_t y = 0; y < f->height; y++)
        for (uint32_t x = 0; x < f->width * 4; x++)
            sum = sum * 31 + f->pixels[(size_t)y * f->stride + x];
    printf("vmm: scanout %u shows resource %u, %ux%u fourcc %.4s, damage %u,%u %ux%u, "
           "checksum %08x\n", f->scanout_id, f->resource_id, f->width, f->height,
           (const char *)&f->drm_fourcc, f->damage_x, f->damage_y, f->damage_width,
           f->damage_height, sum);
    if (!vmm->ppm_path)
        return;
    FILE *out = fopen(vmm->ppm_path, "wb");
    if (!out)
        return;
    fprintf(out, "P6\n%u %u\n255\n", f->width, f->height);
    for (uint32_t y = 0; y < f->height; y++) {
        for (uint32_t x = 0; x < f->width; x++) {
            const uint8_t *p = f->pixels + (size_t)y * f->stride + x * 4;   /* B, G, R, X */
            uint8_t rgb[3] = { p[2], p[1], p[0] };
            fwrite(rgb, 1, 3, out);
        }
    }
    fclose(out);
}

static void fence_done(void *opaque, uint64_t cookie, uint32_t ctx_id, uint32_t ring_idx,
                       uint64_t fence_id)
{
    /* A VMM puts the chain named by cookie on the used ring here and interrupts the guest. */
    struct vmm *vmm = opaque;
    vmm->last_fence_cookie = cookie;
    vmm->fences_done++;
    printf("vmm: fence %" PRIu64 " of context %u ring %u done: request %" PRIu64
           " goes to the used ring\n", fence_id, ctx_id, ring_idx, cookie);
}

/* -- the stand-in guest: requests in guest RAM ------------------------------------------ */

#define REQUEST_AT 0x100000u
#define RESPONSE_AT 0x200000u

struct hdr {
    uint32_t type, flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint8_t ring_idx, padding[3];
};

static uint8_t *request(struct vmm *vmm, uint32_t type, uint32_t ctx_id, size_t size)
{
    memset(vmm->ram + REQUEST_AT, 0, size);
    struct hdr *h = (struct hdr *)(vmm->ram + REQUEST_AT);
    h->type = type;
    h->ctx_id = ctx_id;
    return vmm->ram + REQUEST_AT;
}

/* One trip through the control queue: the chain is one readable and one writable buffer. */
static int submit(struct pvgpu_virtio_gpu *gpu, struct vmm *vmm, size_t size, uint64_t cookie,
                  uint32_t expect, const uint8_t **response)
{
    struct iovec req = { vmm->ram + REQUEST_AT, size };
    struct iovec resp = { vmm->ram + RESPONSE_AT, 4096 };
    uint32_t length = 0;
    int rc = pvgpu_virtio_gpu_process_ctrl(gpu, &req, 1, &resp, 1, cookie, &length);
    const struct hdr *h = (const struct hdr *)(vmm->ram + RESPONSE_AT);
    if (rc < 0 || length < sizeof(*h) || h->type != expect) {
        fprintf(stderr, "request %#x: result %d, response %#x (%u bytes), expected %#x\n",
                ((struct hdr *)(vmm->ram + REQUEST_AT))->type, rc, length ? h->type : 0, length,
                expect);
        return -1;
    }
    if (response)
        *response = vmm->ram + RESPONSE_AT;
    return rc;
}

static uint32_t u32_at(const uint8_t *p, size_t offset)
{
    uint32_t v;
    memcpy(&v, p + offset, 4);
    return v;
}

static void put_u32(uint8_t *p, size_t offset, uint32_t v) { memcpy(p + offset, &v, 4); }
static void put_u64(uint8_t *p, size_t offset, uint64_t v) { memcpy(p + offset, &v, 8); }

int main(int argc, char **argv)
{
    struct vmm vmm = { .ppm_path = argc > 1 ? argv[1] : NULL };
    int ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
    if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) < 0) {
        perror("guest RAM");
        return 1;
    }
    vmm.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
    vmm.window = mmap(NULL, WINDOW_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (vmm.ram == MAP_FAILED || vmm.window == MAP_FAILED) {
        perror("mmap");
        return 1;
    }

    struct pvgpu_virtio_gpu_config config = {
        .num_scanouts = 1,
        .scanout_width = IMAGE_W,
        .scanout_height = IMAGE_H,
        .host_visible_size = WINDOW_SIZE,
    };
    struct pvgpu_virtio_gpu_callbacks callbacks = {
        .opaque = &vmm,
        .fence_done = fence_done,
        .map_blob = map_blob,
        .unmap_blob = unmap_blob,
        .scanout_updated = scanout_updated,
        .guest_memory = guest_memory,
    };
    struct pvgpu_virtio_gpu *gpu = pvgpu_virtio_gpu_create(&config, &callbacks);
    if (!gpu)
        return 1;
    uint8_t cfg[16];
    pvgpu_virtio_gpu_read_config(gpu, 0, cfg, sizeof(cfg));
    printf("vmm: device features %#" PRIx64 ", %u scanout(s), %u capset(s)\n",
           pvgpu_virtio_gpu_device_features(gpu), u32_at(cfg, 8), u32_at(cfg, 12));

    const uint8_t *r;
    int failed = 0;
    request(&vmm, CMD_GET_DISPLAY_INFO, 0, 24);
    failed |= submit(gpu, &vmm, 24, 1, RESP_OK_DISPLAY_INFO, &r) < 0;
    if (!failed)
        printf("guest: display 0 is %ux%u, enabled %u\n", u32_at(r, 32), u32_at(r, 36),
               u32_at(r, 40));

    uint8_t *q = request(&vmm, CMD_GET_CAPSET_INFO, 0, 32);
    failed |= submit(gpu, &vmm, 32, 2, RESP_OK_CAPSET_INFO, &r) < 0;
    uint32_t capset_size = failed ? 0 : u32_at(r, 32);
    printf("guest: capset %u, max version %u, %u bytes\n", u32_at(r, 24), u32_at(r, 28),
           capset_size);
    q = request(&vmm, CMD_GET_CAPSET, 0, 32);
    put_u32(q, 24, CAPSET_VENUS);
    failed |= submit(gpu, &vmm, 32, 3, RESP_OK_CAPSET, &r) < 0;

    /* A Venus context, as the guest kernel creates it for a Vulkan instance. */
    q = request(&vmm, CMD_CTX_CREATE, 1, 96);
    put_u32(q, 24, 7);                 /* nlen */
    put_u32(q, 28, CAPSET_VENUS);      /* context_init */
    memcpy(q + 32, "example", 7);
    failed |= submit(gpu, &vmm, 96, 4, RESP_OK_NODATA, NULL) < 0;

    /* A host blob for the framebuffer, mapped into the window: the guest draws through it. */
    uint32_t stride = IMAGE_W * 4, size = stride * IMAGE_H;
    q = request(&vmm, CMD_RESOURCE_CREATE_BLOB, 1, 56);
    put_u32(q, 24, 10);                     /* resource_id */
    put_u32(q, 28, BLOB_MEM_HOST3D);
    put_u32(q, 32, BLOB_FLAG_USE_MAPPABLE);
    put_u64(q, 48, size);
    failed |= submit(gpu, &vmm, 56, 5, RESP_OK_NODATA, NULL) < 0;
    q = request(&vmm, CMD_RESOURCE_MAP_BLOB, 1, 40);
    put_u32(q, 24, 10);
    put_u64(q, 32, 0x200000);               /* window offset */
    failed |= submit(gpu, &vmm, 40, 6, RESP_OK_MAP_INFO, &r) < 0;
    if (failed) {
        pvgpu_virtio_gpu_destroy(gpu);
        return 1;
    }
    uint8_t *fb = vmm.window + 0x200000;
    for (uint32_t y = 0; y < IMAGE_H; y++)
        for (uint32_t x = 0; x < IMAGE_W; x++) {
            uint8_t *p = fb + y * stride + x * 4;
            p[0] = (uint8_t)(x * 4);    /* B */
            p[1] = (uint8_t)(y * 5);    /* G */
            p[2] = 0xc0;                /* R */
            p[3] = 0xff;
        }

    q = request(&vmm, CMD_SET_SCANOUT_BLOB, 0, 96);
    put_u32(q, 32, IMAGE_W);                /* r.width */
    put_u32(q, 36, IMAGE_H);                /* r.height */
    put_u32(q, 44, 10);                     /* resource_id (scanout_id 0 at 40) */
    put_u32(q, 48, IMAGE_W);
    put_u32(q, 52, IMAGE_H);
    put_u32(q, 56, FORMAT_B8G8R8X8_UNORM);
    put_u32(q, 64, stride);                 /* strides[0] */
    failed |= submit(gpu, &vmm, 96, 7, RESP_OK_NODATA, NULL) < 0;
    q = request(&vmm, CMD_RESOURCE_FLUSH, 0, 48);
    put_u32(q, 32, IMAGE_W);
    put_u32(q, 36, IMAGE_H);
    put_u32(q, 40, 10);
    failed |= submit(gpu, &vmm, 48, 8, RESP_OK_NODATA, NULL) < 0;

    /* A fenced submission on ring 1: the device answers it later, through the eventfd. */
    q = request(&vmm, CMD_SUBMIT_3D, 1, 32);
    ((struct hdr *)q)->flags = FLAG_FENCE | FLAG_INFO_RING_IDX;
    ((struct hdr *)q)->fence_id = 42;
    ((struct hdr *)q)->ring_idx = 1;
    int rc = submit(gpu, &vmm, 32, 9, RESP_OK_NODATA, NULL);
    printf("vmm: fenced SUBMIT_3D on ring 1: %s\n",
           rc == PVGPU_CTRL_DEFERRED ? "deferred until its fence retires" : "done at once");
    struct pollfd pfd = { .fd = pvgpu_virtio_gpu_event_fd(gpu), .events = POLLIN };
    while (rc == PVGPU_CTRL_DEFERRED && vmm.fences_done == 0) {
        if (poll(&pfd, 1, 5000) <= 0) {
            fprintf(stderr, "the fence did not retire\n");
            failed = 1;
            break;
        }
        pvgpu_virtio_gpu_poll(gpu);
    }
    failed |= rc < 0 || (rc == PVGPU_CTRL_DEFERRED && vmm.last_fence_cookie != 9);

    q = request(&vmm, CMD_RESOURCE_UNMAP_BLOB, 1, 32);
    put_u32(q, 24, 10);
    failed |= submit(gpu, &vmm, 32, 10, RESP_OK_NODATA, NULL) < 0;
    q = request(&vmm, CMD_RESOURCE_UNREF, 0, 32);
    put_u32(q, 24, 10);
    failed |= submit(gpu, &vmm, 32, 11, RESP_OK_NODATA, NULL) < 0;
    request(&vmm, CMD_CTX_DESTROY, 1, 24);
    failed |= submit(gpu, &vmm, 24, 12, RESP_OK_NODATA, NULL) < 0;

    pvgpu_virtio_gpu_destroy(gpu);
    failed |= vmm.frames != 1;
    printf("%s\n", failed ? "example: FAILED" : "example: ok");
    return failed ? 1 : 0;
}
