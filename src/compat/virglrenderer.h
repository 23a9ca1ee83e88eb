/* PearVisor GPU's declaration of the virglrenderer ABI it implements (libvirglrenderer.so.1),
 * written for this project: the names, prototypes, struct layouts and flag values are the ones
 * programs built against virglrenderer 1.x (up to 1.3) use, so that such a program (QEMU 9.2 and
 * later with Venus, Debian's virgl_test_server of 0.10.4 or 1.x) runs on PearVisor GPU
 * unchanged. Installed as <virgl/virglrenderer.h> with virglrenderer.pc saying 1.3.0: QEMU
 * enables blob resources, context init and Venus from that version. Only Venus is served: no
 * OpenGL contexts or 3D resources; the plain 2D resources a guest kernel's console uses are
 * kept in host memory (pv_virgl_resource2d.c).
 *
 * Building with PVGPU_VIRGL_UNSTABLE_APIS (or VIRGL_RENDERER_UNSTABLE_APIS, as callers do)
 * declares the parts virglrenderer calls unstable, which every Venus user needs. */
#ifndef PVGPU_COMPAT_VIRGLRENDERER_H
#define PVGPU_COMPAT_VIRGLRENDERER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "virgl-version.h"

#define PV_VIRGL_EXPORT __attribute__((visibility("default")))

struct iovec;
struct virgl_box;

typedef void *virgl_renderer_gl_context;

struct virgl_renderer_gl_ctx_param {
    int version;
    bool shared;
    int major_ver;
    int minor_ver;
    int compat_ctx;
};

#define VIRGL_RENDERER_CALLBACKS_VERSION 4

/* Fields past the caller's version are never read. Version 2 ends at get_drm_fd; version 3
 * adds write_context_fence, version 4 get_server_fd and get_egl_display. */
struct virgl_renderer_callbacks {
    int version;
    void (*write_fence)(void *cookie, uint32_t fence);
    virgl_renderer_gl_context (*create_gl_context)(void *cookie, int scanout_idx,
                                                   struct virgl_renderer_gl_ctx_param *param);
    void (*destroy_gl_context)(void *cookie, virgl_renderer_gl_context ctx);
    int (*make_current)(void *cookie, int scanout_idx, virgl_renderer_gl_context ctx);
    int (*get_drm_fd)(void *cookie);
    void (*write_context_fence)(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                                uint64_t fence_id);
    int (*get_server_fd)(void *cookie, uint32_t version);
    void *(*get_egl_display)(void *cookie);
};

/* virgl_renderer_init flags. */
#define VIRGL_RENDERER_USE_EGL 1
#define VIRGL_RENDERER_THREAD_SYNC 2
#define VIRGL_RENDERER_USE_GLX (1 << 2)
#define VIRGL_RENDERER_USE_SURFACELESS (1 << 3)
#define VIRGL_RENDERER_USE_GLES (1 << 4)
#define VIRGL_RENDERER_USE_EXTERNAL_BLOB (1 << 5)
#define VIRGL_RENDERER_VENUS (1 << 6)
#define VIRGL_RENDERER_NO_VIRGL (1 << 7)
#define VIRGL_RENDERER_ASYNC_FENCE_CB (1 << 8)
#define VIRGL_RENDERER_RENDER_SERVER (1 << 9)
#define VIRGL_RENDERER_DRM (1 << 10)
#define VIRGL_RENDERER_USE_VIDEO (1 << 11)
#define VIRGL_RENDERER_COMPAT_PROFILE (1 << 13)
#define VIRGL_RENDERER_USE_GUEST_VRAM (1 << 14)

#define VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK 0xff

#define VIRGL_RENDERER_BLOB_MEM_GUEST 0x0001
#define VIRGL_RENDERER_BLOB_MEM_HOST3D 0x0002
#define VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST 0x0003
#define VIRGL_RENDERER_BLOB_MEM_GUEST_VRAM 0x0004

#define VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE 0x0001
#define VIRGL_RENDERER_BLOB_FLAG_USE_SHAREABLE 0x0002
#define VIRGL_RENDERER_BLOB_FLAG_USE_CROSS_DEVICE 0x0004

#define VIRGL_RENDERER_MAP_CACHE_MASK 0x0f
#define VIRGL_RENDERER_MAP_CACHE_NONE 0x00
#define VIRGL_RENDERER_MAP_CACHE_CACHED 0x01
#define VIRGL_RENDERER_MAP_CACHE_UNCACHED 0x02
#define VIRGL_RENDERER_MAP_CACHE_WC 0x03

#define VIRGL_RENDERER_BLOB_FD_TYPE_DMABUF 0x0001
#define VIRGL_RENDERER_BLOB_FD_TYPE_OPAQUE 0x0002
#define VIRGL_RENDERER_BLOB_FD_TYPE_SHM 0x0003

