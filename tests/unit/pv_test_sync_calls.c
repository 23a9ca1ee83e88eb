/* Encoders of the commands that make the host wait (see pv_test_sync_calls.h). */
#include "pv_test_sync_calls.h"

#define STYPE_SUBMIT_INFO 4u
#define STYPE_FENCE_CREATE_INFO 8u
#define STYPE_SEMAPHORE_CREATE_INFO 9u
#define STYPE_QUERY_POOL_CREATE_INFO 11u
#define STYPE_SEMAPHORE_TYPE_CREATE_INFO 1000207002u
#define STYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO 1000207003u
#define STYPE_SEMAPHORE_WAIT_INFO 1000207004u
#define SEMAPHORE_TYPE_TIMELINE 1u
#define PIPELINE_STAGE_ALL_COMMANDS 0x10000u
#define QUERY_TYPE_OCCLUSION 0u

void pv_test_cs_create_fence(struct pv_test_cs *cs, uint64_t device, uint64_t fence)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateFence, 0);
    pv_test_cs_handle(cs, device);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_FENCE_CREATE_INFO);
    pv_test_cs_marker(cs, false); /* pNext */
    pv_test_cs_u32(cs, 0);        /* flags: unsignalled */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pFence */
    pv_test_cs_handle(cs, fence);
}

void pv_test_cs_create_timeline_semaphore(struct pv_test_cs *cs, uint64_t device, uint64_t semaphore)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateSemaphore, 0);
    pv_test_cs_handle(cs, device);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_CREATE_INFO);
    pv_test_cs_marker(cs, true);  /* pNext: VkSemaphoreTypeCreateInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_TYPE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, SEMAPHORE_TYPE_TIMELINE);
    pv_test_cs_u64(cs, 0);        /* initialValue */
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pSemaphore */
    pv_test_cs_handle(cs, semaphore);
}

void pv_test_cs_submit_wait_timeline(struct pv_test_cs *cs, uint64_t queue, uint64_t semaphore,
                                     uint64_t value, uint64_t fence)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkQueueSubmit, 0);
    pv_test_cs_handle(cs, queue);
    pv_test_cs_u32(cs, 1);        /* submitCount */
    pv_test_cs_array_size(cs, 1); /* pSubmits */
    pv_test_cs_u32(cs, STYPE_SUBMIT_INFO);
    pv_test_cs_marker(cs, true);  /* pNext: VkTimelineSemaphoreSubmitInfo */
    pv_test_cs_u32(cs, STYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 1);        /* waitSemaphoreValueCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_u64(cs, value);
    pv_test_cs_u32(cs, 0);        /* signalSemaphoreValueCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, 1);        /* waitSemaphoreCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_handle(cs, semaphore);
    pv_test_cs_array_size(cs, 1); /* pWaitDstStageMask */
    pv_test_cs_u32(cs, PIPELINE_STAGE_ALL_COMMANDS);
    pv_test_cs_u32(cs, 0);        /* commandBufferCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, 0);        /* signalSemaphoreCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_handle(cs, fence);
}

void pv_test_cs_wait_for_fences(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t fence,
                                uint64_t timeout)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkWaitForFences, flags);
    pv_test_cs_handle(cs, device);
    pv_test_cs_u32(cs, 1);        /* fenceCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_handle(cs, fence);
    pv_test_cs_u32(cs, 1);        /* waitAll */
    pv_test_cs_u64(cs, timeout);
}

void pv_test_cs_wait_semaphores(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t semaphore,
                                uint64_t value, uint64_t timeout)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkWaitSemaphores, flags);
    pv_test_cs_handle(cs, device);
    pv_test_cs_marker(cs, true);  /* pWaitInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_WAIT_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 1);        /* semaphoreCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_handle(cs, semaphore);
    pv_test_cs_array_size(cs, 1); /* pValues */
    pv_test_cs_u64(cs, value);
    pv_test_cs_u64(cs, timeout);
}

void pv_test_cs_queue_wait_idle(struct pv_test_cs *cs, uint32_t flags, uint64_t queue)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkQueueWaitIdle, flags);
    pv_test_cs_handle(cs, queue);
}

void pv_test_cs_device_wait_idle(struct pv_test_cs *cs, uint32_t flags, uint64_t device)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkDeviceWaitIdle, flags);
    pv_test_cs_handle(cs, device);
}

void pv_test_cs_reset_fence_resource(struct pv_test_cs *cs, uint64_t device, uint64_t fence)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkResetFenceResourceMESA, 0);
    pv_test_cs_handle(cs, device);
    pv_test_cs_handle(cs, fence);
}

void pv_test_cs_create_query_pool(struct pv_test_cs *cs, uint64_t device, uint64_t pool, uint32_t count)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateQueryPool, 0);
    pv_test_cs_handle(cs, device);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_QUERY_POOL_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, QUERY_TYPE_OCCLUSION);
    pv_test_cs_u32(cs, count);
    pv_test_cs_u32(cs, 0);        /* pipelineStatistics */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pQueryPool */
    pv_test_cs_handle(cs, pool);
}

void pv_test_cs_get_query_results(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t pool,
                                  uint32_t first, uint32_t count, uint32_t result_flags)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkGetQueryPoolResults, flags);
    pv_test_cs_handle(cs, device);
    pv_test_cs_handle(cs, pool);
    pv_test_cs_u32(cs, first);
    pv_test_cs_u32(cs, count);
    pv_test_cs_u64(cs, 8ull * count); /* dataSize */
    pv_test_cs_array_size(cs, 8ull * count);
    pv_test_cs_u64(cs, 8);        /* stride */
    pv_test_cs_u32(cs, result_flags | PV_TEST_QUERY_RESULT_64_BIT);
}
