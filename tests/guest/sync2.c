/* Vulkan 1.3 core, as current guests offer it (the 2022 one too, since this host emulates the
 * sync-file semaphores they tie synchronization2 to): vkQueueSubmit2 with timeline and binary
 * semaphores between batches and the host, vkCmdPipelineBarrier2 on images and buffers,
 * vkCmdSetEvent2/vkCmdWaitEvents2, vkCmdBeginRendering/vkCmdEndRendering with a clear inside
 * the rendering, vkCmdWriteTimestamp2, and maintenance4's requirement queries, all through the
 * core entry points. Digests: the image and buffer contents, the timeline values, whether the
 * requirements agree. */
#include "pv_guest_util.h"

#include <stdio.h>
#include <string.h>

#define SIZE 64
#define WORDS 1024

static void image_barrier2(VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to,
                           VkPipelineStageFlags2 src_stage, VkAccessFlags2 src_access,
                           VkPipelineStageFlags2 dst_stage, VkAccessFlags2 dst_access)
{
    const VkImageMemoryBarrier2 barrier = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2,
        .srcStageMask = src_stage,
        .srcAccessMask = src_access,
        .dstStageMask = dst_stage,
        .dstAccessMask = dst_access,
        .oldLayout = from,
        .newLayout = to,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .image = image,
        .subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
    };
    const VkDependencyInfo dependency = {
        .sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO,
        .imageMemoryBarrierCount = 1,
        .pImageMemoryBarriers = &barrier,
    };
    vkCmdPipelineBarrier2(cmd, &dependency);
}

static VkDependencyInfo buffer_dependency(VkBufferMemoryBarrier2 *barrier, VkBuffer buffer,
                                          VkPipelineStageFlags2 src_stage, VkAccessFlags2 src_access,
                                          VkPipelineStageFlags2 dst_stage, VkAccessFlags2 dst_access)
{
    *barrier = (VkBufferMemoryBarrier2){
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER_2,
        .srcStageMask = src_stage,
        .srcAccessMask = src_access,
        .dstStageMask = dst_stage,
        .dstAccessMask = dst_access,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = buffer,
        .size = VK_WHOLE_SIZE,
    };
    return (VkDependencyInfo){
        .sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO,
        .bufferMemoryBarrierCount = 1,
        .pBufferMemoryBarriers = barrier,
    };
}

/* One vkQueueSubmit2 batch: a command buffer (or none), waits and signals on semaphores. */
static void submit2(struct pv_guest *g, VkCommandBuffer cmd, const VkSemaphoreSubmitInfo *waits,
                    uint32_t wait_count, const VkSemaphoreSubmitInfo *signals, uint32_t signal_count,
                    VkFence fence)
{
    const VkCommandBufferSubmitInfo command = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_SUBMIT_INFO,
        .commandBuffer = cmd,
    };
    const VkSubmitInfo2 submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO_2,
        .waitSemaphoreInfoCount = wait_count,
        .pWaitSemaphoreInfos = waits,
        .commandBufferInfoCount = cmd ? 1 : 0,
        .pCommandBufferInfos = cmd ? &command : NULL,
        .signalSemaphoreInfoCount = signal_count,
        .pSignalSemaphoreInfos = signals,
    };
    PV_CHECK(g, vkQueueSubmit2(g->queue, 1, &submit, fence));
}

static VkSemaphoreSubmitInfo on(VkSemaphore semaphore, uint64_t value, VkPipelineStageFlags2 stage)
{
    return (VkSemaphoreSubmitInfo){
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SUBMIT_INFO,
        .semaphore = semaphore,
        .value = value,
        .stageMask = stage,
    };
}

static uint64_t counter(struct pv_guest *g, VkSemaphore semaphore)
{
    uint64_t value = 0;
    PV_CHECK(g, vkGetSemaphoreCounterValue(g->device, semaphore, &value));
    return value;
}

