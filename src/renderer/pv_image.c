/* Images. Like buffers (pv_buffer.c), an image may end up in host-visible memory imported from
 * shared pages, so the host declares that handle type where the host driver supports it for the
 * image's format, type, tiling and usage. */
#include <stdlib.h>

#include "pv_image.h"
#include "pv_log.h"

static void with_host_import(struct pv_device *device, const VkImageCreateInfo *info,
                             VkImageCreateInfo *out, VkExternalMemoryImageCreateInfo *external)
{
    *out = *info;
    if (!device->host_pointer_alignment ||
        pv_chain_has(info->pNext, VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO) ||
        info->tiling == VK_IMAGE_TILING_DRM_FORMAT_MODIFIER_EXT)
        return;
    VkPhysicalDeviceExternalImageFormatInfo external_query = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO,
        .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
    };
    const VkPhysicalDeviceImageFormatInfo2 query = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2,
        .pNext = &external_query,
        .format = info->format,
        .type = info->imageType,
        .tiling = info->tiling,
        .usage = info->usage,
        .flags = info->flags,
    };
    VkExternalImageFormatProperties external_props = {
        .sType = VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES,
    };
    VkImageFormatProperties2 props = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2,
        .pNext = &external_props,
    };
    struct pv_instance *instance = device->base.instance;
    if (instance->dispatch.vkGetPhysicalDeviceImageFormatProperties2(
            device->physical_device->handle, &query, &props) != VK_SUCCESS)
        return;
    if (!(external_props.externalMemoryProperties.externalMemoryFeatures &
          VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT))
        return;
    *external = (VkExternalMemoryImageCreateInfo){
        .sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO,
        .pNext = info->pNext,
        .handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
    };
    out->pNext = external;
}

void pv_handle_vkCreateImage(struct pv_context *ctx, struct pv_args_vkCreateImage *a)
{
    struct pv_device *device = a->device_object->device;
    VkImageCreateInfo info;
    VkExternalMemoryImageCreateInfo external;
    with_host_import(device, a->pCreateInfo, &info, &external);
    a->ret = device->dispatch.vkCreateImage(a->device, &info, NULL, a->pImage);
    if (a->ret != VK_SUCCESS)
        return;
    struct pv_image *image = (struct pv_image *)pv_context_bind_object_of(
        ctx, a->device_object, VK_OBJECT_TYPE_IMAGE, a->pImage_id, (uint64_t)*a->pImage,
        sizeof(struct pv_image));
    if (image) {
        /* what copies, blits and resolves are checked against (pv_image_copy.c) */
        image->type = info.imageType;
        image->format = info.format;
        image->extent = info.extent;
        image->mip_levels = info.mipLevels;
        image->array_layers = info.arrayLayers;
        image->flags = info.flags;
    }
}

void pv_handle_vkGetDeviceImageMemoryRequirements(
    struct pv_context *ctx, struct pv_args_vkGetDeviceImageMemoryRequirements *a)
{
    struct pv_device *device = a->device_object->device;
    if (!device->dispatch.vkGetDeviceImageMemoryRequirements) {
        pv_context_set_fatal(ctx, "vkGetDeviceImageMemoryRequirements: the host driver does not "
                             "provide it");
        return;
    }
    VkImageCreateInfo info;
    VkExternalMemoryImageCreateInfo external;
    with_host_import(device, a->pInfo->pCreateInfo, &info, &external);
    VkDeviceImageMemoryRequirements query = *a->pInfo;
    query.pCreateInfo = &info;
    device->dispatch.vkGetDeviceImageMemoryRequirements(a->device, &query, a->pMemoryRequirements);
}

/* The layout of an image not yet created: asked of the image the host would create. */
void pv_handle_vkGetDeviceImageSubresourceLayoutKHR(
    struct pv_context *ctx, struct pv_args_vkGetDeviceImageSubresourceLayoutKHR *a)
{
    struct pv_device *device = a->device_object->device;
    if (!device->dispatch.vkGetDeviceImageSubresourceLayoutKHR) {
        pv_context_set_fatal(ctx, "vkGetDeviceImageSubresourceLayoutKHR: the host driver does not "
                             "provide it");
        return;
    }
    VkImageCreateInfo info;
    VkExternalMemoryImageCreateInfo external;
    with_host_import(device, a->pInfo->pCreateInfo, &info, &external);
    VkDeviceImageSubresourceInfo query = *a->pInfo;
    query.pCreateInfo = &info;
    device->dispatch.vkGetDeviceImageSubresourceLayoutKHR(a->device, &query, a->pLayout);
}
