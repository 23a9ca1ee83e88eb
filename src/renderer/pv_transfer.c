/* Buffer transfer commands, checked before they are recorded. A host driver trusts these
 * ranges: a software rasterizer turns them into plain memcpy and memset on the worker's own
 * memory, so a range past the buffer or a copy onto itself would corrupt the host process
 * rather than fail. Only the guest's context is at stake (it has a process of its own), but the
 * host must never run code on wild ranges. */
#include <stdlib.h>

#include "pv_device.h"

struct range_pair {
    VkDeviceSize src, dst, size;
};

struct interval {
    VkDeviceSize start, end;
};

static int by_start(const void *a, const void *b)
{
    const struct interval *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Whether [offset, offset + size) lies within a buffer of buffer_size bytes. */
static bool within(VkDeviceSize offset, VkDeviceSize size, VkDeviceSize buffer_size)
{
    return offset <= buffer_size && size <= buffer_size - offset;
}

/* Whether any source range meets any destination range (both sorted by start): a sweep that
 * drops whichever range ends first, since nothing later in the other list can reach it. */
static bool sets_overlap(const struct interval *src, const struct interval *dst, uint32_t count)
{
    uint32_t i = 0, j = 0;
    while (i < count && j < count) {
        if (src[i].end <= dst[j].start)
            i++;
        else if (dst[j].end <= src[i].start)
            j++;
        else
            return true;
    }
    return false;
}

/* The checks of vkCmdCopyBuffer(2): every region non-empty and inside both buffers, and, when
 * a buffer is copied onto itself, no source region overlapping a destination region. */
static bool copy_regions_valid(struct pv_context *ctx, const char *command, VkBuffer src_handle,
                               VkBuffer dst_handle, const struct range_pair *regions,
                               uint32_t count)
{
    struct pv_object *src = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER,
                                                         (uint64_t)src_handle);
    struct pv_object *dst = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER,
                                                         (uint64_t)dst_handle);
    if (!src || !dst) {
        pv_context_set_fatal(ctx, "%s: a buffer is not a buffer of the context", command);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const struct range_pair *r = &regions[i];
        if (!r->size || !within(r->src, r->size, src->size) ||
            !within(r->dst, r->size, dst->size)) {
            pv_context_set_fatal(ctx, "%s: region %u (%llu bytes from %llu to %llu) is empty or "
                                 "outside the buffers (%llu and %llu bytes)", command, i,
                                 (unsigned long long)r->size, (unsigned long long)r->src,
                                 (unsigned long long)r->dst, (unsigned long long)src->size,
                                 (unsigned long long)dst->size);
            return false;
        }
    }
    if (src != dst || count == 0)
        return true;
    struct interval *sorted = malloc(2 * (size_t)count * sizeof(*sorted));
    if (!sorted) {
        pv_context_set_fatal(ctx, "%s: out of memory", command);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        sorted[i] = (struct interval){ regions[i].src, regions[i].src + regions[i].size };
        sorted[count + i] = (struct interval){ regions[i].dst, regions[i].dst + regions[i].size };
    }
    qsort(sorted, count, sizeof(*sorted), by_start);
    qsort(sorted + count, count, sizeof(*sorted), by_start);
    bool overlap = sets_overlap(sorted, sorted + count, count);
    free(sorted);
    if (overlap)
        pv_context_set_fatal(ctx, "%s: the buffer is copied onto itself with source and "
                             "destination regions that overlap", command);
    return !overlap;
}

void pv_handle_vkCmdCopyBuffer(struct pv_context *ctx, struct pv_args_vkCmdCopyBuffer *a)
{
    struct range_pair *regions = calloc(a->regionCount ? a->regionCount : 1, sizeof(*regions));
    if (!regions) {
        pv_context_set_fatal(ctx, "vkCmdCopyBuffer: out of memory");
        return;
    }
    for (uint32_t i = 0; i < a->regionCount; i++)
        regions[i] = (struct range_pair){ a->pRegions[i].srcOffset, a->pRegions[i].dstOffset,
                                          a->pRegions[i].size };
    bool valid = copy_regions_valid(ctx, "vkCmdCopyBuffer", a->srcBuffer, a->dstBuffer, regions,
                                    a->regionCount);
    free(regions);
    if (valid)
        a->commandBuffer_object->device->dispatch.vkCmdCopyBuffer(
            a->commandBuffer, a->srcBuffer, a->dstBuffer, a->regionCount, a->pRegions);
}

void pv_handle_vkCmdCopyBuffer2(struct pv_context *ctx, struct pv_args_vkCmdCopyBuffer2 *a)
{
    PFN_vkCmdCopyBuffer2 fn = a->commandBuffer_object->device->dispatch.vkCmdCopyBuffer2;
    if (!fn) {
        pv_context_set_fatal(ctx, "vkCmdCopyBuffer2: the host driver does not provide it");
        return;
    }
    const VkCopyBufferInfo2 *info = a->pCopyBufferInfo;
    struct range_pair *regions = calloc(info->regionCount ? info->regionCount : 1,
                                        sizeof(*regions));
    if (!regions) {
        pv_context_set_fatal(ctx, "vkCmdCopyBuffer2: out of memory");
        return;
    }
    for (uint32_t i = 0; i < info->regionCount; i++)
        regions[i] = (struct range_pair){ info->pRegions[i].srcOffset,
                                          info->pRegions[i].dstOffset, info->pRegions[i].size };
    bool valid = copy_regions_valid(ctx, "vkCmdCopyBuffer2", info->srcBuffer, info->dstBuffer,
                                    regions, info->regionCount);
    free(regions);
    if (valid)
        fn(a->commandBuffer, info);
}

/* vkCmdFillBuffer and vkCmdUpdateBuffer: a range inside the buffer (VK_WHOLE_SIZE: from the
 * offset to the end). */
static bool fill_range_valid(struct pv_context *ctx, const char *command, VkBuffer handle,
                             VkDeviceSize offset, VkDeviceSize size)
{
    struct pv_object *buffer = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER,
                                                            (uint64_t)handle);
    if (!buffer) {
        pv_context_set_fatal(ctx, "%s: the buffer is not a buffer of the context", command);
        return false;
    }
    bool ok = size == VK_WHOLE_SIZE ? offset < buffer->size
                                    : size && within(offset, size, buffer->size);
    if (!ok)
        pv_context_set_fatal(ctx, "%s: %llu bytes at %llu are outside the buffer (%llu bytes)",
                             command, (unsigned long long)size, (unsigned long long)offset,
                             (unsigned long long)buffer->size);
    return ok;
}

void pv_handle_vkCmdFillBuffer(struct pv_context *ctx, struct pv_args_vkCmdFillBuffer *a)
{
    if (fill_range_valid(ctx, "vkCmdFillBuffer", a->dstBuffer, a->dstOffset, a->size))
        a->commandBuffer_object->device->dispatch.vkCmdFillBuffer(
            a->commandBuffer, a->dstBuffer, a->dstOffset, a->size, a->data);
}

void pv_handle_vkCmdUpdateBuffer(struct pv_context *ctx, struct pv_args_vkCmdUpdateBuffer *a)
{
    if (fill_range_valid(ctx, "vkCmdUpdateBuffer", a->dstBuffer, a->dstOffset, a->dataSize))
        a->commandBuffer_object->device->dispatch.vkCmdUpdateBuffer(
            a->commandBuffer, a->dstBuffer, a->dstOffset, a->dataSize, a->pData);
}
