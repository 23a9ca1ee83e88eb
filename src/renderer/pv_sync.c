/* Semaphores, fences, events and waits: which semaphores are timelines (the host driver trusts
 * the caller to know, and a timeline command on a binary semaphore is undefined behaviour
 * there), host waits that leave the context unlocked, and the release of everything a dead
 * guest left its queues waiting for. */
#include <stdlib.h>

#include "pv_device.h"
#include "pv_time.h"

void pv_handle_vkCreateSemaphore(struct pv_context *ctx, struct pv_args_vkCreateSemaphore *a)
{
    struct pv_device *device = a->device_object->device;
    /* Sync-file export is this host's own business (pv_physical_device.c); other handle types
     * go to the host driver. */
    VkSemaphoreCreateInfo *info = (VkSemaphoreCreateInfo *)a->pCreateInfo;
    for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO)
            ((VkExportSemaphoreCreateInfo *)s)->handleTypes &=
                ~(VkExternalSemaphoreHandleTypeFlags)VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT;
    }
    for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO &&
            !((const VkExportSemaphoreCreateInfo *)s)->handleTypes) {
            pv_chain_remove(&info->pNext, VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO);
            break;
        }
    }
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

typedef VkResult (*host_wait_fn)(struct pv_device *device, const void *data, uint64_t timeout_ns);
static VkResult sliced_wait(struct pv_context *ctx, struct pv_device *device, host_wait_fn wait,
                            const void *data, uint64_t timeout_ns);
static VkResult wait_semaphores(struct pv_device *device, const void *data, uint64_t timeout_ns);

