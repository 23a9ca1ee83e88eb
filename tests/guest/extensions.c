/* Extension commands the other programs leave out, each checked by its result:
 *  - VK_KHR_draw_indirect_count (vkCmdDrawIndirectCountKHR with a count below maxDrawCount,
 *    vkCmdDrawIndexedIndirectCountKHR with a count above it) and VK_EXT_multi_draw
 *    (vkCmdDrawMultiEXT, vkCmdDrawMultiIndexedEXT with per-draw vertex offsets): which tiles of a
 *    4x4 grid are drawn, exact colors;
 *  - VK_EXT_transform_feedback: six vertices captured (vkCmdBindTransformFeedbackBuffersEXT,
 *    vkCmdBegin/EndTransformFeedbackEXT with a counter buffer, a stream query through
 *    vkCmdBegin/EndQueryIndexedEXT), then drawn again from the capture by
 *    vkCmdDrawIndirectByteCountEXT: the captured bytes, the counter, the query's primitive counts
 *    and the replayed pixels;
 *  - VK_EXT_conditional_rendering around dispatches (value zero / non-zero, plain / inverted),
 *    in a command buffer that also sets vkCmdSetDeviceMask: which output regions were written;
 *  - VK_EXT_host_query_reset: vkResetQueryPoolEXT on part of a written timestamp pool, then
 *    availability, VK_NOT_READY, and the queries written again;
 *  - VK_KHR_buffer_device_address: a compute shader writes through vkGetBufferDeviceAddressKHR's
 *    address (plus an offset) passed in push constants;
 *  - VK_EXT_calibrated_timestamps: the time domains, and device / monotonic timestamps that advance
 *    together across a sleep;
 *  - VK_KHR_maintenance4: vkGetDevice{Buffer,Image}MemoryRequirementsKHR equal the requirements of
 *    real objects made from the same create info; vkGetDeviceImageSparseMemoryRequirementsKHR,
 *    vkGetImageSparseMemoryRequirements(2) give none for a non-sparse image.
 * What the device does not expose prints "digest NAME unsupported". */
#include "pv_guest_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIZE 64
#define TILE 16
#define N 256
#define FILL 0xdeadbeefu

struct vertex {
    float position[3];
    float color[3];
};

struct features {
    bool indirect_count, multi_draw, conditional, xfb, host_reset, bda, calibrated, maintenance4;
};

static uint8_t tile_channel(uint32_t t, uint32_t c)
{
    static const uint8_t base[3] = { 53, 97, 31 };
    return (uint8_t)(t * base[c] + 40 * (c + 1));
}

/* The quad of tile t (4x4 grid of 16x16 tiles): pixels (2, 2) to (14, 14) inside the tile. */
static void tile_rect(uint32_t t, int *x0, int *y0)
{
    *x0 = (int)(t % 4) * TILE + 2;
    *y0 = (int)(t / 4) * TILE + 2;
}

static unsigned check_tiles(struct pv_guest *g, const uint8_t *px, uint32_t drawn_mask, const char *what)
{
    unsigned bad = 0;
    for (int y = 0; y < SIZE; y++) {
        for (int x = 0; x < SIZE; x++) {
            uint32_t t = (uint32_t)(y / TILE) * 4 + (uint32_t)(x / TILE);
            int x0, y0;
            tile_rect(t, &x0, &y0);
            bool inside = x >= x0 && x < x0 + 12 && y >= y0 && y < y0 + 12 && (drawn_mask >> t) & 1;
            uint8_t want[4] = { 0, 0, 0, 255 };
            if (inside)
                for (int c = 0; c < 3; c++)
                    want[c] = tile_channel(t, c);
            const uint8_t *p = px + (y * SIZE + x) * 4;
            if (memcmp(p, want, 4) && bad++ < 3)
                pv_expect(g, false, "%s: pixel (%d,%d) in tile %u is %u,%u,%u,%u, want %u,%u,%u,%u", what, x, y, t, p[0],
                          p[1], p[2], p[3], want[0], want[1], want[2], want[3]);
        }
    }
    pv_expect(g, !bad, "%s: %u pixels wrong (tiles drawn should be 0x%04x)", what, bad, drawn_mask);
    return bad;
}

struct scene {
    struct pv_image color;
    VkRenderPass pass;
    VkFramebuffer framebuffer;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    struct pv_buffer vb, ib, readback;
};

static void begin_pass(VkCommandBuffer cmd, const struct scene *s)
{
    VkClearValue clear = { .color = { .float32 = { 0, 0, 0, 1 } } };
    VkRenderPassBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, .renderPass = s->pass,
                                    .framebuffer = s->framebuffer, .renderArea = { { 0, 0 }, { SIZE, SIZE } },
                                    .clearValueCount = 1, .pClearValues = &clear };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
}

static const uint8_t *read_color(struct pv_guest *g, struct scene *s)
{
    return pv_image_readback(g, &s->color, 0, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                             VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                             &s->readback);
}

static PFN_vkVoidFunction proc(struct pv_guest *g, const char *name)
{
    PFN_vkVoidFunction f = vkGetDeviceProcAddr(g->device, name);
    if (!f)
        pv_fatal(g, "%s missing although its extension is enabled", name);
    return f;
}

