/* Binding buffers and images to memory. Every range check on a buffer (transfers, descriptors,
 * indirect arguments) is a check against the buffer's size; it only protects the host if the
 * buffer's storage lies inside its memory. A host driver takes the offset it is given and
 * addresses the memory from there, so a buffer bound near the end of a small allocation would
 * reach past it. The host asks the driver for the resource's requirements and checks the
 * offset, its alignment and the size against the allocation before binding. */
#include "pv_image.h"

static const struct pv_object *memory_of(struct pv_context *ctx, VkDeviceMemory handle)
{
    return pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_DEVICE_MEMORY, (uint64_t)handle);
}

/* Whether size bytes at offset, aligned as asked, lie in memory; else the context is fatal. */
static bool fits(struct pv_context *ctx, const char *command, uint32_t index,
                 const struct pv_object *resource, const struct pv_object *memory,
                 VkDeviceSize offset, const VkMemoryRequirements *req)
{
    if (!memory) {
        pv_context_set_fatal(ctx, "%s: bind %u of %s 0x%llx names no memory this host allocated",
                             command, index, pv_object_type_name(resource->type),
                             (unsigned long long)resource->id);
        return false;
    }
    if ((req->alignment && offset % req->alignment) || offset > memory->size ||
        req->size > memory->size - offset) {
        pv_context_set_fatal(ctx, "%s: bind %u puts %llu bytes of %s 0x%llx at offset %llu "
                             "(alignment %llu) of memory 0x%llx of %llu bytes", command, index,
                             (unsigned long long)req->size, pv_object_type_name(resource->type),
                             (unsigned long long)resource->id, (unsigned long long)offset,
                             (unsigned long long)req->alignment, (unsigned long long)memory->id,
                             (unsigned long long)memory->size);
        return false;
    }
    return true;
}

static bool buffer_fits(struct pv_context *ctx, const char *command, uint32_t index,
                        const struct pv_object *buffer, const struct pv_object *memory,
                        VkDeviceSize offset)
{
    struct pv_device *device = buffer->device;
    VkMemoryRequirements req;
    device->dispatch.vkGetBufferMemoryRequirements(device->handle, (VkBuffer)buffer->handle, &req);
    return fits(ctx, command, index, buffer, memory, offset, &req);
}

/* plane: the aspect of a disjoint image's plane being bound (VkBindImagePlaneMemoryInfo), or 0
 * for the whole image. */
static bool image_fits(struct pv_context *ctx, const char *command, uint32_t index,
                       const struct pv_image *image, const struct pv_object *memory,
                       VkDeviceSize offset, VkImageAspectFlagBits plane)
{
    struct pv_device *device = image->base.device;
    const VkImageAspectFlags planes = VK_IMAGE_ASPECT_PLANE_0_BIT | VK_IMAGE_ASPECT_PLANE_1_BIT |
                                      VK_IMAGE_ASPECT_PLANE_2_BIT;
    const bool disjoint = image->flags & VK_IMAGE_CREATE_DISJOINT_BIT;
    if (disjoint != (plane != 0) || (plane && (plane & ~planes || plane & (plane - 1)))) {
        pv_context_set_fatal(ctx, "%s: bind %u of image 0x%llx: plane 0x%x for an image %s "
                             "disjoint", command, index, (unsigned long long)image->base.id,
                             plane, disjoint ? "that is" : "that is not");
        return false;
    }
    VkImagePlaneMemoryRequirementsInfo plane_info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_PLANE_MEMORY_REQUIREMENTS_INFO,
        .planeAspect = plane,
    };
    const VkImageMemoryRequirementsInfo2 info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_REQUIREMENTS_INFO_2,
        .pNext = plane ? &plane_info : NULL,
        .image = (VkImage)image->base.handle,
    };
    VkMemoryRequirements2 req = { .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2 };
    if (device->dispatch.vkGetImageMemoryRequirements2)
        device->dispatch.vkGetImageMemoryRequirements2(device->handle, &info, &req);
    else
        device->dispatch.vkGetImageMemoryRequirements(device->handle, info.image,
                                                      &req.memoryRequirements);
    return fits(ctx, command, index, &image->base, memory, offset, &req.memoryRequirements);
}

bool pv_check_vkBindBufferMemory(struct pv_context *ctx,
                                 const struct pv_args_vkBindBufferMemory *a)
{
    return buffer_fits(ctx, "vkBindBufferMemory", 0, a->buffer_object, a->memory_object,
                       a->memoryOffset);
}

bool pv_check_vkBindBufferMemory2(struct pv_context *ctx,
                                  const struct pv_args_vkBindBufferMemory2 *a)
{
    for (uint32_t i = 0; i < a->bindInfoCount; i++) {
        const VkBindBufferMemoryInfo *info = &a->pBindInfos[i];
        const struct pv_object *buffer = pv_context_object_for_handle(
            ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)info->buffer);
        if (!buffer || !buffer_fits(ctx, "vkBindBufferMemory2", i, buffer,
                                    memory_of(ctx, info->memory), info->memoryOffset)) {
            if (!buffer)
                pv_context_set_fatal(ctx, "vkBindBufferMemory2: bind %u names no buffer", i);
            return false;
        }
    }
    return true;
}

bool pv_check_vkBindImageMemory(struct pv_context *ctx, const struct pv_args_vkBindImageMemory *a)
{
    return image_fits(ctx, "vkBindImageMemory", 0, (const struct pv_image *)a->image_object,
                      a->memory_object, a->memoryOffset, 0);
}

bool pv_check_vkBindImageMemory2(struct pv_context *ctx,
                                 const struct pv_args_vkBindImageMemory2 *a)
{
    for (uint32_t i = 0; i < a->bindInfoCount; i++) {
        const VkBindImageMemoryInfo *info = &a->pBindInfos[i];
        const struct pv_image *image = (const struct pv_image *)pv_context_object_for_handle(
            ctx, VK_OBJECT_TYPE_IMAGE, (uint64_t)info->image);
        VkImageAspectFlagBits plane = 0;
        for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
            if (s->sType == VK_STRUCTURE_TYPE_BIND_IMAGE_PLANE_MEMORY_INFO)
                plane = ((const VkBindImagePlaneMemoryInfo *)s)->planeAspect;
        }
        if (!image) {
            pv_context_set_fatal(ctx, "vkBindImageMemory2: bind %u names no image", i);
            return false;
        }
        if (!image_fits(ctx, "vkBindImageMemory2", i, image, memory_of(ctx, info->memory),
                        info->memoryOffset, plane))
            return false;
    }
    return true;
}