#define VIRGL_RENDERER_FENCE_FLAG_MERGEABLE (1 << 0)

enum virgl_renderer_structure_type_v0 {
    VIRGL_RENDERER_STRUCTURE_TYPE_NONE = 0,
    VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY = (1 << 0),
    VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES = (1 << 1),
};

struct virgl_renderer_resource_create_args {
    uint32_t handle;
    uint32_t target;
    uint32_t format;
    uint32_t bind;
    uint32_t width;
    uint32_t height;
    uint32_t depth;
    uint32_t array_size;
    uint32_t last_level;
    uint32_t nr_samples;
    uint32_t flags;
};

struct virgl_renderer_hdr {
    uint32_t stype;
    uint32_t stype_version;
    uint32_t size;
};

struct virgl_renderer_export_query {
    struct virgl_renderer_hdr hdr;
    uint32_t in_resource_id;
    uint32_t out_num_fds;
    uint32_t in_export_fds;
    uint32_t out_fourcc;
    uint32_t pad;
    int32_t out_fds[4];
    uint32_t out_strides[4];
    uint32_t out_offsets[4];
    uint64_t out_modifier;
};

struct virgl_renderer_supported_structures {
    struct virgl_renderer_hdr hdr;
    uint32_t in_stype_version;
    uint32_t out_supported_structures_mask;
};

struct virgl_renderer_resource_info {
    uint32_t handle;
    uint32_t virgl_format;
    uint32_t width;
    uint32_t height;
    uint32_t depth;
    uint32_t flags;
    uint32_t tex_id;
    uint32_t stride;
    int drm_fourcc;
    int fd;   /* 1.x: a dma-buf of the resource, or -1 */
};

#define VIRGL_RENDERER_RESOURCE_INFO_EXT_VERSION 0

struct virgl_renderer_resource_info_ext {
    int version;
    struct virgl_renderer_resource_info base;
    bool has_dmabuf_export;
    int planes;
    uint64_t modifiers;
    void *d3d_tex2d;
};

struct virgl_renderer_resource_create_blob_args {
    uint32_t res_handle;
    uint32_t ctx_id;
    uint32_t blob_mem;
    uint32_t blob_flags;
    uint64_t blob_id;
    uint64_t size;
    const struct iovec *iovecs;
    uint32_t num_iovs;
};

struct virgl_renderer_resource_import_blob_args {
    uint32_t res_handle;
    uint32_t blob_mem;
    uint32_t fd_type;
    int fd;
    uint64_t size;
};

typedef void (*virgl_debug_callback_type)(const char *fmt, va_list ap);

enum virgl_log_level_flags {
    VIRGL_LOG_LEVEL_DEBUG,
    VIRGL_LOG_LEVEL_INFO,
    VIRGL_LOG_LEVEL_WARNING,
    VIRGL_LOG_LEVEL_ERROR,
    VIRGL_LOG_LEVEL_SILENT,
};
typedef void (*virgl_free_data_callback_type)(void *user_data);
typedef void (*virgl_log_callback_type)(enum virgl_log_level_flags log_level, const char *message,
                                        void *user_data);

/* Lifetime and polling. */
PV_VIRGL_EXPORT int virgl_renderer_init(void *cookie, int flags,
                                        struct virgl_renderer_callbacks *cb);
PV_VIRGL_EXPORT void virgl_renderer_cleanup(void *cookie);
PV_VIRGL_EXPORT void virgl_renderer_reset(void);
PV_VIRGL_EXPORT void virgl_renderer_poll(void);
PV_VIRGL_EXPORT int virgl_renderer_get_poll_fd(void);
PV_VIRGL_EXPORT virgl_debug_callback_type virgl_set_debug_callback(virgl_debug_callback_type cb);
PV_VIRGL_EXPORT void virgl_set_log_callback(virgl_log_callback_type cb, void *user_data,
                                            virgl_free_data_callback_type free_user_data_cb);
PV_VIRGL_EXPORT int virgl_renderer_execute(void *execute_args, uint32_t execute_size);

/* Capsets. */
PV_VIRGL_EXPORT void virgl_renderer_get_cap_set(uint32_t set, uint32_t *max_ver,
                                                uint32_t *max_size);
PV_VIRGL_EXPORT void virgl_renderer_fill_caps(uint32_t set, uint32_t version, void *caps);

/* Contexts. */
PV_VIRGL_EXPORT int virgl_renderer_context_create(uint32_t handle, uint32_t nlen,
                                                  const char *name);
PV_VIRGL_EXPORT int virgl_renderer_context_create_with_flags(uint32_t ctx_id, uint32_t ctx_flags,
                                                             uint32_t nlen, const char *name);
