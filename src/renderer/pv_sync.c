/* Semaphores and events: which semaphores are timelines (the host driver trusts the caller to
 * know, and a timeline command on a binary semaphore is undefined behaviour there), and the
 * release of everything a dead guest left its queues waiting for. */
#include <stdlib.h>

#include "pv_device.h"

void pv_handle_vkCreateSemaphore(struct pv_context *ctx, struct pv_args_vkCreateSemaphore *a)
{
    struct pv_device *device = a->device_object->device;
    a->ret = device->dispatch.vkCreateSemaphore(a->device, a->pCreateInfo, NULL, a->pSemaphore);
    if (a->ret != VK_SUCCESS)
        return;
    struct pv_object *semaphore = pv_context_bind_object(ctx, a->device_object,
                                                         VK_OBJECT_TYPE_SEMAPHORE,
                                                         a->pSemaphore_id,
                                                         (uint64_t)*a->pSemaphore);
    for (const VkBaseInStructure *s = a->pCreateInfo->pNext; semaphore && s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO &&
            ((const VkSemaphoreTypeCreateInfo *)s)->semaphoreType == VK_SEMAPHORE_TYPE_TIMELINE)
            semaphore->timeline = true;
    }
}

/* Whether obj is a timeline semaphore; else the context is fatal. */
static bool is_timeline(struct pv_context *ctx, const struct pv_object *obj, const char *command)
{
    if (obj && obj->timeline)
        return true;
    pv_context_set_fatal(ctx, "%s: the semaphore is not a timeline semaphore", command);
    return false;
}

/* The same for a semaphore named inside a struct, which the decoder leaves as a host handle. */
static bool handle_is_timeline(struct pv_context *ctx, VkSemaphore handle, const char *command)
{
    return is_timeline(ctx, pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_SEMAPHORE,
                                                         (uint64_t)handle), command);
}

/* The timeline entry points may come from VK_KHR_timeline_semaphore on a 1.1 device; a guest
 * can name them without enabling either. */
static bool have(struct pv_context *ctx, const void *fn, const char *command)
{
    if (!fn)
        pv_context_set_fatal(ctx, "%s: the host driver does not provide it", command);
    return fn != NULL;
}

void pv_handle_vkGetSemaphoreCounterValue(struct pv_context *ctx,
                                          struct pv_args_vkGetSemaphoreCounterValue *a)
{
    struct pv_device *device = a->device_object->device;
    if (have(ctx, device->dispatch.vkGetSemaphoreCounterValue, "vkGetSemaphoreCounterValue") &&
        is_timeline(ctx, a->semaphore_object, "vkGetSemaphoreCounterValue"))
        a->ret = device->dispatch.vkGetSemaphoreCounterValue(a->device, a->semaphore, a->pValue);
}

void pv_handle_vkWaitSemaphores(struct pv_context *ctx, struct pv_args_vkWaitSemaphores *a)
{
    struct pv_device *device = a->device_object->device;
    if (!have(ctx, device->dispatch.vkWaitSemaphores, "vkWaitSemaphores"))
        return;
    for (uint32_t i = 0; i < a->pWaitInfo->semaphoreCount; i++) {
        if (!handle_is_timeline(ctx, a->pWaitInfo->pSemaphores[i], "vkWaitSemaphores"))
            return;
    }
    a->ret = device->dispatch.vkWaitSemaphores(a->device, a->pWaitInfo, a->timeout);
}

void pv_handle_vkSignalSemaphore(struct pv_context *ctx, struct pv_args_vkSignalSemaphore *a)
{
    struct pv_device *device = a->device_object->device;
    if (have(ctx, device->dispatch.vkSignalSemaphore, "vkSignalSemaphore") &&
        handle_is_timeline(ctx, a->pSignalInfo->semaphore, "vkSignalSemaphore"))
        a->ret = device->dispatch.vkSignalSemaphore(a->device, a->pSignalInfo);
}

struct waiter_sweep {
    struct pv_device *device;
    uint64_t max_difference;
};

static void release_one(struct pv_object *obj, void *data)
{
    struct waiter_sweep *sweep = data;
    struct pv_device *device = sweep->device;
    if (obj->device != device)
        return;
    if (obj->type == VK_OBJECT_TYPE_EVENT) {
        /* vkCmdWaitEvents on an event only the host could set. */
        device->dispatch.vkSetEvent(device->handle, (VkEvent)obj->handle);
    } else if (obj->type == VK_OBJECT_TYPE_SEMAPHORE && obj->timeline &&
               device->dispatch.vkGetSemaphoreCounterValue && device->dispatch.vkSignalSemaphore) {
        /* The highest value the driver must accept: every valid wait is at most that far on. */
        uint64_t value = 0;
        device->dispatch.vkGetSemaphoreCounterValue(device->handle, (VkSemaphore)obj->handle,
                                                    &value);
        uint64_t target = value > UINT64_MAX - sweep->max_difference
                              ? UINT64_MAX : value + sweep->max_difference;
        if (target == value)
            return;
        const VkSemaphoreSignalInfo signal = {
            .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO,
            .semaphore = (VkSemaphore)obj->handle,
            .value = target,
        };
        device->dispatch.vkSignalSemaphore(device->handle, &signal);
    }
}

void pv_device_release_waiters(struct pv_context *ctx, struct pv_device *device)
{
    VkPhysicalDeviceTimelineSemaphoreProperties timeline = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &timeline,
    };
    device->base.instance->dispatch.vkGetPhysicalDeviceProperties2(device->physical_device->handle,
                                                                   &props);
    struct waiter_sweep sweep = {
        .device = device,
        .max_difference = timeline.maxTimelineSemaphoreValueDifference,
    };
    pv_object_table_foreach(&ctx->objects, release_one, &sweep);
}
