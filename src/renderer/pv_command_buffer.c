/* Command pools and command buffers. Command buffers belong to their pool: freeing the pool
 * frees them on the host, and their guest ids with them. Recording is generated passthrough. */
#include <stdlib.h>

#include "pv_device.h"
#include "pv_log.h"

static void pool_release(struct pv_context *ctx, struct pv_object *obj)
{
    struct pv_pool *pool = (struct pv_pool *)obj;
    pv_pool_forget_children(ctx, pool);
    free(pool);
}

/* Shared by command and descriptor pools: binds a new host pool to the guest's id. */
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

void pv_handle_vkCreateCommandPool(struct pv_context *ctx, struct pv_args_vkCreateCommandPool *a)
{
    struct pv_device *device = a->device_object->device;
    a->ret = device->dispatch.vkCreateCommandPool(a->device, a->pCreateInfo, NULL, a->pCommandPool);
    if (a->ret == VK_SUCCESS)
        pv_pool_bind(ctx, device, VK_OBJECT_TYPE_COMMAND_POOL, a->pCommandPool_id,
                     (uint64_t)*a->pCommandPool);
}

void pv_handle_vkDestroyCommandPool(struct pv_context *ctx, struct pv_args_vkDestroyCommandPool *a)
{
    struct pv_device *device = a->device_object->device;
    device->dispatch.vkDestroyCommandPool(a->device, a->commandPool, NULL);
    if (a->commandPool_object)
        pv_context_forget_object(ctx, a->commandPool_object);
}

void pv_handle_vkAllocateCommandBuffers(struct pv_context *ctx,
                                        struct pv_args_vkAllocateCommandBuffers *a)
{
    struct pv_device *device = a->device_object->device;
    const VkCommandBufferAllocateInfo *info = a->pAllocateInfo;
    struct pv_pool *pool = (struct pv_pool *)pv_context_object_for_handle(
        ctx, VK_OBJECT_TYPE_COMMAND_POOL, (uint64_t)info->commandPool);
    if (!pool) {
        pv_context_set_fatal(ctx, "vkAllocateCommandBuffers: the pool is not a command pool");
        return;
    }
    if (!a->pCommandBuffers_count)
        return;
    a->ret = device->dispatch.vkAllocateCommandBuffers(a->device, info, a->pCommandBuffers);
    if (a->ret != VK_SUCCESS)
        return;
    for (uint32_t i = 0; i < a->pCommandBuffers_count; i++) {
        struct pv_object *cb = calloc(1, sizeof(*cb));
        if (cb) {
            cb->id = a->pCommandBuffers_ids[i];
            cb->type = VK_OBJECT_TYPE_COMMAND_BUFFER;
            cb->handle = (uint64_t)(uintptr_t)a->pCommandBuffers[i];
            cb->instance = device->base.instance;
            cb->device = device;
        }
        if (!cb || !pv_context_add_object(ctx, cb)) {
            if (!cb)
                pv_context_set_fatal(ctx, "vkAllocateCommandBuffers: out of memory");
            free(cb);
            /* The rest were never bound: give them back to the host. */
            device->dispatch.vkFreeCommandBuffers(a->device, info->commandPool,
                                                  a->pCommandBuffers_count - i,
                                                  a->pCommandBuffers + i);
            return;
        }
        pv_pool_add_child(pool, cb);
    }
}

void pv_handle_vkFreeCommandBuffers(struct pv_context *ctx, struct pv_args_vkFreeCommandBuffers *a)
{
    struct pv_device *device = a->device_object->device;
    struct pv_pool *pool = (struct pv_pool *)a->commandPool_object;
    /* Check every id before anything is freed: a bad one fails the whole command. */
    for (uint32_t i = 0; i < a->commandBufferCount; i++) {
        if (!a->pCommandBuffers[i])
            continue;
        struct pv_object *cb = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_COMMAND_BUFFER,
                                                            (uint64_t)(uintptr_t)a->pCommandBuffers[i]);
        if (!cb || cb->pool != pool) {
            pv_context_set_fatal(ctx, "vkFreeCommandBuffers: command buffer %u is not from the pool",
                                 i);
            return;
        }
    }
    device->dispatch.vkFreeCommandBuffers(a->device, a->commandPool, a->commandBufferCount,
                                          a->pCommandBuffers);
    for (uint32_t i = 0; i < a->commandBufferCount; i++) {
        if (!a->pCommandBuffers[i])
            continue;
        struct pv_object *cb = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_COMMAND_BUFFER,
                                                            (uint64_t)(uintptr_t)a->pCommandBuffers[i]);
        if (cb)
            pv_context_forget_object(ctx, cb);
    }
}
