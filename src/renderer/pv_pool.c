/* Command and descriptor pools: what the two families share. A pool knows its children (command
 * buffers, descriptor sets), which the host frees implicitly with it, so their guest ids must go
 * at the same moment. */
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"

static void pool_release(struct pv_context *ctx, struct pv_object *obj)
{
    struct pv_pool *pool = (struct pv_pool *)obj;
    pv_pool_forget_children(ctx, pool);
    free(pool);
}

bool pv_pool_bind(struct pv_context *ctx, struct pv_device *device, VkObjectType type,
                  uint64_t id, uint64_t handle)
{
    struct pv_pool *pool = calloc(1, sizeof(*pool));
    if (!pool) {
        pv_context_set_fatal(ctx, "%s: out of memory", ctx->current_command);
        pv_destroy_host_object(device, type, handle);
        return false;
    }
    pool->base.id = id;
    pool->base.type = type;
    pool->base.handle = handle;
    pool->base.instance = device->base.instance;
    pool->base.device = device;
    pool->base.release = pool_release;
    if (!pv_context_add_object(ctx, &pool->base)) {
        pv_destroy_host_object(device, type, handle);
        free(pool);
        return false;
    }
    return true;
}

void pv_pool_add_child(struct pv_pool *pool, struct pv_object *child)
{
    child->pool = pool;
    child->pool_prev = NULL;
    child->pool_next = pool->children;
    if (pool->children)
        pool->children->pool_prev = child;
    pool->children = child;
}

void pv_pool_forget_children(struct pv_context *ctx, struct pv_pool *pool)
{
    while (pool->children)
        pv_context_forget_object(ctx, pool->children);
}

/* Handles of children are 8 bytes whatever their C type (pointers or 64-bit integers). */
static uint64_t handle_at(const void *handles, uint32_t i)
{
    uint64_t h;
    memcpy(&h, (const uint8_t *)handles + (size_t)i * sizeof(h), sizeof(h));
    return h;
}

uint32_t pv_pool_bind_children(struct pv_context *ctx, struct pv_pool *pool, VkObjectType type,
                               const uint64_t *ids, const void *handles, uint32_t count)
{
    struct pv_device *device = pool->base.device;
    for (uint32_t i = 0; i < count; i++) {
        struct pv_object *child = calloc(1, sizeof(*child));
        if (!child) {
            pv_context_set_fatal(ctx, "%s: out of memory", ctx->current_command);
            return i;
        }
        child->id = ids[i];
        child->type = type;
        child->handle = handle_at(handles, i);
        child->instance = device->base.instance;
        child->device = device;
        if (!pv_context_add_object(ctx, child)) {
            free(child);
            return i;
        }
        pv_pool_add_child(pool, child);
    }
    return count;
}

bool pv_pool_owns(struct pv_context *ctx, struct pv_pool *pool, VkObjectType type,
                  const void *handles, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t h = handle_at(handles, i);
        if (!h)
            continue;
        struct pv_object *child = pv_context_object_for_handle(ctx, type, h);
        if (!child || child->pool != pool) {
            pv_context_set_fatal(ctx, "%s: %s %u is not from the pool", ctx->current_command,
                                 pv_object_type_name(type), i);
            return false;
        }
    }
    return true;
}

void pv_pool_forget_listed(struct pv_context *ctx, VkObjectType type, const void *handles,
                           uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t h = handle_at(handles, i);
        struct pv_object *child = h ? pv_context_object_for_handle(ctx, type, h) : NULL;
        if (child)
            pv_context_forget_object(ctx, child);
    }
}