/* --- indirect count and multi draw --- */
static void test_draws(struct pv_guest *g, struct scene *s, const struct features *ft)
{
    if (!ft->indirect_count && !ft->multi_draw) {
        pv_digest_text(g, "draws", "unsupported");
        return;
    }
    struct pv_buffer indirect, count;
    pv_buffer_create(g, &indirect, 256, VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(g, &count, 16, VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    VkDrawIndirectCommand *draws = indirect.map;
    for (uint32_t i = 0; i < 3; i++)
        draws[i] = (VkDrawIndirectCommand){ 6, 1, i * 6, 0 }; /* tiles 0, 1, 2 */
    VkDrawIndexedIndirectCommand *indexed = (VkDrawIndexedIndirectCommand *)((uint8_t *)indirect.map + 64);
    for (uint32_t i = 0; i < 3; i++)
        indexed[i] = (VkDrawIndexedIndirectCommand){ 6, 1, 0, (int32_t)(3 + i) * 6, 0 }; /* tiles 3, 4, 5 */
    uint32_t counts[2] = { 2, 5 };
    memcpy(count.map, counts, sizeof(counts));
    pv_buffer_flush(g, &indirect);
    pv_buffer_flush(g, &count);

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    begin_pass(cmd, s);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, s->pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &s->vb.buffer, &offset);
    vkCmdBindIndexBuffer(cmd, s->ib.buffer, 0, VK_INDEX_TYPE_UINT16);
    uint32_t mask = 0;
    if (ft->indirect_count) {
        PFN_vkCmdDrawIndirectCountKHR draw_count = (PFN_vkCmdDrawIndirectCountKHR)proc(g, "vkCmdDrawIndirectCountKHR");
        PFN_vkCmdDrawIndexedIndirectCountKHR draw_indexed_count =
            (PFN_vkCmdDrawIndexedIndirectCountKHR)proc(g, "vkCmdDrawIndexedIndirectCountKHR");
        /* Count 2 of at most 3: tiles 0 and 1. Count 5 of at most 2: tiles 3 and 4. */
        draw_count(cmd, indirect.buffer, 0, count.buffer, 0, 3, sizeof(VkDrawIndirectCommand));
        draw_indexed_count(cmd, indirect.buffer, 64, count.buffer, 4, 2, sizeof(VkDrawIndexedIndirectCommand));
        mask |= 1u << 0 | 1u << 1 | 1u << 3 | 1u << 4;
    }
    if (ft->multi_draw) {
        PFN_vkCmdDrawMultiEXT multi = (PFN_vkCmdDrawMultiEXT)proc(g, "vkCmdDrawMultiEXT");
        PFN_vkCmdDrawMultiIndexedEXT multi_indexed = (PFN_vkCmdDrawMultiIndexedEXT)proc(g, "vkCmdDrawMultiIndexedEXT");
        VkMultiDrawInfoEXT infos[2] = { { 6 * 6, 6 }, { 7 * 6, 6 } };
        multi(cmd, 2, infos, 1, 0, sizeof(VkMultiDrawInfoEXT));
        VkMultiDrawIndexedInfoEXT indexed_infos[2] = { { 0, 6, 8 * 6 }, { 0, 6, 9 * 6 } };
        multi_indexed(cmd, 2, indexed_infos, 1, 0, sizeof(VkMultiDrawIndexedInfoEXT), NULL);
        mask |= 1u << 6 | 1u << 7 | 1u << 8 | 1u << 9;
    }
    vkCmdEndRenderPass(cmd);
    pv_one_shot_end(g, cmd);
    const uint8_t *px = read_color(g, s);
    check_tiles(g, px, mask, "indirect count and multi draw");
    pv_digest_hash(g, "draws", px, SIZE * SIZE * 4);
    if (!ft->indirect_count)
        pv_digest_text(g, "draw_indirect_count", "unsupported");
    if (!ft->multi_draw)
        pv_digest_text(g, "multi_draw", "unsupported");
    pv_buffer_destroy(g, &count);
    pv_buffer_destroy(g, &indirect);
}

/* --- transform feedback --- */
static VkPipeline capture_pipeline(struct pv_guest *g, const struct scene *s)
{
    VkShaderModule vs = pv_shader_load(g, "xfb_capture.vert.spv");
    VkPipelineShaderStageCreateInfo stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                              .stage = VK_SHADER_STAGE_VERTEX_BIT, .module = vs, .pName = "main" };
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    VkPipelineVertexInputStateCreateInfo vertex_input = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO, .vertexBindingDescriptionCount = 1,
        .pVertexBindingDescriptions = &binding, .vertexAttributeDescriptionCount = 2,
        .pVertexAttributeDescriptions = attributes };
    VkPipelineInputAssemblyStateCreateInfo input_assembly = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST };
    VkPipelineRasterizationStateCreateInfo raster = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO, .rasterizerDiscardEnable = VK_TRUE,
        .polygonMode = VK_POLYGON_MODE_FILL, .lineWidth = 1.0f };
    VkGraphicsPipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO, .stageCount = 1, .pStages = &stage,
        .pVertexInputState = &vertex_input, .pInputAssemblyState = &input_assembly, .pRasterizationState = &raster,
        .layout = s->layout, .renderPass = s->pass, .subpass = 0 };
    VkPipeline pipeline;
    PV_CHECK(g, vkCreateGraphicsPipelines(g->device, VK_NULL_HANDLE, 1, &info, NULL, &pipeline));
    vkDestroyShaderModule(g->device, vs, NULL);
    return pipeline;
}

