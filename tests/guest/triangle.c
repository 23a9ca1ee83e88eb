/* A triangle: render pass, graphics pipeline and vertex buffer, drawn into a 256x256 offscreen
 * image and read back. Checks the clear color at the corners, the interpolated color at the
 * centroid and the covered area. */
#include "pv_guest_util.h"

#include <stdlib.h>
#include <string.h>

#define SIZE 256

struct vertex {
    float position[3];
    float color[3];
};

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "triangle" };
    pv_guest_init(&g, &options, argc, argv);

    /* Vulkan clip space: y points down. Centroid (0, 0.25) = pixel (128, 160). */
    static const struct vertex vertices[3] = {
        { { 0.0f, -0.75f, 0.5f }, { 1.0f, 0.0f, 0.0f } },
        { { 0.75f, 0.75f, 0.5f }, { 0.0f, 1.0f, 0.0f } },
        { { -0.75f, 0.75f, 0.5f }, { 0.0f, 0.0f, 1.0f } },
    };
    struct pv_buffer vertex_buffer;
    pv_buffer_create(&g, &vertex_buffer, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vertex_buffer.map, vertices, sizeof(vertices));
    pv_buffer_flush(&g, &vertex_buffer);

    struct pv_image color;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    VkRenderPass pass = pv_render_pass_create(&g, color.format, VK_FORMAT_UNDEFINED,
                                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&g, pass, &color, NULL);
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
        .cull_mode = VK_CULL_MODE_NONE,
        .width = SIZE,
        .height = SIZE,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&g, &desc);

    struct pv_buffer readback;
    pv_buffer_create(&g, &readback, pv_image_level_size(&color, 0), VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    VkClearValue clear = { .color = { .float32 = { 0.0f, 0.0f, 0.2f, 1.0f } } };
    VkRenderPassBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
        .renderPass = pass,
        .framebuffer = framebuffer,
        .renderArea = { { 0, 0 }, { SIZE, SIZE } },
        .clearValueCount = 1,
        .pClearValues = &clear,
    };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vertex_buffer.buffer, &offset);
    vkCmdDraw(cmd, 3, 1, 0, 0);
    vkCmdEndRenderPass(cmd);
    pv_one_shot_end(&g, cmd);

    const uint8_t *pixels = pv_image_readback(&g, &color, 0, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                                              VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                                              VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, &readback);
    const uint8_t background[4] = { 0, 0, 51, 255 };
    const uint32_t corners[4][2] = { { 0, 0 }, { SIZE - 1, 0 }, { 0, SIZE - 1 }, { SIZE - 1, SIZE - 1 } };
    for (int i = 0; i < 4; i++) {
        const uint8_t *p = pixels + (corners[i][1] * SIZE + corners[i][0]) * 4;
        pv_expect(&g, !memcmp(p, background, 4), "corner (%u,%u) is %u,%u,%u,%u, want the clear color 0,0,51,255",
                  corners[i][0], corners[i][1], p[0], p[1], p[2], p[3]);
    }
    const uint8_t *centroid = pixels + (160 * SIZE + 128) * 4;
    for (int c = 0; c < 3; c++)
        pv_expect(&g, abs((int)centroid[c] - 85) <= 2, "centroid channel %d is %u, want 85 +- 2", c, centroid[c]);
    pv_expect(&g, centroid[3] == 255, "centroid alpha is %u, want 255", centroid[3]);
    const uint8_t *apex = pixels + ((SIZE / 8 + 6) * SIZE + SIZE / 2) * 4; /* just below the red apex */
    pv_expect(&g, apex[0] > 200 && apex[1] < 40 && apex[2] < 40, "pixel below the apex is %u,%u,%u, want red",
              apex[0], apex[1], apex[2]);

    /* Area: base 192 px, height 192 px = 18432 px; the fill rules may move a pixel row. */
    unsigned covered = 0;
    for (uint32_t i = 0; i < SIZE * SIZE; i++)
        covered += memcmp(pixels + i * 4, background, 4) != 0;
    pv_expect(&g, covered > 18432 - 400 && covered < 18432 + 400, "%u pixels covered, want about 18432", covered);

    pv_digest_u64(&g, "covered_pixels", covered);
    pv_digest_text(&g, "centroid", "%u,%u,%u,%u", centroid[0], centroid[1], centroid[2], centroid[3]);
    pv_digest_hash(&g, "image", pixels, SIZE * SIZE * 4);
    pv_dump_ppm(&g, "triangle.ppm", pixels, SIZE, SIZE);

    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyFramebuffer(g.device, framebuffer, NULL);
    vkDestroyRenderPass(g.device, pass, NULL);
    pv_buffer_destroy(&g, &readback);
    pv_image_destroy(&g, &color);
    pv_buffer_destroy(&g, &vertex_buffer);
    return pv_guest_finish(&g);
}
