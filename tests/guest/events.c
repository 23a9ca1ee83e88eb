/* Events and host-side waits. Device to device (vkCmdSetEvent then vkCmdWaitEvents in one
 * command buffer, and across two submissions, on one and on two events), device to host
 * (vkCmdSetEvent / vkCmdResetEvent observed by vkGetEventStatus), host to device (a submission
 * waits in vkCmdWaitEvents for an event only the host sets, after writing the data the device
 * then copies; it must not run before), vkSetEvent / vkResetEvent / vkGetEventStatus statuses,
 * vkGetFenceStatus polling (signalled, unsignalled, pending, done) and vkQueueWaitIdle /
 * vkDeviceWaitIdle before reading results.
 *
 * The Venus driver answers vkGetEventStatus and vkGetFenceStatus from feedback slots in shared
 * memory by default, so those calls never reach the host. The program therefore runs twice: first
 * in a child process with VN_PERF=no_event_feedback,no_fence_feedback (the driver then forwards
 * vkGetEventStatus, vkSetEvent, vkResetEvent and vkGetFenceStatus to the host as calls), then in
 * the default configuration. Natively VN_PERF means nothing and both passes are the same. Digests
 * of the first pass are prefixed "nofeedback.". */
#include "pv_guest_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORDS 4096
#define SIZE (WORDS * 4)
/* Longest a step may take before the program calls it a hang (and exits: a hung queue would
 * also hang the teardown's vkDeviceWaitIdle). */
#define STEP_TIMEOUT_S 20.0

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static const char *status_name(VkResult r)
{
    return r == VK_EVENT_SET ? "SET" : r == VK_EVENT_RESET ? "RESET" : pv_result_name(r);
}

/* Polls vkGetFenceStatus until the fence signals; returns how many polls said VK_NOT_READY. */
static unsigned poll_fence(struct pv_guest *g, VkFence fence, const char *what)
{
    double deadline = pv_now_seconds() + STEP_TIMEOUT_S;
    unsigned not_ready = 0;
    for (;;) {
        VkResult r = vkGetFenceStatus(g->device, fence);
        if (r == VK_SUCCESS)
            return not_ready;
        if (r != VK_NOT_READY)
            pv_fatal(g, "%s: vkGetFenceStatus returned %s", what, pv_result_name(r));
        if (pv_now_seconds() > deadline)
            pv_fatal(g, "%s: fence not signalled after %.0f s of polling", what, STEP_TIMEOUT_S);
        not_ready++;
        sleep_ms(1);
    }
}

/* Polls vkGetEventStatus until it returns want. */
static void poll_event(struct pv_guest *g, VkEvent event, VkResult want, const char *what)
{
    double deadline = pv_now_seconds() + STEP_TIMEOUT_S;
    for (;;) {
        VkResult r = vkGetEventStatus(g->device, event);
        if (r == want)
            return;
        if (r != VK_EVENT_SET && r != VK_EVENT_RESET)
            pv_fatal(g, "%s: vkGetEventStatus returned %s", what, pv_result_name(r));
        if (pv_now_seconds() > deadline)
            pv_fatal(g, "%s: event still %s after %.0f s", what, status_name(r), STEP_TIMEOUT_S);
        sleep_ms(1);
    }
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
    VkCommandBufferBeginInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    PV_CHECK(g, vkBeginCommandBuffer(cmd, &info));
    return cmd;
}

static void submit(struct pv_guest *g, VkCommandBuffer cmd, VkFence fence)
{
    PV_CHECK(g, vkEndCommandBuffer(cmd));
    VkSubmitInfo info = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd };
    PV_CHECK(g, vkQueueSubmit(g->queue, 1, &info, fence));
}

/* Transfer writes before this point become visible to later transfers and to the host. */
static void transfer_to_host_barrier(VkCommandBuffer cmd)
{
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &barrier, 0, NULL, 0, NULL);
}

static unsigned mismatches(const uint32_t *words, uint32_t first, uint32_t count, uint32_t (*want)(uint32_t),
                           uint32_t constant)
{
    unsigned bad = 0;
    for (uint32_t i = first; i < first + count; i++)
        bad += words[i] != (want ? want(i) : constant);
    return bad;
}

