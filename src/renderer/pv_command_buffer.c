/* Command pools and command buffers. Command buffers belong to their pool: freeing the pool
 * frees them on the host, and their guest ids with them. Recording is generated passthrough. */
#include <stdlib.h>

#include "pv_device.h"
#include "pv_log.h"

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
    uint32_t bound = pv_pool_bind_children(ctx, pool, VK_OBJECT_TYPE_COMMAND_BUFFER,
                                           a->pCommandBuffers_ids, a->pCommandBuffers,
                                           a->pCommandBuffers_count);
    /* Those never bound go back to the host. */
    if (bound < a->pCommandBuffers_count)
        device->dispatch.vkFreeCommandBuffers(a->device, info->commandPool,
                                              a->pCommandBuffers_count - bound,
                                              a->pCommandBuffers + bound);
}

void pv_handle_vkFreeCommandBuffers(struct pv_context *ctx, struct pv_args_vkFreeCommandBuffers *a)
{
    struct pv_device *device = a->device_object->device;
    struct pv_pool *pool = (struct pv_pool *)a->commandPool_object;
    /* Check every id before anything is freed: a bad one fails the whole command. */
    if (!pv_pool_owns(ctx, pool, VK_OBJECT_TYPE_COMMAND_BUFFER, a->pCommandBuffers,
                      a->commandBufferCount))
        return;
    device->dispatch.vkFreeCommandBuffers(a->device, a->commandPool, a->commandBufferCount,
                                          a->pCommandBuffers);
    pv_pool_forget_listed(ctx, VK_OBJECT_TYPE_COMMAND_BUFFER, a->pCommandBuffers,
                          a->commandBufferCount);
}
