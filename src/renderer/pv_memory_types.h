/* The memory types the guest sees. Host-visible memory reaches the guest only as host pages
 * imported into the host driver (pv_memory.c), and some drivers cannot import into every
 * host-visible type: NVIDIA's device-local host-visible type (the BAR window) takes no host
 * pages. Such a type is offered as device-local only. It still allocates (on the host,
 * unshared), heaps and indices stay as the host has them, and an application that needs to
 * map picks another host-visible type, as it would on a GPU without a mappable VRAM window. */
#ifndef PV_MEMORY_TYPES_H
#define PV_MEMORY_TYPES_H

#include <stdint.h>
#include <vulkan/vulkan.h>

/* What makes a type mappable by the guest. */
#define PV_HOST_ACCESS_FLAGS                                                                    \
    (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |                \
     VK_MEMORY_PROPERTY_HOST_CACHED_BIT)

/* Rewrites host properties into the guest's: each host-visible type whose bit is clear in
 * shareable, or that is not host-coherent, loses its host access (the host implements no
 * flush or invalidate: every mappable type the guest sees is coherent). Returns the types so
 * changed. */
uint32_t pv_memory_types_for_guest(VkPhysicalDeviceMemoryProperties *props, uint32_t shareable);

#endif