static uint32_t host_pattern(uint32_t i)
{
    return i * 2654435761u ^ 0x0e0e0e0eu;
}

static int run(int argc, char **argv, const char *name, const char *prefix, int first_pass_status)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = name };
    pv_guest_init(&g, &options, argc, argv);
    pv_expect(&g, first_pass_status == 0,
              "the first pass (VN_PERF=no_event_feedback,no_fence_feedback) failed: wait status 0x%x",
              first_pass_status);
    char key[64];
#define KEY(k) (snprintf(key, sizeof(key), "%s%s", prefix, (k)), key)

    struct pv_buffer src, dst;
    VkBufferUsageFlags usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    pv_buffer_create(&g, &src, SIZE, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                     0);
    pv_buffer_create(&g, &dst, SIZE, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(src.map, 0, SIZE);
    memset(dst.map, 0, SIZE);
    uint32_t *dw = dst.map;
    uint32_t *sw = src.map;

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = g.queue_family,
    };
    VkCommandPool pool;
    PV_CHECK(&g, vkCreateCommandPool(g.device, &pool_info, NULL, &pool));
    VkEventCreateInfo event_info = { .sType = VK_STRUCTURE_TYPE_EVENT_CREATE_INFO };
    VkEvent ev, ev2;
    PV_CHECK(&g, vkCreateEvent(g.device, &event_info, NULL, &ev));
    PV_CHECK(&g, vkCreateEvent(g.device, &event_info, NULL, &ev2));
    VkFenceCreateInfo signalled_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO,
                                         .flags = VK_FENCE_CREATE_SIGNALED_BIT };
    VkFence fence;
    PV_CHECK(&g, vkCreateFence(g.device, &signalled_info, NULL, &fence));

    /* Statuses in order; the digest. */
    char statuses[512] = "";
