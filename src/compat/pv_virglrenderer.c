/* libvirglrenderer.so.1 made of PearVisor GPU: the virglrenderer entry points Venus users call,
 * on top of the same GPU core as the virtio-gpu device model (src/virtio-gpu/pv_gpu_core.h).
 * The ABI is process-global (virgl_renderer_init takes no handle back), so this file keeps the
 * one piece of global state of the project: the initialized core and the caller's callbacks.
 * Contexts run in the caller's process; there is no render server. */
#define _GNU_SOURCE
#include "virglrenderer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pv_gpu_core.h"
#include "pv_log.h"
#include "pv_virgl_resource2d.h"

static struct {
    bool initialized;
    void *cookie;
    int flags;
    void (*write_fence)(void *cookie, uint32_t fence);
    void (*write_context_fence)(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                                uint64_t fence_id);
    struct pv_gpu *gpu;
    bool warned_gl;
    /* The caller's GL context that virglrenderer keeps current on the caller's thread (QEMU's
     * display code calls GL after virgl_renderer_force_ctx_0 and counts on one being current);
     * PearVisor GPU draws nothing with it. */
    struct virgl_renderer_callbacks *callbacks;
    virgl_renderer_gl_context gl_context;
} state;

/* Where the host's log lines go: the caller's log callback (1.x), its debug callback (0.x), or
 * stderr. Kept across cleanup, as virglrenderer does. */
static struct {
    virgl_debug_callback_type debug_callback;
    virgl_log_callback_type log_callback;
    void *log_data;
    virgl_free_data_callback_type free_log_data;
} logging;

static int status_errno(enum pv_gpu_status status)
{
    switch (status) {
    case PV_GPU_OK: return 0;
    case PV_GPU_ERR_OUT_OF_MEMORY: return -ENOMEM;
    default: return -EINVAL;
    }
}

static bool env_flag(const char *name)
{
    const char *value = getenv(name);
    return value && *value && strcmp(value, "0") != 0;
}

/* The caller has no way to pass renderer options: they come from the environment.
 * PVGPU_PROTOCOL=2022 serves Mesa 22.x guests; current ones by default. */
static bool env_generation(enum pv_venus_generation *generation)
{
    const char *protocol = getenv("PVGPU_PROTOCOL");
    if (protocol && *protocol && strcmp(protocol, "2022") && strcmp(protocol, "current"))
        return false;
    *generation = protocol && !strcmp(protocol, "2022") ? PV_VENUS_2022 : PV_VENUS_CURRENT;
    return true;
}

/* Only Venus is served; say so once when a caller reaches for OpenGL. */
static int gl_not_served(const char *what)
{
    if (!state.warned_gl) {
        pv_log("virglrenderer: %s: OpenGL (virgl) is not served by PearVisor GPU, only Venus",
               what);
        state.warned_gl = true;
    }
    return -EINVAL;
}

static void fence_retired(void *data, const struct pv_gpu_fence *fence)
{
    (void)data;
    if (fence->on_ring) {
        if (state.write_context_fence)
            state.write_context_fence(state.cookie, fence->ctx_id, fence->ring_idx,
                                      fence->fence_id);
    } else if (state.write_fence) {
        state.write_fence(state.cookie, (uint32_t)fence->fence_id);
    }
}

/* -- lifetime --------------------------------------------------------------------------- */

PV_VIRGL_EXPORT int virgl_renderer_init(void *cookie, int flags,
                                        struct virgl_renderer_callbacks *cb)
{
    if (state.initialized)
        return state.cookie == cookie ? 0 : -EBUSY;
    if (!cb || cb->version < 1) {
        pv_log("virglrenderer: init without callbacks");
        return -EINVAL;
    }
    if (!(flags & VIRGL_RENDERER_VENUS))
        pv_log("virglrenderer: init without VIRGL_RENDERER_VENUS: no capset will be offered");
    state.cookie = cookie;
    state.flags = flags;
    state.write_fence = cb->write_fence;
    state.write_context_fence = cb->version >= 3 ? cb->write_context_fence : NULL;