static void test_transform_feedback(struct pv_guest *g, struct scene *s, const struct features *ft)
{
    if (!ft->xfb) {
        pv_digest_text(g, "transform_feedback", "unsupported");
        return;
    }
    PFN_vkCmdBindTransformFeedbackBuffersEXT bind_xfb =
        (PFN_vkCmdBindTransformFeedbackBuffersEXT)proc(g, "vkCmdBindTransformFeedbackBuffersEXT");
    PFN_vkCmdBeginTransformFeedbackEXT begin_xfb =
        (PFN_vkCmdBeginTransformFeedbackEXT)proc(g, "vkCmdBeginTransformFeedbackEXT");
    PFN_vkCmdEndTransformFeedbackEXT end_xfb = (PFN_vkCmdEndTransformFeedbackEXT)proc(g, "vkCmdEndTransformFeedbackEXT");
    PFN_vkCmdBeginQueryIndexedEXT begin_query = (PFN_vkCmdBeginQueryIndexedEXT)proc(g, "vkCmdBeginQueryIndexedEXT");
    PFN_vkCmdEndQueryIndexedEXT end_query = (PFN_vkCmdEndQueryIndexedEXT)proc(g, "vkCmdEndQueryIndexedEXT");
    PFN_vkCmdDrawIndirectByteCountEXT draw_byte_count =
        (PFN_vkCmdDrawIndirectByteCountEXT)proc(g, "vkCmdDrawIndirectByteCountEXT");

    const uint32_t capacity = 256, stride = 32, tile = 10;
    struct pv_buffer xfb, counter;
    pv_buffer_create(g, &xfb, capacity, VK_BUFFER_USAGE_TRANSFORM_FEEDBACK_BUFFER_BIT_EXT |
                                            VK_BUFFER_USAGE_VERTEX_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    pv_buffer_create(g, &counter, 16,
                     VK_BUFFER_USAGE_TRANSFORM_FEEDBACK_COUNTER_BUFFER_BIT_EXT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(xfb.map, 0xa5, capacity);
    memset(counter.map, 0, 16);
    pv_buffer_flush(g, &xfb);
    pv_buffer_flush(g, &counter);
    VkQueryPoolCreateInfo query_info = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                         .queryType = VK_QUERY_TYPE_TRANSFORM_FEEDBACK_STREAM_EXT, .queryCount = 1 };
    VkQueryPool pool;
    PV_CHECK(g, vkCreateQueryPool(g->device, &query_info, NULL, &pool));
    VkPipeline capture = capture_pipeline(g, s);
    /* The replay reads the capture: position at 0, color at 16, 32 bytes a vertex. */
    VkVertexInputBindingDescription binding = { 0, stride, VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = { { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, 0 },
                                                        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, 16 } };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv", .fragment_shader = "triangle.frag.spv", .bindings = &binding,
        .binding_count = 1, .attributes = attributes, .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .layout = s->layout, .render_pass = s->pass,
        .cull_mode = VK_CULL_MODE_NONE, .width = SIZE, .height = SIZE };
    VkPipeline replay = pv_graphics_pipeline_create(g, &desc);

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdResetQueryPool(cmd, pool, 0, 1);
    begin_pass(cmd, s);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, capture);
    VkDeviceSize zero = 0, size = capacity;
    vkCmdBindVertexBuffers(cmd, 0, 1, &s->vb.buffer, &zero);
    bind_xfb(cmd, 0, 1, &xfb.buffer, &zero, &size);
    begin_query(cmd, pool, 0, 0, 0);
    begin_xfb(cmd, 0, 0, NULL, NULL);
    vkCmdDraw(cmd, 6, 1, tile * 6, 0);
    end_xfb(cmd, 0, 1, &counter.buffer, &zero);
    end_query(cmd, pool, 0, 0);
    vkCmdEndRenderPass(cmd);
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFORM_FEEDBACK_WRITE_BIT_EXT | VK_ACCESS_TRANSFORM_FEEDBACK_COUNTER_WRITE_BIT_EXT,
        .dstAccessMask = VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT | VK_ACCESS_TRANSFORM_FEEDBACK_COUNTER_READ_BIT_EXT |
                         VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFORM_FEEDBACK_BIT_EXT,
                         VK_PIPELINE_STAGE_VERTEX_INPUT_BIT | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT |
                             VK_PIPELINE_STAGE_HOST_BIT,
                         0, 1, &barrier, 0, NULL, 0, NULL);
    begin_pass(cmd, s);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, replay);
    vkCmdBindVertexBuffers(cmd, 0, 1, &xfb.buffer, &zero);
    draw_byte_count(cmd, 1, 0, counter.buffer, 0, 0, stride);
    vkCmdEndRenderPass(cmd);
    pv_one_shot_end(g, cmd);

    pv_buffer_invalidate(g, &xfb);
    pv_buffer_invalidate(g, &counter);
    uint32_t bytes;
    memcpy(&bytes, counter.map, 4);
    pv_expect(g, bytes == 6 * stride, "transform feedback counter is %u bytes, want %u", bytes, 6 * stride);
    const struct vertex *in = (const struct vertex *)s->vb.map + tile * 6;
    const float *captured = xfb.map;
    unsigned bad = 0;
    for (uint32_t v = 0; v < 6; v++) {
        const float want[8] = { in[v].position[0], in[v].position[1], in[v].position[2], 1.0f,
                                in[v].color[0],    in[v].color[1],    in[v].color[2],    1.0f };
        if (memcmp(captured + v * 8, want, sizeof(want)) && bad++ < 2)
            pv_expect(g, false, "captured vertex %u: (%g,%g,%g,%g) color (%g,%g,%g,%g), want (%g,%g,%g,1) color (%g,%g,%g,1)",
                      v, captured[v * 8], captured[v * 8 + 1], captured[v * 8 + 2], captured[v * 8 + 3],
                      captured[v * 8 + 4], captured[v * 8 + 5], captured[v * 8 + 6], captured[v * 8 + 7], want[0],
                      want[1], want[2], want[4], want[5], want[6]);
    }
    unsigned beyond = 0;
    for (uint32_t i = 6 * stride; i < capacity; i++)
        beyond += ((const uint8_t *)xfb.map)[i] != 0xa5;
    pv_expect(g, !bad && !beyond, "transform feedback: %u captured vertices wrong, %u bytes written past the capture",
              bad, beyond);
    uint64_t primitives[2] = { 0, 0 };
    PV_CHECK(g, vkGetQueryPoolResults(g->device, pool, 0, 1, sizeof(primitives), primitives, sizeof(primitives),
                                      VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    pv_expect(g, primitives[0] == 2 && primitives[1] == 2,
              "transform feedback stream query: %llu primitives written, %llu needed; want 2 and 2",
              (unsigned long long)primitives[0], (unsigned long long)primitives[1]);
    const uint8_t *px = read_color(g, s);
    check_tiles(g, px, 1u << tile, "vkCmdDrawIndirectByteCountEXT of the captured vertices");
    pv_digest_text(g, "transform_feedback", "%u bytes, %llu/%llu primitives", bytes, (unsigned long long)primitives[0],
                   (unsigned long long)primitives[1]);
    pv_digest_hash(g, "transform_feedback.capture", xfb.map, capacity);
    pv_digest_hash(g, "transform_feedback.replay", px, SIZE * SIZE * 4);

    vkDestroyPipeline(g->device, replay, NULL);
    vkDestroyPipeline(g->device, capture, NULL);
    vkDestroyQueryPool(g->device, pool, NULL);
    pv_buffer_destroy(g, &counter);
    pv_buffer_destroy(g, &xfb);
}

/* --- conditional rendering and the device mask --- */
static uint32_t input_word(uint32_t i)
{
    return i * 2654435761u ^ 0x1234u;
}

static void test_conditional(struct pv_guest *g, const struct features *ft)
{
    struct pv_buffer in, out, cond;
    pv_buffer_create(g, &in, N * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(g, &out, 4 * N * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    pv_buffer_create(g, &cond, 16, ft->conditional ? VK_BUFFER_USAGE_CONDITIONAL_RENDERING_BIT_EXT
                                                   : VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    for (uint32_t i = 0; i < N; i++)
        ((uint32_t *)in.map)[i] = input_word(i);
    const uint32_t values[3] = { 0, 1, 7 };
    memcpy(cond.map, values, sizeof(values));
    pv_buffer_flush(g, &in);
    pv_buffer_flush(g, &cond);

    VkDescriptorSetLayoutBinding bindings[2] = {
        { 0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
    };
    VkDescriptorSetLayoutCreateInfo set_layout_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                        .bindingCount = 2, .pBindings = bindings };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(g, vkCreateDescriptorSetLayout(g->device, &set_layout_info, NULL, &set_layout));
    VkPipelineLayout layout = pv_pipeline_layout_create(g, &set_layout, 1, 8, VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline pipeline = pv_compute_pipeline_create(g, "pipelines.comp.spv", layout);
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 8 };
    VkDescriptorPoolCreateInfo pool_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 4,
                                             .poolSizeCount = 1, .pPoolSizes = &pool_size };
    VkDescriptorPool pool;
    PV_CHECK(g, vkCreateDescriptorPool(g->device, &pool_info, NULL, &pool));
    VkDescriptorSetLayout layouts[4] = { set_layout, set_layout, set_layout, set_layout };
    VkDescriptorSetAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = pool, .descriptorSetCount = 4, .pSetLayouts = layouts };
    VkDescriptorSet sets[4];
    PV_CHECK(g, vkAllocateDescriptorSets(g->device, &alloc, sets));
    for (uint32_t r = 0; r < 4; r++) {
        VkDescriptorBufferInfo infos[2] = { { in.buffer, 0, VK_WHOLE_SIZE }, { out.buffer, r * N * 4, N * 4 } };
        VkWriteDescriptorSet writes[2];
        for (uint32_t b = 0; b < 2; b++)
            writes[b] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = sets[r],
                                                .dstBinding = b, .descriptorCount = 1,
                                                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                .pBufferInfo = &infos[b] };
        vkUpdateDescriptorSets(g->device, 2, writes, 0, NULL);
    }

    /* (value offset, flags): 0 plain skips, 1 plain runs, 0 inverted runs, 7 inverted skips. */
    static const struct {
        uint32_t offset;
        VkConditionalRenderingFlagsEXT flags;
        bool runs;
    } cases[4] = { { 0, 0, false }, { 4, 0, true }, { 0, VK_CONDITIONAL_RENDERING_INVERTED_BIT_EXT, true },
                   { 8, VK_CONDITIONAL_RENDERING_INVERTED_BIT_EXT, false } };
    PFN_vkCmdBeginConditionalRenderingEXT begin_cond = NULL;
    PFN_vkCmdEndConditionalRenderingEXT end_cond = NULL;
    if (ft->conditional) {
        begin_cond = (PFN_vkCmdBeginConditionalRenderingEXT)proc(g, "vkCmdBeginConditionalRenderingEXT");
        end_cond = (PFN_vkCmdEndConditionalRenderingEXT)proc(g, "vkCmdEndConditionalRenderingEXT");
    }
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdSetDeviceMask(cmd, 1);
    vkCmdFillBuffer(cmd, out.buffer, 0, VK_WHOLE_SIZE, FILL);
    pv_cmd_buffer_barrier(cmd, out.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    for (uint32_t r = 0; r < 4; r++) {
        uint32_t push[2] = { 3 + r, r };
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &sets[r], 0, NULL);
        vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), push);
        if (ft->conditional) {
            VkConditionalRenderingBeginInfoEXT info = { .sType = VK_STRUCTURE_TYPE_CONDITIONAL_RENDERING_BEGIN_INFO_EXT,
                                                        .buffer = cond.buffer, .offset = cases[r].offset,
                                                        .flags = cases[r].flags };
            begin_cond(cmd, &info);
        }
        vkCmdDispatch(cmd, N / 64, 1, 1);
        if (ft->conditional)
            end_cond(cmd);
    }
    pv_cmd_buffer_barrier(cmd, out.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, &out);
    const uint32_t *words = out.map;
    char ran[8] = "";
    for (uint32_t r = 0; r < 4; r++) {
        bool runs = !ft->conditional || cases[r].runs;
        unsigned bad = 0;
        for (uint32_t i = 0; i < N; i++) {
            uint32_t want = runs ? input_word(i) * (3 + r) + r + (i / 64) * 0x10000u : FILL;
            bad += words[r * N + i] != want;
        }
        pv_expect(g, !bad, "conditional dispatch %u (value %u%s): %u words wrong; it should %s", r,
                  values[cases[r].offset / 4], cases[r].flags ? ", inverted" : "", bad, runs ? "run" : "be skipped");
        strcat(ran, words[r * N] != FILL ? "1" : "0");
    }
    if (ft->conditional)
        pv_digest_text(g, "conditional_dispatches", "%s", ran);
    else
        pv_digest_text(g, "conditional_rendering", "unsupported");
    pv_digest_hash(g, "device_mask_and_conditional", words, 4 * N * 4);

    vkDestroyDescriptorPool(g->device, pool, NULL);
    vkDestroyPipeline(g->device, pipeline, NULL);
    vkDestroyPipelineLayout(g->device, layout, NULL);
    vkDestroyDescriptorSetLayout(g->device, set_layout, NULL);
    pv_buffer_destroy(g, &cond);
    pv_buffer_destroy(g, &out);
    pv_buffer_destroy(g, &in);
}