#define RECORD(r) (strncat(statuses, status_name(r), sizeof(statuses) - strlen(statuses) - 2), \
                   strcat(statuses, ","))
    VkResult r;

    /* Fences: created signalled, then reset. */
    r = vkGetFenceStatus(g.device, fence);
    pv_expect(&g, r == VK_SUCCESS, "a fence created signalled: vkGetFenceStatus %s, want VK_SUCCESS", pv_result_name(r));
    RECORD(r);
    PV_CHECK(&g, vkResetFences(g.device, 1, &fence));
    r = vkGetFenceStatus(g.device, fence);
    pv_expect(&g, r == VK_NOT_READY, "a reset fence: vkGetFenceStatus %s, want VK_NOT_READY", pv_result_name(r));
    RECORD(r);

    /* Host statuses of a new event, host set, host reset. */
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "a new event is %s, want RESET", status_name(r));
    RECORD(r);
    PV_CHECK(&g, vkSetEvent(g.device, ev));
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_SET, "after vkSetEvent the event is %s, want SET", status_name(r));
    RECORD(r);
    PV_CHECK(&g, vkSetEvent(g.device, ev)); /* setting a set event keeps it set */
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_SET, "after a second vkSetEvent the event is %s, want SET", status_name(r));
    RECORD(r);
    PV_CHECK(&g, vkResetEvent(g.device, ev));
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "after vkResetEvent the event is %s, want RESET", status_name(r));
    RECORD(r);

    /* 1. Device to device in one command buffer: fill, set, wait, copy. The host then sees the
     * event set by the device. Fence polled. */
    VkMemoryBarrier transfer_barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
    };
    VkBufferCopy whole = { 0, 0, SIZE };
    VkCommandBuffer cmd = begin(&g, pool);
    vkCmdFillBuffer(cmd, src.buffer, 0, SIZE, 0xa1a1a1a1u);
    vkCmdSetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    vkCmdWaitEvents(cmd, 1, &ev, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 1, &transfer_barrier,
                    0, NULL, 0, NULL);
    vkCmdCopyBuffer(cmd, src.buffer, dst.buffer, 1, &whole);
    transfer_to_host_barrier(cmd);
    submit(&g, cmd, fence);
    poll_fence(&g, fence, "step 1");
    unsigned bad = mismatches(dw, 0, WORDS, NULL, 0xa1a1a1a1u);
    pv_expect(&g, !bad, "step 1 (set and wait in one command buffer): %u words wrong, dst[0] %08x", bad, dw[0]);
    pv_digest_hash(&g, KEY("step1"), dw, SIZE);
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_SET, "after vkCmdSetEvent completed the event is %s, want SET", status_name(r));
    RECORD(r);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd);

    /* 2. vkCmdResetEvent, seen by the host after vkQueueWaitIdle. */
    cmd = begin(&g, pool);
    vkCmdResetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    submit(&g, cmd, VK_NULL_HANDLE);
    PV_CHECK(&g, vkQueueWaitIdle(g.queue));
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "after vkCmdResetEvent completed the event is %s, want RESET", status_name(r));
    RECORD(r);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd);

    /* 3. Host to device: the submission waits for an event only the host sets, then copies src,
     * which the host writes just before setting the event. */
    PV_CHECK(&g, vkResetFences(g.device, 1, &fence));
    VkMemoryBarrier host_barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_HOST_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
    };
    cmd = begin(&g, pool);
    vkCmdWaitEvents(cmd, 1, &ev, VK_PIPELINE_STAGE_HOST_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 1, &host_barrier, 0,
                    NULL, 0, NULL);
    vkCmdCopyBuffer(cmd, src.buffer, dst.buffer, 1, &whole);
    transfer_to_host_barrier(cmd);
    submit(&g, cmd, fence);
    sleep_ms(50);
    r = vkGetFenceStatus(g.device, fence);
    pv_expect(&g, r == VK_NOT_READY, "step 3: the waiting submission's fence is %s before the host set the event, "
              "want VK_NOT_READY", pv_result_name(r));
    RECORD(r);
    pv_expect(&g, dw[0] == 0xa1a1a1a1u && dw[WORDS - 1] == 0xa1a1a1a1u,
              "step 3: the copy ran before the host set the event (dst[0] %08x)", dw[0]);
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "step 3: before vkSetEvent the event is %s, want RESET", status_name(r));
    RECORD(r);
    for (uint32_t i = 0; i < WORDS; i++)
        sw[i] = host_pattern(i);
    PV_CHECK(&g, vkSetEvent(g.device, ev));
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_SET, "step 3: after vkSetEvent the event is %s, want SET", status_name(r));
    RECORD(r);
    poll_fence(&g, fence, "step 3 (released by vkSetEvent)");
    bad = mismatches(dw, 0, WORDS, host_pattern, 0);
    pv_expect(&g, !bad, "step 3: %u words of the host's data wrong after the copy, dst[1] %08x want %08x", bad, dw[1],
              host_pattern(1));
    pv_digest_hash(&g, KEY("step3"), dw, SIZE);
    PV_CHECK(&g, vkResetEvent(g.device, ev));
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "step 3: after vkResetEvent the event is %s, want RESET", status_name(r));
    RECORD(r);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd);

    /* 4. Two events across two submissions: the first fills two halves and sets one event after
     * each; the second waits on both and copies; vkDeviceWaitIdle before reading. The host sees
     * both events set and polls vkGetEventStatus for the second before waiting. */
    cmd = begin(&g, pool);
    vkCmdFillBuffer(cmd, src.buffer, 0, SIZE / 2, 0x44444444u);
    vkCmdSetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    vkCmdFillBuffer(cmd, src.buffer, SIZE / 2, SIZE / 2, 0x55555555u);
    vkCmdSetEvent(cmd, ev2, VK_PIPELINE_STAGE_TRANSFER_BIT);
    submit(&g, cmd, VK_NULL_HANDLE);
    VkCommandBuffer cmd2 = begin(&g, pool);
    VkEvent both[2] = { ev, ev2 };
    vkCmdWaitEvents(cmd2, 2, both, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 1,
                    &transfer_barrier, 0, NULL, 0, NULL);
    VkBufferCopy swap[2] = { { 0, SIZE / 2, SIZE / 2 }, { SIZE / 2, 0, SIZE / 2 } };
    vkCmdCopyBuffer(cmd2, src.buffer, dst.buffer, 2, swap);
    transfer_to_host_barrier(cmd2);
    submit(&g, cmd2, VK_NULL_HANDLE);
    poll_event(&g, ev2, VK_EVENT_SET, "step 4");
    PV_CHECK(&g, vkDeviceWaitIdle(g.device));
    bad = mismatches(dw, 0, WORDS / 2, NULL, 0x55555555u) + mismatches(dw, WORDS / 2, WORDS / 2, NULL, 0x44444444u);
    pv_expect(&g, !bad, "step 4 (two events, two submissions): %u words wrong, dst[0] %08x dst[last] %08x", bad, dw[0],
              dw[WORDS - 1]);
    pv_digest_hash(&g, KEY("step4"), dw, SIZE);
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_SET, "step 4: the first event is %s, want SET", status_name(r));
    RECORD(r);
    r = vkGetEventStatus(g.device, ev2);
    pv_expect(&g, r == VK_EVENT_SET, "step 4: the second event is %s, want SET", status_name(r));
    RECORD(r);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd2);

    /* 5. The device resets one event and sets it again later in the same command buffer; the host
     * resets the other. Fence polled. */
    PV_CHECK(&g, vkResetFences(g.device, 1, &fence));
    PV_CHECK(&g, vkResetEvent(g.device, ev2));
    cmd = begin(&g, pool);
    vkCmdResetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    vkCmdFillBuffer(cmd, dst.buffer, 0, 256, 0x66666666u);
    vkCmdSetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    vkCmdWaitEvents(cmd, 1, &ev, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 1, &transfer_barrier,
                    0, NULL, 0, NULL);
    vkCmdCopyBuffer(cmd, dst.buffer, dst.buffer, 1, &(VkBufferCopy){ 0, SIZE - 256, 256 });
    vkCmdResetEvent(cmd, ev, VK_PIPELINE_STAGE_TRANSFER_BIT);
    transfer_to_host_barrier(cmd);
    submit(&g, cmd, fence);
    poll_fence(&g, fence, "step 5");
    bad = mismatches(dw, 0, 64, NULL, 0x66666666u) + mismatches(dw, 64, WORDS / 2 - 64, NULL, 0x55555555u) +
          mismatches(dw, WORDS / 2, WORDS / 2 - 64, NULL, 0x44444444u) +
          mismatches(dw, WORDS - 64, 64, NULL, 0x66666666u);
    pv_expect(&g, !bad, "step 5 (reset, set, wait, reset in one command buffer): %u words wrong", bad);
    pv_digest_hash(&g, KEY("step5"), dw, SIZE);
    r = vkGetEventStatus(g.device, ev);
    pv_expect(&g, r == VK_EVENT_RESET, "step 5: the device-reset event is %s, want RESET", status_name(r));
    RECORD(r);
    r = vkGetEventStatus(g.device, ev2);
    pv_expect(&g, r == VK_EVENT_RESET, "step 5: the host-reset event is %s, want RESET", status_name(r));
    RECORD(r);
    vkFreeCommandBuffers(g.device, pool, 1, &cmd);

    statuses[strlen(statuses) - 1] = '\0';
    pv_digest_text(&g, KEY("statuses"), "%s", statuses);

    vkDestroyFence(g.device, fence, NULL);
    vkDestroyEvent(g.device, ev2, NULL);
    vkDestroyEvent(g.device, ev, NULL);
    vkDestroyCommandPool(g.device, pool, NULL);
    pv_buffer_destroy(&g, &dst);
    pv_buffer_destroy(&g, &src);
    return pv_guest_finish(&g);
#undef KEY
#undef RECORD
}

int main(int argc, char **argv)
{
    /* The first pass, in a child (the driver reads VN_PERF once per process). */
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        const char *perf = getenv("VN_PERF");
        char value[256];
        snprintf(value, sizeof(value), "%s%sno_event_feedback,no_fence_feedback", perf ? perf : "",
                 perf && *perf ? "," : "");
        setenv("VN_PERF", value, 1);
        exit(run(argc, argv, "events-nofeedback", "nofeedback.", 0));
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        ;
    /* The first pass's failure fails this one (and so the program) too. */
    return run(argc, argv, "events", "", status);
}