    enum pv_venus_generation generation;
    if (!env_generation(&generation)) {
        pv_log("virglrenderer: PVGPU_PROTOCOL=%s is neither 2022 nor current",
               getenv("PVGPU_PROTOCOL"));
        return -EINVAL;
    }
    struct pv_gpu_options options = {
        .renderer = { .validate = env_flag("PVGPU_VALIDATE"),
                      .generation = generation },
        .fence_retired = fence_retired,
        /* virglrenderer calls back from the retiring thread with ASYNC_FENCE_CB, and from
         * virgl_renderer_poll otherwise. */
        .direct_fence_callbacks = (flags & VIRGL_RENDERER_ASYNC_FENCE_CB) != 0,
    };
    state.gpu = pv_gpu_create(&options);
    if (!state.gpu)
        return -ENOMEM;
    state.initialized = true;
    if (cb->create_gl_context && cb->make_current && !(flags & VIRGL_RENDERER_NO_VIRGL)) {
        struct virgl_renderer_gl_ctx_param param = { .version = 1, .major_ver = 3,
                                                     .minor_ver = 3 };
        state.callbacks = cb;
        state.gl_context = cb->create_gl_context(cookie, 0, &param);
        if (state.gl_context)
            cb->make_current(cookie, 0, state.gl_context);
    }
    pv_log("virglrenderer: PearVisor GPU initialized (flags %#x), serving %s guests",
           (unsigned)flags,
           pv_venus_generation_name(options.renderer.generation));
    return 0;
}

PV_VIRGL_EXPORT void virgl_renderer_cleanup(void *cookie)
{
    (void)cookie;
    if (!state.initialized)
        return;
    pv_gpu_destroy(state.gpu);
    pv_res2d_clear();
    if (state.gl_context && state.callbacks->destroy_gl_context)
        state.callbacks->destroy_gl_context(state.cookie, state.gl_context);
    memset(&state, 0, sizeof(state));
}

PV_VIRGL_EXPORT void virgl_renderer_reset(void)
{
    if (state.initialized) {
        pv_gpu_reset(state.gpu);
        pv_res2d_clear();
    }
}

PV_VIRGL_EXPORT void virgl_renderer_poll(void)
{
    if (state.initialized)
        pv_gpu_poll(state.gpu, false, 0);
}

PV_VIRGL_EXPORT int virgl_renderer_get_poll_fd(void)
{
    if (!state.initialized || !(state.flags & VIRGL_RENDERER_THREAD_SYNC))
        return -1;
    return pv_gpu_poll_fd(state.gpu);
}

static void call_debug_callback(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logging.debug_callback(fmt, ap);
    va_end(ap);
}

static void log_to_caller(void *data, const char *line)
{
    (void)data;
    if (logging.log_callback)
        logging.log_callback(VIRGL_LOG_LEVEL_INFO, line, logging.log_data);
    else if (logging.debug_callback)
        call_debug_callback("pvgpu: %s\n", line);
}

static void route_log(void)
{
    pv_log_set_sink(logging.log_callback || logging.debug_callback ? log_to_caller : NULL, NULL);
}

PV_VIRGL_EXPORT virgl_debug_callback_type virgl_set_debug_callback(virgl_debug_callback_type cb)
{
    virgl_debug_callback_type old = logging.debug_callback;
    logging.debug_callback = cb;
    route_log();
    return old;
}

PV_VIRGL_EXPORT void virgl_set_log_callback(virgl_log_callback_type cb, void *user_data,
                                            virgl_free_data_callback_type free_user_data_cb)
{
    if (logging.free_log_data)
        logging.free_log_data(logging.log_data);
    logging.log_callback = cb;
    logging.log_data = user_data;
    logging.free_log_data = free_user_data_cb;
    route_log();
}

PV_VIRGL_EXPORT int virgl_renderer_execute(void *execute_args, uint32_t execute_size)
{
    struct virgl_renderer_hdr *hdr = execute_args;
    if (!hdr || execute_size < sizeof(*hdr) || hdr->size != execute_size)
        return -EINVAL;
    if (hdr->stype == VIRGL_RENDERER_STRUCTURE_TYPE_SUPPORTED_STRUCTURES &&
        execute_size >= sizeof(struct virgl_renderer_supported_structures)) {
        struct virgl_renderer_supported_structures *s = execute_args;
        s->out_supported_structures_mask =
            s->in_stype_version == 0 ? VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY : 0;
        return 0;
    }
    if (hdr->stype == VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY &&
        execute_size >= sizeof(struct virgl_renderer_export_query)) {
        /* Blobs are plain memory, not images with a fourcc: nothing to export this way. */
        struct virgl_renderer_export_query *q = execute_args;
        q->out_num_fds = 0;
        q->out_fourcc = 0;
        return 0;
    }
    return -EINVAL;
}

