/* Indirect draw and indirect dispatch. A compute shader writes the arguments of a
 * vkCmdDispatchIndirect that fills a buffer (so the device decides the grid); the host writes a
 * two-draw vkCmdDrawIndirect (two triangles) and a vkCmdDrawIndexedIndirect (an indexed quad
 * with a vertex offset). Checks the generated arguments, every filled value, and the color
 * inside each shape and between them. */
#include "pv_guest_util.h"

#include <string.h>

#define SIZE 64
#define ELEMENTS 10000
#define FILL_GROUP 64 /* local_size_x of indirect_fill.comp */

struct vertex {
    float position[3];
    float color[3];
};

static uint32_t fill_value(uint32_t i) { return (i * 2654435761u) ^ (i >> 3) ^ 0x5bd1e995u; }

int main(int argc, char **argv)
{
    struct pv_guest g;
    VkPhysicalDeviceFeatures features = { .multiDrawIndirect = VK_TRUE };
    struct pv_guest_options options = { .name = "indirect", .features = &features };
    pv_guest_init(&g, &options, argc, argv);

    /* Arguments: the dispatch (written by the device) at 0, two draws at 16, an indexed draw at 48. */
    const uint32_t groups = (ELEMENTS + FILL_GROUP - 1) / FILL_GROUP;
    struct pv_buffer args, out;
    pv_buffer_create(&g, &args, 128, VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &out, (VkDeviceSize)groups * FILL_GROUP * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(args.map, 0, args.size);
    memset(out.map, 0, out.size);
    VkDrawIndirectCommand draws[2] = {
        { .vertexCount = 3, .instanceCount = 1, .firstVertex = 0 },
        { .vertexCount = 3, .instanceCount = 1, .firstVertex = 3 },
    };
    VkDrawIndexedIndirectCommand indexed = { .indexCount = 6, .instanceCount = 1, .firstIndex = 0, .vertexOffset = 6 };
    memcpy((char *)args.map + 16, draws, sizeof(draws));
    memcpy((char *)args.map + 48, &indexed, sizeof(indexed));
    pv_buffer_flush(&g, &args);
    pv_buffer_flush(&g, &out);

    /* Two triangles at the top (red left, green right), a blue quad at the bottom. */
    static const struct vertex vertices[10] = {
        { { -0.9f, -0.9f, 0.5f }, { 1, 0, 0 } }, { { -0.1f, -0.9f, 0.5f }, { 1, 0, 0 } },
        { { -0.9f, -0.1f, 0.5f }, { 1, 0, 0 } },
        { { 0.1f, -0.9f, 0.5f }, { 0, 1, 0 } }, { { 0.9f, -0.9f, 0.5f }, { 0, 1, 0 } },
        { { 0.9f, -0.1f, 0.5f }, { 0, 1, 0 } },
        { { -0.9f, 0.1f, 0.5f }, { 0, 0, 1 } }, { { 0.9f, 0.1f, 0.5f }, { 0, 0, 1 } },
        { { 0.9f, 0.9f, 0.5f }, { 0, 0, 1 } }, { { -0.9f, 0.9f, 0.5f }, { 0, 0, 1 } },
    };
    static const uint16_t indices[6] = { 0, 1, 2, 0, 2, 3 };
    struct pv_buffer vertex_buffer, index_buffer;
    pv_buffer_create(&g, &vertex_buffer, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &index_buffer, sizeof(indices), VK_BUFFER_USAGE_INDEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vertex_buffer.map, vertices, sizeof(vertices));
    memcpy(index_buffer.map, indices, sizeof(indices));
    pv_buffer_flush(&g, &vertex_buffer);
    pv_buffer_flush(&g, &index_buffer);

    /* Compute: set 0 = { args, out }, shared by both compute pipelines. */
    VkDescriptorSetLayoutBinding bindings[2] = {
        { 0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
    };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 2,
        .pBindings = bindings,
    };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    VkPipelineLayout compute_layout = pv_pipeline_layout_create(&g, &set_layout, 1, 8, VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline args_pipeline = pv_compute_pipeline_create(&g, "indirect_args.comp.spv", compute_layout);
    VkPipeline fill_pipeline = pv_compute_pipeline_create(&g, "indirect_fill.comp.spv", compute_layout);
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool descriptor_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &descriptor_pool));
    VkDescriptorSetAllocateInfo set_alloc = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = descriptor_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &set_layout,
    };
    VkDescriptorSet set;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &set_alloc, &set));
    VkDescriptorBufferInfo buffer_infos[2] = { { args.buffer, 0, 16 }, { out.buffer, 0, VK_WHOLE_SIZE } };
    VkWriteDescriptorSet writes[2];
    for (int i = 0; i < 2; i++) {
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &buffer_infos[i],
        };
    }
    vkUpdateDescriptorSets(g.device, 2, writes, 0, NULL);

    /* Graphics. */
    struct pv_image color;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    VkRenderPass pass = pv_render_pass_create(&g, color.format, VK_FORMAT_UNDEFINED,
                                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&g, pass, &color, NULL);
    VkPipelineLayout graphics_layout = pv_pipeline_layout_create(&g, NULL, 0, 0, 0);
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
        .layout = graphics_layout,
        .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE,
        .width = SIZE,
        .height = SIZE,
    };
    VkPipeline graphics_pipeline = pv_graphics_pipeline_create(&g, &desc);

    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    const uint32_t push[2] = { ELEMENTS, FILL_GROUP };
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, args_pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, compute_layout, 0, 1, &set, 0, NULL);
    vkCmdPushConstants(cmd, compute_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), push);
    vkCmdDispatch(cmd, 1, 1, 1);
    pv_cmd_buffer_barrier(cmd, args.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_INDIRECT_COMMAND_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, fill_pipeline);
    vkCmdDispatchIndirect(cmd, args.buffer, 0);
    pv_cmd_buffer_barrier(cmd, out.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    VkClearValue clear = { .color = { .float32 = { 0.0f, 0.0f, 0.0f, 1.0f } } };
    VkRenderPassBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
        .renderPass = pass,
        .framebuffer = framebuffer,
        .renderArea = { { 0, 0 }, { SIZE, SIZE } },
        .clearValueCount = 1,
        .pClearValues = &clear,
    };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, graphics_pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vertex_buffer.buffer, &offset);
    vkCmdBindIndexBuffer(cmd, index_buffer.buffer, 0, VK_INDEX_TYPE_UINT16);
    vkCmdDrawIndirect(cmd, args.buffer, 16, 2, sizeof(VkDrawIndirectCommand));
    vkCmdDrawIndexedIndirect(cmd, args.buffer, 48, 1, sizeof(VkDrawIndexedIndirectCommand));
    vkCmdEndRenderPass(cmd);
    pv_cmd_buffer_barrier(cmd, args.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &args);
    pv_buffer_invalidate(&g, &out);

    const uint32_t *dispatch = args.map;
    pv_expect(&g, dispatch[0] == groups && dispatch[1] == 1 && dispatch[2] == 1 && dispatch[3] == 0xa5a5a5a5u,
              "dispatch arguments %u,%u,%u marker %08x, want %u,1,1 marker a5a5a5a5", dispatch[0], dispatch[1],
              dispatch[2], dispatch[3], groups);
    const uint32_t *values = out.map;
    unsigned bad = 0;
    for (uint32_t i = 0; i < groups * FILL_GROUP; i++) {
        if (values[i] != fill_value(i) && !bad++)
            pv_expect(&g, false, "out[%u] = %08x, want %08x (first mismatch)", i, values[i], fill_value(i));
    }
    pv_expect(&g, !bad, "%u of %u filled values wrong", bad, groups * FILL_GROUP);

    struct pv_buffer readback;
    pv_buffer_create(&g, &readback, pv_image_level_size(&color, 0), VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    const uint8_t *pixels = pv_image_readback(&g, &color, 0, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                                              VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                                              VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, &readback);
    static const struct probe {
        const char *what;
        uint32_t x, y;
        uint8_t rgba[4];
    } probes[] = {
        { "first indirect draw (red triangle)", 9, 9, { 255, 0, 0, 255 } },
        { "second indirect draw (green triangle)", 54, 9, { 0, 255, 0, 255 } },
        { "indexed indirect draw (blue quad)", 32, 48, { 0, 0, 255, 255 } },
        { "background between the triangles", 32, 20, { 0, 0, 0, 255 } },
    };
    for (size_t i = 0; i < PV_ARRAY_SIZE(probes); i++) {
        const uint8_t *p = pixels + (probes[i].y * SIZE + probes[i].x) * 4;
        pv_expect(&g, !memcmp(p, probes[i].rgba, 4), "%s: pixel (%u,%u) is %u,%u,%u,%u, want %u,%u,%u,%u",
                  probes[i].what, probes[i].x, probes[i].y, p[0], p[1], p[2], p[3], probes[i].rgba[0],
                  probes[i].rgba[1], probes[i].rgba[2], probes[i].rgba[3]);
    }
    pv_digest_text(&g, "dispatch_args", "%u,%u,%u", dispatch[0], dispatch[1], dispatch[2]);
    pv_digest_hash(&g, "filled", values, out.size);
    pv_digest_hash(&g, "image", pixels, SIZE * SIZE * 4);
    pv_dump_ppm(&g, "indirect.ppm", pixels, SIZE, SIZE);

    pv_buffer_destroy(&g, &readback);
    vkDestroyPipeline(g.device, graphics_pipeline, NULL);
    vkDestroyPipelineLayout(g.device, graphics_layout, NULL);
    vkDestroyFramebuffer(g.device, framebuffer, NULL);
    vkDestroyRenderPass(g.device, pass, NULL);
    pv_image_destroy(&g, &color);
    vkDestroyDescriptorPool(g.device, descriptor_pool, NULL);
    vkDestroyPipeline(g.device, fill_pipeline, NULL);
    vkDestroyPipeline(g.device, args_pipeline, NULL);
    vkDestroyPipelineLayout(g.device, compute_layout, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    pv_buffer_destroy(&g, &index_buffer);
    pv_buffer_destroy(&g, &vertex_buffer);
    pv_buffer_destroy(&g, &out);
    pv_buffer_destroy(&g, &args);
    return pv_guest_finish(&g);
}
