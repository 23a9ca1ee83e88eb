/* Encoders of the Venus commands that make the host wait, for the tests of host waits: fences,
 * timeline semaphores, queue and device idleness, query results. Wire numbers and sTypes are the
 * protocol's (vn_protocol_driver_defines.h); each encoder writes one command as the drivers do. */
#ifndef PV_TEST_SYNC_CALLS_H
#define PV_TEST_SYNC_CALLS_H

#include "pv_test_vtest_client.h"

enum {
    PV_TEST_CMD_vkQueueSubmit = 18,
    PV_TEST_CMD_vkQueueWaitIdle = 19,
    PV_TEST_CMD_vkDeviceWaitIdle = 20,
    PV_TEST_CMD_vkCreateFence = 35,
    PV_TEST_CMD_vkWaitForFences = 39,
    PV_TEST_CMD_vkCreateSemaphore = 40,
    PV_TEST_CMD_vkCreateQueryPool = 47,
    PV_TEST_CMD_vkGetQueryPoolResults = 49,
    PV_TEST_CMD_vkWaitSemaphores = 173,
    PV_TEST_CMD_vkResetFenceResourceMESA = 244,
};
#define PV_TEST_UINT64_MAX (~0ull)
#define PV_TEST_QUERY_RESULT_64_BIT 1u
#define PV_TEST_QUERY_RESULT_WAIT_BIT 2u
#define PV_TEST_VK_NOT_READY 1
#define PV_TEST_API_VERSION_1_2 0x00402000u

/* vkCreateFence, unsignalled. */
void pv_test_cs_create_fence(struct pv_test_cs *cs, uint64_t device, uint64_t fence);
/* A timeline semaphore at value 0 (the device needs timeline semaphores enabled). */
void pv_test_cs_create_timeline_semaphore(struct pv_test_cs *cs, uint64_t device, uint64_t semaphore);
/* vkQueueSubmit of one empty batch waiting for the timeline semaphore to reach value, then
 * signalling fence (0: none): the queue's work stays unfinished until the guest signals it. */
void pv_test_cs_submit_wait_timeline(struct pv_test_cs *cs, uint64_t queue, uint64_t semaphore,
                                     uint64_t value, uint64_t fence);
void pv_test_cs_wait_for_fences(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t fence,
                                uint64_t timeout);
void pv_test_cs_wait_semaphores(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t semaphore,
                                uint64_t value, uint64_t timeout);
void pv_test_cs_queue_wait_idle(struct pv_test_cs *cs, uint32_t flags, uint64_t queue);
void pv_test_cs_device_wait_idle(struct pv_test_cs *cs, uint32_t flags, uint64_t device);
void pv_test_cs_reset_fence_resource(struct pv_test_cs *cs, uint64_t device, uint64_t fence);
/* An occlusion query pool of count queries. */
void pv_test_cs_create_query_pool(struct pv_test_cs *cs, uint64_t device, uint64_t pool, uint32_t count);
/* vkGetQueryPoolResults of queries [first, first + count), 8 bytes each, packed. */
void pv_test_cs_get_query_results(struct pv_test_cs *cs, uint32_t flags, uint64_t device, uint64_t pool,
                                  uint32_t first, uint32_t count, uint32_t result_flags);

#endif