static void wait_value(struct pv_guest *g, VkSemaphore semaphore, uint64_t value)
{
    const VkSemaphoreWaitInfo info = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
        .semaphoreCount = 1,
        .pSemaphores = &semaphore,
        .pValues = &value,
    };
    PV_CHECK(g, vkWaitSemaphores(g->device, &info, PV_WAIT_TIMEOUT_NS));
}

/* maintenance4: what a buffer and an image would need, asked before they exist, against what
 * the created ones need. */
static void check_requirements(struct pv_guest *g)
{
    const VkBufferCreateInfo buffer_info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = 3 * 65536 + 12,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    };
    const VkImageCreateInfo image_info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
        .imageType = VK_IMAGE_TYPE_2D,
        .format = VK_FORMAT_R8G8B8A8_UNORM,
        .extent = { 100, 60, 1 },
        .mipLevels = 3,
        .arrayLayers = 2,
        .samples = VK_SAMPLE_COUNT_1_BIT,
        .tiling = VK_IMAGE_TILING_OPTIMAL,
        .usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT,
    };
    const VkDeviceBufferMemoryRequirements buffer_query = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_BUFFER_MEMORY_REQUIREMENTS,
        .pCreateInfo = &buffer_info,
    };
    const VkDeviceImageMemoryRequirements image_query = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_IMAGE_MEMORY_REQUIREMENTS,
        .pCreateInfo = &image_info,
        .planeAspect = VK_IMAGE_ASPECT_COLOR_BIT,
    };
    VkMemoryRequirements2 early_buffer = { .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2 };
    VkMemoryRequirements2 early_image = { .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2 };
    vkGetDeviceBufferMemoryRequirements(g->device, &buffer_query, &early_buffer);
    vkGetDeviceImageMemoryRequirements(g->device, &image_query, &early_image);

    VkBuffer buffer;
    VkImage image;
    PV_CHECK(g, vkCreateBuffer(g->device, &buffer_info, NULL, &buffer));
    PV_CHECK(g, vkCreateImage(g->device, &image_info, NULL, &image));
    VkMemoryRequirements buffer_req, image_req;
    vkGetBufferMemoryRequirements(g->device, buffer, &buffer_req);
    vkGetImageMemoryRequirements(g->device, image, &image_req);
    vkDestroyImage(g->device, image, NULL);
    vkDestroyBuffer(g->device, buffer, NULL);

    const VkMemoryRequirements *eb = &early_buffer.memoryRequirements;
    const VkMemoryRequirements *ei = &early_image.memoryRequirements;
    bool buffer_same = eb->size == buffer_req.size && eb->alignment == buffer_req.alignment &&
                       eb->memoryTypeBits == buffer_req.memoryTypeBits;
    bool image_same = ei->size == image_req.size && ei->alignment == image_req.alignment &&
                      ei->memoryTypeBits == image_req.memoryTypeBits;
    pv_expect(g, buffer_same, "buffer requirements before creation (%llu, %llu, 0x%x) differ from "
              "after (%llu, %llu, 0x%x)", (unsigned long long)eb->size, (unsigned long long)eb->alignment,
              eb->memoryTypeBits, (unsigned long long)buffer_req.size,
              (unsigned long long)buffer_req.alignment, buffer_req.memoryTypeBits);
    pv_expect(g, image_same, "image requirements before creation (%llu) differ from after (%llu)",
              (unsigned long long)ei->size, (unsigned long long)image_req.size);
    /* Sizes as info only: the Venus driver rounds buffer sizes up to their alignment itself
     * (its requirement cache), which the host driver need not. */
    pv_info(g, "requirements: buffer %llu, image %llu bytes", (unsigned long long)buffer_req.size,
            (unsigned long long)image_req.size);
    pv_digest_text(g, "maintenance4_requirements", "buffer same %d, image same %d", buffer_same,
                   image_same);
}

