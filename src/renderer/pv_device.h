/* Devices and their queues. */
#ifndef PV_DEVICE_H
#define PV_DEVICE_H

#include "pv_instance.h"

struct pv_queue {
    struct pv_object base;
    VkQueue handle;
    uint32_t family;
    uint32_t index;
    VkDeviceQueueCreateFlags flags;
    /* The transport timeline the guest bound the queue to (VkDeviceQueueTimelineInfoMESA);
     * 0: none. */
    uint32_t ring_idx;
    struct pv_queue *next;
};

struct pv_device {
    struct pv_object base;
    VkDevice handle;
    struct pv_physical_device *physical_device;
    struct pv_device_dispatch dispatch;
    struct pv_queue *queues;
    struct pv_device *next;

    VkPhysicalDeviceMemoryProperties memory_properties;
    /* VK_EXT_external_memory_host: how host-visible memory is shared; 0 when the host lacks it. */
    VkDeviceSize host_pointer_alignment;
    PFN_vkGetMemoryHostPointerPropertiesEXT get_memory_host_pointer_properties;

    /* The queues the guest created it with (family, flags, count; pQueuePriorities NULL):
     * the only ones vkGetDeviceQueue(2) may name. */
    VkDeviceQueueCreateInfo *queue_infos;
    uint32_t queue_info_count;

    /* Channels waiting on the device with the context unlocked (pv_sync.c); destruction waits
     * until they have let go. */
    uint32_t waiters;
    bool destroying;
    /* Fences of waits cut short, destroyed once the device is idle. */
    VkFence *kept_fences;
    uint32_t kept_fence_count;
};

/* Checks what the guest asks of vkCreateDevice (pv_device_request.c): VK_SUCCESS, a Vulkan
 * error to answer with, or VK_ERROR_INITIALIZATION_FAILED with the context fatal. */
VkResult pv_device_request_check(struct pv_context *ctx, struct pv_physical_device *pd,
                                 const VkDeviceCreateInfo *info);
/* Whether the device was created with queue index of family, created with flags. */
bool pv_device_queue_created(const struct pv_device *device, uint32_t family, uint32_t index,
                             VkDeviceQueueCreateFlags flags);

/* Destroys the device with its queues (and, later, every object made from it). */
void pv_device_destroy(struct pv_context *ctx, struct pv_device *device);

/* Sets every event and signals every timeline semaphore of the device as far as the driver
 * allows, so that no queue still waits on what a departed guest would never signal. */
void pv_device_release_waiters(struct pv_context *ctx, struct pv_device *device);

/* Waits, with the context unlocked, until the work submitted so far to one queue of the device
 * (or to each of them, only = NULL) has completed. Under ctx->mutex. */
VkResult pv_queue_wait_idle(struct pv_context *ctx, struct pv_device *device,
                            struct pv_queue *only, uint64_t timeout_ns);
void pv_device_keep_fence(struct pv_device *device, VkFence fence);
/* Waits like pv_queue_wait_idle for every queue, and returns VK_SUCCESS only with the context
 * locked and the device still idle: a host driver call that waits for the device itself then
 * cannot block. VK_TIMEOUT when the wait was cut short (teardown, a fatal context, the device
 * being destroyed, the transport's bound on guest waits), or the error of the host driver.
 * Under ctx->mutex. */
VkResult pv_device_drain(struct pv_context *ctx, struct pv_device *device);
/* The timeout a guest's wait command gets: its own, cut to the transport's bound
 * (pv_renderer_options.max_transport_wait_ns) when it runs on the transport's channel. */
uint64_t pv_guest_wait_timeout(struct pv_context *ctx, uint64_t timeout_ns);
/* Waits until the channels waiting on the device have let go of it. Under ctx->mutex. */
void pv_device_wait_unused(struct pv_context *ctx, struct pv_device *device);

#endif
