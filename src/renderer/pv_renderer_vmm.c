/* What the VMM transports need of the renderer beyond what vtest does: blobs over memory the
 * transport mapped (a VM's guest pages), and waiting for every queue of a context, for fences
 * on rings that no single queue stands for. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_context.h"
#include "pv_device.h"
#include "pv_instance.h"
#include "pv_log.h"

int pv_context_adopt_blob(struct pv_context *ctx, uint32_t res_id, void *map, size_t size, int fd)
{
    if (!map || size == 0) {
        pv_log("context %u (%s): blob %u: no memory to adopt", ctx->id, ctx->name, res_id);
        return -1;
    }
    pthread_mutex_lock(&ctx->mutex);
    int ret = -1;
    if (!pv_context_blob_admissible(ctx, res_id))
        goto out;
    struct pv_blob *blob = calloc(1, sizeof(*blob));
    if (!blob) {
        pv_log("context %u (%s): out of memory for blob %u", ctx->id, ctx->name, res_id);
        goto out;
    }
    blob->res_id = res_id;
    blob->refs = 1;
    blob->map = map;
    blob->size = size;
    blob->fd = fd;
    if (!pv_context_add_blob(ctx, blob)) {
        free(blob);   /* the memory is the caller's still */
        goto out;
    }
    ret = 0;
out:
    pthread_mutex_unlock(&ctx->mutex);
    return ret;
}
