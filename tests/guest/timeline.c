/* Timeline semaphores (VK_KHR_timeline_semaphore on Vulkan 1.1): one submission waits on a value
 * that another signals; a submission made before its wait value exists is released by a host
 * vkSignalSemaphore; the host waits with vkWaitSemaphores (all, any, and one that must time
 * out). Checks counter values at every step and the buffer contents the chain produced. */
#include "pv_guest_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORDS 16384
#define SIZE (WORDS * 4)

struct timeline_functions {
    PFN_vkGetSemaphoreCounterValueKHR get_value;
    PFN_vkWaitSemaphoresKHR wait;
    PFN_vkSignalSemaphoreKHR signal;
};

static VkSemaphore create_timeline(struct pv_guest *g, uint64_t initial)
{
    VkSemaphoreTypeCreateInfoKHR type = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO_KHR,
        .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE_KHR,
        .initialValue = initial,
    };
    VkSemaphoreCreateInfo info = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &type };
    VkSemaphore semaphore;
    PV_CHECK(g, vkCreateSemaphore(g->device, &info, NULL, &semaphore));
    return semaphore;
}

static uint64_t counter(struct pv_guest *g, const struct timeline_functions *f, VkSemaphore semaphore)
{
    uint64_t value = 0;
    PV_CHECK(g, f->get_value(g->device, semaphore, &value));
    return value;
}

static VkResult wait_value(struct pv_guest *g, const struct timeline_functions *f, VkSemaphore semaphore,
                           uint64_t value, uint64_t timeout_ns)
{
    VkSemaphoreWaitInfoKHR info = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO_KHR,
        .semaphoreCount = 1,
        .pSemaphores = &semaphore,
        .pValues = &value,
    };
    return f->wait(g->device, &info, timeout_ns);
}

/* One submission: optionally waits for wait_value on semaphore, then signals signal_value. */
static void submit(struct pv_guest *g, VkCommandBuffer cmd, VkSemaphore semaphore, uint64_t wait,
                   uint64_t signal, VkFence fence)
{
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkTimelineSemaphoreSubmitInfoKHR values = {
        .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO_KHR,
        .waitSemaphoreValueCount = wait ? 1 : 0,
        .pWaitSemaphoreValues = &wait,
        .signalSemaphoreValueCount = 1,
        .pSignalSemaphoreValues = &signal,
    };
    VkSubmitInfo info = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .pNext = &values,
        .waitSemaphoreCount = wait ? 1 : 0,
        .pWaitSemaphores = &semaphore,
        .pWaitDstStageMask = &stage,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd,
        .signalSemaphoreCount = 1,
        .pSignalSemaphores = &semaphore,
    };
    PV_CHECK(g, vkQueueSubmit(g->queue, 1, &info, fence));
}

static VkCommandBuffer begin(struct pv_guest *g, VkCommandPool pool)
{
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer cmd;
    PV_CHECK(g, vkAllocateCommandBuffers(g->device, &alloc, &cmd));
    VkCommandBufferBeginInfo info = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    PV_CHECK(g, vkBeginCommandBuffer(cmd, &info));
    return cmd;
}

static void transfer_barrier(VkCommandBuffer cmd)
{
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &barrier, 0, NULL, 0, NULL);
}

static unsigned count_mismatches(const uint32_t *words, uint32_t first, uint32_t count, uint32_t want)
{
    unsigned bad = 0;
    for (uint32_t i = first; i < first + count; i++)
        bad += words[i] != want;
    return bad;
}

