/* Plain 2D resources of the virglrenderer ABI: what a guest kernel's console (and cursor) create
 * with VIRTIO_GPU_CMD_RESOURCE_CREATE_2D and fill with TRANSFER_TO_HOST_2D. virglrenderer keeps
 * them as GL textures; PearVisor GPU serves no OpenGL, so they are pixels in host memory, copied
 * from the guest backing the VMM attached. Enough for a VMM's console to take its resources
 * without errors and for cursor data; nothing draws them, so they cannot be scanned out.
 *
 * The table is the compat library's (one per process, like the ABI); callers hold no lock:
 * the virglrenderer ABI is called from the VMM's one GPU thread. */
#ifndef PVGPU_COMPAT_VIRGL_RESOURCE2D_H
#define PVGPU_COMPAT_VIRGL_RESOURCE2D_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virglrenderer.h"

/* All 2D resources together may hold this much host memory; creation past it fails. */
#define PV_RES2D_MAX_BYTES (256u << 20)
#define PV_RES2D_MAX_DIM 16384u

struct pv_res2d_box {
    uint32_t x, y, z, w, h, d;
};

/* 0, -EEXIST, -EINVAL (not a plain 2D resource of a 4-byte format) or -ENOMEM. */
int pv_res2d_create(const struct virgl_renderer_resource_create_args *args);
bool pv_res2d_exists(uint32_t id);
/* Takes the caller's iovecs (they stay the caller's; detach hands them back). */
int pv_res2d_attach(uint32_t id, struct iovec *iov, int count);
bool pv_res2d_detach(uint32_t id, struct iovec **iov, int *count);
/* Copies a box between the backing (or the given iovecs) and the host pixels; stride 0 means
 * the resource's own. -EINVAL when the box or the backing is too small. */
int pv_res2d_transfer(uint32_t id, bool to_host, uint32_t stride, const struct pv_res2d_box *box,
                      uint64_t offset, const struct iovec *iov, int count);
/* A malloc'd copy of the pixels (the caller frees it), or NULL. */
void *pv_res2d_copy_pixels(uint32_t id, uint32_t *width, uint32_t *height);
bool pv_res2d_unref(uint32_t id);
void pv_res2d_clear(void);

#endif
