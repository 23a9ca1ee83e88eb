/* Descriptor pools and sets. Sets belong to their pool: a reset or destroy of the pool frees
 * them on the host, and their guest ids with them. Updates are generated passthrough. */
#include <stdlib.h>

#include "pv_device.h"
#include "pv_log.h"

void pv_handle_vkCreateDescriptorPool(struct pv_context *ctx,
                                      struct pv_args_vkCreateDescriptorPool *a)
{
    struct pv_device *device = a->device_object->device;
    a->ret = device->dispatch.vkCreateDescriptorPool(a->device, a->pCreateInfo, NULL,
                                                     a->pDescriptorPool);
    if (a->ret == VK_SUCCESS)
        pv_pool_bind(ctx, device, VK_OBJECT_TYPE_DESCRIPTOR_POOL, a->pDescriptorPool_id,
                     (uint64_t)*a->pDescriptorPool);
}

void pv_handle_vkDestroyDescriptorPool(struct pv_context *ctx,
                                       struct pv_args_vkDestroyDescriptorPool *a)
{
    struct pv_device *device = a->device_object->device;
    device->dispatch.vkDestroyDescriptorPool(a->device, a->descriptorPool, NULL);
    if (a->descriptorPool_object)
        pv_context_forget_object(ctx, a->descriptorPool_object);
}

void pv_handle_vkResetDescriptorPool(struct pv_context *ctx,
                                     struct pv_args_vkResetDescriptorPool *a)
{
    struct pv_device *device = a->device_object->device;
    a->ret = device->dispatch.vkResetDescriptorPool(a->device, a->descriptorPool, a->flags);
    pv_pool_forget_children(ctx, (struct pv_pool *)a->descriptorPool_object);
}

void pv_handle_vkAllocateDescriptorSets(struct pv_context *ctx,
                                        struct pv_args_vkAllocateDescriptorSets *a)
{
    struct pv_device *device = a->device_object->device;
    const VkDescriptorSetAllocateInfo *info = a->pAllocateInfo;
    struct pv_pool *pool = (struct pv_pool *)pv_context_object_for_handle(
        ctx, VK_OBJECT_TYPE_DESCRIPTOR_POOL, (uint64_t)info->descriptorPool);
    if (!pool) {
        pv_context_set_fatal(ctx, "vkAllocateDescriptorSets: the pool is not a descriptor pool");
        return;
    }
    if (!a->pDescriptorSets_count)
        return;
    a->ret = device->dispatch.vkAllocateDescriptorSets(a->device, info, a->pDescriptorSets);
    if (a->ret != VK_SUCCESS) {
        /* The driver allocates asynchronously and believes it succeeded; later uses of these
         * ids fail as unknown, which names the real cause in the log. */
        pv_log("context %u (%s): host vkAllocateDescriptorSets failed: %d", ctx->id, ctx->name,
               a->ret);
        return;
    }
    /* Sets not bound (the context is fatal then) are left to the pool: freeing them one by
     * one needs a pool created with FREE_DESCRIPTOR_SET_BIT. */
    pv_pool_bind_children(ctx, pool, VK_OBJECT_TYPE_DESCRIPTOR_SET, a->pDescriptorSets_ids,
                          a->pDescriptorSets, a->pDescriptorSets_count);
}

void pv_handle_vkFreeDescriptorSets(struct pv_context *ctx, struct pv_args_vkFreeDescriptorSets *a)
{
    struct pv_device *device = a->device_object->device;
    struct pv_pool *pool = (struct pv_pool *)a->descriptorPool_object;
    if (!pv_pool_owns(ctx, pool, VK_OBJECT_TYPE_DESCRIPTOR_SET, a->pDescriptorSets,
                      a->descriptorSetCount))
        return;
    a->ret = device->dispatch.vkFreeDescriptorSets(a->device, a->descriptorPool,
                                                   a->descriptorSetCount, a->pDescriptorSets);
    pv_pool_forget_listed(ctx, VK_OBJECT_TYPE_DESCRIPTOR_SET, a->pDescriptorSets,
                          a->descriptorSetCount);
}
