/* Query pools. A host driver indexes its pool's storage with the guest's query numbers and
 * writes results where it is told, trusting both: a software rasterizer turns a query past the
 * pool or a result past the guest's buffer into a plain out-of-bounds write. The pool's size
 * and the shape of its results are recorded at creation, and every command that names queries
 * or result ranges is checked against them before it runs. */
#include <stdint.h>

#include "pv_device.h"

/* Values one query's result holds before availability and status, as vkGetQueryPoolResults
 * lays them out; PV_QUERY_VALUES_UNKNOWN where this host does not know the layout (their
 * results are refused rather than guessed at). */
static uint32_t values_per_query(const VkQueryPoolCreateInfo *info)
{
    switch ((int)info->queryType) {
    case VK_QUERY_TYPE_OCCLUSION:
    case VK_QUERY_TYPE_TIMESTAMP:
    case VK_QUERY_TYPE_PRIMITIVES_GENERATED_EXT:
    case VK_QUERY_TYPE_MESH_PRIMITIVES_GENERATED_EXT:
    case VK_QUERY_TYPE_ACCELERATION_STRUCTURE_COMPACTED_SIZE_KHR:
    case VK_QUERY_TYPE_ACCELERATION_STRUCTURE_SERIALIZATION_SIZE_KHR:
    case VK_QUERY_TYPE_ACCELERATION_STRUCTURE_SIZE_KHR:
    case VK_QUERY_TYPE_ACCELERATION_STRUCTURE_SERIALIZATION_BOTTOM_LEVEL_POINTERS_KHR:
        return 1;
    case VK_QUERY_TYPE_PIPELINE_STATISTICS:
        /* one value per statistic asked for; a flag the host does not know makes the count
         * uncertain */
        if (info->pipelineStatistics & ~(uint32_t)0x3fff)
            return PV_QUERY_VALUES_UNKNOWN;
        return (uint32_t)__builtin_popcount(info->pipelineStatistics);
    case VK_QUERY_TYPE_TRANSFORM_FEEDBACK_STREAM_EXT:
        return 2;   /* primitives written, primitives needed */
    case VK_QUERY_TYPE_RESULT_STATUS_ONLY_KHR:
        return 0;
    default:
        return PV_QUERY_VALUES_UNKNOWN;
    }
}

void pv_handle_vkCreateQueryPool(struct pv_context *ctx, struct pv_args_vkCreateQueryPool *a)
{
    struct pv_device *device = a->device_object->device;
    a->ret = device->dispatch.vkCreateQueryPool(a->device, a->pCreateInfo, NULL, a->pQueryPool);
    if (a->ret != VK_SUCCESS)
        return;
    struct pv_object *pool = pv_context_bind_object(ctx, a->device_object,
                                                    VK_OBJECT_TYPE_QUERY_POOL, a->pQueryPool_id,
                                                    (uint64_t)*a->pQueryPool);
    if (pool) {
        pool->query_count = a->pCreateInfo->queryCount;
        pool->query_values = values_per_query(a->pCreateInfo);
    }
}

/* Whether queries [first, first + count) lie in the pool. */
static bool queries_within(struct pv_context *ctx, const char *command,
                           const struct pv_object *pool, uint32_t first, uint32_t count)
{
    if (first > pool->query_count || count > pool->query_count - first) {
        pv_context_set_fatal(ctx, "%s: queries %u to %llu are outside the pool of %u queries",
                             command, first, (unsigned long long)first + count,
                             pool->query_count);
        return false;
    }
    return true;
}

static bool query_within(struct pv_context *ctx, const char *command,
                         const struct pv_object *pool, uint32_t query)
{
    if (query >= pool->query_count) {
        pv_context_set_fatal(ctx, "%s: query %u is outside the pool of %u queries", command,
                             query, pool->query_count);
        return false;
    }
    return true;
}

/* Whether count results, stride bytes apart, fit in room bytes: (count - 1) * stride plus one
 * query's result, whose size the pool's type and the flags decide. */
static bool results_fit(struct pv_context *ctx, const char *command, const struct pv_object *pool,
                        uint32_t count, VkDeviceSize stride, VkQueryResultFlags flags,
                        VkDeviceSize room)
{
    if (!count)
        return true;
    if (pool->query_values == PV_QUERY_VALUES_UNKNOWN) {
        pv_context_set_fatal(ctx, "%s: this host does not know the result layout of the pool's "
                             "query type", command);
        return false;
    }
    const VkDeviceSize value_size = (flags & VK_QUERY_RESULT_64_BIT) ? 8 : 4;
    if (stride % value_size) {
        pv_context_set_fatal(ctx, "%s: stride %llu is not a multiple of %llu", command,
                             (unsigned long long)stride, (unsigned long long)value_size);
        return false;
    }
    VkDeviceSize values = pool->query_values;
    values += !!(flags & VK_QUERY_RESULT_WITH_AVAILABILITY_BIT);
    values += !!(flags & VK_QUERY_RESULT_WITH_STATUS_BIT_KHR);
    VkDeviceSize span;
    if (__builtin_mul_overflow((VkDeviceSize)(count - 1), stride, &span) ||
        __builtin_add_overflow(span, values * value_size, &span) || span > room) {
        pv_context_set_fatal(ctx, "%s: %u results of %llu bytes, %llu bytes apart, do not fit in "
                             "%llu bytes", command, count,
                             (unsigned long long)(values * value_size),
                             (unsigned long long)stride, (unsigned long long)room);
        return false;
    }
    return true;
}