void pv_handle_vkWaitSemaphores(struct pv_context *ctx, struct pv_args_vkWaitSemaphores *a)
{
    struct pv_device *device = a->device_object->device;
    if (!have(ctx, device->dispatch.vkWaitSemaphores, "vkWaitSemaphores"))
        return;
    for (uint32_t i = 0; i < a->pWaitInfo->semaphoreCount; i++) {
        if (!handle_is_timeline(ctx, a->pWaitInfo->pSemaphores[i], "vkWaitSemaphores"))
            return;
    }
    a->ret = sliced_wait(ctx, device, wait_semaphores, a->pWaitInfo,
                         pv_guest_wait_timeout(ctx, a->timeout));
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

/* -- waits ------------------------------------------------------------------------------ */

uint64_t pv_guest_wait_timeout(struct pv_context *ctx, uint64_t timeout_ns)
{
    const uint64_t bound = ctx->options.max_transport_wait_ns;
    if (bound && ctx->channel == &ctx->transport && timeout_ns > bound)
        return bound;
    return timeout_ns;
}

/* A host wait, cut into slices so that the context is unlocked while it blocks (the guest's
 * other channels run meanwhile) and a teardown or a fatal error ends it within a slice. */

static VkResult sliced_wait(struct pv_context *ctx, struct pv_device *device, host_wait_fn wait,
                            const void *data, uint64_t timeout_ns)
{
    uint64_t start = pv_now_ns();
    device->waiters++;
    VkResult result;
    for (;;) {
        uint64_t spent = pv_now_ns() - start;
        uint64_t left = timeout_ns > spent ? timeout_ns - spent : 0;
        uint64_t slice = left < PV_CONTEXT_WAIT_SLICE_NS ? left : PV_CONTEXT_WAIT_SLICE_NS;
        struct pv_context_wait saved;
        pv_context_wait_begin(ctx, &saved);
        result = wait(device, data, slice);
        pv_context_wait_end(ctx, &saved);
        if (result != VK_TIMEOUT || left == slice || pv_context_waits_end(ctx) ||
            device->destroying)
            break;
    }
    device->waiters--;
    pthread_cond_broadcast(&ctx->progress);
    return result;
}

static bool device_unused(struct pv_context *ctx, void *data)
{
    return ((struct pv_device *)data)->waiters == 0;
}

void pv_device_wait_unused(struct pv_context *ctx, struct pv_device *device)
{
    device->destroying = true;
    /* Not pv_context_wait_for: a waiter must be waited for even while the context stops. */
    struct pv_context_wait saved = { ctx->channel, ctx->current_command };
    while (!device_unused(ctx, device))
        pthread_cond_wait(&ctx->progress, &ctx->mutex);
    ctx->channel = saved.channel;
    ctx->current_command = saved.command;
}

struct fence_wait {
    uint32_t count;
    const VkFence *fences;
    VkBool32 all;
};

static VkResult wait_fences(struct pv_device *device, const void *data, uint64_t timeout_ns)
{
    const struct fence_wait *w = data;
    return device->dispatch.vkWaitForFences(device->handle, w->count, w->fences, w->all,
                                            timeout_ns);
}

void pv_handle_vkWaitForFences(struct pv_context *ctx, struct pv_args_vkWaitForFences *a)
{
    struct pv_device *device = a->device_object->device;
    const struct fence_wait w = { a->fenceCount, a->pFences, a->waitAll };
    a->ret = sliced_wait(ctx, device, wait_fences, &w, pv_guest_wait_timeout(ctx, a->timeout));
}

static VkResult wait_semaphores(struct pv_device *device, const void *data, uint64_t timeout_ns)
{
    return device->dispatch.vkWaitSemaphores(device->handle, data, timeout_ns);
}

/* How long a queue takes to drain, as a fence submitted behind its work: unlike
 * vkQueueWaitIdle, the wait itself does not use the queue, which other channels may submit to
 * meanwhile. A device waits for each of its queues. */
VkResult pv_queue_wait_idle(struct pv_context *ctx, struct pv_device *device,
                            struct pv_queue *only, uint64_t timeout_ns)
{
    uint32_t count = 0;
    for (struct pv_queue *q = device->queues; q; q = q->next)
        count += !only || q == only;
    if (!count)
        return VK_SUCCESS;
    VkFence *fences = calloc(count, sizeof(*fences));
    if (!fences)
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    const VkFenceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkResult result = VK_SUCCESS;
    uint32_t made = 0;
    for (struct pv_queue *q = device->queues; q && result == VK_SUCCESS; q = q->next) {
        if (only && q != only)
            continue;
        result = device->dispatch.vkCreateFence(device->handle, &info, NULL, &fences[made]);
        if (result != VK_SUCCESS)
            break;
        made++;
        result = device->dispatch.vkQueueSubmit(q->handle, 0, NULL, fences[made - 1]);
    }
    if (result == VK_SUCCESS) {
        const struct fence_wait w = { made, fences, VK_TRUE };
        result = sliced_wait(ctx, device, wait_fences, &w, timeout_ns);
    }
    if (result == VK_TIMEOUT) {
        /* Cut short by a teardown or a bound: the fences may still be pending, and only an idle device
         * may destroy them (pv_device_destroy). */
        for (uint32_t i = 0; i < made; i++)
            pv_device_keep_fence(device, fences[i]);
    } else {
        for (uint32_t i = 0; i < made; i++)
            device->dispatch.vkDestroyFence(device->handle, fences[i], NULL);
    }
    free(fences);
    return result;
}

/* How long a device that pv_queue_wait_idle just found idle may take, with the context locked,
 * to show it still is: its queues need only get to an empty submission. */
#define IDLE_CONFIRM_NS (20ull * 1000 * 1000)

/* Whether every queue of the device gets through an empty submission within IDLE_CONFIRM_NS,
 * without unlocking the context. */
static bool idle_now(struct pv_device *device)
{
    const VkFenceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    for (struct pv_queue *q = device->queues; q; q = q->next) {
        VkFence fence;
        if (device->dispatch.vkCreateFence(device->handle, &info, NULL, &fence) != VK_SUCCESS)
            return false;
        VkResult r = device->dispatch.vkQueueSubmit(q->handle, 0, NULL, fence);
        if (r == VK_SUCCESS)
            r = device->dispatch.vkWaitForFences(device->handle, 1, &fence, VK_TRUE,
                                                 IDLE_CONFIRM_NS);
        if (r == VK_TIMEOUT) {
            pv_device_keep_fence(device, fence);
            return false;
        }
        device->dispatch.vkDestroyFence(device->handle, fence, NULL);
        if (r != VK_SUCCESS)
            return false;
    }
    return true;
}

VkResult pv_device_drain(struct pv_context *ctx, struct pv_device *device)
{
    const uint64_t start = pv_now_ns(), timeout = pv_guest_wait_timeout(ctx, UINT64_MAX);
    for (;;) {
        const uint64_t spent = pv_now_ns() - start;
        if (spent >= timeout)
            return VK_TIMEOUT;
        VkResult r = pv_queue_wait_idle(ctx, device, NULL, timeout - spent);
        if (r != VK_SUCCESS)
            return r;
        /* Another channel may have submitted work that never finishes while the wait had the
         * context unlocked; now that it is locked again nobody can, so an idle device stays
         * idle until the caller is done. */
        if (pv_context_waits_end(ctx) || device->destroying)
            return VK_TIMEOUT;
        if (idle_now(device))
            return VK_SUCCESS;
    }
}

void pv_handle_vkQueueWaitIdle(struct pv_context *ctx, struct pv_args_vkQueueWaitIdle *a)
{
    struct pv_queue *queue = (struct pv_queue *)a->queue_object;
    a->ret = pv_queue_wait_idle(ctx, queue->base.device, queue,
                                pv_guest_wait_timeout(ctx, UINT64_MAX));
}

void pv_handle_vkDeviceWaitIdle(struct pv_context *ctx, struct pv_args_vkDeviceWaitIdle *a)
{
    a->ret = pv_queue_wait_idle(ctx, a->device_object->device, NULL,
                                pv_guest_wait_timeout(ctx, UINT64_MAX));
}

void pv_device_keep_fence(struct pv_device *device, VkFence fence)
{
    VkFence *kept = realloc(device->kept_fences, (device->kept_fence_count + 1) * sizeof(*kept));
    if (!kept)
        return;   /* the driver reclaims it with the device */
    kept[device->kept_fence_count++] = fence;
    device->kept_fences = kept;
}

/* -- sync-file payloads ------------------------------------------------------------------ */

/* The guest keeps the sync files of its semaphores itself and hands the host semaphore only
 * payloads it has already waited for: "signalled" on import, "consumed" on export. A queue
 * submission signalling or waiting on the semaphore does either on every host, with or
 * without sync files. */
static bool submit_on_semaphore(struct pv_context *ctx, struct pv_device *device,
                                VkSemaphore semaphore, bool signal, const char *command)
{
    const struct pv_object *obj =
        pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_SEMAPHORE, (uint64_t)semaphore);
    if (!obj || obj->device != device) {
        pv_context_set_fatal(ctx, "%s: not a semaphore of the device", command);
        return false;
    }
    if (obj->timeline) {
        pv_context_set_fatal(ctx, "%s: sync files carry binary payloads only", command);
        return false;
    }
    if (!device->queues) {
        pv_context_set_fatal(ctx, "%s: the device has no queue to do it on", command);
        return false;
    }
    const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    const VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .waitSemaphoreCount = signal ? 0 : 1,
        .pWaitSemaphores = signal ? NULL : &semaphore,
        .pWaitDstStageMask = signal ? NULL : &stage,
        .signalSemaphoreCount = signal ? 1 : 0,
        .pSignalSemaphores = signal ? &semaphore : NULL,
    };
    VkResult r = device->dispatch.vkQueueSubmit(device->queues->handle, 1, &submit,
                                                VK_NULL_HANDLE);
    if (r != VK_SUCCESS) {
        pv_context_set_fatal(ctx, "%s: the host queue refused the submission (%d)", command, r);
        return false;
    }
    return true;
}