/* -- capsets ---------------------------------------------------------------------------- */

PV_VIRGL_EXPORT void virgl_renderer_get_cap_set(uint32_t set, uint32_t *max_ver,
                                                uint32_t *max_size)
{
    uint32_t version = 0, size = 0;
    enum pv_venus_generation generation;
    if (state.initialized && (state.flags & VIRGL_RENDERER_VENUS))
        pv_gpu_capset_info(state.gpu, set, &version, &size);
    else if (!state.initialized && env_generation(&generation))
        pv_gpu_capset_info_of(generation, set, &version, &size);   /* QEMU asks before init */
    if (max_ver)
        *max_ver = size ? version : 0;
    if (max_size)
        *max_size = size;
}

PV_VIRGL_EXPORT void virgl_renderer_fill_caps(uint32_t set, uint32_t version, void *caps)
{
    uint32_t max_version, max_size;
    virgl_renderer_get_cap_set(set, &max_version, &max_size);
    if (!state.initialized || !caps || !max_size || version > max_version)
        return;
    pv_gpu_capset_fill(state.gpu, set, version, caps, max_size);
}

/* -- contexts --------------------------------------------------------------------------- */

PV_VIRGL_EXPORT int virgl_renderer_context_create(uint32_t handle, uint32_t nlen,
                                                  const char *name)
{
    (void)handle;
    (void)nlen;
    (void)name;
    return gl_not_served("virgl_renderer_context_create");
}

PV_VIRGL_EXPORT int virgl_renderer_context_create_with_flags(uint32_t ctx_id, uint32_t ctx_flags,
                                                             uint32_t nlen, const char *name)
{
    if (!state.initialized)
        return -EINVAL;
    if (ctx_flags & ~(uint32_t)VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK)
        return -EINVAL;
    uint32_t capset = ctx_flags & VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK;
    if (capset != PV_CAPSET_VENUS)
        return gl_not_served("a context for a capset other than Venus");
    /* Creating an existing context again with the same capset is not an error. */
    if (pv_gpu_context_exists(state.gpu, ctx_id))
        return 0;
    return status_errno(pv_gpu_context_create(state.gpu, ctx_id, capset, name, name ? nlen : 0));
}

PV_VIRGL_EXPORT void virgl_renderer_context_destroy(uint32_t handle)
{
    if (state.initialized)
        pv_gpu_context_destroy(state.gpu, handle);
}

PV_VIRGL_EXPORT int virgl_renderer_submit_cmd(void *buffer, int ctx_id, int ndw)
{
    if (!state.initialized || ndw < 0 || (ndw && !buffer))
        return -EINVAL;
    /* The buffer is the caller's own memory (the VMM copied it out of the guest). */
    return status_errno(pv_gpu_context_submit(state.gpu, (uint32_t)ctx_id, buffer,
                                              (size_t)ndw * sizeof(uint32_t)));
}

PV_VIRGL_EXPORT void virgl_renderer_ctx_attach_resource(int ctx_id, int res_handle)
{
    if (state.initialized)
        pv_gpu_context_attach(state.gpu, (uint32_t)ctx_id, (uint32_t)res_handle);
}

PV_VIRGL_EXPORT void virgl_renderer_ctx_detach_resource(int ctx_id, int res_handle)
{
    if (state.initialized)
        pv_gpu_context_detach(state.gpu, (uint32_t)ctx_id, (uint32_t)res_handle);
}

PV_VIRGL_EXPORT void virgl_renderer_force_ctx_0(void)
{
    if (state.initialized && state.gl_context)
        state.callbacks->make_current(state.cookie, 0, state.gl_context);
}

/* -- fences ----------------------------------------------------------------------------- */

PV_VIRGL_EXPORT int virgl_renderer_create_fence(int client_fence_id, uint32_t ctx_id)
{
    if (!state.initialized)
        return -EINVAL;
    bool retired;
    return status_errno(pv_gpu_fence_create(state.gpu, ctx_id, false, 0,
                                            (uint32_t)client_fence_id, 0, &retired));
}

