/* Pipeline layouts and push constants. A host driver copies push constants into a block of
 * the device's maxPushConstantsSize at the guest's offset; an offset or size past it is a write
 * past that block. Layouts record the end of their push constant ranges (checked against the
 * limit at creation), and every push is checked against its layout's end. */
#include "pv_device.h"

void pv_handle_vkCreatePipelineLayout(struct pv_context *ctx,
                                      struct pv_args_vkCreatePipelineLayout *a)
{
    struct pv_device *device = a->device_object->device;
    const VkPipelineLayoutCreateInfo *info = a->pCreateInfo;
    const uint32_t limit = device->physical_device->properties.limits.maxPushConstantsSize;
    uint64_t end = 0;
    for (uint32_t i = 0; i < info->pushConstantRangeCount; i++) {
        const VkPushConstantRange *range = &info->pPushConstantRanges[i];
        const uint64_t range_end = (uint64_t)range->offset + range->size;
        if (range_end > limit) {
            pv_context_set_fatal(ctx, "vkCreatePipelineLayout: push constant range %u ends at "
                                 "byte %llu, past the device's %u", i,
                                 (unsigned long long)range_end, limit);
            return;
        }
        end = range_end > end ? range_end : end;
    }
    a->ret = device->dispatch.vkCreatePipelineLayout(a->device, info, NULL, a->pPipelineLayout);
    if (a->ret != VK_SUCCESS)
        return;
    struct pv_object *layout = pv_context_bind_object(ctx, a->device_object,
                                                      VK_OBJECT_TYPE_PIPELINE_LAYOUT,
                                                      a->pPipelineLayout_id,
                                                      (uint64_t)*a->pPipelineLayout);
    if (layout)
        layout->size = end;
}

/* Whether [offset, offset + size) lies in the layout's ranges (their end; the device's limit
 * without a layout). */
static bool push_within(struct pv_context *ctx, const char *command, const struct pv_object *cmd,
                        const struct pv_object *layout, uint32_t offset, uint32_t size)
{
    const uint64_t end = layout ? layout->size
                                : cmd->device->physical_device->properties.limits
                                      .maxPushConstantsSize;
    if ((uint64_t)offset + size > end) {
        pv_context_set_fatal(ctx, "%s: push constants %u+%u reach past byte %llu of %s", command,
                             offset, size, (unsigned long long)end,
                             layout ? "the layout's ranges" : "the device's limit");
        return false;
    }
    return true;
}

bool pv_check_vkCmdPushConstants(struct pv_context *ctx,
                                 const struct pv_args_vkCmdPushConstants *a)
{
    return push_within(ctx, "vkCmdPushConstants", a->commandBuffer_object, a->layout_object,
                       a->offset, a->size);
}

bool pv_check_vkCmdPushConstants2(struct pv_context *ctx,
                                  const struct pv_args_vkCmdPushConstants2 *a)
{
    const VkPushConstantsInfo *info = a->pPushConstantsInfo;
    const struct pv_object *layout =
        info->layout ? pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_PIPELINE_LAYOUT,
                                                    (uint64_t)info->layout)
                     : NULL;
    return push_within(ctx, "vkCmdPushConstants2", a->commandBuffer_object, layout, info->offset,
                       info->size);
}