/* --- host query reset --- */
static void test_host_query_reset(struct pv_guest *g, const struct features *ft)
{
    if (!ft->host_reset || !g->queue_family_properties.timestampValidBits) {
        pv_digest_text(g, "host_query_reset", "unsupported");
        return;
    }
    PFN_vkResetQueryPoolEXT reset = (PFN_vkResetQueryPoolEXT)proc(g, "vkResetQueryPoolEXT");
    VkQueryPoolCreateInfo info = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                   .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 4 };
    VkQueryPool pool;
    PV_CHECK(g, vkCreateQueryPool(g->device, &info, NULL, &pool));
    reset(g->device, pool, 0, 4); /* from the host, before first use */
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    for (uint32_t q = 0; q < 4; q++)
        vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, q);
    pv_one_shot_end(g, cmd);
    uint64_t before[4][2], after[4][2], again[4][2];
    const VkQueryResultFlags avail = VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WITH_AVAILABILITY_BIT;
    PV_CHECK(g, vkGetQueryPoolResults(g->device, pool, 0, 4, sizeof(before), before, sizeof(before[0]), avail));
    reset(g->device, pool, 1, 2);
    VkResult r = vkGetQueryPoolResults(g->device, pool, 0, 4, sizeof(after), after, sizeof(after[0]), avail);
    uint64_t plain[4];
    VkResult r_plain = vkGetQueryPoolResults(g->device, pool, 1, 2, 2 * sizeof(uint64_t), plain, sizeof(uint64_t),
                                             VK_QUERY_RESULT_64_BIT);
    cmd = pv_one_shot_begin(g);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, 1);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, 2);
    pv_one_shot_end(g, cmd);
    PV_CHECK(g, vkGetQueryPoolResults(g->device, pool, 0, 4, sizeof(again), again, sizeof(again[0]), avail));
    char pattern[32];
    snprintf(pattern, sizeof(pattern), "%d%d%d%d,%d%d%d%d,%d%d%d%d", (int)before[0][1], (int)before[1][1],
             (int)before[2][1], (int)before[3][1], (int)after[0][1], (int)after[1][1], (int)after[2][1],
             (int)after[3][1], (int)again[0][1], (int)again[1][1], (int)again[2][1], (int)again[3][1]);
    pv_expect(g, !strcmp(pattern, "1111,1001,1111"),
              "timestamp availability written / after vkResetQueryPoolEXT(1, 2) / written again: %s, want "
              "1111,1001,1111", pattern);
    pv_expect(g, r == VK_NOT_READY && r_plain == VK_NOT_READY,
              "results of host-reset queries: %s with availability, %s without; want VK_NOT_READY", pv_result_name(r),
              pv_result_name(r_plain));
    pv_expect(g, after[0][0] == before[0][0] && after[3][0] == before[3][0],
              "queries outside the host reset changed: %llu -> %llu, %llu -> %llu", (unsigned long long)before[0][0],
              (unsigned long long)after[0][0], (unsigned long long)before[3][0], (unsigned long long)after[3][0]);
    pv_expect(g, again[1][0] >= before[3][0] && again[2][0] >= again[1][0],
              "timestamps written after the reset (%llu, %llu) are not after the first ones (%llu)",
              (unsigned long long)again[1][0], (unsigned long long)again[2][0], (unsigned long long)before[3][0]);
    pv_digest_text(g, "host_query_reset", "%s %s", pattern, pv_result_name(r));
    vkDestroyQueryPool(g->device, pool, NULL);
}