int main(int argc, char **argv)
{
    VkPhysicalDeviceVulkan12Features features12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .timelineSemaphore = VK_TRUE,
    };
    VkPhysicalDeviceVulkan13Features features13 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
        .pNext = &features12,
        .synchronization2 = VK_TRUE,
        .dynamicRendering = VK_TRUE,
        .maintenance4 = VK_TRUE,
    };
    struct pv_guest g;
    struct pv_guest_options options = {
        .name = "sync2",
        .device_create_next = &features13,
        .api_version = VK_API_VERSION_1_3,
    };
    pv_guest_init(&g, &options, argc, argv);

    struct pv_image color;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
                        VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT);
    const VkDeviceSize image_bytes = pv_image_level_size(&color, 0);
    struct pv_buffer source, result;
    pv_buffer_create(&g, &source, WORDS * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                     VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    pv_buffer_create(&g, &result, image_bytes + WORDS * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(result.map, 0x5a, result.size);
    pv_buffer_flush(&g, &result);

    const VkSemaphoreTypeCreateInfo timeline_type = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
        .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
        .initialValue = 0,
    };
    const VkSemaphoreCreateInfo timeline_info = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
        .pNext = &timeline_type,
    };
    const VkSemaphoreCreateInfo binary_info = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO };
    VkSemaphore timeline, binary;
    PV_CHECK(&g, vkCreateSemaphore(g.device, &timeline_info, NULL, &timeline));
    PV_CHECK(&g, vkCreateSemaphore(g.device, &binary_info, NULL, &binary));
    const VkEventCreateInfo event_info = { .sType = VK_STRUCTURE_TYPE_EVENT_CREATE_INFO,
                                           .flags = VK_EVENT_CREATE_DEVICE_ONLY_BIT };
    VkEvent event;
    PV_CHECK(&g, vkCreateEvent(g.device, &event_info, NULL, &event));
    const VkQueryPoolCreateInfo query_info = {
        .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
        .queryType = VK_QUERY_TYPE_TIMESTAMP,
        .queryCount = 2,
    };
    VkQueryPool queries;
    PV_CHECK(&g, vkCreateQueryPool(g.device, &query_info, NULL, &queries));

    /* Batch 1: clear the image, then render into it with a clear of its middle inside dynamic
     * rendering; fill the source buffer and order it with an event. Signals timeline 1 and the
     * binary semaphore. */
    VkCommandBuffer first = pv_one_shot_begin(&g);
    vkCmdResetQueryPool(first, queries, 0, 2);
    vkCmdWriteTimestamp2(first, VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, queries, 0);
    image_barrier2(first, color.image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                   VK_PIPELINE_STAGE_2_NONE, VK_ACCESS_2_NONE, VK_PIPELINE_STAGE_2_CLEAR_BIT,
                   VK_ACCESS_2_TRANSFER_WRITE_BIT);
    const VkClearColorValue background = { .float32 = { 0.0f, 0.25f, 0.5f, 1.0f } };
    const VkImageSubresourceRange range = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 };
    vkCmdClearColorImage(first, color.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &background, 1, &range);
    image_barrier2(first, color.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                   VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, VK_PIPELINE_STAGE_2_CLEAR_BIT,
                   VK_ACCESS_2_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT,
                   VK_ACCESS_2_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT);
    const VkRenderingAttachmentInfo attachment = {
        .sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO,
        .imageView = color.view,
        .imageLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
        .loadOp = VK_ATTACHMENT_LOAD_OP_LOAD,
        .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
    };
    const VkRenderingInfo rendering = {
        .sType = VK_STRUCTURE_TYPE_RENDERING_INFO,
        .renderArea = { { 0, 0 }, { SIZE, SIZE } },
        .layerCount = 1,
        .colorAttachmentCount = 1,
        .pColorAttachments = &attachment,
    };
    vkCmdBeginRendering(first, &rendering);
    const VkClearAttachment middle = {
        .aspectMask = VK_IMAGE_ASPECT_COLOR_BIT,
        .colorAttachment = 0,
        .clearValue.color = { .float32 = { 1.0f, 0.5f, 0.0f, 1.0f } },
    };
    const VkClearRect rect = { { { SIZE / 4, SIZE / 4 }, { SIZE / 2, SIZE / 4 } }, 0, 1 };
    vkCmdClearAttachments(first, 1, &middle, 1, &rect);
    vkCmdEndRendering(first);
    vkCmdFillBuffer(first, source.buffer, 0, WORDS * 4, 0x0badf00d);
    vkCmdFillBuffer(first, source.buffer, 256, 512, 0x600df00d);
    VkBufferMemoryBarrier2 fill_barrier;
    const VkDependencyInfo after_fill = buffer_dependency(&fill_barrier, source.buffer,
                                                          VK_PIPELINE_STAGE_2_CLEAR_BIT,
                                                          VK_ACCESS_2_TRANSFER_WRITE_BIT,
                                                          VK_PIPELINE_STAGE_2_COPY_BIT,
                                                          VK_ACCESS_2_TRANSFER_READ_BIT);
    vkCmdSetEvent2(first, event, &after_fill);
    PV_CHECK(&g, vkEndCommandBuffer(first));
    VkSemaphoreSubmitInfo signals[2] = {
        on(timeline, 1, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT),
        on(binary, 0, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT),
    };
    submit2(&g, first, NULL, 0, signals, 2, VK_NULL_HANDLE);

    /* Batch 2: waits for timeline 1 and the binary semaphore, waits for the event, copies the
     * image and the buffer out. Signals timeline 2. */
    VkCommandBuffer second = pv_one_shot_begin(&g);
    VkBufferMemoryBarrier2 wait_barrier;
    const VkDependencyInfo wait_fill = buffer_dependency(&wait_barrier, source.buffer,
                                                         VK_PIPELINE_STAGE_2_CLEAR_BIT,
                                                         VK_ACCESS_2_TRANSFER_WRITE_BIT,
                                                         VK_PIPELINE_STAGE_2_COPY_BIT,
                                                         VK_ACCESS_2_TRANSFER_READ_BIT);
    vkCmdWaitEvents2(second, 1, &event, &wait_fill);
    image_barrier2(second, color.image, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
                   VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT,
                   VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT, VK_PIPELINE_STAGE_2_COPY_BIT,
                   VK_ACCESS_2_TRANSFER_READ_BIT);
    pv_cmd_copy_image_to_buffer(second, &color, 0, result.buffer, 0);
    const VkBufferCopy2 region = { .sType = VK_STRUCTURE_TYPE_BUFFER_COPY_2, .srcOffset = 0,
                                   .dstOffset = image_bytes, .size = WORDS * 4 };
    const VkCopyBufferInfo2 copy = {
        .sType = VK_STRUCTURE_TYPE_COPY_BUFFER_INFO_2,
        .srcBuffer = source.buffer,
        .dstBuffer = result.buffer,
        .regionCount = 1,
        .pRegions = &region,
    };
    vkCmdCopyBuffer2(second, &copy);
    VkBufferMemoryBarrier2 host_barrier;
    const VkDependencyInfo to_host = buffer_dependency(&host_barrier, result.buffer,
                                                       VK_PIPELINE_STAGE_2_COPY_BIT,
                                                       VK_ACCESS_2_TRANSFER_WRITE_BIT,
                                                       VK_PIPELINE_STAGE_2_HOST_BIT,
                                                       VK_ACCESS_2_HOST_READ_BIT);
    vkCmdPipelineBarrier2(second, &to_host);
    vkCmdWriteTimestamp2(second, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT, queries, 1);
    PV_CHECK(&g, vkEndCommandBuffer(second));
    VkSemaphoreSubmitInfo waits[2] = {
        on(timeline, 1, VK_PIPELINE_STAGE_2_COPY_BIT),
        on(binary, 0, VK_PIPELINE_STAGE_2_COPY_BIT),
    };
    VkSemaphoreSubmitInfo done = on(timeline, 2, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT);
    submit2(&g, second, waits, 2, &done, 1, VK_NULL_HANDLE);
    wait_value(&g, timeline, 2);
    uint64_t after_copies = counter(&g, timeline);

    /* Batch 3 waits on a value only the host signals, and moves the timeline on by itself. */
    VkSemaphoreSubmitInfo host_wait = on(timeline, 3, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT);
    VkSemaphoreSubmitInfo last = on(timeline, 7, VK_PIPELINE_STAGE_2_ALL_COMMANDS_BIT);
    VkFence fence;
    const VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    PV_CHECK(&g, vkCreateFence(g.device, &fence_info, NULL, &fence));
    submit2(&g, VK_NULL_HANDLE, &host_wait, 1, &last, 1, fence);
    uint64_t before_host = counter(&g, timeline);
    const VkSemaphoreSignalInfo signal = {
        .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO,
        .semaphore = timeline,
        .value = 3,
    };
    PV_CHECK(&g, vkSignalSemaphore(g.device, &signal));
    pv_wait_fence(&g, fence);
    wait_value(&g, timeline, 7);
    uint64_t at_end = counter(&g, timeline);
    pv_expect(&g, after_copies == 2 && before_host == 2 && at_end == 7,
              "timeline values %llu, %llu, %llu; expected 2, 2, 7", (unsigned long long)after_copies,
              (unsigned long long)before_host, (unsigned long long)at_end);
    pv_digest_text(&g, "timeline", "%llu,%llu,%llu", (unsigned long long)after_copies,
                   (unsigned long long)before_host, (unsigned long long)at_end);

    uint64_t stamps[2] = { 0, 0 };
    PV_CHECK(&g, vkGetQueryPoolResults(g.device, queries, 0, 2, sizeof(stamps), stamps, sizeof(stamps[0]),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    pv_expect(&g, stamps[1] >= stamps[0], "timestamps go backwards: %llu then %llu",
              (unsigned long long)stamps[0], (unsigned long long)stamps[1]);
    pv_digest_text(&g, "timestamps", "ordered %d", stamps[1] >= stamps[0]);

    /* The image: the background with the middle cleared inside the rendering. */
    pv_buffer_invalidate(&g, &result);
    const uint8_t *texels = result.map;
    const uint8_t back[4] = { 0, 64, 128, 255 }, front[4] = { 255, 128, 0, 255 };
    unsigned wrong = 0;
    for (uint32_t y = 0; y < SIZE; y++) {
        for (uint32_t x = 0; x < SIZE; x++) {
            bool inside = x >= SIZE / 4 && x < SIZE / 4 + SIZE / 2 && y >= SIZE / 4 && y < SIZE / 2;
            wrong += memcmp(texels + 4 * (y * SIZE + x), inside ? front : back, 4) != 0;
        }
    }
    pv_expect(&g, wrong == 0, "%u texels are not what the clears made", wrong);
    pv_digest_hash(&g, "image", texels, image_bytes);
    pv_dump_ppm(&g, "sync2.ppm", texels, SIZE, SIZE);
    const uint32_t *words = (const uint32_t *)(texels + image_bytes);
    unsigned bad_words = 0;
    for (uint32_t i = 0; i < WORDS; i++)
        bad_words += words[i] != (i >= 64 && i < 192 ? 0x600df00du : 0x0badf00du);
    pv_expect(&g, bad_words == 0, "%u words of the copied buffer are wrong", bad_words);
    pv_digest_hash(&g, "buffer", words, WORDS * 4);

    check_requirements(&g);

    vkDestroyFence(g.device, fence, NULL);
    vkDestroyQueryPool(g.device, queries, NULL);
    vkDestroyEvent(g.device, event, NULL);
    vkDestroySemaphore(g.device, binary, NULL);
    vkDestroySemaphore(g.device, timeline, NULL);
    VkCommandBuffer buffers[2] = { first, second };
    vkFreeCommandBuffers(g.device, g.command_pool, 2, buffers);
    pv_buffer_destroy(&g, &result);
    pv_buffer_destroy(&g, &source);
    pv_image_destroy(&g, &color);
    return pv_guest_finish(&g);
}
