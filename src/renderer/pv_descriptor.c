/* Descriptor pools and sets. Sets belong to their pool: a reset or destroy of the pool frees
 * them on the host, and their guest ids with them. Updates are generated passthrough, after
 * the checks here: a write's descriptor type decides which of its arrays the host driver reads,
 * and the registry cannot say so. */
#include <stdlib.h>

#include "pv_cs.h"
#include "pv_device.h"
#include "pv_log.h"

/* Whether a buffer descriptor's range lies in its buffer (a null buffer is the null descriptor,
 * which the driver handles itself). */
static bool buffer_range_valid(struct pv_cs_decoder *d, const VkDescriptorBufferInfo *info,
                               uint32_t i)
{
    if (!info->buffer)
        return true;
    const struct pv_object *buffer = pv_object_table_find_handle(d->objects, VK_OBJECT_TYPE_BUFFER,
                                                                 (uint64_t)info->buffer);
    const VkDeviceSize size = buffer ? buffer->size : 0;
    if (info->offset >= size ||
        (info->range != VK_WHOLE_SIZE && (!info->range || info->range > size - info->offset)))
        return pv_cs_fail(d, "VkWriteDescriptorSet: pBufferInfo[%u] (%llu bytes from %llu) is "
                          "outside its buffer of %llu bytes", i, (unsigned long long)info->range,
                          (unsigned long long)info->offset, (unsigned long long)size);
    return true;
}

static const void *find_in_chain(const void *chain, VkStructureType type)
{
    for (const VkBaseInStructure *s = chain; s; s = s->pNext) {
        if (s->sType == type)
            return s;
    }
    return NULL;
}

bool pv_check_VkWriteDescriptorSet(struct pv_cs_decoder *d, const VkWriteDescriptorSet *v)
{
    const uint32_t count = v->descriptorCount;
    switch ((int)v->descriptorType) {
    case VK_DESCRIPTOR_TYPE_SAMPLER:
    case VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER:
    case VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE:
    case VK_DESCRIPTOR_TYPE_STORAGE_IMAGE:
    case VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT:
        if (count && !v->pImageInfo)
            return pv_cs_fail(d, "VkWriteDescriptorSet: %u image descriptors (type %d) without "
                              "pImageInfo", count, (int)v->descriptorType);
        return true;
    case VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER:
    case VK_DESCRIPTOR_TYPE_STORAGE_BUFFER:
    case VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC:
    case VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC:
        if (count && !v->pBufferInfo)
            return pv_cs_fail(d, "VkWriteDescriptorSet: %u buffer descriptors (type %d) without "
                              "pBufferInfo", count, (int)v->descriptorType);
        for (uint32_t i = 0; i < count; i++) {
            if (!buffer_range_valid(d, &v->pBufferInfo[i], i))
                return false;
        }
        return true;
    case VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER:
    case VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER:
        if (count && !v->pTexelBufferView)
            return pv_cs_fail(d, "VkWriteDescriptorSet: %u texel buffer descriptors (type %d) "
                              "without pTexelBufferView", count, (int)v->descriptorType);
        return true;
    case VK_DESCRIPTOR_TYPE_INLINE_UNIFORM_BLOCK: {
        /* the bytes come in the chain; descriptorCount counts them */
        const VkWriteDescriptorSetInlineUniformBlock *block =
            find_in_chain(v->pNext, VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET_INLINE_UNIFORM_BLOCK);
        if (!block || block->dataSize != count || (count && !block->pData))
            return pv_cs_fail(d, "VkWriteDescriptorSet: an inline uniform block of %u bytes "
                              "without VkWriteDescriptorSetInlineUniformBlock of that size",
                              count);
        return true;
    }
    default:
        return pv_cs_fail(d, "VkWriteDescriptorSet: descriptor type %d is not served",
                          (int)v->descriptorType);
    }
}

/* Push descriptors ignore dstSet; an update writes into it. */
bool pv_check_vkUpdateDescriptorSets(struct pv_context *ctx,
                                     const struct pv_args_vkUpdateDescriptorSets *a)
{
    for (uint32_t i = 0; i < a->descriptorWriteCount; i++) {
        if (!a->pDescriptorWrites[i].dstSet) {
            pv_context_set_fatal(ctx, "vkUpdateDescriptorSets: pDescriptorWrites[%u].dstSet is "
                                 "null", i);
            return false;
        }
    }
    return true;
}

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