/* --- buffer device address --- */
static void test_bda(struct pv_guest *g, const struct features *ft)
{
    if (!ft->bda) {
        pv_digest_text(g, "buffer_device_address", "unsupported");
        return;
    }
    PFN_vkGetBufferDeviceAddressKHR get_address = (PFN_vkGetBufferDeviceAddressKHR)proc(g, "vkGetBufferDeviceAddressKHR");
    VkBufferCreateInfo info = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = N * 4,
                                .usage = VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT_KHR |
                                         VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT };
    VkBuffer buffer;
    PV_CHECK(g, vkCreateBuffer(g->device, &info, NULL, &buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(g->device, buffer, &req);
    VkMemoryAllocateFlagsInfo flags = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                        .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT_KHR };
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &flags, .allocationSize = req.size,
        .memoryTypeIndex = pv_memory_type(g, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) };
    VkDeviceMemory memory;
    PV_CHECK(g, vkAllocateMemory(g->device, &alloc, NULL, &memory));
    PV_CHECK(g, vkBindBufferMemory(g->device, buffer, memory, 0));
    uint32_t *words;
    PV_CHECK(g, vkMapMemory(g->device, memory, 0, VK_WHOLE_SIZE, 0, (void **)&words));
    VkBufferDeviceAddressInfo address_info = { .sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = buffer };
    VkDeviceAddress address = get_address(g->device, &address_info);
    pv_expect(g, address != 0, "vkGetBufferDeviceAddressKHR returned 0");

    VkPipelineLayout layout = pv_pipeline_layout_create(g, NULL, 0, 16, VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline pipeline = pv_compute_pipeline_create(g, "bda.comp.spv", layout);
    struct {
        VkDeviceAddress dst;
        uint32_t value, pad;
    } push = { address + 64 * 4, 0x5000, 0 };
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdFillBuffer(cmd, buffer, 0, VK_WHOLE_SIZE, FILL);
    VkMemoryBarrier barrier = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                .dstAccessMask = VK_ACCESS_SHADER_WRITE_BIT };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0,
                         NULL, 0, NULL);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 16, &push);
    vkCmdDispatch(cmd, 2, 1, 1); /* 128 words from word 64 */
    barrier = (VkMemoryBarrier){ .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                                 .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, NULL,
                         0, NULL);
    pv_one_shot_end(g, cmd);
    VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = memory,
                                  .size = VK_WHOLE_SIZE };
    PV_CHECK(g, vkInvalidateMappedMemoryRanges(g->device, 1, &range));
    unsigned bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t want = i >= 64 && i < 192 ? 0x5000 + (i - 64) : FILL;
        if (words[i] != want && bad++ < 2)
            pv_expect(g, false, "buffer device address: word %u is %08x, want %08x", i, words[i], want);
    }
    pv_expect(g, !bad, "buffer device address: %u words wrong", bad);
    pv_digest_hash(g, "buffer_device_address", words, N * 4);
    vkUnmapMemory(g->device, memory);
    vkDestroyPipeline(g->device, pipeline, NULL);
    vkDestroyPipelineLayout(g->device, layout, NULL);
    vkDestroyBuffer(g->device, buffer, NULL);
    vkFreeMemory(g->device, memory, NULL);
}

