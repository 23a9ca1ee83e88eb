/* PearVisor GPU as a virtio-gpu device, for VMMs.
 *
 * The VMM owns the virtio transport (PCI or MMIO, virtqueues, interrupts); this library is the
 * device behind it. It serves Mesa's Venus driver in the guest (capset 4, context_init),
 * blob resources in guest memory and in host memory, the host-visible window, fences with
 * per-ring timelines and 2D scanout of blob resources.
 *
 * How a VMM uses it:
 *
 *   1. pvgpu_virtio_gpu_create() with a config and callbacks. Offer the guest
 *      pvgpu_virtio_gpu_device_features() and expose pvgpu_virtio_gpu_read_config() as the
 *      device's config space. If config.host_visible_size is non-zero, expose a shared memory
 *      region (virtio shm id 1, VIRTIO_GPU_SHM_ID_HOST_VISIBLE) of that size: map_blob asks the
 *      VMM to place host pages in it.
 *   2. For every descriptor chain of the control queue: call pvgpu_virtio_gpu_process_ctrl()
 *      with the chain's device-readable buffers (the request) and device-writable buffers (the
 *      response), and a cookie of the VMM's choosing that names the chain.
 *      - PVGPU_CTRL_DONE: put the chain on the used ring now, with the response length.
 *      - PVGPU_CTRL_DEFERRED: the request carried a fence on a ring (VIRTIO_GPU_FLAG_FENCE with
 *        VIRTIO_GPU_FLAG_INFO_RING_IDX, ring_idx > 0) that has not retired yet. The response is
 *        already written; put the chain on the used ring when fence_done names its cookie.
 *   3. Watch pvgpu_virtio_gpu_event_fd(); when it is readable, call pvgpu_virtio_gpu_poll(),
 *      which calls fence_done for every fence that retired, in order, on the calling thread.
 *   4. The cursor queue is not served: return its buffers with length 0.
 *
 * Calls into one device must come from one thread at a time; callbacks come on the thread
 * that made the call (fence_done only from pvgpu_virtio_gpu_poll). The device runs the guest's
 * Vulkan work in this process, on the host's Vulkan driver, with worker threads of its own.
 *
 * Every request is copied out of guest memory before it is looked at; a malformed request gets
 * the specification's error response and is logged, never more. Memory the guest shares as
 * GUEST blobs is mapped a second time by the device (see guest_memory below). */
#ifndef PVGPU_VIRTIO_GPU_H
#define PVGPU_VIRTIO_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PVGPU_VIRTIO_GPU_API_VERSION 1

struct pvgpu_virtio_gpu;

enum pvgpu_ctrl_result {
    PVGPU_CTRL_DONE = 0,
    PVGPU_CTRL_DEFERRED = 1,
};

/* A blob the guest maps into the host-visible window (RESOURCE_MAP_BLOB). */
struct pvgpu_blob_mapping {
    uint32_t resource_id;
    uint64_t offset;        /* where in the window; page-aligned */
    uint64_t size;          /* bytes, whole pages */
    void *host_address;     /* the blob's pages in this process, valid until unmap_blob */
    int fd;                 /* an fd whose MAP_SHARED mapping at fd_offset is the same pages, or
                             * -1; valid during the callback only (dup it to keep it) */
    uint64_t fd_offset;
    uint32_t map_info;      /* the caching the guest is told: VIRTIO_GPU_MAP_CACHE_CACHED (1) */
};

/* What a scanout shows, on each RESOURCE_FLUSH of its resource and when it is disabled. */
struct pvgpu_scanout_frame {
    uint32_t scanout_id;
    bool enabled;           /* false: the guest turned the scanout off; nothing else is set */
    uint32_t resource_id;
    uint32_t width;         /* of the whole image */
    uint32_t height;
    uint32_t format;        /* enum virtio_gpu_formats (4 bytes per pixel) */
    uint32_t drm_fourcc;    /* the same format as a DRM fourcc (e.g. 'XR24' for B8G8R8X8) */
    uint32_t stride;        /* bytes per row */
    const uint8_t *pixels;  /* the image's first pixel; valid during the callback only */
    uint32_t damage_x;      /* the flushed rectangle, clipped to the image */
    uint32_t damage_y;
    uint32_t damage_width;
    uint32_t damage_height;
};

struct pvgpu_virtio_gpu_callbacks {
    void *opaque;   /* passed to every callback */

