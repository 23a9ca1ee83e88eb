/* See pv_memory_types.h. Kept apart from the probing (pv_physical_device.c) so that the rule
 * is tested on memory layouts this host does not have. */
#include "pv_memory_types.h"

uint32_t pv_memory_types_for_guest(VkPhysicalDeviceMemoryProperties *props, uint32_t shareable)
{
    uint32_t changed = 0;
    for (uint32_t i = 0; i < props->memoryTypeCount && i < VK_MAX_MEMORY_TYPES; i++) {
        VkMemoryType *type = &props->memoryTypes[i];
        if (!(type->propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
            continue;
        /* A non-coherent type would need the guest's flushes and invalidations carried out on
         * the host's side of the shared pages, which this host does not do (they are no-ops). */
        if ((shareable >> i & 1) && (type->propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
            continue;
        type->propertyFlags &= ~(VkMemoryPropertyFlags)PV_HOST_ACCESS_FLAGS;
        changed |= 1u << i;
    }
    return changed;
}
