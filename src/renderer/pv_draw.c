/* Indirect draws and dispatches, checked before they are recorded: the host driver reads the
 * arguments at the guest's offset (and count buffer), stride after stride, trusting all of it;
 * a software rasterizer reads them with plain loads from the buffer's storage. Every argument
 * record the command may read must lie inside its buffer. */
#include "pv_device.h"

/* Whether count records of size bytes, stride bytes apart from offset, lie in buffer. */
static bool records_within(struct pv_context *ctx, const char *command, const char *what,
                           const struct pv_object *buffer, VkDeviceSize offset, uint32_t count,
                           uint32_t stride, VkDeviceSize size)
{
    if (!count)
        return true;
    VkDeviceSize span, end;
    if (__builtin_mul_overflow((VkDeviceSize)(count - 1), (VkDeviceSize)stride, &span) ||
        __builtin_add_overflow(span, size, &span) ||
        __builtin_add_overflow(span, offset, &end) || end > buffer->size) {
        pv_context_set_fatal(ctx, "%s: %u %s of %llu bytes, %u bytes apart from offset %llu, "
                             "reach past buffer 0x%llx of %llu bytes", command, count, what,
                             (unsigned long long)size, stride, (unsigned long long)offset,
                             (unsigned long long)buffer->id, (unsigned long long)buffer->size);
        return false;
    }
    return true;
}

bool pv_check_vkCmdDrawIndirect(struct pv_context *ctx, const struct pv_args_vkCmdDrawIndirect *a)
{
    return records_within(ctx, "vkCmdDrawIndirect", "draws", a->buffer_object, a->offset,
                          a->drawCount, a->stride, sizeof(VkDrawIndirectCommand));
}

bool pv_check_vkCmdDrawIndexedIndirect(struct pv_context *ctx,
                                       const struct pv_args_vkCmdDrawIndexedIndirect *a)
{
    return records_within(ctx, "vkCmdDrawIndexedIndirect", "draws", a->buffer_object, a->offset,
                          a->drawCount, a->stride, sizeof(VkDrawIndexedIndirectCommand));
}

bool pv_check_vkCmdDispatchIndirect(struct pv_context *ctx,
                                    const struct pv_args_vkCmdDispatchIndirect *a)
{
    return records_within(ctx, "vkCmdDispatchIndirect", "dispatches", a->buffer_object,
                          a->offset, 1, 0, sizeof(VkDispatchIndirectCommand));
}

/* The count comes from the GPU at run time: every draw up to maxDrawCount must fit. */
bool pv_check_vkCmdDrawIndirectCount(struct pv_context *ctx,
                                     const struct pv_args_vkCmdDrawIndirectCount *a)
{
    const char *command = "vkCmdDrawIndirectCount";
    return records_within(ctx, command, "counts", a->countBuffer_object, a->countBufferOffset, 1,
                          0, sizeof(uint32_t)) &&
           records_within(ctx, command, "draws", a->buffer_object, a->offset, a->maxDrawCount,
                          a->stride, sizeof(VkDrawIndirectCommand));
}

bool pv_check_vkCmdDrawIndexedIndirectCount(struct pv_context *ctx,
                                            const struct pv_args_vkCmdDrawIndexedIndirectCount *a)
{
    const char *command = "vkCmdDrawIndexedIndirectCount";
    return records_within(ctx, command, "counts", a->countBuffer_object, a->countBufferOffset, 1,
                          0, sizeof(uint32_t)) &&
           records_within(ctx, command, "draws", a->buffer_object, a->offset, a->maxDrawCount,
                          a->stride, sizeof(VkDrawIndexedIndirectCommand));
}

bool pv_check_vkCmdDrawIndirectByteCountEXT(struct pv_context *ctx,
                                            const struct pv_args_vkCmdDrawIndirectByteCountEXT *a)
{
    return records_within(ctx, "vkCmdDrawIndirectByteCountEXT", "counters",
                          a->counterBuffer_object, a->counterBufferOffset, 1, 0,
                          sizeof(uint32_t));
}
