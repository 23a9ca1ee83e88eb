/* What a guest may ask of vkCreateDevice: queues the physical device has, features it has and
 * extensions this host offers. Host drivers check some of this and trust the rest (a queue
 * count past the family's indexes the driver's own queue array), so the host checks it all
 * before the driver sees it. Structural errors make the context fatal; asking for a feature or
 * extension the device lacks is a plain Vulkan error, as a native driver would answer. */
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"
#include "pv_log.h"

/* Whether the physical device offers every extension named (the guest's view: served and
 * emulated ones). */
static VkResult extensions_offered(struct pv_context *ctx, struct pv_physical_device *pd,
                                   const VkDeviceCreateInfo *info)
{
    for (uint32_t i = 0; i < info->enabledExtensionCount; i++) {
        const char *name = info->ppEnabledExtensionNames[i];
        if (!name) {
            pv_context_set_fatal(ctx, "vkCreateDevice: extension name %u is missing", i);
            return VK_ERROR_INITIALIZATION_FAILED;
        }
        if (!pv_physical_device_offers(pd, name)) {
            pv_log("context %u (%s): vkCreateDevice: %s is not offered", ctx->id, ctx->name,
                   name);
            return VK_ERROR_EXTENSION_NOT_PRESENT;
        }
    }
    return VK_SUCCESS;
}

/* Whether every core feature asked for (pEnabledFeatures or VkPhysicalDeviceFeatures2) is one
 * the host driver reports. Other feature structs are left to the host driver, whose common
 * runtime compares each of them. */
static VkResult features_present(struct pv_context *ctx, struct pv_physical_device *pd,
                                 const VkDeviceCreateInfo *info)
{
    const VkPhysicalDeviceFeatures *asked = info->pEnabledFeatures;
    for (const VkBaseInStructure *s = info->pNext; s && !asked; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2)
            asked = &((const VkPhysicalDeviceFeatures2 *)s)->features;
    }
    if (!asked)
        return VK_SUCCESS;
    VkPhysicalDeviceFeatures host;
    pd->base.instance->dispatch.vkGetPhysicalDeviceFeatures(pd->handle, &host);
    const VkBool32 *want = (const VkBool32 *)asked, *have = (const VkBool32 *)&host;
    for (size_t i = 0; i < sizeof(host) / sizeof(VkBool32); i++) {
        if (want[i] && !have[i]) {
            pv_log("context %u (%s): vkCreateDevice: core feature %zu is not present", ctx->id,
                   ctx->name, i);
            return VK_ERROR_FEATURE_NOT_PRESENT;
        }
    }
    return VK_SUCCESS;
}

/* Whether each queue create info names a family the device has, 1 to the family's count of
 * queues, and no family twice with the same flags. */
static bool queues_exist(struct pv_context *ctx, struct pv_physical_device *pd,
                         const VkDeviceCreateInfo *info)
{
    uint32_t count = 0;
    pd->base.instance->dispatch.vkGetPhysicalDeviceQueueFamilyProperties(pd->handle, &count,
                                                                          NULL);
    VkQueueFamilyProperties *families = calloc(count ? count : 1, sizeof(*families));
    if (!families) {
        pv_context_set_fatal(ctx, "vkCreateDevice: out of memory");
        return false;
    }
    pd->base.instance->dispatch.vkGetPhysicalDeviceQueueFamilyProperties(pd->handle, &count,
                                                                          families);
    bool ok = true;
    for (uint32_t i = 0; i < info->queueCreateInfoCount && ok; i++) {
        const VkDeviceQueueCreateInfo *q = &info->pQueueCreateInfos[i];
        if (q->queueFamilyIndex >= count || !q->queueCount ||
            q->queueCount > families[q->queueFamilyIndex].queueCount || !q->pQueuePriorities) {
            pv_context_set_fatal(ctx, "vkCreateDevice: queue create info %u asks for %u queues "
                                 "of family %u (the device has %u families, that one %u "
                                 "queues)", i, q->queueCount, q->queueFamilyIndex, count,
                                 q->queueFamilyIndex < count
                                     ? families[q->queueFamilyIndex].queueCount
                                     : 0);
            ok = false;
        }
        for (uint32_t j = 0; j < i && ok; j++) {
            const VkDeviceQueueCreateInfo *p = &info->pQueueCreateInfos[j];
            if (p->queueFamilyIndex == q->queueFamilyIndex && p->flags == q->flags) {
                pv_context_set_fatal(ctx, "vkCreateDevice: queue family %u is named twice",
                                     q->queueFamilyIndex);
                ok = false;
            }
        }
    }
    free(families);
    return ok;
}

VkResult pv_device_request_check(struct pv_context *ctx, struct pv_physical_device *pd,
                                 const VkDeviceCreateInfo *info)
{
    if (!queues_exist(ctx, pd, info))
        return VK_ERROR_INITIALIZATION_FAILED;
    VkResult result = extensions_offered(ctx, pd, info);
    if (result == VK_SUCCESS)
        result = features_present(ctx, pd, info);
    return result;
}

bool pv_device_queue_created(const struct pv_device *device, uint32_t family, uint32_t index,
                             VkDeviceQueueCreateFlags flags)
{
    for (uint32_t i = 0; i < device->queue_info_count; i++) {
        const VkDeviceQueueCreateInfo *q = &device->queue_infos[i];
        if (q->queueFamilyIndex == family && q->flags == flags && index < q->queueCount)
            return true;
    }
    return false;
}