PV_VIRGL_EXPORT int virgl_renderer_context_create_fence(uint32_t ctx_id, uint32_t flags,
                                                        uint32_t ring_idx, uint64_t fence_id)
{
    if (!state.initialized || (flags & ~(uint32_t)VIRGL_RENDERER_FENCE_FLAG_MERGEABLE))
        return -EINVAL;
    bool retired;
    return status_errno(pv_gpu_fence_create(state.gpu, ctx_id, true, ring_idx, fence_id, 0,
                                            &retired));
}

PV_VIRGL_EXPORT void virgl_renderer_context_poll(uint32_t ctx_id)
{
    if (state.initialized)
        pv_gpu_poll(state.gpu, true, ctx_id);
}

PV_VIRGL_EXPORT int virgl_renderer_context_get_poll_fd(uint32_t ctx_id)
{
    if (!state.initialized || !(state.flags & VIRGL_RENDERER_THREAD_SYNC))
        return -1;
    return pv_gpu_context_poll_fd(state.gpu, ctx_id);
}

PV_VIRGL_EXPORT int virgl_renderer_export_fence(uint32_t client_fence_id, int *fd)
{
    /* Sync files are a Linux-only path; the portable host has none. */
    (void)client_fence_id;
    (void)fd;
    return -EINVAL;
}

/* -- blob resources --------------------------------------------------------------------- */

PV_VIRGL_EXPORT int
virgl_renderer_resource_create_blob(const struct virgl_renderer_resource_create_blob_args *args)
{
    if (!state.initialized || !args)
        return -EINVAL;
    if (args->blob_mem == VIRGL_RENDERER_BLOB_MEM_GUEST && args->num_iovs && !args->iovecs)
        return -EINVAL;
    if (pv_res2d_exists(args->res_handle))
        return -EEXIST;
    struct pv_gpu_blob_args blob = {
        .res_id = args->res_handle,
        .ctx_id = args->ctx_id,
        .blob_mem = args->blob_mem,
        .blob_flags = args->blob_flags,
        .blob_id = args->blob_id,
        .size = args->size,
        .iov = args->blob_mem == VIRGL_RENDERER_BLOB_MEM_GUEST ? args->iovecs : NULL,
        .iov_count = args->blob_mem == VIRGL_RENDERER_BLOB_MEM_GUEST ? args->num_iovs : 0,
    };
    return status_errno(pv_gpu_resource_create_blob(state.gpu, &blob));
}