PV_VIRGL_EXPORT void virgl_renderer_context_destroy(uint32_t handle);
PV_VIRGL_EXPORT int virgl_renderer_submit_cmd(void *buffer, int ctx_id, int ndw);
PV_VIRGL_EXPORT void virgl_renderer_ctx_attach_resource(int ctx_id, int res_handle);
PV_VIRGL_EXPORT void virgl_renderer_ctx_detach_resource(int ctx_id, int res_handle);
PV_VIRGL_EXPORT void virgl_renderer_force_ctx_0(void);

/* Fences. */
PV_VIRGL_EXPORT int virgl_renderer_create_fence(int client_fence_id, uint32_t ctx_id);
PV_VIRGL_EXPORT int virgl_renderer_context_create_fence(uint32_t ctx_id, uint32_t flags,
                                                        uint32_t ring_idx, uint64_t fence_id);
PV_VIRGL_EXPORT void virgl_renderer_context_poll(uint32_t ctx_id);
PV_VIRGL_EXPORT int virgl_renderer_context_get_poll_fd(uint32_t ctx_id);
PV_VIRGL_EXPORT int virgl_renderer_export_fence(uint32_t client_fence_id, int *fd);

/* Blob resources. */
PV_VIRGL_EXPORT int
virgl_renderer_resource_create_blob(const struct virgl_renderer_resource_create_blob_args *args);
PV_VIRGL_EXPORT int virgl_renderer_resource_map(uint32_t res_handle, void **map,
                                                uint64_t *out_size);
PV_VIRGL_EXPORT int virgl_renderer_resource_unmap(uint32_t res_handle);
/* 1.3: maps a blob at the caller's address (MAP_FIXED); the caller owns that mapping. */
PV_VIRGL_EXPORT int virgl_renderer_resource_map_fixed(uint32_t res_handle, void *addr);
PV_VIRGL_EXPORT int virgl_renderer_resource_get_map_info(uint32_t res_handle, uint32_t *map_info);
PV_VIRGL_EXPORT int virgl_renderer_resource_export_blob(uint32_t res_id, uint32_t *fd_type,
                                                        int *fd);
PV_VIRGL_EXPORT int
virgl_renderer_resource_import_blob(const struct virgl_renderer_resource_import_blob_args *args);
PV_VIRGL_EXPORT void virgl_renderer_resource_unref(uint32_t res_handle);
PV_VIRGL_EXPORT void virgl_renderer_resource_set_priv(uint32_t res_handle, void *priv);
PV_VIRGL_EXPORT void *virgl_renderer_resource_get_priv(uint32_t res_handle);
PV_VIRGL_EXPORT int virgl_renderer_resource_get_info(int res_handle,
                                                     struct virgl_renderer_resource_info *info);
PV_VIRGL_EXPORT int
virgl_renderer_resource_get_info_ext(int res_handle, struct virgl_renderer_resource_info_ext *info);

/* Classic resources: 2D ones (a guest console's framebuffer, a cursor) are kept in host memory
 * and filled by transfers from their backing; 3D ones (OpenGL) are refused. */
PV_VIRGL_EXPORT int virgl_renderer_resource_create(struct virgl_renderer_resource_create_args *args,
                                                   struct iovec *iov, uint32_t num_iovs);
PV_VIRGL_EXPORT int virgl_renderer_resource_import_eglimage(
    struct virgl_renderer_resource_create_args *args, void *image);
PV_VIRGL_EXPORT int virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov,
                                                       int num_iovs);
PV_VIRGL_EXPORT void virgl_renderer_resource_detach_iov(int res_handle, struct iovec **iov,
                                                        int *num_iovs);
PV_VIRGL_EXPORT int virgl_renderer_transfer_read_iov(uint32_t handle, uint32_t ctx_id,
                                                     uint32_t level, uint32_t stride,
                                                     uint32_t layer_stride, struct virgl_box *box,
                                                     uint64_t offset, struct iovec *iov,
                                                     int iovec_cnt);
PV_VIRGL_EXPORT int virgl_renderer_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level,
                                                      uint32_t stride, uint32_t layer_stride,
                                                      struct virgl_box *box, uint64_t offset,
                                                      struct iovec *iovec,
                                                      unsigned int iovec_cnt);
PV_VIRGL_EXPORT void *virgl_renderer_get_cursor_data(uint32_t resource_id, uint32_t *width,
                                                     uint32_t *height);
PV_VIRGL_EXPORT void virgl_renderer_get_rect(int resource_id, struct iovec *iov,
                                             unsigned int num_iovs, uint32_t offset, int x, int y,
                                             int width, int height);
PV_VIRGL_EXPORT int virgl_renderer_get_fd_for_texture(uint32_t tex_id, int *fd);
PV_VIRGL_EXPORT int virgl_renderer_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride,
                                                       int *offset);

#endif