/* --- calibrated timestamps --- */
static void test_calibrated(struct pv_guest *g, const struct features *ft)
{
    if (!ft->calibrated) {
        pv_digest_text(g, "calibrated_timestamps", "unsupported");
        return;
    }
    PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT get_domains =
        (PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT)vkGetInstanceProcAddr(
            g->instance, "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT");
    PFN_vkGetCalibratedTimestampsEXT get_timestamps =
        (PFN_vkGetCalibratedTimestampsEXT)proc(g, "vkGetCalibratedTimestampsEXT");
    if (!get_domains)
        pv_fatal(g, "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT missing");
    uint32_t count = 0;
    PV_CHECK(g, get_domains(g->physical_device, &count, NULL));
    VkTimeDomainEXT domains[8];
    if (count > 8)
        count = 8;
    VkResult r = get_domains(g->physical_device, &count, domains);
    if (r != VK_INCOMPLETE)
        PV_CHECK(g, r);
    bool device = false, monotonic = false;
    char list[64] = "";
    for (uint32_t i = 0; i < count; i++) {
        device = device || domains[i] == VK_TIME_DOMAIN_DEVICE_EXT;
        monotonic = monotonic || domains[i] == VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? "," : "", domains[i]);
    }
    pv_expect(g, device, "the calibrateable time domains (%s) do not include VK_TIME_DOMAIN_DEVICE_EXT", list);
    /* The host's domains: Mesa 26's Venus driver adds CLOCK_MONOTONIC_RAW of its own. */
    pv_info(g, "time domains %s", list);
    pv_digest_text(g, "time_domains", "device %d, monotonic %d", device, monotonic);
    if (!device || !monotonic) {
        pv_digest_text(g, "calibrated_timestamps", "no device and monotonic pair");
        return;
    }
    VkCalibratedTimestampInfoEXT infos[2] = {
        { .sType = VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, .timeDomain = VK_TIME_DOMAIN_DEVICE_EXT },
        { .sType = VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT, .timeDomain = VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT },
    };
    uint64_t first[2], second[2], deviation[2];
    PV_CHECK(g, get_timestamps(g->device, 2, infos, first, &deviation[0]));
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    PV_CHECK(g, get_timestamps(g->device, 2, infos, second, &deviation[1]));
    double device_ns = (double)(second[0] - first[0]) * g->properties.limits.timestampPeriod;
    double host_ns = (double)(second[1] - first[1]);
    pv_info(g, "calibrated: device advanced %.0f ns, monotonic %.0f ns, deviations %llu and %llu ns", device_ns,
            host_ns, (unsigned long long)deviation[0], (unsigned long long)deviation[1]);
    pv_expect(g, second[0] > first[0] && second[1] > first[1] && host_ns >= 20e6 && device_ns >= 10e6 &&
                     device_ns < host_ns + 1e9,
              "calibrated timestamps across a 20 ms sleep: device +%.0f ns, monotonic +%.0f ns", device_ns, host_ns);
    pv_digest_text(g, "calibrated_timestamps", "advance together");
}

