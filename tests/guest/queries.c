/* Occlusion and timestamp queries. Pixel-aligned rectangles at known depths, each in its own
 * precise occlusion query, give exact sample counts (front, partly hidden, fully hidden, empty,
 * in front of everything); timestamps written around the draws and in a second submission must
 * be monotonic. Results are read with vkGetQueryPoolResults (waiting, and with availability) and
 * with vkCmdCopyQueryPoolResults, which must agree. */
#include "pv_guest_util.h"

#include <string.h>

#define SIZE 64
#define OCCLUSION_QUERIES 5
#define TIMESTAMPS 8

struct vertex {
    float position[3];
    float color[3];
};

struct rect {
    int x0, y0, x1, y1; /* pixels, half-open */
    float depth;
};

/* Q0 front; Q1 behind Q0 where they overlap (16x16); Q2 entirely behind Q0; Q3 no draw; Q4 in
 * front of everything. */
static const struct rect rects[OCCLUSION_QUERIES] = {
    { 8, 8, 40, 40, 0.5f },
    { 24, 24, 56, 56, 0.7f },
    { 12, 12, 36, 36, 0.9f },
    { 0, 0, 0, 0, 0.0f },
    { 0, 48, 64, 64, 0.1f },
};
static const uint64_t expected_samples[OCCLUSION_QUERIES] = { 32 * 32, 32 * 32 - 16 * 16, 0, 0, 64 * 16 };

static void rect_vertices(const struct rect *r, struct vertex out[6])
{
    float x0 = r->x0 * 2.0f / SIZE - 1.0f, x1 = r->x1 * 2.0f / SIZE - 1.0f;
    float y0 = r->y0 * 2.0f / SIZE - 1.0f, y1 = r->y1 * 2.0f / SIZE - 1.0f;
    const float corners[6][2] = { { x0, y0 }, { x1, y0 }, { x1, y1 }, { x0, y0 }, { x1, y1 }, { x0, y1 } };
    for (int i = 0; i < 6; i++) {
        out[i] = (struct vertex){ { corners[i][0], corners[i][1], r->depth }, { r->depth, 1.0f - r->depth, 0.5f } };
    }
}

