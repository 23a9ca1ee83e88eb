/* Buffer transfer commands, checked before they are recorded. A host driver trusts these
 * ranges: a software rasterizer turns them into plain memcpy and memset on the worker's own
 * memory, so a range past the buffer or a copy onto itself would corrupt the host process
 * rather than fail. Only the guest's context is at stake (it has a process of its own), but the
 * host must never run code on wild ranges. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"

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

/* Copy regions as both commands lay them out: VkBufferCopy and VkBufferCopy2 each hold
 * srcOffset, dstOffset and size back to back, stride bytes apart from one region to the next. */
struct copy_regions {
    const uint8_t *first;   /* &pRegions[0].srcOffset */
    size_t stride;
    uint32_t count;
};

_Static_assert(offsetof(VkBufferCopy, dstOffset) == offsetof(VkBufferCopy, srcOffset) + 8 &&
                   offsetof(VkBufferCopy, size) == offsetof(VkBufferCopy, srcOffset) + 16,
               "VkBufferCopy: srcOffset, dstOffset, size back to back");
_Static_assert(offsetof(VkBufferCopy2, dstOffset) == offsetof(VkBufferCopy2, srcOffset) + 8 &&
                   offsetof(VkBufferCopy2, size) == offsetof(VkBufferCopy2, srcOffset) + 16,
               "VkBufferCopy2: srcOffset, dstOffset, size back to back");

static void region_at(const struct copy_regions *r, uint32_t i, VkDeviceSize out[3])
{
    memcpy(out, r->first + (size_t)i * r->stride, 3 * sizeof(VkDeviceSize));
}

/* The checks of vkCmdCopyBuffer(2): every region non-empty and inside both buffers, and, when
 * a buffer is copied onto itself, no source region overlapping a destination region. */
static bool copy_regions_valid(struct pv_context *ctx, const char *command,
                               const struct pv_object *src, const struct pv_object *dst,
                               const struct copy_regions *regions)
{
    uint32_t count = regions->count;
    for (uint32_t i = 0; i < count; i++) {
        VkDeviceSize r[3];   /* srcOffset, dstOffset, size */
        region_at(regions, i, r);
        if (!r[2] || !within(r[0], r[2], src->size) || !within(r[1], r[2], dst->size)) {
            pv_context_set_fatal(ctx, "%s: region %u (%llu bytes from %llu to %llu) is empty or "
                                 "outside the buffers (%llu and %llu bytes)", command, i,
                                 (unsigned long long)r[2], (unsigned long long)r[0],
                                 (unsigned long long)r[1], (unsigned long long)src->size,
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
        VkDeviceSize r[3];
        region_at(regions, i, r);
        sorted[i] = (struct interval){ r[0], r[0] + r[2] };
        sorted[count + i] = (struct interval){ r[1], r[1] + r[2] };
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
    const struct copy_regions regions = {
        .first = a->regionCount ? (const uint8_t *)&a->pRegions[0].srcOffset : NULL,
        .stride = sizeof(VkBufferCopy),
        .count = a->regionCount,
    };
    if (copy_regions_valid(ctx, "vkCmdCopyBuffer", a->srcBuffer_object, a->dstBuffer_object,
                           &regions))
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
    /* The buffers come inside the struct: the decoder checked their ids but kept no objects. */
    struct pv_object *src = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER,
                                                         (uint64_t)info->srcBuffer);
    struct pv_object *dst = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER,
                                                         (uint64_t)info->dstBuffer);
    const struct copy_regions regions = {
        .first = info->regionCount ? (const uint8_t *)&info->pRegions[0].srcOffset : NULL,
        .stride = sizeof(VkBufferCopy2),
        .count = info->regionCount,
    };
    if (!src || !dst) {
        pv_context_set_fatal(ctx, "vkCmdCopyBuffer2: a buffer is not a buffer of the context");
        return;
    }
    if (copy_regions_valid(ctx, "vkCmdCopyBuffer2", src, dst, &regions))
        fn(a->commandBuffer, info);
}

/* vkCmdFillBuffer and vkCmdUpdateBuffer: a range inside the buffer (VK_WHOLE_SIZE: from the
 * offset to the end). */
static bool fill_range_valid(struct pv_context *ctx, const char *command,
                             const struct pv_object *buffer, VkDeviceSize offset,
                             VkDeviceSize size)
{
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
    if (fill_range_valid(ctx, "vkCmdFillBuffer", a->dstBuffer_object, a->dstOffset, a->size))
        a->commandBuffer_object->device->dispatch.vkCmdFillBuffer(
            a->commandBuffer, a->dstBuffer, a->dstOffset, a->size, a->data);
}

void pv_handle_vkCmdUpdateBuffer(struct pv_context *ctx, struct pv_args_vkCmdUpdateBuffer *a)
{
    if (fill_range_valid(ctx, "vkCmdUpdateBuffer", a->dstBuffer_object, a->dstOffset,
                         a->dataSize))
        a->commandBuffer_object->device->dispatch.vkCmdUpdateBuffer(
            a->commandBuffer, a->dstBuffer, a->dstOffset, a->dataSize, a->pData);
}