/* --- maintenance4 and sparse requirements --- */
static void test_requirements(struct pv_guest *g, const struct features *ft)
{
    /* A pNext (no handle types) keeps the Venus driver from answering from its own cache of
     * requirements, which rounds the size up to the alignment. */
    VkExternalMemoryBufferCreateInfo no_handles = { .sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO };
    VkBufferCreateInfo buffer_info = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .pNext = &no_handles,
                                       .size = 1000,
                                       .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                                VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT };
    VkImageCreateInfo image_info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .imageType = VK_IMAGE_TYPE_2D,
        .format = VK_FORMAT_R8G8B8A8_UNORM, .extent = { 37, 23, 1 }, .mipLevels = 3, .arrayLayers = 2,
        .samples = VK_SAMPLE_COUNT_1_BIT, .tiling = VK_IMAGE_TILING_OPTIMAL,
        .usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT,
        .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED };
    VkBuffer buffer;
    VkImage image;
    PV_CHECK(g, vkCreateBuffer(g->device, &buffer_info, NULL, &buffer));
    PV_CHECK(g, vkCreateImage(g->device, &image_info, NULL, &image));
    VkMemoryRequirements buffer_req, image_req;
    vkGetBufferMemoryRequirements(g->device, buffer, &buffer_req);
    vkGetImageMemoryRequirements(g->device, image, &image_req);

    /* The counts start at 0: lavapipe 22.3's sparse queries are stubs that leave them as they are
     * (a conforming driver writes 0 for a non-sparse image), and the host passes the guest's value
     * through; any other answer is wrong. */
    uint32_t sparse_count = 0;
    vkGetImageSparseMemoryRequirements(g->device, image, &sparse_count, NULL);
    uint32_t sparse2_count = 0;
    VkImageSparseMemoryRequirementsInfo2 sparse_info = { .sType = VK_STRUCTURE_TYPE_IMAGE_SPARSE_MEMORY_REQUIREMENTS_INFO_2,
                                                         .image = image };
    vkGetImageSparseMemoryRequirements2(g->device, &sparse_info, &sparse2_count, NULL);
    pv_expect(g, sparse_count == 0 && sparse2_count == 0,
              "a non-sparse image has %u / %u sparse memory requirements, want 0", sparse_count, sparse2_count);

    if (ft->maintenance4) {
        PFN_vkGetDeviceBufferMemoryRequirementsKHR device_buffer =
            (PFN_vkGetDeviceBufferMemoryRequirementsKHR)proc(g, "vkGetDeviceBufferMemoryRequirementsKHR");
        PFN_vkGetDeviceImageMemoryRequirementsKHR device_image =
            (PFN_vkGetDeviceImageMemoryRequirementsKHR)proc(g, "vkGetDeviceImageMemoryRequirementsKHR");
        PFN_vkGetDeviceImageSparseMemoryRequirementsKHR device_sparse =
            (PFN_vkGetDeviceImageSparseMemoryRequirementsKHR)proc(g, "vkGetDeviceImageSparseMemoryRequirementsKHR");
        VkDeviceBufferMemoryRequirementsKHR buffer_query = {
            .sType = VK_STRUCTURE_TYPE_DEVICE_BUFFER_MEMORY_REQUIREMENTS_KHR, .pCreateInfo = &buffer_info };
        VkDeviceImageMemoryRequirementsKHR image_query = {
            .sType = VK_STRUCTURE_TYPE_DEVICE_IMAGE_MEMORY_REQUIREMENTS_KHR, .pCreateInfo = &image_info };
        VkMemoryRequirements2 b2 = { .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2 };
        VkMemoryRequirements2 i2 = { .sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2 };
        device_buffer(g->device, &buffer_query, &b2);
        device_image(g->device, &image_query, &i2);
        uint32_t device_sparse_count = 0;
        device_sparse(g->device, &image_query, &device_sparse_count, NULL);
        const VkMemoryRequirements *rb = &b2.memoryRequirements, *ri = &i2.memoryRequirements;
        pv_expect(g, rb->size == buffer_req.size && rb->alignment == buffer_req.alignment &&
                         rb->memoryTypeBits == buffer_req.memoryTypeBits,
                  "vkGetDeviceBufferMemoryRequirementsKHR: size %llu align %llu types 0x%x; the buffer's: %llu, %llu, 0x%x",
                  (unsigned long long)rb->size, (unsigned long long)rb->alignment, rb->memoryTypeBits,
                  (unsigned long long)buffer_req.size, (unsigned long long)buffer_req.alignment,
                  buffer_req.memoryTypeBits);
        pv_expect(g, ri->size == image_req.size && ri->alignment == image_req.alignment &&
                         ri->memoryTypeBits == image_req.memoryTypeBits,
                  "vkGetDeviceImageMemoryRequirementsKHR: size %llu align %llu types 0x%x; the image's: %llu, %llu, 0x%x",
                  (unsigned long long)ri->size, (unsigned long long)ri->alignment, ri->memoryTypeBits,
                  (unsigned long long)image_req.size, (unsigned long long)image_req.alignment, image_req.memoryTypeBits);
        pv_expect(g, device_sparse_count == 0,
                  "vkGetDeviceImageSparseMemoryRequirementsKHR: %u requirements for a non-sparse image, want 0",
                  device_sparse_count);
    } else {
        pv_digest_text(g, "maintenance4", "unsupported");
    }
    pv_digest_text(g, "memory_requirements", "buffer %llu/%llu image %llu/%llu sparse %u", (unsigned long long)buffer_req.size,
                   (unsigned long long)buffer_req.alignment, (unsigned long long)image_req.size,
                   (unsigned long long)image_req.alignment, sparse_count);
    vkDestroyImage(g->device, image, NULL);
    vkDestroyBuffer(g->device, buffer, NULL);
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "extensions" };
    pv_guest_init_instance(&g, &options, argc, argv);

    struct features ft = {
        .indirect_count = pv_has_device_extension(&g, VK_KHR_DRAW_INDIRECT_COUNT_EXTENSION_NAME),
        .multi_draw = pv_has_device_extension(&g, VK_EXT_MULTI_DRAW_EXTENSION_NAME),
        .conditional = pv_has_device_extension(&g, VK_EXT_CONDITIONAL_RENDERING_EXTENSION_NAME),
        .xfb = pv_has_device_extension(&g, VK_EXT_TRANSFORM_FEEDBACK_EXTENSION_NAME),
        .host_reset = pv_has_device_extension(&g, VK_EXT_HOST_QUERY_RESET_EXTENSION_NAME),
        .bda = pv_has_device_extension(&g, VK_KHR_BUFFER_DEVICE_ADDRESS_EXTENSION_NAME),
        .calibrated = pv_has_device_extension(&g, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME),
        .maintenance4 = pv_has_device_extension(&g, VK_KHR_MAINTENANCE_4_EXTENSION_NAME),
    };
    VkPhysicalDeviceMultiDrawFeaturesEXT multi = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MULTI_DRAW_FEATURES_EXT };
    VkPhysicalDeviceConditionalRenderingFeaturesEXT cond = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_CONDITIONAL_RENDERING_FEATURES_EXT };
    VkPhysicalDeviceTransformFeedbackFeaturesEXT xfb = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TRANSFORM_FEEDBACK_FEATURES_EXT };
    VkPhysicalDeviceHostQueryResetFeaturesEXT host_reset = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_HOST_QUERY_RESET_FEATURES_EXT };
    VkPhysicalDeviceBufferDeviceAddressFeaturesKHR bda = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_BUFFER_DEVICE_ADDRESS_FEATURES_KHR };
    VkPhysicalDeviceMaintenance4FeaturesKHR m4 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_FEATURES_KHR };
    VkPhysicalDeviceTransformFeedbackPropertiesEXT xfb_props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TRANSFORM_FEEDBACK_PROPERTIES_EXT };
    VkPhysicalDeviceFeatures2 features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    void **next = &features.pNext;