static VkQueryPool create_pool(struct pv_guest *g, VkQueryType type, uint32_t count)
{
    VkQueryPoolCreateInfo info = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = type,
                                   .queryCount = count };
    VkQueryPool pool;
    PV_CHECK(g, vkCreateQueryPool(g->device, &info, NULL, &pool));
    return pool;
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    VkPhysicalDeviceFeatures features = { .occlusionQueryPrecise = VK_TRUE };
    struct pv_guest_options options = { .name = "queries", .features = &features };
    pv_guest_init(&g, &options, argc, argv);
    uint32_t valid_bits = g.queue_family_properties.timestampValidBits;
    if (!valid_bits)
        pv_fatal(&g, "the queue family has no timestamps (timestampValidBits 0)");
    const uint64_t mask = valid_bits >= 64 ? ~0ull : (1ull << valid_bits) - 1;

    struct vertex vertices[OCCLUSION_QUERIES * 6];
    for (int i = 0; i < OCCLUSION_QUERIES; i++)
        rect_vertices(&rects[i], vertices + i * 6);
    struct pv_buffer vertex_buffer;
    pv_buffer_create(&g, &vertex_buffer, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vertex_buffer.map, vertices, sizeof(vertices));
    pv_buffer_flush(&g, &vertex_buffer);

    struct pv_image color, depth;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    pv_image_create(&g, &depth, pv_depth_format(&g), SIZE, SIZE, 1, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT);
    VkRenderPass pass = pv_render_pass_create(&g, color.format, depth.format, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&g, pass, &color, &depth);
    VkPipelineLayout layout = pv_pipeline_layout_create(&g, NULL, 0, 0, 0);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv",
        .fragment_shader = "triangle.frag.spv",
        .bindings = &binding,
        .binding_count = 1,
        .attributes = attributes,
        .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
        .layout = layout,
        .render_pass = pass,
        .depth_test = true,
        .cull_mode = VK_CULL_MODE_NONE,
        .width = SIZE,
        .height = SIZE,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&g, &desc);

    VkQueryPool occlusion = create_pool(&g, VK_QUERY_TYPE_OCCLUSION, OCCLUSION_QUERIES);
    VkQueryPool timestamps = create_pool(&g, VK_QUERY_TYPE_TIMESTAMP, TIMESTAMPS);
    struct pv_buffer copied;
    pv_buffer_create(&g, &copied, OCCLUSION_QUERIES * 2 * sizeof(uint64_t), VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(copied.map, 0xee, copied.size);
    pv_buffer_flush(&g, &copied);

    /* Submission 1: timestamps 0..5 around the draws, then the occlusion results copied out. */
    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    vkCmdResetQueryPool(cmd, occlusion, 0, OCCLUSION_QUERIES);
    vkCmdResetQueryPool(cmd, timestamps, 0, TIMESTAMPS);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps, 0);
    VkClearValue clears[2] = { { .color = { .float32 = { 0, 0, 0, 1 } } }, { .depthStencil = { 1.0f, 0 } } };
    VkRenderPassBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
        .renderPass = pass,
        .framebuffer = framebuffer,
        .renderArea = { { 0, 0 }, { SIZE, SIZE } },
        .clearValueCount = 2,
        .pClearValues = clears,
    };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vertex_buffer.buffer, &offset);
    for (uint32_t q = 0; q < OCCLUSION_QUERIES; q++) {
        vkCmdBeginQuery(cmd, occlusion, q, VK_QUERY_CONTROL_PRECISE_BIT);
        if (rects[q].x1 > rects[q].x0)
            vkCmdDraw(cmd, 6, 1, q * 6, 0);
        vkCmdEndQuery(cmd, occlusion, q);
        if (q == 1 || q == 2 || q == 4)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, q == 1 ? 1 : q == 2 ? 2 : 3);
    }
    vkCmdEndRenderPass(cmd);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, 4);
    vkCmdCopyQueryPoolResults(cmd, occlusion, 0, OCCLUSION_QUERIES, copied.buffer, 0, 2 * sizeof(uint64_t),
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT |
                                  VK_QUERY_RESULT_WITH_AVAILABILITY_BIT);
    pv_cmd_buffer_barrier(cmd, copied.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, 5);
    double host_start = pv_now_seconds();
    pv_one_shot_end(&g, cmd);

    /* Submission 2, after the first completed: two more timestamps. */
    cmd = pv_one_shot_begin(&g);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps, 6);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, 7);
    pv_one_shot_end(&g, cmd);
    double host_elapsed = pv_now_seconds() - host_start;

    uint64_t samples[OCCLUSION_QUERIES];
    PV_CHECK(&g, vkGetQueryPoolResults(g.device, occlusion, 0, OCCLUSION_QUERIES, sizeof(samples), samples,
                                       sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    uint64_t with_availability[OCCLUSION_QUERIES][2];
    PV_CHECK(&g, vkGetQueryPoolResults(g.device, occlusion, 0, OCCLUSION_QUERIES, sizeof(with_availability),
                                       with_availability, sizeof(with_availability[0]),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WITH_AVAILABILITY_BIT));
    pv_buffer_invalidate(&g, &copied);
    const uint64_t *copied_values = copied.map;
    for (uint32_t q = 0; q < OCCLUSION_QUERIES; q++) {
        pv_expect(&g, samples[q] == expected_samples[q], "occlusion query %u: %llu samples, want %llu", q,
                  (unsigned long long)samples[q], (unsigned long long)expected_samples[q]);
        pv_expect(&g, with_availability[q][0] == samples[q] && with_availability[q][1] == 1,
                  "occlusion query %u with availability: %llu, available %llu", q,
                  (unsigned long long)with_availability[q][0], (unsigned long long)with_availability[q][1]);
        pv_expect(&g, copied_values[2 * q] == samples[q] && copied_values[2 * q + 1] == 1,
                  "occlusion query %u copied by the device: %llu, available %llu", q,
                  (unsigned long long)copied_values[2 * q], (unsigned long long)copied_values[2 * q + 1]);
    }

    uint64_t stamps[TIMESTAMPS];
    PV_CHECK(&g, vkGetQueryPoolResults(g.device, timestamps, 0, TIMESTAMPS, sizeof(stamps), stamps, sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    unsigned backwards = 0;
    for (int i = 0; i < TIMESTAMPS; i++) {
        stamps[i] &= mask;
        if (i && stamps[i] < stamps[i - 1] && !backwards++)
            pv_expect(&g, false, "timestamp %d (%llu) is before timestamp %d (%llu)", i, (unsigned long long)stamps[i],
                      i - 1, (unsigned long long)stamps[i - 1]);
    }
    pv_expect(&g, !backwards, "%u timestamps went backwards", backwards);
    /* The second submission began after the first had completed on the device. */
    pv_expect(&g, stamps[6] > stamps[5], "second submission's timestamp %llu is not after the first's %llu",
              (unsigned long long)stamps[6], (unsigned long long)stamps[5]);
    double device_ns = (double)(stamps[TIMESTAMPS - 1] - stamps[0]) * g.properties.limits.timestampPeriod;
    pv_info(&g, "timestamps span %.0f ns (period %g ns, %u valid bits); host measured %.0f ns", device_ns,
            (double)g.properties.limits.timestampPeriod, valid_bits, host_elapsed * 1e9);
    pv_expect(&g, device_ns > 0 && device_ns < host_elapsed * 1e9 + 1e9,
              "timestamps span %.0f ns, host measured %.0f ns", device_ns, host_elapsed * 1e9);

    pv_digest_text(&g, "occlusion_samples", "%llu,%llu,%llu,%llu,%llu", (unsigned long long)samples[0],
                   (unsigned long long)samples[1], (unsigned long long)samples[2], (unsigned long long)samples[3],
                   (unsigned long long)samples[4]);
    pv_digest_text(&g, "timestamps", "%d monotonic", TIMESTAMPS);

    vkDestroyQueryPool(g.device, timestamps, NULL);
    vkDestroyQueryPool(g.device, occlusion, NULL);
    pv_buffer_destroy(&g, &copied);
    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyFramebuffer(g.device, framebuffer, NULL);
    vkDestroyRenderPass(g.device, pass, NULL);
    pv_image_destroy(&g, &depth);
    pv_image_destroy(&g, &color);
    pv_buffer_destroy(&g, &vertex_buffer);
    return pv_guest_finish(&g);
}
