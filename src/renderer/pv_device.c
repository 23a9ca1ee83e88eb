/* Devices and queues: host device creation with its dispatch table, the queues the driver
 * names right after vkCreateDevice, and teardown. */
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"
#include "pv_log.h"

static bool name_listed(const char *const *names, uint32_t count, const char *name)
{
    for (uint32_t i = 0; i < count; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

void pv_handle_vkCreateDevice(struct pv_context *ctx, struct pv_args_vkCreateDevice *a)
{
    struct pv_physical_device *pd = (struct pv_physical_device *)a->physicalDevice_object;
    struct pv_instance *instance = pd->base.instance;
    VkDeviceCreateInfo info = *a->pCreateInfo;
    a->ret = pv_device_request_check(ctx, pd, &info);
    if (a->ret != VK_SUCCESS)
        return;
    VkDeviceQueueCreateInfo *queue_infos =
        calloc(info.queueCreateInfoCount ? info.queueCreateInfoCount : 1, sizeof(*queue_infos));
    if (!queue_infos) {
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    for (uint32_t i = 0; i < info.queueCreateInfoCount; i++) {
        queue_infos[i] = info.pQueueCreateInfos[i];
        queue_infos[i].pNext = NULL;
        queue_infos[i].pQueuePriorities = NULL;
    }
    info.enabledLayerCount = 0;
    info.ppEnabledLayerNames = NULL;

    /* VK_EXT_external_memory_host, the host side of memory sharing, is enabled whether or not
     * the guest asked for it. */
    const char *host_ext = VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME;
    const VkPhysicalDeviceMemoryProperties *memory = pv_physical_device_memory(ctx, pd);
    bool memory_host = pd->host_pointer_alignment != 0;
    const char **names = calloc(info.enabledExtensionCount + 1, sizeof(*names));
    if (!names) {
        free(queue_infos);
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < info.enabledExtensionCount; i++) {
        if (!pv_emulated_device_extension(info.ppEnabledExtensionNames[i]))
            names[kept++] = info.ppEnabledExtensionNames[i];
    }
    info.enabledExtensionCount = kept;
    if (memory_host && !name_listed(names, info.enabledExtensionCount, host_ext))
        names[info.enabledExtensionCount++] = host_ext;
    info.ppEnabledExtensionNames = names;

    VkDevice handle = VK_NULL_HANDLE;
    a->ret = instance->dispatch.vkCreateDevice(pd->handle, &info, NULL, &handle);
    free(names);
    if (a->ret != VK_SUCCESS) {
        free(queue_infos);
        return;
    }
    struct pv_device *device = calloc(1, sizeof(*device));
    PFN_vkGetDeviceProcAddr gdpa =
        (PFN_vkGetDeviceProcAddr)vkGetInstanceProcAddr(instance->handle, "vkGetDeviceProcAddr");
    if (!device || !gdpa) {
        PFN_vkDestroyDevice destroy =
            (PFN_vkDestroyDevice)vkGetInstanceProcAddr(instance->handle, "vkDestroyDevice");
        if (destroy)
            destroy(handle, NULL);
        free(device);
        free(queue_infos);
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    device->handle = handle;
    device->physical_device = pd;
    device->queue_infos = queue_infos;
    device->queue_info_count = info.queueCreateInfoCount;
    device->base.id = a->pDevice_id;
    device->base.type = VK_OBJECT_TYPE_DEVICE;
    device->base.handle = (uint64_t)(uintptr_t)handle;
    device->base.instance = instance;
    device->base.device = device;
    pv_device_dispatch_init(&device->dispatch, gdpa, handle);
    device->memory_properties = *memory;
    if (memory_host) {
        device->get_memory_host_pointer_properties = (PFN_vkGetMemoryHostPointerPropertiesEXT)gdpa(
            handle, "vkGetMemoryHostPointerPropertiesEXT");
        if (device->get_memory_host_pointer_properties)
            device->host_pointer_alignment = pd->host_pointer_alignment;
    }
    if (!device->host_pointer_alignment)
        pv_log("context %u (%s): the host has no VK_EXT_external_memory_host: host-visible "
               "memory cannot be shared with the guest", ctx->id, ctx->name);
    if (!pv_context_add_object(ctx, &device->base)) {
        device->dispatch.vkDestroyDevice(handle, NULL);
        free(device->queue_infos);
        free(device);
        a->ret = VK_ERROR_INITIALIZATION_FAILED;
        return;
    }
    device->next = instance->devices;
    instance->devices = device;
    *a->pDevice = handle;
}

/* Teardown order for what a guest leaves behind: users before what they use. */
static const VkObjectType child_destroy_order[] = {
    VK_OBJECT_TYPE_COMMAND_POOL,
    VK_OBJECT_TYPE_DESCRIPTOR_POOL,
    VK_OBJECT_TYPE_FRAMEBUFFER,
    VK_OBJECT_TYPE_PIPELINE,
    VK_OBJECT_TYPE_PIPELINE_CACHE,
    VK_OBJECT_TYPE_PIPELINE_LAYOUT,
    VK_OBJECT_TYPE_RENDER_PASS,
    VK_OBJECT_TYPE_DESCRIPTOR_UPDATE_TEMPLATE,
    VK_OBJECT_TYPE_DESCRIPTOR_SET_LAYOUT,
    VK_OBJECT_TYPE_SHADER_MODULE,
    VK_OBJECT_TYPE_IMAGE_VIEW,
    VK_OBJECT_TYPE_BUFFER_VIEW,
    VK_OBJECT_TYPE_SAMPLER,
    VK_OBJECT_TYPE_SAMPLER_YCBCR_CONVERSION,
    VK_OBJECT_TYPE_IMAGE,
    VK_OBJECT_TYPE_BUFFER,
    VK_OBJECT_TYPE_QUERY_POOL,
    VK_OBJECT_TYPE_EVENT,
    VK_OBJECT_TYPE_SEMAPHORE,
    VK_OBJECT_TYPE_FENCE,
    VK_OBJECT_TYPE_PRIVATE_DATA_SLOT,
    VK_OBJECT_TYPE_DEVICE_MEMORY,
};

struct child_sweep {
    struct pv_device *device;
    VkObjectType type;
    struct pv_object **found;
    size_t count;
    size_t capacity;
};

static void collect_child(struct pv_object *obj, void *data)
{
    struct child_sweep *sweep = data;
    if (obj->device != sweep->device || obj->type != sweep->type)
        return;
    if (sweep->count == sweep->capacity) {
        size_t capacity = sweep->capacity ? sweep->capacity * 2 : 64;
        struct pv_object **found = realloc(sweep->found, capacity * sizeof(*found));
        if (!found)
            return;
        sweep->found = found;
        sweep->capacity = capacity;
    }
    sweep->found[sweep->count++] = obj;
}

/* Destroys, on the host, every plain child object of the device the guest did not destroy. */
static void destroy_children(struct pv_context *ctx, struct pv_device *device)
{
    struct child_sweep sweep = { .device = device };
    for (size_t t = 0; t < sizeof(child_destroy_order) / sizeof(*child_destroy_order); t++) {
        sweep.type = child_destroy_order[t];
        sweep.count = 0;
        pv_object_table_foreach(&ctx->objects, collect_child, &sweep);
        for (size_t i = 0; i < sweep.count; i++) {
            pv_destroy_host_object(device, sweep.type, sweep.found[i]->handle);
            pv_context_forget_object(ctx, sweep.found[i]);
        }
    }
    free(sweep.found);
}

void pv_device_destroy(struct pv_context *ctx, struct pv_device *device)
{
    /* A guest that dies mid-dispatch leaves work running on what is about to be freed: let the
     * device finish first, once nothing it runs waits on the guest any more. (A queue waiting
     * for a binary semaphore nobody will signal still never finishes; the worker's teardown
     * watchdog ends that process.) */
    pv_device_release_waiters(ctx, device);
    pv_device_wait_unused(ctx, device);
    device->dispatch.vkDeviceWaitIdle(device->handle);
    for (uint32_t i = 0; i < device->kept_fence_count; i++)
        device->dispatch.vkDestroyFence(device->handle, device->kept_fences[i], NULL);
    free(device->kept_fences);
    destroy_children(ctx, device);
    while (device->queues) {
        struct pv_queue *queue = device->queues;
        device->queues = queue->next;
        pv_context_remove_object(ctx, &queue->base);
        free(queue);
    }
    device->dispatch.vkDestroyDevice(device->handle, NULL);
    pv_context_remove_object(ctx, &device->base);
    struct pv_instance *instance = device->base.instance;
    struct pv_device **link = &instance->devices;
    while (*link && *link != device)
        link = &(*link)->next;
    if (*link)
        *link = device->next;
    free(device->queue_infos);
    free(device);
}

void pv_handle_vkDestroyDevice(struct pv_context *ctx, struct pv_args_vkDestroyDevice *a)
{
    if (a->device_object)
        pv_device_destroy(ctx, (struct pv_device *)a->device_object);
}

/* Binds the guest's queue id to the host queue (family, index, flags) of the device. */
static void bind_queue(struct pv_context *ctx, struct pv_device *device, uint64_t id,
                       VkQueue handle, uint32_t family, uint32_t index,
                       VkDeviceQueueCreateFlags flags, uint32_t ring_idx, const char *command)
{
    if (!handle) {
        pv_context_set_fatal(ctx, "%s: the device has no queue %u of family %u", command, index,
                             family);
        return;
    }
    for (struct pv_queue *q = device->queues; q; q = q->next) {
        if (q->handle == handle) {
            if (q->base.id != id)
                pv_context_set_fatal(ctx, "%s: queue %u/%u already has id 0x%llx", command,
                                     family, index, (unsigned long long)q->base.id);
            return;
        }
    }
    struct pv_queue *queue = calloc(1, sizeof(*queue));
    if (!queue) {
        pv_context_set_fatal(ctx, "%s: out of memory", command);
        return;
    }
    queue->handle = handle;
    queue->family = family;
    queue->index = index;
    queue->flags = flags;
    queue->ring_idx = ring_idx;
    queue->base.id = id;
    queue->base.type = VK_OBJECT_TYPE_QUEUE;
    queue->base.handle = (uint64_t)(uintptr_t)handle;
    queue->base.instance = device->base.instance;
    queue->base.device = device;
    if (!pv_context_add_object(ctx, &queue->base)) {
        free(queue);
        return;
    }
    queue->next = device->queues;
    device->queues = queue;
}

void pv_handle_vkGetDeviceQueue(struct pv_context *ctx, struct pv_args_vkGetDeviceQueue *a)
{
    struct pv_device *device = (struct pv_device *)a->device_object;
    /* Only queues the device was created with: the host driver indexes its queue arrays with
     * these numbers. */
    if (!pv_device_queue_created(device, a->queueFamilyIndex, a->queueIndex, 0)) {
        pv_context_set_fatal(ctx, "vkGetDeviceQueue: the device was not created with queue %u "
                             "of family %u", a->queueIndex, a->queueFamilyIndex);
        return;
    }
    VkQueue handle = VK_NULL_HANDLE;
    device->dispatch.vkGetDeviceQueue(device->handle, a->queueFamilyIndex, a->queueIndex,
                                      &handle);
    bind_queue(ctx, device, a->pQueue_id, handle, a->queueFamilyIndex, a->queueIndex, 0, 0,
               "vkGetDeviceQueue");
}

/* Whether a transport timeline may be bound to a new queue: in range and not bound yet. */
static bool timeline_free(struct pv_context *ctx, uint32_t ring_idx)
{
    if (ring_idx >= PV_MAX_TIMELINES) {
        pv_context_set_fatal(ctx, "vkGetDeviceQueue2: timeline %u is out of range (%u)", ring_idx,
                             PV_MAX_TIMELINES);
        return false;
    }
    for (struct pv_instance *instance = ctx->instances; instance; instance = instance->next) {
        for (struct pv_device *device = instance->devices; device; device = device->next) {
            for (struct pv_queue *queue = device->queues; queue; queue = queue->next) {
                if (queue->ring_idx == ring_idx) {
                    pv_context_set_fatal(ctx, "vkGetDeviceQueue2: timeline %u is bound to queue "
                                         "0x%llx already", ring_idx,
                                         (unsigned long long)queue->base.id);
                    return false;
                }
            }
        }
    }
    return true;
}

void pv_handle_vkGetDeviceQueue2(struct pv_context *ctx, struct pv_args_vkGetDeviceQueue2 *a)
{
    struct pv_device *device = (struct pv_device *)a->device_object;
    const VkDeviceQueueInfo2 *info = a->pQueueInfo;
    if (!pv_device_queue_created(device, info->queueFamilyIndex, info->queueIndex,
                                 info->flags)) {
        pv_context_set_fatal(ctx, "vkGetDeviceQueue2: the device was not created with queue %u "
                             "of family %u (flags 0x%x)", info->queueIndex,
                             info->queueFamilyIndex, info->flags);
        return;
    }
    /* Current guests name the transport timeline of each queue; the host driver has no use
     * for that struct. */
    uint32_t ring_idx = 0;
    for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA)
            ring_idx = ((const VkDeviceQueueTimelineInfoMESA *)s)->ringIdx;
    }
    if (ring_idx && !timeline_free(ctx, ring_idx))
        return;
    VkDeviceQueueInfo2 host_info = *info;
    host_info.pNext = NULL;
    VkQueue handle = VK_NULL_HANDLE;
    device->dispatch.vkGetDeviceQueue2(device->handle, &host_info, &handle);
    bind_queue(ctx, device, a->pQueue_id, handle, info->queueFamilyIndex, info->queueIndex,
               info->flags, ring_idx, "vkGetDeviceQueue2");
}

/* For the transport's waits: they run on its channel, under the lock. */
static void transport_wait_begin(struct pv_context *ctx, const char *what)
{
    pthread_mutex_lock(&ctx->mutex);
    ctx->channel = &ctx->transport;
    ctx->current_command = what;
}

static int transport_wait_end(struct pv_context *ctx, VkResult result)
{
    if (result == VK_ERROR_DEVICE_LOST)
        pv_context_set_fatal(ctx, "%s: device lost", ctx->current_command);
    ctx->current_command = NULL;
    bool fatal = ctx->fatal;
    pthread_mutex_unlock(&ctx->mutex);
    return fatal ? -1 : 0;
}

int pv_context_wait_queue(struct pv_context *ctx, uint64_t queue_id)
{
    transport_wait_begin(ctx, "sync queue");
    struct pv_object *obj = pv_object_table_lookup(&ctx->objects, queue_id);
    VkResult result = VK_SUCCESS;
    if (!obj || obj->type != VK_OBJECT_TYPE_QUEUE)
        pv_context_set_fatal(ctx, "sync queue: 0x%llx is not a VkQueue",
                             (unsigned long long)queue_id);
    else
        result = pv_queue_wait_idle(ctx, obj->device, (struct pv_queue *)obj, UINT64_MAX);
    return transport_wait_end(ctx, result);
}

struct pv_timeline_point {
    struct pv_device *device;   /* its waiters count holds the device */
    VkFence fence;
};

int pv_context_timeline_point(struct pv_context *ctx, uint32_t ring_idx,
                              struct pv_timeline_point **out)
{
    *out = NULL;
    pthread_mutex_lock(&ctx->mutex);
    struct pv_queue *found = NULL;
    for (struct pv_instance *instance = ctx->instances; instance && !found;
         instance = instance->next) {
        for (struct pv_device *device = instance->devices; device && !found;
             device = device->next) {
            for (struct pv_queue *queue = device->queues; queue && !found; queue = queue->next)
                found = ring_idx && queue->ring_idx == ring_idx ? queue : NULL;
        }
    }
    /* No queue on that timeline: nothing was submitted to it, so all of it is done. */
    VkResult result = VK_SUCCESS;
    if (found && !ctx->fatal) {
        struct pv_device *device = found->base.device;
        struct pv_timeline_point *point = calloc(1, sizeof(*point));
        const VkFenceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        result = point ? device->dispatch.vkCreateFence(device->handle, &info, NULL, &point->fence)
                       : VK_ERROR_OUT_OF_HOST_MEMORY;
        if (result == VK_SUCCESS) {
            result = device->dispatch.vkQueueSubmit(found->handle, 0, NULL, point->fence);
            if (result != VK_SUCCESS)
                device->dispatch.vkDestroyFence(device->handle, point->fence, NULL);
        }
        if (result == VK_SUCCESS) {
            point->device = device;
            device->waiters++;
            *out = point;
        } else {
            free(point);
            pv_context_set_fatal(ctx, "timeline %u: cannot mark the queue's work (%d)", ring_idx,
                                 result);
        }
    }
    bool fatal = ctx->fatal;
    pthread_mutex_unlock(&ctx->mutex);
    return fatal ? -1 : 0;
}

/* Under ctx->mutex. */
static void release_point(struct pv_context *ctx, struct pv_timeline_point *point, bool reached)
{
    struct pv_device *device = point->device;
    if (reached)
        device->dispatch.vkDestroyFence(device->handle, point->fence, NULL);
    else
        pv_device_keep_fence(device, point->fence);
    device->waiters--;
    pthread_cond_broadcast(&ctx->progress);
    free(point);
}

int pv_context_timeline_wait(struct pv_context *ctx, struct pv_timeline_point *point,
                             uint64_t timeout_ns)
{
    struct pv_device *device = point->device;
    /* The device outlives the wait (its destruction waits for waiters), but not an unlocked
     * look at its queues: only the fence is used here. */
    VkResult result = device->dispatch.vkWaitForFences(device->handle, 1, &point->fence, VK_TRUE,
                                                       timeout_ns);
    pthread_mutex_lock(&ctx->mutex);
    if (result == VK_TIMEOUT && !ctx->fatal && !device->destroying) {
        pthread_mutex_unlock(&ctx->mutex);
        return 1;
    }
    if (result == VK_ERROR_DEVICE_LOST)
        pv_context_set_fatal(ctx, "timeline: device lost");
    release_point(ctx, point, result == VK_SUCCESS);
    bool fatal = ctx->fatal;
    pthread_mutex_unlock(&ctx->mutex);
    return fatal ? -1 : 0;
}

void pv_context_timeline_drop(struct pv_context *ctx, struct pv_timeline_point *point)
{
    pthread_mutex_lock(&ctx->mutex);
    release_point(ctx, point, false);
    pthread_mutex_unlock(&ctx->mutex);
}

int pv_context_wait_idle(struct pv_context *ctx)
{
    transport_wait_begin(ctx, "fence");
    VkResult result = VK_SUCCESS;
    for (struct pv_instance *instance = ctx->instances; instance && result == VK_SUCCESS;
         instance = instance->next) {
        for (struct pv_device *device = instance->devices; device && result == VK_SUCCESS;
             device = device->next)
            result = pv_queue_wait_idle(ctx, device, NULL, UINT64_MAX);
    }
    return transport_wait_end(ctx, result);
}
