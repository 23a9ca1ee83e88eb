/* Buffers. Any buffer may be bound to host-visible memory, which this host imports from shared
 * pages; Vulkan wants such buffers created for that handle type, so the host says so at every
 * creation and requirements query (when the host driver supports it for the buffer). */
#include <stdlib.h>

#include "pv_device.h"
#include "pv_log.h"

/* Prepends VkExternalMemoryBufferCreateInfo for host allocations to info's chain, in *out. */
static void with_host_import(struct pv_device *device, const VkBufferCreateInfo *info,
                             VkBufferCreateInfo *out, VkExternalMemoryBufferCreateInfo *external)
{
    *out = *info;
    if (!device->host_pointer_alignment ||
        pv_chain_has(info->pNext, VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO))
        return;
    const VkPhysicalDeviceExternalBufferInfo query = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO,
        .flags = info->flags,
        .usage = info->usage,
        .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
    };
    VkExternalBufferProperties props = { .sType = VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES };
    struct pv_instance *instance = device->base.instance;
    instance->dispatch.vkGetPhysicalDeviceExternalBufferProperties(
        device->physical_device->handle, &query, &props);
    if (!(props.externalMemoryProperties.externalMemoryFeatures &
          VK_EXTERNAL_MEMORY_FEATURE_IMPORTABLE_BIT))
        return;
    *external = (VkExternalMemoryBufferCreateInfo){
        .sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO,
        .pNext = info->pNext,
        .handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
    };
    out->pNext = external;
}

void pv_handle_vkCreateBuffer(struct pv_context *ctx, struct pv_args_vkCreateBuffer *a)
{
    struct pv_device *device = a->device_object->device;
    VkBufferCreateInfo info;
    VkExternalMemoryBufferCreateInfo external;
    with_host_import(device, a->pCreateInfo, &info, &external);
    a->ret = device->dispatch.vkCreateBuffer(a->device, &info, NULL, a->pBuffer);
    if (a->ret != VK_SUCCESS)
        return;
    struct pv_object *buffer = pv_context_bind_object(ctx, a->device_object,
                                                      VK_OBJECT_TYPE_BUFFER, a->pBuffer_id,
                                                      (uint64_t)*a->pBuffer);
    if (buffer)
        buffer->size = info.size;
}

void pv_handle_vkGetDeviceBufferMemoryRequirements(
    struct pv_context *ctx, struct pv_args_vkGetDeviceBufferMemoryRequirements *a)
{
    struct pv_device *device = a->device_object->device;
    if (!device->dispatch.vkGetDeviceBufferMemoryRequirements) {
        pv_context_set_fatal(ctx, "vkGetDeviceBufferMemoryRequirements: the host driver does not "
                             "provide it");
        return;
    }
    /* The answer must be the one a created buffer gets, so the query sees the same chain. */
    VkBufferCreateInfo info;
    VkExternalMemoryBufferCreateInfo external;
    with_host_import(device, a->pInfo->pCreateInfo, &info, &external);
    VkDeviceBufferMemoryRequirements query = *a->pInfo;
    query.pCreateInfo = &info;
    device->dispatch.vkGetDeviceBufferMemoryRequirements(a->device, &query, a->pMemoryRequirements);
}