PV_VIRGL_EXPORT int virgl_renderer_resource_map(uint32_t res_handle, void **map,
                                                uint64_t *out_size)
{
    if (!state.initialized || !map)
        return -EINVAL;
    struct pv_gpu_resource_info info;
    if (pv_gpu_resource_info(state.gpu, res_handle, &info) != PV_GPU_OK ||
        info.blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D ||
        !(info.blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE))
        return -EINVAL;
    uint64_t size;
    int ret = status_errno(pv_gpu_resource_map(state.gpu, res_handle, map, &size));
    if (ret == 0 && out_size)
        *out_size = size;
    return ret;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_map_fixed(uint32_t res_handle, void *addr)
{
    /* The blob's memfd mapped over the caller's range: the guest then sees the very pages the
     * host driver imported. A blob without one (guest memory) takes the caller's other path. */
    struct pv_gpu_resource_info info;
    if (!state.initialized || !addr ||
        pv_gpu_resource_info(state.gpu, res_handle, &info) != PV_GPU_OK ||
        !(info.blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE))
        return -EINVAL;
    void *map;
    uint64_t size;
    int fd;
    if (info.blob_mem != VIRGL_RENDERER_BLOB_MEM_HOST3D || !info.exportable ||
        pv_gpu_resource_map(state.gpu, res_handle, &map, &size) != PV_GPU_OK ||
        pv_gpu_resource_export(state.gpu, res_handle, &fd) != PV_GPU_OK)
        return -EOPNOTSUPP;
    void *fixed = mmap(addr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    int err = errno;
    close(fd);
    return fixed == MAP_FAILED ? -err : 0;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_unmap(uint32_t res_handle)
{
    /* The mapping lives as long as the resource; unmapping only has to be valid. */
    struct pv_gpu_resource_info info;
    if (!state.initialized || pv_gpu_resource_info(state.gpu, res_handle, &info) != PV_GPU_OK)
        return -EINVAL;
    return 0;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_get_map_info(uint32_t res_handle, uint32_t *map_info)
{
    struct pv_gpu_resource_info info;
    if (!state.initialized || !map_info ||
        pv_gpu_resource_info(state.gpu, res_handle, &info) != PV_GPU_OK ||
        !(info.blob_flags & VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE))
        return -EINVAL;
    *map_info = VIRGL_RENDERER_MAP_CACHE_CACHED;
    return 0;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_export_blob(uint32_t res_id, uint32_t *fd_type,
                                                        int *fd)
{
    if (!state.initialized || !fd_type || !fd)
        return -EINVAL;
    int ret = status_errno(pv_gpu_resource_export(state.gpu, res_id, fd));
    if (ret == 0)
        *fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_SHM;   /* a memfd */
    return ret;
}

PV_VIRGL_EXPORT int
virgl_renderer_resource_import_blob(const struct virgl_renderer_resource_import_blob_args *args)
{
    (void)args;
    return -EINVAL;
}

PV_VIRGL_EXPORT void virgl_renderer_resource_unref(uint32_t res_handle)
{
    if (state.initialized && !pv_res2d_unref(res_handle))
        pv_gpu_resource_unref(state.gpu, res_handle);
}

PV_VIRGL_EXPORT void virgl_renderer_resource_set_priv(uint32_t res_handle, void *priv)
{
    if (state.initialized)
        pv_gpu_resource_set_priv(state.gpu, res_handle, priv);
}

PV_VIRGL_EXPORT void *virgl_renderer_resource_get_priv(uint32_t res_handle)
{
    return state.initialized ? pv_gpu_resource_get_priv(state.gpu, res_handle) : NULL;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_get_info(int res_handle,
                                                     struct virgl_renderer_resource_info *info)
{
    if (!state.initialized || !info)
        return -EINVAL;
    /* A 2D resource has no GL texture to show, and QEMU scans out whatever this call describes
     * (SET_SCANOUT): refused, so a guest console's scanout fails cleanly. Had QEMU's GL display
     * entered scanout mode with nothing drawn, the device reset of a guest shutting down would
     * make it call GL from a vCPU thread with no context current: libepoxy aborts QEMU there
     * unless the renderer resolved those GL functions before (virglrenderer does). */
    if (pv_res2d_exists((uint32_t)res_handle))
        return -EINVAL;
    /* A blob is memory: no texture, format or size (QEMU needs the call to succeed, and an fd
     * of -1 tells it there is no dma-buf to scan out). */
    struct pv_gpu_resource_info blob;
    if (pv_gpu_resource_info(state.gpu, (uint32_t)res_handle, &blob) != PV_GPU_OK)
        return -EINVAL;
    *info = (struct virgl_renderer_resource_info){ .handle = (uint32_t)res_handle, .fd = -1 };
    return 0;
}

PV_VIRGL_EXPORT int
virgl_renderer_resource_get_info_ext(int res_handle, struct virgl_renderer_resource_info_ext *info)
{
    if (!info)
        return -EINVAL;
    int version = info->version;
    int ret = virgl_renderer_resource_get_info(res_handle, &info->base);
    if (ret == 0) {
        info->version = version;
        info->has_dmabuf_export = false;
        info->planes = 0;
        info->modifiers = 0;
        info->d3d_tex2d = NULL;
    }
    return ret;
}

/* -- classic resources ------------------------------------------------------------------ */

PV_VIRGL_EXPORT int virgl_renderer_resource_create(struct virgl_renderer_resource_create_args *args,
                                                   struct iovec *iov, uint32_t num_iovs)
{
    struct pv_gpu_resource_info blob;
    if (!state.initialized || !args || (num_iovs && !iov))
        return -EINVAL;
    if (pv_gpu_resource_info(state.gpu, args->handle, &blob) == PV_GPU_OK)
        return -EEXIST;
    int ret = pv_res2d_create(args);
    if (ret == -EINVAL)
        return gl_not_served("virgl_renderer_resource_create of a 3D resource");
    if (ret == 0 && num_iovs)
        ret = pv_res2d_attach(args->handle, iov, (int)num_iovs);
    return ret;
}

PV_VIRGL_EXPORT int virgl_renderer_resource_import_eglimage(
    struct virgl_renderer_resource_create_args *args, void *image)
{
    (void)args;
    (void)image;
    return gl_not_served("virgl_renderer_resource_import_eglimage");
}

PV_VIRGL_EXPORT int virgl_renderer_resource_attach_iov(int res_handle, struct iovec *iov,
                                                       int num_iovs)
{
    if (!state.initialized)
        return -EINVAL;
    return pv_res2d_attach((uint32_t)res_handle, iov, num_iovs);
}

PV_VIRGL_EXPORT void virgl_renderer_resource_detach_iov(int res_handle, struct iovec **iov,
                                                        int *num_iovs)
{
    struct iovec *backing = NULL;
    int count = 0;
    if (state.initialized)
        pv_res2d_detach((uint32_t)res_handle, &backing, &count);
    if (iov)
        *iov = backing;
    if (num_iovs)
        *num_iovs = count;
}

/* virgl_box is x, y, z, w, h, d as 32-bit values in every virglrenderer release. */
static int transfer(uint32_t handle, int level, uint32_t stride, const struct virgl_box *box,
                    uint64_t offset, const struct iovec *iov, int count, bool to_host)
{
    if (!state.initialized || !box || level != 0 || count < 0)
        return -EINVAL;
    if (!pv_res2d_exists(handle))
        return gl_not_served("a transfer to or from a 3D resource");
    struct pv_res2d_box b;
    memcpy(&b, box, sizeof(b));
    return pv_res2d_transfer(handle, to_host, stride, &b, offset, iov, count);
}

PV_VIRGL_EXPORT int virgl_renderer_transfer_read_iov(uint32_t handle, uint32_t ctx_id,
                                                     uint32_t level, uint32_t stride,
                                                     uint32_t layer_stride, struct virgl_box *box,
                                                     uint64_t offset, struct iovec *iov,
                                                     int iovec_cnt)
{
    (void)ctx_id, (void)layer_stride;
    return transfer(handle, (int)level, stride, box, offset, iov, iovec_cnt, false);
}

PV_VIRGL_EXPORT int virgl_renderer_transfer_write_iov(uint32_t handle, uint32_t ctx_id, int level,
                                                      uint32_t stride, uint32_t layer_stride,
                                                      struct virgl_box *box, uint64_t offset,
                                                      struct iovec *iovec,
                                                      unsigned int iovec_cnt)
{
    (void)ctx_id, (void)layer_stride;
    if (iovec_cnt > INT32_MAX)
        return -EINVAL;
    return transfer(handle, level, stride, box, offset, iovec, (int)iovec_cnt, true);
}

PV_VIRGL_EXPORT void *virgl_renderer_get_cursor_data(uint32_t resource_id, uint32_t *width,
                                                     uint32_t *height)
{
    uint32_t w = 0, h = 0;
    void *pixels = state.initialized ? pv_res2d_copy_pixels(resource_id, &w, &h) : NULL;
    if (width)
        *width = w;
    if (height)
        *height = h;
    return pixels;
}

PV_VIRGL_EXPORT void virgl_renderer_get_rect(int resource_id, struct iovec *iov,
                                             unsigned int num_iovs, uint32_t offset, int x, int y,
                                             int width, int height)
{
    /* The rectangle, packed at the resource's own stride from offset, into the caller's iovecs. */
    if (!state.initialized || x < 0 || y < 0 || width < 0 || height < 0 || num_iovs > INT32_MAX)
        return;
    struct pv_res2d_box box = { (uint32_t)x, (uint32_t)y, 0, (uint32_t)width, (uint32_t)height, 1 };
    pv_res2d_transfer((uint32_t)resource_id, false, 0, &box, offset, iov, (int)num_iovs);
}

PV_VIRGL_EXPORT int virgl_renderer_get_fd_for_texture(uint32_t tex_id, int *fd)
{
    (void)tex_id;
    (void)fd;
    return -EINVAL;
}

PV_VIRGL_EXPORT int virgl_renderer_get_fd_for_texture2(uint32_t tex_id, int *fd, int *stride,
                                                       int *offset)
{
    (void)tex_id, (void)fd, (void)stride, (void)offset;
    return -EINVAL;
}