#define CHAIN(has, s) do { if (has) { *next = &(s); next = &(s).pNext; } } while (0)
    CHAIN(ft.multi_draw, multi);
    CHAIN(ft.conditional, cond);
    CHAIN(ft.xfb, xfb);
    CHAIN(ft.host_reset, host_reset);
    CHAIN(ft.bda, bda);
    CHAIN(ft.maintenance4, m4);
    vkGetPhysicalDeviceFeatures2(g.physical_device, &features);
    if (ft.xfb) {
        VkPhysicalDeviceProperties2 props = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                              .pNext = &xfb_props };
        vkGetPhysicalDeviceProperties2(g.physical_device, &props);
    }
    ft.multi_draw = ft.multi_draw && multi.multiDraw && features.features.multiDrawIndirect;
    ft.indirect_count = ft.indirect_count && features.features.multiDrawIndirect;
    ft.conditional = ft.conditional && cond.conditionalRendering;
    ft.xfb = ft.xfb && xfb.transformFeedback && xfb_props.transformFeedbackQueries && xfb_props.transformFeedbackDraw;
    ft.host_reset = ft.host_reset && host_reset.hostQueryReset;
    ft.bda = ft.bda && bda.bufferDeviceAddress;
    ft.maintenance4 = ft.maintenance4 && m4.maintenance4;

    VkPhysicalDeviceMultiDrawFeaturesEXT multi_on = { .sType = multi.sType, .multiDraw = VK_TRUE };
    VkPhysicalDeviceConditionalRenderingFeaturesEXT cond_on = { .sType = cond.sType, .conditionalRendering = VK_TRUE };
    VkPhysicalDeviceTransformFeedbackFeaturesEXT xfb_on = { .sType = xfb.sType, .transformFeedback = VK_TRUE };
    VkPhysicalDeviceHostQueryResetFeaturesEXT host_reset_on = { .sType = host_reset.sType, .hostQueryReset = VK_TRUE };
    VkPhysicalDeviceBufferDeviceAddressFeaturesKHR bda_on = { .sType = bda.sType, .bufferDeviceAddress = VK_TRUE };
    VkPhysicalDeviceMaintenance4FeaturesKHR m4_on = { .sType = m4.sType, .maintenance4 = VK_TRUE };
    VkPhysicalDeviceFeatures2 enable = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    enable.features.multiDrawIndirect = features.features.multiDrawIndirect;
    const char *extensions[8];
    uint32_t extension_count = 0;
    next = &enable.pNext;
    if (ft.indirect_count)
        extensions[extension_count++] = VK_KHR_DRAW_INDIRECT_COUNT_EXTENSION_NAME;
    if (ft.multi_draw) {
        extensions[extension_count++] = VK_EXT_MULTI_DRAW_EXTENSION_NAME;
        CHAIN(true, multi_on);
    }
    if (ft.conditional) {
        extensions[extension_count++] = VK_EXT_CONDITIONAL_RENDERING_EXTENSION_NAME;
        CHAIN(true, cond_on);
    }
    if (ft.xfb) {
        extensions[extension_count++] = VK_EXT_TRANSFORM_FEEDBACK_EXTENSION_NAME;
        CHAIN(true, xfb_on);
    }
    if (ft.host_reset) {
        extensions[extension_count++] = VK_EXT_HOST_QUERY_RESET_EXTENSION_NAME;
        CHAIN(true, host_reset_on);
    }
    if (ft.bda) {
        extensions[extension_count++] = VK_KHR_BUFFER_DEVICE_ADDRESS_EXTENSION_NAME;
        CHAIN(true, bda_on);
    }
    if (ft.calibrated)
        extensions[extension_count++] = VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME;
    if (ft.maintenance4) {
        extensions[extension_count++] = VK_KHR_MAINTENANCE_4_EXTENSION_NAME;
        CHAIN(true, m4_on);
    }
#undef CHAIN
    options.device_extensions = extensions;
    options.device_extension_count = extension_count;
    options.device_create_next = &enable;
    pv_guest_create_device(&g, &options);
    pv_info(&g, "indirect count %d, multi draw %d, conditional rendering %d, transform feedback %d, host query reset "
                "%d, buffer device address %d, calibrated timestamps %d, maintenance4 %d",
            ft.indirect_count, ft.multi_draw, ft.conditional, ft.xfb, ft.host_reset, ft.bda, ft.calibrated,
            ft.maintenance4);

    /* The drawing scene: a 4x4 grid of tile quads (6 vertices each, tile colors), indices 0-5. */
    struct scene s;
    memset(&s, 0, sizeof(s));
    pv_image_create(&g, &s.color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    s.pass = pv_render_pass_create(&g, s.color.format, VK_FORMAT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    s.framebuffer = pv_framebuffer_create(&g, s.pass, &s.color, NULL);
    s.layout = pv_pipeline_layout_create(&g, NULL, 0, 0, 0);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv", .fragment_shader = "triangle.frag.spv", .bindings = &binding,
        .binding_count = 1, .attributes = attributes, .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .layout = s.layout, .render_pass = s.pass,
        .cull_mode = VK_CULL_MODE_NONE, .width = SIZE, .height = SIZE };
    s.pipeline = pv_graphics_pipeline_create(&g, &desc);
    pv_buffer_create(&g, &s.vb, 16 * 6 * sizeof(struct vertex), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    struct vertex *v = s.vb.map;
    for (uint32_t t = 0; t < 16; t++) {
        int x0, y0;
        tile_rect(t, &x0, &y0);
        const float corners[6][2] = { { 0, 0 }, { 12, 0 }, { 12, 12 }, { 0, 0 }, { 12, 12 }, { 0, 12 } };
        for (int i = 0; i < 6; i++)
            v[t * 6 + i] = (struct vertex){ { (x0 + corners[i][0]) * 2.0f / SIZE - 1.0f,
                                              (y0 + corners[i][1]) * 2.0f / SIZE - 1.0f, 0.5f },
                                            { tile_channel(t, 0) / 255.0f, tile_channel(t, 1) / 255.0f,
                                              tile_channel(t, 2) / 255.0f } };
    }
    pv_buffer_flush(&g, &s.vb);
    static const uint16_t indices[6] = { 0, 1, 2, 3, 4, 5 };
    pv_buffer_create(&g, &s.ib, sizeof(indices), VK_BUFFER_USAGE_INDEX_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(s.ib.map, indices, sizeof(indices));
    pv_buffer_flush(&g, &s.ib);
    pv_buffer_create(&g, &s.readback, SIZE * SIZE * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

    test_draws(&g, &s, &ft);
    test_transform_feedback(&g, &s, &ft);
    test_conditional(&g, &ft);
    test_host_query_reset(&g, &ft);
    test_bda(&g, &ft);
    test_calibrated(&g, &ft);
    test_requirements(&g, &ft);

    pv_buffer_destroy(&g, &s.readback);
    pv_buffer_destroy(&g, &s.ib);
    pv_buffer_destroy(&g, &s.vb);
    vkDestroyPipeline(g.device, s.pipeline, NULL);
    vkDestroyPipelineLayout(g.device, s.layout, NULL);
    vkDestroyFramebuffer(g.device, s.framebuffer, NULL);
    vkDestroyRenderPass(g.device, s.pass, NULL);
    pv_image_destroy(&g, &s.color);
    return pv_guest_finish(&g);
}
