/* What the guest learns about a physical device beyond plain passthrough: which device
 * extensions it may use, and the sync-file semaphores this host emulates.
 *
 * The guest driver exposes every extension the host enumerates that its own encoder knows, and
 * then sends that extension's commands: the host enumerates only the extensions it serves
 * (pv_served_device_extensions, from the generator). Current guests also gate
 * VK_KHR_synchronization2, and with it Vulkan 1.3, on sync-file semaphore import (the driver
 * keeps imported sync files to itself and has the host semaphore signalled or waited on with
 * vkImportSemaphoreResourceMESA and vkWaitSemaphoreResourceMESA). Those two need no sync files on
 * the host: they are a queue submission that signals or waits (pv_sync.c). So every host
 * offers VK_KHR_external_semaphore_fd with importable and exportable binary sync files, and
 * none of it reaches the host driver. */
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"

static int compare_name(const void *key, const void *element)
{
    return strcmp(key, *(const char *const *)element);
}

static bool served(const char *name)
{
    return bsearch(name, pv_served_device_extensions, PV_SERVED_DEVICE_EXTENSION_COUNT,
                   sizeof(*pv_served_device_extensions), compare_name) != NULL;
}

bool pv_emulated_device_extension(const char *name)
{
    return strcmp(name, VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME) == 0;
}

/* The served host extensions plus the emulated ones, once per physical device. */
static VkResult load_extensions(struct pv_physical_device *pd)
{
    if (pd->extensions)
        return VK_SUCCESS;
    struct pv_instance *instance = pd->base.instance;
    uint32_t count = 0;
    VkResult r = instance->dispatch.vkEnumerateDeviceExtensionProperties(pd->handle, NULL, &count,
                                                                          NULL);
    if (r != VK_SUCCESS)
        return r;
    VkExtensionProperties *host = calloc(count + 1, sizeof(*host));
    if (!host)
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    r = instance->dispatch.vkEnumerateDeviceExtensionProperties(pd->handle, NULL, &count, host);
    if (r < VK_SUCCESS) {
        free(host);
        return r;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (served(host[i].extensionName) && !pv_emulated_device_extension(host[i].extensionName))
            host[kept++] = host[i];
    }
    host[kept++] = (VkExtensionProperties){
        .extensionName = VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME,
        .specVersion = VK_KHR_EXTERNAL_SEMAPHORE_FD_SPEC_VERSION,
    };
    pd->extensions = host;
    pd->extension_count = kept;
    return VK_SUCCESS;
}

void pv_handle_vkEnumerateDeviceExtensionProperties(
    struct pv_context *ctx, struct pv_args_vkEnumerateDeviceExtensionProperties *a)
{
    struct pv_physical_device *pd = (struct pv_physical_device *)a->physicalDevice_object;
    if (!a->pPropertyCount) {
        pv_context_set_fatal(ctx, "vkEnumerateDeviceExtensionProperties: no count");
        return;
    }
    if (a->pLayerName) {
        /* Host layers are not the guest's (vkEnumerateDeviceLayerProperties lists none). */
        a->ret = VK_ERROR_LAYER_NOT_PRESENT;
        return;
    }
    a->ret = load_extensions(pd);
    if (a->ret != VK_SUCCESS)
        return;
    if (!a->pProperties) {
        *a->pPropertyCount = pd->extension_count;
        return;
    }
    uint32_t n = *a->pPropertyCount < pd->extension_count ? *a->pPropertyCount
                                                           : pd->extension_count;
    memcpy(a->pProperties, pd->extensions, n * sizeof(*a->pProperties));
    *a->pPropertyCount = n;
    a->ret = n < pd->extension_count ? VK_INCOMPLETE : VK_SUCCESS;
}

void pv_handle_vkGetPhysicalDeviceExternalSemaphoreProperties(
    struct pv_context *ctx, struct pv_args_vkGetPhysicalDeviceExternalSemaphoreProperties *a)
{
    struct pv_physical_device *pd = (struct pv_physical_device *)a->physicalDevice_object;
    const VkPhysicalDeviceExternalSemaphoreInfo *info = a->pExternalSemaphoreInfo;
    VkExternalSemaphoreProperties *props = a->pExternalSemaphoreProperties;
    if (info->handleType != VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT) {
        pd->base.instance->dispatch.vkGetPhysicalDeviceExternalSemaphoreProperties(pd->handle,
                                                                                   info, props);
        return;
    }
    bool timeline = false;
    for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO)
            timeline = ((const VkSemaphoreTypeCreateInfo *)s)->semaphoreType ==
                       VK_SEMAPHORE_TYPE_TIMELINE;
    }
    /* Sync files carry binary payloads only. */
    VkExternalSemaphoreHandleTypeFlags types =
        timeline ? 0 : VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    props->exportFromImportedHandleTypes = types;
    props->compatibleHandleTypes = types;
    props->externalSemaphoreFeatures =
        timeline ? 0
                 : VK_EXTERNAL_SEMAPHORE_FEATURE_EXPORTABLE_BIT |
                       VK_EXTERNAL_SEMAPHORE_FEATURE_IMPORTABLE_BIT;
}