void pv_handle_vkImportSemaphoreResourceMESA(struct pv_context *ctx,
                                             struct pv_args_vkImportSemaphoreResourceMESA *a)
{
    const VkImportSemaphoreResourceInfoMESA *info = a->pImportSemaphoreResourceInfo;
    if (info->resourceId != 0) {
        /* A payload from a blob resource: only dma-buf hosts have such resources. */
        pv_context_set_fatal(ctx, "vkImportSemaphoreResourceMESA: resource %u; this host has "
                             "only signalled payloads (resource 0)", info->resourceId);
        return;
    }
    submit_on_semaphore(ctx, a->device_object->device, info->semaphore, true,
                        "vkImportSemaphoreResourceMESA");
}

void pv_handle_vkWaitSemaphoreResourceMESA(struct pv_context *ctx,
                                           struct pv_args_vkWaitSemaphoreResourceMESA *a)
{
    submit_on_semaphore(ctx, a->device_object->device, a->semaphore, false,
                        "vkWaitSemaphoreResourceMESA");
}

/* A sync-file export of a fence resets it once its payload (which the guest has waited for)
 * is signalled. */
void pv_handle_vkResetFenceResourceMESA(struct pv_context *ctx,
                                        struct pv_args_vkResetFenceResourceMESA *a)
{
    struct pv_device *device = a->device_object->device;
    const struct fence_wait w = { 1, &a->fence, VK_TRUE };
    VkResult r = sliced_wait(ctx, device, wait_fences, &w,
                             pv_guest_wait_timeout(ctx, UINT64_MAX));
    if (r == VK_SUCCESS && !device->destroying && pv_context_object_for_handle(
                                                      ctx, VK_OBJECT_TYPE_FENCE,
                                                      (uint64_t)a->fence))
        device->dispatch.vkResetFences(device->handle, 1, &a->fence);
}