bool pv_check_vkGetQueryPoolResults(struct pv_context *ctx,
                                    const struct pv_args_vkGetQueryPoolResults *a)
{
    const char *command = "vkGetQueryPoolResults";
    return queries_within(ctx, command, a->queryPool_object, a->firstQuery, a->queryCount) &&
           results_fit(ctx, command, a->queryPool_object, a->queryCount, a->stride, a->flags,
                       a->dataSize);
}

/* The host must not block with the context locked on a query that only the guest could end:
 * VK_QUERY_RESULT_WAIT_BIT on a query never submitted waits forever on a GPU driver, and a CPU
 * driver (lavapipe) waits for the whole device inside every call, which a queue waiting on a
 * semaphore the guest never signals never gets to. So the device is drained first, with the
 * context unlocked, and the driver asked without WAIT_BIT: once the device is idle, every
 * query submitted is available, and one never submitted is VK_NOT_READY instead of a hang. */
void pv_handle_vkGetQueryPoolResults(struct pv_context *ctx,
                                     struct pv_args_vkGetQueryPoolResults *a)
{
    struct pv_device *device = a->device_object->device;
    const bool drain = (a->flags & VK_QUERY_RESULT_WAIT_BIT) ||
                       device->physical_device->properties.deviceType ==
                           VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (drain) {
        VkResult r = pv_device_drain(ctx, device);
        if (r == VK_TIMEOUT) {
            /* Cut short (a teardown, the transport's bound): nothing is written, as for
             * queries not available yet. */
            a->ret = VK_NOT_READY;
            return;
        }
        if (r != VK_SUCCESS) {
            a->ret = r;
            return;
        }
        /* Another channel may have destroyed the pool meanwhile, and made another with the
         * same host handle: look again and check against that one. */
        a->queryPool_object = pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_QUERY_POOL,
                                                           (uint64_t)a->queryPool);
        if (!a->queryPool_object || a->queryPool_object->device != device) {
            pv_context_set_fatal(ctx, "vkGetQueryPoolResults: the query pool was destroyed "
                                 "while the command waited for the device");
            return;
        }
        if (!pv_check_vkGetQueryPoolResults(ctx, a))
            return;
    }
    a->ret = device->dispatch.vkGetQueryPoolResults(a->device, a->queryPool, a->firstQuery,
                                                    a->queryCount, a->dataSize, a->pData,
                                                    a->stride,
                                                    a->flags & ~VK_QUERY_RESULT_WAIT_BIT);
}

bool pv_check_vkCmdCopyQueryPoolResults(struct pv_context *ctx,
                                        const struct pv_args_vkCmdCopyQueryPoolResults *a)
{
    const char *command = "vkCmdCopyQueryPoolResults";
    const VkDeviceSize size = a->dstBuffer_object->size;
    if (a->dstOffset > size) {
        pv_context_set_fatal(ctx, "%s: offset %llu is past the buffer's %llu bytes", command,
                             (unsigned long long)a->dstOffset, (unsigned long long)size);
        return false;
    }
    return queries_within(ctx, command, a->queryPool_object, a->firstQuery, a->queryCount) &&
           results_fit(ctx, command, a->queryPool_object, a->queryCount, a->stride, a->flags,
                       size - a->dstOffset);
}

bool pv_check_vkResetQueryPool(struct pv_context *ctx, const struct pv_args_vkResetQueryPool *a)
{
    return queries_within(ctx, "vkResetQueryPool", a->queryPool_object, a->firstQuery,
                          a->queryCount);
}

bool pv_check_vkCmdResetQueryPool(struct pv_context *ctx,
                                  const struct pv_args_vkCmdResetQueryPool *a)
{
    return queries_within(ctx, "vkCmdResetQueryPool", a->queryPool_object, a->firstQuery,
                          a->queryCount);
}

bool pv_check_vkCmdBeginQuery(struct pv_context *ctx, const struct pv_args_vkCmdBeginQuery *a)
{
    return query_within(ctx, "vkCmdBeginQuery", a->queryPool_object, a->query);
}

bool pv_check_vkCmdEndQuery(struct pv_context *ctx, const struct pv_args_vkCmdEndQuery *a)
{
    return query_within(ctx, "vkCmdEndQuery", a->queryPool_object, a->query);
}

bool pv_check_vkCmdBeginQueryIndexedEXT(struct pv_context *ctx,
                                        const struct pv_args_vkCmdBeginQueryIndexedEXT *a)
{
    return query_within(ctx, "vkCmdBeginQueryIndexedEXT", a->queryPool_object, a->query);
}

bool pv_check_vkCmdEndQueryIndexedEXT(struct pv_context *ctx,
                                      const struct pv_args_vkCmdEndQueryIndexedEXT *a)
{
    return query_within(ctx, "vkCmdEndQueryIndexedEXT", a->queryPool_object, a->query);
}

bool pv_check_vkCmdWriteTimestamp(struct pv_context *ctx,
                                  const struct pv_args_vkCmdWriteTimestamp *a)
{
    return query_within(ctx, "vkCmdWriteTimestamp", a->queryPool_object, a->query);
}

bool pv_check_vkCmdWriteTimestamp2(struct pv_context *ctx,
                                   const struct pv_args_vkCmdWriteTimestamp2 *a)
{
    return query_within(ctx, "vkCmdWriteTimestamp2", a->queryPool_object, a->query);
}