int main(int argc, char **argv)
{
    /* Mesa 25's and 26's Venus vkSignalSemaphore sends the signal, then writes the value into
     * the semaphore's feedback slot; when the thread is preempted in between and the work the
     * signal releases signals a higher value meanwhile, the guest overwrites that value and
     * waits for it forever (seen under load, on any host). Phase 2 below does exactly that, so
     * the driver answers counter queries through the host instead (other drivers ignore it). */
    setenv("VN_PERF", "no_semaphore_feedback", 0);
    struct pv_guest g;
    VkPhysicalDeviceTimelineSemaphoreFeaturesKHR timeline_features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES_KHR,
        .timelineSemaphore = VK_TRUE,
    };
    const char *extensions[] = { VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME };
    struct pv_guest_options options = {
        .name = "timeline",
        .device_extensions = extensions,
        .device_extension_count = 1,
        .device_create_next = &timeline_features,
    };
    pv_guest_init(&g, &options, argc, argv);
    struct timeline_functions f = {
        .get_value = (PFN_vkGetSemaphoreCounterValueKHR)vkGetDeviceProcAddr(g.device, "vkGetSemaphoreCounterValueKHR"),
        .wait = (PFN_vkWaitSemaphoresKHR)vkGetDeviceProcAddr(g.device, "vkWaitSemaphoresKHR"),
        .signal = (PFN_vkSignalSemaphoreKHR)vkGetDeviceProcAddr(g.device, "vkSignalSemaphoreKHR"),
    };
    if (!f.get_value || !f.wait || !f.signal)
        pv_fatal(&g, "VK_KHR_timeline_semaphore entry points missing");

    struct pv_buffer a, b, c;
    VkBufferUsageFlags usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    pv_buffer_create(&g, &a, SIZE, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &b, SIZE, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &c, SIZE, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(a.map, 0, SIZE);
    memset(b.map, 0, SIZE);
    memset(c.map, 0, SIZE);
    pv_buffer_flush(&g, &a);
    pv_buffer_flush(&g, &b);
    pv_buffer_flush(&g, &c);

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .queueFamilyIndex = g.queue_family,
    };
    VkCommandPool pool;
    PV_CHECK(&g, vkCreateCommandPool(g.device, &pool_info, NULL, &pool));
    VkSemaphore timeline = create_timeline(&g, 0);
    VkSemaphore other = create_timeline(&g, 10);
    pv_expect(&g, counter(&g, &f, other) == 10, "initial value %llu, want 10",
              (unsigned long long)counter(&g, &f, other));

    /* Phase 1, queue to queue: S1 fills A and copies it to B, signals 1; S2 waits for 1, copies
     * B to C and overwrites C's first 256 words, signals 2. Submitted separately. */
    VkBufferCopy whole = { 0, 0, SIZE };
    VkCommandBuffer s1 = begin(&g, pool);
    vkCmdFillBuffer(s1, a.buffer, 0, SIZE, 0x11111111u);
    transfer_barrier(s1);
    vkCmdCopyBuffer(s1, a.buffer, b.buffer, 1, &whole);
    PV_CHECK(&g, vkEndCommandBuffer(s1));
    VkCommandBuffer s2 = begin(&g, pool);
    vkCmdCopyBuffer(s2, b.buffer, c.buffer, 1, &whole);
    transfer_barrier(s2);
    vkCmdFillBuffer(s2, c.buffer, 0, 256 * 4, 0x22222222u);
    transfer_barrier(s2);
    PV_CHECK(&g, vkEndCommandBuffer(s2));
    submit(&g, s1, timeline, 0, 1, VK_NULL_HANDLE);
    submit(&g, s2, timeline, 1, 2, VK_NULL_HANDLE);
    VkResult result = wait_value(&g, &f, timeline, 2, PV_WAIT_TIMEOUT_NS);
    pv_expect(&g, result == VK_SUCCESS, "waiting for value 2 returned %s", pv_result_name(result));
    uint64_t after_phase1 = counter(&g, &f, timeline);
    pv_expect(&g, after_phase1 == 2, "after phase 1 the counter is %llu, want 2", (unsigned long long)after_phase1);
    pv_buffer_invalidate(&g, &c);
    const uint32_t *cw = c.map;
    unsigned bad = count_mismatches(cw, 0, 256, 0x22222222u) + count_mismatches(cw, 256, WORDS - 256, 0x11111111u);
    pv_expect(&g, !bad, "phase 1: %u words of C wrong (C[0] %08x, C[256] %08x)", bad, cw[0], cw[256]);
    pv_digest_hash(&g, "phase1_c", c.map, SIZE);

    /* Phase 2, host to queue: S3 is submitted waiting for 3, which nobody has signalled yet.
     * It must not run until the host signals 3; then it fills A, copies A's second half to C
     * and signals 4. */
    VkCommandBuffer s3 = begin(&g, pool);
    vkCmdFillBuffer(s3, a.buffer, 0, SIZE, 0x33333333u);
    transfer_barrier(s3);
    VkBufferCopy half = { SIZE / 2, SIZE / 2, SIZE / 2 };
    vkCmdCopyBuffer(s3, a.buffer, c.buffer, 1, &half);
    transfer_barrier(s3);
    PV_CHECK(&g, vkEndCommandBuffer(s3));
    VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkFence fence;
    PV_CHECK(&g, vkCreateFence(g.device, &fence_info, NULL, &fence));
    submit(&g, s3, timeline, 3, 4, fence);
    result = wait_value(&g, &f, timeline, 4, 50ull * 1000 * 1000);
    pv_expect(&g, result == VK_TIMEOUT, "waiting for 4 before the host signalled 3 returned %s, want VK_TIMEOUT",
              pv_result_name(result));
    /* A guest that dies here (the host has seen the submission: the wait above timed out) leaves the host queue waiting for a value only it would signal:
     * tests/stack/guest_killed.sh checks that the host still tears the context down at once. */
    if (getenv("PV_TIMELINE_EXIT_WHILE_WAITING"))
        _exit(3);
    uint64_t before_signal = counter(&g, &f, timeline);
    pv_expect(&g, before_signal == 2, "before the host signal the counter is %llu, want 2",
              (unsigned long long)before_signal);
    pv_expect(&g, vkGetFenceStatus(g.device, fence) == VK_NOT_READY, "S3's fence signalled before its wait value");
    pv_buffer_invalidate(&g, &c);
    pv_expect(&g, cw[WORDS - 1] == 0x11111111u, "S3 ran before its wait value (C[last] %08x)", cw[WORDS - 1]);

    VkSemaphoreSignalInfoKHR signal = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO_KHR,
        .semaphore = timeline,
        .value = 3,
    };
    PV_CHECK(&g, f.signal(g.device, &signal));
    result = wait_value(&g, &f, timeline, 4, PV_WAIT_TIMEOUT_NS);
    pv_expect(&g, result == VK_SUCCESS, "waiting for value 4 returned %s", pv_result_name(result));
    pv_wait_fence(&g, fence);
    uint64_t after_phase2 = counter(&g, &f, timeline);
    pv_expect(&g, after_phase2 == 4, "after phase 2 the counter is %llu, want 4", (unsigned long long)after_phase2);
    pv_buffer_invalidate(&g, &c);
    bad = count_mismatches(cw, 0, 256, 0x22222222u) + count_mismatches(cw, 256, WORDS / 2 - 256, 0x11111111u) +
          count_mismatches(cw, WORDS / 2, WORDS / 2, 0x33333333u);
    pv_expect(&g, !bad, "phase 2: %u words of C wrong", bad);
    pv_digest_hash(&g, "phase2_c", c.map, SIZE);

    /* Phase 3, host waits: "any" over two semaphores returns once one of them gets there. */
    PV_CHECK(&g, f.signal(g.device, &(VkSemaphoreSignalInfoKHR){
                                        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO_KHR,
                                        .semaphore = other,
                                        .value = 11,
                                    }));
    VkSemaphore both[2] = { timeline, other };
    uint64_t both_values[2] = { 100, 11 };
    VkSemaphoreWaitInfoKHR any = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO_KHR,
        .flags = VK_SEMAPHORE_WAIT_ANY_BIT_KHR,
        .semaphoreCount = 2,
        .pSemaphores = both,
        .pValues = both_values,
    };
    result = f.wait(g.device, &any, PV_WAIT_TIMEOUT_NS);
    pv_expect(&g, result == VK_SUCCESS, "wait-any returned %s", pv_result_name(result));
    VkSemaphoreWaitInfoKHR all = any;
    all.flags = 0;
    result = f.wait(g.device, &all, 10ull * 1000 * 1000);
    pv_expect(&g, result == VK_TIMEOUT, "wait-all for a value never signalled returned %s, want VK_TIMEOUT",
              pv_result_name(result));
    pv_digest_text(&g, "counters", "%llu,%llu,%llu,%llu", (unsigned long long)after_phase1,
                   (unsigned long long)before_signal, (unsigned long long)after_phase2,
                   (unsigned long long)counter(&g, &f, other));

    vkDestroyFence(g.device, fence, NULL);
    vkDestroySemaphore(g.device, other, NULL);
    vkDestroySemaphore(g.device, timeline, NULL);
    vkDestroyCommandPool(g.device, pool, NULL);
    pv_buffer_destroy(&g, &c);
    pv_buffer_destroy(&g, &b);
    pv_buffer_destroy(&g, &a);
    return pv_guest_finish(&g);
}
