/* Instances and physical devices of a context. */
#ifndef PV_INSTANCE_H
#define PV_INSTANCE_H

#include "pv_context.h"

struct pv_physical_device {
    struct pv_object base;
    VkPhysicalDevice handle;
    VkPhysicalDeviceProperties properties;
    /* The device extensions the guest sees (pv_physical_device.c); NULL until first asked. */
    VkExtensionProperties *extensions;
    uint32_t extension_count;
    /* The memory types and heaps the guest sees (pv_memory_types.h), once memory_loaded, and
     * the alignment of host-memory imports (0: the host cannot share memory). */
    bool memory_loaded;
    VkPhysicalDeviceMemoryProperties memory;
    VkDeviceSize host_pointer_alignment;
};

/* Whether the guest is offered a device extension (served by this host and offered by the
 * host driver, or emulated). */
bool pv_physical_device_offers(struct pv_physical_device *pd, const char *name);
/* Whether the host driver offers a device extension. */
bool pv_physical_device_has_extension(struct pv_physical_device *pd, const char *name);
/* The memory properties the guest sees, probed on first use. */
const VkPhysicalDeviceMemoryProperties *pv_physical_device_memory(struct pv_context *ctx,
                                                                   struct pv_physical_device *pd);

/* Whether this host implements a device extension itself, so that it never reaches the host
 * driver (pv_physical_device.c). */
bool pv_emulated_device_extension(const char *name);

struct pv_instance {
    struct pv_object base;
    VkInstance handle;
    uint32_t api_version;
    struct pv_instance_dispatch dispatch;
    VkDebugUtilsMessengerEXT messenger;   /* --validate only */

    /* Host physical devices in enumeration order; bound to guest ids as the guest names them. */
    uint32_t physical_device_count;
    struct pv_physical_device *physical_devices;

    struct pv_device *devices;   /* live devices of this instance */
    struct pv_instance *next;
};

/* Destroys the instance with everything below it. */
void pv_instance_destroy(struct pv_context *ctx, struct pv_instance *instance);

#endif