    /* A deferred request may go on the used ring now. */
    void (*fence_done)(void *opaque, uint64_t cookie, uint32_t ctx_id, uint32_t ring_idx,
                       uint64_t fence_id);

    /* Place mapping->host_address (or the fd) at mapping->offset of the host-visible window,
     * e.g. as a KVM memory slot or by mmap(MAP_FIXED) over the window's reservation. Return 0,
     * or non-zero to fail the request (the guest gets VIRTIO_GPU_RESP_ERR_UNSPEC). */
    int (*map_blob)(void *opaque, const struct pvgpu_blob_mapping *mapping);
    /* Take the mapping out of the window again (also called when a mapped blob is released). */
    void (*unmap_blob)(void *opaque, const struct pvgpu_blob_mapping *mapping);

    /* Show frame (copy the pixels: the pointer is not kept valid). May be NULL. */
    void (*scanout_updated)(void *opaque, const struct pvgpu_scanout_frame *frame);

    /* Guest physical [guest_address, guest_address + size) in this process, for GUEST blobs:
     * contiguous, page-aligned, and shared memory (memfd or shm backing, MAP_SHARED), since the
     * device maps the same pages again. NULL if the range is not guest RAM. May be NULL: GUEST
     * blobs are then refused. */
    void *(*guest_memory)(void *opaque, uint64_t guest_address, uint64_t size);
};

struct pvgpu_virtio_gpu_config {
    uint32_t num_scanouts;        /* 1..16 (0: 1) */
    uint32_t scanout_width;       /* the mode GET_DISPLAY_INFO reports (0: 1280) */
    uint32_t scanout_height;      /* (0: 800) */
    uint64_t host_visible_size;   /* bytes of the host-visible window; 0: none (MAP_BLOB fails) */
    uint32_t max_request_bytes;   /* largest control request accepted (0: 16 MiB) */
    bool validate;                /* renderer: Khronos validation inside host instances */
    /* The Venus generation served: false, current guests (wire format 1); true, Mesa 22.x
     * guests (wire format 0). A guest of the other generation rejects the capset. */
    bool venus_2022;
};

/* Returns NULL (after logging why) on failure. callbacks is copied. */
struct pvgpu_virtio_gpu *pvgpu_virtio_gpu_create(const struct pvgpu_virtio_gpu_config *config,
                                                 const struct pvgpu_virtio_gpu_callbacks *callbacks);
/* Releases every context and resource; deferred requests are not reported any more. */
void pvgpu_virtio_gpu_destroy(struct pvgpu_virtio_gpu *gpu);

/* Device feature bits to offer: VIRTIO_GPU_F_VIRGL, VIRTIO_GPU_F_RESOURCE_BLOB,
 * VIRTIO_GPU_F_CONTEXT_INIT (bits 0, 3, 4). */
uint64_t pvgpu_virtio_gpu_device_features(const struct pvgpu_virtio_gpu *gpu);

/* The device configuration space (struct virtio_gpu_config, 16 bytes, little-endian):
 * copies len bytes from offset; bytes past the end read as 0. */
void pvgpu_virtio_gpu_read_config(const struct pvgpu_virtio_gpu *gpu, size_t offset, void *data,
                                  size_t len);
/* A guest write to the configuration space (only events_clear is writable). */
void pvgpu_virtio_gpu_write_config(struct pvgpu_virtio_gpu *gpu, size_t offset, const void *data,
                                   size_t len);

/* Processes one control-queue request: request[] are the chain's device-readable buffers,
 * response[] its device-writable ones. *response_length is set to the bytes written. Returns an
 * enum pvgpu_ctrl_result, or -1 if the response buffers cannot hold even a response header
 * (nothing was done; return the chain with length 0). */
int pvgpu_virtio_gpu_process_ctrl(struct pvgpu_virtio_gpu *gpu,
                                  const struct iovec *request, unsigned request_count,
                                  const struct iovec *response, unsigned response_count,
                                  uint64_t cookie, uint32_t *response_length);

/* An eventfd, readable while retired fences wait for pvgpu_virtio_gpu_poll(). Owned by the
 * device. */
int pvgpu_virtio_gpu_event_fd(const struct pvgpu_virtio_gpu *gpu);
/* Calls fence_done for every fence that retired since the last poll. */
void pvgpu_virtio_gpu_poll(struct pvgpu_virtio_gpu *gpu);

#ifdef __cplusplus
}
#endif

#endif
