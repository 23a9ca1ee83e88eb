/* What the guest learns about a physical device beyond plain passthrough: which device
 * extensions it may use, the sync-file semaphores this host emulates, and the memory types it
 * can share (pv_memory_types.h).
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
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_device.h"
#include "pv_log.h"
#include "pv_memory_types.h"

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

bool pv_physical_device_offers(struct pv_physical_device *pd, const char *name)
{
    if (load_extensions(pd) != VK_SUCCESS)
        return false;
    for (uint32_t i = 0; i < pd->extension_count; i++) {
        if (strcmp(pd->extensions[i].extensionName, name) == 0)
            return true;
    }
    return false;
}

bool pv_physical_device_has_extension(struct pv_physical_device *pd, const char *name)
{
    struct pv_instance *instance = pd->base.instance;
    uint32_t count = 0;
    if (instance->dispatch.vkEnumerateDeviceExtensionProperties(pd->handle, NULL, &count, NULL) !=
            VK_SUCCESS || !count)
        return false;
    VkExtensionProperties *props = calloc(count, sizeof(*props));
    if (!props)
        return false;
    bool found = false;
    if (instance->dispatch.vkEnumerateDeviceExtensionProperties(pd->handle, NULL, &count, props) >=
        VK_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(props[i].extensionName, name) == 0;
    }
    free(props);
    return found;
}

/* -- memory types ----------------------------------------------------------------------- */

/* The alignment host-memory imports need, or 0 when the host cannot import at all. */
static VkDeviceSize host_pointer_alignment(struct pv_physical_device *pd)
{
    if (!pv_physical_device_has_extension(pd, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME))
        return 0;
    VkPhysicalDeviceExternalMemoryHostPropertiesEXT host_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT,
    };
    VkPhysicalDeviceProperties2 props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &host_props,
    };
    pd->base.instance->dispatch.vkGetPhysicalDeviceProperties2(pd->handle, &props);
    VkDeviceSize align = host_props.minImportedHostPointerAlignment;
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0 && align < (VkDeviceSize)page)
        align = (VkDeviceSize)page;   /* the guest maps whole pages */
    return align && !(align & (align - 1)) ? align : 0;
}

/* The memory types that take the very pages guest memory is made of (a shared memfd mapping,
 * as pv_memory.c makes them), asked of a short-lived device: the query is a device command,
 * and the guest asks before it creates one. Returns all ones when the question cannot be put,
 * so that nothing is taken away on a guess. */
static uint32_t shareable_memory_types(struct pv_physical_device *pd, VkDeviceSize align)
{
    struct pv_instance *instance = pd->base.instance;
    const float priority = 1.0f;
    const VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = 0,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    const char *extension = VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME;
    const VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = 1,
        .ppEnabledExtensionNames = &extension,
    };
    PFN_vkGetDeviceProcAddr gdpa =
        (PFN_vkGetDeviceProcAddr)vkGetInstanceProcAddr(instance->handle, "vkGetDeviceProcAddr");
    VkDevice device;
    if (!gdpa || instance->dispatch.vkCreateDevice(pd->handle, &info, NULL, &device) != VK_SUCCESS)
        return ~0u;
    PFN_vkGetMemoryHostPointerPropertiesEXT get_props =
        (PFN_vkGetMemoryHostPointerPropertiesEXT)gdpa(device, "vkGetMemoryHostPointerPropertiesEXT");
    PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)gdpa(device, "vkDestroyDevice");
    uint32_t bits = ~0u;
    int fd = memfd_create("pvgpu-probe", MFD_CLOEXEC);
    void *map = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)align) == 0)
        map = mmap(NULL, align, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED && get_props) {
        VkMemoryHostPointerPropertiesEXT props = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT,
        };
        bits = get_props(device, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, map,
                         &props) == VK_SUCCESS ? props.memoryTypeBits : 0;
    }
    if (map != MAP_FAILED)
        munmap(map, align);
    if (fd >= 0)
        close(fd);
    if (destroy)
        destroy(device, NULL);
    return bits;
}

const VkPhysicalDeviceMemoryProperties *pv_physical_device_memory(struct pv_context *ctx,
                                                                   struct pv_physical_device *pd)
{
    if (pd->memory_loaded)
        return &pd->memory;
    pd->base.instance->dispatch.vkGetPhysicalDeviceMemoryProperties(pd->handle, &pd->memory);
    pd->host_pointer_alignment = host_pointer_alignment(pd);
    uint32_t shareable = pd->host_pointer_alignment
                             ? shareable_memory_types(pd, pd->host_pointer_alignment) : 0;
    uint32_t changed = pv_memory_types_for_guest(&pd->memory, shareable);
    for (uint32_t i = 0; i < VK_MAX_MEMORY_TYPES; i++) {
        if (changed >> i & 1)
            pv_log("context %u (%s): memory type %u cannot take shared host memory: the guest "
                   "sees it as device memory only", ctx->id, ctx->name, i);
    }
    pd->memory_loaded = true;
    return &pd->memory;
}

void pv_handle_vkGetPhysicalDeviceMemoryProperties(
    struct pv_context *ctx, struct pv_args_vkGetPhysicalDeviceMemoryProperties *a)
{
    struct pv_physical_device *pd = (struct pv_physical_device *)a->physicalDevice_object;
    if (!a->pMemoryProperties) {
        pv_context_set_fatal(ctx, "vkGetPhysicalDeviceMemoryProperties: no properties to fill");
        return;
    }
    *a->pMemoryProperties = *pv_physical_device_memory(ctx, pd);
}

/* The host fills the chain (budgets, say); the types are the guest's. */
void pv_handle_vkGetPhysicalDeviceMemoryProperties2(
    struct pv_context *ctx, struct pv_args_vkGetPhysicalDeviceMemoryProperties2 *a)
{
    struct pv_physical_device *pd = (struct pv_physical_device *)a->physicalDevice_object;
    if (!a->pMemoryProperties) {
        pv_context_set_fatal(ctx, "vkGetPhysicalDeviceMemoryProperties2: no properties to fill");
        return;
    }
    pd->base.instance->dispatch.vkGetPhysicalDeviceMemoryProperties2(pd->handle,
                                                                     a->pMemoryProperties);
    a->pMemoryProperties->memoryProperties = *pv_physical_device_memory(ctx, pd);
}
