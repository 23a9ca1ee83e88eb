/* Plain 2D resources in host memory (see pv_virgl_resource2d.h). */
#include "pv_virgl_resource2d.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A guest console needs one or two; the count bound keeps the linear lookup cheap. */
#define PV_RES2D_MAX_COUNT 256u

/* Gallium's PIPE_TEXTURE_2D, the target VMMs give 2D resources. */
#define PV_PIPE_TEXTURE_2D 2

struct pv_res2d {
    struct pv_res2d *next;
    uint32_t id;
    uint32_t format;
    uint32_t width, height;
    uint32_t flags;
    uint8_t *pixels;             /* width * height * 4 bytes, owned */
    struct iovec *backing;       /* the caller's, handed back on detach */
    int backing_count;
};

static struct {
    struct pv_res2d *list;
    unsigned count;
    uint64_t bytes;
} table;

/* The virtio-gpu 2D formats (virgl format numbers), all four bytes a pixel. */
static bool format_served(uint32_t format)
{
    switch (format) {
    case 1: case 2: case 3: case 4:        /* B8G8R8A8, B8G8R8X8, A8R8G8B8, X8R8G8B8 */
    case 67: case 68: case 121: case 134:  /* R8G8B8A8, X8B8G8R8, A8B8G8R8, R8G8B8X8 */
        return true;
    default:
        return false;
    }
}

static struct pv_res2d *find(uint32_t id)
{
    for (struct pv_res2d *r = table.list; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

int pv_res2d_create(const struct virgl_renderer_resource_create_args *args)
{
    if (!args || args->handle == 0 || args->target != PV_PIPE_TEXTURE_2D ||
        !format_served(args->format) || args->depth != 1 || args->array_size != 1 ||
        args->last_level != 0 || args->nr_samples > 1 || args->width == 0 ||
        args->height == 0 || args->width > PV_RES2D_MAX_DIM || args->height > PV_RES2D_MAX_DIM)
        return -EINVAL;
    if (find(args->handle))
        return -EEXIST;
    uint64_t bytes = (uint64_t)args->width * args->height * 4;
    if (table.count >= PV_RES2D_MAX_COUNT || table.bytes + bytes > PV_RES2D_MAX_BYTES)
        return -ENOMEM;
    struct pv_res2d *r = calloc(1, sizeof(*r));
    uint8_t *pixels = calloc(1, bytes);
    if (!r || !pixels) {
        free(r);
        free(pixels);
        return -ENOMEM;
    }
    *r = (struct pv_res2d){ .next = table.list, .id = args->handle, .format = args->format,
                            .width = args->width, .height = args->height, .flags = args->flags,
                            .pixels = pixels };
    table.list = r;
    table.count++;
    table.bytes += bytes;
    return 0;
}

bool pv_res2d_exists(uint32_t id)
{
    return find(id) != NULL;
}

int pv_res2d_attach(uint32_t id, struct iovec *iov, int count)
{
    struct pv_res2d *r = find(id);
    if (!r || count < 0 || (count && !iov))
        return -EINVAL;
    if (r->backing)
        return -EBUSY;
    r->backing = iov;
    r->backing_count = count;
    return 0;
}

bool pv_res2d_detach(uint32_t id, struct iovec **iov, int *count)
{
    struct pv_res2d *r = find(id);
    if (!r || !r->backing)
        return false;
    *iov = r->backing;
    *count = r->backing_count;
    r->backing = NULL;
    r->backing_count = 0;
    return true;
}

/* Copies len bytes between the iovecs (at byte offset pos of their concatenation) and host
 * memory. False when the iovecs end first. */
static bool iov_copy(const struct iovec *iov, int count, uint64_t pos, uint8_t *host, size_t len,
                     bool to_host)
{
    for (int i = 0; i < count && len; i++) {
        if (pos >= iov[i].iov_len) {
            pos -= iov[i].iov_len;
            continue;
        }
        size_t n = iov[i].iov_len - pos;
        if (n > len)
            n = len;
        uint8_t *guest = (uint8_t *)iov[i].iov_base + pos;
        if (to_host)
            memcpy(host, guest, n);
        else
            memcpy(guest, host, n);
        host += n;
        len -= n;
        pos = 0;
    }
    return len == 0;
}

int pv_res2d_transfer(uint32_t id, bool to_host, uint32_t stride, const struct pv_res2d_box *box,
                      uint64_t offset, const struct iovec *iov, int count)
{
    struct pv_res2d *r = find(id);
    if (!r || !box)
        return -EINVAL;
    if (!iov) {
        iov = r->backing;
        count = r->backing_count;
    }
    if (!iov || count <= 0)
        return -EINVAL;
    uint64_t row_bytes = (uint64_t)r->width * 4;
    if (stride == 0)
        stride = (uint32_t)row_bytes;
    if (box->z != 0 || box->d > 1 || box->x > r->width || box->w > r->width - box->x ||
        box->y > r->height || box->h > r->height - box->y || (uint64_t)box->w * 4 > stride)
        return -EINVAL;
    for (uint32_t row = 0; row < box->h; row++) {
        uint8_t *host = r->pixels + (uint64_t)(box->y + row) * row_bytes + (uint64_t)box->x * 4;
        if (!iov_copy(iov, count, offset + (uint64_t)row * stride, host, (size_t)box->w * 4,
                      to_host))
            return -EINVAL;
    }
    return 0;
}

void *pv_res2d_copy_pixels(uint32_t id, uint32_t *width, uint32_t *height)
{
    struct pv_res2d *r = find(id);
    if (!r)
        return NULL;
    size_t bytes = (size_t)r->width * r->height * 4;
    void *copy = malloc(bytes);
    if (!copy)
        return NULL;
    memcpy(copy, r->pixels, bytes);
    *width = r->width;
    *height = r->height;
    return copy;
}

bool pv_res2d_unref(uint32_t id)
{
    for (struct pv_res2d **link = &table.list; *link; link = &(*link)->next) {
        struct pv_res2d *r = *link;
        if (r->id != id)
            continue;
        *link = r->next;
        table.count--;
        table.bytes -= (uint64_t)r->width * r->height * 4;
        free(r->pixels);
        free(r);
        return true;
    }
    return false;
}

void pv_res2d_clear(void)
{
    while (table.list)
        pv_res2d_unref(table.list->id);
}
